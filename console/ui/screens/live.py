"""Loading the queue, live refresh from the change feed, and riding out outages.

Every load takes `_load_lock`, so a manual reload, a live refresh and a retry never
overlap; the live loop waits on the feed, loads, and only then waits again (it
reschedules itself after each load rather than on a fixed timer). When the database
cannot be reached, the last queue stays on screen marked STALE under a banner, loads are
retried with backoff, and nothing else changes: cursor, marks and drafts are kept.

A live refresh re-reads only the threads the feed reported and changes the queue in
place (`apply_changes`: bisect inserts and deletes), so its cost does not grow with the
queue; a batch that changes nothing shown (a graph notifies at every step of a run, most
of them not pauses) costs one read per thread and nothing else.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Collection, Sequence
from itertools import compress
from operator import attrgetter

from textual import work

from console.core.errors import DatabaseUnavailable
from console.core.models import PendingThread
from console.first_page import FIRST_PAGE
from console.ui.deferred import DEFERRED_MODULES, warm_up
from console.ui.errors import describe_error
from console.ui.live import INCREMENTAL_LIMIT, Feed, feed_label, is_outage, open_feed, retry_delay
from console.ui.screens.decision_status import DecisionStatusMixin

QUEUE_GROUP = "queue"
LIVE_GROUP = "live"
WARM_UP_GROUP = "warm-up"
# Seconds after the queue is first shown before the dialogs and what a decision needs
# (LangGraph) are imported in a thread (`deferred`): the first frames are drawn without
# competing with it, and neither the first key nor the first decision waits for it.
WARM_UP_DELAY = 0.3
_THREAD_ID = attrgetter("thread_id")


def _identity(pause: PendingThread | None) -> tuple[str, tuple[str, ...]] | None:
    return None if pause is None else (pause.checkpoint_id, pause.interrupt_ids)


class LiveMixin(DecisionStatusMixin):
    """The queue's data: loads, live refresh, outages."""

    _feed: Feed | None = None
    _live_running = False
    _first_page_shown = False
    loads = 0  # successful loads: lets tests wait for a refresh

    def start_loading(self) -> None:
        """First load: through the live loop when live refresh is on (the feed must be
        open before the first full load, so nothing committed meanwhile is missed).
        Either way the queue's first page is shown before it (`_first_page`)."""
        if self._options.poll_interval > 0:
            self._live()
        else:
            self.reload()

    def reload(self) -> None:
        """Read the whole queue again (the cursor stays on its thread)."""
        if self._retry_timer is not None:
            self._retry_timer.stop()
            self._retry_timer = None
        self._fetch_queue()

    # `@work` hands Textual a callable, not a coroutine object: an exclusive worker that
    # is cancelled before it starts then leaves no un-awaited coroutine behind.
    @work(name="pending queue", group=QUEUE_GROUP, exclusive=True, exit_on_error=False)
    async def _fetch_queue(self) -> None:
        if not self._loaded:
            await self._first_page()
        await self.load_queue(None)

    async def _first_page(self) -> None:
        """Before the first full load: the queue's first page on screen as soon as it is
        read, the rest said to be coming (only where the store pages in SQL: another
        store reads everything for a page anyway). When the CLI read that page before
        the app started (`read_first_page`), the first frame already shows it
        (`show_first_page`) and this only adds the open decisions' flags to it.

        The full load that follows reads the whole queue again, after the change feed
        is open (Postgres: ~20 ms of LISTEN connection and inspection), in one read: it
        alone is the queue's state, this page is what the first frame shows meanwhile.
        A failure here is left to that load to report."""
        if self._loaded or not self._store.pages_in_sql:
            return
        async with self._load_lock:
            try:
                page = self._all if self._first_page_shown else await self._store.pending(
                    now=self._clock(), limit=FIRST_PAGE)
                await self.read_open_decisions()
            except Exception:
                return
            if self._loaded or not page:
                return
            self.show_first_page(page)

    def show_first_page(self, page: Sequence[PendingThread]) -> None:
        """The queue's first rows, until the whole queue is read."""
        self._first_page_shown = True
        self._all = list(page)
        self.apply_filter(measure=True)
        if len(page) >= FIRST_PAGE:
            self.status.set(state="first page")  # the count is the page's

    async def load_queue(self, changed: set[str] | None) -> bool:
        """Load everything (`changed` None) or re-read the changed threads; False if the
        database could not be reached (the outage is shown; other errors propagate)."""
        try:
            return await self._load_queue(changed)
        finally:
            # `hitl-console tui` starts with the cyclic GC off (`commands.run_tui`): on
            # again once the first load has ended, however it ended.
            gc.enable()

    async def _load_queue(self, changed: set[str] | None) -> bool:
        async with self._load_lock:
            full = changed is None or not self._loaded or len(changed) > INCREMENTAL_LIMIT
            try:
                if full:
                    threads = await self._read_all()
                else:
                    assert changed is not None
                    removed, added = await self._read_changed(changed)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                self.outage(exc)
                return False
            self.loads += 1
            if full:
                if not self._loaded:
                    self.set_timer(WARM_UP_DELAY, self._warm_up)
                self._all = threads
                self._loaded = True
                self.apply_filter(measure=True)
                # The rows are long-lived: keep the cyclic GC from walking their ~20
                # objects each (a full collection at 100k rows is ~400 ms of frozen UI).
                gc.freeze()
            elif removed or added:
                self.apply_changes(removed, added)
            self._recovered()
            if full or removed or added:
                self.after_load(full=full)
            return True

    async def _read_all(self) -> list[PendingThread]:
        threads = await self._store.pending(now=self._clock())
        await self.read_open_decisions()
        return threads

    def _warm_up(self) -> None:
        if all(name in sys.modules for name in (
                *DEFERRED_MODULES, "langgraph.types", "console.core.serde")):
            return  # a loaded graph, a decision and the dialogs brought them already
        self.run_worker(warm_up, name="warm up", group=WARM_UP_GROUP, thread=True,
                        exit_on_error=False)

    async def _read_changed(
        self, changed: set[str]
    ) -> tuple[list[PendingThread], list[PendingThread]]:
        """Re-read the reported threads: (rows to take out, rows to put in). A thread
        whose pause is the one shown is in neither."""
        removed: list[PendingThread] = []
        added: list[PendingThread] = []
        shown_now = self.threads_by_id(changed)
        for thread_id in sorted(changed):
            pause = await self._store.pending_thread(thread_id)
            shown = shown_now.get(thread_id)
            if pause == shown:
                continue
            if shown is not None:
                removed.append(shown)
            if pause is not None:
                added.append(pause)
        return removed, added

    async def _with_open_thread(self, changed: set[str] | None) -> set[str] | None:
        """`changed` plus the thread the reviewer has open if its pause is not the one
        shown: one query a tick. A graph that asks again writes no checkpoint, and on a
        head older than the polling feed's write window nothing else would see the new
        question; the pause identity (checkpoint and interrupt ids) is what is compared."""
        open_thread = self.detail.thread_id if self.is_mounted else None
        if changed is None or not open_thread or open_thread in changed:
            return changed
        try:
            pause = await self._store.pending_thread(open_thread)
        except Exception as exc:
            if not is_outage(exc):
                raise
            return changed  # the next load says so
        shown = self.thread_by_id(open_thread)
        if _identity(pause) == _identity(shown):
            return changed
        return changed | {open_thread}

    def thread_by_id(self, thread_id: str) -> PendingThread | None:
        """The queue's current version of a thread, if it is pending.

        A scan (in C: ~2 ms at 100k rows) rather than a dict by id, which would cost
        ~5 MB at 100k rows for the few lookups a refresh or a filter change makes."""
        rows = self._all
        for thread in compress(rows, map(thread_id.__eq__, map(_THREAD_ID, rows))):
            return thread
        return None

    def threads_by_id(self, thread_ids: Collection[str]) -> dict[str, PendingThread]:
        """The current versions of those of `thread_ids` that are pending, in one scan."""
        wanted = set(thread_ids)
        return {t.thread_id: t for t in self._all if t.thread_id in wanted}

    def apply_filter(self, *, measure: bool = False) -> None:
        """Show `_all` through the filter (`measure`: size the columns to `_all` first)."""
        raise NotImplementedError

    def apply_changes(
        self, removed: Sequence[PendingThread], added: Sequence[PendingThread]
    ) -> None:
        """Take `removed` out of the queue and put `added` in, in place (main screen)."""
        raise NotImplementedError

    def after_load(self, *, full: bool) -> None:
        """Hook for the other parts (marks, conflicts); called after every good load."""

    # --- outages --------------------------------------------------------------------

    def outage(self, error: BaseException) -> None:
        """The database cannot be reached: banner, STALE, retry with backoff."""
        self._failures += 1
        if self.outage_since is None:
            self.outage_since = self._clock()
        self.outage_message = describe_error(error, self._redactor)[1]
        delay = retry_delay(self._failures, self._options.retry_delays)
        # the first page on screen (read before the app started) is the last queue read:
        # it stays, marked stale, like a full one
        shown = self._loaded or self._first_page_shown
        self.banner.show_outage(self.outage_since, self.outage_message,
                                None if self._live_running else delay, have_queue=shown)
        self.status.set(state="stale" if shown else "error")
        if not shown:
            failed = "The queue could not be loaded yet (retrying; ctrl+r retries now)."
            self.table.replace_rows([], empty_text=failed)
            self.detail.show_message(failed)
        if not self._live_running:
            if self._retry_timer is not None:
                self._retry_timer.stop()
            self._retry_timer = self.set_timer(delay, self.reload)

    def _recovered(self) -> None:
        self.status.set(refreshed_at=self._clock(), state="ok")
        if self.outage_since is None:
            return
        self.outage_since = None
        self._failures = 0
        self.banner.clear()
        self.notify("The database is reachable again; the queue is current.",
                    title="Reconnected", markup=False)

    # --- live refresh ---------------------------------------------------------------

    @work(name="live refresh", group=LIVE_GROUP, exclusive=True, exit_on_error=False)
    async def _live(self) -> None:
        interval = self._options.poll_interval
        factory = self._options.feed_factory or open_feed
        feed: Feed | None = None
        self._live_running = True
        try:
            await self._first_page()  # before the feed is open: see there
            while True:
                changed: set[str] | None = None
                if feed is None:
                    try:
                        feed = await factory(self._store, interval)
                    except Exception as exc:
                        if not is_outage(exc):
                            raise
                        self.status.set(live="connecting")
                        # Without a feed, still show whatever can be read (or why not).
                        if not await self.load_queue(None):
                            await asyncio.sleep(retry_delay(self._failures,
                                                            self._options.retry_delays))
                        else:
                            await asyncio.sleep(interval)
                        continue
                    self._feed = feed
                else:
                    changed = await feed.wait(interval)
                    self.status.set(live=feed_label(feed, interval))
                    if not feed.connected:
                        self.outage(DatabaseUnavailable(
                            f"{feed.problem or 'the connection was lost'}."))
                        continue
                    changed = await self.watch_decisions(changed)  # settled by workers
                    changed = await self._with_open_thread(changed)
                    if changed is not None:
                        # breakpoints whose grace period ended: time alone made them
                        # pending, and no feed (LISTEN included) reports that
                        changed |= set(self._store.due_breakpoints())
                    if self.outage_since is not None:
                        changed = None  # back after an outage: read everything
                    elif changed is not None and not changed:
                        continue
                self.status.set(live=feed_label(feed, interval))
                if not await self.load_queue(changed):
                    await asyncio.sleep(retry_delay(self._failures, self._options.retry_delays))
        finally:
            gc.enable()  # if the loop failed before its first load (see `load_queue`)
            self._live_running = False
            self._feed = None
            if feed is not None:
                # Shielded: this runs when the app cancels the loop on exit, and the
                # feed's own connection must still be closed properly.
                await asyncio.shield(feed.close())
