"""The TUI answers the question the reviewer read, or none: a node that asks again on
the same checkpoint (`confirm_twice`) turns a late decision into a conflict that names
the new question and its pause_id, before the y/n and between the y/n and the resume."""

from __future__ import annotations

from typing import Any

import pytest
from ui_support import build_app, decided, open_ui_store, seed_threads, select_graph, settle, until

from console.core.ledger.apply import Decider, current_origin
from console.core.ledger.db import ledger_db
from console.core.ledger.decisions import DecisionInput
from console.core.ledger.rows import DecisionType
from console.core.pause_id import pause_id_of
from console.settings import Settings
from console.ui.modals.confirm import ConfirmScreen
from console.ui.modals.conflict import ConflictScreen
from tests import graphs

GRAPHS = {"confirm_twice": graphs.confirm_twice}
SECOND = "confirm: really send the wire?"


async def _alice_approves(url: str, thread_id: str) -> str:
    """Another reviewer answers question 1 elsewhere; returns the new pause_id."""
    store = await open_ui_store(url, GRAPHS)
    try:
        first = await store.pending_thread(thread_id)
        assert first is not None
        await Decider(store, current_origin("alice")).decide(
            thread_id, DecisionInput(DecisionType.APPROVE), expect=pause_id_of(first))
        second = await store.pending_thread(thread_id)
        assert second is not None and second.checkpoint_id == first.checkpoint_id
        return pause_id_of(second)
    finally:
        await store.close()


async def _after(url: str, thread_id: str) -> tuple[list[str], Any]:
    store = await open_ui_store(url, GRAPHS)
    try:
        rows = [r.reviewer for r in await ledger_db(store).rows(thread_id=thread_id)]
        graph = graphs.confirm_twice.copy(update={"checkpointer": store.saver})
        state = await graph.aget_state({"configurable": {"thread_id": thread_id}})
        return rows, state.values
    finally:
        await store.close()


@pytest.mark.parametrize("when", ["before the y/n", "after the y/n"])
async def test_a_tui_approve_of_an_answered_question_is_a_conflict(
    db_url: str, when: str
) -> None:
    await seed_threads(db_url, GRAPHS, [("confirm_twice", "wire-1", {"topic": "t"}, {})])
    store = await open_ui_store(db_url, GRAPHS)
    try:
        app = build_app(store, Settings(reviewer="bob", mouse=False))
        async with app.run_test(size=(160, 50)) as pilot:
            await settle(pilot)
            await select_graph(pilot, "confirm_twice")  # bob reads question 1
            if when == "before the y/n":
                new = await _alice_approves(db_url, "wire-1")
                await pilot.press("a")
            else:
                await pilot.press("a")
                await until(pilot, lambda: isinstance(app.screen, ConfirmScreen),
                            what="the confirm")
                new = await _alice_approves(db_url, "wire-1")
                await pilot.press("y")
                await decided(pilot)
            await until(pilot, lambda: isinstance(app.screen, ConflictScreen),
                        what="the conflict dialog")
            await settle(pilot)
            body = app.screen.query_one("#conflict-body").render()
            text = " ".join(str(getattr(body, "plain", body)).split())
            assert SECOND in text
            assert new in text
            assert "alice answered the earlier question" in text
    finally:
        await store.close()
    rows, values = await _after(db_url, "wire-1")
    assert rows == ["alice"]  # bob's approval was never recorded, never sent
    assert values.get("effects", []) == []  # the gated action did not run
    assert values.get("received", []) == []  # question 2 still waits
