"""y/n/esc: the last look at a decision before it is written, with its exact Command.

When the plan carries warnings (an update that replaces a whole list), `y` is not
enough: the reviewer must press `Y` (shift+y), an explicit "yes, replace it".
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.ui.widgets.scrollbars import use_cell_scrollbars


class ConfirmScreen(ModalScreen[bool]):
    """A titled question over a scrollable body; dismisses with True (yes) or False."""

    AUTO_FOCUS = "#confirm-scroll"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "yes", "Yes", id="confirm.yes"),
        Binding("Y", "force", "Yes, replace", show=False, id="confirm.force"),
        Binding("n,escape", "no", "No", id="confirm.no"),
        Binding("j,down", "scroll(1)", "Down", show=False, id="confirm.down"),
        Binding("k,up", "scroll(-1)", "Up", show=False, id="confirm.up"),
        Binding("pagedown,space", "scroll(10)", "Page down", show=False, id="confirm.page_down"),
        Binding("pageup", "scroll(-10)", "Page up", show=False, id="confirm.page_up"),
    ]

    def __init__(self, title: str, body: Text, *, needs_force: bool = False,
                 yes_label: str = "submit") -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.needs_force = needs_force
        self.yes_label = yes_label

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(Text(self.title_text), id="confirm-title")
            with VerticalScroll(id="confirm-scroll"):
                yield Static(self.body, id="confirm-body")
            yield Static(Text(self.hint), id="confirm-hint")

    @property
    def hint(self) -> str:
        if self.needs_force:
            return f"Y (shift+y): {self.yes_label}, replacing   n/esc: cancel   j/k: scroll"
        return f"y: {self.yes_label}   n/esc: cancel   j/k: scroll"

    def on_mount(self) -> None:
        use_cell_scrollbars(self.query_one("#confirm-scroll", VerticalScroll))

    def action_yes(self) -> None:
        if self.needs_force:
            self.notify("This update replaces data: press Y (shift+y) to confirm, or n.",
                        severity="warning", markup=False)
            return
        self.dismiss(True)

    def action_force(self) -> None:
        if self.needs_force:
            self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)

    def action_scroll(self, lines: int) -> None:
        self.query_one("#confirm-scroll", VerticalScroll).scroll_relative(y=lines, animate=False)
