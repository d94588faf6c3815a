"""What really happened to a decision once its resume ran, crashed or was cut short.

Every place that settles a decision asks this module, from the stored rows alone (no
graph needed, none imported): the inline apply when the resume returns or raises, the
worker after a resume and when a dead worker's lease runs out, and `reconcile` for
in-flight rows whose process is gone. The answer is one of three, told apart in the
ledger's status:

- **not delivered** (`failed`): the thread's head is still the pause and the pause is
  still waiting on the same question. Nothing of the decision reached the graph (or the
  graph ignored it: a wrong graph, an answer the node did not take); the thread may be
  decided again.
- **delivered, the run stopped before its next step** (`stalled`): the answer reached the
  gated task, but the run did not get past the step named in the outcome; the
  application must resume the run. The thread stays in the queue as `stalled`.
- **delivered, the run finished** (`applied`): nothing is left to run, or the run went
  on to a new pause (asked again, or stopped at its next breakpoint).

How "delivered" is told, in LangGraph's terms (`pregel/_runner.py` `commit`,
`pregel/_algo.py` `_scratchpad`, `types.interrupt`): a resumed task's writes are saved on
the pause's checkpoint when the task ends (its output, its `__resume__` answers and the
`branch:to:NODE` triggers of its successors), or with a new `__interrupt__` when it asks
again; the step's new checkpoint follows. A task killed while it runs saves nothing, so
a head still on the pause, with the same question and no output from the paused task,
was not delivered. This is what `aget_state()` shows: the same `next` and `interrupts`.
A head that moved past the pause, or a paused task with output on it, was delivered;
what runs next is the head's unfinished tasks plus the nodes its finished tasks
triggered, which `aget_state().next` leaves out while their step has no checkpoint yet.
"""

from __future__ import annotations

import enum
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from console.core.ledger.db import LedgerDB
from console.core.ledger.rows import DecisionStatus, LedgerRow, interrupts_key
from console.core.models import (
    INSIDE_PREFIX,
    Convention,
    PauseKind,
    PendingFilter,
    PendingThread,
)
from console.core.store.base import CheckpointStore
from console.core.store.heads import HeadState, classify

_TRIGGER = "branch:to:"
_END = "__end__"
_CONTROL = frozenset({"__interrupt__", "__resume__", "__error__", "__error_source_node__"})
# The kinds of pause a loaded graph (or an interrupt write) vouches for; STALLED only
# says that a run has next nodes and no graph explains why.
_REAL_PAUSES = (PauseKind.INTERRUPT, PauseKind.BEFORE, PauseKind.AFTER)


class Delivery(enum.StrEnum):
    NOT_DELIVERED = "not_delivered"
    FINISHED = "finished"  # the run finished, or went on to a new pause
    STOPPED = "stopped"  # the run stopped before its next step: the application resumes it


_STATUS = {
    Delivery.NOT_DELIVERED: DecisionStatus.FAILED,
    Delivery.FINISHED: DecisionStatus.APPLIED,
    Delivery.STOPPED: DecisionStatus.STALLED,
}


@dataclass(frozen=True, slots=True)
class Truth:
    """Where a decision's delivery stands, read from the thread's stored rows."""

    delivery: Delivery
    head: str | None
    next_nodes: tuple[str, ...] = ()
    detail: str = ""  # what the rows say, as a clause: "the thread moved on to X"
    again: PendingThread | None = None  # the new pause the run went on to, if any

    @property
    def status(self) -> DecisionStatus:
        return _STATUS[self.delivery]

    @property
    def delivered(self) -> bool:
        return self.delivery is not Delivery.NOT_DELIVERED

    def stopped_before(self) -> str:
        """`act`, `act, notify`, or `its next step` when no node can be named."""
        return ", ".join(self.next_nodes) or "its next step"


_STALL_PREFIX = "decision delivered; the run stopped before "


def stall_reason(next_nodes: Sequence[str]) -> str:
    """The queue's words for a run that stopped after a decision."""
    where = ", ".join(next_nodes) or "its next step"
    return f"{_STALL_PREFIX}{where}: the application must resume it"


async def delivery_of(store: CheckpointStore, row: LedgerRow) -> Truth:
    """Whether `row`'s decision reached its graph, and how the run stands now."""
    head = await store.head_checkpoint_id(row.thread_id)
    if head is None:
        return Truth(Delivery.NOT_DELIVERED, None, detail="the thread no longer exists")
    state = await _head_state(store, row.thread_id)
    if state is not None and state.checkpoint_id != head:
        state = None  # a newer head landed between the two reads: read it as finished
    if head == row.checkpoint_id:
        return await _at_the_pause(store, row, head, state)
    return await _past_the_pause(store, row, head, state)


async def _head_state(store: CheckpointStore, thread_id: str) -> HeadState | None:
    heads = await store.head_states(PendingFilter(), thread_ids=[thread_id])
    return heads[0] if heads else None


async def _pause(store: CheckpointStore, state: HeadState | None) -> PendingThread | None:
    """The pause rule at this head, with no grace period: a crashed run is not young."""
    if state is None:
        return None
    return (await store.settle([classify(state, store.shapes, now=datetime.now(UTC),
                                         grace_seconds=0.0, codec=store.codec)]))[0]


async def _at_the_pause(
    store: CheckpointStore, row: LedgerRow, head: str, state: HeadState | None
) -> Truth:
    pause = await _pause(store, state)
    moved_inside = await _subgraph_moved_on(store, row, head)
    if moved_inside is not None:
        # the root head stays put while a subgraph runs: the answer reached the task, whose
        # subgraph went on (and stopped at a pause of its own, or is still running)
        return Truth(Delivery.FINISHED, head, again=pause, detail=(
            f"the graph took the answer; its subgraph went on to {moved_inside}"))
    if row.pause_key:
        if pause is not None and pause.kind is PauseKind.INTERRUPT:
            key = interrupts_key(pause.interrupt_ids)
            if key == row.pause_key:
                return Truth(Delivery.NOT_DELIVERED, head, detail=(
                    f"the head is still {head} and the same question is waiting"))
            return Truth(Delivery.FINISHED, head, again=pause, detail=(
                "the graph took the answer and asked again"))
    elif pause is not None and pause.kind is PauseKind.INTERRUPT:
        # a breakpoint passed: the tasks it held ran and asked (the head stays while a
        # task waits for its answer)
        return Truth(Delivery.FINISHED, head, again=pause, detail=(
            "the graph took the answer and its next tasks asked"))
    elif state is not None and not state.finished_nodes and not state.failed_nodes:
        return Truth(Delivery.NOT_DELIVERED, head, detail=(
            f"the head is still {head} and no task ran there"))
    # The paused task ended (its writes are on the pause) but the step's checkpoint never
    # landed: LangGraph applies those writes and runs their successors on the next resume.
    following = await _triggered(store, row.thread_id, head)
    pending = state.pending_nodes if state is not None else ()
    nodes = tuple(dict.fromkeys((*pending, *following)))
    if not nodes:
        return Truth(Delivery.FINISHED, head, detail=(
            "the gated task finished; nothing was left to run"))
    return Truth(Delivery.STOPPED, head, nodes, detail=(
        f"the gated task finished on {head} but the run stopped before "
        f"{', '.join(nodes)}"))


async def _past_the_pause(
    store: CheckpointStore, row: LedgerRow, head: str, state: HeadState | None
) -> Truth:
    moved = f"the thread moved on to {head}"
    if state is None:
        following = await _triggered(store, row.thread_id, head)
        if following:
            return Truth(Delivery.STOPPED, head, following, detail=(
                f"{moved}; its last step ended but the run stopped before "
                f"{', '.join(following)}"))
        return Truth(Delivery.FINISHED, head, detail=f"{moved} and the run finished")
    pause = await _pause(store, state)
    if pause is not None and pause.kind in _REAL_PAUSES:
        return Truth(Delivery.FINISHED, head, again=pause, detail=(
            f"{moved} and the run is paused again ({pause.summary})"))
    following = await _triggered(store, row.thread_id, head)
    nodes = tuple(dict.fromkeys((*state.pending_nodes, *following)))
    if not nodes:
        return Truth(Delivery.FINISHED, head, detail=f"{moved} and the run finished")
    unseen = "" if store.registry else (
        " (or paused at a breakpoint the console cannot see without the graph)")
    return Truth(Delivery.STOPPED, head, nodes, detail=(
        f"{moved} but the run stopped before {', '.join(nodes)}{unseen}"))


async def _subgraph_moved_on(store: CheckpointStore, row: LedgerRow, head: str) -> str | None:
    """A subgraph checkpoint written after the decision's pause (None if none): newer than
    the root head, and not the one a "paused inside" pause was read at."""
    nested = await store.newest_nested_checkpoint(row.thread_id)
    if nested is None or nested <= head:
        return None
    seen = {part.removeprefix(INSIDE_PREFIX) for part in row.pause_key.split(",")
            if part.startswith(INSIDE_PREFIX)}
    return None if nested in seen else nested


async def _triggered(store: CheckpointStore, thread_id: str, checkpoint_id: str
                     ) -> tuple[str, ...]:
    """The nodes that tasks which ended on this checkpoint triggered (their
    `branch:to:NODE` writes), and `Send` packets they wrote, which the next step runs."""
    saved = await store.saver.aget_tuple({"configurable": {
        "thread_id": thread_id, "checkpoint_ns": "", "checkpoint_id": checkpoint_id}})
    writes = (saved.pending_writes or []) if saved is not None else []
    ended = {task for task, channel, _ in writes if channel not in _CONTROL}
    nodes: list[str] = []
    for task, channel, value in writes:
        if task not in ended:
            continue
        if channel.startswith(_TRIGGER) and channel[len(_TRIGGER):] != _END:
            nodes.append(channel[len(_TRIGGER):])
        elif channel == "__pregel_tasks":
            nodes.append(str(getattr(value, "node", "")) or "a sent task")
    return tuple(dict.fromkeys(nodes))


# ------------------------------------------------------------- outcome sentences


def settled_outcome(truth: Truth, prefix: str) -> str:
    """The ledger outcome for a settled decision: `prefix` says who settled it and why
    (`reconciled: the process stopped mid-apply`), then what the rows say."""
    if truth.delivery is Delivery.NOT_DELIVERED:
        return (f"{prefix}; not delivered: {truth.detail}. Nothing of the decision reached "
                "the graph; the pause may be decided again (if the gated node had already "
                "started, check its effects first)")
    if truth.delivery is Delivery.STOPPED:
        return (f"{prefix}; delivered, but {truth.detail}: the application must resume the "
                f"run ({stall_reason(truth.next_nodes)})")
    return f"{prefix}; delivered: {truth.detail}"


# --------------------------------------------------------------------- reconcile


class _Deciding(Protocol):
    store: CheckpointStore
    ledger: LedgerDB

    async def ensure_ledger(self) -> None: ...


def process_alive(pid: int | None) -> bool:
    """Whether a process of this host with that pid still runs."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_abandoned(row: LedgerRow, *, now: datetime, lease_seconds: float) -> bool:
    """An in-flight row whose process is gone (same host) or whose lease ran out."""
    if row.status != DecisionStatus.IN_FLIGHT.value:
        return False
    if row.client_host == socket.gethostname() and not process_alive(row.client_pid):
        return True
    return (now - row.created_at).total_seconds() > lease_seconds


@dataclass(frozen=True, slots=True)
class Settled:
    """One abandoned decision `reconcile` settled: its row (as it was), the status it got
    and the outcome recorded."""

    row: LedgerRow
    status: str
    outcome: str
    truth: Truth


async def reconcile(
    decider: _Deciding, *, lease_seconds: float = 600.0, now: datetime | None = None,
    delivery: Callable[[LedgerRow], Awaitable[Truth | None]] | None = None,
) -> list[Settled]:
    """Settle abandoned in-flight rows from what became of each decision; never re-runs.
    `delivery` reads that (None: not settled yet); by default from the thread's
    checkpoint rows (`delivery_of`), on an Agent Server from its API. The head recorded
    is the ledger's own reading where it has the checkpoints, else the one `delivery`
    found (`LedgerDB.finish`)."""
    await decider.ensure_ledger()
    now = now or datetime.now(UTC)
    settled = []
    for row in await decider.ledger.rows(statuses=[DecisionStatus.IN_FLIGHT.value]):
        if not is_abandoned(row, now=now, lease_seconds=lease_seconds):
            continue
        truth = await (delivery(row) if delivery else delivery_of(decider.store, row))
        if truth is None:
            continue
        outcome = settled_outcome(truth, "reconciled: the process stopped mid-apply")
        if await decider.ledger.finish(row.id, truth.status.value, outcome,
                                       only_if_status=DecisionStatus.IN_FLIGHT.value,
                                       new_head=truth.head):
            settled.append(Settled(row, truth.status.value, outcome, truth))
    return settled


class StalledDecisions:
    """The queue's `stalled` rows: threads whose run stopped after a decision was
    delivered (ledger status `stalled`), listed with that reason while the head is still
    the one the decision left, with or without graphs loaded (a `QueueSource`)."""

    def __init__(self, ledger: LedgerDB) -> None:
        self.ledger = ledger

    async def rows(self, store: CheckpointStore, now: datetime) -> list[PendingThread]:
        try:
            if not await self.ledger.installed():
                return []
            stalled = await self.ledger.rows(statuses=[DecisionStatus.STALLED.value])
        except Exception:  # a role without ledger rights still gets the checkpoints' queue
            return []
        if not stalled:
            return []
        latest = {row.thread_id: row for row in stalled}  # ordered by id: the newest wins
        heads = {h.thread_id: h for h in await store.head_states(
            PendingFilter(), thread_ids=sorted(latest))}
        found = []
        for thread_id, row in latest.items():
            shown = stalled_thread(row, heads.get(thread_id))
            if shown is not None:
                found.append(shown)
        return found


def stalled_thread(row: LedgerRow, head: HeadState | None) -> PendingThread | None:
    """A queue row for a thread whose run stopped after this `stalled` decision, while its
    head is still the one the decision left (`new_checkpoint_id`); None once it moved."""
    if row.status != DecisionStatus.STALLED or not row.new_checkpoint_id:
        return None
    if head is None or head.checkpoint_id != row.new_checkpoint_id:
        return None
    nodes = _stalled_nodes(row) or head.pending_nodes
    return PendingThread(row.thread_id, "", head.checkpoint_id,
                         row.graph or head.metadata_graph_id(), nodes, PauseKind.STALLED,
                         Convention.BREAKPOINT, (), head.paused_at, stall_reason(nodes),
                         _metadata(head), nodes)


def is_stalled_after_decision(thread: PendingThread) -> bool:
    """Whether a queue row is a run that stopped after a delivered decision: nothing to
    decide there (the application resumes it)."""
    return (thread.kind is PauseKind.STALLED and not thread.interrupt_ids
            and thread.summary.startswith(_STALL_PREFIX))


def _stalled_nodes(row: LedgerRow) -> tuple[str, ...]:
    """The nodes a `stalled` outcome names (`... stopped before act, notify: ...`)."""
    text = row.outcome or ""
    marker = "the run stopped before "
    at = text.rfind(marker)
    if at < 0:
        return ()
    named = text[at + len(marker):].split(":", 1)[0]
    if named.startswith("its next step"):
        return ()
    return tuple(n.strip() for n in named.split(",") if n.strip())


def _metadata(head: HeadState) -> dict[str, Any]:
    return dict(head.metadata) if isinstance(head.metadata, dict) else {}
