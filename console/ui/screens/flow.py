"""Triage at speed: next / previous / skip from the detail, and after a decision the next
undecided thread opens (issue 16, point 3).

At 80x24 the panes take turns, so leaving a thread undecided used to cost esc, j, enter.
Here `n` and `p` open the neighbouring thread and `s` skips to the next undecided one,
each one key, wherever the focus is; after a decision the cursor goes on to the next
thread nobody in this console has decided yet, and its detail opens.

"Undecided" is what this console knows: a pause with no decision of its own in flight or
queued (`_open_decisions`) and no approval of this reviewer waiting for more approvers;
a skipped thread is passed over by `s` and by the move after a decision until every
other thread has been seen, then offered again (skipping is postponing, not deciding).
"""

from __future__ import annotations

from typing import Any

from textual.binding import Binding, BindingType

from console.core.models import PendingThread
from console.ui.screens.deciding import DecidingMixin

# In `?` help and the palette, not the footer: at 80 columns it is full with the
# decision keys (a, r, m, e, space, R, /, ?), and a cut footer hides them all.
FLOW_BINDINGS: list[BindingType] = [
    Binding("s", "skip_thread", "Skip: leave it undecided, open the next undecided thread",
            show=False, id="main.skip"),
    Binding("n", "next_thread", "Next thread (open it)", show=False, id="main.next_thread"),
    Binding("p", "previous_thread", "Previous thread (open it)", show=False,
            id="main.previous_thread"),
]
FLOW_ACTIONS = {"skip_thread", "next_thread", "previous_thread"}


class FlowMixin(DecidingMixin):
    """Moving from thread to thread without leaving the detail."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._skipped: set[str] = set()  # thread ids skipped in this session

    # --- what is undecided ------------------------------------------------------------

    def undecided(self, thread: PendingThread) -> bool:
        """No decision of this console on the pause, and no approval of this reviewer
        on it waiting for more approvers."""
        if (thread.thread_id, thread.checkpoint_id) in self._open_decisions:
            return False
        return (thread.thread_id, thread.checkpoint_id,
                thread.interrupt_ids) not in self._own_approvals

    def next_undecided(self, start: int, *, exclude: str | None = None) -> int | None:
        """The row index of the first undecided thread from `start` on, wrapping round;
        skipped threads only if nothing else is left. None if there is none at all."""
        rows = self.table.rows
        count = len(rows)
        order = [(start + step) % count for step in range(count)] if count else []
        fallback = None
        for index in order:
            thread = rows[index]
            if thread.thread_id == exclude or not self.undecided(thread):
                continue
            if thread.thread_id not in self._skipped:
                return index
            if fallback is None:
                fallback = index
        return fallback

    # --- the keys ---------------------------------------------------------------------

    def flow_allowed(self) -> bool:
        """Moving is off while a decision is being prepared or applied: a key typed
        ahead of its dialog must not take the reviewer to another thread."""
        return not self.busy and self._attempt is None and bool(self.table.row_count)

    def action_next_thread(self) -> None:
        self._open_row(self.table.cursor_row + 1)

    def action_previous_thread(self) -> None:
        self._open_row(self.table.cursor_row - 1)

    def action_skip_thread(self) -> None:
        thread = self.table.selected
        if thread is None or not self.flow_allowed():
            return
        self._skipped.add(thread.thread_id)
        index = self.next_undecided(self.table.cursor_row + 1, exclude=thread.thread_id)
        if index is None:
            self.notify("No other undecided thread is shown.", markup=False)
            return
        self._open_row(index)

    def _open_row(self, index: int) -> None:
        if not self.flow_allowed():
            return
        if not 0 <= index < self.table.row_count:
            where = "last" if index > 0 else "first"
            self.notify(f"This is the {where} thread shown.", markup=False)
            return
        self.open_thread(self.table.rows[index])

    def open_thread(self, thread: PendingThread) -> None:
        """Put the cursor on `thread` and open its detail at once (no resting delay:
        the reviewer asked for this thread, not passed over it)."""
        self.table.select_thread(thread.thread_id)
        if self._detail_timer is not None:
            self._detail_timer.stop()
            self._detail_timer = None
        self.show_selected()
        if not self.detail.has_focus:
            self.detail.focus()  # on a short screen, this brings the detail up

    # --- after a decision -------------------------------------------------------------

    def after_decision(self, thread: PendingThread, status: str) -> None:
        """Open the next undecided thread after the one just decided (its row may be
        gone already: an applied decision removes it, and the next row moved up)."""
        if status == "replayed" or not self.table.row_count:
            return
        index = self.table.position(thread.thread_id)
        start = self.table.cursor_row if index is None else index + 1
        found = self.next_undecided(start % self.table.row_count, exclude=thread.thread_id)
        if found is None:
            self.refresh_bindings()
            return
        was_reading = self.detail.has_focus
        self.table.select_thread(self.table.rows[found].thread_id)
        if self._detail_timer is not None:
            self._detail_timer.stop()
            self._detail_timer = None
        self.show_selected()
        if was_reading:
            self.detail.focus()
