"""The console app, and the one factory the CLI and the tests both build it with.

`ConsoleApp` takes a store and settings and does no I/O when constructed: the CLI opens
(and later closes) the store, or hands in a `LateStore` that opens after the first frame
(Postgres); the tests hand in one over a real SQLite file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.command import CommandPalette, SearchIcon
from textual.markup import escape as escape_markup
from textual.screen import Screen
from textual.worker import WorkerFailed

from console.core.crash import CrashReport, report_crash
from console.core.models import PendingThread
from console.core.policy import Policy
from console.core.presence import HEARTBEAT_SECONDS
from console.core.redact import Redactor
from console.core.store.base import CheckpointStore
from console.core.worker_mode import worker_mode_default
from console.first_page import FIRST_PAGE, read_first_page
from console.session import decider_for, redactor_for
from console.settings import Settings
from console.ui.clock import Clock, utc_now
from console.ui.keys import spell_key
from console.ui.live import RETRY_DELAYS, FeedFactory
from console.ui.screens.base import ScreenOptions
from console.ui.screens.main import MainScreen
from console.ui.stylesheets import load_stylesheets
from console.ui.widgets.typeahead import RoutesTypedAhead, typed_ahead

if TYPE_CHECKING:
    from console.core.ledger.apply import Decider

DETAIL_DELAY = 0.15  # seconds the cursor must rest before the detail pane loads
AGE_TICK = 30.0  # seconds between repaints of the age column


class AsciiCommandPalette(CommandPalette):
    """Textual's palette with `>` for its search icon: the magnifier emoji is two cells
    wide in some terminals and missing from some ssh clients' fonts."""

    def on_mount(self) -> None:
        for icon in self.query(SearchIcon):
            icon.icon = ">"


class ConsoleApp(RoutesTypedAhead):
    """Reviewers triage LangGraph runs paused at a human approval gate."""

    TITLE = "hitl-console"
    CSS = load_stylesheets()
    BINDINGS: ClassVar[list[BindingType]] = [
        # Quit and the palette are in `?` help: at 80 columns the footer keeps the
        # decision keys, which are what differ from every other terminal app.
        Binding("q", "quit", "Quit", show=False, id="app.quit"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
        # Declared here (not Textual's default) so it has an id, can be remapped, and
        # shows in the footer with the other keys.
        Binding("ctrl+p", "command_palette", "Palette", show=False, id="app.palette",
                priority=True),
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
        decider: Decider | None = None,
        poll_interval: float | None = None,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        feed_factory: FeedFactory | None = None,
        presence_interval: float = HEARTBEAT_SECONDS,
        first_page: Sequence[PendingThread] = (),
    ) -> None:
        """`redactor` defaults to the one the CLI uses for `settings` (its [redaction]
        rules); `decider` to one for `settings` (reviewer, templates, policy).
        `clock`, `detail_delay`, `tick_interval`, `poll_interval` (default
        `settings.poll_interval`, 0 turns live refresh off), `retry_delays` and
        `feed_factory` exist so tests can freeze time and drive the timers.
        `first_page`: the queue's first rows, read before the app started
        (`read_first_page`), shown by the first frame until the whole queue is read."""
        super().__init__()
        self.store = store
        self.settings = settings
        self.redactor = redactor if redactor is not None else redactor_for(settings)
        self.clock = clock
        self.policy = Policy.from_config(settings.raw)
        # built on first use, after the first frame (the decision path's import: ~7 ms)
        self._decider = decider
        self.worker_mode = decider.worker_mode if decider is not None else worker_mode_default()
        self.options = ScreenOptions(
            detail_delay=detail_delay,
            tick_interval=tick_interval,
            poll_interval=settings.poll_interval if poll_interval is None else poll_interval,
            retry_delays=tuple(retry_delays),
            feed_factory=feed_factory,
            presence_interval=presence_interval,
        )
        self.first_page = tuple(first_page)
        self.crash: CrashReport | None = None  # set by the last-resort handler
        self.keymap: dict[str, str] = dict(settings.keymap)
        if self.keymap:
            self.set_keymap(self.keymap)

    async def _on_key(self, event: events.Key) -> None:
        """After `RoutesTypedAhead`: a refused decision key says why. Here, at the app,
        rather than on the screen: only now is it known whether the key was typed ahead
        into the filter (the focus moves after `/` is handled, not when it arrives)."""
        if typed_ahead(event, self):
            return
        screen = self.screen
        if isinstance(screen, MainScreen) and screen.explain_refused_key(event.key):
            event.prevent_default()

    def get_key_display(self, binding: Binding) -> str:
        """Key names in ASCII (footer, help): `down`, not an arrow glyph."""
        return spell_key(super().get_key_display(binding))

    def get_default_screen(self) -> MainScreen:
        return MainScreen(
            self.store,
            self.settings,
            redactor=self.redactor,
            clock=self.clock,
            decider=self.get_decider,
            policy=self._decider.policy if self._decider is not None else self.policy,
            worker_mode=self.worker_mode,
            options=self.options,
            first_page=self.first_page,
        )

    @property
    def decider(self) -> Decider:
        return self.get_decider()

    def get_decider(self) -> Decider:
        """The decision path for this reviewer (`session.decider_for`), built when first
        used: by the first decision, the presence board or the open-decision flags, all
        after the first frame."""
        if self._decider is None:
            self._decider = decider_for(self.store, self.settings)
        return self._decider

    def action_help(self) -> None:
        """Show every key, as remapped by the keymap."""
        screen = self.screen
        if not isinstance(screen, MainScreen):
            return  # modals show their own keys
        from console.ui.modals.help import HelpScreen  # at first `?`, not at start

        self.push_screen(HelpScreen(screen.help_sections(self.keymap)))

    def action_command_palette(self) -> None:
        if self.use_command_palette and not CommandPalette.is_open(cast(App[object], self)):
            self.push_screen(AsciiCommandPalette(id="--command-palette"))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Every action of the main screen, then Textual's own (theme, quit...)."""
        if isinstance(screen, MainScreen):
            for title, help_text, action, enabled in screen.palette_commands():
                callback: Callable[[], Any] = (
                    partial(screen.run_action, action) if enabled
                    else partial(self._unavailable, help_text))
                # The palette reads both as markup: "[policy]" vanished from a title, and
                # a reason quotes stored data (a graph's name).
                yield SystemCommand(escape_markup(title), escape_markup(help_text), callback)
            yield SystemCommand("Help: all keys", "key ?", self.action_help)
        yield from super().get_system_commands(screen)

    def _handle_exception(self, error: Exception) -> None:
        """Textual's last resort, minus its Rich traceback with local variables: one
        redacted sentence on exit, the redacted details in a log file it names."""
        cause = error.error if isinstance(error, WorkerFailed) else error
        if self.crash is None:
            self.crash = report_crash(cause, self.redactor)
        self._return_code = 1
        if self._exception is None:  # as Textual does: run_test re-raises it for tests
            self._exception = error
            self._exception_event.set()
        self.panic()  # exit, with nothing of Textual's to print

    def _print_error_renderables(self) -> None:
        """After the terminal is restored: the crash sentence as plain text, unwrapped
        and uncropped (the log path must survive copy and paste)."""
        if self.crash is None:
            super()._print_error_renderables()
            return
        self._exit_renderables.clear()
        print(self.crash.sentence, file=sys.stderr)

    def _unavailable(self, why: str) -> None:
        self.notify(why, severity="warning", markup=False)

    async def action_quit(self) -> None:
        """Quit, unless a decision is being applied: leaving then would cut it off."""
        screen = self.screen_stack[0] if self.screen_stack else None
        if isinstance(screen, MainScreen) and screen.busy:
            self.notify(f"Not quitting while {screen.busy}: it finishes in a moment.",
                        severity="warning", markup=False)
            return
        self.exit()


# The one factory: the CLI and the tests build the console through it.
make_app = ConsoleApp


async def run_console(store: CheckpointStore, settings: Settings,
                      first_page: Sequence[PendingThread] | None = None) -> int:
    """Run the console until the reviewer quits, and return its exit status; the caller
    opens and closes `store`. Its first frame shows `first_page`, read here if not given
    (`console.first_page`).

    Mouse reporting follows `settings.mouse`: off, a terminal over ssh sends nothing on
    every mouse move (textual-notes.md measured 74 KB for 10 moves with it on).
    """
    if first_page is None:
        first_page = await read_first_page(store, FIRST_PAGE)
    app = make_app(store, settings, first_page=first_page)
    await app.run_async(mouse=settings.mouse)
    return int(app.return_code or 0)
