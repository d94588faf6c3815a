"""Deciding pauses on an Agent Server, which has no compare-and-swap.

The server's API resumes a thread, but takes no precondition saying which pause the
answer is for: a resume keyed by a question's id that is no longer waiting is quietly
ignored, or (LangGraph matches a task's first question id to its next one) answers the
node's next question. So every decision here:

1. reads the thread's newest run (a run in progress: conflict) and then its state, and
   refuses (exit 3) unless the pause the reviewer read is still the one waiting;
2. with a ledger (`--ledger-db`), claims the pause there: the one-claim unique index
   lets one console win each pause (no head check: the checkpoints are the server's);
3. resumes keyed by interrupt id with `multitask_strategy="reject"` (a busy thread is a
   409: conflict) and LangGraph's strict resume (a stale id fails the run before
   anything is written, on servers whose LangGraph has it), or, at a static
   breakpoint, continues with `input=None` (an edit rides along as `Command(update=...)`)
   or ends the run with LangGraph's "clear all tasks" update (`as_node=END`);
4. waits for the run and reads the state again: the answered questions must be gone,
   and no other client's run may have come between the read and ours. A stale answer
   is a conflict even when the server reported success.

It never passes `checkpoint_id` (that forks the thread and re-runs the gated node).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from console.core.errors import (
    ConflictError,
    ConsoleError,
    NotPendingError,
    PolicyRefused,
    UsageError,
)
from console.core.ledger.apply import (
    Decider,
    Outcome,
    _refuse_unstorable_id,
    _replayed,
    describe_conflict,
)
from console.core.ledger.db import LedgerDB, database_error
from console.core.ledger.decisions import DecisionInput, DecisionRefused, Plan, plan_decision
from console.core.ledger.reconcile import Settled
from console.core.ledger.rows import (
    CLAIMING_STATUSES,
    ClaimResult,
    DecisionStatus,
    DecisionType,
    LedgerRow,
    Origin,
)
from console.core.ledger.standalone import NoLedger, install_standalone
from console.core.models import PauseKind, PendingThread
from console.core.pause_id import (
    SEPARATOR,
    parse_expect,
    pause_id_of,
)
from console.core.policy import Policy
from console.core.store.base import CheckpointStore

# LangGraph's configurable key for strict resume (langgraph._internal._constants
# CONFIG_KEY_STRICT_RESUME, LangGraph >= 1.2.24): a resume map naming a question that is
# not waiting fails the run with UnknownInterruptError before anything is written. A
# server on an older LangGraph ignores it (then only the checks around the run hold).
STRICT_RESUME = "__pregel_strict_resume"
_END = "__end__"
_RUNNING = ("pending", "running")
_FINISHED = ("success", "interrupted")
NO_FORK = "Nothing was sent to the server."
_ANY = "00000000-0000-0000-0000-000000000000"  # parses as a checkpoint id; replaced


@dataclass(frozen=True, slots=True)
class ServerRead:
    """One read of a thread: the pause waiting (None: none), the raw state, and the
    server's newest run on the thread before that read (the watermark for spotting
    another client's run between our read and our own)."""

    pause: PendingThread | None
    state: Mapping[str, Any]
    newest_run: str | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the server says became of one decision."""

    status: str  # applied | stalled | not_delivered
    head: str | None
    message: str
    conflict: bool = False  # not delivered because the pause was no longer the one read
    raced: str | None = None  # another client's run came between: what to say


class ServerDecider(Decider):
    """`Decider`'s surface (plan, decide, ensure_ledger, ledger, policy, origin,
    worker_mode) for a `ServerStore`: the CLI, bulk commands and the TUI call it alike."""

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
        super().__init__(store, origin, templates=templates, worker_mode=worker_mode,
                         policy=policy, ledger=ledger if ledger is not None else NoLedger())

    @property
    def has_ledger(self) -> bool:
        """Whether decisions are claimed and audited in a `--ledger-db` database."""
        return not isinstance(self.ledger, NoLedger)

    @property
    def client(self) -> Any:
        """The store's langgraph-sdk client (`ServerClient.sdk`)."""
        holder = getattr(self.store, "client", None)
        return getattr(holder, "sdk", holder)

    async def ensure_ledger(self) -> None:
        """Install the ledger in its own database on first use (none: nothing to do)."""
        if self._ledger_ready or not self.has_ledger:
            return
        try:
            if not await self.ledger.installed():
                await install_standalone(self.ledger)
        except Exception as exc:
            raise database_error(exc, _ledger_place(self.ledger)) from exc
        self._ledger_ready = True

    async def close(self) -> None:
        """Close the ledger's connection (the store closes the server's)."""
        await self.ledger.close()

    @property
    def nothing_to_reconcile(self) -> str | None:
        from console.core.server.reconcile import NO_LEDGER_TO_RECONCILE

        return None if self.has_ledger else NO_LEDGER_TO_RECONCILE

    async def reconcile(self, *, lease_seconds: float = 600.0) -> list[Settled]:
        """Settle abandoned in-flight rows of `--ledger-db` from the server's state."""
        from console.core.server.reconcile import reconcile_server

        if not self.has_ledger:
            return []
        return await reconcile_server(self, lease_seconds=lease_seconds)

    async def store_thread(self, thread_id: str) -> Mapping[str, Any] | None:
        """The server's record of a thread (status, interrupts); None if it is gone."""
        try:
            return dict(await self._call(self.client.threads.get(thread_id), thread_id))
        except NotPendingError:
            return None

    async def state_of(self, thread_id: str) -> Mapping[str, Any]:
        """LangGraph's `get_state` of a thread, through the server."""
        return dict(await self._call(self.client.threads.get_state(thread_id), thread_id))

    # ------------------------------------------------------------------ reading

    async def read(self, thread_id: str) -> ServerRead:
        """The newest run first, then the state: a run that finished between the two
        reads is in the state read; one created after it is spotted after our run."""
        runs = await self._call(self.client.runs.list(thread_id, limit=1), thread_id)
        newest = runs[0] if runs else None
        if newest is not None and newest.get("status") in _RUNNING:
            raise ConflictError(
                f"Conflict on {thread_id}: the Agent Server is running run "
                f"{newest.get('run_id')} on it ({newest.get('status')}), so the pause you "
                f"read may be answered by it. {NO_FORK} Reload and decide again.")
        state = await self._call(self.client.threads.get_state(thread_id), thread_id)
        pause = await self.store.pending_thread(thread_id)
        if pause is not None and pause.checkpoint_id != _checkpoint_of(state):
            raise ConflictError(
                f"Conflict on {thread_id}: the thread moved on while the console read it "
                f"({_checkpoint_of(state)}, then {pause.checkpoint_id}). {NO_FORK} Reload "
                "and decide again.")
        failed = [str(t.get("name")) for t in state.get("tasks") or ()
                  if t.get("error") and not t.get("interrupts")]
        if pause is not None and pause.kind is not PauseKind.INTERRUPT and failed:
            raise NotPendingError(
                f"Thread {thread_id!r} is not paused at a breakpoint: its last run failed in "
                f"{', '.join(failed)}; the application must repair or resume it. {NO_FORK}")
        return ServerRead(pause, state, str(newest["run_id"]) if newest else None)

    async def plan(
        self,
        thread_id: str,
        choice: DecisionInput,
        *,
        expect: str | None = None,
        expect_pause: str | None = None,
    ) -> tuple[PendingThread, Plan]:
        """Validate a decision against the pause waiting now; writes nothing."""
        pause, plan, _ = await self._plan(thread_id, choice, expect=expect,
                                          expect_pause=expect_pause)
        return pause, plan

    async def _plan(
        self, thread_id: str, choice: DecisionInput, *, expect: str | None,
        expect_pause: str | None,
    ) -> tuple[PendingThread, Plan, ServerRead]:
        _refuse_unstorable_id(thread_id)
        # A row listed from `threads.search` has no checkpoint id (the search does not
        # give it): its pause_id is `:<digest>`, and the questions alone name the pause
        # (interrupt ids hash the task, whose id derives from its checkpoint).
        questions_only = expect is not None and expect.strip().startswith(SEPARATOR)
        expectation = parse_expect(f"{_ANY}{expect.strip()}" if questions_only else expect) \
            if expect is not None else None
        seen = await self.read(thread_id)
        pause = seen.pause
        head = _checkpoint_of(seen.state)
        if head is None:
            raise NotPendingError(
                f"Thread {thread_id!r} was not found on {self.store.location.display()}.")
        if questions_only and expectation is not None:
            expectation = dataclasses.replace(expectation, checkpoint_id=head)
        if expectation is not None and expectation.checkpoint_id != head:
            await self._raise_stale(thread_id, expectation.checkpoint_id, head)
        if pause is None:
            await self._raise_if_decided(thread_id, head)
            raise NotPendingError(
                f"Thread {thread_id!r} is not waiting for a human at its head {head}; "
                "nothing to decide.")
        if expectation is not None or expect_pause is not None:
            await self._check_same_questions(pause, expectation, expect_pause, seen.state)
        if choice.state_update and _nested_tasks(seen.state):
            raise DecisionRefused(
                f"The pause of {thread_id} is inside a subgraph: through the Agent Server an "
                "edit goes to the parent graph's state, which the paused node does not "
                "read. Nothing was written; decide without --edit.")
        if choice.state_update and pause.kind is not PauseKind.INTERRUPT \
                and choice.decision is DecisionType.REJECT:
            raise DecisionRefused(
                "A rejection at a breakpoint ends the run on the Agent Server without an "
                "edit (LangGraph takes no values with the update that ends it). Nothing was "
                "written; reject without --edit.")
        graph = self.store.registry.get(pause.graph)
        values = dict(seen.state.get("values") or {}) if choice.state_update else {}
        plan = plan_decision(pause, values, choice, graph, self.templates)
        if plan.update:
            plan = dataclasses.replace(plan, update_ns="")  # the root state, always
        return pause, plan, seen

    async def _answer_recorded(
        self, pause: PendingThread, state: Mapping[str, Any] | None
    ) -> bool:
        # no checkpoint rows to read here: the ids the server reports say it
        return not _first_questions(state or {}, pause.interrupt_ids)

    # ------------------------------------------------------------------ deciding

    async def decide(
        self,
        thread_id: str,
        choice: DecisionInput,
        *,
        expect: str | None = None,
        expect_pause: str | None = None,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Apply one decision through the server, or raise Conflict/NotPending/Refused
        errors; with a ledger, exactly once per pause across consoles."""
        if self.worker_mode:
            raise UsageError(
                "Worker mode applies decisions with a graph loaded next to a checkpoint "
                "database; on an Agent Server the console resumes through the server's API "
                "itself. Drop --worker-mode (or HITL_WORKER_MODE). Nothing was written.")
        await self.ensure_ledger()
        if idempotency_key:
            if not self.has_ledger:
                raise UsageError("--idempotency-key is kept in the decision ledger: pass "
                                 "--ledger-db URL to use it on an Agent Server. Nothing was "
                                 "sent.")
            earlier = await self.ledger.rows(idempotency_key=idempotency_key)
            if earlier:
                return _replayed(earlier[0])
        pause, plan, seen = await self._plan(thread_id, choice, expect=expect,
                                             expect_pause=expect_pause)
        if not (pause.metadata.get("assistant_id") or pause.graph):
            raise UsageError(f"Thread {thread_id!r} names no graph or assistant in its "
                             "metadata, so the console cannot tell the server what to resume "
                             "it with. Nothing was sent.")
        request = self._request(pause, choice, plan, idempotency_key)
        verdict = await self.authorise(pause, choice, plan)
        if verdict.approvals_needed > 1:
            if not self.has_ledger:
                raise PolicyRefused(
                    f"{pause.thread_id} needs {verdict.approvals_needed} approvals, which are "
                    "counted in a decision ledger: pass --ledger-db URL. Nothing was sent.")
            count = await self.ledger.add_approval(request)
            if count < verdict.approvals_needed:
                return Outcome(thread_id, "approval_recorded", None, plan, None,
                               f"Approval {count} of {verdict.approvals_needed} recorded for "
                               f"{thread_id}; it runs after the last one.")
        row: LedgerRow | None = None
        if self.has_ledger:
            claim = await self._claim(request)
            if claim.replayed and claim.row is not None:
                return _replayed(claim.row)
            if claim.row is None:
                claim = dataclasses.replace(claim, current_head=_checkpoint_of(seen.state))
                raise ConflictError(describe_conflict(thread_id, pause.checkpoint_id, claim))
            row = claim.row
        return await self._apply(row, pause, plan, seen)

    async def _apply(
        self, row: LedgerRow | None, pause: PendingThread, plan: Plan, seen: ServerRead,
    ) -> Outcome:
        try:
            delivery = await self._deliver(pause, plan, seen)
        except BaseException as exc:
            if row is not None:  # not known whether it got through: keep the pause held
                await self._settle(row, DecisionStatus.IN_FLIGHT, None, None)
                if isinstance(exc, ConsoleError):
                    raise ConsoleError(
                        f"{exc} The decision stays in flight (ledger #{row.id}); check the "
                        "thread on the server before deciding it again.") from exc
            raise
        status = {"applied": DecisionStatus.APPLIED, "stalled": DecisionStatus.STALLED,
                  "not_delivered": DecisionStatus.FAILED}[delivery.status]
        ledger_note = f" (ledger #{row.id})" if row is not None else ""
        if row is not None:
            note = f"{delivery.message}; {delivery.raced}" if delivery.raced \
                else delivery.message
            await self._settle(row, status, note, delivery.head)
        decision = plan_word(plan, pause)
        if delivery.conflict or delivery.raced:
            raise ConflictError(f"Conflict on {pause.thread_id}: "
                                f"{delivery.raced or delivery.message}{ledger_note}.")
        if delivery.status == "not_delivered":
            raise ConsoleError(f"{delivery.message[:1].upper()}{delivery.message[1:]}"
                               f"{ledger_note}.")
        if delivery.status == "stalled":
            raise ConsoleError(
                f"The decision on {pause.thread_id} was sent, but the run then failed "
                f"({delivery.message}){ledger_note}: the application must resume or repair "
                "the run; it is not decided again from here.")
        message = f"{decision} applied to {pause.thread_id}; new head {delivery.head}."
        if plan.unanswered:
            total = len(plan.item_decisions) + len(plan.unanswered)
            message = (f"{decision} delivered to {len(plan.item_decisions)} of {total} items "
                       f"of {pause.thread_id}; {len(plan.unanswered)} still wait"
                       f"{'s' if len(plan.unanswered) == 1 else ''} for a decision.")
        elif delivery.message != "applied":
            message = f"{decision} delivered to {pause.thread_id}, but {delivery.message}"
        return Outcome(pause.thread_id, "applied", row, plan, delivery.head, message)

    async def _settle(self, row: LedgerRow, status: DecisionStatus, outcome: str | None,
                      head: str | None) -> None:
        if status is DecisionStatus.IN_FLIGHT:
            return  # the claim's row already says in flight
        try:
            await self.ledger.finish(row.id, status.value, outcome, new_head=head)
        except Exception as exc:
            raise database_error(exc, _ledger_place(self.ledger),
                                 doing="settle the decision") from exc

    async def _deliver(self, pause: PendingThread, plan: Plan, seen: ServerRead) -> Delivery:
        """Send the decision and read what became of it."""
        thread_id = pause.thread_id
        assistant = str(pause.metadata.get("assistant_id") or pause.graph)
        if plan.breakpoint_action == "skip":
            return await self._end_run(pause, seen)
        if plan.breakpoint_action == "continue":
            command: dict[str, Any] | None = {"update": plan.update} if plan.update else None
        else:
            command = {"resume": plan.resume}
            if plan.update:
                command["update"] = plan.update
        try:
            run = await self.client.runs.create(
                thread_id, assistant, input=None, command=command,
                multitask_strategy="reject",
                config={"configurable": {STRICT_RESUME: True}})
        except Exception as exc:
            if _status_code(exc) == 409:
                return Delivery("not_delivered", pause.checkpoint_id,
                                "the Agent Server refused the resume (HTTP 409): another run "
                                "is in progress on the thread. Nothing ran; reload and decide "
                                "again", conflict=True)
            raise self._failure(exc, thread_id) from exc
        run_id = str(run["run_id"])
        result = await self._call(self.client.runs.join(thread_id, run_id), thread_id)
        finished = await self._call(self.client.runs.get(thread_id, run_id), thread_id)
        after = await self._call(self.client.threads.get_state(thread_id), thread_id)
        raced = await self._raced(thread_id, seen.newest_run, run_id)
        head = _checkpoint_of(after)
        error = _run_error(result)
        if error is not None and error[0] == "UnknownInterruptError":
            return Delivery("not_delivered", head,
                            "the question you answered was no longer waiting when the server "
                            "ran the resume (answered elsewhere meanwhile): LangGraph refused "
                            "it before running anything. Reload and decide on what waits now "
                            "(the server marks the thread `error` until its question is "
                            "answered)", conflict=True)
        if finished.get("status") not in _FINISHED or error is not None:
            what = f"{error[0]}: {error[1]}" if error else f"run {finished.get('status')}"
            return Delivery("stalled", head, f"delivered, then {what}", raced=raced)
        if plan.breakpoint_action == "continue":
            if head == pause.checkpoint_id and tuple(after.get("next") or ()) == \
                    pause.next_nodes:
                return Delivery("not_delivered", head,
                                "not delivered: the run left the breakpoint where it was",
                                raced=raced)
            return Delivery("applied", head, "applied", raced=raced)
        waiting = _pending_ids(after) if head == pause.checkpoint_id else set()
        still = set(plan.resume or {}) & waiting
        if still:
            return Delivery("not_delivered", head,
                            f"not delivered: the run left {len(still)} answered question(s) "
                            f"waiting at {pause.checkpoint_id}; the graph did not take the "
                            "answer. Nothing ran; the thread may be decided again",
                            raced=raced)
        message = "applied"
        asked = waiting - set(pause.interrupt_ids)
        if asked and not plan.unanswered:
            again = await self.store.pending_thread(thread_id)
            if again is not None:
                message = (f"the graph asked again: {again.summary} "
                           f"(pause_id {pause_id_of(again)})")
        return Delivery("applied", head, message, raced=raced)

    async def _end_run(self, pause: PendingThread, seen: ServerRead) -> Delivery:
        """Reject at a static breakpoint: LangGraph's "clear all tasks" update
        (`as_node=END`, no values) ends the run without running the gated node (or, after
        an `interrupt_after`, what follows it). The update takes no precondition, so it is
        checked after: its parent must be the paused checkpoint read."""
        thread_id = pause.thread_id
        try:
            await self.client.threads.update_state(thread_id, None, as_node=_END)
        except Exception as exc:
            if _status_code(exc) == 409:
                return Delivery("not_delivered", pause.checkpoint_id,
                                "the Agent Server refused the rejection (HTTP 409): a run is "
                                "in progress on the thread. Nothing ran; reload and decide "
                                "again", conflict=True)
            raise self._failure(exc, thread_id) from exc
        after = await self._call(self.client.threads.get_state(thread_id), thread_id)
        raced = await self._raced(thread_id, seen.newest_run, None)
        parent = (after.get("parent_checkpoint") or {}).get("checkpoint_id")
        head = _checkpoint_of(after)
        if parent != pause.checkpoint_id and raced is None:
            raced = (f"the thread moved on from {pause.checkpoint_id} before the rejection "
                     f"landed (it ended the run at {parent}, not at the pause you read); "
                     "check the thread")
        return Delivery("applied", head, "applied", raced=raced)

    async def _raced(self, thread_id: str, newest: str | None, ours: str | None) -> str | None:
        """Another client's run created after our read and before our own (or, for an
        update, since our read): our answer may have met another question than the one
        read. None when there is none."""
        runs = await self._call(self.client.runs.list(thread_id, limit=20), thread_id)
        others: list[str] = []
        for run in runs:  # newest first
            run_id = str(run["run_id"])
            if run_id == newest:
                break
            if run_id != ours:
                others.append(run_id)
        if not others:
            return None
        return (f"another client ran {len(others)} run(s) on the thread ({others[-1]}) "
                "between the console's read and its decision, so the decision may have met "
                "another question than the one you read; check the thread")

    async def _raise_if_decided(self, thread_id: str, head: str) -> None:
        """A pause this ledger already answered is a conflict (exit 3), not 'not pending'."""
        if not await self.ledger.installed():
            return
        rows = await self.ledger.rows(thread_id=thread_id)
        latest = rows[-1] if rows else None
        if latest is not None and latest.status in CLAIMING_STATUSES:
            raise ConflictError(describe_conflict(
                thread_id, latest.checkpoint_id,
                ClaimResult(row=None, conflict_with=latest, current_head=head)))

    async def _raise_stale(self, thread_id: str, expected: str, head: str) -> None:
        rows = await self.ledger.rows(thread_id=thread_id) \
            if await self.ledger.installed() else []
        holder = next((r for r in reversed(rows) if r.checkpoint_id == expected), None)
        raise ConflictError(describe_conflict(
            thread_id, expected, ClaimResult(row=None, conflict_with=holder, current_head=head)))

    async def _claim(self, request: Any) -> ClaimResult:
        try:
            return await self.ledger.claim(request)
        except Exception as exc:
            raise database_error(exc, _ledger_place(self.ledger)) from exc

    async def _call(self, awaitable: Any, thread_id: str) -> Any:
        try:
            return await awaitable
        except Exception as exc:
            if _status_code(exc) == 404:
                raise NotPendingError(
                    f"Thread {thread_id!r} was not found on "
                    f"{self.store.location.display()}.") from exc
            raise self._failure(exc, thread_id) from exc

    def _failure(self, exc: BaseException, thread_id: str) -> ConsoleError:
        from console.core.errors import describe_exception
        from console.core.server.client import server_failure

        if isinstance(exc, ConsoleError):
            return exc
        mapped = server_failure(exc, self.store.location, doing="decide on it",
                                kept="see the ledger and the thread for what was sent",
                                thread_id=thread_id)
        return mapped if mapped is not None else ConsoleError(describe_exception(exc))


def plan_word(plan: Plan, pause: PendingThread) -> str:
    """The decision as a capitalised word for messages (`Approve`, `Reject`, ...)."""
    decisions = {d for _, d in plan.item_decisions}
    if len(decisions) == 1:
        return decisions.pop().capitalize()
    if plan.breakpoint_action == "skip":
        return "Reject"
    return "Decision" if decisions else "Approve"


def _ledger_place(ledger: LedgerDB) -> str:
    location = getattr(ledger, "location", None)
    return location.display() if location is not None else "the ledger database"


def _checkpoint_of(state: Mapping[str, Any]) -> str | None:
    checkpoint = state.get("checkpoint") or {}
    found = checkpoint.get("checkpoint_id") or state.get("checkpoint_id")
    return str(found) if found else None


def _pending_ids(state: Mapping[str, Any]) -> set[str]:
    return {str(i["id"]) for task in state.get("tasks") or ()
            for i in task.get("interrupts") or () if i.get("id")}


def _nested_tasks(state: Mapping[str, Any]) -> bool:
    """Whether a pending task runs a subgraph (its interrupt is the subgraph's)."""
    return any(task.get("state") for task in state.get("tasks") or ()
               if task.get("interrupts"))


def _first_questions(state: Mapping[str, Any], interrupt_ids: tuple[str, ...]) -> bool:
    """Whether each pending interrupt is its task's first question: LangGraph names it
    by the hash of the task's namespace alone (`langgraph.types._interrupt_id`), and
    adds the count of answers the task holds once one is recorded."""
    from xxhash import xxh3_128_hexdigest

    firsts = {xxh3_128_hexdigest(f"{task.get('name')}:{task.get('id')}".encode())
              for task in state.get("tasks") or ()}
    return all(i in firsts for i in interrupt_ids)


def _run_error(result: Any) -> tuple[str, str] | None:
    """(type, message) of a run that failed, from what `runs.join` returned."""
    if isinstance(result, Mapping) and isinstance(result.get("__error__"), Mapping):
        error = result["__error__"]
        return str(error.get("error") or "error"), str(error.get("message") or "")
    return None


def _status_code(exc: BaseException) -> int | None:
    code = getattr(exc, "status_code", None)
    if code is None:
        response = getattr(exc, "response", None)
        code = getattr(response, "status_code", None)
    return int(code) if isinstance(code, int) else None
