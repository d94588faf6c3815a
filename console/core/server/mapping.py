"""Agent Server JSON -> the console's pauses (`PendingThread`, `PendingInterrupt`).

Two sources, one answer:
- `threads.search` / `threads.get` give a thread's pending inline interrupts as
  `{task_id: [{id, value, response_schema?}]}`, but neither the tasks' node names nor the
  head checkpoint id. A node is recovered from the interrupt id itself: LangGraph makes
  it the xxh3-128 of the task's namespace `node:task_id` (plus `|n` for the n-th
  question of a task that asks again), so hashing each of the graph's node names with the
  task id finds the one that asked. An id that matches none (a subgraph's or an
  `@task`'s question, whose namespace is nested) is read with `get_state` instead.
- `threads.get_state` gives LangGraph's own view (`next`, `tasks[].interrupts`,
  `checkpoint`): breakpoints (a thread `interrupted` with no interrupts) and every
  bundle are read from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from console.core.conventions import detect_convention, summarize_value
from console.core.graphs import GraphInfo
from console.core.models import Convention, PauseKind, PendingInterrupt, PendingThread

# Questions a task may have asked before its current one, tried when matching ids.
MAX_ANSWERED = 8
NS_SEP = "|"


def parse_time(value: Any) -> datetime:
    """A server timestamp (ISO 8601) as an aware UTC datetime (epoch if unreadable)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return datetime.fromtimestamp(0, UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def task_path_text(path: Any) -> str:
    """A task path as LangGraph stores it (`task_path_str`): `~__pregel_pull, gate`."""
    if isinstance(path, list | tuple):
        return "~" + ", ".join(task_path_text(part) for part in path)
    if isinstance(path, int):  # bools too, as LangGraph writes them
        return f"{path:010d}"
    return str(path)


def server_interrupt(item: Mapping[str, Any], task_id: str, task_path: str) -> PendingInterrupt:
    """One `{id, value, response_schema?}` as a `PendingInterrupt`."""
    schema = item.get("response_schema")
    schema = dict(schema) if isinstance(schema, Mapping) else None
    value = item.get("value")
    return PendingInterrupt(id=str(item.get("id", "")), value=value, task_id=task_id,
                            task_path=task_path, response_schema=schema,
                            convention=detect_convention(value, schema))


def thread_interrupts(raw: Any) -> tuple[PendingInterrupt, ...]:
    """A thread's `interrupts` field (task id -> items), in task id order. The task path
    is not part of it: left empty."""
    if not isinstance(raw, Mapping):
        return ()
    return tuple(server_interrupt(item, str(task_id), "")
                 for task_id, items in sorted(raw.items())
                 if isinstance(items, list)
                 for item in items if isinstance(item, Mapping))


def asking_node(interrupt_id: str, task_id: str, candidates: Iterable[str]) -> str | None:
    """The node whose task `task_id` raised `interrupt_id`, if it is one of `candidates`
    and asked at the root (LangGraph's `_interrupt_id`); None otherwise."""
    from xxhash import xxh3_128_hexdigest

    for node in candidates:
        namespace = f"{node}:{task_id}"
        for answered in range(MAX_ANSWERED + 1):
            text = f"{namespace}{NS_SEP}{answered}" if answered else namespace
            if xxh3_128_hexdigest(text.encode()) == interrupt_id:
                return node
    return None


def convention_of(interrupts: Sequence[PendingInterrupt]) -> Convention:
    """One convention for the row: the interrupts' own when they agree, else raw (as the
    checkpointer stores decide it)."""
    found = {i.convention for i in interrupts}
    return found.pop() if len(found) == 1 else Convention.RAW


def summary_of(interrupts: Sequence[PendingInterrupt]) -> str:
    if not interrupts:
        return ""
    first = interrupts[0]
    text = summarize_value(first.value, first.convention)
    return f"{len(interrupts)} interrupts; {text}" if len(interrupts) > 1 else text


def graph_of(metadata: Any) -> str | None:
    graph_id = metadata.get("graph_id") if isinstance(metadata, Mapping) else None
    return graph_id if isinstance(graph_id, str) else None


def inline_row(
    thread: Mapping[str, Any], nodes_by_task: Mapping[str, str],
    interrupts: tuple[PendingInterrupt, ...] | None = None, checkpoint_id: str = "",
) -> PendingThread:
    """The pause of a thread with pending interrupts, from its search/get result and the
    node of each asking task. `checkpoint_id` is "" when read from a search (the API does
    not give it there); `show` and deciding read it with `get_state`."""
    found = thread_interrupts(thread.get("interrupts")) if interrupts is None else interrupts
    metadata = thread.get("metadata")
    nodes = tuple(sorted({nodes_by_task[i.task_id] for i in found}))
    return PendingThread(
        thread_id=str(thread["thread_id"]), checkpoint_ns="", checkpoint_id=checkpoint_id,
        graph=graph_of(metadata), nodes=nodes, kind=PauseKind.INTERRUPT,
        convention=convention_of(found), interrupts=found,
        paused_at=parse_time(thread.get("updated_at")), summary=summary_of(found),
        metadata=dict(metadata) if isinstance(metadata, Mapping) else {},
        next_nodes=nodes)


def state_interrupts(state: Mapping[str, Any]) -> tuple[PendingInterrupt, ...]:
    """The pending interrupts of a `get_state` result, per task, in task id order (the
    order `thread_interrupts` gives)."""
    tasks = [t for t in state.get("tasks") or () if isinstance(t, Mapping)]
    return tuple(server_interrupt(item, str(task.get("id", "")),
                                  task_path_text(task.get("path", ())))
                 for task in sorted(tasks, key=lambda t: str(t.get("id", "")))
                 for item in task.get("interrupts") or () if isinstance(item, Mapping))


def state_row(
    thread: Mapping[str, Any], state: Mapping[str, Any], info: GraphInfo | None,
    ran: Sequence[str] = (),
) -> PendingThread | None:
    """The pause LangGraph's `get_state` shows for a thread, or None if nothing waits.

    Inline interrupts make an `interrupt` pause at the asking tasks' nodes. With none but
    `next` nodes on a thread the server calls `interrupted`, the run stopped at a static
    breakpoint: with the graph loaded (`info`), `before` the nodes it gates, else `after`
    the nodes in `ran` (the step before the head) that it gates; without the graph, the
    server cannot say which, and the pause is shown as `before` the nodes that run next
    (what a resume runs either way)."""
    found = state_interrupts(state)
    metadata = thread.get("metadata")
    graph = graph_of(metadata) or graph_of(state.get("metadata"))
    checkpoint = state.get("checkpoint")
    checkpoint_id = str(checkpoint.get("checkpoint_id", "")) \
        if isinstance(checkpoint, Mapping) else ""
    next_nodes = tuple(str(n) for n in state.get("next") or ())
    tasks = {str(t.get("id", "")): str(t.get("name", ""))
             for t in state.get("tasks") or () if isinstance(t, Mapping)}
    common: dict[str, Any] = {
        "thread_id": str(thread["thread_id"]), "checkpoint_ns": "",
        "checkpoint_id": checkpoint_id, "graph": graph,
        "paused_at": parse_time(thread.get("updated_at") or state.get("created_at")),
        "metadata": dict(metadata) if isinstance(metadata, Mapping) else {},
        "next_nodes": next_nodes,
    }
    if found:
        nodes = tuple(sorted({tasks.get(i.task_id, "?") for i in found}))
        return PendingThread(nodes=nodes, kind=PauseKind.INTERRUPT,
                             convention=convention_of(found), interrupts=found,
                             summary=summary_of(found), **common)
    if not next_nodes:
        return None
    kind, nodes = PauseKind.BEFORE, tuple(dict.fromkeys(next_nodes))
    summary = f"paused before {', '.join(nodes)}"
    if info is not None:
        gated = tuple(dict.fromkeys(n for n in next_nodes if info.pauses_before(n)))
        after = tuple(dict.fromkeys(n for n in ran if info.pauses_after(n)))
        if gated:
            nodes, summary = gated, f"paused before {', '.join(gated)}"
        elif after:
            kind, nodes = PauseKind.AFTER, after
            summary = f"paused after {', '.join(after)}; next: {', '.join(next_nodes)}"
    else:  # before or after is the graph's secret: --graph tells
        summary += " (breakpoint)"
    return PendingThread(nodes=nodes, kind=kind, convention=Convention.BREAKPOINT,
                         interrupts=(), summary=summary, **common)
