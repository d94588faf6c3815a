"""Which decisions the selected pause offers this reviewer, and why not when it does not.

Two sources decide it: the payload's own rules (a HITL review config that does not allow
`respond`, a schema pause that needs a value) and the policy (`Policy.allowed_actions`).
The main screen disables the keys of forbidden actions and the detail pane says why, so a
reviewer never has to press a key to learn it will be refused. The core checks both again
when the decision is made; this is only the early, explained answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from console.core.conventions import (
    action_requests,
    allowed_decisions,
    inbox_request,
    tool_approval_request,
)
from console.core.models import Convention, PauseKind, PendingInterrupt, PendingThread
from console.core.policy import Policy

ACTIONS = ("approve", "reject", "edit", "respond")
ACTION_KEYS = {"approve": "a", "reject": "r", "edit": "e", "respond": "m"}


@dataclass(frozen=True, slots=True)
class ActionState:
    """One action on one pause: may it be taken, and if not, the sentence that says why."""

    action: str
    allowed: bool
    reason: str = ""
    approvals_needed: int = 1


def _hitl_allowed(value: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """(action name, allowed decisions) per action request; unstated configs allow the
    middleware's defaults (approve, edit, reject), as the core assumes."""
    raw = value.get("review_configs", value.get("reviewConfigs"))
    configs: dict[str, list[str]] = {}
    for config in raw if isinstance(raw, Sequence) and not isinstance(raw, str) else ():
        if isinstance(config, Mapping):
            name = str(config.get("action_name", config.get("actionName", "")))
            names = config.get("allowed_decisions", config.get("allowedDecisions")) or ()
            configs[name] = [str(n) for n in names]
    out = []
    for request in action_requests(value) or []:
        name = str(request.get("name", request.get("action", "")))
        out.append((name, configs.get(name, ["approve", "edit", "reject"])))
    return out


def _interrupt_refusal(item: PendingInterrupt, action: str) -> str:
    """Why this interrupt's payload does not take `action` ('' if it does)."""
    if item.convention is Convention.TOOL_APPROVAL:
        if action == "edit":
            return ""  # the form edits the calls that allow it; the rest are checked there
        allowed = allowed_decisions(item.value, item.convention, item.response_schema)
        if action not in allowed:
            name = (tool_approval_request(item.value) or {}).get("name", "?")
            return f"Tool call {name} does not allow {action}; it allows {', '.join(allowed)}"
        return ""
    if item.convention is Convention.LANGCHAIN_HITL:
        requests = _hitl_allowed(item.value)
        if action == "edit":
            return ""  # the form can still edit state; per-action edits are checked there
        for index, (name, allowed) in enumerate(requests):
            if action not in allowed:
                return (f"Action {index + 1} ({name}) does not allow {action}; "
                        f"it allows {', '.join(allowed)}")
        return ""
    if item.convention is Convention.AGENT_INBOX:
        config = (inbox_request(item.value) or {}).get("config", {})
        if action == "approve" and not config.get("allow_accept"):
            return "This Agent Inbox request does not allow accept"
        if action == "respond" and not config.get("allow_respond"):
            return "This Agent Inbox request does not allow a response"
        if action == "reject" and not (config.get("allow_ignore") or config.get("allow_respond")):
            return "This Agent Inbox request allows neither ignore nor a response"
        return ""
    if item.convention is Convention.SCHEMA:
        if action == "reject":
            return "This pause takes a value matching its schema: send one with e"
        if action == "respond":
            return "This pause takes a value matching its schema, not a message"
        return ""
    return ""  # raw values take approve, reject, respond and custom values


def payload_refusal(pause: PendingThread, action: str) -> str:
    """Why the pause's payload (or breakpoint) does not take `action` ('' if it does)."""
    if pause.kind is not PauseKind.INTERRUPT:
        if action == "respond":
            return "A static breakpoint takes no message: approve, edit state or reject"
        return ""
    for item in pause.interrupts:
        reason = _interrupt_refusal(item, action)
        if reason:
            if len(pause.interrupts) > 1:
                reason += " (press i to decide item by item)"
            return reason
    return ""


# What a reviewer may do with one item in the per-item dialog, from its payload's rules.
# `value` sends a JSON value of the reviewer's own (schema and raw payloads).
ITEM_ACTIONS = ("approve", "reject", "respond", "edit", "value")
_INBOX_ITEM = {"accept": "approve", "edit": "edit", "response": "respond", "ignore": "reject"}


def item_actions(item: PendingInterrupt) -> tuple[str, ...]:
    """The per-item dialog's actions that this item's payload takes, in `ITEM_ACTIONS`
    order. A batched HITL request's edits need the edit form (several actions)."""
    allowed = allowed_decisions(item.value, item.convention, item.response_schema)
    if item.convention is Convention.TOOL_APPROVAL:
        names = set(allowed)
    elif item.convention is Convention.LANGCHAIN_HITL:
        names = {a for a in ("approve", "reject", "respond")
                 if all(a in row for _, row in _hitl_allowed(item.value))}
    elif item.convention is Convention.AGENT_INBOX:
        names = {_INBOX_ITEM[a] for a in allowed if a in _INBOX_ITEM}
        if "response" in allowed:
            names.add("reject")  # the core sends the reason back as a response
    elif item.convention is Convention.SCHEMA:
        names = {"value"}
    else:
        names = {"approve", "reject", "respond", "value"}
    return tuple(a for a in ITEM_ACTIONS if a in names)


def needs_value(pause: PendingThread) -> bool:
    """A pause whose approval is a value the reviewer enters (a response schema)."""
    return any(item.convention is Convention.SCHEMA for item in pause.interrupts)


def action_states(
    pause: PendingThread,
    *,
    policy: Policy,
    reviewer: str,
    graph_loaded: bool,
    worker_mode: bool,
) -> dict[str, ActionState]:
    """approve/reject/edit/respond -> ActionState for this reviewer on this pause."""
    if pause.kind is PauseKind.UNREADABLE or pause.error is not None:
        reason = (f"This thread cannot be read ({pause.error}): nothing can be decided on it. "
                  "Pass the application's serializer with --serde, or repair its rows.")
        return {action: ActionState(action, False, reason) for action in ACTIONS}
    verdicts = policy.allowed_actions(reviewer, pause)
    states: dict[str, ActionState] = {}
    for action in ACTIONS:
        verdict = verdicts[action]
        if not verdict.allowed:
            states[action] = ActionState(action, False, _sentence(verdict.reason))
            continue
        if not graph_loaded and not worker_mode:
            states[action] = ActionState(
                action, False,
                f"Graph {pause.graph or '?'} is not loaded, so the console cannot resume it "
                "(start it with --graph NAME=module:attr).")
            continue
        refusal = payload_refusal(pause, action)
        if refusal:
            states[action] = ActionState(action, False, _sentence(refusal))
            continue
        states[action] = ActionState(action, True, "", verdict.approvals_needed)
    return states


_RECORDED = re.compile(r"Approval (\d+) of (\d+) recorded")


def approval_note(message: str, needed: int) -> str:
    """What the detail pane says once this reviewer's approval is recorded and the pause
    waits for more: how many of how many, and that another reviewer must approve."""
    found = _RECORDED.search(message)
    count, needed = (int(found[1]), int(found[2])) if found else (1, needed)
    return (f"you approved this pause: {count} of {needed} approvals recorded. "
            "It runs when another reviewer approves; your approval counts once.")


def with_own_approval(states: Mapping[str, ActionState], note: str) -> dict[str, ActionState]:
    """`states` once the reviewer's own approval is recorded: approving (or approving with
    an edit) again would count nothing, so those keys are off and the pane says why."""
    out = dict(states)
    for action in ("approve", "edit"):
        state = out.get(action)
        if state is not None and state.allowed and state.approvals_needed > 1:
            out[action] = ActionState(action, False, _sentence(note), state.approvals_needed)
    return out


def _sentence(text: str) -> str:
    """`text` ending with a full stop (a reviewer's name is never capitalised)."""
    text = text.strip()
    if not text:
        return text
    return text if text.endswith((".", "!", "?")) else text + "."


def actions_text(states: Mapping[str, ActionState]) -> Text:
    """The detail pane's `Actions` lines: keys that work, and why the others do not."""
    out = Text()
    out.append("actions ", style="bold")
    usable = [a for a in ACTIONS if a in states and states[a].allowed]
    out.append("  ".join(f"{ACTION_KEYS[a]} {a}" for a in usable) if usable else "none")
    out.append("\n")
    # One line per reason: a graph that is not loaded forbids all four alike.
    refused: dict[str, list[str]] = {}
    for action in ACTIONS:
        state = states.get(action)
        if state is not None and not state.allowed:
            refused.setdefault(state.reason, []).append(action)
    for reason, actions in refused.items():
        out.append(f"  no {', '.join(actions)}: ", style="bold")
        out.append(reason + "\n")
    for action in ACTIONS:
        state = states.get(action)
        if state is not None and state.allowed and state.approvals_needed > 1:
            out.append(f"  {action}: ", style="bold")
            out.append(f"needs {state.approvals_needed} distinct approvals before it runs.\n")
    return out
