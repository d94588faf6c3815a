"""Reconcile from the TUI (issue 15: reconcile in the CLI, the TUI and on lease expiry
records what happened): a decision a crashed process left in flight is settled from the
thread's rows, and the reviewer is told what it became."""

from __future__ import annotations

import socket

from ui_support import build_app, main_screen, notifications, seed_threads, settle, until

from console.core.ledger.apply import Origin
from console.core.ledger.db import install_ledger, ledger_db
from console.core.ledger.rows import ClaimRequest, DecisionType
from console.settings import Settings
from tests import graphs
from tests.ui.ui_support import open_ui_store

GRAPHS = {"raw": graphs.ALL["raw"]}


async def test_the_palette_settles_a_decision_left_in_flight(db_url: str) -> None:
    await seed_threads(db_url, GRAPHS, [("raw", "r-1", {"topic": "r-1"}, {})])
    store = await open_ui_store(db_url, GRAPHS)
    try:
        await install_ledger(store)
        head = await store.head_checkpoint_id("r-1")
        assert head is not None
        pause = await store.pending_thread("r-1")
        assert pause is not None
        dead = Origin("crashed", socket.gethostname(), None, 999_999_999)  # no such pid
        ledger = ledger_db(store)
        claim = await ledger.claim(ClaimRequest(
            "r-1", "", head, ",".join(sorted(pause.interrupt_ids)), DecisionType.APPROVE,
            dead, None, None, None, None))
        assert claim.row is not None and claim.row.status == "in_flight"
        app = build_app(store, Settings(reviewer="tester", mouse=False))
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await settle(pilot)
            screen = main_screen(app)
            titles = [title for title, *_ in screen.palette_commands()]
            assert "Reconcile in-flight decisions" in titles
            await screen.run_action("reconcile")
            await settle(pilot)
            await until(pilot, lambda: any("r-1" in n for n in notifications(app)),
                        what="the news")
            said = " ".join(notifications(app))
            assert ("failed" in said and "Reconciled" not in said) or "r-1: failed" in said
        [row] = await ledger.rows(thread_id="r-1")
        # the answer never reached the graph (the head is still the pause): failed, and
        # the thread may be decided again
        assert row.status == "failed"
        assert await store.pending_thread("r-1") is not None
    finally:
        await store.close()
