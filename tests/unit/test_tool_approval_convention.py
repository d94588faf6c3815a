"""The `tool_approval` convention read from payloads and schemas alone (no database).

The schemas are what LangGraph publishes for a decision union shaped like the per-call
middleware's (pydantic's JSON schema of a union discriminated by `type`, or of one plain
decision), produced by a real `interrupt(..., response_schema=<type>)`, not written by
hand. The real middleware's schemas are read in tests/integration/test_tool_approval.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict

from console.core.conventions import (
    allowed_decisions,
    detect_convention,
    edit_args_schema,
    schema_decision_types,
    summarize_value,
)
from console.core.ledger.decisions import DecisionInput, DecisionRefused, plan_decision
from console.core.ledger.rows import DecisionType
from console.core.models import Convention, PauseKind, PendingInterrupt, PendingThread
from tests.tool_approval_graphs import DeleteArgs, EmailArgs, decision_type

REQUEST = {"type": "tool_approval", "tool_call_id": "c1", "name": "send_email",
           "args": {"to": "a@example.com", "subject": "hi"}, "description": "approve?"}


class _S(TypedDict, total=False):
    out: Any


def published_schema(response_type: Any) -> dict[str, Any]:
    """The JSON schema LangGraph stores for an interrupt with this response type."""
    def node(state: _S) -> dict[str, Any]:
        return {"out": interrupt(REQUEST, response_schema=response_type)}

    builder = StateGraph(_S)
    builder.add_node("n", node)
    builder.add_edge(START, "n")
    graph = builder.compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "1"}}
    graph.invoke({}, config)
    schema = graph.get_state(config).interrupts[0].response_schema
    assert isinstance(schema, dict)
    return schema


ALL_FOUR = published_schema(decision_type("send_email", EmailArgs,
                                          ["approve", "edit", "reject", "respond"]))
TWO = published_schema(decision_type("delete_file", DeleteArgs, ["approve", "reject"]))
ONLY_EDIT = published_schema(decision_type("send_email", EmailArgs, ["edit"]))
ONLY_APPROVE = published_schema(decision_type("send_email", EmailArgs, ["approve"]))


def _pause(schema: dict[str, Any] | None, value: Any = None) -> PendingThread:
    value = REQUEST if value is None else value
    item = PendingInterrupt("i1", value, "t", "p", schema, detect_convention(value, schema))
    return PendingThread("th", "", "c", "g", ("tools",), PauseKind.INTERRUPT, item.convention,
                         (item,), datetime.now(UTC), "")


def test_recognised_before_its_schema() -> None:
    assert detect_convention(REQUEST, ALL_FOUR) is Convention.TOOL_APPROVAL
    assert detect_convention(REQUEST, None) is Convention.TOOL_APPROVAL
    assert detect_convention({**REQUEST, "type": "other"}, ALL_FOUR) is Convention.SCHEMA
    assert detect_convention({"type": "tool_approval"}, None) is Convention.RAW  # no name


@pytest.mark.parametrize(("schema", "expected"), [
    (ALL_FOUR, ["approve", "edit", "reject", "respond"]),
    (TWO, ["approve", "reject"]),
    (ONLY_EDIT, ["edit"]),
    (ONLY_APPROVE, ["approve"]),
    (None, ["approve", "edit", "reject", "respond"]),  # the middleware's default
])
def test_allowed_decisions_come_from_the_schema(schema: Any, expected: list[str]) -> None:
    assert allowed_decisions(REQUEST, Convention.TOOL_APPROVAL, schema) == expected
    if schema is not None:
        assert schema_decision_types(schema) == expected


def test_edit_args_schema_is_the_tools_own() -> None:
    for schema in (ALL_FOUR, ONLY_EDIT):
        args = edit_args_schema(schema)
        assert args is not None
        assert args["required"] == ["to", "subject"]
        assert args["properties"]["to"]["type"] == "string"
    assert edit_args_schema(TWO) is None
    assert edit_args_schema(None) is None


def test_summary_is_the_tool_call() -> None:
    assert summarize_value(REQUEST, Convention.TOOL_APPROVAL) == \
        "send_email(to='a@example.com', subject='hi')"


@pytest.mark.parametrize(("choice", "expected"), [
    (DecisionInput(DecisionType.APPROVE), {"type": "approve"}),
    (DecisionInput(DecisionType.REJECT, reason="no"), {"type": "reject", "message": "no"}),
    (DecisionInput(DecisionType.RESPOND, reason="done already"),
     {"type": "respond", "message": "done already"}),
    (DecisionInput(DecisionType.EDIT, action_edits={0: {"to": "b@x", "subject": "s"}}),
     {"type": "edit", "edited_action": {"name": "send_email",
                                        "args": {"to": "b@x", "subject": "s"}}}),
])
def test_resume_is_one_decision_keyed_by_interrupt_id(
    choice: DecisionInput, expected: dict[str, Any]
) -> None:
    plan = plan_decision(_pause(ALL_FOUR), {}, choice, None)
    assert plan.resume == {"i1": expected}


def test_only_edit_allowed_refuses_approve_and_takes_an_edit() -> None:
    with pytest.raises(DecisionRefused, match="does not allow 'approve'; it allows edit"):
        plan_decision(_pause(ONLY_EDIT), {}, DecisionInput(DecisionType.APPROVE), None)
    plan = plan_decision(_pause(ONLY_EDIT), {}, DecisionInput(
        DecisionType.EDIT, action_edits={0: {"to": "b@x", "subject": "s"}}), None)
    assert plan.resume is not None and plan.resume["i1"]["type"] == "edit"


def test_edit_action_one_is_the_single_item() -> None:
    with pytest.raises(DecisionRefused, match="Action 2 does not exist: this pause has 1 "
                       "tool call"):
        plan_decision(_pause(ALL_FOUR), {}, DecisionInput(
            DecisionType.EDIT, action_edits={1: {"to": "b@x", "subject": "s"}}), None)


def test_reject_needs_a_reason() -> None:
    with pytest.raises(DecisionRefused, match="needs a reason"):
        plan_decision(_pause(TWO), {}, DecisionInput(DecisionType.REJECT), None)


def test_per_item_edit_of_a_raw_item_is_refused() -> None:
    pause = _pause(None, {"question": "ok?"})
    with pytest.raises(DecisionRefused, match="no tool call whose arguments"):
        plan_decision(pause, {}, DecisionInput(DecisionType.APPROVE, items={
            "1": DecisionInput(DecisionType.EDIT, action_edits={0: {}})}), None)
