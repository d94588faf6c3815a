"""Small real graphs whose gate nodes record exactly what they received.

Each gate appends the raw resume value to `received`; the gated action appends to
`effects`. Tests assert on both: the shape the node got, and how often the action ran.
`race` also writes its side effect to a table of the test's own (`EFFECTS_DB`), outside
LangGraph's state, so a double execution is visible even if state would hide it.
"""

from __future__ import annotations

import operator
import os
import sqlite3
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

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
SCHEMA = {"type": "object", "properties": {"amount": {"type": "number", "maximum": 100}},
          "required": ["amount"]}


class GateState(TypedDict, total=False):
    topic: str
    history: list[str]  # no reducer: an update replaces it
    notes: Annotated[list[str], operator.add]
    received: Annotated[list[Any], operator.add]
    effects: Annotated[list[str], operator.add]


def _gate(payload: Any, schema: dict[str, Any] | None = None) -> Any:
    def gate(state: GateState) -> dict[str, Any]:
        return {"received": [interrupt(payload, response_schema=schema)]}
    return gate


def _act(state: GateState) -> dict[str, Any]:
    return {"effects": ["acted"]}


def _prepare(state: GateState) -> dict[str, Any]:
    return {"notes": ["prepared"]}


def approved(value: Any) -> bool:
    """Whether a resume value (of any convention) lets the gated action run."""
    if isinstance(value, str):
        return not value.startswith("rejected")
    if isinstance(value, dict) and "decisions" in value:
        return all(d["type"] in ("approve", "edit") for d in value["decisions"])
    if isinstance(value, list):
        return all(r.get("type") in ("accept", "edit") for r in value)
    return True


def _route(state: GateState) -> str:
    return "act" if approved(state["received"][-1]) else END


def _linear(name: str, gate: Any, **compile_kwargs: Any) -> Any:
    builder = StateGraph(GateState)
    builder.add_node("gate", gate)
    builder.add_node("act", _act)
    builder.add_edge(START, "gate")
    builder.add_conditional_edges("gate", _route, ["act", END])
    builder.add_edge("act", END)
    return builder.compile(name=name, **compile_kwargs)


raw = _linear("raw", _gate({"question": "ok?"}))


def _strict_gate(state: GateState) -> dict[str, Any]:
    """Asks again (same checkpoint, new interrupt id) until it gets a contract answer."""
    payload: dict[str, Any] = {"question": "ok?"}
    while True:
        answer = interrupt(payload)
        if answer == "approved" or str(answer).startswith("rejected: "):
            return {"received": [answer]}
        payload = {"question": "ok?", "error": f"bad answer {answer!r}"}


reask = _linear("reask", _strict_gate)


def _confirm_twice_gate(state: GateState) -> dict[str, Any]:
    """Asks twice in one node: once approved, it asks for a confirmation (same checkpoint,
    a new interrupt id). A reviewer who read the first question must not answer the second."""
    first = interrupt({"question": "send the wire?"})
    if not approved(first):
        return {"received": [first]}
    second = interrupt({"question": "confirm: really send the wire?", "step": 2})
    return {"received": [first, second]}


confirm_twice = _linear("confirm_twice", _confirm_twice_gate)
hitl = _linear("hitl", _gate(HITL_PAYLOAD))
inbox = _linear("inbox", _gate(INBOX_PAYLOAD))
schema = _linear("schema", _gate({"question": "amount?"}, SCHEMA))


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


def _parallel() -> Any:
    builder = StateGraph(GateState)
    builder.add_node("left", _gate({"question": "left?"}))
    builder.add_node("right", _gate({"question": "right?"}))
    builder.add_node("act", _act)
    builder.add_edge(START, "left")
    builder.add_edge(START, "right")
    builder.add_edge(["left", "right"], "act")
    builder.add_edge("act", END)
    return builder.compile(name="parallel")


parallel = _parallel()


# --- race: the gated action leaves a row in a table of the test's own -----------------

EFFECTS_ENV = "HITL_TEST_EFFECTS_DB"


def record_effect(thread_id: str) -> None:
    """Insert one row per execution of the gated action into EFFECTS_DB."""
    target = os.environ[EFFECTS_ENV]
    if target.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS race_effects (thread_id text, pid int)")
            conn.execute("INSERT INTO race_effects VALUES (%s, %s)", (thread_id, os.getpid()))
        return
    with sqlite3.connect(target, timeout=30) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS race_effects (thread_id text, pid int)")
        conn.execute("INSERT INTO race_effects VALUES (?, ?)", (thread_id, os.getpid()))


def _race_act(state: GateState, config: RunnableConfig) -> dict[str, Any]:
    record_effect(str(config["configurable"]["thread_id"]))
    return {"effects": ["acted"]}


def _race() -> Any:
    builder = StateGraph(GateState)
    builder.add_node("gate", _gate({"question": "race?"}))
    builder.add_node("act", _race_act)
    builder.add_edge(START, "gate")
    builder.add_edge("gate", "act")
    builder.add_edge("act", END)
    return builder.compile(name="race")


race = _race()


def _slow_gate(state: GateState, config: RunnableConfig) -> dict[str, Any]:
    import time

    answer = interrupt({"question": "slow?"})
    record_effect(str(config["configurable"]["thread_id"]))
    time.sleep(float(os.environ.get("HITL_TEST_SLOW_SECONDS", "30")))
    return {"received": [answer], "effects": ["acted"]}


def _slow() -> Any:
    """The gated action runs inside the gate after the answer, then sleeps: a process
    killed there leaves the head at the pause. `slow_after` instead acts in a later node
    and sleeps after it, so a kill there leaves a head that moved on."""
    builder = StateGraph(GateState)
    builder.add_node("gate", _slow_gate)
    builder.add_edge(START, "gate")
    builder.add_edge("gate", END)
    return builder.compile(name="slow")


def _sleep(state: GateState) -> dict[str, Any]:
    import time

    time.sleep(float(os.environ.get("HITL_TEST_SLOW_SECONDS", "30")))
    return {"notes": ["slept"]}


def _slow_after() -> Any:
    builder = StateGraph(GateState)
    builder.add_node("gate", _gate({"question": "slow?"}))
    builder.add_node("act", _race_act)
    builder.add_node("linger", _sleep)
    builder.add_edge(START, "gate")
    builder.add_edge("gate", "act")
    builder.add_edge("act", "linger")
    builder.add_edge("linger", END)
    return builder.compile(name="slow_after")


slow = _slow()
slow_after = _slow_after()

ALL = {"raw": raw, "reask": reask, "confirm_twice": confirm_twice, "hitl": hitl,
       "inbox": inbox, "schema": schema, "before": before, "after": after,
       "parallel": parallel, "race": race, "slow": slow, "slow_after": slow_after}


def spec(name: str) -> str:
    """The `--graph` spec of one of these graphs."""
    return f"{name}=tests.graphs:{name}"


# --- refuses: a gate whose resume fails on approval (a worker's apply fails) ------------

REFUSAL_SECRET = "sk-testrefusal0123456789abcdef"  # must never reach a reviewer's screen


def _refusing_gate(state: GateState) -> dict[str, Any]:
    """Raises on every approval, after the answer arrived: the resume fails, the head
    stays at the pause, and the thread may be decided again (a rejection goes through)."""
    answer = interrupt({"question": "send it?"})
    if approved(answer):
        raise RuntimeError(f"the mail server refused the send (key {REFUSAL_SECRET})")
    return {"received": [answer]}


refuses = _linear("refuses", _refusing_gate)
ALL["refuses"] = refuses


# --- nested: the gate is two subgraphs deep and reads the state it is paused on -------


class InnerState(TypedDict, total=False):
    amount: int
    explode: bool  # the gate raises on approval (a resume that fails)
    seen: Annotated[list[Any], operator.add]  # (amount the gate read, answer)


class NestedState(InnerState, total=False):
    effects: Annotated[list[str], operator.add]


def _amount_gate(state: InnerState) -> dict[str, Any]:
    amount = state["amount"]
    answer = interrupt({"question": "pay?", "amount": amount})
    if state.get("explode") and approved(answer):
        raise RuntimeError("the bank refused the payment")
    return {"seen": [[amount, answer]]}


def _pay(state: NestedState) -> dict[str, Any]:
    if not approved(state["seen"][-1][1]):
        return {}
    return {"effects": [f"paid {state['amount']}"]}


def _nested() -> Any:
    inner = StateGraph(InnerState)
    inner.add_node("gate", _amount_gate)
    inner.add_edge(START, "gate")
    inner.add_edge("gate", END)
    mid = StateGraph(NestedState)
    mid.add_node("inner", inner.compile())
    mid.add_edge(START, "inner")
    mid.add_edge("inner", END)
    root = StateGraph(NestedState)
    root.add_node("mid", mid.compile())
    root.add_node("pay", _pay)
    root.add_edge(START, "mid")
    root.add_edge("mid", "pay")
    root.add_edge("pay", END)
    return root.compile(name="nested")


nested = _nested()
ALL["nested"] = nested


# --- halt: the database stops between the answer and the gated action -------------------

HALT_ENV = "HITL_TEST_HALT_COMMAND"  # JSON argv that stops the test's own server


def _halt(state: GateState) -> dict[str, Any]:
    import json
    import subprocess

    subprocess.run(json.loads(os.environ[HALT_ENV]), check=True, capture_output=True,
                   timeout=60)
    return {"notes": ["halted"]}


def _halting() -> Any:
    """gate -> halt (stops the server: its checkpoint cannot be written) -> act."""
    builder = StateGraph(GateState)
    builder.add_node("gate", _gate({"question": "halt?"}))
    builder.add_node("halt", _halt)
    builder.add_node("act", _race_act)
    builder.add_edge(START, "gate")
    builder.add_edge("gate", "halt")
    builder.add_edge("halt", "act")
    builder.add_edge("act", END)
    return builder.compile(name="halt")


halt = _halting()
ALL["halt"] = halt


# --- kill: every stage of an apply lasts long enough for a random SIGKILL to land in it --

KILL_STEP_ENV = "HITL_TEST_KILL_STEP_SECONDS"


def _kill_pause() -> None:
    import time

    time.sleep(float(os.environ.get(KILL_STEP_ENV, "0.02")))


def _kill_gate(state: GateState) -> dict[str, Any]:
    answer = interrupt({"question": "kill?"})
    _kill_pause()  # the answer is in memory only: a kill here delivers nothing
    return {"received": [answer]}


def _kill_act(state: GateState, config: RunnableConfig) -> dict[str, Any]:
    _kill_pause()  # the gate's checkpoint has landed: a kill here stops before act
    record_effect(str(config["configurable"]["thread_id"]))
    _kill_pause()  # acted, but act's writes are not saved: a kill here stops in act
    return {"effects": ["acted"]}


def _kill() -> Any:
    builder = StateGraph(GateState)
    builder.add_node("gate", _kill_gate)
    builder.add_node("act", _kill_act)
    builder.add_edge(START, "gate")
    builder.add_edge("gate", "act")
    builder.add_edge("act", END)
    return builder.compile(name="kill")


kill = _kill()
ALL["kill"] = kill


# --- echo / pwned: payloads and failures that quote hostile text (issue 15) ------------

PWNED_PASSWORD = "PWplanted0pwned9"  # in the exception text: never leaves redacted-less


def _echo_gate(state: GateState) -> dict[str, Any]:
    """Asks with the thread's own topic (hostile text from the test) in the payload."""
    return {"received": [interrupt({"question": state.get("topic", ""),
                                    "details": {"topic": state.get("topic", "")}})]}


def _pwned_gate(state: GateState) -> dict[str, Any]:
    """On approval, fails with a message that retitles a terminal and quotes a password."""
    answer = interrupt({"question": "run it?"})
    if approved(answer):
        raise RuntimeError(f"boom \x1b]0;pwned\x07 state={{'password': '{PWNED_PASSWORD}'}}")
    return {"received": [answer]}


echo = _linear("echo", _echo_gate)
pwned = _linear("pwned", _pwned_gate)
ALL["echo"] = echo
ALL["pwned"] = pwned
