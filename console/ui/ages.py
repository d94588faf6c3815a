"""How old a pause is, and how that compares with the review SLA."""

from __future__ import annotations

import enum
from datetime import datetime

from console.core.durations import format_age

# A pause past this share of the SLA is flagged before it breaches, so it can be picked up.
WARN_FRACTION = 0.75


class AgeBand(enum.StrEnum):
    """Where an age stands against the SLA; the queue colours the age column by it."""

    OK = "ok"
    WARN = "warn"
    OVER = "over"


def age_seconds(paused_at: datetime, now: datetime) -> float:
    """Seconds since `paused_at` (never negative: clocks of other hosts may run ahead)."""
    return max(0.0, (now - paused_at).total_seconds())


def age_band(seconds: float, sla_seconds: float) -> AgeBand:
    """OK below 75% of the SLA, WARN up to it, OVER past it; no SLA means always OK."""
    if sla_seconds <= 0:
        return AgeBand.OK
    if seconds >= sla_seconds:
        return AgeBand.OVER
    if seconds >= WARN_FRACTION * sla_seconds:
        return AgeBand.WARN
    return AgeBand.OK


def age_label(seconds: float, band: AgeBand) -> str:
    """`3h`, with a `!` when past the SLA so the breach shows without colour (NO_COLOR)."""
    label = format_age(seconds)
    return f"{label}!" if band is AgeBand.OVER else label
