"""A banner over the queue while the database cannot be reached; hidden otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual.widgets import Static

from console.ui.cell_text import one_line


class Banner(Static):
    """`DATABASE UNREACHABLE since ...: why. Retrying in 4s (ctrl+r: now).` in one place."""

    def on_mount(self) -> None:
        self.display = False

    def show_outage(self, since: datetime, message: str, retry_in: float | None,
                    *, have_queue: bool) -> None:
        text = Text()
        text.append("DATABASE UNREACHABLE", style="bold reverse")
        text.append(f" since {since.astimezone(UTC).strftime('%H:%M:%S')} UTC: ")
        text.append(one_line(message))
        when = f"in {retry_in:g}s" if retry_in is not None else "automatically"
        text.append(f" Retrying {when} (ctrl+r: now).")
        if have_queue:
            text.append(" The queue shown is the last one loaded (STALE); drafts are kept.")
        self.update(text)
        self.display = True

    notice: Text | None = None  # a lasting condition (no ledger rights), under any outage

    def show_notice(self, title: str, message: str) -> None:
        """A condition that lasts the session; shown whenever no outage is."""
        text = Text()
        text.append(title, style="bold reverse")
        text.append(f" {one_line(message)}")
        self.notice = text
        self.update(text)
        self.display = True

    def clear(self) -> None:
        """The outage is over: back to the lasting notice, if any, else hidden."""
        if self.notice is not None:
            self.update(self.notice)
            self.display = True
            return
        self.display = False
        self.update("")

    @property
    def plain(self) -> str:
        rendered = self.render()
        return rendered.plain if isinstance(rendered, Text) else str(rendered)
