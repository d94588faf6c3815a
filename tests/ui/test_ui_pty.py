"""End to end in a real terminal: the installed `hitl-console` inside tmux (a pty) at
80x24, TERM=xterm, NO_COLOR=1. Keys are typed and the screen is read back as text, the
way a reviewer over ssh would; the ledger is then checked with `hitl-console audit`.
At 80x24 the panes take turns: the queue fills the screen, `enter` opens the detail.
A second run keeps colour on with TERM=xterm (a 16-colour terminal) and reads the cells'
colours back.

tmux runs on a private socket (`-L`), so no one else's sessions are touched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CONSOLE = Path(sys.executable).with_name("hitl-console")
WIDTH, HEIGHT = 80, 24


class Terminal:
    """One tmux session running one command; keys in, screen text out."""

    def __init__(self, socket: str, session: str) -> None:
        self.socket = socket
        self.session = session

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True,
                              capture_output=True, text=True).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session)

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", self.session, key)
            time.sleep(0.05)  # one key at a time, as typed (esc must not merge with a key)

    def text(self, text: str) -> None:
        self.tmux("send-keys", "-t", self.session, "-l", text)

    def wait_for(self, pattern: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if re.search(pattern, screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} never appeared; the screen was:\n{screen}")

    def wait_gone(self, pattern: str, timeout: float = 60.0) -> str:
        """Until `pattern` is no longer on screen (a dialog closed)."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if not re.search(pattern, screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} never went away; the screen was:\n{screen}")

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", self.session],
                              capture_output=True).returncode == 0


@contextmanager
def running_in_tmux(command: str, name: str) -> Iterator[Terminal]:
    """`command` (a shell line) in a tmux session at 80x24 on a private socket named
    after `name`; the session and its tmux server are gone afterwards."""
    if shutil.which("tmux") is None:  # what these tests prove must not be skipped
        pytest.fail("tmux is needed to drive the console in a real pty: install it "
                    "(Debian: apt-get install tmux).", pytrace=False)
    socket = f"{name}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    term = Terminal(socket, "console")
    term.tmux("-f", "/dev/null", "new-session", "-d", "-s", term.session,
              "-x", str(WIDTH), "-y", str(HEIGHT), command)
    try:
        yield term
    finally:
        if term.alive():
            term.tmux("kill-session", "-t", term.session)
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)


@pytest.fixture
def terminal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Terminal, Path]]:
    """The demo console in tmux; the environment is `TERM=xterm NO_COLOR=1` unless the
    test passes another one (indirect parametrization)."""
    environment = getattr(request, "param", "TERM=xterm NO_COLOR=1")
    db = tmp_path / "demo.sqlite"
    config = tmp_path / "config.toml"  # empty: the developer's config stays out
    config.write_text("")
    command = (f"cd {tmp_path} && env -u NO_COLOR -u COLORTERM {environment} "
               "HITL_REVIEWER=pty-tester "
               f"HITL_CONFIG={config} "
               f"{CONSOLE} demo --db {db} --threads 26 --no-mouse")  # 2 a demo graph
    with running_in_tmux(command, "hitl-ui-test") as term:
        yield term, db


def test_approve_one_and_bulk_reject_three_from_the_keyboard(
    terminal: tuple[Terminal, Path],
) -> None:
    term, db = terminal
    screen = term.wait_for(r"\d+ pending \|", timeout=120)
    count = re.search(r"(\d+) pending \|", screen)
    assert count is not None
    pending = int(count.group(1))
    screen = term.wait_for(r"(?m)^a Approve r Reject m Respond e Edit")
    assert len(screen.splitlines()) == HEIGHT

    # Approve the oldest tutorial thread: filter to it, `a`, read the Command, `y`.
    # One burst, as keys arrive over a slow link: nothing typed after `/` may be lost
    # (nor run as a queue key: `a`, `r` are in there).
    term.text("/graph:tutorial")
    term.wait_for(r"/graph:tutorial ")
    term.keys("Enter")
    screen = term.wait_for(r"2 of \d+")
    assert "graph tutorial | node approval" not in screen  # the queue alone, full height
    # A decision names the pause the reviewer read: open it, wait for its detail.
    term.keys("Enter")
    screen = term.wait_for(r"graph tutorial \| node approval")
    assert "SUMMARY" not in screen  # the detail alone, full height
    term.keys("a")
    screen = term.wait_for(r"Approve this thread\?")
    assert "Command(" in screen and '"approved"' in screen
    approved = re.search(r"approve (tutorial-\d+) @", screen)
    assert approved is not None
    term.keys("y")
    term.wait_for(r"last: approve applied")

    # Bulk reject the three oldest threads of the whole queue.
    term.keys("Escape")  # back to the queue
    term.wait_for(r"SUMMARY")
    term.keys("Escape")  # clear the filter
    term.wait_for(r"\d+ pending \|")
    term.keys("g", "Space", "Space", "Space")
    term.wait_for(r"3 marked")
    marked = [line for line in term.screen().splitlines() if line.startswith("*")]
    assert len(marked) == 3
    term.keys("R")
    term.wait_for(r"3 marked threads will be rejected")
    time.sleep(0.5)  # the dialog's input takes focus once it is mounted
    term.text("cleanup after the incident")
    term.wait_for(r"cleanup after the incident")
    term.keys("Enter")
    term.wait_for(r"Reject 3 threads with reason")
    term.keys("y")
    screen = term.wait_for(r"done   esc/enter: close")
    assert "rejected 3" in screen and "Rejected (3)" in screen
    term.keys("Escape")
    # the status line shows the outcome under the dialog too: wait for the dialog to go,
    # or the next key arrives right after ESC and the terminal reads the pair as alt+q
    term.wait_gone(r"done   esc/enter: close")
    term.wait_for(rf"{pending - 4} pending \|.*last: bulk reject: 3 of 3")  # 1 approved, 3
    term.keys("q")
    deadline = time.monotonic() + 30
    while term.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not term.alive(), "q did not quit:\n" + term.screen()

    audit = subprocess.run([str(CONSOLE), "audit", "--json", "--db", str(db)],
                           capture_output=True, text=True, check=True,
                           env={**os.environ, "HITL_CONFIG": str(db.with_name("config.toml"))})
    rows = [json.loads(line) for line in audit.stdout.splitlines() if line.strip()]
    done = [(r["decision"], r["status"]) for r in rows]
    assert sorted(done) == [("approve", "applied")] + [("reject", "applied")] * 3
    assert all(r["reviewer"] == "pty-tester" for r in rows)
    assert {r["reason"] for r in rows if r["decision"] == "reject"} == {
        "cleanup after the incident"}
    assert approved.group(1) in {r["thread_id"] for r in rows if r["decision"] == "approve"}


SGR = re.compile(r"\x1b\[([0-9;]*)m")
BACKGROUNDS = {*range(40, 48), *range(100, 108)}


def _row_background(line: str, current: int | None) -> tuple[int | None, int | None]:
    """The background most of a screen line's characters have (a 16-colour SGR code, None
    for the default), and the one in force at its end (capture-pane carries attributes
    over from line to line)."""
    counts: dict[int | None, int] = {}
    for index, part in enumerate(SGR.split(line)):
        if index % 2:  # the parameters of an SGR sequence
            for code in (int(p) for p in part.split(";") if p):
                if code in BACKGROUNDS:
                    current = code
                elif code in (0, 49):
                    current = None
        else:
            counts[current] = counts.get(current, 0) + len(part)
    return max(counts, key=lambda bg: counts[bg]), current


@pytest.mark.parametrize("terminal", ["TERM=xterm"], indirect=True)
def test_a_16_colour_terminal_gets_16_colours_and_a_visible_cursor(
    terminal: tuple[Terminal, Path],
) -> None:
    """TERM=xterm means 16 colours: the console must not send 256-colour or true-colour
    codes (the terminal would show them wrong or not at all), and the cursor row must
    still stand out from the rows around it."""
    term, _ = terminal
    term.wait_for(r"\d+ pending \|", timeout=120)
    term.wait_for(r"(?m)^a Approve r Reject")
    for moves in (0, 1):
        if moves:
            term.keys("j")
            time.sleep(0.5)
        raw = term.tmux("capture-pane", "-p", "-e", "-t", term.session)
        for params in SGR.findall(raw):
            assert not re.search(r"(^|;)[34]8;[25](;|$)", params), params
        lines = raw.splitlines()
        backgrounds: list[int | None] = []
        current = None
        for line in lines[:6]:  # the header, then the first queue rows
            background, current = _row_background(line, current)
            backgrounds.append(background)
        rows = backgrounds[1:]
        cursor = rows[moves]
        assert cursor is not None and cursor not in rows[:moves] + rows[moves + 1:], (
            moves, backgrounds)
    # Late pauses are flagged in text too, for terminals that show no colour at all.
    assert "!" in term.screen().splitlines()[1]
    term.keys("q")


def test_postgres_tui_takes_keys_and_decides_while_its_store_opens(
        pg_url: str, tmp_path: Path) -> None:
    """`hitl-console tui` on Postgres, the way a reviewer starts it: the first page comes
    from a forked child and the store opens after the first frame (issue 17). Keys typed
    as soon as the rows show are not lost, and the approve lands once, in the ledger."""
    config = tmp_path / "config.toml"
    config.write_text("")
    env = {**os.environ, "HITL_CONFIG": str(config)}
    subprocess.run([str(CONSOLE), "demo", "--no-tui", "--threads", "12", "--db", pg_url],
                   check=True, capture_output=True, timeout=120, env=env)
    command = (f"env TERM=xterm NO_COLOR=1 HITL_REVIEWER=pty-pg HITL_CONFIG={config} "
               f"{CONSOLE} tui --no-mouse --db '{pg_url}' "
               "--graph tutorial=console.demo.graphs:build_tutorial")
    with running_in_tmux(command, "hitl-ui-pg") as term:
        term.wait_for(r"tutorial-\d+", timeout=60)
        # at once, as a reviewer who knows the queue types: filter, open, approve
        term.text("/graph:tutorial")
        term.keys("Enter", "Enter")
        screen = term.wait_for(r"graph tutorial \| node approval")
        term.keys("a")
        screen = term.wait_for(r"Approve this thread\?")
        approved = re.search(r"approve (tutorial-\d+) @", screen)
        assert approved is not None
        term.keys("y")
        term.wait_for(r"last: approve applied")
        term.keys("Escape")
        term.wait_for(r"SUMMARY")
        term.keys("q")
        deadline = time.monotonic() + 30
        while term.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not term.alive(), "q did not quit:\n" + term.screen()
    audit = subprocess.run([str(CONSOLE), "audit", "--json", "--db", pg_url],
                           capture_output=True, text=True, check=True, env=env)
    rows = [json.loads(line) for line in audit.stdout.splitlines() if line.strip()]
    assert [(r["decision"], r["status"], r["thread_id"], r["reviewer"]) for r in rows] == [
        ("approve", "applied", approved.group(1), "pty-pg")]
