"""Threads the Agent Server marks `error` whose question still waits (a refused strict
resume, a run that failed before the answer was taken) stay in the queue, as LangGraph's
own `get_state` reports them; a failed run with nothing waiting stays out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from console.core.dburl import parse_db_url
from console.core.graphs import GraphRegistry
from console.core.ledger.decisions import DecisionInput
from console.core.ledger.rows import DecisionType
from console.core.models import PauseKind
from console.core.server.decide import STRICT_RESUME
from console.core.server.store import ServerStore
from console.core.store import open_store
from tests.server.conftest import ServerFixture, pending_ids, run_until_paused
from tests.server.test_decide import deciding

STALE_ID = "0" * 32


@pytest.fixture
async def server_store(langgraph_server: ServerFixture) -> AsyncIterator[ServerStore]:
    store = await open_store(parse_db_url(langgraph_server.url), GraphRegistry())
    assert isinstance(store, ServerStore)
    try:
        yield store
    finally:
        await store.close()


async def _fail(client: Any, thread_id: str, graph: str, resume: Any) -> None:
    """A resume that fails the run (the server marks the thread `error`)."""
    run = await client.runs.create(thread_id, graph, input=None, command={"resume": resume},
                                   multitask_strategy="reject",
                                   config={"configurable": {STRICT_RESUME: True}})
    await client.runs.join(thread_id, run["run_id"])
    assert (await client.threads.get(thread_id))["status"] == "error"


async def test_error_thread_whose_question_waits_is_listed_and_decided(
    langgraph_server: ServerFixture, server_client: Any, server_store: ServerStore,
) -> None:
    waiting = await run_until_paused(server_client, "raw")
    [asked] = await pending_ids(server_client, waiting)
    await _fail(server_client, waiting, "raw", {STALE_ID: "approved"})  # refused: stale id
    assert await pending_ids(server_client, waiting) == [asked]  # LangGraph: still waits
    failed = await run_until_paused(server_client, "raw")
    # an answer the graph's router cannot read: the run fails after taking it
    await _fail(server_client, failed, "raw", {"decisions": [1]})
    assert await pending_ids(server_client, failed) == []  # LangGraph: nothing waits

    listed = {t.thread_id: t for t in await server_store.pending()}
    assert waiting in listed and failed not in listed
    row = listed[waiting]
    assert row.kind is PauseKind.INTERRUPT and row.interrupt_ids == (asked,)
    [exact] = await server_store.complete([row])
    assert exact.checkpoint_id and exact.nodes == ("gate",)
    assert (await server_store.pending_thread(waiting)) is not None
    assert await server_store.pending_thread(failed) is None

    async with deciding(langgraph_server.url) as decider:
        outcome = await decider.decide(waiting, DecisionInput(DecisionType.APPROVE))
    assert outcome.status == "applied", outcome.message
    assert sum(1 for e in langgraph_server.effects_of(waiting) if e["node"] == "act") == 1
    assert waiting not in {t.thread_id for t in await server_store.pending()}
