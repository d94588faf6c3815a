"""How fast the console starts: launches in a real pty at 80x24, medians of several.

    .venv/bin/python benchmarks/startup.py                 # SQLite demo + Postgres 15k pending
    .venv/bin/python benchmarks/startup.py --pg-pending 0  # SQLite demo only
    .venv/bin/python benchmarks/startup.py --runs 9

What is timed (each from the launch of a fresh process):

- `python -c pass`, and a bare Textual app to its first frame (the floor of any TUI);
- `hitl-console tui` to the first frame showing queue rows: on the 40-thread SQLite demo
  (set up), and on Postgres with `--pg-pending` pending threads (set up);
- `hitl-console pending` and `hitl-console show THREAD` on the demo, to their exit;
- the first approve after start: `hitl-console approve THREAD --graph ...` on a copy of
  the demo, to its exit (LangGraph, the graph and the saver are all loaded for it).

The launches go in rounds (one of each figure per round, after one uncounted launch of
each), so a change of the machine's load during the run weighs on every figure alike.

Targets (issue 17): TUI first frame <= 300 ms and <= 1.75x the bare Textual app;
`pending` <= 150 ms; `show` <= 200 ms; first approve <= 1 s. Exit status 1 if one fails.
Timings depend on the machine's load: the load average is printed with them.

Every launch runs with bytecode caches, as an installed console does (pip compiles at
install; a checkout writes `__pycache__` on first run): they are written to a directory
of the run (PYTHONPYCACHEPREFIX) by each figure's uncounted first launch, for Textual and
the bare app alike. An environment with PYTHONDONTWRITEBYTECODE=1 would otherwise compile
every console module from source at every launch (~100 ms) while site-packages keeps its
caches; `--no-bytecode-cache` measures that case.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pexpect

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
COLUMNS, LINES = 80, 24
TIMEOUT = 60.0

BARE_APP = """
from textual.app import App
from textual.widgets import Static

class Bare(App):
    def compose(self):
        yield Static("bare textual ready")

Bare().run()
"""

TARGETS = {  # name -> (max ms, max ratio to the bare app or None)
    "tui sqlite demo": (300.0, 1.75),
    "tui postgres": (300.0, 1.75),
    "pending": (150.0, None),
    "show": (200.0, None),
    "first approve": (1000.0, None),
}


def _load() -> str:
    try:
        return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "load ?"


PYCACHE: Path | None = None  # where launches keep their bytecode (None: as the caller's)


def _env() -> dict[str, str]:
    env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(COLUMNS), LINES=str(LINES),
               PYTHONPATH=str(ROOT), HITL_REVIEWER="bench", TEXTUAL_ANIMATIONS="none")
    env.pop("NO_COLOR", None)
    if PYCACHE is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def pty_first(argv: Sequence[str], pattern: str) -> float:
    """Seconds from spawning `argv` in a pty at 80x24 until `pattern` is on screen."""
    start = time.perf_counter()
    child = pexpect.spawn(argv[0], list(argv[1:]), env=_env(), cwd=str(ROOT),
                          dimensions=(LINES, COLUMNS), timeout=TIMEOUT, encoding="utf-8",
                          codec_errors="replace")
    try:
        child.expect(pattern)
        return time.perf_counter() - start
    finally:
        child.terminate(force=True)
        child.close()


def run_to_exit(argv: Sequence[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=_env(), cwd=str(ROOT), check=True, capture_output=True,
                   timeout=TIMEOUT)
    return time.perf_counter() - start


def medians_of(runs: int, figures: dict[str, Callable[[int], float]]
               ) -> dict[str, tuple[float, list[float]]]:
    """Each figure's median of `runs` launches, launched in rounds (one launch of each
    figure per round), so that a change of the machine's load over the run weighs on
    every figure alike and the ratios stay comparable."""
    for once in figures.values():
        once(-1)  # warm the page cache and the bytecode caches (not counted)
    times: dict[str, list[float]] = {name: [] for name in figures}
    for index in range(runs):
        for name, once in figures.items():
            times[name].append(once(index))
    return {name: (statistics.median(found), found) for name, found in times.items()}


def console(*args: str) -> list[str]:
    return [PY, "-m", "console", *args]


def _json(argv: Sequence[str]) -> object:
    done = subprocess.run(argv, env=_env(), cwd=str(ROOT), check=True, capture_output=True,
                          text=True, timeout=TIMEOUT)
    return json.loads(done.stdout)


def _row_pattern(thread_id: str) -> str:
    # the queue shows the thread id's start in its own column (a UUID cut in the middle
    # at 80 columns keeps its first 10 cells)
    return re.escape(thread_id[:10])


async def seed_postgres(admin: str, dbname: str, pending: int) -> str:
    """A fresh database `dbname` of `pending` paused threads (every pause form of
    `_seed`), set up; its postgresql:// URL. The caller drops it, also on failure."""
    import _seed as seed
    import pending_list as bench

    from console.core.dburl import parse_db_url
    from console.core.store import open_store

    url = bench.pg_url(admin, dbname)  # conninfo, for psycopg and the saver
    await bench.admin_exec(admin, f"DROP DATABASE IF EXISTS {dbname}")
    await bench.admin_exec(admin, f"CREATE DATABASE {dbname}")
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    async with AsyncPostgresSaver.from_conn_string(url) as saver:
        await saver.setup()
    templates = await seed.build_templates(bench.TEMPLATES_PER_SCENARIO)
    paused = [s.name for s in seed.SCENARIOS if s.pending]
    plans = seed.make_plans(pending, seed=17, templates_per_scenario=bench.TEMPLATES_PER_SCENARIO,
                            scenarios=paused)
    with seed.Seeder(templates, workers=2) as seeder:
        seeder.postgres(url, plans)
    await bench.pg_exec(url, "VACUUM ANALYZE")
    uri = bench.pg_uri(admin, dbname)  # what the console is given
    store = await open_store(parse_db_url(uri))
    try:
        await store.setup()
    finally:
        await store.close()
    return uri


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="launches per figure (median)")
    parser.add_argument("--pg", default=os.environ.get(
        "BENCH_PG", "postgresql://root@127.0.0.1:5432/postgres"), help="admin URL")
    parser.add_argument("--pg-pending", type=int, default=15_000,
                        help="pending threads seeded into Postgres (0 skips Postgres)")
    parser.add_argument("--pg-existing", metavar="URL",
                        help="time this seeded and set-up database (e.g. one --keep left) "
                             "instead of seeding one")
    parser.add_argument("--keep", action="store_true", help="keep the files and database")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="launch with the caller's PYTHONDONTWRITEBYTECODE and cache")
    args = parser.parse_args(argv)

    global PYCACHE
    work = Path(tempfile.mkdtemp(prefix="hitl-startup-"))
    if not args.no_bytecode_cache:
        PYCACHE = work / "pycache"
    demo = work / "demo.sqlite"
    print(f"seeding the SQLite demo ({_load()})", flush=True)
    subprocess.run(console("demo", "--no-tui", "--db", str(demo)), env=_env(), cwd=str(ROOT),
                   check=True, capture_output=True)
    rows = _json(console("pending", "--json", "--db", str(demo)))
    assert isinstance(rows, list) and rows
    first_row = rows[0]["thread_id"]
    shown = next(r["thread_id"] for r in rows if r["thread_id"].startswith("hitl_agent"))
    approvable = [r["thread_id"] for r in rows if r["thread_id"].startswith("tutorial")]

    pg_db: str | None = None
    pg_url = ""
    pg_first = ""
    results: dict[str, tuple[float, list[float]]] = {}
    try:
        if args.pg_existing:
            pg_url = args.pg_existing
        elif args.pg_pending > 0:
            print(f"seeding Postgres with {args.pg_pending} pending threads ({_load()})",
                  flush=True)
            pg_db = f"bench_startup_{os.getpid()}"
            pg_url = asyncio.run(seed_postgres(args.pg, pg_db, args.pg_pending))
        if pg_url:
            pg_rows = _json(console("pending", "--json", "--limit", "1", "--db", pg_url))
            assert isinstance(pg_rows, list) and pg_rows
            pg_first = pg_rows[0]["thread_id"]
            print(f"  {pg_url}: first row {pg_first} ({_load()})", flush=True)
        print(f"timing {args.runs} launches each ({_load()})", flush=True)
        bare_file = work / "bare.py"
        bare_file.write_text(BARE_APP)
        def approve(index: int) -> float:
            copy = work / f"approve-{index + 1}.sqlite"
            shutil.copy(demo, copy)  # each launch approves a pause of its own copy
            thread = approvable[(index + 1) % len(approvable)]
            return run_to_exit(console(
                "approve", thread, "--graph", "tutorial=console.demo.graphs:build_tutorial",
                "--db", str(copy)))

        figures: dict[str, Callable[[int], float]] = {
            "python -c pass": lambda _: run_to_exit([PY, "-c", "pass"]),
            "bare textual": lambda _: pty_first([PY, str(bare_file)], "bare textual ready"),
            "tui sqlite demo": lambda _: pty_first(
                console("tui", "--no-mouse", "--db", str(demo)), _row_pattern(first_row)),
        }
        if pg_url:
            figures["tui postgres"] = lambda _: pty_first(
                console("tui", "--no-mouse", "--db", pg_url), _row_pattern(pg_first))
        figures["pending"] = lambda _: run_to_exit(console("pending", "--db", str(demo)))
        figures["show"] = lambda _: run_to_exit(console("show", shown, "--db", str(demo)))
        figures["first approve"] = approve
        results.update(medians_of(args.runs, figures))
    finally:
        if pg_db is not None and not args.keep:
            import pending_list as bench

            asyncio.run(bench.admin_exec(args.pg, f"DROP DATABASE IF EXISTS {pg_db}"))
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    bare = results["bare textual"][0]
    plain = results["python -c pass"][0]
    failed = False
    cache = "no bytecode cache" if PYCACHE is None else "bytecode cached"
    print(f"\nmedians of {args.runs} launches at {COLUMNS}x{LINES}, {cache} ({_load()})")
    print(f"{'':<18} {'median':>9} {'x bare':>7} {'x python':>9}  {'target':<18} result   runs")
    for name, (med, times) in results.items():
        target = TARGETS.get(name)
        verdict, goal = "", ""
        if target is not None:
            limit, ratio = target
            ok = med * 1000 <= limit and (ratio is None or med / bare <= ratio)
            failed |= not ok
            verdict = "PASS" if ok else "FAIL"
            goal = f"<= {limit:.0f} ms" + (f", {ratio}x" if ratio else "")
        runs = " ".join(f"{t * 1000:.0f}" for t in times)
        print(f"{name:<18} {med * 1000:>6.0f} ms {med / bare:>6.2f}x {med / plain:>8.1f}x"
              f"  {goal:<18} {verdict:<8} {runs}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
