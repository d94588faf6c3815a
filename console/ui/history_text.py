"""Ledger rows and state changes as lines of text (detail pane and conflict dialog)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from rich.text import Text

from console.core.diff import Change
from console.core.models_ledger import LedgerRow
from console.core.redact import Redactor
from console.ui.cell_text import one_line
from console.ui.pretty import KEY_STYLE, NOTE_STYLE, Limits, pretty

DIFF_LIMITS = Limits(string=120, items=10, depth=4, inline=60)
MAX_CHANGES = 40
MAX_ROWS = 8


def _when(row: LedgerRow) -> str:
    return row.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def ledger_lines(rows: Sequence[LedgerRow], redactor: Redactor) -> Text:
    """One line per decision, newest first: id, time, reviewer, decision, status, head."""
    out = Text()
    for row in list(reversed(rows))[:MAX_ROWS]:
        head = f" -> {row.new_checkpoint_id}" if row.new_checkpoint_id else ""
        out.append(f"  #{row.id} {_when(row)} ", style=KEY_STYLE)
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


def change_lines(changes: Sequence[Change], redactor: Redactor) -> Text:
    out = Text()
    for change in changes[:MAX_CHANGES]:
        out.append(f"  {change.kind:<8}", style=KEY_STYLE)
        out.append(one_line(change.path))
        out.append(": ")
        if change.kind != "added":
            out.append_text(pretty(change.before, redactor=redactor, limits=DIFF_LIMITS))
        if change.kind == "changed":
            out.append(" -> ")
        if change.kind != "removed":
            out.append_text(pretty(change.after, redactor=redactor, limits=DIFF_LIMITS))
        out.append("\n")
    if len(changes) > MAX_CHANGES:
        out.append(f"  ... {len(changes) - MAX_CHANGES} more changes\n", style=NOTE_STYLE)
    return out
