"""The conflict dialog: the thread moved on; reload, re-apply the draft, or cancel."""

from __future__ import annotations

from typing import ClassVar, Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.core.redact import Redactor
from console.ui.conflict_text import ConflictInfo, conflict_text
from console.ui.widgets.scrollbars import use_cell_scrollbars

ConflictChoice = Literal["reload", "reapply", "cancel"]


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

    def __init__(self, info: ConflictInfo, redactor: Redactor, *, what: str | None) -> None:
        """`what` names what would be re-applied ("your draft", "your approve"); None
        when there is nothing to re-apply (the reviewer was only reading)."""
        super().__init__()
        self.info = info
        self.redactor = redactor
        self.what = what

    @property
    def can_reapply(self) -> bool:
        return self.what is not None and self.info.still_pending

    def compose(self) -> ComposeResult:
        with Vertical(id="conflict-box"):
            yield Static(Text("Conflict: the thread moved on"), id="conflict-title")
            with VerticalScroll(id="conflict-scroll"):
                yield Static(conflict_text(self.info, self.redactor), id="conflict-body")
            yield Static(Text(self.hint), id="conflict-hint")

    @property
    def hint(self) -> str:
        if self.can_reapply:
            reapply = f"a: re-apply {self.what} on the new head   "
        elif self.what is None:
            reapply = ""
        else:
            reapply = "(nothing to re-apply: not waiting for a human)   "
        return f"r: reload   {reapply}esc: cancel"

    def on_mount(self) -> None:
        use_cell_scrollbars(self.query_one("#conflict-scroll", VerticalScroll))

    def action_choose(self, choice: ConflictChoice) -> None:
        if choice == "reapply" and not self.can_reapply:
            why = ("the thread is no longer waiting for a human" if self.what else
                   "you had no decision or draft on it")
            self.notify(f"Nothing to re-apply: {why}.", severity="warning", markup=False)
            return
        self.dismiss(choice)

    def action_scroll(self, lines: int) -> None:
        self.query_one("#conflict-scroll", VerticalScroll).scroll_relative(y=lines,
                                                                           animate=False)
