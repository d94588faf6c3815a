"""Keys typed ahead in one burst (as they arrive over a slow ssh link): everything typed
after `/` lands in the filter, and none of it runs as a queue key (`a`, `r`)."""

from __future__ import annotations

from typing import Any

from textual import events
from ui_support import build_app, main_screen, settle, until

from console.core.store.base import CheckpointStore
from console.settings import Settings


def _burst(app: Any, text: str) -> None:
    """Queue every key before the app handles any (Pilot.press waits between keys)."""
    for char in text:
        key = {"/": "slash", " ": "space", ":": "colon"}.get(char, char)
        app.post_message(events.Key(key, char))


async def test_a_burst_after_slash_all_lands_in_the_filter(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        _burst(app, "/graph:tutorial")
        await until(pilot, lambda: screen.filter_bar.input.value == "graph:tutorial",
                    what=f"the whole burst in the filter (got {screen.filter_bar.input.value!r})")
        assert {t.graph for t in screen.table.rows} == {"tutorial"}
        assert not screen.busy and isinstance(app.screen, type(screen))  # nothing ran



async def test_a_burst_lands_in_the_filter_where_no_decision_can_run(queue_db: Any) -> None:
    """With no graph loaded every decision key is refused, with a word of why: the `a`
    and `r` of a burst typed after `/` must still reach the filter, not be taken as
    refused decision keys (`/graph:tutorial` became `/gph:tutoil`, with four toasts)."""
    from ui_support import notifications

    from console.core.dburl import parse_db_url
    from console.core.graphs import GraphRegistry
    from console.core.store import open_store

    store = await open_store(parse_db_url(str(queue_db)), GraphRegistry())
    try:
        app = build_app(store, Settings(reviewer="tester", mouse=False))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            screen = main_screen(app)
            assert not screen.check_action("approve", ())  # nothing can be decided
            _burst(app, "/graph:tutorial")
            await until(pilot, lambda: screen.filter_bar.input.value == "graph:tutorial",
                        what=f"the whole burst (got {screen.filter_bar.input.value!r})")
            await settle(pilot)
            assert not [n for n in notifications(app) if n.startswith("No ")]
    finally:
        await store.close()
