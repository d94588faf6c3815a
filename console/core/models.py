"""Frozen value objects shared by the store, the ledger, the CLI and the UI."""

from __future__ import annotations

import enum
import sys
from dataclasses import FrozenInstanceError, dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

# How long a head with next nodes but no loaded graph must sit idle before it is listed as
# "paused before NODE (breakpoint or stalled)": younger ones are most likely still running.
DEFAULT_GRACE_SECONDS = 300.0

# Decoded summaries up to this long are interned (shared by equal rows).
SHARED_SUMMARY_CHARS = 200


# In a breakpoint pause's ids: the subgraph checkpoint it was read at ("paused inside").
INSIDE_PREFIX = "~inside:"

class PauseKind(enum.StrEnum):
    """How a thread came to be waiting for a human."""

    INTERRUPT = "interrupt"  # inline interrupt(value)
    BEFORE = "before"  # interrupt_before=[node]
    AFTER = "after"  # interrupt_after=[node]
    STALLED = "stalled"  # next nodes but no loaded graph says why: breakpoint or crashed
    UNREADABLE = "unreadable"  # the head's rows cannot be decoded: listed, never decided


class Convention(enum.StrEnum):
    """The payload shape of a pause, which decides how it is answered."""

    LANGCHAIN_HITL = "langchain-hitl"
    AGENT_INBOX = "agent-inbox"
    # LangChain 1.5 HumanInTheLoopMiddleware(interrupt_mode="per_call"): one
    # ToolApprovalRequest per gated tool call, answered with one decision by interrupt id
    TOOL_APPROVAL = "tool-approval"
    SCHEMA = "schema"
    RAW = "raw"
    BREAKPOINT = "breakpoint"


@dataclass(frozen=True, slots=True)
class PendingInterrupt:
    """One unanswered `interrupt()` at a thread's head checkpoint."""

    id: str
    value: Any
    task_id: str
    task_path: str
    response_schema: dict[str, Any] | None
    convention: Convention


class PayloadCodec(Protocol):
    """Decodes the raw interrupt writes a store keeps in a lazy `PendingThread`."""

    def interrupts(self, raw: Any) -> tuple[PendingInterrupt, ...]: ...

    def summary(self, interrupts: tuple[PendingInterrupt, ...]) -> str: ...

    def metadata(self, raw: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class _PendingFields:
    """The public fields of `PendingThread` (what `dataclasses.fields/replace` see)."""

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    graph: str | None
    nodes: tuple[str, ...]
    kind: PauseKind
    convention: Convention
    interrupts: tuple[PendingInterrupt, ...]
    paused_at: datetime
    summary: str
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    next_nodes: tuple[str, ...] = ()


_UNSET: Any = object()
_new = object.__new__
_set = object.__setattr__


class PendingThread:
    """A root thread whose newest checkpoint waits for a human.

    Immutable. A store builds it lazily (`PendingThread.lazy`): the row keeps the raw
    serialized interrupt writes and metadata, and `interrupts`, `summary`, `metadata` and
    `interrupt_ids` are decoded with the saver's own serializer on first access, once.
    The queue shows a few dozen rows, so most rows are never decoded (time and memory).
    Everything the queue needs for every row (ids, graph, nodes, kind, convention, pause
    time) is plain. `dataclasses.fields/replace/asdict` work as on the former dataclass.
    """

    __slots__ = (
        "_codec",
        "_error",
        "_interrupts",
        "_metadata",
        "_nested",
        "_raw_interrupts",
        "_raw_metadata",
        "_settle",
        "_summary",
        "checkpoint_id",
        "checkpoint_ns",
        "convention",
        "graph",
        "kind",
        "next_nodes",
        "nodes",
        "paused_at",
        "thread_id",
    )
    __dataclass_fields__ = _PendingFields.__dataclass_fields__
    __dataclass_params__ = _PendingFields.__dataclass_params__  # type: ignore[attr-defined]
    __match_args__ = ("thread_id", "checkpoint_ns", "checkpoint_id", "graph", "nodes", "kind",
                      "convention", "interrupts", "paused_at", "summary")

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    graph: str | None
    nodes: tuple[str, ...]
    kind: PauseKind
    convention: Convention
    paused_at: datetime
    # what would run on resume; for an `after` pause these differ from `nodes`
    next_nodes: tuple[str, ...]
    _interrupts: Any
    _summary: Any
    _metadata: Any
    # the stored forms (two slots, not a pair: a tuple per row is ~5 MB at 100k rows)
    _raw_interrupts: Any
    _raw_metadata: Any
    _codec: Any
    _error: Any
    _nested: Any
    _settle: Any

    def __init__(
        self,
        thread_id: str,
        checkpoint_ns: str,
        checkpoint_id: str,
        graph: str | None,
        nodes: tuple[str, ...],
        kind: PauseKind,
        convention: Convention,
        interrupts: tuple[PendingInterrupt, ...],
        paused_at: datetime,
        summary: str,
        metadata: dict[str, Any] | None = None,
        next_nodes: tuple[str, ...] = (),
    ) -> None:
        setter = object.__setattr__
        setter(self, "thread_id", thread_id)
        setter(self, "checkpoint_ns", checkpoint_ns)
        setter(self, "checkpoint_id", checkpoint_id)
        setter(self, "graph", graph)
        setter(self, "nodes", nodes)
        setter(self, "kind", kind)
        setter(self, "convention", convention)
        setter(self, "paused_at", paused_at)
        setter(self, "next_nodes", next_nodes)
        setter(self, "_interrupts", tuple(interrupts))
        setter(self, "_summary", summary)
        setter(self, "_metadata", {} if metadata is None else metadata)
        setter(self, "_raw_interrupts", None)
        setter(self, "_raw_metadata", None)
        setter(self, "_codec", None)
        setter(self, "_error", None)
        setter(self, "_nested", None)
        setter(self, "_settle", None)

    @classmethod
    def lazy(
        cls,
        *,
        thread_id: str,
        checkpoint_id: str,
        graph: str | None,
        nodes: tuple[str, ...],
        kind: PauseKind,
        convention: Convention,
        paused_at: datetime,
        next_nodes: tuple[str, ...],
        codec: PayloadCodec,
        raw_interrupts: Any,
        raw_metadata: Any,
        summary: str | None = None,
    ) -> PendingThread:
        """A row whose interrupts/summary/metadata `codec` decodes on first access."""
        return cls.lazy_row(thread_id, checkpoint_id, graph, nodes, kind, convention,
                            paused_at, next_nodes, codec, raw_interrupts, raw_metadata,
                            summary)

    @classmethod
    def lazy_row(
        cls,
        thread_id: str,
        checkpoint_id: str,
        graph: str | None,
        nodes: tuple[str, ...],
        kind: PauseKind,
        convention: Convention,
        paused_at: datetime,
        next_nodes: tuple[str, ...],
        codec: PayloadCodec,
        raw_interrupts: Any,
        raw_metadata: Any,
        summary: str | None,
    ) -> PendingThread:
        """`lazy` with positional arguments: what a store's per-row loop calls (a queue
        builds 100k of these, keyword passing showed up in profiles)."""
        self = _new(cls)
        _set(self, "thread_id", thread_id)
        _set(self, "checkpoint_ns", "")
        _set(self, "checkpoint_id", checkpoint_id)
        _set(self, "graph", graph)
        _set(self, "nodes", nodes)
        _set(self, "kind", kind)
        _set(self, "convention", convention)
        _set(self, "paused_at", paused_at)
        _set(self, "next_nodes", next_nodes)
        _set(self, "_interrupts", _UNSET if raw_interrupts else ())
        _set(self, "_summary", _UNSET if summary is None else summary)
        _set(self, "_metadata", _UNSET)
        _set(self, "_raw_interrupts", _pack(raw_interrupts) if raw_interrupts.__class__ is tuple
             and len(raw_interrupts) == 1 else raw_interrupts)
        _set(self, "_raw_metadata", raw_metadata)
        _set(self, "_codec", codec)
        _set(self, "_error", None)
        _set(self, "_nested", None)
        _set(self, "_settle", None)
        return self

    @property
    def settle(self) -> Any:
        """What this breakpoint row still needs its subgraphs' own checkpoints for
        (`heads.Settle`), None once it is settled (`heads.settled`)."""
        return self._settle

    def settled_as(self, settle: Any, nodes: tuple[str, ...] | None = None,
                   summary: str | None = None) -> PendingThread:
        """This row with its `settle` set (None: settled), and, if given, the nodes and
        summary of the pause it turned out to be (a breakpoint `before`)."""
        _set(self, "_settle", settle)
        if nodes is not None:
            _set(self, "kind", PauseKind.BEFORE)
            _set(self, "convention", Convention.BREAKPOINT)
            _set(self, "nodes", nodes)
        if summary is not None:
            _set(self, "_summary", summary)
        return self

    def inside(self, nested_checkpoint_id: str) -> PendingThread:
        """This pause, stopped inside a subgraph at `nested_checkpoint_id`.

        Several breakpoints of a subgraph (and the root's own gate on the node that runs
        it) stop the run at one root checkpoint, with no interrupt ids; and a question
        answered inside a subgraph that then stops at its own breakpoint is still reported
        by LangGraph (the root task has not finished). The subgraph's newest checkpoint is
        what tells those pauses apart (`interrupt_ids`)."""
        _set(self, "_nested", nested_checkpoint_id)
        return self
    @classmethod
    def unreadable(
        cls, thread_id: str, checkpoint_id: str, paused_at: datetime, reason: str,
        graph: str | None = None,
    ) -> PendingThread:
        """A head that cannot be read: listed with its reason, with nothing to decide."""
        row = cls(thread_id, "", checkpoint_id, graph, (), PauseKind.UNREADABLE,
                  Convention.RAW, (), paused_at, f"unreadable: {reason}")
        _set(row, "_error", reason)
        return row

    def _fail(self, exc: Exception) -> None:
        """A payload or metadata that cannot be decoded makes the whole row unreadable
        (a lazy row finds out on first access, not while the queue is read)."""
        from console.core.errors import unreadable_reason

        reason = unreadable_reason(exc)
        _set(self, "kind", PauseKind.UNREADABLE)
        _set(self, "convention", Convention.RAW)
        _set(self, "_interrupts", ())
        _set(self, "_summary", f"unreadable: {reason}")
        _set(self, "_metadata", {})
        _set(self, "_error", reason)

    @property
    def error(self) -> str | None:
        """Why the row is `unreadable` (None for a readable one), after decoding it."""
        if self.kind is not PauseKind.UNREADABLE:
            self.interrupts  # noqa: B018 - decoding is what finds out
            self.metadata  # noqa: B018
        return self._error  # type: ignore[no-any-return]

    # ------------------------------------------------------------- decoded on demand

    @property
    def interrupts(self) -> tuple[PendingInterrupt, ...]:
        value = self._interrupts
        if value is _UNSET:
            try:
                value = self._codec.interrupts(_unpack(self._raw_interrupts))
            except Exception as exc:  # a hostile or corrupt row: this row only
                self._fail(exc)
                return ()
            object.__setattr__(self, "_interrupts", value)
        return value  # type: ignore[no-any-return]

    @property
    def summary(self) -> str:
        value = self._summary
        if value is _UNSET:
            if self._interrupts is _UNSET:  # decode without keeping the payloads
                try:
                    value = self._codec.summary(
                        self._codec.interrupts(_unpack(self._raw_interrupts)))
                except Exception as exc:  # a hostile or corrupt row: this row only
                    self._fail(exc)
                    return self._summary  # type: ignore[no-any-return]
            else:
                value = self._codec.summary(self._interrupts)
            # Pauses of one gate often read alike: the search index decodes every row's
            # summary, so equal ones share one string (~5 MB at 100k rows).
            if value.__class__ is str and len(value) <= SHARED_SUMMARY_CHARS:
                value = sys.intern(value)
            object.__setattr__(self, "_summary", value)
        return value  # type: ignore[no-any-return]

    @property
    def metadata(self) -> dict[str, Any]:
        value = self._metadata
        if value is _UNSET:
            try:
                value = self._codec.metadata(self._raw_metadata)
            except Exception as exc:  # a hostile or corrupt row: this row only
                self._fail(exc)
                return {}
            object.__setattr__(self, "_metadata", value)
        return value  # type: ignore[no-any-return]

    @property
    def interrupt_ids(self) -> tuple[str, ...]:
        """The pending questions' ids: what names the pause next to its checkpoint (for a
        breakpoint stopped inside a subgraph, that subgraph's checkpoint: see `inside`)."""
        ids = tuple(i.id for i in self.interrupts)
        if self._nested is not None:
            return (*ids, f"{INSIDE_PREFIX}{self._nested}")
        return ids

    def sort_key(self) -> tuple[datetime, str]:
        """Oldest first; thread id breaks ties so keyset paging is stable."""
        return (self.paused_at, self.thread_id)

    # ------------------------------------------------------------- value semantics

    def _key(self) -> tuple[Any, ...]:
        return (self.thread_id, self.checkpoint_ns, self.checkpoint_id, self.graph, self.nodes,
                self.kind, self.convention, self.interrupts, self.paused_at, self.summary,
                self.next_nodes)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, PendingThread)
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.thread_id, self.checkpoint_ns, self.checkpoint_id, self.kind))

    def __repr__(self) -> str:
        return (f"PendingThread(thread_id={self.thread_id!r}, checkpoint_id="
                f"{self.checkpoint_id!r}, graph={self.graph!r}, nodes={self.nodes!r}, "
                f"kind={self.kind.value}, convention={self.convention.value}, "
                f"paused_at={self.paused_at.isoformat()})")

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        """Decoded, without the codec (copies, and the first page a forked child reads:
        `console.first_page`); an unreadable row keeps its reason."""
        self.error  # noqa: B018 - decoding first: it can turn the row unreadable
        return (restore_row, (*self._key()[:10], self.metadata, self.next_nodes,
                              self._error, self._nested, self._settle))

    def __replace__(self, **changes: Any) -> PendingThread:
        return replace(self, **changes)  # type: ignore[type-var]


def restore_row(*fields: Any) -> PendingThread:
    """A row from `PendingThread.__reduce__`."""
    *public, error, nested, settle = fields
    row = PendingThread(*public)
    _set(row, "_error", error)
    _set(row, "_nested", nested)
    _set(row, "_settle", settle)
    return row


def _pack(raw: tuple[tuple[str, str, str, Any]]) -> Any:
    """One raw interrupt write (task id, task path, serializer type, blob) as one bytes
    object: ~140 B less than the tuple and its strings, a third of a lazy row at 100k
    rows. Left as it is if a part does not fit the one-byte lengths. (Per-row hot path
    of a queue read: written out flat.)"""
    task_id, path, type_, blob = raw[0]
    task_bytes, path_bytes, type_bytes = task_id.encode(), path.encode(), type_.encode()
    sizes = len(task_bytes), len(path_bytes), len(type_bytes)
    if sizes[0] > 255 or sizes[1] > 255 or sizes[2] > 255 or blob.__class__ is not bytes:
        return raw
    return b"".join((bytes(sizes), task_bytes, path_bytes, type_bytes, blob))


def _unpack(raw: Any) -> Any:
    """`_pack` undone: the raw interrupt writes as the store gave them."""
    if raw.__class__ is not bytes:
        return raw
    task_end = 3 + raw[0]
    path_end = task_end + raw[1]
    type_end = path_end + raw[2]
    return ((raw[3:task_end].decode(), raw[task_end:path_end].decode(),
             raw[path_end:type_end].decode(), raw[type_end:]),)


@dataclass(frozen=True, slots=True)
class CheckpointRef:
    """A checkpoint as listed in a thread's history."""

    checkpoint_id: str
    parent_checkpoint_id: str | None
    created_at: datetime | None
    step: int | None
    source: str | None


@dataclass(frozen=True, slots=True)
class ReviewBundle:
    """Everything a reviewer needs to judge one pause (values not yet redacted)."""

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    parent_checkpoint_id: str | None
    created_at: datetime | None
    values: dict[str, Any]
    previous_values: dict[str, Any] | None
    first_values: dict[str, Any] | None
    next_nodes: tuple[str, ...]
    metadata: dict[str, Any]
    interrupts: tuple[PendingInterrupt, ...]
    pending: PendingThread | None
    history: tuple[CheckpointRef, ...] = ()


@dataclass(frozen=True, slots=True)
class PendingFilter:
    """Narrowing of the pending queue; every field is optional."""

    graph: str | None = None
    node: str | None = None
    older_than_seconds: float | None = None
    search: str | None = None
