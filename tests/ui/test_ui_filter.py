"""The `/` filter: the pure parser, and narrowing the queue as the reviewer types."""

from __future__ import annotations

import pytest
from ui_support import build_app, screen_lines, settle

from console.core.models import PendingFilter
from console.core.store.base import CheckpointStore
from console.settings import Settings
from console.ui.filter_query import parse_filter
from console.ui.screens.main import MainScreen
from console.ui.widgets.filter_bar import FilterBar

SIZES = [(80, 24), (160, 50)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", PendingFilter()),
        ("send_email", PendingFilter(search="send_email")),
        ("wire  transfer", PendingFilter(search="wire transfer")),
        ("graph:inbox", PendingFilter(graph="inbox")),
        ("node:human_review alice", PendingFilter(node="human_review", search="alice")),
        ("older:2h", PendingFilter(older_than_seconds=7200.0)),
        ("GRAPH:email graph:inbox", PendingFilter(graph="inbox")),  # last one wins
        ('graph:"my graph" x', PendingFilter(graph="my graph", search="x")),
        ("ORD-1:2", PendingFilter(search="ORD-1:2")),  # not a known key: plain text
        ("graph:", PendingFilter()),  # still being typed
        ('graph:"unfinished', PendingFilter(graph='"unfinished')),
    ],
)
def test_parse_filter(text: str, expected: PendingFilter) -> None:
    query = parse_filter(text)
    assert query.filter == expected
    assert query.problems == ()
    assert query.active == (expected != PendingFilter())


def test_parse_filter_reports_a_bad_duration_without_raising() -> None:
    query = parse_filter("older:2x inbox")
    assert query.filter == PendingFilter(search="inbox")
    assert query.problems and "older:2x" in query.problems[0]
    # A number is a duration in the making (older:2 -> older:2h): no complaint yet.
    assert parse_filter("older:1h3").problems == ()


async def _type(pilot: object, text: str) -> None:
    for char in text:
        await pilot.press(char)  # type: ignore[attr-defined]


@pytest.mark.parametrize("size", SIZES)
async def test_filter_narrows_as_you_type_and_esc_clears(
    store: CheckpointStore, settings: Settings, size: tuple[int, int]
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        everything = [t.thread_id for t in screen.table.rows]

        await pilot.press("slash")
        bar = screen.query_one(FilterBar)
        assert bar.display and bar.input.has_focus
        await _type(pilot, "graph:inbox")
        await settle(pilot)
        shown = screen.table.rows
        assert shown and all(t.graph == "inbox" for t in shown)
        assert len(shown) < len(everything)
        assert screen.detail.thread_id == shown[0].thread_id
        assert any(f"{len(shown)} of {len(everything)} shown" in line for line in screen_lines(app))

        # Typed text narrows further (search covers thread id, graph, nodes, summary).
        await _type(pilot, f" {shown[-1].thread_id}")
        await settle(pilot)
        assert [t.thread_id for t in screen.table.rows] == [shown[-1].thread_id]

        await pilot.press("escape")
        await settle(pilot)
        assert not bar.display
        assert screen.table.has_focus
        assert [t.thread_id for t in screen.table.rows] == everything


async def test_enter_keeps_the_filter_and_returns_to_the_queue(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await pilot.press("slash")
        await _type(pilot, "older:12h")
        await pilot.press("enter")
        await settle(pilot)
        assert screen.table.has_focus
        old = screen.table.rows
        assert old and all((app.clock() - t.paused_at).total_seconds() >= 12 * 3600 for t in old)
        # j moves in the filtered list; esc from the queue clears the filter.
        await pilot.press("j")
        assert screen.table.cursor_row == min(1, len(old) - 1)
        await pilot.press("escape")
        await settle(pilot)
        assert len(screen.table.rows) == len(screen.all_threads)


async def test_filter_matching_nothing_says_so(store: CheckpointStore, settings: Settings) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await _type(pilot, "no-such-thread older:2x")
        await settle(pilot)
        text = "\n".join(screen_lines(app))
        assert "No pending thread matches the filter" in text
        assert "older:2x is not a duration" in text
