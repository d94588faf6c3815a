"""The detail pane's History tab: the thread's decisions and checkpoints, newest first.

Ledger rows say who decided what, when, and where it stands (in the words of
`console.core.ledger.status`); checkpoints come from the bundle's bounded history.
Every string from the ledger or the data is redacted and made one inert line.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from rich.text import Text

from console.core.durations import format_age
from console.core.ledger.rows import LedgerRow, interrupts_key
from console.core.ledger.status import BAD, DONE, describe
from console.core.models import ReviewBundle
from console.core.redact import Redactor
from console.ui.cell_text import one_line
from console.ui.pretty import KEY_STYLE, NOTE_STYLE

SECTION_STYLE = "bold underline"
TONE_STYLES = {DONE: "green", BAD: "red"}
MAX_DECISIONS = 20
MAX_REASON = 120


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "?"
    stamp = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return f"{stamp} ({format_age((now - moment).total_seconds())} ago)"


def decision_lines(rows: Sequence[LedgerRow], bundle: ReviewBundle, *, now: datetime,
                   redactor: Redactor) -> Text:
    """One entry per ledger row, newest first: when, status in words, reason, origin."""
    out = Text()
    out.append(f"Decisions ({len(rows)})\n", style=SECTION_STYLE)
    if not rows:
        out.append("  (none recorded for this thread)\n", style=NOTE_STYLE)
        return out
    key = interrupts_key(bundle.pending.interrupt_ids) if bundle.pending else None
    for row in list(reversed(rows))[:MAX_DECISIONS]:
        words = describe(row, now)
        here = row.checkpoint_id == bundle.checkpoint_id and row.pause_key == key
        out.append(f"  #{row.id} {_when(row.created_at, now)}", style=KEY_STYLE)
        out.append(" this pause\n" if here else f" at {one_line(row.checkpoint_id)}\n",
                   style=KEY_STYLE if here else NOTE_STYLE)
        out.append("    ")
        out.append(one_line(redactor.redact_text(words.text)),
                   style=TONE_STYLES.get(words.tone, ""))
        out.append("\n")
        if row.reason:
            out.append("    reason: ", style=KEY_STYLE)
            out.append(one_line(redactor.redact_text(row.reason))[:MAX_REASON] + "\n")
        origin = ", ".join(x for x in (row.client_host, row.ssh_origin) if x)
        mode = f"{row.apply_mode} apply" + (f", {row.attempts} attempts" if row.attempts > 1
                                             else "")
        out.append(f"    {one_line(redactor.redact_text(origin)) or '?'}; {mode}\n",
                   style=NOTE_STYLE)
    if len(rows) > MAX_DECISIONS:
        out.append(f"  ... {len(rows) - MAX_DECISIONS} older decisions\n", style=NOTE_STYLE)
    return out


def checkpoint_lines(bundle: ReviewBundle, *, now: datetime) -> Text:
    """The thread's recent checkpoints, newest first (bounded by the store)."""
    out = Text()
    out.append(f"Checkpoints (latest {len(bundle.history)})\n", style=SECTION_STYLE)
    if not bundle.history:
        out.append("  (none read)\n", style=NOTE_STYLE)
        return out
    for ref in bundle.history:
        step = "?" if ref.step is None else str(ref.step)
        out.append(f"  step {step:>3} ", style=KEY_STYLE)
        out.append(f"{one_line(ref.source or '?'):<6} {_when(ref.created_at, now)}\n")
        mark = "  <- head, paused here" if ref.checkpoint_id == bundle.checkpoint_id else ""
        out.append(f"    {one_line(ref.checkpoint_id)}{mark}\n", style=NOTE_STYLE)
    return out


def history_tab_text(bundle: ReviewBundle, rows: Sequence[LedgerRow], *, now: datetime,
                     redactor: Redactor) -> Text:
    """Where the pause is, then decisions (what a reviewer asks about), then checkpoints."""
    out = Text()
    out.append("paused ", style=KEY_STYLE)
    paused = bundle.pending.paused_at if bundle.pending else bundle.created_at
    out.append(_when(paused, now))
    out.append(" checkpoint ", style=KEY_STYLE)
    out.append(one_line(bundle.checkpoint_id) + "\n\n")
    out.append_text(decision_lines(rows, bundle, now=now, redactor=redactor))
    out.append("\n")
    out.append_text(checkpoint_lines(bundle, now=now))
    out.rstrip()
    return out
