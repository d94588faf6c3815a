"""A breakpoint whose graph the console has not loaded is listed once it has been idle
longer than the grace period. Nothing is written when that time passes, so LISTEN/NOTIFY
says nothing (issue 16: it appeared only after a reconnect): the console must look again
when the grace period of a breakpoint it has read ends."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from ui_support import build_app, main_screen, seed_threads, until

from console.core.dburl import parse_db_url
from console.core.graphs import GraphRegistry
from console.core.store import open_store
from console.settings import Settings
from tests import graphs

GRACE = 2.0


async def test_a_breakpoint_past_its_grace_period_appears_while_listening(
    pg_url: str,
) -> None:
    await seed_threads(pg_url, {"raw": graphs.raw}, [("raw", "r-1", {"topic": "r"}, {})])
    # the console has no `before` graph loaded: its breakpoint waits out the grace period
    store = await open_store(parse_db_url(pg_url), GraphRegistry([]), grace_seconds=GRACE)
    try:
        await store.setup(notify=True)
        app = build_app(store, Settings(reviewer="tester", mouse=False),
                        clock=lambda: datetime.now(UTC), poll_interval=0.5)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = main_screen(app)
            await until(pilot, lambda: screen.loads >= 1, what="the first load")
            await until(pilot, lambda: "live" in screen.status.plain, what="LISTEN")
            loads = screen.loads
            await seed_threads(pg_url, {"before": graphs.before},
                               [("before", "b-1", {"topic": "b"}, {})])
            paused = time.monotonic()
            # the notification came, the thread was read, and it is too young to list
            await until(pilot, lambda: screen.loads > loads or "b-1" in store.young,
                        what="the notification")
            assert "b-1" not in [t.thread_id for t in screen.table.rows]
            await until(pilot, lambda: "b-1" in [t.thread_id for t in screen.table.rows],
                        timeout=GRACE + 10, what="the breakpoint to be listed")
            took = time.monotonic() - paused
            assert took < GRACE + 2.0, f"listed {took:.1f} s after it paused"
            assert getattr(screen._feed, "reconnects", None) == 0  # no reconnect brought it
            assert store.young == {}
    finally:
        await store.close()
