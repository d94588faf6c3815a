"""Bulk reject: the confirm dialog (count, breakdown, hidden marks, one reason) and the
progress screen that turns into a scrollable result summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.core.ledger.apply import BulkResult
from console.core.ledger.bulk import BulkPlan
from console.core.redact import Redactor
from console.ui.cell_text import one_line
from console.ui.widgets.inputs import Input
from console.ui.widgets.scrollbars import use_cell_scrollbars

# Result statuses in the order the summary lists them: what needs a look first.
STATUS_ORDER = ("failed", "conflict", "not_pending", "refused", "stalled", "queued",
                "approval_recorded", "rejected", "approved")
STATUS_TITLES = {
    "failed": "Failed",
    "conflict": "Conflict (moved on or decided elsewhere)",
    "not_pending": "Not pending",
    "refused": "Refused",
    "stalled": "Delivered, but the run stopped",
    # worker mode: recorded, not applied yet; never counted as rejected
    "queued": "Queued for a worker",
    "approval_recorded": "Approval recorded, waiting for more approvers",
    "rejected": "Rejected",
    "approved": "Approved",
}
# Statuses whose lines need no message: the title says it all.
_QUIET = ("rejected", "approved", "queued")
MAX_REFUSED_IDS = 3
BAR_WIDTH = 40
MAX_GATES = 20


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """`[#########.......] 9/16`, in ASCII (block glyphs are not in every ssh font)."""
    filled = 0 if total <= 0 else round(width * done / total)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def _redactor(screen: ModalScreen[Any]) -> Redactor:
    """The app's redactor (its `[redaction]` rules and fingerprint key)."""
    found = getattr(screen.app, "redactor", None)
    return found if isinstance(found, Redactor) else Redactor()


def counts_line(results: Sequence[BulkResult], done_word: str = "rejected") -> str:
    counts = Counter(r.status for r in results)
    return " | ".join(f"{status.replace('_', ' ')} {counts[status]}"
                      for status in STATUS_ORDER
                      if counts[status] or (status == done_word and not counts["queued"]))


def refusal_lines(refusals: Sequence[tuple[str, Sequence[str]]], redactor: Redactor) -> Text:
    """One line per reason: how many, why, and the first few threads."""
    out = Text()
    for reason, ids in refusals:
        shown = ", ".join(one_line(i) for i in ids[:MAX_REFUSED_IDS])
        more = f" and {len(ids) - MAX_REFUSED_IDS} more" if len(ids) > MAX_REFUSED_IDS else ""
        # The section says nothing was sent; the core's closing sentence would only wrap.
        said = reason.removesuffix(" Nothing was written.")
        out.append(f"  {len(ids):>5}  ", style="bold")
        out.append(f"{one_line(redactor.redact_text(said))} ({shown}{more})\n")
    return out


class BulkRejectScreen(ModalScreen[str | None]):
    """What will be rejected, then the reason, then y/n. Dismisses with the reason."""

    AUTO_FOCUS = "#bulk-reason"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "yes", "Reject all", id="bulk.yes"),
        Binding("n", "back", "Back", id="bulk.back"),
        Binding("escape", "cancel", "Cancel", id="bulk.cancel"),
    ]

    def __init__(self, count: int, breakdown: Sequence[tuple[str, int]], *, hidden: int,
                 stale: int, gone: int = 0,
                 refusals: Sequence[tuple[str, Sequence[str]]] = ()) -> None:
        super().__init__()
        self.count = count
        self.refusals = refusals  # (reason, thread ids) that cannot be rejected
        self.refused = sum(len(ids) for _, ids in refusals)
        self.breakdown = breakdown
        self.hidden = hidden
        self.stale = stale
        self.gone = gone
        self.reason = ""
        self.confirming = False

    @property
    def will(self) -> int:
        """How many marked pauses the rejection will be sent to."""
        return self.count - self.refused

    def summary(self) -> Text:
        out = Text()
        out.append(f"{self.count} marked thread{'s' if self.count != 1 else ''}", style="bold")
        if self.refused:
            out.append(f": {self.count - self.refused} will be rejected, each on the checkpoint "
                       "it was marked on; ")
            out.append(f"{self.refused} cannot be rejected", style="bold")
            out.append(" and stay marked:\n")
            out.append_text(refusal_lines(self.refusals, _redactor(self)))
        else:
            out.append(" will be rejected, each on the checkpoint it was marked on.\n")
        if self.hidden:
            out.append(f"{self.hidden} of them hidden by the filter.\n", style="bold")
        else:
            out.append("None hidden by the filter.\n")
        if self.stale:
            out.append(f"{self.stale} moved on since marked: they will fail as conflicts.\n",
                       style="bold")
        out.append("By graph/node:\n")
        for gate, count in self.breakdown[:MAX_GATES]:
            out.append(f"  {count:>5}  {one_line(gate)}\n")
        if len(self.breakdown) > MAX_GATES:
            rest = sum(count for _, count in self.breakdown[MAX_GATES:])
            out.append(f"  {rest:>5}  ... {len(self.breakdown) - MAX_GATES} more gates\n")
        return out

    def compose(self) -> ComposeResult:
        with Vertical(id="bulk-box"):
            yield Static(Text("Reject marked threads"), id="bulk-title")
            with VerticalScroll(id="bulk-summary-scroll"):
                yield Static(self.summary(), id="bulk-summary")
            yield Static(Text("Reason for all of them (required; recorded in the ledger):"),
                         id="bulk-label")
            yield Input(id="bulk-reason", compact=True, select_on_focus=False)
            yield Static("", id="bulk-error")
            yield Static(Text("enter: continue   esc: cancel"), id="bulk-hint")

    def on_mount(self) -> None:
        use_cell_scrollbars(self.query_one("#bulk-summary-scroll", VerticalScroll))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("yes", "back"):
            return self.confirming
        return True

    @on(Input.Submitted, "#bulk-reason")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        reason = event.value.strip()
        if not reason:
            self.query_one("#bulk-error", Static).update(
                Text("A reason is required.", style="bold"))
            return
        self.reason = reason
        self.confirming = True
        # Redacted like every echo of data: a reason can quote what it is about.
        shown = one_line(_redactor(self).redact_text(reason))
        self.query_one("#bulk-error", Static).update(Text(
            f"Reject {self.will} thread{'s' if self.will != 1 else ''} with reason "
            f"{shown!r}?", style="bold"))
        self.query_one("#bulk-hint", Static).update(
            Text("y: reject them all   n: change the reason   esc: cancel"))
        self.query_one("#bulk-reason", Input).disabled = True
        self.query_one("#bulk-box").focus()
        self.refresh_bindings()

    def action_yes(self) -> None:
        if self.confirming:
            self.dismiss(self.reason)

    def action_back(self) -> None:
        self.confirming = False
        field = self.query_one("#bulk-reason", Input)
        field.disabled = False
        field.focus()
        self.query_one("#bulk-error", Static).update("")
        self.query_one("#bulk-hint", Static).update(Text("enter: continue   esc: cancel"))
        self.refresh_bindings()

    def action_cancel(self) -> None:
        self.dismiss(None)


class BulkProgressScreen(ModalScreen[None]):
    """A progress bar while `reject_many` runs, then the results grouped by outcome."""

    AUTO_FOCUS = "#progress-scroll"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "close", "Close", id="progress.close"),
        Binding("j,down", "scroll(1)", "Down", show=False, id="progress.down"),
        Binding("k,up", "scroll(-1)", "Up", show=False, id="progress.up"),
        Binding("pagedown,space", "scroll(10)", "Page down", show=False, id="progress.pgdn"),
        Binding("pageup", "scroll(-10)", "Page up", show=False, id="progress.pgup"),
    ]

    def __init__(self, total: int, reason: str, redactor: Redactor, *,
                 verb: str = "Rejecting", done_word: str = "rejected") -> None:
        super().__init__()
        self.total = total
        self.reason = reason
        self.redactor = redactor
        self.verb = verb
        self.done_word = done_word
        self.results: list[BulkResult] = []
        self.done = False

    def compose(self) -> ComposeResult:
        with Vertical(id="progress-box"):
            reason = one_line(self.redactor.redact_text(self.reason))
            title = f"{self.verb} {self.total} thread{'s' if self.total != 1 else ''}"
            yield Static(Text(f"{title}: {reason}" if reason else title), id="progress-title")
            yield Static(Text(bar(0, self.total)), id="progress-bar")
            yield Static(Text(counts_line([], self.done_word)), id="progress-counts")
            with VerticalScroll(id="progress-scroll"):
                yield Static("", id="progress-results")
            yield Static(Text("running; one failure never stops the rest..."),
                         id="progress-hint")

    def on_mount(self) -> None:
        use_cell_scrollbars(self.query_one("#progress-scroll", VerticalScroll))

    def _line(self, result: BulkResult) -> Text:
        out = Text()
        out.append(f"{result.status.replace('_', ' '):<11} ", style="bold")
        out.append(one_line(result.thread_id))
        if result.status not in _QUIET:
            said = self.redactor.redact_text(result.message, keep=(result.thread_id,))
            out.append(": " + one_line(said))
        out.append("\n")
        return out

    def advance(self, result: BulkResult, done: int, total: int) -> None:
        """The `progress` callback of `reject_many`."""
        self.results.append(result)
        if not self.is_mounted:
            return
        self.query_one("#progress-bar", Static).update(Text(bar(done, total)))
        self.query_one("#progress-counts", Static).update(
            Text(counts_line(self.results, self.done_word)))
        text = Text()
        for item in self.results[-200:]:
            text.append_text(self._line(item))
        self.query_one("#progress-results", Static).update(text)

    def finish(self, results: Sequence[BulkResult]) -> None:
        """All done: the summary, grouped with the problems first."""
        self.results = list(results)
        self.done = True
        grouped = Text()
        for status in STATUS_ORDER:
            group = [r for r in results if r.status == status]
            if not group:
                continue
            grouped.append(f"{STATUS_TITLES[status]} ({len(group)})\n", style="bold underline")
            if status == "refused":  # one line per reason, not one per thread
                reasons: dict[str, list[str]] = {}
                for item in group:
                    reasons.setdefault(item.message, []).append(item.thread_id)
                grouped.append_text(refusal_lines(list(reasons.items()), self.redactor))
            else:
                for item in group:
                    grouped.append_text(self._line(item))
            grouped.append("\n")
        others = [r for r in results if r.status not in STATUS_ORDER]
        for item in others:
            grouped.append_text(self._line(item))
        if not self.is_mounted:
            return
        self.query_one("#progress-bar", Static).update(Text(bar(self.total, self.total)))
        self.query_one("#progress-counts", Static).update(
            Text(counts_line(results, self.done_word)))
        self.query_one("#progress-results", Static).update(grouped)
        self.query_one("#progress-hint", Static).update(
            Text("done   esc/enter: close   j/k: scroll"))
        self.query_one("#progress-scroll", VerticalScroll).scroll_home(animate=False)

    def action_close(self) -> None:
        if not self.done:
            self.notify(f"Still {self.verb.lower()}: the summary follows when all are done.",
                        severity="warning", markup=False)
            return
        self.dismiss(None)

    def action_scroll(self, lines: int) -> None:
        self.query_one("#progress-scroll", VerticalScroll).scroll_relative(y=lines,
                                                                           animate=False)


def bulk_approve_text(plan: BulkPlan, *, count: int, hidden: int, stale: int,
                      redactor: Redactor) -> Text:
    """The bulk approve confirm: what will be approved by graph/node with the exact
    Command per group, and what will not, one line per reason."""
    from console.ui.plan_text import PREVIEW_LIMITS
    from console.ui.pretty import KEY_STYLE, pretty

    will = len(plan.thread_ids)
    out = Text()
    out.append(f"{count} marked thread{'s' if count != 1 else ''}: {will} will be approved",
               style="bold")
    out.append(", each on the checkpoint it was marked on, through the ledger (four-eyes "
               "and required approvals hold per thread).\n")
    if plan.refusals:
        out.append(f"{plan.refused} will not be approved", style="bold")
        out.append(" and stay marked:\n")
        out.append_text(refusal_lines([(r.reason, r.thread_ids) for r in plan.refusals],
                                      redactor))
    if hidden:
        out.append(f"{hidden} of the marked threads hidden by the filter.\n", style="bold")
    if stale:
        out.append(f"{stale} moved on since marked: they will fail as conflicts.\n",
                   style="bold")
    for group in plan.groups[:MAX_GATES]:
        out.append(f"\n{len(group.thread_ids):>5}  {one_line(group.graph)}/"
                   f"{one_line(group.node)}\n", style="bold")
        for command, times in group.commands:
            out.append(f"       {times} x ", style=KEY_STYLE)
            out.append("Command(")
            shown = {k: v for k, v in command.items() if v is not None or k == "resume"}
            for index, (key, value) in enumerate(shown.items()):
                out.append(f"{', ' if index else ''}{key}=")
                out.append_text(pretty(value, redactor=redactor, limits=PREVIEW_LIMITS))
            out.append(")\n")
    if len(plan.groups) > MAX_GATES:
        rest = sum(len(g.thread_ids) for g in plan.groups[MAX_GATES:])
        out.append(f"\n{rest:>5}  ... in {len(plan.groups) - MAX_GATES} more gates\n")
    return out
