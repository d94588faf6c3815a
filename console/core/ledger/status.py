"""Where a decision stands, in words a reviewer reads (detail pane header and history).

The ledger's status column says queued / claimed / in_flight / applied / failed; what
the reviewer needs is what that means for them: still waiting for a worker, being
applied by w1, applied, or failed (why, and that they may decide again). A failed row
whose outcome starts with "conflict:" is a conflict: the thread moved before it ran.
Pure functions of ledger rows, so the CLI could say the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from console.core.durations import format_age
from console.core.ledger.rows import DecisionStatus, LedgerRow, interrupts_key

# How the header colours a status (the UI maps tones to styles; words carry the meaning).
PENDING, DONE, BAD = "pending", "done", "bad"
# Statuses of a decision that is recorded but not settled: it holds its pause, and any
# other decision on that pause conflicts until it settles.
UNSETTLED = (DecisionStatus.QUEUED, DecisionStatus.CLAIMED, DecisionStatus.IN_FLIGHT)
MAX_OUTCOME = 160  # characters of a worker's error kept on one line
STUCK_SECONDS = 120.0  # an inline apply older than this has probably lost its process


@dataclass(frozen=True, slots=True)
class StatusWords:
    """One decision as a sentence, plus its tone."""

    text: str
    tone: str  # PENDING | DONE | BAD


def rows_for_pause(
    rows: Sequence[LedgerRow], checkpoint_id: str, interrupt_ids: Sequence[str]
) -> list[LedgerRow]:
    """The thread's ledger rows that answer this pause, oldest first."""
    key = interrupts_key(interrupt_ids)
    return [r for r in rows if r.checkpoint_id == checkpoint_id and r.pause_key == key]


def unsettled_on(rows: Sequence[LedgerRow], checkpoint_id: str) -> LedgerRow | None:
    """The newest decision on this checkpoint still being applied (or waiting for a
    worker), if any: while it runs, the pause looks unchanged, but it is taken."""
    found = [r for r in rows if r.checkpoint_id == checkpoint_id and r.status in UNSETTLED]
    return found[-1] if found else None


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return ""
    return f"{format_age((now - moment).total_seconds())} ago"


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_OUTCOME else flat[: MAX_OUTCOME - 3] + "..."


def is_conflict(row: LedgerRow) -> bool:
    return row.status == DecisionStatus.FAILED and (row.outcome or "").startswith("conflict")


def describe(row: LedgerRow, now: datetime) -> StatusWords:
    """`approve by alice, queued 2m ago - waiting for a worker`, and so on per status.

    Reviewer, outcome and worker names come from the ledger as written: the caller
    redacts and makes them inert before display.
    """
    who = f"{row.decision} by {row.reviewer}"
    worker = row.claimed_by
    status = row.status
    if status == DecisionStatus.QUEUED:
        return StatusWords(f"{who}, queued {_ago(row.created_at, now)} - waiting for a worker",
                           PENDING)
    if status == DecisionStatus.CLAIMED:
        since = _ago(row.started_at or row.claimed_at, now)
        return StatusWords(f"{who}, being applied by worker {worker or '?'}"
                           + (f" (since {since})" if since else ""), PENDING)
    if status == DecisionStatus.IN_FLIGHT:
        text = f"{who}, being applied since {_ago(row.created_at, now)}"
        if (now - row.created_at).total_seconds() > STUCK_SECONDS:
            text += " (stuck? the process may have died: `hitl-console reconcile` settles it)"
        return StatusWords(text, PENDING)
    if status == DecisionStatus.APPLIED:
        where = f" by worker {worker}" if worker else ""
        head = f" -> {row.new_checkpoint_id}" if row.new_checkpoint_id else ""
        return StatusWords(f"{who}, applied {_ago(row.finished_at, now)}{where}{head}", DONE)
    if status == DecisionStatus.STALLED:
        where = f" by worker {worker}" if worker else ""
        return StatusWords(f"{who}, delivered {_ago(row.finished_at, now)}{where}, but "
                           f"{_one_line(_stall_words(row.outcome))}", BAD)
    if status == DecisionStatus.FAILED:
        outcome = _one_line(row.outcome or "no reason recorded")
        if is_conflict(row):
            return StatusWords(f"{who}, {outcome}", BAD)
        where = f" on worker {worker}" if worker else ""
        return StatusWords(f"{who}, failed{where}: {outcome}; you can decide again", BAD)
    return StatusWords(f"{who}, {status}", PENDING)  # a status newer than this console


def _stall_words(outcome: str | None) -> str:
    """`the run stopped before act: the application must resume it` from a stalled row."""
    text = outcome or ""
    at = text.rfind("the run stopped before ")
    return text[at:].rstrip(")") if at >= 0 else "the run stopped before finishing"


def pause_status(
    rows: Sequence[LedgerRow], checkpoint_id: str, interrupt_ids: Sequence[str],
    now: datetime,
) -> StatusWords:
    """The header line: the latest decision on this pause, or that there is none."""
    mine = rows_for_pause(rows, checkpoint_id, interrupt_ids)
    if mine:
        latest = describe(mine[-1], now)
        if len(mine) > 1:
            return StatusWords(f"{latest.text} ({len(mine)} decisions on this pause)",
                               latest.tone)
        return latest
    if rows:
        earlier = describe(rows[-1], now)
        return StatusWords(f"none on this pause yet (last on this thread: {earlier.text})",
                           PENDING)
    return StatusWords("none yet", PENDING)
