"""Deciding a pause item by item from the keyboard: one card per tool call, `i` for a
decision each (approve 1, reject 2, leave 3 pending), at 80x24 and larger.

Real graphs (`tests/tool_approval_graphs.py`) paused in a real SQLite checkpointer: two
gated tool calls in the per-call middleware's shape. Checks what the reviewer sees and
what happened after: the ledger row, which tool ran (exactly once) and which never did.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input
from ui_support import (
    build_app,
    decided,
    main_screen,
    open_ui_store,
    screen_lines,
    screen_text,
    seed_threads,
    select_graph,
    settle,
    until,
)

from console.core.ledger.db import ledger_db
from console.settings import Settings
from console.ui.app import ConsoleApp
from console.ui.modals.confirm import ConfirmScreen
from console.ui.modals.items import ItemsScreen
from console.ui.modals.prompt import PromptScreen
from console.ui.screens.main import MainScreen
from tests import tool_approval_graphs as graphs
from tests.tool_approval_graphs import TOOL_RUNS

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
async def queue(tmp_path: Path) -> tuple[str, str]:
    """A SQLite queue holding one `branches` pause: (database URL, thread id)."""
    url = f"sqlite:///{tmp_path / 'items.sqlite'}"
    thread = f"tools-{uuid.uuid4().hex[:8]}"
    await seed_threads(url, graphs.ALL, [("branches", thread, {}, {})])
    return url, thread


@contextlib.asynccontextmanager
async def console(url: str, size: tuple[int, int] = (80, 24)) -> AsyncIterator[
        tuple[ConsoleApp, Any]]:
    """A console on the queue; yields (app, pilot) and closes its store afterwards."""
    store = await open_ui_store(url, graphs.ALL)
    try:
        app = build_app(store, Settings(reviewer="tester", mouse=False))
        async with app.run_test(size=size) as pilot:
            yield app, pilot
    finally:
        await store.close()


@pytest.fixture
async def agent_queue(tmp_path: Path) -> tuple[str, str]:
    """A SQLite queue holding one real `create_agent` per-call pause: (URL, thread id)."""
    from langchain_core.messages import HumanMessage

    url = f"sqlite:///{tmp_path / 'agent.sqlite'}"
    thread = f"agent-{uuid.uuid4().hex[:8]}"
    await seed_threads(url, graphs.ALL, [
        ("agent", thread, {"messages": [HumanMessage("email alice, delete the report")]}, {})])
    return url, thread


async def _open_items(pilot: Any, graph: str = "branches") -> ItemsScreen:
    await settle(pilot)
    await select_graph(pilot, graph)
    await pilot.press("i")
    await until(pilot, lambda: isinstance(pilot.app.screen, ItemsScreen), what="the dialog")
    screen = pilot.app.screen
    assert isinstance(screen, ItemsScreen)
    return screen


async def _go_to(pilot: Any, dialog: ItemsScreen, tool: str) -> int:
    """Highlight the item asking about `tool` with j/k; its 0-based index."""
    index = next(n for n, i in enumerate(dialog.items) if i.value["name"] == tool)
    while dialog.highlighted != index:
        await pilot.press("j" if dialog.highlighted < index else "k")
    return index


async def _answer(pilot: Any, text: str) -> None:
    await until(pilot, lambda: isinstance(pilot.app.screen, PromptScreen), what="the prompt")
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")
    await settle(pilot)


async def _ledger(app: ConsoleApp, thread: str) -> list[Any]:
    ledger = ledger_db(main_screen(app)._store)
    return await ledger.rows(thread_id=thread) if await ledger.installed() else []


async def test_one_card_per_tool_call(queue: tuple[str, str]) -> None:
    url, _ = queue
    async with console(url, (120, 40)) as (app, pilot):
        await settle(pilot)
        screen = main_screen(app)
        await select_graph(pilot, "branches")
        text = screen.detail.plain
        assert "2 tool calls wait, one decision each" in text
        assert "[tool] send_email" in text and "[tool] delete_file" in text
        assert "allowed: approve | edit | reject | respond" in text
        assert "allowed: approve | reject" in text
        assert "alice@example.com" in text and "/srv/report.pdf" in text
        # What the payload refuses as a whole, and where to go instead.
        assert "press i to decide item by item" in text
        assert "no respond" in text


@pytest.mark.parametrize("size", SIZES)
async def test_approve_one_reject_the_other(
    queue: tuple[str, str], size: tuple[int, int]
) -> None:
    url, thread = queue
    async with console(url, size) as (app, pilot):
        dialog = await _open_items(pilot)
        lines = screen_lines(app)
        # Everything needed to decide is on screen, even at 80x24.
        assert any("send_email(to='alice@example.com'" in line for line in lines)
        assert any("delete_file(path='/srv/report.pdf')" in line for line in lines)
        assert any("takes approve, reject" in line for line in lines)
        assert any("enter: review & submit" in line for line in lines)
        await _go_to(pilot, dialog, "send_email")
        await pilot.press("a")
        await _go_to(pilot, dialog, "delete_file")
        await pilot.press("r")
        await _answer(pilot, "keep the report")
        assert isinstance(app.screen, ItemsScreen)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirm")
        text = screen_text(app)
        assert "Submit these decisions?" in text
        body = app.screen.body.plain
        assert "APPROVE  send_email(" in body and "REJECT   delete_file(" in body
        assert '"type": "reject"' in body and '"message": "keep the report"' in body
        await pilot.press("y")
        await decided(pilot)
        assert isinstance(app.screen, MainScreen)
        assert TOOL_RUNS[(thread, "send_email")] == 1
        assert TOOL_RUNS[(thread, "delete_file")] == 0
        rows = await _ledger(app, thread)
        assert [(r.decision, r.status) for r in rows] == [("approve", "applied")]
        assert sorted(rows[0].edits["items"].values()) == ["approve", "reject"]
        assert "item 2: keep the report" in (rows[0].reason or "") or \
            "item 1: keep the report" in (rows[0].reason or "")
        assert await main_screen(app)._store.pending_thread(thread) is None


async def test_moving_stops_at_the_ends(queue: tuple[str, str]) -> None:
    """Each decision moves on to the next item; a move past the last item (or above the
    first) stays there: a wrap-around put the cursor back on an item already decided,
    and the next key decided it again."""
    url, _ = queue
    async with console(url, (80, 24)) as (_app, pilot):
        dialog = await _open_items(pilot)
        last = len(dialog.items) - 1
        assert last >= 1
        for key in ("j", "down"):
            while dialog.highlighted < last:
                await pilot.press("j")
            await pilot.press(key)
            assert dialog.highlighted == last
        for key in ("k", "up"):
            while dialog.highlighted > 0:
                await pilot.press("k")
            await pilot.press(key)
            assert dialog.highlighted == 0
        await pilot.press("a")  # approve the first: the cursor moves to the second
        await pilot.pause()
        assert dialog.highlighted == 1 and dialog.choices[0].action == "approve"


async def test_only_what_an_item_takes_is_offered(queue: tuple[str, str]) -> None:
    url, thread = queue
    async with console(url, (80, 24)) as (app, pilot):
        dialog = await _open_items(pilot)
        index = await _go_to(pilot, dialog, "delete_file")
        for key, action in (("m", "respond"), ("e", "edit"), ("v", "value")):
            await pilot.press(key)
            assert dialog.error_text == (
                f"Item {index + 1} (delete_file) does not take {action}; it takes "
                "approve, reject.")
            assert isinstance(app.screen, ItemsScreen)
        # Nothing decided yet: enter says which item still needs a decision.
        await pilot.press("enter")
        await settle(pilot)
        assert "has no decision yet" in dialog.error_text
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert await _ledger(app, thread) == []


async def test_a_bad_edit_is_refused_in_one_sentence_and_nothing_written(
    queue: tuple[str, str]
) -> None:
    url, thread = queue
    async with console(url, (80, 24)) as (app, pilot):
        dialog = await _open_items(pilot)
        email = await _go_to(pilot, dialog, "send_email")
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        # The prompt starts from the call's own arguments.
        assert "alice@example.com" in app.screen.query_one(Input).value
        await _answer(pilot, '{"to": 5, "subject": "x"}')
        await _go_to(pilot, dialog, "delete_file")
        await pilot.press("s")
        await pilot.press("enter")
        await until(pilot, lambda: "do not fit" in dialog.error_text, what="the refusal")
        assert dialog.error_text == (
            f"Item {email + 1} of 2 (send_email): edited arguments of send_email do not fit "
            "the tool's schema at to: 5 is not of type 'string'.")
        assert isinstance(app.screen, ItemsScreen)  # choices kept, nothing sent
        assert dialog.choices[email].text == '{"to": 5, "subject": "x"}'
        assert await _ledger(app, thread) == []
        assert TOOL_RUNS[(thread, "send_email")] == 0


async def test_edit_one_leave_the_other_pending(queue: tuple[str, str]) -> None:
    url, thread = queue
    async with console(url, (80, 24)) as (app, pilot):
        dialog = await _open_items(pilot)
        await _go_to(pilot, dialog, "send_email")
        await pilot.press("e")
        await _answer(pilot, '{"to": "bob@example.com", "subject": "edited"}')
        await _go_to(pilot, dialog, "delete_file")
        await pilot.press("s")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirm")
        assert "pending  delete_file(" in app.screen.body.plain
        await pilot.press("y")
        await decided(pilot)
        assert TOOL_RUNS[(thread, "send_email")] == 1
        store = main_screen(app)._store
        rest = await store.pending_thread(thread)
        assert rest is not None
        assert [i.value["name"] for i in rest.interrupts] == ["delete_file"]
        values = (await store.bundle(thread)).values
        assert values["ran"] == [
            f"send_email:{sorted({'to': 'bob@example.com', 'subject': 'edited'}.items())}"]


async def test_i_is_in_help_and_the_palette(queue: tuple[str, str]) -> None:
    from console.ui.modals.help import HelpScreen

    url, _ = queue
    async with console(url, (80, 24)) as (app, pilot):
        await settle(pilot)
        await select_graph(pilot, "branches")
        commands = {title: (keys, enabled)
                    for title, keys, _, enabled in main_screen(app).palette_commands()}
        assert commands["Decide item by item (several interrupts)"] == ("key i", True)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        assert "Decide item by item" in app.screen.query_one("#help-text").render().plain


async def test_a_real_agent_is_decided_call_by_call(agent_queue: tuple[str, str]) -> None:
    """create_agent + HumanInTheLoopMiddleware(interrupt_mode="per_call"): the tool calls
    run as Sends; edit the email, reject the deletion; the middleware takes both."""
    url, thread = agent_queue
    async with console(url, (80, 24)) as (app, pilot):
        dialog = await _open_items(pilot, "agent")
        await _go_to(pilot, dialog, "send_email")
        await pilot.press("e")
        await _answer(pilot, '{"to": "bob@example.com", "subject": "report"}')
        await _go_to(pilot, dialog, "delete_file")
        await pilot.press("r")
        await _answer(pilot, "keep the report")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirm")
        await pilot.press("y")
        await decided(pilot)
        assert TOOL_RUNS[(thread, "send_email")] == 1
        assert TOOL_RUNS[(thread, "delete_file")] == 0
        values = (await main_screen(app)._store.bundle(thread)).values
        results = {m.tool_call_id: str(m.content) for m in values["messages"]
                   if getattr(m, "type", "") == "tool"}
        assert "sent to bob@example.com" in results["call-email"]
        assert "keep the report" in results["call-delete"]
        assert await main_screen(app)._store.pending_thread(thread) is None


async def test_the_edit_form_edits_each_tool_call_against_its_schema(
    agent_queue: tuple[str, str]
) -> None:
    """`e` on a per-call pause: one editor per tool call, checked against the tool's own
    schema as it is typed; the call that does not allow edits is read-only."""
    from textual.widgets import TextArea

    from console.ui.modals.edit_form import EditForm

    url, thread = agent_queue
    async with console(url, (80, 24)) as (app, pilot):
        await settle(pilot)
        await select_graph(pilot, "agent")
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EditForm), what="the form")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, EditForm)
        names = [i.value["name"] for i in form.thread.interrupts]
        email, delete = names.index("send_email"), names.index("delete_file")
        assert form.query_one(f"#args-{delete}", TextArea).read_only
        area = form.query_one(f"#args-{email}", TextArea)
        area.replace('{"to": 5, "subject": "x"}', (0, 0), area.document.end)
        await settle(pilot)
        assert "5 is not of type 'string'" in form.problems[f"args-{email}"]
        area.replace('{"to": "bob@example.com", "subject": "x"}', (0, 0), area.document.end)
        await settle(pilot)
        assert f"args-{email}" not in form.problems
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirm")
        assert '"edited_action"' in app.screen.body.plain
        await pilot.press("y")
        await decided(pilot)
        assert TOOL_RUNS[(thread, "send_email")] == 1
        assert TOOL_RUNS[(thread, "delete_file")] == 1  # approved as the form's decision
        assert await main_screen(app)._store.pending_thread(thread) is None
