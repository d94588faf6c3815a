"""The TUI opened on a real `langgraph dev`: the queue lists every pause form, the
breakpoints' nodes arrive through the live feed, the detail shows a payload with secrets
redacted, and a thread answered elsewhere leaves the queue by itself."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from textual.worker import WorkerCancelled, WorkerFailed

from console.core.dburl import parse_db_url
from console.core.graphs import GraphRegistry
from console.core.store import open_store
from console.settings import Settings
from console.ui.app import make_app
from tests.server.conftest import ServerFixture, answer, pending_ids, run_until_paused

JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
       ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")


def server_app(store: Any, settings: Settings, **options: Any) -> Any:
    """The app on a server store as these tests drive it: no timer fires mid-test unless
    `options` turn one on (`poll_interval`, `presence_interval`), no animation."""
    defaults = {"detail_delay": 0, "tick_interval": 0, "poll_interval": 0,
                "presence_interval": 0}
    app = make_app(store, settings, **{**defaults, **options})
    app.animation_level = "none"
    return app


async def until(pilot: Any, predicate: Any, timeout: float = 30.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.05)


async def settle(pilot: Any) -> None:
    for _ in range(3):
        workers = [w for w in pilot.app.workers if w.group != "live"]
        if workers:
            with contextlib.suppress(WorkerFailed, WorkerCancelled):
                await asyncio.wait_for(pilot.app.workers.wait_for_complete(workers), 20)
        await pilot.pause()


async def test_tui_on_a_server(langgraph_server: ServerFixture, paused: dict[str, str],
                               server_client: Any) -> None:
    secret = await run_until_paused(server_client, "raw", inputs={"topic": JWT})
    store = await open_store(parse_db_url(langgraph_server.url), GraphRegistry())
    settings = Settings(db=langgraph_server.url, reviewer="alice")
    app = server_app(store, settings, poll_interval=0.2)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            from console.ui.screens.main import MainScreen

            screen = app.screen_stack[0]
            assert isinstance(screen, MainScreen)
            await until(pilot, lambda: screen.loads >= 1, what="the first load")
            listed = {t.thread_id: t for t in screen.all_threads}
            assert set(paused.values()) | {secret} <= set(listed)
            # breakpoints are listed at once, then named by the feed in the background
            await until(pilot, lambda: {t.thread_id: t for t in screen.all_threads}[
                paused["before"]].nodes == ("act",), what="the breakpoint's node")
            # the detail of an Agent Inbox question
            assert screen.table.select_thread(paused["inbox"])
            await settle(pilot)
            await until(pilot, lambda: screen.detail.thread_id == paused["inbox"]
                        and "wire" in screen.detail.plain, what="the inbox detail")
            assert "moved on" not in screen.detail.plain.lower()
            # a secret in state never reaches the screen
            assert screen.table.select_thread(secret)
            await settle(pilot)
            await until(pilot, lambda: screen.detail.thread_id == secret,
                        what="the secret thread's detail")
            seen = []
            for tab in ("2", "3", "4", "1"):
                await pilot.press(tab)
                await settle(pilot)
                seen.append(screen.detail.plain)
                assert JWT not in screen.detail.plain
                assert JWT[:40] not in app.export_screenshot()
            assert "topic" in seen[1]  # the state tab was shown, its value hidden
            # answered elsewhere: the row leaves by itself (live refresh by polling)
            gone = paused["raw"]
            [interrupt_id] = await pending_ids(server_client, gone)
            await answer(server_client, gone, "raw", {interrupt_id: "approved"})
            await until(pilot, lambda: gone not in {t.thread_id for t in screen.all_threads},
                        what="the answered thread to leave")
            assert "polling" in screen.status.plain
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def _bob(url: str, ledger_db: str | None) -> Any:
    """Bob's console on the server (presence on, heartbeats 0.2 s apart), loaded."""
    from console.session import decider_for
    from console.ui.screens.main import MainScreen

    store = await open_store(parse_db_url(url), GraphRegistry())
    settings = Settings(db=url, reviewer="bob", ledger_db=ledger_db)
    app = server_app(store, settings, presence_interval=0.2,
                     decider=decider_for(store, settings))
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            screen = app.screen_stack[0]
            assert isinstance(screen, MainScreen)
            await until(pilot, lambda: screen.loads >= 1, what="the first load")
            yield pilot, screen
    finally:
        await store.close()


async def test_presence_on_a_server_lives_in_the_ledger_database(
    langgraph_server: ServerFixture, server_client: Any, tmp_path: Any,
) -> None:
    """A server has no tables of ours: reviewers see each other through the `--ledger-db`
    database the team shares (its presence table is installed with the ledger), and
    without one presence is off, silently, with the queue working the same."""
    from console.core.ledger.apply import current_origin
    from console.core.ledger.standalone import install_standalone, standalone_ledger
    from console.core.presence import PresenceBoard

    thread = await run_until_paused(server_client, "raw")
    ledger_url = f"sqlite:///{tmp_path / 'team-ledger.sqlite'}"
    alice_ledger = standalone_ledger(ledger_url)
    await install_standalone(alice_ledger)
    alice = PresenceBoard(alice_ledger, current_origin("alice"))
    try:
        await alice.beat(thread, None, True)
        async with _bob(langgraph_server.url, ledger_url) as (pilot, screen):
            await until(pilot, lambda: screen.presence_beats >= 1, what="a heartbeat")
            assert [r.reviewer for r in screen.others_reading(thread)] == ["alice"]
            assert screen.table.select_thread(thread)
            await until(pilot, lambda: screen.detail.thread_id == thread, what="the detail")
            beats = screen.presence_beats
            await until(pilot, lambda: screen.presence_beats > beats, what="bob's beat")
            seen = await alice.others()
            assert [(r.reviewer, r.thread_id) for r in seen] == [("bob", thread)]

        async with _bob(langgraph_server.url, None) as (pilot, screen):
            await until(pilot, lambda: screen._presence_off, what="presence off")
            assert screen.others_reading(thread) == []
            assert thread in {t.thread_id for t in screen.all_threads}
    finally:
        await alice.leave()
        await alice_ledger.close()
