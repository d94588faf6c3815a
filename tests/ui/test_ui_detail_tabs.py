"""The detail pane's tabs: keys, what each tab shows, the decision line, and costs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from ui_support import SEED_NOW, build_app, main_screen, select_graph, settle

from console.core.ledger.rows import LedgerRow
from console.core.store.base import HISTORY_LIMIT, CheckpointStore
from console.settings import Settings


async def test_tab_keys_show_each_tab_and_build_only_that_one(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        await select_graph(pilot, "parallel")
        detail = screen.detail
        assert detail.tab == "payload" and set(detail._built) == {"payload"}
        assert "Interrupt 1 of 2" in detail.plain and "decision none yet" in detail.plain
        # From the queue (the screen forwards the keys) ...
        assert screen.table.has_focus
        await pilot.press("2")
        assert detail.tab == "diff"
        assert 'changed status: "new" -> "awaiting approvals"' in detail.plain
        assert "vs the start of this run" in detail.plain
        await pilot.press("right_square_bracket")
        assert detail.tab == "state" and "«redacted:" in detail.plain
        await pilot.press("left_square_bracket", "left_square_bracket", "left_square_bracket")
        assert detail.tab == "history"
        assert "Checkpoints (latest 3)" in detail.plain and "<- head, paused here" in detail.plain
        # ... and from the pane itself.
        await pilot.press("tab")
        assert detail.has_focus
        await pilot.press("J")
        assert detail.tab == "payload" and detail.raw_json
        assert '"question": "Security approval' in detail.plain and '"id": ' in detail.plain
        await pilot.press("J")
        assert not detail.raw_json and "Interrupt 1 of 2" in detail.plain
        # The tab chosen stays when the cursor moves to another thread.
        await pilot.press("3", "escape")
        await select_graph(pilot, "tutorial")
        assert detail.tab == "state" and set(detail._built) == {"state"}


async def test_tab_keys_are_in_help_and_the_palette(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        titles = {title: help_text for title, help_text, _, _ in screen.palette_commands()}
        assert titles["Diff tab"] == "key 2" and titles["Next tab"] == "key ]"
        assert titles["Payload: cards / raw JSON"] == "key J"
        help_rows = dict(next(rows for name, rows in screen.help_sections({})
                              if name == "Detail pane"))
        assert help_rows["4"] == "History tab" and help_rows["["] == "Previous tab"


def _row(thread: Any, **changes: Any) -> LedgerRow:
    fields: dict[str, Any] = dict(
        id=1, thread_id=thread.thread_id, checkpoint_ns="", checkpoint_id=thread.checkpoint_id,
        pause_key=",".join(sorted(thread.interrupt_ids)), decision="approve", status="queued",
        reviewer="alice", reason=None, edits=None, resume=None, idempotency_key=None,
        client_host="bastion", ssh_origin=None, client_pid=1, apply_mode="worker",
        created_at=SEED_NOW - timedelta(minutes=2), finished_at=None, new_checkpoint_id=None,
        outcome=None)
    fields.update(changes)
    return LedgerRow(**fields)


async def test_show_decisions_refreshes_the_status_line_and_history_only(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        thread = await select_graph(pilot, "tutorial")
        detail = screen.detail
        await pilot.press("4")
        queued = _row(thread)
        detail.show_decisions([queued])
        await pilot.pause()
        assert "decision approve by alice, queued 2m ago - waiting for a worker" in detail.plain
        assert "#1 2025-01-15 11:58:00Z (2m ago) this pause" in detail.plain
        failed = _row(thread, status="failed", claimed_by="w1",
                      outcome="resuming failed (SMTP refused token=sk-" + "a" * 30 + ")")
        detail.show_decisions([failed])
        await pilot.pause()
        assert ("decision approve by alice, failed on worker w1: resuming failed (SMTP refused"
                in detail.plain)
        assert "you can decide again" in detail.plain
        assert "sk-aaaa" not in detail.plain  # redacted like everything else
        assert thread.checkpoint_id == detail.checkpoint_id  # the bundle itself is unchanged


class _Count(TypedDict):
    n: int


async def test_history_is_bounded_and_the_run_start_found_beyond_it(
    store: CheckpointStore,
) -> None:
    """A 70-step run: 50 checkpoints listed, yet the diff 'vs run start' is the run's."""
    builder = StateGraph(_Count)
    builder.add_node("step", lambda s: {"n": s["n"] + 1})
    builder.add_edge(START, "step")
    builder.add_conditional_edges("step", lambda s: END if s["n"] >= 70 else "step")
    graph = builder.compile(checkpointer=store.saver)
    config: Any = {"configurable": {"thread_id": "long-run"}, "recursion_limit": 200}
    await graph.ainvoke({"n": 0}, config)
    await graph.ainvoke({"n": 5}, config)  # a second run: its start is n=5
    bundle = await store.bundle("long-run", now=SEED_NOW)
    assert len(bundle.history) == HISTORY_LIMIT == 50
    assert bundle.first_values == {"n": 5}
    assert bundle.values == {"n": 70}
