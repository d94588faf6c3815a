"""Least rights: each command works with exactly the grants README's "Database roles"
lists for it, and one grant short it fails with one sentence, the right exit code, no
traceback and nothing written. Real roles on the real server (created in this module's
own schema, dropped after); a real server stopped mid-apply (a throwaway cluster)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest

from console.cli import main
from tests import graphs
from tests.seeding import seed_paused

pytestmark = pytest.mark.pg
ROOT = Path(__file__).resolve().parents[2]

READ = "SELECT ON checkpoints, checkpoint_blobs, checkpoint_writes, hitl_thread_status"
# README, "Database roles": what each kind of role is granted (beyond USAGE on the schema).
GRANTS: dict[str, list[str]] = {
    "none": [],
    "reader": [READ],
    "auditor": [READ, "SELECT ON hitl_decisions, hitl_events"],
    "reconciler": [READ, "SELECT, UPDATE ON hitl_decisions"],
    "revealer": [READ, "INSERT ON hitl_events", "USAGE ON SEQUENCE hitl_events_id_seq"],
    "watcher": ["SELECT ON hitl_workers, hitl_decisions"],
    "decider": [
        READ, "SELECT, INSERT, UPDATE ON hitl_decisions", "SELECT, INSERT ON hitl_approvals",
        "INSERT ON hitl_events", "USAGE ON SEQUENCE hitl_decisions_id_seq, hitl_events_id_seq",
        "INSERT, UPDATE ON checkpoints, checkpoint_blobs, checkpoint_writes",
        "INSERT, UPDATE, DELETE ON hitl_thread_status",
    ],
}
_SENTENCE_BREAK = re.compile(r"[.!?]\s+[A-Z]")


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def cli(*argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return Run(code, out.getvalue(), err.getvalue())


def assert_one_sentence(run: Run, code: int, *words: str) -> str:
    """Exit `code`, and stderr is one line, one sentence, with no traceback."""
    assert run.code == code, run
    message = run.err.strip()
    assert "Traceback" not in run.err and "\n" not in message, run.err
    assert message.startswith("hitl-console: ") and message.endswith("."), message
    assert not _SENTENCE_BREAK.search(message.removeprefix("hitl-console: ")), message
    for word in words:
        assert word in message, message
    return message


@dataclass(frozen=True)
class Database:
    owner_url: str
    roles: dict[str, str]  # kind -> URL

    def count(self, table: str) -> int:
        with psycopg.connect(self.owner_url) as conn:
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])


@pytest.fixture(scope="module")
def db(pg_database: str) -> Iterator[Database]:
    schema = f"rights_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    owner_url = f"{pg_database}?options={quote(f'-csearch_path={schema}')}"
    import asyncio

    asyncio.run(seed_paused(owner_url, "race", 4))
    assert cli("setup", "--db", owner_url).code == 0
    suffix = uuid.uuid4().hex[:6]
    roles: dict[str, str] = {}
    with psycopg.connect(owner_url, autocommit=True) as conn:
        for kind, grants in GRANTS.items():
            role = f"hitl_{kind}_{suffix}"
            conn.execute(f"CREATE ROLE {role} LOGIN")
            conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
            for grant in grants:
                what, _, on = grant.partition(" ON ")
                conn.execute(f"GRANT {what} ON {on} TO {role}")
            parts = urlsplit(owner_url)
            roles[kind] = urlunsplit(parts._replace(
                netloc=f"{role}@{parts.hostname}:{parts.port or 5432}"))
    try:
        yield Database(owner_url, roles)
    finally:
        with psycopg.connect(owner_url, autocommit=True) as conn:
            for url in roles.values():
                role = urlsplit(url).username
                conn.execute(f"DROP OWNED BY {role}")
                conn.execute(f"DROP ROLE {role}")


def test_a_reader_lists_and_shows_and_is_refused_everything_else_in_one_sentence(
    db: Database,
) -> None:
    url = db.roles["reader"]
    listed = cli("pending", "--db", url, "--json")
    assert listed.code == 0, listed.err
    assert len(json.loads(listed.out)) == 4
    assert cli("show", "race-000", "--db", url).code == 0
    decisions, events = db.count("hitl_decisions"), db.count("hitl_events")
    assert_one_sentence(cli("audit", "--db", url), 1, "may not read the decision ledger",
                        "hitl_decisions", "setup --help")
    assert_one_sentence(cli("reconcile", "--db", url), 1, "may not settle")
    assert_one_sentence(cli("show", "race-000", "--db", url, "--reveal", "topic"), 1,
                        "audit row", "hitl_events", "nothing was revealed")
    assert_one_sentence(cli("approve", "race-000", "--db", url, "--graph",
                            graphs.spec("race")), 1, "may not record the decision",
                        "nothing was written")
    assert_one_sentence(cli("setup", "--db", url), 1, "Only the owner",
                        "nothing was changed")
    assert_one_sentence(cli("workers", "--db", url), 1, "may not read the workers table")
    assert (db.count("hitl_decisions"), db.count("hitl_events")) == (decisions, events)


def test_a_role_without_rights_is_told_so_not_that_its_rows_are_corrupt(db: Database) -> None:
    url = db.roles["none"]
    message = assert_one_sentence(cli("show", "race-000", "--db", url), 1,
                                  "may not read this thread", "permission denied")
    assert "corrupt" not in message and "--serde" not in message
    assert_one_sentence(cli("pending", "--db", url), 1, "may not read the queue")


def test_audit_reconcile_and_reveal_need_exactly_their_grants(db: Database) -> None:
    assert cli("audit", "--db", db.roles["auditor"]).code == 0
    assert cli("workers", "--db", db.roles["watcher"]).code == 0
    # An abandoned in-flight row (its process gone): reconcile must write to settle it.
    with psycopg.connect(db.owner_url, autocommit=True) as conn:
        head = conn.execute("SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id ="
                            " 'race-003'").fetchone()
        assert head is not None
        conn.execute(
            "INSERT INTO hitl_decisions (thread_id, checkpoint_ns, checkpoint_id, pause_key,"
            " decision, status, reviewer, client_host, client_pid, apply_mode) VALUES"
            " ('race-003', '', %s, 'k', 'approve', 'in_flight', 'x', %s, 999999999,"
            " 'inline')", (head[0], socket.gethostname()))
    assert_one_sentence(cli("reconcile", "--db", db.roles["auditor"]), 1, "may not settle",
                        "hitl_decisions")
    assert db.count("hitl_decisions WHERE status = 'in_flight'") == 1
    settled = cli("reconcile", "--db", db.roles["reconciler"])
    assert settled.code == 0 and "1 in-flight decision(s) settled" in settled.out
    revealed = cli("show", "race-001", "--db", db.roles["revealer"], "--reveal", "topic",
                   "--reviewer", "sec", "--config", str(_reveal_config()))
    assert revealed.code == 0 and "race-001" in revealed.out, revealed.err


def _reveal_config() -> Path:
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"hitl-reveal-{os.getpid()}.toml"
    path.write_text('[policy]\nreveal = ["sec"]\n')
    return path


def test_a_deciding_role_applies_inline(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(graphs.EFFECTS_ENV, str(tmp_path / "effects.sqlite"))
    approved = cli("approve", "race-002", "--db", db.roles["decider"], "--graph",
                   graphs.spec("race"), "--reason", "least rights")
    assert approved.code == 0, approved.err
    with psycopg.connect(db.owner_url) as conn:
        row = conn.execute("SELECT status FROM hitl_decisions WHERE thread_id = 'race-002'"
                           " ORDER BY id DESC").fetchone()
    assert row == ("applied",)


def test_the_server_stopping_mid_apply_is_one_sentence_and_reconcile_settles_it(
    throwaway_pg: Any, tmp_path: Path,
) -> None:
    """The gated node's predecessor stops the server (a throwaway cluster): the resume
    cannot be recorded, the CLI says so in one sentence within the pool's timeout, the
    row stays in flight (it cannot be written), and `reconcile` settles it once the
    server is back, so nothing blocks the thread; the gated action never ran."""
    import asyncio

    url = throwaway_pg.url()
    asyncio.run(seed_paused(url, "halt", 1))
    assert cli("setup", "--db", url).code == 0
    env = {**os.environ, graphs.HALT_ENV: json.dumps(throwaway_pg.stop_command()),
           graphs.EFFECTS_ENV: str(tmp_path / "effects.sqlite"),
           "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    approve = subprocess.run(
        [sys.executable, "-m", "console", "approve", "halt-000", "--db", url, "--graph",
         graphs.spec("halt")], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    took = time.monotonic() - started
    message = assert_one_sentence(Run(approve.returncode, approve.stdout, approve.stderr), 1,
                                  "stopped answering", "in flight", "hitl-console reconcile")
    assert took < 20, f"{took:.0f} s to say so"
    throwaway_pg.start()
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT status FROM hitl_decisions").fetchall()
    assert rows == [("in_flight",)], message
    settled = cli("reconcile", "--db", url)
    assert settled.code == 0 and "1 in-flight decision(s) settled" in settled.out
    assert not (tmp_path / "effects.sqlite").exists()  # the gated action never ran
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT status FROM hitl_decisions").fetchall()
    assert rows != [("in_flight",)]  # what it says happened is reconcile's to tell
