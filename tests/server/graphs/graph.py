"""The server tests' graphs: every pause form of product.md sections 2 and 3, served by a
real `langgraph dev` (tests/server/conftest.py writes the langgraph.json naming them).

Side effects go to the file named by `HITL_SERVER_EFFECTS` (one JSON line each: thread,
graph, node, what it saw), outside LangGraph's state, so a test counts how often a gated
action ran even if a second run would hide it in state. Gates record the raw resume value
they received (`event: "received"`); gated actions record `event: "ran"`.

The server loads this file by path in its own process: it imports nothing from the tests.
"""

from __future__ import annotations

import fcntl
import json
import operator
import os
from typing import Annotated, Any, TypedDict

from langgraph.config import get_config
from langgraph.func import entrypoint, task
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send, interrupt

EFFECTS_ENV = "HITL_SERVER_EFFECTS"

HITL_PAYLOAD = {
    "action_requests": [
        {"name": "send_email", "args": {"to": "a@example.com", "body": "hi"},
         "description": "send it"},
        {"name": "delete_rows", "args": {"table": "sessions"}, "description": "purge"},
    ],
    "review_configs": [
        {"action_name": "send_email", "allowed_decisions": ["approve", "edit", "reject"]},
        {"action_name": "delete_rows", "allowed_decisions": ["approve", "reject"]},
    ],
}
INBOX_PAYLOAD = [{
    "action_request": {"action": "wire", "args": {"amount": 10}},
    "config": {"allow_accept": True, "allow_edit": True, "allow_respond": True,
               "allow_ignore": True},
    "description": "wire money",
}]
TOOL_APPROVAL_PAYLOAD = {
    "type": "tool_approval", "tool_call_id": "call-email", "name": "send_email",
    "args": {"to": "alice@example.com", "subject": "report"},
    "description": "Tool execution requires approval: send_email",
}
TOOL_APPROVAL_SCHEMA = {
    "oneOf": [
        {"type": "object", "properties": {"type": {"const": "approve"}},
         "required": ["type"]},
        {"type": "object", "properties": {"type": {"const": "reject"},
                                          "message": {"type": "string"}},
         "required": ["type"]},
    ],
}
AMOUNT_SCHEMA = {"type": "object", "properties": {"amount": {"type": "number",
                                                            "maximum": 100}},
                 "required": ["amount"]}
RAW_PAYLOAD = {"question": "ok?"}


def record(event: str, node: str, **fields: Any) -> None:
    """Append one side effect to the effects file (whole lines, under a lock: the
    server runs several jobs at once)."""
    path = os.environ.get(EFFECTS_ENV)
    if not path:
        raise RuntimeError(f"{EFFECTS_ENV} is not set: the server tests' fixture sets it")
    conf = get_config().get("configurable", {})
    line = json.dumps({"event": event, "thread": str(conf.get("thread_id")),
                       "graph": conf.get("graph_id"), "node": node, **fields},
                      default=repr)
    with open(path, "a", encoding="utf-8") as out:
        fcntl.flock(out, fcntl.LOCK_EX)
        out.write(line + "\n")


def approved(value: Any) -> bool:
    """Whether a resume value (of any convention) lets the gated action run."""
    if isinstance(value, str):
        return not value.startswith("rejected")
    if isinstance(value, dict) and "decisions" in value:
        return all(d.get("type") in ("approve", "edit") for d in value["decisions"])
    if isinstance(value, dict) and "type" in value:
        return value["type"] in ("approve", "edit", "accept")
    if isinstance(value, list):
        return all(isinstance(r, dict) and r.get("type") in ("accept", "edit")
                   for r in value)
    return value is not None


class GateState(TypedDict, total=False):
    topic: str
    notes: Annotated[list[str], operator.add]
    received: Annotated[list[Any], operator.add]
    effects: Annotated[list[str], operator.add]


def _gate(payload: Any, schema: dict[str, Any] | None = None) -> Any:
    def gate(state: GateState) -> dict[str, Any]:
        answer = interrupt(payload, response_schema=schema)
        record("received", "gate", value=answer)
        return {"received": [answer]}
    return gate


def _act(state: GateState) -> dict[str, Any]:
    record("ran", "act", received=state.get("received", [])[-1:])
    return {"effects": ["acted"]}


def _prepare(state: GateState) -> dict[str, Any]:
    return {"notes": ["prepared"]}


def _route(state: GateState) -> str:
    received = state.get("received") or [None]
    return "act" if approved(received[-1]) else END


def _linear(name: str, gate: Any) -> Any:
    builder = StateGraph(GateState)
    builder.add_node("gate", gate)
    builder.add_node("act", _act)
    builder.add_edge(START, "gate")
    builder.add_conditional_edges("gate", _route, ["act", END])
    builder.add_edge("act", END)
    return builder.compile(name=name)


# --- inline interrupt(), one graph per payload convention ------------------------------
raw = _linear("raw", _gate(RAW_PAYLOAD))
inbox = _linear("inbox", _gate(INBOX_PAYLOAD))
hitl = _linear("hitl", _gate(HITL_PAYLOAD))
tool_approval = _linear("tool_approval", _gate(TOOL_APPROVAL_PAYLOAD, TOOL_APPROVAL_SCHEMA))
schema = _linear("schema", _gate({"question": "amount?"}, AMOUNT_SCHEMA))


def _twice_gate(state: GateState) -> dict[str, Any]:
    """Asks twice in one node: the second question comes on the same checkpoint with a
    new interrupt id once the first is answered."""
    first = interrupt({"question": "send the wire?"})
    record("received", "gate", value=first, step=1)
    if not approved(first):
        return {"received": [first]}
    second = interrupt({"question": "confirm: really send the wire?", "step": 2})
    record("received", "gate", value=second, step=2)
    return {"received": [first, second]}


twice = _linear("twice", _twice_gate)


# --- static breakpoints ----------------------------------------------------------------
def _breakpoint(name: str, **compile_kwargs: Any) -> Any:
    builder = StateGraph(GateState)
    builder.add_node("prepare", _prepare)
    builder.add_node("act", _act)
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "act")
    builder.add_edge("act", END)
    return builder.compile(name=name, **compile_kwargs)


before = _breakpoint("before", interrupt_before=["act"])
after = _breakpoint("after", interrupt_after=["prepare"])


# --- Send map-reduce: one interrupt per branch ------------------------------------------
class ItemState(TypedDict):
    item: str


def _fan_out(state: GateState) -> list[Send]:
    return [Send("approve_item", {"item": item}) for item in ("alpha", "beta")]


def _approve_item(state: ItemState) -> dict[str, Any]:
    answer = interrupt({"question": f"ship {state['item']}?", "item": state["item"]})
    record("received", "approve_item", value=answer, item=state["item"])
    if approved(answer):
        record("ran", "approve_item", item=state["item"])
        return {"effects": [f"shipped {state['item']}"]}
    return {"effects": []}


def _map_reduce() -> Any:
    builder = StateGraph(GateState)
    builder.add_node("approve_item", _approve_item)  # type: ignore[arg-type]
    builder.add_conditional_edges(START, _fan_out, ["approve_item"])
    builder.add_edge("approve_item", END)
    return builder.compile(name="map_reduce")


map_reduce = _map_reduce()


# --- Functional API: an entrypoint whose @task asks --------------------------------------
@task
def ask_task(topic: str) -> Any:
    answer = interrupt({"question": f"publish {topic}?"})
    record("received", "ask_task", value=answer)
    return answer


@entrypoint()
def functional(inputs: dict[str, Any]) -> dict[str, Any]:
    answer = ask_task(str(inputs.get("topic", "news"))).result()
    if approved(answer):
        record("ran", "functional")
    return {"answer": answer}


# --- a subgraph whose inner node asks ------------------------------------------------------
class InnerState(TypedDict, total=False):
    amount: int
    received: Annotated[list[Any], operator.add]


def _inner_gate(state: InnerState) -> dict[str, Any]:
    answer = interrupt({"question": "pay?", "amount": state.get("amount", 5)})
    record("received", "inner_gate", value=answer)
    return {"received": [answer]}


def _pay(state: GateState) -> dict[str, Any]:
    received = state.get("received") or [None]
    if approved(received[-1]):
        record("ran", "pay")
        return {"effects": ["paid"]}
    return {}


def _subgraph() -> Any:
    inner = StateGraph(InnerState)
    inner.add_node("inner_gate", _inner_gate)
    inner.add_edge(START, "inner_gate")
    inner.add_edge("inner_gate", END)
    root = StateGraph(GateState)
    root.add_node("review", inner.compile())
    root.add_node("pay", _pay)
    root.add_edge(START, "review")
    root.add_edge("review", "pay")
    root.add_edge("pay", END)
    return root.compile(name="subgraph")


subgraph = _subgraph()

# Every graph the server serves, by graph id (the fixture's langgraph.json).
GRAPHS = ("raw", "inbox", "hitl", "tool_approval", "schema", "twice", "before", "after",
          "map_reduce", "functional", "subgraph")
