"""Fit for ssh at 80x24: every key discoverable (footer, `?`, palette), NO_COLOR readable,
and only glyphs every terminal font draws one cell wide."""

from __future__ import annotations

from typing import Any

import pytest
from textual.binding import Binding
from textual.command import CommandPalette, SearchIcon
from ui_support import (
    build_app,
    main_screen,
    screen_lines,
    screen_text,
    select_graph,
    settle,
    until,
)

from console.core.store.base import CheckpointStore
from console.settings import Settings
from console.ui.modals.bulk import BulkRejectScreen
from console.ui.modals.confirm import ConfirmScreen
from console.ui.modals.edit_form import EditForm
from console.ui.modals.help import HelpScreen, help_text
from console.ui.widgets.detail import DetailPane
from console.ui.widgets.queue_table import QueueTable

# Box drawing (dialog frames), and the redactor's own marks around a fingerprint.
SAFE = {chr(c) for c in range(0x2500, 0x2580)} | {"«", "»"}


def unsafe_glyphs(app: Any) -> set[str]:
    """Characters on screen that are neither ASCII nor in SAFE."""
    return {c for c in screen_text(app) if not c.isascii() and c not in SAFE}


async def test_every_binding_is_in_the_footer_or_the_help(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        footer = screen_lines(app)[-1]
        for key in ("a Approve", "r Reject", "m Respond", "e Edit", "space Mark",
                    "R Bulk reject", "/ Filter", "? Help"):
            assert key in footer
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = help_text(app.screen.sections).plain
        bindings = [*type(screen).BINDINGS, *app.BINDINGS, *QueueTable.BINDINGS,
                    *DetailPane.BINDINGS]
        for binding in bindings:
            assert isinstance(binding, Binding)
            if binding.description:
                assert binding.description in text, binding.description
        assert "ctrl+p: every action by name" in screen_text(app)


async def test_the_palette_has_every_action_and_runs_it(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await select_graph(pilot, "tutorial")
        titles = [title for title, *_ in main_screen(app).palette_commands()]
        for title in ("Approve", "Reject", "Respond", "Edit", "Mark",
                      "Mark range (last marked row to here)",
                      "Mark all shown (again: unmark them)", "Unmark all", "Bulk reject",
                      "Filter", "Reload", "Switch pane"):
            assert title in titles
        await pilot.press("ctrl+p")
        await until(pilot, lambda: CommandPalette.is_open(app))
        await settle(pilot)
        assert app.screen.query_one(SearchIcon).icon == ">"  # not the emoji
        await pilot.press(*"approve")
        await pilot.pause(0.5)
        await settle(pilot)
        assert "key a" in screen_text(app)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="approve")
        assert "Command(" in screen_text(app)


async def test_the_palette_shows_its_texts_as_written(
    store: CheckpointStore, settings: Settings
) -> None:
    """The palette reads titles and help as markup: "[policy]" vanished from "Bulk
    approve marked threads (where [policy] bulk_approve allows it)"."""
    app = build_app(store, settings)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: CommandPalette.is_open(app))
        await pilot.press(*"bulk approve")
        await pilot.pause(0.5)
        await settle(pilot)
        assert "(where [policy] bulk_approve allows it)" in screen_text(app)


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
async def test_no_color_dialogs_are_readable_and_ascii_safe(
    store: CheckpointStore, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    size: tuple[int, int],
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = build_app(store, settings)
    async with app.run_test(size=size, notifications=True) as pilot:
        await settle(pilot)
        assert app.no_color
        assert unsafe_glyphs(app) == set()
        await pilot.press("space")  # a mark shows as a glyph, not only a colour
        await pilot.pause()
        assert screen_lines(app)[1].startswith("*")
        await select_graph(pilot, "hitl_agent")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "y: submit   n/esc: cancel" in screen_text(app)
        assert unsafe_glyphs(app) == set()
        await pilot.press("n", "e")
        await until(pilot, lambda: isinstance(app.screen, EditForm))
        await settle(pilot)
        assert "ctrl+s: preview & submit" in screen_text(app)
        assert unsafe_glyphs(app) == set()
        await pilot.press("escape", "R")
        await until(pilot, lambda: isinstance(app.screen, BulkRejectScreen))
        assert "1 marked thread will be rejected" in screen_text(app)
        assert unsafe_glyphs(app) == set()
        await pilot.press("escape", "question_mark")
        await settle(pilot)
        assert unsafe_glyphs(app) == set()
        await pilot.press("escape")
        app.notify("a toast", title="Done")  # notifications too
        app.notify("a warning", severity="warning")
        await settle(pilot)
        assert "a toast" in screen_text(app)
        assert unsafe_glyphs(app) == set()
