"""`hitl-console pending` / `show` against a real `langgraph dev`, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.server.conftest import ServerFixture, _free_port, pending_ids

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "HITL_CONFIG": "",
                **(env or {})}
    full_env.pop("HITL_DB", None)
    full_env.pop("LANGGRAPH_API_KEY", None)
    return subprocess.run([sys.executable, "-m", "console.cli", *args], cwd=cwd,
                          env=full_env, capture_output=True, text=True, timeout=120)


async def test_pending_and_show_json(langgraph_server: ServerFixture, paused: dict[str, str],
                                     server_client: Any, tmp_path: Path) -> None:
    done = cli("pending", "--db", langgraph_server.url, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = {r["thread_id"]: r for r in json.loads(done.stdout)}
    for graph, thread_id in paused.items():
        row = rows[thread_id]
        state = await server_client.threads.get_state(thread_id)
        assert row["graph"] == graph
        assert row["checkpoint_id"] == state["checkpoint"]["checkpoint_id"], graph
        assert row["interrupt_ids"] == sorted(
            (i["id"] for t in state["tasks"] for i in t["interrupts"]),
            key=lambda i: next(t["id"] for t in state["tasks"]
                               if any(x["id"] == i for x in t["interrupts"])))
        assert row["nodes"], graph
    assert rows[paused["before"]]["kind"] == "before"
    assert rows[paused["before"]]["convention"] == "breakpoint"
    assert rows[paused["hitl"]]["convention"] == "langchain-hitl"

    thread_id = paused["inbox"]
    shown = cli("show", thread_id, "--db", langgraph_server.url, "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    view = json.loads(shown.stdout)
    assert view["pause_id"] == rows[thread_id]["pause_id"]  # what --expect takes
    assert view["interrupts"][0]["id"] == (await pending_ids(server_client, thread_id))[0]
    assert set(view["allowed_decisions"]) >= {"accept", "edit", "response", "ignore"}
    assert view["values"]["topic"] == "news"
    text = cli("show", thread_id, "--db", langgraph_server.url, cwd=tmp_path)
    assert text.returncode == 0 and "wire money" in text.stdout


def test_filters_on_the_command_line(langgraph_server: ServerFixture,
                                     paused: dict[str, str], tmp_path: Path) -> None:
    done = cli("pending", "--db", langgraph_server.url, "--json", "--graph", "hitl",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert paused["hitl"] in {r["thread_id"] for r in rows}
    assert {r["graph"] for r in rows} == {"hitl"}
    at_act = cli("pending", "--db", langgraph_server.url, "--node", "act", "--json",
                 cwd=tmp_path)
    assert at_act.returncode == 0, at_act.stderr
    ids = {r["thread_id"] for r in json.loads(at_act.stdout)}
    assert {paused["before"], paused["after"]} <= ids and paused["raw"] not in ids
    text = cli("pending", "--db", langgraph_server.url, "--node", "act", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "before/breakpoint" in text.stdout and "interrupt/" not in text.stdout


def test_errors_are_sentences(langgraph_server: ServerFixture, tmp_path: Path) -> None:
    missing = cli("show", "00000000-0000-0000-0000-000000000000", "--db",
                  langgraph_server.url, cwd=tmp_path)
    assert missing.returncode == 4 and "was not found" in missing.stderr
    assert "Traceback" not in missing.stderr
    down = f"http://127.0.0.1:{_free_port()}"
    refused = cli("pending", "--db", down, "--json", cwd=tmp_path)
    assert refused.returncode == 1
    assert "cannot be reached" in refused.stderr and "Traceback" not in refused.stderr
    assert json.loads(refused.stdout)["error"]["type"] == "DatabaseUnavailable"
    setup = cli("setup", "--db", langgraph_server.url, cwd=tmp_path)
    assert setup.returncode == 1 and "Agent Server" in setup.stderr
    # a key passed on the command line is never echoed, even in errors
    keyed = cli("pending", "--db", down, "--api-key", "sk-very-secret-123", cwd=tmp_path)
    assert "sk-very-secret-123" not in keyed.stderr + keyed.stdout
    # a URL with a path the API does not answer at is a wrong URL, not a missing thread
    for wrong in (f"{langgraph_server.url}/docs", f"{langgraph_server.url}/nope"):
        pathed = cli("pending", "--db", wrong, cwd=tmp_path)
        assert pathed.returncode == 2, pathed.stderr
        assert "does not answer as a LangGraph Agent Server" in pathed.stderr
        assert "thread" not in pathed.stderr and "Traceback" not in pathed.stderr
