"""Worker mode: apply the decisions a console only recorded, exactly once.

A console in worker mode needs neither the application's code nor its secrets: it
validates a decision and records it in the ledger as `queued`, with the exact Command
to send (`Plan.command_preview()`). A worker runs next to the application, with its
graphs, and moves each queued row through these states (every arrow is one atomic
statement in the database):

    queued --claim (SKIP LOCKED, lease)--> claimed --started_at--> resume --> applied
                                              |                          \\-> failed
                                              \\-- not started: released or, after the
                                                  lease, queued again by any worker

A queued or claimed row holds its pause in the ledger's unique index, so no other
decision can be taken on that pause meanwhile. Before resuming, the worker re-checks that
the thread's head is still the row's checkpoint and the pause is the one decided; if not,
the row fails as a conflict and nothing runs.

`started_at` is committed just before the graph is resumed. A claim whose lease ran out
(its worker died or lost the database) is therefore settled without guessing:
- not started: the graph was never touched; the row is queued again and applied once;
- started: what the thread's rows say (`ledger.reconcile.delivery_of`): not delivered
  (`failed`, decide again), delivered and the run stopped before a named step
  (`stalled`, the application resumes the run), or delivered and finished (`applied`).
  Nothing is re-run automatically.
A resume that returns is settled the same way: one that left the same question waiting
(a graph loaded under the thread's name that is not its graph) is `failed`, never
`applied`, and the thread can be decided again.
A worker keeps its leases alive with a heartbeat; settling an expired claim only
succeeds while the lease is still expired, so a late heartbeat always wins. Resumes run
with durability "sync" (apply.RESUME_DURABILITY): a step's checkpoint lands before the
next step starts, so "head unchanged" really means no later node ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from console.core.errors import UsageError
from console.core.graphs import GraphInfo, GraphRegistry
from console.core.ledger.apply import ignored_outcome, pause_key, resume_graph
from console.core.ledger.db import LedgerDB, database_error, install_ledger, ledger_db
from console.core.ledger.decisions import Plan
from console.core.ledger.reconcile import (
    Delivery,
    Truth,
    delivery_of,
    process_alive,
    settled_outcome,
)
from console.core.ledger.rows import DecisionStatus, LedgerRow, Origin, WorkerRecord
from console.core.ledger.schema import DECISIONS_CHANNEL
from console.core.models import PendingThread
from console.core.store.base import CheckpointStore

log = logging.getLogger("console.worker")

DEFAULT_LEASE_SECONDS = 60.0
DEFAULT_POLL_SECONDS = 1.0
# With notifications a worker still polls now and then, in case one was missed (the
# trigger not installed yet, or a connection that dropped and came back).
SAFETY_POLL_SECONDS = 15.0
FORGET_WORKERS_AFTER_SECONDS = 7 * 86400.0
MAX_SKIPPED = 10_000

ResultHook = Callable[["WorkerResult"], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """How a worker claims and applies decisions."""

    concurrency: int = 1
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    heartbeat_seconds: float | None = None  # default: a quarter of the lease
    poll_seconds: float = DEFAULT_POLL_SECONDS
    listen: bool = True  # Postgres LISTEN/NOTIFY; SQLite always polls
    shutdown_timeout: float = 30.0
    worker_id: str | None = None

    @property
    def heartbeat(self) -> float:
        return self.heartbeat_seconds or max(0.2, self.lease_seconds / 4)


@dataclass(frozen=True, slots=True)
class WorkerResult:
    """What a worker did with one decision."""

    decision_id: int
    thread_id: str
    status: str  # applied | stalled | failed | released | requeued | lost
    outcome: str
    new_checkpoint_id: str | None = None


@dataclass(slots=True)
class WorkerCounters:
    applied: int = 0
    failed: int = 0
    released: int = 0
    reconciled: int = 0
    lost: int = 0


def plan_from_ledger(row: LedgerRow) -> Plan:
    """The Plan a console recorded for a decision, rebuilt from its `resume` column.

    The column holds `Plan.command_preview()`: `{"update", "resume": {id: value}}` for
    interrupts, `{"update", "resume": None}` to continue at a breakpoint, and
    `{"skip": [nodes], "update"}` to end a run at a breakpoint without running the node.
    """
    data = row.resume
    if not isinstance(data, Mapping):
        raise ValueError(f"ledger #{row.id} holds no command (resume is {type(data).__name__})")
    update = data.get("update") or None
    if update is not None and not isinstance(update, Mapping):
        raise ValueError(f"ledger #{row.id} has a state update that is not an object")
    update = dict(update) if update else None
    if "skip" in data:
        skip = data.get("skip") or ()
        return Plan(resume=None, update=update, breakpoint_action="skip",
                    skip_nodes=tuple(str(n) for n in skip))
    resume = data.get("resume")
    if resume is None:
        return Plan(resume=None, update=update, breakpoint_action="continue")
    if not isinstance(resume, Mapping) or not resume:
        raise ValueError(f"ledger #{row.id} has a resume value that is not {{interrupt_id: value}}")
    return Plan(resume=dict(resume), update=update, breakpoint_action=None)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


class Worker:
    """Claims queued decisions from the ledger and applies them with the loaded graphs.

    Use `run()` for a long-running process (what `hitl-console worker` does) or `drain()`
    to apply what is queued now and return (an application's own loop).
    """

    def __init__(
        self, store: CheckpointStore, options: WorkerOptions | None = None,
        *, on_result: ResultHook | None = None,
    ) -> None:
        self.store = store
        self.options = options or WorkerOptions()
        if self.options.concurrency < 1:
            raise UsageError("--concurrency must be at least 1.")
        if self.options.lease_seconds <= self.options.heartbeat:
            raise UsageError("The lease must be longer than the heartbeat interval.")
        self.host = socket.gethostname()
        self.worker_id = self.options.worker_id or (
            f"{self.host}:{os.getpid()}:{secrets.token_hex(3)}")
        self.origin = Origin(reviewer=f"worker {self.worker_id}", client_host=self.host,
                             ssh_origin=None, pid=os.getpid())
        self.ledger: LedgerDB = ledger_db(store)
        self.counters = WorkerCounters()
        self.wake_mode = "poll"
        self.on_result = on_result
        self._applying: set[int] = set()
        self._skip: set[int] = set()  # rows this worker cannot apply: left to others
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._state = "running"

    @property
    def registry(self) -> GraphRegistry:
        return self.store.registry

    @property
    def claim_graphs(self) -> list[str]:
        """The graphs this worker claims decisions for, by name. Decisions on threads
        without a graph name are claimed too, and matched by nodes like the console does."""
        return self.registry.names()

    # ----------------------------------------------------------------- lifecycle

    async def prepare(self) -> None:
        """Install the ledger if needed and announce this worker."""
        self._state = "running"
        if not self.registry:
            raise UsageError("A worker needs the application's graphs: pass --graph "
                             "NAME=module:attr (repeatable) or run it next to langgraph.json.")
        try:
            if not await self.ledger.installed():
                await install_ledger(self.store)
            await self.ledger.prune_workers(FORGET_WORKERS_AFTER_SECONDS)
            await self.ledger.register_worker(self._record())
        except Exception as exc:
            raise database_error(exc, self.store.location.display()) from exc

    def _record(self) -> WorkerRecord:
        now = datetime.now(UTC)
        return WorkerRecord(
            worker_id=self.worker_id, host=self.host, pid=os.getpid(),
            graphs=tuple(self.registry.names()),
            concurrency=self.options.concurrency, wake=self.wake_mode, state=self._state,
            lease_seconds=self.options.lease_seconds, started_at=now, heartbeat_at=now,
            stopped_at=None, applying=0, applied=0, failed=0, released=0, reconciled=0)

    def stop(self) -> None:
        """Ask `run()` to stop: no new claims; in-flight applies finish (or time out)."""
        self._stopping.set()
        self._wake.set()

    async def run(self, stop: asyncio.Event | None = None) -> WorkerCounters:
        """Claim and apply until `stop` is set (or `stop()` is called); then shut down
        gracefully: unstarted claims go back to the queue, running applies finish."""
        await self.prepare()
        background = [asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
                      asyncio.create_task(self._reconcile_loop(), name="reconcile")]
        if self.options.listen and self.store.location.backend == "postgres":
            background.append(asyncio.create_task(self._listen_loop(), name="listen"))
        slots = [asyncio.create_task(self._slot(), name=f"slot-{i}")
                 for i in range(self.options.concurrency)]
        waiter = asyncio.create_task(stop.wait()) if stop is not None else None
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait([t for t in (waiter, stopping) if t is not None],
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.stop()
            for task in (waiter, stopping):
                if task is not None:
                    task.cancel()
            await self._shutdown(slots, background)
        return self.counters

    async def _shutdown(self, slots: list[asyncio.Task[None]],
                        background: list[asyncio.Task[None]]) -> None:
        self._state = "stopping"
        with contextlib.suppress(Exception):
            await self._beat()
        pending: set[asyncio.Task[None]] = set()
        if slots:
            _, pending = await asyncio.wait(slots, timeout=self.options.shutdown_timeout)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("%d decision(s) were still applying after %.0fs; they stay claimed and "
                        "are reconciled once their lease expires", len(self._applying),
                        self.options.shutdown_timeout)
        await asyncio.gather(*pending, return_exceptions=True)
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        with contextlib.suppress(Exception):
            released = await self.ledger.release_claims(self.worker_id)
            self.counters.released += released
        self._state = "stopped"
        with contextlib.suppress(Exception):
            await self._beat(stopped=True)

    async def drain(self, *, limit: int | None = None) -> list[WorkerResult]:
        """Apply every decision queued now (up to `limit`), then return what happened.

        Settles expired claims first. Leases are renewed while it runs.
        """
        await self.prepare()
        results = await self.reconcile_expired()
        heartbeat = asyncio.create_task(self._heartbeat_loop())
        budget = [limit if limit is not None else -1]

        async def slot() -> None:
            while budget[0] != 0:
                if budget[0] > 0:
                    budget[0] -= 1
                result = await self.apply_next()
                if result is None:
                    return
                results.append(result)

        try:
            await asyncio.gather(*(slot() for _ in range(self.options.concurrency)))
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            self._state = "stopped"
            with contextlib.suppress(Exception):
                await self._beat(stopped=True)
        return results

    # ------------------------------------------------------------------ loops

    async def _slot(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                result = await self.apply_next()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: wait, then try again
                log.warning("claiming failed (%s); retrying", _short(exc))
                result = None
            if result is None and not self._stopping.is_set():
                timeout = (SAFETY_POLL_SECONDS if self.wake_mode == "notify"
                           else self.options.poll_seconds)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)

    async def _beat(self, *, stopped: bool = False) -> None:
        c = self.counters
        await self.ledger.worker_heartbeat(
            self.worker_id, state=self._state, wake=self.wake_mode,
            applying=len(self._applying), applied=c.applied, failed=c.failed,
            released=c.released, reconciled=c.reconciled, stopped=stopped)

    async def _heartbeat_loop(self) -> None:
        while True:
            try:
                if self._applying:
                    await self.ledger.renew_leases(self.worker_id, self.options.lease_seconds)
                await self._beat()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("heartbeat failed (%s); claims expire after %.0fs without one",
                            _short(exc), self.options.lease_seconds)
            await asyncio.sleep(self.options.heartbeat)

    async def _reconcile_loop(self) -> None:
        interval = max(self.options.poll_seconds, self.options.lease_seconds / 2)
        while True:
            try:
                await self.reconcile_expired()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("reconciling expired claims failed (%s)", _short(exc))
            await asyncio.sleep(interval)

    async def _listen_loop(self) -> None:
        """Wake idle slots on `queued` notifications; fall back to polling while the
        listening connection is down (it reconnects with backoff)."""
        import psycopg

        delay = 1.0
        while True:
            try:
                if not await self.ledger.notify_installed():
                    log.warning("decision notifications are not installed (run `hitl-console "
                                "setup`); polling every %.1fs", self.options.poll_seconds)
                    return
                conn = await psycopg.AsyncConnection.connect(
                    self.store.location.target, autocommit=True, connect_timeout=5)
                async with conn:
                    await conn.execute(f"LISTEN {DECISIONS_CHANNEL}")
                    self.wake_mode = "notify"
                    self._wake.set()  # catch up with anything queued while not listening
                    delay = 1.0
                    async for note in conn.notifies():
                        if note.payload.startswith("queued "):
                            self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("listening for decisions failed (%s); polling meanwhile",
                            _short(exc))
            self.wake_mode = "poll"
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    # ------------------------------------------------------------------ reading

    def _reading(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """The SQLite store now takes the saver's lock inside its own reads (an open read
        on the shared connection pinned a stale snapshot); taking it here as well would
        deadlock, since asyncio locks are not re-entrant."""
        return contextlib.nullcontext()

    async def _pause(self, thread_id: str) -> PendingThread | None:
        async with self._reading():
            return await self.store.pending_thread(thread_id)

    async def _head(self, thread_id: str) -> str | None:
        async with self._reading():
            return await self.store.head_checkpoint_id(thread_id)

    # ------------------------------------------------------------------ applying

    async def apply_next(self) -> WorkerResult | None:
        """Claim the oldest queued decision this worker can apply and apply it; None if
        the queue has nothing for it."""
        row = await self.ledger.claim_queued(
            self.worker_id, self.options.lease_seconds, graphs=self.claim_graphs,
            exclude=sorted(self._skip))
        if row is None:
            return None
        self._applying.add(row.id)
        try:
            result = await self._apply_claimed(row)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            result = await self._after_error(row, exc)
        finally:
            self._applying.discard(row.id)
        await self._report(result)
        return result

    async def _report(self, result: WorkerResult) -> None:
        level = logging.WARNING if result.status in ("failed", "lost") else logging.INFO
        log.log(level, "#%d %s: %s (%s)", result.decision_id, result.thread_id, result.status,
                result.outcome)
        if self.on_result is not None:
            maybe = self.on_result(result)
            if maybe is not None:
                await maybe

    async def _after_error(self, row: LedgerRow, exc: Exception) -> WorkerResult:
        """A database error around a claim: give it back if the graph was not touched;
        otherwise the lease settles it."""
        message = _short(exc)
        with contextlib.suppress(Exception):
            if await self.ledger.release_claims(self.worker_id, row.id):
                self.counters.released += 1
                return WorkerResult(row.id, row.thread_id, "released",
                                    f"released after an error ({message}); queued again")
        self.counters.lost += 1
        return WorkerResult(row.id, row.thread_id, "lost",
                            f"error after the resume started ({message}); the claim is "
                            "settled from the thread's head once its lease expires")

    async def _apply_claimed(self, row: LedgerRow) -> WorkerResult:
        # Re-check, after the claim, that the head is still the pause that was decided.
        pause = await self._pause(row.thread_id)
        if pause is None or pause.checkpoint_id != row.checkpoint_id:
            head = pause.checkpoint_id if pause else await self._head(row.thread_id)
            if head != row.checkpoint_id:
                where = (f"moved on from {row.checkpoint_id} to {head}" if head
                         else "no longer exists")
                return await self._settle(row, DecisionStatus.FAILED, (
                    f"conflict: the thread {where} before a worker applied this decision "
                    "(resumed outside the console?); nothing was run. Decide again if needed."))
        problem = self._pause_problem(row, pause)
        if problem:
            return await self._settle(row, DecisionStatus.FAILED, problem)
        assert pause is not None
        # The name the console recorded wins; without one, the worker's own classification
        # (graph_id metadata, else the only loaded graph with these nodes).
        graph = self.registry.get(row.graph or pause.graph)
        if graph is None:
            return await self._release(row, f"graph {pause.graph or row.graph or '?'} is not "
                                            "loaded in this worker; left for another worker")
        try:
            plan = plan_from_ledger(row)
        except ValueError as exc:
            return await self._settle(row, DecisionStatus.FAILED,
                                      f"the recorded command is unreadable ({exc}); nothing "
                                      "was run. Decide again.")
        if self._stopping.is_set():
            return await self._release(row, "the worker is stopping; queued again")
        if not await self.ledger.mark_started(row.id, self.worker_id):
            self.counters.lost += 1
            return WorkerResult(row.id, row.thread_id, "lost",
                                "the claim expired before the resume started; nothing was run")
        return await self._resume(row, graph, plan, pause)

    def _pause_problem(self, row: LedgerRow, pause: PendingThread | None) -> str | None:
        if pause is None:
            what = ("the worker's graph says it is not paused at a breakpoint"
                    if not row.pause_key else "it is no longer waiting for a human")
            return (f"conflict: {row.thread_id} is at {row.checkpoint_id} but {what}; "
                    "nothing was run.")
        if pause.checkpoint_id != row.checkpoint_id:
            return (f"conflict: the thread moved on from {row.checkpoint_id} to "
                    f"{pause.checkpoint_id} before a worker applied this decision; nothing "
                    "was run. Decide again if needed.")
        if pause_key(pause) != row.pause_key:
            return (f"conflict: the pause changed since the decision (interrupts "
                    f"{pause_key(pause) or 'none'}, decided {row.pause_key or 'none'}); "
                    "nothing was run. Decide again.")
        return None

    async def _resume(
        self, row: LedgerRow, graph: GraphInfo, plan: Plan, pause: PendingThread
    ) -> WorkerResult:
        try:
            await resume_graph(self.store, graph, plan, pause)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            truth = await delivery_of(self.store, row)
            if truth.delivery is Delivery.NOT_DELIVERED:
                return await self._settle(row, DecisionStatus.FAILED,
                                          f"resuming failed ({_short(exc)}); the thread's "
                                          "head is recorded. Look at the run before deciding "
                                          "again.")
            return await self._settle_truth(row, truth, f"delivered by worker "
                                            f"{self.worker_id}, then {_short(exc)}")
        truth = await delivery_of(self.store, row)
        if truth.delivery is Delivery.NOT_DELIVERED:
            # The resume returned, yet the same question waits: never `applied`.
            return await self._settle(row, DecisionStatus.FAILED,
                                      ignored_outcome(row, graph, pause))
        outcome = f"applied by worker {self.worker_id}"
        if truth.delivery is Delivery.STOPPED:
            return await self._settle_truth(row, truth, outcome)
        if truth.again is not None and truth.again.checkpoint_id == row.checkpoint_id:
            outcome += f"; the graph asked again: {truth.again.summary}"
        return await self._settle(row, DecisionStatus.APPLIED, outcome)

    async def _settle_truth(self, row: LedgerRow, truth: Truth, prefix: str) -> WorkerResult:
        return await self._settle(row, truth.status, settled_outcome(truth, prefix))

    async def _settle(self, row: LedgerRow, status: DecisionStatus, outcome: str) -> WorkerResult:
        settled, head = await self.ledger.finish_claim(row.id, self.worker_id, status.value,
                                                       outcome)
        if not settled:
            self.counters.lost += 1
            return WorkerResult(row.id, row.thread_id, "lost", (
                f"wanted to record {status.value} ({outcome}), but the claim had expired and "
                "was settled by another worker: make the lease longer than any stall"))
        if status in (DecisionStatus.APPLIED, DecisionStatus.STALLED):
            self.counters.applied += 1  # delivered
        else:
            self.counters.failed += 1
        return WorkerResult(row.id, row.thread_id, status.value, outcome, head)

    async def _release(self, row: LedgerRow, why: str) -> WorkerResult:
        if len(self._skip) < MAX_SKIPPED:
            self._skip.add(row.id)
        await self.ledger.release_claims(self.worker_id, row.id)
        self.counters.released += 1
        return WorkerResult(row.id, row.thread_id, "released", why)

    # ------------------------------------------------------------------ leases

    async def reconcile_expired(self) -> list[WorkerResult]:
        """Settle claims whose lease ran out, from each thread's actual head; never re-runs
        a resume that may have started."""
        results = []
        for row, host, pid in await self.ledger.expired_claims():
            if row.id in self._applying:
                continue  # ours and still running: the next heartbeat renews it
            if host == self.host and pid != os.getpid() and process_alive(pid):
                continue  # its process is alive here (its loop is blocked): it may still run
            result = await self._settle_expired(row)
            if result is not None:
                self.counters.reconciled += 1
                results.append(result)
                await self._report(result)
        return results

    async def _settle_expired(self, row: LedgerRow) -> WorkerResult | None:
        holder = row.claimed_by or "?"
        if row.started_at is None:
            if not await self.ledger.requeue_expired(row):
                return None
            with contextlib.suppress(Exception):
                await self.ledger.event(self.origin, "worker_requeued", row.thread_id,
                                        row.checkpoint_id, {"decision": row.id, "worker": holder})
            return WorkerResult(row.id, row.thread_id, "requeued",
                                f"worker {holder} stopped before resuming; queued again")
        truth = await delivery_of(self.store, row)
        outcome = settled_outcome(truth, f"reconciled by worker {self.worker_id}: worker "
                                         f"{holder} stopped mid-apply")
        status = truth.status
        settled, new_head = await self.ledger.settle_expired(row, status.value, outcome)
        if not settled:
            return None
        return WorkerResult(row.id, row.thread_id, status.value, outcome, new_head)


# ---------------------------------------------------------------------------- API


def graph_registry(graphs: Any) -> GraphRegistry:
    """A registry from what an application has at hand: a compiled graph (named by its
    `name`), a mapping of name to compiled graph, GraphInfo objects, or a list of those."""
    if isinstance(graphs, GraphRegistry):
        return graphs
    if isinstance(graphs, GraphInfo):
        return GraphRegistry([graphs])
    if isinstance(graphs, Mapping):
        return GraphRegistry(GraphInfo.of(str(name), g) for name, g in graphs.items())
    if hasattr(graphs, "ainvoke") and hasattr(graphs, "nodes"):
        return GraphRegistry([GraphInfo.of(str(getattr(graphs, "name", "") or "graph"), graphs)])
    if isinstance(graphs, Iterable) and not isinstance(graphs, str | bytes):
        infos: list[GraphInfo] = []
        for item in graphs:
            infos.extend(graph_registry(item))
        return GraphRegistry(infos)
    raise UsageError(f"Cannot use {type(graphs).__name__} as graphs: pass a compiled graph, "
                     "a mapping of name to graph, or a list of them.")


@contextlib.asynccontextmanager
async def _store_for(
    graphs: Any, db: str | CheckpointStore, concurrency: int, serde: Any = None
) -> Any:
    registry = graph_registry(graphs)
    if not isinstance(db, str):
        yield _with_registry(db, registry)
        return
    store = await open_worker_store(db, registry, concurrency=concurrency, serde=serde)
    try:
        yield store
    finally:
        await store.close()


def _with_registry(store: CheckpointStore, registry: GraphRegistry) -> CheckpointStore:
    if registry and not store.registry:
        store.registry = registry
    return store


async def open_worker_store(
    db: str, registry: GraphRegistry, *, concurrency: int = 1, serde: Any = None,
) -> CheckpointStore:
    """A store for a worker: every breakpoint is judged by the loaded graphs (no grace),
    and a Postgres pool large enough for `concurrency` resumes. `serde` is the
    application's serializer (e.g. its EncryptedSerializer) or a `--serde` spec; the
    worker reads and writes with it, decoding safely."""
    from console.core.serde import serializer_from_spec, wrap_serializer

    safe = serializer_from_spec(serde) if serde is None or isinstance(serde, str) \
        else wrap_serializer(serde)
    from console.core.dburl import parse_db_url

    location = parse_db_url(db)
    if location.backend == "postgres":
        from console.core.store.postgres import PostgresStore

        return await PostgresStore.open(location, registry, 0.0,
                                        max_size=max(4, 2 * concurrency + 2), serde=safe)
    from console.core.store import open_store

    return await open_store(location, registry, grace_seconds=0.0, serde=safe)


async def apply_pending_decisions(
    graphs: Any,
    db: str | CheckpointStore,
    *,
    concurrency: int = 1,
    limit: int | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    worker_id: str | None = None,
    serde: Any = None,
) -> list[WorkerResult]:
    """Apply the decisions queued by consoles in worker mode, once, and return.

    For applications that already run a worker loop (a scheduler, a queue consumer):
    call it whenever convenient, e.g. every few seconds. `graphs` is a compiled graph, a
    mapping of name to graph or a list of them, named as the console shows them (the
    runs' `graph_id` metadata); `db` is the checkpoint database URL (or an open store).
    Each decision is claimed, re-checked against the thread's head, resumed with the
    same code as inline mode, and finalised; expired claims of dead workers are settled
    first. Safe to call from any number of processes at once. `serde`: the
    application's checkpoint serializer (e.g. its EncryptedSerializer), if not LangGraph's
    default.
    """
    async with _store_for(graphs, db, concurrency, serde) as store:
        worker = Worker(store, WorkerOptions(
            concurrency=concurrency, lease_seconds=lease_seconds,
            worker_id=worker_id or f"{socket.gethostname()}:{os.getpid()}:api"))
        return await worker.drain(limit=limit)


async def run_worker(
    graphs: Any,
    db: str | CheckpointStore,
    *,
    stop: asyncio.Event | None = None,
    options: WorkerOptions | None = None,
    on_result: ResultHook | None = None,
    serde: Any = None,
) -> WorkerCounters:
    """Run a worker inside an application until `stop` is set (what the CLI runs);
    `serde` as for `apply_pending_decisions`."""
    opts = options or WorkerOptions()
    async with _store_for(graphs, db, opts.concurrency, serde) as store:
        return await Worker(store, opts, on_result=on_result).run(stop)


__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "Worker",
    "WorkerOptions",
    "WorkerResult",
    "apply_pending_decisions",
    "graph_registry",
    "open_worker_store",
    "plan_from_ledger",
    "run_worker",
]
