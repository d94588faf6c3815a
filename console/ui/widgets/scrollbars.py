"""Scrollbars drawn with whole cells only.

Textual draws the ends of a scrollbar thumb with eighth-block glyphs (U+2581...) for
sub-cell precision. Those are East Asian "ambiguous" width and missing from some ssh
clients' fonts (textual-notes.md): drawn two cells wide they shift the line. A thumb of
whole reverse-video cells is a little coarser and safe everywhere, NO_COLOR included.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from textual.scrollbar import ScrollBarRender
from textual.widget import Widget


class CellScrollBarRender(ScrollBarRender):
    """A scrollbar thumb made of whole cells (blank glyphs in reverse video)."""

    VERTICAL_BARS: ClassVar[list[str]] = [" "] * 8
    HORIZONTAL_BARS: ClassVar[list[str]] = [" "] * 8


def use_cell_scrollbars(widget: Widget) -> None:
    """Give `widget`'s own scrollbars the whole-cell renderer.

    Per widget, as Textual's docs show it, rather than on the `ScrollBar` class, which
    would change every app in the process. (`renderer` is typed as a ClassVar, hence Any.)
    """
    for scrollbar in (widget.vertical_scrollbar, widget.horizontal_scrollbar):
        cast(Any, scrollbar).renderer = CellScrollBarRender
