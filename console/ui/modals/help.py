"""The `?` screen: every key the console answers to, grouped by where it works."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.ui.widgets.scrollbars import use_cell_scrollbars

Section = tuple[str, Sequence[tuple[str, str]]]


def help_text(sections: Sequence[Section]) -> Text:
    """Sections of (keys, description) rows, keys aligned in one column."""
    width = max((len(keys) for _, rows in sections for keys, _ in rows), default=0)
    out = Text()
    for number, (title, rows) in enumerate(sections):
        if number:
            out.append("\n")
        out.append(f"{title}\n", style="bold underline")
        for keys, description in rows:
            out.append(f"  {keys.ljust(width)}  ", style="bold")
            out.append(f"{description}\n")
    out.rstrip()
    return out


class HelpScreen(ModalScreen[None]):
    """A scrollable list of keys; esc, q or ? closes it."""

    AUTO_FOCUS = "#help-scroll"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close", id="help.close"),
        Binding("j,down", "scroll_down", "Down", show=False, id="help.down"),
        Binding("k,up", "scroll_up", "Up", show=False, id="help.up"),
        Binding("pagedown,space,ctrl+f", "page_down", "Page down", show=False,
                id="help.page_down"),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False, id="help.page_up"),
        Binding("g,home", "top", "Top", show=False, id="help.top"),
        Binding("G,end", "bottom", "Bottom", show=False, id="help.bottom"),
    ]

    def __init__(self, sections: Sequence[Section]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static(Text("Keys"), id="help-title")
            with VerticalScroll(id="help-scroll"):
                yield Static(help_text(self.sections), id="help-text")
            hint = "esc/q/?: close  j/k/space/g/G: scroll  ctrl+p: every action by name"
            yield Static(Text(hint), id="help-hint")

    def on_mount(self) -> None:
        use_cell_scrollbars(self.query_one("#help-scroll", VerticalScroll))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll_down(self) -> None:
        self.query_one("#help-scroll", VerticalScroll).scroll_down(animate=False)

    def action_scroll_up(self) -> None:
        self.query_one("#help-scroll", VerticalScroll).scroll_up(animate=False)

    def action_page_down(self) -> None:
        self.query_one("#help-scroll", VerticalScroll).scroll_page_down(animate=False)

    def action_page_up(self) -> None:
        self.query_one("#help-scroll", VerticalScroll).scroll_page_up(animate=False)

    def action_top(self) -> None:
        self.query_one("#help-scroll", VerticalScroll).scroll_home(animate=False)

    def action_bottom(self) -> None:
        self.query_one("#help-scroll", VerticalScroll).scroll_end(animate=False)
