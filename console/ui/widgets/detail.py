"""The detail pane: a fixed header over four tabs (Payload, Diff, State, History).

It only displays; its owner decides when to load (after the cursor rests) and hands it a
bundle and the thread's ledger rows. Texts are `rich.text.Text` built by
`console.ui.bundle_text` and friends, so nothing from the data is read as markup.

Cost on a slow link and a big state, by design:
- only the tab shown is built; the others are built when first shown for this bundle
  (a diff of a long history is not computed for a reviewer reading the payload);
- the header is always `bundle_text.HEADER_LINES` lines, so a new thread repaints the pane without
  changing any widget's size; the pane's own size comes from the screen's stylesheet;
- a tab's body (a scroll and its text) is mounted when the tab is first shown: the
  first frame (the queue; at 80x24 the pane is not even on screen) styles and lays out
  one body, not four;
- tabs are a one-line strip of plain text (Textual's `Tabs` is two lines with an
  animated underline drawn in box glyphs: a sixth of an 11-row pane at 80x24, bytes on
  every switch, and glyphs some ssh fonts lack); the bodies sit in a `ContentSwitcher`,
  each with its own scroll position.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import ContentSwitcher, Static

from console.core.ledger.rows import LedgerRow
from console.core.ledger.status import pause_status
from console.core.models import PendingThread, ReviewBundle
from console.core.redact import Redactor
from console.ui.cell_text import one_line
from console.ui.clock import Clock, utc_now
from console.ui.widgets.scrollbars import use_cell_scrollbars

# The renderers (`bundle_text`, `diff_text`, `timeline_text`: pretty printers, the diff)
# are imported where a bundle is first shown, not with the pane: the first frame is the
# queue, and the screen's warm-up imports them in the background right after it.

ERROR_STYLE = "bold"
TABS = ("payload", "diff", "state", "history")
TAB_TITLES = {"payload": "Payload", "diff": "Diff", "state": "State", "history": "History"}
ACTIVE_TAB_STYLE = "bold reverse"

# Tab keys. Digits and brackets are free on the main screen (see console/ui/keys.py
# users); the screen adds these bindings too, so they work from the queue as well.
TAB_BINDINGS: list[BindingType] = [
    Binding("1", "detail_tab('payload')", "Payload tab", show=False, id="detail.tab_payload"),
    Binding("2", "detail_tab('diff')", "Diff tab", show=False, id="detail.tab_diff"),
    Binding("3", "detail_tab('state')", "State tab", show=False, id="detail.tab_state"),
    Binding("4", "detail_tab('history')", "History tab", show=False, id="detail.tab_history"),
    Binding("right_square_bracket", "detail_tab('next')", "Next tab", key_display="]",
            show=False, id="detail.tab_next"),
    Binding("left_square_bracket", "detail_tab('previous')", "Previous tab", key_display="[",
            show=False, id="detail.tab_previous"),
    Binding("J", "detail_raw", "Payload: cards / raw JSON", show=False, id="detail.raw_json"),
]


class TabBody(VerticalScroll, can_focus=False):
    """One tab's body: its text in a scroll with whole-cell scrollbars."""

    def on_mount(self) -> None:
        use_cell_scrollbars(self)


class DetailPane(Vertical, can_focus=True):
    """Shows one thread's bundle (or why there is none), one tab at a time."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "line_down", "Scroll down", show=False, id="detail.down"),
        Binding("k,up", "line_up", "Scroll up", show=False, id="detail.up"),
        Binding("g,home", "top", "Top", show=False, id="detail.top"),
        Binding("G,end", "bottom", "Bottom", show=False, id="detail.bottom"),
        Binding("pagedown,ctrl+f", "page(1)", "Page down", show=False, id="detail.page_down"),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False, id="detail.page_up"),
        *TAB_BINDINGS,
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
        self._header = Text("Loading...")
        self.presence: str | None = None  # who else has the shown thread open
        self._shown_thread: str | None = None
        self._checkpoint_id: str | None = None
        self._interrupt_ids: tuple[str, ...] = ()
        self._bundle: ReviewBundle | None = None
        self._thread: PendingThread | None = None
        self._actions: Text | None = None
        self._decisions: tuple[LedgerRow, ...] = ()
        self._tab = "payload"
        self._raw = False
        # Built tab texts for the bundle shown; a tab missing here is built when shown.
        self._built: dict[str, Text] = {}
        # Each tab's text widget, from when its body is first mounted (`_text`).
        self._texts: dict[str, Static] = {}

    def compose(self) -> ComposeResult:
        yield Static(self._header, id="detail-header")
        yield Static(self._strip(), id="detail-tabs")
        with ContentSwitcher(initial=f"detail-{self._tab}", id="detail-body"):
            text = self._texts[self._tab] = Static("", id=f"detail-{self._tab}-text")
            yield TabBody(text, id=f"detail-{self._tab}")

    def on_mount(self) -> None:
        self._show_tab()

    def _text(self, tab: str) -> Static:
        """`tab`'s text widget, its body mounted (hidden) if this is its first use."""
        text = self._texts.get(tab)
        if text is None:
            text = self._texts[tab] = Static("", id=f"detail-{tab}-text")
            body = TabBody(text, id=f"detail-{tab}")
            body.display = False  # until the switcher shows it
            self.query_one(ContentSwitcher).mount(body)
        return text

    # --- scrolling: the active tab's body -------------------------------------------
    # Without animation: every animation frame is bytes on a slow ssh link, and key
    # repeat must not be swallowed by a scroll still in flight.

    @property
    def body(self) -> VerticalScroll:
        """The scroll of the tab shown."""
        return self.query_one(f"#detail-{self._tab}", TabBody)

    def action_line_down(self) -> None:
        self.body.scroll_relative(y=1, animate=False)

    def action_line_up(self) -> None:
        self.body.scroll_relative(y=-1, animate=False)

    def action_top(self) -> None:
        self.body.scroll_home(animate=False)

    def action_bottom(self) -> None:
        self.body.scroll_end(animate=False)

    def action_page(self, direction: int) -> None:
        body = self.body
        body.scroll_relative(
            y=direction * max(1, body.scrollable_content_region.height - 1), animate=False
        )

    # --- tabs -----------------------------------------------------------------------

    @property
    def tab(self) -> str:
        """The tab shown: payload, diff, state or history."""
        return self._tab

    @property
    def raw_json(self) -> bool:
        """Whether the Payload tab shows raw JSON instead of cards."""
        return self._raw

    def action_detail_tab(self, tab: str) -> None:
        """Show `tab`, or the `next` / `previous` one (wrapping around)."""
        if tab in ("next", "previous"):
            step = 1 if tab == "next" else -1
            tab = TABS[(TABS.index(self._tab) + step) % len(TABS)]
        if tab not in TABS or tab == self._tab:
            return
        self._tab = tab
        self._show_tab()

    def action_detail_raw(self) -> None:
        """Payload: cards <-> raw JSON, showing the Payload tab."""
        self._raw = not self._raw
        self._built.pop("payload", None)
        self._tab = "payload"
        self._show_tab()

    def _strip(self) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        for number, tab in enumerate(TABS, 1):
            label = f"{number} {TAB_TITLES[tab]}"
            if tab == self._tab:
                out.append(f"[{label}]", style=ACTIVE_TAB_STYLE)
            else:
                out.append(f" {label} ")
            out.append(" ")
        out.append(" J raw" if not self._raw else " J cards", style="dim")
        return out

    def _show_tab(self) -> None:
        if not self.is_mounted:
            return
        self.query_one("#detail-tabs", Static).update(self._strip(), layout=False)
        self._text(self._tab)  # its body exists before the switcher shows it
        self.query_one(ContentSwitcher).current = f"detail-{self._tab}"
        self._fill(self._tab)

    def _fill(self, tab: str, *, force: bool = False) -> None:
        """Build `tab`'s text for the bundle shown, unless it is built already."""
        if tab in self._built and not force:
            return
        text = self._build(tab)
        self._built[tab] = text
        self._text(tab).update(text)

    def _build(self, tab: str) -> Text:
        bundle = self._bundle
        if bundle is None:
            return Text()
        redactor = self._redactor
        from console.ui.bundle_text import payload_tab_text, state_text
        from console.ui.diff_text import diff_tab_text
        from console.ui.timeline_text import history_tab_text

        if tab == "payload":
            return payload_tab_text(bundle, redactor=redactor, actions=self._actions,
                                    raw=self._raw)
        if tab == "diff":
            return diff_tab_text(bundle, redactor=redactor)
        if tab == "state":
            return state_text(bundle, redactor=redactor)
        return history_tab_text(bundle, self._decisions, now=self._clock(), redactor=redactor)

    # --- what is shown --------------------------------------------------------------

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
        """What the pane shows (header and the tab shown), as plain text."""
        body = self._built.get(self._tab) if self._bundle is not None else None
        return self._header.plain + ("\n" + body.plain if body is not None else "")

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
        self._bundle = bundle
        self._thread = thread
        self._actions = actions
        self._decisions = tuple(decisions)
        self._built.clear()
        self._set_header(self._bundle_header())
        if self.is_mounted:
            self._fill(self._tab)
            if not same_thread:
                for scroll in self.query(TabBody):
                    scroll.scroll_home(animate=False)

    def show_decisions(self, decisions: Sequence[LedgerRow]) -> None:
        """Refresh only what the ledger rows decide (the header's decision line and the
        History tab), e.g. when a worker settles a decision on the thread shown.

        `decisions` are all the thread's rows, oldest first (as `Ledger.rows` returns
        them). Does nothing when no bundle is shown or the rows did not change.
        """
        rows = tuple(decisions)
        if self._bundle is None or rows == self._decisions:
            return
        self._decisions = rows
        self._set_header(self._bundle_header())
        self._built.pop("history", None)
        if self.is_mounted and self._tab == "history":
            self._fill("history")

    def show_presence(self, words: str | None) -> None:
        """Who else has this thread open (`Reader.words`), on the header's decision
        line; None when nobody does."""
        if words == self.presence:
            return
        self.presence = words
        if self._bundle is not None:
            self._set_header(self._bundle_header())

    def _bundle_header(self) -> Text:
        bundle = self._bundle
        assert bundle is not None
        from console.ui.bundle_text import header_text

        status = None
        if bundle.pending is not None:
            status = pause_status(self._decisions, bundle.checkpoint_id,
                                  bundle.pending.interrupt_ids, self._clock())
        return header_text(bundle, self._thread, now=self._clock(),
                           sla_seconds=self.sla_seconds, redactor=self._redactor,
                           actions=self._actions, status=status, presence=self.presence)

    def show_message(self, message: str, *, thread_id: str | None = None) -> None:
        """Display a short message instead of a bundle (empty queue, nothing selected)."""
        text = Text()
        if thread_id is not None:
            text.append(one_line(thread_id) + "\n", style="bold")
        text.append(message)
        if (self._shown_thread, self._checkpoint_id) == (thread_id, None) and (
            self._bundle is None and text.plain == self._header.plain
        ):
            return  # already shown: a repaint would only cost bytes
        self._show_text(thread_id, text)

    def show_error(self, thread_id: str, message: str) -> None:
        """Display why a thread's bundle could not be loaded."""
        text = Text()
        text.append(one_line(thread_id) + "\n", style="bold")
        text.append("Could not load this thread: ", style=ERROR_STYLE)
        text.append(one_line(self._redactor.redact_text(message, keep=(thread_id,))))
        self._show_text(thread_id, text)

    def _show_text(self, thread_id: str | None, text: Text) -> None:
        """A message in place of a bundle: in the header, with every tab emptied."""
        self._shown_thread = thread_id
        self._checkpoint_id = None
        self._interrupt_ids = ()
        self._bundle = None
        self._thread = None
        self._decisions = ()
        self._built.clear()
        self._set_header(text)
        if self.is_mounted:
            for body_text in self._texts.values():  # a body not mounted yet shows nothing
                body_text.update("")

    def _set_header(self, text: Text) -> None:
        self._header = text
        if self.is_mounted:
            # The header's height is fixed (`bundle_text.HEADER_LINES`): no layout needed.
            self.query_one("#detail-header", Static).update(text, layout=False)


__all__ = ["TABS", "TAB_BINDINGS", "DetailPane"]
