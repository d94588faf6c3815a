"""Table cells from data: one line of plain glyphs, of a known width.

The detail pane shows hostile bytes as visible escapes (`console.core.inert`, the same
rule as the CLI). A queue cell cannot: an escape shown as `\\x1b[31m` would eat a narrow
column, so `one_line` removes escape sequences and control characters, folds
whitespace, and replaces glyphs whose width terminals disagree on; `fit` cuts to a
width with an ASCII mark. Neither result is ever parsed as markup: callers wrap it in
`rich.text.Text` or `Segment`, which take text literally.
"""

from __future__ import annotations

import re

from rich.cells import cell_len, get_character_cell_size, set_cell_size

from console.core.inert import INERT_CHARS

# CSI, OSC, DCS/SOS/PM/APC strings and two-byte escapes, in 7-bit and 8-bit forms.
_ESCAPE_SEQUENCE = re.compile(
    r"""
      \x1b\[[0-?]*[ -/]*[@-~]?           # CSI ... final byte
    | \x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?   # OSC ... BEL or ST
    | \x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?        # DCS, SOS, PM, APC ... ST
    | \x1b[ -~]?                         # two-byte escapes (and a lone ESC)
    | \x9b[0-?]*[ -/]*[@-~]?             # 8-bit CSI
    | [\x90\x98\x9d\x9e\x9f][^\x07\x9c]*(?:\x07|\x9c)?  # 8-bit string controls
    """,
    re.VERBOSE,
)
# C0/C1 controls, DEL, zero-width and bidirectional overrides (which can reorder what a
# reviewer reads, e.g. make "evil.exe" look like "exe.live"): the core's whole set
# (`console.core.inert`: every Cc, Cf, Zl, Zp, tag, variation selector...).
_INVISIBLE = INERT_CHARS
_WHITESPACE = re.compile(r"[\t\n\r\f\v\u2028\u2029]+| {2,}")


def _is_unsafe_glyph(char: str) -> bool:
    """Glyphs whose cell width terminals disagree on (emoji, joiners, variation selectors).

    A width mismatch shifts every later column of a table row, so queue cells replace
    them; astral-plane code points are almost all emoji or rare pictographs.
    """
    code = ord(char)
    return code >= 0x10000 or 0xFE00 <= code <= 0xFE0F or code == 0x200D


def one_line(text: str) -> str:
    """`text` as one line of plain, fixed-width-safe glyphs (for table cells)."""
    if text.isascii() and text.isprintable():
        return text  # the common case: nothing to clean
    cleaned = _ESCAPE_SEQUENCE.sub("", text)
    cleaned = _WHITESPACE.sub(" ", cleaned)
    cleaned = _INVISIBLE.sub("", cleaned)
    return "".join("?" if _is_unsafe_glyph(c) else c for c in cleaned)


def fit(text: str, width: int, *, middle: bool = False) -> str:
    """Cut `text` to at most `width` cells, marking the cut with `~`.

    `~` rather than an ellipsis: U+2026 is ambiguous-width and some ssh clients draw it
    two cells wide, which would shift the rest of the row. `middle` keeps both ends,
    which is what tells ids such as `agent-run-0001`/`agent-run-0002` apart.
    """
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    if width == 1:
        return "~"
    if middle and width >= 5:
        head = (width - 1) // 2
        return _take(text, head) + "~" + _take_end(text, width - 1 - head)
    return _take(text, width - 1) + "~"


def _take(text: str, width: int) -> str:
    # set_cell_size pads with a space where a wide glyph would straddle the edge.
    return set_cell_size(text, width)


def _take_end(text: str, width: int) -> str:
    out: list[str] = []
    used = 0
    for char in reversed(text):
        size = get_character_cell_size(char)
        if used + size > width:
            break
        out.append(char)
        used += size
    return " " * (width - used) + "".join(reversed(out))
