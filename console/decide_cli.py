"""Decision commands: approve, reject, respond, expire, audit, reconcile."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.core.durations import parse_duration
from console.core.errors import (
    ConflictError,
    ConsoleError,
    NotPendingError,
    PolicyRefused,
    UsageError,
)
from console.core.filter_query import cli_filter
from console.core.inert import inert
from console.core.ledger.rows import DecisionType, LedgerRow
from console.core.models import PendingFilter
from console.core.pause_id import pause_id_of
from console.settings import Settings

if TYPE_CHECKING:
    from console.core.ledger.apply import BulkResult
    from console.core.ledger.decisions import DecisionInput

# The handlers import the core's decision path lazily, so `--help` stays instant.

Command = Callable[[str, str], argparse.ArgumentParser]


ITEMS_HELP = """\
items: a pause with several pending interrupts (parallel branches, map-reduce `Send`s,
one tool call each with LangChain's per-call HumanInTheLoopMiddleware) is answered with
one Command(resume={interrupt_id: value, ...}). The command's decision applies to every
item; the per-item options above decide single items differently. ITEM is the item's
number from 1 (as `show` lists them), its interrupt id, or a unique prefix of the id.
  hitl-console approve T --reject-item 2 --reason "not this one"   approve 1, reject 2
  hitl-console approve T --item 1                                  answer item 1 only
  hitl-console approve T --edit-item 2='{"path": "/tmp/x"}'        approve 1, edit 2
  hitl-console reject T --reason no --resume-for 3='{"amount": 5}' a value of your own

"""


def add_decision_commands(command: Command) -> None:
    approve = command("approve", "approve a pause (optionally with edits), or all matching "
                      "pauses where [policy] bulk_approve allows it")
    approve.add_argument("thread", nargs="?", help="thread id")
    approve.add_argument("--all", action="store_true", help="approve every pending thread "
                         "matching the filters at the gates [policy] bulk_approve names "
                         "(needs --yes)")
    approve.add_argument("--node", help="with --all: only pauses at this node")
    approve.add_argument("--older-than", metavar="D",
                         help="with --all: only pauses older than D")
    approve.add_argument("--search", metavar="TEXT", help="with --all: the TUI's / filter "
                         "(text, graph:NAME node:NAME older:2h)")
    approve.add_argument("--yes", action="store_true", help="confirm --all")
    approve.add_argument("--concurrency", type=int, default=8, help="with --all: parallel "
                         "approvals")
    _decision_options(approve)
    approve.add_argument("--edit", metavar="JSON", help="state update applied through reducers")
    approve.add_argument("--edit-action", action="append", default=[], metavar="N=JSON",
                         help="edited arguments of action request N, from 1 (repeatable; in a "
                         "per-call tool approval pause, action N is item N)")
    approve.add_argument("--resume", metavar="JSON",
                         help="custom resume value (or {interrupt_id: value, ...})")
    approve.add_argument("--force", action="store_true",
                         help="allow an edit that replaces a list/dict channel without reducer")
    _item_options(approve)

    reject = command("reject", "reject one, many, or all matching pauses")
    reject.add_argument("threads", nargs="*", metavar="THREAD", help="thread ids")
    _decision_options(reject)
    reject.add_argument("--all", action="store_true", help="reject every pending thread "
                        "matching the filters (needs --yes)")
    reject.add_argument("--node", help="with --all: only pauses at this node")
    reject.add_argument("--older-than", metavar="D", help="with --all: only pauses older than D")
    reject.add_argument("--search", metavar="TEXT", help="with --all: the TUI's / filter "
                        "(text, graph:NAME node:NAME older:2h)")
    reject.add_argument("--yes", action="store_true", help="confirm --all")
    reject.add_argument("--concurrency", type=int, default=8, help="parallel rejections")
    _item_options(reject)

    respond = command("respond", "answer without running the tool (where allowed)")
    respond.add_argument("thread", help="thread id")
    respond.add_argument("--message", "-m", required=True, help="the response")
    _decision_options(respond, reason=False)
    _item_options(respond)

    expire = command("expire", "reject pauses past an SLA with reason 'approval timeout'")
    expire.add_argument("--older-than", required=True, metavar="D", help="e.g. 72h, 7d")
    expire.add_argument("--dry-run", action="store_true", help="list what would expire")
    expire.add_argument("--concurrency", type=int, default=8, help="parallel rejections")

    audit = command("audit", "the decision ledger")
    audit.add_argument("--csv", action="store_true", help="CSV instead of a table")
    audit.add_argument("--thread", metavar="T", help="only this thread")
    audit.add_argument("--since", metavar="D", help="only decisions in the last D (e.g. 24h)")

    rec = command("reconcile", "settle decisions left in flight by a crashed process")
    rec.add_argument("--lease", default="10m", metavar="D",
                     help="treat in-flight rows older than D as abandoned (default 10m)")


def _decision_options(parser: argparse.ArgumentParser, *, reason: bool = True) -> None:
    if reason:
        parser.add_argument("--reason", "-m", help="why (recorded in the ledger)")
    parser.add_argument("--expect", metavar="PAUSE_ID",
                        help="refuse (exit 3) unless the thread still waits on this pause: "
                        "the pause_id of `pending --json`/`show --json` (a bare checkpoint "
                        "id is accepted while no question there has been answered)")
    parser.add_argument("--idempotency-key", metavar="K",
                        help="a repeated key returns the first outcome and runs nothing")


def _item_options(parser: argparse.ArgumentParser) -> None:
    """Per-item decisions on a pause with several interrupts (see ITEMS_HELP)."""
    parser.epilog = ITEMS_HELP + (parser.epilog or "")
    group = parser.add_argument_group("decisions per item (ITEM: number from 1, or id)")
    group.add_argument("--item", action="append", default=[], metavar="ITEM",
                       help="answer only the items named by --item and the options below "
                       "(repeatable); the others stay pending and are asked again")
    group.add_argument("--approve-item", action="append", default=[], metavar="ITEM",
                       help="approve this item (repeatable)")
    group.add_argument("--reject-item", action="append", default=[], metavar="ITEM[=REASON]",
                       help="reject this item, with its own reason or --reason (repeatable)")
    group.add_argument("--respond-item", action="append", default=[], metavar="ITEM=MESSAGE",
                       help="answer this item with a message instead of running it")
    group.add_argument("--edit-item", action="append", default=[], metavar="ITEM=JSON",
                       help="approve this item's tool call with these arguments (checked "
                       "against the tool's schema)")
    group.add_argument("--resume-for", action="append", default=[], metavar="ITEM=JSON",
                       help="send this item exactly this resume value (repeatable)")


def _item_ref(raw: str, flag: str, *, value: bool) -> tuple[str, str | None]:
    ref, sep, rest = raw.partition("=")
    if not ref.strip() or (value and not sep):
        form = "ITEM=VALUE" if value else "ITEM"
        raise UsageError(f"{flag} {raw!r} is not {form} (ITEM: a number from 1 or an "
                         "interrupt id); nothing was written.")
    return ref.strip(), rest if sep else None


def item_choices(
    args: argparse.Namespace, reason: str | None
) -> tuple[dict[str, DecisionInput] | None, tuple[str, ...] | None]:
    """The per-item decisions and the items to answer that the item options name."""
    from console.core.ledger.decisions import DecisionInput

    items: dict[str, DecisionInput] = {}

    def put(ref: str, flag: str, choice: DecisionInput) -> None:
        if ref in items:
            raise UsageError(f"Item {ref} is given two decisions ({flag} and another): name "
                             "each item once; nothing was written.")
        items[ref] = choice

    for raw in getattr(args, "approve_item", []):
        ref, _ = _item_ref(raw, "--approve-item", value=False)
        put(ref, "--approve-item", DecisionInput(DecisionType.APPROVE, reason=reason))
    for raw in getattr(args, "reject_item", []):
        ref, own = _item_ref(raw, "--reject-item", value=False)
        why = (own or reason or "").strip()
        if not why:
            raise UsageError(f"--reject-item {ref} needs a reason: write {ref}=REASON or pass "
                             "--reason TEXT.")
        put(ref, "--reject-item", DecisionInput(DecisionType.REJECT, reason=why))
    for raw in getattr(args, "respond_item", []):
        ref, message = _item_ref(raw, "--respond-item", value=True)
        if not (message or "").strip():
            raise UsageError(f"--respond-item {ref} needs a message after the '='.")
        put(ref, "--respond-item", DecisionInput(DecisionType.RESPOND,
                                                 reason=(message or "").strip()))
    for raw in getattr(args, "edit_item", []):
        ref, text = _item_ref(raw, "--edit-item", value=True)
        edited = _json_arg(text, f"--edit-item {ref}")
        put(ref, "--edit-item", DecisionInput(DecisionType.EDIT, reason=reason,
                                              action_edits={0: edited}))
    for raw in getattr(args, "resume_for", []):
        ref, text = _item_ref(raw, "--resume-for", value=True)
        value = _json_arg(text, f"--resume-for {ref}")
        put(ref, "--resume-for", DecisionInput(DecisionType.RESUME, reason=reason,
                                               resume=value, has_resume=True))
    only = [_item_ref(raw, "--item", value=False)[0] for raw in getattr(args, "item", [])]
    return (items or None), (tuple(only) if only else None)


def _json_arg(raw: str | None, flag: str) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{flag} is not valid JSON ({exc.msg} at column {exc.colno}); "
                         "nothing was written.") from exc


def _action_edits(items: list[str]) -> dict[int, Any]:
    edits = {}
    for item in items:
        index, sep, raw = item.partition("=")
        if not sep or not index.strip().isdigit() or int(index) < 1:
            raise UsageError(f"--edit-action {item!r} is not N=JSON (actions are numbered "
                             "from 1).")
        edits[int(index) - 1] = _json_arg(raw, f"--edit-action {index}")
    return edits


def _print(settings: Settings, data: dict[str, Any], text: str,
           keep: tuple[str, ...] = ()) -> None:
    """A command's result through the sink: JSON, or text quoting the ids in `keep`
    (thread ids: shown as they are, so a script can pass them back)."""
    from console.session import sink_for

    sink = sink_for(settings)
    if settings.json:
        print(sink.json(data))
    else:
        print("\n".join(sink.text(line, keep=keep, limit=2000) for line in text.splitlines()))


async def run_approve(args: argparse.Namespace, settings: Settings) -> int:
    from console.core.ledger.decisions import DecisionInput

    if args.all:
        return await _approve_all(args, settings)
    if not args.thread:
        raise UsageError("Name a thread to approve, or use --all with filters and --yes.")

    edit = _json_arg(args.edit, "--edit")
    resume = _json_arg(args.resume, "--resume")
    actions = _action_edits(args.edit_action)
    kind = DecisionType.EDIT if (edit or actions) else DecisionType.APPROVE
    if args.resume is not None:
        kind = DecisionType.RESUME
    items, only = item_choices(args, args.reason)
    choice = DecisionInput(kind, reason=args.reason, state_update=edit, action_edits=actions,
                           resume=resume, has_resume=args.resume is not None, force=args.force,
                           items=items, only_items=only)
    return await _decide_one(args, settings, args.thread, choice)


async def _approve_all(args: argparse.Namespace, settings: Settings) -> int:
    """`approve --all [filters] --yes`: the bulk approve of `core.ledger.bulk`."""
    from console.core.ledger.bulk import approve_many, bulk_plan
    from console.core.ledger.reconcile import is_stalled_after_decision
    from console.session import decider_for, store_session

    if args.thread:
        raise UsageError("approve --all takes filters, not a thread id: drop the thread, or "
                         "--all.")
    single = [flag for flag, given in (
        ("--edit", args.edit), ("--edit-action", args.edit_action), ("--resume", args.resume),
        ("--expect", args.expect), ("--idempotency-key", args.idempotency_key)) if given]
    if single or getattr(args, "item", None) or getattr(args, "approve_item", None):
        raise UsageError(f"approve --all approves as is: {', '.join(single) or 'items'} "
                         "name one pause; approve that thread on its own.")
    if not args.yes:
        raise UsageError("--all approves every matching pause: add --yes to confirm.")
    async with store_session(settings) as store:
        decider = decider_for(store, settings)
        if not decider.policy.bulk_approve:
            raise PolicyRefused("Bulk approve is off: [policy] bulk_approve names no graph or "
                                "gate; nothing was written. Approve threads one by one, or "
                                "name the gates where it is allowed.")
        flt = cli_filter(graph=args.graph_filter, node=args.node,
                         older_than=args.older_than, search=args.search)
        pauses = [t for t in await store.pending(flt) if not is_stalled_after_decision(t)]
        plan = bulk_plan(decider, pauses, DecisionType.APPROVE)
        if not plan.groups:
            why = "; ".join(f"{len(r.thread_ids)}: {r.reason}" for r in plan.refusals)
            raise PolicyRefused(f"No matching pause may be bulk-approved "
                                f"({why or 'none is pending'}) Nothing was written.")
        # Every match goes to the core, which refuses what the plan refused (policy
        # refusals audited) and approves the rest, each exactly once.
        results = await approve_many(decider, pauses, concurrency=args.concurrency,
                                     progress=None if settings.json else _progress)
    return _bulk_report(settings, results)


async def run_respond(args: argparse.Namespace, settings: Settings) -> int:
    from console.core.ledger.decisions import DecisionInput

    items, only = item_choices(args, None)
    choice = DecisionInput(DecisionType.RESPOND, reason=args.message, items=items,
                           only_items=only)
    return await _decide_one(args, settings, args.thread, choice)


async def _decide_one(args: argparse.Namespace, settings: Settings, thread: str,
                      choice: DecisionInput) -> int:
    from console.session import decider_for, named_thread, redactor_for, store_session

    async with store_session(settings) as store:
        thread = await named_thread(store, thread)
        outcome = await decider_for(store, settings).decide(
            thread, choice, expect=args.expect, idempotency_key=args.idempotency_key)
    redactor = redactor_for(settings)
    row = outcome.row
    _print(settings, {
        "thread_id": outcome.thread_id, "status": outcome.status,
        "ledger_id": row.id if row else None, "decision": choice.decision.value,
        "checkpoint_before": row.checkpoint_id if row else None,
        "new_checkpoint_id": outcome.new_checkpoint_id,
        "command": redactor.redact(outcome.plan.command_preview()) if outcome.plan else None,
        "items": _items_view(outcome.plan) if outcome.plan else [],
        "warnings": list(outcome.plan.warnings) if outcome.plan else [],
        "update_lands_in": _lands_in(outcome.plan),
    }, outcome.message + (f"\nThe state update goes to {_lands_in(outcome.plan)}."
                          if _lands_in(outcome.plan) else ""), keep=(outcome.thread_id,))
    return 0


def _items_view(plan: Any) -> list[dict[str, Any]]:
    """Each item's decision: the answered ones, then those left `pending`."""
    decided = dict(plan.item_decisions)
    ids = [*decided, *plan.unanswered]
    return [{"id": i, "decision": decided.get(i, "pending")} for i in ids]


def _lands_in(plan: Any) -> str | None:
    """Which state an edit went to (the root, or the subgraph the pause is in)."""
    from console.core.nested import target_label

    return target_label(plan.update_ns) if plan is not None and plan.update else None


async def run_reject(args: argparse.Namespace, settings: Settings) -> int:
    from console.core.ledger.apply import BulkTarget, reject_many
    from console.core.ledger.decisions import DecisionInput
    from console.core.ledger.reconcile import is_stalled_after_decision
    from console.session import decider_for, named_thread, store_session

    reason = (args.reason or "").strip()
    if not reason:
        raise UsageError("A rejection needs a reason: pass --reason TEXT.")
    if args.all == bool(args.threads):
        raise UsageError("Name threads to reject, or use --all with filters and --yes.")
    items, only = item_choices(args, reason)
    if (items or only) and (args.all or len(args.threads) != 1):
        raise UsageError("Decisions per item name items of one pause: give exactly one "
                         "thread (not --all) with --item/--approve-item/--resume-for.")
    async with store_session(settings) as store:
        decider = decider_for(store, settings)
        if args.all:
            if not args.yes:
                raise UsageError("--all rejects every matching pause: add --yes to confirm.")
            flt = cli_filter(graph=args.graph_filter, node=args.node,
                             older_than=args.older_than, search=args.search)
            targets = [BulkTarget(t.thread_id, pause_id_of(t)) for t in await store.pending(flt)
                       if not is_stalled_after_decision(t)]
        else:
            targets = [BulkTarget(await named_thread(store, t), args.expect)
                       for t in args.threads]
        if len(targets) == 1 and not args.all:
            choice = DecisionInput(DecisionType.REJECT, reason=reason, items=items,
                                   only_items=only)
            outcome = await decider.decide(targets[0].thread_id, choice, expect=args.expect,
                                           idempotency_key=args.idempotency_key)
            _print(settings, {"thread_id": outcome.thread_id, "status": outcome.status,
                              "ledger_id": outcome.row.id if outcome.row else None,
                              "new_checkpoint_id": outcome.new_checkpoint_id}, outcome.message,
                   keep=(outcome.thread_id,))
            return 0
        results = await reject_many(decider, targets, reason, concurrency=args.concurrency,
                                    progress=None if settings.json else _progress)
    return _bulk_report(settings, results)


def _progress(result: BulkResult, done: int, total: int) -> None:
    """One line redrawn in place on a terminal; into a file or pipe (a log, CI), whole
    lines at every tenth and at the end, never carriage returns."""
    line = f"{done}/{total} {result.status:<11} {inert(result.thread_id, limit=40)}"
    if sys.stderr.isatty():
        print(f"\r{line}", end="" if done < total else "\n", file=sys.stderr, flush=True)
    elif done == total or done % max(1, total // 10) == 0:
        print(line, file=sys.stderr, flush=True)


def _bulk_report(settings: Settings, results: list[BulkResult]) -> int:
    from console.session import sink_for

    sink = sink_for(settings)
    counts = Counter(r.status for r in results)
    if settings.json:
        print(sink.json({"counts": dict(counts), "results": [
            {"thread_id": r.thread_id, "status": r.status, "message": r.message}
            for r in results]}))
    else:
        for r in results:
            if r.status not in ("rejected", "approved", "queued"):
                print(f"{r.status:<11} {inert(r.thread_id, limit=40)}: "
                      f"{sink.text(r.message, keep=(r.thread_id,))}")
        print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing")
    if counts.get("failed"):
        return 1
    if counts.get("conflict") or counts.get("not_pending"):
        return ConflictError.exit_code
    return 0


async def run_expire(args: argparse.Namespace, settings: Settings) -> int:
    from console.core.ledger.apply import BulkTarget, reject_many
    from console.core.ledger.reconcile import is_stalled_after_decision
    from console.session import decider_for, store_session

    seconds = parse_duration(args.older_than)
    async with store_session(settings) as store:
        flt = PendingFilter(graph=args.graph_filter, older_than_seconds=seconds)
        # a run that stopped after a decision is the application's to resume, not late
        threads = [t for t in await store.pending(flt) if not is_stalled_after_decision(t)]
        if args.dry_run:
            _print(settings, {"would_expire": [t.thread_id for t in threads]},
                   "\n".join([*(t.thread_id for t in threads), f"{len(threads)} would expire"]),
                   keep=tuple(t.thread_id for t in threads))
            return 0
        results = await reject_many(
            decider_for(store, settings),
            [BulkTarget(t.thread_id, pause_id_of(t)) for t in threads],
            "approval timeout", concurrency=args.concurrency)
    return _bulk_report(settings, results)


AUDIT_FIELDS = ("id", "created_at", "finished_at", "reviewer", "decision", "status",
                "thread_id", "checkpoint_id", "new_checkpoint_id", "reason", "outcome",
                "idempotency_key", "client_host", "ssh_origin", "apply_mode", "resume", "edits")


async def run_audit(args: argparse.Namespace, settings: Settings) -> int:
    from console.session import decider_for, sink_for, store_session

    since = datetime.now(UTC) - timedelta(seconds=parse_duration(args.since)) if args.since \
        else None
    sink = sink_for(settings)
    async with store_session(settings) as store:
        decider = decider_for(store, settings)
        await decider.ensure_ledger()
        rows = await decider.ledger.rows(thread_id=args.thread, since=since)
        in_flight = [r for r in rows if r.status == "in_flight"]
    # Every record through the sink: columns written before the ledger cleaned them,
    # or by another tool, are as untrusted as a payload.
    records = [sink.data(_audit_record(r)) for r in rows]
    if settings.json:
        for record in records:
            print(sink.json(record))
    elif args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=AUDIT_FIELDS)
        writer.writeheader()
        for record in records:
            writer.writerow({k: sink.cell(v) for k, v in record.items()})
    else:
        for r in records:
            print(f"#{r['id']:<5} {inert(r['created_at'][:19])} "
                  f"{inert(r['reviewer'] or '', limit=16):<16} "
                  f"{inert(r['decision']):<8} {inert(r['status']):<10} "
                  f"{inert(r['thread_id'], limit=30)} {inert(r['reason'] or '', limit=40)}")
        if in_flight:
            print(f"{len(in_flight)} decision(s) in flight; if their process died, run "
                  "`hitl-console reconcile`.", file=sys.stderr)
    return 0


def _audit_record(row: LedgerRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "created_at": row.created_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "reviewer": row.reviewer,
        "decision": row.decision,
        "status": row.status,
        "thread_id": row.thread_id,
        "checkpoint_id": row.checkpoint_id,
        "new_checkpoint_id": row.new_checkpoint_id,
        "reason": row.reason or None,
        "outcome": row.outcome or None,
        "idempotency_key": row.idempotency_key,
        "client_host": row.client_host,
        "ssh_origin": row.ssh_origin,
        "apply_mode": row.apply_mode,
        "resume": row.resume,
        "edits": row.edits,
    }


async def run_reconcile(args: argparse.Namespace, settings: Settings) -> int:
    from console.session import decider_for, store_session

    lease = parse_duration(args.lease)
    async with store_session(settings) as store:
        decider = decider_for(store, settings)
        why = decider.nothing_to_reconcile
        if why is not None:
            _print(settings, {"settled": [], "note": why}, why)
            return 0
        settled = await decider.reconcile(lease_seconds=lease)
    _print(settings, {"settled": [
        {"id": s.row.id, "thread_id": s.row.thread_id, "status": s.status,
         "delivery": s.truth.delivery.value, "head": s.truth.head,
         "next": list(s.truth.next_nodes), "outcome": s.outcome}
        for s in settled]},
        "\n".join(f"#{s.row.id} {s.row.thread_id}: {s.status}: {s.outcome}" for s in settled)
        + f"\n{len(settled)} in-flight decision(s) settled",
        keep=tuple(s.row.thread_id for s in settled))
    return 0


DECISION_HANDLERS = {
    "approve": run_approve,
    "reject": run_reject,
    "respond": run_respond,
    "expire": run_expire,
    "audit": run_audit,
    "reconcile": run_reconcile,
}

__all__ = ["DECISION_HANDLERS", "ConsoleError", "NotPendingError", "add_decision_commands"]
