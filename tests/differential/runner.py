"""Driving generated threads on real savers and comparing the console with LangGraph.

One `Batch` (a seed and a thread count) runs on one backend in two databases:
- `before`: the console's `setup` (status table and triggers) is installed first, then
  the application writes; compared after every invocation of every thread.
- `after`: no setup while the application writes (compared after every invocation),
  then `setup` over the finished rows, and everything compared again.
Every comparison is made twice: by a store with the graphs registered, and by a store
with an empty registry (grace period 0). `oracle.py` says what each must answer.
Then every shape is decided through the console (`Decider`, inline): one thread
approved to the end, one rejected; the side-effect table says what ran.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from console.core.dburl import DatabaseLocation
from console.core.errors import ConsoleError
from console.core.graphs import GraphInfo, GraphRegistry
from console.core.ledger.apply import Decider, current_origin
from console.core.ledger.decisions import DecisionInput
from console.core.ledger.rows import DecisionType
from console.core.models import PendingThread
from console.core.store import CheckpointStore, open_store
from tests.differential.build import EffectSink, NodeFailed, build, first_input
from tests.differential.oracle import Answer, Truth, answer_of, expected
from tests.differential.shapes import Shape, describe, random_shape

DURABILITY = ("sync", "async", "exit")
PUSH = "__pregel_push"  # a PUSH task's only trigger (langgraph/_internal/_constants.py)
CONCURRENCY = 6  # threads driven at once
APPROVE = DecisionInput(DecisionType.APPROVE)
REJECT = DecisionInput(DecisionType.REJECT, reason="no")


@dataclass(frozen=True)
class Mismatch:
    """One disagreement between the console and LangGraph, with what it takes to debug it."""

    check: str  # pending_thread | pending() | breakpoint stop | decide | run error
    what: str  # the differing part, e.g. "listed", "kind", "interrupts"
    seed: int
    shape: str
    thread: str
    where: str  # backend/database, setup mode, registry
    step: str
    expected: str
    actual: str
    detail: str = ""
    origin: str = ""

    @property
    def category(self) -> str:
        exp = self.expected.split(" ", 1)[0] if self.expected != "not listed" else self.expected
        act = self.actual.split(" ", 1)[0] if self.actual != "not listed" else self.actual
        if self.check in ("decide", "run error"):
            return f"{self.check}: {self.what} [{self.shape.split(' ', 1)[0]}]"
        registry = "no graph" if self.where.endswith("no graph") else "graph"
        family = self.shape.split(" ", 1)[0]
        return (f"{self.check}: {self.what} (expected {exp}, got {act}) "
                f"[{family} {self.origin or '-'}; {registry}]")

    def report(self) -> str:
        return "\n".join([
            f"MISMATCH {self.category}",
            f"  seed={self.seed} thread={self.thread} at {self.where}, {self.step}",
            f"  shape: {self.shape}",
            f"  expected: {self.expected}",
            f"  actual:   {self.actual}",
            *([f"  aget_state: {self.detail}"] if self.detail else []),
        ])


@dataclass
class Report:
    threads: int = 0
    comparisons: int = 0
    decided: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    seconds: float = 0.0
    timings: Counter[str] = field(default_factory=Counter)  # seconds by phase

    def categories(self) -> Counter[str]:
        return Counter(m.category for m in self.mismatches)

    def summary(self) -> str:
        phases = ", ".join(f"{k} {v:.1f}s" for k, v in self.timings.most_common())
        lines = [f"{self.threads} threads, {self.comparisons} comparisons, {self.decided} "
                 f"decided threads, {len(self.mismatches)} mismatches in {self.seconds:.1f}s"
                 f" ({phases})"]
        for category, count in self.categories().most_common():
            lines.append(f"  {count:6d}  {category}")
        return "\n".join(lines)

    def first_of_each(self) -> list[Mismatch]:
        seen: dict[str, Mismatch] = {}
        for m in self.mismatches:
            seen.setdefault(m.category, m)
        return list(seen.values())


@dataclass
class Batch:
    """Shapes drawn from `seed`, `threads` compared threads over them (half per database)."""

    seed: int
    threads: int
    decide: bool = True

    def shapes(self) -> list[Shape]:
        rng = random.Random(self.seed)
        count = max(1, self.threads // 3)  # about three compared threads per shape
        return [random_shape(rng, f"g{self.seed}x{i}") for i in range(count)]


@dataclass
class Site:
    """One database with its two stores (graphs registered / empty registry)."""

    label: str
    location: DatabaseLocation
    mode: str  # "setup before writes" | "no setup" (later "setup after writes")
    with_graph: CheckpointStore
    without_graph: CheckpointStore
    graphs: dict[str, Any]  # shape name -> compiled graph on this site's saver

    async def close(self) -> None:
        await self.with_graph.close()
        await self.without_graph.close()


@dataclass
class ThreadRun:
    thread_id: str
    shape: Shape
    graph: Any
    info: GraphInfo
    stopped_at_breakpoint: bool = False
    # the stop is after `Send` targets only, with durability "exit": see the comment
    # before `_compare_lists`
    stopped_after_push_on_exit: bool = False


Progress = Callable[[str], None]


async def run_batch(
    batch: Batch,
    locations: dict[str, DatabaseLocation],
    workdir: Path,
    progress: Progress | None = None,
) -> Report:
    """Run a batch on the databases `locations["before"]` and `locations["after"]`."""
    started = time.perf_counter()
    report = Report()
    sink = EffectSink(workdir / f"effects-{batch.seed}.sqlite")
    shapes = batch.shapes()
    compiled = {s.name: build(s, sink, None) for s in shapes}
    registry = GraphRegistry(GraphInfo.of(name, g) for name, g in compiled.items())
    per_site = batch.threads // 2
    try:
        for setup_first, key in ((True, "before"), (False, "after")):
            site = await _open_site(key, locations[key], registry, compiled, setup_first)
            try:
                runs = await _drive_site(batch, site, shapes, per_site, sink, report)
                await _compare_lists(batch, site, runs, report)
                if not setup_first:
                    site = await _setup_after(site, registry, compiled)
                    for run in runs:
                        run.graph = site.graphs[run.shape.name]  # on the reopened saver
                    await gather_limited([_compare(batch, site, run, "after setup", report)
                                          for run in runs])
                    await _compare_lists(batch, site, runs, report)
                elif batch.decide:
                    await _decide_all(batch, site, shapes, sink, report)
            finally:
                await site.close()
            if progress:
                progress(f"{key}: {report.threads} threads, {len(report.mismatches)} "
                         "mismatches so far")
    finally:
        sink.close()
    report.seconds = time.perf_counter() - started
    report.mismatches.sort(key=lambda m: (m.thread, m.check))
    return report


async def _open_site(
    key: str, location: DatabaseLocation, registry: GraphRegistry,
    compiled: dict[str, Any], setup_first: bool,
) -> Site:
    with_graph = await open_store(location, registry, grace_seconds=0, create=True)
    if setup_first:
        await with_graph.setup()
    without_graph = await open_store(location, GraphRegistry(), grace_seconds=0)
    graphs = {n: g.copy(update={"checkpointer": with_graph.saver}) for n, g in compiled.items()}
    mode = "setup before writes" if setup_first else "no setup"
    return Site(f"{location.backend}/{key}", location, mode, with_graph, without_graph, graphs)


async def _setup_after(site: Site, registry: GraphRegistry, compiled: dict[str, Any]) -> Site:
    await site.with_graph.setup()
    await site.close()
    with_graph = await open_store(site.location, registry, grace_seconds=0)
    without_graph = await open_store(site.location, GraphRegistry(), grace_seconds=0)
    graphs = {n: g.copy(update={"checkpointer": with_graph.saver}) for n, g in compiled.items()}
    return Site(site.label, site.location, "setup after writes", with_graph, without_graph,
                graphs)


# ------------------------------------------------------------------ driving threads


def _failable(shape: Shape) -> list[str]:
    return [n.name for n in shape.nodes() if n.sub is None]


def _answer(value: Any, approve: bool) -> Any:
    """An answer in the shape the asking code expects (per-call decisions, or raw)."""
    if isinstance(value, dict) and value.get("type") == "tool_approval":
        return {"type": "approve"} if approve else {"type": "reject", "message": "no"}
    return "approved" if approve else "rejected: no"


async def _invoke(batch: Batch, site: Site, run: ThreadRun, inp: Any, fail: str | None,
                  durability: str, report: Report, step: str) -> bool:
    """One invocation; False if the node named by `fail` raised (as asked)."""
    config: Any = {"configurable": {"thread_id": run.thread_id, "fail": fail},
                   "metadata": {"graph_id": run.shape.name}}
    last: Any = None
    step_tasks: list[dict[str, Any]] = []  # the root tasks of the last step that started
    finished = False
    started = time.perf_counter()
    run.stopped_at_breakpoint = run.stopped_after_push_on_exit = False
    try:
        async for mode, chunk in run.graph.astream(inp, config, durability=durability,
                                                   stream_mode=["updates", "tasks"]):
            if mode == "updates":
                last = chunk
            elif "triggers" in chunk:  # a task starts (a result has no triggers)
                if finished:
                    step_tasks, finished = [], False
                step_tasks.append(chunk)
            else:
                finished = True
    except NodeFailed:
        return False
    except Exception as exc:  # LangGraph refused what the generator did: a harness defect
        report.mismatches.append(Mismatch(
            "run error", type(exc).__name__, batch.seed, describe(run.shape), run.thread_id,
            site.label, step, "the invocation runs", f"{type(exc).__name__}: {exc}"[:300]))
        return False
    finally:
        report.timings["run"] += time.perf_counter() - started
    run.stopped_at_breakpoint = isinstance(last, dict) and last.get("__interrupt__") == ()
    gated = [t for t in step_tasks if run.info.pauses_after(t["name"])]
    run.stopped_after_push_on_exit = (
        run.stopped_at_breakpoint and durability == "exit" and bool(gated)
        and all(tuple(t["triggers"]) == (PUSH,) for t in gated))
    return True


async def _drive_site(
    batch: Batch, site: Site, shapes: list[Shape], count: int, sink: EffectSink,
    report: Report,
) -> list[ThreadRun]:
    runs = []
    for index in range(count):
        shape = shapes[index % len(shapes)]
        thread_id = f"{site.label.replace('/', '-')}-{shape.name}-t{index}"
        runs.append(ThreadRun(thread_id, shape, site.graphs[shape.name],
                              site.with_graph.registry.get(shape.name)))  # type: ignore[arg-type]
    report.threads += len(runs)
    await gather_limited([_drive_thread(batch, site, run, report) for run in runs])
    return runs


async def gather_limited(coros: list[Coroutine[Any, Any, None]], limit: int = CONCURRENCY
                         ) -> None:
    """Run the coroutines, at most `limit` at a time (threads are independent; running a
    few together overlaps the database round trips)."""
    gate = asyncio.Semaphore(limit)

    async def one(coro: Coroutine[Any, Any, None]) -> None:
        async with gate:
            await coro

    await asyncio.gather(*(one(c) for c in coros))


async def _drive_thread(batch: Batch, site: Site, run: ThreadRun, report: Report) -> None:
    """One thread to a random point, compared after every invocation (unless the site
    gets its setup only afterwards)."""
    live = site.mode != "setup after writes"
    shape, thread_id = run.shape, run.thread_id
    rng = random.Random(f"{batch.seed}/{thread_id}")
    fail = rng.choice(_failable(shape)) if rng.random() < 0.15 else None
    steps = rng.choices([0, 1, 2, 3, 8], weights=[3, 3, 2, 2, 2])[0]
    inp = first_input(shape, rng.randrange(16), rng.randint(1, 5))
    await _invoke(batch, site, run, inp, fail, rng.choice(DURABILITY), report, "start")
    if live:
        await _compare(batch, site, run, "after start", report)
    for number in range(1, steps + 1):
        state = await run.graph.aget_state({"configurable": {"thread_id": thread_id}})
        if state.interrupts:
            items = list(state.interrupts)
            if len(items) > 1 and rng.random() < 0.4:
                items = [rng.choice(items)]
                what = f"answered 1 of {len(state.interrupts)} by id"
            else:
                what = f"answered all {len(items)}"
            resume = {i.id: _answer(i.value, rng.random() < 0.75) for i in items}
            inp = Command(resume=resume)
        elif state.next:
            if fail and rng.random() < 0.5:
                fail = None
            what = "resumed" + (f" (fail={fail})" if fail else "")
            inp = None
        else:
            break
        await _invoke(batch, site, run, inp, fail, rng.choice(DURABILITY), report,
                      f"step {number}")
        if live:
            await _compare(batch, site, run, f"after step {number} ({what})", report)


# ------------------------------------------------------------------ comparing


async def _compare(batch: Batch, site: Site, run: ThreadRun, step: str, report: Report) -> None:
    started = time.perf_counter()
    truth = await expected(run.graph, run.info, run.thread_id)
    report.timings["aget_state"] += time.perf_counter() - started
    started = time.perf_counter()
    for registry, store, want in (("graph", site.with_graph, truth.with_graph),
                                  ("no graph", site.without_graph, truth.without_graph)):
        got = answer_of(await store.pending_thread(run.thread_id))
        report.comparisons += 1
        _diff(batch, site, run, step, registry, "pending_thread", want, got, truth, report)
    if (run.stopped_at_breakpoint and truth.without_graph.listed and not truth.with_graph.listed
            and not run.stopped_after_push_on_exit):
        got = answer_of(await site.with_graph.pending_thread(run.thread_id))
        if not got.listed:
            report.mismatches.append(Mismatch(
                "breakpoint stop", "listed", batch.seed, describe(run.shape), run.thread_id,
                f"{site.label} {site.mode} graph", step,
                "listed (LangGraph ended the run at a static breakpoint)", got.text(),
                truth.snapshot, truth.origin))
    report.timings["pending_thread"] += time.perf_counter() - started


# Why `stopped_after_push_on_exit` exempts a thread from the "breakpoint stop" check (the
# store must list a thread LangGraph ended at a static breakpoint): nothing stored says
# that the tasks that just ran were `Send` targets in `interrupt_after`, so neither
# LangGraph nor the console can name that stop afterwards.
# - `pregel/_loop.py` `_put_checkpoint`: with durability "exit" a checkpoint is saved
#   only when the loop exits (`do_checkpoint = exiting or durability != "exit"`), so the
#   checkpoint whose `__pregel_tasks` held those packets (the step before) is never saved;
#   the head's parent is the head of the invocation before (`aget_state` shows no parent
#   one step before: `oracle._ran_before` is empty).
# - `pregel/_algo.py` `apply_writes`: a task's `versions_seen` records the versions of its
#   `triggers`; a PUSH task's only trigger is `__pregel_push`, which is not a channel, so
#   nothing records that it ran (a PULL node's run is kept there: `pauses.last_ran`).
# - its writes do not say it either: they are applied to channels that other nodes write
#   too, and the head's writes are those of the next step's tasks.
# Only the stream says it (the tasks that ran last, and their PUSH trigger); a store
# cannot. The exemption is that case alone: the stop of an invocation with durability
# "exit" whose last step's tasks in `interrupt_after` are all `Send` targets.


async def _compare_lists(batch: Batch, site: Site, runs: list[ThreadRun], report: Report) -> None:
    """Membership and rows of `pending()` for every thread of the site, and the pause in
    each thread's review bundle (what `show` prints)."""
    started = time.perf_counter()
    for registry, store in (("graph", site.with_graph), ("no graph", site.without_graph)):
        rows: dict[str, PendingThread] = {p.thread_id: p for p in await store.pending()}
        for run in runs:
            truth = await expected(run.graph, run.info, run.thread_id)
            want = truth.with_graph if registry == "graph" else truth.without_graph
            report.comparisons += 2
            _diff(batch, site, run, "end of run", registry, "pending()", want,
                  answer_of(rows.get(run.thread_id)), truth, report)
            try:
                shown = answer_of((await store.bundle(run.thread_id)).pending)
            except ConsoleError as exc:
                shown = Answer(False, f"error: {type(exc).__name__}: {exc}"[:200])
            _diff(batch, site, run, "end of run", registry, "bundle", want, shown, truth,
                  report)
    report.timings["pending()/bundle"] += time.perf_counter() - started


def _diff(batch: Batch, site: Site, run: ThreadRun, step: str, registry: str, check: str,
          want: Answer, got: Answer, truth: Truth, report: Report) -> None:
    if want == got:
        return
    if (registry == "graph" and not want.listed and run.stopped_at_breakpoint
            and truth.without_graph.listed and got.kind in ("before", "after")):
        return  # LangGraph said it stopped at a breakpoint the checkpoints cannot name
    for what in ("listed", "kind", "nodes", "interrupts", "next_nodes"):
        if getattr(want, what) != getattr(got, what):
            break
    report.mismatches.append(Mismatch(
        check, what, batch.seed, describe(run.shape), run.thread_id,
        f"{site.label} {site.mode} {registry}", step, want.text(), got.text(),
        truth.snapshot, truth.origin))


# ------------------------------------------------------------------ deciding


def _leaves(shape: Shape) -> dict[str, list[str]]:
    """Each node's gated actions by node name: its own, or a subgraph's nodes'."""
    out: dict[str, list[str]] = {}
    for node in shape.nodes():
        out[node.name] = [n.name for n in ([node] if node.sub is None else node.sub.nodes())
                          if n.sub is None]
    return out


def _gated(pause: PendingThread, shape: Shape) -> dict[str, tuple[str, ...]]:
    """The gated actions a pause holds back, by what gates them: an interrupt's
    `node#item`, or for a breakpoint on a node `node#*` (every item of the node, or of
    every node of a subgraph)."""
    if pause.kind.value != "interrupt":
        nodes = pause.nodes if pause.kind.value == "before" else pause.next_nodes
        leaves = _leaves(shape)
        return {f"{pause.kind.value} {n}": tuple(f"{leaf}#*" for leaf in leaves.get(n, [n]))
                for n in nodes}
    keys = {}
    for item in pause.interrupts:
        value = item.value
        if isinstance(value, dict) and value.get("type") == "tool_approval":
            key = f"tools#{(value.get('args') or {}).get('x')}"
        elif isinstance(value, dict) and "node" in value:
            key = f"{value['node']}#{value['item']}"
        else:
            continue
        keys[key] = (key,)
    return keys


def _ran(counts: Counter[str], keys: tuple[str, ...]) -> list[int]:
    """How often each action of the group ran (those that ran)."""
    out = []
    for key in keys:
        if key.endswith("#*"):
            out += [c for k, c in counts.items() if k.startswith(key[:-1])]
        elif counts[key]:
            out.append(counts[key])
    return out


async def _decide_all(batch: Batch, site: Site, shapes: list[Shape], sink: EffectSink,
                      report: Report) -> None:
    started = time.perf_counter()
    decider = Decider(site.with_graph, current_origin("differential"), worker_mode=False)
    await gather_limited([_decide_one(batch, site, shape, sink, decider, approve, report)
                          for shape in shapes for approve in (True, False)])
    report.timings["decide"] += time.perf_counter() - started


async def _decide_one(batch: Batch, site: Site, shape: Shape, sink: EffectSink,
                      decider: Decider, approve: bool, report: Report) -> None:
    label = "approve" if approve else "reject"
    thread_id = f"{site.label.replace('/', '-')}-{shape.name}-{label}"
    run = ThreadRun(thread_id, shape, site.graphs[shape.name],
                    site.with_graph.registry.get(shape.name))  # type: ignore[arg-type]
    rng = random.Random(f"{batch.seed}/{thread_id}")
    report.decided += 1
    first = first_input(shape, rng.randrange(16), rng.randint(1, 5))
    durability = rng.choice(DURABILITY)
    await _invoke(batch, site, run, first, None, durability, report, "start")
    gated: dict[str, tuple[str, ...]] = {}
    seen_at: dict[str, Counter[str]] = {}  # what had run when each gate was first seen
    config: Any = {"configurable": {"thread_id": thread_id}}

    def fail(what: str, expected: str, actual: str, step: str, detail: str = "") -> None:
        report.mismatches.append(Mismatch(
            "decide", f"{label}: {what}", batch.seed, describe(shape), thread_id,
            f"{site.label} {site.mode} graph", step, expected, actual, detail))

    for number in range(1, 41):
        state = await run.graph.aget_state(config)
        if not state.next and not state.interrupts:
            break
        pause = await site.with_graph.pending_thread(thread_id)
        step = f"decision {number}"
        if pause is None:
            truth = await expected(run.graph, run.info, thread_id)
            if truth.with_graph.listed:
                fail("pause not visible", truth.with_graph.text(), "not listed", step,
                     truth.snapshot)
            break
        before = sink.counts(thread_id)
        for gate, keys in _gated(pause, shape).items():
            gated.setdefault(gate, keys)
            seen_at.setdefault(gate, before)
        try:
            await decider.decide(thread_id, APPROVE if approve else REJECT)
        except ConsoleError as exc:
            fail("refused", "the decision is applied", f"{type(exc).__name__}: {exc}"[:300],
                 step)
            return
        ran = sink.counts(thread_id) - before
        if not approve and pause.kind.value != "interrupt" and ran:
            fail("rejected breakpoint ran nodes", "nothing runs", str(dict(ran)), step)
    else:
        fail("never finished", "the run ends within 40 decisions", "still waiting", "end")
    counts = sink.counts(thread_id)
    reference = await _reference(run, first, durability, sink) if approve else Counter()
    for gate, keys in sorted(gated.items()):
        runs = _ran(counts, keys)
        if not approve:
            # after the pause (a subgraph paused inside ran some of its nodes before it)
            later = _ran(counts - seen_at[gate], keys)
            if later:
                fail("rejected action ran", f"{gate}: never runs", f"ran {later} times", "end")
            continue
        plain = sorted(_ran(reference, keys))
        if any(c != 1 for c in plain):
            continue  # LangGraph itself runs it more than once (nested re-execution)
        # once, as often as plain LangGraph runs it (a breakpoint's node may have no
        # gated action: an agent whose calls all go to the tool that does not ask)
        want = plain or ([] if all(k.endswith("#*") for k in keys) else [1])
        if sorted(runs) != want:
            fail("gated action not run exactly once", f"{gate}: ran {want} (as plain "
                 "LangGraph)", f"ran {runs or [0]}", "end")


async def _reference(run: ThreadRun, first: Any, durability: str, sink: EffectSink
                     ) -> Counter[str]:
    """The gated actions plain LangGraph runs when every question is approved and every
    breakpoint resumed (on an in-memory saver): what an approve may be held to."""
    graph = run.graph.copy(update={"checkpointer": InMemorySaver()})
    thread_id = f"{run.thread_id}-reference"
    config: Any = {"configurable": {"thread_id": thread_id}}
    inp: Any = first
    for _ in range(41):
        try:
            await graph.ainvoke(inp, config, durability=durability)
        except Exception:
            break
        state = await graph.aget_state(config)
        if not state.next:
            break
        inp = Command(resume={i.id: _answer(i.value, True) for i in state.interrupts}) \
            if state.interrupts else None
    return sink.counts(thread_id)


def schema_url(database_url: str, schema: str) -> str:
    """A URL of `database_url` whose search_path is `schema` (created if missing).

    Commits do not wait for the WAL flush (`synchronous_commit=off`): what every reader
    sees is the same, only a server crash could lose the last writes, and the thousands
    of small commits of generated runs get several times faster.
    """
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    options = f"-csearch_path={schema} -csynchronous_commit=off"
    return f"{database_url}?options={quote(options)}"
