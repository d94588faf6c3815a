"""Small terminals (80x24 over ssh): one pane at a time, and a cursor move costs a few
hundred bytes on the wire, not a screenful."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console
from ui_support import (
    build_app,
    decided,
    main_screen,
    screen_lines,
    screen_text,
    select_graph,
    settle,
    until,
)

from console.core.store.base import CheckpointStore
from console.settings import Settings
from console.ui.modals.help import HelpScreen, help_text

BYTES_PER_MOVE = 2048  # issue 4's target for a cursor move at 80x24


async def test_80x24_shows_the_queue_and_enter_opens_the_detail_full_height(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        table, detail = screen.table, screen.detail
        assert screen.one_pane
        assert table.display and not detail.display
        assert table.size.height == 22  # everything but the status line and the footer
        # The detail follows the cursor while hidden, so a decision knows what it is on.
        await pilot.press("j")
        await settle(pilot)
        assert detail.thread_id == table.rows[1].thread_id
        await pilot.press("enter")
        await settle(pilot)
        assert detail.display and detail.has_focus and not table.display
        assert detail.outer_size.height == 22
        assert table.rows[1].thread_id in "\n".join(screen_lines(app))
        await pilot.press("escape")
        await settle(pilot)
        assert table.display and table.has_focus and not detail.display
        assert table.cursor_row == 1
        await pilot.press("tab")  # tab takes turns too
        await settle(pilot)
        assert detail.display and detail.has_focus
        await pilot.press("tab")
        await settle(pilot)
        assert table.has_focus and not detail.display


async def test_decisions_work_from_the_queue_and_from_the_open_detail(
    store: CheckpointStore, settings: Settings
) -> None:
    from console.ui.modals.confirm import ConfirmScreen

    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await select_graph(pilot, "tutorial")
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n", "enter", "a")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)


@pytest.mark.parametrize("size", [(80, 40), (160, 24)])
async def test_a_taller_or_wider_screen_shows_both_panes(
    store: CheckpointStore, settings: Settings, size: tuple[int, int]
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        assert not screen.one_pane
        assert screen.table.display and screen.detail.display
        await pilot.press("enter")
        await settle(pilot)
        assert screen.table.display and screen.detail.has_focus


async def test_enter_and_the_pane_keys_are_in_the_help(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = help_text(app.screen.sections).plain
        assert "Open the thread" in text
        assert "Switch pane" in text
        assert "Back / clear filter" in text


class _Wire:
    """What the app would write to a 256-colour terminal, frame by frame."""

    def __init__(self, app: Any) -> None:
        self.frames: list[int] = []
        self.console = Console(color_system="256", force_terminal=True, width=80, height=24,
                               legacy_windows=False)
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is not None:
                self.frames.append(len(renderable.render_segments(self.console).encode()))

        app._display = display


async def test_a_cursor_move_at_80x24_writes_little(
    store: CheckpointStore, settings: Settings
) -> None:
    # The detail loads after the cursor rests, as in the real console (0.15 s).
    app = build_app(store, settings, detail_delay=0.05)
    wire = _Wire(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause(0.3)
        screen = main_screen(app)
        for _ in range(4):
            wire.frames.clear()
            loads = screen.bundle_loads
            await pilot.press("j")
            await pilot.pause(0.3)  # the detail pane's fetch, while hidden
            await settle(pilot)
            assert screen.bundle_loads == loads + 1
            assert 0 < sum(wire.frames) <= BYTES_PER_MOVE, wire.frames


async def test_80_columns_show_every_thread_id_whole(
    store: CheckpointStore, settings: Settings
) -> None:
    """`hitl_agent-0020` and `hitl_agent_js-0020` must differ on screen: the summary is cut,
    never the id (it was `hitl_a~t-0020`)."""
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = main_screen(app).table
        shown = "\n".join(screen_lines(app))
        visible = table.rows[: table.size.height - 1]
        assert any(row.graph == "hitl_agent_js" for row in visible)
        for row in visible:
            assert row.thread_id in shown


async def test_80_columns_the_outcome_reads_whole_while_its_toast_is_up(
    store: CheckpointStore, settings: Settings
) -> None:
    """The "Done" toast covered the status line, which itself cut the outcome after
    `last: approve applied:`; both now leave the status line readable."""
    from textual.widgets._toast import Toast

    from console.ui.modals.confirm import ConfirmScreen

    app = build_app(store, settings)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        thread = await select_graph(pilot, "hitl_agent_js")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirm")
        await pilot.press("y")
        await decided(pilot)
        await until(pilot, lambda: bool(app.screen.query(Toast)), what="the toast")
        await pilot.pause(0.2)  # the toast drawn
        assert "Done" in screen_text(app)
        status = screen_lines(app)[-2]
        assert f"last: approve applied: {thread.thread_id} |" in status, status
