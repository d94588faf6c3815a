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


def tool_approval_request(value: Any) -> Mapping[str, Any] | None:
    """The `ToolApprovalRequest` of LangChain's per-call HumanInTheLoopMiddleware
    (`{"type": "tool_approval", "tool_call_id", "name", "args", "description"}`), or None."""
    if (
        isinstance(value, Mapping)
        and value.get("type") == "tool_approval"
        and isinstance(value.get("name"), str)
        and isinstance(value.get("args", {}), Mapping)
    ):
        return value
    return None


def detect_convention(value: Any, response_schema: Mapping[str, Any] | None) -> Convention:
    """Classify one interrupt value; a response schema wins over the value's shape, except
    for a tool approval, whose schema only restates its decisions (read by
    `schema_decision_types`)."""
    if tool_approval_request(value) is not None:
        return Convention.TOOL_APPROVAL
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
    if convention is Convention.TOOL_APPROVAL:
        request = tool_approval_request(value) or {}
        return _clip(tool_call_text(request.get("name", "?"), request.get("args")))
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


def tool_call_text(name: Any, args: Any) -> str:
    """`send_email(to='a@x', subject='hi')`: a tool call on one line."""
    if isinstance(args, Mapping):
        return f"{name}({', '.join(f'{k}={v!r}' for k, v in args.items())})"
    return f"{name}({args!r})" if args is not None else f"{name}()"


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SUMMARY_WIDTH else flat[: SUMMARY_WIDTH - 3] + "..."


def allowed_decisions(
    value: Any, convention: Convention, response_schema: Mapping[str, Any] | None = None
) -> list[str]:
    """Decision types a reviewer may send for one pause, per its payload's own rules."""
    if convention is Convention.TOOL_APPROVAL:
        return schema_decision_types(response_schema) or list(TOOL_APPROVAL_DECISIONS)
    if convention is Convention.LANGCHAIN_HITL:
        return _whole_request_decisions(value)
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


HITL_DEFAULT_DECISIONS = ("approve", "edit", "reject")


def review_configs(value: Any) -> dict[str, list[str]]:
    """A LangChain HITL request's allowed decisions by action name."""
    raw = value.get("review_configs", value.get("reviewConfigs")) if isinstance(
        value, Mapping) else None
    configs: dict[str, list[str]] = {}
    for config in raw if isinstance(raw, Sequence) else ():
        if isinstance(config, Mapping):
            name = str(config.get("action_name", config.get("actionName", "")))
            names = config.get("allowed_decisions", config.get("allowedDecisions")) or ()
            configs[name] = [str(n) for n in names]
    return configs


def _whole_request_decisions(value: Any) -> list[str]:
    """What one decision for a whole LangChain HITL request may be: every action gets
    it (approve, reject, respond: each action must allow it), except an edit, which edits
    some actions and approves the rest. An action without a review config allows the
    middleware's default."""
    by_name = review_configs(value)
    requests = action_requests(value) or []
    per_action = [by_name.get(str(r.get("name", r.get("action", ""))),
                              list(HITL_DEFAULT_DECISIONS)) for r in requests]
    if not per_action:
        per_action = list(by_name.values()) or [list(HITL_DEFAULT_DECISIONS)]
    order = ("approve", "edit", "reject", "respond")
    every = [d for d in order if all(d in allowed for allowed in per_action)]
    if "edit" not in every and "approve" in every and any("edit" in a for a in per_action):
        every.insert(1, "edit")
    return every


# ------------------------------------------------------------------ tool approvals
#
# The per-call middleware states the decisions a tool allows only in the interrupt's
# `response_schema`: pydantic's JSON schema of a union of decision types discriminated by
# `type` (`oneOf` of `$ref`s into `$defs`), or the one decision's plain object schema.
# The edit branch pins the tool's name and carries the tool's argument schema under
# `edited_action.args`. Without a schema the middleware's default (all four) applies.

TOOL_APPROVAL_DECISIONS = ("approve", "edit", "reject", "respond")


def _resolve(schema: Any, root: Mapping[str, Any]) -> Any:
    """`schema` with a local `$ref` (`#/$defs/Name`) followed, once per level."""
    for _ in range(8):  # refs to refs, bounded: a hostile schema must not loop
        if not isinstance(schema, Mapping) or not isinstance(schema.get("$ref"), str):
            return schema
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            return schema
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, Mapping) else None
        if target is None:
            return schema
        schema = target
    return schema


def _decision_branches(schema: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """Decision type -> the object schema of that decision, in the schema's order."""
    if not isinstance(schema, Mapping):
        return {}
    root = schema
    top = _resolve(schema, root)
    members = (top.get("oneOf") or top.get("anyOf")) if isinstance(top, Mapping) else None
    candidates = members if isinstance(members, Sequence) and not isinstance(
        members, str | bytes) else [top]
    branches: dict[str, Mapping[str, Any]] = {}
    for candidate in candidates:
        branch = _resolve(candidate, root)
        if not isinstance(branch, Mapping):
            continue
        kind = _resolve((branch.get("properties") or {}).get("type"), root)
        if isinstance(kind, Mapping):
            names = [kind["const"]] if "const" in kind else list(kind.get("enum") or ())
            for name in names:
                if isinstance(name, str):
                    branches.setdefault(name, branch)
    return branches


def schema_decision_types(schema: Mapping[str, Any] | None) -> list[str]:
    """The decision types a tool approval's `response_schema` allows ([] if unreadable)."""
    return list(_decision_branches(schema))


def edit_args_schema(schema: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The JSON schema an edit's `args` must fit (the tool's argument schema), with the
    response schema's `$defs` so its references resolve; None if the schema states none."""
    branch = _decision_branches(schema).get("edit")
    if branch is None or schema is None:
        return None
    action = _resolve((branch.get("properties") or {}).get("edited_action"), schema)
    if not isinstance(action, Mapping):
        return None
    args = (action.get("properties") or {}).get("args")
    if not isinstance(args, Mapping):
        return None
    out = dict(_resolve(args, schema))
    if "$defs" in schema and "$defs" not in out:
        out["$defs"] = schema["$defs"]
    return out
