"""Exactly once under real concurrency and crashes: processes, not coroutines."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests import graphs
from tests.effects import count_effects, effects_target
from tests.race_worker import approve_all
from tests.seeding import seed_paused

PROCESSES = 4
THREADS = 100
ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)


@pytest.mark.slow
async def test_four_processes_approve_each_pause_once(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    effects = effects_target(db_url, tmp_path)
    monkeypatch.setenv(graphs.EFFECTS_ENV, effects)
    heads = await seed_paused(db_url, "race", THREADS)
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
    assert count_effects(effects) == Counter({t: 1 for t in heads})
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
# slow: killed inside the gate, nothing saved: not delivered (failed, decide again).
# slow_after: killed in `linger`, after act's checkpoint: delivered, but the run stopped
# before linger (stalled: the application resumes it), never "applied".
@pytest.mark.parametrize(("graph", "settled"), [("slow", "failed"), ("slow_after", "stalled")])
async def test_crash_leaves_in_flight_row_that_reconcile_settles(
    db_url: str, tmp_path: Path, graph: str, settled: str
) -> None:
    effects = effects_target(db_url, tmp_path)
    env = {**os.environ, graphs.EFFECTS_ENV: effects, "HITL_TEST_SLOW_SECONDS": "60"}
    heads = await seed_paused(db_url, graph, 1)
    thread_id, before = next(iter(heads.items()))
    spec = graphs.spec(graph)
    proc = subprocess.Popen([sys.executable, "-m", "console", "approve", thread_id, "--db",
                             db_url, "--graph", spec], cwd=ROOT, env=env)
    try:
        _wait_for(lambda: count_effects(effects)[thread_id] == 1)  # the gated node is running
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
    if settled == "stalled":
        assert json.loads(reconciled.stdout)["settled"][0]["next"] == ["linger"]
    rows = [json.loads(line) for line in
            _cli("audit", "--db", db_url, "--json", env=env).stdout.splitlines()]
    assert [r["status"] for r in rows] == [settled]
    assert (rows[0]["new_checkpoint_id"] == before) == (settled == "failed")
    # Reconciling again changes nothing and never runs the node again.
    again = _cli("reconcile", "--db", db_url, "--json", env=env)
    assert json.loads(again.stdout)["settled"] == []
    assert count_effects(effects)[thread_id] == 1
