"""The queue table renders what is on screen, whatever the number of rows."""

from __future__ import annotations

import time
from datetime import timedelta

from textual.app import App, ComposeResult
from ui_support import SEED_NOW, frozen_clock

from console.core.models import Convention, PauseKind, PendingThread
from console.ui.widgets.queue_table import QueueTable, layout_columns

ROWS = 100_000


def _threads(count: int) -> list[PendingThread]:
    # Model objects, as the store returns them: the widget is tested on its own here.
    start = SEED_NOW - timedelta(days=3)
    return [
        PendingThread(
            thread_id=f"run-{index:06d}",
            checkpoint_ns="",
            checkpoint_id=f"ckpt-{index}",
            graph=("email", "inbox", "agent")[index % 3],
            nodes=("review",),
            kind=PauseKind.INTERRUPT,
            convention=Convention.RAW,
            interrupts=(),
            paused_at=start + timedelta(seconds=2 * index),
            summary=f"Approve step {index}?",
        )
        for index in range(count)
    ]


class _TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield QueueTable(clock=frozen_clock, id="queue")


async def test_100k_rows_render_only_visible_lines() -> None:
    rows = _threads(ROWS)
    app = _TableApp()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(QueueTable)
        table.focus()
        started = time.perf_counter()
        table.replace_rows(rows)
        await pilot.pause()
        first_paint = time.perf_counter() - started
        assert table.render_count <= 24 * 3  # a screenful or so, not 100k lines
        before = table.render_count
        await pilot.press("G")
        await pilot.pause()
        assert table.selected == rows[-1]
        assert table.render_count - before <= 24 * 3
        await pilot.press("k", "pageup", "g")
        await pilot.pause()
        assert table.cursor_row == 0
        # Generous bound (CI machines vary): DataTable needs ~30 s for this.
        assert first_paint < 5.0


def test_columns_fit_the_width() -> None:
    natural = {"graph": 13, "node": 32, "kind": 6, "thread": 19}
    for width in (40, 79, 80, 120, 200):
        widths = layout_columns(width, natural)  # type: ignore[arg-type]
        if width >= 79:
            assert sum(widths) + len(widths) - 1 == width
            assert widths[6] == 19  # the thread id whole: the summary is cut instead
            assert widths[5] >= 12  # which keeps room to be read
    wide = layout_columns(200, natural)  # type: ignore[arg-type]
    assert wide[:5] == [2, 4, 13, 24, 6]  # flags, then natural widths, node capped
    # UUID thread ids (36 cells) give way to 24 (both ends kept) before the summary and
    # the names do: at 80 columns the names keep their 12-14 cells and the summary its 12
    uuids = {"graph": 15, "node": 12, "kind": 7, "thread": 36}
    widths = layout_columns(80, uuids)  # type: ignore[arg-type]
    graph, node, summary, thread = widths[2], widths[3], widths[5], widths[6]
    assert (graph, node, thread) == (13, 12, 24) and summary >= 12
    assert layout_columns(120, uuids)[6] == 36  # whole where there is room
