"""Live refresh changes the queue in place: a batch whose threads did not change costs
no repaint and no full read; a thread that comes back is put where it belongs, through
the filter, with the cursor kept on its thread."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from test_ui_conflict import cli_approve
from ui_support import build_app, main_screen, settle, until

from console.core.store.base import CheckpointStore
from console.settings import Settings


class FakeFeed:
    """The change feed, told by the test which threads changed."""

    mode = "notify"
    connected = True
    problem: str | None = None

    def __init__(self) -> None:
        self.batches: asyncio.Queue[set[str]] = asyncio.Queue()

    async def wait(self, timeout: float) -> set[str] | None:
        try:
            return await asyncio.wait_for(self.batches.get(), timeout)
        except TimeoutError:
            return set()

    async def close(self) -> None:
        return None


def _app(store: CheckpointStore, settings: Settings, feed: FakeFeed) -> Any:
    async def factory(_store: Any, _interval: float) -> FakeFeed:
        return feed

    return build_app(store, settings, poll_interval=0.05, feed_factory=factory)


async def test_a_batch_that_changes_nothing_repaints_nothing(
    store: CheckpointStore, settings: Settings, monkeypatch: Any
) -> None:
    feed = FakeFeed()
    full_reads = 0
    real = store.pending

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal full_reads
        full_reads += 1
        return await real(*args, **kwargs)

    monkeypatch.setattr(store, "pending", counted)
    app = _app(store, settings, feed)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = main_screen(app)
        await until(pilot, lambda: screen.loads >= 1, what="the first load")
        await settle(pilot)
        table = screen.table
        generation, loads = table.generation, screen.loads
        # a graph step on a shown thread that left its pause as it was, and a thread
        # that is not pending at all
        await feed.batches.put({table.rows[3].thread_id, "no-such-thread"})
        await until(pilot, lambda: screen.loads > loads, what="the refresh")
        assert table.generation == generation
        assert full_reads == 1


async def test_a_thread_comes_back_in_place_through_the_filter(
    store: CheckpointStore, settings: Settings, queue_db: Path
) -> None:
    feed = FakeFeed()
    app = _app(store, settings, feed)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = main_screen(app)
        await until(pilot, lambda: screen.loads >= 1, what="the first load")
        await settle(pilot)
        await pilot.press("slash", *"tutorial", "enter")
        await settle(pilot)
        table = screen.table
        shown = [t.thread_id for t in table.rows]
        assert len(shown) >= 2
        await pilot.press("G")
        cursor = table.selected
        # As if the queue had missed two threads: one the filter shows, one it hides.
        everything = list(screen.all_threads)
        tutorial = next(t for t in everything if t.thread_id == shown[0])
        other = next(t for t in everything if t.graph != "tutorial")
        screen.apply_changes([tutorial, other], [])
        assert [t.thread_id for t in table.rows] == shown[1:]
        assert table.selected == cursor
        loads = screen.loads
        await feed.batches.put({tutorial.thread_id, other.thread_id})
        await until(pilot, lambda: screen.loads > loads, what="the refresh")
        assert [t.thread_id for t in table.rows] == shown
        assert [t.thread_id for t in screen.all_threads] == [t.thread_id for t in everything]
        assert table.selected == cursor  # one more row above it: still on its thread
        # And one that goes for good (approved elsewhere) leaves in place too.
        loads = screen.loads
        await cli_approve(queue_db, shown[0], "tutorial")
        await feed.batches.put({shown[0]})
        await until(pilot, lambda: screen.loads > loads, what="the refresh")
        assert [t.thread_id for t in table.rows] == shown[1:]
        assert screen.status.plain.startswith(f"{len(shown) - 1} of {len(everything) - 1}")
