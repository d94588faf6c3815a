"""The Postgres connection pool, tuned for riding out an outage.

psycopg's pool replaces a lost connection with attempts 1, 2, 4, 8 ... seconds apart
(up to `reconnect_timeout`), so after a ten-second outage its next attempt could come
16 s after the server was back, and a caller waiting for a connection meanwhile gave up
only after 30 s. Here attempts are at most `RECONNECT_MAX_DELAY` apart, so a console is
current again within about a second of the server accepting connections, and a caller
waits at most `POOL_TIMEOUT_SECONDS` before it is told, in one sentence, that the
database is not answering. An attempt against a stopped server is one refused
connection a second: no load worth backing off further for.
"""

from __future__ import annotations

import asyncio
from typing import Any

from psycopg_pool import AsyncConnectionPool
from psycopg_pool.base import AttemptWithBackoff

RECONNECT_MAX_DELAY = 1.0
# Long enough for a busy pool to hand a connection on (the queue's reads take two, for
# well under a second each), short enough that an outage is reported promptly.
POOL_TIMEOUT_SECONDS = 10.0
# While the last connection attempt failed: one more attempt (a second apart) and a bit.
DOWN_TIMEOUT_SECONDS = 2.0


class _CappedAttempt(AttemptWithBackoff):
    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, RECONNECT_MAX_DELAY)


class ConsolePool(AsyncConnectionPool[Any]):
    """`AsyncConnectionPool` whose reconnect attempts are at most a second apart."""

    async def _add_connection(
        self, attempt: AttemptWithBackoff | None, growing: bool = False
    ) -> None:
        if attempt is None:
            attempt = _CappedAttempt(timeout=self.reconnect_timeout)
        await super()._add_connection(attempt, growing=growing)

    _checking: asyncio.Task[None] | None = None
    _down = False  # the last attempt to connect failed: the server is not answering

    async def _connect(self, timeout: float | None = None) -> Any:
        try:
            conn = await super()._connect(timeout)
        except Exception:
            self._down = True
            raise
        self._down = False
        return conn

    async def getconn(self, timeout: float | None = None) -> Any:
        """A connection; while the server is known not to answer, wait only as long as
        one more reconnect attempt takes, so a caller is told in seconds, not after the
        full timeout for each statement it tries (a resume tries several)."""
        if self._down:
            timeout = min(timeout or self.timeout, DOWN_TIMEOUT_SECONDS)
        return await super().getconn(timeout)

    async def putconn(self, conn: Any) -> None:
        """Take a connection back; if it broke, test the idle ones too.

        A server that restarted broke every connection at once, but the pool learns it
        one failed query at a time: each idle connection would fail one more load after
        the server is back. Testing them all when the first one breaks (one empty query
        each, only then) leaves only fresh connections for the next load."""
        broken = bool(conn.broken)
        await super().putconn(conn)
        if broken and self._checking is None and not self.closed:
            self._checking = asyncio.create_task(self._check_idle())

    async def _check_idle(self) -> None:
        try:
            await self.check()
        except Exception:  # best effort: the next broken connection tries again
            pass
        finally:
            self._checking = None
