"""Shared fixtures for the UI tests: a real SQLite queue seeded by the demo graphs.

The queue is seeded once per session into a template file (real LangGraph checkpoints,
written through `AsyncSqliteSaver`), and each test works on its own copy. Seeding is
made byte-for-byte repeatable so snapshots can show checkpoint ids: see
`_repeatable_checkpoint_ids`.
"""

from __future__ import annotations

import asyncio
import random
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from ui_support import SEED_GRAPHS, SEED_NOW, SEED_THREADS, SLA_SECONDS, demo_registry

from console.core.dburl import parse_db_url
from console.core.store import open_store
from console.core.store.base import CheckpointStore
from console.demo.seed import SeededThread, seed_demo
from console.settings import Settings


class _CountingClock:
    """Stands in for the `time` module inside LangGraph's uuid6: 1 ms per id."""

    def __init__(self, start: datetime) -> None:
        self._ns = int(start.timestamp() * 1e9)

    def time_ns(self) -> int:
        self._ns += 1_000_000
        return self._ns


def _repeatable_checkpoint_ids(mp: pytest.MonkeyPatch) -> None:
    """Make checkpoint ids depend only on the order threads are seeded in.

    LangGraph's uuid6 reads the wall clock and random node bits; snapshots show a
    checkpoint id, so both are replaced (`seed_demo` runs one thread at a time, so the
    order is fixed). Test-only patching of internals: if LangGraph changes them, the
    snapshot tests fail loudly rather than silently.
    """
    import langgraph.checkpoint.base.id as uuid_module

    mp.setattr(uuid_module, "time", _CountingClock(SEED_NOW))
    mp.setattr(uuid_module, "random", random.Random(20250115))
    mp.setattr(uuid_module, "_last_v6_timestamp", None)


async def _seed(path: Path) -> list[SeededThread]:
    store = await open_store(parse_db_url(str(path)), demo_registry(), create=True)
    try:
        return await seed_demo(store.saver, SEED_THREADS, now=SEED_NOW, graphs=SEED_GRAPHS)
    finally:
        await store.close()


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SeededThread]]:
    """A template SQLite queue and what the seeder says it put there."""
    path = tmp_path_factory.mktemp("queue") / "template.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        _repeatable_checkpoint_ids(mp)
        threads = asyncio.run(_seed(path))
    return path, threads


@pytest.fixture
def expected_pending(seeded: tuple[Path, list[SeededThread]]) -> list[SeededThread]:
    """Seeded threads that must be in the queue, oldest first (the queue's order)."""
    pending = [t for t in seeded[1] if t.expected == "pending"]
    return sorted(pending, key=lambda t: (t.updated_at, t.thread_id))


@pytest.fixture
def queue_db(tmp_path: Path, seeded: tuple[Path, list[SeededThread]]) -> Path:
    """This test's own copy of the seeded queue."""
    path = tmp_path / "queue.sqlite"
    shutil.copyfile(seeded[0], path)
    return path


@pytest.fixture
async def store(queue_db: Path) -> AsyncIterator[CheckpointStore]:
    """An open store over this test's queue (for async Pilot tests)."""
    opened = await open_store(parse_db_url(str(queue_db)), demo_registry())
    yield opened
    await opened.close()


@pytest.fixture
def sync_store(queue_db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CheckpointStore]:
    """An open store for the snapshot tests, which are plain `def`s running their own loop.

    aiosqlite connections are not bound to the loop that opened them (each call makes
    its future on the running loop), so a store opened here serves the snapshot's loop.
    The path is relative, so the status line reads the same in every run.
    """
    monkeypatch.chdir(queue_db.parent)
    opened = asyncio.run(open_store(parse_db_url(queue_db.name), demo_registry()))
    yield opened
    asyncio.run(opened.close())


@pytest.fixture
def settings() -> Settings:
    return Settings(reviewer="tester", sla_seconds=SLA_SECONDS, mouse=False)


@pytest.fixture(autouse=True)
def _pinned_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's environment out of the tests (NO_COLOR is read by
    `App.__init__`; the theme is pinned by `build_app`)."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    # Fingerprints of redacted values are keyed; a fixed key keeps snapshots stable.
    monkeypatch.setenv("HITL_REDACT_KEY", "ui-tests")
    monkeypatch.delenv("HITL_REVIEWER", raising=False)
