"""`reconcile` and the ledger commands on a real `langgraph dev`: in-flight decisions of
a `--ledger-db` ledger settle from the server's state (not delivered / applied /
stalled) without re-sending anything; without a ledger, and for commands a server has
no use for, one sentence says why and what to use instead."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from console.core.ledger.decisions import DecisionInput
from console.core.ledger.rows import DecisionType
from tests.server.conftest import ServerFixture, pending_ids, run_until_paused
from tests.server.test_decide import deciding
from tests.server.test_server_cli import cli

APPROVE = DecisionInput(DecisionType.APPROVE)


async def _in_flight(url: str, ledger: str, thread_id: str) -> int:
    """A claim a console made and never settled (as a crash mid-apply leaves it)."""
    async with deciding(url, ledger) as decider:
        await decider.ensure_ledger()
        pause, plan, _ = await decider._plan(thread_id, APPROVE, expect=None,
                                             expect_pause=None)
        claim = await decider.ledger.claim(decider._request(pause, APPROVE, plan, None))
        assert claim.row is not None and claim.row.status == "in_flight"
        return claim.row.id


def _reconcile(url: str, ledger: str, cwd: Path) -> dict[str, dict[str, Any]]:
    """`hitl-console reconcile --lease 0s --json`: what it settled, by thread id."""
    done = cli("reconcile", "--db", url, "--ledger-db", ledger, "--lease", "0s", "--json",
               cwd=cwd)
    assert done.returncode == 0, done.stderr
    return {s["thread_id"]: s for s in json.loads(done.stdout)["settled"]}


def _acts(server: ServerFixture, thread_id: str) -> int:
    return sum(1 for e in server.effects_of(thread_id) if e["node"] == "act")


async def test_reconcile_settles_in_flight_rows_from_the_server(
    langgraph_server: ServerFixture, server_client: Any, tmp_path: Path,
) -> None:
    url = langgraph_server.url
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    untouched, delivered, failed = [await run_until_paused(server_client, "raw")
                                    for _ in range(3)]
    ids = {t: await _in_flight(url, ledger, t) for t in (untouched, delivered, failed)}
    # the crashed console's resume got through on one, and failed the run on another
    [asked] = await pending_ids(server_client, delivered)
    await server_client.runs.wait(delivered, "raw", command={"resume": {asked: "approved"}},
                                  multitask_strategy="reject")
    [asked] = await pending_ids(server_client, failed)
    await server_client.runs.wait(failed, "raw", command={"resume": {asked: {
        "decisions": [1]}}}, multitask_strategy="reject", raise_error=False)
    assert (await server_client.threads.get(failed))["status"] == "error"
    assert await pending_ids(server_client, failed) == []

    settled = _reconcile(url, ledger, tmp_path)
    assert {t: (s["status"], s["delivery"]) for t, s in settled.items()} == {
        untouched: ("failed", "not_delivered"),
        delivered: ("applied", "finished"),
        failed: ("stalled", "stopped"),
    }
    assert {s["id"] for s in settled.values()} == set(ids.values())
    assert "still waiting" in settled[untouched]["outcome"]
    # nothing was re-sent: only the resume that got through ran the action
    assert (_acts(langgraph_server, untouched), _acts(langgraph_server, delivered),
            _acts(langgraph_server, failed)) == (0, 1, 0)
    assert await pending_ids(server_client, untouched)  # still waits, may be decided
    again = cli("reconcile", "--db", url, "--ledger-db", ledger, "--lease", "0s",
                cwd=tmp_path)
    assert again.returncode == 0 and "0 in-flight decision(s) settled" in again.stdout
    audit = cli("audit", "--db", url, "--ledger-db", ledger, "--json", cwd=tmp_path)
    assert audit.returncode == 0, audit.stderr
    rows = {r["id"]: r["status"] for r in map(json.loads, audit.stdout.splitlines())}
    assert rows == {ids[untouched]: "failed", ids[delivered]: "applied",
                    ids[failed]: "stalled"}


async def test_reconcile_settles_breakpoint_decisions_from_where_the_thread_stops(
    langgraph_server: ServerFixture, server_client: Any, tmp_path: Path,
) -> None:
    """A breakpoint has no interrupt id to look for: a decision is delivered when the
    thread no longer stops at the checkpoint it was made for. One crashed claim whose
    resume never left stays `failed` (the thread still stops there and may be decided);
    one whose resume got through is `applied`; nothing is re-sent."""
    url = langgraph_server.url
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    untouched, delivered = [await run_until_paused(server_client, "before") for _ in range(2)]
    for thread in (untouched, delivered):
        assert await pending_ids(server_client, thread) == []  # a breakpoint: no question
        assert (await server_client.threads.get_state(thread))["next"] == ["act"]
    ids = {t: await _in_flight(url, ledger, t) for t in (untouched, delivered)}
    # the crashed console's resume of the breakpoint got through on one thread
    await server_client.runs.wait(delivered, "before", input=None,
                                  multitask_strategy="reject")
    assert (await server_client.threads.get_state(delivered))["next"] == []

    settled = _reconcile(url, ledger, tmp_path)
    assert {t: (s["status"], s["delivery"]) for t, s in settled.items()} == {
        untouched: ("failed", "not_delivered"),
        delivered: ("applied", "finished"),
    }
    assert {s["id"] for s in settled.values()} == set(ids.values())
    assert "still stops at the breakpoint" in settled[untouched]["outcome"]
    assert (_acts(langgraph_server, untouched), _acts(langgraph_server, delivered)) == (0, 1)
    # the untouched breakpoint is still listed and can be decided now
    listed = cli("pending", "--db", url, "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert untouched in {r["thread_id"] for r in json.loads(listed.stdout)}
    approved = cli("approve", untouched, "--db", url, "--ledger-db", ledger, cwd=tmp_path)
    assert approved.returncode == 0, approved.stderr
    assert _acts(langgraph_server, untouched) == 1


async def test_commands_without_a_ledger_or_without_use_on_a_server_say_why(
    langgraph_server: ServerFixture, server_client: Any, tmp_path: Path,
) -> None:
    url = langgraph_server.url
    done = cli("reconcile", "--db", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Nothing to reconcile" in done.stdout and "--ledger-db" in done.stdout
    assert "Traceback" not in done.stderr
    audit = cli("audit", "--db", url, cwd=tmp_path)
    assert audit.returncode != 0 and "--ledger-db" in audit.stderr
    assert "Traceback" not in audit.stderr and len(audit.stderr.strip().splitlines()) == 1
    workers = cli("workers", "--db", url, cwd=tmp_path)
    assert workers.returncode != 0 and "Agent Server" in workers.stderr, workers.stderr
    assert "Traceback" not in workers.stderr and len(workers.stderr.strip().splitlines()) == 1
    worker = cli("worker", "--db", url, cwd=tmp_path)
    assert worker.returncode != 0 and "Agent Server" in worker.stderr, worker.stderr
    assert "Traceback" not in worker.stderr
    # expire works: the pause past its SLA is rejected through the server
    old = await run_until_paused(server_client, "inbox")
    dry = cli("expire", "--db", url, "--graph", "inbox", "--older-than", "0s",
              "--dry-run", "--json", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert old in json.loads(dry.stdout)["would_expire"]
    assert await pending_ids(server_client, old)  # a dry run sends nothing
    done = cli("expire", "--db", url, "--graph", "inbox", "--older-than", "0s",
               cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert await pending_ids(server_client, old) == []
    assert _acts(langgraph_server, old) == 0
    [received] = langgraph_server.effects_of(old, "received")
    assert received["value"] == [{"type": "ignore", "args": None}]  # Agent Inbox's reject
