"""What the safe decoder costs on every read figure of `pending_list.py`.

Whole `pending_list.py --serde langgraph` / `--serde safe` runs back to back carry the
machine's drift between them (the first run of a sitting was the slow one in both
orders, see README.md). This script seeds one Postgres database and one SQLite file the
way `pending_list.py` does, then measures each read figure with both serializers
alternately, in a random order each round, on the same data: LangGraph's default
`JsonPlusSerializer` (which imports and calls what a row names) and the console's
`SafeSerializer` (since the start-up work, the store decodes listing and review with the
serializer's `display_decoder()`, which needs no LangGraph; the baseline puts LangGraph's
`JsonPlusSerializer` in its place). It prints the medians of both and the cost: the
median over rounds of safe / langgraph within the round (the two timings of a round are
next to each other, so they share the machine's load); the target is a cost <= 1.10 on
every figure.

The write figures of `pending_list.py` (an application's `aput` with the console's
triggers installed) do not involve the console's serializer at all: the triggers are
SQL, and the application's own saver writes. They are not repeated here.

    .venv/bin/python benchmarks/serde_cost.py                  # 20k Postgres + 20k SQLite
    .venv/bin/python benchmarks/serde_cost.py --size 5000 --rounds 21

Exit status 1 if any figure costs more than the target.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _seed as seed
import pending_list as bench

from console.core.dburl import parse_db_url
from console.core.store import open_store

TARGET = 1.10
SERDES = ("langgraph", "safe")


CALLS: dict[str, int] = {name: 0 for name in SERDES}  # loads_typed calls, all rounds


def serializer(name: str) -> Any:
    """A fresh serializer of that kind whose decodes are counted in CALLS (a figure whose
    reads never call the serializer cannot cost anything: its ratio is the machine's)."""
    from console.core.serde import SafeSerializer

    serde = SafeSerializer()
    # what the store decodes listing and review with: the console's display decoder, or
    # (the baseline) LangGraph's default serializer, which imports what a row names
    decoder: Any = serde.display_decoder()
    if name == "langgraph":
        from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

        decoder = JsonPlusSerializer()
    decode = decoder.loads_typed

    def counted(data: tuple[str, bytes]) -> Any:
        CALLS[name] += 1
        return decode(data)

    decoder.loads_typed = counted
    serde.display_decoder = lambda: decoder  # type: ignore[method-assign]
    return serde


Measure = Callable[[Any], Awaitable[float]]


async def interleaved(rounds: int, measure: Measure, rnd: random.Random) -> dict[str, list[float]]:
    """`rounds` timings of `measure(serde)` per serializer, the order shuffled each round."""
    runs: dict[str, list[float]] = {name: [] for name in SERDES}
    CALLS.update(dict.fromkeys(SERDES, 0))
    for _ in range(rounds):
        order = list(SERDES)
        rnd.shuffle(order)
        for name in order:
            runs[name].append(await measure(serializer(name)))
    return runs


def fresh_store_read(uri: str, limit: int | None) -> Measure:
    """One `pending()` on a store opened for it (a console start; the open not timed)."""

    async def measure(serde: Any) -> float:
        store = await open_store(parse_db_url(uri), seed.graph_registry(), serde=serde)
        try:
            t0 = time.perf_counter()
            await store.pending(limit=limit)
            return time.perf_counter() - t0
        finally:
            await store.close()

    return measure


def warm_read(uri: str) -> Measure:
    """A refresh: `pending()` again on a store that read the queue once already."""

    async def measure(serde: Any) -> float:
        store = await open_store(parse_db_url(uri), seed.graph_registry(), serde=serde)
        try:
            await store.pending()
            t0 = time.perf_counter()
            await store.pending()
            return time.perf_counter() - t0
        finally:
            await store.close()

    return measure


def sqlite_setup(path: Path, workdir: Path) -> Measure:
    """`setup()` (decodes every head) on a fresh copy of the file made before setup."""

    async def measure(serde: Any) -> float:
        copy = workdir / "setup_copy.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(str(copy) + suffix).unlink(missing_ok=True)
        await asyncio.to_thread(bench.sqlite_copy, path, copy)
        store = await open_store(parse_db_url(f"sqlite:///{copy}"), seed.graph_registry(),
                                 serde=serde)
        try:
            t0 = time.perf_counter()
            await store.setup()
            return time.perf_counter() - t0
        finally:
            await store.close()

    return measure


Figure = tuple[str, str, dict[str, list[float]], int]  # ..., decodes per timing


async def run(args: argparse.Namespace) -> list[Figure]:
    rnd = random.Random(args.size)
    figures: list[Figure] = []

    async def figure(backend: str, name: str, measure: Measure) -> None:
        bench.log(f"  {backend}: {name} ({bench._load()})")
        runs = await interleaved(args.rounds, measure, rnd)
        figures.append((backend, name, runs, CALLS["safe"] // args.rounds))

    templates = await seed.build_templates(bench.TEMPLATES_PER_SCENARIO)
    with (
        tempfile.TemporaryDirectory(prefix="bench_serde_") as tmp,
        seed.Seeder(templates, workers=args.workers) as seeder,
    ):
        workdir = Path(tmp)
        n = args.size
        page = bench.PAGE
        # -- Postgres: before and after setup (setup itself is SQL: no serializer)
        dbname = f"bench_serde_{os.getpid()}_{n}"
        url, uri = bench.pg_url(args.pg, dbname), bench.pg_uri(args.pg, dbname)
        await bench.admin_exec(args.pg, f"CREATE DATABASE {dbname}")
        try:
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

            async with AsyncPostgresSaver.from_conn_string(url) as saver:
                await saver.setup()
            plans = seed.make_plans(n, seed=n, templates_per_scenario=bench.TEMPLATES_PER_SCENARIO)
            await bench.pg_seed(seeder, url, plans, f"{bench._threads(n)} threads")
            await figure("postgres", "all, no setup", fresh_store_read(uri, None))
            await figure("postgres", f"first page ({page}), no setup",
                         fresh_store_read(uri, page))
            store = await open_store(parse_db_url(uri), seed.graph_registry())
            try:
                await store.setup()
            finally:
                await store.close()
            await bench.pg_exec(url, "VACUUM ANALYZE")
            await figure("postgres", f"first page ({page}), after setup",
                         fresh_store_read(uri, page))
            await figure("postgres", "all, after setup", fresh_store_read(uri, None))
            await figure("postgres", "all, warm refresh after setup", warm_read(uri))
        finally:
            await bench.admin_exec(args.pg, f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
        # -- SQLite: fresh store, warm refresh, setup, after setup
        path = workdir / f"serde_{n}.sqlite"
        await seed.ensure_sqlite_schema(str(path))
        plans = seed.make_plans(n, seed=n + 7, templates_per_scenario=bench.TEMPLATES_PER_SCENARIO)
        await asyncio.to_thread(seeder.sqlite, str(path), plans)
        sqlite_uri = f"sqlite:///{path}"
        await figure("sqlite", "all, fresh store, no setup", fresh_store_read(sqlite_uri, None))
        await figure("sqlite", f"first page ({page}), fresh store, no setup",
                     fresh_store_read(sqlite_uri, page))
        await figure("sqlite", "all, warm refresh, no setup", warm_read(sqlite_uri))
        await figure("sqlite", "setup() (decodes every head)", sqlite_setup(path, workdir))
        store = await open_store(parse_db_url(sqlite_uri), seed.graph_registry())
        try:
            await store.setup()
        finally:
            await store.close()
        await figure("sqlite", f"first page ({page}), fresh store, after setup",
                     fresh_store_read(sqlite_uri, page))
        await figure("sqlite", "all, fresh store, after setup",
                     fresh_store_read(sqlite_uri, None))
    return figures


def report(figures: Sequence[Figure], args: argparse.Namespace) -> bool:
    head = ["backend", "figure", "decodes", "langgraph", "safe", "safe / langgraph", "target",
            "result", "per-round ratios (min-max)"]
    rows = []
    ok_all = True
    for backend, name, runs, decodes in figures:
        lg, safe = statistics.median(runs["langgraph"]), statistics.median(runs["safe"])
        ratios = [s / g for s, g in zip(runs["safe"], runs["langgraph"], strict=True)]
        ratio = statistics.median(ratios)
        ok = ratio <= TARGET
        ok_all = ok_all and ok
        rows.append([backend, name, str(decodes), bench._fmt(lg), bench._fmt(safe), f"{ratio:.2f}",
                     f"<= {TARGET:.2f}", "PASS" if ok else "FAIL",
                     f"{min(ratios):.2f}-{max(ratios):.2f}"])
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    print()
    print(f"{bench._threads(args.size)} threads a backend, medians of {args.rounds} "
          "alternating rounds; decodes = serializer calls per timing")
    for r in [head, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
    return ok_all


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=20000, help="threads a backend (default 20000)")
    p.add_argument("--rounds", type=int, default=11,
                   help="timings per serializer and figure (default 11)")
    p.add_argument("--workers", type=int, default=3, help="seeding processes")
    p.add_argument("--pg", default=os.environ.get(
        "BENCH_PG", "postgresql://root@127.0.0.1:5432/postgres"))
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    print(f"serde_cost: {os.cpu_count()} cores, {bench._load()}")
    figures = asyncio.run(run(args))
    ok = report(figures, args)
    print(f"\nTotal {time.perf_counter() - t0:.0f} s; {bench._load()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
