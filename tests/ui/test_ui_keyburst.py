"""Backspace and a character that arrive in one write (typing over ssh) both count.

Textual's Input types a character at once but runs backspace only after the key has
bubbled to the app, so `BSpace X` in one write typed `X` and then deleted it. Here the
real program runs in tmux and each burst is one `send-keys` call (one write to the pty),
in the filter, a reason box and the edit form (an Input and a TextArea).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_ui_pty import Terminal, terminal  # noqa: F401  (the fixture, shared)

pytestmark = pytest.mark.slow


def _burst(term: Terminal, *keys: str) -> None:
    """All keys in one tmux command: one write to the pty."""
    term.tmux("send-keys", "-t", term.session, *keys)


def test_backspace_and_a_character_in_one_write_both_count(
    terminal: tuple[Terminal, Path],  # noqa: F811
) -> None:
    term, _ = terminal
    term.wait_for(r"\d+ pending \|", timeout=120)

    term.text("/tutorix")  # the filter
    term.wait_for(r"/tutorix ")
    _burst(term, "BSpace", "a", "l")
    term.wait_for(r"/tutorial ")
    term.keys("Enter")
    term.wait_for(r"\d+ of \d+ shown")

    term.keys("r")  # the reason box of a reject
    term.wait_for(r"Reason \(required")
    term.text("abcd")
    term.wait_for(r"abcd")
    _burst(term, "BSpace", "X")
    term.wait_for(r"abcX")
    term.keys("Escape")
    term.wait_for(r"\d+ of \d+ shown")
    term.keys("Escape")  # clear the filter
    term.wait_for(r"\d+ pending \|")

    term.text("/schema")
    term.wait_for(r"/schema ")
    term.keys("Enter")
    term.wait_for(r"\d+ of \d+ shown")
    term.keys("e")  # the edit form of a schema pause: amount is focused
    term.wait_for(r"amount: number")
    term.text("999")
    term.wait_for(r"│999")
    _burst(term, "BSpace", "BSpace", "BSpace", "2", "5", "0", "Tab")  # the keys
    term.wait_for(r"│250 ")
    term.keys("Tab", "Tab")  # note, then the state update (a TextArea)
    term.text('{"abcd')
    term.wait_for(r'\{"abcd')
    _burst(term, "BSpace", "X")
    term.wait_for(r'\{"abcX')


def test_a_filter_and_the_keys_after_it_in_one_write_act_on_the_queue(
    terminal: tuple[Terminal, Path],  # noqa: F811
) -> None:
    """`/graph:tutorial` enter `j` enter, typed faster than the screen follows: enter
    keeps the filter and gives the focus back at once, and what comes after it acts on
    the queue: `j` moves to the second match (it is not typed into the filter) and enter
    opens it. (The focus used to move a message later, and the filter ran the keys that
    reached it meanwhile: the second enter submitted the filter again and was lost.)"""
    term, _ = terminal
    term.wait_for(r"\d+ pending \|", timeout=120)
    # The filter's text first: a burst that also types it can open the detail while the
    # queue is still narrowing, a race of its own (the session 9 note says more).
    term.text("/graph:tutorial")
    term.wait_for(r"\d+ of \d+ shown")
    _burst(term, "Enter", "j", "Enter")
    screen = term.wait_for(r"graph tutorial \| node approval")
    assert "SUMMARY" not in screen  # the detail alone: the thread is open
    assert "/graph:tutorial " in screen and "tutorialj" not in screen
    opened = re.search(r"(tutorial-\d+) \| paused", screen)
    assert opened is not None
    term.keys("Escape")  # back to the queue: the thread opened is the second match
    queue = term.wait_for(r"SUMMARY")
    assert re.findall(r"tutorial-\d+", queue)[1] == opened.group(1)
    _burst(term, "Escape")  # the filter cleared
    term.wait_for(r"\d+ pending \|")
