"""Every policy rule through the console, on real SQLite and real PostgreSQL.

Real graphs (`tests/graphs.py`) paused in a real checkpointer, one console per reviewer
(as two people at two terminals would have), keys pressed through Pilot. Each test checks
what the reviewer sees (the detail pane's actions, dialogs, notifications) and what the
database holds afterwards (ledger rows, events, whether the thread still waits, whether
the gated action ran).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ui_support import (
    build_app,
    decided,
    main_screen,
    notifications,
    open_ui_store,
    previewed,
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
from console.ui.modals.bulk import BulkProgressScreen, BulkRejectScreen
from console.ui.modals.confirm import ConfirmScreen
from console.ui.modals.error import RevealScreen
from console.ui.modals.prompt import PromptScreen
from console.ui.screens.main import MainScreen
from tests import graphs

POLICY: dict[str, Any] = {"policy": {
    "read_only": ["intern"],
    "four_eyes": True,
    "requester_key": "requested_by",
    "reveal": ["sec"],
    "groups": {"payments": ["alice", "bob"]},
    "rules": [
        # per graph and node: only alice approves (and so edits) hitl's gate
        {"graph": "hitl", "node": "gate", "approve": ["alice"], "reject": ["*"]},
        # two distinct approvers before raw resumes
        {"graph": "raw", "approve": ["@payments", "carol"], "reject": ["*"], "approvals": 2},
        # before's breakpoint: anyone approves, only alice rejects
        {"graph": "before", "approve": ["*"], "reject": ["alice"]},
    ],
}}
GRAPHS = {name: graphs.ALL[name] for name in ("hitl", "raw", "inbox", "before")}
THREADS = [
    ("hitl", "hitl-000", {"topic": "t"}, {"requested_by": "zoe"}),
    ("raw", "raw-000", {"topic": {"api_key": "Kp9Lm8Nb7Vc6Xz5Q"}}, {"requested_by": "zoe"}),
    ("raw", "raw-001", {"topic": "t"}, {"requested_by": "zoe"}),
    ("inbox", "inbox-000", {"topic": "t"}, {"requested_by": "bob"}),
    ("before", "before-000", {"topic": "t"}, {"requested_by": "zoe"}),
]
SIZE = (160, 50)  # wide: queue and detail side by side, the actions lines on screen


@pytest.fixture
async def policy_db(db_url: str) -> str:
    """Each test's own database (SQLite and PostgreSQL) with five threads paused."""
    await seed_threads(db_url, GRAPHS, THREADS)
    return db_url


@contextlib.asynccontextmanager
async def console(url: str, reviewer: str) -> AsyncIterator[tuple[ConsoleApp, Any]]:
    """A console for `reviewer` under POLICY, loaded; yields (app, pilot)."""
    store = await open_ui_store(url, GRAPHS)
    try:
        app = build_app(store, Settings(reviewer=reviewer, mouse=False, raw=POLICY))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            yield app, pilot
    finally:
        await store.close()


async def _database(url: str, thread_id: str) -> tuple[list[Any], list[Any], Any]:
    """(ledger decisions, ledger events, bundle) for one thread, read afresh."""
    store = await open_ui_store(url, GRAPHS)
    try:
        ledger = ledger_db(store)
        rows = events = []
        if await ledger.installed():
            rows = [(r.decision, r.status, r.reviewer) for r in
                    await ledger.rows(thread_id=thread_id)]
            events = [(e["reviewer"], e["action"]) for e in
                      await ledger.events(thread_id=thread_id)]
        return rows, events, await store.bundle(thread_id)
    finally:
        await store.close()


async def _select(pilot: Any, thread_id: str) -> Any:
    screen = main_screen(pilot.app)
    thread = next(t for t in screen.all_threads if t.thread_id == thread_id)
    index = [t.thread_id for t in screen.all_threads if t.graph == thread.graph].index(thread_id)
    return await select_graph(pilot, thread.graph, index)


async def _confirm(pilot: Any) -> None:
    """Answer y to the confirm dialog and wait for the decision."""
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirm")
    await pilot.press("y")
    await decided(pilot)


async def _reject(pilot: Any, reason: str) -> None:
    app = pilot.app
    await pilot.press("r")
    await until(pilot, lambda: isinstance(app.screen, PromptScreen), what="the reason")
    await pilot.press(*reason)
    await previewed(pilot)
    await pilot.press("enter")  # the reason box showed the Command: no second y/n
    await decided(pilot)


async def _nothing_opens(pilot: Any, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)
        assert isinstance(pilot.app.screen, MainScreen), f"{key} opened {pilot.app.screen}"


def _flat(text: str) -> str:
    """Screen text with the wrapping undone (a sentence may break across lines)."""
    return " ".join(text.split())


def _pane(app: Any) -> str:
    """What the detail pane shows (right of the divider at this width), unwrapped."""
    return _flat("\n".join(line.split("\u2502", 1)[1] for line in screen_lines(app)
                            if "\u2502" in line))


async def test_a_reviewer_who_may_reject_but_not_approve(policy_db: str) -> None:
    async with console(policy_db, "dave") as (app, pilot):
        screen = main_screen(app)
        await _select(pilot, "hitl-000")
        assert screen.check_action("approve", ()) is None
        assert screen.check_action("edit", ()) is None  # edit follows approve by default
        assert screen.check_action("reject", ()) is True
        shown = _pane(app)
        assert "actions r reject" in shown
        assert "no approve: dave may not approve at hitl/gate (allowed: alice)." in shown
        assert "no edit: dave may not edit at hitl/gate (allowed: alice)." in shown
        assert "--reviewer" not in shown and "exit" not in shown
        await _nothing_opens(pilot, "a", "e")
        rows, events, bundle = await _database(policy_db, "hitl-000")
        # the key never reached the core: no decision, no refusal to record
        assert (rows, events) == ([], []) and bundle.pending is not None
        # ...and rejecting, which dave may do, goes through and is final
        await _reject(pilot, "not today")
        assert "hitl-000" not in [t.thread_id for t in screen.all_threads]
        assert "last: reject applied: hitl-000" in screen.status.plain
    rows, events, bundle = await _database(policy_db, "hitl-000")
    assert rows == [("reject", "applied", "dave")]
    assert bundle.pending is None and not bundle.values.get("effects")  # the action never ran
    # alice, whom the rule names, is offered approve on the same kind of pause
    async with console(policy_db, "alice") as (app, pilot):
        screen = main_screen(app)
        assert "hitl-000" not in [t.thread_id for t in screen.all_threads]
        await _select(pilot, "before-000")
        assert screen.check_action("reject", ()) is True  # before's rule: alice rejects


async def test_read_only_reviewers_can_decide_nothing(policy_db: str) -> None:
    async with console(policy_db, "intern") as (app, pilot):
        screen = main_screen(app)
        for thread_id in ("hitl-000", "raw-000", "inbox-000", "before-000"):
            await _select(pilot, thread_id)
            assert [screen.check_action(a, ()) for a in ("approve", "reject", "respond",
                                                          "edit")] == [None] * 4
            shown = _pane(app)
            assert "actions none" in shown
            assert "intern is a read-only reviewer and may not decide." in shown
            await _nothing_opens(pilot, "a", "r", "m", "e")
            palette = {title: (help_text, on) for title, help_text, _, on in
                       screen.palette_commands()}
            assert palette["Approve"] == (
                "key a; unavailable: intern is a read-only reviewer and may not decide.", False)
        await pilot.press("space")  # a mark alone must not offer a bulk reject
        assert screen.check_action("reject_marked", ()) is None
        palette = {title: (help_text, on) for title, help_text, _, on in
                   screen.palette_commands()}
        assert palette["Bulk reject"] == (
            "key R; unavailable: intern is a read-only reviewer", False)
    for thread_id in ("hitl-000", "raw-000", "inbox-000", "before-000"):
        rows, events, bundle = await _database(policy_db, thread_id)
        assert (rows, events) == ([], []) and bundle.pending is not None


async def test_four_eyes_the_requester_cannot_approve_another_reviewer_can(
    policy_db: str,
) -> None:
    async with console(policy_db, "bob") as (app, pilot):
        screen = main_screen(app)
        await _select(pilot, "inbox-000")
        assert screen.check_action("approve", ()) is None
        assert screen.check_action("reject", ()) is True  # four-eyes is about approving
        shown = _pane(app)
        assert ("Four-eyes rule: bob requested this run and may not approve it; another "
                "reviewer must.") in shown
        await _nothing_opens(pilot, "a")
    rows, events, bundle = await _database(policy_db, "inbox-000")
    assert (rows, events) == ([], []) and bundle.pending is not None
    async with console(policy_db, "carol") as (app, pilot):
        screen = main_screen(app)
        await _select(pilot, "inbox-000")
        assert screen.check_action("approve", ()) is True
        assert "Four-eyes" not in screen_text(app)
        await pilot.press("a")
        await _confirm(pilot)
        assert "last: approve applied: inbox-000" in screen.status.plain
    rows, _, bundle = await _database(policy_db, "inbox-000")
    assert rows == [("approve", "applied", "carol")]
    assert bundle.pending is None and bundle.values["effects"] == ["acted"]


async def _approve(pilot: Any) -> None:
    await pilot.press("a")
    await _confirm(pilot)


async def test_two_approvals_distinct_reviewers_resume_once(policy_db: str) -> None:
    async with console(policy_db, "alice") as (app, pilot):
        screen = main_screen(app)
        await _select(pilot, "raw-000")
        assert "approve: needs 2 distinct approvals before it runs." in _pane(app)
        await _approve(pilot)
        assert any("Approval 1 of 2 recorded for raw-000" in n for n in notifications(app))
        assert "last: approve approval_recorded: raw-000" in screen.status.plain
        # still pending; the next undecided thread opened (issue 16: the flow goes on),
        # and back on it, the pane says where the approvals stand
        assert "raw-000" in [t.thread_id for t in screen.all_threads]
        assert screen.table.selected.thread_id != "raw-000"
        await _select(pilot, "raw-000")
        shown = _pane(app)
        assert "you approved this pause: 1 of 2 approvals recorded." in shown
        assert "another reviewer approves" in shown
        assert screen.check_action("approve", ()) is None  # a second press counts nothing
        await _nothing_opens(pilot, "a")
    rows, _, bundle = await _database(policy_db, "raw-000")
    assert rows == [] and bundle.pending is not None and not bundle.values.get("effects")
    # alice again, from a fresh console: the ledger still counts her once
    async with console(policy_db, "alice") as (app, pilot):
        await _select(pilot, "raw-000")
        await _approve(pilot)
        assert any("Approval 1 of 2 recorded" in n for n in notifications(app))
    rows, _, bundle = await _database(policy_db, "raw-000")
    assert rows == [] and bundle.pending is not None
    # bob is the second distinct approver: his approval runs the resume, once
    async with console(policy_db, "bob") as (app, pilot):
        screen = main_screen(app)
        await _select(pilot, "raw-000")
        await _approve(pilot)
        assert "last: approve applied: raw-000" in screen.status.plain
        assert "raw-000" not in [t.thread_id for t in screen.all_threads]
    rows, _, bundle = await _database(policy_db, "raw-000")
    assert rows == [("approve", "applied", "bob")]
    assert bundle.pending is None and bundle.values["effects"] == ["acted"]


async def test_a_rejection_after_one_of_two_approvals_is_final(policy_db: str) -> None:
    async with console(policy_db, "alice") as (app, pilot):
        await _select(pilot, "raw-001")
        await _approve(pilot)
        assert any("Approval 1 of 2" in n for n in notifications(app))
    async with console(policy_db, "dave") as (app, pilot):  # may reject, not approve
        screen = main_screen(app)
        await _select(pilot, "raw-001")
        assert screen.check_action("approve", ()) is None
        await _reject(pilot, "wrong amount")
        assert "last: reject applied: raw-001" in screen.status.plain
    rows, _, bundle = await _database(policy_db, "raw-001")
    assert rows == [("reject", "applied", "dave")]
    assert bundle.pending is None and not bundle.values.get("effects")
    async with console(policy_db, "bob") as (app, _pilot):  # nothing left to approve
        assert "raw-001" not in [t.thread_id for t in main_screen(app).all_threads]


async def test_bulk_reject_counts_the_marks_policy_refuses(policy_db: str) -> None:
    async with console(policy_db, "dave") as (app, pilot):
        screen = main_screen(app)
        marked = ["before-000", "hitl-000", "raw-000"]
        for thread_id in marked:
            await _select(pilot, thread_id)
            await pilot.press("space")
        assert sorted(m.thread_id for m in screen.marks) == marked
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, BulkRejectScreen))
        await pilot.press(*"cleanup", "enter", "y")
        await until(pilot, lambda: isinstance(app.screen, BulkProgressScreen))
        progress = app.screen
        await until(pilot, lambda: progress.done, timeout=60, what="the bulk reject")
        await settle(pilot)
        shown = _flat(screen_text(app))
        assert "rejected 2" in shown and "refused 1" in shown
        assert "Refused (1)" in shown
        # one line per reason, with its threads (issue 16: not two lines per refusal)
        assert "1 dave may not reject at before/act (allowed: alice). (before-000)" in shown
        await pilot.press("escape")
        await decided(pilot)
        assert [m.thread_id for m in screen.marks] == ["before-000"]  # kept, not rejected
        assert any("2 of 3 threads rejected; 1 not rejected stay marked" in n
                   for n in notifications(app))
    rows, events, bundle = await _database(policy_db, "before-000")
    assert rows == [] and bundle.pending is not None
    assert events == [("dave", "policy_refused")]  # the core records each refusal
    for thread_id in ("hitl-000", "raw-000"):
        rows, _, bundle = await _database(policy_db, thread_id)
        assert rows == [("reject", "applied", "dave")] and bundle.pending is None


async def test_reveal_only_where_policy_allows_it_and_always_audited(policy_db: str) -> None:
    secret = "Kp9Lm8Nb7Vc6Xz5Q"  # raw-000's topic.api_key
    async with console(policy_db, "dave") as (app, pilot):
        await _select(pilot, "raw-000")
        assert secret not in screen_text(app) and "topic.api_key" not in screen_text(app)
        await pilot.press("V")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)  # no prompt: nothing to reveal for dave
        refusal = ("dave may not reveal redacted values (policy `reveal` does not name "
                   "them). The attempt was recorded.")
        assert any(refusal in n for n in notifications(app))
        assert secret not in screen_text(app)
    _, events, _ = await _database(policy_db, "raw-000")
    assert events == [("dave", "reveal_refused")]
    async with console(policy_db, "sec") as (app, pilot):
        await _select(pilot, "raw-000")
        assert secret not in screen_text(app)
        await pilot.press("V")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen), what="the path")
        assert "Hidden by key here: topic.api_key." in _flat(screen_text(app))
        await pilot.press(*"topic.api_key", "enter")
        await until(pilot, lambda: isinstance(app.screen, RevealScreen), what="the value")
        shown = _flat(screen_text(app))
        assert f'"{secret}"' in shown
        assert "topic.api_key (revealed to sec; recorded in the audit log)" in shown
        await pilot.press("escape")
        await settle(pilot)
        assert secret not in screen_text(app)  # back to the redacted pane
    _, events, _ = await _database(policy_db, "raw-000")
    assert events == [("dave", "reveal_refused"), ("sec", "reveal")]
