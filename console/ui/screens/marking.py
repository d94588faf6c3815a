"""Marks, bulk reject and bulk approve: `space`, `v`, `*`, `U`, then `R` with one reason,
or `A` where `[policy] bulk_approve` allows it.

Both dialogs say up front which marked pauses the decision cannot be made on, and why,
one line per reason (`core.ledger.bulk.bulk_plan`: a schema pause takes a value, policy
refuses, bulk approve is not allowed at that gate); those are not sent and stay marked.

Marks live in a `MarkBook` by thread and checkpoint (never by row), so they survive the
filter and every refresh; `reject_many` gets each mark's checkpoint as its `expect`, so
a thread that moved on since it was marked fails as a conflict instead of being rejected
on a state nobody saw. One failure never stops the rest.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from textual import work

from console.core.ledger.rows import DecisionType
from console.core.models import PendingThread
from console.ui.marks import Mark
from console.ui.screens.base import ScreenBase
from console.ui.screens.deciding import DECISION_GROUP
from console.ui.screens.decision_status import DECISION_FLAGS, DECISION_LEGEND
from console.ui.screens.presence import PRESENCE_FLAG

# The bulk dialogs and the bulk plan are imported where they are first used: the first
# frame is the queue (the screen's warm-up imports them in the background after it).
if TYPE_CHECKING:
    from console.core.ledger.apply import BulkResult
    from console.ui.modals.bulk import BulkProgressScreen

BULK_CONCURRENCY = 8
MARK_FLAGS = {"marked": "*", "stale": "?"}
# The `?` help's legend of the queue's flags column (and the age column's SLA mark).
FLAG_LEGEND: list[tuple[str, str]] = [
    ("*", "marked (on the checkpoint shown)"),
    ("?", "marked on an older checkpoint: rejecting it will conflict"),
    *DECISION_LEGEND,
    (PRESENCE_FLAG, "another reviewer has this thread open (advice: the ledger decides)"),
    ("1d!", "age past the SLA"),
]


class MarkingMixin(ScreenBase):
    """Marking rows and rejecting the marked threads together."""

    def row_flags(self, thread: PendingThread) -> str:
        """Two cells: the mark (`*` marked, `?` marked on an older checkpoint), then the
        pause's decision (`q` queued for a worker, `~` being applied, `!` a worker failed
        to apply it); see `FLAG_LEGEND`."""
        mark = MARK_FLAGS.get(self.marks.state(thread), " ")
        decision = self._open_decisions.get((thread.thread_id, thread.checkpoint_id), "")
        if not decision and self.others_reading(thread.thread_id):
            return mark + PRESENCE_FLAG  # another reviewer has it open (advice only)
        return mark + DECISION_FLAGS.get(decision, " ")

    def _marks_changed(self, thread_ids: Sequence[str] | None = None) -> None:
        self.table.refresh_rows(thread_ids)
        self.status.set(marked=len(self.marks))
        self.refresh_bindings()

    def action_mark(self) -> None:
        thread = self.table.selected
        if thread is None:
            return
        self.marks.toggle(thread)
        self._marks_changed([thread.thread_id])
        self.table.action_cursor_down()

    def action_mark_range(self) -> None:
        """Mark every row between the last toggled one and the cursor (both included)."""
        thread = self.table.selected
        if thread is None:
            return
        anchor = self.marks.anchor
        start = self.table.position(anchor) if anchor is not None else None
        if start is None:
            self.marks.toggle(thread)
            self._marks_changed([thread.thread_id])
            return
        end = self.table.cursor_row
        low, high = sorted((start, end))
        rows = list(self.table.rows[low:high + 1])
        self.marks.add(rows)
        self.marks.anchor = thread.thread_id
        self._marks_changed([r.thread_id for r in rows])
        self.notify(f"{len(rows)} rows marked ({len(self.marks)} in all).", markup=False)

    def action_mark_all(self) -> None:
        """Mark every thread shown (the filter applies); if all are marked, unmark them."""
        rows = list(self.table.rows)
        if not rows:
            return
        if all(r.thread_id in self.marks for r in rows):
            self.marks.remove(r.thread_id for r in rows)
            self.notify(f"{len(rows)} shown threads unmarked.", markup=False)
        else:
            added = self.marks.add(rows)
            self.notify(f"{added} threads marked ({len(self.marks)} in all).", markup=False)
        self._marks_changed()

    def action_unmark_all(self) -> None:
        count = len(self.marks)
        self.marks.clear()
        self._marks_changed()
        if count:
            self.notify(f"{count} marks cleared.", markup=False)

    def prune_marks(self) -> None:
        """After a full load: marks of threads no longer pending at all are dropped."""
        gone = self.marks.prune({t.thread_id for t in self._all})
        # A load that lands during this console's own bulk reject sees the threads it
        # just rejected gone: that is the reject's news (its summary), not a surprise.
        ours = {thread_id for thread_id, _ in self._own_moves}
        others = [m for m in gone if m.thread_id not in ours]
        if others:
            self.notify(f"{len(others)} marked thread(s) are no longer pending: unmarked.",
                        markup=False)
        if gone:
            self.status.set(marked=len(self.marks))

    # --- bulk reject --------------------------------------------------------------------

    def action_reject_marked(self) -> None:
        if self.busy:
            self.notify(f"Wait: {self.busy}.", severity="warning", markup=False)
            return
        if not self.marks:
            self.notify("Nothing is marked: mark threads with space, v or * first.",
                        severity="warning", markup=False)
            return
        marks = list(self.marks)
        heads = {t.thread_id: t.checkpoint_id for t in self._all}
        shown = {t.thread_id for t in self.table.rows}
        from console.core.ledger.bulk import bulk_plan
        from console.ui.modals.bulk import BulkRejectScreen

        plan = bulk_plan(self._decider, self._marked_pauses(marks), DecisionType.REJECT)
        dialog = BulkRejectScreen(
            len(marks), self.marks.breakdown(),
            hidden=self.marks.hidden(shown), stale=self.marks.stale(heads),
            refusals=[(r.reason, r.thread_ids) for r in plan.refusals])

        def confirmed(reason: str | None) -> None:
            if reason:
                # busy at once: see DecidingMixin._start
                self.set_busy(f"rejecting {len(marks)} marked threads")
                self._bulk_reject(marks, reason)

        self.app.push_screen(dialog, confirmed)

    def _marked_pauses(self, marks: list[Mark]) -> list[PendingThread]:
        """The pause each mark was made on (a mark keeps its row; else the queue's)."""
        rows = {t.thread_id: t for t in self._all} if any(m.thread is None for m in marks) \
            else {}
        found = (m.thread or rows.get(m.thread_id) for m in marks)
        return [p for p in found if p is not None]

    @work(name="bulk reject", group=DECISION_GROUP, exclusive=True, exit_on_error=False)
    async def _bulk_reject(self, marks: list[Mark], reason: str) -> None:
        # All are sent, those the dialog said cannot be rejected too: the core refuses
        # them, writing nothing but the audit of a policy refusal.
        from console.core.ledger.apply import BulkTarget, reject_many
        from console.ui.modals.bulk import BulkProgressScreen

        targets = [BulkTarget(m.thread_id, m.expect) for m in marks]

        progress = BulkProgressScreen(len(targets), reason, self._redactor)
        results = await self._run_bulk(
            marks, progress, "rejecting", lambda advance: reject_many(
                self._decider, targets, reason, concurrency=BULK_CONCURRENCY,
                progress=advance))
        progress.finish(results)
        self._bulk_done(marks, results)

    async def _run_bulk(
        self, marks: list[Mark], progress: BulkProgressScreen, doing: str,
        run: Callable[[Callable[[BulkResult, int, int], None]], Awaitable[list[BulkResult]]],
    ) -> list[BulkResult]:
        """One bulk decision on the marks: the progress dialog, the busy state, and the
        marks' pauses counted as this console's own moves while it runs."""
        await self.app.push_screen(progress)
        self.set_busy(f"{doing} {progress.total} marked threads")
        refs = {(m.thread_id, m.checkpoint_id) for m in marks}
        self._own_moves.update(refs)

        def advance(result: BulkResult, done: int, total: int) -> None:
            progress.advance(result, done, total)
            self.status.set(busy=f"{doing} marked threads {done}/{total}")

        try:
            return await run(advance)
        except BaseException:
            self._own_moves.difference_update(refs)
            raise
        finally:
            self.set_busy(None)

    def _bulk_done(self, marks: list[Mark], results: list[BulkResult], *,
                   verb: str = "reject") -> None:
        by_thread = {m.thread_id: m for m in marks}
        done_word = "approved" if verb == "approve" else "rejected"
        # queued (worker mode) is recorded, not done: it is said apart below; a recorded
        # approval waiting for more approvers is this reviewer's part done (unmarked)
        done = [r.thread_id for r in results
                if r.status in (done_word, "queued", "approval_recorded")]
        gone = {r.thread_id for r in results if r.status == done_word}
        queued = sum(1 for r in results if r.status == "queued")
        recorded = sum(1 for r in results if r.status == "approval_recorded")
        for result in results:
            mark = by_thread.get(result.thread_id)
            if result.thread_id not in gone and mark is not None:
                self._own_moves.discard((mark.thread_id, mark.checkpoint_id))
        self.marks.remove(done)
        for thread_id in done:
            self.drafts.discard_thread(thread_id)
        self._all = [t for t in self._all if t.thread_id not in gone]
        self.apply_filter()
        self._marks_changed()
        kept = len(results) - len(done)
        note = f"; {kept} not {done_word} stay marked" if kept else ""
        extra = [f"{queued} queued for a worker"] if queued else []
        if recorded:
            extra.append(f"{recorded} approvals recorded, waiting for more approvers")
        what = ", ".join([f"{len(gone)} of {len(results)} {done_word}", *extra])
        self.status.set(last=f"bulk {verb}: {what}")
        told = what if extra else f"{len(gone)} of {len(results)} threads {done_word}"
        self.notify(f"{told}{note}.", title=f"Bulk {verb}",
                    severity="warning" if kept else "information", markup=False)
        self.reload()

    # --- bulk approve -------------------------------------------------------------------

    def action_approve_marked(self) -> None:
        """`A`: approve the marked pauses where `[policy] bulk_approve` allows it."""
        if self.busy:
            self.notify(f"Wait: {self.busy}.", severity="warning", markup=False)
            return
        if not self._policy.bulk_approve:
            self.notify("Bulk approve is off: [policy] bulk_approve names no graph or gate. "
                        "Approve threads one by one, or ask for the gates to be named.",
                        title="No bulk approve", severity="warning", markup=False)
            return
        if not self.marks:
            self.notify("Nothing is marked: mark threads with space, v or * first.",
                        severity="warning", markup=False)
            return
        marks = list(self.marks)
        from console.core.ledger.bulk import bulk_plan
        from console.ui.modals.bulk import bulk_approve_text
        from console.ui.modals.confirm import ConfirmScreen

        plan = bulk_plan(self._decider, self._marked_pauses(marks), DecisionType.APPROVE)
        if not plan.groups:
            why = "; ".join(f"{len(r.thread_ids)}: {r.reason}" for r in plan.refusals)
            self.notify(f"None of the {len(marks)} marked threads may be bulk-approved ({why})",
                        title="No bulk approve", severity="warning", markup=False)
            return
        heads = {t.thread_id: t.checkpoint_id for t in self._all}
        shown = {t.thread_id for t in self.table.rows}
        body = bulk_approve_text(plan, count=len(marks), hidden=self.marks.hidden(shown),
                                 stale=self.marks.stale(heads), redactor=self._redactor)
        will = len(plan.thread_ids)

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.set_busy(f"approving {will} marked threads")
                self._bulk_approve(marks)

        self.app.push_screen(ConfirmScreen(f"Approve {will} marked threads?", body,
                                           yes_label=f"approve {will}"), confirmed)

    @work(name="bulk approve", group=DECISION_GROUP, exclusive=True, exit_on_error=False)
    async def _bulk_approve(self, marks: list[Mark]) -> None:
        # All marked pauses go to the core: it approves where bulk approve is allowed and
        # refuses the rest (four-eyes, rights: audited), as the dialog said up front.
        pauses = self._marked_pauses(marks)
        from console.core.ledger.bulk import approve_many
        from console.ui.modals.bulk import BulkProgressScreen

        progress = BulkProgressScreen(len(pauses), "", self._redactor, verb="Approving",
                                      done_word="approved")
        results = await self._run_bulk(
            marks, progress, "approving", lambda advance: approve_many(
                self._decider, pauses, expects={m.thread_id: m.expect for m in marks},
                concurrency=BULK_CONCURRENCY, progress=advance))
        for result in results:
            if result.status == "approval_recorded":
                pause = next(p for p in pauses if p.thread_id == result.thread_id)
                self.own_approval_recorded(pause, result.message)
        progress.finish(results)
        self._bulk_done(marks, results, verb="approve")
