"""Durations such as `90s`, `15m`, `72h`, `7d` (product convention)."""

from __future__ import annotations

import re

from console.core.errors import UsageError

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> float:
    """Seconds in a duration like `90s`, `15m`, `1h30m` or `7d`; a bare number is seconds."""
    cleaned = text.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", cleaned):
        return float(cleaned)
    if not cleaned or not re.fullmatch(r"(?:\d+(?:\.\d+)?[smhdw])+", cleaned):
        raise UsageError(f"{text!r} is not a duration: use forms like 90s, 15m, 72h or 7d.")
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(cleaned))


def format_age(seconds: float) -> str:
    """A compact age for tables: 45s, 12m, 3h, 2d."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
