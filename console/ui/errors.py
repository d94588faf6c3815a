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

    `ConsoleError` messages are written for people already; anything else is a bug or
    an unforeseen failure, named by its type so it can be reported. Messages can quote
    data (a driver error echoing a value), so they are redacted like everything else.
    """
    known = database_failure(error)  # rights or an outage: words, not a driver's error
    if known is not None:
        error = known
    if isinstance(error, ConsoleError):
        title = next((name for kind, name in _TITLES if isinstance(error, kind)), "Error")
        message = str(error)
    else:
        title = "Unexpected error"
        message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if redactor is not None:
        message = redactor.redact_text(message)
    message = one_line(message)
    if len(message) > MAX_LENGTH:
        message = message[: MAX_LENGTH - 3] + "..."
    return title, message
