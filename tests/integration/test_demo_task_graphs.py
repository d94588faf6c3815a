"""The demo's PUSH-task and Functional API graphs: they pause the way LangGraph says, the
console lists them as `aget_state()` reports them, and deciding runs each gated action
exactly once on approve and never on reject."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import Command
from pydantic import ValidationError

from console.core.ledger.apply import Decider, current_origin
from console.core.ledger.decisions import DecisionInput
from console.core.ledger.rows import DecisionType
from console.core.store import CheckpointStore
from console.demo.gates import ALLOWED_DECISIONS
from console.demo.graphs import DEMO_GRAPHS, DEMO_INFO, demo_answer, demo_config
from console.demo.seed import EXTRA_PENDING, SeededThread, seed_demo

NEW = ("map_reduce", "functional", "functional_task", "tool_agent")
ROOT = Path(__file__).resolve().parents[2]


def _graph(store: CheckpointStore, name: str) -> Any:
    return DEMO_GRAPHS[name](store.saver)


async def _state(store: CheckpointStore, seed: SeededThread) -> Any:
    return await _graph(store, seed.graph).aget_state(demo_config(seed.graph, seed.thread_id))


def _effects(name: str, values: Any) -> list[Any]:
    return list((values or {}).get(DEMO_INFO[name].effect, []))


async def test_they_pause_as_langgraph_reports(demo_store: CheckpointStore) -> None:
    seeded = await seed_demo(demo_store.saver, 4, graphs=NEW)
    assert {s.graph for s in seeded if s.expected == "pending" and "-partial-" not in
            s.thread_id} == set(NEW)
    for seed in seeded:
        state = await _state(demo_store, seed)
        if seed.expected != "pending":  # functional_task-resumed-0001: answered, finished
            assert state.next == () and _effects(seed.graph, state.values)
            continue
        assert tuple(sorted(set(state.next))) == seed.nodes == DEMO_INFO[seed.graph].nodes
        values = [i.value for i in state.interrupts]
        if seed.graph == "map_reduce":  # one branch per line still waiting
            lines = len(state.values["items"]) - ("-partial-" in seed.thread_id)
            assert len(state.next) == len(values) == lines >= 2
            assert all(v["question"].startswith("Reimburse line") for v in values)
        elif seed.graph == "tool_agent":
            names = sorted(v["name"] for v in values)
            assert names == (["delete_records"] if "-partial-" in seed.thread_id
                             else ["delete_records", "send_email"])
            assert len(state.next) == len(values)
            for item in state.interrupts:
                assert item.value["type"] == "tool_approval"
                mapping = (item.response_schema or {}).get("discriminator", {}).get("mapping")
                assert sorted(mapping) == sorted(ALLOWED_DECISIONS[item.value["name"]])
        else:  # the Functional API: the head is the entrypoint's input checkpoint
            assert len(values) == 1 and "?" in values[0]["question"]
            assert state.metadata["step"] == -1 and state.values is None


@pytest.mark.parametrize("approve", [True, False])
async def test_answers_run_each_gated_action_once_or_never(
    demo_store: CheckpointStore, approve: bool
) -> None:
    seeded = await seed_demo(demo_store.saver, 4, graphs=NEW)
    for seed in (s for s in seeded if s.expected == "pending"):
        graph = _graph(demo_store, seed.graph)
        config = demo_config(seed.graph, seed.thread_id)
        state = await graph.aget_state(config)
        done_before = _effects(seed.graph, state.values)
        await graph.ainvoke(demo_answer(seed.graph, state.interrupts, approve=approve), config)
        after = await graph.aget_state(config)
        assert after.next == () and not after.interrupts, seed.thread_id
        ran = _effects(seed.graph, after.values)[len(done_before):]
        expected = len(state.interrupts) if seed.graph in ("map_reduce", "tool_agent") else 1
        assert len(ran) == (expected if approve else 0), seed.thread_id


async def test_an_invalid_tool_decision_is_refused_and_the_pause_stays(
    demo_store: CheckpointStore,
) -> None:
    [seed] = [s for s in await seed_demo(demo_store.saver, 1, graphs=["tool_agent"])
              if s.thread_id == "tool_agent-0000"]
    graph = _graph(demo_store, "tool_agent")
    config = demo_config("tool_agent", seed.thread_id)
    state = await graph.aget_state(config)
    delete = next(i for i in state.interrupts if i.value["name"] == "delete_records")
    edit = {"type": "edit", "edited_action": {"name": "delete_records", "args": {}}}
    with pytest.raises(ValidationError):  # delete_records allows approve and reject only
        await graph.ainvoke(Command(resume={delete.id: edit}), config)
    again = await graph.aget_state(config)
    assert again.config == state.config
    assert sorted(i.id for i in again.interrupts) == sorted(i.id for i in state.interrupts)
    assert _effects("tool_agent", again.values) == []


# --- the console's view (needs the read path that recognises PUSH tasks and entrypoints)


@pytest.mark.parametrize("name", NEW)
async def test_the_console_lists_them_as_aget_state_does(
    demo_store: CheckpointStore, name: str
) -> None:
    seeded = await seed_demo(demo_store.saver, 2, graphs=[name])
    listed = {p.thread_id: p for p in await demo_store.pending()}
    assert set(listed) == {s.thread_id for s in seeded if s.expected == "pending"}
    for seed in (s for s in seeded if s.expected == "pending"):
        state = await _state(demo_store, seed)
        pause = listed[seed.thread_id]
        assert pause.checkpoint_id == state.config["configurable"]["checkpoint_id"]
        assert (pause.graph, pause.kind.value, pause.nodes) == (seed.graph, "interrupt",
                                                                 seed.nodes)
        assert pause.convention.value == seed.convention
        assert sorted(pause.interrupt_ids) == sorted(i.id for i in state.interrupts)
        assert await demo_store.pending_thread(seed.thread_id) == pause
        bundle = await demo_store.bundle(seed.thread_id)
        by_id = {i.id: i.value for i in state.interrupts}
        assert {i.id: i.value for i in bundle.interrupts} == by_id


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("approve", [True, False])
async def test_the_console_decides_them(
    demo_store: CheckpointStore, approve: bool, name: str
) -> None:
    seeded = await seed_demo(demo_store.saver, 1, graphs=[name])
    decider = Decider(demo_store, current_origin("alice"))
    choice = (DecisionInput(DecisionType.APPROVE) if approve
              else DecisionInput(DecisionType.REJECT, reason="not this quarter"))
    for seed in (s for s in seeded if s.expected == "pending"):
        state = await _state(demo_store, seed)
        await decider.decide(seed.thread_id, choice)
        after = await _state(demo_store, seed)
        assert after.next == (), seed.thread_id
        ran = _effects(seed.graph, after.values)[len(_effects(seed.graph, state.values)):]
        expected = len(state.interrupts) if seed.graph in ("map_reduce", "tool_agent") else 1
        assert len(ran) == (expected if approve else 0), seed.thread_id
        assert await demo_store.pending_thread(seed.thread_id) is None


def test_demo_command_seeds_every_form(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    result = subprocess.run(
        [sys.executable, "-m", "console", "demo", "--db", db, "--threads", str(len(DEMO_GRAPHS)),
         "--no-tui"], capture_output=True, text=True, cwd=ROOT, env=os.environ.copy(),
        timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{len(DEMO_GRAPHS) + EXTRA_PENDING} pending threads")
