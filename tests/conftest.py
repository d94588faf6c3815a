"""Shared fixtures: a real PostgreSQL database per session and a real SQLite file per test.

PostgreSQL: `HITL_TEST_PG` names the server (default the local one). The session creates
a fresh database, gives every test its own schema in it (fast, and tests cannot see each
other's threads), and drops the database at the end. A server that cannot be reached
fails the run: this suite never silently skips what it is meant to prove.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest

from console.core.dburl import parse_db_url
from console.core.graphs import GraphRegistry
from console.core.store import CheckpointStore, open_store

DEFAULT_PG = "postgresql://root@127.0.0.1:5432/postgres"
_schemas = itertools.count()


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """URL of a fresh database for this test session, dropped afterwards."""
    server = os.environ.get("HITL_TEST_PG", DEFAULT_PG)
    name = f"hitl_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {server} ({exc}). Start it (the test command "
            "`./dev test` does) or point HITL_TEST_PG at a server.",
            pytrace=False,
        )
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(server, name)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A URL whose search_path is a new, empty schema: a private checkpointer per test."""
    schema = f"t{os.getpid()}_{next(_schemas)}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{pg_database}?options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'checkpoints.sqlite'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return str(request.getfixturevalue("sqlite_url"))


@pytest.fixture
def demo_registry() -> GraphRegistry:
    from console.commands import demo_registry

    return demo_registry()


@pytest.fixture
async def demo_store(db_url: str, demo_registry: GraphRegistry) -> AsyncIterator[CheckpointStore]:
    """An empty checkpointer (tables created) with the demo graphs registered."""
    store = await open_store(parse_db_url(db_url), demo_registry, grace_seconds=0, create=True)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def throwaway_pg() -> Iterator[Any]:
    """A PostgreSQL cluster of this test's own, which it may stop and start (outages)."""
    from tests.pg_cluster import throwaway_cluster

    with throwaway_cluster() as cluster:
        yield cluster


# --- threads left running -----------------------------------------------------------------
# A non-daemon thread still running when the tests end (an aiosqlite connection never
# closed, say) keeps the interpreter from exiting: the suite passes, then hangs until CI's
# time limit. Said here instead, with the threads' stacks, and the run fails.
LEAK_GRACE_SECONDS = 10.0
# Joined by the interpreter's own exit hook (concurrent.futures' `_python_exit`).
_JOINED_AT_EXIT = ("ThreadPoolExecutor-", "asyncio_")


def _leaked_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate()
            if t is not threading.main_thread() and t.is_alive() and not t.daemon
            and not t.name.startswith(_JOINED_AT_EXIT)]


def pytest_unconfigure(config: pytest.Config) -> None:
    deadline = time.monotonic() + LEAK_GRACE_SECONDS
    for thread in _leaked_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    leaked = _leaked_threads()
    if not leaked:
        return
    frames = sys._current_frames()
    lines = [f"{len(leaked)} non-daemon thread(s) still running after the tests; the "
             "interpreter would wait for them forever. A test left them (an unclosed "
             "store, ledger or connection):"]
    for thread in leaked:
        lines.append(f"--- {thread.name} ({type(thread).__module__}.{type(thread).__name__})")
        frame = frames.get(thread.ident or -1)
        if frame is not None:
            lines.extend(line.rstrip() for line in traceback.format_stack(frame)[-6:])
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()
    os._exit(3)
