"""The differential test at scale: generated graphs, the console against `aget_state()`.

Runs the generator of `tests/differential/` (the same shapes, runs and comparisons as
`tests/differential/test_differential.py`, whose docstring states what the console must
answer) for `--threads` threads a backend, in batches on fresh databases (a SQLite file,
or a Postgres schema in a database of its own, dropped at the end), and prints every
mismatch as it is found, then a summary by category. 0 mismatches expected; the exit
status is 1 when there are any.

    python benchmarks/differential.py --threads 10000 --seed 7
    python benchmarks/differential.py --threads 2000 --backends sqlite --no-decide
    python benchmarks/differential.py --threads 600 --first   # one reproducer a category
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ is not installed

from console.core.dburl import DatabaseLocation
from tests.differential.runner import Batch, Report, run_batch, schema_url

PG_SERVER = os.environ.get("HITL_TEST_PG", "postgresql://root@127.0.0.1:5432/postgres")


async def _backend(backend: str, args: argparse.Namespace, tmp: Path, total: Report) -> None:
    database = None
    if backend == "postgres":
        name = f"bench_diff_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(PG_SERVER, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        database = f"{PG_SERVER.rsplit('/', 1)[0]}/{name}"
    try:
        done, index = 0, 0
        while done < args.threads:
            size = min(args.batch, args.threads - done)
            seed = args.seed * 100_000 + index
            if database is None:
                locations = {k: DatabaseLocation("sqlite", str(tmp / f"{seed}-{k}.sqlite"))
                             for k in ("before", "after")}
            else:
                locations = {k: DatabaseLocation("postgres", schema_url(database, f"b{seed}_{k}"))
                             for k in ("before", "after")}
            report = await run_batch(Batch(seed, size, decide=not args.no_decide),
                                     locations, tmp)
            _merge(total, report)
            shown = report.first_of_each() if args.first else report.mismatches
            for mismatch in shown:
                print(mismatch.report(), flush=True)
            print(f"[{backend}] batch seed={seed}: {report.summary().splitlines()[0]}",
                  flush=True)
            done += size
            index += 1
    finally:
        if database is not None:
            with psycopg.connect(PG_SERVER, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database.rsplit("/", 1)[1]}" '
                              "WITH (FORCE)")


def _merge(total: Report, part: Report) -> None:
    total.threads += part.threads
    total.comparisons += part.comparisons
    total.decided += part.decided
    total.mismatches += part.mismatches
    total.timings.update(part.timings)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=10_000, help="threads a backend")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--batch", type=int, default=500,
                        help="threads per pair of fresh databases")
    parser.add_argument("--no-decide", action="store_true",
                        help="skip deciding every shape through the console")
    parser.add_argument("--first", action="store_true",
                        help="print only the first mismatch of each category per batch")
    args = parser.parse_args()
    total = Report()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for backend in (b.strip() for b in args.backends.split(",") if b.strip()):
            asyncio.run(_backend(backend, args, Path(tmp), total))
    total.seconds = time.perf_counter() - started
    print("\nsummary: " + total.summary())
    raise SystemExit(1 if total.mismatches else 0)


if __name__ == "__main__":
    main()
