"""A real `langgraph dev` Agent Server for the server tests, started once per session.

The server runs the tests' own graphs (`tests/server/graphs/graph.py`, one graph per pause
form) in memory on a free localhost port, from a temporary directory holding a
`langgraph.json` that names them. The graphs append their side effects to a file whose
path the fixture passes in `HITL_SERVER_EFFECTS` (`ServerFixture.effects`), so a test can
count how often a gated action really ran.

A server that does not come up fails the run with its log: these tests never skip what
they are meant to prove.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.server.graphs.graph import EFFECTS_ENV, GRAPHS

GRAPH_FILE = Path(__file__).parent / "graphs" / "graph.py"
START_TIMEOUT = 90.0  # seconds; it starts in ~1-3 s here, more on a loaded machine
JOBS_PER_WORKER = 8


@dataclass(frozen=True)
class ServerFixture:
    """A running `langgraph dev`: its base URL, effects file and log."""

    url: str
    effects: Path
    log: Path
    workdir: Path

    def effect_lines(self) -> list[dict[str, Any]]:
        """Every side effect recorded so far, in order."""
        if not self.effects.exists():
            return []
        return [json.loads(line) for line in self.effects.read_text().splitlines() if line]

    def effects_of(self, thread_id: str, event: str = "ran") -> list[dict[str, Any]]:
        """The side effects of one thread (`ran`: gated actions; `received`: answers)."""
        return [e for e in self.effect_lines()
                if e["thread"] == thread_id and e["event"] == event]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_ok(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`langgraph dev` exited with code {process.returncode} before "
                        f"serving {url}; its log:\n{_log_tail(log)}", pytrace=False)
        try:
            with urllib.request.urlopen(f"{url}/ok", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"`langgraph dev` did not answer {url}/ok within {START_TIMEOUT:.0f} s; "
                f"its log:\n{_log_tail(log)}", pytrace=False)


# `langgraph dev` with its pickle-file persistence off. langgraph-cli 0.4.40 drops the
# `disable_persistence` key of langgraph.json when it validates it, then sets
# LANGGRAPH_DISABLE_FILE_PERSISTENCE=false before the in-memory runtime is imported (which
# reads it at import): importing the runtime's modules first, with the variable set to
# true, is the one way to have it off.
_NO_PERSISTENCE_LAUNCH = (
    "import sys; import langgraph_runtime_inmem.checkpoint, langgraph_runtime_inmem._persistence;"
    " from langgraph_cli.cli import cli; sys.argv[0] = 'langgraph'; cli()")


def start_server(workdir: Path, *, jobs: int = JOBS_PER_WORKER,
                 extra_env: Mapping[str, str] | None = None,
                 persistence: bool = True,
                 ) -> tuple[subprocess.Popen[bytes], ServerFixture]:
    """Start `langgraph dev` serving every test graph from `workdir`; wait for /ok.
    `persistence=False`: without the dev server's pickle files, whose reload makes every
    `get_state` cost time in proportion to the server's size. The caller stops it with
    `stop_server` (benchmarks use this too)."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(GRAPH_FILE, workdir / "graph.py")
    (workdir / "langgraph.json").write_text(json.dumps({
        "dependencies": ["."],
        "graphs": {name: f"./graph.py:{name}" for name in GRAPHS},
    }))
    effects = workdir / "effects.jsonl"
    effects.touch()
    log = workdir / "server.log"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    binary = Path(sys.executable).parent / "langgraph"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: install the dev extras (langgraph-cli[inmem]).",
                    pytrace=False)
    env = {**os.environ, EFFECTS_ENV: str(effects), "LANGSMITH_TRACING": "false",
           "LANGGRAPH_API_KEY": "", **(extra_env or {})}
    env.pop("LANGGRAPH_API_KEY")
    launch = [str(binary)]
    if not persistence:
        env["LANGGRAPH_DISABLE_FILE_PERSISTENCE"] = "true"
        launch = [sys.executable, "-c", _NO_PERSISTENCE_LAUNCH]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*launch, "dev", "--host", "127.0.0.1", "--port", str(port), "--no-browser",
             "--no-reload", "--n-jobs-per-worker", str(jobs)],
            cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole
        )
    try:
        _wait_ok(url, process, log)
    except BaseException:
        stop_server(process)
        raise
    return process, ServerFixture(url, effects, log, workdir)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop the server's process group (SIGTERM, then SIGKILL after 10 s)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="session")
def langgraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFixture]:
    """One `langgraph dev` for the whole session, stopped at the end."""
    process, server = start_server(tmp_path_factory.mktemp("langgraph-dev"))
    try:
        yield server
    finally:
        stop_server(process)


@pytest.fixture
async def server_client(langgraph_server: ServerFixture) -> AsyncIterator[Any]:
    """An SDK client on the session's server (for setting threads up, and as the oracle)."""
    from langgraph_sdk import get_client

    client = get_client(url=langgraph_server.url, api_key=None)
    try:
        yield client
    finally:
        await client.http.client.aclose()


# --- threads paused in each form ---------------------------------------------------------

FIRST_INPUT: dict[str, Any] = {"topic": "news"}


async def run_until_paused(client: Any, graph: str, *, inputs: Any = None,
                           thread_id: str | None = None,
                           metadata: Mapping[str, Any] | None = None) -> str:
    """A new thread of `graph` (graph id in its metadata) run until it pauses; its id.
    Fails unless the server reports it `interrupted`."""
    if thread_id is None:
        thread = await client.threads.create(metadata={"graph_id": graph, **(metadata or {})})
        thread_id = str(thread["thread_id"])
    await client.runs.wait(thread_id, graph, input=FIRST_INPUT if inputs is None else inputs,
                           multitask_strategy="reject")
    status = (await client.threads.get(thread_id))["status"]
    assert status == "interrupted", f"{graph} thread {thread_id} is {status}, not paused"
    return thread_id


async def paused_threads(client: Any, graph: str, count: int, *,
                         concurrency: int = JOBS_PER_WORKER) -> list[str]:
    """`count` threads of `graph`, each paused at its first question or breakpoint."""
    gate = asyncio.Semaphore(concurrency)

    async def one() -> str:
        async with gate:
            return await run_until_paused(client, graph)

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def answer(client: Any, thread_id: str, graph: str,
                 resume: Mapping[str, Any] | None) -> dict[str, Any]:
    """Resume a paused thread the safe way (keyed by interrupt id; `None`: continue past a
    breakpoint) and wait for the run; the thread as the server reports it after."""
    command = {"resume": dict(resume)} if resume is not None else None
    await client.runs.wait(thread_id, graph, command=command,
                           input=None, multitask_strategy="reject")
    return dict(await client.threads.get(thread_id))


async def pending_ids(client: Any, thread_id: str) -> list[str]:
    """The interrupt ids LangGraph's get_state says are pending at the thread's head."""
    state = await client.threads.get_state(thread_id)
    return [i["id"] for task in state["tasks"] for i in task.get("interrupts", [])]


@pytest.fixture
async def paused(server_client: Any) -> dict[str, str]:
    """One fresh paused thread of every test graph, by graph id (`twice`: at its first
    question)."""
    ids = await asyncio.gather(*(run_until_paused(server_client, g) for g in GRAPHS))
    return dict(zip(GRAPHS, ids, strict=True))
