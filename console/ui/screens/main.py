"""The main screen: queue, detail pane, filter, banner, status line and footer.

Data flow (attributes go down, messages come up):
- the queue is read whole into memory (`live.LiveMixin`: first load, live refresh from
  the change feed, outages); the filter narrows that list in memory with the core's own
  `matches` and `search_text` (`QueueSearch`: texts computed once per row, results
  narrowed while the query grows), so the queue and `hitl-console pending --search`
  agree on what it means; a live refresh changes the rows in place;
- `QueueTable.Highlighted` starts a timer; only when the cursor has rested
  `detail_delay` seconds does a `bundle` worker (exclusive: the previous fetch is
  cancelled) load the thread, so holding `j` does not repaint the pane on every row;
- decisions (`deciding.DecidingMixin`) and marks with bulk reject
  (`marking.MarkingMixin`) run in the `decision` worker group, one at a time;
- failures are shown as words (`report_error`, the banner), never as a traceback.

Below `WIDE` columns the panes are stacked, and on a short terminal (under `TALL` rows,
e.g. 80x24 over ssh) they take turns: the queue alone, full height, and `enter` opens
the detail full height (`esc`/`tab` back). A cursor move then repaints two queue lines
(a few hundred bytes), not a detail pane too.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from console.core.ledger.rows import LedgerRow
from console.core.models import PendingThread
from console.core.store.heads import matches
from console.ui.actions import ACTIONS, actions_text
from console.ui.cell_text import one_line
from console.ui.errors import describe_error
from console.ui.filter_query import SYNTAX_HINT, parse_filter
from console.ui.keys import key_rows
from console.ui.screens.base import BUNDLE_CACHE_SIZE, bundle_key
from console.ui.screens.deciding import CONFLICT_GROUP, DECISION_GROUP
from console.ui.screens.flow import FLOW_ACTIONS, FLOW_BINDINGS, FlowMixin
from console.ui.screens.live import LIVE_GROUP, QUEUE_GROUP, LiveMixin
from console.ui.screens.marking import FLAG_LEGEND, MarkingMixin
from console.ui.screens.presence import PresenceMixin
from console.ui.widgets.banner import Banner
from console.ui.widgets.detail import TAB_BINDINGS, DetailPane
from console.ui.widgets.filter_bar import FilterBar
from console.ui.widgets.queue_table import QueueTable
from console.ui.widgets.status_line import StatusInfo, StatusLine

if TYPE_CHECKING:
    from console.ui.modals.help import Section

BUNDLE_GROUP = "bundle"
SEARCH_GROUP = "search index"
SEARCH_STEP = 500  # rows indexed between two looks at the keyboard (~5-10 ms)
WIDE = 150  # columns from which queue and detail sit side by side
TALL = 32  # rows from which narrower screens stack them (below: one pane at a time)

# Actions that need a selected, decidable thread (disabled in the footer otherwise).
_THREAD_ACTIONS = {"approve", "reject", "respond", "edit"}
# What each key does, for the footer, `?` help and the command palette (one source).
DECISION_BINDINGS: list[BindingType] = [
    Binding("a", "approve", "Approve", id="main.approve"),
    Binding("r", "reject", "Reject", id="main.reject"),
    Binding("m", "respond", "Respond", id="main.respond"),
    Binding("e", "edit", "Edit", id="main.edit"),
    Binding("i", "decide_items", "Decide item by item (several interrupts)", show=False,
            id="main.items"),
    Binding("V", "reveal", "Reveal a redacted value (audited)", show=False, id="main.reveal"),
]
MARK_BINDINGS: list[BindingType] = [
    Binding("space", "mark", "Mark", key_display="space", id="main.mark"),
    Binding("v", "mark_range", "Mark range (last marked row to here)", show=False,
            id="main.mark_range"),
    Binding("asterisk", "mark_all", "Mark all shown (again: unmark them)", key_display="*",
            show=False, id="main.mark_all"),
    Binding("U", "unmark_all", "Unmark all", show=False, id="main.unmark_all"),
    Binding("R", "reject_marked", "Bulk reject", tooltip="Reject marked threads",
            id="main.reject_marked"),
    Binding("A", "approve_marked", "Bulk approve marked threads (where [policy] "
            "bulk_approve allows it)", show=False, id="main.approve_marked"),
]
VIEW_BINDINGS: list[BindingType] = [
    Binding("slash", "open_filter", "Filter", key_display="/", id="main.filter"),
    Binding("tab", "switch_pane", "Switch pane", show=False, id="main.switch_pane"),
    Binding("ctrl+r", "reload", "Reload", show=False, id="main.reload"),
    Binding("escape", "back", "Back / clear filter", show=False, id="main.back"),
]


class MainScreen(LiveMixin, MarkingMixin, FlowMixin, PresenceMixin):
    """Triage: pick a paused thread from the queue, read its review bundle, decide."""

    AUTO_FOCUS = "#queue"
    # No ClassVar annotation: Textual's Screen declares this one as an instance variable.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-short"), (TALL, "-tall")]  # noqa: RUF012
    BINDINGS: ClassVar[list[BindingType]] = [
        *DECISION_BINDINGS, *FLOW_BINDINGS, *MARK_BINDINGS, *VIEW_BINDINGS, *TAB_BINDINGS]

    def compose(self) -> ComposeResult:
        sla = self._settings.sla_seconds
        yield Banner(id="banner")
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
            redactor=self._redactor, id="status",
        )
        # The palette key is one of the app's bindings (with an id); the footer's own
        # palette hint would repeat it, drawn with a block glyph some fonts lack.
        yield Footer(show_command_palette=False, compact=True)

    def on_mount(self) -> None:
        self.query_one(FilterBar).display = False
        self.table.flags = self.row_flags
        self.table.locate = self.thread_by_id
        # A watcher runs as the input's key is handled, so the typed character and the
        # narrowed queue reach the screen in one frame; the bar's `Changed` message
        # comes a frame (~17 ms at Textual's 60 fps) later and finds it done.
        self.watch(self.filter_bar.input, "value", self._filter_typed, init=False)
        self.detail.show_message("Loading the queue...")
        if self._prefetched:
            self.show_first_page(self._prefetched)
        if self._options.tick_interval > 0:
            # Ages only change by the minute past the first one: a slow repaint is enough.
            self.set_interval(self._options.tick_interval, self._tick)
        # The database work starts once the first frame is on the terminal: on Postgres
        # it first imports the driver and opens the store (`LateStore`), ~100 ms the
        # first frame does not wait for.
        self.call_after_refresh(self._start_database_work)

    def _start_database_work(self) -> None:
        self.start_loading()
        self.start_presence()

    # --- queue ----------------------------------------------------------------------

    def apply_filter(self, *, measure: bool = False) -> None:
        if measure:
            self.table.measure(self._all)  # columns fit every row, filtered or not
        query = self._query
        if query.active:
            shown = self._search.select(self._all, query.filter, self._clock())
            empty = "No pending thread matches the filter (esc clears it)."
        else:
            shown = self._all
            empty = "No thread is waiting for a human."
        self.table.replace_rows(shown, empty_text=empty, measure=False)
        if not shown:
            # An empty table highlights nothing, so no Highlighted message says this.
            self._show_empty()
        self._counts_changed()
        self.refresh_bindings()

    def apply_changes(
        self, removed: Sequence[PendingThread], added: Sequence[PendingThread]
    ) -> None:
        """A live refresh: rows out and in by bisection, in `_all`, its search texts and
        the table; nothing else is rebuilt, whatever the size of the queue."""
        rows = self._all
        for thread in removed:
            index = bisect_left(rows, thread.sort_key(), key=PendingThread.sort_key)
            if index < len(rows) and rows[index].thread_id == thread.thread_id:
                del rows[index]
                self._search.removed(rows, index)
        for thread in added:
            index = bisect_left(rows, thread.sort_key(), key=PendingThread.sort_key)
            rows.insert(index, thread)
            self._search.inserted(rows, index)
        query = self._query
        if query.active:
            now = self._clock()
            added = [t for t in added if matches(t, query.filter, now)]
        self.table.change_rows(removed, added)
        if not self.table.row_count:
            self._show_empty()
        self._counts_changed()

    def _show_empty(self) -> None:
        """The detail says the queue (as filtered) is empty, unless the reviewer is
        reading a thread there: `check_watched` then says who moved it first (with a
        filter that left one thread, a CLI approve emptied the table and the words
        replaced the detail before any dialog), and the words follow the dialog."""
        if self.watched() is None:
            self.detail.show_message(self.table.empty_text)

    def _counts_changed(self) -> None:
        shown, total = self.table.row_count, len(self._all)
        self.status.set(total=total, shown=shown)
        query = self._query
        note = "; ".join(query.problems) if query.problems else f"{shown} of {total}"
        self.filter_bar.set_note(note if query.text else "")

    def after_load(self, *, full: bool) -> None:
        if full:
            self.prune_marks()
            self._index_search()
        self.check_watched()

    @work(name="search index", group=SEARCH_GROUP, exclusive=True, exit_on_error=False)
    async def _index_search(self) -> None:
        """Compute the rows' search texts in small steps, so `/` is ready at once."""
        while not self._search.index_step(self._all, SEARCH_STEP):
            await asyncio.sleep(0)  # keys and repaints go first

    def check_watched(self) -> None:
        """If the pause the reviewer is acting on or reading has moved on: the dialog."""
        watched = self.watched()
        if watched is None:
            return
        thread_id, seen, seen_ids = watched
        if (thread_id, seen) in self._own_moves:
            return
        row = self.thread_by_id(thread_id)
        if row is not None and (row.checkpoint_id, row.interrupt_ids) == (seen, seen_ids):
            return
        if (thread_id, seen, seen_ids) in self._conflicts_shown:
            return  # the reviewer was told already that this pause is gone
        self._conflicts_shown.add((thread_id, seen, seen_ids))
        # The words come from the dialog's own read (`moved_words`): by then the head may
        # have moved, or the same checkpoint asks again.
        self.show_conflict(thread_id, seen, seen_ids, None)

    def _tick(self) -> None:
        self.table.refresh()

    # --- detail ---------------------------------------------------------------------

    @on(QueueTable.Highlighted, "#queue")
    def _highlighted(self, event: QueueTable.Highlighted) -> None:
        self.refresh_bindings()
        if self._detail_timer is not None:
            self._detail_timer.stop()
            self._detail_timer = None
        if event.thread is None:
            self.workers.cancel_group(self, BUNDLE_GROUP)
            self.detail.show_message(self.table.empty_text)
            return
        if self._options.detail_delay <= 0:
            self.show_selected()
        else:
            self._detail_timer = self.set_timer(self._options.detail_delay, self.show_selected)

    @on(QueueTable.Opened, "#queue")
    def _opened(self, event: QueueTable.Opened) -> None:
        if self._detail_timer is not None:
            self._detail_timer.stop()
            self._detail_timer = None
        self.show_selected()
        self.detail.focus()  # on a short screen, this brings the detail up (`_focused`)

    def show_selected(self) -> None:
        self._detail_timer = None
        thread = self.table.selected
        if thread is None or self.detail.shows(thread):
            return
        if self._bundle_target == thread and any(
                w.is_running for w in self.workers if w.group == BUNDLE_GROUP):
            return  # already on its way (opened by a key, then the cursor came to rest)
        key = (thread.thread_id, thread.checkpoint_id, thread.interrupt_ids)
        cached = self._bundles.get(key)
        if cached is not None:
            self._bundles.move_to_end(key)
            self._show_bundle(thread)
            return
        self.bundle_loads += 1
        self._bundle_target = thread
        self._fetch_bundle(thread)

    def _show_bundle(self, thread: PendingThread) -> None:
        bundle = self._bundles.get((thread.thread_id, thread.checkpoint_id, thread.interrupt_ids))
        if bundle is None:
            return
        actions = actions_text(self.action_states(thread)) if bundle.pending else None
        self.detail.show_bundle(bundle, thread, actions=actions,
                                decisions=self._ledger_rows.get(thread.thread_id, ()))

    @work(name="review bundle", group=BUNDLE_GROUP, exclusive=True, exit_on_error=False)
    async def _fetch_bundle(self, thread: PendingThread) -> None:
        bundle = await self._store.bundle(thread.thread_id, now=self._clock())
        rows: tuple[LedgerRow, ...] = ()
        if self._ledger_ready or await self._decider.ledger.installed():
            self._ledger_ready = True
            rows = tuple(await self._decider.ledger.rows(thread_id=thread.thread_id))
        self._ledger_rows[thread.thread_id] = rows
        self._bundles[bundle_key(bundle)] = bundle
        while len(self._bundles) > BUNDLE_CACHE_SIZE:
            self._bundles.popitem(last=False)
        selected = self.table.selected
        if selected is not None and selected.thread_id == thread.thread_id \
                and not selected.checkpoint_id and bundle.pending is not None \
                and bundle.pending.interrupt_ids == selected.interrupt_ids:
            # A row listed before its checkpoint was known (an Agent Server's listing):
            # the bundle read it, so the row becomes the exact pause, not a moved one.
            self.apply_changes([selected], [bundle.pending])
            selected = self.table.selected
        if selected is not None and selected.thread_id == thread.thread_id:
            if bundle_key(bundle) != (selected.thread_id, selected.checkpoint_id,
                                      selected.interrupt_ids):
                # The thread moved between the queue's read and this one: show what was
                # read (flagged as moved on), under the checkpoint it was read at.
                self.detail.show_bundle(bundle, selected)
            else:
                self._show_bundle(selected)
        self.refresh_bindings()

    # --- failures -------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place where worker failures become something the reviewer can read."""
        worker = event.worker
        if event.state is not WorkerState.ERROR or worker.error is None:
            return
        error = worker.error
        from console.ui.modals.error import report_error  # on a failure, not at start

        if worker.group == BUNDLE_GROUP:
            # One thread failed to load: say so where the thread would be; the queue
            # is still usable, so no modal. (The group is exclusive, so the failed
            # fetch is the latest one started.)
            if self._bundle_target is not None:
                thread_id = self._bundle_target.thread_id
                message = describe_error(error, self._redactor)[1]
                self.detail.show_error(thread_id, message)
            report_error(self.app, error, redactor=self._redactor, modal=False)
            return
        if worker.group in (DECISION_GROUP, CONFLICT_GROUP):
            self._attempt = None
            self.set_busy(None)
            report_error(self.app, error, redactor=self._redactor)
            return
        if worker.group in (QUEUE_GROUP, LIVE_GROUP):
            self.status.set(state="stale" if self._loaded else "error")
            if not self._all:
                failed = "The queue could not be loaded (ctrl+r retries)."
                self.table.replace_rows([], empty_text=failed)
                self.detail.show_message(failed)
        report_error(self.app, error, redactor=self._redactor)

    # --- keys -----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Disable (not hide) what cannot be done now, so the footer stays in place."""
        if action in _THREAD_ACTIONS:
            thread = self.table.selected if self.is_mounted else None
            if self.busy or thread is None:
                return None
            return True if self.action_states(thread)[action].allowed else None
        if action == "decide_items":
            thread = self.table.selected if self.is_mounted else None
            if self.busy or thread is None:
                return None
            return None if self.items_refusal(thread) else True
        if action in FLOW_ACTIONS:
            return True if self.is_mounted and self.flow_allowed() else None
        if action == "approve_marked":
            return None if self.busy else True  # the action says why it cannot run
        if action == "reject_marked":
            if self._settings.reviewer in self._policy.read_only:
                return None
            return None if self.busy or not self.marks else True
        return True

    def explain_refused_key(self, key: str) -> bool:
        """Whether `key` is a decision key that cannot run here; if so, say why (the app
        calls this for each key no widget took: `check_action` dims a refused decision in
        the footer, and Textual drops its key without a word, so `m` looked ignored). The
        key is looked up as the keymap binds it: a key remapped away is no decision key."""
        bound = self.active_bindings.get(key)
        if bound is None or bound.node is not self or bound.enabled:
            return False
        if bound.binding.action not in _THREAD_ACTIONS:
            return False
        self._target(bound.binding.action)  # tells what stops it, runs nothing
        return True

    def action_reload(self) -> None:
        self.reload()

    @work(name="reconcile", group=DECISION_GROUP, exclusive=True, exit_on_error=False)
    async def action_reconcile(self) -> None:
        """Settle decisions a crashed console, CLI or worker left in flight, as
        `hitl-console reconcile` does: from what the thread's rows say, never re-running
        anything (palette only: rare, and not for a stray key)."""
        from console.ui.modals.error import report_error

        why = self._decider.nothing_to_reconcile
        if why is not None:
            self.notify(why, title="Reconcile", markup=False)
            return
        try:
            settled = await self._decider.reconcile()
        except Exception as exc:
            report_error(self.app, exc, redactor=self._redactor)
            return
        if not settled:
            self.notify("Nothing to reconcile: no decision was left in flight.",
                        title="Reconcile", markup=False)
            return
        lines = [f"#{s.row.id} {one_line(s.row.thread_id)}: {s.status}: "
                 f"{one_line(self._redactor.redact_text(s.outcome))}" for s in settled]
        self.notify("\n".join(lines[:5]) + (f"\n... and {len(lines) - 5} more"
                                              if len(lines) > 5 else ""),
                    title=f"Reconciled {len(settled)}", markup=False, timeout=10)
        self.status.set(last=f"reconcile: {len(settled)} settled")
        self.reload()

    def action_switch_pane(self) -> None:
        if self.table.has_focus:
            if self.one_pane:
                self.show_selected()  # the pane comes up: show what it is about now
            self.detail.focus()
        else:
            self.table.focus()

    @property
    def one_pane(self) -> bool:
        """Whether the screen is too small for both panes: they take turns."""
        return self.has_class("-narrow") and self.has_class("-short")

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        # On a short screen the focused pane is the one shown; anything else (the
        # filter) is about the queue.
        self.set_class(event.widget is self.detail, "-reading")

    def refresh_bindings(self) -> None:
        """Tell the footer only when what it shows changed: it redraws itself whole, and
        on every cursor move that was ~700 bytes on the wire for the same keys."""
        shown = (self.app.app_focus, self.focused, tuple(
            (key, active.binding.action, active.binding.description, active.enabled)
            for key, active in self.active_bindings.items()))
        if shown == self._footer_shown:
            return
        self._footer_shown = shown
        super().refresh_bindings()

    def action_back(self) -> None:
        """esc: from the detail pane back to the queue, else clear an active filter."""
        if not self.table.has_focus:
            self.table.focus()
        elif self._query.text:
            self.filter_bar.clear()

    def _filter_typed(self, value: str) -> None:
        self._query = parse_filter(value)
        self.apply_filter()

    # The detail pane's tab keys work from the queue too (the pane has them as well).
    def action_detail_tab(self, tab: str) -> None:
        self.detail.action_detail_tab(tab)

    def action_detail_raw(self) -> None:
        self.detail.action_detail_raw()

    def action_open_filter(self) -> None:
        self._search.prepare(self._all)  # now, so the first keystroke does not pay for it
        self.filter_bar.open(back_to=self.table)

    @on(FilterBar.Left, "#filter")
    def _filter_left(self, event: FilterBar.Left) -> None:
        # `FilterBar.leave` gave the focus back already, while the key was handled; by
        # now a key typed after it may have moved it on (enter enter: to the detail),
        # which this late message must not undo
        focused = self.focused
        if focused is None or self.filter_bar in focused.ancestors_with_self:
            self.table.focus()

    # --- help and palette -----------------------------------------------------------

    def help_sections(self, keymap: dict[str, str]) -> list[Section]:
        """The keys of this screen, for the help modal (most used first)."""
        app = self.app
        return [
            ("Deciding on the selected thread", key_rows(app, DECISION_BINDINGS, keymap)),
            ("Next thread (from the detail or the queue)",
             key_rows(app, FLOW_BINDINGS, keymap)),
            ("Marks, bulk reject and bulk approve", key_rows(app, MARK_BINDINGS, keymap)),
            ("Everywhere", key_rows(app, [*VIEW_BINDINGS, *app.BINDINGS], keymap)),
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
            ("Queue flags", FLAG_LEGEND),
        ]

    def palette_commands(self) -> list[tuple[str, str, str, bool]]:
        """(title, help, action, enabled) for the command palette, one per key."""
        out = []
        for group in (DECISION_BINDINGS, FLOW_BINDINGS, MARK_BINDINGS, VIEW_BINDINGS,
                      TAB_BINDINGS):
            for binding in group:
                assert isinstance(binding, Binding)
                if binding.action == "back":
                    continue
                enabled = self.check_action(binding.action, ()) is True
                why = ""
                thread = self.table.selected
                if not enabled and binding.action in ACTIONS and thread is not None:
                    why = self.action_states(thread)[binding.action].reason
                elif not enabled and self.busy:
                    why = f"busy: {self.busy}"
                elif not enabled and self._settings.reviewer in self._policy.read_only:
                    why = f"{self._settings.reviewer} is a read-only reviewer"
                key = self.app.get_key_display(binding)
                help_text = f"key {key}" + (f"; unavailable: {why}" if why else "")
                out.append((binding.description, help_text, binding.action, enabled))
        out.append(("Reconcile in-flight decisions",
                    "settle decisions a crashed console or CLI left in flight, from the "
                    "threads' rows (like `hitl-console reconcile`)", "reconcile",
                    self.ledger_unavailable is None))
        return out
