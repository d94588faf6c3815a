"""Bulk approve (issue 16, point 4) through the CLI and the core, on real graphs: off
unless `[policy] bulk_approve` names the gate; where it does, each thread approved
exactly once (the gated action's own side-effect table counts the runs); four-eyes and
N-of-M still hold per thread; `approve --all [filters] --yes` like `reject --all`."""

from __future__ import annotations

import json
import os
from pathlib import Path

from console.core.dburl import parse_db_url
from console.core.graphs import GraphInfo, GraphRegistry
from console.core.ledger.apply import Decider, current_origin
from console.core.ledger.bulk import bulk_plan
from console.core.ledger.rows import DecisionType
from console.core.policy import Policy
from console.core.store import open_store
from tests import graphs
from tests.effects import count_effects, effects_target, prepare_effects
from tests.integration.test_policy import cli

BULK_POLICY = """
[policy]
four_eyes = true
bulk_approve = ["race"]

[[policy.rules]]
graph = "race"
node = "gate"
approvals = 1

[[policy.rules]]
graph = "raw"
approvals = 2
"""


async def _seed(db_url: str) -> None:
    """race-000..002 (race, anyone's), race-003 (requested by alice), raw-000 (another
    graph, not named by bulk_approve), schema-000 (takes a schema value)."""
    store = await open_store(parse_db_url(db_url), GraphRegistry(), grace_seconds=0,
                             create=True)
    plan = [("race", "race-000", {}), ("race", "race-001", {}), ("race", "race-002", {}),
            ("race", "race-003", {"requested_by": "alice"}), ("raw", "raw-000", {}),
            ("schema", "schema-000", {})]
    try:
        for name, thread_id, metadata in plan:
            graph = graphs.ALL[name].copy(update={"checkpointer": store.saver})
            await graph.ainvoke({"topic": thread_id}, {
                "configurable": {"thread_id": thread_id},
                "metadata": {"graph_id": name, **metadata}})
    finally:
        await store.close()


def _audit(base: list[str]) -> list[dict[str, object]]:
    out = cli("audit", "--json", *base).stdout.strip()
    return [json.loads(line) for line in out.splitlines() if line.strip()]


async def test_approve_all_cli(db_url: str, tmp_path: Path) -> None:
    await _seed(db_url)
    config = tmp_path / "config.toml"
    graph_specs = ["--graph", graphs.spec("race"), "--graph", graphs.spec("raw"),
                   "--graph", graphs.spec("schema")]
    base = ["--db", db_url, *graph_specs, "--config", str(config)]
    env = {**os.environ, graphs.EFFECTS_ENV: prepare_effects(effects_target(db_url, tmp_path))}

    # Off by default: refused with one sentence, exit 5, nothing written.
    config.write_text("[policy]\nfour_eyes = true\n")
    off = cli("approve", "--all", "--yes", "--reviewer", "alice", *base, env=env)
    assert off.returncode == 5, off.stderr
    assert "Bulk approve is off" in off.stderr and "Traceback" not in off.stderr
    assert off.stderr.strip().count("\n") == 0
    assert _audit(base) == []
    no_yes = cli("approve", "--all", "--reviewer", "alice", *base, env=env)
    assert no_yes.returncode == 2 and "--yes" in no_yes.stderr

    # Allowed for graph race: alice approves all matching (--graph race as the filter);
    # race-003 is hers (four-eyes): refused, the rest applied, each gated action once.
    config.write_text(BULK_POLICY)
    first = cli("approve", "--all", "--graph", "race", "--yes", "--json", "--reviewer",
                "alice", *base, env=env)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    by_thread = {r["thread_id"]: r["status"] for r in report["results"]}
    assert by_thread == {"race-000": "approved", "race-001": "approved",
                         "race-002": "approved", "race-003": "refused"}
    assert "Four-eyes" in next(r["message"] for r in report["results"]
                               if r["thread_id"] == "race-003")
    effects = count_effects(env[graphs.EFFECTS_ENV])
    assert {t: effects[t] for t in ("race-000", "race-001", "race-002", "race-003")} == {
        "race-000": 1, "race-001": 1, "race-002": 1, "race-003": 0}

    # Without a graph filter: raw-000 (not named) and schema-000 are left alone, with why;
    # race-003 still needs another reviewer: bob is that second approver.
    second = cli("approve", "--all", "--yes", "--reviewer", "bob", *base, env=env)
    assert second.returncode == 0, second.stderr
    assert "raw/gate is not named in [policy] bulk_approve" in second.stdout
    assert "1 approved" in second.stdout
    effects = count_effects(env[graphs.EFFECTS_ENV])
    assert effects["race-003"] == 1 and max(effects.values()) == 1
    rows = _audit(base)
    assert sorted((r["thread_id"], r["decision"], r["status"], r["reviewer"]) for r in rows) == [
        ("race-000", "approve", "applied", "alice"), ("race-001", "approve", "applied", "alice"),
        ("race-002", "approve", "applied", "alice"), ("race-003", "approve", "applied", "bob")]
    again = cli("approve", "--all", "--graph", "race", "--yes", "--reviewer", "bob", *base,
                env=env)
    assert again.returncode == 5 and "none is pending" in again.stderr  # nothing twice
    assert count_effects(env[graphs.EFFECTS_ENV])["race-000"] == 1


async def test_bulk_plan_groups_and_reasons(sqlite_url: str) -> None:
    """The core's up-front answer: groups with one Command each, refusals one per reason;
    N-of-M per thread (raw needs 2 approvals: a bulk approve records one)."""
    import tomllib

    await _seed(sqlite_url)
    registry = GraphRegistry(GraphInfo.of(n, graphs.ALL[n]) for n in ("race", "raw", "schema"))
    store = await open_store(parse_db_url(sqlite_url), registry, grace_seconds=0)
    try:
        pauses = await store.pending()
        policy = Policy.from_config(tomllib.loads(BULK_POLICY.replace(
            '["race"]', '["race", "raw", "schema"]')))
        decider = Decider(store, current_origin("alice"), policy=policy)
        plan = bulk_plan(decider, pauses, DecisionType.APPROVE)
        assert [(g.graph, g.node, len(g.thread_ids)) for g in plan.groups] == [
            ("race", "gate", 3), ("raw", "gate", 1)]
        assert [len(g.commands) for g in plan.groups] == [1, 1]
        assert plan.groups[0].commands[0][0]["resume"] == {"<interrupt 1>": "approved"}
        reasons = {r.reason.split(":")[0]: len(r.thread_ids) for r in plan.refusals}
        assert reasons == {"Four-eyes rule": 1, "This pause expects a value matching its "
                           "response schema": 1}
        reject = bulk_plan(decider, pauses, DecisionType.REJECT, "no")
        assert reject.refused == 1 and "schema" in reject.refusals[0].reason

        from console.core.ledger.bulk import approve_many

        raw = [p for p in pauses if p.thread_id == "raw-000"]
        results = await approve_many(decider, raw)
        assert [r.status for r in results] == ["approval_recorded"]  # 1 of 2
        assert (await store.pending_thread("raw-000")) is not None
        off = Decider(store, current_origin("alice"), policy=Policy())
        try:
            await approve_many(off, raw)
            raise AssertionError("bulk approve ran with the policy off")
        except Exception as exc:
            assert "Bulk approve is off" in str(exc)
    finally:
        await store.close()
