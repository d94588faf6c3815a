"""Marks and bulk reject: marks hold (thread, checkpoint), survive filter and refresh;
the confirm dialog counts what is hidden; one failure never stops the rest."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from ui_support import build_app, decided, main_screen, screen_lines, screen_text, settle, until

from console.core.ledger.apply import Decider, current_origin
from console.core.ledger.db import ledger_db
from console.core.ledger.decisions import DecisionInput
from console.core.ledger.rows import DecisionType
from console.core.store.base import CheckpointStore
from console.settings import Settings
from console.ui.modals.bulk import BulkProgressScreen, BulkRejectScreen, bar
from console.ui.modals.confirm import ConfirmScreen
from console.ui.screens.main import MainScreen

SIZES = [(80, 24), (160, 50)]


def _flag_rows(app: Any) -> list[str]:
    """Queue rows shown with a mark (`*` or `?` in the first cell)."""
    return [line for line in screen_lines(app)[1:12] if line[:1] in ("*", "?")]


async def test_space_v_star_and_U_mark_by_thread(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        rows = list(screen.table.rows)
        await pilot.press("space")  # marks row 0 and moves down
        assert screen.table.cursor_row == 1
        assert [m.thread_id for m in screen.marks] == [rows[0].thread_id]
        assert screen.marks.get(rows[0].thread_id).checkpoint_id == rows[0].checkpoint_id
        await pilot.press("j", "j", "v")  # rows 0..3
        assert [m.thread_id for m in screen.marks] == [r.thread_id for r in rows[:4]]
        await pilot.pause()
        assert len(_flag_rows(app)) == 4
        assert "4 marked" in screen.status.plain
        await pilot.press("space")  # toggles row 3 off
        assert len(screen.marks) == 3
        await pilot.press("asterisk")
        assert len(screen.marks) == len(rows)
        await pilot.press("asterisk")  # all shown were marked: unmark them
        assert len(screen.marks) == 0
        await pilot.press("asterisk", "U")
        assert len(screen.marks) == 0 and "marked" not in screen.status.plain


async def test_marks_survive_filter_and_refresh(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        await pilot.press("space", "space", "space")
        marked = [m.thread_id for m in screen.marks]
        await pilot.press("slash", *"graph:email", "enter")
        await settle(pilot)
        assert len(screen.table.rows) < len(screen.all_threads)
        await pilot.press("ctrl+r")
        await settle(pilot)
        await pilot.press("escape")  # clear the filter
        await settle(pilot)
        assert [m.thread_id for m in screen.marks] == marked
        assert [r.thread_id for r in screen.table.rows[:3]] == marked
        assert len(_flag_rows(app)) == 3


@pytest.mark.parametrize("size", SIZES)
async def test_bulk_reject_counts_hidden_marks_and_one_failure_never_stops_the_rest(
    store: CheckpointStore, settings: Settings, size: tuple[int, int]
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        await pilot.press("asterisk")
        total = len(screen.marks)
        await pilot.press("slash", *"graph:tutorial", "enter")
        await settle(pilot)
        shown = len(screen.table.rows)
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, BulkRejectScreen))
        breakdown = app.screen.summary().plain  # scrolls at 80x24
        # Up front (issue 16): how many cannot be rejected, and why, one line per reason.
        assert f"{total} marked threads: {total - 1} will be rejected" in breakdown
        assert "1 cannot be rejected and stay marked:" in breakdown
        schema_line = next(line for line in breakdown.splitlines() if "schema-" in line)
        assert "expects a value matching its response schema" in schema_line
        assert f"{total - shown} of them hidden by the filter." in breakdown
        assert "tutorial/approval" in breakdown and "schema/choose_refund" in breakdown
        # Someone else approves one of them meanwhile: it must fail alone, as a conflict.
        other = Decider(store, current_origin("alice"))
        moved = next(t for t in screen.all_threads if t.graph == "tutorial")
        await other.decide(moved.thread_id, DecisionInput(DecisionType.APPROVE))
        await pilot.press("enter")  # no reason yet
        await settle(pilot)
        assert "A reason is required." in screen_text(app)
        await pilot.press(*"duplicate run", "enter")
        await settle(pilot)
        assert f"Reject {total - 1} threads with reason 'duplicate run'?" in _flat(
            screen_text(app))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, BulkProgressScreen))
        progress = app.screen
        await until(pilot, lambda: progress.done, timeout=60, what="the bulk reject")
        await settle(pilot)
        statuses = {r.thread_id: r.status for r in progress.results}
        assert len(statuses) == total
        assert statuses[moved.thread_id] == "conflict"
        schema = next(t.thread_id for t in screen.all_threads if t.graph == "schema")
        assert statuses[schema] == "refused"  # a schema pause takes a value, not a reject
        rejected = [t for t, s in statuses.items() if s == "rejected"]
        assert len(rejected) == total - 2
        summary = screen_text(app)
        assert "Conflict (moved on or decided elsewhere) (1)" in progress_text(progress)
        assert f"Rejected ({total - 2})" in progress_text(progress)
        # the refusal: one line with its reason and thread, not one per thread
        refused = [line for line in progress_text(progress).splitlines() if schema in line]
        assert len(refused) == 1 and "response schema" in refused[0]
        assert bar(total, total) in summary
        await pilot.press("escape")
        await decided(pilot)
        assert isinstance(app.screen, MainScreen)
        # rejected threads left the queue and their marks went with them
        assert not set(rejected) & {t.thread_id for t in screen.all_threads}
        assert schema in screen.marks  # not rejected: still marked
        rows = await ledger_db(store).rows(statuses=["applied"])
        assert sum(1 for r in rows if r.decision == "reject") == total - 2
        assert all(r.reason == "duplicate run" for r in rows if r.decision == "reject")


def _flat(text: str) -> str:
    return " ".join(text.split())


def progress_text(progress: BulkProgressScreen) -> str:
    from textual.widgets import Static

    rendered = progress.query_one("#progress-results", Static).render()
    return str(getattr(rendered, "plain", rendered))


async def test_bulk_reject_with_nothing_marked_says_so(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        assert screen.check_action("reject_marked", ()) is None
        await pilot.press("R")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)


async def test_bulk_approve_is_off_by_default_and_says_so(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("asterisk", "A")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)  # nothing opens
        assert any("Bulk approve is off: [policy] bulk_approve names no graph" in n.message
                   for n in app._notifications)
    assert not await ledger_db(store).installed()


async def test_bulk_approve_where_policy_allows_it(
    store: CheckpointStore, settings: Settings
) -> None:
    """`[policy] bulk_approve = ["tutorial"]`: `*` marks all, `A` shows what will be
    approved (tutorial/approval, its Command) and what not (one line per reason), `y`
    approves each tutorial thread once; the rest stay marked and pending."""
    settings = replace(settings, raw={"policy": {"bulk_approve": ["tutorial"]}})
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        tutorial = [t.thread_id for t in screen.all_threads if t.graph == "tutorial"]
        await pilot.press("asterisk")
        total = len(screen.marks)
        await pilot.press("A")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = app.screen.body.plain
        assert f"{total} marked threads: {len(tutorial)} will be approved" in body
        assert f"{total - len(tutorial)} will not be approved and stay marked:" in body
        assert "is not named in [policy] bulk_approve" in body
        group = body[body.index("tutorial/approval"):]
        assert f'{len(tutorial)} x Command(resume={{"<interrupt 1>": "approved"}}' in _flat(
            group)
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, BulkProgressScreen))
        progress = app.screen
        await until(pilot, lambda: progress.done, timeout=60, what="the bulk approve")
        statuses = {r.thread_id: r.status for r in progress.results}
        assert [t for t, s in statuses.items() if s == "approved"] == tutorial
        assert all(s == "refused" for t, s in statuses.items() if t not in tutorial)
        await pilot.press("escape")
        await decided(pilot)
        assert len(screen.marks) == total - len(tutorial)
        assert not set(tutorial) & {t.thread_id for t in screen.all_threads}
    rows = await ledger_db(store).rows()
    assert sorted((r.thread_id, r.decision, r.status) for r in rows) == [
        (t, "approve", "applied") for t in sorted(tutorial)]
    for thread_id in tutorial:
        assert (await store.bundle(thread_id)).values["status"] == "executed"
