"""A decision's plan as the confirm dialog shows it: the exact Command and what it does.

Pure: from the core's `Plan` (what `Decider.plan` returns) to `rich.text.Text`, redacted
and inert, so the preview can be tested without running the app.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from console.core.inert import inert
from console.core.ledger.decisions import Plan
from console.core.nested import target_label
from console.core.redact import Redactor
from console.ui.pretty import KEY_STYLE, NOTE_STYLE, Limits, pretty

PREVIEW_LIMITS = Limits(string=200, items=20, depth=6, inline=60)
WARNING_STYLE = "bold reverse"


def _value(value: Any, redactor: Redactor, indent: int = 1) -> Text:
    return pretty(value, redactor=redactor, limits=PREVIEW_LIMITS, indent=indent)


def command_text(plan: Plan, redactor: Redactor) -> Text:
    """`Command(update=..., resume=...)` as it will be sent, or what a breakpoint does."""
    out = Text()
    if plan.breakpoint_action == "skip":
        nodes = ", ".join(plan.skip_nodes) or "-"
        out.append("No resume: ", style=KEY_STYLE)
        out.append(f"{nodes} recorded as done without running, so the run ends.\n")
        if plan.update:
            out.append("update", style=KEY_STYLE)
            out.append("=")
            out.append_text(_value(plan.update, redactor, 0))
            out.append("\n")
        return out
    if plan.breakpoint_action == "continue" and not plan.update:
        out.append("None", style=KEY_STYLE)
        out.append("  (the run continues from the breakpoint)\n")
        return out
    out.append("Command(\n")
    if plan.update is not None or plan.breakpoint_action == "continue":
        out.append("  update", style=KEY_STYLE)
        out.append("=")
        out.append_text(_value(plan.update, redactor))
        out.append(",\n")
    if plan.breakpoint_action is None:
        out.append("  resume", style=KEY_STYLE)
        out.append("=")
        out.append_text(_value(plan.resume, redactor))
        out.append(",\n")
    out.append(")\n")
    return out


def effects_text(plan: Plan, redactor: Redactor) -> Text:
    """What each updated state key becomes through its channel (empty if no update)."""
    out = Text()
    for effect in plan.effects:
        out.append(effect.key, style=KEY_STYLE)
        how = "replaced" if effect.reducer == "replace" else f"through {effect.reducer}"
        out.append(f"  ({how})\n", style=NOTE_STYLE)
        out.append("  before: ")
        out.append_text(_value(effect.before, redactor, 1))
        out.append("\n  after:  ")
        out.append_text(_value(effect.after, redactor, 1))
        out.append("\n")
    return out


def warnings_text(plan: Plan) -> Text:
    out = Text()
    for warning in plan.warnings:
        out.append("WARNING", style=WARNING_STYLE)
        out.append(f" {warning[0].upper()}{warning[1:]}: earlier items would be lost.\n")
    return out


def plan_text(plan: Plan, redactor: Redactor) -> Text:
    """The whole preview: warnings first (they need a decision), then Command, effects."""
    out = Text()
    warnings = warnings_text(plan)
    if warnings:
        out.append_text(warnings)
        out.append("\n")
    out.append("Command sent to the graph\n", style="bold underline")
    out.append_text(command_text(plan, redactor))
    if plan.update:
        out.append("update lands in ", style=NOTE_STYLE)
        out.append(inert(target_label(plan.update_ns)))
        out.append("\n")
    effects = effects_text(plan, redactor)
    if effects:
        out.append("\nResulting state\n", style="bold underline")
        out.append_text(effects)
    return out
