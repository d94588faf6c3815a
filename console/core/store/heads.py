"""Turning a thread's head checkpoint into a pending pause, the same way for every backend.

The backends read each head's task tokens and writes (`console.core.pauses` states the
rule in LangGraph's terms); this module applies it and decides what kind of pause it is.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import ormsgpack

from console.core.conventions import detect_convention, summarize_value
from console.core.errors import unreadable_reason
from console.core.graphs import GraphInfo, GraphRegistry
from console.core.inside import Inside, Level
from console.core.models import (
    DEFAULT_GRACE_SECONDS,
    Convention,
    PauseKind,
    PendingFilter,
    PendingInterrupt,
    PendingThread,
)
from console.core.pauses import (
    CONTROL_CHANNELS,
    ERROR_CHANNEL,
    INTERRUPT_CHANNEL,
    expand_push,
    head_tasks,
    ran_nodes,
    resolve_start,
    task_key,
)

__all__ = ["CONTROL_CHANNELS", "ERROR_CHANNEL", "INTERRUPT_CHANNEL"]


# One raw interrupt write, as stored: (task_id, task_path, serializer type, blob).
RawInterrupt = tuple[str, str, str, bytes]


@dataclass(slots=True)
class HeadState:
    """The facts about one head checkpoint that classification needs.

    Interrupt writes and metadata stay serialized: rows decode them on demand.
    """

    thread_id: str
    checkpoint_id: str
    parent_checkpoint_id: str | None
    paused_at: datetime
    # a dict, or the stored JSON (str / bytes) not parsed yet
    metadata: Any
    # the head's tasks as `pauses` tokens (PULL node names, PUSH tokens, START_MARK)
    next_nodes: tuple[str, ...]
    # task_id -> (task_path, [(serializer type, blob), ...]) of `__interrupt__` writes
    interrupt_writes: dict[str, tuple[str, list[tuple[str, bytes]]]] = field(
        default_factory=dict)
    finished_tasks: set[str] = field(default_factory=set)
    # `pauses.task_key` of every task with an output write
    finished_nodes: set[str] = field(default_factory=set)
    # `pauses.task_key` of every task with an `__error__` write
    failed_nodes: set[str] = field(default_factory=set)
    parent_next_nodes: tuple[str, ...] | None = None
    # metadata's graph_id when the store read it apart (metadata left serialized)
    graph_id: str | None = None
    # why the head cannot be read (`errors.unreadable_reason`), None when it can
    error: str | None = None

    def add_interrupt_write(self, task_id: str, task_path: str, type_: str, blob: bytes) -> None:
        _, earlier = self.interrupt_writes.get(task_id, (task_path, []))
        self.interrupt_writes[task_id] = (task_path, [*earlier, (type_, blob)])

    def raw_pending(self) -> tuple[RawInterrupt, ...]:
        """Interrupt writes of tasks that produced no output, ordered by task id (what
        `classify` keeps of them is the pause rule's: `Shape.keep`)."""
        return tuple(
            (task_id, path, type_, blob)
            for task_id, (path, writes) in sorted(self.interrupt_writes.items())
            if task_id not in self.finished_tasks
            for type_, blob in writes
        )

    def metadata_graph_id(self) -> str | None:
        """Metadata's `graph_id` (read apart by the store when metadata stays serialized)."""
        if isinstance(self.metadata, Mapping):
            return graph_id_of(self.metadata)
        return self.graph_id

    def add_error_write(self, task_path: str) -> None:
        """Record that a task at this head failed (it is not waiting for a human)."""
        key = task_key(task_path)
        if key:
            self.failed_nodes.add(key)

    def add_output_write(self, task_id: str, task_path: str) -> None:
        """Record that a task at this head produced output (it finished)."""
        self.finished_tasks.add(task_id)
        key = task_key(task_path)
        if key:
            self.finished_nodes.add(key)

    @property
    def pending_nodes(self) -> tuple[str, ...]:
        """The nodes of head tasks that have not finished: LangGraph's `StateSnapshot.next`
        (the `__start__` subscriber named from the interrupt paths, not from a graph)."""
        tokens = resolve_start(self.next_nodes, None,
                               (path for path, _ in self.interrupt_writes.values()),
                               self.failed_nodes)
        done = self.finished_nodes
        return tuple(node for key, node in head_tasks(tokens) if key not in done)


def parse_ts(value: Any) -> datetime:
    """A checkpoint `ts` as an aware UTC datetime (epoch if missing or unreadable)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.fromtimestamp(0, UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class SerdeCodec:
    """Decodes a row's raw interrupt writes and metadata with the saver's serializer."""

    __slots__ = ("serde",)

    def __init__(self, serde: Any) -> None:
        self.serde = serde

    def interrupts(self, raw: Sequence[RawInterrupt]) -> tuple[PendingInterrupt, ...]:
        found = []
        for task_id, task_path, type_, blob in raw:
            items = self.serde.loads_typed((type_, bytes(blob)))
            if not isinstance(items, list | tuple) or not items:  # garbage that decodes
                raise ValueError(f"an interrupt write holds {type(items).__name__}"
                                 f"{'' if items else ' (empty)'}, not interrupts")
            for item in items:
                schema = getattr(item, "response_schema", None)
                schema = schema if isinstance(schema, dict) else None
                value = getattr(item, "value", item)
                found.append(
                    PendingInterrupt(
                        id=str(getattr(item, "id", "")),
                        value=value,
                        task_id=task_id,
                        task_path=task_path,
                        response_schema=schema,
                        convention=detect_convention(value, schema),
                    )
                )
        return tuple(found)

    def summary(self, interrupts: tuple[PendingInterrupt, ...]) -> str:
        if not interrupts:
            return ""
        summary = summarize_value(interrupts[0].value, interrupts[0].convention)
        if len(interrupts) > 1:
            summary = f"{len(interrupts)} interrupts; {summary}"
        return summary

    def metadata(self, raw: Any) -> dict[str, Any]:
        if isinstance(raw, Mapping):
            return dict(raw)
        if isinstance(raw, memoryview):
            raw = bytes(raw)
        return dict(json.loads(raw)) if raw else {}

    def convention(self, raw: Sequence[RawInterrupt]) -> Convention:
        """The pause's convention, decoding only blobs that might not be `raw`.

        A msgpack blob that mentions no `action_request`/`actionRequests` key and whose
        every `response_schema` is nil can only hold raw payloads (the keys that
        `detect_convention` looks for would be in the bytes), so it is not decoded.
        """
        found: set[Convention] = set()
        for _, _, type_, blob in raw:
            data = bytes(blob)
            if (
                type_ == "msgpack"
                and b"action_request" not in data
                and b"actionRequests" not in data
                and b"tool_approval" not in data  # a tool approval may come without schema
                and data.count(b"response_schema") == data.count(_NIL_SCHEMA)
            ):
                found.add(Convention.RAW)
            else:
                found.update(self._conventions(type_, data))
            if len(found) > 1:
                return Convention.RAW
        return found.pop() if found else Convention.RAW


    def _conventions(self, type_: str, data: bytes) -> list[Convention]:
        """Conventions of one write's interrupts. Plain msgpack (no types but Interrupt
        itself) is read without building objects; anything else through the serializer."""
        if type_ == "msgpack":
            try:
                items = ormsgpack.unpackb(data, ext_hook=_light_ext,
                                          option=ormsgpack.OPT_NON_STR_KEYS)
            except (ormsgpack.MsgpackDecodeError, _NotLight):
                items = None
            if isinstance(items, list) and all(isinstance(i, _LightInterrupt) for i in items):
                out = []
                for item in items:
                    schema = item.get("response_schema")
                    out.append(detect_convention(item.get("value"),
                                                 schema if isinstance(schema, dict) else None))
                return out
        return [item.convention for item in self.interrupts([("", "", type_, data)])]


class _NotLight(Exception):
    pass


class _LightInterrupt(dict):  # type: ignore[type-arg]
    """The fields of a serialized `Interrupt`, not rebuilt."""


_EXT_CONSTRUCTOR_KW_ARGS = 2  # langgraph.checkpoint.serde.jsonplus


def _light_ext(code: int, data: bytes) -> Any:
    if code == _EXT_CONSTRUCTOR_KW_ARGS:
        parts = ormsgpack.unpackb(data, ext_hook=_light_ext, option=ormsgpack.OPT_NON_STR_KEYS)
        if parts[:2] == ["langgraph.types", "Interrupt"] and isinstance(parts[2], dict):
            return _LightInterrupt(parts[2])
    raise _NotLight


# `response_schema` as a fixstr key followed by msgpack nil
_NIL_SCHEMA = b"\xafresponse_schema\xc0"


def pending_interrupts(
    head: HeadState, shapes: ShapeClassifier, codec: SerdeCodec
) -> tuple[PendingInterrupt, ...]:
    """Interrupts at the head that wait for an answer (the pause rule's), decoded."""
    raw = head.raw_pending()
    return codec.interrupts(_kept(raw, _shape_of_head(head, shapes, raw).keep))


def _shape_of_head(
    head: HeadState, shapes: ShapeClassifier, raw: tuple[RawInterrupt, ...]
) -> Shape:
    return shapes.of_parts(head.metadata_graph_id(), head.next_nodes,
                           tuple(sorted(head.finished_nodes)), head.parent_next_nodes or (),
                           tuple(path for _, path, _, _ in raw),
                           tuple(sorted(head.failed_nodes)))


def _kept(raw: tuple[RawInterrupt, ...], keep: tuple[bool, ...] | None) -> tuple[RawInterrupt, ...]:
    """The interrupt writes the pause rule keeps (`Shape.keep`; None keeps all)."""
    if keep is None:
        return raw
    return tuple(item for item, kept in zip(raw, keep, strict=True) if kept)


def classify(
    head: HeadState,
    shapes: ShapeClassifier,
    *,
    now: datetime,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    codec: SerdeCodec,
    young: dict[str, datetime] | None = None,
) -> PendingThread | None:
    """The pending pause this head represents, or None if it is not waiting for a human:
    its `Shape` (memoized by `shapes`), then `pause_of` (`young`: see there).

    Interrupt payloads are not decoded here unless the convention needs it: the row
    decodes them on first access.
    """
    if head.error is not None:
        return PendingThread.unreadable(head.thread_id, head.checkpoint_id, head.paused_at,
                                        head.error, head.metadata_graph_id())
    raw = head.raw_pending()
    shape = _shape_of_head(head, shapes, raw)
    return pause_of(shape, head.thread_id, head.checkpoint_id, head.paused_at, raw,
                    head.metadata, now=now, grace_seconds=grace_seconds, codec=codec,
                    young=young)


def pause_of(
    shape: Shape,
    thread_id: str,
    checkpoint_id: str,
    paused_at: datetime,
    raw: tuple[RawInterrupt, ...],
    raw_metadata: Any,
    *,
    now: datetime,
    grace_seconds: float,
    codec: SerdeCodec,
    young: dict[str, datetime] | None = None,
) -> PendingThread | None:
    """The per-row rest of classification once the head's `Shape` is known: the grace
    period of a stalled head and the convention of interrupt payloads; the row stays lazy.
    A stalled head still in its grace period is noted in `young` (thread -> paused_at):
    time alone will make it pending, with no write to tell anyone.
    (Called once per queue row: kept flat.)"""
    kind = shape.kind
    if kind is None:
        return None
    if shape.keep is not None:
        raw = _kept(raw, shape.keep)
    if raw:
        try:
            convention = codec.convention(raw)
        except Exception as exc:  # a hostile or corrupt row: this row only
            return PendingThread.unreadable(thread_id, checkpoint_id, paused_at,
                                            unreadable_reason(exc), shape.graph)
    elif shape.stalled and (now - paused_at).total_seconds() < grace_seconds:
        if young is not None:
            young[thread_id] = paused_at
        return None  # young: most likely still running
    else:
        convention = shape.convention or Convention.BREAKPOINT
    row = PendingThread.lazy_row(thread_id, checkpoint_id, shape.graph, shape.nodes, kind,
                                 convention, paused_at, shape.next_nodes, codec, raw,
                                 raw_metadata, shape.summary)
    return row if shape.settle is None else row.settled_as(shape.settle)


# A read of at least this many rows gives its freed heap back to the OS afterwards.
TRIM_AFTER_ROWS = 5000
_malloc_trim: Any = None


def release_freed_memory() -> None:
    """Return the heap pages a big read freed (result buffers, fetched blobs) to the OS.

    glibc keeps freed memory for reuse, but the rows built next live in Python's own
    arenas, so a 100k-row read would otherwise keep ~25-40 MB of dead buffers resident
    for the life of the console. A no-op where there is no glibc `malloc_trim`.
    """
    global _malloc_trim
    if _malloc_trim is None:
        _malloc_trim = False
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError, AttributeError):
                _malloc_trim = ctypes.CDLL(None).malloc_trim
    if _malloc_trim:
        _malloc_trim(0)


class Shared(dict[Any, Any]):
    """Equal values of one read as one object: `shared[value]` is the first equal value
    seen. Metadata texts, serializer names and task paths repeat across rows (a gate's
    runs often carry the same metadata); at 100k queue rows a copy each costs ~10 MB.
    At most `limit` distinct values are kept (common ones show up early)."""

    __slots__ = ("limit",)

    def __init__(self, limit: int = 4096) -> None:
        super().__init__()
        self.limit = limit

    def __missing__(self, key: Any) -> Any:
        if len(self) < self.limit:
            self[key] = key
        return key


# Separators of a packed status row (`pg_schema.STATUS_SHAPE_SQL`): fields, list items.
FIELD_SEP = "\x1e"
ITEM_SEP = "\x1f"


class Shape(NamedTuple):
    """What classification decides from a head's graph id, task tokens and interrupt
    paths alone.

    `kind` None: not a pause. `stalled`: a pause only once the head is older than the
    grace period (no loaded graph says why it stopped). `paths`: the task paths of the
    interrupt writes of unfinished tasks, in the row's order; `keep`: which of them are a
    head task's (None: all), the others (a Functional API `@task`'s) are not pauses.
    """

    kind: PauseKind | None
    graph: str | None
    nodes: tuple[str, ...]
    next_nodes: tuple[str, ...]
    convention: Convention | None  # None: decided per row from the interrupt blobs
    summary: str | None
    stalled: bool
    paths: tuple[str, ...]
    keep: tuple[bool, ...] | None = None
    settle: Settle | None = None


class Settle(NamedTuple):
    """What a breakpoint row still needs its subgraphs' own newest checkpoints for
    (`console.core.inside`; `settled` applies it once the store read them)."""

    # unfinished head nodes whose subgraph has breakpoints of its own: paused inside?
    candidates: tuple[str, ...]
    # `interrupt_after` nodes named only by `versions_seen` (durability "exit" saved no
    # checkpoint of the step before): the row's `after` pause, unless the run has been
    # resumed from the head since (a subgraph of its tasks checkpointed after it)
    after: tuple[str, ...] = ()


class ShapeClassifier:
    """`shape_of`, memoized: a queue of 100k rows has a few dozen distinct shapes, so a
    row costs a dict lookup instead of a registry walk and node-name parsing. A shape is
    asked for by its parts (`of_parts`) or as a status row packs it (`__call__`)."""

    __slots__ = ("_cache", "registry")

    LIMIT = 4096  # distinct shapes kept (common ones show up early)

    def __init__(self, registry: GraphRegistry) -> None:
        self.registry = registry
        self._cache: dict[Any, Shape] = {}  # by packed text or by parts

    def __call__(
        self, packed: str, push_nodes: tuple[str, ...] | None = None,
        parent_push_nodes: tuple[str, ...] = (),
    ) -> Shape:
        """The shape of a status row's packed text (`pg_schema.STATUS_SHAPE_SQL`);
        `push_nodes`, `parent_push_nodes`: the `Send` packets' nodes of the head and of its
        parent when the packed tokens hold `PUSH_MARK`."""
        key = packed if push_nodes is None else (packed, push_nodes, parent_push_nodes)
        shape = self._cache.get(key)
        if shape is None:
            graph_id, *lists = packed.split(FIELD_SEP)
            lists += [""] * (5 - len(lists))  # trailing empty fields may be left out
            nxt, done, parent, paths, failed = (
                tuple(p.split(ITEM_SEP)) if p else () for p in lists)
            if push_nodes is not None:
                nxt = expand_push(nxt, push_nodes)
                parent = expand_push(parent, parent_push_nodes)
            # graph id and paths carry a "=" prefix: empty means NULL / none
            paths = (paths[0][1:], *paths[1:]) if paths else ()
            shape = self._keep(key, shape_of(
                self.registry, graph_id[1:] if graph_id else None, nxt, done, parent, paths,
                failed))
        return shape

    def of_parts(
        self,
        graph_id: str | None,
        tokens: tuple[str, ...],
        done_keys: tuple[str, ...],
        parent_tokens: tuple[str, ...],
        paths: tuple[str, ...],
        failed_keys: tuple[str, ...] = (),
    ) -> Shape:
        """`shape_of` these parts (a head read apart, as SQLite's)."""
        key = (graph_id, tokens, done_keys, parent_tokens, paths, failed_keys)
        shape = self._cache.get(key)
        if shape is None:
            shape = self._keep(key, shape_of(self.registry, *key))
        return shape

    def _keep(self, key: Any, shape: Shape) -> Shape:
        if len(self._cache) < self.LIMIT:
            self._cache[key] = shape
        return shape


def shape_of(
    registry: GraphRegistry,
    graph_id: str | None,
    tokens: tuple[str, ...],
    done_keys: Iterable[str],
    parent_tokens: tuple[str, ...],
    paths: tuple[str, ...],
    failed_keys: tuple[str, ...] = (),
) -> Shape:
    """The pause rule (`console.core.pauses`) on a head's parts: its graph, whether and
    how it is paused, its nodes and (for breakpoints) summary. `tokens`: the head's tasks;
    `done_keys`: task keys with output; `parent_tokens`: the parent's tasks (the ones that
    just ran); `paths`: task paths of interrupt writes of tasks without output;
    `failed_keys`: task keys with an `__error__` write."""
    hint = {"graph_id": graph_id}
    all_nodes = [node for _, node in head_tasks(tokens)]
    info = registry.for_thread(hint, all_nodes)
    graph = info.name if info else graph_id_of(hint)
    tasks = head_tasks(resolve_start(tokens, info.start_nodes if info else None, paths,
                                     failed_keys))
    done = set(done_keys)
    pending = tuple(node for key, node in tasks if key not in done)
    resumed = bool(done or failed_keys)  # a task of the head has a write
    if not tasks:
        return Shape(None, graph, (), pending, None, None, False, ())
    if paths:
        node_of = dict(tasks)
        keys = [task_key(path) for path in paths]
        keep = tuple(key == "" or (key is not None and key in node_of) for key in keys)
        asking = {(node_of[key] if key else _unnamed(pending))
                  for key, kept in zip(keys, keep, strict=True) if kept}
        if asking:
            return Shape(PauseKind.INTERRUPT, graph, tuple(sorted(asking)), pending, None, None,
                         False, paths, None if all(keep) else keep)
        # only `@task` calls asked (their entrypoint failed instead of asking again): no
        # question is pending, and none of theirs is shown
        # (their paths stay, so a row's interrupt writes still line up with `keep`)
        return _breakpoint_shape(info, graph, pending, parent_tokens, tokens,
                                 resumed)._replace(paths=paths, keep=keep)
    return _breakpoint_shape(info, graph, pending, parent_tokens, tokens, resumed)


def _breakpoint_shape(
    info: GraphInfo | None, graph: str | None, pending: tuple[str, ...],
    parent_tokens: tuple[str, ...], tokens: tuple[str, ...], resumed: bool,
) -> Shape:
    """Points 4 and 5 of the pause rule: a head with no question (`resumed`: a task of
    the head has a write, so a run went on from it since it was saved)."""
    if not pending:
        return Shape(None, graph, (), pending, None, None, False, ())
    if info is not None:
        nodes = tuple(dict.fromkeys(n for n in pending if info.pauses_before(n)))
        if nodes:
            return Shape(PauseKind.BEFORE, graph, nodes, pending, Convention.BREAKPOINT,
                         f"paused before {', '.join(nodes)}", False, ())
        nodes = tuple(dict.fromkeys(node for _, node in head_tasks(parent_tokens)
                                    if info.pauses_after(node)))
        if nodes:
            return _after(graph, nodes, pending, None)
        # a subgraph that stopped at a breakpoint of its own (point 5) is told from one
        # still running, failed or crashed by its own newest checkpoint: settled later
        inside = tuple(dict.fromkeys(n for n in pending if n in info.nested_breakpoints))
        if not resumed:
            ran = tuple(dict.fromkeys(n for n in (*ran_nodes(tokens), *ran_nodes(parent_tokens))
                                      if info.pauses_after(n)))
            if ran:
                return _after(graph, ran, pending, Settle(inside, ran))
        if inside:
            return Shape(PauseKind.BEFORE, graph, inside, pending, Convention.BREAKPOINT,
                         _inside_summary(inside), False, (), settle=Settle(inside))
        # the graph says no breakpoint: the run is still going (or crashed)
        return Shape(None, graph, (), pending, None, None, False, ())
    shown = tuple(dict.fromkeys(pending))
    return Shape(PauseKind.STALLED, graph, shown, pending, Convention.BREAKPOINT,
                 f"paused before {', '.join(shown)} (breakpoint or stalled)", True, ())


def _after(graph: str | None, nodes: tuple[str, ...], pending: tuple[str, ...],
           settle: Settle | None) -> Shape:
    return Shape(PauseKind.AFTER, graph, nodes, pending, Convention.BREAKPOINT,
                 f"paused after {', '.join(nodes)}; next: {', '.join(pending)}", False, (),
                 settle=settle)


def _inside_summary(nodes: tuple[str, ...]) -> str:
    return f"paused inside {', '.join(nodes)} (a subgraph's breakpoint)"


def settled(pause: PendingThread, levels: list[Level], info: GraphInfo | None
            ) -> PendingThread | None:
    """A row with a `Settle`, decided from its thread's subgraph levels newer than its
    head (`console.core.inside`): its `after` pause while no run went on from the head,
    else the nodes paused inside their subgraph, else no pause at all."""
    settle: Settle = pause.settle
    if settle.after and not levels:
        return pause.settled_as(None)
    inside = Inside(levels, info.subgraph_gates).paused_inside(settle.candidates) \
        if info is not None and settle.candidates and levels else ()
    if not inside:
        return None
    return pause.settled_as(None, inside, _inside_summary(inside))


def graph_id_of(metadata: Mapping[str, Any]) -> str | None:
    """Metadata's `graph_id`, if it is a string."""
    graph_id = metadata.get("graph_id")
    return graph_id if isinstance(graph_id, str) else None


def _unnamed(pending: tuple[str, ...]) -> str:
    """The node of an interrupt write stored without a task path."""
    names = tuple(dict.fromkeys(pending))
    return names[0] if len(names) == 1 else ",".join(names)


def search_text(thread: PendingThread) -> str:
    """What the queue's free-text search looks in, casefolded: thread id, graph, nodes
    and summary. `matches` looks in this text, so the UI and `pending --search` always
    agree; the console keeps it as its two `search_parts`."""
    return " ".join(search_parts(thread))


def search_parts(thread: PendingThread) -> tuple[str, str]:
    """`search_text` as (thread id, the rest): the thread id is the one part no two rows
    share, while the rest (graph, nodes, summary) repeats across the pauses of a gate, so
    an index can keep one copy of each distinct rest."""
    thread_id = thread.thread_id
    folded = thread_id.casefold()
    rest = " ".join((thread.graph or "", " ".join(thread.nodes), thread.summary)).casefold()
    return (thread_id if folded == thread_id else folded), rest


def search_needle(search: str) -> str:
    """The form of a `--search` text that is looked for in `search_text`."""
    return search.casefold()


def found(needle: str, folded_id: str, rest: str) -> bool:
    """Whether `needle` (a `search_needle`) is in the `search_text` made of these
    `search_parts`. A needle without a space cannot straddle the space between them."""
    if " " in needle:
        return needle in f"{folded_id} {rest}"
    return needle in folded_id or needle in rest


def matches(
    thread: PendingThread, flt: PendingFilter, now: datetime, *, text: str | None = None
) -> bool:
    """Whether a pending thread passes the queue filter (`text`: its `search_text`, if
    the caller has it already)."""
    if flt.graph and thread.graph != flt.graph:
        return False
    if flt.node and flt.node not in thread.nodes:
        return False
    if (
        flt.older_than_seconds is not None
        and (now - thread.paused_at).total_seconds() < flt.older_than_seconds
    ):
        return False
    if flt.search:
        haystack = search_text(thread) if text is None else text
        if search_needle(flt.search) not in haystack:
            return False
    return True
