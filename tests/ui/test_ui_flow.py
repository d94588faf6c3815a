"""Next-thread flow (issue 16, point 3): from the detail, `n` / `p` open the next and
previous thread, `s` skips to the next undecided one, and after a decision the next
undecided thread opens; a rejection is `r`, the reason, `enter` (the reason box shows
the Command, so no second y/n)."""

from __future__ import annotations

from typing import Any

from ui_support import build_app, decided, main_screen, previewed, screen_text, settle, until

from console.core.ledger.apply import Decider, current_origin
from console.core.ledger.db import ledger_db
from console.core.store.base import CheckpointStore
from console.settings import Settings
from console.ui.modals.confirm import ConfirmScreen
from console.ui.modals.help import HelpScreen
from console.ui.modals.prompt import PromptScreen


async def _open_first(pilot: Any) -> Any:
    screen = main_screen(pilot.app)
    await settle(pilot)
    await pilot.press("enter")
    first = screen.table.rows[0]
    await until(pilot, lambda: screen.detail.checkpoint_id == first.checkpoint_id)
    assert screen.detail.has_focus
    return screen


async def _reading(pilot: Any, screen: Any, index: int) -> None:
    thread = screen.table.rows[index]
    await until(pilot, lambda: screen.detail.thread_id == thread.thread_id
                and screen.detail.checkpoint_id == thread.checkpoint_id,
                what=f"the detail of row {index}")
    assert screen.table.cursor_row == index and screen.detail.has_focus


async def test_next_previous_and_skip_from_the_detail(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_first(pilot)
        await pilot.press("n")
        await _reading(pilot, screen, 1)
        await pilot.press("n")
        await _reading(pilot, screen, 2)
        await pilot.press("p")
        await _reading(pilot, screen, 1)
        await pilot.press("s")  # one key, undecided: the next one opens
        await _reading(pilot, screen, 2)
        assert "SUMMARY" not in screen_text(app)  # still the detail, full height
        await pilot.press("p", "p", "p")  # at the first: says so, stays
        await _reading(pilot, screen, 0)
        assert any("first thread" in n.message for n in app._notifications)
        assert not await ledger_db(store).installed()  # moving decides nothing


async def test_after_a_decision_the_next_undecided_thread_opens(
    store: CheckpointStore, settings: Settings
) -> None:
    """Worker mode: a decided row stays (queued for a worker). Before the flow the
    cursor stayed on it; now the next undecided opens, passing over queued rows."""
    decider = Decider(store, current_origin("tester"), worker_mode=True)
    app = build_app(store, settings, decider=decider)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_first(pilot)
        rows = list(screen.table.rows)
        await pilot.press("n")
        await _reading(pilot, screen, 1)
        await pilot.press("a")  # the second thread, approved: queued
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await decided(pilot)
        await _reading(pilot, screen, 2)
        await pilot.press("p", "p")
        await _reading(pilot, screen, 0)
        # Reject the first: r, the reason, enter (no y: the box showed the Command).
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        prompt = app.screen
        await pilot.press(*"dup")
        await until(pilot, lambda: "Command(" in screen_text(app), what="the preview")
        assert "dup" in screen_text(app)
        await pilot.press("enter")
        await decided(pilot)
        assert prompt.previewed
        # Row 1 is queued already: the next undecided is row 2.
        await _reading(pilot, screen, 2)
        ledger = await ledger_db(store).rows()
        assert sorted((r.thread_id, r.decision, r.reason) for r in ledger) == sorted([
            (rows[1].thread_id, "approve", None), (rows[0].thread_id, "reject", "dup")])


async def test_skip_passes_over_skipped_threads_after_a_decision(
    store: CheckpointStore, settings: Settings
) -> None:
    decider = Decider(store, current_origin("tester"), worker_mode=True)
    app = build_app(store, settings, decider=decider)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_first(pilot)
        await pilot.press("s")  # row 0 skipped
        await _reading(pilot, screen, 1)
        for _ in range(screen.table.row_count - 2):
            await pilot.press("n")
        await _reading(pilot, screen, screen.table.row_count - 1)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await decided(pilot)
        await _reading(pilot, screen, 1)  # wraps round, over the skipped row 0


async def test_flow_keys_are_in_help_and_remappable(
    store: CheckpointStore, settings: Settings
) -> None:
    settings.keymap["main.skip"] = "x"
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_first(pilot)
        await pilot.press("x")
        await _reading(pilot, screen, 1)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(app)
        assert "Next thread (open it)" in text and "Previous thread" in text
        assert "x Skip: leave it undecided" in " ".join(text.split())  # remapped


async def test_a_command_too_long_for_the_box_is_confirmed_whole(
    store: CheckpointStore, settings: Settings
) -> None:
    """At 80x24 a two-action HITL rejection does not fit the reason box: it is shown cut,
    and `enter` goes on to the scrollable y/n, so nothing is sent unread."""
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = main_screen(app)
        await settle(pilot)
        thread = next(t for t in screen.all_threads if t.graph == "hitl_agent")
        screen.table.select_thread(thread.thread_id)
        await pilot.press("enter")
        await until(pilot, lambda: screen.detail.checkpoint_id == thread.checkpoint_id)
        await pilot.press("r", *"no")
        await previewed(pilot)
        text = screen_text(app)
        assert "enter: continue to the whole Command" in text
        assert "enter shows the whole Command to confirm" in text
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.body.plain.count('"message": "no"') == 2
        await pilot.press("n")
        await settle(pilot)
        assert not await ledger_db(store).installed()
