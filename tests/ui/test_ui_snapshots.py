"""Snapshots of the main screen (pytest-textual-snapshot; baselines in __snapshots__/).

Plain `def`s: the plugin runs its own event loop. Time is frozen (`build_app`) and the
seeded queue is byte-for-byte repeatable (conftest), so the pictures only change when
the UI does. Regenerate with `pytest tests/ui --snapshot-update` and look at the SVGs.
"""

from __future__ import annotations

from typing import Any

from ui_support import build_app, settle

from console.core.store.base import CheckpointStore
from console.settings import Settings


def test_main_screen_80x24(
    snap_compare: Any, sync_store: CheckpointStore, settings: Settings
) -> None:
    """Stacked panes: a 10-row queue over the oldest thread's detail."""
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
    """`/graph:hitl_agent` + enter: the filter bar stays, the detail shows action cards."""
    app = build_app(sync_store, settings)

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("slash", *"graph:hitl_agent", "enter")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
