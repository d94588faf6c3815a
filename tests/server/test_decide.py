"""Deciding on a real `langgraph dev`: every pause form approved runs its gated action
once, rejected never; stale answers and races are conflicts that run nothing."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from console.core.errors import ConflictError, PolicyRefused, UsageError
from console.core.ledger.decisions import DecisionInput
from console.core.ledger.rows import DecisionType
from console.core.pause_id import pause_id_of
from console.core.server.decide import ServerDecider
from console.session import decider_for, store_session
from console.settings import Settings, load_settings
from tests.server.conftest import ServerFixture, paused_threads, pending_ids, run_until_paused
from tests.server.race_worker import approve_all

ROOT = Path(__file__).resolve().parents[2]
APPROVE = DecisionInput(DecisionType.APPROVE)
REJECT = DecisionInput(DecisionType.REJECT, reason="not now")
# graph -> (node whose "ran" effects count the gated action, how many an approval runs)
GATED = {"raw": ("act", 1), "inbox": ("act", 1), "hitl": ("act", 1),
         "tool_approval": ("act", 1), "before": ("act", 1), "after": ("act", 1),
         "map_reduce": ("approve_item", 2), "functional": ("functional", 1),
         "subgraph": ("pay", 1)}


def _settings(url: str, ledger: str | None = None, reviewer: str = "alice",
              raw: dict[str, Any] | None = None) -> Settings:
    settings = load_settings(db=url, reviewer=reviewer, ledger_db=ledger,
                             config=None, env={"HITL_CONFIG": ""})
    return settings.with_overrides(raw=raw) if raw is not None else settings


@asynccontextmanager
async def deciding(url: str, ledger: str | None = None, reviewer: str = "alice",
                   raw: dict[str, Any] | None = None) -> AsyncIterator[ServerDecider]:
    settings = _settings(url, ledger, reviewer, raw)
    async with store_session(settings) as store:
        decider = decider_for(store, settings)
        assert isinstance(decider, ServerDecider)
        yield decider


def _ran(server: ServerFixture, thread_id: str, node: str) -> int:
    return sum(1 for e in server.effects_of(thread_id) if e["node"] == node)


async def _still_waits(client: Any, thread_id: str) -> bool:
    return bool((await client.threads.get_state(thread_id))["next"])


@pytest.mark.parametrize("graph", sorted(GATED))
async def test_approve_runs_the_gated_action_once(
    graph: str, langgraph_server: ServerFixture, server_client: Any,
) -> None:
    thread_id = await run_until_paused(server_client, graph)
    node, times = GATED[graph]
    async with deciding(langgraph_server.url) as decider:
        outcome = await decider.decide(thread_id, APPROVE)
    assert outcome.status == "applied", outcome.message
    assert _ran(langgraph_server, thread_id, node) == times
    assert not await _still_waits(server_client, thread_id)


@pytest.mark.parametrize("graph", sorted(GATED))
async def test_reject_never_runs_the_gated_action(
    graph: str, langgraph_server: ServerFixture, server_client: Any,
) -> None:
    thread_id = await run_until_paused(server_client, graph)
    node, _ = GATED[graph]
    async with deciding(langgraph_server.url) as decider:
        outcome = await decider.decide(thread_id, REJECT)
    assert outcome.status == "applied", outcome.message
    assert _ran(langgraph_server, thread_id, node) == 0
    assert not await _still_waits(server_client, thread_id)
    # ...and a late approval finds nothing to run
    async with deciding(langgraph_server.url) as decider:
        with pytest.raises(Exception):  # noqa: B017 - not pending (4) or conflict (3)
            await decider.decide(thread_id, APPROVE)
    assert _ran(langgraph_server, thread_id, node) == 0


async def test_schema_pause_takes_a_value_and_twice_asks_again(
    langgraph_server: ServerFixture, server_client: Any,
) -> None:
    schema = await run_until_paused(server_client, "schema")
    twice = await run_until_paused(server_client, "twice")
    async with deciding(langgraph_server.url) as decider:
        with pytest.raises(UsageError):  # outside the schema: refused, nothing sent
            await decider.decide(schema, DecisionInput(
                DecisionType.RESUME, resume={"amount": 500}, has_resume=True))
        assert langgraph_server.effects_of(schema, "received") == []
        await decider.decide(schema, DecisionInput(DecisionType.RESUME,
                                                   resume={"amount": 5}, has_resume=True))
        first = await decider.decide(twice, APPROVE)
        assert "asked again" in first.message
        assert _ran(langgraph_server, twice, "act") == 0
        await decider.decide(twice, APPROVE)
    assert _ran(langgraph_server, schema, "act") == 1
    assert _ran(langgraph_server, twice, "act") == 1


async def test_edit_at_a_breakpoint_updates_then_continues(
    langgraph_server: ServerFixture, server_client: Any,
) -> None:
    thread_id = await run_until_paused(server_client, "before")
    async with deciding(langgraph_server.url) as decider:
        await decider.decide(thread_id, DecisionInput(
            DecisionType.EDIT, state_update={"topic": "edited"}))
    state = await server_client.threads.get_state(thread_id)
    assert state["values"]["topic"] == "edited"
    assert _ran(langgraph_server, thread_id, "act") == 1


async def test_stale_answer_to_a_reasked_question_runs_nothing(
    langgraph_server: ServerFixture, server_client: Any,
) -> None:
    """The reviewer read question 1; it was answered (question 2 is asked on the same
    checkpoint); their answer to question 1 is a conflict (exit 3) and runs nothing."""
    thread_id = await run_until_paused(server_client, "twice")
    async with deciding(langgraph_server.url) as decider:
        pause, _ = await decider.plan(thread_id, APPROVE)
        read = pause_id_of(pause)
        await decider.decide(thread_id, APPROVE, expect=read)
        received = len(langgraph_server.effects_of(thread_id, "received"))
        with pytest.raises(ConflictError, match="changed since you read it"):
            await decider.decide(thread_id, APPROVE, expect=read)
    cli = subprocess.run(
        [sys.executable, "-m", "console.cli", "approve", thread_id, "--db",
         langgraph_server.url, "--expect", read],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(ROOT)})
    assert cli.returncode == 3, cli.stderr
    assert len(langgraph_server.effects_of(thread_id, "received")) == received == 1
    assert _ran(langgraph_server, thread_id, "act") == 0
    assert await _still_waits(server_client, thread_id)


async def test_answer_overtaken_at_the_server_is_refused_before_it_runs(
    langgraph_server: ServerFixture, server_client: Any,
) -> None:
    """Another client answers between the console's read and its resume: LangGraph's
    strict resume refuses the stale id (question 2 is not answered with it)."""
    thread_id = await run_until_paused(server_client, "twice")
    async with deciding(langgraph_server.url) as decider:
        pause, plan, seen = await decider._plan(thread_id, APPROVE, expect=None,
                                                expect_pause=None)
        [first] = await pending_ids(server_client, thread_id)
        await server_client.runs.wait(thread_id, "twice", command={"resume": {
            first: "approved"}}, multitask_strategy="reject")
        with pytest.raises(ConflictError, match="no longer waiting"):
            await decider._apply(None, pause, plan, seen)
    received = langgraph_server.effects_of(thread_id, "received")
    assert [e.get("step") for e in received] == [1]  # question 2 still unanswered
    assert len(await pending_ids(server_client, thread_id)) == 1


async def test_breakpoint_overtaken_at_the_server_is_reported(
    langgraph_server: ServerFixture, server_client: Any,
) -> None:
    thread_id = await run_until_paused(server_client, "before")
    async with deciding(langgraph_server.url) as decider:
        pause, plan, seen = await decider._plan(thread_id, APPROVE, expect=None,
                                                expect_pause=None)
        await server_client.runs.wait(thread_id, "before", input=None,
                                      multitask_strategy="reject")
        with pytest.raises(ConflictError, match="another client"):
            await decider._apply(None, pause, plan, seen)
    assert _ran(langgraph_server, thread_id, "act") == 1


async def test_ledger_claims_audits_and_replays(
    langgraph_server: ServerFixture, server_client: Any, pg_url: str, tmp_path: Path,
) -> None:
    for ledger in (pg_url, f"sqlite:///{tmp_path / 'ledger.sqlite'}"):
        thread_id = await run_until_paused(server_client, "raw")
        async with deciding(langgraph_server.url, ledger) as decider:
            outcome = await decider.decide(thread_id, APPROVE, idempotency_key=thread_id)
            again = await decider.decide(thread_id, APPROVE, idempotency_key=thread_id)
            assert again.status == "replayed"
            with pytest.raises(ConflictError, match="alice applied an approve"):
                await decider.decide(thread_id, APPROVE)
            [row] = await decider.ledger.rows(thread_id=thread_id)
        assert outcome.row is not None and row.id == outcome.row.id
        assert row.status == "applied" and row.new_checkpoint_id == outcome.new_checkpoint_id
        assert _ran(langgraph_server, thread_id, "act") == 1


async def test_two_approvals_need_a_ledger_and_run_on_the_second(
    langgraph_server: ServerFixture, server_client: Any, pg_url: str,
) -> None:
    raw = {"policy": {"rules": [{"graph": "raw", "approvals": 2}]}}
    thread_id = await run_until_paused(server_client, "raw")
    async with deciding(langgraph_server.url, raw=raw) as decider:
        with pytest.raises(PolicyRefused, match="--ledger-db"):
            await decider.decide(thread_id, APPROVE)
    async with deciding(langgraph_server.url, pg_url, "alice", raw) as decider:
        first = await decider.decide(thread_id, APPROVE)
    assert first.status == "approval_recorded"
    assert _ran(langgraph_server, thread_id, "act") == 0
    async with deciding(langgraph_server.url, pg_url, "bob", raw) as decider:
        second = await decider.decide(thread_id, APPROVE)
    assert second.status == "applied"
    assert _ran(langgraph_server, thread_id, "act") == 1


def _race(url: str, ledger: str | None, threads: list[str]) -> list[dict[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=approve_all, args=(url, ledger, threads, barrier, results))
             for _ in range(4)]
    for proc in procs:
        proc.start()
    codes = [results.get(timeout=900) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    return codes


@pytest.mark.slow
@pytest.mark.parametrize("with_ledger", [True, False], ids=["ledger", "no-ledger"])
async def test_four_processes_approve_fifty_pauses_each_once(
    with_ledger: bool, langgraph_server: ServerFixture, server_client: Any, pg_url: str,
) -> None:
    threads = await paused_threads(server_client, "raw", 50)
    codes = await asyncio.to_thread(_race, langgraph_server.url,
                                    pg_url if with_ledger else None, threads)
    losers = {3} if with_ledger else {3, 4}  # without a ledger a finished thread is 4
    for thread_id in threads:
        got = sorted(c[thread_id] for c in codes)
        errors = [c.get(f"{thread_id}:stderr") for c in codes]
        assert got[0] == 0 and set(got[1:]) <= losers, (thread_id, got, errors)
        assert _ran(langgraph_server, thread_id, "act") == 1, thread_id
    if with_ledger:
        audit = subprocess.run(
            [sys.executable, "-m", "console.cli", "audit", "--db", langgraph_server.url,
             "--ledger-db", pg_url, "--json"],
            capture_output=True, text=True, cwd=ROOT, timeout=120,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(ROOT)})
        assert audit.returncode == 0, audit.stderr
        rows = [json.loads(line) for line in audit.stdout.splitlines()]
        mine = [r for r in rows if r["thread_id"] in set(threads)]
        assert sorted(r["thread_id"] for r in mine) == sorted(threads)
        assert {r["status"] for r in mine} == {"applied"}


async def test_bulk_reject_and_approve_from_the_listed_queue(
    langgraph_server: ServerFixture, server_client: Any,
) -> None:
    """Bulk decisions take each listed row's pause_id as what the reviewer saw."""
    from console.core.ledger.apply import BulkTarget, reject_many
    from console.core.ledger.bulk import approve_many
    from console.core.models import PendingFilter

    rejected = await paused_threads(server_client, "raw", 3)
    approved = await paused_threads(server_client, "before", 3)
    raw = {"policy": {"bulk_approve": ["before"]}}
    async with deciding(langgraph_server.url, raw=raw) as decider:
        listed = {t.thread_id: t for t in await decider.store.pending(PendingFilter())}
        results = await reject_many(decider, [BulkTarget(t, pause_id_of(listed[t]))
                                              for t in rejected], "bulk no")
        assert {r.status for r in results} == {"rejected"}, results
        done = await approve_many(decider, [listed[t] for t in approved])
        assert {r.status for r in done} == {"approved"}, done
    assert all(_ran(langgraph_server, t, "act") == 0 for t in rejected)
    assert all(_ran(langgraph_server, t, "act") == 1 for t in approved)
