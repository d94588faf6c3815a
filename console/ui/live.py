"""Live refresh and outages, the parts without widgets: the feed, errors, backoff.

The change feed is the core's (`console.core.changes`); the UI only needs `wait`,
`close`, `mode`, `connected` and `problem`, so tests can hand in a fake one through
`FeedFactory`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from console.core.changes import open_change_feed
from console.core.errors import DatabaseUnavailable, is_driver_error
from console.core.store.base import CheckpointStore

# Retries of a failed load: soon, then every second while the queue is stale (a refused
# connection costs the server nothing; recovery must follow the server within ~1 s).
RETRY_DELAYS: tuple[float, ...] = (0.5, 1.0)
# More changed threads than this in one batch: one full reload beats many small reads.
INCREMENTAL_LIMIT = 50


class Feed(Protocol):
    """What the UI uses of `console.core.changes.ChangeFeed`."""

    @property
    def mode(self) -> str: ...

    @property
    def connected(self) -> bool: ...

    @property
    def problem(self) -> str | None: ...

    async def wait(self, timeout: float) -> set[str] | None: ...

    async def close(self) -> None: ...


FeedFactory = Callable[[CheckpointStore, float], Awaitable[Feed]]


async def open_feed(store: CheckpointStore, poll_interval: float) -> Feed:
    """The core's best feed for this database (LISTEN/NOTIFY, else polling)."""
    return await open_change_feed(store, poll_interval=poll_interval)


def is_outage(error: BaseException) -> bool:
    """Whether an error means "the database cannot be reached now" (retry later), as
    opposed to a bug or a refusal: those are shown once and not retried."""
    if isinstance(error, DatabaseUnavailable | ConnectionError | TimeoutError):
        return True
    if is_driver_error(error, "pool.PoolTimeout", "OperationalError", "InterfaceError"):
        return True
    return isinstance(error, sqlite3.OperationalError) and any(
        words in str(error) for words in ("unable to open", "disk I/O", "locked", "closed"))


def retry_delay(failures: int, delays: Sequence[float] = RETRY_DELAYS) -> float:
    """Seconds before retry number `failures` (1-based): doubling, then capped."""
    if not delays:
        return 1.0
    return delays[min(max(failures, 1), len(delays)) - 1]


def feed_label(feed: Feed | None, poll_interval: float) -> str:
    """`live` (notifications), `polling 1s`, `reconnecting` or `off`, for the status line."""
    if feed is None:
        return "off" if poll_interval <= 0 else "connecting"
    if not feed.connected:
        return "reconnecting"
    if feed.mode == "notify":
        return "live"
    seconds = f"{poll_interval:g}s"
    return f"polling {seconds}"
