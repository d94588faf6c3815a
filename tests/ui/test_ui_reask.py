"""A re-ask on the same checkpoint (issue 16): another process answers, and the graph asks
again without writing a checkpoint (same checkpoint id, a new interrupt id). A console
that has the thread open must notice on its own, show the new question and say so; it
used to learn it only from its own `y` ("the graph asked a new question")."""

from __future__ import annotations

from typing import Any

from langgraph.types import Command
from ui_support import build_app, main_screen, screen_text, select_graph, settle, until

from console.core.store.base import CheckpointStore
from console.demo import graphs as demo_graphs
from console.settings import Settings
from console.ui.modals.conflict import ConflictScreen
from console.ui.screens.main import MainScreen


async def _answer_badly(store: CheckpointStore, thread_id: str) -> None:
    """Another process answers the refund question out of range: the node asks again."""
    graph = demo_graphs.schema.copy(update={"checkpointer": store.saver})
    config: Any = {"configurable": {"thread_id": thread_id}}
    await graph.ainvoke(Command(resume={"amount": 9999}), config)


async def test_a_console_reading_a_thread_sees_the_graph_ask_again(
    store: CheckpointStore, settings: Settings
) -> None:
    # The seeded heads are old (hours): the polling feed watches no writes on them, so
    # only a look at the open thread's pause can see the new question.
    app = build_app(store, settings, poll_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = main_screen(app)
        await until(pilot, lambda: screen.loads >= 1, what="the first load")
        thread = await select_graph(pilot, "schema")
        await pilot.press("enter")  # reading it
        await settle(pilot)
        before = screen.detail.interrupt_ids
        assert before == thread.interrupt_ids
        await _answer_badly(store, thread.thread_id)
        now = await store.pending_thread(thread.thread_id)
        assert now is not None and now.checkpoint_id == thread.checkpoint_id
        assert now.interrupt_ids != before  # the same checkpoint, another question
        await until(pilot, lambda: isinstance(app.screen, ConflictScreen), timeout=20,
                    what="the console to notice the new question")
        await settle(pilot)
        body = app.screen.query_one("#conflict-body").render()
        text = str(getattr(body, "plain", body))
        assert (f"the question at checkpoint {thread.checkpoint_id} changed since you "
                "read it") in text
        assert "its questions changed at the same checkpoint" in text
        assert "it now asks: 'Choose refund amount'" in text
        assert "waiting again: interrupt/schema at choose_refund" in text
        assert "Its head changed" not in text  # it did not: the same checkpoint
        await pilot.press("r")  # reload: read the new question
        await until(pilot, lambda: isinstance(app.screen, MainScreen), what="closed")
        await until(pilot, lambda: screen.detail.interrupt_ids == now.interrupt_ids,
                    what="the detail to show the new question")
        assert thread.thread_id in screen_text(app)
