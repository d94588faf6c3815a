"""An edit for a pause two subgraphs deep reaches the state the paused node reads.

`nested`: root -> mid (subgraph) -> inner (subgraph) -> gate, which reads `amount`, asks,
and records what it read with the answer; `pay` at the root pays the amount afterwards.
A root `Command(update=...)` would leave the gate reading 5 (and the subgraph's output
would set the root back to 5): the edit must land in `mid > inner`'s state, be previewed
as landing there, or be refused with nothing written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from console.core.dburl import parse_db_url
from console.core.errors import ConsoleError
from console.core.graphs import GraphInfo, GraphRegistry
from console.core.ledger.apply import Decider, current_origin
from console.core.ledger.decisions import DecisionInput, DecisionRefused
from console.core.ledger.rows import DecisionType
from console.core.nested import NULL_TASK_ID, update_target
from console.core.redact import Redactor
from console.core.store import CheckpointStore, open_store
from console.ui.plan_text import plan_text
from tests import graphs

ROOT = Path(__file__).resolve().parents[2]
EDIT = DecisionInput(DecisionType.EDIT, state_update={"amount": 7})


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[CheckpointStore]:
    registry = GraphRegistry([GraphInfo.of("nested", graphs.nested)])
    opened = await open_store(parse_db_url(db_url), registry, grace_seconds=0, create=True)
    try:
        yield opened
    finally:
        await opened.close()


async def start(store: CheckpointStore, thread_id: str, **values: Any) -> tuple[Any, Any]:
    graph = graphs.nested.copy(update={"checkpointer": store.saver})
    config = {"configurable": {"thread_id": thread_id}, "metadata": {"graph_id": "nested"}}
    await graph.ainvoke({"amount": 5, **values}, config)
    return graph, config


async def test_an_edit_reaches_the_node_paused_two_subgraphs_deep(
    store: CheckpointStore,
) -> None:
    graph, config = await start(store, "t1")
    decider = Decider(store, current_origin("alice"))
    _pause, plan = await decider.plan("t1", EDIT)
    assert plan.update_ns is not None
    assert plan.update_ns.startswith("mid:") and "|inner:" in plan.update_ns
    assert plan.command_preview()["update_ns"] == plan.update_ns
    assert [(e.key, e.before, e.after) for e in plan.effects] == [("amount", 5, 7)]
    preview = plan_text(plan, Redactor()).plain
    assert "update lands in subgraph state mid > inner" in " ".join(preview.split())
    outcome = await decider.decide("t1", EDIT)
    assert outcome.status == "applied"
    state = await graph.aget_state(config)
    assert state.values["seen"] == [[7, "approved"]]  # the paused node read the edit
    assert state.values["effects"] == ["paid 7"]
    assert state.values["amount"] == 7 and state.next == ()


async def test_an_approval_without_an_edit_writes_nothing_nested(
    store: CheckpointStore,
) -> None:
    graph, config = await start(store, "t1")
    await Decider(store, current_origin("alice")).decide("t1", DecisionInput(
        DecisionType.APPROVE))
    assert (await graph.aget_state(config)).values["effects"] == ["paid 5"]


async def test_an_edit_of_a_key_the_paused_state_lacks_is_refused(
    store: CheckpointStore,
) -> None:
    await start(store, "t1")
    decider = Decider(store, current_origin("alice"))
    with pytest.raises(DecisionRefused, match="'effects' is not a channel of graph "
                                              "'nested > mid > inner'"):
        await decider.decide("t1", DecisionInput(DecisionType.EDIT,
                                                 state_update={"effects": ["x"]}))
    assert await decider.ledger.rows(thread_id="t1") == []
    assert await store.pending_thread("t1") is not None


async def test_a_failed_resume_leaves_no_edit_behind(store: CheckpointStore) -> None:
    """The gate raises on approval: the head stays at the pause, and the edit stored on
    the subgraph's checkpoint is cleared so a later decision does not carry it."""
    await start(store, "t1", explode=True)
    pause = await store.pending_thread("t1")
    assert pause is not None
    decider = Decider(store, current_origin("alice"))
    target = await update_target(GraphInfo.of("nested", graphs.nested), store.saver, pause)
    assert target.nested
    with pytest.raises(ConsoleError, match="bank refused"):
        await decider.decide("t1", EDIT)
    saved = await store.saver.aget_tuple(target.config("t1"))
    assert saved is not None
    assert [w for w in saved.pending_writes or [] if w[0] == NULL_TASK_ID] == []
    again = await store.pending_thread("t1")
    assert again is not None and again.checkpoint_id == pause.checkpoint_id


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True,
                          text=True, cwd=ROOT, env=os.environ.copy(), timeout=120)


async def test_the_cli_says_where_the_edit_landed(db_url: str, store: CheckpointStore) -> None:
    graph, config = await start(store, "t1")
    result = _cli("approve", "t1", "--edit", '{"amount": 7}', "--json", "--db", db_url,
                  "--graph", graphs.spec("nested"))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["status"] == "applied"
    assert out["update_lands_in"].startswith("subgraph state mid > inner")
    assert out["command"]["update_ns"].startswith("mid:")
    assert (await graph.aget_state(config)).values["seen"] == [[7, "approved"]]
