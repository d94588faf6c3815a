"""Worker mode: a console without the graphs records decisions; workers apply them once.

The console side runs in subprocesses that refuse to import the graph module (and assert
that it never was); workers are real processes, killed with SIGKILL mid-run.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from console.core.dburl import parse_db_url
from console.core.graphs import GraphInfo, GraphRegistry
from console.core.ledger.apply import Decider, current_origin
from console.core.ledger.db import install_ledger, ledger_db
from console.core.ledger.decisions import DecisionInput
from console.core.ledger.rows import DecisionType, LedgerRow
from console.core.store import CheckpointStore, open_store
from console.core.worker import (
    Worker,
    WorkerOptions,
    apply_pending_decisions,
    plan_from_ledger,
)
from tests import graphs
from tests.effects import count_effects, effects_target, prepare_effects
from tests.graph_guard import BLOCK_GRAPHS
from tests.processes import stop_workers
from tests.seeding import seed_paused

ROOT = Path(__file__).resolve().parents[2]
APPROVE = DecisionInput(DecisionType.APPROVE)

# The console process may not import the graph module at all (tests.graph_guard).
CONSOLE_DECIDES = BLOCK_GRAPHS + r'''
import asyncio, json
from console.core.ledger.apply import Decider, current_origin
from console.core.ledger.decisions import DecisionInput
from console.core.dburl import parse_db_url
from console.core.ledger.rows import DecisionType
from console.core.store import open_store

async def main(url, wanted):
    store = await open_store(parse_db_url(url), grace_seconds=0)
    statuses = {}
    try:
        assert not store.registry, "the console must run without graphs"
        decider = Decider(store, current_origin("console"), worker_mode=True)
        # SQLite: one at a time. The store's reads do not take the saver's lock, so on the
        # shared connection a read can pin a stale WAL snapshot under a concurrent claim,
        # which then fails at once with "database is locked" while workers commit.
        gate = asyncio.Semaphore(6 if url.startswith("postgresql") else 1)

        async def decide(pause):
            async with gate:
                outcome = await decider.decide(
                    pause.thread_id, DecisionInput(DecisionType.APPROVE),
                    expect=pause.checkpoint_id)
            statuses[outcome.status] = statuses.get(outcome.status, 0) + 1

        await asyncio.gather(*(decide(p) for p in await store.pending()
                               if not wanted or p.thread_id in wanted))
    finally:
        await store.close()
    print(json.dumps({"statuses": statuses, "graph_modules": graph_modules()}))

asyncio.run(main(sys.argv[1], set(sys.argv[2:])))
'''

CONSOLE_CLI = BLOCK_GRAPHS + r'''
import contextlib, io, json
from console.cli import main

def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return {"argv": list(argv), "code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}

url, first, second = sys.argv[1:4]
results = [
    run("pending", "--db", url, "--json"),
    run("show", first, "--db", url, "--json"),
    run("approve", first, "--db", url, "--worker-mode", "--json"),
    run("approve", first, "--db", url, "--worker-mode"),
    run("reject", "--all", "--reason", "not today", "--yes", "--db", url, "--worker-mode"),
    run("audit", "--db", url, "--json"),
    run("workers", "--db", url, "--json"),
]
print(json.dumps({"results": results, "graph_modules": graph_modules()}))
'''


# ------------------------------------------------------------------------- helpers


def _ledger(db_url: str) -> list[dict[str, Any]]:
    """Every ledger row, read directly from the database."""
    sql = ("SELECT id, thread_id, checkpoint_id, status, outcome, claimed_by, started_at,"
           " attempts, graph, apply_mode FROM hitl_decisions ORDER BY id")
    if db_url.startswith("postgresql://"):
        with psycopg.connect(db_url) as conn:
            cur = conn.execute(sql)
            names = [d.name for d in cur.description or ()]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    with sqlite3.connect(parse_db_url(db_url).target) as conn:
        cur = conn.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _events(db_url: str, action: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT count(*) FROM hitl_events WHERE action = %s",
                           (action,)).fetchone()
    return int(row[0]) if row else 0


def _env(effects: str, **extra: str) -> dict[str, str]:
    return {**os.environ, graphs.EFFECTS_ENV: effects, "PYTHONPATH": str(ROOT), **extra}


def _console(script: str, *args: str, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["graph_modules"] == [], "the console imported the graph module"
    return result


def _worker(db_url: str, env: dict[str, str], *extra: str,
            graph: str = "race") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "console", "worker", "--db", db_url, "--graph",
         graphs.spec(graph), "--quiet", *extra],
        cwd=ROOT, env=env, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(predicate: Callable[[], bool], timeout: float = 120.0,
              what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached in {timeout:.0f}s")


def _claim_holders(db_url: str) -> set[int]:
    """Pids of the workers holding claims now (worker ids are host:pid:random)."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT claimed_by FROM hitl_decisions WHERE status = 'claimed'"
                            ).fetchall()
    return {int(r[0].split(":")[-2]) for r in rows if r[0] and r[0].count(":") >= 2}


def _running_workers(db_url: str) -> int:
    sql = "SELECT count(*) FROM hitl_workers WHERE state = 'running'"
    try:
        if db_url.startswith("postgresql://"):
            with psycopg.connect(db_url) as conn:
                row = conn.execute(sql).fetchone()
        else:
            with sqlite3.connect(parse_db_url(db_url).target) as conn:
                row = conn.execute(sql).fetchone()
    except (psycopg.Error, sqlite3.Error):
        return 0  # not installed yet
    return int(row[0]) if row else 0


def _open_rows(db_url: str) -> int:
    return sum(1 for r in _ledger(db_url) if r["status"] in ("queued", "claimed"))


@pytest.fixture
async def console_store(db_url: str) -> AsyncIterator[CheckpointStore]:
    """The console's view: no graphs loaded at all."""
    opened = await open_store(parse_db_url(db_url), GraphRegistry(), grace_seconds=0,
                              create=True)
    try:
        await install_ledger(opened)
        yield opened
    finally:
        await opened.close()


def _console_decider(store: CheckpointStore) -> Decider:
    return Decider(store, current_origin("carol"), worker_mode=True)


def _registry(*names: str) -> GraphRegistry:
    return GraphRegistry(GraphInfo.of(n, graphs.ALL[n]) for n in names)


async def _state(db_url: str, name: str, thread_id: str) -> Any:
    store = await open_store(parse_db_url(db_url), GraphRegistry(), grace_seconds=0)
    try:
        graph = graphs.ALL[name].copy(update={"checkpointer": store.saver})
        return await graph.aget_state({"configurable": {"thread_id": thread_id}})
    finally:
        await store.close()


# --------------------------------------------------------------------------- tests


async def test_queued_decisions_are_applied_like_inline_ones(
    db_url: str, console_store: CheckpointStore
) -> None:
    for name in ("raw", "hitl", "before", "parallel"):
        list(await seed_paused(db_url, name, 2))
    decider = _console_decider(console_store)
    choices = {
        "raw-000": APPROVE,
        "raw-001": DecisionInput(DecisionType.REJECT, reason="too risky"),
        "hitl-000": DecisionInput(DecisionType.EDIT, action_edits={0: {"to": "b@example.com"}}),
        "hitl-001": DecisionInput(DecisionType.REJECT, reason="no"),
        "before-000": DecisionInput(DecisionType.EDIT, state_update={"topic": "edited"}),
        "before-001": DecisionInput(DecisionType.REJECT, reason="never"),
        "parallel-000": APPROVE,
    }
    for thread_id, choice in choices.items():
        outcome = await decider.decide(thread_id, choice)
        assert outcome.status == "queued", outcome.message
        assert outcome.row is not None and outcome.row.status == "queued"
    rows = {r["thread_id"]: r for r in _ledger(db_url)}
    assert {r["graph"] for r in rows.values()} == {"raw", "hitl", "before", "parallel"}
    # A queued decision holds its pause: nobody else can decide it meanwhile.
    again = await decider.ledger.rows(thread_id="raw-000")
    assert [r.status for r in again] == ["queued"]

    results = await apply_pending_decisions(
        {n: graphs.ALL[n] for n in ("raw", "hitl", "before", "parallel")}, db_url,
        concurrency=2)
    assert Counter(r.status for r in results) == Counter({"applied": len(choices)})
    rows = {r["thread_id"]: r for r in _ledger(db_url)}
    assert all(r["status"] == "applied" and r["attempts"] == 1 and r["started_at"]
               and r["claimed_by"] for r in rows.values())

    raw0, raw1 = [await _state(db_url, "raw", t) for t in ("raw-000", "raw-001")]
    assert raw0.values["received"] == ["approved"] and raw0.values["effects"] == ["acted"]
    assert raw1.values["received"] == ["rejected: too risky"]
    assert not raw1.values.get("effects")
    hitl0 = (await _state(db_url, "hitl", "hitl-000")).values["received"][0]
    assert hitl0 == {"decisions": [
        {"type": "edit", "edited_action": {"name": "send_email", "args": {"to": "b@example.com"}}},
        {"type": "approve"}]}
    before0 = await _state(db_url, "before", "before-000")
    assert before0.values["topic"] == "edited" and before0.values["effects"] == ["acted"]
    before1 = await _state(db_url, "before", "before-001")
    assert before1.next == () and not before1.values.get("effects")  # the node never ran
    parallel0 = await _state(db_url, "parallel", "parallel-000")
    assert parallel0.values["effects"] == ["acted"] and len(parallel0.values["received"]) == 2
    # Nothing left to do: a second pass applies nothing.
    assert await apply_pending_decisions(graphs.ALL["raw"], db_url) == []
    latest = await decider.ledger.latest_by_thread([*choices, "raw-000", "unknown"])
    assert set(latest) == set(choices)
    assert {r.status for r in latest.values()} == {"applied"}


async def test_a_thread_resumed_elsewhere_fails_as_a_conflict_and_nothing_runs(
    db_url: str, console_store: CheckpointStore
) -> None:
    from langgraph.types import Command

    (thread_id,) = list(await seed_paused(db_url, "raw", 1))
    await _console_decider(console_store).decide(thread_id, APPROVE)
    graph = graphs.ALL["raw"].copy(update={"checkpointer": console_store.saver})
    await graph.ainvoke(Command(resume="approved"), {"configurable": {"thread_id": thread_id}})
    results = await apply_pending_decisions({"raw": graphs.ALL["raw"]}, db_url)
    assert [r.status for r in results] == ["failed"]
    assert results[0].outcome.startswith("conflict: the thread moved on")
    assert (await _state(db_url, "raw", thread_id)).values["effects"] == ["acted"]  # once


async def test_expired_claims_are_settled_from_the_head_and_never_run_twice(
    db_url: str, console_store: CheckpointStore, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    effects = effects_target(db_url, tmp_path)
    monkeypatch.setenv(graphs.EFFECTS_ENV, effects)
    ids = list(await seed_paused(db_url, "race", 4))
    decider = _console_decider(console_store)
    ledger = ledger_db(console_store)
    ghost: dict[str, LedgerRow] = {}

    async def claim_as_dead_worker(thread_id: str, *, started: bool, lease: float) -> None:
        await decider.decide(thread_id, APPROVE)
        row = await ledger.claim_queued("ghost:1:dead", lease)
        assert row is not None and row.thread_id == thread_id and row.status == "claimed"
        if started:
            assert await ledger.mark_started(row.id, "ghost:1:dead")
        ghost[thread_id] = row

    await claim_as_dead_worker(ids[0], started=False, lease=0.05)  # never touched the graph
    await claim_as_dead_worker(ids[1], started=True, lease=0.05)  # died, head unchanged
    await claim_as_dead_worker(ids[2], started=True, lease=0.05)  # died after delivering it
    await claim_as_dead_worker(ids[3], started=True, lease=600)  # alive: lease still valid
    store = await open_store(parse_db_url(db_url), _registry("race"), grace_seconds=0)
    try:
        # the dead worker had delivered ids[2]: the thread moved on
        plan = plan_from_ledger(ghost[ids[2]])
        pause = await store.pending_thread(ids[2])
        assert pause is not None
        from console.core.ledger.apply import resume_graph

        await resume_graph(store, GraphInfo.of("race", graphs.ALL["race"]), plan, pause)
        await asyncio.sleep(0.1)
        worker = Worker(store, WorkerOptions(lease_seconds=30, worker_id="rescuer"))
        settled = {r.thread_id: r for r in await worker.reconcile_expired()}
        assert set(settled) == {ids[0], ids[1], ids[2]}
        assert settled[ids[0]].status == "requeued"
        assert settled[ids[1]].status == "failed"
        assert "stopped mid-apply; not delivered: the head is still" in settled[ids[1]].outcome
        assert "the same question is waiting" in settled[ids[1]].outcome
        assert settled[ids[2]].status == "applied"
        assert "moved on" in settled[ids[2]].outcome
        assert await worker.reconcile_expired() == []  # settling is done once
        # the requeued one is applied once, by a live worker; the live claim is untouched
        applied = await worker.drain()
        assert [(r.thread_id, r.status) for r in applied] == [(ids[0], "applied")]
        # the failed pause is free again: a reviewer decides again, and it is applied once
        await decider.decide(ids[1], APPROVE)
        assert [r.status for r in await worker.drain()] == ["applied"]
    finally:
        await store.close()
    rows = _ledger(db_url)
    by_thread: dict[str, list[str]] = {}
    for r in rows:
        by_thread.setdefault(r["thread_id"], []).append(r["status"])
    assert by_thread == {ids[0]: ["applied"], ids[1]: ["failed", "applied"],
                         ids[2]: ["applied"], ids[3]: ["claimed"]}
    assert next(r for r in rows if r["thread_id"] == ids[0])["attempts"] == 2
    assert count_effects(effects) == Counter({ids[0]: 1, ids[1]: 1, ids[2]: 1})


async def test_a_worker_claims_only_the_graphs_it_loaded(
    db_url: str, console_store: CheckpointStore
) -> None:
    (raw_id,) = list(await seed_paused(db_url, "raw", 1))
    (hitl_id,) = list(await seed_paused(db_url, "hitl", 1))
    decider = _console_decider(console_store)
    await decider.decide(raw_id, APPROVE)
    await decider.decide(hitl_id, APPROVE)
    # A worker claims only the decisions of the graphs it has loaded, by name (never by
    # guessing from node names: `raw` and `hitl` both have `gate` and `act`)...
    assert [(r.thread_id, r.status) for r in
            await apply_pending_decisions({"raw": graphs.ALL["raw"]}, db_url)] == [
                (raw_id, "applied")]
    assert [r["status"] for r in _ledger(db_url) if r["thread_id"] == hitl_id] == ["queued"]
    # ...and a worker that has it applies the rest.
    results = await apply_pending_decisions({"hitl": graphs.ALL["hitl"]}, db_url)
    assert [(r.thread_id, r.status) for r in results] == [(hitl_id, "applied")]


@pytest.mark.slow
async def test_the_console_never_imports_the_graph(pg_url: str, tmp_path: Path) -> None:
    effects = effects_target(pg_url, tmp_path)
    env = _env(effects)
    first, second, third = list(await seed_paused(pg_url, "race", 3))
    result = _console(CONSOLE_CLI, pg_url, first, second, env=env)
    pending, show, approve, again, reject_all, audit, workers = result["results"]
    assert pending["code"] == 0 and len(json.loads(pending["stdout"])) == 3
    assert show["code"] == 0 and json.loads(show["stdout"])["thread_id"] == first
    assert approve["code"] == 0, approve["stderr"]
    assert json.loads(approve["stdout"])["status"] == "queued"
    assert again["code"] == 3 and "queued" in again["stderr"]  # the pause is held
    assert reject_all["code"] == 3  # first is held; second and third are queued
    # queued is never reported as done
    assert reject_all["stdout"].splitlines()[-1] == "1 conflict, 2 queued"
    audit_rows = [json.loads(line) for line in audit["stdout"].splitlines()]
    assert sorted(r["status"] for r in audit_rows) == ["queued"] * 3
    assert all(r["apply_mode"] == "worker" for r in audit_rows)
    assert json.loads(workers["stdout"])["queue"]["queued"] == 3
    assert count_effects(effects) == Counter()  # nothing ran

    done = subprocess.run(
        [sys.executable, "-m", "console", "worker", "--once", "--db", pg_url, "--graph",
         graphs.spec("race"), "--json"], capture_output=True, text=True, cwd=ROOT, env=env,
        timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(r["status"] for r in lines) == ["applied"] * 3
    assert count_effects(effects) == Counter({first: 1, second: 1, third: 1})


@pytest.mark.slow
async def test_notify_wakes_an_idle_worker_and_workers_shows_it(
    pg_url: str, tmp_path: Path
) -> None:
    effects = effects_target(pg_url, tmp_path)
    env = _env(effects)
    ids = list(await seed_paused(pg_url, "race", 2))
    # Polling every 60s: only a notification can make it apply within seconds.
    proc = _worker(pg_url, env, "--poll", "60s", "--lease", "4s")
    try:
        def listening() -> bool:
            shown = subprocess.run(
                [sys.executable, "-m", "console", "workers", "--db", pg_url, "--json"],
                capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
            data = json.loads(shown.stdout)
            return any(w["wake"] == "notify" and w["state"] == "running"
                       for w in data["workers"])
        _wait_for(listening, 60, "a listening worker")
        _console(CONSOLE_DECIDES, pg_url, ids[0], env=env)
        started = time.monotonic()
        _wait_for(lambda: count_effects(effects)[ids[0]] == 1, 20, "the notified apply")
        assert time.monotonic() - started < 10
        shown = subprocess.run(
            [sys.executable, "-m", "console", "workers", "--db", pg_url], capture_output=True,
            text=True, cwd=ROOT, env=env, timeout=60)
        assert "running" in shown.stdout and "notify" in shown.stdout
        assert "0 queued" in shown.stdout
    finally:
        stop_workers([proc])
    data = json.loads(subprocess.run(
        [sys.executable, "-m", "console", "workers", "--db", pg_url, "--json", "--all"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60).stdout)
    assert [w["state"] for w in data["workers"]] == ["stopped"]
    assert data["workers"][0]["applied"] == 1


@pytest.mark.slow
async def test_sigterm_finishes_the_running_apply_and_claims_nothing_more(
    pg_url: str, tmp_path: Path
) -> None:
    effects = effects_target(pg_url, tmp_path)
    env = _env(effects, HITL_TEST_SLOW_SECONDS="3")
    ids = list(await seed_paused(pg_url, "slow_after", 2))
    _console(CONSOLE_DECIDES, pg_url, *ids, env=env)
    proc = _worker(pg_url, env, "--graph", graphs.spec("slow_after"), "--lease", "2s",
                   graph="slow_after")
    try:
        _wait_for(lambda: sum(count_effects(effects).values()) == 1, 60, "the first apply")
        time.sleep(0.3)  # `act` done; `linger` sleeps for 3s
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    rows = {r["thread_id"]: r for r in _ledger(pg_url)}
    running = next(t for t in ids if count_effects(effects)[t])
    other = next(t for t in ids if t != running)
    assert rows[running]["status"] == "applied"  # finished, not abandoned
    assert rows[other]["status"] == "queued" and rows[other]["claimed_by"] is None
    assert (await _state(pg_url, "slow_after", running)).next == ()  # the run completed


@pytest.mark.slow
async def test_two_workers_on_sqlite_apply_each_decision_once(
    sqlite_url: str, tmp_path: Path
) -> None:
    effects = prepare_effects(effects_target(sqlite_url, tmp_path))
    env = _env(effects)
    ids = list(await seed_paused(sqlite_url, "race", 30))
    procs = [_worker(sqlite_url, env, "--concurrency", "2", "--poll", "0.2s") for _ in range(2)]
    try:
        _wait_for(lambda: _running_workers(sqlite_url) == 2, 60, "two running workers")
        _console(CONSOLE_DECIDES, sqlite_url, env=env)
        _wait_for(lambda: sum(count_effects(effects).values()) == len(ids) and
                  _open_rows(sqlite_url) == 0, 120, "all applied")
    finally:
        stop_workers(procs)
    assert count_effects(effects) == Counter({t: 1 for t in ids})
    rows = _ledger(sqlite_url)
    assert Counter(r["status"] for r in rows) == Counter({"applied": len(ids)})
    assert len({r["claimed_by"] for r in rows}) == 2  # both workers took part


# ------------------------------------------------------------- 3 workers, SIGKILL

WORKERS = 3
DECISIONS = 300
KILLS = 6
LEASE = "3s"


@pytest.mark.slow
async def test_three_workers_killed_at_random_apply_300_decisions_exactly_once(
    pg_url: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("HITL_TEST_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    effects = prepare_effects(effects_target(pg_url, tmp_path))
    env = _env(effects)
    ids = list(await seed_paused(pg_url, "race", DECISIONS))
    store = await open_store(parse_db_url(pg_url), GraphRegistry(), grace_seconds=0)
    try:
        await install_ledger(store)
    finally:
        await store.close()

    def start() -> subprocess.Popen[str]:
        return _worker(pg_url, env, "--concurrency", "2", "--lease", LEASE, "--poll", "0.5s")

    procs = [start() for _ in range(WORKERS)]
    _wait_for(lambda: _running_workers(pg_url) == WORKERS, 60, "running workers")
    console = subprocess.Popen([sys.executable, "-c", CONSOLE_DECIDES, pg_url], cwd=ROOT,
                               env=env, text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    kills = 0
    try:
        # At random moments while decisions flow, SIGKILL a random worker among those
        # holding claims right then (a booting one has nothing to lose), and restart it.
        deadline = time.monotonic() + 240
        while kills < KILLS and time.monotonic() < deadline:
            time.sleep(rng.uniform(0.2, 0.8))
            if console.poll() is not None and _open_rows(pg_url) == 0:
                break
            holders = _claim_holders(pg_url)
            victims = [i for i, p in enumerate(procs) if p.pid in holders]
            if not victims:
                continue
            victim = rng.choice(victims)
            os.kill(procs[victim].pid, signal.SIGKILL)
            procs[victim].wait()
            kills += 1
            procs[victim] = start()
        out, err = console.communicate(timeout=300)
        assert console.returncode == 0, err
        decided = json.loads(out.strip().splitlines()[-1])
        assert decided["graph_modules"] == []
        assert decided["statuses"] == {"queued": DECISIONS}
        # Claims of killed workers are settled by the others once their lease expires.
        _wait_for(lambda: _open_rows(pg_url) == 0, 180, f"an empty queue (seed {seed})")

        rows = _ledger(pg_url)
        assert len(rows) == DECISIONS
        assert {r["thread_id"] for r in rows} == set(ids)
        counts = count_effects(effects)
        assert max(counts.values(), default=0) <= 1, (seed, counts.most_common(3))
        failed = [r for r in rows if r["status"] == "failed"]
        reconciled = [r for r in rows if (r["outcome"] or "").startswith("reconciled by")]
        requeued = _events(pg_url, "worker_requeued")
        assert all("stopped mid-apply; not delivered" in r["outcome"] for r in failed), [
            (r["id"], r["outcome"]) for r in failed]
        assert kills >= 1 and len(reconciled) + requeued >= 1, (seed, kills)
        assert len(reconciled) + requeued <= kills * 2
        for r in rows:
            if r["status"] == "applied" and r["outcome"].startswith("applied by worker"):
                assert counts[r["thread_id"]] == 1, r
            if r["status"] == "failed":
                assert counts[r["thread_id"]] == 0, r  # head unchanged: `act` never ran

        # Nothing is lost: the decisions a dead worker could not vouch for are decided
        # again by the console and applied once.
        if failed:
            again = _console(CONSOLE_DECIDES, pg_url, *(r["thread_id"] for r in failed),
                             env=env)
            assert again["statuses"] == {"queued": len(failed)}
            _wait_for(lambda: _open_rows(pg_url) == 0, 120, "the second round")
    finally:
        if console.poll() is None:
            console.kill()
        stop_workers(procs)

    rows = _ledger(pg_url)
    delivered = Counter(r["thread_id"] for r in rows if r["status"] in ("applied", "stalled"))
    assert delivered == Counter({t: 1 for t in ids}), seed
    counts = count_effects(effects)
    assert max(counts.values()) == 1
    # A run cut by a kill after the gate stopped before `act`: its decision was delivered
    # (`stalled`, naming act), and resuming the rest of the run is the application's job.
    cut = [r for r in rows if r["status"] == "stalled"]
    assert all("the run stopped before act" in r["outcome"] for r in cut), cut
    cut_threads = {r["thread_id"] for r in cut}
    assert sum(counts.values()) >= DECISIONS - len(cut)
    assert len(cut) <= kills * 2
    # Every gate received the answer exactly once, cut runs included.
    store = await open_store(parse_db_url(pg_url), GraphRegistry(), grace_seconds=0)
    try:
        graph = graphs.ALL["race"].copy(update={"checkpointer": store.saver})
        for thread_id in ids:
            state = await graph.aget_state({"configurable": {"thread_id": thread_id}})
            assert state.values["received"] == ["approved"], (thread_id, state.values)
            # A run is unfinished only where a kill cut it after the gate, as its outcome says.
            # (`next` is empty while the gate's writes wait on the pause for their step)
            if counts[thread_id] == 0 or state.next:
                assert state.next in (("act",), ()) and thread_id in cut_threads, (
                    thread_id, state.next, counts[thread_id])
    finally:
        await store.close()
    print(f"seed {seed}: {kills} kills, {len(cut)} runs cut after the gate, "
          f"{sum(counts.values())} effects, "
          f"{sum(1 for r in rows if r['status'] == 'failed')} failed then decided again, "
          f"{_events(pg_url, 'worker_requeued')} requeued, at {datetime.now(UTC):%H:%M:%S}")


async def test_a_node_that_asks_again_is_applied_and_says_so(
    db_url: str, console_store: CheckpointStore
) -> None:
    (thread_id,) = list(await seed_paused(db_url, "reask", 1))
    await _console_decider(console_store).decide(
        thread_id, DecisionInput(DecisionType.RESPOND, reason="maybe"))
    (result,) = await apply_pending_decisions({"reask": graphs.ALL["reask"]}, db_url)
    assert result.status == "applied" and "the graph asked again" in result.outcome
    # The new pause (same checkpoint, new interrupt id) can be decided again.
    outcome = await _console_decider(console_store).decide(thread_id, APPROVE)
    assert outcome.status == "queued"
    (result,) = await apply_pending_decisions({"reask": graphs.ALL["reask"]}, db_url)
    assert result.status == "applied" and "asked again" not in result.outcome
    assert (await _state(db_url, "reask", thread_id)).values["received"] == ["approved"]
