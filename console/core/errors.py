"""Errors the user can act on, each with the CLI exit code product.md assigns it."""

from __future__ import annotations


class ConsoleError(Exception):
    """Base for errors shown to a person: the message is one actionable sentence."""

    exit_code = 1


class UsageError(ConsoleError):
    exit_code = 2


class DatabaseUnavailable(ConsoleError):
    """The database could not be reached or opened."""


class NotACheckpointDatabase(ConsoleError):
    """The database has no LangGraph checkpoint tables."""


class ConflictError(ConsoleError):
    exit_code = 3


class NotPendingError(ConsoleError):
    """Unknown thread, or a thread that is not waiting for a human."""

    exit_code = 4


class PolicyRefused(ConsoleError):
    exit_code = 5


class UnreadableValue(ConsoleError):
    """A stored value the console cannot or must not decode (corrupt, pickled, of an
    unknown serializer type, encrypted without the key, nested too deep).

    `reason` is one short, inert line for an `unreadable` queue row; the message is the
    sentence `show` prints.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"A stored value cannot be read: {reason}.")
