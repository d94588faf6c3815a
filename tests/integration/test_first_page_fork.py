"""`hitl-console tui` on Postgres: the first page read in a forked child, the store opened
after the first frame (`console.first_page`, `LateStore`; issue 17).

The child's page is compared with the page read in-process, row by row and field by
field (an unreadable row keeps its reason, a breakpoint inside a subgraph its nested
checkpoint): the app acts on these rows before its first full load. Every way the child
can fail must leave the parent to read the page itself, as before.
"""

from __future__ import annotations

import asyncio
import io
import os
import pickle
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import psycopg
import pytest

from console.core.dburl import parse_db_url
from console.core.errors import DatabaseUnavailable
from console.core.graphs import GraphRegistry
from console.core.ledger.db import install_ledger, ledger_db
from console.core.models import PendingThread
from console.core.store import CheckpointStore, open_store
from console.core.store.late import LateStore, StoreStillOpening
from console.first_page import (
    FirstPage,
    _dumps,
    _loads,
    read_first_page,
    start_reading,
)
from console.session import store_session
from console.settings import Settings, load_settings
from tests import hostile

DAMAGED = "raw-paused"


def _settings(url: str) -> Settings:
    return load_settings(db=url, reviewer="fork-tester")


@pytest.fixture
async def seeded(pg_url: str) -> AsyncIterator[str]:
    """A set-up Postgres checkpointer with every pause form, and one row made unreadable
    (its interrupt written as `pickle`)."""
    store = await open_store(parse_db_url(pg_url), GraphRegistry(), grace_seconds=0,
                             create=True)
    try:
        await hostile.seed(store.saver)
        await store.setup()
        await install_ledger(store)
    finally:
        await store.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE checkpoint_writes SET type = 'pickle' WHERE thread_id = %s"
                     " AND channel = '__interrupt__'", (DAMAGED,))
    yield pg_url


def _facts(row: PendingThread) -> tuple[Any, ...]:
    return (row, row.error, row.interrupt_ids, row.metadata, row.settle, row.next_nodes,
            row.paused_at.utcoffset())


async def test_the_childs_page_is_the_page_read_in_process(seeded: str) -> None:
    settings = _settings(seeded)
    reader = start_reading(settings)
    assert reader is not None
    page = reader.take()
    async with store_session(settings) as store:
        expected = await read_first_page(store)
    assert page is not None
    assert page.pages_in_sql
    assert len(page.rows) == len(expected) >= len(hostile.PAUSED) - 1  # - a young breakpoint
    assert [_facts(r) for r in page.rows] == [_facts(r) for r in expected]
    unreadable = [r for r in page.rows if r.thread_id == DAMAGED]
    assert unreadable and unreadable[0].error and "pickle" in unreadable[0].error
    _assert_reaped(reader.pid)


async def test_before_setup_the_child_sends_no_page(pg_url: str) -> None:
    """Without `setup` a page costs the whole queue: the app reads it after its frame."""
    store = await open_store(parse_db_url(pg_url), GraphRegistry(), create=True)
    try:
        await hostile.seed(store.saver)
    finally:
        await store.close()
    reader = start_reading(_settings(pg_url))
    assert reader is not None
    assert reader.take() == FirstPage((), False)


async def test_an_unreachable_database_leaves_the_page_to_the_parent(pg_url: str) -> None:
    """The child fails; the parent opens the store itself and reports the error as the
    console always has (tests/integration/test_cli.py)."""
    with socket_nobody_listens_on() as port:
        reader = start_reading(_settings(f"postgresql://root@127.0.0.1:{port}/test"))
        assert reader is not None
        started = time.monotonic()
        assert reader.take() is None
        assert time.monotonic() - started < 8
        _assert_reaped(reader.pid)


async def test_a_child_slower_than_the_wait_is_killed_and_reaped(seeded: str) -> None:
    reader = start_reading(_settings(seeded))
    assert reader is not None
    assert reader.take(timeout=0.0) is None
    _assert_reaped(reader.pid)


def test_only_postgres_forks(tmp_path: Any) -> None:
    assert start_reading(_settings(f"sqlite:///{tmp_path / 'x.sqlite'}")) is None
    assert start_reading(_settings("http://127.0.0.1:1")) is None
    assert start_reading(_settings("not a url")) is None


def test_the_pipe_builds_nothing_but_rows_and_values() -> None:
    """Even a forged stream: `os.system` or `getattr` are refused, not called."""
    assert _loads(pickle.dumps(os.system)) is None
    assert _loads(pickle.dumps(FirstPage((), True)) + b"") == FirstPage((), True)
    forged = b"cbuiltins\ngetattr\n(cos\nsystem\nS'x'\ntR."
    assert _loads(forged) is None
    assert _loads(b"") is None
    assert _loads(b"not a pickle") is None
    assert _loads(pickle.dumps(["a list"])) is None  # not a page


def test_a_zoneinfo_time_crosses_the_pipe_by_its_key() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from console.core.models import Convention, PauseKind

    when = datetime(2026, 12, 6, tzinfo=ZoneInfo("Europe/Paris"))
    row = PendingThread("t", "", "c", None, ("n",), PauseKind.INTERRUPT, Convention.RAW, (),
                        when, "s", {"at": when})
    page = _loads(_dumps(FirstPage((row,), True)))
    assert page is not None and page.rows == (row,)
    assert page.rows[0].metadata == {"at": when}
    with pytest.raises(pickle.UnpicklingError):  # what the plain pickle would need
        _Strict(io.BytesIO(pickle.dumps(when.tzinfo, protocol=5))).load()


class _Strict(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        from console.first_page import ALLOWED

        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name}")
        return super().find_class(module, name)


# --- LateStore -------------------------------------------------------------------------


class Openings:
    """`store_session` for `url`, counting openings, each held until `release`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.count = 0
        self.release = asyncio.Event()
        self.release.set()
        self.closed: list[CheckpointStore] = []

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[CheckpointStore]:
        self.count += 1
        await self.release.wait()
        async with store_session(_settings(self.url)) as store:
            yield store
        self.closed.append(store)


def _late(url: str, openings: Openings, pages_in_sql: bool = True) -> LateStore:
    return LateStore(parse_db_url(url), GraphRegistry(), openings, pages_in_sql=pages_in_sql)


async def test_reads_wait_for_one_opening_then_are_the_stores(seeded: str) -> None:
    openings = Openings(seeded)
    openings.release.clear()
    late = _late(seeded, openings)
    try:
        assert late.pages_in_sql and not late.is_open
        assert late.location.display() == parse_db_url(seeded).display()
        reads = [asyncio.create_task(late.pending()) for _ in range(3)]
        await asyncio.sleep(0.05)
        assert not any(r.done() for r in reads)  # waiting for the opening
        openings.release.set()
        found = await asyncio.gather(*reads)
        assert openings.count == 1 and late.is_open
        async with store_session(_settings(seeded)) as store:
            expected = await store.pending()
        assert all(f == expected for f in found)
        assert late.pool is not None  # the real store's, now
        assert await late.ready() is await late.ready()
    finally:
        await late.close()
    assert len(openings.closed) == 1


async def test_a_sync_attribute_before_the_opening_says_so(seeded: str) -> None:
    openings = Openings(seeded)
    late = _late(seeded, openings)
    try:
        with pytest.raises(StoreStillOpening, match=r"still opening .*nothing was"):
            late.pool  # noqa: B018
        assert openings.count == 0  # asking does not open it
        # the ledger takes the pool when used, after the store is ready
        ledger = ledger_db(late)  # type: ignore[arg-type]
        assert await ledger.installed()
        assert openings.count == 1
    finally:
        await late.close()


async def test_a_failed_opening_fails_that_read_and_the_next_read_retries(
        seeded: str) -> None:
    attempts = 0
    real = Openings(seeded)

    @asynccontextmanager
    async def flaky() -> AsyncIterator[CheckpointStore]:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise DatabaseUnavailable("the database went away")
        async with real() as store:
            yield store

    late = LateStore(parse_db_url(seeded), GraphRegistry(), flaky, pages_in_sql=True)
    try:
        with pytest.raises(DatabaseUnavailable, match="went away"):
            await late.pending()
        assert not late.is_open
        assert len(await late.pending()) == await _count(seeded)
        assert attempts == 2
    finally:
        await late.close()


async def test_closing_stops_an_opening_and_opens_nothing_unasked(seeded: str) -> None:
    openings = Openings(seeded)
    await _late(seeded, openings).close()
    assert openings.count == 0
    openings.release.clear()
    late = _late(seeded, openings)
    read = asyncio.create_task(late.pending())
    await asyncio.sleep(0.05)
    await late.close()
    with pytest.raises(asyncio.CancelledError):
        await read
    assert openings.count == 1 and not late.is_open and not openings.closed


async def test_a_cancelled_read_leaves_the_opening_to_the_next(seeded: str) -> None:
    openings = Openings(seeded)
    openings.release.clear()
    late = _late(seeded, openings)
    try:
        read = asyncio.create_task(late.pending())
        await asyncio.sleep(0.05)
        read.cancel()
        openings.release.set()
        assert len(await late.pending()) == await _count(seeded)
        assert openings.count == 1
    finally:
        await late.close()


async def _count(url: str) -> int:
    async with store_session(_settings(url)) as store:
        return len(await store.pending())


def _assert_reaped(pid: int) -> None:
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@contextmanager
def socket_nobody_listens_on() -> Iterator[int]:
    """A local port that refuses connections (bound, never listening)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
