"""Deciding on the selected thread: approve, reject, respond, the edit form, conflicts.

Every decision takes the same path: ask what is needed (a reason, a form), let the core
plan it without writing (`Decider.plan`), show the exact Command for a y/n, then apply it
(`Decider.decide`) in the `decision` worker while the queue stays usable. The checkpoint
a decision names is the one whose bundle the reviewer was reading, so a thread that moved
on meanwhile is a conflict, shown with who moved it and what changed, never a surprise.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work

from console.core.errors import ConflictError, ConsoleError, NotPendingError
from console.core.inert import inert
from console.core.ledger.rows import DecisionType, LedgerRow, interrupts_key
from console.core.ledger.status import describe
from console.core.models import PendingThread, ReviewBundle
from console.core.pause_id import new_question, pause_id
from console.ui.actions import ActionState, approval_note, needs_value, with_own_approval
from console.ui.cell_text import one_line
from console.ui.drafts import Draft
from console.ui.errors import describe_error
from console.ui.screens.base import ScreenBase, bundle_key

# The dialogs, the Command's renderer and the conflict's are imported where they are
# first shown: the first frame is the queue (the screen's warm-up imports them in the
# background right after it, so the first `a` does not wait for them either).
if TYPE_CHECKING:
    from console.core.ledger.apply import Outcome
    from console.core.ledger.decisions import DecisionInput, Plan
    from console.ui.conflict_text import ConflictInfo
    from console.ui.modals.conflict import ConflictChoice
    from console.ui.modals.edit_form import FormResult
    from console.ui.modals.prompt import PromptScreen

DECISION_GROUP = "decision"
CONFLICT_GROUP = "conflict"
PREVIEW_GROUP = "decision preview"
# Stands in for the reason while the reason box plans the Command (`splice` puts the
# typed text in its place): plain ASCII that no redaction rule or escaping changes.
_TYPED = "TYPED-REASON-GOES-HERE"


def splice(body: Text, marker: str, text: str) -> Text:
    """`body` with each `marker` replaced by `text`, keeping the styles around it."""
    out = Text()
    plain = body.plain
    start = 0
    while (found := plain.find(marker, start)) >= 0:
        out.append_text(body[start:found])
        out.append(text)
        start = found + len(marker)
    out.append_text(body[start:])
    return out

_DOING = {"approve": "approving", "reject": "rejecting", "respond": "responding to",
          "edit": "applying an edit to", "decide items": "deciding the items of"}


@dataclass(frozen=True, slots=True)
class Attempt:
    """One decision on its way: on which pause (as seen), what, and from where."""

    thread: PendingThread
    seen: str  # the checkpoint whose bundle the reviewer read: the `expect` of the decision
    seen_ids: tuple[str, ...]  # its pending interrupts (with `seen`: the pause read)
    choice: DecisionInput
    verb: str  # approve / reject / respond / edit
    via_form: bool = False
    key: str = field(default_factory=lambda: f"tui-{uuid.uuid4().hex}")

    @property
    def thread_id(self) -> str:
        return self.thread.thread_id

    @property
    def pause_id(self) -> str:
        """The token the decision expects: the checkpoint and the questions read there."""
        return pause_id(self.seen, self.seen_ids)


def pause_changed(thread_id: str, seen: tuple[str, ...], now: tuple[str, ...]) -> str:
    """The conflict sentence for a pause that changed on the same checkpoint (one of
    several parallel interrupts answered by id elsewhere: the head does not move)."""
    answered = len(set(seen) - set(now))
    were = "was" if answered == 1 else "were"
    return (f"Conflict on {thread_id}: {answered} of the {len(seen)} interrupts you saw {were} "
            f"answered elsewhere; {len(now)} still wait{'s' if len(now) == 1 else ''}. "
            "Nothing was sent; decide again on what is left.")


def moved_words(info: ConflictInfo, seen_ids: tuple[str, ...]) -> str:
    """What a refresh found, as read now: the head moved; the questions at the same
    checkpoint changed (asked again, or some answered by id); or the question was
    answered and the run has not written its next checkpoint yet."""
    new = info.new
    if new is None or new.checkpoint_id != info.seen_checkpoint:
        return "Its head changed while you had it open; nothing of yours was sent."
    if new.pending is not None:
        return new_question(info.thread_id, new.pending, seen_ids=seen_ids)
    return ("Its question was answered elsewhere while you had it open and the run has "
            "not reached its next checkpoint yet; nothing of yours was sent.")


class DecidingMixin(ScreenBase):
    """Actions on the selected thread (keys a, r, m, e, V) and what follows them."""

    _attempt: Attempt | None = None  # the decision being prepared or applied
    # the pause the edit form is open on: (thread, checkpoint, interrupt ids)
    _form_ref: tuple[str, str, tuple[str, ...]] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Pauses (thread, checkpoint, interrupt ids) this reviewer approved in this session
        # that wait for more approvers (`approvals = N`), with what the pane says about it.
        self._own_approvals: dict[tuple[str, str, tuple[str, ...]], str] = {}

    def action_states(self, thread: PendingThread) -> dict[str, ActionState]:
        """As the base, plus: once this reviewer's approval is recorded on a pause that
        needs more, approving again is off (it would count nothing) and the pane says so."""
        states = super().action_states(thread)
        note = self._own_approvals.get(
            (thread.thread_id, thread.checkpoint_id, thread.interrupt_ids))
        return states if note is None else with_own_approval(states, note)

    # --- which thread -----------------------------------------------------------------

    def _target(self, action: str | None) -> tuple[PendingThread, str, tuple[str, ...]] | None:
        """The selected thread and the pause the reviewer read (checkpoint, interrupt
        ids), if `action` may run (None: the caller checks what may be done)."""
        if self.busy:
            self.notify(f"Wait: {self.busy}.", severity="warning", markup=False)
            return None
        thread = self.table.selected
        if thread is None:
            self.notify("No thread is selected.", severity="warning", markup=False)
            return None
        state = self.action_states(thread)[action] if action is not None else None
        if state is not None and not state.allowed:
            self.notify(state.reason, title=f"No {action}", severity="warning", markup=False)
            return None
        seen = self.detail.checkpoint_id
        if self.detail.thread_id != thread.thread_id or seen is None:
            self.notify("The thread is still loading: decide on what you have read.",
                        severity="warning", markup=False)
            return None
        return thread, seen, self.detail.interrupt_ids

    def watched(self) -> tuple[str, str, tuple[str, ...]] | None:
        """The pause the reviewer is acting on or reading, if any (for conflicts)."""
        if self._attempt is not None:
            return (self._attempt.thread_id, self._attempt.seen, self._attempt.seen_ids)
        if self._form_ref is not None:
            return self._form_ref
        detail = self.detail
        if detail.has_focus and detail.thread_id and detail.checkpoint_id:
            return (detail.thread_id, detail.checkpoint_id, detail.interrupt_ids)
        return None

    # --- the keys ---------------------------------------------------------------------

    def action_approve(self) -> None:
        target = self._target("approve")
        if target is None:
            return
        thread, seen, ids = target
        if needs_value(thread):
            self.notify("This pause takes a value matching its schema: fill in the form.",
                        markup=False)
            self.open_form(thread, seen, ids)
            return
        from console.core.ledger.decisions import DecisionInput

        self._start(Attempt(thread, seen, ids, DecisionInput(DecisionType.APPROVE), "approve"))

    def action_reject(self) -> None:
        self._ask_text("reject", "Reject", "Reason (required; recorded in the ledger and "
                       "sent to the graph where its payload takes one):", DecisionType.REJECT)

    def action_respond(self) -> None:
        self._ask_text("respond", "Respond to", "Message sent back instead of running the "
                       "action (required):", DecisionType.RESPOND)

    def _ask_text(self, action: str, title: str, label: str, decision: DecisionType) -> None:
        """The reason (or message) box, which is also the decision's last look: the
        Command is planned while the reviewer types and shown with the text in it, so
        `enter` sends it (2 keys and the text). `enter` before the plan has arrived goes
        on to the usual y/n confirm: nothing is sent unseen."""
        target = self._target(action)
        if target is None:
            return
        thread, seen, ids = target
        from console.core.ledger.decisions import DecisionInput
        from console.ui.modals.prompt import PromptScreen

        asked = Attempt(thread, seen, ids, DecisionInput(decision), action)
        self._attempt = asked
        prompt = PromptScreen(f"{title} {one_line(thread.thread_id)}", label)

        def answered(text: str | None) -> None:
            self.workers.cancel_group(self, PREVIEW_GROUP)
            if not text:
                self._attempt = None
                return
            attempt = Attempt(thread, seen, ids, DecisionInput(decision, reason=text), action)
            if prompt.previewed:
                self._attempt = attempt
                self._run_decide(attempt)
            else:
                self._start(attempt)

        self.app.push_screen(prompt, answered)
        self._preview_in(prompt, asked)

    @work(name="preview decision", group=PREVIEW_GROUP, exclusive=True, exit_on_error=False)
    async def _preview_in(self, prompt: PromptScreen, attempt: Attempt) -> None:
        """Plan `attempt` with a stand-in text and show its Command in `prompt`."""
        try:
            plan = await self._plan_seen(attempt, replace(attempt.choice, reason=_TYPED,
                                                          force=True))
        except ConflictError as exc:
            self.show_conflict(attempt.thread_id, attempt.seen, attempt.seen_ids, str(exc))
            return
        except ConsoleError as exc:
            if self.app.screen is prompt:
                prompt.dismiss(None)
            self._failed(attempt, exc)
            return
        if plan.warnings or self.app.screen is not prompt:
            return  # a plan with warnings needs the confirm's explicit Y
        body = self._plan_body(attempt, plan)
        verb = attempt.verb
        # The box must keep its input and hint on screen (80x24: ~12 lines for the
        # Command); a longer Command is cut here and read whole in the confirm.
        room = max(4, self.app.size.height - 12)
        whole = len(body.plain.splitlines()) <= room

        def render(text: str) -> Text:
            shown = json.dumps(self._redactor.redact_text(text) or "...",
                               ensure_ascii=False)[1:-1]
            out = splice(body, _TYPED, inert(shown))
            if whole:
                return out
            cut = Text("\n").join(out.split("\n")[:room - 1])
            cut.append("\n... (enter shows the whole Command to confirm)", style="italic")
            return cut

        hint = (f"enter: {verb}, sending this Command   esc: cancel" if whole
                else "enter: continue to the whole Command   esc: cancel")
        prompt.show_preview(render, hint, whole=whole)

    def action_edit(self) -> None:
        target = self._target("edit")
        if target is None:
            return
        self.open_form(*target)

    def items_refusal(self, thread: PendingThread) -> str:
        """Why the pause cannot be decided item by item ('' if it can)."""
        if not thread.interrupts:
            return ("A static breakpoint has no items to decide one by one: approve or "
                    "reject it as a whole.")
        states = self.action_states(thread)
        if any(state.allowed for state in states.values()):
            return ""
        # Policy and an unloaded graph forbid every action alike; say the first reason.
        return next((s.reason for s in states.values() if s.reason), "Nothing may be decided.")

    def action_decide_items(self) -> None:
        """`i`: one decision per pending interrupt (approve 1, reject 2, leave 3)."""
        target = self._target(None)
        if target is None:
            return
        thread, seen, ids = target
        refusal = self.items_refusal(thread)
        if refusal:
            self.notify(refusal, title="No decision per item", severity="warning",
                        markup=False)
            return
        bundle = self._bundles.get((thread.thread_id, seen, ids))
        if bundle is None or bundle.pending is None:
            self.notify("The thread is still loading.", severity="warning", markup=False)
            return
        self._form_ref = (thread.thread_id, seen, ids)
        from console.ui.modals.items import ItemsScreen

        def closed(result: FormResult | None) -> None:
            self._form_ref = None
            if result is None:
                return
            attempt = Attempt(bundle.pending or thread, seen, ids, result.choice,
                              "decide items")
            self._attempt = attempt
            if result.kind == "conflict":
                self.show_conflict(thread.thread_id, seen, ids, result.message)
            else:
                self._run_decide(attempt)

        self.app.push_screen(ItemsScreen(bundle.pending, redactor=self._redactor,
                                         planner=self._planner(thread, seen, ids),
                                         values=bundle.values), closed)

    def _planner(self, thread: PendingThread, seen: str, ids: tuple[str, ...]) -> Any:
        """Plans a decision on the pause the reviewer read, writing nothing; a pause
        whose interrupts changed meanwhile is a conflict."""
        async def planner(choice: DecisionInput) -> Plan:
            pause, plan = await self._decider.plan(thread.thread_id, choice,
                                                   expect=pause_id(seen, ids),
                                                   expect_pause=interrupts_key(ids))
            if pause.interrupt_ids != ids:
                raise ConflictError(pause_changed(thread.thread_id, ids, pause.interrupt_ids))
            return plan
        return planner

    # --- the edit form ----------------------------------------------------------------

    def open_form(self, thread: PendingThread, seen: str, ids: tuple[str, ...], *,
                  draft: Draft | None = None) -> None:
        bundle = self._bundles.get((thread.thread_id, seen, ids))
        if bundle is None or bundle.pending is None:
            self.notify("The thread is still loading.", severity="warning", markup=False)
            return
        graph = self._store.registry.get(thread.graph)
        channels = None
        if graph is not None:
            names = getattr(graph.graph, "channels", {})
            channels = sorted(k for k in names if not k.startswith(("__", "branch:")))
        ref = (thread.thread_id, seen)
        from console.ui.modals.edit_form import EditForm

        form = EditForm(
            bundle.pending,
            bundle,
            redactor=self._redactor,
            planner=self._planner(thread, seen, ids),
            on_draft=self.drafts.put,
            draft=draft or self.drafts.get(ref),
            channels=channels,
            states=self.action_states(thread),
        )
        self._form_ref = (thread.thread_id, seen, ids)

        def closed(result: FormResult | None) -> None:
            self._form_ref = None
            if result is None:
                return
            attempt = Attempt(thread, seen, ids, result.choice, "edit", via_form=True)
            self._attempt = attempt
            if result.kind == "conflict":
                self.show_conflict(thread.thread_id, seen, ids, result.message)
            else:
                self._run_decide(attempt)

        self.app.push_screen(form, closed)

    # --- plan, confirm, decide ----------------------------------------------------------

    def _start(self, attempt: Attempt) -> None:
        self._attempt = attempt
        # Busy before the worker is even scheduled: the decision group is exclusive, and
        # a key pressed in between must not start a second run that cancels this one.
        self.set_busy(f"checking {attempt.verb} of {attempt.thread_id}")
        self._plan(attempt)

    def _run_decide(self, attempt: Attempt) -> None:
        self.set_busy(f"{_DOING.get(attempt.verb, attempt.verb)} {attempt.thread_id}")
        self._decide(attempt)

    async def _plan_seen(self, attempt: Attempt, choice: DecisionInput) -> Plan:
        """The plan of `choice` for the pause the reviewer read; a ConflictError if the
        thread moved on or asks other questions now."""
        pause, plan = await self._decider.plan(
            attempt.thread_id, choice, expect=attempt.pause_id,
            expect_pause=interrupts_key(attempt.seen_ids))
        if pause.interrupt_ids != attempt.seen_ids:
            raise ConflictError(pause_changed(attempt.thread_id, attempt.seen_ids,
                                              pause.interrupt_ids))
        return plan

    @work(name="plan decision", group=DECISION_GROUP, exclusive=True, exit_on_error=False)
    async def _plan(self, attempt: Attempt) -> None:
        self.set_busy(f"checking {attempt.verb} of {attempt.thread_id}")
        try:
            plan = await self._plan_seen(attempt, replace(attempt.choice, force=True))
        except ConflictError as exc:
            self.show_conflict(attempt.thread_id, attempt.seen, attempt.seen_ids, str(exc))
            return
        except ConsoleError as exc:
            self._failed(attempt, exc)
            return
        finally:
            self.set_busy(None)
        forced = bool(plan.warnings)
        body = self._plan_body(attempt, plan)
        from console.ui.modals.confirm import ConfirmScreen

        def confirmed(yes: bool | None) -> None:
            if not yes:
                self._attempt = None
                self.notify("Nothing was sent.", markup=False)
                return
            chosen = replace(attempt, choice=replace(attempt.choice, force=forced))
            self._attempt = chosen
            self._run_decide(chosen)

        title = ("Respond to this thread?" if attempt.verb == "respond"
                 else f"{attempt.verb.capitalize()} this thread?")
        self.app.push_screen(ConfirmScreen(title, body, needs_force=forced), confirmed)

    def _plan_body(self, attempt: Attempt, plan: Plan) -> Text:
        """What the confirm (or the reason box) shows: the pause, then the Command."""
        body = Text()
        name = one_line(attempt.thread_id)
        body.append(f"{attempt.verb} {name} @ {attempt.seen}\n", style="bold")
        thread = attempt.thread
        body.append(f"{one_line(thread.graph or '?')} / {one_line(', '.join(thread.nodes))}")
        reason = attempt.choice.reason
        if reason and reason != _TYPED:
            # A respond sends its text to the graph as the answer; a reject's is a reason.
            body.append("\nmessage: " if attempt.verb == "respond" else "\nreason: ")
            body.append(one_line(self._redactor.redact_text(reason)))
        body.append("\n\n")
        from console.ui.plan_text import plan_text

        body.append_text(plan_text(plan, self._redactor))
        return body

    @work(name="decide", group=DECISION_GROUP, exclusive=True, exit_on_error=False)
    async def _decide(self, attempt: Attempt) -> None:
        ref = (attempt.thread_id, attempt.seen)
        self.set_busy(f"{_DOING.get(attempt.verb, attempt.verb)} {attempt.thread_id}")
        # Set before the decision runs: a refresh that sees the thread move while it is
        # being applied must not take our own decision for someone else's.
        self._own_moves.add(ref)
        self._open_decisions[ref] = "in_flight"
        self.table.refresh_rows([attempt.thread_id])
        try:
            outcome = await self._decider.decide(
                attempt.thread_id, attempt.choice, expect=attempt.pause_id,
                expect_pause=interrupts_key(attempt.seen_ids),
                # no ledger (an Agent Server without --ledger-db) keeps no key: a retry
                # is still refused there, its question being consumed
                idempotency_key=attempt.key if self._decider.has_ledger else None)
        except BaseException as exc:
            self._own_moves.discard(ref)
            self._open_decisions.pop(ref, None)
            self.table.refresh_rows([attempt.thread_id])
            if isinstance(exc, ConflictError):
                self.show_conflict(attempt.thread_id, attempt.seen, attempt.seen_ids, str(exc))
                return
            if isinstance(exc, ConsoleError):
                self._failed(attempt, exc)
                return
            self._attempt = None
            raise
        finally:
            self.set_busy(None)
        self._decided(attempt, outcome)

    def _failed(self, attempt: Attempt, error: ConsoleError) -> None:
        """A refusal, a policy refusal or an unreachable database: one sentence, in a modal."""
        self._attempt = None
        title, message = describe_error(error, self._redactor)
        if isinstance(error, NotPendingError):
            self.reload()
        elif attempt.via_form:
            message += " Your draft is kept: press e to open it again."
        self.status.set(last=f"{attempt.verb} failed: {attempt.thread_id}")
        from console.ui.modals.error import ErrorModal

        self.app.push_screen(ErrorModal(f"{title}: {attempt.verb} not done", message))

    def _decided(self, attempt: Attempt, outcome: Outcome) -> None:
        self._attempt = None
        thread_id = attempt.thread_id
        ref = (thread_id, attempt.seen)
        if outcome.status in ("applied", "queued", "approval_recorded"):
            self.drafts.discard_thread(thread_id)
        if outcome.status in ("applied", "queued"):
            self.marks.remove([thread_id])
            self.status.set(marked=len(self.marks))
        if outcome.status == "applied":
            self._open_decisions.pop(ref, None)
            # Gone at once; the reload that follows confirms it (or shows a new pause).
            self._all = [t for t in self._all if t.thread_id != thread_id]
            self.apply_filter()
            self.reload()
        elif outcome.status == "queued":
            self._open_decisions[ref] = "queued"
        else:
            self._open_decisions.pop(ref, None)
            self._own_moves.discard(ref)
        if outcome.status == "approval_recorded":
            self.own_approval_recorded(attempt.thread, outcome.message)
            self._redraw_actions(thread_id)
        self.table.refresh_rows([thread_id])
        title = {"applied": "Done", "queued": "Recorded", "approval_recorded": "Recorded",
                 "replayed": "Already done"}.get(outcome.status, outcome.status)
        message = self._redactor.redact_text(outcome.message, keep=(outcome.thread_id,))
        self.notify(message, title=title, markup=False,
                    severity="warning" if outcome.status == "replayed" else "information")
        self.status.set(last=f"{attempt.verb} {outcome.status}: {thread_id}")
        self.refresh_bindings()
        self.after_decision(attempt.thread, outcome.status)

    def after_decision(self, thread: PendingThread, status: str) -> None:
        """What follows a decision on `thread` (the flow mixin opens the next one)."""

    def own_approval_recorded(self, pause: PendingThread, message: str) -> None:
        self._own_approvals[(pause.thread_id, pause.checkpoint_id, pause.interrupt_ids)] = \
            approval_note(message, self.action_states(pause)["approve"].approvals_needed)

    def _redraw_actions(self, thread_id: str) -> None:
        """Show the selected thread again so its actions say what changed (the main
        screen's `_show_bundle` draws from the cached bundle: no database read)."""
        selected = self.table.selected
        redraw = getattr(self, "_show_bundle", None)
        if selected is not None and selected.thread_id == thread_id and callable(redraw):
            redraw(selected)

    # --- reveal ------------------------------------------------------------------------

    def action_reveal(self) -> None:
        """`V`: show one real value of the thread's state, only to reviewers policy
        `reveal` names; every attempt, allowed or refused, is in the audit log."""
        thread = self.table.selected
        detail = self.detail
        bundle = None
        if thread is not None and detail.thread_id == thread.thread_id:
            bundle = self._bundles.get((thread.thread_id, detail.checkpoint_id or "",
                                        detail.interrupt_ids))
        if bundle is None:
            self.notify("Select a thread and let it load first.", severity="warning",
                        markup=False)
            return
        if not self._policy.may_reveal(self._settings.reviewer).allowed:
            self._reveal(bundle, None)  # refused, and the attempt recorded
            return
        paths = list(self._redactor.secret_paths(bundle.values))
        hint = f" Hidden by key here: {', '.join(paths[:6])}." if paths else ""
        name = one_line(bundle.thread_id)

        def asked(path: str | None) -> None:
            if path:
                self._reveal(bundle, path)

        from console.ui.modals.prompt import PromptScreen

        self.app.push_screen(
            PromptScreen(f"Reveal a value of {name}",
                         "Dotted path of the value in the state (each reveal is recorded "
                         f"in the audit log).{one_line(hint)}"), asked)

    @work(name="reveal", group="reveal", exclusive=True, exit_on_error=False)
    async def _reveal(self, bundle: ReviewBundle, path: str | None) -> None:
        from console.core.jsonable import to_jsonable
        from console.core.reveal import reveal_value
        from console.ui.modals.error import RevealScreen

        try:
            value = await reveal_value(self._decider, bundle, path)
        except ConsoleError as exc:
            title, message = describe_error(exc, self._redactor)
            self.notify(message, title=title, severity="warning", markup=False)
            return
        text = json.dumps(to_jsonable(value), indent=2, ensure_ascii=False)
        self.app.push_screen(RevealScreen(
            f"{one_line(path or '')} (revealed to {one_line(self._settings.reviewer)}; "
            "recorded in the audit log)",
            inert(text, keep_newlines=True)))

    # --- conflicts ----------------------------------------------------------------------

    def show_conflict(self, thread_id: str, seen: str, seen_ids: tuple[str, ...],
                      message: str | None) -> None:
        """Load who moved the thread and what changed, then ask what to do. `message`:
        the core's sentence, or None when a refresh found it (the words then say what
        each read of the thread shows)."""
        self._load_conflict(thread_id, seen, seen_ids, message)

    @work(name="conflict", group=CONFLICT_GROUP, exclusive=True, exit_on_error=False)
    async def _load_conflict(self, thread_id: str, seen: str, seen_ids: tuple[str, ...],
                             message: str | None) -> None:
        followed: list[LedgerRow] = []  # the decision in flight the dialog follows

        async def read() -> ConflictInfo:
            info = await self._conflict_info(thread_id, seen, seen_ids, message or "")
            if message is None:
                info = replace(info, message=moved_words(info, seen_ids))
            if info.applying is not None:
                followed[:] = [info.applying]
            elif followed and message is not None:
                # settled since: the core's sentence ("is applying") is out of date
                row = next((r for r in info.rows if r.id == followed[0].id), followed[0])
                words = describe(row, info.read_at or self._clock()).text
                info = replace(info, message=f"Conflict on {thread_id}: {words}. Nothing "
                               "of yours was sent.")
            return info

        info = await read()
        self._conflicts_shown.add((thread_id, seen, seen_ids))
        attempt = self._attempt if self._attempt and self._attempt.thread_id == thread_id else None
        draft = self.drafts.get((thread_id, seen))
        if attempt is not None:
            what = "your draft" if attempt.via_form else f"your {attempt.verb}"
        elif draft is not None:
            what = "your draft"
        else:
            what = ""
        from console.ui.modals.conflict import ConflictScreen

        screen = ConflictScreen(info, self._redactor, what=what or None, reread=read)
        self._close_decision_dialogs()
        # the dialog's latest reading decides (it follows a decision still in flight)
        self.app.push_screen(
            screen, lambda choice: self._conflict_chosen(screen.info, attempt, choice))

    async def _conflict_info(self, thread_id: str, seen: str, seen_ids: tuple[str, ...],
                             message: str) -> ConflictInfo:
        """Who moved the thread (the ledger) and where it is now (its head's bundle)."""
        rows: tuple[LedgerRow, ...] = ()
        new = None
        try:
            if await self._decider.ledger.installed():
                rows = tuple(await self._decider.ledger.rows(thread_id=thread_id))
        except Exception:
            rows = ()
        try:
            new = await self._store.bundle(thread_id, now=self._clock())
        except NotPendingError:
            new = None
        seen_bundle = self._bundles.get((thread_id, seen, seen_ids))
        from console.ui.conflict_text import ConflictInfo

        return ConflictInfo(
            thread_id=thread_id,
            seen_checkpoint=seen,
            message=message,
            rows=rows,
            seen_values=seen_bundle.values if seen_bundle is not None else None,
            new=new,
            read_at=self._clock(),
        )

    def _close_decision_dialogs(self) -> None:
        """The dialogs of a decision on a pause that is gone (a y/n, a prompt, the form)
        close under the conflict dialog: answering them could only fail again. The form's
        draft is saved on every change, so nothing typed is lost."""
        from console.ui.modals.confirm import ConfirmScreen
        from console.ui.modals.edit_form import EditForm
        from console.ui.modals.items import ItemsScreen
        from console.ui.modals.prompt import PromptScreen

        while len(self.app.screen_stack) > 1 and isinstance(
            self.app.screen, ConfirmScreen | PromptScreen | EditForm | ItemsScreen
        ):
            self.app.pop_screen()
        self._form_ref = None

    def _conflict_chosen(self, info: ConflictInfo, attempt: Attempt | None,
                         choice: ConflictChoice | None) -> None:
        self._attempt = None
        if self.table.selected is None:
            # the detail was kept for the dialog (`_show_empty`): nothing is left to read
            self.detail.show_message(self.table.empty_text)
        if choice == "reload":
            self.reload()
            return
        if choice != "reapply" or info.new is None or info.new.pending is None:
            return
        new_thread = info.new.pending
        new_head = info.new.checkpoint_id
        self._bundles[bundle_key(info.new)] = info.new
        draft = self.drafts.move((info.thread_id, info.seen_checkpoint), new_head)
        if attempt is not None and attempt.verb == "decide items":
            # Item decisions name the interrupts read; on a new pause, read its items first.
            self.notify("Read the new pause's items, then press i to decide them.",
                        markup=False)
        elif attempt is not None and not attempt.via_form:
            self._start(Attempt(new_thread, new_head, new_thread.interrupt_ids, attempt.choice,
                                attempt.verb))
        else:
            self.open_form(new_thread, new_head, new_thread.interrupt_ids, draft=draft)
        self.reload()
