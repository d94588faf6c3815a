"""Making text from state and payloads inert for a terminal, and JSON that stays inert.

What is never written raw (`INERT_RANGES`, checked against `unicodedata` by a unit test):

- every control (category Cc: C0, DEL, C1 such as U+009B CSI and U+009D OSC), except
  tab and newline, which are spelled out (⏎, spaces) unless a caller keeps newlines;
- every format character (Cf): soft hyphen U+00AD, Arabic letter mark U+061C, U+180E,
  zero-width space/joiners U+200B-200F, bidi embeddings, overrides and isolates
  U+202A-202E and U+2066-2069, word joiner and invisible operators U+2060-2064,
  BOM U+FEFF, interlinear annotations U+FFF9-FFFB, tags U+E0000-E007F, and the rest;
- line and paragraph separators U+2028/U+2029 (Zl, Zp) and lone surrogates (Cs: bytes
  of text that was not UTF-8, kept by a lenient decode);
- explicit extras that `unicodedata` files elsewhere but that draw nothing or change how
  a neighbour draws: variation selectors U+FE00-FE0F and U+E0100-E01EF, the combining
  grapheme joiner U+034F, Hangul fillers U+115F, U+1160, U+3164, U+FFA0, Khmer inherent
  vowels U+17B4-17B5, the whole U+2060-206F and U+13430-1343F blocks (formats added by
  later Unicode versions), and the noncharacters U+FDD0-FDEF, U+FFFE-FFFF.

In text they become visible `\\xNN` / `\\uNNNN` / `\\UNNNNNNNN` marks (escape sequences,
CSI, OSC incl. hyperlinks and clipboard writes, are marked whole), so data can never
move the cursor, recolour or retitle the screen, reorder or hide text. In JSON they are
written as `\\uXXXX` escapes: the same string to a JSON reader, nothing raw on a terminal.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_TEXT = 4_000

# (first, last) code points, inclusive. Cc/Cf/Zl/Zp/Cs of Unicode 14 plus the extras
# above; `tests/unit/test_outputs.py` fails if the running Python knows one more.
INERT_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x001F), (0x007F, 0x009F), (0x00AD, 0x00AD), (0x034F, 0x034F),
    (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F),
    (0x0890, 0x0891), (0x08E2, 0x08E2), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x2028, 0x202E), (0x2060, 0x206F),
    (0x3164, 0x3164), (0xD800, 0xDFFF), (0xFDD0, 0xFDEF), (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF9, 0xFFFB), (0xFFFE, 0xFFFF),
    (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE007F), (0xE0100, 0xE01EF),
)
# Tab and newline are controls too, but text keeps their meaning (see `inert`).
_KEPT = "\t\n"


def _char_class(ranges: tuple[tuple[int, int], ...], skip: str) -> str:
    parts = []
    for first, last in ranges:
        for lo, hi in _minus(first, last, {ord(c) for c in skip}):
            parts.append(re.escape(chr(lo)) if lo == hi
                         else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}")
    return "[" + "".join(parts) + "]"


def _minus(first: int, last: int, holes: set[int]) -> list[tuple[int, int]]:
    out, start = [], first
    for cp in range(first, last + 1):
        if cp in holes:
            if start < cp:
                out.append((start, cp - 1))
            start = cp + 1
    if start <= last:
        out.append((start, last))
    return out


_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC ... BEL/ST
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b[@-Z\\-_]"  # two-byte escapes
)
_INVISIBLE = re.compile(_char_class(INERT_RANGES, _KEPT))
_ANY_INERT = re.compile(_char_class(INERT_RANGES, ""))
INERT_CHARS = _ANY_INERT  # the whole set, for callers that drop rather than mark


def is_inert_char(char: str) -> bool:
    """Whether `char` is one the filter never lets through raw (tab and newline count)."""
    return bool(_ANY_INERT.fullmatch(char))


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
        f"\\x{ord(c):02x}" if ord(c) < 0x100
        else f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}"
        for c in chars
    )


_SHOWN = re.compile(r"\\x([0-9a-f]{2})|\\u([0-9a-f]{4})|\\U([0-9a-f]{8})")


def uninert(text: str) -> str:
    """The string `inert` showed as `text`: its visible marks (`\\u202e`) turned back into
    the characters they stand for, so an identifier printed inert can be passed back.
    A string may also hold such text literally: callers try it as given first."""
    def back(match: re.Match[str]) -> str:
        code = int(next(g for g in match.groups() if g), 16)
        return chr(code) if code <= 0x10FFFF else match.group(0)

    return _SHOWN.sub(back, text)


def fit(text: str, width: int) -> str:
    """Inert text cut to a column `width` with an ellipsis, for tables."""
    flat = inert(text, limit=max(width * 4, 64))
    return flat if len(flat) <= width else flat[: max(0, width - 1)] + "…"


def json_escape(text: str) -> str:
    """JSON text with every inert-set character written as a `\\uXXXX` escape.

    Outside strings JSON is ASCII, so each such character sits inside a string, where an
    escape is the same character to any JSON reader (astral ones as surrogate pairs).
    Tab and newline are left: `json.dumps` escapes them in strings, so a raw one is the
    layout of `indent`."""
    return _INVISIBLE.sub(lambda m: _json_code(ord(m.group())), text)


def _json_code(cp: int) -> str:
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    cp -= 0x10000
    return f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"


def inert_json(data: Any, *, indent: int | None = None, default: Any = None) -> str:
    """`json.dumps` (non-ASCII kept readable) with nothing in the inert set left raw."""
    return json_escape(json.dumps(data, indent=indent, ensure_ascii=False, default=default))
