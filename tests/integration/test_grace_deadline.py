"""The store remembers breakpoints it read too young to list, so a live console can read
them again when their grace period ends (no write announces that moment)."""

from __future__ import annotations

from datetime import timedelta

from console.core.dburl import parse_db_url
from console.core.graphs import GraphRegistry
from console.core.store import open_store
from tests import graphs
from tests.ui.ui_support import seed_threads


async def test_young_breakpoints_are_remembered_until_their_grace_ends(db_url: str) -> None:
    await seed_threads(db_url, {"before": graphs.before}, [("before", "b-1", {"topic": "b"}, {})])
    store = await open_store(parse_db_url(db_url), GraphRegistry([]), grace_seconds=60)
    try:
        assert await store.pending() == []  # young: not listed
        paused_at = store.young["b-1"]
        assert store.next_grace_deadline() == paused_at + timedelta(seconds=60)
        assert store.due_breakpoints(paused_at + timedelta(seconds=59)) == []
        assert store.due_breakpoints(paused_at + timedelta(seconds=60)) == ["b-1"]
        assert store.young == {} and store.next_grace_deadline() is None
        assert await store.pending_thread("b-1") is None  # still young: noted again
        assert "b-1" in store.young
        store.grace_seconds = 0.0
        pause = await store.pending_thread("b-1")
        assert pause is not None and pause.nodes == ("act",)
        assert store.young == {}
    finally:
        await store.close()
