"""What the conflict dialog says: who moved the thread on, and what changed since.

Pure: from ledger rows, the state the reviewer saw and the new head's bundle to text.
The diff is the core's `state_diff`, computed on redacted data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text

from console.core.diff import Change, state_diff
from console.core.models import ReviewBundle
from console.core.models_ledger import LedgerRow
from console.core.redact import Redactor
from console.ui.bundle_text import kind_label
from console.ui.cell_text import one_line
from console.ui.history_text import change_lines, ledger_lines
from console.ui.pretty import KEY_STYLE, NOTE_STYLE

SECTION_STYLE = "bold underline"


@dataclass(frozen=True, slots=True)
class ConflictInfo:
    """Everything the dialog shows about one thread that moved on."""

    thread_id: str
    seen_checkpoint: str
    message: str  # the conflict's one sentence (from the core, or the refresh)
    rows: tuple[LedgerRow, ...]
    seen_values: dict[str, Any] | None  # None: the reviewer's state was never loaded
    new: ReviewBundle | None  # None: the thread no longer exists

    @property
    def new_head(self) -> str | None:
        return self.new.checkpoint_id if self.new is not None else None

    @property
    def still_pending(self) -> bool:
        """Whether the new head waits for a human again (a draft can be re-applied)."""
        return self.new is not None and self.new.pending is not None

    def changes(self, redactor: Redactor) -> list[Change] | None:
        if self.seen_values is None or self.new is None:
            return None
        return state_diff(self.seen_values, self.new.values, redactor)


def conflict_text(info: ConflictInfo, redactor: Redactor) -> Text:
    """The dialog's body."""
    out = Text()
    out.append(one_line(redactor.redact_text(info.thread_id)), style="bold")
    out.append(" moved on since you looked at it.\n")
    out.append(one_line(redactor.redact_text(info.message)) + "\n\n")
    out.append("you saw  ", style=KEY_STYLE)
    out.append(info.seen_checkpoint + "\n")
    out.append("head now ", style=KEY_STYLE)
    if info.new is None:
        out.append("(the thread no longer exists)\n")
    else:
        out.append(info.new.checkpoint_id)
        pause = info.new.pending
        if pause is None:
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
    out.append("\nWhat changed (what you saw -> the new head)\n", style=SECTION_STYLE)
    changes = info.changes(redactor)
    if changes is None:
        out.append("  Not available: the state you saw was not loaded.\n", style=NOTE_STYLE)
    elif not changes:
        out.append("  No change in state values.\n", style=NOTE_STYLE)
    else:
        out.append_text(change_lines(changes, redactor))
    return out
