"""The server fixture itself: every graph pauses where it should, and side effects land
in the effects file (so tests counting them can fail)."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import ServerFixture, answer, pending_ids


async def test_every_graph_pauses(paused: dict[str, str], server_client: Any) -> None:
    for graph, thread_id in paused.items():
        state = await server_client.threads.get_state(thread_id)
        assert state["next"], f"{graph} is not paused: {state['next']}"
        ids = await pending_ids(server_client, thread_id)
        if graph in ("before", "after"):
            assert ids == [], graph
        elif graph == "map_reduce":
            assert len(ids) == 2
        else:
            assert len(ids) == 1, graph


async def test_effects_are_counted(paused: dict[str, str], server_client: Any,
                                   langgraph_server: ServerFixture) -> None:
    thread_id = paused["raw"]
    assert langgraph_server.effects_of(thread_id) == []
    [interrupt_id] = await pending_ids(server_client, thread_id)
    thread = await answer(server_client, thread_id, "raw", {interrupt_id: "approved"})
    assert thread["status"] == "idle"
    assert [e["node"] for e in langgraph_server.effects_of(thread_id)] == ["act"]
    received = langgraph_server.effects_of(thread_id, "received")
    assert [e["value"] for e in received] == ["approved"]
    # a breakpoint continued with no input runs the gated node once
    before = paused["before"]
    await answer(server_client, before, "before", None)
    assert [e["node"] for e in langgraph_server.effects_of(before)] == ["act"]
