"""After `setup`, Postgres answers from the trigger-kept status table, with the same result."""

from __future__ import annotations

import psycopg

from console.core.dburl import parse_db_url
from console.core.store import open_store
from console.core.store.postgres import PostgresStore
from console.demo.graphs import DEMO_GRAPHS, demo_answer, demo_config
from console.demo.seed import seed_demo


def _keys(threads: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(p.thread_id, p.checkpoint_id) for p in threads]


async def test_setup_gives_the_same_queue_and_follows_new_writes(
    pg_url: str, demo_registry
) -> None:  # type: ignore[no-untyped-def]
    store = await open_store(parse_db_url(pg_url), demo_registry, grace_seconds=0, create=True)
    assert isinstance(store, PostgresStore)
    try:
        await seed_demo(store.saver, 18)
        without = await store.pending()
        assert not store.has_status_table
        done = await store.setup(notify=True)
        assert "status table" in done and "change notifications" in done
        assert store.has_status_table
        assert _keys(await store.pending()) == _keys(without)
        assert _keys(await store.pending(limit=5)) == _keys(without)[:5]
        again = await store.setup()  # idempotent
        assert again
        # The trigger follows the application: a resumed thread leaves the queue...
        target = next(p for p in without if p.graph == "tutorial")
        graph = DEMO_GRAPHS["tutorial"](store.saver)
        config = demo_config("tutorial", target.thread_id)
        state = await graph.aget_state(config)
        await graph.ainvoke(demo_answer("tutorial", state.interrupts), config)
        after = await store.pending()
        assert target.thread_id not in {p.thread_id for p in after}
        # ...and a new pause joins it.
        await graph.ainvoke({"task": "new", "requested_at": state.values["requested_at"],
                             "budget": state.values["budget"], "credentials": {}},
                            demo_config("tutorial", "tutorial-new"))
        listed = {p.thread_id for p in await store.pending()}
        assert "tutorial-new" in listed
        with psycopg.connect(pg_url) as conn:
            open_rows = conn.execute(
                "SELECT count(*) FROM hitl_thread_status WHERE next_nodes <> '{}'").fetchone()
        assert open_rows is not None and open_rows[0] >= len(listed)
    finally:
        await store.close()
