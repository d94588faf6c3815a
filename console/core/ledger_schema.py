"""The decision ledger's tables, versioned, for Postgres and SQLite.

`hitl_decisions` holds one row per decision. The partial unique index
`hitl_decisions_one_claim` is what makes a pause answerable at most once across any
number of processes and hosts: a second claim on the same pause fails inside the
database, whatever the clients do. A pause is (thread, ns, checkpoint, pause_key), where
pause_key lists the pending interrupt ids: a node that rejects an answer and asks again
stays at the same checkpoint with a new interrupt id, and that is a new pause.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.core.store.base import CheckpointStore

LEDGER_VERSION = 1

# Statuses that hold a pause: a decision in one of them blocks every other on that pause.
CLAIMING_STATUSES = ("in_flight", "applied", "queued", "claimed")

_PG = [
    """CREATE TABLE IF NOT EXISTS hitl_schema_version (
        component text PRIMARY KEY, version integer NOT NULL,
        installed_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS hitl_decisions (
        id bigserial PRIMARY KEY,
        thread_id text NOT NULL,
        checkpoint_ns text NOT NULL DEFAULT '',
        checkpoint_id text NOT NULL,
        pause_key text NOT NULL DEFAULT '',
        decision text NOT NULL,
        status text NOT NULL,
        reviewer text NOT NULL,
        reason text,
        edits jsonb,
        resume jsonb,
        idempotency_key text UNIQUE,
        client_host text,
        ssh_origin text,
        client_pid integer,
        apply_mode text NOT NULL DEFAULT 'inline',
        created_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        new_checkpoint_id text,
        outcome text)""",
    f"""CREATE UNIQUE INDEX IF NOT EXISTS hitl_decisions_one_claim
        ON hitl_decisions (thread_id, checkpoint_ns, checkpoint_id, pause_key)
        WHERE status IN ({", ".join(f"'{s}'" for s in CLAIMING_STATUSES)})""",
    """CREATE INDEX IF NOT EXISTS hitl_decisions_thread ON hitl_decisions (thread_id, id)""",
    """CREATE INDEX IF NOT EXISTS hitl_decisions_open ON hitl_decisions (status, created_at)
        WHERE status IN ('in_flight', 'queued', 'claimed')""",
    """CREATE TABLE IF NOT EXISTS hitl_events (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        reviewer text NOT NULL,
        action text NOT NULL,
        thread_id text,
        checkpoint_id text,
        detail text,
        client_host text,
        ssh_origin text)""",
    f"""INSERT INTO hitl_schema_version (component, version) VALUES ('ledger', {LEDGER_VERSION})
        ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version""",
]

_SQLITE = [
    """CREATE TABLE IF NOT EXISTS hitl_schema_version (
        component TEXT PRIMARY KEY, version INTEGER NOT NULL,
        installed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))""",
    """CREATE TABLE IF NOT EXISTS hitl_decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        thread_id TEXT NOT NULL,
        checkpoint_ns TEXT NOT NULL DEFAULT '',
        checkpoint_id TEXT NOT NULL,
        pause_key TEXT NOT NULL DEFAULT '',
        decision TEXT NOT NULL,
        status TEXT NOT NULL,
        reviewer TEXT NOT NULL,
        reason TEXT,
        edits TEXT,
        resume TEXT,
        idempotency_key TEXT UNIQUE,
        client_host TEXT,
        ssh_origin TEXT,
        client_pid INTEGER,
        apply_mode TEXT NOT NULL DEFAULT 'inline',
        created_at TEXT NOT NULL,
        finished_at TEXT,
        new_checkpoint_id TEXT,
        outcome TEXT)""",
    f"""CREATE UNIQUE INDEX IF NOT EXISTS hitl_decisions_one_claim
        ON hitl_decisions (thread_id, checkpoint_ns, checkpoint_id, pause_key)
        WHERE status IN ({", ".join(f"'{s}'" for s in CLAIMING_STATUSES)})""",
    """CREATE INDEX IF NOT EXISTS hitl_decisions_thread ON hitl_decisions (thread_id, id)""",
    """CREATE TABLE IF NOT EXISTS hitl_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        reviewer TEXT NOT NULL,
        action TEXT NOT NULL,
        thread_id TEXT,
        checkpoint_id TEXT,
        detail TEXT,
        client_host TEXT,
        ssh_origin TEXT)""",
    f"""INSERT INTO hitl_schema_version (component, version) VALUES ('ledger', {LEDGER_VERSION})
        ON CONFLICT (component) DO UPDATE SET version = excluded.version""",
]


def ledger_statements(backend: str) -> list[str]:
    """The idempotent DDL for one backend, in order."""
    return _PG if backend == "postgres" else _SQLITE


async def install_ledger(store: CheckpointStore) -> list[str]:
    """Create or upgrade the ledger tables; safe to run any number of times."""
    from console.core.store.ledger_sql import ledger_db

    await ledger_db(store).install(ledger_statements(store.location.backend))
    return [f"decision ledger v{LEDGER_VERSION}"]
