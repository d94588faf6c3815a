"""An unreadable row in the console: listed with its reason, every decision key refused.

Real graphs paused in a real SQLite checkpointer; then one thread's interrupt write is
damaged as a bad deploy would leave it (garbage bytes). The queue must still load, show
that thread as `unreadable` with the reason, offer no action on it (keys disabled, a
press explained in one sentence, nothing written), and keep its sibling decidable.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

from ui_support import (
    build_app,
    main_screen,
    notifications,
    open_ui_store,
    screen_text,
    seed_threads,
    settle,
    until,
)

from console.core.models import PauseKind
from console.settings import Settings
from tests import graphs

GRAPHS = {name: graphs.ALL[name] for name in ("raw", "hitl")}
THREADS: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("raw", "broken-000", {"topic": "t"}, {}),
    ("hitl", "hitl-000", {"topic": "t"}, {}),
]


def _stored(path: Path) -> list[Any]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return [sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                for t in ("checkpoints", "writes")]


async def test_an_unreadable_row_is_listed_with_its_reason_and_offers_no_action(
    tmp_path: Path,
) -> None:
    path = tmp_path / "queue.sqlite"
    url = f"sqlite:///{path}"
    await seed_threads(url, GRAPHS, THREADS)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        damaged = conn.execute("UPDATE writes SET value = X'00ff13c1' WHERE thread_id = "
                               "'broken-000' AND channel = '__interrupt__'").rowcount
    assert damaged == 1
    before = _stored(path)
    store = await open_ui_store(url, GRAPHS)
    app = build_app(store, Settings(reviewer="tester", mouse=False))
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            await settle(pilot)
            screen = main_screen(app)
            rows = {t.thread_id: t for t in screen.table.rows}
            assert set(rows) == {"broken-000", "hitl-000"}
            assert screen.table.select_thread("broken-000")
            await settle(pilot)
            broken = rows["broken-000"]
            assert broken.kind is PauseKind.UNREADABLE and broken.error
            text = screen_text(app)
            assert "unreadable" in text and broken.error[:30] in text, text

            # no decision is offered: every key disabled (the footer greys them), with
            # the reason the detail pane gives; pressing them does nothing
            for action in ("approve", "reject", "edit", "respond"):
                assert screen.check_action(action, ()) is None, action
                state = screen.action_states(broken)[action]
                assert not state.allowed and "cannot be read" in state.reason, state
            said = notifications(app)
            assert any("cannot be read" in n for n in said), said
            await pilot.press("a", "r", "e", "m")
            await settle(pilot)
            assert len(app.screen_stack) == 1, app.screen_stack  # no dialog opened
            assert not any("Traceback" in n for n in notifications(app))
            assert _stored(path) == before, "a key on an unreadable row wrote something"

            # the sibling is still decidable
            assert screen.table.select_thread("hitl-000")
            await settle(pilot)
            await until(pilot, lambda: screen.detail.thread_id == "hitl-000",
                        what="the sibling's detail")
            assert screen.check_action("approve", ()) is True
    finally:
        await store.close()
