"""Failures of the database show as words, never as a traceback, and the app lives on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ui_support import build_app, screen_lines, settle

from console.core.errors import DatabaseUnavailable
from console.core.store.base import CheckpointStore
from console.settings import Settings
from console.ui.errors import describe_error
from console.ui.modals.error import ErrorModal
from console.ui.screens.main import MainScreen


def _break(path: Path, *tables: str) -> None:
    """Damage the database behind the open store, the way a bad migration would."""
    with sqlite3.connect(path) as conn:
        for table in tables:
            conn.execute(f"DROP TABLE {table}")


async def test_a_queue_that_cannot_load_shows_a_modal(
    store: CheckpointStore, settings: Settings, queue_db: Path
) -> None:
    _break(queue_db, "writes")
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal)
        assert app.screen.title_text == "Database unavailable"
        assert "Reading the queue from" in app.screen.message
        text = "\n".join(screen_lines(app))
        assert "Traceback" not in text
        await pilot.press("escape")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, MainScreen)
        assert any("not loaded | LOAD FAILED" in line for line in screen_lines(app))
        assert "could not be loaded" in "\n".join(screen_lines(app))
        assert "could not be loaded" in screen.detail.plain
        # Retrying fails the same way, without stacking a second modal on the first.
        await pilot.press("ctrl+r")
        await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal)
        assert len(app.screen_stack) == 2
        assert app.is_running


async def test_a_thread_that_cannot_load_is_reported_in_the_pane(
    store: CheckpointStore, settings: Settings, queue_db: Path
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        _break(queue_db, "checkpoints", "writes")
        await pilot.press("j")
        await settle(pilot)
        assert screen.detail.thread_id == screen.table.rows[1].thread_id
        assert "Could not load this thread" in screen.detail.plain
        assert isinstance(app.screen, MainScreen)  # a notification, not a modal
        assert app.is_running


def test_describe_error() -> None:
    assert describe_error(DatabaseUnavailable("Cannot open x.")) == (
        "Database unavailable",
        "Cannot open x.",
    )
    title, message = describe_error(KeyError("k"))
    assert title == "Unexpected error" and message == "KeyError: 'k'"
    _, message = describe_error(RuntimeError("\x1b[31m[b]red[/b]\nnext"))
    assert message == "RuntimeError: [b]red[/b] next"
