"""Bulk rejection through the console's ledger vs a plain LangGraph resume loop.

For each backend: seed N threads of a trivial graph paused at `interrupt()`, then
  plain:   sequential `graph.ainvoke(Command(resume="rejected: ..."))`, no ledger;
  console: `hitl-console reject --all --yes` (the CLI's bulk path: claim in the ledger,
           resume, finalise; bounded parallelism), timed end to end as a subprocess.
Prints threads/s and the ratio. Targets (issue 3): ledger cost <= 2x the plain loop,
and 1,000 rejections in <= 30 s.

    python benchmarks/bulk_reject.py [--threads 1000] [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import operator
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Annotated, Any, TypedDict

import psycopg
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from console.core.dburl import parse_db_url  # noqa: E402
from console.core.store import open_store  # noqa: E402

PG_SERVER = os.environ.get("HITL_TEST_PG", "postgresql://root@127.0.0.1:5432/postgres")
REASON = "benchmark rejection"


class State(TypedDict, total=False):
    topic: str
    received: Annotated[list[Any], operator.add]
    effects: Annotated[list[str], operator.add]


def _gate(state: State) -> dict[str, Any]:
    return {"received": [interrupt({"question": f"do {state['topic']}?"})]}


def _act(state: State) -> dict[str, Any]:
    return {"effects": ["acted"]}


def _route(state: State) -> str:
    return END if str(state["received"][-1]).startswith("rejected") else "act"


def _build() -> Any:
    builder = StateGraph(State)
    builder.add_node("gate", _gate)
    builder.add_node("act", _act)
    builder.add_edge(START, "gate")
    builder.add_conditional_edges("gate", _route, ["act", END])
    builder.add_edge("act", END)
    return builder.compile(name="trivial")


graph = _build()


async def _seed(url: str, count: int) -> list[str]:
    store = await open_store(parse_db_url(url), create=True)
    try:
        runnable = graph.copy(update={"checkpointer": store.saver})
        ids = [f"bulk-{i:05d}" for i in range(count)]
        for thread_id in ids:
            await runnable.ainvoke(
                {"topic": thread_id},
                {"configurable": {"thread_id": thread_id}, "metadata": {"graph_id": "trivial"}},
            )
        return ids
    finally:
        await store.close()


async def _plain_loop(url: str, ids: list[str]) -> float:
    store = await open_store(parse_db_url(url))
    try:
        runnable = graph.copy(update={"checkpointer": store.saver})
        started = time.perf_counter()
        for thread_id in ids:
            await runnable.ainvoke(
                Command(resume=f"rejected: {REASON}"), {"configurable": {"thread_id": thread_id}}
            )
        return time.perf_counter() - started
    finally:
        await store.close()


def _console_bulk(url: str, count: int) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "console",
            "reject",
            "--all",
            "--yes",
            "--reason",
            REASON,
            "--db",
            url,
            "--graph",
            "trivial=benchmarks.bulk_reject:graph",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"console bulk reject failed ({result.returncode}): {result.stderr}")
    counts = json.loads(result.stdout)["counts"]
    if counts.get("rejected") != count:
        raise SystemExit(f"expected {count} rejections, got {counts}")
    return elapsed, counts


def _urls(backend: str, tmp: Path) -> tuple[str, str, Any]:
    """Two fresh databases (plain, console) and a cleanup callback."""
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'plain.sqlite'}", f"sqlite:///{tmp / 'console.sqlite'}", None
    names = [f"bench_bulk_{os.getpid()}_{uuid.uuid4().hex[:6]}_{k}" for k in ("a", "b")]
    with psycopg.connect(PG_SERVER, autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG_SERVER, autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    base = PG_SERVER.rsplit("/", 1)[0]
    return f"{base}/{names[0]}", f"{base}/{names[1]}", drop


def run(backend: str, count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        plain_url, console_url, cleanup = _urls(backend, Path(tmp))
        try:
            t0 = time.perf_counter()
            ids = asyncio.run(_seed(plain_url, count))
            asyncio.run(_seed(console_url, count))
            seeded = time.perf_counter() - t0
            plain = asyncio.run(_plain_loop(plain_url, ids))
            console, _ = _console_bulk(console_url, count)
        finally:
            if cleanup:
                cleanup()
    return {
        "backend": backend,
        "threads": count,
        "seed_s": seeded,
        "plain_s": plain,
        "console_s": console,
        "ratio": console / plain,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1000)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    rows = [run(b.strip(), args.threads) for b in args.backends.split(",") if b.strip()]
    print(f"\nbulk reject of {args.threads} paused threads (console time includes CLI start-up)")
    print(
        f"{'backend':<9} {'plain loop':>11} {'thr/s':>7} {'console':>9} {'thr/s':>7} "
        f"{'ratio':>6}  target           result"
    )
    for r in rows:
        ok = r["ratio"] <= 2.0 and r["console_s"] <= 30.0 * r["threads"] / 1000
        print(
            f"{r['backend']:<9} {r['plain_s']:>10.2f}s {r['threads'] / r['plain_s']:>7.0f} "
            f"{r['console_s']:>8.2f}s {r['threads'] / r['console_s']:>7.0f} "
            f"{r['ratio']:>5.2f}x  <=2x and <=30s    {'PASS' if ok else 'FAIL'}"
        )


if __name__ == "__main__":
    main()
