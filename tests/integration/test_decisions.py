"""Decisions through the core's one path: the graph receives exactly the convention's shape,
gated actions run once on approve and never on reject, edits go through reducers."""

from __future__ import annotations

import random
from typing import Any

import pytest

from console.core.errors import ConflictError, ConsoleError, NotPendingError
from console.core.ledger.apply import Decider, current_origin, pause_key
from console.core.ledger.decisions import DecisionInput, DecisionRefused
from console.core.ledger.rows import DecisionType
from console.core.store import CheckpointStore
from tests import graphs

APPROVE = DecisionInput(DecisionType.APPROVE)


@pytest.fixture
def decider(store: CheckpointStore) -> Decider:
    return Decider(store, current_origin("alice", ssh_origin="10.0.0.1 5000 10.0.0.2 22"))


async def start(store: CheckpointStore, name: str, thread_id: str, **values: Any) -> Any:
    graph = graphs.ALL[name].copy(update={"checkpointer": store.saver})
    config = {"configurable": {"thread_id": thread_id}, "metadata": {"graph_id": name}}
    await graph.ainvoke({"topic": thread_id, "history": ["h1"], **values}, config)
    return graph, config


async def final(store: CheckpointStore, name: str, thread_id: str) -> Any:
    graph = graphs.ALL[name].copy(update={"checkpointer": store.saver})
    return await graph.aget_state({"configurable": {"thread_id": thread_id}})


@pytest.mark.parametrize(
    ("name", "choice", "received", "acted"),
    [
        ("raw", APPROVE, "approved", True),
        ("raw", DecisionInput(DecisionType.REJECT, reason="too risky"),
         "rejected: too risky", False),
        ("raw", DecisionInput(DecisionType.RESPOND, reason="use the other account"),
         "use the other account", True),
        ("hitl", APPROVE, {"decisions": [{"type": "approve"}, {"type": "approve"}]}, True),
        ("hitl", DecisionInput(DecisionType.EDIT, action_edits={0: {"to": "b@example.com"}}),
         {"decisions": [{"type": "edit", "edited_action": {"name": "send_email",
                                                            "args": {"to": "b@example.com"}}},
                        {"type": "approve"}]}, True),
        ("hitl", DecisionInput(DecisionType.REJECT, reason="no"),
         {"decisions": [{"type": "reject", "message": "no"}] * 2}, False),
        ("inbox", APPROVE, [{"type": "accept", "args": None}], True),
        ("inbox", DecisionInput(DecisionType.RESPOND, reason="call me"),
         [{"type": "response", "args": "call me"}], False),
        ("inbox", DecisionInput(DecisionType.REJECT, reason="no"),
         [{"type": "ignore", "args": None}], False),
        ("inbox", DecisionInput(DecisionType.EDIT, action_edits={0: {"amount": 5}}),
         [{"type": "edit", "args": {"action": "wire", "args": {"amount": 5}}}], True),
        ("schema", DecisionInput(DecisionType.RESUME, resume={"amount": 5}, has_resume=True),
         {"amount": 5}, True),
    ],
)
async def test_resume_value_shape(
    store: CheckpointStore, decider: Decider, name: str, choice: DecisionInput,
    received: Any, acted: bool,
) -> None:
    await start(store, name, "t1")
    outcome = await decider.decide("t1", choice)
    assert outcome.status == "applied"
    state = await final(store, name, "t1")
    assert state.values["received"] == [received]
    assert state.values.get("effects", []) == (["acted"] if acted else [])
    assert state.next == ()
    rows = await decider.ledger.rows(thread_id="t1")
    assert [(r.status, r.reviewer) for r in rows] == [("applied", "alice")]
    assert rows[0].new_checkpoint_id == state.config["configurable"]["checkpoint_id"]
    assert rows[0].ssh_origin == "10.0.0.1 5000 10.0.0.2 22"


@pytest.mark.parametrize(
    ("name", "choice", "message"),
    [
        ("hitl", DecisionInput(DecisionType.EDIT, action_edits={1: {"table": "x"}}),
         "does not allow 'edit'"),
        ("hitl", DecisionInput(DecisionType.RESPOND, reason="hm"), "does not allow 'respond'"),
        ("hitl", DecisionInput(DecisionType.REJECT), "needs a reason"),
        ("hitl", DecisionInput(DecisionType.EDIT, action_edits={5: {}}), "does not exist"),
        ("schema", APPROVE, "response schema"),
        ("schema", DecisionInput(DecisionType.RESUME, resume={"amount": 500}, has_resume=True),
         "greater than the maximum"),
        ("raw", DecisionInput(DecisionType.APPROVE, state_update={"nope": 1}),
         "not a channel"),
        ("raw", DecisionInput(DecisionType.APPROVE, state_update={"history": ["x"]}),
         "replaces the whole list"),
    ],
)
async def test_refused_decisions_write_nothing(
    store: CheckpointStore, decider: Decider, name: str, choice: DecisionInput, message: str
) -> None:
    await start(store, name, "t1")
    head = await store.head_checkpoint_id("t1")
    with pytest.raises(DecisionRefused, match=message):
        await decider.decide("t1", choice)
    assert await store.head_checkpoint_id("t1") == head
    assert await decider.ledger.rows(thread_id="t1") == []


async def test_edits_go_through_reducers(store: CheckpointStore, decider: Decider) -> None:
    await start(store, "raw", "t1", notes=["n1"])
    _, plan = await decider.plan("t1", DecisionInput(
        DecisionType.EDIT, state_update={"notes": ["n2"], "history": ["new"]}, force=True))
    effects = {e.key: e for e in plan.effects}
    assert effects["notes"].after == ["n1", "n2"] and effects["notes"].reducer == "add"
    assert effects["history"].after == ["new"] and effects["history"].replaces_collection
    assert plan.warnings and "history" in plan.warnings[0]
    await decider.decide("t1", DecisionInput(
        DecisionType.EDIT, state_update={"notes": ["n2"], "history": ["new"]}, force=True))
    state = await final(store, "raw", "t1")
    assert state.values["notes"] == ["n1", "n2"]
    assert state.values["history"] == ["new"]
    assert state.values["effects"] == ["acted"]


async def test_parallel_interrupts_answered_together(
    store: CheckpointStore, decider: Decider
) -> None:
    await start(store, "parallel", "t1")
    pause = await store.pending_thread("t1")
    assert pause is not None and len(pause.interrupts) == 2
    await decider.decide("t1", APPROVE)
    state = await final(store, "parallel", "t1")
    assert sorted(state.values["received"]) == ["approved", "approved"]
    assert state.values["effects"] == ["acted"]


@pytest.mark.parametrize("name", ["before", "after"])
async def test_breakpoint_approve_runs_gated_node_once(
    store: CheckpointStore, decider: Decider, name: str
) -> None:
    await start(store, name, "t1")
    pause = await store.pending_thread("t1")
    assert pause is not None and pause.kind.value == name
    await decider.decide("t1", DecisionInput(DecisionType.EDIT, state_update={"notes": ["ok"]}))
    state = await final(store, name, "t1")
    assert state.values["effects"] == ["acted"]
    assert state.values["notes"] == ["prepared", "ok"]
    assert state.next == ()


@pytest.mark.parametrize("name", ["before", "after"])
async def test_breakpoint_reject_never_runs_gated_node(
    store: CheckpointStore, decider: Decider, name: str
) -> None:
    await start(store, name, "t1")
    outcome = await decider.decide("t1", DecisionInput(DecisionType.REJECT, reason="no"))
    state = await final(store, name, "t1")
    assert state.values.get("effects", []) == []
    assert state.next == ()
    assert await store.pending_thread("t1") is None
    assert outcome.row.reason == "no"


async def test_second_decision_is_a_conflict(store: CheckpointStore, decider: Decider) -> None:
    await start(store, "raw", "t1")
    pause = await store.pending_thread("t1")
    assert pause is not None
    await decider.decide("t1", APPROVE)
    other = Decider(store, current_origin("bob"))
    with pytest.raises(ConflictError, match="alice applied an approve"):
        await other.decide("t1", APPROVE)
    with pytest.raises(ConflictError, match="alice"):
        await other.decide("t1", APPROVE, expect=pause.checkpoint_id)
    state = await final(store, "raw", "t1")
    assert state.values["effects"] == ["acted"]


async def test_stale_expect_is_refused(store: CheckpointStore, decider: Decider) -> None:
    await start(store, "raw", "t1")
    with pytest.raises(ConflictError, match="moved on"):
        await decider.decide("t1", APPROVE, expect="1f000000-0000-6000-8000-000000000000")
    assert await decider.ledger.rows(thread_id="t1") == []


async def test_idempotency_key_returns_first_outcome(
    store: CheckpointStore, decider: Decider
) -> None:
    await start(store, "raw", "t1")
    first = await decider.decide("t1", APPROVE, idempotency_key="k-1")
    again = await decider.decide("t1", DecisionInput(DecisionType.REJECT, reason="x"),
                                 idempotency_key="k-1")
    assert again.status == "replayed" and again.row.id == first.row.id
    assert again.new_checkpoint_id == first.new_checkpoint_id
    state = await final(store, "raw", "t1")
    assert state.values["effects"] == ["acted"]
    assert len(await decider.ledger.rows(thread_id="t1")) == 1


async def test_unknown_thread_is_not_pending(decider: Decider) -> None:
    with pytest.raises(NotPendingError, match="not found"):
        await decider.decide("missing", APPROVE)


async def test_a_graph_that_asks_again_is_a_new_pause(
    store: CheckpointStore, decider: Decider
) -> None:
    await start(store, "reask", "t1")
    first = await store.pending_thread("t1")
    assert first is not None
    outcome = await decider.decide("t1", DecisionInput(DecisionType.RESUME, resume="maybe",
                                                       has_resume=True))
    assert "asked again" in outcome.message
    second = await store.pending_thread("t1")
    assert second is not None and second.checkpoint_id == first.checkpoint_id
    assert second.interrupt_ids != first.interrupt_ids
    assert "bad answer" in second.summary or "error" in str(second.interrupts[0].value)
    # An answer to the question the reviewer read first is not applied to the new one.
    with pytest.raises(ConflictError, match="changed since you read it"):
        await decider.decide("t1", APPROVE, expect=first.checkpoint_id,
                             expect_pause=pause_key(first))
    await decider.decide("t1", APPROVE, expect=second.checkpoint_id,
                         expect_pause=pause_key(second))
    state = await final(store, "reask", "t1")
    assert state.values["received"] == ["approved"]
    assert state.values["effects"] == ["acted"]
    assert [r.status for r in await decider.ledger.rows(thread_id="t1")] == ["applied"] * 2


async def test_a_failed_resume_does_not_replay_its_answer(
    store: CheckpointStore, decider: Decider
) -> None:
    """LangGraph keeps the answer a failing node received; deciding again must send the
    new answer, not the failed one (a reject after a failed approve must not approve)."""
    await start(store, "refuses", "t1")
    with pytest.raises(ConsoleError, match="mail server refused"):
        await decider.decide("t1", APPROVE)
    assert [r.status for r in await decider.ledger.rows(thread_id="t1")] == ["failed"]
    assert await store.pending_thread("t1") is not None  # still waiting: decide again
    outcome = await decider.decide("t1", DecisionInput(DecisionType.REJECT, reason="no"))
    assert outcome.status == "applied"
    state = await final(store, "refuses", "t1")
    assert [str(a) for a in state.values["received"]] == ["rejected: no"]


async def test_a_pause_with_many_questions_can_be_claimed_and_approved_by_two(
    store: CheckpointStore,
) -> None:
    """A map-reduce of ~150 questions has a pause_key of ~5 kB: more than a Postgres
    B-tree entry holds (2.7 kB). The one-claim index and the four-eyes approvals key its
    digest, so the claim and each approval are written once, and a second claim loses."""
    from console.core.ledger.db import install_ledger, ledger_db
    from console.core.ledger.rows import ClaimRequest, DecisionStatus, interrupts_key

    await start(store, "raw", "many")
    head = await store.head_checkpoint_id("many")
    assert head is not None
    rng = random.Random(7)  # interrupt ids are hashes: nothing for Postgres to compress
    key = interrupts_key(f"{rng.getrandbits(128):032x}" for _ in range(160))
    assert len(key) > 5000
    await install_ledger(store)
    ledger = ledger_db(store)

    def request(reviewer: str) -> ClaimRequest:
        return ClaimRequest("many", "", head, key, DecisionType.APPROVE,
                            current_origin(reviewer), None, None, None, None)

    assert await ledger.add_approval(request("alice")) == 1
    assert await ledger.add_approval(request("alice")) == 1  # once each
    assert await ledger.add_approval(request("bob")) == 2
    first = await ledger.claim(request("alice"))
    assert first.row is not None and first.row.status == DecisionStatus.IN_FLIGHT
    second = await ledger.claim(request("bob"))
    assert second.row is None or second.row.id == first.row.id
