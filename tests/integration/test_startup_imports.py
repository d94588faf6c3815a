"""Listing and reviewing load neither LangGraph nor LangChain nor pydantic (issue 17),
nor, on SQLite, the Postgres driver; the TUI's first frame loads none of the screens,
dialogs and renderers it does not show, and on Postgres not even the driver (a forked
child read its first page: `console.first_page`).

Importing them is ~0.4 s, most of a console start (the UI modules ~50 ms more). Each
check runs in a fresh interpreter (this test process has them all loaded) on a real demo
SQLite file, and prints the heavy modules that interpreter holds at the moment that
matters: after `pending`, after `show`, and at the TUI's first frame with queue rows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("langgraph", "langchain_core", "pydantic", "psycopg")
# Not shown by the first frame (the queue): imported on first use, or by the warm-up
# after the first frame. Named here, not read from `console.ui.deferred`, so that pulling
# one back onto the first frame (a top-level import in a screen) fails this test.
OFF_FIRST_FRAME = (
    "console.ui.modals.bulk",
    "console.ui.modals.confirm",
    "console.ui.modals.conflict",
    "console.ui.modals.edit_form",
    "console.ui.modals.error",
    "console.ui.modals.help",
    "console.ui.modals.items",
    "console.ui.modals.prompt",
    "console.ui.schema_form",
    "console.ui.widgets.text_area",
    "console.ui.bundle_text",
    "console.ui.diff_text",
    "console.ui.timeline_text",
    "console.ui.conflict_text",
    "console.ui.plan_text",
    "console.ui.pretty",
    "console.ui.json_text",
    "console.core.ledger.bulk",
    "console.core.reveal",
    "deepdiff",
    "jsonschema",
    "textual.widgets._text_area",
)
# What a decision needs: built on first use (`ConsoleApp.get_decider`), after the first
# frame, when the main screen starts its database work (presence, the decision flags).
DECISION_PATH = (
    "console.core.ledger.apply",
    "console.core.ledger.decisions",
    "console.core.nested",
)
ROOT = Path(__file__).resolve().parents[2]

_CLI = """
import json, sys
from console.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "heavy": [m for m in HEAVY if m in sys.modules]}),
      file=sys.stderr)
""".replace("HEAVY", repr(HEAVY))

# The TUI as the CLI builds it, headless at 80x24; the heavy modules are read in the
# same event loop turn that first finds queue rows on screen. The warm-up (LangGraph
# imported in a thread after the first frame) is pushed later so a slow machine cannot
# race it; it must then load LangGraph ahead of the first decision.
_TUI = """
import asyncio, json, sys
import console.ui.screens.live as live
from console.ui.deferred import DEFERRED_MODULES as DEFERRED
live.WARM_UP_DELAY = 2.0
from console.session import store_session
from console.settings import load_settings
from console.ui.app import make_app
from console.ui.screens.main import MainScreen

at_first_frame = {}
start_database_work = MainScreen._start_database_work

def recorded(screen):
    at_first_frame["decision"] = [m for m in DECISION_PATH if m in sys.modules]
    start_database_work(screen)

MainScreen._start_database_work = recorded

async def main():
    settings = load_settings(db=sys.argv[1], reviewer="t")
    async with store_session(settings) as store:
        app = make_app(store, settings, poll_interval=0)
        async with app.run_test(size=(80, 24)) as pilot:
            while not app.screen.table.row_count:
                await asyncio.sleep(0.005)
            first = [m for m in HEAVY if m in sys.modules]
            ui = [m for m in OFF_FIRST_FRAME if m in sys.modules]
            rows = app.screen.table.row_count
            for _ in range(800):
                if "langgraph.types" in sys.modules and not [
                        w for w in app.screen.workers if w.group == live.WARM_UP_GROUP
                        and not w.is_finished]:
                    break
                await pilot.pause(0.01)
            warmed = "langgraph.types" in sys.modules
            cold = [m for m in DEFERRED if m not in sys.modules]
            app.exit()
    print(json.dumps({"heavy": first, "ui": ui, "rows": rows, "warmed": warmed,
                      "cold": cold, **at_first_frame}), file=sys.stderr)

asyncio.run(main())
""".replace("HEAVY", repr(HEAVY)).replace("OFF_FIRST_FRAME", repr(OFF_FIRST_FRAME)).replace(
    "DECISION_PATH", repr(DECISION_PATH))


# `hitl-console tui` on Postgres, as `cli.main` and `commands.run_tui` run it (the child
# forked before any event loop, the app on a `LateStore`), headless: at the first frame
# with rows not even the Postgres driver is imported; the store opens after it.
_TUI_POSTGRES = """
import asyncio, json, sys
import console.ui.screens.live as live
live.WARM_UP_DELAY = 2.0
from console.first_page import start_reading
from console.settings import load_settings

settings = load_settings(db=sys.argv[1], reviewer="t")
reader = start_reading(settings)

async def headless(store, settings, first_page):
    from console.ui.app import make_app

    app = make_app(store, settings, first_page=first_page)
    async with app.run_test(size=(80, 24)) as pilot:
        while not app.screen.table.row_count:
            await asyncio.sleep(0.005)
        first = [m for m in HEAVY if m in sys.modules]
        open_at_first = store.is_open
        for _ in range(1000):
            if app.screen.loads:
                break
            await pilot.pause(0.01)
        result = {"heavy": first, "open_at_first": open_at_first, "page": len(first_page),
                  "loads": app.screen.loads, "open": store.is_open,
                  "rows": app.screen.table.row_count}
        app.exit()
    print(json.dumps(result), file=sys.stderr)
    return 0

async def main():
    from console.commands import _run_late

    page = reader.take()
    assert page is not None, "the child read no page"
    await _run_late(settings, page, headless)

asyncio.run(main())
""".replace("HEAVY", repr(HEAVY))


def _run(code: str, *args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120, check=False)
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    assert last.startswith("{"), done.stderr[-2000:]
    result: dict[str, object] = json.loads(last)
    return result


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("startup") / "demo.sqlite"
    subprocess.run([sys.executable, "-m", "console", "demo", "--no-tui", "--threads", "8",
                    "--db", str(path)], cwd=ROOT, check=True, capture_output=True,
                   timeout=120)
    return str(path)


def test_pending_loads_no_langgraph(demo_file: str) -> None:
    result = _run(_CLI, "pending", "--db", demo_file)
    assert result == {"code": 0, "heavy": []}


def test_show_loads_no_langgraph(demo_file: str) -> None:
    listed = subprocess.run([sys.executable, "-m", "console", "pending", "--json",
                             "--db", demo_file], cwd=ROOT, capture_output=True, text=True,
                            check=True, timeout=60)
    threads = [row["thread_id"] for row in json.loads(listed.stdout)]
    # a message history, an interrupt with a payload: what decoding for display covers
    thread = next(t for t in threads if t.startswith("hitl_agent"))
    assert _run(_CLI, "show", thread, "--db", demo_file) == {"code": 0, "heavy": []}
    assert _run(_CLI, "show", thread, "--json", "--db", demo_file) == {"code": 0,
                                                                      "heavy": []}


def test_tui_first_frame_loads_no_langgraph(demo_file: str) -> None:
    result = _run(_TUI, demo_file)
    assert result["rows"], result
    assert result["heavy"] == [], result
    assert result["warmed"] is True, result  # loaded after it, for the first decision


def test_tui_first_frame_loads_only_what_it_shows(demo_file: str) -> None:
    """Dialogs, the edit form, the detail pane's renderers (pretty printers, the diff),
    help and bulk screens are not imported at the first frame, and the warm-up after it
    imports them (and whatever the console defers) before the first key needs them."""
    result = _run(_TUI, demo_file)
    assert result["rows"], result
    assert result["ui"] == [], result
    assert result["cold"] == [], result
    # nor the decision path: the app's Decider is built after the first frame
    assert result["decision"] == [], result


def test_tui_first_frame_on_postgres_loads_not_even_the_driver(pg_url: str) -> None:
    subprocess.run([sys.executable, "-m", "console", "demo", "--no-tui", "--threads", "8",
                    "--db", pg_url], cwd=ROOT, check=True, capture_output=True, timeout=120)
    result = _run(_TUI_POSTGRES, pg_url)
    assert result["page"] and result["heavy"] == [], result
    assert result["open_at_first"] is False, result
    assert result["loads"] and result["open"] and result["rows"] == result["page"], result
