"""Conflicts: the thread the reviewer has open moves on (another reviewer's CLI, another
process resuming the graph). The dialog says who and what changed, and offers reload,
re-apply on the new head, or cancel."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import Command
from ui_support import build_app, decided, main_screen, screen_text, select_graph, settle, until

from console.core.ledger.db import ledger_db
from console.core.store.base import CheckpointStore
from console.demo import graphs as demo_graphs
from console.settings import Settings
from console.ui.modals.confirm import ConfirmScreen
from console.ui.modals.conflict import ConflictScreen
from console.ui.screens.main import MainScreen

SIZES = [(80, 24), (160, 50)]


async def cli(*args: str) -> tuple[int, str]:
    """Run the real `python -m console` (another reviewer, another process)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, out.decode()


async def cli_approve(db: Path, thread_id: str, graph: str) -> None:
    code, out = await cli("approve", thread_id, "--db", str(db), "--reviewer", "alice",
                          "--graph", f"{graph}=console.demo.graphs:{graph}")
    assert code == 0, out


@pytest.mark.parametrize("size", SIZES)
async def test_a_cli_approve_while_open_is_a_conflict_on_submit(
    store: CheckpointStore, settings: Settings, queue_db: Path, size: tuple[int, int]
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        thread = await select_graph(pilot, "tutorial")
        await pilot.press("enter")  # open it: the reviewer is reading it now
        await settle(pilot)
        await cli_approve(queue_db, thread.thread_id, "tutorial")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConflictScreen), what="the dialog")
        await settle(pilot)
        dialog = app.screen
        body = dialog.query_one("#conflict-body").render()
        text = str(getattr(body, "plain", body))
        assert f"Conflict on {thread.thread_id}: alice applied an approve decision" in text
        assert "alice approve applied -> " in text  # the ledger row
        assert f"you saw  {thread.checkpoint_id}" in text
        assert "not waiting for a human" in text
        assert 'status: "planned" -> "executed"' in text  # the diff, redacted
        assert "r: reload" in screen_text(app)
        await pilot.press("a")  # nothing to re-apply: the run is over
        await settle(pilot)
        assert isinstance(app.screen, ConflictScreen)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        screen = main_screen(app)
        assert thread.thread_id not in [t.thread_id for t in screen.all_threads]
        rows = await ledger_db(store).rows(thread_id=thread.thread_id)
        assert [(r.reviewer, r.status) for r in rows] == [("alice", "applied")]  # ours: none


async def test_live_refresh_shows_the_conflict_without_a_key_press(
    store: CheckpointStore, settings: Settings, queue_db: Path
) -> None:
    app = build_app(store, settings, poll_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = main_screen(app)
        await until(pilot, lambda: screen.loads >= 1, what="the first load")
        assert "polling 0.1s" in screen.status.plain
        thread = await select_graph(pilot, "tutorial")
        await pilot.press("enter")
        await settle(pilot)
        marks_before = len(screen.marks)
        await cli_approve(queue_db, thread.thread_id, "tutorial")
        await until(pilot, lambda: isinstance(app.screen, ConflictScreen), timeout=30,
                    what="the live refresh to notice")
        # a refresh may catch alice's approve mid-apply (her checkpoint written, her ledger
        # row still in flight): the dialog follows it to the end
        await until(pilot, lambda: "Its head changed while you had it open" in screen_text(app)
                    and "in_flight" not in screen_text(app),
                    what="the dialog to say the head moved, alice's approve settled")
        assert "(nothing to re-apply" not in screen_text(app)  # only reading: no re-apply
        await pilot.press("escape")  # cancel
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert thread.thread_id not in [t.thread_id for t in screen.all_threads]
        assert len(screen.marks) == marks_before


async def _resume_one_branch(store: CheckpointStore, thread_id: str) -> None:
    """Another process answers one of the two parallel approvals, by interrupt id."""
    graph = demo_graphs.parallel.copy(update={"checkpointer": store.saver})
    config: Any = {"configurable": {"thread_id": thread_id}}
    state = await graph.aget_state(config)
    first = state.interrupts[0]
    await graph.ainvoke(Command(resume={first.id: "approved"}), config)


async def test_reapply_an_approve_on_the_new_head(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        thread = await select_graph(pilot, "parallel")
        assert len(thread.interrupts) == 2
        await _resume_one_branch(store, thread.thread_id)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConflictScreen))
        text = screen_text(app)
        assert "a: re-apply your approve on the new head" in text
        body = app.screen.query_one("#conflict-body").render()
        assert "1 of the 2 interrupts you saw was answered elsewhere" in str(
            getattr(body, "plain", body))
        assert "resumed outside the console" in str(getattr(body, "plain", body))
        assert "waiting again" in str(getattr(body, "plain", body))
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        new = await store.pending_thread(thread.thread_id)
        assert new is not None and len(new.interrupts) == 1
        assert new.checkpoint_id in app.screen.body.plain
        assert new.interrupts[0].id in app.screen.body.plain
        await pilot.press("y")
        await decided(pilot)
        rows = await ledger_db(store).rows(thread_id=thread.thread_id)
        assert [(r.checkpoint_id, r.status) for r in rows] == [(new.checkpoint_id, "applied")]


async def test_reapply_a_draft_reopens_the_form_on_the_new_head(
    store: CheckpointStore, settings: Settings
) -> None:
    from textual.widgets import Input

    from console.ui.modals.edit_form import EditForm

    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        thread = await select_graph(pilot, "parallel")
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EditForm))
        form = app.screen
        form.query_one("#reason", Input).value = "both look fine"
        await settle(pilot)
        await _resume_one_branch(store, thread.thread_id)
        await pilot.press("ctrl+s")  # the plan finds the new head
        await until(pilot, lambda: isinstance(app.screen, ConflictScreen))
        assert "a: re-apply your draft on the new head" in screen_text(app)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, EditForm))
        await settle(pilot)
        again = app.screen
        assert again.query_one("#reason", Input).value == "both look fine"
        # the same head checkpoint, but another pause: one interrupt is left
        assert len(again.thread.interrupts) == 1
        assert again.thread.interrupt_ids[0] in thread.interrupt_ids


async def test_a_conflict_found_by_refresh_closes_the_pending_confirm(
    store: CheckpointStore, settings: Settings, queue_db: Path
) -> None:
    """The y/n for a pause that is gone could only fail: the conflict dialog replaces it."""
    app = build_app(store, settings, poll_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = main_screen(app)
        await until(pilot, lambda: screen.loads >= 1, what="the first load")
        thread = await select_graph(pilot, "tutorial")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await cli_approve(queue_db, thread.thread_id, "tutorial")
        await until(pilot, lambda: isinstance(app.screen, ConflictScreen), timeout=30,
                    what="the live refresh to notice")
        assert "a: re-apply your approve" not in screen_text(app)  # not waiting any more
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen) and len(app.screen_stack) == 1
        assert screen.busy is None and screen.check_action("reject", ()) is not False
        rows = await ledger_db(store).rows(thread_id=thread.thread_id)
        assert [r.reviewer for r in rows] == ["alice"]


async def test_a_filter_left_one_thread_a_cli_approve_still_says_who(
    store: CheckpointStore, settings: Settings, queue_db: Path
) -> None:
    """Issue 16: with a filter that leaves one thread, its detail open, a CLI approve
    emptied the table and the detail said only "No pending thread matches the filter":
    the reviewer must be told who moved it, as without a filter."""
    app = build_app(store, settings, poll_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = main_screen(app)
        await until(pilot, lambda: screen.loads >= 1, what="the first load")
        thread = next(t for t in screen.all_threads if t.graph == "tutorial")
        await pilot.press("slash")
        for char in thread.thread_id:
            await pilot.press(char)
        await pilot.press("enter")  # keep the filter, back to the queue
        await settle(pilot)
        assert [t.thread_id for t in screen.table.rows] == [thread.thread_id]
        await pilot.press("enter")  # read it
        await until(pilot, lambda: screen.detail.checkpoint_id == thread.checkpoint_id,
                    what="the detail")
        await cli_approve(queue_db, thread.thread_id, "tutorial")
        await until(pilot, lambda: isinstance(app.screen, ConflictScreen), timeout=30,
                    what="the who/what dialog")

        def body() -> str:
            shown = app.screen.query_one("#conflict-body").render()
            return str(getattr(shown, "plain", shown))

        await until(pilot, lambda: "alice approve applied -> " in body(),
                    what="the ledger row, settled")
        assert "Its head changed while you had it open" in screen_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), what="the dialog")
        await settle(pilot)
        assert "No pending thread matches the filter" in screen_text(app)
        assert screen.table.row_count == 0
