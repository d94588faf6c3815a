"""Deciding from the keyboard on a real seeded queue: the demo graphs really resume.

a (approve), r (reject with a reason), m (respond) go through `Decider.plan` for a y/n
confirm showing the exact Command, then `Decider.decide` in the decision worker; the
outcome shows as a notification and in the status line, and the row leaves the queue.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ui_support import (
    build_app,
    decided,
    main_screen,
    previewed,
    screen_text,
    select_graph,
    settle,
    until,
)

from console.core.errors import ConsoleError
from console.core.ledger.apply import Decider, Outcome, current_origin
from console.core.ledger.db import ledger_db
from console.core.ledger.decisions import DecisionInput
from console.core.policy import Policy
from console.core.store.base import CheckpointStore
from console.settings import Settings
from console.ui.modals.confirm import ConfirmScreen
from console.ui.modals.error import ErrorModal
from console.ui.modals.prompt import PromptScreen
from console.ui.screens.main import MainScreen

SIZES = [(80, 24), (160, 50)]


async def _ledger(store: CheckpointStore, thread_id: str) -> list[Any]:
    ledger = ledger_db(store)
    if not await ledger.installed():
        return []
    return await ledger.rows(thread_id=thread_id)


@pytest.mark.parametrize("size", SIZES)
async def test_approve_shows_the_command_then_resumes_the_graph(
    store: CheckpointStore, settings: Settings, size: tuple[int, int]
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        thread = await select_graph(pilot, "tutorial")
        before = len(screen.all_threads)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirm")
        text = screen_text(app)
        assert "Approve this thread?" in text
        assert "Command(" in text and "resume=" in text and '"approved"' in text
        assert thread.checkpoint_id in app.screen.body.plain  # the pause it names
        await pilot.press("y")
        await decided(pilot)
        assert isinstance(app.screen, MainScreen)
        assert thread.thread_id not in [t.thread_id for t in screen.all_threads]
        assert len(screen.all_threads) == before - 1
        assert "last: approve applied" in screen.status.plain
        assert any("Approve applied" in n.message for n in app._notifications)
        rows = await _ledger(store, thread.thread_id)
        assert [(r.decision, r.status, r.reviewer) for r in rows] == [
            ("approve", "applied", "tester")]
        bundle = await store.bundle(thread.thread_id)
        assert bundle.pending is None and bundle.values["status"] == "executed"


async def test_n_and_esc_send_nothing(store: CheckpointStore, settings: Settings) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        thread = await select_graph(pilot, "tutorial")
        for key in ("n", "escape"):
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, MainScreen)
        assert await _ledger(store, thread.thread_id) == []
        assert await store.pending_thread(thread.thread_id) is not None


@pytest.mark.parametrize("size", SIZES)
async def test_reject_asks_for_a_reason_and_sends_it(
    store: CheckpointStore, settings: Settings, size: tuple[int, int]
) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        thread = await select_graph(pilot, "tutorial")
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press("enter")  # a reason is required
        await settle(pilot)
        assert isinstance(app.screen, PromptScreen)
        assert "Required" in screen_text(app)
        await pilot.press(*"too risky")
        await previewed(pilot)  # the box shows the Command with the reason as typed
        assert '"rejected: too risky"' in screen_text(app)
        assert "enter: reject, sending this Command" in screen_text(app)
        await pilot.press("enter")  # no second y/n: r, the reason, enter
        await decided(pilot)
        rows = await _ledger(store, thread.thread_id)
        assert [(r.decision, r.status, r.reason) for r in rows] == [
            ("reject", "applied", "too risky")]
        bundle = await store.bundle(thread.thread_id)
        assert bundle.values["status"] == "rejected"


async def test_respond_on_an_inbox_request(store: CheckpointStore, settings: Settings) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        thread = await select_graph(pilot, "inbox")
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"call me first")
        await previewed(pilot)
        assert '"type": "response"' in screen_text(app)
        await pilot.press("enter")
        await decided(pilot)
        rows = await _ledger(store, thread.thread_id)
        assert [(r.decision, r.status) for r in rows] == [("respond", "applied")]


async def test_actions_the_payload_does_not_allow_are_disabled_with_the_reason(
    store: CheckpointStore, settings: Settings
) -> None:
    """hitl_agent's delete_records allows only approve/reject: no respond for the pause."""
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        await select_graph(pilot, "hitl_agent")
        assert screen.check_action("respond", ()) is None
        assert screen.check_action("approve", ()) is True
        assert "no respond: Action 2 (delete_records) does not allow respond" in (
            screen.detail.plain)
        await pilot.press("m")  # disabled: nothing opens
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)


async def test_policy_forbidden_actions_are_disabled_with_the_policy_reason(
    store: CheckpointStore,
) -> None:
    raw = {"policy": {"rules": [{"graph": "tutorial", "approve": ["alice"]}]}}
    settings = Settings(reviewer="tester", mouse=False, raw=raw)
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        thread = await select_graph(pilot, "tutorial")
        assert screen.check_action("approve", ()) is None
        assert screen.check_action("reject", ()) is True
        assert "no approve: tester may not approve at tutorial/approval (allowed: alice)." in (
            screen.detail.plain)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        # the palette offers it too, saying why it is unavailable
        commands = {title: (help_text, enabled)
                    for title, help_text, _, enabled in screen.palette_commands()}
        assert commands["Approve"][1] is False and "allowed: alice" in commands["Approve"][0]
        assert await _ledger(store, thread.thread_id) == []


async def test_read_only_reviewers_can_do_nothing(store: CheckpointStore) -> None:
    settings = Settings(reviewer="intern", mouse=False, raw={"policy": {"read_only": ["intern"]}})
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        await select_graph(pilot, "tutorial")
        for action in ("approve", "reject", "respond", "edit"):
            assert screen.check_action(action, ()) is None
        assert "actions none" in screen.detail.plain
        assert "intern is a read-only reviewer" in screen.detail.plain


class _SlowDecider(Decider):
    """Holds `decide` until released, so a test can look at the UI while it runs."""

    def __init__(self, store: CheckpointStore) -> None:
        super().__init__(store, current_origin("tester"), worker_mode=False)
        self.release = asyncio.Event()

    async def decide(self, thread_id: str, choice: DecisionInput, **kw: Any) -> Outcome:
        await self.release.wait()
        return await super().decide(thread_id, choice, **kw)


async def test_the_ui_stays_usable_while_a_decision_runs(
    store: CheckpointStore, settings: Settings
) -> None:
    decider = _SlowDecider(store)
    app = build_app(store, settings, decider=decider)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        thread = await select_graph(pilot, "tutorial")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: screen.busy is not None)
        assert "BUSY approving " + thread.thread_id in screen.status.plain
        assert screen.table.flags(thread)[1] == "~"  # flagged in the queue
        row = screen.table.cursor_row
        await pilot.press("j")  # the queue still moves
        await pilot.pause()
        assert screen.table.cursor_row == row + 1
        assert screen.check_action("approve", ()) is None  # one decision at a time
        await pilot.press("q")  # no quitting in the middle of a decision
        await pilot.pause()
        assert app.is_running
        decider.release.set()
        await decided(pilot)
        assert "BUSY" not in screen.status.plain
        assert thread.thread_id not in [t.thread_id for t in screen.all_threads]


class _BrokenDecider(Decider):
    async def decide(self, thread_id: str, choice: DecisionInput, **kw: Any) -> Outcome:
        raise ConsoleError("The ledger in x could not be written: disk full. Nothing was "
                           "applied.")


async def test_a_failed_decision_is_one_sentence_in_a_modal(
    store: CheckpointStore, settings: Settings
) -> None:
    app = build_app(store, settings, decider=_BrokenDecider(store, current_origin("tester"),
                                                            policy=Policy()))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        thread = await select_graph(pilot, "tutorial")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ErrorModal))
        assert app.screen.title_text == "Error: approve not done"
        assert app.screen.message.startswith("The ledger in x could not be written")
        assert "Traceback" not in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        screen = main_screen(app)
        assert thread.thread_id in [t.thread_id for t in screen.all_threads]
        assert "approve failed" in screen.status.plain
        assert screen.check_action("approve", ()) is True  # not stuck busy


async def test_worker_mode_records_and_flags_the_row(
    store: CheckpointStore, settings: Settings
) -> None:
    decider = Decider(store, current_origin("tester"), worker_mode=True)
    app = build_app(store, settings, decider=decider)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        thread = await select_graph(pilot, "tutorial")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await decided(pilot)
        assert "last: approve queued" in screen.status.plain
        current = next(t for t in screen.all_threads if t.thread_id == thread.thread_id)
        assert screen.table.flags(current) == " q"
        # a fresh load reads the flag back from the ledger
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert screen.table.flags(current) == " q"
        rows = await _ledger(store, thread.thread_id)
        assert [(r.decision, r.status) for r in rows] == [("approve", "queued")]
