"""Exactly once under real concurrency and crashes: processes, not coroutines."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest

from console.core.dburl import parse_db_url
from console.core.graphs import GraphInfo, GraphRegistry
from console.core.store import open_store
from tests import graphs
from tests.race_worker import approve_all

PROCESSES = 4
THREADS = 100
ROOT = Path(__file__).resolve().parents[2]


def _effects_target(db_url: str, tmp_path: Path) -> str:
    return db_url if db_url.startswith("postgresql://") else str(tmp_path / "effects.sqlite")


def _effects(target: str) -> Counter[str]:
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


async def _seed(db_url: str, name: str, count: int) -> dict[str, str]:
    registry = GraphRegistry([GraphInfo.of(name, graphs.ALL[name])])
    store = await open_store(parse_db_url(db_url), registry, grace_seconds=0, create=True)
    try:
        graph = graphs.ALL[name].copy(update={"checkpointer": store.saver})
        for i in range(count):
            config = {"configurable": {"thread_id": f"{name}-{i:03d}"},
                      "metadata": {"graph_id": name}}
            await graph.ainvoke({"topic": "race"}, config)
        return {p.thread_id: p.checkpoint_id for p in await store.pending()}
    finally:
        await store.close()


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)


@pytest.mark.slow
async def test_four_processes_approve_each_pause_once(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    effects = _effects_target(db_url, tmp_path)
    monkeypatch.setenv(graphs.EFFECTS_ENV, effects)
    heads = await _seed(db_url, "race", THREADS)
    assert len(heads) == THREADS
    # Half the processes' calls name the head they saw (--expect), half do not.
    work = [(t, heads[t] if i % 2 else None) for i, t in enumerate(sorted(heads))]
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=approve_all, args=(db_url, work, barrier, results))
             for _ in range(PROCESSES)]
    for proc in procs:
        proc.start()
    codes = [results.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    for thread_id in heads:
        per_thread = sorted(c[thread_id] for c in codes)
        errors = [c.get(f"{thread_id}:stderr") for c in codes]
        assert per_thread == [0, 3, 3, 3], (thread_id, per_thread, errors)
    assert _effects(effects) == Counter({t: 1 for t in heads})
    audit = _cli("audit", "--db", db_url, "--json")
    assert audit.returncode == 0, audit.stderr
    rows = [json.loads(line) for line in audit.stdout.splitlines()]
    applied = Counter(r["thread_id"] for r in rows if r["status"] == "applied")
    assert applied == Counter({t: 1 for t in heads})
    assert all(r["status"] == "applied" for r in rows)


def _wait_for(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


@pytest.mark.slow
@pytest.mark.parametrize(("graph", "settled"), [("slow", "failed"), ("slow_after", "applied")])
async def test_crash_leaves_in_flight_row_that_reconcile_settles(
    db_url: str, tmp_path: Path, graph: str, settled: str
) -> None:
    effects = _effects_target(db_url, tmp_path)
    env = {**os.environ, graphs.EFFECTS_ENV: effects, "HITL_TEST_SLOW_SECONDS": "60"}
    heads = await _seed(db_url, graph, 1)
    thread_id, before = next(iter(heads.items()))
    spec = graphs.spec(graph)
    proc = subprocess.Popen([sys.executable, "-m", "console", "approve", thread_id, "--db",
                             db_url, "--graph", spec], cwd=ROOT, env=env)
    try:
        _wait_for(lambda: _effects(effects)[thread_id] == 1)  # the gated node is running
        if graph == "slow_after":
            time.sleep(1.0)  # let `act` finish and its checkpoint land; `linger` sleeps
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    audit = _cli("audit", "--db", db_url, "--json", env=env)
    rows = [json.loads(line) for line in audit.stdout.splitlines()]
    assert [r["status"] for r in rows] == ["in_flight"]
    assert "in flight" in _cli("audit", "--db", db_url, env=env).stderr
    reconciled = _cli("reconcile", "--db", db_url, "--graph", spec, "--json", env=env)
    assert reconciled.returncode == 0, reconciled.stderr
    assert json.loads(reconciled.stdout)["settled"][0]["status"] == settled
    rows = [json.loads(line) for line in
            _cli("audit", "--db", db_url, "--json", env=env).stdout.splitlines()]
    assert [r["status"] for r in rows] == [settled]
    assert (rows[0]["new_checkpoint_id"] == before) == (settled == "failed")
    # Reconciling again changes nothing and never runs the node again.
    again = _cli("reconcile", "--db", db_url, "--json", env=env)
    assert json.loads(again.stdout)["settled"] == []
    assert _effects(effects)[thread_id] == 1
