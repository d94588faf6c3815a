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
    inside = await _stopped_inside(graph, config, state)
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
    its own, read with `aget_state(T, subgraphs=True)` (a subgraph awaited inside a node
    function is not one LangGraph can list: it is not seen here). The root task's own
    error does not count: see `_stopped`."""
    if not any(t.state is not None for t in state.tasks):
        return ()
    deep = await graph.aget_state(config, subgraphs=True)
    subgraphs = dict(graph.get_subgraphs())
    found = []
    for task in deep.tasks:
        sub = subgraphs.get(task.name)
        if task.result is None and sub is not None and isinstance(
                task.state, StateSnapshot) and await _stopped(graph, sub, task.state):
            found.append(task.name)
    return _names(found)


async def _stopped(root: Any, sub: Any, snapshot: StateSnapshot) -> bool:
    """Rule 3 inside a subgraph: its next tasks meet its own interrupt_before, or the
    tasks of its step before meet its interrupt_after; or one of its own subgraphs is.
    Its `next` may be empty: stopped after its last node, it still holds up the task of
    its parent graph that runs it.

    A task that failed (an `error` and no result) after the subgraph stopped means it is
    not stopped: an unfinished task of its own with an error, unless that task runs a
    subgraph that is itself stopped. LangGraph keeps a task's error in a fixed write
    slot (`pregel/_task_status.py`): a run that failed leaves it there while a later run
    of the same task stops inside its subgraph (which then has a newer checkpoint that
    shows the stop, and no error of its own). So the error of a task whose subgraph is
    stopped is older than the stop, at any depth, the root task's included."""
    if snapshot.interrupts:
        return False
    info = GraphInfo.of("", sub)
    inner = dict(sub.get_subgraphs())
    below = False
    for task in snapshot.tasks:
        if task.result is not None:
            continue
        child = inner.get(task.name)
        stopped = child is not None and isinstance(task.state, StateSnapshot) and \
            await _stopped(root, child, task.state)
        if task.error is not None and not stopped:
            return False
        below = below or stopped
    if any(info.pauses_before(n) for n in snapshot.next):
        return True
    if any(info.pauses_after(n) for n in await _ran_before(root, snapshot)):
        return True
    return below


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
