"""The console app, and the one factory the CLI and the tests both build it with.

`ConsoleApp` takes a ready store and settings and does no I/O when constructed: the
CLI opens (and later closes) the store, the tests hand in one over a real SQLite file.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from console.core.redact import Redactor
from console.core.store.base import CheckpointStore
from console.session import redactor_for
from console.settings import Settings
from console.ui.clock import Clock, utc_now
from console.ui.keys import spell_key
from console.ui.modals.help import HelpScreen
from console.ui.screens.main import MainScreen
from console.ui.stylesheets import load_stylesheets

DETAIL_DELAY = 0.15  # seconds the cursor must rest before the detail pane loads
AGE_TICK = 30.0  # seconds between repaints of the age column


class ConsoleApp(App[None]):
    """Reviewers triage LangGraph runs paused at a human approval gate."""

    TITLE = "hitl-console"
    CSS = load_stylesheets()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
        # Declared here (not Textual's default) so it has an id, can be remapped, and
        # shows in the footer with the other keys.
        Binding("ctrl+p", "command_palette", "Palette", id="app.palette", priority=True),
    ]

    def __init__(
        self,
        store: CheckpointStore,
        settings: Settings,
        *,
        redactor: Redactor | None = None,
        clock: Clock = utc_now,
        detail_delay: float = DETAIL_DELAY,
        tick_interval: float = AGE_TICK,
    ) -> None:
        """`redactor` defaults to the one the CLI uses for `settings` (its [redaction]
        rules). `clock`, `detail_delay` and `tick_interval` exist so tests can freeze
        time, load the detail without waiting, and keep timers from firing mid-test."""
        super().__init__()
        self.store = store
        self.settings = settings
        self.redactor = redactor if redactor is not None else redactor_for(settings)
        self.clock = clock
        self.detail_delay = detail_delay
        self.tick_interval = tick_interval
        self.keymap: dict[str, str] = dict(settings.keymap)
        if self.keymap:
            self.set_keymap(self.keymap)

    def get_key_display(self, binding: Binding) -> str:
        """Key names in ASCII (footer, help): `down`, not an arrow glyph."""
        return spell_key(super().get_key_display(binding))

    def get_default_screen(self) -> MainScreen:
        return MainScreen(
            self.store,
            self.settings,
            redactor=self.redactor,
            clock=self.clock,
            detail_delay=self.detail_delay,
            tick_interval=self.tick_interval,
        )

    def action_help(self) -> None:
        """Show every key, as remapped by the keymap."""
        screen = self.screen
        if not isinstance(screen, MainScreen):
            return  # modals show their own keys
        self.push_screen(HelpScreen(screen.help_sections(self.keymap)))


def make_app(
    store: CheckpointStore,
    settings: Settings,
    *,
    redactor: Redactor | None = None,
    clock: Clock = utc_now,
    detail_delay: float = DETAIL_DELAY,
    tick_interval: float = AGE_TICK,
) -> ConsoleApp:
    """Build the console for a ready store; the CLI and the tests both start here."""
    return ConsoleApp(
        store,
        settings,
        redactor=redactor,
        clock=clock,
        detail_delay=detail_delay,
        tick_interval=tick_interval,
    )


async def run_console(store: CheckpointStore, settings: Settings) -> None:
    """Run the console until the reviewer quits; the caller opens and closes `store`.

    Mouse reporting follows `settings.mouse`: off, a terminal over ssh sends nothing on
    every mouse move (textual-notes.md measured 74 KB for 10 moves with it on).
    """
    await make_app(store, settings).run_async(mouse=settings.mouse)
