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


class UnreadableRow(ConsoleError):
    """A stored row the console cannot decode: corrupt, of an unknown or encrypted
    serializer type, nested too deep, or not UTF-8. It never hides other threads."""


def describe_exception(exc: BaseException) -> str:
    """The one sentence any exception becomes for a person (CLI stderr and JSON, the TUI's
    error dialog and status line, the ledger's outcome column).

    A `ConsoleError` is written for people already. Anything else is named by its type and
    the first line of its text, so it can be reported; never a traceback. The sentence is
    raw: every sink passes it through `console.core.sink` (redacted, inert) on its way out.
    """
    if isinstance(exc, ConsoleError):
        text = str(exc).strip()
        return text or type(exc).__name__
    lines = str(exc).strip().splitlines()
    first = lines[0].strip() if lines else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def unreadable_reason(exc: BaseException) -> str:
    """One inert line saying why a row could not be read (for the `unreadable` kind).

    Error texts come from hostile rows too: only the exception's first line, shortened,
    with controls shown as visible marks."""
    from console.core.inert import inert

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, UnreadableValue):
        reason = exc.reason
    elif isinstance(exc, UnreadableRow):
        reason = text
    elif isinstance(exc, RecursionError) or "recursion limit" in text.lower():
        reason = "nested too deep to decode"
    elif isinstance(exc, UnicodeError):
        reason = "not valid UTF-8"
    elif isinstance(exc, NotImplementedError) and "serialization type" in text:
        kind = text.rpartition(":")[2].strip()
        reason = (f"encrypted ({kind}); pass --serde with the application's serializer"
                  if "aes" in kind or "encrypt" in kind
                  else f"unknown serializer type {kind!r}")
    elif type(exc).__name__ == "MsgpackDecodeError":
        reason = f"corrupt msgpack ({text})"
    elif isinstance(exc, ValueError) and type(exc).__name__ == "JSONDecodeError":
        reason = f"corrupt JSON ({text})"
    else:
        reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return inert(reason, limit=160)


class UnreadableValue(ConsoleError):
    """A stored value the console cannot or must not decode (corrupt, pickled, of an
    unknown serializer type, encrypted without the key, nested too deep).

    `reason` is one short, inert line for an `unreadable` queue row; the message is the
    sentence `show` prints.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"A stored value cannot be read: {reason}.")


class RightsMissing(ConsoleError):
    """The database role lacks a grant this command needs (README, "Database roles")."""


# SQLSTATE classes and codes that mean "the server cannot be reached now" rather than
# "this statement is wrong": connection exceptions, shutdowns, a server still starting.
_OUTAGE_SQLSTATES = ("08", "57P01", "57P02", "57P03")
_GRANTS_HINT = "that `hitl-console setup --help` lists for this command"


def database_failure(
    exc: BaseException, *, doing: str = "use the database", kept: str = "nothing was written",
) -> ConsoleError | None:
    """One actionable sentence for a database failure, or None if `exc` is not one.

    `doing` completes "may not ..." / "while trying to ...": what the command was doing
    (e.g. "read the decision ledger"); `kept` says what is left as it was. Three kinds are
    told apart, because each has its own next step: missing rights (ask for a grant), the
    server gone (start it and retry) and the console's tables missing (run setup). Any
    other driver error is a bug to report, left to the crash report (None).
    """
    import sqlite3

    import psycopg
    from psycopg_pool import PoolTimeout

    if isinstance(exc, ConsoleError):
        return None
    detail = failure_detail(exc)
    state = getattr(exc, "sqlstate", None) or ""
    if state == "42501" or (isinstance(exc, sqlite3.OperationalError)
                            and "readonly" in detail):
        return RightsMissing(
            f"This database role may not {doing} ({detail}); {kept}; ask the database "
            f"owner for the grants {_GRANTS_HINT}.")
    if isinstance(exc, PoolTimeout | ConnectionError | TimeoutError | psycopg.InterfaceError) \
            or state.startswith(_OUTAGE_SQLSTATES) or (
            isinstance(exc, psycopg.OperationalError) and not state):
        return DatabaseUnavailable(
            f"The database stopped answering while trying to {doing} ({detail}); {kept}; "
            "check that the server is running, then try again.")
    if state == "42P01" and "hitl_" in detail:
        return DatabaseUnavailable(
            f"The console's tables are missing, so it cannot {doing} ({detail}); {kept}; "
            "run `hitl-console setup` once as the owner of the checkpoint tables.")
    return None


def failure_detail(exc: BaseException) -> str:
    """The driver's first line, without its full stop (a pool timeout in words)."""
    if type(exc).__name__ == "PoolTimeout":
        return "no connection could be had in time"
    lines = str(exc).strip().splitlines()
    return lines[0].strip().rstrip(".") if lines else type(exc).__name__


def is_driver_error(exc: BaseException, *names: str) -> bool:
    """`isinstance(exc, psycopg.<name> | ...)` without importing psycopg (a console on
    SQLite never loads it: no psycopg error can exist before psycopg is imported).
    Names may be dotted (`errors.UniqueViolation`, `pool.PoolTimeout` for psycopg_pool)."""
    import sys

    for name in names or ("Error",):
        module_name, _, attr = ("psycopg." + name).rpartition(".")
        if module_name == "psycopg.pool":
            module_name = "psycopg_pool"
        module = sys.modules.get(module_name)
        kind = getattr(module, attr, None) if module is not None else None
        if isinstance(kind, type) and isinstance(exc, kind):
            return True
    return False
