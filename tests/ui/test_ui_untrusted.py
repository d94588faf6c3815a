"""Rows planted by an attacker, opened in the console: nothing they name is ever run.

The threads are real `raw` pauses; then one thread's interrupt write and another's
stored state are replaced with msgpack Exts naming `os.system`, `subprocess.run`,
`builtins.eval`, an `importlib.import_module` chain and pydantic models (the planting
and the proof that LangGraph's own decoder does run them are in
tests/integration/test_untrusted_serde.py). The reviewer moves over every row, opens
each planted thread and looks at every tab of its detail: the marker files those
payloads would create never appear, and the app keeps running.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ui_support import build_app, main_screen, open_ui_store, screen_text, settle, until

from console.settings import Settings
from tests import graphs
from tests.integration.test_untrusted_serde import hostile, plant, plugin_dir, seed

GRAPHS = {"raw": graphs.ALL["raw"]}
THREADS = {"plain": "raw", "evil-write": "raw", "evil-state": "raw"}
TABS = ("1", "2", "3", "4")  # payload, diff, state, history


async def test_planted_rows_run_nothing_in_the_console(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    # The modules the rows name are importable here, so an import would create a marker.
    monkeypatch.syspath_prepend(str(plugin_dir(tmp_path, markers)))
    await seed(db_url, THREADS)
    plant(db_url, hostile(markers), in_write="evil-write", in_state="evil-state")
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
