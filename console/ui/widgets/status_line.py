"""The status line: counts, what is running, freshness, who is reviewing, and where.

Everything that changes state without a dialog shows here in words (NO_COLOR terminals
see no colours): BUSY while a decision runs, STALE while the database is unreachable.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual.widgets import Static

from console.core.redact import Redactor
from console.ui.cell_text import one_line

SEPARATOR = " | "


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """Everything the status line shows; replaced as a whole, rendered in one place."""

    database: str
    reviewer: str
    total: int | None = None  # None until the first load
    shown: int | None = None
    refreshed_at: datetime | None = None
    # "loading", "first page" (shown while the rest is read), "ok", "error" (never
    # loaded) or "stale"
    state: str = "loading"
    marked: int = 0
    busy: str | None = None  # what a decision worker is doing
    live: str = "off"  # "live", "polling 1s", "reconnecting", "off"
    last: str | None = None  # the outcome of the last decision, in a few words


class StatusLine(Static):
    """One line at the bottom of the main screen."""

    def __init__(self, info: StatusInfo, *, redactor: Redactor | None = None,
                 id: str | None = None) -> None:
        """`redactor` hides credentials in the free-text parts (a thread id can hold one)."""
        super().__init__(id=id)
        self.info = info
        self._redactor = redactor if redactor is not None else Redactor()

    def on_mount(self) -> None:
        self.update(self._render_info())

    def set(self, **changes: Any) -> None:
        """Change some fields and repaint (a no-op if nothing changed)."""
        info = replace(self.info, **changes)
        if info != self.info:
            self.info = info
            self.update(self._render_info())

    @property
    def plain(self) -> str:
        return self._render_info().plain

    def _words(self, text: str) -> str:
        return one_line(self._redactor.redact_text(text))

    def _render_info(self) -> Text:
        info = self.info
        out = Text(no_wrap=True, overflow="crop")
        if info.busy:
            out.append(f"BUSY {self._words(info.busy)}", style="bold reverse")
            out.append(SEPARATOR)
        if info.total is None:
            count = "not loaded" if info.state == "error" else "loading..."
        elif info.state == "first page":
            count = f"first {info.total} pending, loading the rest..."
        elif info.shown is not None and info.shown != info.total:
            count = f"{info.shown} of {info.total} shown"
        else:
            count = f"{info.total} pending"
        parts = [count]
        if info.marked:
            parts.append(f"{info.marked} marked")
        if info.state == "error":
            parts.append("LOAD FAILED")
        elif info.state == "stale":
            # never refreshed: only the first page, read as the console started
            refreshed = _hms(info.refreshed_at) if info.refreshed_at else "start"
            parts.append(f"STALE since {refreshed}")
        # The last outcome before the refresh time: at 80 columns it must be read whole
        # (`last: approve applied:` lost its thread id), the clock can be cut.
        if info.last:
            parts.append(f"last: {self._words(info.last)}")
        if info.state not in ("error", "stale") and info.refreshed_at is not None:
            parts.append(f"refreshed {_hms(info.refreshed_at)} UTC")
        if info.live != "off":
            parts.append(info.live)
        # The database goes last: on a narrow terminal a long path is what gets cut.
        parts += [f"reviewer {one_line(info.reviewer)}", one_line(info.database)]
        out.append(SEPARATOR.join(parts))
        return out


def _hms(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%S")
