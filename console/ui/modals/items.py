"""Deciding a pause item by item (`i`): one row per pending interrupt, a decision each.

A pause with several interrupts (parallel branches, map-reduce `Send`s, one per tool call
with LangChain's per-call middleware) is answered with one
`Command(resume={interrupt_id: value, ...})`. Here each item gets its own decision: `a`
approve, `r` reject (asks a reason), `m` respond (asks a message), `e` edit a tool call's
arguments, `v` send a JSON value of one's own, `s` leave it pending. Only what the item's
payload takes is offered. `enter` asks the core for the plan (nothing is written), shows
the exact Command for a y/n, and closes with the decision; a refusal stays in the dialog
as one sentence, every choice kept.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static

from console.core.conventions import summarize_value, tool_approval_request
from console.core.errors import ConflictError
from console.core.ledger.decisions import DecisionInput, item_label
from console.core.ledger.rows import DecisionType
from console.core.models import PendingInterrupt, PendingThread
from console.core.redact import Redactor
from console.ui.actions import item_actions
from console.ui.cell_text import fit, one_line
from console.ui.errors import describe_error
from console.ui.json_text import JsonInputError, UnknownRedaction, loads, restore, secret_originals
from console.ui.modals.confirm import ConfirmScreen
from console.ui.modals.edit_form import FormResult, Planner
from console.ui.modals.prompt import PromptScreen
from console.ui.plan_text import plan_text

ITEMS_PLAN_GROUP = "items-plan"
_WORDS = {"approve": "APPROVE", "reject": "REJECT", "respond": "RESPOND", "edit": "EDIT",
          "value": "VALUE", "skip": "pending", None: "--"}
_DECISION = {"approve": DecisionType.APPROVE, "reject": DecisionType.REJECT,
             "respond": DecisionType.RESPOND, "edit": DecisionType.EDIT,
             "value": DecisionType.RESUME}
_ASK = {
    "reject": ("Reject item", "Reason (required; sent to the graph where its payload takes "
               "one, and recorded):"),
    "respond": ("Respond to item", "Message sent back instead of running it (required):"),
    "edit": ("Edit the arguments of item", "The tool call's arguments as one JSON object "
             "(checked against the tool's schema):"),
    "value": ("Resume value for item", "Any JSON value (checked against the item's "
              "schema, if it has one):"),
}


@dataclass(frozen=True, slots=True)
class ItemChoice:
    """One item's decision as the reviewer set it: the action and what they typed."""

    action: str | None = None  # one of actions.ITEM_ACTIONS, "skip", or None (undecided)
    text: str = ""  # the reason or message, or the JSON of edited arguments or a value


def _top_decision(actions: list[str]) -> DecisionType:
    """The decision the ledger row is filed under: the items' own if they agree, else
    approve when anything runs (each item's decision is recorded with it)."""
    if len(set(actions)) == 1:
        return _DECISION[actions[0]]
    if any(a in ("approve", "edit", "value") for a in actions):
        return DecisionType.APPROVE
    return DecisionType.REJECT if "reject" in actions else DecisionType.RESPOND


class ItemsScreen(ModalScreen[FormResult | None]):
    """One row per item; keys set the highlighted item's decision."""

    AUTO_FOCUS = "#items-list"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "choose('approve')", "Approve item", id="items.approve"),
        Binding("r", "choose('reject')", "Reject item", id="items.reject"),
        Binding("m", "choose('respond')", "Respond to item", id="items.respond"),
        Binding("e", "choose('edit')", "Edit arguments", id="items.edit"),
        Binding("v", "choose('value')", "Send a value", id="items.value"),
        Binding("s", "choose('skip')", "Leave pending", id="items.skip"),
        Binding("j", "move(1)", "Down", show=False, id="items.down"),
        Binding("k", "move(-1)", "Up", show=False, id="items.up"),
        # the list's own arrows wrap around: `down` on the last item would land on the
        # first, and the next key decide it (each decision moves on to the next item)
        Binding("down", "move(1)", "Down", show=False, priority=True),
        Binding("up", "move(-1)", "Up", show=False, priority=True),
        Binding("ctrl+s", "submit", "Review & submit", priority=True, id="items.submit"),
        Binding("escape", "cancel", "Cancel", id="items.cancel"),
    ]

    def __init__(self, thread: PendingThread, *, redactor: Redactor, planner: Planner,
                 values: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.thread = thread
        self.items: tuple[PendingInterrupt, ...] = thread.interrupts
        self.redactor = redactor
        self.planner = planner
        self.choices: list[ItemChoice] = [ItemChoice() for _ in self.items]
        self.checking = False
        self._cursor = 0  # drawn as ">" too: a highlight colour alone is lost to NO_COLOR
        # Placeholder -> secret, so redacted arguments left as they are go back unchanged.
        self._originals = secret_originals(
            [[item.value for item in self.items], dict(values or {})], redactor)

    # --- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        pause = self.thread
        title = (f"Decide item by item: {one_line(pause.thread_id)}"
                 f" | {one_line(pause.graph or '?')} | {len(self.items)} items")
        with Vertical(id="items-box"):
            yield Static(Text(title), id="items-title")
            yield OptionList(*[self._row(n) for n in range(len(self.items))], id="items-list")
            yield Static("", id="items-error")
            yield Static(Text("a approve  r reject  m respond  e edit args  v value  "
                              "s leave pending\nenter: review & submit  esc: cancel  j/k: move"),
                         id="items-hint")

    def _label(self, item: PendingInterrupt) -> str:
        redacted = self.redactor.redact(item.value)
        if tool_approval_request(item.value) is not None:
            return summarize_value(redacted, item.convention)
        return f"{item_label(item, self.thread)}: {summarize_value(redacted, item.convention)}"

    def _row(self, index: int) -> Text:
        item, choice = self.items[index], self.choices[index]
        out = Text(no_wrap=True, overflow="crop")
        word = _WORDS.get(choice.action, "--")
        out.append(">" if index == self._cursor else " ", style="bold")
        out.append(f"{index + 1:>2} ")
        out.append(f"{word:<8}", style="bold" if choice.action not in (None, "skip") else "")
        out.append(f" {fit(one_line(self.redactor.redact_text(self._label(item))), 200)}\n")
        detail = f"    takes {', '.join(item_actions(item)) or 'nothing'}"
        if choice.text:
            what = "args" if choice.action == "edit" else (
                "value" if choice.action == "value" else "reason")
            detail += f" | {what}: {one_line(self.redactor.redact_text(choice.text))}"
        out.append(detail, style="dim")
        return out

    @property
    def highlighted(self) -> int:
        return self.query_one("#items-list", OptionList).highlighted or 0

    def _error(self, message: str) -> None:
        self.query_one("#items-error", Static).update(
            Text(message, style="bold") if message else Text(""))

    @property
    def error_text(self) -> str:
        rendered = self.query_one("#items-error", Static).render()
        return rendered.plain if isinstance(rendered, Text) else str(rendered)

    def _set(self, index: int, choice: ItemChoice) -> None:
        self.choices[index] = choice
        self.query_one("#items-list", OptionList).replace_option_prompt_at_index(
            index, self._row(index))
        self._error("")

    # --- keys -------------------------------------------------------------------------

    def action_move(self, step: int) -> None:
        """Up or down one item, stopping at the ends (no wrap-around)."""
        options = self.query_one("#items-list", OptionList)
        options.highlighted = max(0, min(len(self.items) - 1, self.highlighted + step))

    def action_choose(self, action: str) -> None:
        index = self.highlighted
        item = self.items[index]
        allowed = item_actions(item)
        if action != "skip" and action not in allowed:
            label = one_line(item_label(item, self.thread))
            self._error(f"Item {index + 1} ({label}) does not take {action}; it takes "
                        f"{', '.join(allowed) or 'nothing here'}.")
            return
        if action in ("approve", "skip"):
            self._set(index, ItemChoice(action))
            self.action_move(1)
            return
        title, label = _ASK[action]
        previous = self.choices[index]
        initial = previous.text if previous.action == action else self._initial(item, action)

        def answered(text: str | None) -> None:
            if not text:
                return
            if action in ("edit", "value"):
                problem = self._json_problem(text, action)
                if problem:
                    self._error(f"Item {index + 1}: {problem}")
                    return
            self._set(index, ItemChoice(action, text))
            self.action_move(1)

        self.app.push_screen(PromptScreen(f"{title} {index + 1} "
                                          f"({one_line(item_label(item, self.thread))})", label,
                                          value=initial), answered)

    def _initial(self, item: PendingInterrupt, action: str) -> str:
        if action != "edit":
            return ""
        request = tool_approval_request(item.value)
        args = request.get("args", {}) if request else {}
        return json.dumps(self.redactor.redact(args), ensure_ascii=False)

    def _json_problem(self, text: str, action: str) -> str:
        try:
            value = restore(loads(text), self._originals)
        except (JsonInputError, UnknownRedaction) as exc:
            return str(exc)
        if action == "edit" and not isinstance(value, dict):
            return "the arguments must be a JSON object."
        return ""

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(OptionList.OptionHighlighted, "#items-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        previous, self._cursor = self._cursor, event.option_index
        options = self.query_one("#items-list", OptionList)
        for index in {previous, self._cursor}:
            if 0 <= index < len(self.items):
                options.replace_option_prompt_at_index(index, self._row(index))

    @on(OptionList.OptionSelected, "#items-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_submit()

    # --- submit -----------------------------------------------------------------------

    def decision(self) -> DecisionInput | None:
        """The decision the rows describe, or None with the reason shown."""
        undecided = [n for n, c in enumerate(self.choices, 1) if c.action is None]
        if undecided:
            self._error(f"Item {undecided[0]} has no decision yet: a, r, m, e or v decides "
                        "it, s leaves it pending.")
            return None
        answered = [(item, c) for item, c in zip(self.items, self.choices, strict=True)
                    if c.action != "skip"]
        if not answered:
            self._error("Every item is left pending: decide at least one.")
            return None
        items: dict[str, DecisionInput] = {}
        for item, c in answered:
            items[item.id] = self._item_input(c)
        reasons = [f"item {n}: {c.text}" for n, c in enumerate(self.choices, 1)
                   if c.action in ("reject", "respond")]
        skipped = len(answered) < len(self.items)
        return DecisionInput(
            _top_decision([str(c.action) for _, c in answered]),
            reason="; ".join(reasons) or None, items=items,
            only_items=tuple(item.id for item, _ in answered) if skipped else None)

    def _item_input(self, choice: ItemChoice) -> DecisionInput:
        kind = _DECISION[str(choice.action)]
        if choice.action in ("reject", "respond"):
            return DecisionInput(kind, reason=choice.text)
        if choice.action == "edit":
            return DecisionInput(kind, action_edits={
                0: restore(loads(choice.text), self._originals)})
        if choice.action == "value":
            return DecisionInput(kind, resume=restore(loads(choice.text), self._originals),
                                 has_resume=True)
        return DecisionInput(kind)

    def action_submit(self) -> None:
        if self.checking:
            return
        choice = self.decision()
        if choice is not None:
            self._plan(choice)

    @work(name="plan items", group=ITEMS_PLAN_GROUP, exclusive=True, exit_on_error=False)
    async def _plan(self, choice: DecisionInput) -> None:
        self.checking = True
        self._error("Checking with the core (nothing is written)...")
        try:
            plan = await self.planner(replace(choice, force=True))
        except ConflictError as exc:
            self.dismiss(FormResult("conflict", choice, str(exc)))
            return
        except Exception as exc:
            self._error(describe_error(exc, self.redactor)[1])
            return
        finally:
            self.checking = False
        self._error("")
        forced = bool(plan.warnings)
        body = Text()
        body.append(f"{self.thread.thread_id} @ {self.thread.checkpoint_id}\n\n")
        for number, (item, c) in enumerate(zip(self.items, self.choices, strict=True), 1):
            body.append(f"{number:>2} {_WORDS.get(c.action, '--'):<8} ", style="bold")
            body.append(f"{one_line(self.redactor.redact_text(self._label(item)))}\n")
        body.append("\n")
        body.append_text(plan_text(plan, self.redactor))

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.dismiss(FormResult("submit", replace(choice, force=forced)))
            else:
                self._error("Not submitted; your choices are kept.")

        self.app.push_screen(ConfirmScreen("Submit these decisions?", body,
                                           needs_force=forced), confirmed)

