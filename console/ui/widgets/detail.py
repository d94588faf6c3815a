"""The detail pane: the review bundle of the highlighted thread, scrollable by keyboard.

It only displays; its owner decides when to load (after the cursor rests) and hands it
a bundle. Content is a `rich.text.Text` built by `console.ui.bundle_text`, so the pane
never interprets markup from the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.core.models import PendingThread, ReviewBundle
from console.core.models_ledger import LedgerRow
from console.core.redact import Redactor
from console.ui.bundle_text import bundle_text
from console.ui.cell_text import one_line
from console.ui.clock import Clock, utc_now
from console.ui.widgets.scrollbars import use_cell_scrollbars

ERROR_STYLE = "bold"


class DetailPane(VerticalScroll, can_focus=True):
    """Shows one thread's bundle (or why there is none)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "line_down", "Scroll down", show=False, id="detail.down"),
        Binding("k,up", "line_up", "Scroll up", show=False, id="detail.up"),
        Binding("g,home", "top", "Top", show=False, id="detail.top"),
        Binding("G,end", "bottom", "Bottom", show=False, id="detail.bottom"),
        Binding("pagedown,ctrl+f", "page(1)", "Page down", show=False, id="detail.page_down"),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False, id="detail.page_up"),
    ]

    def __init__(
        self,
        *,
        clock: Clock = utc_now,
        sla_seconds: float = 3600.0,
        redactor: Redactor | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """`redactor` hides credentials in everything shown (default rules if None)."""
        super().__init__(name=name, id=id, classes=classes)
        self._clock = clock
        self.sla_seconds = sla_seconds
        self._redactor = redactor if redactor is not None else Redactor()
        self._text = Text("Loading...")
        self._shown_thread: str | None = None
        self._checkpoint_id: str | None = None
        self._interrupt_ids: tuple[str, ...] = ()

    def compose(self) -> ComposeResult:
        yield Static(self._text, id="detail-text")

    def on_mount(self) -> None:
        use_cell_scrollbars(self)

    # Scrolling without animation: every animation frame is bytes on a slow ssh link,
    # and key repeat must not be swallowed by a scroll still in flight.
    def action_line_down(self) -> None:
        self.scroll_relative(y=1, animate=False)

    def action_line_up(self) -> None:
        self.scroll_relative(y=-1, animate=False)

    def action_top(self) -> None:
        self.scroll_home(animate=False)

    def action_bottom(self) -> None:
        self.scroll_end(animate=False)

    def action_page(self, direction: int) -> None:
        self.scroll_relative(
            y=direction * max(1, self.scrollable_content_region.height - 1), animate=False
        )

    @property
    def thread_id(self) -> str | None:
        """The thread whose bundle (or error) is shown."""
        return self._shown_thread

    @property
    def checkpoint_id(self) -> str | None:
        """The checkpoint of the bundle shown, None when showing a message."""
        return self._checkpoint_id

    @property
    def interrupt_ids(self) -> tuple[str, ...]:
        """The pending interrupts of the bundle shown (with the checkpoint: the pause)."""
        return self._interrupt_ids

    @property
    def plain(self) -> str:
        """What the pane shows, as plain text."""
        return self._text.plain

    def shows(self, thread: PendingThread) -> bool:
        """Whether the pane already shows this pause (thread, checkpoint, interrupts)."""
        return (self._shown_thread, self._checkpoint_id, self._interrupt_ids) == (
            thread.thread_id, thread.checkpoint_id, thread.interrupt_ids)

    def show_bundle(
        self,
        bundle: ReviewBundle,
        thread: PendingThread | None,
        *,
        actions: Text | None = None,
        decisions: Sequence[LedgerRow] = (),
    ) -> None:
        """Display `bundle`; `thread` is the queue's view of it (to flag a moved head),
        `actions` what the reviewer may do, `decisions` the thread's ledger rows."""
        same_thread = bundle.thread_id == self._shown_thread
        self._shown_thread = bundle.thread_id
        self._checkpoint_id = bundle.checkpoint_id
        self._interrupt_ids = bundle.pending.interrupt_ids if bundle.pending else ()
        self._set(
            bundle_text(
                bundle,
                thread,
                now=self._clock(),
                sla_seconds=self.sla_seconds,
                redactor=self._redactor,
                actions=actions,
                decisions=decisions,
            ),
            keep_scroll=same_thread,
        )

    def show_message(self, message: str, *, thread_id: str | None = None) -> None:
        """Display a short message instead of a bundle (empty queue, nothing selected)."""
        text = Text()
        if thread_id is not None:
            text.append(one_line(self._redactor.redact_text(thread_id)) + "\n", style="bold")
        text.append(message)
        if (self._shown_thread, self._checkpoint_id) == (thread_id, None) and (
            text.plain == self._text.plain
        ):
            return  # already shown: a repaint would only cost bytes
        self._shown_thread = thread_id
        self._checkpoint_id = None
        self._interrupt_ids = ()
        self._set(text)

    def show_error(self, thread_id: str, message: str) -> None:
        """Display why a thread's bundle could not be loaded."""
        self._shown_thread = thread_id
        self._checkpoint_id = None
        self._interrupt_ids = ()
        text = Text()
        text.append(one_line(self._redactor.redact_text(thread_id)) + "\n", style="bold")
        text.append("Could not load this thread: ", style=ERROR_STYLE)
        text.append(one_line(self._redactor.redact_text(message)))
        self._set(text)

    def _set(self, text: Text, *, keep_scroll: bool = False) -> None:
        self._text = text
        if self.is_mounted:
            self.query_one("#detail-text", Static).update(text)
            if not keep_scroll:
                self.scroll_home(animate=False)
