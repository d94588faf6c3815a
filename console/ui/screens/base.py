"""What the main screen's parts share: the core objects, the widgets, the session state.

`MainScreen` is assembled from mixins, one job each (`deciding`, `marking`, `live`);
they all derive from `ScreenBase`, which owns the state they read and write, so each
part's attributes are declared (and typed) in one place.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from textual.screen import Screen
from textual.timer import Timer

from console.core.ledger.rows import LedgerRow
from console.core.models import PendingThread, ReviewBundle
from console.core.policy import Policy
from console.core.presence import Reader
from console.core.redact import Redactor
from console.core.store.base import CheckpointStore
from console.settings import Settings
from console.ui.actions import ActionState, action_states
from console.ui.clock import Clock
from console.ui.drafts import DraftBook
from console.ui.filter_query import EMPTY, FilterQuery, QueueSearch
from console.ui.live import FeedFactory
from console.ui.marks import MarkBook
from console.ui.widgets.banner import Banner
from console.ui.widgets.detail import DetailPane
from console.ui.widgets.filter_bar import FilterBar
from console.ui.widgets.queue_table import QueueTable
from console.ui.widgets.status_line import StatusLine

if TYPE_CHECKING:
    from console.core.ledger.apply import Decider

BUNDLE_CACHE_SIZE = 64  # a pause never changes, so a cached bundle stays true
PauseKey = tuple[str, str, tuple[str, ...]]  # thread, checkpoint, pending interrupt ids


def bundle_key(bundle: ReviewBundle) -> PauseKey:
    ids = bundle.pending.interrupt_ids if bundle.pending is not None else ()
    return (bundle.thread_id, bundle.checkpoint_id, ids)


@dataclass(frozen=True, slots=True)
class ScreenOptions:
    """How the screen runs; tests shorten or switch off the timers."""

    detail_delay: float
    tick_interval: float
    poll_interval: float  # 0: no live refresh
    retry_delays: Sequence[float]
    feed_factory: FeedFactory | None
    presence_interval: float = 0.0  # 0: no presence (tests); the app sets the default


class ScreenBase(Screen[None]):
    """State and accessors shared by the main screen's mixins."""

    def __init__(
        self,
        store: CheckpointStore,
        settings: Settings,
        *,
        redactor: Redactor,
        clock: Clock,
        decider: Callable[[], Decider],
        policy: Policy,
        worker_mode: bool,
        options: ScreenOptions,
        first_page: Sequence[PendingThread] = (),
    ) -> None:
        super().__init__()
        self._store = store
        self._settings = settings
        self._redactor = redactor
        self._clock = clock
        self._get_decider = decider  # built on first use (`ConsoleApp.get_decider`)
        self._worker_mode = worker_mode
        self._policy = policy
        self._options = options
        # the queue
        self._all: list[PendingThread] = []
        self._query: FilterQuery = EMPTY
        self._search = QueueSearch()  # the filter's per-row texts and recent results
        self._footer_shown: object = None  # what the footer was last told to show
        self._loaded = False  # a queue load has succeeded at least once
        self._prefetched = first_page  # shown by the first frame (`show_first_page`)
        self._load_lock = asyncio.Lock()  # loads never overlap (manual, live, retry)
        # ledger decisions not finished yet, by pause: "queued" / "in_flight" / "claimed"
        self._open_decisions: dict[tuple[str, str], str] = {}
        self._ledger_ready = False
        # the detail pane
        self._detail_timer: Timer | None = None
        # by pause: (thread, checkpoint, pending interrupt ids)
        self._bundles: OrderedDict[PauseKey, ReviewBundle] = OrderedDict()
        self._ledger_rows: dict[str, tuple[LedgerRow, ...]] = {}
        self._bundle_target: PendingThread | None = None
        self.bundle_loads = 0  # bundle fetches started: lets tests see the debounce work
        # decisions
        self.drafts = DraftBook()
        self.marks = MarkBook()
        self.busy: str | None = None  # what the decision worker is doing, if anything
        # pauses this console moved on itself: a refresh seeing them go is no conflict
        self._own_moves: set[tuple[str, str]] = set()
        # pauses (thread, checkpoint seen) a conflict dialog was shown for: once is enough
        self._conflicts_shown: set[tuple[str, str, tuple[str, ...]]] = set()
        # live refresh and outages
        self.outage_since: datetime | None = None
        self.outage_message = ""
        self._failures = 0
        self._retry_timer: Timer | None = None

    def others_reading(self, thread_id: str) -> list[Reader]:
        """Who else has this thread open (`PresenceMixin`); none without presence."""
        return []

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
    def banner(self) -> Banner:
        return self.query_one("#banner", Banner)

    @property
    def all_threads(self) -> Sequence[PendingThread]:
        """Every pending thread of the last load, before filtering (do not mutate)."""
        return self._all

    @property
    def decider(self) -> Decider:
        return self._get_decider()

    _decider = decider  # the name the mixins use

    # --- shared behaviour -----------------------------------------------------------

    def action_states(self, thread: PendingThread) -> dict[str, ActionState]:
        """What this reviewer may do on `thread`, and why not where they may not."""
        return action_states(
            thread,
            policy=self._policy,
            reviewer=self._settings.reviewer,
            # an Agent Server runs its graphs itself: the console needs none loaded
            graph_loaded=self._store.location.backend == "server"
            or self._store.registry.get(thread.graph) is not None,
            worker_mode=self._worker_mode,
        )

    def reload(self) -> None:
        """Read the whole queue again (implemented by the live mixin)."""
        raise NotImplementedError

    def apply_filter(self) -> None:
        """Show `_all` through the filter (implemented by the main screen)."""
        raise NotImplementedError

    def show_selected(self) -> None:
        """Load the selected thread into the detail pane (implemented by the main screen)."""
        raise NotImplementedError

    def own_approval_recorded(self, pause: PendingThread, message: str) -> None:
        """This reviewer's approval of `pause` waits for more approvers (implemented by
        the deciding mixin, which keeps them)."""

    def set_busy(self, what: str | None) -> None:
        """Say what a decision worker is doing (None: idle); keys follow."""
        self.busy = what
        self.status.set(busy=what)
        self.refresh_bindings()
