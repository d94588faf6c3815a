"""Outcomes are true: what the ledger says happened is what the rows and the side effects
say happened (issue 15, point 3).

The kill -9 test applies decisions in real processes and SIGKILLs each at a random moment
of its apply; then `reconcile` settles what was left, and every thread's ledger status is
checked against the truth computed apart, from the gated action's side-effect table and
LangGraph's own `aget_state()`. `HITL_KILL_TRIALS` (default 25 per backend) and
`HITL_TEST_SEED` make bigger or other runs.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from console.core.dburl import parse_db_url
from console.core.graphs import GraphInfo, GraphRegistry
from console.core.ledger.apply import Decider, current_origin
from console.core.ledger.db import ledger_db
from console.core.ledger.decisions import DecisionInput
from console.core.ledger.reconcile import StalledDecisions
from console.core.ledger.rows import DecisionType
from console.core.models import PauseKind
from console.core.store import CheckpointStore, open_store
from console.core.worker import apply_pending_decisions
from tests import graphs
from tests.effects import count_effects, effects_target, prepare_effects
from tests.seeding import seed_paused

ROOT = Path(__file__).resolve().parents[2]
TRIALS = int(os.environ.get("HITL_KILL_TRIALS", "25"))
SEED = int(os.environ.get("HITL_TEST_SEED", "15"))
APPROVE = DecisionInput(DecisionType.APPROVE)
KILL_GRAPH = GraphRegistry([GraphInfo.of("kill", graphs.ALL["kill"])])


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)


def _kill_applies(db_url: str, ids: list[str], env: dict[str, str], rng: random.Random
                  ) -> Counter[str]:
    """Apply `ids[0]` whole (to time an apply), then each other thread in a child killed
    at a random moment of its apply; how each ended."""
    helper = subprocess.Popen([sys.executable, "-m", "tests.kill_apply", db_url], cwd=ROOT,
                              env=env, text=True, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    assert helper.stdin is not None and helper.stdout is not None
    ends: Counter[str] = Counter()
    try:
        assert helper.stdout.readline().strip() == "ready"

        def ask(thread_id: str, delay: float) -> tuple[str, float]:
            assert helper.stdin is not None and helper.stdout is not None
            helper.stdin.write(f"{thread_id} {delay:.4f}\n")
            helper.stdin.flush()
            how, took = helper.stdout.readline().split()
            return how, float(took)

        how, span = ask(ids[0], -1.0)
        assert how == "exited", how
        for thread_id in ids[1:]:
            how, _ = ask(thread_id, rng.uniform(0.0, span * 1.1))
            ends[how] += 1
    finally:
        helper.stdin.close()
        helper.wait(timeout=60)
    return ends


async def _truth(store: CheckpointStore, thread_id: str, effects: int) -> str:
    """What happened, from LangGraph's state and the side-effect table alone."""
    graph = graphs.ALL["kill"].copy(update={"checkpointer": store.saver})
    state = await graph.aget_state({"configurable": {"thread_id": thread_id}})
    delivered = state.values.get("received") == ["approved"]
    assert delivered or effects == 0, (thread_id, "acted without an answer")
    if not delivered:
        return "failed"
    finished = not state.next and state.values.get("effects") == ["acted"] and effects == 1
    return "applied" if finished else "stalled"


@pytest.mark.slow
async def test_kill_9_anywhere_in_an_apply_reconciles_to_the_truth(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = "postgres" if db_url.startswith("postgresql") else "sqlite"
    rng = random.Random(f"{SEED}-{backend}")
    effects = prepare_effects(effects_target(db_url, tmp_path))
    monkeypatch.setenv(graphs.EFFECTS_ENV, effects)  # for the decisions taken again here
    env = {**os.environ, graphs.EFFECTS_ENV: effects, graphs.KILL_STEP_ENV: "0.02"}
    ids = sorted(await seed_paused(db_url, "kill", TRIALS + 1))
    ends = _kill_applies(db_url, ids, env, rng)

    # Settle what the kills left: Postgres with the graph loaded, SQLite without any.
    args = ["reconcile", "--db", db_url, "--lease", "1h", "--json"]
    if backend == "postgres":
        args += ["--graph", graphs.spec("kill")]
    done = _cli(*args, env=env)
    assert done.returncode == 0, done.stderr
    settled = json.loads(done.stdout)["settled"]

    counts = count_effects(effects)
    assert max(counts.values(), default=0) <= 1, counts.most_common(3)  # never twice
    store = await open_store(parse_db_url(db_url), KILL_GRAPH, grace_seconds=0)
    try:
        ledger = ledger_db(store)
        rows = {r.thread_id: r for r in await ledger.rows()}
        assert len(rows) == len(await ledger.rows())  # one decision per thread
        truths: dict[str, str] = {}
        mismatches = []
        for thread_id in ids:
            truths[thread_id] = await _truth(store, thread_id, counts[thread_id])
            row = rows.get(thread_id)
            # No row: killed before the claim committed; nothing recorded, nothing ran.
            said = row.status if row is not None else "failed"
            if said != truths[thread_id]:
                mismatches.append((thread_id, truths[thread_id], said,
                                   row.outcome if row else None))
            if said == "stalled":
                assert row is not None and "the run stopped before act" in (row.outcome or "")
        assert mismatches == [], (SEED, mismatches)
        kinds = Counter(truths.values())
        print(f"{backend} seed {SEED}: {dict(ends)}, truths {dict(kinds)}, "
              f"{len(settled)} reconciled")
        assert sum(ends.values()) == TRIALS and ends["killed"] >= TRIALS // 2, ends
        assert len(kinds) >= 2, kinds  # the kills landed in more than one stage
        stalled = {t for t, k in truths.items() if k == "stalled"}
        await _stalled_are_listed(store, db_url, stalled)

        # Not delivered: decided again, applied once. Stalled: nothing to decide.
        decider = Decider(store, current_origin("again"), worker_mode=False)
        for thread_id in (t for t, k in truths.items() if k == "failed"):
            assert (await decider.decide(thread_id, APPROVE)).status == "applied"
        for thread_id in sorted(stalled)[:2]:
            with pytest.raises(Exception, match="stalled"):
                await decider.decide(thread_id, APPROVE)
    finally:
        await store.close()
    counts = count_effects(effects)
    assert max(counts.values()) == 1
    assert {t for t in ids if counts[t] == 0} <= stalled


async def _stalled_are_listed(store: CheckpointStore, db_url: str, stalled: set[str]) -> None:
    """The queue lists each stalled run as `stalled` with its reason, graphs or not."""
    bare = await open_store(parse_db_url(db_url), GraphRegistry())  # default grace
    try:
        for queue_store in (store, bare):
            queue_store.queue_sources.append(StalledDecisions(ledger_db(queue_store)))
            listed = {t.thread_id: t for t in await queue_store.pending()}
            for thread_id in stalled:
                row = listed.get(thread_id)
                assert row is not None and row.kind is PauseKind.STALLED, (thread_id, row)
                assert "the run stopped before act" in row.summary, row.summary
            queue_store.queue_sources.clear()
    finally:
        await bare.close()


# ------------------------------------------------------------- a wrong graph


async def test_a_worker_with_another_graph_under_the_name_fails_and_the_thread_decides_again(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(graphs.EFFECTS_ENV, prepare_effects(effects_target(db_url, tmp_path)))
    (thread_id,) = await seed_paused(db_url, "race", 1)
    store = await open_store(parse_db_url(db_url), GraphRegistry(), grace_seconds=0)
    try:
        console = Decider(store, current_origin("alice"), worker_mode=True)
        assert (await console.decide(thread_id, APPROVE)).status == "queued"
        # a worker that loads another graph under the thread's graph name
        (result,) = await apply_pending_decisions({"race": _other_graph()}, db_url)
        assert result.status == "failed", result
        assert "not delivered: the resume left the same pause waiting" in result.outcome
        (row,) = await ledger_db(store).rows(thread_id=thread_id)
        assert row.status == "failed" and row.outcome == result.outcome
        assert count_effects(str(os.environ[graphs.EFFECTS_ENV]))[thread_id] == 0
        # the thread is free again: decided anew, applied by a worker with the right graph
        assert (await console.decide(thread_id, APPROVE)).status == "queued"
        (result,) = await apply_pending_decisions({"race": graphs.ALL["race"]}, db_url)
        assert result.status == "applied", result
    finally:
        await store.close()
    assert count_effects(str(os.environ[graphs.EFFECTS_ENV]))[thread_id] == 1


def _other_graph() -> Any:
    """Named `race`, but without its gate: resuming it cannot reach the pause."""
    from langgraph.graph import END, START, StateGraph

    builder = StateGraph(graphs.GateState)
    builder.add_node("review", lambda state: {"notes": ["reviewed"]})
    builder.add_edge(START, "review")
    builder.add_edge("review", END)
    return builder.compile(name="race")


# ------------------------------------------------------------- queued is not done


async def test_worker_mode_bulk_reject_says_queued_not_rejected(
    sqlite_url: str, tmp_path: Path
) -> None:
    a, b, c, d = await seed_paused(sqlite_url, "race", 4)
    env = {**os.environ, "HITL_WORKER_MODE": "1"}
    text = _cli("reject", a, b, "--reason", "no", "--db", sqlite_url, env=env)
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[-1] == "2 queued" and "rejected" not in text.stdout
    as_json = _cli("reject", c, d, "--reason", "no", "--db", sqlite_url, "--json", env=env)
    body = json.loads(as_json.stdout)
    assert body["counts"] == {"queued": 2}, body
    assert {r["status"] for r in body["results"]} == {"queued"}
    assert {r["thread_id"] for r in body["results"]} == {c, d}
