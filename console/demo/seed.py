"""Fill a checkpointer with demo threads paused at every kind of gate, with realistic ages.

LangGraph stamps each checkpoint's `ts` with the wall clock, so a freshly seeded database
would show every pause as "just now". While seeding, the graphs run on `AgedSaver`, a
thin delegating saver whose `aput` rewrites `ts` from a per-thread synthetic clock
(increasing within the thread), leaving checkpoint ids, writes and metadata untouched.
Note that checkpoint ids are uuid6 and still encode the real seeding time: ages must be
read from `ts` (`StateSnapshot.created_at`), never from the id.
"""

from __future__ import annotations

import inspect
import math
import random
from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.types import Command

from console.demo import data
from console.demo import graphs as demo_graphs
from console.demo.gates import CompiledGraph, ConventionName, Kind
from console.demo.graphs import DEMO_GRAPHS, DEMO_INFO, demo_config

Expected = Literal["pending", "finished", "resumed"]

# Pauses look like they happened between these ages ago (log-uniform, so most are recent).
_MIN_AGE = timedelta(seconds=90)  # a run's head lands <10 synthetic s after its start
_MAX_AGE = timedelta(hours=48)


@dataclass(frozen=True, slots=True)
class SeededThread:
    """One thread `seed_demo` created, and what the console should say about it.

    `kind`/`convention` describe the graph's gate even for threads that are not pending;
    `nodes` is the distinct names in `StateSnapshot.next` at the head (sorted), empty once
    the run has ended.
    `updated_at` is the `ts` of the newest root checkpoint: the pause time when pending.
    """

    thread_id: str
    graph: str
    expected: Expected
    kind: Kind
    convention: ConventionName
    nodes: tuple[str, ...]
    updated_at: datetime
    requested_by: str

    @property
    def paused_at(self) -> datetime | None:
        """When the pause happened, for pending threads."""
        return self.updated_at if self.expected == "pending" else None


# Synthetic checkpoints are this far apart within one run, plus up to a second of jitter.
_STEP_SECONDS = 1.5


class _Clock:
    """Synthetic times for one thread, a function of (anchor, namespace, step).

    Not of call order: a subgraph's checkpoints are saved from background tasks that race
    the parent's, so the order of `aput` calls differs between runs, but the set of
    (namespace, step) pairs does not. Steps increase within a run, so times do too.
    """

    def __init__(self, key: str, anchor: datetime) -> None:
        self._key = key
        self._anchor = anchor
        self._last = anchor

    def move_to(self, anchor: datetime) -> None:
        """Start the thread's next run at `anchor` (never before its last stamp)."""
        self._anchor = max(anchor, self._last + timedelta(seconds=1))

    def stamp(self, checkpoint_ns: str, step: int) -> datetime:
        # Task ids in the namespace are random per run; the node path is stable.
        ns = (
            "|".join(part.split(":")[0] for part in checkpoint_ns.split("|"))
            if checkpoint_ns
            else ""
        )
        jitter = random.Random(f"{self._key}:{ns}:{step}").random()
        offset = (step + 1) * _STEP_SECONDS + jitter + (0.25 if ns else 0.0)
        ts = self._anchor + timedelta(seconds=offset)
        self._last = max(self._last, ts)
        return ts


class AgedSaver(BaseCheckpointSaver[Any]):
    """Delegates to `inner`, but stamps checkpoints of clocked threads with synthetic times.

    Threads without a clock (see `set_clock`) pass through unchanged. Only for seeding:
    everything except the `ts` rewrite is the inner saver's behaviour.
    """

    def __init__(
        self,
        inner: BaseCheckpointSaver[Any],
        clocks: dict[str, _Clock] | None = None,
        heads: dict[str, datetime] | None = None,
    ) -> None:
        super().__init__(serde=inner.serde)
        self.inner = inner
        self.clocks: dict[str, _Clock] = {} if clocks is None else clocks
        self.heads: dict[str, datetime] = {} if heads is None else heads

    def set_clock(self, thread_id: str, anchor: datetime, *, key: str | None = None) -> None:
        """Stamp the thread's next run from `anchor` on; `key` seeds the jitter."""
        clock = self.clocks.get(thread_id)
        if clock is None:
            self.clocks[thread_id] = _Clock(key or thread_id, anchor)
        else:
            clock.move_to(anchor)

    def _stamp(
        self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata
    ) -> Checkpoint:
        configurable = config.get("configurable", {})
        thread_id = str(configurable.get("thread_id"))
        clock = self.clocks.get(thread_id)
        if clock is None:
            return checkpoint
        checkpoint_ns = str(configurable.get("checkpoint_ns") or "")
        ts = clock.stamp(checkpoint_ns, metadata.get("step", -1))
        if not checkpoint_ns:
            self.heads[thread_id] = max(ts, self.heads.get(thread_id, ts))
        stamped = checkpoint.copy()  # the loop keeps the original object; don't mutate it
        stamped["ts"] = ts.isoformat()
        return stamped

    @property
    def config_specs(self) -> list[Any]:
        return self.inner.config_specs

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store the checkpoint with its `ts` rewritten from the thread's clock."""
        stamped = self._stamp(config, checkpoint, metadata)
        return await self.inner.aput(config, stamped, metadata, new_versions)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store the checkpoint with its `ts` rewritten from the thread's clock."""
        stamped = self._stamp(config, checkpoint, metadata)
        return self.inner.put(config, stamped, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self.inner.aput_writes(config, writes, task_id, task_path)

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self.inner.put_writes(config, writes, task_id, task_path)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self.inner.aget_tuple(config)

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self.inner.get_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        async for item in self.inner.alist(config, filter=filter, before=before, limit=limit):
            yield item

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        return self.inner.list(config, filter=filter, before=before, limit=limit)

    def get_next_version(self, current: Any, channel: None) -> Any:
        # Savers differ (Postgres and SQLite use strings): the inner one's scheme must win.
        return self.inner.get_next_version(current, channel)

    def with_allowlist(self, extra_allowlist: Collection[tuple[str, ...]]) -> AgedSaver:
        # Under LANGGRAPH_STRICT_MSGPACK the graph swaps in an allowlisted saver: keep the
        # clocks (shared dicts) and allowlist the saver that actually serializes.
        return AgedSaver(self.inner.with_allowlist(extra_allowlist), self.clocks, self.heads)


@dataclass(frozen=True, slots=True)
class _Plan:
    """One thread to seed: which graph, what should become of it, and with which input."""

    thread_id: str
    graph: str
    expected: Expected
    index: int
    gate: bool = True  # False: an input whose path never reaches the gate
    partial: bool = False  # answer the first of several interrupts by id; the rest wait


# Seeded after the round-robin ones, whatever `threads` is (those of the chosen graphs).
_EXTRAS = (
    _Plan("hitl_agent-done-0001", "hitl_agent", "finished", 9001, gate=False),
    _Plan("inbox-done-0001", "inbox", "finished", 9002, gate=False),
    _Plan("email-resumed-0001", "email", "resumed", 9101),
    _Plan("tutorial-resumed-0001", "tutorial", "resumed", 9102),
    _Plan("hitl_agent_js-resumed-0001", "hitl_agent_js", "resumed", 9103),
    _Plan("parallel-partial-0001", "parallel", "pending", 9201, partial=True),
    _Plan("functional_task-resumed-0001", "functional_task", "resumed", 9104),
    _Plan("map_reduce-partial-0001", "map_reduce", "pending", 9202, partial=True),
    _Plan("tool_agent-partial-0001", "tool_agent", "pending", 9203, partial=True),
)
EXTRA_THREADS = len(_EXTRAS)
"""How many threads `seed_demo` adds to the `threads` it is asked for."""
EXTRA_PENDING = sum(plan.expected == "pending" for plan in _EXTRAS)
"""How many of those extra threads are still pending (each with one question answered)."""


def _plans(threads: int, graphs: Sequence[str]) -> list[_Plan]:
    names = list(graphs)
    pending = [
        _Plan(f"{names[i % len(names)]}-{i:04d}", names[i % len(names)], "pending", i)
        for i in range(threads)
    ]
    return pending + [plan for plan in _EXTRAS if plan.graph in names]


def _age(rng: random.Random, low: timedelta, high: timedelta) -> timedelta:
    """Log-uniform between low and high: many recent pauses, a long tail of stale ones."""
    lo, hi = math.log(low.total_seconds()), math.log(high.total_seconds())
    return timedelta(seconds=math.exp(rng.uniform(lo, hi)))


def _input(plan: _Plan, rng: random.Random, at: datetime) -> dict[str, Any]:
    if plan.graph == "hitl_agent" and not plan.gate:
        return data.hitl_agent_input(rng, at, plan.index, needs_tools=False)
    if plan.graph == "inbox" and not plan.gate:
        return data.inbox_input(rng, at, plan.index, small=True)
    return data.INPUTS[plan.graph](rng, at, plan.index)


def _answer(plan: _Plan, interrupts: Sequence[Any]) -> Command[Any] | None:
    """How the human answered a `resumed` (or partially answered) thread."""
    if plan.graph == "email":
        return None  # approve at the static breakpoint: just continue
    if plan.graph == "tutorial":
        return Command(resume="rejected: outside the change window")
    if plan.graph == "functional_task":
        return Command(resume="approved")
    if plan.graph == "parallel":
        finance = next(i for i in interrupts if i.value["role"] == "finance")
        return Command(resume={finance.id: "approved"})
    if plan.graph == "map_reduce":  # the first expense line only, by its interrupt id
        first = next(i for i in interrupts if i.value["item"]["line"] == 1)
        return Command(resume={first.id: "approved"})
    if plan.graph == "tool_agent":  # the email goes out; the deletion still waits
        email = next(i for i in interrupts if i.value["name"] == "send_email")
        return Command(resume={email.id: {"type": "approve"}})
    request = interrupts[0].value["actionRequests"][0]
    edited = {"name": request["name"], "args": {**request["args"], "subject": "Key rotation"}}
    decisions = [
        {"type": "edit", "editedAction": edited},
        {"type": "reject", "message": "keep the sessions until the audit is closed"},
    ]
    return Command(resume={"decisions": decisions})


def _expected_nodes(plan: _Plan) -> tuple[str, ...]:
    if plan.expected != "pending":
        return ()
    if plan.partial and plan.graph == "parallel":
        return ("approve_security",)  # the finance task finished when answered by id
    return DEMO_INFO[plan.graph].nodes


async def _seed_one(
    plan: _Plan, graph: CompiledGraph, saver: AgedSaver, seed: int, now: datetime
) -> SeededThread:
    rng = random.Random(f"{seed}:{plan.thread_id}")
    clock_rng = random.Random(f"{seed}:{plan.thread_id}:clock")
    requested_by = rng.choice(data.USERS)
    config = demo_config(plan.graph, plan.thread_id, requested_by=requested_by)
    if plan.expected == "pending":
        start = now - _age(clock_rng, _MIN_AGE, _MAX_AGE)
    else:
        start = now - _age(clock_rng, timedelta(hours=6), timedelta(hours=40))
    saver.set_clock(plan.thread_id, start, key=f"{seed}:{plan.thread_id}")
    await graph.ainvoke(_input(plan, rng, start), config)
    if plan.expected == "resumed" or plan.partial:
        state = await graph.aget_state(config)
        answered = start + (now - start) * clock_rng.uniform(0.2, 0.8)
        saver.set_clock(plan.thread_id, answered)
        await graph.ainvoke(_answer(plan, state.interrupts), config)
    info = DEMO_INFO[plan.graph]
    return SeededThread(
        thread_id=plan.thread_id,
        graph=plan.graph,
        expected=plan.expected,
        kind=info.kind,
        convention=info.convention,
        nodes=_expected_nodes(plan),
        updated_at=saver.heads[plan.thread_id],
        requested_by=requested_by,
    )


async def _setup(saver: BaseCheckpointSaver[Any]) -> None:
    """Create the saver's tables if it has an async `setup` (Postgres needs it explicitly)."""
    setup = getattr(saver, "setup", None)
    if setup is not None and inspect.iscoroutinefunction(setup):
        await setup()


def _graphs(saver: AgedSaver) -> Mapping[str, CompiledGraph]:
    # Attach the saver the way the console does, so seeding exercises the same path.
    return {
        name: getattr(demo_graphs, name).copy(update={"checkpointer": saver})
        for name in DEMO_GRAPHS
    }


async def _clear(saver: BaseCheckpointSaver[Any], plans: Sequence[_Plan], replace: bool) -> None:
    """Refuse to run on top of existing demo threads (a new input would restart them)."""
    for plan in plans:
        config: RunnableConfig = {"configurable": {"thread_id": plan.thread_id}}
        if await saver.aget_tuple(config) is None:
            continue
        if not replace:
            raise ValueError(f"thread {plan.thread_id!r} already exists; pass replace=True")
        await saver.adelete_thread(plan.thread_id)


async def seed_demo(
    saver: BaseCheckpointSaver[Any],
    threads: int = 40,
    *,
    seed: int = 7,
    now: datetime | None = None,
    replace: bool = False,
    graphs: Sequence[str] | None = None,
) -> list[SeededThread]:
    """Run demo threads on `saver` and return what became of each, in seeding order.

    `threads` threads go round-robin over `graphs` (default: all of `DEMO_GRAPHS`, in
    order; ids like `email-0000`) and are left paused at their gate, each looking paused
    between ~1.5 minutes and 48 hours before `now` (default: the current time; a naive
    `now` is taken as UTC). `EXTRA_THREADS` more follow: two that finished without a
    gate, four paused then answered (`resumed`, no longer pending), and three pending
    with one of several questions answered by id (`parallel-partial-0001`: the finance
    approval; `map_reduce-partial-0001`: expense line 1; `tool_agent-partial-0001`: the
    email call); only those of `graphs` when it is given. Inputs, ages and answers depend
    only on `seed` and the thread id; checkpoint ids are new every time.
    Works with any async saver (`AsyncSqliteSaver`, `AsyncPostgresSaver`, in-memory).

    Raises `ValueError` if a demo thread id already exists, unless `replace=True`, which
    deletes those threads first (only those: other threads in the database are kept).
    """
    if threads < 0:
        raise ValueError(f"threads must be >= 0, got {threads}")
    now = now or datetime.now(UTC)
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    await _setup(saver)
    names = list(DEMO_GRAPHS) if graphs is None else list(graphs)
    unknown = sorted(set(names) - set(DEMO_GRAPHS))
    if unknown or not names:
        raise ValueError(f"graphs must be names from DEMO_GRAPHS, got {names!r}")
    plans = _plans(threads, names)
    await _clear(saver, plans, replace)
    aged = AgedSaver(saver)
    compiled = _graphs(aged)
    # One thread at a time: measured faster than running them concurrently (the savers
    # serialize on one connection, and contention costs more than the overlap gains).
    return [await _seed_one(plan, compiled[plan.graph], aged, seed, now) for plan in plans]
