"""The ledger's SQL for Postgres and SQLite, next to the code that runs it.

Exclusion comes from the database only. A claim is one INSERT that succeeds only if
the thread's head is still the checkpoint the reviewer saw, and that the partial unique
index `hitl_decisions_one_claim_v3` (v2 on SQLite) admits at most once per pause (`ON CONFLICT DO
NOTHING`): of any number of racing processes exactly one gets a row back. The losers
then read who won, to say so.
"""

from __future__ import annotations

import abc
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from console.core.errors import (
    ConsoleError,
    DatabaseUnavailable,
    database_failure,
    is_driver_error,
)
from console.core.ledger.rows import (
    CLAIMING_STATUSES,
    ClaimRequest,
    ClaimResult,
    LedgerRow,
    Origin,
    QueueDepth,
    WorkerRecord,
)
from console.core.ledger.schema import LEDGER_VERSION, ledger_statements
from console.core.sink import ledger_text
from console.core.store.base import CheckpointStore
from console.core.store.heads import parse_ts

_COLUMNS = (
    "id, thread_id, checkpoint_ns, checkpoint_id, pause_key, decision, status, reviewer, "
    "reason, edits, resume, idempotency_key, client_host, ssh_origin, client_pid, apply_mode, "
    "created_at, finished_at, new_checkpoint_id, outcome, graph, claimed_by, claimed_at, "
    "lease_until, started_at, attempts"
)
_CLAIMING = ", ".join(f"'{s}'" for s in CLAIMING_STATUSES)
_HEAD = "(SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = {m} AND checkpoint_ns = {m})"
_NEW_HEAD = ("(SELECT max(c.checkpoint_id) FROM checkpoints c"
             " WHERE c.thread_id = hitl_decisions.thread_id"
             " AND c.checkpoint_ns = hitl_decisions.checkpoint_ns)")


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
        graph=data.get("graph"),
        claimed_by=data.get("claimed_by"),
        claimed_at=_ts(data.get("claimed_at")),
        lease_until=_ts(data.get("lease_until")),
        started_at=_ts(data.get("started_at")),
        attempts=int(data.get("attempts") or 0),
    )


def _ts(value: Any) -> datetime | None:
    return parse_ts(value) if value else None


class LedgerDB(abc.ABC):
    """Ledger reads and writes; subclasses supply the dialect and three primitives."""

    mark = "%s"  # the driver's parameter marker
    json_cast = ""  # how a JSON text parameter becomes the column's type
    now_sql = "now()"
    # Whether the thread's checkpoints are in this database: a claim then also requires
    # the head to be the pause. A ledger kept apart from them (an Agent Server's, in
    # `--ledger-db`) has no head to read: its claim is the one-claim index alone, and
    # the caller supplies the head a decision left (`finish(new_head=...)`).
    heads = True

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

    async def close(self) -> None:
        """Release a connection of the ledger's own (one it shares with a store: none)."""
        return None

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        """One statement of a table kept next to the ledger (`console.core.presence`),
        committed on its own; its rows as dicts."""
        return await self._fetch(sql, params)

    async def execute(self, sql: str, params: Sequence[Any]) -> int:
        """`fetch` for a statement without rows; the affected row count."""
        return await self._execute(sql, params)

    async def claim(self, request: ClaimRequest) -> ClaimResult:
        """Insert the decision if the head is still the pause and nobody claimed it."""
        m = self.mark
        origin = request.origin
        values = [request.thread_id, request.checkpoint_ns, request.checkpoint_id,
                  request.pause_key, request.decision.value, request.status.value,
                  origin.reviewer, ledger_text(request.reason), _dumps(request.edits),
                  _dumps(request.resume),
                  request.idempotency_key, origin.client_host, origin.ssh_origin, origin.pid,
                  request.apply_mode, request.graph]
        placeholders = [m] * len(values)
        placeholders[8] = placeholders[9] = f"{m}{self.json_cast}"
        created = self._now_param()
        if created is not None:
            values.append(created)
            placeholders.append(m)
        # (SQLite needs a WHERE before an upsert's ON CONFLICT in INSERT ... SELECT)
        where, params = "1 = 1", list(values)
        if self.heads:
            where = f"{_HEAD.format(m=m)} = {m}"
            params += [request.thread_id, request.checkpoint_ns, request.checkpoint_id]
        sql = (
            "INSERT INTO hitl_decisions (thread_id, checkpoint_ns, checkpoint_id, pause_key,"
            " decision, status, reviewer, reason, edits, resume, idempotency_key, client_host,"
            f" ssh_origin, client_pid, apply_mode, graph{', created_at' if created else ''})"
            f" SELECT {', '.join(placeholders)} WHERE {where}"
            f" ON CONFLICT DO NOTHING RETURNING {_COLUMNS}"
        )
        try:
            rows = await self._fetch(sql, params)
        except Exception as exc:
            if not (isinstance(exc, sqlite3.IntegrityError)
                    or is_driver_error(exc, "errors.UniqueViolation")):
                raise
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
                                 (request.thread_id, request.checkpoint_ns)) \
            if self.heads else []
        return ClaimResult(row=None, conflict_with=_row(holder[0]) if holder else None,
                           current_head=head[0]["head"] if head else None)

    async def finish(
        self, decision_id: int, status: str, outcome: str | None,
        *, only_if_status: str | None = None, new_head: str | None = None,
    ) -> str | None:
        """Settle a decision, recording the thread's head now (read from the checkpoints
        here, else `new_head`); returns that head (or None if the guard did not match)."""
        m = self.mark
        guard = f" AND status = {m}" if only_if_status else ""
        params: list[Any] = [status, ledger_text(outcome)]
        now = f"{m}" if self._now_param() is not None else self.now_sql
        if self._now_param() is not None:
            params.append(self._now_param())
        head_sql = _NEW_HEAD
        if not self.heads:
            head_sql = m
            params.append(new_head)
        params.append(decision_id)
        if only_if_status:
            params.append(only_if_status)
        rows = await self._fetch(
            f"UPDATE hitl_decisions SET status = {m}, outcome = {m}, finished_at = {now},"
            f" new_checkpoint_id = {head_sql}"
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

    # ------------------------------------------------------------------ worker mode
    # A queued row already holds its pause in the one-claim index; these statements
    # move it between queued and claimed (never two workers at once), renew and expire
    # leases, and settle it. Each is one statement, atomic on its own.

    def _clock(self, offset_seconds: float = 0.0) -> tuple[str, list[Any]]:
        """SQL for now + offset: the server's clock on Postgres, this host's on SQLite."""
        if self._now_param() is None:
            if not offset_seconds:
                return self.now_sql, []
            return f"({self.now_sql} + {self.mark} * interval '1 second')", [
                float(offset_seconds)]
        at = datetime.now(UTC) + timedelta(seconds=offset_seconds)
        return self.mark, [at.isoformat(timespec="microseconds")]

    def _in(self, column: str, values: Sequence[Any], *, negate: bool = False) -> tuple[
            str, list[Any]]:
        if not values:
            return ("TRUE" if negate else "FALSE"), []
        marks = ", ".join([self.mark] * len(values))
        return f"{column} {'NOT IN' if negate else 'IN'} ({marks})", list(values)

    async def claim_queued(
        self, worker_id: str, lease_seconds: float, *, graphs: Sequence[str] | None = None,
        exclude: Sequence[int] = (),
    ) -> LedgerRow | None:
        """Claim the oldest queued decision for this worker, or None if there is none.

        Postgres: `FOR UPDATE SKIP LOCKED`, so concurrent workers never wait on each other
        and never get the same row. SQLite: the UPDATE runs under the database's single
        write lock, which makes it just as exclusive (one host).
        """
        now_sql, now_params = self._clock()
        lease_sql, lease_params = self._clock(lease_seconds)
        where = ["status = 'queued'"]
        params: list[Any] = []
        if graphs is not None:
            clause, values = self._in("graph", graphs)
            where.append(f"(graph IS NULL OR {clause})")
            params += values
        if exclude:
            clause, values = self._in("id", exclude, negate=True)
            where.append(clause)
            params += values
        lock = " FOR UPDATE SKIP LOCKED" if self._now_param() is None else ""
        rows = await self._fetch(
            f"UPDATE hitl_decisions SET status = 'claimed', claimed_by = {self.mark},"
            f" claimed_at = {now_sql}, lease_until = {lease_sql}, started_at = NULL,"
            " attempts = attempts + 1"
            f" WHERE id = (SELECT id FROM hitl_decisions WHERE {' AND '.join(where)}"
            f" ORDER BY id LIMIT 1{lock}) AND status = 'queued'"
            f" RETURNING {_COLUMNS}",
            [worker_id, *now_params, *lease_params, *params])
        return _row(rows[0]) if rows else None

    async def _transition(
        self, decision_id: int, assignments: str, params: Sequence[Any], guard: str,
        guard_params: Sequence[Any], returning: str = "id",
    ) -> list[dict[str, Any]]:
        m = self.mark
        return await self._fetch(
            f"UPDATE hitl_decisions SET {assignments} WHERE id = {m} AND {guard}"
            f" RETURNING {returning}", [*params, decision_id, *guard_params])

    async def mark_started(self, decision_id: int, worker_id: str) -> bool:
        """Commit that the graph is about to be resumed (False if the claim was lost)."""
        now_sql, now_params = self._clock()
        rows = await self._transition(
            decision_id, f"started_at = {now_sql}", now_params,
            f"status = 'claimed' AND claimed_by = {self.mark}", [worker_id])
        return bool(rows)

    async def release_claims(self, worker_id: str, decision_id: int | None = None) -> int:
        """Put this worker's claims that never started back in the queue."""
        m = self.mark
        only = f" AND id = {m}" if decision_id is not None else ""
        rows = await self._fetch(
            "UPDATE hitl_decisions SET status = 'queued', claimed_by = NULL, claimed_at = NULL,"
            f" lease_until = NULL WHERE status = 'claimed' AND claimed_by = {m}"
            f" AND started_at IS NULL{only} RETURNING id",
            [worker_id] if decision_id is None else [worker_id, decision_id])
        return len(rows)

    async def finish_claim(
        self, decision_id: int, worker_id: str, status: str, outcome: str,
    ) -> tuple[bool, str | None]:
        """Settle a claim this worker still holds; (settled, the thread's head now)."""
        now_sql, now_params = self._clock()
        rows = await self._transition(
            decision_id, f"status = {self.mark}, outcome = {self.mark}, finished_at = {now_sql},"
            f" new_checkpoint_id = {_NEW_HEAD}", [status, ledger_text(outcome), *now_params],
            f"status = 'claimed' AND claimed_by = {self.mark}", [worker_id],
            returning="new_checkpoint_id")
        return (True, rows[0]["new_checkpoint_id"]) if rows else (False, None)

    async def renew_leases(self, worker_id: str, lease_seconds: float) -> int:
        """Extend every claim this worker holds (its heartbeat)."""
        lease_sql, lease_params = self._clock(lease_seconds)
        return await self._execute(
            f"UPDATE hitl_decisions SET lease_until = {lease_sql}"
            f" WHERE status = 'claimed' AND claimed_by = {self.mark}",
            [*lease_params, worker_id])

    async def expired_claims(self) -> list[tuple[LedgerRow, str | None, int | None]]:
        """Claims whose lease ran out, with the host and pid of the worker that held them."""
        now_sql, now_params = self._clock()
        columns = ", ".join(f"d.{c.strip()}" for c in _COLUMNS.split(","))
        rows = await self._fetch(
            f"SELECT {columns}, w.host AS worker_host, w.pid AS worker_pid"
            " FROM hitl_decisions d LEFT JOIN hitl_workers w ON w.worker_id = d.claimed_by"
            f" WHERE d.status = 'claimed' AND d.lease_until < {now_sql} ORDER BY d.id",
            now_params)
        return [(_row(r), r["worker_host"], r["worker_pid"]) for r in rows]

    async def settle_expired(
        self, row: LedgerRow, status: str, outcome: str,
    ) -> tuple[bool, str | None]:
        """Settle a claim whose lease is (still) expired; a renewed lease wins."""
        now_sql, now_params = self._clock()
        now2_sql, now2_params = self._clock()
        m = self.mark
        rows = await self._transition(
            row.id, f"status = {m}, outcome = {m}, finished_at = {now_sql},"
            f" new_checkpoint_id = {_NEW_HEAD}", [status, ledger_text(outcome), *now_params],
            f"status = 'claimed' AND claimed_by = {m} AND lease_until < {now2_sql}",
            [row.claimed_by, *now2_params], returning="new_checkpoint_id")
        return (True, rows[0]["new_checkpoint_id"]) if rows else (False, None)

    async def requeue_expired(self, row: LedgerRow) -> bool:
        """Queue again an expired claim that never started: the graph was not touched."""
        now_sql, now_params = self._clock()
        m = self.mark
        rows = await self._transition(
            row.id, "status = 'queued', claimed_by = NULL, claimed_at = NULL,"
            " lease_until = NULL", [],
            f"status = 'claimed' AND claimed_by = {m} AND started_at IS NULL"
            f" AND lease_until < {now_sql}", [row.claimed_by, *now_params])
        return bool(rows)

    async def register_worker(self, record: WorkerRecord) -> None:
        """Insert (or refresh) this worker's heartbeat row."""
        m = self.mark
        now_sql, now_params = self._clock()
        await self._execute(
            "INSERT INTO hitl_workers (worker_id, host, pid, graphs, concurrency, wake, state,"
            " lease_seconds, started_at, heartbeat_at)"
            f" VALUES ({m}, {m}, {m}, {m}, {m}, {m}, {m}, {m}, {now_sql}, {now_sql})"
            " ON CONFLICT (worker_id) DO UPDATE SET state = excluded.state,"
            " wake = excluded.wake, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL",
            [record.worker_id, record.host, record.pid, ",".join(record.graphs),
             record.concurrency, record.wake, record.state, record.lease_seconds,
             *now_params, *now_params])

    async def worker_heartbeat(
        self, worker_id: str, *, state: str, wake: str, applying: int, applied: int,
        failed: int, released: int, reconciled: int, stopped: bool = False,
    ) -> None:
        """Record that this worker is alive, with its counters."""
        m = self.mark
        now_sql, now_params = self._clock()
        stop_sql, stop_params = (now_sql, now_params) if stopped else ("NULL", [])
        await self._execute(
            f"UPDATE hitl_workers SET heartbeat_at = {now_sql}, state = {m}, wake = {m},"
            f" applying = {m}, applied = {m}, failed = {m}, released = {m}, reconciled = {m},"
            f" stopped_at = {stop_sql} WHERE worker_id = {m}",
            [*now_params, state, wake, applying, applied, failed, released, reconciled,
             *stop_params, worker_id])

    async def prune_workers(self, older_than_seconds: float) -> int:
        """Forget workers silent for longer than this (their rows only feed `workers`)."""
        cutoff_sql, cutoff_params = self._clock(-older_than_seconds)
        return await self._execute(
            f"DELETE FROM hitl_workers WHERE heartbeat_at < {cutoff_sql}", cutoff_params)

    async def _db_now(self) -> datetime:
        if self._now_param() is not None:
            return datetime.now(UTC)
        rows = await self._fetch(f"SELECT {self.now_sql} AS now", ())
        return parse_ts(rows[0]["now"])

    async def latest_by_thread(self, thread_ids: Sequence[str]) -> dict[str, LedgerRow]:
        """The newest decision of each of these threads (for a queued/applied/failed column
        in a queue view; refresh it on `hitl_console_decisions` notifications)."""
        found: dict[str, LedgerRow] = {}
        ids = list(dict.fromkeys(thread_ids))
        for start in range(0, len(ids), 500):
            clause, params = self._in("thread_id", ids[start:start + 500])
            rows = await self._fetch(
                f"SELECT {_COLUMNS} FROM hitl_decisions WHERE id IN (SELECT max(id)"
                f" FROM hitl_decisions WHERE {clause} GROUP BY thread_id)", params)
            found.update((r["thread_id"], _row(r)) for r in rows)
        return found

    async def newest_decision_id(self) -> int:
        """The highest decision id so far (0 for an empty ledger): a watermark for
        `decisions_since`."""
        rows = await self._fetch("SELECT max(id) AS n FROM hitl_decisions", ())
        return int(rows[0]["n"] or 0) if rows else 0

    async def decisions_since(self, ids: Sequence[int], after_id: int) -> list[LedgerRow]:
        """These decisions as they stand now, plus every decision with an id above
        `after_id`, oldest first.

        A console watching decisions settle polls this: the ids are the decisions it
        saw open, `after_id` the newest id it has seen. One statement on the primary key
        (the id list is one parameter, however long), so a poll costs about as much as
        the rows it returns.
        """
        values = sorted({int(i) for i in ids})
        if self._now_param() is None:
            clause = "id = ANY(%s::bigint[])"
            listed: Any = values
        else:
            clause = "id IN (SELECT value FROM json_each(?))"
            listed = json.dumps(values)
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM hitl_decisions WHERE {clause} OR id > {self.mark}"
            " ORDER BY id", [listed, int(after_id)])
        return [_row(r) for r in rows]

    async def notify_installed(self) -> bool:
        """Whether queued decisions notify listeners (Postgres, once the ledger is set up)."""
        if self._now_param() is not None:
            return False
        rows = await self._fetch(
            "SELECT count(*) AS n FROM pg_trigger WHERE tgname = 'hitl_decisions_notify'"
            " AND tgrelid = to_regclass('hitl_decisions')::oid", ())
        return bool(rows and rows[0]["n"])

    async def workers(self) -> list[WorkerRecord]:
        """Every worker row, newest heartbeat first."""
        now = await self._db_now()
        rows = await self._fetch("SELECT * FROM hitl_workers ORDER BY heartbeat_at DESC", ())
        found = []
        for r in rows:
            beat = parse_ts(r["heartbeat_at"])
            found.append(WorkerRecord(
                worker_id=r["worker_id"], host=r["host"], pid=int(r["pid"]),
                graphs=tuple(g for g in str(r["graphs"] or "").split(",") if g),
                concurrency=int(r["concurrency"]), wake=r["wake"], state=r["state"],
                lease_seconds=float(r["lease_seconds"]), started_at=parse_ts(r["started_at"]),
                heartbeat_at=beat,
                stopped_at=parse_ts(r["stopped_at"]) if r["stopped_at"] else None,
                applying=int(r["applying"]), applied=int(r["applied"]), failed=int(r["failed"]),
                released=int(r["released"]), reconciled=int(r["reconciled"]),
                heartbeat_age_seconds=max(0.0, (now - beat).total_seconds())))
        return found

    async def queue_depth(self) -> QueueDepth:
        """What waits for a worker, what is being applied, and what is stuck."""
        now = await self._db_now()
        now_sql, now_params = self._clock()
        day_sql, day_params = self._clock(-86400.0)
        rows = await self._fetch(
            "SELECT status, graph, count(*) AS n, min(created_at) AS oldest,"
            f" sum(CASE WHEN lease_until < {now_sql} THEN 1 ELSE 0 END) AS expired"
            " FROM hitl_decisions WHERE status IN ('queued', 'claimed')"
            " GROUP BY status, graph", now_params)
        failed = await self._fetch(
            "SELECT count(*) AS n FROM hitl_decisions WHERE status = 'failed'"
            f" AND apply_mode = 'worker' AND finished_at >= {day_sql}", day_params)
        queued = {r["graph"] or "?": int(r["n"]) for r in rows if r["status"] == "queued"}
        oldest = [parse_ts(r["oldest"]) for r in rows if r["status"] == "queued"]
        return QueueDepth(
            queued=sum(queued.values()),
            claimed=sum(int(r["n"]) for r in rows if r["status"] == "claimed"),
            expired=sum(int(r["expired"] or 0) for r in rows if r["status"] == "claimed"),
            oldest_queued_seconds=max(0.0, (now - min(oldest)).total_seconds())
            if oldest else None,
            queued_by_graph=queued,
            failed_last_day=int(failed[0]["n"]) if failed else 0,
        )

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
        self._store = store
        self.pool: Any = None  # the store's, taken at first use: it may still be opening

    async def _bind(self) -> None:
        if self.pool is None:
            self.pool = (await self._store.ready()).pool

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        await self._bind()
        async with self.pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return [dict(r) for r in await cur.fetchall()] if cur.description else []

    async def _execute(self, sql: str, params: Sequence[Any]) -> int:
        await self._bind()
        async with self.pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return int(cur.rowcount)

    async def install(self, statements: Sequence[str]) -> None:
        await self._bind()
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
        self._store = store
        # the store's, taken at first use: it may still be opening
        self.conn: Any = None
        self.lock: Any = None

    async def _bind(self) -> None:
        if self.conn is None:
            store = await self._store.ready()
            self.conn, self.lock = store.conn, store.lock

    def _now_param(self) -> Any:
        return datetime.now(UTC).isoformat()

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        await self._bind()
        async with self.lock, self._rollback_on_error():
            async with self.conn.execute(sql, params) as cur:
                names = [d[0] for d in cur.description or ()]
                rows = [dict(zip(names, r, strict=True)) for r in await cur.fetchall()]
            if self.conn.in_transaction:
                await self.conn.commit()
            return rows

    async def _execute(self, sql: str, params: Sequence[Any]) -> int:
        await self._bind()
        async with self.lock, self._rollback_on_error():
            cur = await self.conn.execute(sql, params)
            await self.conn.commit()
            return int(cur.rowcount)

    @contextlib.asynccontextmanager
    async def _rollback_on_error(self) -> AsyncIterator[None]:
        """A failed statement (e.g. `database is locked`) must not leave the implicit
        transaction open: the shared connection would stay stuck on a stale snapshot."""
        try:
            yield
        except BaseException:
            if self.conn.in_transaction:
                with contextlib.suppress(Exception):
                    await self.conn.rollback()
            raise

    async def install(self, statements: Sequence[str]) -> None:
        await self._bind()
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


async def install_ledger(store: CheckpointStore) -> list[str]:
    """Create or upgrade the ledger tables; safe to run any number of times."""
    await ledger_db(store).install(ledger_statements(store.location.backend))
    return [f"decision ledger v{LEDGER_VERSION}"]


def database_error(
    exc: BaseException, location: str, *, doing: str = "record the decision",
) -> ConsoleError:
    """A one-sentence error for a failed ledger operation (`doing`: what it was for)."""
    if isinstance(exc, ConsoleError):
        return exc
    known = database_failure(exc, doing=doing)
    if known is not None:
        return known
    if isinstance(exc, sqlite3.Error) or is_driver_error(exc):
        return DatabaseUnavailable(
            f"The ledger in {location} could not be written: {str(exc).splitlines()[0]}. "
            "Nothing was applied."
        )
    return ConsoleError(str(exc))
