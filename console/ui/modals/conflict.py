"""The conflict dialog: the thread moved on; reload, re-apply the draft, or cancel.

When the pause is taken by a decision that is still being applied (two consoles pressed
`y` together: the loser's claim is refused while the winner's resume runs), the dialog
says who is applying it, offers no re-apply (it could only conflict again), and re-reads
the ledger and the head every `follow_seconds` until that decision settles (likewise while
an answer given elsewhere is running and the head has not moved yet).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ClassVar, Literal

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.core.redact import Redactor
from console.ui.cell_text import one_line
from console.ui.conflict_text import ConflictInfo, conflict_text
from console.ui.widgets.scrollbars import use_cell_scrollbars

ConflictChoice = Literal["reload", "reapply", "cancel"]
Reread = Callable[[], Awaitable[ConflictInfo]]
FOLLOW_SECONDS = 0.5  # how often an unsettled decision is looked at again


class ConflictScreen(ModalScreen[ConflictChoice]):
    """Who changed the thread and how; `r` reload, `a` re-apply (if still pending), esc."""

    AUTO_FOCUS = "#conflict-scroll"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "choose('reload')", "Reload", id="conflict.reload"),
        Binding("a", "choose('reapply')", "Re-apply on new head", id="conflict.reapply"),
        Binding("escape,c", "choose('cancel')", "Cancel", id="conflict.cancel"),
        Binding("j,down", "scroll(1)", "Down", show=False, id="conflict.down"),
        Binding("k,up", "scroll(-1)", "Up", show=False, id="conflict.up"),
        Binding("pagedown,space", "scroll(10)", "Page down", show=False, id="conflict.pgdn"),
        Binding("pageup", "scroll(-10)", "Page up", show=False, id="conflict.pgup"),
    ]

    def __init__(self, info: ConflictInfo, redactor: Redactor, *, what: str | None,
                 reread: Reread | None = None,
                 follow_seconds: float = FOLLOW_SECONDS) -> None:
        """`what` names what would be re-applied ("your draft", "your approve"); None
        when there is nothing to re-apply (the reviewer was only reading). `reread`
        reads the rows and the head again, while another decision is unsettled."""
        super().__init__()
        self.info = info
        self.redactor = redactor
        self.what = what
        self._reread = reread
        self._follow_seconds = follow_seconds
        self.rereads = 0  # lets tests see the dialog follow a decision

    @property
    def can_reapply(self) -> bool:
        return self.what is not None and self.info.still_pending

    def compose(self) -> ComposeResult:
        with Vertical(id="conflict-box"):
            yield Static(Text(self.title_text), id="conflict-title")
            with VerticalScroll(id="conflict-scroll"):
                yield Static(conflict_text(self.info, self.redactor), id="conflict-body")
            yield Static(Text(self.hint), id="conflict-hint")

    @property
    def title_text(self) -> str:
        if self.info.applying is not None:
            return "Conflict: another decision is being applied"
        new = self.info.new
        if new is not None and new.checkpoint_id == self.info.seen_checkpoint \
                and new.pending is not None:
            return "Conflict: the questions changed"
        return "Conflict: the thread moved on"

    @property
    def hint(self) -> str:
        applying = self.info.applying
        if applying is not None:
            return (f"(nothing to re-apply while {one_line(applying.reviewer)}'s "
                    f"{applying.decision} "
                    f"is {applying.status})   r: reload   esc: cancel")
        if self.can_reapply:
            reapply = f"a: re-apply {self.what} on the new head   "
        elif self.what is None:
            reapply = ""
        else:
            reapply = "(nothing to re-apply: not waiting for a human)   "
        return f"r: reload   {reapply}esc: cancel"

    def on_mount(self) -> None:
        use_cell_scrollbars(self.query_one("#conflict-scroll", VerticalScroll))
        if self._reread is not None and self.info.settling:
            self._follow()

    @work(name="follow decision", group="conflict follow", exclusive=True,
          exit_on_error=False)
    async def _follow(self) -> None:
        """Re-read until the decision in flight settles, then show how it ended (and,
        if the graph asks again, offer the re-apply)."""
        assert self._reread is not None
        while self.info.settling:
            await asyncio.sleep(self._follow_seconds)
            try:
                info = await self._reread()
            except Exception:  # an outage: the next look may succeed; the text stays
                continue
            self.rereads += 1
            self.show(info)

    def show(self, info: ConflictInfo) -> None:
        """Draw `info` (the same thread and pause, read again)."""
        self.info = info
        self.query_one("#conflict-title", Static).update(Text(self.title_text))
        self.query_one("#conflict-body", Static).update(conflict_text(info, self.redactor))
        self.query_one("#conflict-hint", Static).update(Text(self.hint))

    def action_choose(self, choice: ConflictChoice) -> None:
        if choice == "reapply" and not self.can_reapply:
            applying = self.info.applying
            if applying is not None:
                why = (f"{one_line(applying.reviewer)}'s {applying.decision} on this pause is "
                       f"{applying.status}; it would only conflict again")
            else:
                why = ("the thread is no longer waiting for a human" if self.what else
                       "you had no decision or draft on it")
            self.notify(f"Nothing to re-apply: {why}.", severity="warning", markup=False)
            return
        self.dismiss(choice)

    def action_scroll(self, lines: int) -> None:
        self.query_one("#conflict-scroll", VerticalScroll).scroll_relative(y=lines,
                                                                           animate=False)
