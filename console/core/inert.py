"""Making text from state and payloads inert for a terminal.

Escape sequences (CSI, OSC incl. hyperlinks and clipboard writes), C0/C1 controls,
bidi overrides and zero-width characters are shown as visible `\\xNN`-style marks, so
data can never move the cursor, recolour the screen or hide text.
"""

from __future__ import annotations

import re

MAX_TEXT = 4_000

_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL/ST
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b[@-Z\\-_]"  # two-byte escapes
)
_INVISIBLE = re.compile(
    # lone surrogates: bytes of text that was not UTF-8, kept by a lenient decode
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"
    "\ud800-\udfff]"
)


def inert(text: str, *, limit: int = MAX_TEXT, keep_newlines: bool = False) -> str:
    """`text` safe to print to a terminal, truncated with a marker past `limit`."""
    if len(text) > limit:
        text = text[:limit] + f"…(+{len(text) - limit} chars)"
    text = _ESCAPES.sub(lambda m: _visible(m.group(0)), text)
    text = _INVISIBLE.sub(lambda m: _visible(m.group(0)), text)
    if not keep_newlines:
        text = text.replace("\n", "⏎").replace("\t", " ")
    else:
        text = text.replace("\t", "    ")
    return text


def _visible(chars: str) -> str:
    return "".join(
        f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}" for c in chars
    )


def fit(text: str, width: int) -> str:
    """Inert text cut to a column `width` with an ellipsis, for tables."""
    flat = inert(text, limit=max(width * 4, 64))
    return flat if len(flat) <= width else flat[: max(0, width - 1)] + "…"
