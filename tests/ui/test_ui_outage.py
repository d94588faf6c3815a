"""A database that goes away: banner, STALE, retries with backoff; nothing is lost.

PostgreSQL for real: the test kills every connection to the console's database with
`pg_terminate_backend` and refuses new ones for a while (`ALLOW_CONNECTIONS false`),
then lets them back in. The console must keep the last queue on screen, its cursor,
marks and drafts, show no modal and no traceback, and recover on its own.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from ui_support import build_app, main_screen, screen_text, settle, until

from console.core.dburl import parse_db_url
from console.core.store import open_store
from console.core.store.base import CheckpointStore
from console.demo.seed import seed_demo
from console.settings import Settings
from console.ui.drafts import Draft
from console.ui.live import RETRY_DELAYS
from console.ui.screens.main import MainScreen

pytestmark = pytest.mark.pg

SIZES = [(80, 24), (160, 50)]
SERVER = os.environ.get("HITL_TEST_PG", "postgresql://root@127.0.0.1:5432/postgres")


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(SERVER, autocommit=True, connect_timeout=5)


@pytest.fixture
def outage_db() -> Iterator[str]:
    """A database of its own: this test blocks every connection to it."""
    name = f"hitl_ui_outage_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(SERVER)._replace(path=f"/{name}"))
    finally:
        with _admin() as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def pg_store(outage_db: str) -> AsyncIterator[CheckpointStore]:
    from ui_support import demo_registry

    store = await open_store(parse_db_url(outage_db), demo_registry(), create=True)
    await seed_demo(store.saver, 6)
    await store.setup()
    yield store
    await store.close()


def _block(url: str, blocked: bool) -> None:
    name = urlsplit(url).path.lstrip("/")
    with _admin() as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if blocked else "true"}')
        if blocked:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))


@pytest.mark.parametrize("size", SIZES)
async def test_a_lost_postgres_shows_a_banner_keeps_everything_and_recovers(
    pg_store: CheckpointStore, outage_db: str, settings: Settings, size: tuple[int, int]
) -> None:
    app = build_app(pg_store, settings, poll_interval=0.2, retry_delays=(0.2, 0.5, 1.0))
    async with app.run_test(size=size) as pilot:
        screen = main_screen(app)
        await until(pilot, lambda: screen.loads >= 1, timeout=30, what="the first load")
        await settle(pilot)
        assert "polling 0.2s" in screen.status.plain
        rows = [t.thread_id for t in screen.table.rows]
        await pilot.press("space", "j")  # a mark, and the cursor on row 2
        cursor = screen.table.selected.thread_id
        draft = Draft(rows[0], screen.table.rows[0].checkpoint_id, reason="half typed")
        screen.drafts.put(draft)

        _block(outage_db, True)
        await until(pilot, lambda: screen.outage_since is not None, timeout=60,
                    what="the outage to be noticed")
        await settle(pilot)
        text = screen_text(app)
        assert "DATABASE UNREACHABLE" in text
        assert "STALE since" in screen.status.plain
        assert "Traceback" not in text
        assert isinstance(app.screen, MainScreen)  # a banner, not a modal
        assert [t.thread_id for t in screen.table.rows] == rows  # the last queue stays
        assert screen.table.selected.thread_id == cursor
        assert rows[0] in screen.marks
        await pilot.press("ctrl+r")  # retrying by hand changes nothing either
        await settle(pilot)
        assert isinstance(app.screen, MainScreen) and app.is_running

        _block(outage_db, False)
        await until(pilot, lambda: screen.outage_since is None, timeout=90,
                    what="the console to reconnect")
        await settle(pilot)
        assert not screen.banner.display
        assert "STALE" not in screen.status.plain
        assert any("reachable again" in n.message for n in app._notifications)
        assert screen.table.selected.thread_id == cursor
        assert rows[0] in screen.marks
        assert screen.drafts.get(draft.ref) == draft


async def test_a_restarted_server_is_followed_within_3s_without_a_keypress(
    throwaway_pg: Any, settings: Settings
) -> None:
    """The server itself stops for 10 s (a throwaway cluster, never the shared one) and
    comes back: with the product's own retry delays, poll interval and pool, the queue
    is current again, with a thread paused after the restart in it, within 3 s of the
    server accepting connections, and nobody pressed a key."""
    from ui_support import demo_registry

    from tests.pg_cluster import wait_until_accepting
    from tests.seeding import seed_paused

    url = throwaway_pg.url()
    store = await open_store(parse_db_url(url), demo_registry(), create=True)
    await seed_demo(store.saver, 3)
    await store.setup(notify=True)
    app = build_app(store, settings, poll_interval=settings.poll_interval,
                    retry_delays=RETRY_DELAYS)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            screen = main_screen(app)
            await until(pilot, lambda: screen.loads >= 1, timeout=30, what="the first load")
            await until(pilot, lambda: "live" in screen.status.plain, what="LISTEN")
            throwaway_pg.stop()
            await until(pilot, lambda: screen.outage_since is not None, timeout=20,
                        what="the outage to be noticed")
            await pilot.pause(10)
            throwaway_pg.start()
            back = wait_until_accepting(throwaway_pg)
            await seed_paused(url, "raw", 1, prefix="after-restart")

            def current() -> bool:
                return screen.outage_since is None and any(
                    t.thread_id == "after-restart-000" for t in screen.table.rows)

            await until(pilot, current, timeout=30, what="the queue to be current")
            took = time.monotonic() - back
            assert took < 3.0, f"the queue was current {took:.1f} s after the restart"
            assert "STALE" not in screen.status.plain and not screen.banner.display
            assert "Traceback" not in screen_text(app)
    finally:
        await store.close()
