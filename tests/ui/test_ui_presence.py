"""Presence in the TUI (issue 16): the queue flags a thread another reviewer has open
(`@`), the detail header says who and whether they hold a draft, and this console's own
open thread is what the others see. Advice only: the ledger still decides."""

from __future__ import annotations

import asyncio

from ui_support import build_app, main_screen, screen_text, seed_threads, settle, until

from console.core.ledger.apply import current_origin
from console.core.presence import PresenceBoard, install_presence
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
        alice = PresenceBoard(store, current_origin("alice"))
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
