"""Listing the interrupted threads of an Agent Server: the console vs Agent Inbox's way.

Starts a real `langgraph dev` (the server tests' graphs), seeds N interrupted threads (a
share of them stopped at a static breakpoint, the rest at an inline `interrupt()`), then
in one run times:
  agent inbox: `threads.search(status="interrupted")` pages of 100, then `get_state` for
               each thread whose `interrupts` is empty (a breakpoint), one at a time;
  console:     `ServerStore.pending()` as the TUI lists it (search pages of 1,000; rows
               only `get_state` can name are listed at once and named in the background),
               its first page (`pending(limit=500)`, the TUI's first frame), the
               listing with its breakpoints named (`name_rows`: what the naive way
               gives), and `complete()` of the whole list (every row's checkpoint id
               read too, what `pending --json` prints; with --exact).
Prints the times and ratios, and checks that the console's exact queue equals the
naive set (thread ids, and each breakpoint's next nodes). Targets (issue 18): >= 5x
faster, first page <= 300 ms.

    python benchmarks/server_list.py [--threads 5000] [--breakpoints 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from console.core.dburl import parse_db_url  # noqa: E402
from console.core.graphs import GraphRegistry  # noqa: E402
from console.core.models import PauseKind  # noqa: E402
from console.core.server.store import ServerStore  # noqa: E402
from tests.server.conftest import start_server, stop_server  # noqa: E402

FIRST_PAGE = 500  # console/ui/screens/live.py: the TUI's first frame


async def seed(client: Any, threads: int, breakpoints: float, concurrency: int) -> float:
    """Create `threads` threads and start a run on each (no waiting per run), then wait
    until the server reports them all interrupted; seconds taken."""
    started = time.perf_counter()
    gate = asyncio.Semaphore(concurrency)
    every = max(1, round(1 / breakpoints)) if breakpoints > 0 else 0

    async def one(index: int) -> None:
        graph = "before" if every and index % every == 0 else "raw"
        async with gate:
            thread = await client.threads.create(metadata={"graph_id": graph})
            await client.runs.create(thread["thread_id"], graph, input={"topic": "x"})

    await asyncio.gather(*(one(i) for i in range(threads)))
    while await client.threads.count(status="interrupted") < threads:
        await asyncio.sleep(0.5)
    return time.perf_counter() - started


async def agent_inbox(client: Any) -> dict[str, tuple[str, ...] | None]:
    """Agent Inbox's way: pages of 100; get_state for threads with empty interrupts.
    thread id -> next nodes (None for an inline interrupt)."""
    found: dict[str, tuple[str, ...] | None] = {}
    offset = 0
    while True:
        page = await client.threads.search(status="interrupted", limit=100, offset=offset)
        for thread in page:
            if thread.get("interrupts"):
                found[thread["thread_id"]] = None
            else:
                state = await client.threads.get_state(thread["thread_id"])
                found[thread["thread_id"]] = tuple(state["next"])
        offset += len(page)
        if len(page) < 100:
            return found


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=5000)
    parser.add_argument("--breakpoints", type=float, default=0.2,
                        help="share of threads stopped at a breakpoint (default 0.2)")
    parser.add_argument("--jobs", type=int, default=16, help="server jobs per worker")
    parser.add_argument("--dev-persistence", action="store_true",
                        help="keep `langgraph dev`'s pickle-file persistence on (see below)")
    parser.add_argument("--exact", action="store_true",
                        help="also time `complete()`: a get_state for every row")
    args = parser.parse_args()
    from langgraph_sdk import get_client

    with tempfile.TemporaryDirectory(prefix="server-list-") as workdir:
        # `langgraph dev` (inmem runtime) keeps its state in pickle files, and every
        # get_state builds a checkpointer that loads them all from disk again
        # (langgraph_runtime_inmem.checkpoint.Checkpointer with an unpack hook): a
        # get_state then costs time in proportion to the server's size (~55 ms at 5,000
        # threads), which no deployment pays. Off unless --dev-persistence.
        process, server = start_server(Path(workdir), jobs=args.jobs,
                                       persistence=args.dev_persistence)
        try:
            client = get_client(url=server.url, api_key=None)
            seconds = await seed(client, args.threads, args.breakpoints, args.jobs)
            print(f"seeded {args.threads} interrupted threads "
                  f"({args.breakpoints:.0%} at a breakpoint) on {server.url} in "
                  f"{seconds:.1f} s ({args.threads / seconds:.0f} threads/s)", flush=True)
            location = parse_db_url(server.url)

            store = await ServerStore.open(location, GraphRegistry())
            t0 = time.perf_counter()
            first = await store.pending(limit=FIRST_PAGE)
            first_ms = (time.perf_counter() - t0) * 1000
            await store.close()
            print(f"console first page ({FIRST_PAGE} rows, the TUI's first frame): "
                  f"{first_ms:8.0f} ms, {len(first)} rows (target <= 300 ms)", flush=True)

            store = await ServerStore.open(location, GraphRegistry())  # cold again
            t0 = time.perf_counter()
            listed = await store.pending()
            list_s = time.perf_counter() - t0
            provisional = len(store.provisional)
            print(f"console listing (TUI: every row on screen): {list_s * 1000:8.0f} ms, "
                  f"{len(listed)} threads, {provisional} to be named in the background",
                  flush=True)

            sample = [t.thread_id for t in listed[:50]]
            costs = []
            for thread_id in sample:
                t0 = time.perf_counter()
                await client.threads.get_state(thread_id)
                costs.append(time.perf_counter() - t0)
            costs.sort()
            print(f"one get_state (median of {len(costs)}, one at a time): "
                  f"{costs[len(costs) // 2] * 1000:.1f} ms"
                  f" ({'dev persistence on' if args.dev_persistence else 'dev persistence off'})",
                  flush=True)

            t0 = time.perf_counter()
            naive = await agent_inbox(client)
            naive_s = time.perf_counter() - t0
            print(f"agent inbox way (pages of 100 + get_state per breakpoint): "
                  f"{naive_s * 1000:8.0f} ms, {len(naive)} threads", flush=True)
            print(f"  -> console listing is {naive_s / list_s:.1f}x faster (target >= 5x)",
                  flush=True)

            t0 = time.perf_counter()
            named = await store.name_rows(listed)
            named_s = time.perf_counter() - t0
            print(f"console listing + breakpoints named (what the naive way has): "
                  f"{(list_s + named_s) * 1000:8.0f} ms -> "
                  f"{naive_s / (list_s + named_s):.1f}x", flush=True)
            console = {t.thread_id: (t.next_nodes if t.kind is not PauseKind.INTERRUPT
                                     else None) for t in named}
            same = console == naive
            print(f"same queue as the naive way (ids, breakpoint nodes): {same}", flush=True)
            if not same:
                missing = set(naive) ^ set(console)
                print(f"  differing threads: {len(missing)}; sample: {sorted(missing)[:3]}")
            if args.exact:
                t0 = time.perf_counter()
                await store.complete(named)
                exact_s = time.perf_counter() - t0
                print(f"console exact (+ every inline row's checkpoint id, `pending`): "
                      f"{(list_s + named_s + exact_s) * 1000:8.0f} ms -> "
                      f"{naive_s / (list_s + named_s + exact_s):.1f}x", flush=True)
            await store.close()
            await client.aclose()
        finally:
            stop_server(process)


if __name__ == "__main__":
    asyncio.run(main())
