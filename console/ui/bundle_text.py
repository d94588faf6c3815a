"""A review bundle as the text of the detail pane: header, payload cards, state.

The pane shows a fixed header (`header_text`) over one tab at a time: Payload
(`payload_tab_text`), Diff (`console.ui.diff_text`), State (`state_text`) and History
(`console.ui.timeline_text`).

Pure functions from core models to `rich.text.Text`, so the layout of a review can be
tested without running the app, and nothing from the data is ever read as markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.text import Text

from console.core import conventions
from console.core.conventions import (
    action_args,
    action_requests,
    inbox_request,
    tool_approval_request,
)
from console.core.durations import format_age
from console.core.inert import inert
from console.core.ledger.rows import LedgerRow
from console.core.ledger.status import BAD, DONE, StatusWords, pause_status
from console.core.models import (
    Convention,
    PauseKind,
    PendingInterrupt,
    PendingThread,
    ReviewBundle,
)
from console.core.redact import Redactor
from console.ui.ages import AgeBand, age_band, age_seconds
from console.ui.cell_text import one_line
from console.ui.diff_text import diff_tab_text
from console.ui.json_text import dumps
from console.ui.pretty import KEY_STYLE, NOTE_STYLE, pretty, pretty_fields
from console.ui.timeline_text import history_tab_text

TITLE_STYLE = "bold"
SECTION_STYLE = "bold underline"
CARD_STYLE = "bold"
WARNING_STYLE = "bold reverse"
SEPARATOR = " | "  # ASCII: box-drawing and middle dots are not in every ssh client's font
HEADER_LINES = 4
MAX_RAW_LINES = 2000  # raw JSON of a huge payload: enough to read, bounded for the link
_TONE_STYLES = {DONE: "green", BAD: "bold red"}

_SLA_WORDS = {AgeBand.OK: "within the", AgeBand.WARN: "close to the", AgeBand.OVER: "OVER the"}

# Agent Inbox `config` flags and the HumanResponse type each one allows.
_INBOX_RESPONSES = (
    ("allow_accept", "accept"),
    ("allow_edit", "edit"),
    ("allow_respond", "response"),
    ("allow_ignore", "ignore"),
)


def kind_label(kind: PauseKind, convention: Convention) -> str:
    """`interrupt/langchain-hitl`, or just the kind for breakpoints (no payload)."""
    if kind is PauseKind.INTERRUPT:
        return f"interrupt/{convention.value}"
    return kind.value


def format_time(moment: datetime) -> str:
    """UTC, to the second: the ledger and the audit export speak UTC too."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _line(out: Text, *parts: tuple[str, str | None]) -> None:
    for text, style in parts:
        out.append(text, style=style or "")
    out.append("\n")


def _cropped(out: Text) -> Text:
    # One screen line per header line, whatever the width: the header's height is fixed
    # so that a new thread never re-lays out the pane. Cropped, never an ellipsis glyph
    # (ambiguous width over ssh).
    out.no_wrap = True
    out.overflow = "crop"
    return out


def header_text(
    bundle: ReviewBundle,
    thread: PendingThread | None,
    *,
    now: datetime,
    sla_seconds: float,
    redactor: Redactor,
    actions: Text | None = None,
    status: StatusWords | None = None,
    presence: str | None = None,
) -> Text:
    """Exactly `HEADER_LINES` lines: thread and age, graph/node/kind, what the reviewer
    may do (or why not: moved on, no longer waiting), and where the decision stands
    (with who else has the thread open: `presence`)."""
    pause = bundle.pending or thread
    out = Text()
    out.append(one_line(bundle.thread_id), style=TITLE_STYLE)
    if pause is not None:
        seconds = age_seconds(pause.paused_at, now)
        band = age_band(seconds, sla_seconds)
        out.append(f"{SEPARATOR}paused {format_age(seconds)} ago, "
                   f"{_SLA_WORDS[band]} {format_age(sla_seconds)} SLA")
    out.append("\n")
    if pause is None:
        nodes = ", ".join(bundle.next_nodes) or "-"
        _line(out, (f"next {one_line(nodes)}{SEPARATOR}not waiting for a human", None))
    else:
        # Kind first: node lists can be long, and what is cut is the end of the line.
        _line(
            out,
            (kind_label(pause.kind, pause.convention), None),
            (SEPARATOR, None),
            ("graph ", KEY_STYLE),
            (one_line(pause.graph or "?"), None),
            (SEPARATOR, None),
            ("node ", KEY_STYLE),
            (one_line(", ".join(pause.nodes) or "-"), None),
        )
    if bundle.pending is None:
        _line(out, ("This thread is no longer waiting for a human.", WARNING_STYLE))
    elif thread is not None and thread.checkpoint_id != bundle.checkpoint_id:
        _line(out, ("This thread moved on since the queue was loaded.", WARNING_STYLE))
    elif actions is not None and actions.plain:
        out.append_text(actions.split("\n")[0])
        out.append("\n")
    else:
        out.append("\n")
    out.append("decision ", style=KEY_STYLE)
    if status is None:
        out.append("(ledger not read)", style=NOTE_STYLE)
    else:
        out.append(one_line(redactor.redact_text(status.text)),
                   style=_TONE_STYLES.get(status.tone, ""))
    if presence:
        out.append(SEPARATOR)
        out.append(one_line(presence), style="bold")
    return _cropped(out)


def refusal_text(actions: Text | None) -> Text:
    """The lines of `actions_text` after the first: why a key is disabled here."""
    out = Text()
    if actions is None:
        return out
    for line in actions.split("\n")[1:]:
        if line.plain.strip():
            out.append_text(line)
            out.append("\n")
    return out


def _review_configs(value: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    configs = value.get("review_configs", value.get("reviewConfigs"))
    if isinstance(configs, Sequence) and not isinstance(configs, str | bytes):
        return [c for c in configs if isinstance(c, Mapping)]
    return []


def allowed_decisions(value: Mapping[str, Any], index: int, name: str) -> list[str] | None:
    """Decisions a HITL review config allows for one action request (None: not stated).

    Per action request, unlike the core's `conventions.allowed_decisions` (what one
    decision for the whole pause may be): a card shows what may be done with its own
    action. Configs are matched by action name, then by position; both spellings are
    accepted.
    """
    configs = _review_configs(value)
    by_name = [c for c in configs if c.get("action_name", c.get("actionName")) == name]
    chosen = by_name[0] if by_name else (configs[index] if index < len(configs) else None)
    if chosen is None:
        return None
    allowed = chosen.get("allowed_decisions", chosen.get("allowedDecisions"))
    if isinstance(allowed, Sequence) and not isinstance(allowed, str | bytes):
        return [str(a) for a in allowed]
    return None


class _Cards:
    """Writes the payload of one bundle; holds the redactor every value goes through."""

    def __init__(self, out: Text, redactor: Redactor) -> None:
        self.out = out
        self.redactor = redactor

    def field(self, label: str, body: Text | str) -> None:
        self.out.append(f"  {label}: ", style=KEY_STYLE)
        if isinstance(body, Text):
            self.out.append_text(body)
        else:
            self.out.append(body)
        self.out.append("\n")

    def value(self, value: Any) -> Text:
        return pretty(value, redactor=self.redactor, indent=1)

    def name(self, text: Any) -> str:
        return inert(self.redactor.redact_text(str(text)))

    def prose(self, text: Any) -> str:
        """Free text (descriptions) keeps its line breaks, indented under its label."""
        shown = inert(self.redactor.redact_text(str(text)), keep_newlines=True)
        return shown.replace("\n", "\n    ")

    def hitl(self, value: Any) -> None:
        requests = action_requests(value) or []
        for index, request in enumerate(requests):
            name = str(request.get("name", request.get("action", "?")))
            title = f"[{index + 1}/{len(requests)}] {self.name(name)}\n"
            self.out.append(title, style=CARD_STYLE)
            if request.get("description"):
                self.field("description", self.prose(request["description"]))
            self.field("args", self.value(action_args(request)))
            allowed = allowed_decisions(value, index, name)
            self.field("allowed", " | ".join(allowed) if allowed else "not stated")

    def inbox(self, value: Any) -> None:
        request = inbox_request(value) or {}
        action_request = request.get("action_request") or {}
        config = request.get("config") or {}
        action = str(action_request.get("action", "?"))
        self.out.append(f"[inbox] {self.name(action)}\n", style=CARD_STYLE)
        if request.get("description"):
            self.field("description", self.prose(request["description"]))
        self.field("args", self.value(action_request.get("args", {})))
        allowed = [response for flag, response in _INBOX_RESPONSES if config.get(flag)]
        self.field("allowed", " | ".join(allowed) if allowed else "none")

    def tool_approval(self, item: PendingInterrupt) -> None:
        """One gated tool call (LangChain's per-call middleware): one card, one decision."""
        request = tool_approval_request(item.value) or {}
        self.out.append(f"[tool] {self.name(request.get('name', '?'))}\n", style=CARD_STYLE)
        if request.get("description"):
            self.field("description", self.prose(request["description"]))
        self.field("args", self.value(request.get("args", {})))
        if request.get("tool_call_id"):
            self.field("call id", self.name(request["tool_call_id"]))
        allowed = conventions.allowed_decisions(item.value, item.convention,
                                                item.response_schema)
        self.field("allowed", " | ".join(allowed))

    def interrupt(self, item: PendingInterrupt) -> None:
        if item.convention is Convention.TOOL_APPROVAL:
            self.tool_approval(item)
        elif item.convention is Convention.LANGCHAIN_HITL:
            self.hitl(item.value)
        elif item.convention is Convention.AGENT_INBOX:
            self.inbox(item.value)
        else:
            self.field("value", self.value(item.value))
            if item.response_schema:
                # The graph's own schema, not data: no redaction needed.
                self.field("answer schema", pretty(item.response_schema, redactor=None, indent=1))


def _node_of(item: PendingInterrupt, pause: PendingThread | None) -> str:
    # A PULL task's path reads "~__pregel_pull, node"; a PUSH task's (a Send branch, a
    # @task) "~__pregel_push, index, ...": the pause's node names it, with its packet.
    parts = [p.strip() for p in item.task_path.strip("~()").split(",")]
    if len(parts) >= 2 and parts[0] == "__pregel_push" and parts[1].isdigit():
        node = pause.nodes[0] if pause is not None and len(pause.nodes) == 1 else "task"
        return f"{node} (Send {int(parts[1]) + 1})"
    return parts[1] if len(parts) >= 2 else item.task_path


def payload_text(bundle: ReviewBundle, *, redactor: Redactor) -> Text:
    """The interrupt payloads as cards, or what a static breakpoint means."""
    out = Text()
    cards = _Cards(out, redactor)
    pause = bundle.pending
    if bundle.interrupts:
        count = len(bundle.interrupts)
        if count > 1 and all(i.convention is Convention.TOOL_APPROVAL for i in bundle.interrupts):
            out.append(f"{count} tool calls wait, one decision each: a/r decide them all "
                       "alike, i one by one.\n", style=NOTE_STYLE)
        for number, item in enumerate(bundle.interrupts, 1):
            if count > 1:
                out.append(
                    f"Interrupt {number} of {count}{SEPARATOR}node "
                    f"{one_line(_node_of(item, pause))}{SEPARATOR}id {one_line(item.id[:12])}\n",
                    style=NOTE_STYLE,
                )
            cards.interrupt(item)
    elif pause is not None and pause.kind is not PauseKind.INTERRUPT:
        nodes = one_line(", ".join(pause.nodes))
        where = {
            PauseKind.BEFORE: f"Static breakpoint before {nodes}.",
            PauseKind.AFTER: f"Static breakpoint after {nodes}.",
        }.get(pause.kind, f"Paused before {nodes}: a breakpoint, or a run that stalled.")
        out.append(f"{where} No payload: approving continues the run; rejecting ends it.\n")
    else:
        out.append("No pending interrupt.\n", style=NOTE_STYLE)
    return out


def raw_payload_text(bundle: ReviewBundle, *, redactor: Redactor) -> Text:
    """The interrupts exactly as the graph sent them, as indented JSON (redacted, with
    invisible characters escaped), for payloads the cards do not do justice to."""
    out = Text()
    if not bundle.interrupts:
        out.append("No interrupt payload (a breakpoint).", style=NOTE_STYLE)
        return out
    raw = [{"id": i.id, "value": redactor.redact(i.value, keep_decimals=True)}
           for i in bundle.interrupts]
    # Decimals read as on the cards, `Decimal('330750')`: a number, and not a float.
    text = dumps(raw if len(raw) > 1 else raw[0]["value"], decimals=True)
    lines = text.split("\n")
    if len(lines) > MAX_RAW_LINES:
        text = "\n".join(lines[:MAX_RAW_LINES])
    out.append(inert(text, limit=len(text) + 1, keep_newlines=True))
    if len(lines) > MAX_RAW_LINES:
        out.append(f"\n... {len(lines) - MAX_RAW_LINES} more lines", style=NOTE_STYLE)
    return out


def payload_tab_text(bundle: ReviewBundle, *, redactor: Redactor, actions: Text | None = None,
                     raw: bool = False) -> Text:
    """The Payload tab: why some keys are disabled (if any), then cards or raw JSON."""
    out = refusal_text(actions if bundle.pending is not None else None)
    if raw:
        out.append("Raw JSON (J: cards)\n", style=NOTE_STYLE)
        out.append_text(raw_payload_text(bundle, redactor=redactor))
    else:
        out.append_text(payload_text(bundle, redactor=redactor))
    out.rstrip()
    return out


def state_text(bundle: ReviewBundle, *, redactor: Redactor) -> Text:
    """The thread's state values at the head checkpoint (the State tab)."""
    out = Text()
    out.append(f"{len(bundle.values)} keys at the head checkpoint\n", style=NOTE_STYLE)
    if bundle.values:
        out.append_text(pretty_fields(bundle.values, redactor=redactor))
    else:
        out.append("(empty)", style=NOTE_STYLE)
    return out


def bundle_text(
    bundle: ReviewBundle,
    thread: PendingThread | None,
    *,
    now: datetime,
    sla_seconds: float,
    redactor: Redactor,
    actions: Text | None = None,
    decisions: Sequence[LedgerRow] = (),
) -> Text:
    """Every tab of the detail pane for one bundle, one after the other (for tests and
    text captures; the pane itself builds only the tab shown)."""
    status = None
    if bundle.pending is not None:
        status = pause_status(decisions, bundle.checkpoint_id, bundle.pending.interrupt_ids, now)
    out = header_text(bundle, thread, now=now, sla_seconds=sla_seconds, redactor=redactor,
                      actions=actions, status=status)
    out.no_wrap = False
    for title, body in (
        ("Payload", payload_tab_text(bundle, redactor=redactor, actions=actions)),
        ("Diff", diff_tab_text(bundle, redactor=redactor)),
        ("State", state_text(bundle, redactor=redactor)),
        ("History", history_tab_text(bundle, decisions, now=now, redactor=redactor)),
    ):
        out.append(f"\n\n{title}\n", style=SECTION_STYLE)
        out.append_text(body)
    return out
