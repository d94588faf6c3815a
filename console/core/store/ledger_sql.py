"""The ledger's SQL for Postgres and SQLite, next to the code that runs it.

Exclusion comes from the database only. A claim is one INSERT that succeeds only if
the thread's head is still the checkpoint the reviewer saw, and that the partial unique
index `hitl_decisions_one_claim` admits at most once per pause (`ON CONFLICT DO
NOTHING`): of any number of racing processes exactly one gets a row back. The losers
then read who won, to say so.
"""

from __future__ import annotations

import abc
import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from console.core.errors import ConsoleError, DatabaseUnavailable
from console.core.ledger_schema import CLAIMING_STATUSES
from console.core.models_ledger import ClaimRequest, ClaimResult, LedgerRow, Origin
from console.core.store.base import CheckpointStore
from console.core.store.heads import parse_ts

_COLUMNS = (
    "id, thread_id, checkpoint_ns, checkpoint_id, pause_key, decision, status, reviewer, "
    "reason, edits, resume, idempotency_key, client_host, ssh_origin, client_pid, apply_mode, "
    "created_at, finished_at, new_checkpoint_id, outcome"
)
_CLAIMING = ", ".join(f"'{s}'" for s in CLAIMING_STATUSES)
_HEAD = "(SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = {m} AND checkpoint_ns = {m})"


def _dumps(value: Any) -> str | None:
    from console.core.jsonable import to_jsonable

    return None if value is None else json.dumps(to_jsonable(value), ensure_ascii=False)


def _loads(value: Any) -> Any:
    if value is None or not isinstance(value, str | bytes):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _row(data: dict[str, Any]) -> LedgerRow:
    return LedgerRow(
        id=int(data["id"]),
        thread_id=data["thread_id"],
        checkpoint_ns=data["checkpoint_ns"],
        checkpoint_id=data["checkpoint_id"],
        pause_key=data["pause_key"],
        decision=data["decision"],
        status=data["status"],
        reviewer=data["reviewer"],
        reason=data["reason"],
        edits=_loads(data["edits"]),
        resume=_loads(data["resume"]),
        idempotency_key=data["idempotency_key"],
        client_host=data["client_host"],
        ssh_origin=data["ssh_origin"],
        client_pid=data["client_pid"],
        apply_mode=data["apply_mode"],
        created_at=parse_ts(data["created_at"]),
        finished_at=parse_ts(data["finished_at"]) if data["finished_at"] else None,
        new_checkpoint_id=data["new_checkpoint_id"],
        outcome=data["outcome"],
    )


class LedgerDB(abc.ABC):
    """Ledger reads and writes; subclasses supply the dialect and three primitives."""

    mark = "%s"  # the driver's parameter marker
    json_cast = ""  # how a JSON text parameter becomes the column's type
    now_sql = "now()"

    @abc.abstractmethod
    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        """Run one statement (committed on its own) and return its rows as dicts."""

    @abc.abstractmethod
    async def _execute(self, sql: str, params: Sequence[Any]) -> int:
        """Run one statement (committed on its own) and return the affected row count."""

    @abc.abstractmethod
    async def install(self, statements: Sequence[str]) -> None:
        """Run the DDL in one transaction."""

    @abc.abstractmethod
    async def installed(self) -> bool: ...

    def _now_param(self) -> Any:
        return None

    async def claim(self, request: ClaimRequest) -> ClaimResult:
        """Insert the decision if the head is still the pause and nobody claimed it."""
        m = self.mark
        origin = request.origin
        values = [request.thread_id, request.checkpoint_ns, request.checkpoint_id,
                  request.pause_key, request.decision.value, request.status.value,
                  origin.reviewer, request.reason, _dumps(request.edits), _dumps(request.resume),
                  request.idempotency_key, origin.client_host, origin.ssh_origin, origin.pid,
                  request.apply_mode]
        placeholders = [m] * len(values)
        placeholders[8] = placeholders[9] = f"{m}{self.json_cast}"
        created = self._now_param()
        if created is not None:
            values.append(created)
            placeholders.append(m)
        sql = (
            "INSERT INTO hitl_decisions (thread_id, checkpoint_ns, checkpoint_id, pause_key,"
            " decision, status, reviewer, reason, edits, resume, idempotency_key, client_host,"
            f" ssh_origin, client_pid, apply_mode{', created_at' if created else ''})"
            f" SELECT {', '.join(placeholders)} WHERE {_HEAD.format(m=m)} = {m}"
            f" ON CONFLICT DO NOTHING RETURNING {_COLUMNS}"
        )
        params = [*values, request.thread_id, request.checkpoint_ns, request.checkpoint_id]
        try:
            rows = await self._fetch(sql, params)
        except (pg_errors.UniqueViolation, sqlite3.IntegrityError):
            rows = []
        if rows:
            return ClaimResult(row=_row(rows[0]), current_head=request.checkpoint_id)
        return await self._explain_loss(request)

    async def _explain_loss(self, request: ClaimRequest) -> ClaimResult:
        m = self.mark
        if request.idempotency_key:
            earlier = await self.rows(idempotency_key=request.idempotency_key)
            if earlier:
                return ClaimResult(row=earlier[0], replayed=True)
        holder = await self._fetch(
            f"SELECT {_COLUMNS} FROM hitl_decisions WHERE thread_id = {m}"
            f" AND checkpoint_ns = {m} AND checkpoint_id = {m} AND pause_key = {m}"
            f" AND status IN ({_CLAIMING})",
            (request.thread_id, request.checkpoint_ns, request.checkpoint_id, request.pause_key))
        head = await self._fetch(f"SELECT {_HEAD.format(m=m)} AS head",
                                 (request.thread_id, request.checkpoint_ns))
        return ClaimResult(row=None, conflict_with=_row(holder[0]) if holder else None,
                           current_head=head[0]["head"] if head else None)

    async def finish(
        self, decision_id: int, status: str, outcome: str | None,
        *, only_if_status: str | None = None,
    ) -> str | None:
        """Settle a decision, recording the thread's head now; returns that head (or None
        if the guard did not match)."""
        m = self.mark
        guard = f" AND status = {m}" if only_if_status else ""
        params: list[Any] = [status, outcome, decision_id]
        if only_if_status:
            params.append(only_if_status)
        now = f"{m}" if self._now_param() is not None else self.now_sql
        if self._now_param() is not None:
            params.insert(2, self._now_param())
        rows = await self._fetch(
            f"UPDATE hitl_decisions SET status = {m}, outcome = {m}, finished_at = {now},"
            " new_checkpoint_id = (SELECT max(c.checkpoint_id) FROM checkpoints c"
            "   WHERE c.thread_id = hitl_decisions.thread_id"
            "   AND c.checkpoint_ns = hitl_decisions.checkpoint_ns)"
            f" WHERE id = {m}{guard} RETURNING new_checkpoint_id", params)
        return rows[0]["new_checkpoint_id"] if rows else None

    async def add_approval(self, request: ClaimRequest) -> int:
        """Record one reviewer's approval of a pause; the number of distinct approvers.

        Each insert commits before the count, so of concurrent approvers the last to
        commit always sees every approval: the Nth approval is never missed.
        """
        m = self.mark
        origin = request.origin
        key = (request.thread_id, request.checkpoint_ns, request.checkpoint_id,
               request.pause_key)
        params: list[Any] = [*key, origin.reviewer, origin.client_host, origin.ssh_origin]
        columns = ("thread_id, checkpoint_ns, checkpoint_id, pause_key, reviewer, client_host,"
                   " ssh_origin")
        if self._now_param() is not None:
            params.append(self._now_param())
            columns += ", created_at"
        await self._execute(
            f"INSERT INTO hitl_approvals ({columns}) VALUES ({', '.join([m] * len(params))})"
            " ON CONFLICT DO NOTHING", params)
        rows = await self._fetch(
            f"SELECT count(*) AS n FROM hitl_approvals WHERE thread_id = {m}"
            f" AND checkpoint_ns = {m} AND checkpoint_id = {m} AND pause_key = {m}", key)
        return int(rows[0]["n"])

    async def rows(
        self, *, thread_id: str | None = None, since: datetime | None = None,
        statuses: Sequence[str] | None = None, idempotency_key: str | None = None,
        limit: int | None = None,
    ) -> list[LedgerRow]:
        where, params = self._where(thread_id, since, statuses, idempotency_key, "created_at")
        tail = f" LIMIT {int(limit)}" if limit else ""
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM hitl_decisions{where} ORDER BY id{tail}", params)
        return [_row(r) for r in rows]

    async def event(self, origin: Origin, action: str, thread_id: str | None,
                    checkpoint_id: str | None, detail: Any) -> None:
        m = self.mark
        params = [origin.reviewer, action, thread_id, checkpoint_id, _dumps(detail),
                  origin.client_host, origin.ssh_origin]
        columns = "reviewer, action, thread_id, checkpoint_id, detail, client_host, ssh_origin"
        if self._now_param() is not None:
            params.append(self._now_param())
            columns += ", at"
        await self._execute(
            f"INSERT INTO hitl_events ({columns}) VALUES ({', '.join([m] * len(params))})",
            params)

    async def events(self, *, thread_id: str | None = None,
                     since: datetime | None = None) -> list[dict[str, Any]]:
        where, params = self._where(thread_id, since, None, None, "at")
        return await self._fetch(f"SELECT * FROM hitl_events{where} ORDER BY id", params)

    def _where(
        self, thread_id: str | None, since: datetime | None, statuses: Sequence[str] | None,
        key: str | None, time_column: str,
    ) -> tuple[str, list[Any]]:
        m = self.mark
        clauses: list[str] = []
        params: list[Any] = []
        if thread_id is not None:
            clauses.append(f"thread_id = {m}")
            params.append(thread_id)
        if since is not None:
            clauses.append(f"{time_column} >= {m}")
            params.append(since if self._now_param() is None else since.astimezone(UTC).isoformat())
        if statuses:
            clauses.append(f"status IN ({', '.join([m] * len(statuses))})")
            params.extend(statuses)
        if key is not None:
            clauses.append(f"idempotency_key = {m}")
            params.append(key)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class PostgresLedger(LedgerDB):
    mark = "%s"
    json_cast = "::jsonb"

    def __init__(self, store: Any) -> None:
        self.pool = store.pool

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return [dict(r) for r in await cur.fetchall()] if cur.description else []

    async def _execute(self, sql: str, params: Sequence[Any]) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return int(cur.rowcount)

    async def install(self, statements: Sequence[str]) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('hitl_console_setup'))")
            for statement in statements:
                await conn.execute(statement)

    async def installed(self) -> bool:
        rows = await self._fetch(
            "SELECT to_regclass('hitl_decisions') IS NOT NULL AS ok", ())
        return bool(rows and rows[0]["ok"])


class SqliteLedger(LedgerDB):
    """SQLite ledger on the store's connection, serialised with the saver's own lock."""

    mark = "?"

    def __init__(self, store: Any) -> None:
        self.conn = store.conn
        self.lock = store.saver.lock

    def _now_param(self) -> Any:
        return datetime.now(UTC).isoformat()

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        async with self.lock:
            async with self.conn.execute(sql, params) as cur:
                names = [d[0] for d in cur.description or ()]
                rows = [dict(zip(names, r, strict=True)) for r in await cur.fetchall()]
            if self.conn.in_transaction:
                await self.conn.commit()
            return rows

    async def _execute(self, sql: str, params: Sequence[Any]) -> int:
        async with self.lock:
            cur = await self.conn.execute(sql, params)
            await self.conn.commit()
            return int(cur.rowcount)

    async def install(self, statements: Sequence[str]) -> None:
        async with self.lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in statements:
                    await self.conn.execute(statement)
                await self.conn.commit()
            except BaseException:
                await self.conn.rollback()
                raise

    async def installed(self) -> bool:
        rows = await self._fetch(
            "SELECT 1 AS ok FROM sqlite_master WHERE type = 'table' AND name = 'hitl_decisions'",
            ())
        return bool(rows)


def ledger_db(store: CheckpointStore) -> LedgerDB:
    """The ledger for the store's database."""
    if store.location.backend == "postgres":
        return PostgresLedger(store)
    return SqliteLedger(store)


def database_error(exc: BaseException, location: str) -> ConsoleError:
    """A one-sentence error for a failed ledger operation."""
    if isinstance(exc, ConsoleError):
        return exc
    if isinstance(exc, pg_errors.InsufficientPrivilege) or (
        isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc)
    ):
        return ConsoleError(
            f"The database refused to record the decision ({str(exc).splitlines()[0]}): this "
            "role may only read. Nothing was written; ask for a deciding role (see setup --help)."
        )
    if isinstance(exc, psycopg.Error | sqlite3.Error):
        return DatabaseUnavailable(
            f"The ledger in {location} could not be written: {str(exc).splitlines()[0]}. "
            "Nothing was applied."
        )
    return ConsoleError(str(exc))
