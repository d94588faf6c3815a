"""The main screen: queue, detail pane, filter, status line and footer.

Data flow (attributes go down, messages come up):
- a `queue` worker reads the whole pending list into memory; the filter narrows that
  list in memory with the core's own `matches`, so the queue and `hitl-console pending
  --search` agree on what a filter means;
- `QueueTable.Highlighted` starts a timer; only when the cursor has rested
  `detail_delay` seconds does a `bundle` worker (exclusive: the previous fetch is
  cancelled) load the thread, so holding `j` does not repaint the pane on every row;
- failures of either worker are shown as words (`report_error`), never as a traceback.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from console.core.models import PendingThread, ReviewBundle
from console.core.redact import Redactor
from console.core.store.base import CheckpointStore
from console.core.store.heads import matches
from console.settings import Settings
from console.ui.clock import Clock
from console.ui.errors import describe_error
from console.ui.filter_query import EMPTY, SYNTAX_HINT, FilterQuery
from console.ui.keys import key_rows
from console.ui.modals.error import report_error
from console.ui.modals.help import Section
from console.ui.widgets.detail import DetailPane
from console.ui.widgets.filter_bar import FilterBar
from console.ui.widgets.queue_table import QueueTable
from console.ui.widgets.status_line import StatusInfo, StatusLine

QUEUE_GROUP = "queue"
BUNDLE_GROUP = "bundle"
BUNDLE_CACHE_SIZE = 64  # a head checkpoint never changes, so a cached bundle stays true
WIDE = 150  # columns from which queue and detail sit side by side


class MainScreen(Screen[None]):
    """Triage: pick a paused thread from the queue and read its review bundle."""

    AUTO_FOCUS = "#queue"
    # No ClassVar annotation: Textual's Screen declares this one as an instance variable.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]  # noqa: RUF012
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "open_filter", "Filter", key_display="/", id="main.filter"),
        Binding("tab", "switch_pane", "Switch pane", id="main.switch_pane"),
        Binding("ctrl+r", "reload", "Reload", id="main.reload"),
        Binding("escape", "back", "Back / clear filter", show=False, id="main.back"),
    ]

    def __init__(
        self,
        store: CheckpointStore,
        settings: Settings,
        *,
        redactor: Redactor,
        clock: Clock,
        detail_delay: float,
        tick_interval: float,
    ) -> None:
        super().__init__()
        self._store = store
        self._settings = settings
        self._redactor = redactor
        self._clock = clock
        self._detail_delay = detail_delay
        self._tick_interval = tick_interval
        self._all: list[PendingThread] = []
        self._query: FilterQuery = EMPTY
        self._detail_timer: Timer | None = None
        self._bundles: OrderedDict[tuple[str, str], ReviewBundle] = OrderedDict()
        self._bundle_target: PendingThread | None = None  # the latest bundle fetch's thread
        self.bundle_loads = 0  # bundle fetches started: lets tests see the debounce work

    def compose(self) -> ComposeResult:
        sla = self._settings.sla_seconds
        with Container(id="panes"):
            yield QueueTable(
                clock=self._clock, sla_seconds=sla, redactor=self._redactor, id="queue"
            )
            yield DetailPane(
                clock=self._clock, sla_seconds=sla, redactor=self._redactor, id="detail"
            )
        yield FilterBar(id="filter")
        yield StatusLine(
            StatusInfo(database=self._store.location.display(), reviewer=self._settings.reviewer),
            id="status",
        )
        # The palette key is one of the app's bindings (with an id); the footer's own
        # palette hint would repeat it, drawn with a block glyph some fonts lack.
        yield Footer(show_command_palette=False, compact=True)

    def on_mount(self) -> None:
        self.query_one(FilterBar).display = False
        self.query_one(DetailPane).show_message("Loading the queue...")
        if self._tick_interval > 0:
            # Ages only change by the minute past the first one: a slow repaint is enough.
            self.set_interval(self._tick_interval, self._tick)
        self.reload()

    # --- widgets --------------------------------------------------------------------

    @property
    def table(self) -> QueueTable:
        return self.query_one("#queue", QueueTable)

    @property
    def detail(self) -> DetailPane:
        return self.query_one("#detail", DetailPane)

    @property
    def status(self) -> StatusLine:
        return self.query_one("#status", StatusLine)

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one("#filter", FilterBar)

    @property
    def all_threads(self) -> Sequence[PendingThread]:
        """Every pending thread of the last load, before filtering (do not mutate)."""
        return self._all

    # --- queue ----------------------------------------------------------------------

    def reload(self) -> None:
        """Read the pending queue again (the cursor stays on its thread)."""
        self._fetch_queue()

    # `@work` hands Textual a callable, not a coroutine object: an exclusive worker that
    # is cancelled before it starts then leaves no un-awaited coroutine behind.
    @work(name="pending queue", group=QUEUE_GROUP, exclusive=True, exit_on_error=False)
    async def _fetch_queue(self) -> None:
        threads = await self._store.pending(now=self._clock())
        self._all = threads
        self._apply_filter()
        self.status.set(refreshed_at=self._clock(), state="ok")

    def _apply_filter(self) -> None:
        query = self._query
        if query.active:
            now = self._clock()
            shown = [t for t in self._all if matches(t, query.filter, now)]
            empty = "No pending thread matches the filter (esc clears it)."
        else:
            shown = self._all
            empty = "No thread is waiting for a human."
        self.table.replace_rows(shown, empty_text=empty)
        if not shown:
            # An empty table highlights nothing, so no Highlighted message says this.
            self.detail.show_message(empty)
        self.status.set(total=len(self._all), shown=len(shown))
        note = "; ".join(query.problems) if query.problems else f"{len(shown)} of {len(self._all)}"
        self.filter_bar.set_note(note if query.text else "")

    def _tick(self) -> None:
        self.table.refresh()

    # --- detail ---------------------------------------------------------------------

    @on(QueueTable.Highlighted, "#queue")
    def _highlighted(self, event: QueueTable.Highlighted) -> None:
        if self._detail_timer is not None:
            self._detail_timer.stop()
            self._detail_timer = None
        if event.thread is None:
            self.workers.cancel_group(self, BUNDLE_GROUP)
            self.detail.show_message(self.table.empty_text)
            return
        if self._detail_delay <= 0:
            self._show_selected()
        else:
            self._detail_timer = self.set_timer(self._detail_delay, self._show_selected)

    @on(QueueTable.Opened, "#queue")
    def _opened(self, event: QueueTable.Opened) -> None:
        if self._detail_timer is not None:
            self._detail_timer.stop()
            self._detail_timer = None
        self._show_selected()
        self.detail.focus()

    def _show_selected(self) -> None:
        self._detail_timer = None
        thread = self.table.selected
        if thread is None or self.detail.shows(thread):
            return
        cached = self._bundles.get((thread.thread_id, thread.checkpoint_id))
        if cached is not None:
            self._bundles.move_to_end((thread.thread_id, thread.checkpoint_id))
            self.detail.show_bundle(cached, thread)
            return
        self.bundle_loads += 1
        self._bundle_target = thread
        self._fetch_bundle(thread)

    @work(name="review bundle", group=BUNDLE_GROUP, exclusive=True, exit_on_error=False)
    async def _fetch_bundle(self, thread: PendingThread) -> None:
        bundle = await self._store.bundle(thread.thread_id, now=self._clock())
        self._bundles[(thread.thread_id, thread.checkpoint_id)] = bundle
        while len(self._bundles) > BUNDLE_CACHE_SIZE:
            self._bundles.popitem(last=False)
        selected = self.table.selected
        if selected is not None and selected.thread_id == thread.thread_id:
            self.detail.show_bundle(bundle, selected)

    # --- failures -------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place where worker failures become something the reviewer can read."""
        worker = event.worker
        if event.state is not WorkerState.ERROR or worker.error is None:
            return
        if worker.group == BUNDLE_GROUP:
            # One thread failed to load: say so where the thread would be; the queue
            # is still usable, so no modal. (The group is exclusive, so the failed
            # fetch is the latest one started.)
            if self._bundle_target is not None:
                thread_id = self._bundle_target.thread_id
                message = describe_error(worker.error, self._redactor)[1]
                self.detail.show_error(thread_id, message)
            report_error(self.app, worker.error, redactor=self._redactor, modal=False)
            return
        self.status.set(state="error")
        if not self._all:
            failed = "The queue could not be loaded (ctrl+r retries)."
            self.table.replace_rows([], empty_text=failed)
            self.detail.show_message(failed)
        report_error(self.app, worker.error, redactor=self._redactor)

    # --- actions --------------------------------------------------------------------

    def action_reload(self) -> None:
        self.reload()

    def action_switch_pane(self) -> None:
        if self.table.has_focus:
            self.detail.focus()
        else:
            self.table.focus()

    def action_open_filter(self) -> None:
        self.filter_bar.open()

    def action_back(self) -> None:
        """esc: from the detail pane back to the queue, else clear an active filter."""
        if not self.table.has_focus:
            self.table.focus()
        elif self._query.text:
            self.filter_bar.clear()

    @on(FilterBar.Changed, "#filter")
    def _filter_changed(self, event: FilterBar.Changed) -> None:
        self._query = event.query
        self._apply_filter()

    @on(FilterBar.Left, "#filter")
    def _filter_left(self, event: FilterBar.Left) -> None:
        self.table.focus()

    # --- help -----------------------------------------------------------------------

    def help_sections(self, keymap: dict[str, str]) -> list[Section]:
        """The keys of this screen, for the help modal (most used first)."""
        app = self.app
        return [
            ("Everywhere", key_rows(app, [*self.BINDINGS, *app.BINDINGS], keymap)),
            ("Queue", key_rows(app, QueueTable.BINDINGS, keymap)),
            ("Detail pane", key_rows(app, DetailPane.BINDINGS, keymap)),
            (
                "Filter (after /)",
                [
                    ("enter", "Keep the filter, back to the queue"),
                    *key_rows(app, FilterBar.BINDINGS, keymap),
                    ("syntax", SYNTAX_HINT),
                ],
            ),
        ]
