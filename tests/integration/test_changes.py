"""The live change feed notices commits made elsewhere, in every mode it can run in.

Modes: SQLite polling (`PRAGMA data_version`), Postgres polling (watermark over
checkpoint ids) and Postgres LISTEN/NOTIFY (after `setup(notify=True)`). Writes come
from another connection (a second store) or another process, through the real savers.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.types import Command, Interrupt

from console.core import changes
from console.core.changes import (
    ChangeFeed,
    checkpoint_id_floor,
    checkpoint_time,
    open_change_feed,
)
from console.core.dburl import parse_db_url
from console.core.graphs import GraphRegistry
from console.core.store import CheckpointStore, open_store
from tests import graphs

ROOT = Path(__file__).resolve().parents[2]
POLL = 0.1  # seconds: polling feeds under test poll fast
PATIENCE = 10.0  # seconds any change may take to show up on a loaded machine

MODES = ["sqlite", "postgres-polling", "postgres-notify"]


@pytest.fixture(params=MODES)
def live_url(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(database URL, expected feed mode) for each way of watching."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url")), request.param
    return str(request.getfixturevalue("pg_url")), request.param


@pytest.fixture
async def store(live_url: tuple[str, str]) -> AsyncIterator[CheckpointStore]:
    url, mode = live_url
    opened = await open_store(parse_db_url(url), GraphRegistry(), grace_seconds=0, create=True)
    try:
        if mode == "postgres-notify":
            await opened.setup(notify=True)
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def other(live_url: tuple[str, str], store: CheckpointStore) -> AsyncIterator[Any]:
    """Another connection to the same database: another store's saver."""
    opened = await open_store(parse_db_url(live_url[0]), GraphRegistry())
    try:
        yield opened.saver
    finally:
        await opened.close()


@pytest.fixture
async def feed(store: CheckpointStore, live_url: tuple[str, str]) -> AsyncIterator[ChangeFeed]:
    opened = await open_change_feed(store, poll_interval=POLL)
    try:
        assert opened.mode == ("notify" if live_url[1] == "postgres-notify" else "polling")
        yield opened
        assert opened.problem is None, opened.problem
    finally:
        await opened.close()


async def collect(
    feed: ChangeFeed, want: set[str], patience: float = PATIENCE
) -> tuple[set[str], int]:
    """Wait until every id in `want` was reported; (all ids reported, reloads asked)."""
    got: set[str] = set()
    reloads = 0
    deadline = time.monotonic() + patience
    while not want <= got and time.monotonic() < deadline:
        batch = await feed.wait(0.5)
        if batch is None:
            reloads += 1
        else:
            got |= batch
    return got, reloads


async def settle(feed: ChangeFeed, quiet: float = 0.5) -> None:
    """Drain reports until none came for `quiet` seconds (late notifications included)."""
    deadline = time.monotonic() + PATIENCE
    while await feed.wait(quiet) != set() and time.monotonic() < deadline:
        pass


async def put_checkpoint(saver: Any, thread_id: str, checkpoint_id: str | None = None) -> str:
    """One root checkpoint written through the saver, as a graph's first step would."""
    checkpoint = empty_checkpoint()
    checkpoint["id"] = checkpoint_id or str(uuid6(clock_seq=-1))
    config: Any = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    await saver.aput(config, checkpoint, {"source": "input", "step": -1}, {})
    return checkpoint["id"]


async def put_interrupt(saver: Any, thread_id: str, checkpoint_id: str) -> None:
    config: Any = {"configurable": {"thread_id": thread_id, "checkpoint_ns": "",
                                    "checkpoint_id": checkpoint_id}}
    value = [Interrupt(value={"question": "late?"}, id="i-late")]
    await saver.aput_writes(config, [("__interrupt__", value)], task_id="task-late")


async def run_to_gate(saver: Any, thread_id: str) -> None:
    graph = graphs.raw.copy(update={"checkpointer": saver})
    await graph.ainvoke({"topic": "x"}, {"configurable": {"thread_id": thread_id}})


# --- tests -----------------------------------------------------------------------------------


async def test_commit_on_another_connection_is_reported(
    store: CheckpointStore, feed: ChangeFeed, other: Any
) -> None:
    await run_to_gate(other, "paused-1")
    got, reloads = await collect(feed, {"paused-1"})
    assert "paused-1" in got
    assert reloads == 0
    assert await store.pending_thread("paused-1") is not None
    assert got == {"paused-1"}  # nothing else moved


async def test_timeout_gives_an_empty_set(feed: ChangeFeed) -> None:
    await feed.wait(0)  # drain anything from opening
    started = time.monotonic()
    assert await feed.wait(0.3) == set()
    assert 0.25 <= time.monotonic() - started < 3
    assert await feed.wait(0) == set()


async def test_interrupt_written_after_its_checkpoint_is_reported(
    feed: ChangeFeed, other: Any
) -> None:
    """An `interrupt()` lands as a write on the head, seconds after the checkpoint."""
    head = await put_checkpoint(other, "late-1")
    got, _ = await collect(feed, {"late-1"})
    assert "late-1" in got
    await settle(feed)
    assert await feed.wait(6 * POLL) == set()  # polls that find nothing new report nothing
    await put_interrupt(other, "late-1", head)
    got, _ = await collect(feed, {"late-1"})
    assert "late-1" in got


async def test_checkpoint_committed_after_a_newer_one_is_reported(
    feed: ChangeFeed, other: Any
) -> None:
    """A writer that made its id first but commits last is not hidden by the watermark."""
    early = str(uuid6(clock_seq=-1))
    await asyncio.sleep(0.05)
    await put_checkpoint(other, "newer", str(uuid6(clock_seq=-1)))
    got, _ = await collect(feed, {"newer"})
    assert "newer" in got
    await put_checkpoint(other, "older", early)
    got, _ = await collect(feed, {"older"})
    assert "older" in got


async def test_many_threads_at_once_ask_for_a_reload(
    feed: ChangeFeed, other: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes, "MAX_BATCH", 3)
    await feed.wait(0)
    for n in range(5):
        await put_checkpoint(other, f"burst-{n}")
    await asyncio.sleep(5 * POLL)
    assert await feed.wait(PATIENCE) is None
    assert await feed.wait(0) == set()  # the reload covered them


async def test_close(store: CheckpointStore) -> None:
    feed = await open_change_feed(store, poll_interval=POLL)
    await feed.close()
    await feed.close()  # twice is fine
    with pytest.raises(RuntimeError):
        await feed.wait(0.1)


async def test_another_process_commit_is_reported(
    live_url: tuple[str, str], store: CheckpointStore, feed: ChangeFeed
) -> None:
    script = (
        "import asyncio, sys\n"
        "from console.core.dburl import parse_db_url\n"
        "from console.core.store import open_store\n"
        "from tests.integration.test_changes import run_to_gate\n"
        "async def main():\n"
        "    s = await open_store(parse_db_url(sys.argv[1]))\n"
        "    try:\n"
        "        await run_to_gate(s.saver, 'from-process')\n"
        "    finally:\n"
        "        await s.close()\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", script, live_url[0]], check=True, env=env,
        cwd=ROOT, timeout=120,
    )
    got, reloads = await collect(feed, {"from-process"})
    assert "from-process" in got
    assert reloads == 0
    assert await store.pending_thread("from-process") is not None


# --- mode-specific -----------------------------------------------------------------------------


async def test_postgres_modes(pg_url: str) -> None:
    """Polling without setup and after a setup without --notify; notify after --notify;
    the index proposed for `setup` is detected."""
    store = await open_store(parse_db_url(pg_url), GraphRegistry(), create=True)
    try:
        async with await open_change_feed(store) as feed:
            assert feed.mode == "polling"
            assert feed.indexed is False
        await store.setup(notify=False)
        async with await open_change_feed(store) as feed:
            assert feed.mode == "polling"
        async with store.pool.connection() as conn:  # type: ignore[attr-defined]
            await conn.execute(
                "CREATE INDEX hitl_checkpoints_root_id ON checkpoints (checkpoint_id)"
                " WHERE checkpoint_ns = ''"
            )
        async with await open_change_feed(store) as feed:
            assert feed.mode == "polling"
            assert feed.indexed is True
        await store.setup(notify=True)
        async with await open_change_feed(store) as feed:
            assert feed.mode == "notify"
            assert feed.indexed is None
    finally:
        await store.close()


@pytest.mark.parametrize("live_url", ["postgres-notify"], indirect=True)
async def test_dropped_listen_connection_recovers(
    live_url: tuple[str, str], feed: ChangeFeed, other: Any
) -> None:
    pid = feed.backend_pid  # type: ignore[attr-defined]
    assert pid is not None
    async with await psycopg.AsyncConnection.connect(live_url[0], autocommit=True) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    # Notifications sent while it was down are lost: the feed says "reload everything".
    _, reloads = await collect(feed, {"never"}, patience=5)
    assert reloads == 1
    assert feed.connected
    assert feed.reconnects == 1
    assert feed.backend_pid not in (None, pid)  # type: ignore[attr-defined]
    await run_to_gate(other, "after-drop")
    got, reloads = await collect(feed, {"after-drop"})
    assert "after-drop" in got
    assert reloads == 0


@pytest.mark.parametrize("live_url", ["postgres-polling"], indirect=True)
async def test_polling_rides_out_terminated_connections(
    live_url: tuple[str, str], feed: ChangeFeed, other: Any
) -> None:
    async with await psycopg.AsyncConnection.connect(live_url[0], autocommit=True) as admin:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    await asyncio.sleep(10 * POLL)
    await feed.wait(0)
    reopened = await open_store(parse_db_url(live_url[0]), GraphRegistry())
    try:
        await put_checkpoint(reopened.saver, "after-terminate")
    finally:
        await reopened.close()
    got, reloads = await collect(feed, {"after-terminate"})
    assert "after-terminate" in got
    assert reloads == 0
    assert feed.connected


# Neither case adds a checkpoint: a re-ask at the same checkpoint upserts its interrupt
# row (ON CONFLICT DO UPDATE: an INSERT-only trigger misses it), and answering one of two
# parallel interrupts by id adds `__resume__` and output writes on a head that does not
# move. The notify trigger must fire on INSERT OR UPDATE of root writes for these.
@pytest.mark.parametrize(
    "live_url",
    ["sqlite", "postgres-polling", "postgres-notify"],
    indirect=True,
)
@pytest.mark.parametrize("name", ["reask", "parallel"])
async def test_a_pause_that_changes_without_a_new_checkpoint_is_reported(
    name: str, store: CheckpointStore, feed: ChangeFeed, other: Any
) -> None:
    config: Any = {"configurable": {"thread_id": name}}
    graph = graphs.ALL[name].copy(update={"checkpointer": other})
    await graph.ainvoke({"topic": "x"}, config)
    await collect(feed, {name})
    before = await store.pending_thread(name)
    assert before is not None
    await settle(feed)
    if name == "reask":  # asks again: same checkpoint, a new interrupt
        await graph.ainvoke(Command(resume="not a contract answer"), config)
    else:  # one of the two answered by id: the head stays where it is
        await graph.ainvoke(Command(resume={before.interrupt_ids[0]: "approved"}), config)
    after = await store.pending_thread(name)
    assert after is not None
    assert after.checkpoint_id == before.checkpoint_id
    assert after.interrupt_ids != before.interrupt_ids
    got, _ = await collect(feed, {name}, patience=3)
    assert name in got


@pytest.mark.parametrize("live_url", ["sqlite"], indirect=True)
async def test_sqlite_reports_the_stores_own_writes_too(
    store: CheckpointStore, feed: ChangeFeed
) -> None:
    """The feed reads on a connection of its own, so `data_version` moves for every
    commit, including those made through the store's connection."""
    await put_checkpoint(store.saver, "own-write")
    got, _ = await collect(feed, {"own-write"})
    assert "own-write" in got


def test_checkpoint_id_time_round_trip() -> None:
    before = time.time()
    made = str(uuid6(clock_seq=3))
    after = time.time()
    seen = checkpoint_time(made)
    assert seen is not None
    assert before - 1e-6 <= seen <= after + 1e-6
    assert checkpoint_id_floor(before - 1e-6) <= made < checkpoint_id_floor(after + 1e-3)
    assert checkpoint_time(checkpoint_id_floor(1_700_000_000.5)) == pytest.approx(
        1_700_000_000.5, abs=1e-6
    )
    assert checkpoint_time("not-a-uuid") is None
    assert checkpoint_time("00000000-0000-4000-8000-000000000000") is None


async def test_opening_cancelled_leaves_no_thread_behind(sqlite_url: str) -> None:
    """A quit right after the first frame cancels the feed while it opens: the SQLite
    connection's thread (aiosqlite's, not a daemon) must end, or the process could not
    exit (the TUI hung on quit when `q` came while the feed opened). The cyclic GC is
    off, as in the TUI at start-up: nothing may rely on a collection to stop it."""
    import gc
    import threading

    store = await open_store(parse_db_url(sqlite_url), GraphRegistry(), create=True)
    gc.disable()
    try:
        # Cancelled at ever later moments: during the connect, the PRAGMA, the baseline.
        for delay in (0, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.008, 0.013, 0.021, 0.034):
            before = set(threading.enumerate())
            task = asyncio.ensure_future(open_change_feed(store, poll_interval=POLL))
            await asyncio.sleep(0)
            await asyncio.sleep(delay)
            if task.done():
                await task.result().close()
                continue
            task.cancel()
            # Held, as a reference cycle would hold it until a collection: the traceback
            # keeps the opening's frames, and whatever they hold, alive.
            with pytest.raises(asyncio.CancelledError) as cancelled:
                await task
            deadline = time.monotonic() + PATIENCE
            while set(threading.enumerate()) - before and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert not set(threading.enumerate()) - before, delay
            del cancelled
    finally:
        gc.enable()
        await store.close()
