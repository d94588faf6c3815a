"""Deciding many pauses at once: what can be decided, the Command per group, bulk approve.

`bulk_plan` says, before anything is written, which of the given pauses a bulk decision
can be made on and, for those, the exact Command per graph/node group; for the others,
why not, one line per reason ("17 take a value matching their schema"). It reads
nothing: the queue's rows carry the pending interrupts, and `plan_decision` is the
same fitting of a decision to a pause that `Decider.decide` does.

`approve_many` approves where `[policy] bulk_approve` allows it (off by default), each
through `Decider.decide`: the ledger's claim, four-eyes and N-of-M hold per thread, and
one failure never stops the rest. The TUI (`A`) and the CLI (`approve --all`) both call it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from console.core.errors import PolicyRefused
from console.core.ledger.apply import (
    BulkResult,
    BulkTarget,
    Decider,
    Progress,
    decide_many,
)
from console.core.ledger.decisions import DecisionInput, DecisionRefused, plan_decision
from console.core.ledger.rows import DecisionType
from console.core.models import PendingThread
from console.core.pause_id import pause_id_of

_ACTION = {DecisionType.APPROVE: "approve", DecisionType.REJECT: "reject"}
# In a group's Command, each pause's own interrupt ids read as their place in the pause.
_INTERRUPT = "<interrupt {n}>"


@dataclass(frozen=True, slots=True)
class BulkGroup:
    """The pauses of one graph and node that will be decided, and what each gets."""

    graph: str
    node: str
    thread_ids: tuple[str, ...]
    commands: tuple[tuple[dict[str, Any], int], ...]  # (Command as data, how many pauses)


@dataclass(frozen=True, slots=True)
class BulkRefusal:
    """Pauses the bulk decision leaves alone, for one reason."""

    reason: str
    thread_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BulkPlan:
    decision: DecisionType
    groups: tuple[BulkGroup, ...]
    refusals: tuple[BulkRefusal, ...]

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """The pauses that will be decided, group by group."""
        return tuple(t for g in self.groups for t in g.thread_ids)

    @property
    def refused(self) -> int:
        return sum(len(r.thread_ids) for r in self.refusals)


def bulk_plan(
    decider: Decider,
    pauses: Sequence[PendingThread],
    decision: DecisionType,
    reason: str | None = None,
) -> BulkPlan:
    """Which of `pauses` a bulk `decision` (approve, or reject with `reason`) can be made
    on, grouped by graph/node with the exact Command per group, and why not for the rest.
    Writes and reads nothing. Without a reason yet, a rejection is planned with `...`."""
    policy = decider.policy
    reviewer = decider.origin.reviewer
    choice = DecisionInput(decision, reason=reason or "...")
    groups: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {}
    refused: dict[str, list[str]] = {}
    for pause in pauses:
        why = ""
        if decision is DecisionType.APPROVE:
            verdict = policy.may_bulk_approve(pause)
            why = "" if verdict.allowed else verdict.reason
        if not why:
            verdict = policy.check(reviewer, pause, _ACTION[decision])
            why = "" if verdict.allowed else _general(verdict.reason, pause)
        command: dict[str, Any] = {}
        if not why:
            try:
                plan = plan_decision(pause, {}, choice, decider.store.registry.get(pause.graph),
                                     decider.templates)
                command = _as_group(plan.command_preview(), pause)
            except DecisionRefused as exc:
                why = str(exc)
        if why:
            refused.setdefault(why, []).append(pause.thread_id)
            continue
        key = (pause.graph or "?", ",".join(pause.nodes) or "?")
        groups.setdefault(key, []).append((pause.thread_id, command))
    return BulkPlan(
        decision=decision,
        groups=tuple(_group(graph, node, members)
                     for (graph, node), members in sorted(groups.items())),
        refusals=tuple(BulkRefusal(why, tuple(ids)) for why, ids in
                       sorted(refused.items(), key=lambda item: -len(item[1]))),
    )


async def approve_many(
    decider: Decider,
    pauses: Sequence[PendingThread],
    *,
    expects: Mapping[str, str] | None = None,
    concurrency: int = 8,
    progress: Progress | None = None,
) -> list[BulkResult]:
    """Approve each of `pauses` that `[policy] bulk_approve` allows (the others are
    results with status `refused`, nothing written); `expects` (thread -> pause_id, e.g.
    a mark's) defaults to each pause as read. Raises PolicyRefused, writing nothing, when
    bulk approve is off altogether."""
    if not decider.policy.bulk_approve:
        probe = decider.policy.may_bulk_approve(pauses[0]) if pauses else None
        raise PolicyRefused(probe.reason if probe else "Bulk approve is off.")
    expects = expects or {}
    allowed: list[BulkTarget] = []
    refused: dict[str, BulkResult] = {}
    for pause in pauses:
        verdict = decider.policy.may_bulk_approve(pause)
        if verdict.allowed:
            allowed.append(BulkTarget(pause.thread_id,
                                      expects.get(pause.thread_id) or pause_id_of(pause)))
        else:
            refused[pause.thread_id] = BulkResult(pause.thread_id, "refused",
                                                  f"{verdict.reason} Nothing was written.")
    results = {r.thread_id: r for r in await decide_many(
        decider, allowed, DecisionInput(DecisionType.APPROVE), concurrency=concurrency,
        progress=progress)}
    return [refused.get(p.thread_id) or results[p.thread_id] for p in pauses]


def _group(graph: str, node: str, members: list[tuple[str, dict[str, Any]]]) -> BulkGroup:
    counts: dict[str, tuple[dict[str, Any], int]] = {}
    for _, command in members:
        key = repr(sorted(command.items()))
        seen = counts.get(key)
        counts[key] = (command, (seen[1] if seen else 0) + 1)
    return BulkGroup(graph, node, tuple(t for t, _ in members),
                     tuple(sorted(counts.values(), key=lambda item: -item[1])))


def _as_group(command: dict[str, Any], pause: PendingThread) -> dict[str, Any]:
    """The Command with the pause's interrupt ids as `<interrupt N>`, so pauses of one
    gate that get the same answer show one Command."""
    resume = command.get("resume")
    if isinstance(resume, dict):
        names = {i: _INTERRUPT.format(n=n) for n, i in enumerate(pause.interrupt_ids, 1)}
        command = {**command, "resume": {names.get(k, k): v for k, v in resume.items()}}
    return command


def _general(reason: str, pause: PendingThread) -> str:
    """A policy reason without the one pause's place, so a group's refusals read as one."""
    return reason.replace(f" at {pause.graph or '?'}/{','.join(pause.nodes)}", "")


__all__ = ["BulkGroup", "BulkPlan", "BulkRefusal", "approve_many", "bulk_plan"]
