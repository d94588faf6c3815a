"""A one-line text prompt (a rejection's reason, a response's message)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from console.ui.widgets.inputs import Input


class PromptScreen(ModalScreen[str | None]):
    """Asks for one line of text; enter submits (if not blank when required), esc cancels."""

    AUTO_FOCUS = "#prompt-input"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="prompt.cancel"),
    ]

    def __init__(self, title: str, label: str, *, required: bool = True, value: str = "",
                 placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.label = label
        self.required = required
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Static(Text(self.title_text), id="prompt-title")
            yield Static(Text(self.label), id="prompt-label")
            yield Input(self.value, placeholder=self.placeholder, id="prompt-input",
                        compact=True, select_on_focus=False)  # keep typed-ahead keys
            yield Static("", id="prompt-error")
            yield Static(Text("enter: continue   esc: cancel"), id="prompt-hint")

    @on(Input.Submitted, "#prompt-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if self.required and not text:
            self.query_one("#prompt-error", Static).update(
                Text("Required: type something, or esc to cancel."))
            return
        self.dismiss(text)

    @on(Input.Changed, "#prompt-input")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.query_one("#prompt-error", Static).update("")

    def action_cancel(self) -> None:
        self.dismiss(None)
