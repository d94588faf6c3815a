"""Applying decisions exactly once: validate, claim in the ledger, resume, finalise.

The ledger row is committed before the graph is resumed and finalised after with what the
thread's rows say happened (`reconcile.delivery_of`: applied, stalled or failed), so a
crash in between leaves a visible in-flight row that `reconcile` settles the same way,
without ever running anything again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any

from console.core.errors import (
    ConflictError,
    ConsoleError,
    DatabaseUnavailable,
    NotPendingError,
    PolicyRefused,
    UnreadableRow,
    UsageError,
    database_failure,
    failure_detail,
)
from console.core.graphs import GraphInfo
from console.core.ledger.answers import forget_failed_answers, recorded_answers
from console.core.ledger.db import LedgerDB, database_error, install_ledger, ledger_db
from console.core.ledger.decisions import (
    DecisionInput,
    DecisionRefused,
    Plan,
    plan_decision,
    update_effects,
)
from console.core.ledger.reconcile import (
    Delivery,
    Settled,
    delivery_of,
    reconcile,
    settled_outcome,
)
from console.core.ledger.rows import (
    CLAIMING_STATUSES,
    ClaimRequest,
    ClaimResult,
    DecisionStatus,
    DecisionType,
    LedgerRow,
    Origin,
    interrupts_key,
)
from console.core.models import PauseKind, PendingThread
from console.core.nested import (
    UpdateTarget,
    forget_nested_update,
    plan_edit,
    target_label,
    update_target,
    write_nested_update,
)
from console.core.pause_id import (
    Expectation,
    answer_recorded,
    new_question,
    parse_expect,
    pause_id_of,
)
from console.core.policy import Policy, Verdict
from console.core.store.base import CheckpointStore
from console.core.worker_mode import worker_mode_default

if TYPE_CHECKING:
    from langgraph.types import Command

# LangGraph (~0.4 s to import) is imported where a decision is applied, not here: the
# console lists and reviews without it (`warm_up` loads it ahead of the first decision).

_POLICY_ACTION = {
    DecisionType.APPROVE: "approve",
    DecisionType.EDIT: "edit",
    DecisionType.RESUME: "edit",  # a custom value is an edit of what the gate receives
    DecisionType.REJECT: "reject",
    DecisionType.RESPOND: "respond",
}
# A run metadata key LangGraph writes itself; everything else is the application's.
_LANGGRAPH_METADATA = frozenset({"source", "step", "parents", "writes", "thread_id"})


def current_origin(reviewer: str, ssh_origin: str | None = None) -> Origin:
    """The deciding reviewer with this host, ssh origin and process id."""
    return Origin(
        reviewer=reviewer,
        client_host=socket.gethostname(),
        ssh_origin=ssh_origin if ssh_origin is not None else os.environ.get("SSH_CONNECTION"),
        pid=os.getpid(),
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one decision."""

    thread_id: str
    status: str  # applied | stalled | replayed | queued | approval_recorded
    row: LedgerRow | None
    plan: Plan | None
    new_checkpoint_id: str | None
    message: str


def describe_conflict(thread_id: str, expected: str, claim: ClaimResult) -> str:
    """One sentence that says what changed: who decided, when, and the new head."""
    winner = claim.conflict_with
    if winner is not None:
        when = winner.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        state = {"in_flight": "is applying", "applied": "applied", "queued": "queued",
                 "claimed": "is applying", "stalled": "delivered"}.get(winner.status, winner.status)
        tail = f"; the head is now {claim.current_head}" if claim.current_head != expected else ""
        article = "an" if winner.decision[:1] in "aeiou" else "a"
        return (f"Conflict on {thread_id}: {winner.reviewer} {state} {article} {winner.decision} "
                f"decision at {when} (ledger #{winner.id}){tail}. Nothing was run; reload "
                "and decide again on the new state if needed.")
    if claim.current_head is None:
        return f"Conflict on {thread_id}: the thread no longer exists. Nothing was run."
    return (f"Conflict on {thread_id}: the thread moved on from {expected} to "
            f"{claim.current_head} (resumed outside this console). Nothing was run; reload.")


class Decider:
    """The one path every decision takes, from the CLI, the TUI, bulk and expire."""

    def __init__(
        self,
        store: CheckpointStore,
        origin: Origin,
        *,
        templates: Mapping[str, Any] | None = None,
        worker_mode: bool | None = None,
        policy: Policy | None = None,
        ledger: LedgerDB | None = None,
    ) -> None:
        self.store = store
        self.origin = origin
        self.policy = policy or Policy()
        self.templates = templates or {}
        self.worker_mode = worker_mode_default() if worker_mode is None else worker_mode
        # beside the checkpoints unless given (an Agent Server's lives in --ledger-db)
        self.ledger: LedgerDB = ledger if ledger is not None else ledger_db(store)
        self._ledger_ready = False

    @property
    def has_ledger(self) -> bool:
        """Whether decisions are claimed, audited and keyed in a ledger (always, beside
        the checkpoints; an Agent Server's decider only with `--ledger-db`)."""
        return True

    @property
    def nothing_to_reconcile(self) -> str | None:
        """Why `reconcile` has nothing to look at here (None: it has the ledger)."""
        return None

    async def reconcile(self, *, lease_seconds: float = 600.0) -> list[Settled]:
        """Settle abandoned in-flight decisions (`ledger.reconcile.reconcile`)."""
        return await reconcile(self, lease_seconds=lease_seconds)

    async def ensure_ledger(self) -> None:
        """Install the ledger on first use (idempotent), with a clear error if we may not."""
        if self._ledger_ready:
            return
        try:
            if not await self.ledger.installed():
                await install_ledger(self.store)
        except Exception as exc:
            raise database_error(exc, self.store.location.display()) from exc
        self._ledger_ready = True

    async def plan(
        self,
        thread_id: str,
        choice: DecisionInput,
        *,
        expect: str | None = None,
        expect_pause: str | None = None,
    ) -> tuple[PendingThread, Plan]:
        """Validate a decision against the thread's current head without writing anything.

        `expect` is what the reviewer read: a `pause_id` (checkpoint and questions), or a
        bare checkpoint id, accepted only while no question at that checkpoint has been
        answered (a node that asks again keeps its checkpoint id: see `pause_id`).
        `expect_pause`, the `pause_key` of the interrupts read, is the older spelling.
        Reads only the head's pause (one query); the full state is read only when the
        decision edits it, since reducer previews need it.
        """
        _refuse_unstorable_id(thread_id)
        expectation = parse_expect(expect) if expect is not None else None
        pause = await self.store.pending_thread(thread_id)
        head = pause.checkpoint_id if pause else await self.store.head_checkpoint_id(thread_id)
        if head is None:
            raise NotPendingError(
                f"Thread {thread_id!r} was not found in {self.store.location.display()}.")
        if expectation is not None and expectation.checkpoint_id != head:
            await self._raise_stale(thread_id, expectation.checkpoint_id, head)
        if pause is None:
            await self._raise_if_decided(thread_id, head)
            raise NotPendingError(
                f"Thread {thread_id!r} is not waiting for a human at its head {head}; "
                "nothing to decide."
            )
        if not pause.interrupt_ids and await self.ledger.installed():
            rows = await self.ledger.rows(thread_id=thread_id)
            _refuse_stalled(rows[-1] if rows else None, head)
        if expectation is not None or expect_pause is not None:
            await self._check_same_questions(pause, expectation, expect_pause)
        graph = self.store.registry.get(pause.graph)
        if choice.state_update and graph is not None:
            # checked and previewed against the state the paused node reads (a subgraph's)
            return pause, await plan_edit(graph, self.store.saver, pause, choice,
                                          self.templates)
        values: dict[str, Any] = {}
        if choice.state_update:
            values = (await self.store.bundle(thread_id)).values
        return pause, plan_decision(pause, values, choice, graph, self.templates)

    async def decide(
        self,
        thread_id: str,
        choice: DecisionInput,
        *,
        expect: str | None = None,
        expect_pause: str | None = None,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Apply one decision exactly once, or raise Conflict/NotPending/Refused errors."""
        await self.ensure_ledger()
        if idempotency_key:
            earlier = await self.ledger.rows(idempotency_key=idempotency_key)
            if earlier:
                return _replayed(earlier[0])
        pause, plan = await self.plan(thread_id, choice, expect=expect,
                                      expect_pause=expect_pause)
        pause = await self._inside_if_delivered(pause)
        graph = self.store.registry.get(pause.graph)
        if graph is None and not self.worker_mode:
            raise UsageError(
                f"No graph is loaded for thread {thread_id!r} (graph {pause.graph or 'unknown'}):"
                " pass --graph NAME=module:attr so the console can resume it. Nothing was written."
            )
        request = self._request(pause, choice, plan, idempotency_key)
        verdict = await self.authorise(pause, choice, plan)
        if verdict.approvals_needed > 1:
            count = await self.ledger.add_approval(request)
            if count < verdict.approvals_needed:
                return Outcome(thread_id, "approval_recorded", None, plan, None,
                               f"Approval {count} of {verdict.approvals_needed} recorded for "
                               f"{thread_id}; it runs after the last one.")
        claim = await self._claim(request)
        if claim.replayed and claim.row is not None:
            return _replayed(claim.row)
        if claim.row is None:
            raise ConflictError(describe_conflict(thread_id, pause.checkpoint_id, claim))
        if self.worker_mode or graph is None:
            message = f"Recorded {choice.decision.value} for {thread_id}; a worker applies it."
            return Outcome(thread_id, "queued", claim.row, plan, None, message)
        return await self.apply_claimed(claim.row, graph, plan, pause)

    async def _inside_if_delivered(self, pause: PendingThread) -> PendingThread:
        """A question this ledger already delivered that LangGraph still reports, with the
        head unchanged: its task used the answer, then stopped inside a subgraph at a
        breakpoint of the subgraph's own. That stop is a new pause, named by the
        subgraph's newest checkpoint (`PendingThread.inside`), not a second answer."""
        if pause.kind is not PauseKind.INTERRUPT or not pause.interrupts:
            return pause
        key = pause_key(pause)
        rows = await self.ledger.rows(thread_id=pause.thread_id)
        if not any(r.checkpoint_id == pause.checkpoint_id and r.pause_key == key
                   and r.status == DecisionStatus.APPLIED for r in rows):
            return pause
        nested = await self.store.newest_nested_checkpoint(pause.thread_id)
        if nested is None or nested <= pause.checkpoint_id:
            return pause
        return pause.inside(nested)

    async def authorise(
        self, pause: PendingThread, choice: DecisionInput, plan: Plan | None = None
    ) -> Verdict:
        """The policy's verdict; a refusal is audited and raised (exit 5). A decision per
        item needs the right to each action it takes (approve 1, reject 2: both)."""
        decisions = [DecisionType(d) for _, d in plan.item_decisions] if plan else []
        actions = list(dict.fromkeys(_POLICY_ACTION[d] for d in decisions or [choice.decision]))
        verdicts = []
        for action in actions:
            verdict = self.policy.check(self.origin.reviewer, pause, action)
            if not verdict.allowed:
                with contextlib.suppress(Exception):  # a read-only role cannot write it
                    await self.ledger.event(self.origin, "policy_refused", pause.thread_id,
                                            pause.checkpoint_id, {"action": action,
                                                                  "reason": verdict.reason})
                raise PolicyRefused(f"{verdict.reason} Nothing was written.")
            verdicts.append(verdict)
        return max(verdicts, key=lambda v: v.approvals_needed)

    def _request(
        self, pause: PendingThread, choice: DecisionInput, plan: Plan, key: str | None
    ) -> ClaimRequest:
        return ClaimRequest(
            thread_id=pause.thread_id,
            checkpoint_ns=pause.checkpoint_ns,
            checkpoint_id=pause.checkpoint_id,
            pause_key=pause_key(pause),
            decision=choice.decision,
            origin=self.origin,
            reason=choice.reason or _item_reasons(choice),
            edits=_recorded_edits(choice, plan),
            resume=plan.command_preview(),
            idempotency_key=key,
            apply_mode="worker" if self.worker_mode else "inline",
            status=DecisionStatus.QUEUED if self.worker_mode else DecisionStatus.IN_FLIGHT,
            graph=pause.graph,
        )

    async def _claim(self, request: ClaimRequest) -> ClaimResult:
        try:
            return await self.ledger.claim(request)
        except Exception as exc:
            raise database_error(exc, self.store.location.display()) from exc

    async def apply_claimed(
        self, row: LedgerRow, graph: GraphInfo, plan: Plan, pause: PendingThread
    ) -> Outcome:
        """Resume the graph for a claimed row and finalise the row with what the thread's
        rows say happened (`reconcile.delivery_of`), never with what was hoped."""
        try:
            await resume_graph(self.store, graph, plan, pause)
        except Exception as exc:
            lost = lost_mid_apply(row, exc)
            if lost is not None:
                raise lost from exc
            return await self._settle_raised(row, exc)
        decision = row.decision.capitalize()
        try:  # settle from what the rows say; a database lost meanwhile leaves it in flight
            truth = await delivery_of(self.store, row)
            if truth.delivery is Delivery.NOT_DELIVERED:
                outcome = ignored_outcome(row, graph, pause)
                head = await self.ledger.finish(row.id, DecisionStatus.FAILED.value, outcome)
            elif truth.delivery is Delivery.STOPPED:
                outcome = settled_outcome(truth, "applied")
                head = await self.ledger.finish(row.id, DecisionStatus.STALLED.value, outcome)
            else:
                head = await self.ledger.finish(row.id, DecisionStatus.APPLIED.value, "applied")
        except Exception as exc:
            lost = lost_mid_apply(row, exc)
            if lost is None:
                raise
            raise lost from exc
        if truth.delivery is Delivery.NOT_DELIVERED:
            raise ConsoleError(f"{outcome[0].upper()}{outcome[1:]} (ledger #{row.id}).")
        if truth.delivery is Delivery.STOPPED:
            return Outcome(row.thread_id, "stalled", row, plan, head, (
                f"{decision} delivered to {row.thread_id}, but the run stopped before "
                f"{truth.stopped_before()} (head {head}): the application must resume it."))
        message = f"{decision} applied to {row.thread_id}; new head {head}."
        if plan.unanswered:
            total = len(plan.item_decisions) + len(plan.unanswered)
            waits = "waits" if len(plan.unanswered) == 1 else "wait"
            message = (f"{decision} delivered to {len(plan.item_decisions)} "
                       f"of {total} items of {row.thread_id}; {len(plan.unanswered)} still "
                       f"{waits} for a decision.")
        elif head == row.checkpoint_id:
            again = await self.store.pending_thread(row.thread_id)
            if again is not None and pause_key(again) != row.pause_key:
                message = (f"{decision} delivered to {row.thread_id}, but the "
                           f"graph asked again: {again.summary} (pause_id {pause_id_of(again)})")
        return Outcome(row.thread_id, "applied", row, plan, head, message)

    async def _settle_raised(self, row: LedgerRow, exc: Exception) -> Outcome:
        """A resume that raised: failed if nothing was delivered (decide again); stalled
        if the answer got through and a later step raised (the run must be resumed)."""
        message = f"{type(exc).__name__}: {exc}"
        truth = await delivery_of(self.store, row)
        if truth.delivery is Delivery.NOT_DELIVERED:
            head = await self.ledger.finish(row.id, DecisionStatus.FAILED.value, message)
            raise ConsoleError(
                f"Resuming {row.thread_id} failed ({message}). The decision is recorded as "
                f"failed (ledger #{row.id}); the thread's head is {head}."
            ) from exc
        status = (DecisionStatus.STALLED if truth.delivery is Delivery.STOPPED
                  else DecisionStatus.APPLIED)
        head = await self.ledger.finish(
            row.id, status.value, settled_outcome(truth, f"delivered, then {message}"))
        raise ConsoleError(
            f"The decision on {row.thread_id} was delivered, but the run then failed "
            f"({message}) and stopped before {truth.stopped_before()} (ledger #{row.id}, "
            f"head {head}): the application must resume or repair the run.") from exc

    async def _raise_if_decided(self, thread_id: str, head: str) -> None:
        """A pause this ledger already answered is a conflict (exit 3), not 'not pending'.

        While the winning resume runs, the head is the pause itself or an intermediate
        checkpoint; afterwards it is whatever the resumed run left. In every case the
        latest word on this thread was a console decision, so the caller lost a race.
        """
        if not await self.ledger.installed():
            return
        rows = await self.ledger.rows(thread_id=thread_id)
        latest = rows[-1] if rows else None
        _refuse_stalled(latest, head)
        if latest is not None and latest.status in CLAIMING_STATUSES:
            raise ConflictError(describe_conflict(
                thread_id, latest.checkpoint_id,
                ClaimResult(row=None, conflict_with=latest, current_head=head)))

    async def _check_same_questions(
        self, pause: PendingThread, expectation: Expectation | None, expect_pause: str | None,
        state: Mapping[str, Any] | None = None,
    ) -> None:
        """A conflict naming the new question if the reviewer read another one here."""
        key = pause_key(pause)
        answered: list[LedgerRow] = []
        if await self.ledger.installed():
            answered = [r for r in await self.ledger.rows(thread_id=pause.thread_id)
                        if r.checkpoint_id == pause.checkpoint_id and r.pause_key != key
                        and r.status in CLAIMING_STATUSES]
        by = ""
        if answered:
            row = answered[-1]
            by = (f" ({row.reviewer} answered the earlier question with {row.decision}, "
                  f"ledger #{row.id})")
        changed = (expect_pause is not None and expect_pause != key) or (
            expectation is not None and not expectation.same_questions(pause))
        if not changed and expect_pause is None and expectation is not None \
                and expectation.digest is None:
            # A bare checkpoint id cannot say which question was read: only the first one
            # asked there is safe to assume.
            changed = bool(answered) or await self._answer_recorded(pause, state)
            if changed and not by:
                by = " (an answer was recorded there)"
        if changed:
            seen = expect_pause.split(",") if expect_pause else None
            raise ConflictError(new_question(pause.thread_id, pause, by=by, seen_ids=seen))

    async def _answer_recorded(
        self, pause: PendingThread, state: Mapping[str, Any] | None
    ) -> bool:
        """Whether an answer was recorded at the pause's checkpoint (so a bare checkpoint
        id may name an earlier question); `state` is the source's own read, if any."""
        return await answer_recorded(self.store.saver, pause.thread_id, pause.checkpoint_id)

    async def _raise_stale(self, thread_id: str, expected: str, head: str) -> None:
        rows = await self.ledger.rows(thread_id=thread_id)
        holder = next((r for r in reversed(rows) if r.checkpoint_id == expected), None)
        raise ConflictError(describe_conflict(
            thread_id, expected, ClaimResult(row=None, conflict_with=holder, current_head=head)))


def lost_mid_apply(row: LedgerRow, exc: BaseException) -> ConsoleError | None:
    """The database went away between the claim and the decision's settlement (None for
    any other failure). The row cannot be written, so it stays `in_flight`, and only the
    thread's head, read once the database is back, can say whether the resume got
    through: `reconcile` reads it (the claiming process is gone by then, so at once)."""
    if not isinstance(database_failure(exc), DatabaseUnavailable):
        return None
    return DatabaseUnavailable(
        f"The database stopped answering while decision #{row.id} on {row.thread_id} was "
        f"being applied ({failure_detail(exc)}); it stays recorded as in flight, so once the "
        "database is back run `hitl-console reconcile` to settle it from the thread's head "
        "(nothing runs twice).")


def pause_key(pause: PendingThread | None) -> str:
    """The interrupt ids that, with the checkpoint, identify one pause ('' at breakpoints)."""
    return interrupts_key(pause.interrupt_ids) if pause else ""


def _recorded_edits(choice: DecisionInput, plan: Plan) -> dict[str, Any]:
    """The ledger's `edits`: the state update, edited actions and, when the items were
    not all decided alike, each item's decision (the row's `decision` is the command's)."""
    edits: dict[str, Any] = {
        "state": plan.update,
        "actions": {str(k + 1): v for k, v in (choice.action_edits or {}).items()},
    }
    if plan.mixed or choice.items:
        edits["items"] = {item_id: decision for item_id, decision in plan.item_decisions}
        if plan.unanswered:
            edits["unanswered"] = list(plan.unanswered)
    return edits


def _item_reasons(choice: DecisionInput) -> str | None:
    """The reasons given item by item (`item 2: keep it`), for the row's `reason` when the
    decision as a whole has none."""
    reasons = [f"item {ref}: {item.reason}" for ref, item in (choice.items or {}).items()
               if item.reason and item.decision in (DecisionType.REJECT, DecisionType.RESPOND)]
    return "; ".join(reasons) or None


def _replayed(row: LedgerRow) -> Outcome:
    return Outcome(
        row.thread_id, "replayed", row, None, row.new_checkpoint_id,
        f"Idempotency key already used by ledger #{row.id} ({row.decision}, {row.status}); "
        "nothing was run again.",
    )


# Each step's checkpoint is committed before the next step starts. With LangGraph's default
# ("async") a later node can run before the gate's checkpoint lands, so a process that
# dies there leaves the head at the pause although the gated action ran; reconciling
# from the head ("unchanged: nothing after the gate ran") needs "sync".
RESUME_DURABILITY: Any = "sync"


async def resume_graph(
    store: CheckpointStore, graph: GraphInfo, plan: Plan, pause: PendingThread
) -> None:
    """Run the Command of a plan with the console's own saver for this database."""
    from console.core.serde import saver_for_graph

    # The graph's own state classes are rebuilt for its nodes (never imported for a row).
    runnable = graph.graph.copy(update={"checkpointer": saver_for_graph(store.saver,
                                                                        graph.graph)})
    metadata = {k: v for k, v in pause.metadata.items() if k not in _LANGGRAPH_METADATA}
    config: Any = {"configurable": {"thread_id": pause.thread_id, "checkpoint_ns": ""},
                   "metadata": metadata}
    nested = await _nested_target(store, graph, plan, pause)
    if nested is not None and plan.update:  # stored on the subgraph's paused checkpoint
        await write_nested_update(store, nested, pause.thread_id, plan.update)
        plan = dataclasses.replace(plan, update=None)
    try:
        await _run_plan(store, runnable, config, plan, pause)
    except Exception:
        if nested is not None and \
                await store.head_checkpoint_id(pause.thread_id) == pause.checkpoint_id:
            await forget_nested_update(store, nested, pause.thread_id)
        raise


async def _nested_target(
    store: CheckpointStore, graph: GraphInfo, plan: Plan, pause: PendingThread
) -> UpdateTarget | None:
    """The subgraph state an edit goes to, re-resolved here (a worker's plan was recorded
    without the graph); None for root edits. Checked before anything is written."""
    if not plan.update:
        return None
    target = await update_target(graph, store.saver, pause)
    if plan.update_ns is not None and plan.update_ns != target.checkpoint_ns:
        raise ConsoleError(
            f"The edit was planned for {target_label(plan.update_ns)} but the pause is now in "
            f"{target_label(target.checkpoint_ns)}; nothing was run. Decide again.")
    if not target.nested:
        return None
    if plan.breakpoint_action == "skip":
        raise DecisionRefused(
            f"A rejection ends the run without running {target_label(target.checkpoint_ns)}"
            ", so an edit of it would be dropped. Nothing was run; reject without an edit.")
    update_effects(plan.update, target.values, target.graph)  # unknown keys: refused
    return target


async def _run_plan(
    store: CheckpointStore, runnable: Any, config: Any, plan: Plan, pause: PendingThread
) -> None:
    from langgraph.types import Command

    if plan.breakpoint_action == "skip":
        await _skip_to_end(runnable, config, plan)
    elif plan.breakpoint_action == "continue":
        await runnable.ainvoke(Command(update=plan.update) if plan.update else None, config,
                               durability=RESUME_DURABILITY)
    else:
        command: Command[Any] = Command(update=plan.update or None, resume=plan.resume)
        tasks = {i.task_id for i in pause.interrupts}
        before = await recorded_answers(store.saver, pause.thread_id, pause.checkpoint_id,
                                        tasks)
        try:
            await runnable.ainvoke(command, config, durability=RESUME_DURABILITY)
        except Exception:
            if await store.head_checkpoint_id(pause.thread_id) == pause.checkpoint_id:
                await forget_failed_answers(store.saver, pause.thread_id,
                                            pause.checkpoint_id, before)
            raise


async def _skip_to_end(runnable: Any, config: Any, plan: Plan) -> None:
    """End the run without running anything: LangGraph's "clear all tasks" update (no
    values, `as_node=END`) drops the pending tasks, the gated ones included. Recording
    the gated node as done instead (`as_node=node`) lets its successors run, and in a
    model/tools loop sends the run straight back to the gate."""
    from langgraph.constants import END

    if plan.update:
        await runnable.aupdate_state(config, plan.update)
    await runnable.aupdate_state(config, None, as_node=END)


# ----------------------------------------------------------------------------- bulk


@dataclass(frozen=True, slots=True)
class BulkTarget:
    """One thread to reject, with what the reviewer saw (a mark holds both): a pause_id,
    or a bare checkpoint id; it is the decision's `expect`."""

    thread_id: str
    checkpoint_id: str | None


@dataclass(frozen=True, slots=True)
class BulkResult:
    thread_id: str
    # rejected | approved | approval_recorded | queued | stalled | conflict | failed |
    # not_pending | refused
    status: str
    message: str


Progress = Callable[[BulkResult, int, int], Awaitable[None] | None]


async def reject_many(
    decider: Decider,
    targets: Sequence[BulkTarget],
    reason: str,
    *,
    concurrency: int = 8,
    progress: Progress | None = None,
) -> list[BulkResult]:
    """Reject many threads with bounded parallelism; one failure never stops the rest."""
    return await decide_many(decider, targets, DecisionInput(DecisionType.REJECT, reason=reason),
                             concurrency=concurrency, progress=progress)


async def decide_many(
    decider: Decider,
    targets: Sequence[BulkTarget],
    choice: DecisionInput,
    *,
    concurrency: int = 8,
    progress: Progress | None = None,
) -> list[BulkResult]:
    """The same decision on many threads, each through `Decider.decide` (its policy,
    four-eyes and N-of-M checks, its ledger claim), with bounded parallelism; one failure
    never stops the rest. Results are in the order of `targets`."""
    await decider.ensure_ledger()
    gate = asyncio.Semaphore(max(1, concurrency))
    done = 0
    results: list[BulkResult | None] = [None] * len(targets)

    async def one(index: int, target: BulkTarget) -> None:
        nonlocal done
        async with gate:
            result = await _decide_one(decider, target, choice)
        results[index] = result
        done += 1
        if progress is not None:
            maybe = progress(result, done, len(targets))
            if maybe is not None:
                await maybe

    await asyncio.gather(*(one(i, t) for i, t in enumerate(targets)))
    return [r for r in results if r is not None]


_DONE_WORD = {DecisionType.REJECT: "rejected", DecisionType.APPROVE: "approved"}


async def _decide_one(decider: Decider, target: BulkTarget, choice: DecisionInput) -> BulkResult:
    try:
        outcome = await decider.decide(target.thread_id, choice, expect=target.checkpoint_id)
    except ConflictError as exc:
        return BulkResult(target.thread_id, "conflict", str(exc))
    except NotPendingError as exc:
        return BulkResult(target.thread_id, "not_pending", str(exc))
    except (UsageError, PolicyRefused) as exc:
        return BulkResult(target.thread_id, "refused", str(exc))
    except Exception as exc:  # one failure never stops the rest
        return BulkResult(target.thread_id, "failed", f"{type(exc).__name__}: {exc}")
    # Queued is not done: a worker has yet to apply it (and may find a conflict).
    done = _DONE_WORD.get(choice.decision, "applied")
    status = {"applied": done, "queued": "queued"}.get(outcome.status, outcome.status)
    return BulkResult(target.thread_id, status, outcome.message)


def _refuse_stalled(latest: LedgerRow | None, head: str) -> None:
    """A run that stopped after a delivered decision has nothing to decide: a second
    decision (a rejection that ends the run, say) would overrule the first."""
    if latest is None or latest.status != DecisionStatus.STALLED \
            or latest.new_checkpoint_id != head:
        return
    raise NotPendingError(
        f"Thread {latest.thread_id!r} is stalled: {latest.decision} (ledger #{latest.id}) "
        f"was delivered and the run stopped before it finished; the application must resume "
        "it. Nothing was written.")


def ignored_outcome(row: LedgerRow, graph: GraphInfo, pause: PendingThread) -> str:
    """Why a resume that returned left the same pause waiting, as the ledger keeps it."""
    missing = [n for n in pause.nodes if n not in graph.graph.nodes]
    if missing:
        known = ", ".join(sorted(n for n in graph.graph.nodes if not n.startswith("__")))
        why = (f"the graph loaded as {graph.name!r} has no node {', '.join(missing)} (its "
               f"nodes: {known or 'none'}): it is not the graph that made this thread")
    else:
        why = "the graph did not take the answer (a node that ignores it, or another graph)"
    return (f"not delivered: the resume left the same pause waiting at {row.checkpoint_id}; "
            f"{why}. Nothing ran; the thread may be decided again")


def _refuse_unstorable_id(thread_id: str) -> None:
    """A thread id that is not UTF-8 (read leniently from SQLite) can be listed, as an
    unreadable row, but neither looked up nor recorded as text: refused before any query."""
    try:
        thread_id.encode()
    except UnicodeEncodeError:
        from console.core.inert import inert

        raise UnreadableRow(
            f"Thread {inert(thread_id, limit=200)!r} cannot be read (its thread id is not "
            "valid UTF-8); nothing was written.") from None


def warm_up() -> None:
    """Import what applying a decision needs (LangGraph, its savers' serializer), so the
    first decision after a start does not wait for it; run it off the event loop once the
    queue is on screen."""
    import langgraph.checkpoint.serde.jsonplus
    import langgraph.constants
    import langgraph.types  # noqa: F401

    import console.core.serde  # noqa: F401
