"""Rows planted by an attacker, opened in the console: nothing they name is ever run.

The threads are real `raw` pauses; then one thread's interrupt write and another's
stored state are replaced with msgpack Exts naming `os.system`, `subprocess.run`,
`builtins.eval`, an `importlib.import_module` chain and pydantic models (the planting
and the proof that LangGraph's own decoder does run them are in
tests/integration/test_untrusted_serde.py). The reviewer moves over every row, opens
each planted thread and looks at every tab of its detail: the marker files those
payloads would create never appear, and the app keeps running. Once through Pilot (SQLite
and Postgres) and once as the installed `hitl-console tui` in a real pty (tmux, 80x24).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_ui_pty import CONSOLE, Terminal, running_in_tmux
from ui_support import build_app, main_screen, open_ui_store, screen_text, settle, until

from console.settings import Settings
from tests import graphs
from tests.integration.test_untrusted_serde import (
    PLANTED_THREADS,
    ROOT,
    hostile,
    plant,
    plugin_dir,
    seed,
    seed_planted,
)

GRAPHS = {"raw": graphs.ALL["raw"]}
THREADS = PLANTED_THREADS
TABS = ("1", "2", "3", "4")  # payload, diff, state, history


async def test_planted_rows_run_nothing_in_the_console(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    markers = await seed_planted(db_url, tmp_path, monkeypatch)
    store = await open_ui_store(db_url, GRAPHS)  # the graph loaded: state read through it
    app = build_app(store, Settings(reviewer="tester", mouse=False))
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            await settle(pilot)
            screen = main_screen(app)
            assert {t.thread_id for t in screen.table.rows} == set(THREADS)
            await pilot.press("g", "j", "j", "k", "k")  # over every row
            await settle(pilot)
            for thread in screen.table.rows:
                assert screen.table.select_thread(thread.thread_id)
                await settle(pilot)
                await pilot.press("enter")
                await until(pilot, lambda t=thread: screen.detail.thread_id == t.thread_id
                            and screen.detail.checkpoint_id == t.checkpoint_id,
                            what=f"the detail of {thread.thread_id}")
                for tab in TABS:
                    await pilot.press(tab)
                    await settle(pilot)
                    assert "Traceback" not in screen.detail.plain
                if thread.thread_id == "evil-write":
                    # shown as data with its type name, never rebuilt
                    await pilot.press("1")
                    await settle(pilot)
                    assert "os.system" in screen.detail.plain, screen.detail.plain
                await pilot.press("escape")
                await settle(pilot)
                assert sorted(p.name for p in markers.iterdir()) == [], thread.thread_id
            assert app.is_running and len(app.screen_stack) == 1
            assert "Traceback" not in screen_text(app)
        assert app.return_code in (None, 0)
    finally:
        await store.close()
    assert sorted(p.name for p in markers.iterdir()) == []



@pytest.fixture
async def planted_queue(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A SQLite file holding the planted rows, its marker directory, the attacker's
    modules."""
    markers = tmp_path / "markers"
    markers.mkdir()
    plugins = plugin_dir(tmp_path, markers)
    db = tmp_path / "planted.sqlite"
    await seed(f"sqlite:///{db}", THREADS)
    plant(f"sqlite:///{db}", hostile(markers), in_write="evil-write", in_state="evil-state")
    return db, markers, plugins


@pytest.fixture
def pty_console(planted_queue: tuple[Path, Path, Path], tmp_path: Path) -> Iterator[Terminal]:
    """`hitl-console tui` on the planted file in tmux (a private socket) at 80x24, the
    attacker's modules importable, the developer's config and colours kept out."""
    db, _, plugins = planted_queue
    config = tmp_path / "config.toml"
    config.write_text("")
    command = (f"cd {tmp_path} && env -u COLORTERM TERM=xterm NO_COLOR=1 "
               f"HITL_REVIEWER=pty-tester HITL_CONFIG={config} "
               f"PYTHONPATH={ROOT}{os.pathsep}{plugins} "
               f"{CONSOLE} tui --db {db} --graph raw=tests.graphs:raw --no-mouse")
    with running_in_tmux(command, "hitl-ui-untrusted") as term:
        yield term


@pytest.mark.slow
def test_planted_rows_run_nothing_in_a_real_terminal(
    planted_queue: tuple[Path, Path, Path], pty_console: Terminal,
) -> None:
    markers = planted_queue[1]
    term = pty_console
    term.wait_for(r"3 pending \|", timeout=120)
    seen = []
    for thread_id in ("evil-write", "evil-state"):
        term.text(f"/{thread_id}")
        term.wait_for(f"/{thread_id} ")
        term.keys("Enter")
        term.wait_for(r"1 of 3")
        term.keys("Enter")  # the detail, full height
        seen.append(term.wait_for(r"graph raw \| node "))
        for tab in TABS:
            term.keys(tab)
            time.sleep(0.3)
            seen.append(term.screen())
        term.keys("Escape")  # back to the queue
        term.wait_for(r"SUMMARY")
        term.keys("Escape")  # clear the filter
        term.wait_for(r"3 pending \|")
    term.keys("q")
    deadline = time.monotonic() + 30
    while term.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not term.alive(), "q did not quit"
    assert sorted(p.name for p in markers.iterdir()) == []
    shown = "\n".join(seen)
    assert "os.system" in shown, shown  # the planted value was on screen, as data
    assert "Traceback" not in shown and "unexpected error" not in shown, shown
