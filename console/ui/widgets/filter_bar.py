"""The one-line filter input opened with `/`: narrows the queue as the reviewer types."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Label, Static

from console.ui.filter_query import EMPTY, SYNTAX_HINT, FilterQuery, parse_filter


class FilterBar(Horizontal):
    """`/ [input] note`; hidden until opened. Posts `Changed` on every edit."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear", "Clear filter", id="filter.clear"),
    ]

    class Changed(Message):
        """The filter text changed (already parsed)."""

        def __init__(self, bar: FilterBar, query: FilterQuery) -> None:
            super().__init__()
            self.bar = bar
            self.query = query

        @property
        def control(self) -> FilterBar:
            return self.bar

    class Left(Message):
        """The reviewer left the input: with enter (filter kept) or esc (filter cleared)."""

        def __init__(self, bar: FilterBar, cleared: bool) -> None:
            super().__init__()
            self.bar = bar
            self.cleared = cleared

        @property
        def control(self) -> FilterBar:
            return self.bar

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.query_value: FilterQuery = EMPTY

    def compose(self) -> ComposeResult:
        yield Label("/", id="filter-prompt")
        # Typed-ahead keys (a burst over ssh) land before the focus event; selecting all on
        # focus would let the next key replace them.
        yield Input(placeholder=SYNTAX_HINT, id="filter-input", compact=True,
                    select_on_focus=False)
        yield Static("", id="filter-note")

    @property
    def input(self) -> Input:
        return self.query_one("#filter-input", Input)

    def open(self) -> None:
        """Show the bar and put the cursor in the input.

        Focus moves at once, not on the next message (`Widget.focus` defers it): keys
        typed ahead over a slow link arrive together with the `/`, and must land in the
        input rather than run as queue keys (`a`, `r`...).
        """
        self.display = True
        self.screen.set_focus(self.input)

    def set_note(self, note: str) -> None:
        """A short remark right of the input (match count, or what is wrong)."""
        self.query_one("#filter-note", Static).update(Text(note))

    @on(Input.Changed, "#filter-input")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.query_value = parse_filter(event.value)
        self.post_message(self.Changed(self, self.query_value))

    @on(Input.Submitted, "#filter-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.query_value.active:
            self.display = False
        self.post_message(self.Left(self, cleared=False))

    def action_clear(self) -> None:
        """Empty the filter and hide the bar."""
        self.clear()
        self.post_message(self.Left(self, cleared=True))

    def clear(self) -> None:
        """Empty the filter and hide the bar (posts `Changed` if it was not empty)."""
        if self.input.value:
            self.input.value = ""  # posts Input.Changed -> Changed(EMPTY)
        self.display = False
