"""The edit form (`e`): tool arguments, a state update and a resume value, then a preview.

Editors hold text, never parsed values, so nothing typed is lost to an error: every
change is validated where it was typed (JSON syntax with line and column, the tool's
argument schema, the pause's response schema, state keys the graph does not have) and
saved as the pause's draft. `ctrl+s` asks the core for the plan without writing anything
(`Decider.plan`), then shows the exact `Command(update=..., resume=...)` and the state it
leads to; an update that would replace a whole list needs an explicit `Y`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Static

from console.core.conventions import (
    action_args,
    action_requests,
    allowed_decisions,
    edit_args_schema,
    inbox_request,
    tool_approval_request,
)
from console.core.errors import ConflictError, ConsoleError
from console.core.ledger.decisions import DecisionInput, Plan
from console.core.ledger.rows import DecisionType
from console.core.models import Convention, PauseKind, PendingInterrupt, PendingThread, ReviewBundle
from console.core.redact import Redactor
from console.ui.actions import ActionState
from console.ui.bundle_text import allowed_decisions as card_allowed
from console.ui.bundle_text import kind_label
from console.ui.cell_text import one_line
from console.ui.drafts import Draft
from console.ui.errors import describe_error
from console.ui.json_text import (
    JsonInputError,
    UnknownRedaction,
    dumps,
    loads,
    restore,
    schema_problems,
    secret_originals,
)
from console.ui.modals.confirm import ConfirmScreen
from console.ui.plan_text import plan_text
from console.ui.schema_form import FieldSpec, form_fields, form_value
from console.ui.widgets.inputs import Input
from console.ui.widgets.scrollbars import use_cell_scrollbars
from console.ui.widgets.text_area import TextArea

_REQUIRED = re.compile(r"'([^']+)' is a required property")
Planner = Callable[[DecisionInput], Awaitable[Plan]]
DraftSink = Callable[[Draft], None]
FORM_PLAN_GROUP = "form-plan"


@dataclass(frozen=True, slots=True)
class FormResult:
    """How the form closed: a confirmed decision, or a conflict found while planning."""

    kind: Literal["submit", "conflict"]
    choice: DecisionInput
    message: str = ""


@dataclass(frozen=True, slots=True)
class ActionEditor:
    """One action request whose arguments may be edited."""

    index: int
    name: str
    original: Any  # redacted, as shown
    schema: Mapping[str, Any] | None
    editable: bool
    allowed: str


def _action_editors(pause: PendingThread, redactor: Redactor) -> list[ActionEditor]:
    if pause.interrupts and all(i.convention is Convention.TOOL_APPROVAL
                                for i in pause.interrupts):
        # Per-call tool approvals: one tool call per interrupt, action N is item N.
        editors = []
        for index, item in enumerate(pause.interrupts):
            request = tool_approval_request(item.value) or {}
            takes = allowed_decisions(item.value, item.convention, item.response_schema)
            editors.append(ActionEditor(
                index, str(request.get("name", "?")), redactor.redact(request.get("args", {})),
                edit_args_schema(item.response_schema), "edit" in takes, ", ".join(takes)))
        return editors
    for item in pause.interrupts:
        if item.convention is Convention.LANGCHAIN_HITL:
            editors = []
            for index, request in enumerate(action_requests(item.value) or []):
                name = str(request.get("name", request.get("action", "?")))
                allowed = card_allowed(item.value, index, name)
                schema = request.get("args_schema") or request.get("argsSchema")
                editors.append(ActionEditor(
                    index, name, redactor.redact(action_args(request)),
                    schema if isinstance(schema, Mapping) else None,
                    allowed is None or "edit" in allowed,
                    ", ".join(allowed) if allowed else "not stated",
                ))
            return editors
        if item.convention is Convention.AGENT_INBOX:
            request = inbox_request(item.value) or {}
            action = request.get("action_request") or {}
            config = request.get("config") or {}
            return [ActionEditor(0, str(action.get("action", "?")),
                                 redactor.redact(action.get("args", {})), None,
                                 bool(config.get("allow_edit")),
                                 "edit" if config.get("allow_edit") else "no edit")]
    return []


def _resume_item(pause: PendingThread) -> PendingInterrupt | None:
    """The interrupt whose resume value the form edits (schema first, then raw)."""
    for convention in (Convention.SCHEMA, Convention.RAW):
        for item in pause.interrupts:
            if item.convention is convention:
                return item
    return None


def _error_text(message: str) -> Text:
    return Text(message, style="bold") if message else Text("")


class EditForm(ModalScreen[FormResult | None]):
    """Edit one pause's decision; esc closes and keeps the draft."""

    AUTO_FOCUS = "#form-scroll TextArea, #form-scroll Input"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "preview", "Preview & submit", id="form.preview", priority=True),
        Binding("escape", "close", "Close (keeps draft)", id="form.close"),
        Binding("ctrl+t", "toggle_json", "Form / JSON", id="form.toggle_json"),
    ]

    def __init__(
        self,
        thread: PendingThread,
        bundle: ReviewBundle,
        *,
        redactor: Redactor,
        planner: Planner,
        on_draft: DraftSink,
        draft: Draft | None,
        channels: Sequence[str] | None,
        states: Mapping[str, ActionState],
    ) -> None:
        super().__init__()
        self.thread = thread
        self.bundle = bundle
        self.redactor = redactor
        self.planner = planner
        self.on_draft = on_draft
        self.channels = channels
        self.states = states
        self.editors = _action_editors(thread, redactor)
        self.resume_item = _resume_item(thread)
        schema = self.resume_item.response_schema if self.resume_item else None
        self.schema = schema
        self.fields: list[FieldSpec] | None = form_fields(schema) if schema else None
        self.draft = draft or Draft(thread.thread_id, bundle.checkpoint_id)
        self.json_mode = self.draft.json_mode or (schema is not None and self.fields is None)
        # Placeholder -> secret, so redacted values left as they are go back unchanged.
        self._originals = secret_originals(
            [[item.value for item in thread.interrupts], bundle.values], redactor)
        self.problems: dict[str, str] = {}
        self.checking = False

    # --- layout ---------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        pause = self.thread
        title = (f"Edit decision: {one_line(pause.thread_id)} | "
                 f"{one_line(pause.graph or '?')}/{one_line(','.join(pause.nodes))} | "
                 f"{kind_label(pause.kind, pause.convention)}")
        with Vertical(id="form-box"):
            yield Static(Text(title), id="form-title")
            with VerticalScroll(id="form-scroll"):
                yield from self._compose_actions()
                yield from self._compose_resume()
                yield from self._compose_state()
                yield Static(Text("Note for the ledger (optional)"), classes="form-label")
                yield Input(self.draft.reason, id="reason", compact=True,
                            placeholder="why (recorded with the decision)")
            yield Static("", id="form-error")
            toggle = "  ctrl+t: form/JSON" if self.fields else ""
            yield Static(Text(f"ctrl+s: preview & submit  esc: close, keep draft{toggle}"),
                         id="form-hint")

    def _compose_actions(self) -> ComposeResult:
        count = len(self.editors)
        for editor in self.editors:
            label = (f"Action {editor.index + 1} of {count}: {one_line(editor.name)} "
                     f"(allowed: {editor.allowed})")
            if not editor.editable:
                label += ": its arguments may not be edited"
            yield Static(Text(label), classes="form-label")
            text = self.draft.action_texts.get(editor.index, dumps(editor.original))
            area = TextArea(text, id=f"args-{editor.index}", soft_wrap=True,
                            tab_behavior="focus", read_only=not editor.editable,
                            classes="form-json")
            yield area
            yield Static("", id=f"args-{editor.index}-error", classes="form-field-error")

    def _compose_resume(self) -> ComposeResult:
        item = self.resume_item
        if item is None:
            return
        if self.schema is not None:
            title = str(self.schema.get("title") or "value")
            yield Static(Text(f"Answer: {title} (the pause's response schema; required)"),
                         classes="form-label")
            with Vertical(id="schema-form"):
                for spec in self.fields or ():
                    yield Static(Text(f"{spec.name}: {spec.hint()}"), classes="form-sublabel")
                    text = self.draft.field_texts.get(spec.name, spec.initial_text())
                    yield Input(text, id=f"field-{spec.name}", compact=True)
                    yield Static("", id=f"field-{spec.name}-error", classes="form-field-error")
        else:
            yield Static(Text("Custom resume value (JSON; leave empty to approve with the "
                              "graph's usual answer)"), classes="form-label")
        yield TextArea(self.draft.resume_text, id="resume", soft_wrap=True,
                       tab_behavior="focus", classes="form-json",
                       placeholder="(none)" if self.schema is None else "(a JSON value)")
        yield Static("", id="resume-error", classes="form-field-error")

    def _compose_state(self) -> ComposeResult:
        if self.channels is None:
            keys = "graph not loaded: keys are not checked"
        else:
            keys = "keys: " + ", ".join(self.channels)
        breakpoint = self.thread.kind is not PauseKind.INTERRUPT
        what = "applied before the run continues" if breakpoint else "sent with the resume"
        yield Static(Text(f"State update (JSON object, {what}; {keys})"),
                     classes="form-label")
        yield TextArea(self.draft.state_text, id="state", soft_wrap=True, tab_behavior="focus",
                       classes="form-json",
                       placeholder='(no update)  e.g. {"status": "approved"}')
        yield Static("", id="state-error", classes="form-field-error")

    def on_mount(self) -> None:
        scroll = self.query_one("#form-scroll", VerticalScroll)
        use_cell_scrollbars(scroll)
        for error in self.query(".form-field-error"):
            error.display = False
        self._show_mode()
        self._validate_all()
        # Focusing the first editor scrolls it into view; its label should show too.
        self.call_after_refresh(scroll.scroll_home, animate=False)

    def _show_mode(self) -> None:
        if self.schema is None:
            return
        form = self.query("#schema-form")
        if form:
            form.first().display = not self.json_mode
        self.query_one("#resume", TextArea).display = self.json_mode
        self.query_one("#resume-error", Static).display = self.json_mode and bool(
            self.problems.get("resume"))

    # --- draft ----------------------------------------------------------------------

    def current_draft(self) -> Draft:
        action_texts = {}
        for editor in self.editors:
            area = self.query_one(f"#args-{editor.index}", TextArea)
            if area.text != dumps(editor.original):
                action_texts[editor.index] = area.text
        field_texts = {spec.name: self.query_one(f"#field-{spec.name}", Input).value
                       for spec in self.fields or ()} if self.schema is not None else {}
        resume = self.query("#resume")
        return replace(
            self.draft,
            action_texts=action_texts,
            state_text=self.query_one("#state", TextArea).text,
            resume_text=resume.first(TextArea).text if resume else "",
            field_texts=field_texts,
            json_mode=self.json_mode,
            reason=self.query_one("#reason", Input).value,
        )

    def _save(self) -> None:
        self.draft = self.current_draft()
        self.on_draft(self.draft)

    # --- validation -----------------------------------------------------------------

    def _set_problem(self, key: str, message: str) -> None:
        if message:
            self.problems[key] = message
        else:
            self.problems.pop(key, None)
        target = self.query(f"#{key}-error")
        if target:
            error = target.first(Static)
            error.update(_error_text(message))
            error.display = bool(message)

    def _validate_args(self, editor: ActionEditor) -> Any:
        """The edited args (restored), None if unchanged; records a problem if invalid."""
        key = f"args-{editor.index}"
        text = self.query_one(f"#{key}", TextArea).text
        try:
            value = loads(text)
            if not isinstance(value, dict):
                raise ValueError("the arguments must be a JSON object")
            if value == editor.original:
                self._set_problem(key, "")
                return None
            value = restore(value, self._originals)
            if editor.schema:
                problems = schema_problems(value, editor.schema)
                if problems:
                    raise ValueError("; ".join(problems[:3]))
        except (JsonInputError, UnknownRedaction, ValueError) as exc:
            self._set_problem(key, str(exc))
            return None
        self._set_problem(key, "")
        return value

    def _validate_state(self) -> dict[str, Any] | None:
        text = self.query_one("#state", TextArea).text
        if not text.strip():
            self._set_problem("state", "")
            return None
        try:
            value = loads(text)
            if not isinstance(value, dict):
                raise ValueError('a state update is a JSON object: {"key": value}')
            if self.channels is not None:
                unknown = [k for k in value if k not in self.channels]
                if unknown:
                    raise ValueError(f"unknown state key {unknown[0]!r}; the graph has: "
                                     f"{', '.join(self.channels)}")
            restored: dict[str, Any] = restore(value, self._originals)
        except (JsonInputError, UnknownRedaction, ValueError) as exc:
            self._set_problem("state", str(exc))
            return None
        self._set_problem("state", "")
        return restored

    def _validate_resume(self) -> tuple[bool, Any]:
        """(given, value) of the resume editor or schema form."""
        if self.resume_item is None:
            return False, None
        if self.schema is not None and not self.json_mode and self.fields is not None:
            texts = {spec.name: self.query_one(f"#field-{spec.name}", Input).value
                     for spec in self.fields}
            value, errors = form_value(self.fields, texts)
            problems = [] if errors else schema_problems(value, self.schema)
            names = {spec.name for spec in self.fields}
            per_field: dict[str, str] = {}
            other = []
            for problem in problems:
                where, _, message = problem.partition(": ")
                missing = _REQUIRED.match(message)
                if where in names:
                    per_field.setdefault(where, message)
                elif missing and missing.group(1) in names:
                    per_field.setdefault(missing.group(1), "required")
                else:
                    other.append(problem)
            for spec in self.fields:
                self._set_problem(f"field-{spec.name}",
                                  errors.get(spec.name) or per_field.get(spec.name, ""))
            self._set_problem("resume", "; ".join(other[:3]))
            return not (errors or problems), value
        text = self.query_one("#resume", TextArea).text
        if not text.strip():
            self._set_problem("resume", "a value is required" if self.schema else "")
            return False, None
        try:
            value = restore(loads(text), self._originals)
        except (JsonInputError, UnknownRedaction) as exc:
            self._set_problem("resume", str(exc))
            return False, None
        if self.schema is not None:
            problems = schema_problems(value, self.schema)
            if problems:
                self._set_problem("resume", "; ".join(problems[:3]))
                return False, None
        self._set_problem("resume", "")
        return True, value

    def _validate_all(self) -> DecisionInput | None:
        edits = {}
        for editor in self.editors:
            args = self._validate_args(editor)
            if args is not None:
                edits[editor.index] = args
        state = self._validate_state()
        has_resume, resume = self._validate_resume()
        if self.problems:
            return None
        reason = self.query_one("#reason", Input).value.strip() or None
        if has_resume:
            decision = DecisionType.RESUME
        elif edits or state:
            decision = DecisionType.EDIT
        else:
            decision = DecisionType.APPROVE
        return DecisionInput(decision, reason=reason, state_update=state,
                             action_edits=edits or None, resume=resume, has_resume=has_resume)

    @on(TextArea.Changed)
    def _text_changed(self, event: TextArea.Changed) -> None:
        area_id = event.text_area.id or ""
        if area_id.startswith("args-"):
            editor = next(e for e in self.editors if f"args-{e.index}" == area_id)
            self._validate_args(editor)
        elif area_id == "state":
            self._validate_state()
        elif area_id == "resume":
            self._validate_resume()
        self._form_error("")
        self._save()

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        if (event.input.id or "").startswith("field-"):
            self._validate_resume()
        self._form_error("")
        self._save()

    @on(Input.Submitted)
    def _input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    def _form_error(self, message: str) -> None:
        self.query_one("#form-error", Static).update(_error_text(message))

    @property
    def form_error(self) -> str:
        rendered = self.query_one("#form-error", Static).render()
        return rendered.plain if isinstance(rendered, Text) else str(rendered)

    # --- actions --------------------------------------------------------------------

    def action_close(self) -> None:
        self._save()
        self.dismiss(None)

    def action_toggle_json(self) -> None:
        if self.schema is None or self.fields is None:
            return
        if not self.json_mode:
            has_value, value = self._validate_resume()
            area = self.query_one("#resume", TextArea)
            if has_value or value:
                area.text = dumps(value)
        self.json_mode = not self.json_mode
        for spec in self.fields:
            self._set_problem(f"field-{spec.name}", "")
        self._set_problem("resume", "")
        self._show_mode()
        self._validate_resume()
        self._save()

    def action_preview(self) -> None:
        if self.checking:
            return
        choice = self._validate_all()
        self._save()
        if choice is None:
            self._form_error("Fix the marked fields first (the draft is kept).")
            self._focus_first_problem()
            return
        if self.states.get("edit") is not None and not self.states["edit"].allowed and (
            choice.decision is not DecisionType.APPROVE
        ):
            self._form_error(self.states["edit"].reason)
            return
        self._plan(choice)

    def _focus_first_problem(self) -> None:
        for key in self.problems:
            widget_id = "resume" if key == "resume" and self.json_mode else key
            found = self.query(f"#{widget_id}")
            if found:
                target: Widget = found.first()
                if target.display and target.focusable:
                    target.focus()
                    self._move_cursor_to_error(target)
                    return

    def _move_cursor_to_error(self, target: Widget) -> None:
        if not isinstance(target, TextArea):
            return
        try:
            loads(target.text)
        except JsonInputError as exc:
            line = max(0, (exc.problem.line or 1) - 1)
            column = max(0, (exc.problem.column or 1) - 1)
            target.cursor_location = (line, column)
        except Exception:
            return

    @work(name="preview decision", group=FORM_PLAN_GROUP, exclusive=True, exit_on_error=False)
    async def _plan(self, choice: DecisionInput) -> None:
        self.checking = True
        self._form_error("Checking with the core (nothing is written)...")
        try:
            plan = await self.planner(replace(choice, force=True))
        except ConflictError as exc:
            self.dismiss(FormResult("conflict", choice, str(exc)))
            return
        except ConsoleError as exc:
            self._form_error(describe_error(exc, self.redactor)[1])
            return
        except Exception as exc:
            self._form_error(describe_error(exc, self.redactor)[1])
            return
        finally:
            self.checking = False
        self._form_error("")
        forced = bool(plan.warnings)
        body = Text()
        body.append(f"{choice.decision.value} on {self.thread.thread_id}"
                    f" @ {self.bundle.checkpoint_id}\n\n")
        body.append_text(plan_text(plan, self.redactor))

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.dismiss(FormResult("submit", replace(choice, force=forced)))
            else:
                self._form_error("Not submitted; the draft is kept.")

        self.app.push_screen(
            ConfirmScreen("Submit this decision?", body, needs_force=forced), confirmed)
