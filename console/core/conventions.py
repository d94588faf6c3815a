"""Recognising interrupt payload conventions (product.md section 3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from console.core.models import Convention

SUMMARY_WIDTH = 120

# LangChain HumanInTheLoopMiddleware, Python and JS spellings.
_HITL_REQUEST_KEYS = ("action_requests", "actionRequests")


def action_requests(value: Any) -> list[Mapping[str, Any]] | None:
    """The action requests of a HumanInTheLoopMiddleware payload, or None if it is not one."""
    if not isinstance(value, Mapping):
        return None
    for key in _HITL_REQUEST_KEYS:
        requests = value.get(key)
        if (
            isinstance(requests, Sequence)
            and not isinstance(requests, str | bytes)
            and all(isinstance(r, Mapping) for r in requests)
        ):
            return list(requests)
    return None


def action_args(request: Mapping[str, Any]) -> Any:
    """Tool arguments of one action request (`args`, or the older `arguments`)."""
    return request.get("args", request.get("arguments", {}))


def inbox_request(value: Any) -> Mapping[str, Any] | None:
    """The single Agent Inbox HumanInterrupt of a payload (dict or list of one), or None."""
    if isinstance(value, Sequence) and not isinstance(value, str | bytes) and len(value) == 1:
        value = value[0]
    if (
        isinstance(value, Mapping)
        and isinstance(value.get("action_request"), Mapping)
        and isinstance(value.get("config"), Mapping)
    ):
        return value
    return None


def detect_convention(value: Any, response_schema: Mapping[str, Any] | None) -> Convention:
    """Classify one interrupt value; a response schema wins over the value's shape."""
    if response_schema:
        return Convention.SCHEMA
    if action_requests(value) is not None:
        return Convention.LANGCHAIN_HITL
    if inbox_request(value) is not None:
        return Convention.AGENT_INBOX
    return Convention.RAW


def summarize_value(value: Any, convention: Convention) -> str:
    """A one-line description of a payload for the queue's summary column."""
    if convention is Convention.LANGCHAIN_HITL:
        requests = action_requests(value) or []
        names = ", ".join(str(r.get("name", r.get("action", "?"))) for r in requests)
        return _clip(f"{len(requests)} action(s): {names}")
    if convention is Convention.AGENT_INBOX:
        request = inbox_request(value) or {}
        action = request.get("action_request", {}).get("action", "?")
        description = request.get("description") or ""
        return _clip(f"{action}: {description}" if description else str(action))
    if isinstance(value, Mapping):
        for key in ("question", "description", "message", "title", "prompt"):
            if isinstance(value.get(key), str):
                return _clip(value[key])
        return _clip(", ".join(f"{k}={v!r}" for k, v in list(value.items())[:4]))
    return _clip(str(value))


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SUMMARY_WIDTH else flat[: SUMMARY_WIDTH - 3] + "..."


def allowed_decisions(value: Any, convention: Convention) -> list[str]:
    """Decision types a reviewer may send for one pause, per its payload's own rules."""
    if convention is Convention.LANGCHAIN_HITL:
        configs = value.get("review_configs", value.get("reviewConfigs")) or []
        allowed: list[str] = []
        for config in configs if isinstance(configs, Sequence) else ():
            if isinstance(config, Mapping):
                names = config.get("allowed_decisions", config.get("allowedDecisions")) or ()
                allowed.extend(str(n) for n in names if str(n) not in allowed)
        return allowed or ["approve", "edit", "reject"]
    if convention is Convention.AGENT_INBOX:
        config = (inbox_request(value) or {}).get("config", {})
        flags = {"accept": "allow_accept", "edit": "allow_edit", "response": "allow_respond",
                 "ignore": "allow_ignore"}
        return [name for name, flag in flags.items() if config.get(flag)]
    if convention is Convention.SCHEMA:
        return ["resume"]
    if convention is Convention.BREAKPOINT:
        return ["approve", "edit", "reject"]
    return ["approve", "reject", "resume"]
