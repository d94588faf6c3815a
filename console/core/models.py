"""Frozen value objects shared by the store, the ledger, the CLI and the UI."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# How long a head with next nodes but no loaded graph must sit idle before it is listed as
# "paused before NODE (breakpoint or stalled)": younger ones are most likely still running.
DEFAULT_GRACE_SECONDS = 300.0


class PauseKind(enum.StrEnum):
    """How a thread came to be waiting for a human."""

    INTERRUPT = "interrupt"  # inline interrupt(value)
    BEFORE = "before"  # interrupt_before=[node]
    AFTER = "after"  # interrupt_after=[node]
    STALLED = "stalled"  # next nodes but no loaded graph says why: breakpoint or crashed


class Convention(enum.StrEnum):
    """The payload shape of a pause, which decides how it is answered."""

    LANGCHAIN_HITL = "langchain-hitl"
    AGENT_INBOX = "agent-inbox"
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


@dataclass(frozen=True, slots=True)
class PendingThread:
    """A root thread whose newest checkpoint waits for a human."""

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
    # what would run on resume; for an `after` pause these differ from `nodes`
    next_nodes: tuple[str, ...] = ()

    @property
    def interrupt_ids(self) -> tuple[str, ...]:
        return tuple(i.id for i in self.interrupts)

    def sort_key(self) -> tuple[datetime, str]:
        """Oldest first; thread id breaks ties so keyset paging is stable."""
        return (self.paused_at, self.thread_id)


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
