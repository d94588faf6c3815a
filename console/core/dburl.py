"""Parsing `--db` / `HITL_DB` into a database location."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from console.core.errors import UsageError

SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


@dataclass(frozen=True, slots=True)
class DatabaseLocation:
    """Where the checkpoints live: a Postgres URL or a SQLite file path."""

    backend: Literal["postgres", "sqlite"]
    target: str  # libpq URL for Postgres, file path for SQLite

    def display(self) -> str:
        """The location without any password, fit for a status line or an error."""
        if self.backend == "sqlite":
            return f"sqlite:///{self.target}"
        parts = urlsplit(self.target)
        if parts.password is None:
            return self.target
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))


def parse_db_url(raw: str) -> DatabaseLocation:
    """Accept `postgresql://...`, `sqlite:///path` or a path to a .sqlite/.db file."""
    text = raw.strip()
    if not text:
        raise UsageError("No database given: pass --db URL or set HITL_DB.")
    if text.startswith(("postgresql://", "postgres://")):
        return DatabaseLocation("postgres", text)
    if text.startswith("sqlite://"):
        path = text.removeprefix("sqlite://")
        # sqlite:///rel/path and sqlite:////abs/path, as SQLAlchemy spells them
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise UsageError(f"{raw!r} names no file: use sqlite:///path/to/file.sqlite.")
        return DatabaseLocation("sqlite", path)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise UsageError(
            f"Unsupported database scheme {scheme!r}: use postgresql://..., "
            "sqlite:///path or a path to a .sqlite/.db file."
        )
    if Path(text).suffix.lower() in SQLITE_SUFFIXES:
        return DatabaseLocation("sqlite", text)
    raise UsageError(
        f"Cannot tell what database {raw!r} is: use postgresql://..., sqlite:///path "
        "or a path ending in .sqlite or .db."
    )
