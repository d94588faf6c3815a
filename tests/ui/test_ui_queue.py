"""The main screen over a real seeded SQLite queue: loading, moving, panes, quitting."""

from __future__ import annotations

from pathlib import Path

import pytest
from ui_support import build_app, screen_lines, settle

from console.core.dburl import parse_db_url
from console.core.store import open_store
from console.core.store.base import CheckpointStore
from console.demo.seed import SeededThread
from console.settings import Settings
from console.ui.modals.help import HelpScreen, help_text
from console.ui.screens.main import MainScreen
from console.ui.widgets.detail import DetailPane
from console.ui.widgets.queue_table import QueueTable

SIZES = [(80, 24), (160, 50)]


def _parts(app: object) -> tuple[MainScreen, QueueTable, DetailPane]:
    screen = app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, MainScreen)
    return screen, screen.table, screen.detail


@pytest.mark.parametrize("size", SIZES)
async def test_queue_loads_every_pending_thread_oldest_first(
    store: CheckpointStore,
    settings: Settings,
    expected_pending: list[SeededThread],
    size: tuple[int, int],
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        _, table, detail = _parts(app)
        assert [t.thread_id for t in table.rows] == [t.thread_id for t in expected_pending]
        assert table.cursor_row == 0
        # The detail pane follows the cursor to the oldest thread.
        assert detail.thread_id == expected_pending[0].thread_id
        assert detail.checkpoint_id == table.rows[0].checkpoint_id
        lines = screen_lines(app)
        assert any(f"{len(expected_pending)} pending" in line for line in lines)
        assert any("reviewer tester" in line for line in lines)


@pytest.mark.parametrize("size", SIZES)
async def test_j_k_g_G_move_the_cursor_and_the_detail_follows(
    store: CheckpointStore, settings: Settings, size: tuple[int, int]
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        _, table, detail = _parts(app)
        ids = [t.thread_id for t in table.rows]

        await pilot.press("j", "j")
        await settle(pilot)
        assert table.cursor_row == 2
        assert detail.thread_id == ids[2]
        assert ids[2] in detail.plain

        await pilot.press("k")
        await settle(pilot)
        assert detail.thread_id == ids[1]

        await pilot.press("G")
        await settle(pilot)
        assert table.cursor_row == len(ids) - 1
        assert detail.thread_id == ids[-1]
        # The last row is on screen: the table scrolled with the cursor (a long id is
        # cut in the middle at 80 columns; its end stays).
        width = table.region.width - 1  # its scrollbar
        assert any(line[:width].rstrip().endswith(ids[-1][-6:]) for line in screen_lines(app))

        await pilot.press("g")
        await settle(pilot)
        assert (table.cursor_row, detail.thread_id) == (0, ids[0])

        await pilot.press("down", "pagedown")
        await settle(pilot)
        assert table.cursor_row > 1
        assert detail.thread_id == ids[table.cursor_row]
        paged_to = table.cursor_row
        await pilot.press("pageup")
        assert table.cursor_row < paged_to
        await pilot.press("pageup")
        await settle(pilot)
        assert table.cursor_row == 0


async def test_detail_waits_for_the_cursor_to_rest(
    store: CheckpointStore, settings: Settings
) -> None:
    """Holding j must not fetch (and repaint) a bundle for every row passed over."""
    # A second of rest: on a loaded 2-core machine four key presses can take 0.3 s.
    app = build_app(store, settings, detail_delay=1.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(1.2)
        await settle(pilot)
        screen, table, detail = _parts(app)
        before = screen.bundle_loads
        await pilot.press("j", "j", "j", "j")
        assert screen.bundle_loads == before  # still moving: nothing fetched
        await pilot.pause(1.2)
        await settle(pilot)
        assert screen.bundle_loads == before + 1
        assert detail.thread_id == table.rows[4].thread_id


async def test_replacing_rows_keeps_the_cursor_on_its_thread(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        _, table, _ = _parts(app)
        rows = list(table.rows)
        await pilot.press("j", "j", "j")
        chosen = table.selected
        assert chosen is not None
        # A refresh in which the two oldest threads were answered meanwhile.
        table.replace_rows(rows[2:])
        assert table.selected == chosen
        assert table.cursor_row == 1
        table.replace_rows(rows)
        assert table.cursor_row == 3
        # The chosen thread itself is answered: the next one moves up under the cursor.
        table.replace_rows([r for r in rows if r.thread_id != chosen.thread_id])
        assert table.cursor_row == 3
        assert table.selected == rows[4]
        # Reloading from the database keeps it too.
        table.select_thread(rows[5].thread_id)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert table.selected is not None
        assert table.selected.thread_id == rows[5].thread_id


async def test_enter_opens_and_tab_switches_panes(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        _, table, detail = _parts(app)
        assert table.has_focus
        await pilot.press("tab")
        assert detail.has_focus
        await pilot.press("J")  # raw JSON: the longest view of this payload
        await pilot.press("j", "j", "j")  # scrolls the detail, does not move the queue
        await pilot.pause()
        assert detail.body.scroll_y == 3
        assert table.cursor_row == 0
        await pilot.press("G")
        await pilot.pause()
        assert detail.body.scroll_y == detail.body.max_scroll_y > 3
        await pilot.press("g")
        await pilot.pause()
        assert detail.body.scroll_y == 0
        await pilot.press("tab")
        assert table.has_focus
        await pilot.press("j", "enter")
        await settle(pilot)
        assert detail.has_focus
        assert detail.thread_id == table.rows[1].thread_id
        await pilot.press("escape")
        assert table.has_focus


async def test_help_lists_the_keys_and_closes(store: CheckpointStore, settings: Settings) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "Keys" in "\n".join(screen_lines(app))
        text = help_text(app.screen.sections).plain
        for words in ("Down", "Filter", "Reload", "Approve", "Reject", "Respond", "Edit",
                      "Mark range", "Mark all shown", "Bulk reject", "Quit", "Palette"):
            assert words in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_q_quits(store: CheckpointStore, settings: Settings) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0


async def test_keymap_from_settings_remaps_keys_and_help(
    store: CheckpointStore, settings: Settings
) -> None:
    remapped = Settings(reviewer="tester", mouse=False, keymap={"queue.down": "n", "app.quit": "x"})
    app = build_app(store, remapped)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        _, table, _ = _parts(app)
        await pilot.press("n")
        assert table.cursor_row == 1
        await pilot.press("j")  # no longer bound
        assert table.cursor_row == 1
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = help_text(app.screen.sections).plain
        assert " n " in text and "Down" in text
        await pilot.press("escape", "x")
        await pilot.pause()
        assert not app.is_running


async def test_no_color_terminals_still_flag_late_pauses(
    store: CheckpointStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under NO_COLOR the age colours are gone, so a breach is marked with `!`."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.no_color
        lines = screen_lines(app)
        assert lines[1].lstrip().startswith("1d!")  # the oldest, over the 1h SLA
        assert any(line.lstrip().startswith("11m ") for line in lines)  # within it


async def test_an_empty_queue_says_so(tmp_path: Path, settings: Settings) -> None:
    empty = await open_store(parse_db_url(str(tmp_path / "empty.sqlite")), create=True)
    try:
        app = build_app(empty, settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            _, table, detail = _parts(app)
            assert table.row_count == 0 and table.selected is None
            assert "No thread is waiting for a human." in detail.plain
            text = "\n".join(screen_lines(app))
            assert "0 pending" in text and "No thread is waiting for a human." in text
            await pilot.press("j", "G", "enter", "tab", "tab")  # nothing to move to: no error
            assert app.is_running and isinstance(app.screen, MainScreen)
    finally:
        await empty.close()
