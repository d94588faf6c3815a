"""Turning a reviewer's decision into the exact resume value each convention expects.

Everything here is validated before anything is written: a decision the payload does
not allow, malformed edits, a value that breaks a response schema or a state key the
graph does not have are refused with a reason, and nothing reaches the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from console.core.conventions import (
    HITL_DEFAULT_DECISIONS,
    action_args,
    action_requests,
    allowed_decisions,
    edit_args_schema,
    inbox_request,
    review_configs,
    tool_approval_request,
)
from console.core.errors import UsageError
from console.core.graphs import GraphInfo
from console.core.ledger.rows import DecisionType
from console.core.models import Convention, PauseKind, PendingInterrupt, PendingThread

DEFAULT_APPROVE = "approved"
DEFAULT_REJECT = "rejected: {reason}"


class DecisionRefused(UsageError):
    """The decision does not fit the pause (not allowed, invalid edit, schema mismatch)."""


@dataclass(frozen=True, slots=True)
class DecisionInput:
    """What the reviewer asked for, before it is fitted to the pause."""

    decision: DecisionType
    reason: str | None = None
    state_update: Mapping[str, Any] | None = None
    # edited tool arguments by action-request index (LangChain HITL, Agent Inbox)
    action_edits: Mapping[int, Mapping[str, Any]] | None = None
    # a custom resume value: one value for every interrupt, or {interrupt_id: value}
    resume: Any = None
    has_resume: bool = False
    force: bool = False
    # A decision per item (one pending interrupt), overriding this one for it. Keys name
    # the item: its interrupt id, a unique prefix of it (6+ characters) or its number
    # from 1 in the pause's order. Only `decision`, `reason`, `action_edits` and a
    # resume value of an item's decision are used.
    items: Mapping[str, DecisionInput] | None = None
    # Answer only these items (and those in `items`); the others stay pending, and the
    # graph asks them again on the same checkpoint. None: every item is answered.
    only_items: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class UpdateEffect:
    """How one state key changes through the graph's channel, shown before submit."""

    key: str
    reducer: str  # "replace" or the reducer's name
    replaces_collection: bool
    before: Any
    after: Any
    changes_type: bool = False  # a value of another kind (an int where a set was)

    def warning(self) -> str | None:
        """Why this update needs `--force`, or None."""
        if self.changes_type:
            return (f"update of {self.key!r} puts {_a(type(self.after).__name__)} where the "
                    f"state holds {_a(type(self.before).__name__)}")
        if self.replaces_collection:
            return (f"update of {self.key!r} replaces the whole {type(self.before).__name__} "
                    "(the channel has no reducer)")
        return None


@dataclass(frozen=True, slots=True)
class Plan:
    """The exact Command the console will send, and what it will do to state."""

    resume: dict[str, Any] | None  # {interrupt_id: value}, None at static breakpoints
    update: dict[str, Any] | None
    breakpoint_action: str | None  # "continue" | "skip" for before/after pauses
    skip_nodes: tuple[str, ...] = ()
    effects: tuple[UpdateEffect, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    # (interrupt id, decision) per answered item, in the pause's order
    item_decisions: tuple[tuple[str, str], ...] = ()
    unanswered: tuple[str, ...] = ()  # interrupt ids left pending (only_items)
    # Where `update` lands: '' the root state, else the checkpoint_ns of the subgraph
    # state the paused node reads (console/core/nested.py); None: not resolved here
    # (no graph loaded), the applier resolves it.
    update_ns: str | None = None

    @property
    def mixed(self) -> bool:
        """Whether the items were not all decided alike (approve 1, reject 2)."""
        return len({decision for _, decision in self.item_decisions}) > 1 or bool(
            self.unanswered)

    def command_preview(self) -> dict[str, Any]:
        """The Command as data, for previews, the ledger and `--json`."""
        preview: dict[str, Any]
        if self.breakpoint_action == "skip":
            preview = {"skip": list(self.skip_nodes), "update": self.update}
        elif self.breakpoint_action == "continue":
            preview = {"update": self.update, "resume": None}
        else:
            preview = {"update": self.update, "resume": self.resume}
        if self.update and self.update_ns:
            preview["update_ns"] = self.update_ns
        return preview


def plan_decision(
    pause: PendingThread,
    values: Mapping[str, Any],
    choice: DecisionInput,
    graph: GraphInfo | None,
    templates: Mapping[str, Any] | None = None,
) -> Plan:
    """Fit a decision to a pause; raises DecisionRefused with a reason when it does not fit."""
    if pause.kind is PauseKind.UNREADABLE or pause.error is not None:
        raise DecisionRefused(
            f"Thread {pause.thread_id!r} cannot be read ({pause.error}); nothing was "
            "written. Pass the application's serializer with --serde, or repair its rows.")
    effects = update_effects(choice.state_update, values, graph) if choice.state_update else ()
    warnings = tuple(w for e in effects if (w := e.warning()) is not None)
    if warnings and not choice.force:
        raise DecisionRefused(
            f"{warnings[0].capitalize()}: earlier items or their type would be lost. Nothing "
            "was written; check the edit, then confirm with --force."
        )
    update = dict(choice.state_update) if choice.state_update else None
    if pause.kind is not PauseKind.INTERRUPT:
        if choice.items or choice.only_items is not None:
            raise DecisionRefused(
                f"A static breakpoint ({pause.kind.value} {', '.join(pause.nodes)}) has no "
                "items to decide one by one: approve or reject it as a whole.")
        return _plan_breakpoint(pause, choice, update, effects, warnings)
    base, per_item, answered = _item_choices(pause, choice)
    resume: dict[str, Any] = {}
    decided: list[tuple[str, str]] = []
    count = len(pause.interrupts)
    for number, item in enumerate(pause.interrupts, 1):
        if answered is not None and item.id not in answered:
            continue
        mine = per_item.get(item.id, base)
        try:
            if mine is not base and mine.action_edits and item.convention not in _EDITABLE:
                raise DecisionRefused("It has no tool call whose arguments could be edited; "
                                      "send a value of your own with --resume-for instead.")
            resume[item.id] = _resume_for(item, pause, mine, templates or {})
        except DecisionRefused as exc:
            if count == 1:
                raise
            text = str(exc)
            raise DecisionRefused(f"Item {number} of {count} ({item_label(item, pause)}): "
                                  f"{text[:1].lower()}{text[1:]}") from exc
        decided.append((item.id, mine.decision.value))
    unanswered = tuple(i.id for i in pause.interrupts if i.id not in resume)
    return Plan(resume=resume, update=update, breakpoint_action=None, effects=effects,
                warnings=warnings, item_decisions=tuple(decided), unanswered=unanswered)


# Conventions whose payload names a tool call with arguments a reviewer may edit.
_EDITABLE = (Convention.LANGCHAIN_HITL, Convention.AGENT_INBOX, Convention.TOOL_APPROVAL)


def item_label(item: PendingInterrupt, pause: PendingThread | None = None) -> str:
    """What an item is about in a word, for messages: its tool, else the node that asks.

    A PULL task's path names its node (`~__pregel_pull, node`); a PUSH task's (a `Send`
    branch, a `@task`) only its packet index, so the pause's node stands in for it."""
    request = tool_approval_request(item.value)
    if request is not None:
        return str(request.get("name", "?"))
    parts = [p.strip() for p in item.task_path.strip("~()").split(",")]
    if len(parts) >= 2 and parts[0] == "__pregel_pull" and parts[1]:
        return parts[1]
    if pause is not None and len(pause.nodes) == 1:
        return pause.nodes[0]
    return f"interrupt {item.id[:12]}"


def resolve_item(pause: PendingThread, ref: str) -> PendingInterrupt:
    """The pending interrupt `ref` names: its id, a unique prefix of it (6+ characters)
    or its number from 1 in the pause's order."""
    items = pause.interrupts
    ref = str(ref).strip()
    exact = [i for i in items if i.id == ref]
    if exact:
        return exact[0]
    if ref.isdigit() and len(ref) <= 6:
        number = int(ref)
        if 1 <= number <= len(items):
            return items[number - 1]
        raise DecisionRefused(f"Item {number} does not exist: this pause has {len(items)} "
                              "pending interrupt(s), numbered from 1.")
    found = [i for i in items if len(ref) >= 6 and i.id.startswith(ref)]
    if len(found) == 1:
        return found[0]
    raise DecisionRefused(
        f"No pending interrupt of this pause has the id {ref!r}: name an item by its id "
        f"(see `show`) or its number from 1 to {len(items)}.")


def _item_choices(
    pause: PendingThread, choice: DecisionInput
) -> tuple[DecisionInput, dict[str, DecisionInput], set[str] | None]:
    """(the decision for items not named, interrupt id -> its own decision, the ids to
    answer or None for all), with every item reference resolved."""
    per_item: dict[str, DecisionInput] = {}
    for ref, mine in (choice.items or {}).items():
        item = resolve_item(pause, ref)
        if item.id in per_item:
            raise DecisionRefused(f"Item {pause.interrupts.index(item) + 1} is given two "
                                  "decisions: name each item once.")
        per_item[item.id] = mine
    base = replace(choice, items=None, only_items=None)
    if choice.action_edits and pause.interrupts and all(
        i.convention is Convention.TOOL_APPROVAL for i in pause.interrupts
    ):
        # In a per-call pause every tool call is its own item: action N is item N.
        for index, args in choice.action_edits.items():
            if not 0 <= index < len(pause.interrupts):
                raise DecisionRefused(
                    f"Action {index + 1} does not exist: this pause has "
                    f"{len(pause.interrupts)} tool call(s), numbered from 1.")
            item = pause.interrupts[index]
            per_item.setdefault(item.id, DecisionInput(
                DecisionType.EDIT, reason=choice.reason, action_edits={0: args}))
        base = replace(base, action_edits=None)
    answered = None
    if choice.only_items is not None:
        answered = {resolve_item(pause, ref).id for ref in choice.only_items} | set(per_item)
    return base, per_item, answered


def _plan_breakpoint(
    pause: PendingThread, choice: DecisionInput, update: dict[str, Any] | None,
    effects: tuple[UpdateEffect, ...], warnings: tuple[str, ...],
) -> Plan:
    if choice.decision in (DecisionType.APPROVE, DecisionType.EDIT):
        return Plan(resume=None, update=update, breakpoint_action="continue", effects=effects,
                    warnings=warnings)
    if choice.decision is DecisionType.REJECT:
        # interrupt_before: the gated node must not run; interrupt_after: it ran, so what
        # it would lead to must not. Either way the run ends without running anything.
        return Plan(resume=None, update=update, breakpoint_action="skip",
                    skip_nodes=pause.next_nodes or pause.nodes, effects=effects, warnings=warnings)
    raise DecisionRefused(
        f"A static breakpoint ({pause.kind.value} {', '.join(pause.nodes)}) can only be "
        "approved (optionally with --edit) or rejected; it takes no message or resume value."
    )


def _resume_for(
    item: PendingInterrupt, pause: PendingThread, choice: DecisionInput,
    templates: Mapping[str, Any],
) -> Any:
    if choice.has_resume:
        value = choice.resume
        if isinstance(value, Mapping) and set(value) == {i.id for i in pause.interrupts} and (
            len(pause.interrupts) > 1 or item.id in value
        ):
            value = value[item.id]
        _check_schema(item, value)
        return value
    allowed = allowed_decisions(item.value, item.convention, item.response_schema)
    if item.convention is Convention.TOOL_APPROVAL:
        return _tool_approval_resume(item, choice, allowed)
    if item.convention is Convention.LANGCHAIN_HITL:
        return _hitl_resume(item, choice)
    if item.convention is Convention.AGENT_INBOX:
        return _inbox_resume(item, choice, allowed)
    if item.convention is Convention.SCHEMA:
        raise DecisionRefused(
            "This pause expects a value matching its response schema: give it with --resume "
            "JSON (or the edit form)."
        )
    return _raw_resume(item, pause, choice, templates)


def _need_reason(choice: DecisionInput, what: str) -> str:
    text = (choice.reason or "").strip()
    if not text:
        raise DecisionRefused(f"A {what} needs a reason or message: pass --reason TEXT.")
    return text


def _hitl_resume(item: PendingInterrupt, choice: DecisionInput) -> dict[str, Any]:
    requests = action_requests(item.value) or []
    camel = isinstance(item.value, Mapping) and "actionRequests" in item.value
    configs = review_configs(item.value)
    edits = dict(choice.action_edits or {})
    unknown = [i for i in edits if not 0 <= i < len(requests)]
    if unknown:
        raise DecisionRefused(
            f"Edited action {unknown[0] + 1} does not exist: this pause has {len(requests)} "
            "action request(s), numbered from 1."
        )
    decisions = []
    for index, request in enumerate(requests):
        name = str(request.get("name", request.get("action", "")))
        allowed = configs.get(name, list(HITL_DEFAULT_DECISIONS))
        kind = _decision_kind(choice, edited=index in edits)
        if kind not in allowed:
            raise DecisionRefused(
                f"Action {index + 1} ({name}) does not allow {kind!r}; it allows "
                f"{', '.join(allowed)}."
            )
        decisions.append(_hitl_decision(kind, name, request, edits.get(index), choice, camel))
    return {"decisions": decisions}


def _hitl_decision(
    kind: str, name: str, request: Mapping[str, Any], edited: Mapping[str, Any] | None,
    choice: DecisionInput, camel: bool,
) -> dict[str, Any]:
    if kind == "approve":
        return {"type": "approve"}
    if kind == "edit":
        args = dict(edited or {})
        _check_args_schema(request, args)
        key = "editedAction" if camel else "edited_action"
        return {"type": "edit", key: {"name": name, "args": args}}
    message = _need_reason(choice, "rejection" if kind == "reject" else "response")
    return {"type": kind, "message": message}


def _check_args_schema(request: Mapping[str, Any], args: Mapping[str, Any]) -> None:
    schema = request.get("args_schema") or request.get("argsSchema")
    if isinstance(schema, Mapping):
        import jsonschema  # ~60 ms: only when a value is checked

        try:
            jsonschema.validate(dict(args), dict(schema))
        except jsonschema.ValidationError as exc:
            raise DecisionRefused(f"Edited arguments do not fit the tool's schema: "
                                  f"{exc.message}.") from exc
    original = action_args(request)
    if isinstance(original, Mapping) and not isinstance(args, Mapping):
        raise DecisionRefused("Edited arguments must be a JSON object.")


def _tool_approval_resume(
    item: PendingInterrupt, choice: DecisionInput, allowed: list[str]
) -> dict[str, Any]:
    """One `Decision` for one gated tool call, as the per-call middleware reads it."""
    request = tool_approval_request(item.value) or {}
    name = str(request.get("name", ""))
    edits = dict(choice.action_edits or {})
    if any(index != 0 for index in edits):
        raise DecisionRefused(f"A tool approval holds one tool call ({name}): edit it as "
                              "action 1 of its item.")
    edited = edits.get(0)
    kind = _decision_kind(choice, edited=edited is not None)
    if kind not in allowed:
        raise DecisionRefused(f"Tool call {name} does not allow {kind!r}; it allows "
                              f"{', '.join(allowed)}.")
    if kind == "approve":
        decision: dict[str, Any] = {"type": "approve"}
    elif kind == "edit":
        decision = {"type": "edit",
                    "edited_action": {"name": name, "args": _tool_args(item, name, edited)}}
    else:
        message = _need_reason(choice, "rejection" if kind == "reject" else "response")
        decision = {"type": kind, "message": message}
    # The graph checks the answer against the same schema: a mismatch found there fails
    # the run after the ledger row is written, so it must be found here.
    _check_schema(item, decision)
    return decision


def _tool_args(item: PendingInterrupt, name: str, args: Any) -> dict[str, Any]:
    """Edited tool arguments, refused in one sentence unless the tool's schema takes them."""
    if not isinstance(args, Mapping):
        raise DecisionRefused(f"Edited arguments of {name} must be a JSON object.")
    schema = edit_args_schema(item.response_schema)
    if schema is not None:
        import jsonschema  # ~60 ms: only when a value is checked

        try:
            jsonschema.validate(dict(args), schema)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path)
            at = f" at {where}" if where else ""
            raise DecisionRefused(f"Edited arguments of {name} do not fit the tool's "
                                  f"schema{at}: {exc.message}.") from exc
        except jsonschema.SchemaError as exc:
            raise DecisionRefused(f"The argument schema of {name} is invalid: "
                                  f"{exc.message}.") from exc
    return dict(args)


def _inbox_resume(
    item: PendingInterrupt, choice: DecisionInput, allowed: list[str]
) -> list[dict[str, Any]]:
    request = inbox_request(item.value) or {}
    action = request.get("action_request", {})
    edits = (choice.action_edits or {}).get(0)
    if choice.decision in (DecisionType.APPROVE, DecisionType.EDIT) and not edits:
        response: dict[str, Any] = {"type": "accept", "args": None}
    elif choice.decision in (DecisionType.EDIT, DecisionType.APPROVE):
        response = {"type": "edit", "args": {"action": action.get("action"),
                                              "args": dict(edits or {})}}
    elif choice.decision is DecisionType.RESPOND:
        response = {"type": "response", "args": _need_reason(choice, "response")}
    elif choice.decision is DecisionType.REJECT:
        # The inbox has no reject: "ignore" ends it (the reason stays in the ledger); where
        # ignoring is not allowed, the reason goes back as a response.
        if "ignore" in allowed or "response" not in allowed:
            response = {"type": "ignore", "args": None}
        else:
            response = {"type": "response",
                        "args": f"rejected: {_need_reason(choice, 'rejection')}"}
    else:
        raise DecisionRefused("Use --resume JSON to send a custom value.")
    if response["type"] not in allowed:
        raise DecisionRefused(
            f"This Agent Inbox request does not allow {response['type']!r}; it allows "
            f"{', '.join(allowed) or 'nothing'}."
        )
    return [response]


def _raw_resume(
    item: PendingInterrupt, pause: PendingThread, choice: DecisionInput,
    templates: Mapping[str, Any],
) -> Any:
    template = _template(templates, pause)
    if choice.decision in (DecisionType.APPROVE, DecisionType.EDIT):  # EDIT: state edits only
        return template.get("approve", DEFAULT_APPROVE)
    if choice.decision is DecisionType.REJECT:
        reason = _need_reason(choice, "rejection")
        return str(template.get("reject", DEFAULT_REJECT)).replace("{reason}", reason)
    if choice.decision is DecisionType.RESPOND:
        return _need_reason(choice, "response")
    raise DecisionRefused(
        "This pause takes a plain value: approve, reject with --reason, or send --resume JSON."
    )


def _template(templates: Mapping[str, Any], pause: PendingThread) -> Mapping[str, Any]:
    graph_templates = templates.get(pause.graph or "", {})
    for node in pause.nodes:
        node_templates = graph_templates.get(node)
        if isinstance(node_templates, Mapping):
            return node_templates
    return graph_templates if isinstance(graph_templates, Mapping) else {}


def _check_schema(item: PendingInterrupt, value: Any) -> None:
    if item.response_schema:
        import jsonschema  # ~60 ms: only when a value is checked

        try:
            jsonschema.validate(value, item.response_schema)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "value"
            raise DecisionRefused(
                f"The resume value does not fit the pause's schema at {where}: {exc.message}."
            ) from exc
        except jsonschema.SchemaError as exc:
            raise DecisionRefused(f"The pause's response schema is invalid: {exc.message}.") \
                from exc


def update_effects(
    update: Mapping[str, Any], values: Mapping[str, Any], graph: GraphInfo | None
) -> tuple[UpdateEffect, ...]:
    """What each updated key becomes through its channel's reducer (or plain replace)."""
    if not isinstance(update, Mapping):
        raise DecisionRefused("A state edit must be a JSON object of key: value.")
    channels: Mapping[str, Any] = getattr(graph.graph, "channels", {}) if graph else {}
    effects = []
    for key, new in update.items():
        if graph is not None and key not in channels:
            known = ", ".join(sorted(k for k in channels if not k.startswith(("__", "branch:"))))
            raise DecisionRefused(f"State key {key!r} is not a channel of graph "
                                  f"{graph.name!r}; it has: {known}.")
        before = values.get(key)
        channel = channels.get(key)
        operator = getattr(channel, "operator", None)
        after = _through_channel(channel, before, new) if channel is not None else new
        effects.append(UpdateEffect(
            key=key,
            reducer=getattr(operator, "__name__", "reducer") if operator else "replace",
            replaces_collection=operator is None and isinstance(before, _COLLECTIONS)
            and bool(before),
            before=before,
            after=after,
            changes_type=operator is None and _other_kind(before, after),
        ))
    return tuple(effects)


_COLLECTIONS = (list, dict, set, frozenset, tuple)


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def _other_kind(before: Any, after: Any) -> bool:
    """Whether `after` is a different kind of value than `before` (a number for a set, a
    string for a list); None on either side and int/float are the same kind."""
    if before is None or after is None:
        return False
    numbers = (int, float)
    if isinstance(before, numbers) and isinstance(after, numbers):
        return isinstance(before, bool) != isinstance(after, bool)
    for kinds in (str, bool, numbers, (list, tuple), (dict,), (set, frozenset)):
        if isinstance(before, kinds):
            return not isinstance(after, kinds)
    return False


def _through_channel(channel: Any, before: Any, new: Any) -> Any:
    """Apply `new` with the channel's own update logic on a copy (reducers included)."""
    try:
        probe = channel.from_checkpoint(before) if before is not None else channel.copy()
        probe.update([new])
        return probe.get()
    except Exception as exc:
        raise DecisionRefused(f"The graph rejects this update: {exc}.") from exc


def _decision_kind(choice: DecisionInput, *, edited: bool) -> str:
    """The LangChain HITL decision type one action or tool call gets from a choice."""
    if choice.decision in (DecisionType.APPROVE, DecisionType.EDIT):
        return "edit" if edited else "approve"
    if choice.decision is DecisionType.REJECT:
        return "reject"
    if choice.decision is DecisionType.RESPOND:
        return "respond"
    raise DecisionRefused("Use --resume JSON to send a custom value.")
