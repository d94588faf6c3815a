"""After `setup`, SQLite answers from the trigger-kept head table, with the same result.

The application writes through its own connection (a second AsyncSqliteSaver, or the
saver's own SQL on a plain sqlite3 connection), as it would in production; every check
compares a fresh store reading the head table with a fresh store reading the checkpoint
tables directly, and the table itself with `max(checkpoint_id)` per thread.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.types import Command

from console.core.changes import open_change_feed
from console.core.dburl import parse_db_url
from console.core.graphs import GraphRegistry
from console.core.models import PendingThread
from console.core.store import open_store
from console.core.store import sqlite as sqlite_store
from console.core.store.sqlite import SqliteStore
from console.core.store.sqlite_schema import HEADS_TABLE
from console.demo.graphs import DEMO_GRAPHS, demo_answer, demo_config
from console.demo.seed import SeededThread, seed_demo


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "checkpoints.sqlite"


async def _open(path: Path, registry: GraphRegistry, *, create: bool = False) -> SqliteStore:
    store = await open_store(parse_db_url(str(path)), registry, grace_seconds=0, create=create)
    assert isinstance(store, SqliteStore)
    return store


@contextlib.asynccontextmanager
async def _app(path: Path) -> AsyncIterator[AsyncSqliteSaver]:
    """The application's own saver on its own connection."""
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        yield saver


@contextlib.contextmanager
def _sql(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def _view(threads: list[PendingThread]) -> list[tuple[Any, ...]]:
    """Everything a queue row says, decoded parts included."""
    return [
        (p.thread_id, p.checkpoint_id, p.graph, p.nodes, p.next_nodes, p.kind, p.convention,
         tuple(sorted(p.interrupt_ids)), p.summary, p.paused_at, p.metadata,
         tuple((i.id, i.task_id, i.task_path, repr(i.value), i.response_schema)
               for i in p.interrupts))
        for p in threads
    ]


async def _fresh(path: Path, registry: GraphRegistry, *, kept: bool = True) -> list[PendingThread]:
    """The queue as a console that just started reads it: from the head table (`kept`),
    or from the checkpoint tables as without setup."""
    store = await _open(path, registry)
    try:
        if kept:
            assert store.has_head_table
        else:
            store._has_heads = False
        return await store.pending()
    finally:
        await store.close()


def _table(path: Path) -> dict[str, tuple[str, int | None]]:
    with _sql(path) as conn:
        return {t: (c, s) for t, c, s in conn.execute(
            f"SELECT thread_id, checkpoint_id, triggered FROM {HEADS_TABLE}")}


def _true_heads(path: Path) -> dict[str, str]:
    with _sql(path) as conn:
        return dict(conn.execute(
            "SELECT thread_id, max(checkpoint_id) FROM checkpoints WHERE checkpoint_ns = ''"
            " GROUP BY thread_id"))


async def _seeded_then_set_up(path: Path, registry: GraphRegistry) -> list[SeededThread]:
    """A new file with 9 demo threads written before `setup` ran on it."""
    store = await _open(path, registry, create=True)
    try:
        seeded = await seed_demo(store.saver, 9)
        await store.setup()
    finally:
        await store.close()
    return seeded


async def _check(path: Path, registry: GraphRegistry) -> list[PendingThread]:
    """The head table names every thread's head, and a fresh store reading it lists
    exactly what one reading the checkpoint tables lists. Returns the queue."""
    assert {t: c for t, (c, _) in _table(path).items()} == _true_heads(path)
    kept = await _fresh(path, registry)
    assert _view(kept) == _view(await _fresh(path, registry, kept=False))
    return kept


async def test_setup_keeps_the_queue_of_threads_written_before_it(
    path: Path, demo_registry: GraphRegistry
) -> None:
    store = await _open(path, demo_registry, create=True)
    try:
        seeded = await seed_demo(store.saver, 27)
        direct = await _fresh(path, demo_registry, kept=False)
        assert not store.has_head_table
        done = await store.setup()
        assert done[:4] == ["checkpoint tables", "head table", "head-tracking triggers",
                            "head backfill"]
        assert store.has_head_table
        # setup decoded every head: nothing is left for the first console start
        table = _table(path)
        assert {t: c for t, (c, _) in table.items()} == _true_heads(path) != {}
        states = [s for _, s in table.values()]
        assert None not in states and states.count(1) >= len(direct)
        assert done[4] == f"head states ({len(table)} heads, {states.count(1)} with next nodes)"
        kept = await _fresh(path, demo_registry)
        assert _view(kept) == _view(direct)
        assert {p.thread_id for p in kept} == {s.thread_id for s in seeded
                                               if s.expected == "pending"}
        assert {p.kind.value for p in kept} == {"interrupt", "before", "after"}
        # what LangGraph itself says about each listed thread
        for pause in kept:
            graph = DEMO_GRAPHS[pause.graph or ""](store.saver)
            state = await graph.aget_state({"configurable": {"thread_id": pause.thread_id}})
            assert pause.checkpoint_id == state.config["configurable"]["checkpoint_id"]
            assert sorted(pause.interrupt_ids) == sorted(i.id for i in state.interrupts)
            assert pause.next_nodes == tuple(sorted(state.next))
        # idempotent: a second setup ends with the same table and the same queue
        with _sql(path) as conn:
            before = conn.execute(f"SELECT * FROM {HEADS_TABLE} ORDER BY 1").fetchall()
        assert (await store.setup())[:4] == done[:4]
        with _sql(path) as conn:
            assert conn.execute(f"SELECT * FROM {HEADS_TABLE} ORDER BY 1").fetchall() == before
        assert _view(await store.pending()) == _view(direct)
    finally:
        await store.close()


async def test_the_triggers_follow_the_application(
    path: Path, demo_registry: GraphRegistry
) -> None:
    """Setup on an empty file, then the application writes every pause form, re-asks,
    answers one of two parallel interrupts by id, resumes, starts and deletes threads."""
    store = await _open(path, demo_registry, create=True)
    try:
        assert (await store.setup())[-1] == "head states (0 heads, 0 with next nodes)"
    finally:
        await store.close()
    async with _app(path) as app:
        await seed_demo(app, 27)
        kept = await _check(path, demo_registry)
        assert {p.kind.value for p in kept} == {"interrupt", "before", "after"}
        assert any(p.thread_id == "parallel-partial-0001" and len(p.interrupts) == 1
                   for p in kept)
        # A re-ask: an invalid answer makes the node ask again at the same checkpoint,
        # with a new interrupt id (only the interrupt write changes).
        target = next(p for p in kept if p.graph == "tutorial")
        graph = DEMO_GRAPHS["tutorial"](app)
        config = demo_config("tutorial", target.thread_id)
        await graph.ainvoke(Command(resume="maybe later"), config)
        kept = await _check(path, demo_registry)
        again = next(p for p in kept if p.thread_id == target.thread_id)
        assert again.checkpoint_id == target.checkpoint_id
        state = await graph.aget_state(config)
        assert again.interrupt_ids == tuple(i.id for i in state.interrupts) != target.interrupt_ids
        # One of two parallel interrupts answered by id: the other stays, same head.
        par = next(p for p in kept if p.graph == "parallel" and len(p.interrupts) == 2)
        pgraph = DEMO_GRAPHS["parallel"](app)
        pconfig = demo_config("parallel", par.thread_id)
        await pgraph.ainvoke(Command(resume={par.interrupts[0].id: "approved"}), pconfig)
        kept = await _check(path, demo_registry)
        left = next(p for p in kept if p.thread_id == par.thread_id)
        pstate = await pgraph.aget_state(pconfig)
        assert left.interrupt_ids == tuple(i.id for i in pstate.interrupts)
        assert left.next_nodes == tuple(sorted(pstate.next))
        # A resumed thread leaves; a new pause joins.
        await graph.ainvoke(demo_answer("tutorial", state.interrupts), config)
        await graph.ainvoke({"task": "new", "requested_at": state.values["requested_at"],
                             "budget": state.values["budget"], "credentials": {}},
                            demo_config("tutorial", "tutorial-new"))
        kept = await _check(path, demo_registry)
        listed = {p.thread_id for p in kept}
        assert target.thread_id not in listed and "tutorial-new" in listed
        # A deleted thread leaves, and its row goes.
        gone = kept[-1].thread_id
        await app.adelete_thread(gone)
        kept = await _check(path, demo_registry)
        assert gone not in {p.thread_id for p in kept} and gone not in _table(path)


async def test_the_head_never_moves_back_and_follows_deletes_and_updates(
    path: Path, demo_registry: GraphRegistry
) -> None:
    """The saver's own `INSERT OR REPLACE` of older checkpoints, of the head itself (with
    and without recursive triggers), pruning the newest checkpoint, an UPDATE."""
    seeded = await _seeded_then_set_up(path, demo_registry)
    expected = _view(await _fresh(path, demo_registry, kept=False))
    thread = next(s.thread_id for s in seeded if s.graph == "tutorial" and s.expected == "pending")
    cols = ("thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint,"
            " metadata")
    put = f"INSERT OR REPLACE INTO checkpoints ({cols}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    with _sql(path) as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''"
            " ORDER BY checkpoint_id", (thread,))]
        head, parent = ids[-1], ids[-2]
        rows = {r[2]: r for r in conn.execute(
            f"SELECT {cols} FROM checkpoints WHERE thread_id = ?", (thread,))}
        assert _table(path)[thread] == (head, 1)
        # an older checkpoint written again, and a new one older than the head: no move,
        # and the recorded state stays
        conn.execute(put, rows[parent])
        late = parent + "0"  # sorts between parent and head
        assert parent < late < head
        conn.execute(put, (*rows[parent][:2], late, *rows[parent][3:]))
        assert _table(path)[thread] == (head, 1)
    assert _view(await _check(path, demo_registry)) == expected
    with _sql(path) as conn:
        # the head itself written again: same head, state to be decoded again
        conn.execute(put, rows[head])
        assert _table(path)[thread] == (head, None)
        # REPLACE's delete fires the delete trigger too when recursive triggers are on
        conn.execute("PRAGMA recursive_triggers = ON")
        conn.execute(put, rows[head])
        assert _table(path)[thread] == (head, None)
    assert _view(await _check(path, demo_registry)) == expected
    assert _table(path)[thread] == (head, 1)  # recorded again by that read
    with _sql(path) as conn:
        # the newest checkpoint pruned: the head is the newest one left (the late one)
        conn.execute("DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_id = ?",
                     (thread, head))
        assert _table(path)[thread] == (late, None)
    await _check(path, demo_registry)
    with _sql(path) as conn:
        conn.execute("UPDATE checkpoints SET metadata = metadata WHERE thread_id = ?", (thread,))
        assert _table(path)[thread] == (late, None)
        conn.execute("DELETE FROM checkpoints WHERE thread_id = ?", (thread,))
        assert thread not in _table(path)
    kept = await _check(path, demo_registry)
    assert _view(kept) == [row for row in expected if row[0] != thread]


async def test_recording_never_clobbers_a_head_that_moved(
    path: Path, demo_registry: GraphRegistry
) -> None:
    """A state decoded for one checkpoint is never recorded on a newer head: directly,
    and with the application writing between the store's read and its write-back."""
    store = await _open(path, demo_registry, create=True)
    try:
        await store.setup()
        seeded = await seed_demo(store.saver, 9)  # written after setup: every row undecoded
        assert {s for _, s in _table(path).values()} == {None}
        await store.pending()
        table = _table(path)
        assert None not in {s for _, s in table.values()}
        # directly: a stale state of the old head, recorded after the head moved
        pending = [s for s in seeded if s.expected == "pending"]
        thread = next(s.thread_id for s in pending if s.graph == "tutorial")
        old = table[thread][0]
        facts = store._decoded[(thread, old)]
        graph = DEMO_GRAPHS["tutorial"](store.saver)
        config = demo_config("tutorial", thread)
        state = await graph.aget_state(config)
        await graph.ainvoke(demo_answer("tutorial", state.interrupts), config)
        moved = _table(path)[thread]
        assert moved[0] != old and moved[1] is None
        async with store.saver.lock:
            await store._record_states({(thread, old): facts})
        assert _table(path)[thread] == moved
    finally:
        await store.close()
    # through a read: the application moves a head while the store decodes
    other = next(s.thread_id for s in pending if s.graph == "email")
    with _sql(path) as conn:
        conn.execute("UPDATE hitl_sqlite_heads SET triggered = NULL WHERE thread_id = ?",
                     (other,))
    head = _table(path)[other][0]
    newer = head + "z"
    reader = await _open(path, demo_registry)
    decode = reader._decode_missing

    async def decode_then_app_writes(keys: Any) -> None:
        keys = list(keys)
        await decode(keys)
        if (other, head) in keys:  # the heads' decode (parents come later)
            with _sql(path) as conn:  # the application, on its own connection
                conn.execute(
                    "INSERT INTO checkpoints SELECT thread_id, checkpoint_ns, ?, checkpoint_id,"
                    " type, checkpoint, metadata FROM checkpoints WHERE thread_id = ?"
                    " AND checkpoint_ns = '' AND checkpoint_id = ?", (newer, other, head))

    reader._decode_missing = decode_then_app_writes  # type: ignore[method-assign]
    try:
        listed = await reader.pending()
    finally:
        await reader.close()
    assert any(p.thread_id == other and p.checkpoint_id == head for p in listed)
    assert _table(path)[other] == (newer, None)  # not the state decoded for `head`
    kept = await _check(path, demo_registry)
    assert any(p.thread_id == other and p.checkpoint_id == newer for p in kept)
    assert _table(path)[other] == (newer, 1)


async def _undecoded_file(path: Path, registry: GraphRegistry) -> list[PendingThread]:
    """A set-up file whose rows the application wrote after setup (all undecoded)."""
    store = await _open(path, registry, create=True)
    try:
        await store.setup()
    finally:
        await store.close()
    async with _app(path) as app:
        await seed_demo(app, 18)
    assert {s for _, s in _table(path).values()} == {None}
    return await _fresh(path, registry, kept=False)


async def test_a_read_only_copy_still_lists_the_queue(
    path: Path, tmp_path: Path, demo_registry: GraphRegistry
) -> None:
    direct = await _undecoded_file(path, demo_registry)
    copy = tmp_path / "copy.sqlite"
    with _sql(path) as src, _sql(copy) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = DELETE")  # a single file to hand out
    os.chmod(copy, 0o444)
    store = await _open(copy, demo_registry)
    try:
        # root ignores file modes; query_only refuses writes with the same SQLITE_READONLY
        await store.conn.execute("PRAGMA query_only = 1")
        assert store.has_head_table
        assert _view(await store.pending()) == _view(direct)
        assert not store._can_record
        assert _view(await store.pending()) == _view(direct)  # no retry, same answer
    finally:
        await store.close()
    assert {s for _, s in _table(copy).values()} == {None}


async def test_a_busy_database_skips_recording_without_waiting(
    path: Path, demo_registry: GraphRegistry
) -> None:
    direct = await _undecoded_file(path, demo_registry)
    with _sql(path) as app:
        app.execute("BEGIN IMMEDIATE")  # the application holds the write lock
        started = time.monotonic()
        kept = await _fresh(path, demo_registry)
        took = time.monotonic() - started
        app.execute("ROLLBACK")
    assert _view(kept) == _view(direct)
    assert took < 5  # not the store's 10 s busy timeout
    assert {s for _, s in _table(path).values()} == {None}
    assert _view(await _fresh(path, demo_registry)) == _view(direct)
    assert None not in {s for _, s in _table(path).values()}  # recorded once free


async def test_the_read_after_setup_decodes_no_finished_head(
    path: Path, demo_registry: GraphRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checkpoint blobs looked at (pre-checked or decoded) by a console start: without
    setup every head's; after setup no finished head's (only the parents that
    `interrupt_after` needs), however many finished threads there are, and a new head
    once, by the first read after it."""
    looked: list[bytes] = []
    check = sqlite_store._maybe_triggered
    unpack = SqliteStore._unpack

    def counted_check(blob: bytes) -> bool:
        looked.append(blob)
        return check(blob)

    def counted_unpack(self: SqliteStore, row: Any) -> Any:
        looked.append(row[4])
        return unpack(self, row)

    seeded = await _seeded_then_set_up(path, demo_registry)
    finished = next(s.thread_id for s in seeded if s.expected == "finished")

    def add_finished(count: int, prefix: str) -> None:
        """Copies of a finished thread, written by the application after setup."""
        with _sql(path) as conn:
            for i in range(count):
                conn.execute(
                    "INSERT INTO checkpoints SELECT ? || thread_id, checkpoint_ns,"
                    " checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata"
                    " FROM checkpoints WHERE thread_id = ?", (f"{prefix}{i}-", finished))

    def finished_heads() -> set[bytes]:
        with _sql(path) as conn:
            return {blob for (blob,) in conn.execute(
                f"SELECT c.checkpoint FROM {HEADS_TABLE} h JOIN checkpoints c"
                " ON c.thread_id = h.thread_id AND c.checkpoint_ns = ''"
                " AND c.checkpoint_id = h.checkpoint_id WHERE h.triggered = 0")}

    def count(blobs: set[bytes]) -> int:
        return sum(blob in blobs for blob in looked)

    add_finished(40, "done-")
    await _fresh(path, demo_registry)  # the first read after them records their states
    done = finished_heads()
    assert len(done) >= 2  # the copies share their original's blob
    monkeypatch.setattr(sqlite_store, "_maybe_triggered", counted_check)
    monkeypatch.setattr(SqliteStore, "_unpack", counted_unpack)
    direct = await _fresh(path, demo_registry, kept=False)
    assert len(looked) >= len(_true_heads(path)) and count(done) >= 40
    looked.clear()
    kept = await _fresh(path, demo_registry)
    assert _view(kept) == _view(direct)
    assert count(done) == 0
    start_cost = len(looked)  # parents of breakpoint heads (interrupt_after)
    add_finished(25, "more-")
    looked.clear()
    assert _view(await _fresh(path, demo_registry)) == _view(direct)
    assert count(done) == 25  # only the new heads, once
    looked.clear()
    assert _view(await _fresh(path, demo_registry)) == _view(direct)
    assert count(done) == 0 and len(looked) == start_cost


async def test_recording_does_not_wake_the_change_feed(
    path: Path, demo_registry: GraphRegistry
) -> None:
    """The store's own write-back changes `data_version`; the feed must then report no
    thread (no refresh), while an application write is still reported."""
    direct = await _undecoded_file(path, demo_registry)
    thread = next(p.thread_id for p in direct if p.graph == "tutorial")
    store = await _open(path, demo_registry)
    feed = await open_change_feed(store, poll_interval=0.05)
    try:
        assert await feed.wait(0.3) == set()
        await store.pending()  # records every state: one commit per 1000 rows
        assert None not in {s for _, s in _table(path).values()}
        polls = feed.polls
        assert await feed.wait(0.5) == set()
        assert feed.polls > polls
        async with _app(path) as app:
            graph = DEMO_GRAPHS["tutorial"](app)
            config = demo_config("tutorial", thread)
            state = await graph.aget_state(config)
            await graph.ainvoke(demo_answer("tutorial", state.interrupts), config)
        deadline = time.monotonic() + 10
        seen: set[str] = set()
        while thread not in seen and time.monotonic() < deadline:
            changed = await feed.wait(0.5)
            assert changed is not None
            seen |= changed
        assert thread in seen
    finally:
        await feed.close()
        await store.close()
