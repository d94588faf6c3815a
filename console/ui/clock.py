"""The console's notion of "now", injectable so ages and snapshots can be frozen in tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns the current time as an aware UTC datetime."""


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)
