"""The ledger's SQL for Postgres and SQLite, next to the code that runs it.

Exclusion comes from the database only: the claim runs in one transaction that checks
the idempotency key and the thread's head, then inserts a row the partial unique index
`hitl_decisions_one_claim` admits at most once per pause. Two processes racing both
pass the checks; the index makes the second INSERT fail, and that loser is told who won.
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
    "id, thread_id, checkpoint_ns, checkpoint_id, pause_key, decision, status, reviewer, reason, "
    "edits, resume, idempotency_key, client_host, ssh_origin, client_pid, apply_mode, created_at, "
    "finished_at, new_checkpoint_id, outcome"
)
_CLAIMING = ", ".join(f"'{s}'" for s in CLAIMING_STATUSES)


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


def _now_text() -> str:
    return datetime.now(UTC).isoformat()


class LedgerDB(abc.ABC):
    """Ledger reads and writes for one backend."""

    @abc.abstractmethod
    async def install(self, statements: Sequence[str]) -> None: ...

    @abc.abstractmethod
    async def installed(self) -> bool: ...

    @abc.abstractmethod
    async def claim(self, request: ClaimRequest) -> ClaimResult: ...

    @abc.abstractmethod
    async def finish(
        self, decision_id: int, status: str, new_checkpoint_id: str | None, outcome: str | None,
        *, only_if_status: str | None = None,
    ) -> bool: ...

    @abc.abstractmethod
    async def rows(
        self,
        *,
        thread_id: str | None = None,
        since: datetime | None = None,
        statuses: Sequence[str] | None = None,
        idempotency_key: str | None = None,
        limit: int | None = None,
    ) -> list[LedgerRow]: ...

    @abc.abstractmethod
    async def event(
        self, origin: Origin, action: str, thread_id: str | None, checkpoint_id: str | None,
        detail: Any,
    ) -> None: ...

    @abc.abstractmethod
    async def events(self, *, thread_id: str | None = None,
                     since: datetime | None = None) -> list[dict[str, Any]]: ...


def _where(
    thread_id: str | None, since: datetime | None, statuses: Sequence[str] | None,
    key: str | None, mark: str,
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if thread_id is not None:
        clauses.append(f"thread_id = {mark}")
        params.append(thread_id)
    if since is not None:
        clauses.append(f"created_at >= {mark}")
        params.append(since if mark == "%s" else since.astimezone(UTC).isoformat())
    if statuses:
        clauses.append(f"status IN ({', '.join([mark] * len(statuses))})")
        params.extend(statuses)
    if key is not None:
        clauses.append(f"idempotency_key = {mark}")
        params.append(key)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class PostgresLedger(LedgerDB):
    def __init__(self, store: Any) -> None:
        self.pool = store.pool
        self.location = store.location

    async def install(self, statements: Sequence[str]) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('hitl_console_setup'))")
            for statement in statements:
                await conn.execute(statement)

    async def installed(self) -> bool:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT to_regclass('hitl_decisions') IS NOT NULL AS ok")).fetchone()
        return bool(row and row["ok"])

    async def claim(self, request: ClaimRequest) -> ClaimResult:
        try:
            return await self._claim_once(request)
        except (pg_errors.UniqueViolation, pg_errors.SerializationFailure):
            # Lost a race inside the database: report what won.
            return await self._explain_loss(request)

    async def _claim_once(self, request: ClaimRequest) -> ClaimResult:
        async with self.pool.connection() as conn, conn.transaction():
            if request.idempotency_key:
                earlier = await self._fetch(
                    conn, f"SELECT {_COLUMNS} FROM hitl_decisions WHERE idempotency_key = %s",
                    (request.idempotency_key,))
                if earlier:
                    return ClaimResult(row=earlier[0], replayed=True)
            head_row = await (await conn.execute(
                "SELECT max(checkpoint_id) AS head FROM checkpoints"
                " WHERE thread_id = %s AND checkpoint_ns = %s",
                (request.thread_id, request.checkpoint_ns))).fetchone()
            head = head_row["head"] if head_row else None
            holder = await self._fetch(
                conn,
                f"SELECT {_COLUMNS} FROM hitl_decisions WHERE thread_id = %s"
                f" AND checkpoint_ns = %s AND checkpoint_id = %s AND pause_key = %s"
                f" AND status IN ({_CLAIMING})",
                (request.thread_id, request.checkpoint_ns, request.checkpoint_id,
                 request.pause_key))
            if holder or head != request.checkpoint_id:
                return ClaimResult(row=None, conflict_with=holder[0] if holder else None,
                                   current_head=head)
            origin = request.origin
            inserted = await self._fetch(
                conn,
                f"INSERT INTO hitl_decisions (thread_id, checkpoint_ns, checkpoint_id, pause_key,"
                " decision, status, reviewer, reason, edits, resume, idempotency_key,"
                " client_host, ssh_origin, client_pid, apply_mode)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s, %s,"
                f" %s) RETURNING {_COLUMNS}",
                (request.thread_id, request.checkpoint_ns, request.checkpoint_id,
                 request.pause_key,
                 request.decision.value, request.status.value, origin.reviewer, request.reason,
                 _dumps(request.edits), _dumps(request.resume), request.idempotency_key,
                 origin.client_host, origin.ssh_origin, origin.pid, request.apply_mode))
            return ClaimResult(row=inserted[0], current_head=head)

    async def _explain_loss(self, request: ClaimRequest) -> ClaimResult:
        if request.idempotency_key:
            earlier = await self.rows(idempotency_key=request.idempotency_key)
            if earlier:
                return ClaimResult(row=earlier[0], replayed=True)
        async with self.pool.connection() as conn:
            holder = await self._fetch(
                conn,
                f"SELECT {_COLUMNS} FROM hitl_decisions WHERE thread_id = %s"
                f" AND checkpoint_ns = %s AND checkpoint_id = %s AND pause_key = %s"
                f" AND status IN ({_CLAIMING})",
                (request.thread_id, request.checkpoint_ns, request.checkpoint_id,
                 request.pause_key))
            head_row = await (await conn.execute(
                "SELECT max(checkpoint_id) AS head FROM checkpoints"
                " WHERE thread_id = %s AND checkpoint_ns = %s",
                (request.thread_id, request.checkpoint_ns))).fetchone()
        return ClaimResult(row=None, conflict_with=holder[0] if holder else None,
                           current_head=head_row["head"] if head_row else None)

    async def finish(
        self, decision_id: int, status: str, new_checkpoint_id: str | None, outcome: str | None,
        *, only_if_status: str | None = None,
    ) -> bool:
        guard = " AND status = %s" if only_if_status else ""
        params: list[Any] = [status, new_checkpoint_id, outcome, decision_id]
        if only_if_status:
            params.append(only_if_status)
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE hitl_decisions SET status = %s, new_checkpoint_id = %s, outcome = %s,"
                f" finished_at = now() WHERE id = %s{guard}", params)
            return bool(cur.rowcount == 1)

    async def rows(
        self, *, thread_id: str | None = None, since: datetime | None = None,
        statuses: Sequence[str] | None = None, idempotency_key: str | None = None,
        limit: int | None = None,
    ) -> list[LedgerRow]:
        where, params = _where(thread_id, since, statuses, idempotency_key, "%s")
        tail = f" LIMIT {int(limit)}" if limit else ""
        async with self.pool.connection() as conn:
            return await self._fetch(
                conn, f"SELECT {_COLUMNS} FROM hitl_decisions{where} ORDER BY id{tail}", params)

    async def event(self, origin: Origin, action: str, thread_id: str | None,
                    checkpoint_id: str | None, detail: Any) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO hitl_events (reviewer, action, thread_id, checkpoint_id, detail,"
                " client_host, ssh_origin) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (origin.reviewer, action, thread_id, checkpoint_id, _dumps(detail),
                 origin.client_host, origin.ssh_origin))

    async def events(self, *, thread_id: str | None = None,
                     since: datetime | None = None) -> list[dict[str, Any]]:
        where, params = _where(thread_id, since, None, None, "%s")
        where = where.replace("created_at", "at")
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(
                f"SELECT * FROM hitl_events{where} ORDER BY id", params)).fetchall()
        return [dict(r) for r in rows]

    @staticmethod
    async def _fetch(conn: Any, sql: str, params: Sequence[Any]) -> list[LedgerRow]:
        rows = await (await conn.execute(sql, params)).fetchall()
        return [_row(dict(r)) for r in rows]


class SqliteLedger(LedgerDB):
    """SQLite ledger on the store's connection, serialised with the saver's own lock."""

    def __init__(self, store: Any) -> None:
        self.conn = store.conn
        self.lock = store.saver.lock
        self.location = store.location

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
        async with self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'hitl_decisions'"
        ) as cur:
            return await cur.fetchone() is not None

    async def claim(self, request: ClaimRequest) -> ClaimResult:
        async with self.lock:
            # IMMEDIATE takes the write lock up front, so checks and insert are atomic
            # across processes (others wait up to busy_timeout).
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                result = await self._claim_locked(request)
                await self.conn.commit()
                return result
            except BaseException:
                await self.conn.rollback()
                raise

    async def _claim_locked(self, request: ClaimRequest) -> ClaimResult:
        if request.idempotency_key:
            earlier = await self._fetch(
                f"SELECT {_COLUMNS} FROM hitl_decisions WHERE idempotency_key = ?",
                (request.idempotency_key,))
            if earlier:
                return ClaimResult(row=earlier[0], replayed=True)
        async with self.conn.execute(
            "SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ?",
            (request.thread_id, request.checkpoint_ns),
        ) as cur:
            found = await cur.fetchone()
        head = found[0] if found else None
        holder = await self._fetch(
            f"SELECT {_COLUMNS} FROM hitl_decisions WHERE thread_id = ? AND checkpoint_ns = ?"
            f" AND checkpoint_id = ? AND pause_key = ? AND status IN ({_CLAIMING})",
            (request.thread_id, request.checkpoint_ns, request.checkpoint_id, request.pause_key))
        if holder or head != request.checkpoint_id:
            return ClaimResult(row=None, conflict_with=holder[0] if holder else None,
                               current_head=head)
        origin = request.origin
        inserted = await self._fetch(
            "INSERT INTO hitl_decisions (thread_id, checkpoint_ns, checkpoint_id, pause_key,"
            " decision, status, reviewer, reason, edits, resume, idempotency_key, client_host,"
            " ssh_origin, client_pid, apply_mode, created_at)"
            f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
            (request.thread_id, request.checkpoint_ns, request.checkpoint_id, request.pause_key,
             request.decision.value, request.status.value, origin.reviewer, request.reason,
             _dumps(request.edits), _dumps(request.resume), request.idempotency_key,
             origin.client_host, origin.ssh_origin, origin.pid, request.apply_mode,
             _now_text()))
        return ClaimResult(row=inserted[0], current_head=head)

    async def finish(
        self, decision_id: int, status: str, new_checkpoint_id: str | None, outcome: str | None,
        *, only_if_status: str | None = None,
    ) -> bool:
        guard = " AND status = ?" if only_if_status else ""
        params: list[Any] = [status, new_checkpoint_id, outcome, _now_text(), decision_id]
        if only_if_status:
            params.append(only_if_status)
        async with self.lock:
            cur = await self.conn.execute(
                "UPDATE hitl_decisions SET status = ?, new_checkpoint_id = ?, outcome = ?,"
                f" finished_at = ? WHERE id = ?{guard}", params)
            await self.conn.commit()
            return bool(cur.rowcount == 1)

    async def rows(
        self, *, thread_id: str | None = None, since: datetime | None = None,
        statuses: Sequence[str] | None = None, idempotency_key: str | None = None,
        limit: int | None = None,
    ) -> list[LedgerRow]:
        where, params = _where(thread_id, since, statuses, idempotency_key, "?")
        tail = f" LIMIT {int(limit)}" if limit else ""
        return await self._fetch(
            f"SELECT {_COLUMNS} FROM hitl_decisions{where} ORDER BY id{tail}", params)

    async def event(self, origin: Origin, action: str, thread_id: str | None,
                    checkpoint_id: str | None, detail: Any) -> None:
        async with self.lock:
            await self.conn.execute(
                "INSERT INTO hitl_events (at, reviewer, action, thread_id, checkpoint_id, detail,"
                " client_host, ssh_origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (_now_text(), origin.reviewer, action, thread_id, checkpoint_id,
                 _dumps(detail), origin.client_host, origin.ssh_origin))
            await self.conn.commit()

    async def events(self, *, thread_id: str | None = None,
                     since: datetime | None = None) -> list[dict[str, Any]]:
        where, params = _where(thread_id, since, None, None, "?")
        where = where.replace("created_at", "at")
        async with self.conn.execute(f"SELECT * FROM hitl_events{where} ORDER BY id",
                                     params) as cur:
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in await cur.fetchall()]

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[LedgerRow]:
        async with self.conn.execute(sql, params) as cur:
            names = [d[0] for d in cur.description]
            return [_row(dict(zip(names, r, strict=True))) for r in await cur.fetchall()]


def ledger_db(store: CheckpointStore) -> LedgerDB:
    """The ledger for the store's database."""
    if store.location.backend == "postgres":
        return PostgresLedger(store)
    return SqliteLedger(store)


def database_error(exc: BaseException, location: str) -> ConsoleError:
    """A one-sentence error for a failed ledger operation."""
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
