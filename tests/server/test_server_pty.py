"""The real program on a real `langgraph dev`, in a pty (tmux, 80x24), as a reviewer over
ssh starts it: `hitl-console tui --db http://...` with every default (live refresh,
presence), with and without `--ledger-db`. The Pilot tests build the app with presence
off; this one caught the console crashing at its first frame on a server, where presence
looked for a ledger table in the checkpoint database the server does not have."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import ServerFixture, run_until_paused
from tests.ui.test_ui_pty import CONSOLE, Terminal, running_in_tmux

pytestmark = pytest.mark.slow


@contextmanager
def console_in_tmux(tmp_path: Path, *args: str) -> Iterator[Terminal]:
    """`hitl-console tui ARGS` in tmux at 80x24 (TERM=xterm NO_COLOR=1); its last words
    (a crash sentence, if any) stay on screen: the pane is kept after it exits."""
    config = tmp_path / "config.toml"  # empty: the developer's config stays out
    config.write_text("")
    command = (f"cd {tmp_path} && env -u NO_COLOR -u COLORTERM -u LANGGRAPH_API_KEY "
               f"TERM=xterm NO_COLOR=1 HITL_REVIEWER=pty-tester HITL_CONFIG={config} "
               f"{CONSOLE} tui --no-mouse {' '.join(args)}; echo EXITED $?; sleep 60")
    with running_in_tmux(command, "hitl-server-pty") as term:
        yield term


def _approve_from_the_keyboard(term: Terminal, thread_id: str) -> None:
    term.wait_for(r"\d+ pending \|", timeout=60)
    term.text(f"/{thread_id[-12:]}")  # the filter finds it by its id
    term.wait_for(rf"/{thread_id[-12:]}")
    term.keys("Enter")
    term.wait_for(r"1 of \d+")
    term.keys("Enter")  # at 80x24 the detail opens full height
    term.wait_for(r"graph raw \| node gate")
    term.keys("a")
    screen = term.wait_for(r"Approve this thread\?")
    assert "Command(" in screen
    term.keys("y")
    term.wait_for(r"last: approve applied")


def _quit(term: Terminal) -> str:
    term.keys("Escape")  # the detail, then the filter
    term.wait_for(r"SUMMARY")
    term.keys("Escape")
    # the filter gone before the next key: right after ESC, `q` would be read as alt+q
    term.wait_gone(r"/[0-9a-f]{12}")
    term.keys("q")
    screen = term.wait_for(r"EXITED \d+")
    assert "EXITED 0" in screen, screen
    assert "unexpected error" not in screen
    return screen


async def test_the_real_program_lists_and_decides_on_a_server(
    langgraph_server: ServerFixture, server_client: Any, tmp_path: Path,
) -> None:
    url = langgraph_server.url
    plain, with_ledger = [await run_until_paused(server_client, "raw") for _ in range(2)]

    with console_in_tmux(tmp_path, "--db", url) as term:
        _approve_from_the_keyboard(term, plain)
        _quit(term)
    assert [e["node"] for e in langgraph_server.effects_of(plain)] == ["act"]

    ledger = tmp_path / "ledger.sqlite"
    with console_in_tmux(tmp_path, "--db", url, "--ledger-db", f"sqlite:///{ledger}") as term:
        _approve_from_the_keyboard(term, with_ledger)
        _quit(term)
    assert [e["node"] for e in langgraph_server.effects_of(with_ledger)] == ["act"]
    audit = subprocess.run([str(CONSOLE), "audit", "--db", url, "--ledger-db",
                            f"sqlite:///{ledger}", "--json"], capture_output=True, text=True,
                           cwd=tmp_path,
                           env={**os.environ, "HITL_CONFIG": str(tmp_path / "config.toml")})
    assert audit.returncode == 0, audit.stderr
    assert with_ledger in audit.stdout and '"applied"' in audit.stdout
