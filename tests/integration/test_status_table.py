"""After `setup`, Postgres answers from the trigger-kept status table, with the same result."""

from __future__ import annotations

import time

import psycopg
from langgraph.types import Command

from console.core.dburl import parse_db_url
from console.core.graphs import GraphRegistry
from console.core.store import open_store
from console.core.store.postgres import PostgresStore
from console.demo.graphs import DEMO_GRAPHS, demo_answer, demo_config
from console.demo.seed import seed_demo


def _keys(threads: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(p.thread_id, p.checkpoint_id) for p in threads]


async def test_setup_gives_the_same_queue_and_follows_new_writes(
    pg_url: str, demo_registry
) -> None:  # type: ignore[no-untyped-def]
    store = await open_store(parse_db_url(pg_url), demo_registry, grace_seconds=0, create=True)
    assert isinstance(store, PostgresStore)
    try:
        await seed_demo(store.saver, 18)
        without = await store.pending()
        assert not store.has_status_table
        done = await store.setup(notify=True)
        assert "status table" in done and "change notifications" in done
        assert store.has_status_table
        assert _keys(await store.pending()) == _keys(without)
        assert _keys(await store.pending(limit=5)) == _keys(without)[:5]
        again = await store.setup()  # idempotent
        assert again
        # The trigger follows the application: a resumed thread leaves the queue...
        target = next(p for p in without if p.graph == "tutorial")
        graph = DEMO_GRAPHS["tutorial"](store.saver)
        config = demo_config("tutorial", target.thread_id)
        state = await graph.aget_state(config)
        await graph.ainvoke(demo_answer("tutorial", state.interrupts), config)
        after = await store.pending()
        assert target.thread_id not in {p.thread_id for p in after}
        # ...and a new pause joins it.
        await graph.ainvoke({"task": "new", "requested_at": state.values["requested_at"],
                             "budget": state.values["budget"], "credentials": {}},
                            demo_config("tutorial", "tutorial-new"))
        listed = {p.thread_id for p in await store.pending()}
        assert "tutorial-new" in listed
        with psycopg.connect(pg_url) as conn:
            open_rows = conn.execute(
                "SELECT count(*) FROM hitl_thread_status WHERE next_nodes <> '{}'").fetchone()
        assert open_rows is not None and open_rows[0] >= len(listed)
    finally:
        await store.close()


def _view(threads: list) -> list[tuple]:  # type: ignore[type-arg]
    """Everything a queue row says, decoded parts included."""
    return [
        (p.thread_id, p.checkpoint_id, p.graph, p.nodes, p.next_nodes, p.kind, p.convention,
         tuple(sorted(p.interrupt_ids)), p.summary, p.paused_at, p.metadata)
        for p in threads
    ]


async def _both(store: PostgresStore) -> tuple[list, list]:  # type: ignore[type-arg]
    """The queue from the trigger-kept table, and from the checkpoint tables directly."""
    kept = await store.pending()
    store._has_status = False
    try:
        direct = await store.pending()
    finally:
        store._has_status = True
    return kept, direct


async def test_triggers_follow_every_pause_form_as_it_is_written(
    pg_url: str, demo_registry
) -> None:  # type: ignore[no-untyped-def]
    """Setup first, then the application writes: inline, parallel, one of two answered by
    id, subgraph, before/after breakpoints, a re-ask at the same checkpoint, a deleted
    thread. The kept table must say exactly what the checkpoint tables say."""
    store = await open_store(parse_db_url(pg_url), demo_registry, grace_seconds=0, create=True)
    assert isinstance(store, PostgresStore)
    try:
        await store.setup()
        await seed_demo(store.saver, 27)
        kept, direct = await _both(store)
        assert _view(kept) == _view(direct)
        assert {p.kind.value for p in kept} == {"interrupt", "before", "after"}
        assert any(p.thread_id == "parallel-partial-0001" and len(p.interrupts) == 1
                   for p in kept)
        # A re-ask: an invalid answer makes the node ask again at the same checkpoint,
        # with a new interrupt id (the interrupt write is replaced in place).
        target = next(p for p in kept if p.graph == "tutorial")
        graph = DEMO_GRAPHS["tutorial"](store.saver)
        config = demo_config("tutorial", target.thread_id)
        await graph.ainvoke(Command(resume="maybe later"), config)
        again = await store.pending_thread(target.thread_id)
        assert again is not None and again.checkpoint_id == target.checkpoint_id
        assert again.interrupt_ids != target.interrupt_ids
        state = await graph.aget_state(config)
        assert again.interrupt_ids == tuple(i.id for i in state.interrupts)
        # Answering one parallel interrupt by id leaves the other pending at the same head.
        par = next(p for p in kept if p.graph == "parallel" and len(p.interrupts) == 2)
        pgraph = DEMO_GRAPHS["parallel"](store.saver)
        pconfig = demo_config("parallel", par.thread_id)
        first = par.interrupts[0]
        await pgraph.ainvoke(Command(resume={first.id: "approved"}), pconfig)
        left = await store.pending_thread(par.thread_id)
        pstate = await pgraph.aget_state(pconfig)
        assert left is not None and left.interrupt_ids == tuple(
            i.id for i in pstate.interrupts)
        assert left.next_nodes == tuple(sorted(pstate.next))
        # A deleted thread leaves the queue.
        gone = kept[-1].thread_id
        await store.saver.adelete_thread(gone)
        kept, direct = await _both(store)
        assert _view(kept) == _view(direct)
        assert gone not in {p.thread_id for p in kept}
        # Running setup again (an upgrade) recomputes the same rows.
        await store.setup()
        assert _view(await store.pending()) == _view(kept)
    finally:
        await store.close()


async def test_setup_upgrades_an_older_status_table(pg_url: str, demo_registry) -> None:  # type: ignore[no-untyped-def]
    """An install from before the kept pauses (status table with its first columns only)
    is read the old way until setup runs again, which upgrades it in place."""
    store = await open_store(parse_db_url(pg_url), demo_registry, grace_seconds=0, create=True)
    assert isinstance(store, PostgresStore)
    try:
        await seed_demo(store.saver, 9)
        expected = _view(await store.pending())
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("CREATE TABLE hitl_thread_status (thread_id text PRIMARY KEY,"
                         " checkpoint_id text NOT NULL, paused_at timestamptz NOT NULL,"
                         " next_nodes text[] NOT NULL DEFAULT '{}', graph_id text,"
                         " updated_at timestamptz NOT NULL DEFAULT now())")
        await store._check_schema()
        assert not store.has_status_table
        assert _view(await store.pending()) == expected
        await store.setup()
        assert store.has_status_table
        assert _view(await store.pending()) == expected
    finally:
        await store.close()


async def test_writes_that_commit_before_their_checkpoint(
    pg_url: str, demo_registry
) -> None:  # type: ignore[no-untyped-def]
    """LangGraph saves writes and checkpoints in the background: a write can commit before
    its checkpoint. Every paused thread is copied under a new id writes-first (a thread
    with no status row yet: placeholder row), and again with only each head's writes
    ahead of the head (an existing row: early mark). The kept queue must equal the
    direct one, and the placeholders must not be listed."""
    store = await open_store(parse_db_url(pg_url), demo_registry, grace_seconds=0, create=True)
    assert isinstance(store, PostgresStore)
    cols_w = "checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob, task_path"
    cols_c = "checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata"
    cols_b = "checkpoint_ns, channel, version, type, blob"
    try:
        await store.setup()
        await seed_demo(store.saver, 27)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            for prefix in ("wfirst-", "hfirst-"):
                conn.execute(
                    f"INSERT INTO checkpoint_blobs SELECT %s || thread_id, {cols_b}"
                    " FROM checkpoint_blobs WHERE thread_id NOT LIKE '%%first-%%'", (prefix,))
            # all writes first, then the checkpoints one by one, oldest first
            conn.execute(f"INSERT INTO checkpoint_writes SELECT 'wfirst-' || thread_id, {cols_w}"
                         " FROM checkpoint_writes WHERE thread_id NOT LIKE '%first-%'")
            heads = conn.execute(
                "SELECT thread_id, checkpoint_ns, max(checkpoint_id) FROM checkpoints"
                " WHERE thread_id NOT LIKE '%first-%' GROUP BY 1, 2").fetchall()
            rows = conn.execute(
                "SELECT thread_id, checkpoint_ns, checkpoint_id FROM checkpoints"
                " WHERE thread_id NOT LIKE '%first-%' ORDER BY checkpoint_id").fetchall()
            head_of = {(t, ns): h for t, ns, h in heads}
            def copy(table: str, cols: str, prefix: str, key: tuple[str, str, str]) -> None:
                conn.execute(
                    f"INSERT INTO {table} SELECT %s || thread_id, {cols} FROM {table}"
                    " WHERE thread_id = %s AND checkpoint_ns = %s AND checkpoint_id = %s",
                    (prefix, *key))

            for key in rows:
                copy("checkpoints", cols_c, "wfirst-", key)
                is_head = head_of[key[:2]] == key[2]
                if is_head:  # the head's writes commit before the head
                    copy("checkpoint_writes", cols_w, "hfirst-", key)
                copy("checkpoints", cols_c, "hfirst-", key)
                if not is_head:
                    copy("checkpoint_writes", cols_w, "hfirst-", key)
            marks = conn.execute("SELECT count(*) FROM hitl_thread_status"
                                 " WHERE early_checkpoint_ids IS NOT NULL").fetchone()
        kept, direct = await _both(store)
        assert _view(kept) == _view(direct)
        originals = [p for p in kept if "first-" not in p.thread_id]
        for prefix in ("wfirst-", "hfirst-"):
            copies = [p for p in kept if p.thread_id.startswith(prefix)]
            assert [(p.thread_id.removeprefix(prefix), p.kind, p.nodes, p.next_nodes)
                    for p in copies] == [(p.thread_id, p.kind, p.nodes, p.next_nodes)
                                         for p in originals]
        assert marks == (0,)  # every mark was consumed by its checkpoint
    finally:
        await store.close()


async def test_no_setup_read_in_thread_id_ranges_is_the_whole_queue(
    pg_url: str, demo_registry: GraphRegistry
) -> None:
    """Without setup the queue is read in thread-id ranges cut at the planner's
    statistics; the ranges together are exactly the one-range read."""
    store = await open_store(parse_db_url(pg_url), demo_registry, grace_seconds=0, create=True)
    assert isinstance(store, PostgresStore)
    try:
        seeded = await seed_demo(store.saver, 80)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            # A short statistics target leaves most ids to the histogram the cuts come
            # from (with 80 threads Postgres may list every id as a common value instead).
            conn.execute("ALTER TABLE checkpoints ALTER COLUMN thread_id SET STATISTICS 10")
            conn.execute("ANALYZE checkpoints")
        in_ranges = await store.pending()
        assert store._cuts is not None and store._cuts[1], "no cut points: one range was read"
        rows_in_ranges = sorted(row[0] for row in await store._no_setup_rows())
        store._cuts = (time.monotonic(), [])  # one range
        whole = await store.pending()
        assert in_ranges == whole
        # every candidate head once: none lost or doubled at a cut
        assert rows_in_ranges == sorted(row[0] for row in await store._no_setup_rows())
        assert {p.thread_id for p in whole} == {
            s.thread_id for s in seeded if s.expected == "pending"}
    finally:
        await store.close()


async def test_the_whole_queue_read_in_chunks_is_every_open_row_once(
    pg_url: str, demo_registry, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    """The whole-queue read fetches the status rows in chunks through a server-side
    cursor: with chunks of 4 rows, what it returns is still every pause once, oldest
    first, as the no-setup read and the keyset pages say."""
    from console.core.store import postgres

    store = await open_store(parse_db_url(pg_url), demo_registry, grace_seconds=0, create=True)
    assert isinstance(store, PostgresStore)
    try:
        await seed_demo(store.saver, 18)
        await store.setup()
        monkeypatch.setattr(postgres, "QUEUE_CHUNK", 4)
        kept, direct = await _both(store)
        assert len(kept) > 4 * 3
        assert _view(kept) == _view(direct)
        pages: list = []  # type: ignore[type-arg]
        while page := await store.pending(
                limit=5, after=pages[-1].sort_key() if pages else None):
            pages += page
        assert _keys(pages) == _keys(kept)
    finally:
        await store.close()
