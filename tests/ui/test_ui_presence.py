"""Presence in the TUI (issue 16): the queue flags a thread another reviewer has open
(`@`), the detail header says who and whether they hold a draft, and this console's own
open thread is what the others see. Advice only: the ledger still decides."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ui_support import build_app, main_screen, screen_text, seed_threads, settle, until

from console.core.changes import open_listener
from console.core.ledger.apply import current_origin
from console.core.ledger.db import ledger_db
from console.core.presence import PRESENCE_CHANNEL, PresenceBoard, install_presence
from console.settings import Settings
from tests import graphs
from tests.ui.ui_support import open_ui_store

GRAPHS = {"raw": graphs.ALL["raw"]}
THREADS = [("raw", f"p-{i}", {"topic": f"p-{i}"}, {}) for i in range(3)]


async def test_another_reviewer_reading_a_thread_is_shown(db_url: str) -> None:
    await seed_threads(db_url, GRAPHS, THREADS)
    store = await open_ui_store(db_url, GRAPHS)
    try:
        await install_presence(store)
        alice = PresenceBoard(ledger_db(store), current_origin("alice"))
        await alice.beat("p-1", None, True)  # alice has p-1 open, with a draft
        app = build_app(store, Settings(reviewer="tester", mouse=False),
                        presence_interval=0.2)
        async with app.run_test(size=(160, 40)) as pilot:  # wide: queue and detail
            await settle(pilot)
            screen = main_screen(app)
            await until(pilot, lambda: screen.presence_beats >= 1, what="a heartbeat")
            row = next(line for line in screen_text(app).splitlines() if "p-1" in line)
            assert "@" in row  # the queue's flag
            assert screen.table.select_thread("p-1")
            await until(pilot, lambda: screen.detail.thread_id == "p-1"
                        and screen.detail.presence is not None, what="the header")
            await until(pilot, lambda: "alice is reading this (draft open" in screen_text(app),
                        what="the words")
            # and alice sees this console on p-1
            seen = await alice.others()
            assert [(r.reviewer, r.thread_id) for r in seen] == [("tester", "p-1")]
            await alice.leave()  # gone: the flag and the words go with the next beat
            beats = screen.presence_beats
            await until(pilot, lambda: screen.presence_beats > beats + 1, what="beats")
            assert "alice is reading" not in screen_text(app)
        await asyncio.sleep(1.1)  # its lease (3 beats, at least 1 s) runs out
        assert await alice.others() == []  # the console that closed is gone
    finally:
        await store.close()


async def test_on_postgres_presence_shows_within_a_second_by_notify(pg_url: str) -> None:
    """Issue 16 asks for NOTIFY on Postgres: with heartbeats 30 s apart (so no poll can
    explain it), another console's open, draft, move and close show here within a
    second, and this console's own moves reach a listening console as fast."""
    await seed_threads(pg_url, GRAPHS, THREADS)
    store = await open_ui_store(pg_url, GRAPHS)
    other = await open_ui_store(pg_url, GRAPHS)  # alice's console: its own sessions
    try:
        await install_presence(store)  # setup: the table and its NOTIFY triggers
        alice = PresenceBoard(ledger_db(other), current_origin("alice"), lease_seconds=90)
        heard = await open_listener(other, PRESENCE_CHANNEL)
        assert heard is not None
        app = build_app(store, Settings(reviewer="tester", mouse=False),
                        presence_interval=30.0)
        async with app.run_test(size=(160, 40)) as pilot:
            await settle(pilot)
            screen = main_screen(app)
            await until(pilot, lambda: screen.presence_beats >= 1, what="the first beat")
            assert screen.table.select_thread("p-0")
            await until(pilot, lambda: screen.detail.thread_id == "p-0", what="the detail")
            beats = screen.presence_beats

            async def shows(predicate: Any, what: str) -> float:
                started = time.monotonic()
                await until(pilot, predicate, timeout=5, what=what)
                return time.monotonic() - started

            await alice.beat("p-0", None, False)  # alice opens the thread we read
            took = await shows(lambda: "alice is reading this (" in screen_text(app),
                               "alice's open")
            assert took < 1.0, f"alice's open showed after {took:.2f} s"
            await alice.beat("p-0", None, True)  # she starts a draft
            took = await shows(lambda: "alice is reading this (draft open" in screen_text(app),
                               "alice's draft")
            assert took < 1.0, f"alice's draft showed after {took:.2f} s"
            await alice.beat("p-2", None, False)  # she moves on
            took = await shows(lambda: "alice is reading" not in screen_text(app)
                               and screen.others_reading("p-2") != [], "alice's move")
            assert took < 1.0, f"alice's move showed after {took:.2f} s"
            await alice.beat(None, None, False)  # she closes it
            took = await shows(lambda: screen.readers == {}, "alice's close")
            assert took < 1.0, f"alice's close showed after {took:.2f} s"
            assert screen.presence_beats - beats <= 1  # notifications, not heartbeats

            # and the other way: this console moves to p-1; alice hears it at once
            while await heard.wait(0.05):
                pass  # what came before
            assert screen.table.select_thread("p-1")
            started = time.monotonic()
            assert await heard.wait(5.0), "no notification for this console's move"
            seen = await alice.others()
            took = time.monotonic() - started
            assert [(r.reviewer, r.thread_id) for r in seen] == [("tester", "p-1")]
            assert took < 1.0, f"this console's move reached alice after {took:.2f} s"
        await heard.close()
    finally:
        await other.close()
        await store.close()
