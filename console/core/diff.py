"""State diffs for review, computed on redacted data so no secret leaks through a diff.

A state's big values are usually lists that only grow (message histories): diffing two
2,000-message states whole with deepdiff took 1.4 s here, and redacting them 0.2 s more.
So each top-level key is compared on the raw values first (equal raw values redact
equally), a list's common prefix is skipped, and only what differs is redacted and
handed to deepdiff. The result is the same list of changes as a whole-state deepdiff
(tests/unit check that on generated states).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from console.core.redact import Redactor

# deepdiff report -> the word a reviewer reads
_KINDS = (
    ("added", "dictionary_item_added"),
    ("added", "iterable_item_added"),
    ("removed", "dictionary_item_removed"),
    ("removed", "iterable_item_removed"),
    ("changed", "values_changed"),
    ("changed", "type_changes"),
)


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two states, at a path like `messages[3].content`."""

    path: str
    kind: str  # added | removed | changed
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class BoundedDiff:
    """The first `len(changes)` changes in path order, and how many there are in all."""

    changes: list[Change]
    total: int


def state_diff(before: Any, after: Any, redactor: Redactor) -> list[Change]:
    """Changes from `before` to `after`; redacted values show only their fingerprints."""
    return bounded_diff(before, after, redactor, limit=None).changes


def bounded_diff(
    before: Any, after: Any, redactor: Redactor, *, limit: int | None
) -> BoundedDiff:
    """Like `state_diff`, but items appended to a list beyond `limit` are only counted,
    never redacted or built: the detail pane shows a few dozen changes of a run that
    may have added thousands of messages."""
    old = before if before is not None else {}
    new = after if after is not None else {}
    if not (isinstance(old, Mapping) and isinstance(new, Mapping)):
        changes = _deep(redactor.redact(old), redactor.redact(new))
        return _bounded(changes, len(changes), limit)
    changes = []
    total = 0
    for key in [*old, *(k for k in new if k not in old)]:
        found, count = _key_diff(key, old, new, redactor, limit)
        changes += found
        total += count
    return _bounded(changes, total, limit)


def _bounded(changes: list[Change], total: int, limit: int | None) -> BoundedDiff:
    changes.sort(key=_order)
    return BoundedDiff(changes if limit is None else changes[:limit], total)


def _key_diff(
    key: Any, old: Mapping[Any, Any], new: Mapping[Any, Any], redactor: Redactor,
    limit: int | None,
) -> tuple[list[Change], int]:
    if key not in new or key not in old:
        # One side only: the whole value is added or removed (redacted with its key,
        # since a secret key hides its value whole).
        side = {key: old[key]} if key in old else {key: new[key]}
        pair = (redactor.redact(side), {}) if key in old else ({}, redactor.redact(side))
        changes = _deep(*pair)
        return changes, len(changes)
    a, b = old[key], new[key]
    if _equal(a, b):
        return [], 0
    offset = 0
    if _is_list(a) and _is_list(b) and not (isinstance(key, str) and redactor.is_secret_key(key)):
        offset = _common_prefix(a, b)
        a, b = list(a[offset:]), list(b[offset:])
        if not a:
            return _appended(key, b, offset, redactor, limit)
    changes = _deep(redactor.redact({key: a}), redactor.redact({key: b}), offset)
    return changes, len(changes)


def _appended(
    key: Any, items: list[Any], offset: int, redactor: Redactor, limit: int | None
) -> tuple[list[Change], int]:
    """Items added at the end of a list: only the first `limit` are redacted and built."""
    shown = items if limit is None else items[:limit]
    redacted = redactor.redact({key: shown})
    (name, values), = redacted.items()
    changes = [
        Change(_format([name, offset + index]), "added", None, value)
        for index, value in enumerate(values)
    ]
    return changes, len(items)


def _deepdiff() -> Any:
    """deepdiff's DeepDiff, imported when a diff first needs it.

    deepdiff imports pydantic if it can (~30 ms, and a read path must not load it): the
    values diffed here are redacted, JSON-shaped data, never models, so its pydantic
    support is never used, and pydantic is kept out of its import when nothing else has
    loaded it yet."""
    if "deepdiff" in sys.modules or "pydantic" in sys.modules:
        from deepdiff import DeepDiff
        return DeepDiff
    sys.modules["pydantic"] = None  # type: ignore[assignment]  # import pydantic fails
    try:
        from deepdiff import DeepDiff
    finally:
        del sys.modules["pydantic"]
    return DeepDiff


def _deep(old: Any, new: Any, offset: int = 0) -> list[Change]:
    """deepdiff of two redacted values; `offset` shifts the first list index (a skipped
    common prefix)."""
    # threshold 0: a dict whose keys all changed is still listed key by key (deepdiff's
    # default reports it as one change of the whole dict, hiding which keys differ).
    diff = _deepdiff()(old, new, ignore_order=False, verbose_level=2, view="tree",
                    threshold_to_diff_deeper=0)
    changes = []
    for kind, report in _KINDS:
        for level in diff.get(report, ()):
            elements = list(level.path(output_format="list"))
            if offset and len(elements) >= 2 and isinstance(elements[1], int):
                elements[1] += offset
            changes.append(Change(
                path=_format(elements),
                kind=kind,
                before=None if kind == "added" else level.t1,
                after=None if kind == "removed" else level.t2,
            ))
    return changes


def _equal(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # exotic values may refuse comparison: then diff them
        return False


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray)


def _common_prefix(a: Sequence[Any], b: Sequence[Any]) -> int:
    count = 0
    for x, y in zip(a, b, strict=False):
        if not _equal(x, y):
            break
        count += 1
    return count


def _format(elements: Sequence[Any]) -> str:
    # deepdiff spells paths root['a'][0]; reviewers read a[0].b more easily
    out = ""
    for element in elements:
        if isinstance(element, int):
            out += f"[{element}]"
        else:
            out += f".{element}" if out else str(element)
    return out or "(root)"


def _order(change: Change) -> tuple[Any, ...]:
    # Natural order: messages[2] before messages[10].
    parts: list[tuple[int, Any]] = []
    for piece in change.path.replace("[", ".[").split("."):
        if piece.startswith("[") and piece.endswith("]") and piece[1:-1].isdigit():
            parts.append((0, int(piece[1:-1])))
        else:
            parts.append((1, piece))
    return tuple(parts)
