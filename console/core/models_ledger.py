"""Value objects of the decision ledger."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class DecisionType(enum.StrEnum):
    APPROVE = "approve"
    EDIT = "edit"
    REJECT = "reject"
    RESPOND = "respond"
    RESUME = "resume"  # a custom resume value entered by the reviewer


class DecisionStatus(enum.StrEnum):
    IN_FLIGHT = "in_flight"  # claimed and committed; the resume is running (or crashed)
    APPLIED = "applied"
    FAILED = "failed"  # the resume raised; the claim is released
    QUEUED = "queued"  # worker mode: recorded, waiting for a worker
    CLAIMED = "claimed"  # worker mode: a worker is applying it


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


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """The ledger's answer to a claim: ours, a replay of an earlier key, or a conflict."""

    row: LedgerRow | None
    replayed: bool = False
    conflict_with: LedgerRow | None = None
    current_head: str | None = None
