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
    """Where the checkpoints live: a Postgres URL, a SQLite file path, or the base URL
    of a LangGraph Agent Server (`langgraph dev`, a self-hosted or LangSmith deployment),
    read and decided through its API."""

    backend: Literal["postgres", "sqlite", "server"]
    target: str  # libpq URL for Postgres, file path for SQLite, base URL for a server

    def display(self) -> str:
        """The location without any password, fit for a status line or an error."""
        if self.backend == "sqlite":
            return f"sqlite:///{self.target}"
        parts = urlsplit(self.target)
        if self.backend == "server":
            # A server URL may carry credentials in its user part or its query (an API
            # key someone pasted): neither is shown.
            netloc = parts.hostname or ""
            if ":" in netloc:  # an IPv6 address
                netloc = f"[{netloc}]"
            if parts.port is not None:
                netloc = f"{netloc}:{parts.port}"
            if parts.username is not None or parts.password is not None:
                netloc = f"***@{netloc}"
            return urlunsplit(parts._replace(netloc=netloc, query="", fragment=""))
        if parts.password is None:
            return self.target
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))


def parse_db_url(raw: str) -> DatabaseLocation:
    """Accept `postgresql://...`, `sqlite:///path`, a path to a .sqlite/.db file, or an
    Agent Server's `http(s)://host[:port][/prefix]`."""
    text = raw.strip()
    if not text:
        raise UsageError("No database given: pass --db URL or set HITL_DB.")
    if text.startswith(("postgresql://", "postgres://")):
        return DatabaseLocation("postgres", text)
    if text.lower().startswith(("http://", "https://")):
        return _server_location(raw, text)
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
            "sqlite:///path, a path to a .sqlite/.db file or an Agent Server's "
            "http(s)://... URL."
        )
    if Path(text).suffix.lower() in SQLITE_SUFFIXES:
        return DatabaseLocation("sqlite", text)
    raise UsageError(
        f"Cannot tell what database {raw!r} is: use postgresql://..., sqlite:///path "
        "or a path ending in .sqlite or .db."
    )


def _server_location(raw: str, text: str) -> DatabaseLocation:
    """An Agent Server's base URL, without a trailing slash (the SDK appends paths)."""
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise UsageError(f"The server URL's port is not a number ({parts.hostname or '?'}"
                         f"...): use {parts.scheme}://host:PORT.") from None
    if not parts.hostname:
        raise UsageError(f"{raw.split('://', 1)[0]}:// names no host: use "
                         "http(s)://host[:port], e.g. http://127.0.0.1:2024 for "
                         "`langgraph dev`.")
    scheme = parts.scheme.lower()
    return DatabaseLocation("server", urlunsplit(parts._replace(
        scheme=scheme, path=parts.path.rstrip("/"), fragment="")))
