"""Failures of the database show as words, never as a traceback, and the app lives on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ui_support import build_app, screen_lines, settle

from console.core.errors import DatabaseUnavailable
from console.core.store.base import CheckpointStore
from console.settings import Settings
from console.ui.errors import describe_error
from console.ui.screens.main import MainScreen


def _break(path: Path, *tables: str) -> None:
    """Damage the database behind the open store, the way a bad migration would."""
    with sqlite3.connect(path) as conn:
        for table in tables:
            conn.execute(f"DROP TABLE {table}")


async def test_a_queue_that_cannot_load_shows_a_banner_and_retries(
    store: CheckpointStore, settings: Settings, queue_db: Path
) -> None:
    """An unreadable database is an outage, not a bug: a banner, no modal, retries."""
    _break(queue_db, "writes")
    app = build_app(store, settings, retry_delays=(60.0,))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        assert screen.banner.display
        assert "DATABASE UNREACHABLE" in screen.banner.plain
        assert "Reading the queue from" in screen.banner.plain
        assert "Retrying in 60s" in screen.banner.plain
        text = "\n".join(screen_lines(app))
        assert "Traceback" not in text
        assert any("not loaded | LOAD FAILED" in line for line in screen_lines(app))
        assert "could not be loaded" in screen.detail.plain
        # Retrying by hand fails the same way, without a modal or a second banner.
        await pilot.press("ctrl+r")
        await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert len(app.screen_stack) == 1
        assert screen._failures == 3
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
    # One sentence (the first line), escapes shown as marks, markup as text (issue 15).
    assert message == "RuntimeError: \\x1b\\x5b\\x33\\x31\\x6d[b]red[/b]"
