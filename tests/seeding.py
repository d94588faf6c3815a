"""Running the test graphs until they pause, as the application would."""

from __future__ import annotations

from collections.abc import Mapping

from console.core.dburl import parse_db_url
from console.core.graphs import GraphRegistry
from console.core.store import open_store
from tests import graphs


async def run_to_pause(db_url: str, threads: Mapping[str, str]) -> dict[str, str]:
    """Run each thread (id -> graph name in `graphs.ALL`) until it pauses; returns each
    thread's head checkpoint id, in the order given."""
    store = await open_store(parse_db_url(db_url), GraphRegistry(), grace_seconds=0,
                             create=True)
    heads: dict[str, str] = {}
    try:
        for thread_id, name in threads.items():
            graph = graphs.ALL[name].copy(update={"checkpointer": store.saver})
            await graph.ainvoke({"topic": thread_id}, {
                "configurable": {"thread_id": thread_id}, "metadata": {"graph_id": name}})
            head = await store.head_checkpoint_id(thread_id)
            assert head is not None, thread_id
            heads[thread_id] = head
        return heads
    finally:
        await store.close()


async def seed_paused(db_url: str, name: str, count: int, prefix: str | None = None
                      ) -> dict[str, str]:
    """`count` threads of one graph, `<prefix or name>-000` onwards, run to their pause."""
    return await run_to_pause(db_url, {f"{prefix or name}-{i:03d}": name for i in range(count)})
