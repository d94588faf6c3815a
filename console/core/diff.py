"""State diffs for review, computed on redacted data so no secret leaks through a diff."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deepdiff import DeepDiff

from console.core.redact import Redactor


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two states, at a path like `messages[3].content`."""

    path: str
    kind: str  # added | removed | changed
    before: Any
    after: Any


def state_diff(before: Any, after: Any, redactor: Redactor) -> list[Change]:
    """Changes from `before` to `after`; redacted values show only their fingerprints."""
    old = redactor.redact(before if before is not None else {})
    new = redactor.redact(after if after is not None else {})
    diff = DeepDiff(old, new, ignore_order=False, verbose_level=2, view="tree")
    changes: list[Change] = []
    for kind, report in (
        ("added", "dictionary_item_added"),
        ("added", "iterable_item_added"),
        ("removed", "dictionary_item_removed"),
        ("removed", "iterable_item_removed"),
        ("changed", "values_changed"),
        ("changed", "type_changes"),
    ):
        for level in diff.get(report, ()):
            changes.append(
                Change(
                    path=_path(level.path()),
                    kind=kind,
                    before=None if kind == "added" else level.t1,
                    after=None if kind == "removed" else level.t2,
                )
            )
    changes.sort(key=lambda c: c.path)
    return changes


def _path(raw: str) -> str:
    # deepdiff spells paths root['a'][0]; reviewers read a.0 style more easily
    text = raw.removeprefix("root")
    text = text.replace("']['", ".").replace("['", ".").replace("']", "")
    return text.lstrip(".") or "(root)"
