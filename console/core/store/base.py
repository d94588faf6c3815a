"""What every checkpoint store offers, and the parts that only need the saver."""

from __future__ import annotations

import abc
import contextlib
import gc
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from console.core.dburl import DatabaseLocation
from console.core.decode import Decoder
from console.core.errors import (
    ConsoleError,
    NotPendingError,
    UnreadableRow,
    UnreadableValue,
    database_failure,
    unreadable_reason,
)
from console.core.graphs import GraphRegistry
from console.core.inert import inert
from console.core.inside import Level
from console.core.models import (
    DEFAULT_GRACE_SECONDS,
    CheckpointRef,
    PauseKind,
    PendingFilter,
    PendingInterrupt,
    PendingThread,
    ReviewBundle,
)
from console.core.store.heads import (
    HeadState,
    SerdeCodec,
    ShapeClassifier,
    classify,
    matches,
    parse_ts,
    pending_interrupts,
    settled,
)

# Checkpoints listed in a bundle's history (History tab). alist decodes each one whole,
# state included, so this bounds the cost of every bundle read on long threads.
HISTORY_LIMIT = 50
Cursor = tuple[datetime, str]
_NO_FILTER = PendingFilter()
_SORT_KEY = attrgetter("paused_at", "thread_id")  # PendingThread.sort_key, without a call

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from console.core.serde import SafeSerializer


class StoredCheckpoint(NamedTuple):
    """One checkpoint as read for review: LangGraph's `CheckpointTuple` fields, decoded
    by the store's display decoder (no LangGraph saver involved, so no LangGraph import)."""

    config: dict[str, Any]
    checkpoint: dict[str, Any]
    metadata: dict[str, Any]
    parent_config: dict[str, Any] | None
    pending_writes: list[tuple[str, str, Any]] | None = None


def stored_checkpoint(thread_id: str, checkpoint_id: str, parent_id: str | None,
                      checkpoint: dict[str, Any], metadata: Any) -> StoredCheckpoint:
    """A `StoredCheckpoint` of the root namespace, as a saver's tuple would be built."""
    def config(checkpoint_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id, "checkpoint_ns": "",
                                 "checkpoint_id": checkpoint_id}}

    return StoredCheckpoint(config(checkpoint_id), checkpoint,
                            dict(metadata) if isinstance(metadata, dict) else {},
                            config(parent_id) if parent_id else None)


class QueueSource(Protocol):
    """Rows the queue lists that the pause rule alone does not: what the console knows
    about a thread beyond its checkpoints (a run that stopped after a decision, from the
    ledger). Kept as a protocol so the store never imports the ledger."""

    async def rows(self, store: CheckpointStore, now: datetime) -> list[PendingThread]:
        """Rows to list, each replacing the store's own row of that thread, if any."""


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic-GC passes while a queue's rows are built: tens of thousands of small
    acyclic objects would otherwise trigger repeated full collections (~30% of the time
    of a 15k-row read here)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def state_values(channel_values: dict[str, Any]) -> dict[str, Any]:
    """The user-visible state: channel values without LangGraph's own channels."""
    return {
        k: v
        for k, v in channel_values.items()
        if not k.startswith(("branch:", "__", "start:", "join:"))
    }


class CheckpointStore(abc.ABC):
    """Read access to the pending queue and review bundles of one checkpoint database."""

    def __init__(
        self,
        location: DatabaseLocation,
        registry: GraphRegistry,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        serde: SafeSerializer | None = None,
    ) -> None:
        self.location = location
        self.registry = registry
        self.grace_seconds = grace_seconds
        self._serde = serde
        # Listing and review decode with this, never with the saver: it needs no
        # LangGraph, whose import is most of a console start (the saver is built, and
        # LangGraph imported, when a decision or a loaded graph first needs it).
        self.decoder: Decoder = serde.display_decoder() if serde is not None else Decoder()
        self._codec: SerdeCodec | None = None
        self._shapes = ShapeClassifier(registry)
        self.queue_sources: list[QueueSource] = []
        # Heads read as breakpoints (or stalls) too young to list, by thread: when paused.
        # Nothing is written when their grace period ends, so no change feed reports
        # them: `due_breakpoints` says when to read them again.
        self.young: dict[str, datetime] = {}

    def due_breakpoints(self, now: datetime | None = None) -> list[str]:
        """Threads last read as too young to list whose grace period has ended by `now`
        (forgotten here: reading them again records them anew if they still are)."""
        now = now or datetime.now(UTC)
        grace = timedelta(seconds=self.grace_seconds)
        due = [t for t, paused_at in self.young.items() if paused_at + grace <= now]
        for thread_id in due:
            del self.young[thread_id]
        return due

    def next_grace_deadline(self) -> datetime | None:
        """When the first of those becomes due (None: none is waiting)."""
        if not self.young:
            return None
        return min(self.young.values()) + timedelta(seconds=self.grace_seconds)

    async def ready(self) -> CheckpointStore:
        """This store, open: at once here (`LateStore` opens on the first read). What
        needs a synchronous attribute of the open store (its pool) awaits this first."""
        return self

    @property
    def serde(self) -> SafeSerializer:
        """The serializer of the write path (built, with LangGraph, when first needed)."""
        if self._serde is None:
            from console.core.serde import SafeSerializer

            self._serde = SafeSerializer()
        return self._serde

    @property
    def shapes(self) -> ShapeClassifier:
        """Classification memoized per head shape, for this store's current registry."""
        if self._shapes.registry is not self.registry:
            self._shapes = ShapeClassifier(self.registry)
        return self._shapes

    @property
    def codec(self) -> SerdeCodec:
        """Decodes rows' payloads on demand with the display decoder."""
        if self._codec is None:
            self._codec = SerdeCodec(self.decoder)
        return self._codec

    @property
    @abc.abstractmethod
    def saver(self) -> BaseCheckpointSaver[Any]:
        """The LangGraph saver for this database (the serializer and resume path)."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def checkpoints(
        self,
        thread_id: str,
        *,
        checkpoint_id: str | None = None,
        source: str | None = None,
        step: int | None = None,
        limit: int = 1,
    ) -> list[StoredCheckpoint]:
        """Root checkpoints of a thread, newest first, decoded for display: only
        `checkpoint_id`, or those whose metadata has this `source` / `step`."""

    async def checkpoint(
        self, thread_id: str, checkpoint_id: str | None = None
    ) -> StoredCheckpoint | None:
        """The thread's head (or the checkpoint `checkpoint_id`), or None."""
        found = await self.checkpoints(thread_id, checkpoint_id=checkpoint_id)
        return found[0] if found else None

    @abc.abstractmethod
    async def _check_schema(self) -> None:
        """Raise NotACheckpointDatabase unless the LangGraph tables are there."""

    async def prepare(self, *, create: bool) -> None:
        """Create the saver's tables if asked, then check the schema; close on failure."""
        try:
            if create:
                await self.saver.setup()  # type: ignore[attr-defined]
            await self._check_schema()
        except BaseException:
            await self.close()
            raise

    @abc.abstractmethod
    async def head_states(
        self,
        flt: PendingFilter,
        thread_ids: Sequence[str] | None = None,
        *,
        after: Cursor | None = None,
        limit: int | None = None,
    ) -> list[HeadState]:
        """Heads of root threads that have unconsumed triggers (candidates for a pause).

        With `thread_ids`, only those threads. A backend whose `pages_in_sql` is true
        honours `after`/`limit` (ordered by paused_at, thread_id); others return all.
        """

    @property
    @abc.abstractmethod
    def pages_in_sql(self) -> bool: ...

    @abc.abstractmethod
    async def head_checkpoint_id(self, thread_id: str) -> str | None:
        """The thread's newest root checkpoint id, or None if the thread does not exist."""

    @abc.abstractmethod
    async def setup(self, *, notify: bool = False) -> list[str]:
        """Create the console's tables (idempotent); return what was done."""

    async def pending(
        self,
        flt: PendingFilter | None = None,
        *,
        after: Cursor | None = None,
        limit: int | None = None,
        now: datetime | None = None,
    ) -> list[PendingThread]:
        """Pending threads, oldest first, keyset-paged by (paused_at, thread_id)."""
        flt = flt or PendingFilter()
        now = now or datetime.now(UTC)
        found: list[PendingThread] = []
        filtered = flt != _NO_FILTER
        # Some candidates are not pauses (runs between steps), so a page of heads can
        # yield fewer pauses than asked for: read further pages until it is full.
        batch = limit + max(16, limit // 20) if limit is not None and self.pages_in_sql else None
        cursor = after
        while True:
            pauses, read, last = await self._classified(flt, cursor, batch, now)
            if not filtered and after is None:
                found.extend(p for p in pauses if p is not None)
            else:
                for pause in pauses:
                    if pause is None or (filtered and not matches(pause, flt, now)):
                        continue
                    if after is not None and pause.sort_key() <= after:
                        continue
                    found.append(pause)
            if batch is None or read < batch or last is None or (limit and len(found) >= limit):
                break
            cursor = last
        if self.queue_sources:
            found = await self._with_sources(found, flt, after, now)
        found.sort(key=_SORT_KEY)
        return found if limit is None else found[:limit]

    async def complete(self, rows: list[PendingThread]) -> list[PendingThread]:
        """`rows` as exact as the source can make them. A database's rows are exact
        already; an Agent Server's listing leaves what only a per-thread read can say (a
        breakpoint's node, an inline row's checkpoint) to this call."""
        return rows

    async def _with_sources(
        self, found: list[PendingThread], flt: PendingFilter, after: Cursor | None,
        now: datetime,
    ) -> list[PendingThread]:
        extra: dict[str, PendingThread] = {}
        for source in self.queue_sources:
            for row in await source.rows(self, now):
                if matches(row, flt, now) and (after is None or row.sort_key() > after):
                    extra[row.thread_id] = row
        if not extra:
            return found
        return [*(t for t in found if t.thread_id not in extra), *extra.values()]

    async def _classified(
        self, flt: PendingFilter, after: Cursor | None, limit: int | None, now: datetime
    ) -> tuple[list[PendingThread | None], int, Cursor | None]:
        """One page of candidate heads, classified: (pauses or None per head, heads read,
        keyset cursor of the last head read)."""
        heads = await self.head_states(flt, after=after, limit=limit)
        shapes, grace, codec = self.shapes, self.grace_seconds, self.codec
        with gc_paused():
            pauses = [classify(head, shapes, now=now, grace_seconds=grace, codec=codec,
                               young=self.young) for head in heads]
        last = (heads[-1].paused_at, heads[-1].thread_id) if heads else None
        return await self.settle(pauses), len(heads), last

    async def settle(self, pauses: list[PendingThread | None]) -> list[PendingThread | None]:
        """`pauses` with every row that has a `Settle` decided from its thread's subgraph
        levels newer than its head (`heads.settled`; rows with none stay as they are)."""
        todo = [i for i, p in enumerate(pauses) if p is not None and p.settle is not None]
        if not todo:
            return pauses
        heads = [(p.thread_id, p.checkpoint_id) for i in todo if (p := pauses[i]) is not None]
        levels = await self.nested_levels(heads)
        for i in todo:
            pause = pauses[i]
            assert pause is not None
            pauses[i] = settled(pause, levels.get(pause.thread_id, []),
                                self.registry.get(pause.graph or ""))
        return pauses

    @abc.abstractmethod
    async def nested_levels(self, heads: Sequence[tuple[str, str]]) -> dict[str, list[Level]]:
        """For each (thread id, root head checkpoint id): the newest checkpoint of every
        subgraph namespace of the thread saved after that head, as `inside.Level`s."""

    async def pending_thread(self, thread_id: str) -> PendingThread | None:
        """The thread's pause at its head, or None if it is not waiting for a human."""
        heads = await self.head_states(PendingFilter(), thread_ids=[thread_id])
        self.young.pop(thread_id, None)  # read anew: recorded again if still young
        if not heads:
            return None
        pause = (await self.settle([classify(
            heads[0], self.shapes, now=datetime.now(UTC), grace_seconds=self.grace_seconds,
            codec=self.codec, young=self.young,
        )]))[0]
        if (pause is not None and pause.kind in (PauseKind.BEFORE, PauseKind.AFTER)
                and self.registry):
            nested = await self.newest_nested_checkpoint(thread_id)
            if nested is not None and nested > pause.checkpoint_id:
                pause = pause.inside(nested)
        return pause

    @abc.abstractmethod
    async def newest_nested_checkpoint(self, thread_id: str) -> str | None:
        """The newest checkpoint id of the thread's subgraphs (any namespace but the
        root), or None."""

    async def bundle(self, thread_id: str, *, now: datetime | None = None) -> ReviewBundle:
        """The review bundle of one thread, decoded with the display decoder.

        The pause is classified from the same SQL as the queue, so the list and the
        bundle never disagree about what is pending.
        """
        for _ in range(3):
            try:
                bundle = await self._bundle_once(thread_id, now or datetime.now(UTC))
            except UnreadableValue as exc:
                raise _unreadable(thread_id, exc.reason) from None
            except ConsoleError:
                raise
            except Exception as exc:  # a hostile or corrupt row: one sentence, no traceback
                # ... unless the database itself failed (rights, outage): not the row's fault
                known = database_failure(exc, doing="read this thread",
                                         kept="nothing was changed")
                if known is not None:
                    raise known from None
                raise _unreadable(thread_id, unreadable_reason(exc)) from None
            if bundle is not None:
                return bundle
        raise ConsoleError(f"Thread {thread_id!r} keeps moving on; try again in a moment.")

    async def _bundle_once(self, thread_id: str, now: datetime) -> ReviewBundle | None:
        head = await self.checkpoint(thread_id)
        if head is None:
            raise NotPendingError(
                f"Thread {thread_id!r} was not found in {self.location.display()}."
            )
        checkpoint = head.checkpoint
        heads = await self.head_states(PendingFilter(), thread_ids=[thread_id])
        head_state = heads[0] if heads else None
        if head_state is not None and head_state.checkpoint_id != checkpoint["id"]:
            return None  # the thread moved between the two reads
        if head_state is not None and head_state.error is not None:
            raise _unreadable(thread_id, head_state.error)
        parent = None
        if head.parent_config is not None:
            parent = await self.checkpoint(
                thread_id, head.parent_config["configurable"]["checkpoint_id"])
        history = await self.checkpoints(thread_id, limit=HISTORY_LIMIT)
        pause = None
        interrupts: tuple[PendingInterrupt, ...] = ()
        if head_state is not None:
            pause = (await self.settle([classify(
                head_state, self.shapes, now=now, grace_seconds=self.grace_seconds,
                codec=self.codec)]))[0]
            interrupts = pause.interrupts if pause is not None else pending_interrupts(
                head_state, self.shapes, self.codec)
            if pause is not None and pause.error is not None:
                raise _unreadable(thread_id, pause.error)
        return ReviewBundle(
            thread_id=thread_id,
            checkpoint_ns="",
            checkpoint_id=checkpoint["id"],
            parent_checkpoint_id=(
                head.parent_config["configurable"].get("checkpoint_id")
                if head.parent_config
                else None
            ),
            created_at=parse_ts(checkpoint.get("ts")),
            values=await self._head_values(head, pause),
            previous_values=(
                state_values(parent.checkpoint["channel_values"]) if parent else None
            ),
            first_values=await self._run_start_values(thread_id, history),
            next_nodes=head_state.pending_nodes if head_state else (),
            metadata=dict(head.metadata),
            interrupts=interrupts,
            pending=pause,
            history=tuple(_ref(t) for t in history),
        )


    async def _run_start_values(
        self, thread_id: str, history: list[StoredCheckpoint]
    ) -> dict[str, Any] | None:
        """The newest run's starting state: from the history read, or, for a run longer
        than that, two filtered reads (its input checkpoint, then the checkpoint of the
        step after it: LangGraph numbers the input `step` and the next one `step + 1`)."""
        found = _run_start_in(history)
        if found is not None or len(history) < HISTORY_LIMIT:
            if found is None and history:
                return state_values(history[-1].checkpoint["channel_values"])
            return found
        inputs = await self.checkpoints(thread_id, source="input")
        step = inputs[0].metadata.get("step") if inputs else None
        if not isinstance(step, int):
            return None
        starts = await self.checkpoints(thread_id, source="loop", step=step + 1)
        start = starts[0] if starts else inputs[0]
        return state_values(start.checkpoint["channel_values"])

    async def _head_values(
        self, head: StoredCheckpoint, pause: PendingThread | None
    ) -> dict[str, Any]:
        """Head state as the app would see it. With the graph, through LangGraph itself
        (writes of tasks that already finished, e.g. one of two parallel approvals, are
        applied); without it, the stored channel values."""
        graph_id = head.metadata.get("graph_id")
        info = self.registry.get(pause.graph if pause else str(graph_id or ""))
        if info is not None:
            values = await _graph_values(self, info.graph, head)
            if isinstance(values, dict):
                return values
        return state_values(head.checkpoint["channel_values"])


async def _graph_values(store: CheckpointStore, graph: Any, head: StoredCheckpoint) -> Any:
    from console.core.serde import saver_for_graph  # a loaded graph: LangGraph is there

    runnable = graph.copy(update={"checkpointer": saver_for_graph(store.saver, graph)})
    # Without a checkpoint id LangGraph applies the writes of finished tasks to the
    # snapshot (with one, it does not); the id check below catches a head that moved.
    latest = {"configurable": {"thread_id": head.config["configurable"]["thread_id"],
                               "checkpoint_ns": ""}}
    snapshot = await runnable.aget_state(latest)
    if snapshot.config["configurable"].get("checkpoint_id") != head.checkpoint["id"]:
        return None
    return snapshot.values


def _run_start_in(history: list[StoredCheckpoint]) -> dict[str, Any] | None:
    """State right after the newest run's input was applied, if `history` (newest
    first) reaches back to that run's input checkpoint; else None."""
    for index, item in enumerate(history):
        if item.metadata.get("source") == "input":
            start = history[index - 1] if index > 0 else item
            return state_values(start.checkpoint["channel_values"])
    return None


def _unreadable(thread_id: str, reason: str) -> UnreadableRow:
    advice = "" if "--serde" in reason else (
        " Its rows are corrupt or of a type the console does not read: pass the "
        "application's serializer with --serde, or repair the rows.")
    return UnreadableRow(
        f"Thread {inert(thread_id, limit=200)!r} cannot be read: {reason}; nothing was "
        f"changed.{advice}")


def _ref(item: StoredCheckpoint) -> CheckpointRef:
    step = item.metadata.get("step")
    source = item.metadata.get("source")
    return CheckpointRef(
        checkpoint_id=item.config["configurable"]["checkpoint_id"],
        parent_checkpoint_id=(
            item.parent_config["configurable"].get("checkpoint_id")
            if item.parent_config
            else None
        ),
        created_at=parse_ts(item.checkpoint.get("ts")),
        step=step if isinstance(step, int) else None,
        source=source if isinstance(source, str) else None,
    )
