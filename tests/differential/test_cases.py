"""Fixed reproducers of what the generated runs found, one shape each, on both backends.

Each builds its shape with the generator's own building blocks (`build.py`), runs it the
way the generated thread did, and states the expected answer of
`test_differential.py`'s mapping (or the exactly-once rule) directly.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import Command

from console.core.dburl import parse_db_url
from console.core.graphs import GraphInfo, GraphRegistry
from console.core.ledger.apply import Decider, current_origin
from console.core.ledger.decisions import DecisionInput
from console.core.ledger.rows import DecisionType
from console.core.store import CheckpointStore, open_store
from tests.differential.build import EffectSink, NodeFailed, build, first_input
from tests.differential.oracle import answer_of, expected
from tests.differential.shapes import Agent, Graph, Node, Shape


class Case:
    """One shape on one store (graph registered, grace 0), with its side-effect table."""

    def __init__(self, store: CheckpointStore, shape: Shape, graph: Any, sink: EffectSink
                 ) -> None:
        self.store, self.shape, self.graph, self.sink = store, shape, graph, sink
        self.info = store.registry.get(shape.name)

    def config(self, thread_id: str, fail: str | None = None) -> Any:
        return {"configurable": {"thread_id": thread_id, "fail": fail},
                "metadata": {"graph_id": self.shape.name}}

    async def invoke(self, thread_id: str, inp: Any, *, fail: str | None = None,
                     durability: Any = "sync") -> None:
        with contextlib.suppress(NodeFailed):  # the failure the run asked for
            await self.graph.ainvoke(inp, self.config(thread_id, fail), durability=durability)

    async def answer_all(self, thread_id: str, fail: str | None = None) -> None:
        state = await self.graph.aget_state(self.config(thread_id))
        await self.invoke(thread_id, Command(resume={i.id: "approved"
                                                     for i in state.interrupts}), fail=fail)

    async def check(self, thread_id: str) -> None:
        truth = await expected(self.graph, self.info, thread_id)  # type: ignore[arg-type]
        got = answer_of(await self.store.pending_thread(thread_id))
        assert got == truth.with_graph, (
            f"expected {truth.with_graph.text()}\nactual   {got.text()}\n{truth.snapshot}")


@pytest.fixture
async def open_case(db_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    stores: list[CheckpointStore] = []
    sink = EffectSink(tmp_path / "effects.sqlite")

    async def make(shape: Shape, *, setup: bool = False) -> Case:
        compiled = build(shape, sink, None)
        store = await open_store(parse_db_url(db_url),
                                 GraphRegistry([GraphInfo.of(shape.name, compiled)]),
                                 grace_seconds=0, create=True)
        stores.append(store)
        if setup:
            await store.setup()
        return Case(store, shape, compiled.copy(update={"checkpointer": store.saver}), sink)

    try:
        yield make
    finally:
        for store in stores:
            await store.close()
        sink.close()


async def test_a_sibling_that_finished_in_a_failed_step_is_not_pending(open_case: Any) -> None:
    """Parallel n1 (asks once, then fails) and n2 (asks twice): after two rounds of
    answers n2 has finished; only n1's question is open (found on Postgres after setup)."""
    case = await open_case(Graph("par", ((Node("n1", 1), Node("n2", 2)),), ()), setup=True)
    await case.invoke("t", first_input(case.shape, 0, 1), fail="n1")
    for _ in range(2):
        await case.answer_all("t", fail="n1")
        await case.check("t")


async def test_a_subgraphs_own_breakpoint_can_be_approved(open_case: Any) -> None:
    """A compiled subgraph with its own interrupt_before, gated at the root too: each
    approve moves the run on, and the gated node runs exactly once."""
    sub = Graph("s", ((Node("n2"),),), (), before=("n2",))
    case = await open_case(Graph("nested", ((Node("s", 0, sub),),), (), before=("s",)))
    await case.invoke("t", first_input(case.shape, 0, 1))
    decider = Decider(case.store, current_origin("diff"), worker_mode=False)
    for _ in range(4):
        if not (await case.graph.aget_state(case.config("t"))).next:
            break
        await decider.decide("t", DecisionInput(DecisionType.APPROVE))
    assert (await case.graph.aget_state(case.config("t"))).next == ()
    assert case.sink.counts("t") == {"n2#": 1}


async def test_a_subgraphs_own_breakpoint_is_listed(open_case: Any) -> None:
    """LangGraph ends the run at the subgraph's breakpoint (the stream's last update is
    an empty `__interrupt__`); the thread waits for a human."""
    sub = Graph("s", ((Node("n2"),),), (), before=("n2",))
    case = await open_case(Graph("inner", ((Node("s", 0, sub),),), ()))
    await case.invoke("t", first_input(case.shape, 0, 1))
    assert (await case.graph.aget_state(case.config("t"))).next == ("s",)
    assert await case.store.pending_thread("t") is not None


@pytest.mark.parametrize("setup", [False, True], ids=["no setup", "setup first"])
async def test_an_after_breakpoint_with_exit_durability_is_listed(
    open_case: Any, setup: bool
) -> None:
    """interrupt_after=[n1] on a run with durability "exit": no checkpoint of the step
    before is saved, yet the run stopped for a human after n1."""
    case = await open_case(Graph("late", ((Node("n1"),), (Node("n2"),)), ("static",),
                                 after=("n1",)), setup=setup)
    await case.invoke("t", first_input(case.shape, 0, 1), durability="exit")
    assert (await case.graph.aget_state(case.config("t"))).next == ("n2",)
    pause = await case.store.pending_thread("t")
    assert pause is not None and pause.kind.value == "after"


async def test_rejecting_an_agents_tools_breakpoint_ends_the_run(open_case: Any) -> None:
    """interrupt_before=["tools"] on a model/ToolNode loop: reject ends the run without
    running the tool (skipping "tools" only sends the run back to the model)."""
    case = await open_case(Agent("loop", "toolnode", (True,), before_tools=True))
    await case.invoke("t", first_input(case.shape, 0, 1))
    decider = Decider(case.store, current_origin("diff"), worker_mode=False)
    await decider.decide("t", DecisionInput(DecisionType.REJECT, reason="no"))
    assert (await case.graph.aget_state(case.config("t"))).next == ()
    assert case.sink.counts("t") == {}


@pytest.mark.parametrize("setup", [False, True], ids=["no setup", "setup first"])
async def test_a_failed_entrypoint_leaves_no_question_of_its_tasks(
    open_case: Any, setup: bool
) -> None:
    """Functional API, parallel @tasks: t1 fails while t2 and t3 ask. The entrypoint
    raises the failure instead of asking again, so `aget_state` shows no question; the
    tasks' own interrupt writes must not show as one, with the graph (not listed) or
    without it (stalled, no interrupts), and reading the queue must not fail (a Postgres
    status row with interrupt writes and no question made the whole queue raise)."""
    from tests.differential.shapes import Flow

    shape = Flow("flow", 0, (("t1", 0), ("t2", 1), ("t3", 1)), True, 0)
    case = await open_case(shape, setup=setup)
    await case.invoke("t", first_input(case.shape, 0, 3), fail="t1")
    state = await case.graph.aget_state(case.config("t"))
    assert state.next and not state.interrupts  # the run failed; LangGraph asks nothing
    await case.check("t")
    assert [p.thread_id for p in await case.store.pending()] == []
    bare = await open_store(case.store.location, GraphRegistry(), grace_seconds=0)
    try:
        for pause in [await bare.pending_thread("t"), *await bare.pending()]:
            assert pause is not None and pause.kind.value == "stalled"
            assert pause.interrupts == ()
    finally:
        await bare.close()


async def _all_reads(case: Case, thread_id: str) -> list[Any]:
    """The thread's pause as `pending_thread`, its row of `pending()`, and its bundle
    give it (they must agree)."""
    rows = {p.thread_id: p for p in await case.store.pending()}
    return [answer_of(await case.store.pending_thread(thread_id)),
            answer_of(rows.get(thread_id)),
            answer_of((await case.store.bundle(thread_id)).pending)]


@pytest.mark.parametrize("setup", [False, True], ids=["no setup", "setup first"])
async def test_a_subgraph_stopped_after_its_task_failed_once_is_listed(
    open_case: Any, setup: bool
) -> None:
    """n1 fails beside subgraph s, which is cancelled (an `__error__` write for s). The
    next run stops inside s, before its n2: s's error is still there (LangGraph keeps a
    task's error in a fixed write slot), older than the stop its subgraph's newest
    checkpoint shows. Listed, `before s`, on every read path (the 10k run: 15 threads
    that LangGraph ended at a breakpoint read as failed)."""
    sub = Graph("s", ((Node("n2"),),), (), before=("n2",))
    case = await open_case(Graph("stale", ((Node("n1"), Node("s", 0, sub)),), ()), setup=setup)
    await case.invoke("t", first_input(case.shape, 0, 1), fail="n1")
    await case.invoke("t", None)
    state = await case.graph.aget_state(case.config("t"))
    assert state.next == ("s",)
    assert [t.error is not None for t in state.tasks if t.name == "s"] == [True]
    await case.check("t")
    assert {a.text() for a in await _all_reads(case, "t")} == {"before nodes=['s'] next=['s']"}


@pytest.mark.parametrize("setup", [False, True], ids=["no setup", "setup first"])
async def test_an_exit_after_breakpoint_ends_once_the_run_went_on(
    open_case: Any, setup: bool
) -> None:
    """interrupt_after=[n1] with durability "exit" (only `versions_seen` says n1 ran
    last): listed `after n1`. Resumed, the run goes past it and stops inside the `Send`
    targets' subgraph s (before its n2), at the same root head: now `before s`, not
    `after n1` (the 10k run: 6 threads on SQLite)."""
    sub = Graph("s", ((Node("n2"),),), (), before=("n2",))
    case = await open_case(Graph("went", ((Node("n1"),), (Node("s", 0, sub),)), ("send",),
                                 after=("n1",)), setup=setup)
    await case.invoke("t", first_input(case.shape, 0, 2), durability="exit")
    assert [a.kind for a in await _all_reads(case, "t")] == ["after"] * 3
    head = (await case.graph.aget_state(case.config("t"))).config
    await case.invoke("t", None)
    state = await case.graph.aget_state(case.config("t"))
    assert state.config == head and state.next == ("s", "s")
    await case.check("t")
    assert {a.text() for a in await _all_reads(case, "t")} == {
        "before nodes=['s'] next=['s']"}


@pytest.mark.parametrize("setup", [False, True], ids=["no setup", "setup first"])
async def test_a_subgraph_that_did_not_stop_is_not_paused_inside(
    db_url: str, setup: bool
) -> None:
    """Subgraph s has a breakpoint of its own (interrupt_after=[n3]), but the run died in
    its n2 without a trace: no error written at any depth (a killed process; on Postgres
    a cancelled task's write lost with it). s's newest checkpoint is not at a breakpoint:
    not listed, as LangGraph's own state says (the 10k run: `before s` from the graph's
    structure alone, 2 threads on Postgres). The death is a `GraphBubbleUp` raised in
    n2: LangGraph writes nothing for it, at any depth."""
    from langgraph.errors import GraphBubbleUp
    from langgraph.graph import START, StateGraph

    from tests.differential.build import State

    async def n2(state: State) -> dict[str, Any]:
        raise GraphBubbleUp()

    inner = StateGraph(State)
    inner.add_node("n2", n2)
    inner.add_node("n3", lambda state: {"log": ["n3"]})
    inner.add_edge(START, "n2")
    inner.add_edge("n2", "n3")
    outer = StateGraph(State)
    outer.add_node("s", inner.compile(interrupt_after=["n3"]))
    outer.add_edge(START, "s")
    compiled = outer.compile(name="died")
    store = await open_store(parse_db_url(db_url), GraphRegistry([GraphInfo.of("died", compiled)]),
                             grace_seconds=0, create=True)
    try:
        if setup:
            await store.setup()
        graph = compiled.copy(update={"checkpointer": store.saver})
        config: Any = {"configurable": {"thread_id": "t"}, "metadata": {"graph_id": "died"}}
        with pytest.raises(GraphBubbleUp):
            await graph.ainvoke({"log": []}, config)
        state = await graph.aget_state(config, subgraphs=True)
        assert state.next == ("s",) and all(t.error is None for t in state.tasks)
        assert state.tasks[0].state.next == ("n2",)
        truth = await expected(graph, store.registry.get("died"), "t")  # type: ignore[arg-type]
        assert not truth.with_graph.listed
        rows = {p.thread_id: p for p in await store.pending()}
        assert await store.pending_thread("t") is None and "t" not in rows
        assert (await store.bundle("t")).pending is None
    finally:
        await store.close()


async def test_an_exit_after_breakpoint_on_a_send_target_leaves_no_trace(
    open_case: Any,
) -> None:
    """The premise of the runner's one exemption (its comment in `runner.py`): with
    durability "exit", a run that stops after `Send` targets in `interrupt_after` saves
    nothing that says so. The stream says it stopped at a breakpoint; the head's parent
    is not the step before, and the targets' `versions_seen` hold no version (a PUSH task's
    trigger is no channel). If LangGraph ever records it, this fails and the exemption
    must go (the 10k run: ~10 threads)."""
    case = await open_case(Graph("pushed", ((Node("n1", 1),), (Node("n2"),), (Node("n3"),)),
                                 ("send", "static"), after=("n2",)))
    config = case.config("t")
    await case.invoke("t", first_input(case.shape, 0, 2))  # n1 asks (saved: a parent)
    state = await case.graph.aget_state(config)
    chunks = [chunk async for chunk in case.graph.astream(
        Command(resume={i.id: "approved" for i in state.interrupts}), config,
        durability="exit", stream_mode="updates")]
    assert chunks[-1] == {"__interrupt__": ()}  # LangGraph ended the run after n2
    state = await case.graph.aget_state(config)
    parent = await case.graph.aget_state(state.parent_config)
    assert state.next == ("n3",) and parent.next == ("n1",)
    assert parent.metadata["step"] != state.metadata["step"] - 1
    stored = await case.store.checkpoint("t")
    assert stored is not None
    assert not stored.checkpoint["versions_seen"].get("n2")
    await case.check("t")  # the oracle's rule 3: not listed
    assert await case.store.pending_thread("t") is None


@pytest.mark.parametrize("setup", [False, True], ids=["no setup", "setup first"])
async def test_an_exit_after_breakpoint_past_an_earlier_pause_is_listed(
    open_case: Any, setup: bool
) -> None:
    """n1 asks; answered with durability "exit", the run goes through n1 and n2 and
    stops after n2 (interrupt_after). The head's saved parent is the pause at n1, two
    steps back, so its tasks do not say what ran last; n2's `versions_seen` does (a PULL
    task's trigger is a channel). Listed `after n2` on both backends (Postgres read it
    only when no parent was saved at all)."""
    case = await open_case(Graph("later", ((Node("n1", 1),), (Node("n2"),), (Node("n3"),)),
                                 ("static", "static"), after=("n2",)), setup=setup)
    await case.invoke("t", first_input(case.shape, 0, 1))
    state = await case.graph.aget_state(case.config("t"))
    await case.invoke("t", Command(resume={i.id: "approved" for i in state.interrupts}),
                      durability="exit")
    assert (await case.graph.aget_state(case.config("t"))).next == ("n3",)
    assert {a.text() for a in await _all_reads(case, "t")} == {
        "after nodes=['n2'] next=['n3']"}
    if not setup:  # and from the rows setup computes over what was written
        await case.store.setup()
        assert {a.text() for a in await _all_reads(case, "t")} == {
            "after nodes=['n2'] next=['n3']"}


@pytest.mark.parametrize("setup", [False, True], ids=["no setup", "setup first"])
async def test_send_packets_of_a_state_update_are_head_tasks(
    open_case: Any, setup: bool
) -> None:
    """A checkpoint saved by `aupdate_state(..., as_node="n1")` (how the console skips a
    breakpoint on reject) runs n1's `Send` edge: its packets are head tasks, though its
    `updated_channels` is JSON null (Postgres read null as "no packets written": the 10k
    run's "reject: pause not visible"). Listed `before n2` (interrupt_before=[n2])."""
    case = await open_case(Graph("upd", ((Node("n1"),), (Node("n2"),)), ("send",),
                                 before=("n1", "n2")), setup=setup)
    await case.invoke("t", first_input(case.shape, 0, 2))
    await case.graph.aupdate_state(case.config("t"), None, as_node="n1")
    assert (await case.graph.aget_state(case.config("t"))).next == ("n2", "n2")
    await case.check("t")
    assert {a.text() for a in await _all_reads(case, "t")} == {
        "before nodes=['n2'] next=['n2']"}
