"""Data is shown as data: no markup, no escape sequences, no control characters."""

from __future__ import annotations

from typing import Any, TypedDict

import pytest
from langgraph.graph import START, StateGraph
from langgraph.types import interrupt
from rich.cells import cell_len
from ui_support import build_app, screen_lines, settle

from console.core.store.base import CheckpointStore
from console.settings import Settings
from console.ui.cell_text import fit, one_line
from console.ui.screens.main import MainScreen

HOSTILE = (
    "[red]boom[/red] \x1b[31mred\x1b[0m "
    "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\ \u202eexe.txt\x07"
)
MARKUP_ID = "[bold]x[/]"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain", "plain"),
        ("[bold]x[/]", "[bold]x[/]"),
        ("a\x1b[31mred\x1b[0mb", "aredb"),
        ("\x1b]8;;https://e.example\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("\x1b]0;title\x07after", "after"),
        ("line\nbreak\ttab", "line break tab"),
        ("bell\x07 nul\x00 del\x7f", "bell nul del"),
        ("\u202eexe.txt", "exe.txt"),
        ("8-bit \x9b31mcsi", "8-bit csi"),
        ("emoji \U0001f600!", "emoji ?!"),
        ("CJK 日本", "CJK 日本"),
    ],
)
def test_one_line(raw: str, expected: str) -> None:
    assert one_line(raw) == expected


@pytest.mark.parametrize(
    ("text", "width", "middle", "expected"),
    [
        ("short", 10, False, "short"),
        ("abcdefghij", 6, False, "abcde~"),
        ("agent-run-0001", 9, True, "agen~0001"),
        ("日本語テキスト", 5, False, "日本~"),
        ("x", 0, False, ""),
    ],
)
def test_fit(text: str, width: int, middle: bool, expected: str) -> None:
    assert fit(text, width, middle=middle) == expected
    assert cell_len(fit(text, width, middle=middle)) <= width


class _State(TypedDict):
    note: str


def _gate(state: _State) -> dict[str, Any]:
    answer = interrupt({"question": state["note"]})
    return {"note": str(answer)}


async def _pause_thread(store: CheckpointStore, thread_id: str, question: str) -> None:
    """A real graph, paused by a real interrupt(), in the test's SQLite queue."""
    graph = StateGraph(_State).add_node("gate", _gate).add_edge(START, "gate")
    compiled = graph.compile(checkpointer=store.saver)
    await compiled.ainvoke({"note": question}, {"configurable": {"thread_id": thread_id}})


async def test_markup_and_escapes_in_data_show_literally(
    store: CheckpointStore, settings: Settings
) -> None:
    await _pause_thread(store, MARKUP_ID, HOSTILE)

    app = build_app(store, settings)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        assert screen.table.select_thread(MARKUP_ID)
        await settle(pilot)
        assert screen.detail.thread_id == MARKUP_ID

        lines = screen_lines(app)
        text = "\n".join(lines)
        row = next(line for line in lines if MARKUP_ID in line and "boom" in line)
        assert "[red]boom[/red] red cl" in row  # escapes gone, markup literal
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
        # The detail pane shows the hostile bytes as visible escapes.
        assert "[red]boom[/red] \\u001b[31mred" in screen.detail.plain
        assert "\\u202eexe.txt" in screen.detail.plain
        assert "[red]boom[/red]" in text


async def test_secrets_in_a_summary_are_redacted_in_the_queue(
    store: CheckpointStore, settings: Settings
) -> None:
    token = "sk-" + "Zq9" * 16
    await _pause_thread(store, "secret-run", f"Rotate {token} now?")
    app = build_app(store, settings)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        assert screen.table.select_thread("secret-run")
        await settle(pilot)
        text = "\n".join(screen_lines(app))
        assert token[:8] not in text
        row = next(line for line in screen_lines(app) if "secret-run" in line and "raw" in line)
        assert "Rotate «redacted:" in row
        assert token not in screen.detail.plain and "Rotate" in screen.detail.plain
