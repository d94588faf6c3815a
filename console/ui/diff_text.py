"""The detail pane's Diff tab: what changed, vs the previous checkpoint and vs run start.

Computed by the core (`bounded_diff`: on redacted values, so a secret that changed shows
as "changed" and nothing else). Colours are the 16 ANSI ones and always come with the
word (added / removed / changed), so NO_COLOR and monochrome terminals lose nothing.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from console.core.diff import Change, bounded_diff
from console.core.models import ReviewBundle
from console.core.redact import Redactor
from console.ui.cell_text import one_line
from console.ui.json_text import PLACEHOLDER
from console.ui.pretty import NOTE_STYLE, Limits, pretty

DIFF_LIMITS = Limits(string=160, items=10, depth=4, inline=60)
MAX_CHANGES = 40  # per section: enough to judge a step, never a flood over ssh
SECTION_STYLE = "bold underline"
KIND_STYLES = {"added": "green", "removed": "red", "changed": "yellow"}


def _redacted(value: Any) -> bool:
    return isinstance(value, str) and PLACEHOLDER.fullmatch(value) is not None


def change_line(change: Change, redactor: Redactor) -> Text:
    """`  changed  status: "new" -> "sent"`, one change, values bounded and inert."""
    out = Text()
    out.append(f"  {change.kind:<8}", style=KIND_STYLES.get(change.kind, ""))
    out.append(one_line(change.path))
    out.append(": ")
    if _redacted(change.before) or _redacted(change.after):
        out.append("(redacted value)", style=NOTE_STYLE)
        return out
    if change.kind != "added":
        out.append_text(pretty(change.before, redactor=redactor, limits=DIFF_LIMITS))
    if change.kind == "changed":
        out.append(" -> ")
    if change.kind != "removed":
        out.append_text(pretty(change.after, redactor=redactor, limits=DIFF_LIMITS))
    return out


def diff_section(title: str, before: Any, after: Any, redactor: Redactor, *,
                 missing: str) -> Text:
    out = Text()
    out.append(title + "\n", style=SECTION_STYLE)
    if before is None:
        out.append(f"  ({missing})\n", style=NOTE_STYLE)
        return out
    diff = bounded_diff(before, after, redactor, limit=MAX_CHANGES)
    if not diff.total:
        out.append("  (no change in state values)\n", style=NOTE_STYLE)
        return out
    for change in diff.changes:
        out.append_text(change_line(change, redactor))
        out.append("\n")
    if diff.total > len(diff.changes):
        out.append(f"  ... {diff.total - len(diff.changes)} more changes\n", style=NOTE_STYLE)
    return out


def diff_tab_text(bundle: ReviewBundle, *, redactor: Redactor) -> Text:
    """Both diffs of the head's state, redacted."""
    out = diff_section("vs the previous checkpoint (what the paused step did)",
                       bundle.previous_values, bundle.values, redactor,
                       missing="first checkpoint of the thread")
    out.append("\n")
    out.append_text(diff_section("vs the start of this run", bundle.first_values,
                                 bundle.values, redactor,
                                 missing="run start not found in the recent history"))
    out.rstrip()
    return out
