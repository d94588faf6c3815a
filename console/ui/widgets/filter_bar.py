"""The one-line filter input opened with `/`: narrows the queue as the reviewer types."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Label, Static

from console.ui.filter_query import SYNTAX_HINT, parse_filter
from console.ui.widgets.inputs import Input


class _FilterInput(Input):
    async def action_submit(self) -> None:
        bar = self.parent
        assert isinstance(bar, FilterBar)
        bar.leave(cleared=False)


class FilterBar(Horizontal):
    """`/ [input] note`; hidden until opened. The screen watches the input's value (so a
    keystroke and the narrowed queue reach the screen in one frame)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear", "Clear filter", id="filter.clear"),
    ]

    class Left(Message):
        """The reviewer left the input: with enter (filter kept) or esc (filter cleared)."""

        def __init__(self, bar: FilterBar, cleared: bool) -> None:
            super().__init__()
            self.bar = bar
            self.cleared = cleared

        @property
        def control(self) -> FilterBar:
            return self.bar

    def compose(self) -> ComposeResult:
        yield Label("/", id="filter-prompt")
        # Typed-ahead keys (a burst over ssh) land before the focus event; selecting all on
        # focus would let the next key replace them.
        yield _FilterInput(placeholder=SYNTAX_HINT, id="filter-input", compact=True,
                           select_on_focus=False)
        yield Static("", id="filter-note")

    @property
    def input(self) -> Input:
        return self.query_one("#filter-input", Input)

    def open(self, back_to: Widget | None = None) -> None:
        """Show the bar and put the cursor in the input; enter and esc give the focus
        back to `back_to`.

        Focus moves at once, not on the next message (`Widget.focus` defers it): keys
        typed ahead over a slow link arrive together with the `/`, and must land in the
        input rather than run as queue keys (`a`, `r`...).
        """
        self._back_to = back_to
        self.display = True
        self.screen.set_focus(self.input)

    def set_note(self, note: str) -> None:
        """A short remark right of the input (match count, or what is wrong)."""
        self.query_one("#filter-note", Static).update(Text(note))

    def leave(self, *, cleared: bool) -> None:
        """Enter (filter kept) or esc (`cleared`): the focus goes back at once, while the
        key is handled, not on a later message: the rest of a burst over ssh (`/x`,
        enter, enter) then acts where it went (the second enter opens the thread)."""
        if cleared:
            self.clear()
        elif not parse_filter(self.input.value).active:
            self.display = False
        back_to = getattr(self, "_back_to", None)
        if back_to is not None and back_to.is_mounted:
            self.screen.set_focus(back_to)
        self.post_message(self.Left(self, cleared=cleared))

    def action_clear(self) -> None:
        """Empty the filter and hide the bar."""
        self.leave(cleared=True)

    def clear(self) -> None:
        """Empty the filter and hide the bar."""
        if self.input.value:
            self.input.value = ""
        self.display = False
