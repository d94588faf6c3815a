"""The pending queue and review bundles match LangGraph's own view, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from console.core.dburl import parse_db_url
from console.core.graphs import GraphRegistry
from console.core.models import PendingFilter
from console.core.store import CheckpointStore, open_store
from console.demo.graphs import DEMO_GRAPHS, DEMO_INFO, demo_answer, demo_config
from console.demo.seed import seed_demo


def _compiled(store: CheckpointStore, name: str) -> Any:
    return DEMO_GRAPHS[name](store.saver)


async def test_pending_matches_aget_state(demo_store: CheckpointStore) -> None:
    seeded = await seed_demo(demo_store.saver, 18)
    listed = {p.thread_id: p for p in await demo_store.pending()}
    expected_pending = {s.thread_id for s in seeded if s.expected == "pending"}
    assert set(listed) == expected_pending
    for seed in seeded:
        graph = _compiled(demo_store, seed.graph)
        state = await graph.aget_state({"configurable": {"thread_id": seed.thread_id}})
        if seed.expected != "pending":
            assert seed.thread_id not in listed
            continue
        pause = listed[seed.thread_id]
        assert pause.checkpoint_id == state.config["configurable"]["checkpoint_id"]
        assert pause.graph == seed.graph
        assert pause.kind.value == seed.kind
        assert pause.convention.value == seed.convention
        assert sorted(pause.interrupt_ids) == sorted(i.id for i in state.interrupts)
        assert pause.next_nodes == tuple(sorted(state.next))
        if seed.kind == "interrupt":
            assert set(pause.nodes) <= set(state.next)
        elif seed.kind == "before":
            assert pause.nodes == DEMO_INFO[seed.graph].nodes
        else:  # paused after the node that ran; what comes next is the gated action
            assert pause.nodes == ("prepare_payment",)
            assert pause.next_nodes == DEMO_INFO[seed.graph].nodes
        bundle = await demo_store.bundle(seed.thread_id)
        assert bundle.checkpoint_id == pause.checkpoint_id
        assert bundle.next_nodes == tuple(sorted(state.next))
        by_id = {i.id: i for i in state.interrupts}
        for item in bundle.interrupts:
            assert item.value == by_id[item.id].value
            assert item.response_schema == (by_id[item.id].response_schema or None)
        for key, value in bundle.values.items():
            assert state.values[key] == value, key
        assert bundle.pending == pause


async def test_oldest_first_and_keyset_pages(demo_store: CheckpointStore) -> None:
    await seed_demo(demo_store.saver, 12)
    everything = await demo_store.pending()
    assert [p.sort_key() for p in everything] == sorted(p.sort_key() for p in everything)
    pages, cursor = [], None
    while True:
        page = await demo_store.pending(after=cursor, limit=5)
        if not page:
            break
        pages.extend(page)
        cursor = page[-1].sort_key()
    assert [p.thread_id for p in pages] == [p.thread_id for p in everything]


async def test_filters(demo_store: CheckpointStore) -> None:
    await seed_demo(demo_store.saver, 18)
    everything = await demo_store.pending()
    emails = await demo_store.pending(PendingFilter(graph="email"))
    assert emails and all(p.graph == "email" for p in emails)
    assert {p.thread_id for p in emails} == {p.thread_id for p in everything if p.graph == "email"}
    at_send = await demo_store.pending(PendingFilter(node="send_email"))
    assert at_send and all("send_email" in p.nodes for p in at_send)
    old = await demo_store.pending(PendingFilter(older_than_seconds=3600))
    now = datetime.now(UTC)
    assert all(now - p.paused_at >= timedelta(hours=1) for p in old)
    assert len(old) < len(everything)
    found = await demo_store.pending(PendingFilter(search="SEND_EMAIL"))
    assert found and all("send_email" in (p.summary + " ".join(p.nodes)).lower() for p in found)


async def test_thread_that_moved_on_is_not_listed(demo_store: CheckpointStore) -> None:
    seeded = await seed_demo(demo_store.saver, 9)
    target = next(s for s in seeded if s.graph == "tutorial" and s.expected == "pending")
    before = await demo_store.pending()
    assert target.thread_id in {p.thread_id for p in before}
    # Another process (here: the application itself) answers the pause.
    graph = _compiled(demo_store, "tutorial")
    config = demo_config("tutorial", target.thread_id)
    state = await graph.aget_state(config)
    await graph.ainvoke(demo_answer("tutorial", state.interrupts), config)
    after = await demo_store.pending()
    assert target.thread_id not in {p.thread_id for p in after}
    assert len(after) == len(before) - 1
    assert (await demo_store.pending_thread(target.thread_id)) is None


async def test_breakpoints_without_graph_wait_for_grace(db_url: str) -> None:
    store = await open_store(parse_db_url(db_url), GraphRegistry(), grace_seconds=0, create=True)
    try:
        seeded = await seed_demo(store.saver, 18)
        listed = {p.thread_id: p for p in await store.pending()}
        breakpoint_threads = [s for s in seeded if s.expected == "pending"
                              and s.kind in ("before", "after")]
        assert breakpoint_threads
        for seed in breakpoint_threads:
            pause = listed[seed.thread_id]
            assert pause.kind.value == "stalled"
            assert pause.convention.value == "breakpoint"
            assert "breakpoint or stalled" in pause.summary
        # With a long grace period, fresh heads are taken for runs still going.
        store.grace_seconds = 10 * 86400
        still = {p.thread_id for p in await store.pending()}
        assert not still & {s.thread_id for s in breakpoint_threads}
        inline = {s.thread_id for s in seeded if s.expected == "pending" and s.kind == "interrupt"}
        assert inline <= still
    finally:
        await store.close()


async def test_js_spelling_and_parallel_interrupts(demo_store: CheckpointStore) -> None:
    await seed_demo(demo_store.saver, 18)
    listed = await demo_store.pending()
    js = [p for p in listed if p.graph == "hitl_agent_js"]
    assert js and all(p.convention.value == "langchain-hitl" for p in js)
    assert all("actionRequests" in p.interrupts[0].value for p in js)
    parallel = [p for p in listed if p.graph == "parallel" and "partial" not in p.thread_id]
    assert parallel and all(len(p.interrupts) == 2 for p in parallel)
    assert all(p.nodes == ("approve_finance", "approve_security") for p in parallel)
    partial = [p for p in listed if p.thread_id == "parallel-partial-0001"]
    assert partial and all(len(p.interrupts) == 1 for p in partial)
    sub = [p for p in listed if p.graph == "subgraph"]
    assert sub and all(p.nodes == ("compliance",) for p in sub)
