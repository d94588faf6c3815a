"""Point 5 of the pause rule (`console.core.pauses`): a breakpoint inside a subgraph.

A compiled subgraph that is a node of the root graph checkpoints under its own namespace
(`checkpoint_ns` = `node:task_id`, `node:task_id|child:task_id` one level down), and
LangGraph's `aget_state(subgraphs=True)` reads each task's subgraph state from the newest
checkpoint of that namespace. When a subgraph stops at a static breakpoint of its own,
nothing is written at the root: the root task just stays unfinished. So the root head
alone cannot say whether such a task is paused inside or still running, failed or
crashed; its subgraph's newest checkpoint (a `Level`) says it.

A level is **stopped** when, read from its newest checkpoint (created after the
checkpoint of the level above, so by a task that is still to finish there):
- no unfinished task of its own holds an interrupt write (that is an inline question);
- no unfinished task of its own failed (an `__error__` write) unless that task runs a
  subgraph whose level is itself stopped: LangGraph keeps a task's error in a fixed write
  slot, so the error of a run that failed stays after a later run of the same task
  stopped inside its subgraph (such an error is older than the stop);
- and its unfinished tasks meet its own `interrupt_before`, or the nodes that ran in the
  step that made it (its parent's tasks when that parent is the step before, or the
  nodes whose `versions_seen` is newest) meet its own `interrupt_after`, or one of its
  unfinished tasks runs a subgraph whose level is stopped.
A root task is **paused inside** when one of its subgraph levels (a fan-out of `Send`s
runs the node in several) is stopped; its own error, if any, is then older than the stop.
A subgraph awaited inside a node function has no gates the loaded graph can name: it is
never paused inside (LangGraph's `aget_state` cannot list it either).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from console.core.pauses import (
    CONTROL_CHANNELS,
    ERROR_CHANNEL,
    INTERRUPT_CHANNEL,
    RAN_PREFIX,
    head_tasks,
    last_ran,
    ran_nodes,
    task_key,
    tokens_of_checkpoint,
)


@dataclass(frozen=True, slots=True)
class Gates:
    """A (sub)graph's own static breakpoints."""

    before: frozenset[str] = frozenset()
    after: frozenset[str] = frozenset()
    before_all: bool = False
    after_all: bool = False

    def pauses_before(self, node: str) -> bool:
        return self.before_all or node in self.before

    def pauses_after(self, node: str) -> bool:
        return self.after_all or node in self.after


@dataclass(slots=True)
class Level:
    """The newest checkpoint of one subgraph namespace, with what its writes say."""

    checkpoint_ns: str
    checkpoint_id: str
    tokens: tuple[str, ...]  # `pauses` task tokens (RAN_PREFIX tokens included)
    # the parent checkpoint's task tokens when it is the step just before, else ()
    parent_tokens: tuple[str, ...] = ()
    finished: set[str] = field(default_factory=set)  # task keys with an output write
    failed: set[str] = field(default_factory=set)  # task keys with an `__error__` write
    asking: set[str | None] = field(default_factory=set)  # task keys with interrupt writes

    def add_write(self, task_path: str, channel: str) -> None:
        """Record one write of this checkpoint (`pauses` write kinds)."""
        key = task_key(task_path)
        if channel == INTERRUPT_CHANNEL:
            self.asking.add(key)
        elif channel == ERROR_CHANNEL:
            if key is not None:
                self.failed.add(key)
        elif channel not in CONTROL_CHANNELS and key is not None:
            self.finished.add(key)


def path_of(checkpoint_ns: str) -> str:
    """`mid:1f..|inner:2a..` -> `mid|inner` (the key of `get_subgraphs(recurse=True)`)."""
    return "|".join(part.split(":", 1)[0] for part in checkpoint_ns.split("|"))


def _parent_ns(checkpoint_ns: str) -> str:
    return checkpoint_ns.rpartition("|")[0]


def _node(checkpoint_ns: str) -> str:
    return checkpoint_ns.rpartition("|")[2].split(":", 1)[0]


class Inside:
    """The rule above over one thread's levels newer than its root head."""

    def __init__(self, levels: Iterable[Level], gates: Mapping[str, Gates]) -> None:
        self.gates = gates
        self._children: dict[str, list[Level]] = {}
        for level in levels:
            self._children.setdefault(_parent_ns(level.checkpoint_ns), []).append(level)
        self._memo: dict[str, bool] = {}

    def paused_inside(self, nodes: Sequence[str]) -> tuple[str, ...]:
        """The root `nodes` (unfinished head tasks) paused inside their subgraph."""
        wanted = set(nodes)
        found = {_node(level.checkpoint_ns) for level in self._children.get("", ())
                 if _node(level.checkpoint_ns) in wanted and self.stopped(level)}
        return tuple(n for n in dict.fromkeys(nodes) if n in found)

    def _kids(self, level: Level) -> dict[str, list[Level]]:
        kids: dict[str, list[Level]] = {}
        for child in self._children.get(level.checkpoint_ns, ()):
            if child.checkpoint_id > level.checkpoint_id:  # run by a task of this one
                kids.setdefault(_node(child.checkpoint_ns), []).append(child)
        return kids

    def stopped(self, level: Level) -> bool:
        known = self._memo.get(level.checkpoint_ns)
        if known is None:
            known = self._memo[level.checkpoint_ns] = self._stopped(level)
        return known

    def _stopped(self, level: Level) -> bool:
        gates = self.gates.get(path_of(level.checkpoint_ns))
        if gates is None:
            return False
        pending = [(key, node) for key, node in head_tasks(level.tokens)
                   if key not in level.finished]
        keys = {key for key, _ in pending}
        if any(key is None or key == "" or key in keys for key in level.asking):
            return False
        kids = self._kids(level)
        stopped_below = False
        for key, node in pending:
            below = any(self.stopped(kid) for kid in kids.get(node, ()))
            if key in level.failed and not below:
                return False
            stopped_below = stopped_below or below
        if any(gates.pauses_before(node) for _, node in pending):
            return True
        ran = [*ran_nodes(level.tokens), *(node for _, node in head_tasks(level.parent_tokens))]
        return any(gates.pauses_after(node) for node in ran) or stopped_below


def level_tokens(checkpoint: Mapping[str, Any]) -> tuple[str, ...]:
    """A subgraph checkpoint's task tokens, with the nodes that ran last even when it has
    no task left (a subgraph stopped after its last node)."""
    tokens = tokens_of_checkpoint(checkpoint)
    if tokens:
        return tokens
    seen = checkpoint.get("versions_seen")
    return tuple(f"{RAN_PREFIX}{node}" for node in last_ran(seen if isinstance(seen, Mapping)
                                                             else {}))


def newest_per_namespace(
    rows: Iterable[tuple[str, str, str | None, Any]],
) -> list[tuple[str, str, str | None]]:
    """From a thread's (namespace, checkpoint id, parent id, metadata step) rows: the
    newest checkpoint of each namespace, with its parent's id when that parent is among
    the rows and is the step just before (its tasks ran last), else None."""
    by_ns: dict[str, dict[str, tuple[str | None, Any]]] = {}
    for ns, checkpoint_id, parent_id, step in rows:
        by_ns.setdefault(ns, {})[checkpoint_id] = (parent_id, step)
    out = []
    for ns, checkpoints in by_ns.items():
        newest = max(checkpoints)
        parent_id, step = checkpoints[newest]
        parent = checkpoints.get(parent_id) if parent_id else None
        before = parent is not None and isinstance(step, int) and parent[1] == step - 1
        out.append((ns, newest, parent_id if before else None))
    return out


# (thread id, checkpoint namespace, checkpoint id): one subgraph checkpoint a store reads
LevelKey = tuple[str, str, str]
Chosen = Mapping[str, Sequence[tuple[str, str, str | None]]]  # `newest_per_namespace`, by thread


def checkpoints_to_read(chosen: Chosen) -> list[LevelKey]:
    """The subgraph checkpoints whose tasks a store reads for `chosen`: each namespace's
    newest, and its parent where `newest_per_namespace` kept one."""
    return [(thread_id, ns, checkpoint_id) for thread_id, found in chosen.items()
            for ns, newest, parent in found for checkpoint_id in (newest, parent)
            if checkpoint_id is not None]


def levels_from(chosen: Chosen, tokens: Mapping[LevelKey, tuple[str, ...] | None]
                ) -> dict[LevelKey, Level]:
    """A `Level` for each chosen newest checkpoint that could be read (an unreadable one
    is not stopped), keyed for the store to add its writes (`Level.add_write`)."""
    levels: dict[LevelKey, Level] = {}
    for thread_id, found in chosen.items():
        for ns, newest, parent in found:
            own = tokens.get((thread_id, ns, newest))
            if own is not None:
                levels[(thread_id, ns, newest)] = Level(
                    ns, newest, own, tokens.get((thread_id, ns, parent or "")) or ())
    return levels


def levels_by_thread(levels: Mapping[LevelKey, Level]) -> dict[str, list[Level]]:
    """`CheckpointStore.nested_levels`' answer: each thread's levels, in reading order."""
    out: dict[str, list[Level]] = {}
    for (thread_id, _, _), level in levels.items():
        out.setdefault(thread_id, []).append(level)
    return out
