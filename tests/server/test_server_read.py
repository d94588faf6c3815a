"""Reading a real `langgraph dev` server: every pause form and payload convention listed
with the answer LangGraph's own `get_state` gives (kind, nodes, interrupt ids, values),
from the cheap listing, after completing rows, and in the review bundle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from console.core.dburl import parse_db_url
from console.core.graphs import GraphInfo, GraphRegistry
from console.core.models import Convention, PauseKind, PendingFilter, PendingThread
from console.core.server.store import ServerStore
from console.core.store import open_store
from tests.server.conftest import ServerFixture, answer, pending_ids, run_until_paused
from tests.server.graphs import graph as test_graphs

CONVENTIONS = {
    "raw": Convention.RAW, "inbox": Convention.AGENT_INBOX, "hitl": Convention.LANGCHAIN_HITL,
    "tool_approval": Convention.TOOL_APPROVAL, "schema": Convention.SCHEMA,
    "twice": Convention.RAW, "before": Convention.BREAKPOINT, "after": Convention.BREAKPOINT,
    "map_reduce": Convention.RAW, "functional": Convention.RAW, "subgraph": Convention.RAW,
}
# asked inside a nested namespace: only get_state names the root node
NESTED = {"functional", "subgraph"}
BREAKPOINTS = {"before", "after"}


def loaded_registry() -> GraphRegistry:
    return GraphRegistry(GraphInfo.of(name, getattr(test_graphs, name))
                         for name in test_graphs.GRAPHS)


@pytest.fixture
async def server_store(langgraph_server: ServerFixture) -> AsyncIterator[ServerStore]:
    store = await open_store(parse_db_url(langgraph_server.url), GraphRegistry())
    assert isinstance(store, ServerStore)
    try:
        yield store
    finally:
        await store.close()


async def oracle(client: Any, thread_id: str) -> dict[str, Any]:
    """What LangGraph's get_state says is pending, in the console's terms."""
    state = await client.threads.get_state(thread_id)
    tasks = sorted(state["tasks"], key=lambda t: t["id"])
    asking = [t for t in tasks if t["interrupts"]]
    return {
        "kind": PauseKind.INTERRUPT if asking else PauseKind.BEFORE,
        "nodes": tuple(sorted({t["name"] for t in asking})) if asking
        else tuple(dict.fromkeys(state["next"])),
        "ids": [i["id"] for t in asking for i in t["interrupts"]],
        "values": [i["value"] for t in asking for i in t["interrupts"]],
        "checkpoint_id": state["checkpoint"]["checkpoint_id"],
        "state": state["values"],
    }


def _same(row: PendingThread, expected: dict[str, Any], graph: str, *,
          exact: bool) -> None:
    assert row.kind is expected["kind"], graph
    assert row.nodes == expected["nodes"], graph
    assert [i.id for i in row.interrupts] == expected["ids"], graph
    assert [i.value for i in row.interrupts] == expected["values"], graph
    assert row.convention is CONVENTIONS[graph], graph
    assert row.graph == graph
    if exact:
        assert row.checkpoint_id == expected["checkpoint_id"], graph


async def test_every_form_listed_as_get_state_says(
        server_store: ServerStore, paused: dict[str, str], server_client: Any) -> None:
    listed = {t.thread_id: t for t in await server_store.pending()}
    expected = {g: await oracle(server_client, t) for g, t in paused.items()}
    for graph, thread_id in paused.items():
        row = listed[thread_id]
        if graph in NESTED | BREAKPOINTS:
            # the listing cannot name these without get_state: provisional, said so
            assert row.nodes == () and row.checkpoint_id == "", graph
            assert thread_id in server_store.provisional
        else:  # named from the interrupt ids alone
            _same(row, expected[graph], graph, exact=False)
    # `complete` (what `pending` prints) reads the rest: every row exact
    done = {t.thread_id: t for t in await server_store.complete(
        [listed[t] for t in paused.values()])}
    for graph, thread_id in paused.items():
        _same(done[thread_id], expected[graph], graph, exact=True)
        assert thread_id not in server_store.provisional
    # and a later listing reuses what was read (same updated_at): exact at once
    again = {t.thread_id: t for t in await server_store.pending()}
    for graph, thread_id in paused.items():
        assert again[thread_id] == done[thread_id], graph


async def test_breakpoints_before_and_after_with_the_graph_loaded(
        langgraph_server: ServerFixture, paused: dict[str, str]) -> None:
    store = await open_store(parse_db_url(langgraph_server.url), loaded_registry())
    try:
        before = await store.pending_thread(paused["before"])
        after = await store.pending_thread(paused["after"])
    finally:
        await store.close()
    assert before is not None and after is not None
    assert (before.kind, before.nodes, before.next_nodes) == (PauseKind.BEFORE, ("act",),
                                                              ("act",))
    assert (after.kind, after.nodes, after.next_nodes) == (PauseKind.AFTER, ("prepare",),
                                                           ("act",))
    assert after.summary == "paused after prepare; next: act"


async def test_a_second_question_replaces_the_first(
        server_store: ServerStore, server_client: Any) -> None:
    thread_id = await run_until_paused(server_client, "twice")
    [first] = await pending_ids(server_client, thread_id)
    row = await server_store.pending_thread(thread_id)
    assert row is not None and row.interrupt_ids == (first,)
    await answer(server_client, thread_id, "twice", {first: "approved"})
    [second] = await pending_ids(server_client, thread_id)
    assert second != first
    listed = {t.thread_id: t for t in await server_store.pending()}[thread_id]
    assert listed.interrupt_ids == (second,) and listed.nodes == ("gate",)
    assert listed.interrupts[0].value == {"question": "confirm: really send the wire?",
                                          "step": 2}
    exact = await server_store.pending_thread(thread_id)
    assert exact is not None and exact.interrupt_ids == (second,)
    assert exact.checkpoint_id == row.checkpoint_id  # same checkpoint, a new question


async def test_answered_threads_leave_the_queue(
        server_store: ServerStore, server_client: Any) -> None:
    thread_id = await run_until_paused(server_client, "raw")
    assert thread_id in {t.thread_id for t in await server_store.pending()}
    [interrupt_id] = await pending_ids(server_client, thread_id)
    await answer(server_client, thread_id, "raw", {interrupt_id: "approved"})
    assert thread_id not in {t.thread_id for t in await server_store.pending()}
    assert await server_store.pending_thread(thread_id) is None


async def test_filters_and_pages(server_store: ServerStore, server_client: Any,
                                 paused: dict[str, str]) -> None:
    only_inbox = await server_store.pending(PendingFilter(graph="inbox"))
    assert paused["inbox"] in {t.thread_id for t in only_inbox}
    assert {t.graph for t in only_inbox} == {"inbox"}
    # a node filter names provisional rows first: the breakpoint before `act` is found
    at_act = {t.thread_id for t in await server_store.pending(PendingFilter(node="act"))}
    assert {paused["before"], paused["after"]} <= at_act
    assert paused["raw"] not in at_act
    found = await server_store.pending(PendingFilter(search="wire money"))
    assert paused["inbox"] in {t.thread_id for t in found}
    # pages: the first N, then the rest after the last one's key, oldest first
    everything = await server_store.pending()
    first = await server_store.pending(limit=3)
    rest = await server_store.pending(after=first[-1].sort_key())
    assert [t.thread_id for t in first + rest] == [t.thread_id for t in everything]
    assert everything == sorted(everything, key=PendingThread.sort_key)


async def test_bundle_is_get_state(server_store: ServerStore, server_client: Any,
                                   paused: dict[str, str]) -> None:
    for graph in ("hitl", "before", "subgraph", "map_reduce"):
        thread_id = paused[graph]
        expected = await oracle(server_client, thread_id)
        bundle = await server_store.bundle(thread_id)
        assert bundle.checkpoint_id == expected["checkpoint_id"]
        assert bundle.values == expected["state"]
        assert bundle.pending is not None
        _same(bundle.pending, expected, graph, exact=True)
        assert [i.id for i in bundle.interrupts] == expected["ids"]
        assert bundle.history and bundle.history[0].checkpoint_id == bundle.checkpoint_id
        assert bundle.previous_values is not None  # the parent, from the history read
    before = await server_store.bundle(paused["before"])
    assert before.next_nodes == ("act",)
    assert before.values["notes"] == ["prepared"]
    assert before.previous_values is not None and before.previous_values["notes"] == []
    assert before.first_values is not None  # the run's start is in the history read


async def test_what_a_server_cannot_do_is_said(server_store: ServerStore) -> None:
    from console.core.errors import ConsoleError, NotPendingError

    with pytest.raises(ConsoleError, match=r"is an Agent Server.*only reachable through its API"):
        await server_store.setup()
    with pytest.raises(ConsoleError, match="Agent Server"):
        server_store.saver  # noqa: B018
    with pytest.raises(NotPendingError, match="was not found"):
        await server_store.bundle("00000000-0000-0000-0000-000000000000")
    assert await server_store.head_checkpoint_id("00000000-0000-0000-0000-000000000000") \
        is None
