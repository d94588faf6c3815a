"""Policy through the CLI: rights per gate, read-only reviewers, four-eyes, N-of-M approvals,
and a database role that may only read."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from console.core.models import Convention, PauseKind, PendingThread
from console.core.policy import Policy
from tests import graphs
from tests.effects import count_effects, effects_target
from tests.seeding import seed_paused

ROOT = Path(__file__).resolve().parents[2]
POLICY = """
[policy]
read_only = ["intern"]
four_eyes = true
requester_key = "requested_by"

[policy.groups]
payments = ["alice", "bob"]

[[policy.rules]]
graph = "race"
approve = ["@payments", "carol"]
reject = ["*"]
approvals = 2
"""


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env or os.environ.copy(), timeout=120)


@pytest.fixture
def policy_file(tmp_path: Path) -> str:
    path = tmp_path / "config.toml"
    path.write_text(POLICY)
    return str(path)


def _pause(graph: str = "race", requester: str | None = None) -> PendingThread:
    from datetime import UTC, datetime

    return PendingThread("t", "", "c", graph, ("gate",), PauseKind.INTERRUPT, Convention.RAW,
                         (), datetime.now(UTC), "", metadata={"requested_by": requester})


def test_policy_rules() -> None:
    import tomllib

    policy = Policy.from_config(tomllib.loads(POLICY))
    assert not policy.check("intern", _pause(), "reject").allowed
    assert not policy.check("dave", _pause(), "approve").allowed
    assert policy.check("dave", _pause(), "reject").allowed
    assert policy.check("alice", _pause(), "approve").approvals_needed == 2
    assert policy.check("carol", _pause(), "edit").allowed  # edit defaults to the approvers
    assert not policy.check("dave", _pause(), "edit").allowed
    assert not policy.check("bob", _pause(requester="bob"), "approve").allowed
    assert policy.check("bob", _pause(requester="alice"), "approve").allowed
    assert policy.check("dave", _pause(graph="other"), "approve").allowed  # no rule: anyone
    with pytest.raises(Exception, match="unknown group"):
        Policy.from_config({"policy": {"rules": [{"approve": ["@nobody"]}]}})


async def test_policy_refusals_exit_5_and_are_audited(db_url: str, policy_file: str) -> None:
    await seed_paused(db_url, "race", 2)
    base = ["--db", db_url, "--graph", graphs.spec("race"), "--config", policy_file]
    intern = cli("reject", "race-000", "--reason", "x", "--reviewer", "intern", *base)
    assert intern.returncode == 5 and "read-only" in intern.stderr
    dave = cli("approve", "race-000", "--reviewer", "dave", *base)
    assert dave.returncode == 5 and "may not approve" in dave.stderr
    assert "Traceback" not in dave.stderr
    audit = cli("audit", "--json", *base)
    assert audit.stdout.strip() == ""  # refusals write no decision
    # N-of-M: the first approval is recorded, the second distinct one runs the resume
    env = {**os.environ, graphs.EFFECTS_ENV: effects_target(db_url, Path(policy_file).parent)}
    first = cli("approve", "race-000", "--reviewer", "alice", "--json", *base, env=env)
    assert first.returncode == 0 and json.loads(first.stdout)["status"] == "approval_recorded"
    again = cli("approve", "race-000", "--reviewer", "alice", "--json", *base)
    assert json.loads(again.stdout)["status"] == "approval_recorded"  # same reviewer: still 1
    second = cli("approve", "race-000", "--reviewer", "carol", "--json", *base, env=env)
    assert second.returncode == 0 and json.loads(second.stdout)["status"] == "applied"
    assert count_effects(env[graphs.EFFECTS_ENV])["race-000"] == 1
    # a single rejection is final, whatever `approvals` says
    reject = cli("reject", "race-001", "--reason", "no", "--reviewer", "dave", *base, env=env)
    assert reject.returncode == 0, reject.stderr


def _approve(url: str, reviewer: str, policy: str, barrier: object, out: object) -> None:
    import contextlib
    import io

    from console.cli import main

    barrier.wait()  # type: ignore[attr-defined]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(["approve", "race-000", "--db", url, "--graph", graphs.spec("race"),
                     "--config", policy, "--reviewer", reviewer])
    out.put((reviewer, code))  # type: ignore[attr-defined]


@pytest.mark.slow
async def test_two_of_m_approvals_race_runs_once(
    db_url: str, policy_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    effects = effects_target(db_url, tmp_path)
    monkeypatch.setenv(graphs.EFFECTS_ENV, effects)
    await seed_paused(db_url, "race", 1)
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_approve, args=(db_url, r, policy_file, barrier, out))
             for r in ("alice", "bob", "carol")]
    for proc in procs:
        proc.start()
    codes = dict(out.get(timeout=120) for _ in procs)
    for proc in procs:
        proc.join(timeout=30)
    # Three distinct approvers at once with approvals = 2: the resume runs exactly once;
    # the others either only recorded their approval (0) or lost the claim (3).
    assert count_effects(effects)["race-000"] == 1
    assert sorted(codes.values()) in ([0, 0, 0], [0, 0, 3], [0, 3, 3])
    audit = [json.loads(line) for line in cli(
        "audit", "--json", "--db", db_url).stdout.splitlines()]
    assert [r["status"] for r in audit] == ["applied"]


def _role_url(url: str, role: str) -> str:
    parts = urlsplit(url)
    netloc = f"{role}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc))


async def test_read_only_database_role(pg_url: str) -> None:
    await seed_paused(pg_url, "race", 1)
    setup = cli("setup", "--db", pg_url)
    assert setup.returncode == 0, setup.stderr
    role = f"hitl_ro_{uuid.uuid4().hex[:8]}"
    schema = urlsplit(pg_url).query.split("search_path%3D")[-1]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {role}')
        before = conn.execute("SELECT count(*) FROM hitl_decisions").fetchone()
    try:
        url = _role_url(pg_url, role)
        listed = cli("pending", "--db", url, "--json")
        assert listed.returncode == 0, listed.stderr
        assert [r["thread_id"] for r in json.loads(listed.stdout)] == ["race-000"]
        assert cli("show", "race-000", "--db", url).returncode == 0
        approve = cli("approve", "race-000", "--db", url, "--graph", graphs.spec("race"))
        assert approve.returncode in (1, 5)
        assert "may not record the decision" in approve.stderr
        assert "nothing was written" in approve.stderr
        assert "Traceback" not in approve.stderr
        with psycopg.connect(pg_url) as conn:
            after = conn.execute("SELECT count(*) FROM hitl_decisions").fetchone()
        assert after == before
        assert cli("pending", "--db", url, "--json").stdout == listed.stdout
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM {role}')
            conn.execute(f'REVOKE USAGE ON SCHEMA "{schema}" FROM {role}')
            conn.execute(f"DROP ROLE {role}")


async def test_reveal_only_where_policy_allows_and_always_audited(
    db_url: str, tmp_path: Path
) -> None:
    from console.core.dburl import parse_db_url
    from console.core.store import open_store
    from console.demo.seed import seed_demo

    store = await open_store(parse_db_url(db_url), create=True)
    try:
        await seed_demo(store.saver, 3)
    finally:
        await store.close()
    allowed = tmp_path / "reveal.toml"
    allowed.write_text('[policy]\nreveal = ["sec"]\n')
    shown = cli("show", "hitl_agent-0002", "--db", db_url, "--json")
    assert "«redacted:" in json.loads(shown.stdout)["values"]["user"]["account"]["api_key"]
    refused = cli("show", "hitl_agent-0002", "--db", db_url, "--reveal", "user.account.api_key",
                  "--reviewer", "eve", "--config", str(allowed))
    assert refused.returncode == 5 and "recorded" in refused.stderr
    revealed = cli("show", "hitl_agent-0002", "--db", db_url, "--reveal", "user.account.api_key",
                   "--reviewer", "sec", "--config", str(allowed), "--json")
    assert revealed.returncode == 0 and json.loads(revealed.stdout).startswith("sk-")
    from console.core.ledger.db import ledger_db

    store = await open_store(parse_db_url(db_url))
    try:
        events = await ledger_db(store).events(thread_id="hitl_agent-0002")
    finally:
        await store.close()
    assert [(e["reviewer"], e["action"]) for e in events] == [
        ("eve", "reveal_refused"), ("sec", "reveal")]
