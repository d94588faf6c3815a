"""Value objects of the decision ledger."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


def interrupts_key(interrupt_ids: Iterable[str]) -> str:
    """The ledger's `pause_key`: with the checkpoint id it names one pause (a node that
    asks again keeps its checkpoint and gets new interrupt ids); '' at breakpoints."""
    return ",".join(sorted(interrupt_ids))


class DecisionType(enum.StrEnum):
    APPROVE = "approve"
    EDIT = "edit"
    REJECT = "reject"
    RESPOND = "respond"
    RESUME = "resume"  # a custom resume value entered by the reviewer


class DecisionStatus(enum.StrEnum):
    IN_FLIGHT = "in_flight"  # claimed and committed; the resume is running (or crashed)
    APPLIED = "applied"
    FAILED = "failed"  # not delivered (the resume raised, or left the pause waiting)
    # delivered, but the run stopped before its next step (named in the outcome): the
    # application must resume the run; the thread is listed as `stalled` until it moves
    STALLED = "stalled"
    QUEUED = "queued"  # worker mode: recorded, waiting for a worker
    CLAIMED = "claimed"  # worker mode: a worker is applying it


# Statuses that hold a pause: a decision in one of them blocks every other on that pause.
CLAIMING_STATUSES = ("in_flight", "applied", "queued", "claimed", "stalled")


@dataclass(frozen=True, slots=True)
class Origin:
    """Who is deciding and from where (recorded on every ledger row)."""

    reviewer: str
    client_host: str
    ssh_origin: str | None
    pid: int


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One decision as the ledger holds it."""

    id: int
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    pause_key: str
    decision: str
    status: str
    reviewer: str
    reason: str | None
    edits: Any
    resume: Any
    idempotency_key: str | None
    client_host: str | None
    ssh_origin: str | None
    client_pid: int | None
    apply_mode: str
    created_at: datetime
    finished_at: datetime | None
    new_checkpoint_id: str | None
    outcome: str | None
    # worker mode: the graph the pause belongs to, and the worker's claim on the decision
    graph: str | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    lease_until: datetime | None = None
    started_at: datetime | None = None  # committed just before the graph was resumed
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """What a decision writes to the ledger before anything runs."""

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    pause_key: str
    decision: DecisionType
    origin: Origin
    reason: str | None
    edits: Any
    resume: Any
    idempotency_key: str | None
    apply_mode: str = "inline"
    status: DecisionStatus = DecisionStatus.IN_FLIGHT
    graph: str | None = None  # lets a worker claim only the graphs it has loaded


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """The ledger's answer to a claim: ours, a replay of an earlier key, or a conflict."""

    row: LedgerRow | None
    replayed: bool = False
    conflict_with: LedgerRow | None = None
    current_head: str | None = None


@dataclass(frozen=True, slots=True)
class WorkerRecord:
    """One worker process as its heartbeat row in `hitl_workers` describes it."""

    worker_id: str
    host: str
    pid: int
    graphs: tuple[str, ...]
    concurrency: int
    wake: str  # "notify" or "poll"
    state: str  # running | stopping | stopped
    lease_seconds: float
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    applying: int
    applied: int
    failed: int
    released: int
    reconciled: int
    heartbeat_age_seconds: float = 0.0  # by the database's clock, when read


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """The worker queue at a glance: what waits, what is being applied, what is stuck."""

    queued: int
    claimed: int
    expired: int  # claims whose lease ran out: their worker stopped mid-apply
    oldest_queued_seconds: float | None
    queued_by_graph: dict[str, int]
    failed_last_day: int
