"""The console on a store that opens after the first frame (`LateStore`, what
`hitl-console tui` runs on Postgres when a forked child read the first page: issue 17).

The first frame is drawn, and keys are taken, while the store is still opening: the
rows are the child's page, every read waits for the opening, a decision asked for
meanwhile is refused with the reason (as on any row whose detail is still loading), and
once the store is open it goes through, exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import cast

from ui_support import (
    build_app,
    decided,
    demo_registry,
    main_screen,
    screen_text,
    settle,
    until,
)

from console.core.dburl import DatabaseLocation, parse_db_url
from console.core.errors import DatabaseUnavailable
from console.core.graphs import GraphRegistry
from console.core.ledger.db import ledger_db
from console.core.store import open_store
from console.core.store.base import CheckpointStore
from console.core.store.late import LateStore
from console.first_page import read_first_page
from console.settings import Settings
from console.ui.modals.confirm import ConfirmScreen


@asynccontextmanager
async def _opened(location: DatabaseLocation, registry: GraphRegistry
                  ) -> AsyncIterator[CheckpointStore]:
    store = await open_store(location, registry)
    try:
        yield store
    finally:
        await store.close()


async def test_first_frame_and_an_early_approve_before_the_store_opens(
    queue_db: Path, settings: Settings,
) -> None:
    location = parse_db_url(str(queue_db))
    registry = demo_registry()
    async with _opened(location, registry) as ready:
        await ready.setup()
        page = await read_first_page(ready)  # as the forked child reads it
    assert page
    release = asyncio.Event()
    opened: list[CheckpointStore] = []

    @asynccontextmanager
    async def held() -> AsyncIterator[CheckpointStore]:
        await release.wait()
        async with _opened(location, registry) as store:
            opened.append(store)
            yield store

    late = LateStore(location, registry, held, pages_in_sql=True)
    try:
        app = build_app(cast(CheckpointStore, late), settings, first_page=page,
                        poll_interval=0.05, presence_interval=0.5)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = main_screen(app)
            await pilot.pause()
            assert [t.thread_id for t in screen.table.rows] == [t.thread_id for t in page]
            assert not late.is_open
            thread = next(t for t in page if t.graph == "tutorial")
            assert screen.table.select_thread(thread.thread_id)
            await pilot.pause()
            await pilot.press("a")  # asked for while the store is still opening
            await pilot.pause(0.2)
            # refused as on any store whose detail is still loading, and said
            assert not late.is_open and app.return_code is None
            assert any("still loading" in n.message for n in app._notifications)
            assert not isinstance(app.screen, ConfirmScreen)
            release.set()
            await until(pilot, lambda: screen.detail.checkpoint_id == thread.checkpoint_id,
                        what="the detail, once the store is open")
            assert late.is_open
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen),
                        what="the confirm")
            assert thread.checkpoint_id in app.screen.body.plain
            await pilot.press("y")
            await decided(pilot)
            await until(pilot, lambda: screen.loads >= 1, what="the first full load")
            await settle(pilot)
            assert thread.thread_id not in [t.thread_id for t in screen.all_threads]
            assert "last: approve applied" in screen.status.plain
            rows = await ledger_db(opened[0]).rows(thread_id=thread.thread_id)
            assert [(r.decision, r.status) for r in rows] == [("approve", "applied")]
    finally:
        await late.close()
    assert len(opened) == 1


async def test_an_opening_that_fails_after_the_first_frame_is_an_outage_then_retried(
    queue_db: Path, settings: Settings,
) -> None:
    """The child read the page, then the database went away before the console's own
    connection: the first frame's rows stay, marked stale under the outage banner, and
    the console retries (a new opening) until it is back, without a key."""
    location = parse_db_url(str(queue_db))
    registry = demo_registry()
    async with _opened(location, registry) as ready:
        await ready.setup()
        page = await read_first_page(ready)  # as the forked child reads it
    attempts = 0
    back = asyncio.Event()

    @asynccontextmanager
    async def flaky() -> AsyncIterator[CheckpointStore]:
        nonlocal attempts
        attempts += 1
        if not back.is_set():
            raise DatabaseUnavailable(f"Cannot reach {location.display()}: connection "
                                      "refused.")
        async with _opened(location, registry) as store:
            yield store

    late = LateStore(location, registry, flaky, pages_in_sql=True)
    try:
        app = build_app(cast(CheckpointStore, late), settings, first_page=page,
                        poll_interval=0.05, retry_delays=(0.05,))
        async with app.run_test(size=(80, 24)) as pilot:
            screen = main_screen(app)
            await until(pilot, lambda: screen.outage_since is not None, what="the outage")
            assert [t.thread_id for t in screen.table.rows] == [t.thread_id for t in page]
            assert "connection refused" in screen.banner.plain
            assert "STALE" in screen_text(app)
            assert f"{len(page)} pending | STALE since start |" in screen.status.plain
            assert app.return_code is None
            failed = attempts
            await until(pilot, lambda: attempts > failed, what="a retry")
            back.set()
            await until(pilot, lambda: screen.loads >= 1 and screen.outage_since is None,
                        what="the queue, once the database is back")
            assert late.is_open and "connection refused" not in screen.banner.plain
    finally:
        await late.close()
