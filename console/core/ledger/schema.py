"""The decision ledger's tables, versioned, for Postgres and SQLite.

`hitl_decisions` holds one row per decision. The partial unique index
`hitl_decisions_one_claim_v2` is what makes a pause answerable at most once across any
number of processes and hosts: a second claim on the same pause fails inside the
database, whatever the clients do. A pause is (thread, ns, checkpoint, pause_key), where
pause_key lists the pending interrupt ids: a node that rejects an answer and asks again
stays at the same checkpoint with a new interrupt id, and that is a new pause.
"""

from __future__ import annotations

from console.core.ledger.rows import CLAIMING_STATUSES

LEDGER_VERSION = 3

# Worker mode (console/core/worker.py): a queued decision is claimed by one worker with a
# lease it renews by heartbeat; `started_at` is committed just before the graph is resumed,
# so a claim that expired without it provably never touched the graph.
WORKER_COLUMNS = (
    ("graph", "text"), ("claimed_by", "text"), ("claimed_at", "timestamptz"),
    ("lease_until", "timestamptz"), ("started_at", "timestamptz"),
    ("attempts", "integer NOT NULL DEFAULT 0"),
)
DECISIONS_CHANNEL = "hitl_console_decisions"

# v2: `stalled` holds its pause too. The index is named by version, so that `setup` on an
# older ledger builds the new one and drops the old (CREATE ... IF NOT EXISTS alone would
# keep the old predicate).
_CLAIMING_SQL = ", ".join(f"'{s}'" for s in CLAIMING_STATUSES)
_ONE_CLAIM = [
    f"""CREATE UNIQUE INDEX IF NOT EXISTS hitl_decisions_one_claim_v2
        ON hitl_decisions (thread_id, checkpoint_ns, checkpoint_id, pause_key)
        WHERE status IN ({_CLAIMING_SQL})""",
    "DROP INDEX IF EXISTS hitl_decisions_one_claim",
]
# Postgres (v3): a pause with many questions has a long `pause_key` (~33 bytes an
# interrupt), and a B-tree entry holds at most ~2.7 kB: the index keys its digest.
_PG_ONE_CLAIM = [
    f"""CREATE UNIQUE INDEX IF NOT EXISTS hitl_decisions_one_claim_v3
        ON hitl_decisions (thread_id, checkpoint_ns, checkpoint_id, md5(pause_key))
        WHERE status IN ({_CLAIMING_SQL})""",
    "DROP INDEX IF EXISTS hitl_decisions_one_claim_v2",
    "DROP INDEX IF EXISTS hitl_decisions_one_claim",
]
# The same for four-eyes approvals (whose primary key held the whole `pause_key`).
_PG_APPROVALS_KEY = [
    """CREATE UNIQUE INDEX IF NOT EXISTS hitl_approvals_one_each
        ON hitl_approvals (thread_id, checkpoint_ns, checkpoint_id, md5(pause_key), reviewer)""",
    "ALTER TABLE hitl_approvals DROP CONSTRAINT IF EXISTS hitl_approvals_pkey",
]
_STALLED_INDEX = """CREATE INDEX IF NOT EXISTS hitl_decisions_stalled ON hitl_decisions (thread_id)
        WHERE status = 'stalled'"""

_PG_WORKER = [
    # ledgers created before these columns existed (the SQLite DDL has them inline only)
    *(f"ALTER TABLE hitl_decisions ADD COLUMN IF NOT EXISTS {name} {kind}"
      for name, kind in WORKER_COLUMNS),
    """CREATE INDEX IF NOT EXISTS hitl_decisions_queue ON hitl_decisions (id)
        WHERE status = 'queued'""",
    """CREATE INDEX IF NOT EXISTS hitl_decisions_leases ON hitl_decisions (lease_until)
        WHERE status = 'claimed'""",
    """CREATE TABLE IF NOT EXISTS hitl_workers (
        worker_id text PRIMARY KEY,
        host text NOT NULL,
        pid integer NOT NULL,
        graphs text NOT NULL DEFAULT '',
        concurrency integer NOT NULL DEFAULT 1,
        wake text NOT NULL DEFAULT 'poll',
        state text NOT NULL DEFAULT 'running',
        lease_seconds double precision NOT NULL DEFAULT 60,
        started_at timestamptz NOT NULL DEFAULT now(),
        heartbeat_at timestamptz NOT NULL DEFAULT now(),
        stopped_at timestamptz,
        applying integer NOT NULL DEFAULT 0,
        applied integer NOT NULL DEFAULT 0,
        failed integer NOT NULL DEFAULT 0,
        released integer NOT NULL DEFAULT 0,
        reconciled integer NOT NULL DEFAULT 0)""",
    # One notification per decision that becomes queued (wakes idle workers) or settles
    # (lets a console refresh the thread); payload "status id thread_id".
    f"""CREATE OR REPLACE FUNCTION hitl_notify_decision() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{DECISIONS_CHANNEL}',
                              NEW.status || ' ' || NEW.id || ' ' || left(NEW.thread_id, 7000));
            RETURN NULL;
        END $$""",
    "DROP TRIGGER IF EXISTS hitl_decisions_notify ON hitl_decisions",
    """CREATE TRIGGER hitl_decisions_notify
        AFTER INSERT OR UPDATE OF status ON hitl_decisions
        FOR EACH ROW WHEN (NEW.status IN ('queued', 'applied', 'failed', 'stalled'))
        EXECUTE FUNCTION hitl_notify_decision()""",
]

_SQLITE_WORKER = [
    """CREATE INDEX IF NOT EXISTS hitl_decisions_queue ON hitl_decisions (id)
        WHERE status = 'queued'""",
    """CREATE INDEX IF NOT EXISTS hitl_decisions_leases ON hitl_decisions (lease_until)
        WHERE status = 'claimed'""",
    """CREATE TABLE IF NOT EXISTS hitl_workers (
        worker_id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        graphs TEXT NOT NULL DEFAULT '',
        concurrency INTEGER NOT NULL DEFAULT 1,
        wake TEXT NOT NULL DEFAULT 'poll',
        state TEXT NOT NULL DEFAULT 'running',
        lease_seconds REAL NOT NULL DEFAULT 60,
        started_at TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL,
        stopped_at TEXT,
        applying INTEGER NOT NULL DEFAULT 0,
        applied INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        released INTEGER NOT NULL DEFAULT 0,
        reconciled INTEGER NOT NULL DEFAULT 0)""",
]


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
        outcome text,
        graph text,
        claimed_by text,
        claimed_at timestamptz,
        lease_until timestamptz,
        started_at timestamptz,
        attempts integer NOT NULL DEFAULT 0)""",
    *_PG_ONE_CLAIM,
    """CREATE INDEX IF NOT EXISTS hitl_decisions_thread ON hitl_decisions (thread_id, id)""",
    _STALLED_INDEX,
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
    """CREATE TABLE IF NOT EXISTS hitl_approvals (
        thread_id text NOT NULL,
        checkpoint_ns text NOT NULL DEFAULT '',
        checkpoint_id text NOT NULL,
        pause_key text NOT NULL DEFAULT '',
        reviewer text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        client_host text,
        ssh_origin text)""",
    *_PG_APPROVALS_KEY,
    *_PG_WORKER,
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
        outcome TEXT,
        graph TEXT,
        claimed_by TEXT,
        claimed_at TEXT,
        lease_until TEXT,
        started_at TEXT,
        attempts INTEGER NOT NULL DEFAULT 0)""",
    *_ONE_CLAIM,
    """CREATE INDEX IF NOT EXISTS hitl_decisions_thread ON hitl_decisions (thread_id, id)""",
    _STALLED_INDEX,
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
    """CREATE TABLE IF NOT EXISTS hitl_approvals (
        thread_id TEXT NOT NULL,
        checkpoint_ns TEXT NOT NULL DEFAULT '',
        checkpoint_id TEXT NOT NULL,
        pause_key TEXT NOT NULL DEFAULT '',
        reviewer TEXT NOT NULL,
        created_at TEXT NOT NULL,
        client_host TEXT,
        ssh_origin TEXT,
        PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, pause_key, reviewer))""",
    *_SQLITE_WORKER,
    f"""INSERT INTO hitl_schema_version (component, version) VALUES ('ledger', {LEDGER_VERSION})
        ON CONFLICT (component) DO UPDATE SET version = excluded.version""",
]


def ledger_statements(backend: str) -> list[str]:
    """The idempotent DDL for one backend, in order."""
    return _PG if backend == "postgres" else _SQLITE

