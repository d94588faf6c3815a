"""Who may decide what: reviewer groups, per-gate rights, four-eyes, N-of-M approvals.

Configured in the `[policy]` table of the config file:

    [policy]
    read_only = ["intern"]            # may list and show, never decide
    four_eyes = true                  # the requester named in thread metadata cannot approve
    requester_key = "requested_by"    # which metadata key names the requester

    [policy.groups]
    payments = ["alice", "bob", "carol"]

    [[policy.rules]]                  # first matching rule wins; no match: anyone, 1 approval
    graph = "after"                   # optional, default any graph
    node = "prepare_payment"          # optional, default any node
    approve = ["@payments"]           # reviewers or @groups; "*" is anyone
    reject = ["*"]
    edit = ["@payments"]              # default: whoever may approve
    respond = ["*"]                   # default: whoever may reject
    approvals = 2                     # distinct approvals before the resume runs

    # and, in [policy]: reveal = ["@security"] lets them see redacted values (audited)
    # and bulk_approve = ["tutorial", "after/prepare_payment"]: the graphs ("GRAPH") and
    # gates ("GRAPH/NODE") where marked pauses may be approved together (off by default)

A rejection by any reviewer allowed to reject is final, whatever `approvals` says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from console.core.errors import UsageError
from console.core.models import PendingThread

ACTIONS = ("approve", "reject", "edit", "respond")
ANYONE = "*"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The policy's answer for one reviewer, pause and action."""

    allowed: bool
    reason: str
    approvals_needed: int = 1


@dataclass(frozen=True, slots=True)
class Rule:
    graph: str | None
    node: str | None
    allowed: Mapping[str, tuple[str, ...]]
    approvals: int = 1

    def matches(self, pause: PendingThread) -> bool:
        if self.graph not in (None, ANYONE) and self.graph != pause.graph:
            return False
        return self.node in (None, ANYONE) or self.node in pause.nodes


@dataclass(frozen=True)
class Policy:
    """The whole policy; `Policy()` allows everyone everything with one approval."""

    read_only: frozenset[str] = frozenset()
    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    four_eyes: bool = False
    requester_key: str = "requested_by"
    reveal: tuple[str, ...] = ()  # who may see a redacted value (each reveal is audited)
    # (graph, node or None) where bulk approve is allowed; empty: bulk approve is off
    bulk_approve: tuple[tuple[str, str | None], ...] = ()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Policy:
        """Read the `[policy]` table; a malformed one is a usage error, not a silent allow."""
        table = config.get("policy", {}) if isinstance(config, Mapping) else {}
        if not isinstance(table, Mapping):
            raise UsageError("[policy] in the config file must be a table.")
        groups = {str(name): frozenset(map(str, members))
                  for name, members in dict(table.get("groups", {})).items()}
        rules = tuple(_rule(raw, index, groups) for index, raw in
                      enumerate(table.get("rules", ())))
        return cls(
            read_only=frozenset(map(str, table.get("read_only", ()))),
            groups=groups,
            rules=rules,
            four_eyes=bool(table.get("four_eyes", False)),
            requester_key=str(table.get("requester_key", "requested_by")),
            reveal=tuple(map(str, table.get("reveal", ()))),
            bulk_approve=_bulk_gates(table.get("bulk_approve", ())),
        )

    def check(self, reviewer: str, pause: PendingThread, action: str) -> Verdict:
        """May `reviewer` take `action` (approve/reject/edit/respond) on this pause?"""
        where = f"{pause.graph or '?'}/{','.join(pause.nodes)}"
        if reviewer in self.read_only:
            return Verdict(False, f"{reviewer} is a read-only reviewer and may not decide.")
        rule = next((r for r in self.rules if r.matches(pause)), None)
        allowed = rule.allowed.get(action, (ANYONE,)) if rule else (ANYONE,)
        if not self._member(reviewer, allowed):
            return Verdict(False, f"{reviewer} may not {action} at {where} "
                                  f"(allowed: {', '.join(allowed)}).")
        if self.four_eyes and action in ("approve", "edit"):
            requester = pause.metadata.get(self.requester_key)
            if requester is not None and str(requester) == reviewer:
                return Verdict(False, f"Four-eyes rule: {reviewer} requested this run and may "
                                      "not approve it; another reviewer must.")
        needed = rule.approvals if rule and action in ("approve", "edit") else 1
        return Verdict(True, "allowed", needed)

    def may_reveal(self, reviewer: str) -> Verdict:
        """Revealing redacted values is off unless `[policy] reveal` names the reviewer."""
        if reviewer in self.read_only or not self._member(reviewer, self.reveal):
            return Verdict(False, f"{reviewer} may not reveal redacted values "
                                  "(policy `reveal` does not name them).")
        return Verdict(True, "allowed")

    def may_bulk_approve(self, pause: PendingThread) -> Verdict:
        """Whether `pause` may be approved with others (`[policy] bulk_approve` names its
        graph, or its graph and node). Who may approve it is `check`'s to say."""
        where = f"{pause.graph or '?'}/{','.join(pause.nodes) or '?'}"
        if not self.bulk_approve:
            return Verdict(False, "Bulk approve is off: [policy] bulk_approve names no graph "
                                  "or gate; approve threads one by one, or name the gates "
                                  "where it is allowed.")
        for graph, node in self.bulk_approve:
            if graph in (ANYONE, pause.graph) and (node is None or node in pause.nodes):
                return Verdict(True, "allowed")
        return Verdict(False, f"{where} is not named in [policy] bulk_approve.")

    def allowed_actions(self, reviewer: str, pause: PendingThread) -> dict[str, Verdict]:
        """Every action's verdict, for a UI that hides or disables what is forbidden."""
        return {action: self.check(reviewer, pause, action) for action in ACTIONS}

    def _member(self, reviewer: str, allowed: Iterable[str]) -> bool:
        for entry in allowed:
            if entry in (ANYONE, reviewer):
                return True
            if entry.startswith("@") and reviewer in self.groups.get(entry[1:], frozenset()):
                return True
        return False


def _bulk_gates(raw: Any) -> tuple[tuple[str, str | None], ...]:
    """`["GRAPH", "GRAPH/NODE"]` -> ((graph, None), (graph, node)); a typo is an error."""
    entries = [raw] if isinstance(raw, str) else list(raw)
    gates: list[tuple[str, str | None]] = []
    for entry in entries:
        graph, _, node = str(entry).partition("/")
        if not graph or (_ and not node):
            raise UsageError(f"[policy] bulk_approve entry {entry!r} must be GRAPH or "
                             "GRAPH/NODE.")
        gates.append((graph, node or None))
    return tuple(gates)


def _rule(raw: Any, index: int, groups: Mapping[str, frozenset[str]]) -> Rule:
    if not isinstance(raw, Mapping):
        raise UsageError(f"[[policy.rules]] entry {index + 1} must be a table.")
    allowed: dict[str, tuple[str, ...]] = {}
    for action in ACTIONS:
        if action in raw:
            entries = raw[action]
            entries = [entries] if isinstance(entries, str) else list(entries)
            for entry in entries:
                if str(entry).startswith("@") and str(entry)[1:] not in groups:
                    raise UsageError(f"Policy rule {index + 1} names unknown group {entry}.")
            allowed[action] = tuple(map(str, entries))
    allowed.setdefault("edit", allowed.get("approve", (ANYONE,)))
    allowed.setdefault("respond", allowed.get("reject", (ANYONE,)))
    approvals = int(raw.get("approvals", 1))
    if approvals < 1:
        raise UsageError(f"Policy rule {index + 1}: approvals must be at least 1.")
    return Rule(graph=raw.get("graph"), node=raw.get("node"), allowed=allowed,
                approvals=approvals)
