"""A one-line text prompt (a rejection's reason, a response's message).

With a preview (`show_preview`), the prompt is also the decision's last look: it shows
the exact Command with the text as typed, so `enter` can send it without a second y/n
(a rejection is `r`, the reason, `enter`). Until the preview has arrived, `enter` only
continues to the usual confirm.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from console.ui.widgets.inputs import Input

Preview = Callable[[str], Text]  # the Command with this text in it


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
        self._preview: Preview | None = None
        self._whole = False
        self.previewed = False  # whether the text was submitted under its Command

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Static(Text(self.title_text), id="prompt-title")
            yield Static(Text(self.label), id="prompt-label")
            yield Input(self.value, placeholder=self.placeholder, id="prompt-input",
                        compact=True, select_on_focus=False)  # keep typed-ahead keys
            yield Static("", id="prompt-error")
            yield Static("", id="prompt-preview")
            yield Static(Text("enter: continue   esc: cancel"), id="prompt-hint")

    def on_mount(self) -> None:
        self.query_one("#prompt-preview").display = False

    @property
    def has_preview(self) -> bool:
        """Whether the Command is shown (whole: `enter` then sends it)."""
        return self._preview is not None

    def show_preview(self, preview: Preview, hint: str, *, whole: bool = True) -> None:
        """Show what `enter` will send, re-rendered as the text changes. `whole=False`:
        the preview is cut (too long for the screen), so `enter` continues to the
        confirm, where all of it can be read."""
        self._preview = preview
        self._whole = whole
        self.query_one("#prompt-preview").display = True
        self.query_one("#prompt-hint", Static).update(Text(hint))
        self._render_preview(self.query_one("#prompt-input", Input).value)

    def _render_preview(self, value: str) -> None:
        if self._preview is not None:
            self.query_one("#prompt-preview", Static).update(self._preview(value.strip()))

    @on(Input.Submitted, "#prompt-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if self.required and not text:
            self.query_one("#prompt-error", Static).update(
                Text("Required: type something, or esc to cancel."))
            return
        self.previewed = self._preview is not None and self._whole
        self.dismiss(text)

    @on(Input.Changed, "#prompt-input")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.query_one("#prompt-error", Static).update("")
        self._render_preview(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
