"""The side-effect table of the gated test nodes: how many times each action really ran.

`tests.graphs` writes one `race_effects` row per run of a gated action, into the
database named by `HITL_TEST_EFFECTS_DB` (the test's Postgres database, or a SQLite file
of its own next to a SQLite checkpointer). Exactly-once tests count those rows.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import psycopg

_DDL = "CREATE TABLE IF NOT EXISTS race_effects (thread_id text, pid int)"


def effects_target(db_url: str, tmp_path: Path) -> str:
    """Where the gated nodes record their runs for a test on `db_url`."""
    return db_url if db_url.startswith("postgresql://") else str(tmp_path / "effects.sqlite")


def prepare_effects(target: str) -> str:
    """Create the table up front: concurrent `CREATE TABLE IF NOT EXISTS` in the gated
    nodes of several workers can fail on Postgres (a catalog unique violation)."""
    if target.startswith("postgresql://"):
        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute(_DDL)
    else:
        with sqlite3.connect(target) as conn:
            conn.execute(_DDL)
    return target


def count_effects(target: str) -> Counter[str]:
    """How many times the gated action ran, per thread."""
    if target.startswith("postgresql://"):
        with psycopg.connect(target) as conn:
            exists = conn.execute("SELECT to_regclass('race_effects')").fetchone()
            if not exists or exists[0] is None:
                return Counter()
            rows = conn.execute("SELECT thread_id FROM race_effects").fetchall()
    else:
        if not Path(target).exists():
            return Counter()
        with sqlite3.connect(target) as conn:
            try:
                rows = conn.execute("SELECT thread_id FROM race_effects").fetchall()
            except sqlite3.OperationalError:
                return Counter()
    return Counter(r[0] for r in rows)
