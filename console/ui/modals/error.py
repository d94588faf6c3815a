"""A modal that states what went wrong, in words; closed with enter or esc."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from console.core.redact import Redactor
from console.ui.errors import describe_error


class ErrorModal(ModalScreen[None]):
    """A titled message; nothing in it is markup."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "close", "Close", id="error.close"),
    ]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title_text = title
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="error-box"):
            yield Static(Text(self.title_text), id="error-title")
            yield Static(Text(self.message), id="error-message")
            yield Static(Text("enter/esc: close"), id="error-hint")

    def action_close(self) -> None:
        self.dismiss(None)


def report_error(
    app: App[Any], error: BaseException, *, redactor: Redactor | None, modal: bool = True
) -> None:
    """Show `error` to the reviewer: a modal, or a notification if one is already open.

    A failure that repeats (a poll against a lost database) must not stack modals, so
    only the first gets one; the rest become notifications.
    """
    title, message = describe_error(error, redactor)
    if modal and not isinstance(app.screen, ErrorModal):
        app.push_screen(ErrorModal(title, message))
    else:
        app.notify(message, title=title, severity="error", markup=False)


class RevealScreen(ErrorModal):
    """One revealed value, as inert text (never markup or terminal control), with the note
    that the reveal is in the audit log. Looks like the error modal; closed the same way."""
