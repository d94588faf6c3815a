"""Snapshots of the main screen (pytest-textual-snapshot; baselines in __snapshots__/).

Plain `def`s: the plugin runs its own event loop. Time is frozen (`build_app`) and the
seeded queue is byte-for-byte repeatable (conftest), so the pictures only change when
the UI does. Regenerate with `pytest tests/ui --snapshot-update` and look at the SVGs.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_ui_conflict import _resume_one_branch
from ui_support import build_app, main_screen, select_graph, settle, until

from console.core.store.base import CheckpointStore
from console.settings import Settings
from console.ui.modals.bulk import BulkProgressScreen, BulkRejectScreen
from console.ui.modals.confirm import ConfirmScreen
from console.ui.modals.conflict import ConflictScreen
from console.ui.modals.edit_form import EditForm


def test_main_screen_80x24(
    snap_compare: Any, sync_store: CheckpointStore, settings: Settings
) -> None:
    """One pane at a time on a small terminal: the queue alone, full height."""
    app = build_app(sync_store, settings)
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


def test_main_screen_160x50(
    snap_compare: Any, sync_store: CheckpointStore, settings: Settings
) -> None:
    """Side by side: the whole queue on the left, the detail on the right."""
    app = build_app(sync_store, settings)
    assert snap_compare(app, terminal_size=(160, 50), run_before=settle)


def test_filtered_to_a_hitl_card_80x24(
    snap_compare: Any, sync_store: CheckpointStore, settings: Settings
) -> None:
    """`/graph:hitl_agent` + enter, then enter on the thread: the filter bar stays, and
    the detail, full height, shows its action cards."""
    app = build_app(sync_store, settings)

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("slash", *"graph:hitl_agent", "enter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


# --- dialogs ------------------------------------------------------------------------------
# Each at 80x24 (the worst case over ssh) and 160x50. Notifications are cleared before the
# picture: they time out on their own and only add noise.

SIZES = [(80, 24), (160, 50)]
SIZE_IDS = ["80x24", "160x50"]


def _before(*steps: Any) -> Any:
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        for step in steps:
            if callable(step):
                await step(pilot)
            else:
                await pilot.press(*step)
            await settle(pilot)
        pilot.app.clear_notifications()
        await settle(pilot)

    return run_before


def _select(graph: str) -> Any:
    async def step(pilot: Any) -> None:
        await select_graph(pilot, graph)

    return step


def _wait_for(screen_type: type) -> Any:
    async def step(pilot: Any) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, screen_type))

    return step


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_confirm_approve(
    snap_compare: Any, sync_store: CheckpointStore, settings: Settings, size: tuple[int, int]
) -> None:
    """`a` on a raw pause: the exact Command, y/n/esc."""
    app = build_app(sync_store, settings)
    before = _before(_select("tutorial"), ["a"], _wait_for(ConfirmScreen))
    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_edit_form_hitl(
    snap_compare: Any, sync_store: CheckpointStore, settings: Settings, size: tuple[int, int]
) -> None:
    """`e` on a LangChain HITL pause: an args editor per action, state update, note."""
    app = build_app(sync_store, settings)
    before = _before(_select("hitl_agent"), ["e"], _wait_for(EditForm))
    assert snap_compare(app, terminal_size=size, run_before=before)


def test_edit_form_schema_with_errors_80x24(
    snap_compare: Any, sync_store: CheckpointStore, settings: Settings
) -> None:
    """A form from the response schema; a value over the maximum is flagged in place."""
    app = build_app(sync_store, settings)
    before = _before(_select("schema"), ["e"], _wait_for(EditForm), ["6", "0", "0"])
    assert snap_compare(app, terminal_size=(80, 24), run_before=before)


def test_replace_warning_80x24(
    snap_compare: Any, sync_store: CheckpointStore, settings: Settings
) -> None:
    """A state update that replaces a list: WARNING, and only Y submits."""
    app = build_app(sync_store, settings)

    async def type_update(pilot: Any) -> None:
        area = pilot.app.screen.query_one("#state")
        area.replace('{"todo": ["only this"]}', (0, 0), area.document.end)

    before = _before(_select("hitl_agent"), ["e"], _wait_for(EditForm), type_update,
                     ["ctrl+s"], _wait_for(ConfirmScreen))
    assert snap_compare(app, terminal_size=(80, 24), run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_bulk_reject_dialog(
    snap_compare: Any, sync_store: CheckpointStore, settings: Settings, size: tuple[int, int]
) -> None:
    """All marked, filtered to one graph: count, hidden marks, breakdown, reason."""
    app = build_app(sync_store, settings)
    before = _before(["asterisk"], ["slash", *"graph:email", "enter"], ["R"],
                     _wait_for(BulkRejectScreen), list("duplicate run"))
    assert snap_compare(app, terminal_size=size, run_before=before)


def test_bulk_reject_summary_80x24(
    snap_compare: Any, sync_store: CheckpointStore, settings: Settings
) -> None:
    """After the run: problems first (the schema pause refuses a plain reject)."""
    app = build_app(sync_store, settings)

    async def finished(pilot: Any) -> None:
        await until(pilot, lambda: getattr(pilot.app.screen, "done", False), timeout=60)

    before = _before(["asterisk", "R"], _wait_for(BulkRejectScreen),
                     [*"duplicate run", "enter", "y"], _wait_for(BulkProgressScreen), finished)
    assert snap_compare(app, terminal_size=(80, 24), run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_conflict_dialog(
    snap_compare: Any, sync_store: CheckpointStore, settings: Settings, size: tuple[int, int]
) -> None:
    """One of two parallel approvals answered elsewhere, then `a`: who, what changed."""
    app = build_app(sync_store, settings)

    async def answer_one(pilot: Any) -> None:
        thread = main_screen(pilot.app).table.selected
        await _resume_one_branch(sync_store, thread.thread_id)

    async def footer_final(pilot: Any) -> None:
        # The footer under the dialog is drawn from the last binding refresh, which races
        # the dialog's own read and the live reload of the moved thread: wait until the
        # thread (one question left) may be approved again, then draw it from that state.
        main = main_screen(pilot.app)
        await until(pilot, lambda: main.check_action("approve", ()) is True,
                    what="approve enabled again under the dialog")
        main.refresh_bindings()

    before = _before(_select("parallel"), answer_one, ["a"], _wait_for(ConflictScreen),
                     footer_final)
    assert snap_compare(app, terminal_size=size, run_before=before)
