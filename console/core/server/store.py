"""`ServerStore`: the read surface of the console (queue, pause, review bundle) on a
LangGraph Agent Server, through its API.

The listing costs a few `threads.search` pages whatever the size of the queue: an
inline interrupt is named from the search result alone (`mapping`). What the search
does not say - a breakpoint's node, the head checkpoint id, the node of a question asked
inside a subgraph - takes a `get_state` per thread. `pending` leaves those rows
*provisional* (listed, marked as being read) unless it read them before at the same
`updated_at`; `complete` reads them (bounded concurrency), `pending_thread` and `bundle`
always read LangGraph's own view. The TUI lists at once and completes rows through the
change feed (`console.core.server.feed`); `hitl-console pending` completes every row it
prints.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, NoReturn

from console.core.dburl import DatabaseLocation
from console.core.errors import (
    ConsoleError,
    DatabaseUnavailable,
    NotPendingError,
    RightsMissing,
)
from console.core.graphs import GraphRegistry
from console.core.inert import inert
from console.core.models import (
    DEFAULT_GRACE_SECONDS,
    CheckpointRef,
    Convention,
    PauseKind,
    PendingFilter,
    PendingThread,
    ReviewBundle,
)
from console.core.server.client import ServerClient
from console.core.server.mapping import (
    asking_node,
    graph_of,
    inline_row,
    parse_time,
    state_interrupts,
    state_row,
    thread_interrupts,
)
from console.core.store.base import (
    HISTORY_LIMIT,
    CheckpointStore,
    Cursor,
    StoredCheckpoint,
    stored_checkpoint,
)
from console.core.store.heads import matches

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph_sdk.schema import ThreadSelectField

    from console.core.inside import Level
    from console.core.ledger.db import LedgerDB
    from console.core.serde import SafeSerializer
    from console.core.store.heads import HeadState

# Threads per search page: 1,000 is the API's usual cap and reads 5,000 threads in ~5
# requests (Agent Inbox reads 100 at a time).
PAGE_SIZE = 1000
# get_state requests in flight at once: the server answers them on its own event loop, so
# more buys little and would starve other clients of a small deployment.
STATE_CONCURRENCY = 8
SEARCH_FIELDS: list[ThreadSelectField] = [
    "thread_id", "updated_at", "status", "metadata", "interrupts"]
PROVISIONAL_SUMMARY = "paused at a breakpoint (its node is being read)"
INTERRUPTED: Final = "interrupted"
# A run that failed leaves its thread `error`; a question that still waits there (a
# refused strict resume, a run that failed before taking the answer) is pending all the
# same. Such a thread's search result carries its `interrupts`, so only those with
# some are listed (a failed run with nothing waiting costs no `get_state`; a breakpoint
# left behind a failed run is not listed: the search cannot tell it from a crash).
ERROR: Final = "error"
WAITING: Final = (INTERRUPTED, ERROR)


class ServerStore(CheckpointStore):
    """The pending queue and review bundles of an Agent Server (read side)."""

    def __init__(
        self,
        location: DatabaseLocation,
        registry: GraphRegistry,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        serde: SafeSerializer | None = None,
        *,
        api_key: str | None = None,
    ) -> None:
        super().__init__(location, registry, grace_seconds, serde)
        self.client = ServerClient(location, api_key)
        # thread id -> (updated_at as the server wrote it, the row read with get_state)
        self._exact: dict[str, tuple[str, PendingThread | None]] = {}
        # graph id -> its root node names (from the loaded graph, else the server)
        self._nodes: dict[str, tuple[str, ...]] = {}
        # rows listed without get_state that still need it (the feed reports them)
        self.provisional: dict[str, str] = {}  # thread id -> updated_at
        # the search records of rows listed without a checkpoint id, until read exactly
        self._records: dict[str, Mapping[str, Any]] = {}
        # the decision ledger `--ledger-db` names (`session.server_ledger`), closed with us
        self.decision_ledger: LedgerDB | None = None

    @classmethod
    async def open(
        cls, location: DatabaseLocation, registry: GraphRegistry,
        grace_seconds: float = DEFAULT_GRACE_SECONDS, *, create: bool = False,
        serde: SafeSerializer | None = None, api_key: str | None = None,
    ) -> ServerStore:
        """A store on the server at `location`, checked with one request (reachable, and
        the key accepted); `create` is refused: a server has no tables of ours."""
        store = cls(location, registry, grace_seconds, serde, api_key=api_key)
        try:
            if create:
                store._no_tables("create the console's tables")
            with store.client.failures("read the queue"):
                await store.client.sdk.threads.count(status=INTERRUPTED)
        except BaseException:
            await store.close()
            raise
        return store

    # --- what a server does not have ---------------------------------------------------

    @property
    def saver(self) -> BaseCheckpointSaver[Any]:
        self._no_tables("use a checkpointer on it")

    def _no_tables(self, doing: str) -> NoReturn:
        raise ConsoleError(
            f"{self.location.display()} is an Agent Server: the console cannot {doing}, "
            "since its checkpoints are only reachable through its API; nothing was "
            "changed. Point --db at a checkpoint database for that.")

    async def setup(self, *, notify: bool = False) -> list[str]:
        self._no_tables("set up tables or triggers there (`setup` is for checkpoint "
                        "databases; the queue and live refresh need none on a server)")

    async def _check_schema(self) -> None:
        return None

    @property
    def pages_in_sql(self) -> bool:
        return True  # pages are read from the server in order: a first page is cheap

    async def head_states(self, flt: PendingFilter, thread_ids: Sequence[str] | None = None,
                          *, after: Cursor | None = None,
                          limit: int | None = None) -> list[HeadState]:
        self._no_tables("read checkpoint rows")

    async def newest_nested_checkpoint(self, thread_id: str) -> str | None:
        return None

    async def nested_levels(self, heads: Sequence[tuple[str, str]]) -> dict[str, list[Level]]:
        return {}  # get_state names a stop inside a subgraph itself: no row is left to settle

    async def close(self) -> None:
        ledger, self.decision_ledger = self.decision_ledger, None
        try:
            if ledger is not None:
                await ledger.close()  # a SQLite ledger's thread keeps a process alive
        finally:
            await self.client.close()

    # --- the queue -----------------------------------------------------------------------

    async def pending(
        self,
        flt: PendingFilter | None = None,
        *,
        after: Cursor | None = None,
        limit: int | None = None,
        now: datetime | None = None,
    ) -> list[PendingThread]:
        """Pending threads, oldest first (paused_at = the thread's `updated_at`): the
        `interrupted` ones, and the `error` ones whose question still waits (`WAITING`).

        Rows only a `get_state` can name are provisional unless read before; a node or
        text filter needs the names, so those rows are read first (`complete`)."""
        flt = flt or PendingFilter()
        now = now or datetime.now(UTC)
        needs_names = bool(flt.node or flt.search)
        size = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit + 16)
        found: dict[str, PendingThread] = {}
        for status in WAITING:
            offset, taken = 0, 0
            while True:
                with self.client.failures("read the queue"):
                    page = await self.client.sdk.threads.search(
                        status=status, limit=size, offset=offset, sort_by="updated_at",
                        sort_order="asc", select=SEARCH_FIELDS,
                        metadata={"graph_id": flt.graph} if flt.graph else None)
                offset += len(page)
                listed = [t for t in page if status == INTERRUPTED or t.get("interrupts")]
                rows = [row for row in [await self._listed(t, after) for t in listed]
                        if row is not None]
                if needs_names:
                    rows = await self.name_rows(rows)
                for row in rows:
                    if matches(row, flt, now) and row.thread_id not in found:
                        found[row.thread_id] = row
                        taken += 1
                if len(page) < size or (limit is not None and taken >= limit):
                    break
        rows = sorted(found.values(), key=PendingThread.sort_key)
        return rows if limit is None else rows[:limit]

    async def _listed(self, thread: Mapping[str, Any], after: Cursor | None
                      ) -> PendingThread | None:
        """One search result as a row: exact if read before at this `updated_at`, named
        from its interrupt ids if it can be, else provisional."""
        thread_id = str(thread["thread_id"])
        stamp = str(thread.get("updated_at"))
        paused_at = parse_time(stamp)
        if after is not None and (paused_at, thread_id) <= after:
            return None
        known = self._exact.get(thread_id)
        if known is not None and known[0] == stamp:
            return known[1]
        self._records[thread_id] = thread
        interrupts = thread_interrupts(thread.get("interrupts"))
        if interrupts:
            candidates = await self._node_names(thread.get("metadata"))
            nodes = {i.task_id: asking_node(i.id, i.task_id, candidates) for i in interrupts}
            if all(nodes.values()):
                self.provisional.pop(thread_id, None)
                return inline_row(thread, {k: v for k, v in nodes.items() if v}, interrupts)
        self.provisional[thread_id] = stamp
        return _provisional(thread, interrupts, paused_at)

    async def complete(self, rows: list[PendingThread]) -> list[PendingThread]:
        """`rows` read with `get_state` where the listing could not say everything (a
        provisional row's node, an inline row's checkpoint id): exact rows, as `pending
        --json` prints them."""
        return await self._read_rows(rows, [r.thread_id for r in rows if not r.checkpoint_id])

    async def name_rows(self, rows: list[PendingThread]) -> list[PendingThread]:
        """`rows` with the provisional ones read (their nodes named), the rest as listed:
        what a node or text filter needs, and all that Agent Inbox's listing reads."""
        return await self._read_rows(
            rows, [r.thread_id for r in rows if r.thread_id in self.provisional])

    async def _read_rows(self, rows: list[PendingThread], todo: list[str]
                         ) -> list[PendingThread]:
        """`rows`, those named in `todo` read with `get_state` (at most
        `STATE_CONCURRENCY` at once); a thread that stopped waiting meanwhile is dropped."""
        if not todo:
            return rows
        gate = asyncio.Semaphore(STATE_CONCURRENCY)

        async def read(thread_id: str) -> PendingThread | None:
            async with gate:
                # the search's own record when there is one: one request, not two (a
                # thread that moved meanwhile is reported by the feed and read again)
                listed = self._records.get(thread_id)
                if listed is not None:
                    return await self._exact_row(listed)
                return await self.pending_thread(thread_id)

        exact = dict(zip(todo, await asyncio.gather(*(read(t) for t in todo)), strict=True))
        out = []
        for row in rows:
            if row.thread_id not in exact:
                out.append(row)
            elif (new := exact[row.thread_id]) is not None:
                out.append(new)
        return out

    async def pending_thread(self, thread_id: str) -> PendingThread | None:
        """The thread's pause as LangGraph's `get_state` shows it (None: not waiting)."""
        thread = await self._thread(thread_id)
        if thread is None:
            self.provisional.pop(thread_id, None)
            return None
        return await self._exact_row(thread)

    async def _exact_row(self, thread: Mapping[str, Any]) -> PendingThread | None:
        """The pause of a thread as read by search or `threads.get`, from `get_state`."""
        thread_id = str(thread["thread_id"])
        self._records.pop(thread_id, None)
        row = None
        if thread.get("status") in WAITING:
            try:
                state = await self._state(thread_id)
                row = state_row(thread, state, self._info(thread), await self._ran(
                    thread_id, thread, state))
                if row is not None and thread.get("status") == ERROR \
                        and row.kind is not PauseKind.INTERRUPT:
                    row = None  # a failed run's next tasks: nothing waits for a human
            except NotPendingError:
                row = None
            except (DatabaseUnavailable, RightsMissing):
                raise
            except ConsoleError as exc:  # this thread only: listed, with why
                row = PendingThread.unreadable(thread_id, "", parse_time(
                    thread.get("updated_at")), str(exc), graph_of(thread.get("metadata")))
        self._exact[thread_id] = (str(thread.get("updated_at")), row)
        self.provisional.pop(thread_id, None)
        return row

    async def head_checkpoint_id(self, thread_id: str) -> str | None:
        try:
            state = await self._state(thread_id, select=["checkpoint"])
        except NotPendingError:
            return None
        checkpoint = state.get("checkpoint")
        return str(checkpoint["checkpoint_id"]) if isinstance(checkpoint, Mapping) \
            and checkpoint.get("checkpoint_id") else None

    # --- the review bundle --------------------------------------------------------------

    async def bundle(self, thread_id: str, *, now: datetime | None = None) -> ReviewBundle:
        """The review bundle from `get_state` and the last `HISTORY_LIMIT` checkpoints of
        `get_history` (the server gives no more in one read: a run that started earlier
        has no "since the run started" diff, and says so)."""
        for _ in range(3):
            bundle = await self._server_bundle(thread_id)
            if bundle is not None:
                return bundle
        raise ConsoleError(f"Thread {inert(thread_id)!r} keeps moving on; try again in a "
                           "moment.")

    async def _server_bundle(self, thread_id: str) -> ReviewBundle | None:
        thread = await self._thread(thread_id)
        if thread is None:
            raise NotPendingError(f"Thread {inert(thread_id)!r} was not found on "
                                  f"{self.location.display()}.")
        state = await self._state(thread_id)
        with self.client.failures("read this thread's history", thread_id=thread_id):
            history = list(await self.client.sdk.threads.get_history(
                thread_id, limit=HISTORY_LIMIT))
        head_id = _checkpoint_id(state)
        if history and _checkpoint_id(history[0]) != head_id:
            return None  # the thread moved between the reads
        pause = None
        if thread.get("status") in WAITING:
            ran = tuple(str(n) for n in history[1].get("next") or ()) if len(history) > 1 \
                else ()
            pause = state_row(thread, state, self._info(thread), ran)
            if pause is not None and thread.get("status") == ERROR \
                    and pause.kind is not PauseKind.INTERRUPT:
                pause = None
            self._exact[thread_id] = (str(thread.get("updated_at")), pause)
            self.provisional.pop(thread_id, None)
        parent = history[1] if len(history) > 1 else None
        return ReviewBundle(
            thread_id=thread_id,
            checkpoint_ns="",
            checkpoint_id=head_id,
            parent_checkpoint_id=_parent_id(state),
            created_at=parse_time(state["created_at"]) if state.get("created_at") else None,
            values=_values(state),
            previous_values=_values(parent) if parent is not None else None,
            first_values=_run_start(history),
            next_nodes=tuple(str(n) for n in state.get("next") or ()),
            metadata=dict(state.get("metadata") or {}),
            interrupts=pause.interrupts if pause is not None else state_interrupts(state),
            pending=pause,
            history=tuple(_ref(item) for item in history),
        )

    async def checkpoints(
        self, thread_id: str, *, checkpoint_id: str | None = None, source: str | None = None,
        step: int | None = None, limit: int = 1,
    ) -> list[StoredCheckpoint]:
        """Root checkpoints of a thread from `get_history`, newest first (at most the
        server's history page; values as the server gives them)."""
        flt: dict[str, Any] = {k: v for k, v in (("source", source), ("step", step))
                               if v is not None}
        with self.client.failures("read this thread's history", thread_id=thread_id):
            if checkpoint_id is not None:
                items = [await self.client.sdk.threads.get_state(
                    thread_id, checkpoint_id=checkpoint_id)]
            else:
                items = list(await self.client.sdk.threads.get_history(
                    thread_id, limit=limit, metadata=flt or None))
        return [stored_checkpoint(
            thread_id, _checkpoint_id(item), _parent_id(item),
            {"id": _checkpoint_id(item), "ts": item.get("created_at"),
             "channel_values": _values(item)},
            item.get("metadata") or {}) for item in items[:limit]]

    # --- reads -----------------------------------------------------------------------------

    async def _thread(self, thread_id: str) -> dict[str, Any] | None:
        try:
            with self.client.failures("read this thread", thread_id=thread_id):
                return dict(await self.client.sdk.threads.get(thread_id))
        except NotPendingError:
            return None

    async def _state(self, thread_id: str, select: list[str] | None = None
                     ) -> dict[str, Any]:
        with self.client.failures("read this thread", thread_id=thread_id):
            return dict(await self.client.sdk.threads.get_state(thread_id, select=select))

    async def _ran(self, thread_id: str, thread: Mapping[str, Any],
                   state: Mapping[str, Any]) -> tuple[str, ...]:
        """The nodes of the step before the head (what an `interrupt_after` stopped
        after): read only for a breakpoint of a loaded graph that gates nothing next."""
        info = self._info(thread)
        nxt = state.get("next") or ()
        if info is None or state_interrupts(state) or not nxt \
                or any(info.pauses_before(str(n)) for n in nxt):
            return ()
        parent = _parent_id(state)
        if parent is None:
            return ()
        with self.client.failures("read this thread's history", thread_id=thread_id):
            before = await self.client.sdk.threads.get_state(thread_id, checkpoint_id=parent)
        return tuple(str(n) for n in before.get("next") or ())

    def _info(self, thread: Mapping[str, Any]) -> Any:
        return self.registry.get(graph_of(thread.get("metadata")))

    async def _node_names(self, metadata: Any) -> tuple[str, ...]:
        """The root node names of a thread's graph: the loaded graph's, else the
        server's (`assistants.get_graph`, read once per graph)."""
        graph_id = graph_of(metadata)
        if graph_id is None:
            return ()
        names = self._nodes.get(graph_id)
        if names is None:
            info = self.registry.get(graph_id)
            if info is not None:
                names = tuple(getattr(info.graph, "nodes", {}) or ())
            else:
                names = await self._server_nodes(graph_id, metadata)
            self._nodes[graph_id] = names
        return names

    async def _server_nodes(self, graph_id: str, metadata: Mapping[str, Any]
                            ) -> tuple[str, ...]:
        assistant = metadata.get("assistant_id")
        try:
            with self.client.failures("read the graph's nodes"):
                if not isinstance(assistant, str):
                    found = await self.client.sdk.assistants.search(graph_id=graph_id,
                                                                    limit=1)
                    if not found:
                        return ()
                    assistant = str(found[0]["assistant_id"])
                graph = await self.client.sdk.assistants.get_graph(assistant)
        except (NotPendingError, RightsMissing):
            return ()  # rows of this graph are read with get_state instead
        nodes = graph.get("nodes") if isinstance(graph, Mapping) else None
        return tuple(str(n["id"]) for n in nodes or () if isinstance(n, Mapping)
                     and isinstance(n.get("id"), str) and not n["id"].startswith("__"))


def _provisional(thread: Mapping[str, Any], interrupts: Any, paused_at: datetime
                 ) -> PendingThread:
    """A row listed before `get_state` names it: a breakpoint (or a question asked inside
    a subgraph) whose node and checkpoint are still to be read."""
    metadata = thread.get("metadata")
    if interrupts:
        first = inline_row(thread, {i.task_id: "" for i in interrupts}, interrupts)
        return PendingThread(first.thread_id, "", "", first.graph, (), first.kind,
                             first.convention, first.interrupts, paused_at, first.summary,
                             first.metadata)
    return PendingThread(str(thread["thread_id"]), "", "", graph_of(metadata), (),
                         PauseKind.BEFORE, Convention.BREAKPOINT, (), paused_at,
                         PROVISIONAL_SUMMARY,
                         dict(metadata) if isinstance(metadata, Mapping) else {})


def _checkpoint_id(state: Mapping[str, Any]) -> str:
    checkpoint = state.get("checkpoint")
    if isinstance(checkpoint, Mapping) and checkpoint.get("checkpoint_id"):
        return str(checkpoint["checkpoint_id"])
    return str(state.get("checkpoint_id") or "")


def _parent_id(state: Mapping[str, Any]) -> str | None:
    parent = state.get("parent_checkpoint")
    if isinstance(parent, Mapping) and parent.get("checkpoint_id"):
        return str(parent["checkpoint_id"])
    return None


def _values(state: Mapping[str, Any]) -> dict[str, Any]:
    """A state's values as a dict (an entrypoint's state may be any JSON value)."""
    values = state.get("values")
    if isinstance(values, Mapping):
        return dict(values)
    return {} if values is None else {"value": values}


def _run_start(history: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The newest run's starting state, if the history read reaches its input checkpoint
    (else None: the bundle's diff says the run start was not in the recent history)."""
    for index, item in enumerate(history):
        if (item.get("metadata") or {}).get("source") == "input":
            return _values(history[index - 1] if index > 0 else item)
    if history and len(history) < HISTORY_LIMIT:
        return _values(history[-1])
    return None


def _ref(item: Mapping[str, Any]) -> CheckpointRef:
    metadata = item.get("metadata") or {}
    step, source = metadata.get("step"), metadata.get("source")
    return CheckpointRef(
        checkpoint_id=_checkpoint_id(item), parent_checkpoint_id=_parent_id(item),
        created_at=parse_time(item["created_at"]) if item.get("created_at") else None,
        step=step if isinstance(step, int) else None,
        source=source if isinstance(source, str) else None)

