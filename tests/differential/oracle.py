"""What the console must answer for a thread, derived from LangGraph's own `aget_state()`.

The mapping is written out in `tests/differential/test_differential.py`'s docstring;
`expected` implements it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langgraph.types import StateSnapshot

from console.core.graphs import GraphInfo
from console.core.models import PendingThread


@dataclass(frozen=True)
class Answer:
    """The comparable part of a console answer (None fields: not listed)."""

    listed: bool
    kind: str | None = None
    nodes: tuple[str, ...] = ()
    next_nodes: tuple[str, ...] = ()
    interrupts: tuple[tuple[str, str], ...] = ()  # (id, repr(value)), sorted

    def text(self) -> str:
        if not self.listed:
            return f"not listed ({self.kind})" if self.kind else "not listed"
        ints = ", ".join(f"{i[:8]}={v}" for i, v in self.interrupts)
        return (f"{self.kind} nodes={list(self.nodes)} next={list(self.next_nodes)}"
                + (f" interrupts=[{ints}]" if ints else ""))


NOT_LISTED = Answer(False)


def _names(names: Any) -> tuple[str, ...]:
    return tuple(sorted(set(names)))


def _interrupts(items: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(i.id), repr(i.value)) for i in items))


def answer_of(pause: PendingThread | None) -> Answer:
    """The console's answer, in comparable form."""
    if pause is None:
        return NOT_LISTED
    return Answer(True, pause.kind.value, _names(pause.nodes), _names(pause.next_nodes),
                  _interrupts(pause.interrupts))


@dataclass(frozen=True)
class Truth:
    """What LangGraph says about a thread, with the expected answers derived from it."""

    with_graph: Answer
    without_graph: Answer
    snapshot: str  # S, summarised for a mismatch report
    origin: str  # where the pause comes from: task kinds (push/pull/sub/flow) or ""


async def expected(graph: Any, info: GraphInfo, thread_id: str) -> Truth:
    """The console's expected answers for a thread, with and without its graph."""
    config: Any = {"configurable": {"thread_id": thread_id}}
    state = await graph.aget_state(config)
    next_names = _names(state.next)
    snapshot = _snapshot(state)
    origin = _origin(state, info)
    if state.interrupts:
        holders = _names(t.name for t in state.tasks if t.interrupts)
        listed = Answer(True, "interrupt", holders, next_names, _interrupts(state.interrupts))
        return Truth(listed, listed, snapshot, origin)
    if not state.next:
        return Truth(NOT_LISTED, NOT_LISTED, snapshot, origin)
    stalled = Answer(True, "stalled", next_names, next_names)
    before = _names(n for n in state.next if info.pauses_before(n))
    if before:
        return Truth(Answer(True, "before", before, next_names), stalled, snapshot, origin)
    ran = await _ran_before(graph, state)
    after = _names(n for n in ran if info.pauses_after(n))
    if after:
        return Truth(Answer(True, "after", after, next_names), stalled, snapshot, origin)
    # a task that failed (an error, a cancellation included, and no result) did not stop
    # at its subgraph's breakpoint, whatever that subgraph's state says
    failed = {t.name for t in state.tasks if t.error is not None and t.result is None}
    inside = tuple(n for n in await _stopped_inside(graph, config, state) if n not in failed)
    if inside:
        return Truth(Answer(True, "before", inside, next_names), stalled, snapshot, origin)
    return Truth(NOT_LISTED, stalled, snapshot, origin)


async def _ran_before(graph: Any, state: Any) -> tuple[str, ...]:
    """The tasks that ran in the step that produced the head (see the module doc)."""
    if state.parent_config is None:
        return ()
    parent = await graph.aget_state(state.parent_config)
    step = (state.metadata or {}).get("step")
    parent_step = (parent.metadata or {}).get("step")
    if not isinstance(step, int) or parent_step != step - 1:
        return ()
    return tuple(parent.next)


async def _stopped_inside(graph: Any, config: Any, state: Any) -> tuple[str, ...]:
    """The next root tasks whose subgraph (at any depth) is stopped at a breakpoint of
    its own, read with `aget_state(subgraphs=True)` (a subgraph awaited inside a node
    function is not one LangGraph can list: it is not seen here)."""
    if not any(t.state is not None for t in state.tasks):
        return ()
    deep = await graph.aget_state(config, subgraphs=True)
    subgraphs = dict(graph.get_subgraphs())
    found = []
    for task in deep.tasks:
        sub = subgraphs.get(task.name)
        if task.name in state.next and sub is not None and isinstance(
                task.state, StateSnapshot) and await _at_breakpoint(graph, sub, task.state):
            found.append(task.name)
    return _names(found)


async def _at_breakpoint(root: Any, sub: Any, snapshot: StateSnapshot) -> bool:
    """Rule 3 inside a subgraph: its next tasks meet its own interrupt_before, or the
    tasks of its step before meet its interrupt_after; or one of its own subgraphs is.
    Its `next` may be empty: stopped after its last node, it still holds up the task of
    its parent graph that runs it."""
    if snapshot.interrupts:
        return False
    info = GraphInfo.of("", sub)
    if any(info.pauses_before(n) for n in snapshot.next):
        return True
    if any(info.pauses_after(n) for n in await _ran_before(root, snapshot)):
        return True
    inner = dict(sub.get_subgraphs())
    for task in snapshot.tasks:
        child = inner.get(task.name)
        if child is not None and task.name in snapshot.next and isinstance(
                task.state, StateSnapshot) and await _at_breakpoint(root, child, task.state):
            return True
    return False


def _origin(state: Any, info: GraphInfo) -> str:
    """Which kinds of task the pause involves, e.g. `push` (a Send), `pull+sub`."""
    kinds = set()
    tasks = [t for t in state.tasks if t.interrupts] if state.interrupts else [
        t for t in state.tasks if t.name in state.next]
    for task in tasks:
        kind = "push" if task.path and task.path[0] == "__pregel_push" else "pull"
        if task.state is not None:
            kind += "+sub"
        kinds.add(kind)
    return ",".join(sorted(kinds))


def _snapshot(state: Any) -> str:
    tasks = "; ".join(
        f"{t.name}{_path(t.path)}" + (f" ints={[str(i.id)[:8] for i in t.interrupts]}"
                                      if t.interrupts else "")
        + (" error" if t.error else "") + (" sub" if t.state is not None else "")
        for t in state.tasks)
    ints = ", ".join(f"{str(i.id)[:8]}={i.value!r}" for i in state.interrupts)
    step = (state.metadata or {}).get("step")
    return f"step={step} next={list(state.next)} interrupts=[{ints}] tasks=[{tasks}]"


def _path(path: Any) -> str:
    if not path:
        return ""
    return "(push)" if path[0] == "__pregel_push" else ""
