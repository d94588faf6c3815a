"""Benchmark: the console (TUI) at 100k rows, live refresh, and bytes on a slow link.

Three parts, one table at the end (figures, targets, PASS/FAIL):

1. **Widgets at 100k rows** (headless `App.run_test`, 120x40, in a child process so its
   peak RSS is the app's own, live refresh off): time from the queue data arriving (the
   store's `pending()` returning) to the first frame that shows it; key latency (down,
   page down, filter keystrokes) from sending the key to the first frame that reflects
   it; peak RSS. Frames are timed where Textual hands them to the driver
   (`App._display`, wrapped), including their conversion to escape sequences
   (`render_segments`), which the headless driver would otherwise skip.
   Rows: 100k real `PendingThread`s made from a real seeded sample: the SQLite database
   of part 2 (threads written through the savers' own code by `_seed.py`, both
   benchmark graphs), read with `store.pending()`, then copied with new ids and pause
   times; a lazy row (as the stores build them) gets its own copy of the raw interrupt
   writes and metadata, an eager one its interrupt values through the saver's
   serializer and its metadata through JSON, so nothing is shared (memory as if read
   from a database) but what a store read shares too (`heads.Shared`: equal metadata
   texts, task paths and serializer names are one object each).
   The copies are handed over once the empty screen has been drawn, as after a real
   query. `--real-rows N` also seeds N paused threads into Postgres and times the app
   on the real `PostgresStore` (after `setup`): its `pending()` is then in the RSS too.
2. **Live refresh** (Postgres with `--pg-threads`, default 100k threads in the seeding
   mix of `pending_list.py`; SQLite with `--sqlite-threads`): a writer *process* runs
   new threads through the real approval graph to their `interrupt()`. Latency runs
   from the writer's last commit of the run (the pause exists once both the interrupt
   write and its checkpoint are committed; either may land last) to the first frame in
   which the headless app, running on the real store with its own live refresh, shows
   the row. The feed is also timed alone, in a process of its own: `feed.wait()` then
   `store.pending_thread(id)`. Modes: Postgres polling without and with the proposed
   index on `checkpoints(checkpoint_id)`, Postgres LISTEN/NOTIFY (after
   `setup(notify=True)`), SQLite polling. (A UI without live refresh gets a shim here
   that does what the integration does.)
3. **Bytes per keypress** in a real pty (80x24, TERM=xterm-256color): the installed
   `hitl-console tui` on a demo queue; each key's output is counted until the terminal
   has been quiet for 0.6 s (so the detail pane reload after the cursor rests is
   included, and reported apart). Checks that `--no-mouse` writes no mouse-tracking
   enable sequences, and that without it they are there (else the check is void).

    python benchmarks/tui.py                      # full run (~10 min on 2 busy cores)
    python benchmarks/tui.py --real-rows 100000   # also 100k paused threads, real store
    python benchmarks/tui.py --quick              # 5k / 2k threads, 10 live samples
    python benchmarks/tui.py --skip-live --skip-pty

Exit status 1 if any target fails.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import inspect
import json
import os
import platform
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _seed as seed
import psycopg

from console.core.changes import open_change_feed
from console.core.dburl import parse_db_url
from console.core.models import PendingThread, _unpack
from console.core.store import open_store
from console.core.store.heads import Shared

# Targets from the issue.
FIRST_PAINT_MS = 300.0
KEY_MS = 30.0  # median
RSS_MB = 200.0
NOTIFY_MS = 100.0  # median
POLL_SLACK_MS = 100.0  # polling: median <= poll interval + this
BYTES_PER_MOVE = 2048
MOUSE_ON = (b"\x1b[?1000h", b"\x1b[?1003h")

SIZE = (120, 40)  # headless widget timings, as in textual-notes.md
PTY_SIZE = (24, 80)  # rows, cols
TEMPLATES_PER_SCENARIO = 6
HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


@dataclass
class Row:
    area: str
    metric: str
    value: str
    target: str = ""
    ok: bool | None = None
    note: str = ""

    def cells(self) -> list[str]:
        result = {True: "PASS", False: "FAIL", None: "info"}[self.ok]
        return [self.area, self.metric, self.value, self.target or "-", result, self.note]


ROWS: list[Row] = []


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _load() -> str:
    try:
        return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "load ?"


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def spread(values: Sequence[float]) -> str:
    """p90 and max of seconds, for the notes."""
    if not values:
        return "no samples"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"n={len(values)}, p90 {ms(p90)}, max {ms(ordered[-1])}"


def print_table(rows: Sequence[Row]) -> None:
    head = ["area", "metric", "value", "target", "result", "notes"]
    cells = [r.cells() for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    widths[-1] = len(head[-1])
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
    print(line)
    print("-" * len(line))
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())


# --------------------------------------------------------------------------------------
# Watching frames: every frame Textual hands to the driver, with the table's state
# --------------------------------------------------------------------------------------


@dataclass
class Frame:
    at: float  # perf_counter, after rendering the escape sequences
    wall: float  # time.time(), to compare with another process
    state: tuple[int, int, int, int]  # rows, cursor, scroll_y, row changes (generation)
    size: int  # characters of escape sequences


class FrameProbe:
    """Wraps `App._display` (called for every frame, headless too), so a test can ask
    "when was X first on screen"; the queue's `generation` (or, for a version without
    it, a count of `replace_rows` calls) says when its rows changed."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.frames: list[Frame] = []
        self.replaced = 0
        self.table: Any = None
        self.watched: set[str] = set()
        self.shown: dict[str, float] = {}  # thread id -> wall time of its first frame
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None:
                return
            render = getattr(renderable, "render_segments", None)
            size = len(render(app.console)) if render is not None else 0
            self._record(size)

        app._display = display

    def attach(self) -> Any:
        """The queue table, once the main screen is up (and count its replace_rows)."""
        if self.table is None:
            try:
                table = self.app.screen.query_one("#queue")
            except Exception:
                return None
            if not hasattr(table, "generation"):
                original = table.replace_rows

                def counted(*args: Any, **kwargs: Any) -> None:
                    self.replaced += 1
                    original(*args, **kwargs)

                table.replace_rows = counted
            self.table = table
        return self.table

    def state(self) -> tuple[int, int, int, int]:
        table = self.table
        if table is None:
            return (0, 0, 0, self.replaced)
        changes = getattr(table, "generation", self.replaced)
        return (table.row_count, table.cursor_row, round(table.scroll_y), changes)

    def _record(self, size: int) -> None:
        self.frames.append(
            Frame(time.perf_counter(), time.time(), self.state(), size)
        )
        if self.watched and self.table is not None:
            for thread_id in list(self.watched):
                present = self.table.position(thread_id) is not None
                if present:
                    self.shown[thread_id] = time.time()
                    self.watched.discard(thread_id)

    async def quiet(self, seconds: float = 0.3, timeout: float = 30.0) -> None:
        """Until a frame was drawn and none followed for `seconds`."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.frames and time.perf_counter() - self.frames[-1].at >= seconds:
                return
            await asyncio.sleep(0.02)

    async def first(
        self, after: float, accept: Callable[[Frame], bool], timeout: float = 30.0
    ) -> Frame | None:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            for frame in self.frames:
                if frame.at > after and accept(frame):
                    return frame
            await asyncio.sleep(0.002)
        return None


async def wait_for_queue(app: Any, probe: FrameProbe, timeout: float = 300.0) -> None:
    """Until the main screen's queue worker is done and the table holds its rows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        table = probe.attach()
        if table is not None and table.row_count > 0:
            busy = [w for w in app.screen.workers if w.group == "queue" and w.is_running]
            if not busy:
                return
        await asyncio.sleep(0.02)
    raise TimeoutError("the queue did not load")


# --------------------------------------------------------------------------------------
# Part 1: widgets at 100k rows (child process)
# --------------------------------------------------------------------------------------


class TimedStore:
    """The real store, with `pending()` noting when its data is ready. With `rows`,
    `pending()` returns those (copies of real threads) and `bundle()` maps a copy's id
    back to its original."""

    def __init__(
        self, real: Any, rows: list[PendingThread] | None, origin: Origins | None
    ) -> None:
        self._real = real
        self._rows = rows
        self._origin = origin
        self.data_at: float | None = None
        self.gate: Callable[[], Awaitable[None]] | None = None

    async def pending(self, *args: Any, **kwargs: Any) -> list[PendingThread]:
        if self._rows is not None:
            # As if the query took a while: the screen's first layout is done (as it is
            # with a real database) and not counted as painting the data.
            if self.gate is not None:
                await self.gate()
            rows = self._rows
        else:
            rows = await self._real.pending(*args, **kwargs)
        self.data_at = time.perf_counter()
        return list(rows)

    async def bundle(self, thread_id: str, **kwargs: Any) -> Any:
        original = self._origin.of(thread_id) if self._origin is not None else None
        return await self._real.bundle(original or thread_id, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _copy(value: Any) -> Any:
    """A copy of stored bytes or text that shares nothing with the original."""
    if isinstance(value, bytes | memoryview):
        return bytes(bytearray(value))
    if isinstance(value, str):
        return "".join(list(value))
    return json.loads(json.dumps(value))


class Origins:
    """Which real thread a copy was made from, worked out from the copy's id (a dict of
    100k ids would be in the app's RSS, which the benchmark measures)."""

    def __init__(self, sample: Sequence[PendingThread]) -> None:
        self._ids = [t.thread_id for t in sample]

    def of(self, thread_id: str) -> str | None:
        number = thread_id.rpartition("-")[2]
        if not number.isdigit():
            return None
        return self._ids[int(number) % len(self._ids)]


def replicate(
    sample: Sequence[PendingThread], n: int, serde: Any
) -> tuple[list[PendingThread], Origins]:
    """`n` copies of real threads with new ids and pause times, each the way a store
    read makes it: a lazy row (as the stores build them) gets its own copy of the raw
    interrupt writes and metadata, decoded on first access; an eager one its interrupt
    values through the saver's serializer and metadata through JSON. Every string is
    its own object."""
    rows = []
    shared = Shared()  # what a store read shares: equal metadata texts, paths, type names
    for i in range(n):
        base = sample[i % len(sample)]
        thread_id = f"{base.thread_id[:24]}-{i:06d}"
        if getattr(base, "_codec", None) is not None:
            rows.append(_lazy_copy(base, thread_id, i, shared))
            continue
        interrupts = tuple(
            replace(item, id=f"{item.id[:26]}{i:06d}", task_id=f"{item.task_id[:30]}{i:06d}",
                    value=serde.loads_typed(serde.dumps_typed(item.value)),
                    task_path="".join(item.task_path))
            for item in base.interrupts
        )
        rows.append(replace(
            base,
            thread_id=thread_id,
            checkpoint_id=f"{base.checkpoint_id[:30]}{i:06d}",
            paused_at=base.paused_at - timedelta(seconds=i),
            interrupts=interrupts,
            summary="".join(base.summary),
            metadata=json.loads(json.dumps(base.metadata)),
        ))
    rows.sort(key=PendingThread.sort_key)
    return rows, Origins(sample)


def _lazy_copy(base: PendingThread, thread_id: str, i: int, shared: Shared) -> PendingThread:
    raw_interrupts = _unpack(base._raw_interrupts)  # type: ignore[attr-defined]
    raw_metadata = base._raw_metadata  # type: ignore[attr-defined]
    summary = base._summary  # type: ignore[attr-defined]
    return PendingThread.lazy(  # type: ignore[attr-defined,no-any-return]
        thread_id=thread_id,
        checkpoint_id=f"{base.checkpoint_id[:30]}{i:06d}",
        graph=base.graph,
        nodes=base.nodes,
        kind=base.kind,
        convention=base.convention,
        paused_at=base.paused_at - timedelta(seconds=i),
        next_nodes=base.next_nodes,
        codec=base._codec,  # type: ignore[attr-defined]
        raw_interrupts=tuple((f"{task[:30]}{i:06d}", shared[_copy(path)], shared[_copy(kind)],
                              _copy(blob))
                             for task, path, kind, blob in raw_interrupts or ()),
        raw_metadata=shared[_copy(raw_metadata)] if raw_metadata else raw_metadata,
        summary=_copy(summary) if isinstance(summary, str) else None,
    )


def rss_mb() -> float:
    """Resident set size now (Linux), MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB: the kernel's high-water mark of
    this program's memory (`VmHWM`). Not `getrusage`'s `ru_maxrss`: on Linux a child
    started by fork/vfork + exec inherits its parent's peak there (a child of a 300 MB
    parent reports 311 MB while its own peak is 11 MB), so it measured the benchmark's
    parent as much as the app."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def press_and_time(
    pilot: Any, probe: FrameProbe, key: str, rest: float
) -> float | None:
    """Seconds from sending `key` to the first frame whose table state differs."""
    before = probe.state()
    started = time.perf_counter()
    await pilot.press(key)
    frame = await probe.first(started, lambda f: f.state != before, timeout=10)
    await asyncio.sleep(rest)  # let the debounced detail pane load, as between real keys
    return None if frame is None else frame.at - started


async def widgets_child(args: argparse.Namespace) -> dict[str, Any]:
    from console.settings import Settings
    from console.ui.app import make_app

    registry = seed.graph_registry()
    real = await open_store(parse_db_url(args.db), registry)
    info: dict[str, Any] = {}
    try:
        if args.rows:
            t0 = time.perf_counter()
            sample = await real.pending()
            info["rss_before_rows_mb"] = rss_mb()
            info["peak_before_rows_mb"] = peak_rss_mb()
            rows, origin = replicate(sample, args.rows, real.saver.serde)
            info["rss_rows_mb"] = rss_mb()
            info["sample"] = len(sample)
            info["build_s"] = time.perf_counter() - t0
            store = TimedStore(real, rows, origin)
        else:
            store = TimedStore(real, None, None)
        settings = Settings(reviewer="bench", sla_seconds=3600.0, mouse=False)
        app = make_app(store, settings,  # type: ignore[arg-type]
                       **app_options(tick_interval=0, poll_interval=0))
        probe = FrameProbe(app)
        store.gate = probe.quiet
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_queue(app, probe)
            table = probe.attach()
            n = table.row_count
            assert store.data_at is not None
            first = await probe.first(store.data_at, lambda f: f.state[0] == n)
            info["rows"] = n
            info["first_paint_s"] = None if first is None else first.at - store.data_at
            info["first_frame_chars"] = None if first is None else first.size
            phases = info["rss_phases_mb"] = {"painted": rss_mb()}
            info["lines_rendered"] = table.render_count
            log(f"  child: {n} rows on screen; timing keys")
            await asyncio.sleep(1.0)  # the first detail pane load
            rest = args.rest
            phases["detail"] = rss_mb()
            info["down_s"] = [await press_and_time(pilot, probe, "down", rest)
                              for _ in range(args.keys)]
            phases["down"] = rss_mb()
            info["pagedown_s"] = [await press_and_time(pilot, probe, "pagedown", rest)
                                  for _ in range(args.keys // 2)]
            phases["page down"] = rss_mb()
            await pilot.press("slash")
            await asyncio.sleep(0.3)
            typed = []
            for key in [*args.filter_text, *["backspace"] * len(args.filter_text)]:
                typed.append(await press_and_time(pilot, probe, key, rest))
            info["filter_s"] = typed
            phases["filter"] = rss_mb()
            info["filter_text"] = args.filter_text
            info["lines_rendered_total"] = table.render_count
    finally:
        await real.close()
    info["rss_end_mb"] = rss_mb()
    info["peak_rss_mb"] = peak_rss_mb()
    return info


def run_widgets(args: argparse.Namespace, db: str, rows: int, label: str) -> None:
    log(f"widgets: {label} ({_load()})")
    cmd = [sys.executable, str(HERE), "--child", "widgets", "--db", db, "--rows", str(rows),
           "--keys", str(args.keys), "--filter-text", args.filter_text]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT, timeout=1800)
    if done.returncode != 0:
        ROWS.append(Row("widgets", "child process", "crashed", "", False, label))
        return
    info = json.loads(done.stdout.strip().splitlines()[-1])
    n = info["rows"]
    fp = info["first_paint_s"]
    src = (f"{info['sample']} real pending threads replicated to {n}" if rows
           else f"{n} rows from the real store")
    ROWS.append(Row("widgets", f"first paint after data ({n} rows)",
                    ms(fp) if fp is not None else "none", f"<= {FIRST_PAINT_MS:g} ms",
                    fp is not None and fp * 1000 <= FIRST_PAINT_MS,
                    f"{label}: {src}; {info['lines_rendered']} lines rendered; first frame "
                    f"{info['first_frame_chars']} chars of escapes"))
    for key, name in (("down_s", "down"), ("pagedown_s", "page down"),
                      ("filter_s", "filter keystroke")):
        values = [v for v in info[key] if v is not None]
        missing = len(info[key]) - len(values)
        med = statistics.median(values) if values else None
        note = spread(values)
        if key == "filter_s":
            note += f"; typed {info['filter_text']!r} then backspaced it, over all {n} rows"
        if missing:
            note += f"; {missing} keys showed no change"
        ROWS.append(Row("widgets", f"{name}: median latency",
                        ms(med) if med is not None else "none", f"<= {KEY_MS:g} ms",
                        med is not None and med * 1000 <= KEY_MS and not missing, note))
    rss = info["peak_rss_mb"]
    note = f"{label}: whole app process, {n} rows in memory"
    if "rss_rows_mb" in info:
        note += (f"; RSS {info['rss_before_rows_mb']:.0f} MB before the rows were built "
                 f"(imports, store; peak {info['peak_before_rows_mb']:.0f} MB so far), "
                 f"{info['rss_rows_mb']:.0f} MB with them, "
                 f"{info['rss_end_mb']:.0f} MB at the end")
    if "rss_phases_mb" in info:
        note += "; after " + ", ".join(f"{phase} {mb:.0f}"
                                       for phase, mb in info["rss_phases_mb"].items())
    ROWS.append(Row("widgets", "peak RSS", f"{rss:.0f} MB", f"<= {RSS_MB:g} MB",
                    rss <= RSS_MB, note))


# --------------------------------------------------------------------------------------
# Part 2: live refresh
# --------------------------------------------------------------------------------------


async def writer_child(args: argparse.Namespace) -> None:
    """Run threads to their gate, one by one at random gaps; print each interrupt's
    commit time (wall clock) as a JSON line."""
    location = parse_db_url(args.db)
    if location.backend == "postgres":
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        context: Any = AsyncPostgresSaver.from_conn_string(location.target)
    else:
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        context = AsyncSqliteSaver.from_conn_string(location.target)
    rnd = random.Random(args.seed)
    async with context as saver:
        # The pause is complete at the run's last commit: the interrupt write and the
        # checkpoint it belongs to are saved in the background and either may land last.
        committed: list[float] = []
        put, put_writes = saver.aput, saver.aput_writes

        async def aput(*args: Any, **kwargs: Any) -> Any:
            result = await put(*args, **kwargs)
            committed.append(time.time())
            return result

        async def aput_writes(*args: Any, **kwargs: Any) -> None:
            await put_writes(*args, **kwargs)
            committed.append(time.time())

        saver.aput, saver.aput_writes = aput, aput_writes
        graph = seed.build_graph(inline=True, checkpointer=saver)

        async def run(thread_id: str) -> None:
            from langchain_core.messages import HumanMessage

            state = {
                "messages": [HumanMessage(content="Please refund my damaged order.")],
                "request_id": f"REQ-{rnd.randrange(10**6):06d}",
                "customer": "Acme GmbH",
                "amount": 1234.5,
                "category": "refund",
                "style": "raw",
            }
            config = {"configurable": {"thread_id": thread_id},
                      "metadata": {"graph_id": seed.INLINE_GRAPH}}
            await graph.ainvoke(state, config)

        await run(f"warmup-{args.seed}-{os.getpid()}")  # imports, connection, caches
        print(json.dumps({"ready": True}), flush=True)
        for thread_id in args.ids.split(","):
            await asyncio.sleep(rnd.uniform(args.gap * 0.5, args.gap * 1.5))
            committed.clear()
            await run(thread_id)
            last = max(committed) if committed else None
            print(json.dumps({"thread_id": thread_id, "t": last}), flush=True)


class TracingFeed:
    """The core's feed, noting when it reported each watched thread (and poll costs)."""

    def __init__(self, feed: Any, watched: set[str], reports: dict[str, list[float]],
                 costs: list[float]) -> None:
        self._feed = feed
        self._watched = watched
        self._reports = reports
        self._costs = costs
        self._polls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._feed, name)

    @property
    def mode(self) -> str:
        return str(self._feed.mode)

    @property
    def connected(self) -> bool:
        return bool(self._feed.connected)

    @property
    def problem(self) -> str | None:
        return self._feed.problem  # type: ignore[no-any-return]

    async def wait(self, timeout: float) -> set[str] | None:
        changed = await self._feed.wait(timeout)
        now = time.time()
        for thread_id in (changed or set()) & self._watched:
            self._reports.setdefault(thread_id, []).append(now)
        polls = getattr(self._feed, "polls", 0)
        if polls != self._polls:
            self._polls = polls
            self._costs.append(self._feed.last_poll_seconds)
        return changed  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self._feed.close()


async def apply_changes(screen: Any, store: Any, feed: Any) -> None:
    """Fallback for a UI that does not consume the feed itself: re-read each reported
    thread, put it into the screen's list (or take it out) and re-filter."""
    refilter = getattr(screen, "apply_filter", None) or screen._apply_filter
    while True:
        changed = await feed.wait(1.0)
        if changed is None:
            screen.reload()
            continue
        for thread_id in changed:
            thread = await store.pending_thread(thread_id)
            rows = list(screen.all_threads)
            index = next((i for i, t in enumerate(rows) if t.thread_id == thread_id), None)
            if thread is None:
                if index is None:
                    continue
                del rows[index]
            elif index is not None:
                rows[index] = thread
            else:
                bisect.insort(rows, thread, key=PendingThread.sort_key)
            screen._all = rows
            refilter()


async def feed_child(args: argparse.Namespace) -> None:
    """The feed alone, in a process of its own: wait(), then `store.pending_thread(id)`
    for each watched id; prints a JSON line when a read first finds the pause."""
    watched = set(args.ids.split(","))
    store = await open_store(parse_db_url(args.db), seed.graph_registry())
    try:
        async with await open_change_feed(store, poll_interval=args.poll_interval) as feed:
            print(json.dumps({"ready": True, "mode": feed.mode}), flush=True)
            while watched:
                changed = await feed.wait(1.0)
                for thread_id in (changed or set()) & watched:
                    if await store.pending_thread(thread_id) is not None:
                        watched.discard(thread_id)
                        print(json.dumps({"thread_id": thread_id, "t": time.time()}),
                              flush=True)
    finally:
        await store.close()


async def read_feed_child(proc: Any, found: dict[str, float], ready: asyncio.Event) -> None:
    async for line in proc.stdout:
        item = json.loads(line)
        if item.get("ready"):
            ready.set()
        elif item.get("thread_id"):
            found[item["thread_id"]] = item["t"]


def app_options(**wanted: Any) -> dict[str, Any]:
    """The keyword arguments of `make_app` that this version of the UI accepts."""
    from console.ui.app import make_app

    accepted = inspect.signature(make_app).parameters
    return {k: v for k, v in wanted.items() if k in accepted}


async def live_run(
    args: argparse.Namespace, label: str, db: str, expect_mode: str, target_ms: float
) -> None:
    from console.settings import Settings
    from console.ui.app import make_app

    log(f"live: {label} ({_load()})")
    store = await open_store(parse_db_url(db), seed.graph_registry())
    ids = [f"live-{len(ROWS)}-{os.getpid()}-{i:03d}" for i in range(args.samples)]
    watched = set(ids)
    reports: dict[str, list[float]] = {}
    reads: dict[str, float] = {}  # first pending_thread() that found the pause
    costs: list[float] = []
    feeds: list[Any] = []

    async def factory(target: Any, interval: float) -> Any:
        feed = TracingFeed(await open_change_feed(target, poll_interval=interval),
                           watched, reports, costs)
        feeds.append(feed)
        return feed

    real_pending_thread = store.pending_thread

    async def pending_thread(thread_id: str) -> Any:
        pause = await real_pending_thread(thread_id)
        if pause is not None and thread_id in watched:
            reads.setdefault(thread_id, time.time())
        return pause

    store.pending_thread = pending_thread  # type: ignore[method-assign]
    full_loads = [0]
    real_pending = store.pending

    async def pending(*args: Any, **kwargs: Any) -> Any:
        full_loads[0] += 1
        return await real_pending(*args, **kwargs)

    store.pending = pending  # type: ignore[method-assign]
    load_times: list[float] = []
    options = app_options(tick_interval=0, poll_interval=args.poll_interval,
                          feed_factory=factory)
    integrated = "feed_factory" in options
    settings = Settings(reviewer="bench", mouse=False, poll_interval=args.poll_interval)
    app = make_app(store, settings, **options)
    probe = FrameProbe(app)
    shim: asyncio.Task[None] | None = None
    try:
        async with app.run_test(size=SIZE):
            await wait_for_queue(app, probe)
            loaded = probe.table.row_count
            loads_before = full_loads[0]
            screen = app.screen
            if hasattr(screen, "load_queue"):
                real_load = screen.load_queue

                async def load_queue(changed: Any) -> Any:
                    started = time.perf_counter()
                    try:
                        return await real_load(changed)
                    finally:
                        if changed:
                            load_times.append(time.perf_counter() - started)

                screen.load_queue = load_queue
            if not integrated:
                shim = asyncio.create_task(apply_changes(app.screen, store,
                                                         await factory(store, args.poll_interval)))
            deadline = time.monotonic() + 30
            while not feeds and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            feed = feeds[-1]
            if feed.mode != expect_mode:
                raise RuntimeError(f"feed mode {feed.mode}, expected {expect_mode}")
            probe.watched = set(ids)
            alone: dict[str, float] = {}
            alone_ready = asyncio.Event()
            solo_proc = await asyncio.create_subprocess_exec(
                sys.executable, str(HERE), "--child", "feed", "--db", db, "--ids", ",".join(ids),
                "--poll-interval", str(args.poll_interval), stdout=asyncio.subprocess.PIPE,
                cwd=ROOT,
            )
            side = asyncio.create_task(read_feed_child(solo_proc, alone, alone_ready))
            await asyncio.wait_for(alone_ready.wait(), 120)
            proc = await asyncio.create_subprocess_exec(
                sys.executable, str(HERE), "--child", "writer", "--db", db,
                "--ids", ",".join(ids), "--gap", str(args.gap), "--seed", str(len(ROWS)),
                stdout=asyncio.subprocess.PIPE, cwd=ROOT,
            )
            assert proc.stdout is not None
            commits: dict[str, float] = {}
            async for line in proc.stdout:
                item = json.loads(line)
                if item.get("thread_id") and item.get("t"):
                    commits[item["thread_id"]] = item["t"]
            await proc.wait()
            deadline = time.monotonic() + 10
            while (probe.watched or len(alone) < len(ids)) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            detail = feed.detail
            if solo_proc.returncode is None:
                solo_proc.terminate()
            await solo_proc.wait()
            await side
            if shim is not None:
                shim.cancel()
                (crash,) = await asyncio.gather(shim, return_exceptions=True)
                if crash is not None and not isinstance(crash, asyncio.CancelledError):
                    raise RuntimeError(f"the live shim failed: {crash!r}") from crash
    finally:
        await store.close()
    solo = [alone[t] - commits[t] for t in ids if t in alone and t in commits]
    solo_med = statistics.median(solo) if solo else None
    ROWS.append(Row("live", f"{label}: feed alone, commit -> pending read, median",
                    ms(solo_med) if solo_med is not None else "none", f"<= {target_ms:g} ms",
                    solo_med is not None and solo_med * 1000 <= target_ms
                    and len(solo) == len(ids),
                    f"{spread(solo)}; a process of its own: feed.wait() then "
                    f"store.pending_thread(id), no app"))
    latencies = [probe.shown[t] - commits[t] for t in ids if t in probe.shown and t in commits]
    missing = len(ids) - len(latencies)
    med = statistics.median(latencies) if latencies else None
    how = "the app's own live refresh" if integrated else "a shim in this script (no UI feed)"
    note = f"{spread(latencies)}; via {how}; {loaded} rows loaded; {detail}"
    steps: list[list[float]] = [[], [], []]
    for t in ids:
        if t in commits and t in reads and t in probe.shown:
            before = [r for r in reports.get(t, []) if r <= reads[t]]
            if before:
                steps[0].append(before[-1] - commits[t])
                steps[1].append(reads[t] - before[-1])
                steps[2].append(probe.shown[t] - reads[t])
    if steps[0]:
        note += ("; medians: commit->feed reports it {}, ->pending_thread read {}, "
                 "->frame {}").format(*(ms(statistics.median(x)) for x in steps))
    if costs:
        note += f"; poll cost median {ms(statistics.median(costs))} ({len(costs)} polls)"
    if load_times:
        note += (f"; the app's incremental load_queue median {ms(statistics.median(load_times))}"
                 f" ({len(load_times)} loads)")
    note += f"; {full_loads[0] - loads_before} full reloads during the run"
    if missing:
        note += f"; {missing} of {len(ids)} rows never appeared"
    target = f"<= {target_ms:g} ms"
    ok = med is not None and med * 1000 <= target_ms and not missing
    ROWS.append(Row("live", f"{label}: app, commit -> row on screen, median",
                    ms(med) if med is not None else "none", target, ok, note))


async def poll_query_cost(db: str, repeat: int = 7) -> float:
    """Median seconds of the polling feed's watermark query alone."""
    store = await open_store(parse_db_url(db), seed.graph_registry())
    try:
        feed = await open_change_feed(store, poll_interval=60)
        try:
            lower = feed._lower(time.time())  # type: ignore[attr-defined]
            runs = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                await feed._new_checkpoints(lower)  # type: ignore[attr-defined]
                runs.append(time.perf_counter() - t0)
            return statistics.median(runs)
        finally:
            await feed.close()
    finally:
        await store.close()


# --------------------------------------------------------------------------------------
# Part 3: bytes per keypress in a pty
# --------------------------------------------------------------------------------------


def read_until_quiet(child: Any, quiet: float, limit: float, need_output: bool = True) -> bytes:
    """Everything the app writes until it has been quiet for `quiet` seconds (waiting
    first for some output if `need_output`), at most `limit` seconds."""
    import pexpect

    out = bytearray()
    started = last = time.monotonic()
    while True:
        now = time.monotonic()
        if now - last >= quiet and (out or not need_output):
            break
        if now - started >= limit:
            break
        try:
            chunk = child.read_nonblocking(65536, timeout=0.05)
        except pexpect.TIMEOUT:
            continue
        except pexpect.EOF:
            break
        if chunk:
            out += chunk
            last = time.monotonic()
    return bytes(out)


def pty_session(db: str, no_mouse: bool, keys: dict[str, list[str]]) -> dict[str, Any]:
    import pexpect

    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLORTERM")}
    env.update(TERM="xterm-256color", HITL_REVIEWER="bench", TEXTUAL_ANIMATIONS="none")
    exe = Path(sys.executable).with_name("hitl-console")
    argv = ["tui", "--db", db, *(["--no-mouse"] if no_mouse else [])]
    child = pexpect.spawn(str(exe), argv, env=env, dimensions=PTY_SIZE, cwd=str(ROOT))
    result: dict[str, Any] = {}
    try:
        result["startup"] = read_until_quiet(child, quiet=2.0, limit=90)
        for name, sequence in keys.items():
            result[name] = [_press(child, key) for key in sequence]
        child.send("q")
        result["shutdown"] = read_until_quiet(child, quiet=1.0, limit=10)
        child.expect(pexpect.EOF, timeout=10)
    finally:
        child.close(force=True)
    return result


def _press(child: Any, key: str) -> tuple[int, int]:
    """Bytes written for one key: (at once, then until 0.6 s quiet). The detail pane
    waits for the cursor to rest 0.15 s, so the first part is the queue's own repaint."""
    child.send(key)
    first = read_until_quiet(child, quiet=0.1, limit=5)
    rest = read_until_quiet(child, quiet=0.6, limit=10, need_output=False)
    return len(first), len(rest)


def run_pty(args: argparse.Namespace, workdir: Path) -> None:
    log(f"pty: seeding a demo queue ({_load()})")
    path = workdir / "demo.sqlite"
    db = f"sqlite:///{path}"
    exe = Path(sys.executable).with_name("hitl-console")
    subprocess.run([str(exe), "demo", "--no-tui", "--threads", "60", "--db", db],
                   check=True, capture_output=True, cwd=ROOT, timeout=600)
    down = ["j"] * args.pty_keys
    keys = {"down": down, "pagedown": ["\x1b[6~"] * 3}
    log("pty: hitl-console tui --no-mouse")
    quiet = pty_session(db, True, keys)
    log("pty: hitl-console tui (mouse on)")
    loud = pty_session(db, False, {"down": down[:4]})
    per_move = [a + b for a, b in quiet["down"]]
    med = statistics.median(per_move)
    ROWS.append(Row("pty 80x24", "bytes per cursor move (j), median", f"{med:.0f} B",
                    f"<= {BYTES_PER_MOVE} B", med <= BYTES_PER_MOVE,
                    f"--no-mouse; {len(per_move)} moves, min {min(per_move)} B, max "
                    f"{max(per_move)} B, until 0.6 s quiet; of which at once (queue "
                    f"repaint) median {statistics.median(a for a, _ in quiet['down']):.0f} B, "
                    f"after the cursor rests (detail pane) median "
                    f"{statistics.median(b for _, b in quiet['down']):.0f} B; with mouse on: "
                    f"median {statistics.median(a + b for a, b in loud['down']):.0f} B"))
    pages = [a + b for a, b in quiet["pagedown"]]
    ROWS.append(Row("pty 80x24", "bytes per page down, median",
                    f"{statistics.median(pages):.0f} B", "", None,
                    f"at once / after rest: {quiet['pagedown']}"))
    ROWS.append(Row("pty 80x24", "bytes at start-up (until quiet)",
                    f"{len(quiet['startup'])} B", "", None, "queue + first detail pane"))
    found_quiet = [s.decode() for s in MOUSE_ON if s in quiet["startup"] + quiet["shutdown"]]
    found_loud = [s.decode() for s in MOUSE_ON if s in loud["startup"]]
    ROWS.append(Row("pty 80x24", "--no-mouse: mouse tracking enabled?",
                    "no" if not found_quiet else "yes", "no",
                    not found_quiet and bool(found_loud),
                    f"searched for {[s.decode()[1:] for s in MOUSE_ON]}; without --no-mouse "
                    f"found {[s[1:] for s in found_loud] or 'none (check is void)'}"))


# --------------------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------------------


def pg_dsn(base: str, dbname: str) -> str:
    parts = psycopg.conninfo.conninfo_to_dict(base)
    user = parts.get("user", "root")
    host = parts.get("host", "127.0.0.1")
    port = parts.get("port", "5432")
    return f"postgresql://{user}@{host}:{port}/{dbname}"


async def pg_exec(url: str, *statements: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for sql in statements:
            await conn.execute(sql)


async def seed_postgres(
    seeder: seed.Seeder, admin: str, dbname: str, n: int, scenarios: Sequence[str] | None
) -> str:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    url = pg_dsn(admin, dbname)
    await pg_exec(admin, f"DROP DATABASE IF EXISTS {dbname}", f"CREATE DATABASE {dbname}")
    async with AsyncPostgresSaver.from_conn_string(url) as saver:
        await saver.setup()
    plans = seed.make_plans(n, seed=n + 11, templates_per_scenario=TEMPLATES_PER_SCENARIO,
                            scenarios=scenarios)
    t0 = time.perf_counter()
    stats = await asyncio.to_thread(seeder.postgres, url, plans)
    log(f"  seeded {dbname}: {stats.describe()}")
    await pg_exec(url, "VACUUM ANALYZE")
    log(f"  VACUUM ANALYZE done, {time.perf_counter() - t0:.0f} s in all")
    return url


async def seed_sqlite(seeder: seed.Seeder, path: Path, n: int) -> str:
    await seed.ensure_sqlite_schema(str(path))
    plans = seed.make_plans(n, seed=n + 13, templates_per_scenario=TEMPLATES_PER_SCENARIO)
    stats = await asyncio.to_thread(seeder.sqlite, str(path), plans)
    log(f"  seeded {path.name}: {stats.describe()}")
    return f"sqlite:///{path}"


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> int:
    print(
        f"tui benchmark: python {platform.python_version()}, textual {version('textual')}, "
        f"langgraph {version('langgraph')}, psycopg {version('psycopg')}, "
        f"{os.cpu_count()} cores, {_load()}"
    )
    t_start = time.perf_counter()
    dbs: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench_tui_") as tmp:
        workdir = Path(tmp)
        sqlite_db = pg_db = real_db = None
        need_seed = not args.skip_live or not args.skip_widgets
        if need_seed:
            log("recording template threads")
            templates = await seed.build_templates(TEMPLATES_PER_SCENARIO)
            with seed.Seeder(templates, workers=args.workers) as seeder:
                log(f"seeding SQLite, {args.sqlite_threads} threads ({_load()})")
                sqlite_db = await seed_sqlite(seeder, workdir / "live.sqlite", args.sqlite_threads)
                if not args.skip_live and args.pg_db:
                    pg_db = args.pg_db
                elif not args.skip_live and args.pg_threads:
                    log(f"seeding Postgres, {args.pg_threads} threads ({_load()})")
                    name = f"bench_tui_{os.getpid()}_live"
                    dbs.append(name)
                    pg_db = await seed_postgres(seeder, args.pg, name, args.pg_threads, None)
                if args.real_rows:
                    log(f"seeding Postgres, {args.real_rows} paused threads ({_load()})")
                    name = f"bench_tui_{os.getpid()}_rows"
                    dbs.append(name)
                    real_db = await seed_postgres(seeder, args.pg, name, args.real_rows,
                                                  ["paused_inline", "paused_before"])
        try:
            if not args.skip_widgets:
                assert sqlite_db is not None
                run_widgets(args, sqlite_db, args.rows,
                            f"sample from {args.sqlite_threads} seeded SQLite threads")
                if real_db is not None:
                    store = await open_store(parse_db_url(real_db), seed.graph_registry())
                    await store.setup()
                    await store.close()
                    run_widgets(args, real_db, 0, f"real PostgresStore, {args.real_rows} paused")
            if not args.skip_live:
                slack = args.poll_interval * 1000 + POLL_SLACK_MS
                if pg_db is not None:
                    n = f"{args.pg_threads // 1000}k"
                    await pg_exec(pg_db, *RESET_DDL)  # as seeded: no setup, no index
                    cost = await poll_query_cost(pg_db)
                    ROWS.append(Row("live", f"postgres {n}: watermark query, no index",
                                    ms(cost), "", None, "the polling feed's checkpoint query"))
                    await live_run(args, f"postgres-poll {n}, no index", pg_db, "polling", slack)
                    started = time.perf_counter()
                    await pg_exec(pg_db, INDEX_DDL)
                    built = time.perf_counter() - started
                    await pg_exec(pg_db, "ANALYZE checkpoints")
                    ROWS.append(Row("live", f"postgres {n}: building the proposed index",
                                    ms(built), "", None, "CREATE INDEX holds a SHARE lock on "
                                    "checkpoints meanwhile (graph writes wait)"))
                    cost = await poll_query_cost(pg_db)
                    ROWS.append(Row("live", f"postgres {n}: watermark query, with index",
                                    ms(cost), "", None, INDEX_DDL))
                    await live_run(args, f"postgres-poll {n}, index", pg_db, "polling", slack)
                    store = await open_store(parse_db_url(pg_db), seed.graph_registry())
                    await store.setup(notify=True)
                    await store.close()
                    await live_run(args, f"postgres-notify {n}", pg_db, "notify", NOTIFY_MS)
                if sqlite_db is not None and args.sqlite_threads:
                    n = f"{args.sqlite_threads // 1000}k"
                    await live_run(args, f"sqlite-poll {n}", sqlite_db, "polling", slack)
            if not args.skip_pty:
                run_pty(args, workdir)
        finally:
            if not args.keep:
                for name in dbs:
                    await pg_exec(args.pg, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            elif dbs:
                log(f"kept databases {dbs}")
            if args.keep and sqlite_db:
                kept = Path(tempfile.gettempdir()) / "bench_tui_live.sqlite"
                kept.unlink(missing_ok=True)
                with sqlite3.connect(workdir / "live.sqlite") as src, \
                        sqlite3.connect(kept) as dst:
                    src.backup(dst)  # the WAL's pages included
                log(f"kept {kept}")
    print()
    print_table(ROWS)
    print()
    print(f"Total {time.perf_counter() - t_start:.0f} s; {_load()}. Latencies are medians "
          f"unless noted; poll interval {args.poll_interval:g} s.")
    return 0 if all(r.ok is not False for r in ROWS) else 1


INDEX_DDL = (
    "CREATE INDEX IF NOT EXISTS hitl_checkpoints_root_id ON checkpoints (checkpoint_id)"
    " WHERE checkpoint_ns = ''"
)


RESET_DDL = (
    "DROP INDEX IF EXISTS hitl_checkpoints_root_id",
    "DROP TRIGGER IF EXISTS hitl_notify_checkpoint ON checkpoints",
    "DROP TRIGGER IF EXISTS hitl_notify_interrupt ON checkpoint_writes",
    "DROP TRIGGER IF EXISTS hitl_track_head ON checkpoints",
    "DROP TABLE IF EXISTS hitl_thread_status",
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--rows", type=int, default=100_000,
                   help="rows for the widget timings (copies of real threads)")
    p.add_argument("--real-rows", type=int, default=0,
                   help="also time the widgets on N paused threads in Postgres (real store)")
    p.add_argument("--pg-threads", type=int, default=100_000,
                   help="threads in the live-refresh Postgres database (0 skips it)")
    p.add_argument("--pg-db", help="reuse this seeded Postgres database for the live runs "
                   "(e.g. one kept with --keep); its console objects are dropped first")
    p.add_argument("--sqlite-threads", type=int, default=20_000,
                   help="threads in the SQLite database (widget sample, SQLite live run)")
    p.add_argument("--samples", type=int, default=30, help="live-refresh samples per mode")
    p.add_argument("--gap", type=float, default=0.8,
                   help="mean seconds between the writer's threads (uniform +-50%%)")
    p.add_argument("--poll-interval", type=float, default=1.0)
    p.add_argument("--keys", type=int, default=20, help="down presses (page down: half)")
    p.add_argument("--rest", type=float, default=0.35,
                   help="seconds between timed keys (the detail pane loads meanwhile)")
    p.add_argument("--filter-text", default="acme")
    p.add_argument("--pty-keys", type=int, default=10)
    p.add_argument("--workers", type=int, default=2, help="seeding processes")
    p.add_argument("--pg", default=os.environ.get("BENCH_PG",
                                                  "postgresql://root@127.0.0.1:5432/postgres"))
    p.add_argument("--quick", action="store_true",
                   help="5k Postgres / 2k SQLite threads, 10 live samples")
    p.add_argument("--skip-widgets", action="store_true")
    p.add_argument("--skip-live", action="store_true")
    p.add_argument("--skip-pty", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the databases")
    # internal: child processes
    p.add_argument("--child", choices=["widgets", "writer", "feed"], help=argparse.SUPPRESS)
    p.add_argument("--db", help=argparse.SUPPRESS)
    p.add_argument("--ids", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        given = set(argv if argv is not None else sys.argv)
        if "--pg-threads" not in given:
            args.pg_threads = 5_000
        if "--sqlite-threads" not in given:
            args.sqlite_threads = 2_000
        if "--samples" not in given:
            args.samples = 10
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.child == "widgets":
        print(json.dumps(asyncio.run(widgets_child(arguments))))
        sys.exit(0)
    if arguments.child == "writer":
        asyncio.run(writer_child(arguments))
        sys.exit(0)
    if arguments.child == "feed":
        asyncio.run(feed_child(arguments))
        sys.exit(0)
    sys.exit(asyncio.run(main(arguments)))
