"""A role that may read the checkpoints but not the decision ledger (README, "Database
roles": the reader): the queue shows, and a banner says why decisions and flags are off."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from ui_support import build_app, main_screen, screen_text, settle, until

from console.core.dburl import parse_db_url
from console.core.store import open_store
from console.settings import Settings

pytestmark = pytest.mark.pg


async def test_a_reader_without_ledger_rights_gets_the_queue_and_a_banner(
    pg_url: str, settings: Settings
) -> None:
    from ui_support import demo_registry

    from console.core.ledger.db import install_ledger
    from console.demo.seed import seed_demo

    owner = await open_store(parse_db_url(pg_url), demo_registry(), create=True)
    await seed_demo(owner.saver, 3)
    await owner.setup()
    await install_ledger(owner)
    await owner.close()
    role = f"hitl_ui_reader_{uuid.uuid4().hex[:6]}"
    schema = urlsplit(pg_url).query.split("search_path%3D")[-1]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
        conn.execute("GRANT SELECT ON checkpoints, checkpoint_blobs, checkpoint_writes,"
                     f" hitl_thread_status TO {role}")
    parts = urlsplit(pg_url)
    url = urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port or 5432}"))
    store = await open_store(parse_db_url(url), demo_registry())
    try:
        app = build_app(store, settings)
        async with app.run_test(size=(120, 30)) as pilot:
            screen = main_screen(app)
            await until(pilot, lambda: screen.loads >= 1, what="the first load")
            await settle(pilot)
            assert len(screen.table.rows) >= 3
            assert screen.banner.display
            banner = screen.banner.plain
            assert "DECISIONS AND FLAGS UNAVAILABLE" in banner
            assert "may not read the decision ledger" in banner and "hitl_decisions" in banner
            text = screen_text(app)
            assert "Unexpected error" not in text and "Traceback" not in text
            assert "STALE" not in screen.status.plain
    finally:
        await store.close()
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")
