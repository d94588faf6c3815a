"""Redacted, JSON-safe views of pending threads and review bundles (CLI and export)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from console.core.conventions import allowed_decisions, summarize_value
from console.core.diff import Change, state_diff
from console.core.models import PendingInterrupt, PendingThread, ReviewBundle
from console.core.pause_id import pause_id_of
from console.core.redact import Redactor


def safe_summary(thread: PendingThread, redactor: Redactor) -> str:
    """The summary rebuilt from the redacted payload (the stored one saw raw values)."""
    if thread.interrupts:
        first = thread.interrupts[0]
        text = summarize_value(redactor.redact(first.value), first.convention)
        if len(thread.interrupts) > 1:
            text = f"{len(thread.interrupts)} interrupts; {text}"
        return redactor.redact_text(text)
    return redactor.redact_text(thread.summary)


def pending_view(thread: PendingThread, redactor: Redactor) -> dict[str, Any]:
    """The `pending --json` object of product.md section 6 (`error` for an unreadable
    head: decoding happens first, since it is what finds a row unreadable)."""
    error = thread.error
    view = {
        # An identifier: never redacted (a script passes it back), made inert at the sink.
        "thread_id": thread.thread_id,
        "checkpoint_id": thread.checkpoint_id,
        "pause_id": pause_id_of(thread),  # what `--expect` takes: checkpoint + questions
        "graph": thread.graph,
        "nodes": list(thread.nodes),
        "kind": thread.kind.value,
        "convention": thread.convention.value,
        "interrupt_ids": [i.id for i in thread.interrupts],
        "paused_at": thread.paused_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "summary": safe_summary(thread, redactor),
    }
    if error is not None:
        view["error"] = redactor.redact_text(error)
    return view


def interrupt_view(item: PendingInterrupt, redactor: Redactor,
                   number: int | None = None) -> dict[str, Any]:
    """One pending interrupt; `number` (from 1) is how `--resume-for N=...` names it."""
    return {
        **({"item": number} if number is not None else {}),
        "id": item.id,
        "task_id": item.task_id,
        "task_path": item.task_path,
        "convention": item.convention.value,
        "value": redactor.redact(item.value),
        "response_schema": item.response_schema,
        "allowed_decisions": allowed_decisions(item.value, item.convention,
                                               item.response_schema),
    }


def change_view(change: Change) -> dict[str, Any]:
    return {"path": change.path, "kind": change.kind, "before": change.before,
            "after": change.after}


def bundle_view(bundle: ReviewBundle, redactor: Redactor) -> dict[str, Any]:
    """The `show --json` review bundle: payloads, state, diffs, allowed decisions."""
    pause = bundle.pending
    decisions: list[str] = []
    if pause is not None:
        if pause.interrupts:
            for item in pause.interrupts:
                decisions += [d for d in allowed_decisions(item.value, item.convention,
                                                           item.response_schema)
                              if d not in decisions]
        else:
            decisions = allowed_decisions(None, pause.convention)
    return {
        "thread_id": bundle.thread_id,
        "checkpoint_ns": bundle.checkpoint_ns,
        "checkpoint_id": bundle.checkpoint_id,
        "pause_id": pause_id_of(pause) if pause else None,
        "parent_checkpoint_id": bundle.parent_checkpoint_id,
        "created_at": bundle.created_at.isoformat() if bundle.created_at else None,
        "pending": pending_view(pause, redactor) if pause else None,
        "next": list(bundle.next_nodes),
        "interrupts": [interrupt_view(i, redactor, n)
                       for n, i in enumerate(bundle.interrupts, 1)],
        "allowed_decisions": decisions,
        "metadata": redactor.redact(bundle.metadata),
        "values": redactor.redact(bundle.values),
        "diff_previous": [
            change_view(c) for c in state_diff(bundle.previous_values, bundle.values, redactor)
        ],
        "diff_run_start": [
            change_view(c) for c in state_diff(bundle.first_values, bundle.values, redactor)
        ],
        "history": [
            {
                "checkpoint_id": ref.checkpoint_id,
                "step": ref.step,
                "source": ref.source,
                "created_at": ref.created_at.isoformat() if ref.created_at else None,
            }
            for ref in bundle.history
        ],
    }
