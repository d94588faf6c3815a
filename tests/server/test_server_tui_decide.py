"""Deciding from the TUI on a real `langgraph dev`: approve and reject-with-a-reason from
the keyboard run the gated action once / never and the rows leave the queue; a pause
another client answers first ends in the conflict dialog, with nothing run twice."""

from __future__ import annotations

from typing import Any

from console.core.dburl import parse_db_url
from console.core.graphs import GraphRegistry
from console.core.store import open_store
from console.settings import Settings
from console.ui.modals.confirm import ConfirmScreen
from console.ui.modals.conflict import ConflictScreen
from console.ui.modals.error import ErrorModal
from console.ui.modals.prompt import PromptScreen
from console.ui.screens.main import MainScreen
from tests.server.conftest import ServerFixture, answer, pending_ids, run_until_paused
from tests.server.test_server_tui import server_app, settle, until


def _app(store: Any, url: str) -> Any:
    return server_app(store, Settings(db=url, reviewer="alice"))


def _ran(server: ServerFixture, thread_id: str) -> int:
    return sum(1 for e in server.effects_of(thread_id) if e["node"] == "act")


def _text(app: Any) -> str:
    screen = app.screen
    return " ".join(str(getattr(w.render(), "plain", w.render()))
                    for w in screen.query("Static"))


async def _select(pilot: Any, screen: MainScreen, thread_id: str) -> None:
    await until(pilot, lambda: thread_id in {t.thread_id for t in screen.all_threads},
                what=f"{thread_id} listed")
    assert screen.table.select_thread(thread_id)
    await settle(pilot)
    await until(pilot, lambda: screen.detail.thread_id == thread_id
                and bool(screen.detail.checkpoint_id), what=f"the detail of {thread_id}")


async def _decided(pilot: Any, screen: MainScreen) -> None:
    await until(pilot, lambda: screen.busy is None and not [
        w for w in pilot.app.workers if w.group == "decision" and w.is_running],
        what="the decision to finish")
    await settle(pilot)


async def test_approve_and_reject_from_the_keyboard(
    langgraph_server: ServerFixture, server_client: Any,
) -> None:
    approve = await run_until_paused(server_client, "raw")
    reject = await run_until_paused(server_client, "raw")
    store = await open_store(parse_db_url(langgraph_server.url), GraphRegistry())
    app = _app(store, langgraph_server.url)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen_stack[0]
            assert isinstance(screen, MainScreen)
            await until(pilot, lambda: screen.loads >= 1, what="the first load")
            await _select(pilot, screen, approve)
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen),
                        what="the confirm")
            await pilot.press("y")
            await _decided(pilot, screen)
            assert not isinstance(app.screen, ErrorModal), _text(app)
            assert any("Approve applied" in n.message for n in app._notifications), [
                n.message for n in app._notifications]
            await _select(pilot, screen, reject)
            await pilot.press("r")
            await until(pilot, lambda: isinstance(app.screen, PromptScreen),
                        what="the reason box")
            await pilot.press(*"too risky")
            await until(pilot, lambda: isinstance(app.screen, PromptScreen)
                        and app.screen.has_preview, what="the Command in the reason box")
            await pilot.press("enter")
            await _decided(pilot, screen)
            assert not isinstance(app.screen, ErrorModal), _text(app)
            listed = {t.thread_id for t in screen.all_threads}
            assert approve not in listed and reject not in listed
    finally:
        await store.close()
    assert _ran(langgraph_server, approve) == 1
    assert _ran(langgraph_server, reject) == 0
    [received] = langgraph_server.effects_of(reject, "received")
    assert "too risky" in str(received["value"])
    for thread_id in (approve, reject):
        assert not (await server_client.threads.get_state(thread_id))["next"]


async def test_another_client_answers_first_the_tui_shows_a_conflict(
    langgraph_server: ServerFixture, server_client: Any,
) -> None:
    thread_id = await run_until_paused(server_client, "raw")
    store = await open_store(parse_db_url(langgraph_server.url), GraphRegistry())
    app = _app(store, langgraph_server.url)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen_stack[0]
            assert isinstance(screen, MainScreen)
            await until(pilot, lambda: screen.loads >= 1, what="the first load")
            await _select(pilot, screen, thread_id)
            await pilot.press("enter")  # open it: the reviewer reads it now
            await settle(pilot)
            [interrupt_id] = await pending_ids(server_client, thread_id)
            await answer(server_client, thread_id, "raw", {interrupt_id: "approved"})
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, ConflictScreen | ConfirmScreen
                                                   | ErrorModal), what="a dialog")
            if isinstance(app.screen, ConfirmScreen):
                await pilot.press("y")
                await until(pilot, lambda: isinstance(app.screen, ConflictScreen
                                                       | ErrorModal), what="the conflict")
            await settle(pilot)
            assert isinstance(app.screen, ConflictScreen), _text(app)
            text = _text(app)
            assert f"Conflict on {thread_id}" in text
            assert "Traceback" not in text
            await pilot.press("r")
            await settle(pilot)
            assert isinstance(app.screen, MainScreen)
            await until(pilot, lambda: thread_id not in {
                t.thread_id for t in screen.all_threads}, what="the row to leave")
    finally:
        await store.close()
    assert _ran(langgraph_server, thread_id) == 1  # the other client's, not a second


async def test_palette_reconcile_on_a_server(
    langgraph_server: ServerFixture, server_client: Any, tmp_path: Any,
) -> None:
    from tests.server.test_server_reconcile import _in_flight

    url = langgraph_server.url
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    thread_id = await run_until_paused(server_client, "raw")
    row_id = await _in_flight(url, ledger, thread_id)
    # the console that claimed it died: its pid is gone
    import sqlite3
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        db.execute("UPDATE hitl_decisions SET client_pid = ? WHERE id = ?",
                   (int(dead.stdout), row_id))
    for settings in (Settings(db=url, reviewer="alice"),
                     Settings(db=url, reviewer="alice", ledger_db=ledger)):
        store = await open_store(parse_db_url(url), GraphRegistry())
        app = server_app(store, settings)
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                screen = app.screen_stack[0]
                assert isinstance(screen, MainScreen)
                await until(pilot, lambda s=screen: s.loads >= 1, what="the first load")
                screen.action_reconcile()
                await settle(pilot)
                notes = [n.message for n in app._notifications]
                assert not isinstance(app.screen, ErrorModal), _text(app)
                if settings.ledger_db is None:
                    assert any("Nothing to reconcile" in n and "--ledger-db" in n
                               for n in notes), notes
                else:
                    assert any(f"#{row_id} {thread_id}: failed" in n for n in notes), notes
        finally:
            await store.close()
    assert await pending_ids(server_client, thread_id)  # nothing was sent
