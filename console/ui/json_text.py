"""JSON as the edit form shows and reads it: safe to display, errors with line and column.

Values are shown redacted (a reviewer never sees a secret in an editor either), and a
redacted value left in place is put back when the form is submitted (`restore`): an edit
of a tool's subject must not replace the API key in its body by a fingerprint. A
fingerprint the form cannot trace back to this thread's data is refused, never sent.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from console.core.jsonable import decimal_text, to_jsonable
from console.core.redact import Redactor

# Shown as \uXXXX inside JSON strings (still valid JSON): C1 controls, bidi overrides and
# zero-width characters would otherwise reach the terminal through the editor.
_UNSAFE = re.compile("[\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
PLACEHOLDER = re.compile("«redacted:[0-9a-f]{8}»")


def dumps(value: Any, *, decimals: bool = False) -> str:
    """Indented JSON of an already redacted value, with invisible characters escaped.

    `decimals`: Decimals left in `value` are written `Decimal('330750')`, as the cards
    show them, for a view that is read (the edit form's JSON stays JSON: it passes False).
    """
    if decimals:
        # Each Decimal stands in as a string with a fresh nonce (data cannot forge it),
        # then that quoted string is replaced by `Decimal('...')`.
        nonce = secrets.token_hex(8)

        def stand_in(item: Any) -> str:
            if isinstance(item, Decimal):
                return f"{nonce}:{item}"
            raise TypeError(f"{type(item).__name__} is not JSON")

        text = json.dumps(to_jsonable(value, keep_decimals=True), indent=2,
                          ensure_ascii=False, default=stand_in)
        text = re.sub(f'"{nonce}:([^"]*)"', lambda m: decimal_text(Decimal(m.group(1))),
                      text)
    else:
        text = json.dumps(to_jsonable(value), indent=2, ensure_ascii=False)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)



@dataclass(frozen=True, slots=True)
class JsonProblem:
    """Why a text is not acceptable, with where (1-based) when it is a syntax error."""

    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is not None:
            return f"line {self.line}, column {self.column}: {self.message}"
        return self.message


class JsonInputError(ValueError):
    def __init__(self, problem: JsonProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def loads(text: str) -> Any:
    """Parse JSON; raises JsonInputError naming the line and column of a syntax error."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonInputError(JsonProblem(exc.msg, exc.lineno, exc.colno)) from exc


def schema_problems(value: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every way `value` breaks `schema`, as `path: message` lines (empty when valid)."""
    import jsonschema  # ~30 ms: when a form first checks a value, not at every start

    try:
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return [f"the schema itself is invalid: {exc.message}"]
    validator = validator_class(schema)
    problems = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in error.absolute_path) or "value"
        problems.append(f"{where}: {error.message}")
    return problems


# ------------------------------------------------------------------ redacted values


def secret_originals(sources: Iterable[Any], redactor: Redactor) -> dict[str, Any]:
    """Placeholder -> original value, for every secret the redactor hides in `sources`.

    Built with the redactor's public behaviour only: a value under a secret key is its
    own fingerprint; inside free text, the redacted string is aligned with the original
    (text around placeholders is unchanged) and each candidate is checked against its
    fingerprint, so a mapping is only ever one the redactor itself would produce.
    """
    found: dict[str, Any] = {}
    for source in sources:
        _collect(to_jsonable(source), redactor, found)
    return found


def _collect(value: Any, redactor: Redactor, found: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and redactor.is_secret_key(key) and item not in (None, ""):
                found[redactor.fingerprint(item)] = item
            else:
                _collect(item, redactor, found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, redactor, found)
    elif isinstance(value, str):
        _collect_text(value, redactor, found)


def _collect_text(text: str, redactor: Redactor, found: dict[str, Any]) -> None:
    redacted = redactor.redact_text(text)
    if redacted == text:
        return
    pieces = PLACEHOLDER.split(redacted)
    marks = PLACEHOLDER.findall(redacted)
    if not text.startswith(pieces[0]):
        return
    position = len(pieces[0])
    last = len(marks) - 1
    for number, (mark, after) in enumerate(zip(marks, pieces[1:], strict=True)):
        end = _secret_end(text, position, after, mark, redactor, last=number == last)
        if end is None:
            return  # cannot align the rest: those placeholders stay unknown
        found[mark] = text[position:end]
        position = end + len(after)


def _secret_end(
    text: str, start: int, after: str, mark: str, redactor: Redactor, *, last: bool
) -> int | None:
    """Where the secret that became `mark` ends: the first end that is followed by the
    unchanged text `after` and whose candidate has exactly that fingerprint."""
    ends: Iterable[int]
    if last and not after:
        ends = (len(text),)
    elif after:
        ends = (m.start() for m in re.finditer(re.escape(after), text[start + 1:]))
        ends = (start + 1 + offset for offset in ends)
    else:
        ends = range(start + 1, len(text))
    for end in ends:
        if last and text[end:] != after:
            continue
        candidate = text[start:end]
        digits = re.sub(r"\D", "", candidate)
        if mark in (redactor.fingerprint(candidate), redactor.fingerprint(digits)):
            return end
    return None


class UnknownRedaction(ValueError):
    """The edited value holds a fingerprint that is not one of this thread's secrets."""


def restore(value: Any, originals: Mapping[str, Any]) -> Any:
    """`value` with every placeholder replaced by the original it stands for.

    A string that is exactly one placeholder becomes the original value (which may be a
    number or an object); placeholders inside text are replaced as text.
    """
    if isinstance(value, dict):
        return {key: restore(item, originals) for key, item in value.items()}
    if isinstance(value, list):
        return [restore(item, originals) for item in value]
    if not isinstance(value, str) or "«redacted:" not in value:
        return value
    unknown = [m for m in PLACEHOLDER.findall(value) if m not in originals]
    if unknown:
        raise UnknownRedaction(
            f"{unknown[0]} is a redacted value this form cannot put back: delete it or "
            "type the value itself."
        )
    if PLACEHOLDER.fullmatch(value):
        return originals[value]
    return PLACEHOLDER.sub(lambda m: str(originals[m.group(0)]), value)
