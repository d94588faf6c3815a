"""The one way out: every string that leaves the console passes here, at the sink.

Text for a terminal (CLI output, stderr, log lines, TUI messages), JSON, CSV cells and the
ledger's reason and outcome columns are redacted (`console.core.redact`) and made inert
(`console.core.inert`) here, whatever produced them: a payload, state, an exception's
text, a database error, a reviewer's input. Callers hand over raw text and the
identifiers it quotes; they never redact or escape themselves.

Identifiers (`IDENTIFIER_FIELDS` in data, `keep=` in text) are never redacted: a thread
whose id contains `sk-...` stays addressable. In JSON they come out exactly (control and
invisible characters as `\\uXXXX` escapes, which a JSON reader turns back into the id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from console.core.errors import describe_exception
from console.core.inert import MAX_TEXT, inert, inert_json
from console.core.jsonable import to_jsonable
from console.core.redact import Redactor

# Fields of the console's own views that hold identifiers: shown as they are (inert),
# never passed to the redactor's detectors.
IDENTIFIER_FIELDS = frozenset({
    "thread_id", "checkpoint_id", "parent_checkpoint_id", "new_checkpoint_id",
    "checkpoint_before", "checkpoint_ns", "pause_id", "pause_key", "interrupt_id",
    "interrupt_ids", "task_id", "would_expire", "worker_id", "claimed_by",
})


class Sink:
    """Redacts and neutralises outgoing text and data with one redactor."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        self.redactor = redactor or Redactor()

    def text(self, text: str, *, keep: Iterable[str] = (), limit: int = MAX_TEXT,
             keep_newlines: bool = False) -> str:
        """A line (or, with `keep_newlines`, lines) safe for a terminal, secrets hidden."""
        return inert(self.redactor.redact_text(text, keep), limit=limit,
                     keep_newlines=keep_newlines)

    def error(self, exc: BaseException, *, keep: Iterable[str] = ()) -> str:
        """An exception as its one sentence, ready for stderr, a dialog or the ledger."""
        return self.text(describe_exception(exc), keep=keep, limit=500)

    def data(self, value: Any) -> Any:
        """JSON-safe `value` with secrets hidden and identifier fields kept."""
        return self._walk(to_jsonable(value), None)

    def json(self, value: Any, *, indent: int | None = None) -> str:
        """`value` as JSON: redacted, identifiers kept, nothing raw for a terminal."""
        return inert_json(self.data(value), indent=indent)

    def cell(self, value: Any) -> str:
        """One CSV cell: structured values as JSON, every cell one inert line."""
        if value is None:
            return ""
        if isinstance(value, dict | list):
            return self.json(value)
        return self.text(str(value), limit=100_000)

    def _walk(self, value: Any, field: str | None) -> Any:
        if isinstance(value, Mapping):
            redactor = self.redactor
            out: dict[str, Any] = {}
            for key, item in value.items():
                name = str(key)
                shown = name if name in IDENTIFIER_FIELDS else redactor.redact_text(name)
                if redactor.is_secret_key(name) and item not in (None, ""):
                    out[shown] = redactor.fingerprint(item)
                else:
                    out[shown] = self._walk(item, name)
            return out
        if isinstance(value, list):
            if field in IDENTIFIER_FIELDS:
                return list(value)
            return self.redactor.redact(value) if _is_pair(value) else [
                self._walk(v, None) for v in value]
        if isinstance(value, str):
            return value if field in IDENTIFIER_FIELDS else self.redactor.redact_text(value)
        return value


def _is_pair(value: list[Any]) -> bool:
    return len(value) == 2 and all(isinstance(v, str) for v in value)


_LEDGER = Sink()


def ledger_text(text: str | None, *, keep: Iterable[str] = ()) -> str | None:
    """What the ledger's reason and outcome columns store: redacted and inert, so `audit`
    and every later reader get a column that is safe whatever wrote it."""
    if text is None:
        return None
    return _LEDGER.text(text, keep=keep, limit=2_000)


__all__ = ["IDENTIFIER_FIELDS", "Sink", "ledger_text"]
