"""The command line as scripts use it: JSON shapes, exit codes, one-sentence errors."""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from console.cli import main
from console.core.dburl import parse_db_url
from console.core.store import open_store
from console.demo import graphs as demo_graphs
from console.demo.seed import seed_demo

ROOT = Path(__file__).resolve().parents[2]
DEMO_GRAPHS = [f"--graph={n}=console.demo.graphs:{n}" for n in demo_graphs.DEMO_GRAPHS]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env or os.environ.copy(), timeout=120)


@pytest.fixture
async def seeded(db_url: str) -> str:
    store = await open_store(parse_db_url(db_url), create=True)
    try:
        await seed_demo(store.saver, 12)
    finally:
        await store.close()
    return db_url


async def test_pending_json_contract(seeded: str) -> None:
    result = run("pending", "--db", seeded, "--json", *DEMO_GRAPHS)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows
    for row in rows:
        assert {"thread_id", "checkpoint_id", "graph", "nodes", "kind", "convention",
                "interrupt_ids", "paused_at", "summary"} <= set(row)
        assert row["paused_at"].endswith("Z")
        assert row["kind"] in ("interrupt", "before", "after")
        assert row["convention"] in ("langchain-hitl", "agent-inbox", "tool-approval",
                                     "schema", "raw", "breakpoint")
    assert [r["paused_at"] for r in rows] == sorted(r["paused_at"] for r in rows)
    kinds = {r["kind"] for r in rows}
    assert {"interrupt", "before", "after"} <= kinds
    # a bare --graph NAME filters; options work before the subcommand too
    only = run("--db", seeded, "--json", "pending", "--graph", "email", *DEMO_GRAPHS)
    assert {r["graph"] for r in json.loads(only.stdout)} == {"email"}
    limited = json.loads(run("pending", "--db", seeded, "--json", "--limit", "2").stdout)
    assert len(limited) == 2
    # --search means what the TUI's / filter means: graph:/node: tokens narrow
    searched = run("pending", "--db", seeded, "--json", "--search", "graph:email")
    assert searched.returncode == 0, searched.stderr
    assert sorted(r["thread_id"] for r in json.loads(searched.stdout)) == sorted(
        r["thread_id"] for r in json.loads(only.stdout))
    clash = run("pending", "--db", seeded, "--graph", "email", "--search", "graph:refund")
    assert clash.returncode == 2 and "disagree" in clash.stderr


async def test_show_bundle_is_redacted(seeded: str) -> None:
    result = run("show", "hitl_agent-0002", "--db", seeded, "--json", *DEMO_GRAPHS)
    assert result.returncode == 0, result.stderr
    bundle = json.loads(result.stdout)
    assert bundle["pending"]["convention"] == "langchain-hitl"
    # only what one decision for the whole request can be (respond is refused below:
    # delete_records does not allow it)
    assert bundle["allowed_decisions"] == ["approve", "edit", "reject"]
    assert bundle["interrupts"][0]["value"]["action_requests"]
    assert not re.search(r"sk-[A-Za-z0-9]{16}|eyJ[A-Za-z0-9_-]{8}", result.stdout)
    assert "«redacted:" in result.stdout
    text = run("show", "hitl_agent-0002", "--db", seeded)
    assert text.returncode == 0 and "action_requests" in text.stdout


async def test_a_reader_that_leaves_early_gets_no_traceback(seeded: str) -> None:
    """`pending | true`: the pipe is closed before the console writes. It stops quietly
    with 141 (128 + SIGPIPE, as cat or grep would), not with a BrokenPipeError."""
    command = (f"{shlex.quote(sys.executable)} -m console pending --db {shlex.quote(seeded)}"
               " | true; exit ${PIPESTATUS[0]}")
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 141, result.stderr
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr


def test_exit_codes_and_errors(tmp_path: Path, sqlite_url: str) -> None:
    cases = [
        (["pending", "--db", "mysql://x"], 2, "Unsupported database scheme"),
        (["pending"], 2, "No database given"),
        (["pending", "--db", str(tmp_path / "missing.sqlite")], 1, "does not exist"),
        (["pending", "--db", "postgresql://root@127.0.0.1:1/x"], 1, "Cannot connect"),
        (["pending", "--db", "--older-than", "soon"], 2, ""),
        # `demo --threads N` is a count, not thread ids: its errors are sentences too
        (["demo", "--no-tui", "--threads", "3", "--db", "postgresql://root@127.0.0.1:1/x"],
         1, "Cannot connect"),
    ]
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    cases.append((["pending", "--db", str(other)], 1, "no LangGraph checkpoint tables"))
    for argv, code, message in cases:
        result = run(*argv)
        assert result.returncode == code, (argv, result.stderr)
        assert message in result.stderr
        assert "Traceback" not in result.stderr
        if message:
            assert len(result.stderr.strip().splitlines()) == 1


async def test_unknown_and_not_pending_threads(seeded: str) -> None:
    missing = run("show", "nope", "--db", seeded, "--json")
    assert missing.returncode == 4
    assert json.loads(missing.stdout)["error"]["exit_code"] == 4
    done = run("approve", "email-resumed-0001", "--db", seeded, *DEMO_GRAPHS)
    assert done.returncode == 4 and "not waiting for a human" in done.stderr
    # show of a finished thread: the error (one sentence; with --json only the error
    # object on stdout), not the bundle
    shown = run("show", "email-resumed-0001", "--db", seeded, "--json")
    assert shown.returncode == 4 and json.loads(shown.stdout)["error"]["exit_code"] == 4
    assert len(shown.stderr.strip().splitlines()) == 1
    text = run("show", "email-resumed-0001", "--db", seeded)
    assert text.returncode == 4 and not text.stdout and "not waiting" in text.stderr


async def test_decisions_through_the_cli(seeded: str) -> None:
    first = run("approve", "tutorial-0001", "--db", seeded, "--json", *DEMO_GRAPHS,
                "--idempotency-key", "ik-1")
    assert first.returncode == 0, first.stderr
    body = json.loads(first.stdout)
    assert body["status"] == "applied"
    assert body["command"]["resume"] == {next(iter(body["command"]["resume"])): "approved"}
    again = run("approve", "tutorial-0001", "--db", seeded, "--json", *DEMO_GRAPHS,
                "--idempotency-key", "ik-1")
    assert again.returncode == 0 and json.loads(again.stdout)["status"] == "replayed"
    loser = run("approve", "tutorial-0001", "--db", seeded, *DEMO_GRAPHS)
    assert loser.returncode == 3 and "Conflict" in loser.stderr
    stale = run("reject", "email-0000", "--db", seeded, "--reason", "x", "--expect",
                "1f000000-0000-6000-8000-000000000000", *DEMO_GRAPHS)
    assert stale.returncode == 3
    typo = run("reject", "email-0000", "--db", seeded, "--reason", "x", "--expect",
               "not-a-checkpoint", *DEMO_GRAPHS)
    assert typo.returncode == 2 and "is neither a pause_id" in typo.stderr
    bad_json = run("approve", "email-0000", "--db", seeded, "--edit", "{nope", *DEMO_GRAPHS)
    assert bad_json.returncode == 2 and "not valid JSON" in bad_json.stderr
    replace = run("approve", "email-0000", "--db", seeded, "--edit",
                  '{"attachments": []}', *DEMO_GRAPHS)
    assert replace.returncode == 2 and "--force" in replace.stderr
    retyped = run("approve", "hitl_agent-0002", "--db", seeded, "--edit", '{"labels": 5}',
                  *DEMO_GRAPHS)  # a set[str] channel given a number
    assert retyped.returncode == 2 and "an int where the state holds a set" in retyped.stderr
    no_reason = run("reject", "email-0000", "--db", seeded, *DEMO_GRAPHS)
    assert no_reason.returncode == 2
    respond = run("respond", "hitl_agent-0002", "--db", seeded, "-m", "call me", *DEMO_GRAPHS)
    assert respond.returncode == 2 and "does not allow 'respond'" in respond.stderr
    audit = run("audit", "--db", seeded, "--csv")
    assert audit.returncode == 0 and audit.stdout.startswith("id,created_at")
    assert "tutorial-0001" in audit.stdout


async def test_bulk_reject_and_expire(seeded: str) -> None:
    listed = json.loads(run("pending", "--db", seeded, "--json", *DEMO_GRAPHS).stdout)
    emails = [r["thread_id"] for r in listed if r["graph"] in ("email", "tutorial")]
    result = run("reject", *emails, "missing-thread", "--db", seeded, "--reason", "batch",
                 "--json", *DEMO_GRAPHS)
    body = json.loads(result.stdout)
    assert body["counts"] == {"rejected": len(emails), "not_pending": 1}
    assert result.returncode == 3
    refused = run("reject", "--all", "--db", seeded, "--reason", "x", *DEMO_GRAPHS)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    dry = run("expire", "--older-than", "1h", "--dry-run", "--db", seeded, "--json",
              *DEMO_GRAPHS)
    would = json.loads(dry.stdout)["would_expire"]
    dry_text = run("expire", "--older-than", "1h", "--dry-run", "--db", seeded, *DEMO_GRAPHS)
    assert dry_text.stdout.splitlines() == [*would, f"{len(would)} would expire"]
    expired = run("expire", "--older-than", "1h", "--db", seeded, "--json", *DEMO_GRAPHS)
    assert expired.returncode == 0, expired.stdout + expired.stderr
    assert json.loads(expired.stdout)["counts"].get("rejected", 0) == len(would)
    lines = run("audit", "--db", seeded, "--json").stdout.splitlines()
    audit = [json.loads(line) for line in lines]
    assert sum(r["reason"] == "approval timeout" for r in audit) == len(would)
    # text output into a pipe: progress as whole lines, no carriage returns
    left = json.loads(run("pending", "--db", seeded, "--json", *DEMO_GRAPHS).stdout)
    others = [r["thread_id"] for r in left
              if r["graph"] in ("hitl_agent", "hitl_agent_js", "subgraph", "tutorial")][:2]
    piped = subprocess.run(  # bytes: text mode would turn a "\r" into a newline
        [sys.executable, "-m", "console", "reject", *others, "--db", seeded, "--reason",
         "batch", *DEMO_GRAPHS], capture_output=True, cwd=ROOT, timeout=120, check=False)
    assert piped.returncode == 0 and b"\r" not in piped.stderr, piped.stderr
    assert len(others) == 2 and b"2/2 rejected" in piped.stderr
    assert b"2 rejected" in piped.stdout


def test_help_for_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("tui", "demo", "setup", "pending", "show", "approve", "reject", "respond",
                    "expire", "audit", "reconcile"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "--db" in capsys.readouterr().out


def test_the_default_command_takes_its_options_without_its_name() -> None:
    """`tui` is the default command: `hitl-console --no-mouse` is `hitl-console tui
    --no-mouse` (it was refused as an unrecognized argument), before or after the name."""
    from console.cli import build_parser

    parser = build_parser()
    for argv in (["--no-mouse"], ["tui", "--no-mouse"], ["--no-mouse", "tui"],
                 ["demo", "--no-mouse"]):
        assert parser.parse_args(argv).no_mouse is True, argv
    for argv in ([], ["tui"], ["demo"]):
        assert parser.parse_args(argv).no_mouse is False, argv
