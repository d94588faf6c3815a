"""Per-call tool approvals (LangChain 1.5) and decisions per item, on both savers.

Two graphs pause in the same shape (`tests.tool_approval_graphs`): parallel PULL branches
raising `tool_approval` interrupts, and a real `create_agent` with
`HumanInTheLoopMiddleware(interrupt_mode="per_call")`, whose tool calls run as `Send`s.
The console decides item by item (approve the email, reject the deletion; edit with
arguments checked against the tool's schema); the graph accepts exactly that resume,
the approved tool runs once and the rejected one never; a bad edit is refused in one
sentence with nothing written.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from console.cli import main
from console.core.dburl import parse_db_url
from console.core.graphs import GraphInfo, GraphRegistry
from console.core.ledger.apply import Decider, current_origin
from console.core.ledger.decisions import DecisionInput, DecisionRefused
from console.core.ledger.rows import DecisionType
from console.core.models import Convention
from console.core.store import CheckpointStore, open_store
from tests import tool_approval_graphs as graphs
from tests.tool_approval_graphs import DELETE_ARGS, EMAIL_ARGS, TOOL_RUNS

APPROVE = DecisionInput(DecisionType.APPROVE)
GRAPH_NAMES = ["branches", "agent"]


def _tid(prefix: str) -> str:
    """A thread id of its own: `TOOL_RUNS` counts per thread for the whole process."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _registry() -> GraphRegistry:
    return GraphRegistry(GraphInfo.of(n, g) for n, g in graphs.ALL.items())


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[CheckpointStore]:
    opened = await open_store(parse_db_url(db_url), _registry(), grace_seconds=0,
                              create=True)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def decider(store: CheckpointStore) -> Decider:
    return Decider(store, current_origin("alice"))


async def _paused(store: CheckpointStore, name: str, thread_id: str) -> Any:
    bound = await graphs.start(graphs.ALL[name], store.saver, name, thread_id)
    state = await bound.aget_state({"configurable": {"thread_id": thread_id}})
    assert len(state.interrupts) == 2, "the graph itself must report two pauses"
    return bound


async def _values(bound: Any, thread_id: str) -> dict[str, Any]:
    state = await bound.aget_state({"configurable": {"thread_id": thread_id}})
    assert not state.next, f"the run should have finished, next={state.next}"
    return dict(state.values)


def _tool_results(values: dict[str, Any]) -> dict[str, str]:
    """tool_call_id -> the ToolMessage the agent got (its result, or the rejection)."""
    return {m.tool_call_id: str(m.content) for m in values["messages"]
            if getattr(m, "type", "") == "tool"}


@pytest.mark.parametrize("name", GRAPH_NAMES)
async def test_listed_with_one_item_per_tool_call(store: CheckpointStore, name: str) -> None:
    thread = _tid(name)
    await _paused(store, name, thread)
    pause = await store.pending_thread(thread)
    assert pause is not None
    assert pause.convention is Convention.TOOL_APPROVAL
    assert sorted(i.value["name"] for i in pause.interrupts) == ["delete_file", "send_email"]
    assert all(i.convention is Convention.TOOL_APPROVAL for i in pause.interrupts)
    assert "send_email(" in pause.summary or "delete_file(" in pause.summary
    listed = {t.thread_id: t for t in await store.pending()}
    assert listed[thread].convention is Convention.TOOL_APPROVAL


def _item_of(pause: Any, tool: str) -> str:
    """The 1-based item number of the interrupt asking about `tool`."""
    for number, item in enumerate(pause.interrupts, 1):
        if item.value["name"] == tool:
            return str(number)
    raise AssertionError(f"no item for {tool}")


@pytest.mark.parametrize("name", GRAPH_NAMES)
async def test_approve_one_reject_the_other(
    store: CheckpointStore, decider: Decider, name: str
) -> None:
    thread = _tid(name)
    bound = await _paused(store, name, thread)
    pause = await store.pending_thread(thread)
    assert pause is not None
    delete = _item_of(pause, "delete_file")
    choice = DecisionInput(DecisionType.APPROVE, items={
        delete: DecisionInput(DecisionType.REJECT, reason="keep the report")})
    outcome = await decider.decide(thread, choice)
    assert outcome.status == "applied"
    by_tool = {i.value["name"]: i.id for i in pause.interrupts}
    assert outcome.plan is not None and outcome.plan.resume == {
        by_tool["send_email"]: {"type": "approve"},
        by_tool["delete_file"]: {"type": "reject", "message": "keep the report"},
    }
    assert TOOL_RUNS[(thread, "send_email")] == 1
    assert TOOL_RUNS[(thread, "delete_file")] == 0
    values = await _values(bound, thread)
    if name == "agent":
        results = _tool_results(values)
        assert results["call-email"].startswith("sent to alice@example.com")
        assert "rejected" in results["call-delete"] and "keep the report" in results[
            "call-delete"]
    else:
        assert sorted(a["type"] for a in values["received"]) == ["approve", "reject"]
    assert await store.pending_thread(thread) is None
    row = outcome.row
    assert row is not None
    assert row.edits["items"] == {by_tool["send_email"]: "approve",
                                  by_tool["delete_file"]: "reject"}
    assert row.reason == f"item {delete}: keep the report"


@pytest.mark.parametrize("name", GRAPH_NAMES)
async def test_edit_checked_against_the_tool_schema_then_run(
    store: CheckpointStore, decider: Decider, name: str
) -> None:
    thread = _tid(name)
    bound = await _paused(store, name, thread)
    pause = await store.pending_thread(thread)
    assert pause is not None
    email, delete = _item_of(pause, "send_email"), _item_of(pause, "delete_file")
    edited = {"to": "bob@example.com", "subject": "report (edited)"}
    choice = DecisionInput(DecisionType.APPROVE, items={
        email: DecisionInput(DecisionType.EDIT, action_edits={0: edited}),
        delete: DecisionInput(DecisionType.REJECT, reason="no")})
    outcome = await decider.decide(thread, choice)
    assert outcome.plan is not None
    email_id = pause.interrupts[int(email) - 1].id
    assert outcome.plan.resume is not None
    assert outcome.plan.resume[email_id] == {
        "type": "edit", "edited_action": {"name": "send_email", "args": edited}}
    assert TOOL_RUNS[(thread, "send_email")] == 1
    assert TOOL_RUNS[(thread, "delete_file")] == 0
    values = await _values(bound, thread)
    if name == "agent":
        assert "bob@example.com" in _tool_results(values)["call-email"]
    else:
        assert values["ran"] == [f"send_email:{sorted(edited.items())}"]


@pytest.mark.parametrize("name", GRAPH_NAMES)
@pytest.mark.parametrize(("tool", "edit", "expected"), [
    ("send_email", {"to": 5, "subject": "x"},
     "edited arguments of send_email do not fit the tool's schema at to: 5 is not of type "
     "'string'."),
    ("send_email", {"to": "bob@example.com"},
     "edited arguments of send_email do not fit the tool's schema: 'subject' is a required "
     "property."),
    ("delete_file", {"path": "/tmp/x"},
     "tool call delete_file does not allow 'edit'; it allows approve, reject."),
], ids=["wrong-type", "missing-arg", "edit-not-allowed"])
async def test_a_bad_edit_is_refused_and_nothing_written(
    store: CheckpointStore, decider: Decider, name: str, tool: str, edit: dict[str, Any],
    expected: str,
) -> None:
    thread = _tid(name)
    await _paused(store, name, thread)
    pause = await store.pending_thread(thread)
    assert pause is not None
    number = _item_of(pause, tool)
    choice = DecisionInput(DecisionType.APPROVE, items={
        number: DecisionInput(DecisionType.EDIT, action_edits={0: edit})})
    with pytest.raises(DecisionRefused) as refused:
        await decider.decide(thread, choice)
    message = str(refused.value)
    assert message == f"Item {number} of 2 ({tool}): {expected}"
    assert message.count(". ") == 0 and "\n" not in message  # one sentence
    await decider.ensure_ledger()
    assert await decider.ledger.rows(thread_id=thread) == []
    again = await store.pending_thread(thread)
    assert again is not None and again.checkpoint_id == pause.checkpoint_id
    assert again.interrupt_ids == pause.interrupt_ids
    assert TOOL_RUNS[(thread, "send_email")] == TOOL_RUNS[(thread, "delete_file")] == 0


async def test_answering_some_items_leaves_the_others_pending(
    store: CheckpointStore, decider: Decider
) -> None:
    thread = _tid("branches")
    bound = await _paused(store, "branches", thread)
    pause = await store.pending_thread(thread)
    assert pause is not None
    email = _item_of(pause, "send_email")
    outcome = await decider.decide(thread, DecisionInput(DecisionType.APPROVE,
                                                         only_items=(email,)))
    assert "1 of 2 items" in outcome.message and "1 still waits" in outcome.message
    assert outcome.row is not None and outcome.row.edits["unanswered"] == [
        i.id for i in pause.interrupts if i.value["name"] == "delete_file"]
    assert TOOL_RUNS[(thread, "send_email")] == 1
    rest = await store.pending_thread(thread)
    assert rest is not None
    assert [i.value["name"] for i in rest.interrupts] == ["delete_file"]
    # The item left open is answered by a later decision; the first never runs again.
    await decider.decide(thread, DecisionInput(DecisionType.REJECT, reason="no"))
    assert TOOL_RUNS[(thread, "send_email")] == 1
    assert TOOL_RUNS[(thread, "delete_file")] == 0
    values = await _values(bound, thread)
    assert sorted(a["type"] for a in values["received"]) == ["approve", "reject"]


async def test_item_references_are_checked(store: CheckpointStore, decider: Decider) -> None:
    thread = _tid("branches")
    await _paused(store, "branches", thread)
    pause = await store.pending_thread(thread)
    assert pause is not None
    first = pause.interrupts[0]
    for items, expected in [
        ({"3": APPROVE}, "Item 3 does not exist: this pause has 2 pending interrupt(s), "
                         "numbered from 1."),
        ({"nope-nope": APPROVE}, "No pending interrupt of this pause has the id "
                                 "'nope-nope'"),
        ({"1": APPROVE, first.id[:8]: APPROVE}, "Item 1 is given two decisions"),
    ]:
        with pytest.raises(DecisionRefused, match=expected.replace("(", r"\(").replace(
                ")", r"\)")):
            await decider.plan(thread, DecisionInput(DecisionType.APPROVE, items=items))
    # by id prefix and by number alike
    _, plan = await decider.plan(thread, DecisionInput(DecisionType.REJECT, reason="r", items={
        first.id[:8]: APPROVE}))
    assert plan.resume is not None and plan.resume[first.id] == {"type": "approve"}
    assert plan.mixed


def _cli(db_url: str, *args: str) -> list[str]:
    graph_specs = [f"--graph={n}=tests.tool_approval_graphs:{n}" for n in graphs.ALL]
    return [*args, "--db", db_url, "--reviewer", "carol", "--json", *graph_specs]


def test_cli_decides_per_item(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`approve T --reject-item N --reason R` and `--resume-for` from the command line."""
    thread = _tid("branches")

    async def seed() -> Any:
        store = await open_store(parse_db_url(db_url), _registry(), create=True)
        try:
            await _paused(store, "branches", thread)
            return await store.pending_thread(thread)
        finally:
            await store.close()

    pause = asyncio.run(seed())
    delete = _item_of(pause, "delete_file")
    email_id = next(i.id for i in pause.interrupts if i.value["name"] == "send_email")
    # A bad value for one item: refused (exit 2), one sentence, nothing written.
    code = main(_cli(db_url, "approve", thread, "--resume-for",
                     f'{email_id}={{"type": "edit", "edited_action": {{"name": "send_email",'
                     ' "args": {"to": 1}}}', "--reject-item", delete, "--reason", "keep it"))
    out, err = capsys.readouterr()
    assert code == 2, err
    assert err.count("\n") == 1 and "does not fit the pause's schema" in err
    assert TOOL_RUNS[(thread, "send_email")] == 0
    code = main(_cli(db_url, "approve", thread, "--resume-for", f'{email_id[:10]}='
                     '{"type": "approve"}', "--reject-item", f"{delete}=keep it"))
    out, err = capsys.readouterr()
    assert code == 0, err
    body = json.loads(out)
    assert body["status"] == "applied"
    decisions = {item["id"]: item["decision"] for item in body["items"]}
    assert decisions[email_id] == "resume"
    assert sorted(decisions.values()) == ["reject", "resume"]
    assert TOOL_RUNS[(thread, "send_email")] == 1
    assert TOOL_RUNS[(thread, "delete_file")] == 0


def test_cli_item_usage_errors(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    for args, expected in [
        (["approve", "t", "--reject-item", "2"], "--reject-item 2 needs a reason"),
        (["approve", "t", "--resume-for", "2"], "--resume-for '2' is not ITEM=VALUE"),
        (["approve", "t", "--edit-item", "1={oops"], "--edit-item 1 is not valid JSON"),
        (["approve", "t", "--approve-item", "1", "--reject-item", "1=x"],
         "Item 1 is given two decisions"),
        (["reject", "a", "b", "--reason", "x", "--item", "1"], "give exactly one thread"),
        (["approve", "t", "--edit-action", "0={}"], "actions are numbered from 1"),
    ]:
        code = main(_cli(db_url, *args))
        _, err = capsys.readouterr()
        assert code == 2, (args, err)
        assert expected in err, (args, err)
        assert err.count("\n") == 1


async def test_show_numbers_items_and_their_decisions(store: CheckpointStore) -> None:
    from console.core.redact import Redactor
    from console.core.views import bundle_view

    thread = _tid("branches")
    await _paused(store, "branches", thread)
    view = bundle_view(await store.bundle(thread), Redactor())
    assert [i["item"] for i in view["interrupts"]] == [1, 2]
    allowed = {i["value"]["name"]: i["allowed_decisions"] for i in view["interrupts"]}
    assert allowed == {"send_email": ["approve", "edit", "reject", "respond"],
                       "delete_file": ["approve", "reject"]}
    assert view["pending"]["convention"] == "tool-approval"
    assert {i["value"]["args"] == EMAIL_ARGS or i["value"]["args"] == DELETE_ARGS
            for i in view["interrupts"]} == {True}


async def test_the_middleware_accepts_the_planned_resume(store: CheckpointStore) -> None:
    """Independent of how the store lists the pause: the console's plan for the pauses
    `aget_state()` reports is exactly what the real middleware accepts."""
    from datetime import UTC, datetime

    from langgraph.types import Command

    from console.core.conventions import detect_convention
    from console.core.ledger.decisions import plan_decision
    from console.core.models import PauseKind, PendingInterrupt, PendingThread

    thread = _tid("agent-direct")
    bound = await _paused(store, "agent", thread)
    config: Any = {"configurable": {"thread_id": thread}}
    state = await bound.aget_state(config)
    items = tuple(PendingInterrupt(
        id=i.id, value=i.value, task_id="", task_path="", response_schema=i.response_schema,
        convention=detect_convention(i.value, i.response_schema)) for i in state.interrupts)
    pause = PendingThread(thread, "", "head", "agent", ("tools",), PauseKind.INTERRUPT,
                          Convention.TOOL_APPROVAL, items, datetime.now(UTC), "")
    email = _item_of(pause, "send_email")
    delete = _item_of(pause, "delete_file")
    edited = {"to": "bob@example.com", "subject": "edited"}
    plan = plan_decision(pause, {}, DecisionInput(DecisionType.APPROVE, items={
        email: DecisionInput(DecisionType.EDIT, action_edits={0: edited}),
        delete: DecisionInput(DecisionType.REJECT, reason="keep it")}), None)
    await bound.ainvoke(Command(resume=plan.resume), config)
    values = await _values(bound, thread)
    results = _tool_results(values)
    assert "bob@example.com" in results["call-email"]
    assert "keep it" in results["call-delete"]
    assert TOOL_RUNS[(thread, "send_email")] == 1
    assert TOOL_RUNS[(thread, "delete_file")] == 0


async def test_policy_covers_every_action_a_decision_takes(store: CheckpointStore) -> None:
    """approve 1, reject 2 needs the right to reject too: a reviewer who may only approve
    is refused (exit 5) with nothing decided, and may still approve both."""
    from console.core.errors import PolicyRefused
    from console.core.policy import Policy

    policy = Policy.from_config({"policy": {"rules": [
        {"graph": "branches", "approve": ["alice"], "reject": ["bob"]}]}})
    decider = Decider(store, current_origin("alice"), policy=policy)
    thread = _tid("branches")
    await _paused(store, "branches", thread)
    with pytest.raises(PolicyRefused, match="alice may not reject"):
        await decider.decide(thread, DecisionInput(DecisionType.APPROVE, items={
            "2": DecisionInput(DecisionType.REJECT, reason="no")}))
    assert await decider.ledger.rows(thread_id=thread) == []
    assert TOOL_RUNS[(thread, "send_email")] == TOOL_RUNS[(thread, "delete_file")] == 0
    outcome = await decider.decide(thread, APPROVE)
    assert outcome.status == "applied"
    assert TOOL_RUNS[(thread, "send_email")] == TOOL_RUNS[(thread, "delete_file")] == 1


async def test_send_branches_decided_item_by_item(demo_store: CheckpointStore) -> None:
    """Map-reduce approvals (one `Send` branch per line, raw payloads): reimburse line 1,
    reject the others, in one Command; only line 1's reimbursement runs."""
    from console.core.ledger.decisions import item_label
    from console.demo.graphs import DEMO_GRAPHS, DEMO_INFO, demo_config
    from console.demo.seed import seed_demo

    seeded = await seed_demo(demo_store.saver, 1, graphs=["map_reduce"])
    [seed] = [s for s in seeded if s.expected == "pending" and "-partial-" not in s.thread_id]
    pause = await demo_store.pending_thread(seed.thread_id)
    assert pause is not None and len(pause.interrupts) >= 2
    assert {item_label(i, pause) for i in pause.interrupts} == {"approve_item"}
    decider = Decider(demo_store, current_origin("alice"))
    rejects = {str(n): DecisionInput(DecisionType.REJECT, reason="not this one")
               for n in range(2, len(pause.interrupts) + 1)}
    outcome = await decider.decide(seed.thread_id, DecisionInput(DecisionType.APPROVE,
                                                                 items=rejects))
    assert outcome.plan is not None and outcome.plan.resume is not None
    assert outcome.plan.resume[pause.interrupts[0].id] == "approved"
    assert all(outcome.plan.resume[i.id] == "rejected: not this one"
               for i in pause.interrupts[1:])
    graph = DEMO_GRAPHS["map_reduce"](demo_store.saver)
    state = await graph.aget_state(demo_config("map_reduce", seed.thread_id))
    assert state.next == ()
    effects = state.values[DEMO_INFO["map_reduce"].effect]
    assert [e["line"] for e in effects] == [pause.interrupts[0].value["item"]["line"]]
