"""Seeding helpers for the benchmarks: many realistic LangGraph threads, written fast.

How the rows are made (nothing here hand-writes checkpoint rows):

1. **Templates.** `build_templates()` runs the benchmark graphs (a 7-node approval pipeline,
   compiled twice: inline `interrupt()` in `gate`, or `interrupt_before=["execute"]`; a
   map-reduce whose `Send` branches each `interrupt()`; a Functional API `@entrypoint`
   asking in the entrypoint or inside a `@task`) for a few template threads per scenario
   on a `RecordingSaver`, an `InMemorySaver` that keeps a copy of every
   `aput(config, checkpoint, metadata, new_versions)` and
   `aput_writes(config, writes, task_id, task_path)` call it receives.
2. **Re-identification.** For each seeded thread a `ThreadPlan` (thread id, scenario,
   template, start time, human delay before the resume) rewrites the recorded calls:
   the thread id; every checkpoint id becomes a fresh uuid6 at the thread's own time
   (same clock_seq, which LangGraph sets to the step, so per-thread order is kept); `ts`
   moves by the same amount; task ids are recomputed the way LangGraph derives them
   (xxh3 of the checkpoint id, namespace, step, node and then: PULL tasks their triggers,
   `Send` PUSH tasks the packet's index, Functional API `Call`s the caller's path and the
   call's index) and interrupt ids too (xxh3 of "node:task_id"). The formulas are checked
   against every id LangGraph produced in the templates, so a LangGraph change fails
   loudly instead of seeding rows that no longer match.
3. **The saver writes the rows.** The rewritten calls go through the savers' own
   row-building code, `PostgresSaver.put` / `put_writes` and `SqliteSaver.put` /
   `put_writes` (the same code as the async savers' `aput` paths, without a thread hop per
   call), with the cursor swapped for a recorder: the SQL parameters the saver produces
   are the rows. Postgres rows are loaded with COPY from a pool of worker processes (one
   connection per chunk), applying the saver's ON CONFLICT semantics per primary key;
   SQLite rows are inserted with the saver's own SQL in large transactions.
4. **Self-check** (`self_check_postgres`, `self_check_sqlite`): rows equal those the real
   `AsyncPostgresSaver` / `AsyncSqliteSaver` write call by call over a live connection,
   `aget_state` on the real compiled graph reports the planned `next` / interrupts /
   values, and resuming a seeded paused thread runs it to completion.
"""

from __future__ import annotations

import asyncio
import binascii
import copy
import itertools
import multiprocessing
import operator
import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, NamedTuple, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.func import entrypoint
from langgraph.func import task as functional_task
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command, Interrupt, Send, interrupt
from xxhash import xxh3_128_hexdigest

from console.core.graphs import GraphInfo, GraphRegistry

# --------------------------------------------------------------------------------------
# The benchmark graphs
# --------------------------------------------------------------------------------------

NODES = ("intake", "classify", "draft", "gate", "execute", "notify", "close")
INLINE_GRAPH = "approval_inline"  # `gate` calls interrupt() above the auto-approve limit
BREAKPOINT_GRAPH = "approval_breakpoint"  # compiled with interrupt_before=["execute"]
BREAKPOINT_BEFORE = ("execute",)
MAP_REDUCE_GRAPH = "approval_map_reduce"  # one `Send("approve_line")` per line, each asks
FUNCTIONAL_GRAPH = "approval_functional"  # an @entrypoint asking itself or in a @task
AUTO_LIMIT = 500.0

PULL = "__pregel_pull"
PUSH = "__pregel_push"
NULL_TASK_ID = "00000000-0000-0000-0000-000000000000"
_UUID_EPOCH_TICKS = 0x01B21DD213814000  # 100-ns ticks from 1582-10-15 to 1970-01-01


class ApprovalState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    request_id: str
    customer: str
    amount: float
    category: str
    style: str  # payload convention of the gate: "raw" or "hitl"
    decision: str
    status: str


def _say(text: str) -> dict[str, Any]:
    return {"messages": [AIMessage(content=text)]}


def _intake(state: ApprovalState) -> dict[str, Any]:
    return {
        **_say(f"Received request {state['request_id']} from {state['customer']}."),
        "status": "received",
    }


def _classify(state: ApprovalState) -> dict[str, Any]:
    category = state.get("category") or "refund"
    return {**_say(f"Classified as {category}."), "category": category, "status": "classified"}


def _after_classify(state: ApprovalState) -> str:
    return END if state.get("category") == "spam" else "draft"


def _draft(state: ApprovalState) -> dict[str, Any]:
    body = (
        f"Dear {state['customer']}, we reviewed request {state['request_id']} and propose a "
        f"refund of {state['amount']:.2f} EUR. "
    )
    return {**_say(body * (1 + len(state["request_id"]) % 4)), "status": "drafted"}


def _gate_payload(state: ApprovalState) -> Any:
    if state.get("style") == "hitl":  # LangChain HumanInTheLoopMiddleware shape
        return {
            "action_requests": [
                {
                    "name": "issue_refund",
                    "args": {"customer": state["customer"], "amount": state["amount"]},
                    "description": f"Refund {state['amount']:.2f} EUR to {state['customer']}",
                }
            ],
            "review_configs": [
                {"action_name": "issue_refund", "allowed_decisions": ["approve", "reject"]}
            ],
        }
    return {
        "question": f"Approve refund of {state['amount']:.2f} EUR to {state['customer']}?",
        "request_id": state["request_id"],
        "amount": state["amount"],
    }


def _gate_inline(state: ApprovalState) -> dict[str, Any]:
    if state["amount"] <= AUTO_LIMIT:
        return {**_say("Auto-approved (below limit)."), "decision": "auto", "status": "approved"}
    answer = interrupt(_gate_payload(state))
    if isinstance(answer, dict):  # {"decisions": [{"type": "approve"}]}
        answer = answer.get("decisions", [{}])[0].get("type", "?")
    return {**_say(f"Reviewer said: {answer}."), "decision": str(answer), "status": "approved"}


def _gate_static(state: ApprovalState) -> dict[str, Any]:
    return {**_say("Waiting for a reviewer before execution."), "status": "awaiting review"}


def _step(name: str, status: str) -> Callable[[ApprovalState], dict[str, Any]]:
    def node(state: ApprovalState) -> dict[str, Any]:
        return {**_say(f"{name}: {status} for {state['request_id']}."), "status": status}

    node.__name__ = name
    return node


def build_graph(*, inline: bool, checkpointer: Any = None) -> Any:
    """The 7-node approval pipeline (spam exits after `classify`)."""
    builder = StateGraph(ApprovalState)
    builder.add_node("intake", _intake)
    builder.add_node("classify", _classify)
    builder.add_node("draft", _draft)
    builder.add_node("gate", _gate_inline if inline else _gate_static)
    builder.add_node("execute", _step("execute", "executed"))
    builder.add_node("notify", _step("notify", "notified"))
    builder.add_node("close", _step("close", "closed"))
    builder.add_edge(START, "intake")
    builder.add_edge("intake", "classify")
    builder.add_conditional_edges("classify", _after_classify, ["draft", END])
    for a, b in itertools.pairwise(NODES[2:]):
        builder.add_edge(a, b)
    builder.add_edge("close", END)
    return builder.compile(
        checkpointer=checkpointer,
        interrupt_before=None if inline else list(BREAKPOINT_BEFORE),
    )


class BatchState(TypedDict, total=False):
    request_id: str
    customer: str
    lines: list[dict[str, Any]]
    approvals: Annotated[list[str], operator.add]
    status: str


def _split(state: BatchState) -> dict[str, Any]:
    return {"status": f"{len(state['lines'])} lines to approve"}


def _each_line(state: BatchState) -> list[Send]:
    return [Send("approve_line", {"request_id": state["request_id"], "line": line})
            for line in state["lines"]]


def _approve_line(state: dict[str, Any]) -> dict[str, Any]:
    line = state["line"]
    answer = interrupt({"question": f"Approve line {line['no']} of {state['request_id']}?",
                        "amount": line["amount"]})
    return {"approvals": [f"{line['no']}: {answer}"]}


def _close_batch(state: BatchState) -> dict[str, Any]:
    return {"status": "closed"}


def build_map_reduce(checkpointer: Any = None) -> Any:
    """split -> Send("approve_line") per line (each interrupts) -> close."""
    builder = StateGraph(BatchState)
    builder.add_node("split", _split)
    builder.add_node("approve_line", _approve_line)
    builder.add_node("close", _close_batch)
    builder.add_edge(START, "split")
    builder.add_conditional_edges("split", _each_line, ["approve_line"])
    builder.add_edge("approve_line", "close")
    builder.add_edge("close", END)
    return builder.compile(checkpointer=checkpointer)


# The Functional API's tasks: a Call task's id hashes the task's name, which its stored
# task path does not hold, so `_analyse` finds it among these.
@functional_task
def assess(request: dict[str, Any]) -> dict[str, Any]:
    return {"risk": len(request["request_id"]) % 7, "amount": request["amount"]}


@functional_task
def review(request: dict[str, Any], assessment: dict[str, Any]) -> Any:
    return interrupt({"question": f"Refund {request['amount']:.2f} EUR?", **assessment})


@functional_task
def pay_refund(request: dict[str, Any]) -> dict[str, Any]:
    return {"paid": request["amount"], "to": request["customer"]}


FUNCTIONAL_TASKS = ("assess", "review", "pay_refund")


def approval_workflow(request: dict[str, Any]) -> dict[str, Any]:
    assessment = assess(request).result()
    question = {"question": f"Refund {request['amount']:.2f} EUR?", **assessment}
    answer = (review(request, assessment).result() if request["ask_in_task"]
              else interrupt(question))
    return {"answer": answer, "payment": pay_refund(request).result(), "status": "closed"}


def build_functional(checkpointer: Any = None) -> Any:
    """`@entrypoint` approval_workflow: interrupt() in the entrypoint or in `review`."""
    return entrypoint(checkpointer=checkpointer)(approval_workflow)


def build_graphs(checkpointer: Any = None) -> dict[str, Any]:
    return {
        INLINE_GRAPH: build_graph(inline=True, checkpointer=checkpointer),
        BREAKPOINT_GRAPH: build_graph(inline=False, checkpointer=checkpointer),
        MAP_REDUCE_GRAPH: build_map_reduce(checkpointer),
        FUNCTIONAL_GRAPH: build_functional(checkpointer),
    }


def graph_registry() -> GraphRegistry:
    """The registry the console would load for these graphs (classifies breakpoints)."""
    return GraphRegistry(GraphInfo.of(name, g) for name, g in build_graphs().items())


# --------------------------------------------------------------------------------------
# Scenarios and templates
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    graph: str
    share: float  # of seeded threads
    pending: bool
    category: str = "refund"
    big_amount: bool = True  # above AUTO_LIMIT: the inline gate interrupts
    resume: Any = None  # None: the run stays where it stopped


# 15% of threads paused, 6% of them (40% of the paused) in PUSH tasks or the Functional
# API: `Send` branches, an entrypoint, a task.
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("paused_inline", INLINE_GRAPH, 0.06, pending=True),
    Scenario("paused_before", BREAKPOINT_GRAPH, 0.03, pending=True),
    Scenario("paused_map_reduce", MAP_REDUCE_GRAPH, 0.03, pending=True),
    Scenario("paused_functional", FUNCTIONAL_GRAPH, 0.03, pending=True),
    Scenario("resumed_inline", INLINE_GRAPH, 0.11, pending=False, resume="approve"),
    Scenario("resumed_before", BREAKPOINT_GRAPH, 0.05, pending=False, resume="continue"),
    Scenario("resumed_map_reduce", MAP_REDUCE_GRAPH, 0.02, pending=False, resume="approve"),
    Scenario("resumed_functional", FUNCTIONAL_GRAPH, 0.02, pending=False, resume="approve"),
    Scenario("auto_approved", INLINE_GRAPH, 0.30, pending=False, big_amount=False),
    Scenario("spam", INLINE_GRAPH, 0.35, pending=False, category="spam"),
)
SCENARIO_BY_NAME = {s.name: s for s in SCENARIOS}
FINISHED_SCENARIOS = tuple(s.name for s in SCENARIOS if not s.pending)


class Call(NamedTuple):
    """One recorded saver call; `phase` 0 is the first run, 1 the resume."""

    method: str  # "aput" or "aput_writes"
    args: tuple[Any, ...]
    phase: int


class RecordingSaver(InMemorySaver):
    """An InMemorySaver that keeps a copy of every write call, with the run phase."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[str, list[Call]] = {}
        self.phase = 0

    @staticmethod
    def _clean(config: Any) -> dict[str, Any]:
        # Only what a saver reads: configurable ids (+ plain user keys) and run metadata.
        conf = {
            k: v
            for k, v in config["configurable"].items()
            if not k.startswith("__") and isinstance(v, str | int | float | bool)
        }
        return {"configurable": conf, "metadata": copy.deepcopy(dict(config.get("metadata") or {}))}

    async def aput(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        tid = config["configurable"]["thread_id"]
        args = (
            self._clean(config),
            copy.deepcopy(checkpoint),
            copy.deepcopy(metadata),
            dict(new_versions),
        )
        self.calls.setdefault(tid, []).append(Call("aput", args, self.phase))
        return await super().aput(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self, config: Any, writes: Any, task_id: str, task_path: str = ""
    ) -> None:
        tid = config["configurable"]["thread_id"]
        args = (self._clean(config), copy.deepcopy(list(writes)), task_id, task_path)
        self.calls.setdefault(tid, []).append(Call("aput_writes", args, self.phase))
        await super().aput_writes(config, writes, task_id, task_path)


@dataclass
class Template:
    """A recorded thread and what LangGraph says about it at the end."""

    scenario: str
    graph: str
    thread_id: str
    calls: list[Call]
    ticks: dict[str, int]  # checkpoint id -> uuid6 time (100 ns ticks since 1582)
    ts: dict[str, datetime]  # checkpoint id -> checkpoint["ts"]
    phase: dict[str, int]  # checkpoint id -> run phase
    # task id -> (checkpoint id, the parts `_hash_id` hashes after the checkpoint id, and
    # for a Functional API `Call` the caller's (task id, parts): its id is in the namespace)
    tasks: dict[str, tuple[str, tuple[str, ...], tuple[str, tuple[str, ...]] | None]]
    interrupts: dict[str, str]  # interrupt id -> id of the task that asked
    expected_next: tuple[str, ...]
    expected_interrupts: list[Any]  # interrupt values
    expected_values: dict[str, Any]
    first_us: int = 0  # unix microseconds of the first checkpoint id
    checkpoints: int = 0
    writes: int = 0


def _hash_id(checkpoint_id: str, parts: Sequence[str]) -> str:
    """LangGraph's id for a task of a root graph (pregel `_xxhash_str`): the checkpoint id's
    bytes, then `parts` (namespace, step, node, PULL or PUSH, what tells tasks apart)."""
    cid_bytes = binascii.unhexlify(checkpoint_id.replace("-", ""))
    h = xxh3_128_hexdigest(cid_bytes + b"".join(p.encode() for p in parts))
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _interrupt_id(namespace: str, task_id: str) -> str:
    """LangGraph's id of a task's first interrupt: xxh3 of the task's checkpoint namespace,
    `node:task_id` for a root task, `caller:caller_task_id|node:task_id` for a `Call`."""
    return xxh3_128_hexdigest(f"{namespace}:{task_id}".encode())


def _uuid6_ticks(checkpoint_id: str) -> int:
    value = uuid.UUID(checkpoint_id).int  # v6: 48 high bits, version, 12 low bits
    return (((value >> 80) & 0xFFFFFFFFFFFF) << 12) | ((value >> 64) & 0x0FFF)


def _uuid6_at(ticks: int, clock_seq: int, node: int) -> str:
    """langgraph.checkpoint.base.id.uuid6 with a given timestamp (same bit layout)."""
    value = ((ticks >> 12) & 0xFFFFFFFFFFFF) << 80
    value |= (ticks & 0x0FFF) << 64
    value |= (clock_seq & 0x3FFF) << 48
    value |= node & 0xFFFFFFFFFFFF
    value &= ~(0xC000 << 48)
    value |= 0x8000 << 48
    value &= ~(0xF000 << 64)
    value |= 6 << 76
    return str(uuid.UUID(int=value))


def _template_inputs(scenario: Scenario, index: int) -> dict[str, Any]:
    rnd = random.Random(f"{scenario.name}-{index}")
    customers = ["Acme GmbH", "Globex", "Initech", "Umbrella", "Soylent", "Hooli", "Vandelay"]
    amount = rnd.uniform(600, 9000) if scenario.big_amount else rnd.uniform(10, 450)
    text = rnd.choice(
        [
            "My order arrived damaged, please refund.",
            "I was charged twice for the same subscription month; the second charge should be "
            "refunded. Invoice numbers are in the attachment.",
            "Cancel my contract and return the remaining balance. " * 3,
        ]
    )
    request_id = f"REQ-{rnd.randrange(10**6):06d}"
    customer = rnd.choice(customers)
    if scenario.graph == MAP_REDUCE_GRAPH:
        lines = [{"no": no, "amount": round(rnd.uniform(50, 900), 2), "text": text[:60]}
                 for no in range(1, 2 + index % 3 + 1)]  # 2-4 branches
        return {"request_id": request_id, "customer": customer, "lines": lines}
    if scenario.graph == FUNCTIONAL_GRAPH:  # even templates ask in the entrypoint
        return {"request_id": request_id, "customer": customer, "amount": round(amount, 2),
                "text": text, "ask_in_task": bool(index % 2)}
    return {
        "messages": [HumanMessage(content=text)],
        "request_id": request_id,
        "customer": customer,
        "amount": round(amount, 2),
        "category": scenario.category,
        "style": "hitl" if index % 2 else "raw",
    }


def _run_config(graph_id: str, thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}, "metadata": {"graph_id": graph_id}}


async def build_templates(per_scenario: int = 6) -> dict[str, list[Template]]:
    """Run the graphs for `per_scenario` template threads per scenario and record them."""
    saver = RecordingSaver()
    graphs = build_graphs(saver)
    out: dict[str, list[Template]] = {}
    for scenario in SCENARIOS:
        graph = graphs[scenario.graph]
        for i in range(per_scenario):
            tid = f"template-{scenario.name}-{i}"
            config = _run_config(scenario.graph, tid)
            saver.phase = 0
            await graph.ainvoke(_template_inputs(scenario, i), config)
            if scenario.resume is not None:
                await asyncio.sleep(0.002)  # a human takes a while; ids stay apart
                saver.phase = 1
                await graph.ainvoke(await _template_answer(scenario, i, graph, config), config)
            state = await graph.aget_state(config)
            tpl = _analyse(scenario, tid, saver.calls[tid], graph, state)
            out.setdefault(scenario.name, []).append(tpl)
    return out


async def _template_answer(scenario: Scenario, index: int, graph: Any, config: Any) -> Any:
    """How the human answered a resumed template thread."""
    if scenario.graph == BREAKPOINT_GRAPH:
        return None
    if scenario.graph == MAP_REDUCE_GRAPH:  # every branch, each by its interrupt id
        state = await graph.aget_state(config)
        return Command(resume={i.id: "approve" for i in state.interrupts})
    value = {"decisions": [{"type": "approve"}]} if index % 2 else "approve"
    return Command(resume=value if scenario.graph == INLINE_GRAPH else "approve")


def _hash_parts(
    task_path: str, cid: str, step: int, graph: Any, checkpoints: dict[str, Any]
) -> tuple[str, ...]:
    """What LangGraph hashes after the checkpoint id for the task of a stored task path.

    PULL `~__pregel_pull, node`: namespace (the node), step, node, PULL, sorted triggers.
    `Send` PUSH `~__pregel_push, idx, False`: the same with PUSH and the packet's index
    (its node is in the checkpoint's `__pregel_tasks`). A Functional API `Call`
    `~__pregel_push, ~__pregel_pull, caller, idx, True` is named by `_call_parts`: here
    the namespace and name are left empty.
    """
    parts = [p.strip() for p in task_path.strip("~").split(",")]
    if len(parts) == 2 and parts[0] == PULL:
        return _pull_parts(parts[1], step, graph)
    if len(parts) == 3 and parts[0] == PUSH:
        idx = int(parts[1])
        node = checkpoints[cid]["channel_values"]["__pregel_tasks"][idx].node
        return (node, str(step), node, PUSH, str(idx))
    if len(parts) == 5 and parts[0] == PUSH and parts[1] == f"~{PULL}":
        return ("", str(step), parts[2], PUSH, f"~{PULL}, {parts[2]}", str(int(parts[3])))
    raise RuntimeError(f"unexpected task path {task_path!r}: teach _seed.py about it")


def _pull_parts(node: str, step: int, graph: Any) -> tuple[str, ...]:
    return (node, str(step), node, PULL, *sorted(graph.nodes[node].triggers))


def _call_parts(
    parts: tuple[str, ...], cid: str, task_id: str, graph: Any
) -> tuple[tuple[str, ...], tuple[str, tuple[str, ...]]]:
    """A Functional API task's hashed parts and its caller's (task id, parts).

    The task runs in its caller's namespace (`caller:caller_task_id|name`), and its name
    is not stored: it is the one of `FUNCTIONAL_TASKS` whose id formula matches.
    """
    caller = parts[2]
    caller_parts = _pull_parts(caller, int(parts[1]), graph)
    caller_id = _hash_id(cid, caller_parts)
    for name in FUNCTIONAL_TASKS:
        named = (f"{caller}:{caller_id}|{name}", parts[1], name, *parts[3:])
        if _hash_id(cid, named) == task_id:
            return named, (caller_id, caller_parts)
    raise RuntimeError(f"LangGraph Call task id formula changed (task {task_id})")


def _replayed_parts(
    parts: tuple[str, ...], caller: tuple[str, tuple[str, ...]] | None, m: dict[str, str],
    cid: str,
) -> tuple[str, ...]:
    """A task's hashed parts for the new thread: a `Call`'s namespace names its caller's
    new task id."""
    if caller is None:
        return parts
    caller_id, caller_parts = caller
    new_caller = m.setdefault(caller_id, _hash_id(m[cid], caller_parts))
    return (parts[0].replace(caller_id, new_caller), *parts[1:])


def _analyse(scenario: Scenario, tid: str, calls: list[Call], graph: Any, state: Any) -> Template:
    ticks: dict[str, int] = {}
    ts: dict[str, datetime] = {}
    phase: dict[str, int] = {}
    steps: dict[str, int] = {}
    checkpoints: dict[str, Any] = {}
    for call in calls:
        if call.method == "aput":
            _, checkpoint, metadata, _ = call.args
            cid = checkpoint["id"]
            ticks[cid] = _uuid6_ticks(cid)
            ts[cid] = datetime.fromisoformat(checkpoint["ts"])
            phase[cid] = call.phase
            steps[cid] = metadata["step"]
            checkpoints[cid] = checkpoint
    tasks: dict[str, tuple[str, tuple[str, ...], tuple[str, tuple[str, ...]] | None]] = {}
    asked: list[str] = []
    writes = 0
    for call in calls:
        if call.method != "aput_writes":
            continue
        config, wlist, task_id, task_path = call.args
        writes += len(wlist)
        if task_id == NULL_TASK_ID:
            continue
        cid = config["configurable"]["checkpoint_id"]
        parts = _hash_parts(task_path, cid, steps[cid] + 1, graph, checkpoints)
        caller = None
        if not parts[0]:
            parts, caller = _call_parts(parts, cid, task_id, graph)
        derived = _hash_id(cid, parts)
        if derived != task_id:
            raise RuntimeError(f"LangGraph task id formula changed: {derived} != {task_id}")
        tasks[task_id] = (cid, parts, caller)
        asked += [item.id for channel, value in wlist if channel == "__interrupt__"
                  for item in value]
    # An interrupt raised in a Functional API task is also written by the entrypoint that
    # called it: the id names the task that asked, whichever task stored it.
    by_id = {_interrupt_id(parts[0], task_id): task_id for task_id, (_, parts, _) in
             tasks.items()}
    interrupts: dict[str, str] = {}
    for iid in asked:
        if iid not in by_id:
            raise RuntimeError("LangGraph interrupt id formula changed")
        interrupts[iid] = by_id[iid]
    if list(ticks) != sorted(ticks, key=ticks.__getitem__):
        raise RuntimeError("template checkpoint ids are not in time order")
    first = min(ticks.values())
    return Template(
        scenario=scenario.name,
        graph=scenario.graph,
        thread_id=tid,
        calls=list(calls),
        ticks=ticks,
        ts=ts,
        phase=phase,
        tasks=tasks,
        interrupts=interrupts,
        expected_next=tuple(state.next),
        expected_interrupts=[i.value for i in state.interrupts],
        expected_values=dict(state.values or {}),  # None: an entrypoint before it returns
        first_us=(first - _UUID_EPOCH_TICKS) // 10,
        checkpoints=len(ticks),
        writes=writes,
    )


# --------------------------------------------------------------------------------------
# Plans: which threads to seed
# --------------------------------------------------------------------------------------


class ThreadPlan(NamedTuple):
    thread_id: str
    scenario: str
    template: int
    start_us: int  # unix microseconds of the thread's first checkpoint
    gap_us: int  # how long the human took before the resume (resumed scenarios)
    seed: int  # randomness of the new checkpoint ids


def make_plans(
    n: int,
    *,
    seed: int,
    templates_per_scenario: int,
    scenarios: Sequence[str] | None = None,
    prefix: str = "",
    now: datetime | None = None,
    spread: timedelta = timedelta(days=14),
) -> list[ThreadPlan]:
    """`n` threads with exact scenario counts (shares renormalised over `scenarios`)."""
    rnd = random.Random(seed)
    chosen = [SCENARIO_BY_NAME[s] for s in (scenarios or [s.name for s in SCENARIOS])]
    total = sum(s.share for s in chosen)
    counts = [int(n * s.share / total) for s in chosen]
    for i in range(n - sum(counts)):
        counts[i % len(counts)] += 1
    names = [s.name for s, c in zip(chosen, counts, strict=True) for _ in range(c)]
    rnd.shuffle(names)
    end_us = int((now or datetime.now(UTC)).timestamp() * 1_000_000) - 3_600_000_000
    span = int(spread.total_seconds() * 1_000_000)
    plans = []
    for name in names:
        tid = prefix + str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        start = end_us - rnd.randrange(span)
        plans.append(
            ThreadPlan(
                thread_id=tid,
                scenario=name,
                template=rnd.randrange(templates_per_scenario),
                start_us=start,
                # the reviewer answered within 36 h, and before "now"
                gap_us=rnd.randrange(
                    60_000_000, max(min(36 * 3_600_000_000, end_us - start), 120_000_000)
                ),
                seed=rnd.getrandbits(63),
            )
        )
    return plans


def pending_ids(plans: Iterable[ThreadPlan]) -> set[str]:
    return {p.thread_id for p in plans if SCENARIO_BY_NAME[p.scenario].pending}


def graph_of(plans: Iterable[ThreadPlan]) -> dict[str, str]:
    """Thread id -> the graph it runs (what an application keeps to call `aget_state`)."""
    return {p.thread_id: SCENARIO_BY_NAME[p.scenario].graph for p in plans}


# --------------------------------------------------------------------------------------
# Replaying recorded calls for a new thread
# --------------------------------------------------------------------------------------


def _dirty(obj: Any, ids: set[str], out: set[int]) -> bool:
    """Collect the ids of containers inside `obj` that hold any of `ids`; True if obj does."""
    t = type(obj)
    if t is str:
        return obj in ids
    found = False
    if t is dict:
        for k, v in obj.items():
            hit_k = type(k) is str and k in ids
            found = _dirty(v, ids, out) or hit_k or found
    elif t is list or t is tuple:
        for x in obj:
            found = _dirty(x, ids, out) or found
    elif t is Interrupt:
        found = _dirty(obj.value, ids, out) or obj.id in ids
    if found:
        out.add(id(obj))
    return found


def _swap(obj: Any, m: dict[str, str], dirty: set[int]) -> Any:
    """Replace every string in `m` inside configs, checkpoints and writes.

    Only containers in `dirty` (those holding a template id) are rebuilt; the rest are
    returned as they are, so values shared by all threads of a template stay shared (and
    serialize once, see `_MemoSerde`).
    """
    t = type(obj)
    if t is str:
        return m.get(obj, obj)
    if id(obj) not in dirty:
        return obj
    if t is dict:
        out = {}
        for k, v in obj.items():
            if type(k) is str:
                k = m.get(k, k)
            if type(v) is str:
                v = m.get(v, v)
            elif id(v) in dirty:
                v = _swap(v, m, dirty)
            out[k] = v
        return out
    if t is list or t is tuple:
        items = [
            m.get(x, x) if type(x) is str else _swap(x, m, dirty) if id(x) in dirty else x
            for x in obj
        ]
        return items if t is list else tuple(items)
    if t is Interrupt:
        return Interrupt(
            value=_swap(obj.value, m, dirty),
            id=m.get(obj.id, obj.id),
            response_schema=obj.response_schema,
        )
    return obj


_DIRTY: dict[int, tuple[Template, set[int]]] = {}


def _dirty_set(tpl: Template) -> set[int]:
    """Containers of the template's calls that hold ids to replace (per process)."""
    hit = _DIRTY.get(id(tpl))
    if hit is not None and hit[0] is tpl:
        return hit[1]
    ids = {
        tpl.thread_id,
        *tpl.ticks,
        *(ts.isoformat() for ts in tpl.ts.values()),
        *tpl.tasks,
        *tpl.interrupts,
    }
    out: set[int] = set()
    for call in tpl.calls:
        _dirty(call.args, ids, out)
    _DIRTY[id(tpl)] = (tpl, out)
    return out


@dataclass
class Replay:
    calls: list[Call]
    id_map: dict[str, str]  # template id -> this thread's id
    head_id: str
    interrupt_ids: list[str] = field(default_factory=list)


def replay_calls(tpl: Template, plan: ThreadPlan) -> Replay:
    """The template's saver calls as LangGraph would have made them for `plan`'s thread."""
    rnd = random.Random(plan.seed)
    delta_us = plan.start_us - tpl.first_us
    m: dict[str, str] = {tpl.thread_id: plan.thread_id}
    for cid, ticks in tpl.ticks.items():
        shift_us = delta_us + (plan.gap_us if tpl.phase[cid] else 0)
        clock_seq = (uuid.UUID(cid).int >> 48) & 0x3FFF
        new = _uuid6_at(ticks + shift_us * 10, clock_seq, rnd.getrandbits(48))
        m[cid] = new
        m[tpl.ts[cid].isoformat()] = (tpl.ts[cid] + timedelta(microseconds=shift_us)).isoformat()
    namespaces: dict[str, str] = {}
    for task_id, (cid, parts, caller) in tpl.tasks.items():
        new_parts = _replayed_parts(parts, caller, m, cid)
        m[task_id] = _hash_id(m[cid], new_parts)
        namespaces[task_id] = new_parts[0]
    for iid, task_id in tpl.interrupts.items():
        m[iid] = _interrupt_id(namespaces[task_id], m[task_id])
    dirty = _dirty_set(tpl)
    calls = [Call(c.method, _swap(c.args, m, dirty), c.phase) for c in tpl.calls]
    head = max(tpl.ticks, key=tpl.ticks.__getitem__)
    return Replay(calls, m, m[head], [m[i] for i in tpl.interrupts])


async def apply_calls(
    saver: Any, calls: Iterable[Call], timer: dict[str, list[float]] | None = None
) -> None:
    """Make the calls on an async saver; with `timer`, record each call's duration by method."""
    for call in calls:
        t0 = time.perf_counter()
        if call.method == "aput":
            await saver.aput(*call.args)
        else:
            await saver.aput_writes(*call.args)
        if timer is not None:
            timer.setdefault(call.method, []).append(time.perf_counter() - t0)


def apply_calls_sync(saver: Any, calls: Iterable[Call]) -> None:
    """The same calls on a synchronous saver (`put` / `put_writes`)."""
    for call in calls:
        if call.method == "aput":
            saver.put(*call.args)
        else:
            saver.put_writes(*call.args)


class _CaptureCursor:
    """Stands in for the saver's cursor; records (sql, [params...]) instead of sending."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, list[Any]]] = []

    def execute(self, sql: str, params: Any = None, **_: Any) -> _CaptureCursor:
        self.statements.append((sql, [params]))
        return self

    def executemany(self, sql: str, params: Iterable[Any], **_: Any) -> None:
        self.statements.append((sql, list(params)))


class _MemoSerde:
    """The saver's serializer, remembering results for template-owned (shared) values.

    Only objects kept alive by the templates are cached, by identity: the same object
    always serializes to the same bytes, so the rows do not change.
    """

    def __init__(self, inner: Any, shared: dict[int, Any]) -> None:
        self.inner = inner
        self.shared = shared
        self.cache: dict[int, tuple[str, bytes]] = {}

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        key = id(obj)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        out = self.inner.dumps_typed(obj)
        if self.shared.get(key) is obj:
            self.cache[key] = out
        return out

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        return self.inner.loads_typed(data)


def _shared_values(templates: dict[str, list[Template]]) -> dict[int, Any]:
    shared: dict[int, Any] = {}
    for tpls in templates.values():
        for tpl in tpls:
            for call in tpl.calls:
                if call.method == "aput":
                    values = call.args[1]["channel_values"].values()
                else:
                    values = [v for _, v in call.args[1]]
                for v in values:
                    if isinstance(v, list | dict | tuple):
                        shared[id(v)] = v
    return shared


# The bulk path runs the synchronous savers' `put` / `put_writes`: they build rows with the
# same code as the async savers' `aput` / `aput_writes` (shared base-class dump functions,
# identical inline logic) without a thread hop per call. `self_check_*` proves that the
# rows equal those the async savers write over a live connection.


def capturing_postgres_saver(shared: dict[int, Any] | None = None) -> Any:
    """A PostgresSaver whose cursor records statements instead of sending them."""
    from langgraph.checkpoint.postgres import PostgresSaver

    class _Capturing(PostgresSaver):
        capture: _CaptureCursor

        @contextmanager
        def _cursor(self, *, pipeline: bool = False) -> Any:
            yield self.capture

    saver = _Capturing(conn=None)
    saver.capture = _CaptureCursor()
    if shared is not None:
        saver.serde = _MemoSerde(saver.serde, shared)
    return saver


def capturing_sqlite_saver(shared: dict[int, Any] | None = None) -> Any:
    """A SqliteSaver whose cursor records statements instead of sending them."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    class _Capturing(SqliteSaver):
        capture: _CaptureCursor

        @contextmanager
        def cursor(self, transaction: bool = True) -> Any:
            yield self.capture

    saver = _Capturing(sqlite3.connect(":memory:", check_same_thread=False))
    saver.is_setup = True
    saver.capture = _CaptureCursor()
    if shared is not None:
        saver.serde = _MemoSerde(saver.serde, shared)
    return saver


# --- Postgres: the saver's upserts, applied per primary key, then COPY -----------------

PG_COLUMNS = {
    "checkpoints": (
        "thread_id",
        "checkpoint_ns",
        "checkpoint_id",
        "parent_checkpoint_id",
        "checkpoint",
        "metadata",
    ),
    "checkpoint_blobs": ("thread_id", "checkpoint_ns", "channel", "version", "type", "blob"),
    "checkpoint_writes": (
        "thread_id",
        "checkpoint_ns",
        "checkpoint_id",
        "task_id",
        "task_path",
        "idx",
        "channel",
        "type",
        "blob",
    ),
}


def pg_rows(saver: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Rows the captured statements leave in each table (the saver's ON CONFLICT rules)."""
    cp: dict[tuple[Any, ...], list[Any]] = {}
    blobs: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    writes: dict[tuple[Any, ...], list[Any]] = {}
    for sql, params in saver.capture.statements:
        if sql is saver.UPSERT_CHECKPOINTS_SQL:
            for p in params:  # DO UPDATE SET checkpoint, metadata
                key = tuple(p[:3])
                if key in cp:
                    cp[key][4:6] = p[4:6]
                else:
                    cp[key] = list(p)
        elif sql is saver.UPSERT_CHECKPOINT_BLOBS_SQL:
            for p in params:  # DO NOTHING
                blobs.setdefault(tuple(p[:4]), tuple(p))
        elif sql is saver.UPSERT_CHECKPOINT_WRITES_SQL or sql is saver.INSERT_CHECKPOINT_WRITES_SQL:
            update = sql is saver.UPSERT_CHECKPOINT_WRITES_SQL
            for p in params:  # columns: thread, ns, cid, task, path, idx, channel, type, blob
                key = (p[0], p[1], p[2], p[3], p[5])
                if key not in writes:
                    writes[key] = list(p)
                elif update:  # DO UPDATE SET channel, type, blob
                    writes[key][6:9] = p[6:9]
        else:
            raise RuntimeError(f"unexpected statement from the saver: {sql[:80]}")
    saver.capture.statements.clear()
    return {
        "checkpoints": [tuple(r) for r in cp.values()],
        "checkpoint_blobs": list(blobs.values()),
        "checkpoint_writes": [tuple(r) for r in writes.values()],
    }


def _pg_copy(conn: Any, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    with conn.cursor() as cur:
        for table, columns in PG_COLUMNS.items():
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
                for row in rows[table]:
                    cp.write_row(row)
    conn.commit()


# --- workers ---------------------------------------------------------------------------

_W: dict[str, Any] = {}


def _worker_init(templates: dict[str, list[Template]]) -> None:
    _W["templates"] = templates
    shared = _shared_values(templates)
    _W["postgres"] = capturing_postgres_saver(shared)
    _W["sqlite"] = capturing_sqlite_saver(shared)


def _worker_chunk(task: tuple[str, str | None, list[ThreadPlan]]) -> Any:
    backend, dsn, plans = task
    saver = _W[backend]
    templates = _W["templates"]
    for plan in plans:
        apply_calls_sync(saver, replay_calls(templates[plan.scenario][plan.template], plan).calls)
    if backend == "postgres":
        import psycopg

        rows = pg_rows(saver)
        # synchronous_commit only changes when the loader's commit returns, not the rows
        with psycopg.connect(dsn, options="-c synchronous_commit=off") as conn:
            _pg_copy(conn, rows)
        return {table: len(r) for table, r in rows.items()}
    statements = list(saver.capture.statements)
    saver.capture.statements.clear()
    return statements


@dataclass
class SeedStats:
    threads: int
    rows: dict[str, int]
    seconds: float

    def describe(self) -> str:
        rows = ", ".join(f"{n} {t}" for t, n in self.rows.items())
        return f"{self.threads} threads ({rows}) in {self.seconds:.1f} s"


class Seeder:
    """A pool of seeding processes (each produces rows and, for Postgres, COPYs them).

    Use as a context manager; the pool is started once and reused for every database.
    """

    def __init__(
        self, templates: dict[str, list[Template]], workers: int = 3, chunk: int = 500
    ) -> None:
        self.templates = templates
        self.workers = workers
        self.chunk = chunk
        self.pool: Any = None

    def __enter__(self) -> Seeder:
        ctx = multiprocessing.get_context("spawn")
        self.pool = ctx.Pool(self.workers, _worker_init, (self.templates,))
        return self

    def __exit__(self, *exc: Any) -> None:
        self.pool.terminate()
        self.pool.join()

    def _run(
        self, backend: str, dsn: str | None, plans: Sequence[ThreadPlan], chunk: int | None
    ) -> Any:
        size = chunk or self.chunk
        tasks = [(backend, dsn, list(plans[i : i + size])) for i in range(0, len(plans), size)]
        for task, result in zip(tasks, self.pool.imap(_worker_chunk, tasks), strict=True):
            yield len(task[2]), result

    def postgres(
        self,
        dsn: str,
        plans: Sequence[ThreadPlan],
        *,
        chunk: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> SeedStats:
        """COPY the threads' rows into an existing checkpointer database (one connection
        per chunk and process, `workers` at a time)."""
        t0 = time.perf_counter()
        totals: dict[str, int] = dict.fromkeys(PG_COLUMNS, 0)
        done = 0
        for size, counts in self._run("postgres", dsn, plans, chunk):
            for table, n in counts.items():
                totals[table] += n
            done += size
            if progress:
                progress(done, len(plans))
        return SeedStats(len(plans), totals, time.perf_counter() - t0)

    def sqlite(
        self,
        path: str,
        plans: Sequence[ThreadPlan],
        *,
        chunk: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> SeedStats:
        """Insert the threads' rows with the saver's own SQL, one transaction per chunk.

        The schema must exist (`ensure_sqlite_schema`); this process is the only writer.
        """
        t0 = time.perf_counter()
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA synchronous = OFF")  # the loader's own connection only
        totals = {"checkpoints": 0, "writes": 0}
        done = 0
        try:
            for size, statements in self._run("sqlite", None, plans, chunk):
                with conn:
                    run: tuple[str, list[Any]] | None = None
                    for sql, params in statements:  # consecutive runs of one statement
                        totals["checkpoints" if "INTO checkpoints" in sql else "writes"] += len(
                            params
                        )
                        if run is not None and run[0] == sql:
                            run[1].extend(params)
                            continue
                        if run is not None:
                            conn.executemany(*run)
                        run = (sql, list(params))
                    if run is not None:
                        conn.executemany(*run)
                done += size
                if progress:
                    progress(done, len(plans))
        finally:
            conn.close()
        return SeedStats(len(plans), totals, time.perf_counter() - t0)


async def ensure_sqlite_schema(path: str) -> None:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with AsyncSqliteSaver.from_conn_string(path) as saver:
        await saver.setup()


# --------------------------------------------------------------------------------------
# Self-checks: the seeded rows are what LangGraph would have written
# --------------------------------------------------------------------------------------


async def check_states(
    graphs: dict[str, Any],
    plans: Sequence[ThreadPlan],
    templates: dict[str, list[Template]],
) -> list[str]:
    """aget_state on the real graphs vs the plan; returns problems (empty = fine)."""
    problems = []
    for plan in plans:
        tpl = templates[plan.scenario][plan.template]
        replay = replay_calls(tpl, plan)
        state = await graphs[tpl.graph].aget_state(_run_config(tpl.graph, plan.thread_id))
        got_ids = [i.id for i in state.interrupts]
        if (
            tuple(state.next) != tpl.expected_next
            or [i.value for i in state.interrupts] != tpl.expected_interrupts
            or not set(got_ids) <= set(replay.interrupt_ids)
            or dict(state.values or {}) != tpl.expected_values
            or state.config["configurable"]["checkpoint_id"] != replay.head_id
        ):
            problems.append(
                f"{plan.thread_id} ({plan.scenario}): next={state.next} "
                f"interrupts={got_ids} expected next={tpl.expected_next}"
            )
    return problems


async def _resume_check(graphs: dict[str, Any], plans: Sequence[ThreadPlan]) -> list[str]:
    """Resume one seeded paused thread of each graph: it must run to its end ("closed")."""
    problems = []
    for scenario in ("paused_inline", "paused_before", "paused_map_reduce", "paused_functional"):
        plan = next(p for p in plans if p.scenario == scenario)
        graph_id = SCENARIO_BY_NAME[scenario].graph
        graph = graphs[graph_id]
        config = _run_config(graph_id, plan.thread_id)
        if graph_id == BREAKPOINT_GRAPH:
            resume = None
        else:  # every pending interrupt by its id: a map-reduce thread has several
            state = await graph.aget_state(config)
            resume = Command(resume={i.id: "approve" for i in state.interrupts})
        await graph.ainvoke(resume, config)
        state = await graph.aget_state(config)
        if state.next or (state.values or {}).get("status") != "closed":
            problems.append(f"resuming {plan.thread_id} ({scenario}) did not finish: {state.next}")
    return problems


async def self_check_postgres(
    seeder: Seeder, admin_dsn: str, dsn: str, dbname: str, threads: int = 120
) -> list[str]:
    """Seed a scratch database both ways and compare; check states; resume two threads."""
    import psycopg
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row

    templates = seeder.templates
    per = len(next(iter(templates.values())))
    plans = make_plans(threads, seed=7, templates_per_scenario=per, prefix="chk-")
    real_plans = [p._replace(thread_id="real-" + p.thread_id) for p in plans]
    problems: list[str] = []
    async with await psycopg.AsyncConnection.connect(admin_dsn, autocommit=True) as admin:
        await admin.execute(f"DROP DATABASE IF EXISTS {dbname}")
        await admin.execute(f"CREATE DATABASE {dbname}")
    try:
        async with await psycopg.AsyncConnection.connect(
            dsn, autocommit=True, prepare_threshold=0, row_factory=dict_row
        ) as conn:
            saver = AsyncPostgresSaver(conn)
            await saver.setup()
            for plan in real_plans:  # the real saver, over the wire, call by call
                tpl = templates[plan.scenario][plan.template]
                await apply_calls(saver, replay_calls(tpl, plan).calls)
            await asyncio.to_thread(seeder.postgres, dsn, plans, chunk=40)
            for table, cols in PG_COLUMNS.items():
                rest = ", ".join(c for c in cols if c != "thread_id")
                diff = await (
                    await conn.execute(
                        f"""SELECT count(*) AS n FROM (
                        (SELECT substr(thread_id, 6) AS t, {rest} FROM {table}
                          WHERE thread_id LIKE 'real-%%'
                         EXCEPT ALL SELECT thread_id, {rest} FROM {table}
                          WHERE thread_id LIKE 'chk-%%')
                        UNION ALL
                        (SELECT thread_id, {rest} FROM {table} WHERE thread_id LIKE 'chk-%%'
                         EXCEPT ALL SELECT substr(thread_id, 6), {rest} FROM {table}
                          WHERE thread_id LIKE 'real-%%')) d"""
                    )
                ).fetchone()
                if diff["n"]:
                    problems.append(f"{table}: {diff['n']} rows differ between COPY and aput")
            graphs = build_graphs(saver)
            problems += await check_states(graphs, plans, templates)
            problems += await _resume_check(graphs, plans)
    finally:
        async with await psycopg.AsyncConnection.connect(admin_dsn, autocommit=True) as admin:
            await admin.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
    return problems


async def self_check_sqlite(seeder: Seeder, path: str, threads: int = 120) -> list[str]:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    templates = seeder.templates
    per = len(next(iter(templates.values())))
    plans = make_plans(threads, seed=8, templates_per_scenario=per, prefix="chk-")
    real_plans = [p._replace(thread_id="real-" + p.thread_id) for p in plans]
    problems: list[str] = []
    await ensure_sqlite_schema(path)
    await asyncio.to_thread(seeder.sqlite, path, plans, chunk=40)
    async with AsyncSqliteSaver.from_conn_string(path) as saver:
        for plan in real_plans:
            tpl = templates[plan.scenario][plan.template]
            await apply_calls(saver, replay_calls(tpl, plan).calls)
        for table in ("checkpoints", "writes"):
            async with saver.conn.execute(f"PRAGMA table_info({table})") as cur:
                cols = [r[1] for r in await cur.fetchall() if r[1] != "thread_id"]
            rest = ", ".join(cols)
            async with saver.conn.execute(
                f"""SELECT count(*) FROM (
                    SELECT substr(thread_id, 6), {rest} FROM {table} WHERE thread_id LIKE 'real-%'
                    EXCEPT SELECT thread_id, {rest} FROM {table} WHERE thread_id LIKE 'chk-%')"""
            ) as cur:
                row = await cur.fetchone()
            async with saver.conn.execute(
                f"SELECT (SELECT count(*) FROM {table} WHERE thread_id LIKE 'real-%'),"
                f" (SELECT count(*) FROM {table} WHERE thread_id LIKE 'chk-%')"
            ) as cur:
                counts = await cur.fetchone()
            if row[0] or counts[0] != counts[1]:
                problems.append(f"sqlite {table}: rows differ between bulk insert and aput")
        graphs = build_graphs(saver)
        problems += await check_states(graphs, plans, templates)
        problems += await _resume_check(graphs, plans)
    return problems


def template_summary(templates: dict[str, list[Template]]) -> str:
    parts = []
    for s in SCENARIOS:
        tpls = templates[s.name]
        cps = sum(t.checkpoints for t in tpls) / len(tpls)
        parts.append(f"{s.name} {s.share:.0%} ({cps:.0f} checkpoints)")
    avg_cp = sum(
        s.share * sum(t.checkpoints for t in templates[s.name]) / len(templates[s.name])
        for s in SCENARIOS
    )
    avg_w = sum(
        s.share * sum(t.writes for t in templates[s.name]) / len(templates[s.name])
        for s in SCENARIOS
    )
    return f"{'; '.join(parts)}; mean {avg_cp:.1f} checkpoints and {avg_w:.1f} writes per thread"


__all__ = [
    "BREAKPOINT_GRAPH",
    "FINISHED_SCENARIOS",
    "FUNCTIONAL_GRAPH",
    "INLINE_GRAPH",
    "MAP_REDUCE_GRAPH",
    "SCENARIOS",
    "SeedStats",
    "Seeder",
    "Template",
    "ThreadPlan",
    "apply_calls",
    "build_graphs",
    "build_templates",
    "check_states",
    "ensure_sqlite_schema",
    "graph_of",
    "graph_registry",
    "make_plans",
    "pending_ids",
    "replay_calls",
    "self_check_postgres",
    "self_check_sqlite",
    "template_summary",
]
