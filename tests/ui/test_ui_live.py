"""Live refresh from the core's change feed (SQLite: PRAGMA data_version polling): the
queue follows other processes' commits and keeps the reviewer's cursor, marks, scroll
and drafts; loads never overlap."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from test_ui_conflict import cli_approve
from ui_support import build_app, frozen_clock, main_screen, screen_lines, settle, until

from console.core.store.base import CheckpointStore
from console.settings import Settings
from console.ui.drafts import Draft
from console.ui.screens.main import MainScreen


async def test_other_processes_commits_show_up_and_nothing_of_mine_moves(
    store: CheckpointStore, settings: Settings, queue_db: Path
) -> None:
    app = build_app(store, settings, poll_interval=0.1)
    async with app.run_test(size=(80, 12)) as pilot:  # short: the queue has to scroll
        screen = main_screen(app)
        await until(pilot, lambda: screen.loads >= 1, what="the first load")
        await settle(pilot)
        rows = list(screen.table.rows)
        await pilot.press("space", "space")  # marks on rows 0 and 1
        await pilot.press("G")  # cursor on the last row: the table scrolls
        await settle(pilot)
        cursor = screen.table.selected.thread_id
        scrolled = screen.table.scroll_y
        assert scrolled > 0
        draft = Draft(rows[0].thread_id, rows[0].checkpoint_id, state_text='{"x": 1}')
        screen.drafts.put(draft)
        # another reviewer approves a thread in the middle of the queue
        gone = next(t for t in rows[2:-1] if t.graph == "tutorial")
        loads = screen.loads
        await cli_approve(queue_db, gone.thread_id, "tutorial")
        await until(pilot, lambda: gone.thread_id not in [t.thread_id for t in screen.table.rows],
                    timeout=30, what="the live refresh")
        assert screen.loads > loads
        assert isinstance(app.screen, MainScreen)  # not open: no conflict dialog
        assert screen.table.selected.thread_id == cursor
        assert screen.table.scroll_y == scrolled - 1  # one row less above the cursor
        assert [m.thread_id for m in screen.marks] == [rows[0].thread_id, rows[1].thread_id]
        assert screen.drafts.get(draft.ref) == draft
        assert "polling 0.1s" in screen.status.plain


async def test_loads_never_overlap(
    store: CheckpointStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Manual reloads hammered while the live loop runs: one read at a time."""
    running = 0
    most = 0
    real = store.pending

    async def slow_pending(*args: Any, **kwargs: Any) -> Any:
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            await asyncio.sleep(0.05)
            return await real(*args, **kwargs)
        finally:
            running -= 1

    monkeypatch.setattr(store, "pending", slow_pending)
    app = build_app(store, settings, poll_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = main_screen(app)
        await until(pilot, lambda: screen.loads >= 1, what="the first load")
        for _ in range(10):
            screen.reload()
            await pilot.pause(0.02)
        await settle(pilot)
        await until(pilot, lambda: running == 0)
        assert most == 1
        assert app.is_running


@pytest.mark.parametrize("poll_interval", [0.05, 0], ids=["live", "no-live-refresh"])
async def test_first_load_shows_the_first_page_then_the_rest(
    store: CheckpointStore, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    poll_interval: float,
) -> None:
    """On a store that pages in SQL (SQLite after setup), the queue's first page is on
    screen as soon as it is read, saying the rest is coming, before the first full load
    (which, live, waits for the change feed) reads the whole queue and shows it (issue
    17: the first frame is the queue), with live refresh on (`hitl-console tui`) or off."""
    from console.ui.screens import live

    await store.setup()
    assert store.pages_in_sql
    everything = [t.thread_id for t in await store.pending()]
    page = 5
    assert len(everything) > page
    monkeypatch.setattr(live, "FIRST_PAGE", page)
    real = store.pending
    asked: list[tuple[int | None, bool]] = []
    full_asked = asyncio.Event()
    release = asyncio.Event()

    async def paged(*args: Any, **kwargs: Any) -> Any:
        asked.append((kwargs.get("limit"), kwargs.get("after") is not None))
        if kwargs.get("limit") is None:
            full_asked.set()
            await release.wait()  # the first page stays on screen meanwhile
        return await real(*args, **kwargs)

    monkeypatch.setattr(store, "pending", paged)
    app = build_app(store, settings, poll_interval=poll_interval)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = main_screen(app)
        await until(pilot, full_asked.is_set, what="the full read")
        await pilot.pause()  # not `settle`: it would time the held read out and cancel it
        assert [t.thread_id for t in screen.table.rows] == everything[:page]
        assert f"first {page} pending, loading the rest..." in screen.status.plain
        assert screen.loads == 0
        release.set()
        await until(pilot, lambda: screen.loads >= 1, what="the whole first load")
        await settle(pilot)
        assert [t.thread_id for t in screen.table.rows] == everything
        assert f"{len(everything)} pending" in screen.status.plain
        assert "loading the rest" not in screen.status.plain
    assert asked[:2] == [(page, False), (None, False)]


async def test_a_first_page_read_before_start_is_on_the_first_frame(
    store: CheckpointStore, settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`hitl-console tui` reads the first page before the app starts (`read_first_page`)
    and the app's first frame shows it: no read of the store is needed to draw the rows
    (issue 17: one frame with rows, not an empty frame and then another)."""
    from console.first_page import read_first_page
    from console.ui.screens import live

    await store.setup()
    everything = [t.thread_id for t in await store.pending()]
    page = 5
    monkeypatch.setattr(live, "FIRST_PAGE", page)
    first = await read_first_page(store, page, now=frozen_clock())
    assert [t.thread_id for t in first] == everything[:page]
    reads_ended = 0
    release = asyncio.Event()
    real = store.pending

    async def held(*args: Any, **kwargs: Any) -> Any:
        nonlocal reads_ended
        await release.wait()  # no read of the queue ends before the first frame
        reads_ended += 1
        return await real(*args, **kwargs)

    monkeypatch.setattr(store, "pending", held)
    app = build_app(store, settings, poll_interval=0.05, first_page=first)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = main_screen(app)
        await pilot.pause()
        assert reads_ended == 0
        assert [t.thread_id for t in screen.table.rows] == everything[:page]
        assert any(everything[0][:10] in line for line in screen_lines(app))
        assert f"first {page} pending, loading the rest..." in screen.status.plain
        release.set()
        await until(pilot, lambda: screen.loads >= 1, what="the whole first load")
        await settle(pilot)
        assert [t.thread_id for t in screen.table.rows] == everything
        assert "loading the rest" not in screen.status.plain


async def test_a_store_that_cannot_page_gets_no_first_page_read(
    store: CheckpointStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before `setup` a SQLite store reads everything for any page: nothing is read
    before the app starts (its first load reads the queue once)."""
    from console.first_page import read_first_page

    if store.pages_in_sql:
        pytest.fail("this test needs a store before setup")

    async def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("read before the app started")

    monkeypatch.setattr(store, "pending", refused)
    assert await read_first_page(store, now=frozen_clock()) == []
