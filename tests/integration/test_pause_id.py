"""The pause token: a decision names the question it answers, not only the checkpoint.

`confirm_twice` asks, and once approved asks again in the same node: same checkpoint
id, new interrupt id. Two reviewers read question 1; the first approves; the second's
approval must not answer question 2, whatever form of `--expect` it carries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import Command

from console.core.errors import ConflictError, UsageError
from console.core.ledger.apply import Decider, current_origin
from console.core.ledger.decisions import DecisionInput
from console.core.ledger.rows import DecisionType
from console.core.pause_id import parse_expect, pause_id, pause_id_of, questions_digest
from console.core.redact import Redactor
from console.core.store import CheckpointStore
from console.core.views import bundle_view, pending_view
from tests import graphs

ROOT = Path(__file__).resolve().parents[2]
APPROVE = DecisionInput(DecisionType.APPROVE)
SECOND = "confirm: really send the wire?"


async def start(store: CheckpointStore, name: str, thread_id: str) -> tuple[Any, Any]:
    graph = graphs.ALL[name].copy(update={"checkpointer": store.saver})
    config = {"configurable": {"thread_id": thread_id}, "metadata": {"graph_id": name}}
    await graph.ainvoke({"topic": thread_id}, config)
    return graph, config


def test_parse_expect() -> None:
    token = pause_id("1f0-ab", ["b", "a"])
    assert token == pause_id("1f0-ab", ["a", "b"])  # order-independent
    assert parse_expect(token).checkpoint_id == "1f0-ab"
    assert parse_expect(token).digest == questions_digest(["a", "b"])
    bare = "1f1f0000-0000-6000-8000-000000abcdef"
    assert parse_expect(bare).digest is None and parse_expect(bare).checkpoint_id == bare
    assert pause_id("c", []) != pause_id("c", ["a"])  # a breakpoint differs from a question
    for bad in ("", "c:xyz", ":" + "0" * 12, "c:" + "g" * 12, "not-a-checkpoint", "1f0-ab"):
        with pytest.raises(UsageError):
            parse_expect(bad)


async def test_pending_and_show_print_the_pause_id(store: CheckpointStore) -> None:
    graph, config = await start(store, "confirm_twice", "t1")
    first = await store.pending_thread("t1")
    assert first is not None
    redactor = Redactor()
    token = pending_view(first, redactor)["pause_id"]
    assert token == pause_id_of(first)
    assert token.startswith(f"{first.checkpoint_id}:")
    assert bundle_view(await store.bundle("t1"), redactor)["pause_id"] == token
    await graph.ainvoke(Command(resume={first.interrupt_ids[0]: "approved"}), config)
    second = await store.pending_thread("t1")
    assert second is not None and second.checkpoint_id == first.checkpoint_id
    assert pause_id_of(second) != token  # same checkpoint, another question


@pytest.mark.parametrize("stale", ["checkpoint", "pause_id"])
async def test_a_stale_answer_to_a_reasked_question_is_a_conflict(
    store: CheckpointStore, stale: str
) -> None:
    await start(store, "confirm_twice", "t1")
    first = await store.pending_thread("t1")
    assert first is not None
    alice = Decider(store, current_origin("alice"))
    bob = Decider(store, current_origin("bob"))
    # Both read question 1; alice answers it and the graph asks question 2 right there.
    done = await alice.decide("t1", APPROVE, expect=pause_id_of(first))
    second = await store.pending_thread("t1")
    assert second is not None and second.checkpoint_id == first.checkpoint_id
    assert f"pause_id {pause_id_of(second)}" in done.message
    expect = first.checkpoint_id if stale == "checkpoint" else pause_id_of(first)
    with pytest.raises(ConflictError) as caught:
        await bob.decide("t1", APPROVE, expect=expect)
    message = str(caught.value)
    assert SECOND in message and pause_id_of(second) in message
    assert "alice answered the earlier question" in message
    state = await graphs.ALL["confirm_twice"].copy(update={"checkpointer": store.saver}) \
        .aget_state({"configurable": {"thread_id": "t1"}})
    assert state.values.get("effects", []) == []  # the gated action did not run
    assert [r.reviewer for r in await bob.ledger.rows(thread_id="t1")] == ["alice"]
    # Read and answered as what it is, question 2 goes through.
    await bob.decide("t1", APPROVE, expect=pause_id_of(second))
    state = await graphs.ALL["confirm_twice"].copy(update={"checkpointer": store.saver}) \
        .aget_state({"configurable": {"thread_id": "t1"}})
    assert state.values["effects"] == ["acted"]


async def test_a_bare_checkpoint_is_refused_after_an_answer_given_elsewhere(
    store: CheckpointStore
) -> None:
    """The application answered question 1 itself (no ledger row): the `__resume__` write
    it left on the checkpoint says a question there was answered."""
    graph, config = await start(store, "confirm_twice", "t1")
    first = await store.pending_thread("t1")
    assert first is not None
    await graph.ainvoke(Command(resume={first.interrupt_ids[0]: "approved"}), config)
    bob = Decider(store, current_origin("bob"))
    with pytest.raises(ConflictError, match="an answer was recorded there"):
        await bob.decide("t1", APPROVE, expect=first.checkpoint_id)
    assert (await graph.aget_state(config)).values.get("effects", []) == []


async def test_a_bare_checkpoint_works_while_nothing_was_answered(
    store: CheckpointStore
) -> None:
    await start(store, "raw", "t1")
    first = await store.pending_thread("t1")
    assert first is not None
    outcome = await Decider(store, current_origin("bob")).decide(
        "t1", APPROVE, expect=first.checkpoint_id)
    assert outcome.status == "applied"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True,
                          text=True, cwd=ROOT, env=os.environ.copy(), timeout=120)


async def test_the_cli_refuses_a_stale_answer_with_the_new_pause_id(
    db_url: str, store: CheckpointStore
) -> None:
    graph, config = await start(store, "confirm_twice", "t1")
    common = ["--db", db_url, "--graph", graphs.spec("confirm_twice")]
    listed = _cli("pending", "--json", *common)
    assert listed.returncode == 0, listed.stderr
    row = json.loads(listed.stdout)[0]
    read = row["pause_id"]
    assert read.startswith(row["checkpoint_id"] + ":")
    first = _cli("approve", "t1", "--expect", read, "--reviewer", "alice", *common)
    assert first.returncode == 0, first.stderr
    assert "asked again" in first.stdout
    shown = json.loads(_cli("show", "t1", "--json", *common).stdout)
    now = shown["pause_id"]
    assert now != read and shown["checkpoint_id"] == row["checkpoint_id"]
    for stale in (row["checkpoint_id"], read):
        late = _cli("approve", "t1", "--expect", stale, "--reviewer", "bob", *common)
        assert late.returncode == 3, late.stderr
        assert SECOND in late.stderr and now in late.stderr
        assert "Traceback" not in late.stderr
    assert (await graph.aget_state(config)).values.get("effects", []) == []
    done = _cli("approve", "t1", "--expect", now, "--reviewer", "bob", *common)
    assert done.returncode == 0, done.stderr
    assert (await graph.aget_state(config)).values["effects"] == ["acted"]
