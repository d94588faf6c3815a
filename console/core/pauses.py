"""The pause rule: which tasks a head checkpoint has, and which of them wait for a human.

Stated in LangGraph's terms (`langgraph/pregel/_algo.py` `prepare_next_tasks`,
`pregel/main.py` `_prepare_state_snapshot`, `pregel/_task_status.py`), this is what
`aget_state()` reports as `next` and `interrupts`, read from the stored rows alone:

1. **The head's tasks** are the tasks LangGraph would prepare from the newest root
   checkpoint (checkpoint_ns ''):
   - **PUSH tasks**: one per packet in the `__pregel_tasks` channel when it holds any
     (`Send` from a conditional edge, `create_agent`'s tool calls dispatched one per call);
     no version check. Task path `(__pregel_push, i, ...)`, node = the packet's `node`.
   - **PULL tasks**: a node whose trigger channel holds a value newer than the version the
     node has seen (`versions_seen[node][channel]`; a node that never ran has seen
     nothing). Triggers: `branch:to:NODE` (StateGraph edges), `__start__` (the START node
     of a StateGraph, the entrypoint of the Functional API). Task path
     `(__pregel_pull, NODE)`.
   `@task` calls of the Functional API are PUSH tasks made while the entrypoint runs
   (path `(__pregel_push, (__pregel_pull, ENTRYPOINT), ...)`): they are never head tasks;
   their writes are the entrypoint's cache, and an `interrupt()` inside one is raised
   again by the entrypoint, whose own interrupt write is the one that counts.
2. **A task has finished** once it has any write on a channel other than the control
   channels (`__interrupt__`, `__resume__`, `__error__`, `__error_source_node__`).
   `next` = the nodes of the head's tasks that have not finished.
3. **An inline pause** is an `__interrupt__` write at the head by a head task that has not
   finished, whatever made the task (PULL or PUSH) and however deep the `interrupt()` was
   (a subgraph's interrupt is written under the root task that runs the subgraph).
4. **A static breakpoint** writes nothing: a head whose unfinished tasks include a node in
   the loaded graph's `interrupt_before` (PUSH tasks included), or whose parent's tasks
   (the ones that just ran) include one in `interrupt_after`. When the saved parent is not
   the step just before (durability "exit" saves only a run's last checkpoint), the PULL
   nodes that ran last are read from `versions_seen` (`last_ran`), as long as no run went
   on from the head since (no write of its tasks, no subgraph checkpoint after it); a
   PUSH task's run is recorded nowhere (its trigger is no channel), so such a stop after
   a `Send` target cannot be named. Without the graph, a head with unfinished tasks and
   no pending interrupt is "stalled" once older than the grace period.
5. **A breakpoint inside a subgraph** writes nothing at the root either: an unfinished
   head task is paused inside when its subgraph's own newest checkpoint is stopped at
   that subgraph's breakpoint (`console.core.inside` states it in full, stale errors
   included).

Writes are matched to head tasks by their stored task path (`task_key`), not by task id:
a PULL task's id hashes all of its node's trigger channels, which only the graph knows.
A write with no stored path (rows of savers older than task paths) is taken as a head
task's.

The backends read the parts (the Postgres SQL in `store/pg_schema.py` computes the same
trigger test and marks PUSH packets with `PUSH_MARK`; SQLite decodes the checkpoint with
`tokens_of_checkpoint`), and `store/heads.py` applies points 2-4 through `head_tasks`;
the rows it marks with a `Settle` get point 5 from the subgraph checkpoints the store
reads for them (`CheckpointStore.settle`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import ormsgpack

TRIGGER_PREFIX = "branch:to:"
START_CHANNEL = "__start__"
TASKS_CHANNEL = "__pregel_tasks"
INTERRUPT_CHANNEL = "__interrupt__"
ERROR_CHANNEL = "__error__"
CONTROL_CHANNELS = frozenset({"__interrupt__", "__resume__", "__error__", "__error_source_node__"})

# A head's tasks as one tuple of tokens: a PULL task is its node's name; a PUSH task is
# PUSH_PREFIX + node, in packet order. Postgres SQL cannot decode the packets and gives
# PUSH_MARK instead; the reader replaces it with the packets' tokens (`expand_push`).
PUSH_PREFIX = "~push:"
PUSH_MARK = "~push"
# The `__start__` channel's subscriber when the stored rows do not name it (a thread's
# first run: nothing has seen `__start__` yet). Named from the graph or an interrupt path.
START_MARK = "~start"
# A head whose stored parts are not a checkpoint (Postgres SQL cannot raise per row, so it
# gives this token instead of failing the whole query); the reader makes it `unreadable`.
UNREADABLE_MARK = "~unreadable"
# A node that ran in the step that made the checkpoint (`last_ran`): not a task, but what
# `interrupt_after` asks about when the parent checkpoint was never saved (durability
# "exit") and so cannot name the tasks that ran.
RAN_PREFIX = "~ran:"

_PULL = "__pregel_pull"
_PUSH = "__pregel_push"


def task_key(task_path: str) -> str | None:
    """The head-task key of a write's stored task path: a PULL task's node, PUSH_PREFIX +
    the packet index for a PUSH task, "" when no path was stored, None for anything else
    (a Functional API `@task` call, made while its entrypoint ran)."""
    if not task_path:
        return ""
    parts = task_path.lstrip("~").split(", ")
    if len(parts) < 2:
        return None
    kind, second = parts[0].strip(), parts[1].strip()
    if kind == _PULL:
        return second
    if kind == _PUSH and second.isdigit():
        return f"{PUSH_PREFIX}{int(second)}"
    return None


def head_tasks(tokens: Sequence[str]) -> list[tuple[str, str]]:
    """(key, node) of each head task named by `tokens` (PULL names, PUSH tokens)."""
    tasks = []
    index = 0
    for token in tokens:
        if token.startswith(RAN_PREFIX):
            continue
        if token.startswith(PUSH_PREFIX):
            tasks.append((f"{PUSH_PREFIX}{index}", token[len(PUSH_PREFIX):]))
            index += 1
        else:
            tasks.append((token, token))
    return tasks


def resolve_start(
    tokens: Sequence[str], start_nodes: Iterable[str] | None, asking_paths: Iterable[str],
    failed_keys: Iterable[str] = (),
) -> tuple[str, ...]:
    """`tokens` with START_MARK replaced by the `__start__` channel's subscriber: the
    graph's (`start_nodes`), else the node of a pending interrupt's (or a failed task's)
    PULL task that no other trigger explains, else `__start__` (a StateGraph's START node,
    the usual case)."""
    if START_MARK not in tokens:
        return tuple(tokens)
    names: list[str] = list(start_nodes or ())
    if not names:
        explained = set(tokens)
        keys = [task_key(path) for path in asking_paths]
        for key in [*keys, *failed_keys]:
            if key and not key.startswith(PUSH_PREFIX) and key not in explained:
                names = [key]
                break
    names = names or [START_CHANNEL]
    out: list[str] = []
    for token in tokens:
        out.extend(names if token == START_MARK else (token,))
    return tuple(out)


def tokens_of_checkpoint(checkpoint: Mapping[str, Any]) -> tuple[str, ...]:
    """The head-task tokens of a checkpoint decoded with `light_unpackb` (or the
    serializer): PUSH packets first, in order, then triggered PULL nodes, sorted."""
    values = checkpoint.get("channel_values") or {}
    versions = checkpoint.get("channel_versions") or {}
    seen = checkpoint.get("versions_seen") or {}
    tokens = [f"{PUSH_PREFIX}{node}" for node in send_nodes(values.get(TASKS_CHANNEL))]
    pull = []
    for channel in values:
        if channel.startswith(TRIGGER_PREFIX):
            node = channel[len(TRIGGER_PREFIX):]
        elif channel == START_CHANNEL:
            node = start_subscriber(seen)
        else:
            continue
        version = versions.get(channel)
        if version is None:
            continue
        node_seen = seen.get(node) if node != START_MARK else None
        last = node_seen.get(channel) if isinstance(node_seen, Mapping) else None
        if last is None or _version_key(version) > _version_key(last):
            pull.append(node)
    if not tokens and not pull:
        return ()
    return (*tokens, *sorted(pull), *(f"{RAN_PREFIX}{node}" for node in last_ran(seen)))


def last_ran(versions_seen: Mapping[str, Any]) -> tuple[str, ...]:
    """The nodes that ran last: each node's `versions_seen` holds the versions of the
    triggers it consumed, and a step's writes all get one new, greatest version, so the
    nodes that consumed the greatest version ran in the newest step."""
    tops = {}
    for node, seen in versions_seen.items():
        if not node.startswith("__") and isinstance(seen, Mapping) and seen:
            tops[node] = max(_version_key(v) for v in seen.values())
    if not tops:
        return ()
    top = max(tops.values())
    return tuple(sorted(node for node, version in tops.items() if version == top))


def ran_nodes(tokens: Iterable[str]) -> list[str]:
    """The nodes named by `RAN_PREFIX` tokens."""
    return [t[len(RAN_PREFIX):] for t in tokens if t.startswith(RAN_PREFIX)]


def start_subscriber(versions_seen: Mapping[str, Any]) -> str:
    """The node that has seen `__start__` before (the StateGraph START node, a Functional
    API entrypoint on a later run), or START_MARK when none has."""
    for node, seen in versions_seen.items():
        if node != "__input__" and isinstance(seen, Mapping) and START_CHANNEL in seen:
            return str(node)
    return START_MARK


def _version_key(version: Any) -> tuple[float, str]:
    # Savers use "000..0042.0.1234" strings; the in-memory saver uses ints.
    if isinstance(version, int | float):
        return (float(version), "")
    return (0.0, str(version))


class SendPacket:
    """A `Send` packet's target node, read without building the object."""

    __slots__ = ("node",)

    def __init__(self, node: str) -> None:
        self.node = node


_EXT_CONSTRUCTOR_POS_ARGS = 1  # langgraph.checkpoint.serde._msgpack


def _light_ext(code: int, data: bytes) -> Any:
    """Msgpack ext values as None, except `Send` packets (as `SendPacket`): nothing named by
    a row is imported or called."""
    if code == _EXT_CONSTRUCTOR_POS_ARGS:
        try:
            parts = ormsgpack.unpackb(data, option=ormsgpack.OPT_NON_STR_KEYS,
                                      ext_hook=_no_ext)
        except ormsgpack.MsgpackDecodeError:
            return None
        if (isinstance(parts, list) and parts[:2] == ["langgraph.types", "Send"]
                and isinstance(parts[2], list) and parts[2] and isinstance(parts[2][0], str)):
            return SendPacket(parts[2][0])
    return None


def _no_ext(code: int, data: bytes) -> None:
    return None


def light_unpackb(blob: bytes) -> Any:
    """A msgpack blob with every ext value None but `Send` packets (`SendPacket`)."""
    return ormsgpack.unpackb(blob, ext_hook=_light_ext, option=ormsgpack.OPT_NON_STR_KEYS)


def send_nodes(value: Any) -> tuple[str, ...]:
    """Target nodes of a `__pregel_tasks` value (decoded packets: `SendPacket` or `Send`)."""
    if not isinstance(value, list | tuple):
        return ()
    nodes = []
    for packet in value:
        node = getattr(packet, "node", None)
        if isinstance(node, str):
            nodes.append(node)
    return tuple(nodes)


def send_nodes_of_blob(
    type_: str | None, blob: bytes | None, serde: Any = None
) -> tuple[str, ...]:
    """Target nodes of a stored `__pregel_tasks` blob: plain msgpack decoded lightly, any
    other type (an encrypted store's) by `serde`, the console's safe serializer.

    Without one, another type raises (the head is unreadable): read as "no packets", the
    head would look finished and drop out of the queue."""
    if not blob:
        return ()
    if type_ == "msgpack":
        return send_nodes(light_unpackb(bytes(blob)))
    if serde is None:
        raise NotImplementedError(f"Unknown serialization type: {type_}")
    return send_nodes(serde.loads_typed((type_, bytes(blob))))


def expand_push(tokens: Sequence[str], push_nodes: Sequence[str]) -> tuple[str, ...]:
    """`tokens` with PUSH_MARK replaced by one PUSH token per packet."""
    if PUSH_MARK not in tokens:
        return tuple(tokens)
    out: list[str] = []
    for token in tokens:
        if token == PUSH_MARK:
            out.extend(f"{PUSH_PREFIX}{node}" for node in push_nodes)
        else:
            out.append(token)
    return tuple(out)
