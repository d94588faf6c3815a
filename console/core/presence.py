"""Who else has a thread open: advisory presence between consoles on one database.

Each running console keeps one row in `hitl_presence` (created by `setup`): which thread
it has open, whether it holds a draft decision there, and a heartbeat. A row counts
while its heartbeat is younger than its lease, so a console that exits removes its row
and one that dies drops out within one lease. Presence is advice for people ("alice is
reading this"); it never decides anything: two consoles on one pause are still settled
by the ledger's one-claim index.

On Postgres, `setup` also installs triggers that NOTIFY `PRESENCE_CHANNEL` (payload: the
console id) when a row appears, goes, or changes its thread, checkpoint or draft (not on
a bare heartbeat): a console listening there reads the others again at once, so another
console's open, move, close or draft shows within a second. Polling every heartbeat stays
the fallback (and the only way on SQLite); a lapsed lease writes nothing, so it shows
with the next poll.

Times are epoch seconds (the same in both databases, no time-zone parsing), from the
console's clock: consoles on hosts whose clocks differ by more than a lease can miss
each other, which costs a hint, never a decision.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from console.core.durations import format_age
from console.core.ledger.db import LedgerDB, ledger_db
from console.core.ledger.rows import Origin
from console.core.store.base import CheckpointStore

LEASE_SECONDS = 30.0  # a row without a heartbeat this long is gone
HEARTBEAT_SECONDS = 10.0  # how often a console renews its row (a third of the lease)
FORGET_AFTER_SECONDS = 3600.0  # dead rows are deleted by the next console that beats

PRESENCE_CHANNEL = "hitl_console_presence"

_COLUMNS = ("console_id, reviewer, client_host, thread_id, checkpoint_id, draft, opened_at,"
            " heartbeat_at, lease_seconds")


def presence_statements(backend: str) -> list[str]:
    """The idempotent DDL of the presence table for one backend."""
    flag = "boolean" if backend == "postgres" else "INTEGER"
    real = "double precision" if backend == "postgres" else "REAL"
    return [
        f"""CREATE TABLE IF NOT EXISTS hitl_presence (
            console_id text PRIMARY KEY,
            reviewer text NOT NULL,
            client_host text,
            thread_id text,
            checkpoint_id text,
            draft {flag} NOT NULL DEFAULT {'false' if backend == 'postgres' else '0'},
            opened_at {real} NOT NULL,
            heartbeat_at {real} NOT NULL,
            lease_seconds {real} NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS hitl_presence_thread ON hitl_presence (thread_id)",
        *(_PG_NOTIFY if backend == "postgres" else []),
    ]


# Postgres: NOTIFY when what others see changes (one statement per item: `install`).
_PG_NOTIFY = [
    f"""CREATE OR REPLACE FUNCTION hitl_presence_notify() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            PERFORM pg_notify('{PRESENCE_CHANNEL}', OLD.console_id);
        ELSE
            PERFORM pg_notify('{PRESENCE_CHANNEL}', NEW.console_id);
        END IF;
        RETURN NULL;
    END $$""",
    "DROP TRIGGER IF EXISTS hitl_presence_change ON hitl_presence",
    """CREATE TRIGGER hitl_presence_change AFTER INSERT OR DELETE ON hitl_presence
    FOR EACH ROW EXECUTE FUNCTION hitl_presence_notify()""",
    "DROP TRIGGER IF EXISTS hitl_presence_move ON hitl_presence",
    # a heartbeat alone changes nothing anyone sees: no notification for it
    """CREATE TRIGGER hitl_presence_move AFTER UPDATE ON hitl_presence FOR EACH ROW
    WHEN (OLD.thread_id IS DISTINCT FROM NEW.thread_id
          OR OLD.checkpoint_id IS DISTINCT FROM NEW.checkpoint_id
          OR OLD.draft IS DISTINCT FROM NEW.draft)
    EXECUTE FUNCTION hitl_presence_notify()""",
]


async def install_presence(store: CheckpointStore) -> list[str]:
    """Create the presence table (part of `setup`); safe to run any number of times."""
    await ledger_db(store).install(presence_statements(store.location.backend))
    return ["reviewer presence"]


@dataclass(frozen=True, slots=True)
class Reader:
    """Another console with a thread open."""

    reviewer: str
    client_host: str | None
    thread_id: str
    checkpoint_id: str | None
    draft: bool
    since: float  # epoch seconds: when it opened this thread

    def words(self, now: float | None = None) -> str:
        """`alice is reading this (draft open, 2m)`, for the detail header."""
        age = format_age(max(0.0, (now if now is not None else time.time()) - self.since))
        what = "draft open, " if self.draft else ""
        return f"{self.reviewer} is reading this ({what}{age})"


class PresenceBoard:
    """This console's presence row, and everyone else's."""

    def __init__(self, ledger: LedgerDB, origin: Origin, *,
                 lease_seconds: float = LEASE_SECONDS, console_id: str | None = None) -> None:
        """`ledger`: the decisions' ledger (`Decider.ledger`), whose database holds the
        presence table: the checkpoint database's, or an Agent Server's `--ledger-db`."""
        self._ledger = ledger
        self._origin = origin
        self.lease_seconds = lease_seconds
        self.console_id = console_id or f"{origin.client_host}:{origin.pid}:{uuid.uuid4().hex[:8]}"
        self._open: tuple[str | None, float] = (None, 0.0)  # thread, opened at

    async def beat(self, thread_id: str | None, checkpoint_id: str | None, draft: bool,
                   *, now: float | None = None) -> None:
        """Renew this console's row: the thread it has open now (None: none)."""
        now = time.time() if now is None else now
        if thread_id != self._open[0]:
            self._open = (thread_id, now)
        m = self._ledger.mark
        values = [self.console_id, self._origin.reviewer, self._origin.client_host, thread_id,
                  checkpoint_id, draft, self._open[1], now, self.lease_seconds]
        await self._ledger.execute(
            f"INSERT INTO hitl_presence ({_COLUMNS}) VALUES ({', '.join([m] * len(values))})"
            " ON CONFLICT (console_id) DO UPDATE SET thread_id = excluded.thread_id,"
            " checkpoint_id = excluded.checkpoint_id, draft = excluded.draft,"
            " opened_at = excluded.opened_at, heartbeat_at = excluded.heartbeat_at,"
            " lease_seconds = excluded.lease_seconds", values)
        await self._ledger.execute(
            f"DELETE FROM hitl_presence WHERE heartbeat_at < {m}",
            [now - FORGET_AFTER_SECONDS])

    async def others(self, *, now: float | None = None) -> list[Reader]:
        """The other consoles with a thread open whose lease still runs."""
        now = time.time() if now is None else now
        m = self._ledger.mark
        rows: Sequence[Any] = await self._ledger.fetch(
            "SELECT reviewer, client_host, thread_id, checkpoint_id, draft, opened_at"
            f" FROM hitl_presence WHERE console_id <> {m} AND thread_id IS NOT NULL"
            f" AND heartbeat_at + lease_seconds >= {m} ORDER BY opened_at",
            [self.console_id, now])
        return [Reader(str(r["reviewer"]), r["client_host"], str(r["thread_id"]),
                       r["checkpoint_id"], bool(r["draft"]), float(r["opened_at"]))
                for r in rows]

    async def leave(self) -> None:
        """Remove this console's row (on exit)."""
        m = self._ledger.mark
        await self._ledger.execute(f"DELETE FROM hitl_presence WHERE console_id = {m}",
                                   [self.console_id])
