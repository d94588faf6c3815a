"""Decisions recorded but not settled yet, and telling the reviewer how they end.

In worker mode a decision is only recorded (`queued`); a worker elsewhere claims it
(`claimed`), resumes the graph and settles it as `applied` or `failed`. The queue shows
each pause's state in the second flags cell (`DECISION_FLAGS`), and the reviewer is told
in words when a worker settles a decision, without reloading anything.

How this console notices, at the cost of one small query per live-refresh tick:
- the first full load reads the open decisions and the newest decision id (a watermark);
- then, on each live-refresh tick while decisions are open (always in worker mode, where
  other reviewers' decisions matter too), `LedgerDB.decisions_since` reads the open ones
  by id plus anything newer than the watermark: one statement on the primary key. An
  applied decision also moves the thread's head, so the change feed reports it anyway;
  a failed one leaves the head alone, and only this poll sees it.
A `failed` flag is kept (for this session) on the pause it failed on, until a new
decision opens on that pause or the thread leaves the queue or moves on.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from console.core.errors import RightsMissing, database_failure
from console.core.ledger.rows import LedgerRow
from console.ui.cell_text import one_line
from console.ui.live import is_outage
from console.ui.screens.base import ScreenBase

log = logging.getLogger(__name__)

OPEN_STATUSES = ("queued", "claimed", "in_flight")
# The queue's second flags cell, by decision status (ASCII: read the same in NO_COLOR,
# 16 colours and any font).
DECISION_FLAGS = {"queued": "q", "claimed": "~", "in_flight": "~", "failed": "!"}
DECISION_LEGEND = [
    ("q", "decision recorded, waiting for a worker (worker mode)"),
    ("~", "a decision is being applied (by this console or a worker)"),
    ("!", "a worker failed to apply the decision: still pending, decide again"),
]
# More settled decisions than this in one look: one summary instead of one toast each.
SUMMARY_OVER = 3
MESSAGE_CHARS = 300

Pause = tuple[str, str]  # (thread, checkpoint)
_WORKER_ID = re.compile(r"^(?P<host>.+):\d+:[^:]+$")


def worker_name(worker_id: str | None) -> str:
    """`host-1` for the default worker id `host-1:4711:ab12cd`; a custom id as it is."""
    if not worker_id:
        return "a worker"
    match = _WORKER_ID.match(worker_id)
    return f"worker {match.group('host') if match else worker_id}"


@dataclass(frozen=True, slots=True)
class Settled:
    """A decision this console saw open and that is now applied or failed."""

    row: LedgerRow
    before: str  # the status it had when last seen


class OpenDecisions:
    """What the ledger said last: open decisions by id, failed worker decisions by pause."""

    def __init__(self) -> None:
        self.tracked: dict[int, LedgerRow] = {}
        self.failed: dict[Pause, LedgerRow] = {}
        self.watermark: int | None = None  # newest decision id seen; None: not read yet

    def seed(self, rows: Iterable[LedgerRow], newest: int) -> None:
        self.tracked = {r.id: r for r in rows if r.status in OPEN_STATUSES}
        self.watermark = newest

    def absorb(self, rows: Iterable[LedgerRow], shown: dict[Pause, str]) -> list[Settled]:
        """Take in fresh rows; the decisions that settled since the last look. `shown`
        is what the queue shows now: a decision first seen already settled counts when
        its pause was shown open (this console's own, applied before any poll saw it)."""
        settled: list[Settled] = []
        for row in rows:
            self.watermark = max(self.watermark or 0, row.id)
            ref = (row.thread_id, row.checkpoint_id)
            known = self.tracked.get(row.id)
            if row.status in OPEN_STATUSES:
                self.tracked[row.id] = row
                self.failed.pop(ref, None)  # a new decision supersedes the failure
                continue
            self.tracked.pop(row.id, None)
            before = known.status if known is not None else shown.get(ref, "")
            if before not in OPEN_STATUSES:
                continue  # settled before this console saw it open: history, not news
            if row.status == "failed" and row.apply_mode == "worker":
                self.failed[ref] = row
            settled.append(Settled(row, before))
        return settled

    def statuses(self) -> dict[Pause, str]:
        """Each pause's flag status: an open decision, else a failure seen."""
        found = {ref: "failed" for ref in self.failed}
        for row in sorted(self.tracked.values(), key=lambda r: r.id):
            found[(row.thread_id, row.checkpoint_id)] = row.status
        return found

    def prune(self, pending: set[Pause]) -> None:
        """Forget failures on pauses that are no longer in the queue."""
        for ref in [r for r in self.failed if r not in pending]:
            del self.failed[ref]


class DecisionStatusMixin(ScreenBase):
    """Open decisions in the queue's flags, and news when a worker settles one."""

    decision_polls = 0  # ledger reads for decision statuses: lets tests see the cost
    ledger_unavailable: str | None = None  # why this role cannot read the ledger

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._decisions = OpenDecisions()
        self._decisions_lock = asyncio.Lock()  # a tick and a full load never both look
        self._decisions_looked = 0.0  # monotonic time of the last look
        self._decision_problem: str | None = None  # a non-outage failure, said once

    # --- called by the live mixin ---------------------------------------------------

    async def read_open_decisions(self) -> None:
        """On a full load: bring the decision flags up to date (errors propagate, so an
        unreachable database shows as an outage like the rest of the load). A role that
        may read the checkpoints but not the ledger still gets its queue: the flags are
        off, and a banner says why, once."""
        if self.ledger_unavailable is not None:
            return
        try:
            await self._look_at_decisions(full=True)
        except Exception as exc:
            refused = database_failure(exc, doing="read the decision ledger",
                                       kept="the queue is shown without decisions")
            if not isinstance(refused, RightsMissing):
                raise
            self.ledger_unavailable = str(refused)
            self.banner.show_notice(
                "DECISIONS AND FLAGS UNAVAILABLE",
                f"{str(refused).rstrip('.')}; approving, rejecting and the flags column "
                "stay off until then.")

    async def watch_decisions(self, changed: set[str] | None) -> set[str] | None:
        """On a live-refresh tick: look at the open decisions if it is time (or if the
        feed names one of their threads); returns `changed` plus the threads whose
        decisions were applied, so the queue re-reads them even before the feed does."""
        if self.ledger_unavailable is not None or not self._watching(changed):
            return changed
        try:
            applied = await self._look_at_decisions(full=False)
        except Exception as exc:
            if not is_outage(exc):
                problem = f"{type(exc).__name__}: {exc}"
                log.warning("reading decision statuses failed: %s", problem)
                if problem != self._decision_problem:
                    self._decision_problem = problem
                    self.notify(f"Decision statuses could not be read: {one_line(problem)}",
                                title="Ledger", severity="warning", markup=False)
            return changed  # an outage: the load that follows says so
        if changed is None or not applied:
            return changed
        return changed | applied

    def _watching(self, changed: set[str] | None) -> bool:
        decisions = self._decisions
        if not (decisions.tracked or self._open_decisions or self._decider.worker_mode):
            return False
        if changed and any(r.thread_id in changed for r in decisions.tracked.values()):
            return True
        interval = self._options.poll_interval
        return time.monotonic() - self._decisions_looked >= interval * 0.9

    # --- the look -------------------------------------------------------------------

    async def _look_at_decisions(self, *, full: bool) -> set[str]:
        """Read what changed; returns the threads whose decisions were applied.

        A tick reads the tracked decisions by id and everything above the watermark. A
        full load also re-reads every open decision: on Postgres ids are taken at insert
        but committed in any order, so a decision can commit below the watermark.
        """
        async with self._decisions_lock:
            self._decisions_looked = time.monotonic()
            ledger = self._decider.ledger
            decisions = self._decisions
            if not self._ledger_ready:
                self._ledger_ready = await ledger.installed()
                if not self._ledger_ready:
                    # Created later (by this console's first decision): read it all then.
                    decisions.watermark = 0
                    return set()
            self.decision_polls += 1
            settled: list[Settled] = []
            rows: list[LedgerRow] = []
            if decisions.watermark is None:
                newest = await ledger.newest_decision_id()  # first: nothing slips between
                decisions.seed(await ledger.rows(statuses=list(OPEN_STATUSES)), newest)
            else:
                rows = await ledger.rows(statuses=list(OPEN_STATUSES)) if full else []
                # read second: where both name a decision, this is the fresher row
                rows += await ledger.decisions_since(list(decisions.tracked),
                                                     decisions.watermark)
                settled = decisions.absorb(rows, self._open_decisions)
            if full and decisions.failed:
                # memory only: a flag on a pause that is gone has no row to show on
                decisions.prune({(t.thread_id, t.checkpoint_id) for t in self._all})
            self._show_flags({(s.row.thread_id, s.row.checkpoint_id) for s in settled},
                             full=full)
            if settled:
                self._tell(settled)
            for row in rows:
                self._redraw_decisions(row)
            return {s.row.thread_id for s in settled if s.row.status == "applied"}

    def _show_flags(self, settled: set[Pause], *, full: bool) -> None:
        found = self._decisions.statuses()
        # This console's own decision may be shown before a read saw its row: being
        # applied inline (not committed yet), or queued just after a tick's read began.
        # A full load read every open decision: only the uncommitted inline one stays.
        keep = ("in_flight",) if full else OPEN_STATUSES
        for ref, status in self._open_decisions.items():
            if ref in self._own_moves and status in keep and ref not in settled:
                found.setdefault(ref, status)
        changed = {ref[0] for ref, _ in set(found.items()) ^ set(self._open_decisions.items())}
        self._open_decisions = found
        if changed and self.is_mounted:
            self.table.refresh_rows(sorted(changed))

    # --- telling the reviewer -------------------------------------------------------

    def _tell(self, settled: list[Settled]) -> None:
        for item in settled:
            if item.row.status == "failed":
                # the pause is free again: a move of this thread is no longer ours
                self._own_moves.discard((item.row.thread_id, item.row.checkpoint_id))
        news = [s for s in settled if s.row.apply_mode == "worker"]
        if not news:
            return  # inline decisions: the console that made them says so
        if len(news) > SUMMARY_OVER:
            self._tell_summary(news)
            return
        for item in news:
            row = item.row
            thread = self._thread_name(row.thread_id)
            if row.status == "applied":
                extra = row.outcome.partition("; ")[2] if row.outcome else ""
                message = f"Applied by {worker_name(row.claimed_by)}: {row.decision} on {thread}"
                message += f" ({self._said(extra)})." if extra else "."
                self.notify(message, title="Applied", markup=False)
                self.status.set(last=f"worker applied {row.decision}: {row.thread_id}")
            else:
                who = worker_name(row.claimed_by)
                why = self._said(row.outcome or "no reason recorded")
                message = (f"{who[0].upper()}{who[1:]} failed to apply {row.decision} on "
                           f"{thread}: {why}; {self._still(row)}")
                self.notify(message, title="Worker failed", severity="error", markup=False,
                            timeout=30)
                self.status.set(last=f"worker failed {row.decision}: {row.thread_id}")

    def _tell_summary(self, news: list[Settled]) -> None:
        applied = [s.row for s in news if s.row.status == "applied"]
        failed = [s.row for s in news if s.row.status != "applied"]
        message = f"{len(news)} decisions settled by workers: {len(applied)} applied"
        if failed:
            names = ", ".join(self._thread_name(r.thread_id) for r in failed[:3])
            more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
            message += (f", {len(failed)} failed ({names}{more}); a failed thread stays "
                        "pending: open it for the reason, then decide again.")
        else:
            message += "."
        self.notify(message, title="Workers", severity="error" if failed else "information",
                    markup=False, timeout=30 if failed else 5)
        self.status.set(last=f"workers: {len(applied)} applied, {len(failed)} failed")

    def _still(self, row: LedgerRow) -> str:
        pause = next((t for t in self._all if t.thread_id == row.thread_id), None)
        if pause is not None and pause.checkpoint_id == row.checkpoint_id:
            return "the thread is still pending (decide again)."
        return "the thread has moved on since."

    def _thread_name(self, thread_id: str) -> str:
        return one_line(thread_id)

    def _said(self, text: str) -> str:
        said = one_line(self._redactor.redact_text(text)).rstrip(". ")
        return said if len(said) <= MESSAGE_CHARS else said[:MESSAGE_CHARS - 3] + "..."

    # --- the detail pane ------------------------------------------------------------

    def _redraw_decisions(self, row: LedgerRow) -> None:
        """Keep the thread's cached ledger rows current with `row`; if the detail pane
        shows that thread, its decision line and history follow (no extra read)."""
        rows = self._ledger_rows.get(row.thread_id)
        if rows is None:
            return  # never shown: its next fetch reads the ledger
        if any(r.id == row.id for r in rows):
            rows = tuple(row if r.id == row.id else r for r in rows)
        else:
            rows = tuple(sorted((*rows, row), key=lambda r: r.id))
        self._ledger_rows[row.thread_id] = rows
        if self.is_mounted and self.detail.thread_id == row.thread_id:
            self.detail.show_decisions(rows)  # a no-op when nothing changed
