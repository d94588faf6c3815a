"""State edits for a pause inside a subgraph: into the state the paused node reads.

`Command(update=...)` writes the root graph's channels. A node paused inside a subgraph
re-runs, on resume, from the subgraph's own paused checkpoint (namespace
`node:task_id|child:task_id...`), which a root update never reaches; the subgraph's output
then even overwrites the root edit (measured: the paused node read 5 and the root ended
at 5 after `--edit '{"amount": 7}'`).

LangGraph keeps a Command's update as writes of the null task on the checkpoint being
resumed and applies them through the channels' reducers before any task runs; a nested
run does the same with the null-task writes of *its* checkpoint. So the console writes
the update there and resumes with the answers alone: the paused node reads the edited
state, and its task and interrupt ids stay the same. (`aupdate_state` on the subgraph's
config would save a new checkpoint, hence a new task id and interrupt id: the node would
ask its question again instead of receiving the answer.)

Where the pause's questions sit in more than one state (parallel subgraphs), an edit
cannot say which state it is for and is refused; so is one for a subgraph the loaded
graph does not declare as a node (its channels, so the edit, cannot be checked).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from console.core.graphs import GraphInfo
from console.core.ledger.decisions import DecisionInput, DecisionRefused, Plan, plan_decision
from console.core.models import PendingThread

# LangGraph's NULL_TASK_ID (langgraph/_internal/_constants.py): the task id under which a
# Command's own writes are stored and applied at the start of the next run of that graph.
NULL_TASK_ID = "00000000-0000-0000-0000-000000000000"
ROOT_LABEL = "the root state"


def namespace_path(checkpoint_ns: str) -> str:
    """`mid:1f..|inner:2a..` -> `mid|inner`: the subgraph path without task ids."""
    return "|".join(part.split(":", 1)[0] for part in checkpoint_ns.split("|") if part)


def target_label(checkpoint_ns: str | None) -> str:
    """Where an update lands, in words: root, a subgraph, or not known here."""
    if checkpoint_ns is None:
        return ("the paused node's state (resolved where the graph is loaded: the root, "
                "or the subgraph the pause is in)")
    if not checkpoint_ns:
        return ROOT_LABEL
    return (f"subgraph state {namespace_path(checkpoint_ns).replace('|', ' > ')} "
            f"(checkpoint_ns {checkpoint_ns})")


@dataclass(frozen=True, slots=True)
class UpdateTarget:
    """The state a pause's node reads: its namespace, checkpoint, values and graph."""

    checkpoint_ns: str  # '' for the root graph
    checkpoint_id: str
    values: Mapping[str, Any]
    graph: GraphInfo  # the (sub)graph that owns the state's channels

    @property
    def nested(self) -> bool:
        return bool(self.checkpoint_ns)

    def config(self, thread_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id, "checkpoint_ns": self.checkpoint_ns,
                                 "checkpoint_id": self.checkpoint_id}}


def _leaves(snapshot: Any, ids: frozenset[str], found: dict[str, Any]) -> None:
    """The innermost state snapshots holding the pause: following the tasks that carry
    its interrupt ids (every next task at a breakpoint) down into subgraph states."""
    here = False
    for task in snapshot.tasks:
        mine = {i.id for i in task.interrupts}
        if ids and not mine & ids:
            continue
        child = task.state
        if child is not None and hasattr(child, "tasks"):
            _leaves(child, ids, found)
        else:
            here = True
    if here:
        found[snapshot.config["configurable"].get("checkpoint_ns", "")] = snapshot


async def update_target(graph: GraphInfo, saver: Any, pause: PendingThread) -> UpdateTarget:
    """The one state an edit of this pause must land in; DecisionRefused if there is none."""
    runnable = graph.graph.copy(update={"checkpointer": saver})
    config = {"configurable": {"thread_id": pause.thread_id, "checkpoint_ns": ""}}
    root = await runnable.aget_state(config, subgraphs=True)
    found: dict[str, Any] = {}
    _leaves(root, frozenset(pause.interrupt_ids), found)
    if not found:
        found[""] = root
    if len(found) > 1:
        where = ", ".join(target_label(ns) for ns in sorted(found))
        raise DecisionRefused(
            f"This pause waits in {len(found)} states ({where}): a state edit cannot say "
            "which one it is for. Nothing was written; decide without --edit.")
    namespace, snapshot = next(iter(found.items()))
    owner = graph
    if namespace:
        path = namespace_path(namespace)
        subgraphs = dict(runnable.get_subgraphs(namespace=path, recurse=True))
        if path not in subgraphs:
            raise DecisionRefused(
                f"The pause is in {target_label(namespace)}, which graph {graph.name!r} does "
                "not declare as a node (a graph called from inside a node?), so an edit "
                "there cannot be checked. Nothing was written; decide without --edit.")
        owner = GraphInfo.of(f"{graph.name} > {path.replace('|', ' > ')}", subgraphs[path])
    return UpdateTarget(
        checkpoint_ns=namespace,
        checkpoint_id=str(snapshot.config["configurable"]["checkpoint_id"]),
        values=dict(snapshot.values) if isinstance(snapshot.values, Mapping) else {},
        graph=owner,
    )


async def plan_edit(
    graph: GraphInfo, saver: Any, pause: PendingThread, choice: DecisionInput,
    templates: Mapping[str, Any] | None,
) -> Plan:
    """`plan_decision` for a decision with a state edit, checked and previewed against
    the state the paused node reads; the plan says which namespace the update lands in."""
    target = await update_target(graph, saver, pause)
    plan = plan_decision(pause, target.values, choice, target.graph, templates)
    if target.nested and plan.breakpoint_action == "skip":
        raise DecisionRefused(
            f"A rejection ends the run without running {target_label(target.checkpoint_ns)}"
            ", so an edit of it would be dropped. Nothing was written; reject without an edit.")
    return dataclasses.replace(plan, update_ns=target.checkpoint_ns)


async def write_nested_update(store: Any, target: UpdateTarget, thread_id: str,
                              update: Mapping[str, Any]) -> None:
    """Store the update as the null task's writes on the paused subgraph checkpoint.

    Any null-task writes already there are the console's own, left by a resume that
    failed or a process that died: the savers never overwrite a write (the same
    task and index are ignored), so they are cleared first or the old edit would win.
    """
    from console.core.store.null_writes import clear_null_writes

    await clear_null_writes(store, thread_id, target.checkpoint_ns, target.checkpoint_id)
    await store.saver.aput_writes(target.config(thread_id), list(update.items()), NULL_TASK_ID)


async def forget_nested_update(store: Any, target: UpdateTarget, thread_id: str) -> None:
    """Undo `write_nested_update` after a failed resume, so the next decision on this
    pause (a rejection, say) does not carry the failed one's edit."""
    from console.core.store.null_writes import clear_null_writes

    await clear_null_writes(store, thread_id, target.checkpoint_ns, target.checkpoint_id)
