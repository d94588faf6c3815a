"""What the conflict dialog says: who moved the thread on, and what changed since.

Pure: from ledger rows, the state the reviewer saw and the new head's bundle to text.
The diff is the core's `state_diff`, computed on redacted data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from console.core.ledger.rows import LedgerRow
from console.core.ledger.status import describe, unsettled_on
from console.core.models import ReviewBundle
from console.core.redact import Redactor
from console.ui.bundle_text import kind_label
from console.ui.cell_text import one_line
from console.ui.diff_text import SECTION_STYLE, diff_section
from console.ui.pretty import KEY_STYLE, NOTE_STYLE

MAX_ROWS = 8


@dataclass(frozen=True, slots=True)
class ConflictInfo:
    """Everything the dialog shows about one thread that moved on."""

    thread_id: str
    seen_checkpoint: str
    message: str  # the conflict's one sentence (from the core, or the refresh)
    rows: tuple[LedgerRow, ...]
    seen_values: dict[str, Any] | None  # None: the reviewer's state was never loaded
    new: ReviewBundle | None  # None: the thread no longer exists
    read_at: datetime | None = None  # when rows and head were read (for "2s ago")

    @property
    def new_head(self) -> str | None:
        return self.new.checkpoint_id if self.new is not None else None

    @property
    def applying(self) -> LedgerRow | None:
        """Another decision on the pause seen that is still being applied (or waits for
        a worker): until it settles, the head may look unchanged but is taken."""
        return unsettled_on(self.rows, self.seen_checkpoint)

    @property
    def settling(self) -> bool:
        """Whether the thread is between states: another decision is unsettled, or the
        question seen was answered and the run has not written its next checkpoint."""
        return self.applying is not None or (
            self.new is not None and self.new.checkpoint_id == self.seen_checkpoint
            and self.new.pending is None)

    @property
    def still_pending(self) -> bool:
        """Whether the new head waits for a human again (a draft can be re-applied):
        never while another decision is in flight, which would only conflict again."""
        return (self.applying is None and self.new is not None
                and self.new.pending is not None)


def ledger_lines(rows: Sequence[LedgerRow], redactor: Redactor) -> Text:
    """One line per decision, newest first: id, time, reviewer, decision, status, head."""
    out = Text()
    for row in list(reversed(rows))[:MAX_ROWS]:
        head = f" -> {row.new_checkpoint_id}" if row.new_checkpoint_id else ""
        when = row.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        out.append(f"  #{row.id} {when} ", style=KEY_STYLE)
        out.append(one_line(redactor.redact_text(
            f"{row.reviewer} {row.decision} {row.status}{head}")))
        if row.reason:
            out.append(" reason: ")
            out.append(one_line(redactor.redact_text(row.reason))[:80])
        out.append("\n")
        origin = ", ".join(x for x in (row.client_host, row.ssh_origin) if x)
        if origin:
            out.append(f"      from {one_line(origin)}\n", style=NOTE_STYLE)
    if len(rows) > MAX_ROWS:
        out.append(f"  ... {len(rows) - MAX_ROWS} older decisions\n", style=NOTE_STYLE)
    return out


def conflict_text(info: ConflictInfo, redactor: Redactor) -> Text:
    """The dialog's body."""
    out = Text()
    out.append(one_line(info.thread_id), style="bold")
    applying = info.applying
    if applying is not None:
        out.append(" is being decided by someone else.\n")
    elif info.new is not None and info.new.checkpoint_id == info.seen_checkpoint \
            and info.new.pending is not None:
        out.append(": its questions changed at the same checkpoint since you looked at it.\n")
    else:
        out.append(" moved on since you looked at it.\n")
    out.append(one_line(redactor.redact_text(info.message, keep=(info.thread_id,))) + "\n\n")
    out.append("you saw  ", style=KEY_STYLE)
    out.append(info.seen_checkpoint + "\n")
    out.append("head now ", style=KEY_STYLE)
    if info.new is None:
        out.append("(the thread no longer exists)\n")
    else:
        out.append(info.new.checkpoint_id)
        pause = info.new.pending
        if applying is not None:
            now = info.read_at or datetime.now(UTC)
            words = one_line(redactor.redact_text(describe(applying, now).text))
            out.append(f"  not settled: {words} ({applying.status})\n")
            out.append("  This dialog follows it until the ledger settles it; nothing can "
                       "be re-applied meanwhile (it would only conflict again).\n",
                       style=NOTE_STYLE)
        elif pause is None:
            out.append("  not waiting for a human\n")
        else:
            out.append(f"  waiting again: {kind_label(pause.kind, pause.convention)} at "
                       f"{one_line(', '.join(pause.nodes))}\n")
    out.append("\nWho changed it (decision ledger)\n", style=SECTION_STYLE)
    if info.rows:
        out.append_text(ledger_lines(info.rows, redactor))
    else:
        out.append("  No console decision: it was resumed outside the console.\n",
                   style=NOTE_STYLE)
    out.append("\n")
    out.append_text(diff_section(
        "What changed (what you saw -> the new head)",
        info.seen_values if info.new is not None else None,
        info.new.values if info.new is not None else None, redactor,
        missing="not available: " + ("the thread no longer exists" if info.new is None
                                     else "the state you saw was not loaded")))
    return out
