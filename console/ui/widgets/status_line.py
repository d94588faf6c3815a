"""The status line: where the data comes from, who is reviewing, and how fresh it is."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual.widgets import Static

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
    state: str = "loading"  # "loading", "ok" or "error"


class StatusLine(Static):
    """One line at the bottom of the main screen."""

    def __init__(self, info: StatusInfo, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.info = info

    def on_mount(self) -> None:
        self.update(self._render_info())

    def set(self, **changes: Any) -> None:
        """Change some fields and repaint (a no-op if nothing changed)."""
        info = replace(self.info, **changes)
        if info != self.info:
            self.info = info
            self.update(self._render_info())

    def _render_info(self) -> Text:
        info = self.info
        if info.total is None:
            count = "not loaded" if info.state == "error" else "loading..."
        elif info.shown is not None and info.shown != info.total:
            count = f"{info.shown} of {info.total} shown"
        else:
            count = f"{info.total} pending"
        parts = [count]
        if info.state == "error":
            parts.append("LOAD FAILED")
        elif info.refreshed_at is not None:
            refreshed = info.refreshed_at.astimezone(UTC).strftime("%H:%M:%S")
            parts.append(f"refreshed {refreshed} UTC")
        # The database goes last: on a narrow terminal a long path is what gets cut.
        parts += [f"reviewer {one_line(info.reviewer)}", one_line(info.database)]
        return Text(SEPARATOR.join(parts), no_wrap=True, overflow="crop")
