"""A decision ledger in a database of its own (`--ledger-db`), apart from the checkpoints.

An Agent Server keeps its checkpoints behind its API, so its decisions are recorded in a
Postgres or SQLite database the team names. The ledger's tables and statements are the
checkpointer ledger's (`console.core.ledger.db`) with one difference: there is no
checkpoints table to check the head against, so a claim is the one-claim unique index
alone (still exactly one winner per pause) and the head a decision left is written by
the caller. The connection is opened on first use, so building a decider costs nothing.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from console.core.dburl import DatabaseLocation
from console.core.errors import ConsoleError, DatabaseUnavailable, UsageError
from console.core.ledger.db import LedgerDB, PostgresLedger, SqliteLedger
from console.core.ledger.rows import ClaimRequest, ClaimResult, LedgerRow
from console.core.ledger.schema import ledger_statements

NO_LEDGER = (
    "No decision ledger is configured for this Agent Server: pass --ledger-db URL (or set "
    "HITL_LEDGER_DB) naming a Postgres or SQLite database to keep decisions, approvals "
    "and audit rows in."
)


class _OpensOnFirstUse(LedgerDB):
    """Connects on its first statement, once (concurrent first uses wait for it): building
    a decider, or a console that never decides, costs no connection. Mixed in before a
    concrete ledger, whose statements `super()` reaches (mypy sees only LedgerDB's
    abstract ones, hence the ignores)."""

    _opening: asyncio.Lock

    def _connected(self) -> bool:
        raise NotImplementedError

    async def _connect(self) -> None:
        raise NotImplementedError

    async def _open(self) -> None:
        if self._connected():
            return
        async with self._opening:
            if not self._connected():
                await self._connect()

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        await self._open()
        return await super()._fetch(sql, params)  # type: ignore[safe-super]

    async def _execute(self, sql: str, params: Sequence[Any]) -> int:
        await self._open()
        return await super()._execute(sql, params)  # type: ignore[safe-super]

    async def install(self, statements: Sequence[str]) -> None:
        await self._open()
        await super().install(statements)  # type: ignore[safe-super]


class StandalonePostgresLedger(_OpensOnFirstUse, PostgresLedger):
    """The ledger in a Postgres database of its own; its pool opens on first use."""

    heads = False

    def __init__(self, location: DatabaseLocation) -> None:  # no store: see _connect
        self.location = location
        self.pool: Any = None
        self._opening = asyncio.Lock()

    def _connected(self) -> bool:
        return self.pool is not None

    async def _connect(self) -> None:
        from console.core.store.postgres import open_pool

        self.pool = await open_pool(self.location, 4, named="the ledger database ",
                                    hint="Check --ledger-db.")

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None


class StandaloneSqliteLedger(_OpensOnFirstUse, SqliteLedger):
    """The ledger in a SQLite file of its own (created on first use)."""

    heads = False

    def __init__(self, location: DatabaseLocation) -> None:  # no store: see _connect
        self.location = location
        self.conn: Any = None
        self.lock = asyncio.Lock()
        self._opening = asyncio.Lock()

    def _connected(self) -> bool:
        return self.conn is not None

    async def _connect(self) -> None:
        import aiosqlite

        from console.core.store.sqlite import BUSY_TIMEOUT_MS

        try:
            Path(self.location.target).parent.mkdir(parents=True, exist_ok=True)
            conn = await aiosqlite.connect(self.location.target, timeout=10)
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # readers never wait for the writer: many consoles share one file
            await conn.execute("PRAGMA journal_mode = WAL")
        except (sqlite3.Error, OSError) as exc:
            raise DatabaseUnavailable(
                f"Cannot open the ledger database {self.location.display()}: {exc}. "
                "Check --ledger-db.") from exc
        self.conn = conn

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()
            self.conn = None


class NoLedger(LedgerDB):
    """What a decider on an Agent Server without `--ledger-db` has: reads find nothing
    (`installed` is False, as for a checkpoint database before its first decision); any
    write, and an explicit read of the ledger (`audit`), says how to configure one."""

    heads = False

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        raise UsageError(NO_LEDGER)

    async def _execute(self, sql: str, params: Sequence[Any]) -> int:
        raise UsageError(NO_LEDGER)

    async def install(self, statements: Sequence[str]) -> None:
        raise UsageError(NO_LEDGER)

    async def installed(self) -> bool:
        return False

    async def claim(self, request: ClaimRequest) -> ClaimResult:
        raise UsageError(NO_LEDGER)

    async def latest_by_thread(self, thread_ids: Sequence[str]) -> dict[str, LedgerRow]:
        return {}

    async def newest_decision_id(self) -> int:
        return 0


StandaloneLedger = StandalonePostgresLedger | StandaloneSqliteLedger | NoLedger


def standalone_ledger(url: str | None) -> StandaloneLedger:
    """The ledger `--ledger-db` names (not connected yet), or `NoLedger` without one."""
    if not (url or "").strip():
        return NoLedger()
    from console.core.dburl import parse_db_url

    location = parse_db_url(str(url))
    if location.backend == "postgres":
        return StandalonePostgresLedger(location)
    if location.backend == "sqlite":
        return StandaloneSqliteLedger(location)
    raise UsageError(f"--ledger-db {location.display()} is not a database: name a Postgres "
                     "URL (postgresql://...) or a SQLite file (sqlite:///path).")


async def install_standalone(ledger: LedgerDB) -> None:
    """Create or upgrade the ledger's tables in its own database (idempotent), with the
    reviewers' presence table (`console.core.presence`) that `setup` adds to a checkpoint
    database."""
    from console.core.presence import presence_statements

    if isinstance(ledger, NoLedger):
        raise UsageError(NO_LEDGER)
    backend = "postgres" if isinstance(ledger, PostgresLedger) else "sqlite"
    try:
        await ledger.install([*ledger_statements(backend), *presence_statements(backend)])
    except ConsoleError:
        raise
    except Exception as exc:
        from console.core.ledger.db import database_error

        location = getattr(ledger, "location", None)
        raise database_error(exc, location.display() if location else "the ledger database",
                             doing="set up the decision ledger") from exc
