"""Turning exceptions into one sentence a reviewer can act on (never a traceback)."""

from __future__ import annotations

from console.core.errors import (
    ConflictError,
    ConsoleError,
    DatabaseUnavailable,
    NotPendingError,
    PolicyRefused,
    RightsMissing,
    UsageError,
    database_failure,
)
from console.core.redact import Redactor
from console.core.sink import Sink
from console.ui.cell_text import one_line

MAX_LENGTH = 500
# Most specific first: DecisionRefused is a UsageError.
_TITLES: tuple[tuple[type[ConsoleError], str], ...] = (
    (DatabaseUnavailable, "Database unavailable"),
    (RightsMissing, "Missing database rights"),
    (ConflictError, "Conflict"),
    (NotPendingError, "Not pending"),
    (PolicyRefused, "Refused by policy"),
    (UsageError, "Refused"),
)


def describe_error(error: BaseException, redactor: Redactor | None = None) -> tuple[str, str]:
    """A (title, message) pair for an error shown to a person.

    The sentence is the core's (`describe_exception`, the same the CLI prints and the
    ledger records), through the sink (redacted, inert); the UI adds only the title.
    """
    known = database_failure(error)  # rights or an outage: words, not a driver's error
    if known is not None:
        error = known
    if isinstance(error, ConsoleError):
        title = next((name for kind, name in _TITLES if isinstance(error, kind)), "Error")
    else:
        title = "Unexpected error"
    message = one_line(Sink(redactor).error(error))
    if len(message) > MAX_LENGTH:
        message = message[: MAX_LENGTH - 3] + "..."
    return title, message
