"""The edit form (`e`) on real pauses: args, state and schema values, inline errors,
drafts that survive everything, and a preview of the exact Command before y/n."""

from __future__ import annotations

import json
from typing import Any

import pytest
from textual.widgets import Input, TextArea
from ui_support import build_app, decided, main_screen, screen_text, select_graph, settle, until

from console.core.ledger.db import ledger_db
from console.core.store.base import CheckpointStore
from console.settings import Settings
from console.ui.modals.confirm import ConfirmScreen
from console.ui.modals.edit_form import EditForm
from console.ui.screens.main import MainScreen

SIZES = [(80, 24), (160, 50)]


def _form(app: Any) -> EditForm:
    screen = app.screen
    assert isinstance(screen, EditForm)
    return screen


def _type_over(area: TextArea, text: str) -> None:
    """Replace an editor's text the way typing would (it posts TextArea.Changed)."""
    area.replace(text, (0, 0), area.document.end)


async def _open_form(pilot: Any, graph: str) -> tuple[Any, EditForm]:
    thread = await select_graph(pilot, graph)
    await pilot.press("e")
    await until(pilot, lambda: isinstance(pilot.app.screen, EditForm), what="the edit form")
    await settle(pilot)
    return thread, _form(pilot.app)


async def _rows(store: CheckpointStore, thread_id: str) -> list[Any]:
    ledger = ledger_db(store)
    return await ledger.rows(thread_id=thread_id) if await ledger.installed() else []


@pytest.mark.parametrize("size", SIZES)
async def test_edited_tool_args_are_sent_and_redacted_values_kept(
    store: CheckpointStore, settings: Settings, size: tuple[int, int]
) -> None:
    """The body shows the API key as a fingerprint; an edit of the subject must send the
    real key back unchanged, not the fingerprint."""
    app = build_app(store, settings)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        thread, form = await _open_form(pilot, "hitl_agent")
        assert "Action 1 of 2: send_email" in screen_text(app)
        area = form.query_one("#args-0", TextArea)
        assert "«redacted:" in area.text  # the secret is not on screen
        original = json.loads(area.text)
        edited = dict(original, subject="Your key (rotated)")
        _type_over(area, json.dumps(edited, ensure_ascii=False, indent=2))
        await settle(pilot)
        assert form.problems == {}
        assert form.query_one("#args-1", TextArea).read_only  # delete_records: no edit
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the preview")
        preview = app.screen.body.plain
        assert '"type": "edit"' in preview and "Your key (rotated)" in preview
        assert "«redacted:" in preview  # still redacted in the preview
        await pilot.press("y")
        await decided(pilot)
        assert isinstance(app.screen, MainScreen)
        rows = await _rows(store, thread.thread_id)
        assert [(r.decision, r.status) for r in rows] == [("edit", "applied")]
        bundle = await store.bundle(thread.thread_id)
        sent = next(e for e in bundle.values["executed"] if e["tool"] == "send_email")
        assert sent["args"]["subject"] == "Your key (rotated)"
        assert "«redacted" not in json.dumps(sent)  # the real key went out
        assert main_screen(app).drafts.get((thread.thread_id, thread.checkpoint_id)) is None


@pytest.mark.parametrize("size", SIZES)
async def test_json_errors_show_line_and_column_and_the_draft_survives(
    store: CheckpointStore, settings: Settings, size: tuple[int, int]
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        thread, form = await _open_form(pilot, "hitl_agent")
        state = form.query_one("#state", TextArea)
        state.focus()
        await pilot.press(*'{"todo": ["x"]', "enter", *'"labels": 1}')
        await settle(pilot)
        assert form.problems["state"] == "line 2, column 1: Expecting ',' delimiter"
        assert "line 2, column 1: Expecting ',' delimiter" in screen_text(app)
        await pilot.press("ctrl+s")  # refused locally; nothing reaches the core
        await settle(pilot)
        assert isinstance(app.screen, EditForm)
        assert "Fix the marked fields first" in form.form_error
        assert state.has_focus and state.cursor_location == (1, 0)  # at the error
        # close and reopen: everything typed is still there
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EditForm))
        await settle(pilot)
        again = _form(app)
        assert again.query_one("#state", TextArea).text == '{"todo": ["x"]\n"labels": 1}'
        assert again.problems["state"].startswith("line 2, column 1")
        # unknown state keys are named, with the keys the graph has
        _type_over(again.query_one("#state", TextArea), '{"nope": 1}')
        await settle(pilot)
        assert again.problems["state"].startswith("unknown state key 'nope'; the graph has: ")
        assert "todo" in again.problems["state"]
        assert await _rows(store, thread.thread_id) == []


async def test_replacing_a_list_needs_an_explicit_capital_y(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        thread, form = await _open_form(pilot, "hitl_agent")
        _type_over(form.query_one("#state", TextArea), '{"todo": ["only this"]}')
        await settle(pilot)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        text = screen_text(app)
        assert "WARNING Update of 'todo' replaces the whole list" in text
        assert "Resulting state" in app.screen.body.plain
        assert '["verify identity", "send key", "purge sessions"]' in app.screen.body.plain
        assert "Y (shift+y): submit, replacing" in text
        await pilot.press("y")  # not enough
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("Y")
        await decided(pilot)
        rows = await _rows(store, thread.thread_id)
        assert [(r.decision, r.status) for r in rows] == [("edit", "applied")]
        assert rows[0].edits["state"] == {"todo": ["only this"]}
        assert rows[0].resume["update"] == {"todo": ["only this"]}


async def test_the_core_refusing_a_plan_is_shown_in_the_form(
    store: CheckpointStore, settings: Settings
) -> None:
    """`executed` adds through operator.add: a number cannot be added to the list."""
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        thread, form = await _open_form(pilot, "hitl_agent")
        _type_over(form.query_one("#state", TextArea), '{"executed": 5}')
        await settle(pilot)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "The graph rejects this update" in form.form_error)
        assert isinstance(app.screen, EditForm)
        assert form.query_one("#state", TextArea).text == '{"executed": 5}'
        assert await _rows(store, thread.thread_id) == []


@pytest.mark.parametrize("size", SIZES)
async def test_a_schema_pause_gets_a_form_from_its_schema(
    store: CheckpointStore, settings: Settings, size: tuple[int, int]
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        thread = await select_graph(pilot, "schema")
        await pilot.press("a")  # approve means: give the value
        await until(pilot, lambda: isinstance(app.screen, EditForm))
        await settle(pilot)
        form = _form(app)
        text = screen_text(app)
        assert "amount: number, 0..500, required: 0 declines" in text
        assert "currency: one of EUR, USD, GBP, CHF, optional" in text
        amount = form.query_one("#field-amount", Input)
        assert amount.has_focus
        await pilot.press(*"600")
        await settle(pilot)
        assert form.problems["field-amount"] == "600 is greater than the maximum of 500"
        currency = form.query_one("#field-currency", Input)
        currency.value = "XYZ"
        await settle(pilot)
        assert form.problems["field-currency"] == "must be one of EUR, USD, GBP, CHF"
        currency.value = "USD"
        amount.value = "120.5"
        await settle(pilot)
        assert form.problems == {}
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert '{"amount": 120.5, "currency": "USD"}' in app.screen.body.plain
        await pilot.press("y")
        await decided(pilot)
        rows = await _rows(store, thread.thread_id)
        assert [(r.decision, r.status) for r in rows] == [("resume", "applied")]
        bundle = await store.bundle(thread.thread_id)
        assert bundle.values["refunds"][-1]["amount"] == 120.5


async def test_schema_values_can_be_typed_as_json(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        _, form = await _open_form(pilot, "schema")
        form.query_one("#field-amount", Input).value = "10"
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        area = form.query_one("#resume", TextArea)
        assert area.display and json.loads(area.text) == {"amount": 10, "currency": "EUR"}
        _type_over(area, '{"amount": 10, "colour": "red"}')
        await settle(pilot)
        assert "Additional properties are not allowed" in form.problems["resume"]
        _type_over(area, '{"amount": 0, "note": "declined"}')
        await settle(pilot)
        assert form.problems == {}
        # the mode is part of the draft too
        await pilot.press("escape", "e")
        await until(pilot, lambda: isinstance(app.screen, EditForm))
        await settle(pilot)
        assert _form(app).json_mode
        assert json.loads(_form(app).query_one("#resume", TextArea).text)["note"] == "declined"
