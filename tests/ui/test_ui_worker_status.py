"""Worker mode in the console: a decision shows as queued, then the reviewer sees it
applied or failed as soon as a real worker settles it, without reloading anything.

The console runs without any graph (as on a bastion); the worker is a real
`hitl-console worker` process with the graphs of `tests/graphs.py`, on a real SQLite
file and a real PostgreSQL schema. `refuses` fails every approval inside its gate node,
after the answer arrived: the worker's resume raises, the head stays at the pause.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_support import (
    build_app,
    decided,
    main_screen,
    previewed,
    screen_lines,
    screen_text,
    settle,
    until,
)
from ui_support import notifications as notes

from console.core.dburl import parse_db_url
from console.core.graphs import GraphRegistry
from console.core.ledger.db import ledger_db
from console.core.ledger.rows import LedgerRow
from console.core.store import open_store
from console.core.store.base import CheckpointStore
from console.core.worker import apply_pending_decisions
from console.settings import Settings
from console.ui.modals.confirm import ConfirmScreen
from console.ui.modals.help import HelpScreen, help_text
from console.ui.modals.prompt import PromptScreen
from console.ui.screens.decision_status import worker_name
from console.ui.screens.main import MainScreen
from tests import graphs
from tests.graph_guard import BLOCK_GRAPHS
from tests.processes import stop_workers
from tests.seeding import run_to_pause

ROOT = Path(__file__).resolve().parents[2]
CASES = [("sqlite", (80, 24)), ("sqlite", (160, 50)), ("postgres", (80, 24)),
         ("postgres", (160, 50))]
WAIT = 90.0  # seconds: a worker process starts (imports LangGraph) on a busy 2-core box


@pytest.fixture
def worker_db(request: pytest.FixtureRequest) -> str:
    backend = request.param
    return str(request.getfixturevalue("pg_url" if backend == "postgres" else "sqlite_url"))


@pytest.fixture
async def console_store(worker_db: str, monkeypatch: pytest.MonkeyPatch
                        ) -> AsyncIterator[CheckpointStore]:
    """The bastion's view: worker mode, and no graph at all."""
    monkeypatch.setenv("HITL_WORKER_MODE", "1")
    await run_to_pause(worker_db, {"raw-000": "raw", "refuses-000": "refuses"})
    store = await open_store(parse_db_url(worker_db), GraphRegistry(), grace_seconds=0)
    assert not store.registry
    yield store
    await store.close()


@pytest.fixture
def start_worker(worker_db: str) -> Iterator[Any]:
    """Starts `hitl-console worker` with the graphs; stopped (SIGTERM, exit 0) at the end."""
    procs: list[subprocess.Popen[str]] = []

    def start(*names: str) -> subprocess.Popen[str]:
        args = [sys.executable, "-m", "console", "worker", "--db", worker_db, "--poll", "0.2s",
                "--quiet"]
        for name in names:
            args += ["--graph", graphs.spec(name)]
        proc = subprocess.Popen(args, cwd=ROOT, text=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        stop_workers([proc])


def row_line(app: Any, thread_id: str) -> str:
    """The queue's line for a thread, as the terminal shows it."""
    # side by side (wide), the detail pane is right of the first `│`
    lines = [line.split("\u2502")[0] for line in screen_lines(app)]
    found = [line for line in lines if thread_id in line]
    assert found, f"{thread_id} is not on screen:\n{screen_text(app)}"
    return found[0]


def flags_of(app: Any, thread_id: str) -> str:
    screen = main_screen(app)
    thread = next(t for t in screen.all_threads if t.thread_id == thread_id)
    return str(screen.row_flags(thread))


async def ledger_rows(store: CheckpointStore, thread_id: str) -> list[LedgerRow]:
    return await ledger_db(store).rows(thread_id=thread_id)


async def select(pilot: Any, thread_id: str) -> None:
    screen = main_screen(pilot.app)
    assert screen.table.select_thread(thread_id)
    await settle(pilot)
    await until(pilot, lambda: screen.detail.thread_id == thread_id
                and screen.detail.checkpoint_id is not None, what=f"the detail of {thread_id}")


async def approve(pilot: Any, thread_id: str) -> None:
    await select(pilot, thread_id)
    await pilot.press("a")
    await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), what="the confirm")
    await pilot.press("y")
    await decided(pilot)


@pytest.mark.parametrize(("worker_db", "size"), CASES, indirect=["worker_db"],
                         ids=[f"{db}-{w}x{h}" for db, (w, h) in CASES])
async def test_queued_then_applied_or_failed_live(
    console_store: CheckpointStore, settings: Settings, start_worker: Any,
    size: tuple[int, int], monkeypatch: pytest.MonkeyPatch,
) -> None:
    if size == (160, 50):
        monkeypatch.setenv("NO_COLOR", "1")  # the flags are characters: no colour needed
    app = build_app(console_store, settings, poll_interval=0.2)
    async with app.run_test(size=size) as pilot:
        screen = main_screen(app)
        await until(pilot, lambda: screen.loads >= 1, what="the first load")
        await settle(pilot)
        assert screen.decider.worker_mode
        # Recorded, not applied: the flag says queued, and the thread stays listed.
        for thread_id in ("raw-000", "refuses-000"):
            await approve(pilot, thread_id)
            assert isinstance(app.screen, MainScreen)
            await until(pilot, lambda t=thread_id: flags_of(app, t) == " q",
                        what=f"{thread_id} flagged queued")
        assert [r.status for r in await ledger_rows(console_store, "raw-000")] == ["queued"]
        assert row_line(app, "raw-000").lstrip().startswith("q")
        assert row_line(app, "refuses-000").lstrip().startswith("q")
        await settle(pilot)
        assert screen.detail.thread_id == "refuses-000"  # it stays open while the worker runs
        loads = screen.loads

        worker = start_worker("raw", "refuses")
        # Applied: the row leaves the queue, and the reviewer is told who applied what.
        await until(pilot, lambda: "raw-000" not in [t.thread_id for t in screen.all_threads],
                    timeout=WAIT, what="raw-000 to leave the queue")
        await until(pilot, lambda: any("Applied by worker" in n and "approve on raw-000" in n
                                       for n in notes(app)), what="the applied notification")
        # Failed: the worker's resume raised. The flag says so, the reviewer is told why
        # (redacted), and the thread is still pending.
        await until(pilot, lambda: flags_of(app, "refuses-000") == " !", timeout=WAIT,
                    what="refuses-000 flagged failed")
        # The flag is set at once; the notification is a message the app handles after.
        def failures() -> list[str]:
            return [n for n in notes(app) if "failed to apply approve on refuses-000" in n]

        await until(pilot, failures, what="the failure notification")
        await settle(pilot)
        failed = failures()
        assert len(failed) == 1, notes(app)
        assert "the thread is still pending (decide again)" in failed[0]
        assert "mail server refused the send" in failed[0]
        assert graphs.REFUSAL_SECRET not in failed[0] and "redacted" in failed[0]
        assert failed[0].startswith("Worker failed: Worker ")
        assert row_line(app, "refuses-000").lstrip().startswith("!")
        assert graphs.REFUSAL_SECRET not in screen_text(app)
        # The open detail pane shows the failure without being asked to reload.
        await until(pilot, lambda: "failed" in screen.detail.plain
                    and "decide again" in screen.detail.plain, what="the detail's status")
        assert screen.loads > loads  # live refresh did it: nobody pressed ctrl+r
        assert [r.status for r in await ledger_rows(console_store, "raw-000")] == ["applied"]
        rows = await ledger_rows(console_store, "refuses-000")
        assert [(r.decision, r.status) for r in rows] == [("approve", "failed")]
        assert f"Applied by {worker_name(rows[0].claimed_by)}" in " ".join(notes(app))
        stop_workers([worker])

        # The pause is free again: decide again (a rejection), recorded as queued.
        await select(pilot, "refuses-000")
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen), what="the prompt")
        await pilot.press(*"not today")
        await previewed(pilot)
        await pilot.press("enter")
        await decided(pilot)
        await until(pilot, lambda: flags_of(app, "refuses-000") == " q", what="queued again")
        rows = await ledger_rows(console_store, "refuses-000")
        assert [(r.decision, r.status) for r in rows] == [("approve", "failed"),
                                                          ("reject", "queued")]
        assert app.is_running


def told(app: Any) -> int:
    """How many settled decisions the notifications told of (a summary counts its N)."""
    count = 0
    for note in notes(app):
        if note.startswith("Workers: "):
            count += int(note.split()[1])
        elif note.startswith(("Applied: Applied by", "Worker failed: ")):
            count += 1
    return count


@pytest.mark.parametrize("worker_db", ["sqlite", "postgres"], indirect=True)
async def test_many_settled_at_once_make_one_summary(
    console_store: CheckpointStore, settings: Settings, worker_db: str,
) -> None:
    """Decisions a worker settled between two looks: one toast for all, each told once.
    (The core's worker API this time, in this process; live refresh slowed down so the
    console looks only when asked to.)"""
    more = {f"raw-{i:03d}": "raw" for i in range(1, 6)}
    await run_to_pause(worker_db, more)
    everything = ["raw-000", *more, "refuses-000"]
    app = build_app(console_store, settings, poll_interval=60)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = main_screen(app)
        await until(pilot, lambda: screen.loads >= 1, what="the first load")
        await settle(pilot)
        for thread_id in everything:
            await approve(pilot, thread_id)
        assert all(flags_of(app, t) == " q" for t in everything)
        results = await apply_pending_decisions(
            {"raw": graphs.raw, "refuses": graphs.refuses}, worker_db)
        assert sorted(r.status for r in results) == ["applied"] * 6 + ["failed"]
        await pilot.press("ctrl+r")
        await until(pilot, lambda: told(app) == 7, what="every decision told")
        summary = [n for n in notes(app) if n.startswith("Workers: ")]
        assert len(summary) == 1, notes(app)
        assert summary[0].startswith("Workers: 7 decisions settled by workers: 6 applied, "
                                     "1 failed (refuses-000)")
        await until(pilot, lambda: [t.thread_id for t in screen.all_threads] == ["refuses-000"],
                    what="the applied threads to leave")
        assert flags_of(app, "refuses-000") == " !"
        assert graphs.REFUSAL_SECRET not in " ".join(notes(app))


async def test_the_help_explains_every_flag(store: CheckpointStore, settings: Settings) -> None:
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        text = help_text(app.screen.sections).plain
        for flag, words in (("q", "waiting for a worker"), ("~", "being applied"),
                            ("!", "a worker failed to apply")):
            assert any(line.strip().startswith(flag) and words in line
                       for line in text.splitlines()), (flag, text)


# --- the console process never imports the graph module, TUI included ------------------

_TUI_WITHOUT_GRAPHS = BLOCK_GRAPHS + r'''
import asyncio, json, os
from console.core.dburl import parse_db_url
from console.core.store import open_store
from console.settings import Settings
from console.ui.app import make_app
from console.ui.modals.confirm import ConfirmScreen

async def until(pilot, predicate):
    for _ in range(600):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("timed out")

async def main(url, thread_id):
    os.environ["HITL_WORKER_MODE"] = "1"
    store = await open_store(parse_db_url(url), grace_seconds=0)
    try:
        assert not store.registry
        app = make_app(store, Settings(reviewer="bastion", mouse=False), poll_interval=0.2,
                       detail_delay=0, tick_interval=0)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen_stack[0]
            await until(pilot, lambda: screen.loads >= 1)
            assert screen.table.select_thread(thread_id)
            await until(pilot, lambda: screen.detail.checkpoint_id is not None)
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            thread = next(t for t in screen.all_threads if t.thread_id == thread_id)
            await until(pilot, lambda: screen.row_flags(thread) == " q")
            # what a worker does elsewhere shows here: applied, the row leaves
            print("QUEUED", flush=True)
            await until(pilot, lambda: thread_id not in [t.thread_id for t in screen.all_threads]
                        and any("Applied by worker" in n.message for n in app._notifications))
    finally:
        await store.close()
    print(json.dumps({"graph_modules": graph_modules(), "worker_mode": True}))

asyncio.run(main(sys.argv[1], sys.argv[2]))
'''


@pytest.mark.parametrize("worker_db", ["postgres"], indirect=True)
async def test_the_console_tui_never_imports_the_graph(
    worker_db: str, start_worker: Any, tmp_path: Path
) -> None:
    await run_to_pause(worker_db, {"raw-000": "raw"})
    console = subprocess.Popen(
        [sys.executable, "-c", _TUI_WITHOUT_GRAPHS, worker_db, "raw-000"], cwd=ROOT,
        text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert console.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(console.stdout.readline), WAIT)
        assert line.strip() == "QUEUED", console.stderr.read() if console.stderr else ""
        start_worker("raw")
        out, err = await asyncio.wait_for(asyncio.to_thread(console.communicate), WAIT)
    finally:
        if console.poll() is None:
            console.kill()
    assert console.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["graph_modules"] == [], "the console imported the graph module"


# --- the bookkeeping alone (no app) ----------------------------------------------------


def _row(id: int, status: str, thread: str = "t-1", checkpoint: str = "c-1",
         mode: str = "worker") -> LedgerRow:
    from datetime import UTC, datetime

    return LedgerRow(id=id, thread_id=thread, checkpoint_ns="", checkpoint_id=checkpoint,
                     pause_key="i-1", decision="approve", status=status, reviewer="tester",
                     reason=None, edits=None, resume=None, idempotency_key=None,
                     client_host=None, ssh_origin=None, client_pid=None, apply_mode=mode,
                     created_at=datetime.now(UTC), finished_at=None, new_checkpoint_id=None,
                     outcome=None, claimed_by="host-1:4711:ab12cd")


def test_open_decisions_tell_each_settlement_once_and_a_new_decision_clears_a_failure() -> None:
    from console.ui.screens.decision_status import OpenDecisions

    book = OpenDecisions()
    book.seed([_row(1, "queued"), _row(2, "queued", thread="t-2")], newest=5)
    assert book.statuses() == {("t-1", "c-1"): "queued", ("t-2", "c-1"): "queued"}
    settled = book.absorb([_row(1, "failed"), _row(2, "claimed", thread="t-2")], {})
    assert [(s.row.id, s.before) for s in settled] == [(1, "queued")]
    assert book.statuses() == {("t-1", "c-1"): "failed", ("t-2", "c-1"): "claimed"}
    assert book.absorb([_row(1, "failed")], {}) == []  # told once
    # Deciding again on the failed pause: the new open decision wins, the failure goes.
    book.absorb([_row(6, "queued")], {})
    assert book.statuses()[("t-1", "c-1")] == "queued" and book.watermark == 6
    # Settled before any read saw it open: news only if the queue showed it open (ours).
    assert book.absorb([_row(7, "applied", thread="t-3")], {}) == []
    assert len(book.absorb([_row(8, "applied", thread="t-4")],
                           {("t-4", "c-1"): "queued"})) == 1
    # An inline decision failing is no worker failure: no `!`.
    book.absorb([_row(9, "in_flight", thread="t-5", mode="inline")], {})
    book.absorb([_row(9, "failed", thread="t-5", mode="inline")], {})
    assert ("t-5", "c-1") not in book.statuses()
    book.prune({("t-2", "c-1")})
    assert book.failed == {}


def test_worker_names_are_short() -> None:
    assert worker_name("host-1:4711:ab12cd") == "worker host-1"
    assert worker_name("app.internal:12:api") == "worker app.internal"
    assert worker_name("blue") == "worker blue"
    assert worker_name(None) == "a worker"


@pytest.mark.parametrize("worker_db", ["sqlite", "postgres"], indirect=True)
async def test_deciding_again_after_a_failed_apply_sends_the_new_answer(
    console_store: CheckpointStore, worker_db: str,
) -> None:
    from console.core.ledger.apply import Decider, current_origin
    from console.core.ledger.decisions import DecisionInput
    from console.core.ledger.rows import DecisionType

    decider = Decider(console_store, current_origin("tester"), worker_mode=True)
    await decider.decide("refuses-000", DecisionInput(DecisionType.APPROVE))
    first = await apply_pending_decisions({"refuses": graphs.refuses}, worker_db)
    assert [r.status for r in first] == ["failed"]
    await decider.decide("refuses-000", DecisionInput(DecisionType.REJECT, reason="no"))
    again = await apply_pending_decisions({"refuses": graphs.refuses}, worker_db)
    assert [r.status for r in again] == ["applied"], again[0].outcome
