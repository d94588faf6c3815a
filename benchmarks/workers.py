"""Worker mode on PostgreSQL: throughput by number of workers, and decision-to-applied latency.

Throughput: seed N threads of a trivial graph paused at `interrupt()`, queue N approvals
from a console without graphs (worker mode), then start K `hitl-console worker`
processes (concurrency 1 each) and time the queue being emptied, from the ledger's own
timestamps (first claim to last finalisation, the server's clock; process start-up is
excluded and shown apart). Baseline: the same N decisions applied inline by one console
process (`Decider` with the graph loaded), the way without workers.

Latency: one worker (concurrency 1) waits idle; a console queues decisions one at a time
at random intervals; latency = the ledger's `finished_at - created_at` (recorded, then
applied) per decision. Compared: woken by LISTEN/NOTIFY vs polling every 1s (the default
`poll_interval`) and every 250ms.

    python benchmarks/workers.py [--decisions 200] [--workers 1,2,4] [--latency 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_SERVER = os.environ.get("HITL_TEST_PG", "postgresql://root@127.0.0.1:5432/postgres")
GRAPH_SPEC = "trivial=benchmarks.bulk_reject:graph"


# The same trivial gate -> act graph as bulk_reject.py: one definition for both benchmarks.
from benchmarks.bulk_reject import graph  # noqa: E402

# ------------------------------------------------------------------------- setup


class Database:
    """A fresh database for the run; each measurement gets its own schema in it."""

    def __init__(self) -> None:
        self.name = f"bench_workers_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.base = PG_SERVER.rsplit("/", 1)[0]
        self.count = 0

    def __enter__(self) -> Database:
        with psycopg.connect(PG_SERVER, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        return self

    def __exit__(self, *exc: Any) -> None:
        with psycopg.connect(PG_SERVER, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def schema_url(self) -> str:
        self.count += 1
        schema = f"s{self.count}"
        url = f"{self.base}/{self.name}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        return f"{url}?options={quote(f'-csearch_path={schema}')}"


async def _seed(url: str, count: int) -> list[str]:
    from console.core.dburl import parse_db_url
    from console.core.ledger.db import install_ledger
    from console.core.store import open_store

    store = await open_store(parse_db_url(url), create=True)
    try:
        await store.setup()
        await install_ledger(store)
        runnable = graph.copy(update={"checkpointer": store.saver})
        ids = [f"w-{i:05d}" for i in range(count)]
        for thread_id in ids:
            await runnable.ainvoke({"topic": thread_id}, {
                "configurable": {"thread_id": thread_id}, "metadata": {"graph_id": "trivial"}})
        return ids
    finally:
        await store.close()


async def _decide(url: str, ids: list[str], *, inline: bool,
                  gaps: tuple[float, float] | None = None) -> float:
    """Approve each thread from a console; inline applies them too. Returns seconds."""
    from console.core.dburl import parse_db_url
    from console.core.graphs import GraphInfo, GraphRegistry
    from console.core.ledger.apply import Decider, current_origin
    from console.core.ledger.decisions import DecisionInput
    from console.core.ledger.rows import DecisionType
    from console.core.store import open_store

    registry = GraphRegistry([GraphInfo.of("trivial", graph)]) if inline else GraphRegistry()
    store = await open_store(parse_db_url(url), registry)
    rng = random.Random(7)
    try:
        decider = Decider(store, current_origin("bench"), worker_mode=not inline)
        started = time.perf_counter()
        for thread_id in ids:
            await decider.decide(thread_id, DecisionInput(DecisionType.APPROVE))
            if gaps:
                await asyncio.sleep(rng.uniform(*gaps))
        return time.perf_counter() - started
    finally:
        await store.close()


def _start_workers(url: str, count: int, *extra: str) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen(
        [sys.executable, "-m", "console", "worker", "--db", url, "--graph", GRAPH_SPEC,
         "--quiet", *extra], cwd=ROOT, stdout=subprocess.DEVNULL) for _ in range(count)]


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        if proc.wait(timeout=60) != 0:
            raise SystemExit(f"a worker exited with {proc.returncode}")


def _query(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def _wait_applied(url: str, count: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (done,) = _query(url, "SELECT count(*) FROM hitl_decisions WHERE status = 'applied'")[0]
        if done >= count:
            return
        failed = _query(url, "SELECT count(*) FROM hitl_decisions WHERE status = 'failed'")[0][0]
        if failed:
            raise SystemExit(f"{failed} decision(s) failed")
        time.sleep(0.1)
    raise SystemExit("the workers did not empty the queue in time")


def _wait_listening(url: str, count: int, wake: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = _query(url, "SELECT count(*) FROM hitl_workers WHERE state = 'running'"
                           f" AND wake = '{wake}'")
        if rows[0][0] >= count:
            return
        time.sleep(0.1)
    raise SystemExit("the workers did not start")


# ------------------------------------------------------------------ measurements


def throughput(db: Database, decisions: int, workers: int) -> dict[str, Any]:
    url = db.schema_url()
    ids = asyncio.run(_seed(url, decisions))
    asyncio.run(_decide(url, ids, inline=False))
    started = time.perf_counter()
    procs = _start_workers(url, workers)
    try:
        _wait_applied(url, decisions)
        wall = time.perf_counter() - started
    finally:
        _stop(procs)
    ((span, apply_ms, by_workers),) = _query(url, """
        SELECT extract(epoch FROM max(finished_at) - min(claimed_at)),
               percentile_cont(0.5) WITHIN GROUP (
                   ORDER BY extract(epoch FROM finished_at - started_at)) * 1000,
               count(DISTINCT claimed_by)
        FROM hitl_decisions WHERE status = 'applied'""")
    return {"workers": workers, "decisions": decisions, "span_s": float(span),
            "per_s": decisions / float(span), "wall_s": wall, "apply_ms": float(apply_ms),
            "workers_used": int(by_workers)}


def inline_baseline(db: Database, decisions: int) -> dict[str, Any]:
    url = db.schema_url()
    ids = asyncio.run(_seed(url, decisions))
    seconds = asyncio.run(_decide(url, ids, inline=True))
    return {"decisions": decisions, "seconds": seconds, "per_s": decisions / seconds}


def latency(db: Database, decisions: int, label: str, *extra: str) -> dict[str, Any]:
    url = db.schema_url()
    ids = asyncio.run(_seed(url, decisions))
    procs = _start_workers(url, 1, *extra)
    try:
        _wait_listening(url, 1, "poll" if "--no-listen" in extra else "notify")
        asyncio.run(_decide(url, ids, inline=False, gaps=(0.05, 0.35)))
        _wait_applied(url, decisions)
    finally:
        _stop(procs)
    rows = _query(url, "SELECT extract(epoch FROM finished_at - created_at) * 1000,"
                       " extract(epoch FROM finished_at - started_at) * 1000"
                       " FROM hitl_decisions WHERE status = 'applied'")
    waits = sorted(float(r[0]) for r in rows)
    applies = [float(r[1]) for r in rows]
    return {"mode": label, "decisions": len(waits), "median_ms": statistics.median(waits),
            "p95_ms": waits[max(0, round(0.95 * len(waits)) - 1)],
            "apply_ms": statistics.median(applies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=200)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--latency", type=int, default=40, metavar="N",
                        help="decisions per latency measurement")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    print(f"PostgreSQL, {os.cpu_count()} cores; trivial graph (gate -> act); "
          f"{args.decisions} decisions per throughput run\n")
    with Database() as db:
        base = inline_baseline(db, args.decisions)
        print(f"inline (one console applies each decision itself): {base['per_s']:6.1f}/s "
              f"({base['seconds']:.2f}s)")
        first = None
        for workers in counts:
            r = throughput(db, args.decisions, workers)
            first = first or r["per_s"]
            print(f"{workers} worker(s): {r['per_s']:6.1f}/s ({r['span_s']:.2f}s first claim to "
                  f"last applied; {r['wall_s']:.2f}s with start-up; median apply "
                  f"{r['apply_ms']:.1f} ms; {r['workers_used']} took part) "
                  f"x{r['per_s'] / first:.2f} vs 1 worker, x{r['per_s'] / base['per_s']:.2f} "
                  "vs inline")
        print(f"\nlatency, recorded -> applied ({args.latency} decisions, random gaps "
              "50-350 ms, one idle worker):")
        results = [latency(db, args.latency, "LISTEN/NOTIFY"),
                   latency(db, args.latency, "polling 1s", "--no-listen", "--poll", "1s"),
                   latency(db, args.latency, "polling 250ms", "--no-listen", "--poll", "0.25s")]
        for r in results:
            print(f"{r['mode']:<14} median {r['median_ms']:7.1f} ms   p95 {r['p95_ms']:7.1f} ms"
                  f"   (of which applying: median {r['apply_ms']:.1f} ms)")
        notify, poll = results[0], results[1]
        print(f"polling 1s / NOTIFY: x{poll['median_ms'] / notify['median_ms']:.1f} median, "
              f"x{poll['p95_ms'] / notify['p95_ms']:.1f} p95")


if __name__ == "__main__":
    main()
