"""Keys that did nothing or said the wrong thing (issue 16): `m` where respond is not
allowed, the help's paging keys, the respond preview's wording."""

from __future__ import annotations

from typing import Any

from textual.containers import VerticalScroll
from ui_support import (
    build_app,
    main_screen,
    notifications,
    screen_text,
    select_graph,
    settle,
    until,
)

from console.core.store.base import CheckpointStore
from console.settings import Settings
from console.ui.modals.help import HelpScreen
from console.ui.modals.prompt import PromptScreen


async def test_m_where_respond_is_not_allowed_says_why(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        refused = next(t for t in screen.all_threads
                       if not screen.action_states(t)["respond"].allowed)
        await select_graph(pilot, refused.graph or "")
        assert screen.table.selected.thread_id == refused.thread_id
        why = screen.action_states(refused)["respond"].reason
        await pilot.press("m")
        await settle(pilot)
        assert f"No respond: {why}" in notifications(app)
        assert not isinstance(app.screen, PromptScreen)


async def test_help_pages_with_space_pgup_pgdn_g_and_G(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        scroll = app.screen.query_one("#help-scroll", VerticalScroll)
        await pilot.pause()
        assert scroll.max_scroll_y > scroll.size.height  # more than a page to read
        await pilot.press("space")
        await pilot.pause()
        assert scroll.scroll_y >= scroll.size.height - 1
        await pilot.press("G")
        await pilot.pause()
        assert scroll.scroll_y == scroll.max_scroll_y
        await pilot.press("pageup")
        await pilot.pause()
        assert scroll.scroll_y < scroll.max_scroll_y
        await pilot.press("g")
        await pilot.pause()
        assert scroll.scroll_y == 0
        await pilot.press("pagedown")
        await pilot.pause()
        assert scroll.scroll_y > 0


async def test_the_respond_preview_says_respond_to_and_message(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await select_graph(pilot, "tutorial")
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen), what="the prompt")
        await pilot.press(*"use plan B")
        # the reason box is the preview (the next-thread flow): the Command with the text
        await until(pilot, lambda: "Command(" in screen_text(app), what="the preview")
        text = screen_text(app)
        assert "Respond to tutorial-" in text and "Message sent back" in text
        assert "use plan B" in text and "reason:" not in text


async def test_a_load_during_our_bulk_reject_does_not_call_its_threads_gone(
    store: CheckpointStore, settings: Settings
) -> None:
    """A reload landing mid bulk reject said "N marked thread(s) are no longer pending:
    unmarked" about the threads being rejected; only others' moves are news."""
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        ours, theirs = screen.all_threads[:2], screen.all_threads[2]
        screen.marks.add([*ours, theirs])
        screen._own_moves.update((t.thread_id, t.checkpoint_id) for t in ours)
        gone = {t.thread_id for t in [*ours, theirs]}
        screen._all = [t for t in screen._all if t.thread_id not in gone]
        screen.prune_marks()
        await pilot.pause()
        assert len(screen.marks) == 0
        assert [n for n in notifications(app) if "no longer pending" in n] == [
            ": 1 marked thread(s) are no longer pending: unmarked."]


async def test_a_remapped_decision_key_is_said_under_its_new_key_only(queue_db: Any) -> None:
    """`[keymap] "main.approve" = "y"`: where approving is refused, `y` says why, and `a`
    (no longer the approve key) says nothing about approving."""
    from console.core.dburl import parse_db_url
    from console.core.graphs import GraphRegistry
    from console.core.store import open_store

    store = await open_store(parse_db_url(str(queue_db)), GraphRegistry())  # none loaded
    try:
        settings = Settings(reviewer="tester", mouse=False, keymap={"main.approve": "y"})
        app = build_app(store, settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            screen = main_screen(app)
            await until(pilot, lambda: screen.table.selected is not None, what="a row")
            await pilot.press("a")
            await settle(pilot)
            assert not [n for n in notifications(app) if n.startswith("No approve")]
            await pilot.press("y")
            await settle(pilot)
            assert [n for n in notifications(app) if n.startswith("No approve")]
    finally:
        await store.close()
