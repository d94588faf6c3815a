"""Checkpoint values as readable, bounded, redacted, inert text for the detail pane.

State holds whatever the graph put there: Decimals, datetimes, sets, LangChain messages,
pydantic models, long histories, secrets. The output is JSON-shaped (reviewers paste
values into edit forms as JSON) but small containers stay on one line, long strings and
lists are cut with a note saying how much was left out, secrets are replaced by the
core redactor's fingerprints (the same rules as the CLI), and every string is shown
with its control characters as visible escapes (`console.core.inert`). The result is a
`rich.text.Text`, so nothing in it is ever markup.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from rich.text import Text

from console.core.inert import inert
from console.core.jsonable import decimal_text, to_jsonable
from console.core.redact import Redactor

KEY_STYLE = "bold"
NOTE_STYLE = "dim italic"


@dataclass(frozen=True, slots=True)
class Limits:
    """How much of a value to show: enough to judge it, never enough to flood a slow link."""

    string: int = 400  # characters of one string
    items: int = 40  # entries of one list or mapping
    depth: int = 8  # nesting levels
    inline: int = 72  # a container this short (as one line) is not expanded


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class _Raw:
    """A token written as is (numbers, `null`), not quoted."""

    text: str


@dataclass(frozen=True, slots=True)
class _Note:
    """An editorial remark inside a value: what was left out, or a redaction."""

    text: str


def _message(value: Any) -> dict[str, Any] | None:
    """A LangChain message as the fields a reviewer reads (its model_dump is mostly noise)."""
    if not (hasattr(value, "content") and isinstance(getattr(value, "type", None), str)):
        return None
    out: dict[str, Any] = {"type": value.type, "content": value.content}
    for name in ("name", "tool_calls", "tool_call_id", "id"):
        field = getattr(value, name, None)
        if field:
            out[name] = field
    return out


class _Normaliser:
    """Turns any value into dicts, lists, strings, `_Raw` and `_Note` leaves."""

    def __init__(self, limits: Limits, redactor: Redactor | None) -> None:
        self.limits = limits
        self.redactor = redactor

    def value(self, value: Any, depth: int) -> Any:
        if value is None or isinstance(value, bool):
            return _Raw(json.dumps(value))
        if isinstance(value, int | float):
            return _Raw(repr(value) if isinstance(value, float) else str(value))
        if isinstance(value, Decimal):
            return _Raw(decimal_text(value))
        if isinstance(value, str):
            return self.string(value)
        if isinstance(value, enum.Enum):
            return self.value(value.value, depth)
        if isinstance(value, datetime | date | time):
            return value.isoformat()
        if isinstance(value, timedelta):
            return f"{value.total_seconds():g}s"
        if isinstance(value, UUID):
            return str(value)
        if isinstance(value, bytes | bytearray):
            return _Note(f"<{len(value)} bytes>")
        if depth >= self.limits.depth:
            return _Note("<nested too deep>")
        if isinstance(value, Mapping):
            return self.mapping(value, depth)
        if isinstance(value, Set):
            # Sorted by text so the same set always reads the same (sets have no order).
            return self.sequence(sorted(value, key=repr), depth)
        if isinstance(value, Sequence):
            return self.sequence(list(value), depth)
        if (message := _message(value)) is not None:
            return self.mapping(message, depth)
        if hasattr(value, "model_dump"):
            try:
                return self.value(value.model_dump(), depth)
            except Exception:  # a broken model must not break the pane
                return _Note(f"<{type(value).__name__}>")
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            return self.mapping(fields, depth)
        if hasattr(value, "_asdict"):
            return self.value(value._asdict(), depth)
        return _Note(self.string(repr(value)))

    def string(self, text: str) -> str:
        # Redact before cutting: a cut must never leave half a secret readable.
        if self.redactor is not None:
            text = self.redactor.redact_text(text)
        limit = self.limits.string
        if len(text) <= limit:
            return text
        return f"{text[:limit]}... (+{len(text) - limit} chars)"

    def mapping(self, value: Mapping[Any, Any], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for index, (key, item) in enumerate(value.items()):
            if index >= self.limits.items:
                out["..."] = _Note(f"{len(value) - self.limits.items} more keys")
                break
            name = self.string(str(key))
            if self._is_secret(name, item):
                assert self.redactor is not None
                # Fingerprint the JSON form, as the CLI does, so both show the same mark.
                out[name] = _Note(self.redactor.fingerprint(to_jsonable(item)))
            else:
                out[name] = self.value(item, depth + 1)
        return out

    def _is_secret(self, key: str, item: Any) -> bool:
        return (
            self.redactor is not None
            and item not in (None, "")
            and self.redactor.is_secret_key(key)
        )

    def sequence(self, items: list[Any], depth: int) -> list[Any]:
        if len(items) <= self.limits.items:
            return [self.value(item, depth + 1) for item in items]
        # Keep the newest entries: for a message history the end is what is being reviewed.
        head = 3
        tail = self.limits.items - head
        omitted = len(items) - head - tail
        return [
            *(self.value(item, depth + 1) for item in items[:head]),
            _Note(f"... {omitted} items omitted ..."),
            *(self.value(item, depth + 1) for item in items[-tail:]),
        ]


def _flat(node: Any) -> str:
    """The one-line form of a normalised value."""
    if isinstance(node, _Raw | _Note):
        return node.text
    if isinstance(node, str):
        return _quote(node)
    if isinstance(node, dict):
        return "{" + ", ".join(f"{_quote(k)}: {_flat(v)}" for k, v in node.items()) + "}"
    return "[" + ", ".join(_flat(v) for v in node) + "]"


def _quote(text: str) -> str:
    # json.dumps escapes C0 controls; `inert` also shows DEL, C1, bidi and zero-width.
    return inert(json.dumps(text, ensure_ascii=False))


def _append_leaf(out: Text, node: Any) -> None:
    if isinstance(node, _Note):
        out.append(inert(node.text), style=NOTE_STYLE)
    else:
        out.append(_flat(node))


def _write(out: Text, node: Any, indent: int, limits: Limits) -> None:
    """Append `node` at the current position; containers continue on following lines."""
    is_container = isinstance(node, dict | list)
    if not is_container or not node or len(_flat(node)) + 2 * indent <= limits.inline:
        _append_leaf(out, node)
        return
    pad = "  " * (indent + 1)
    if isinstance(node, dict):
        out.append("{\n")
        for index, (key, item) in enumerate(node.items()):
            out.append(pad)
            out.append(_quote(key), style=KEY_STYLE)
            out.append(": ")
            _write(out, item, indent + 1, limits)
            out.append(",\n" if index < len(node) - 1 else "\n")
        out.append("  " * indent + "}")
        return
    out.append("[\n")
    for index, item in enumerate(node):
        out.append(pad)
        _write(out, item, indent + 1, limits)
        out.append(",\n" if index < len(node) - 1 else "\n")
    out.append("  " * indent + "]")


def pretty(
    value: Any,
    *,
    redactor: Redactor | None,
    limits: Limits = DEFAULT_LIMITS,
    indent: int = 0,
) -> Text:
    """`value` as indented, truncated, inert JSON-like text (no trailing newline).

    `redactor` is required so that leaving it out is a visible decision: None only for
    values that cannot hold data, such as a graph's own response schema.
    """
    out = Text()
    _write(out, _Normaliser(limits, redactor).value(value, 0), indent, limits)
    return out


def pretty_fields(
    values: Mapping[str, Any], *, redactor: Redactor | None, limits: Limits = DEFAULT_LIMITS
) -> Text:
    """A mapping as `key: value` lines without the outer braces (the state)."""
    out = Text()
    node = _Normaliser(limits, redactor).mapping(values, 0)
    for index, (key, item) in enumerate(node.items()):
        if index:
            out.append("\n")
        out.append(inert(key), style=KEY_STYLE)
        out.append(": ")
        _write(out, item, 0, limits)
    return out
