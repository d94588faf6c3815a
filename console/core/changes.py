"""Live refresh: which threads changed since the console last looked.

`open_change_feed(store)` returns a `ChangeFeed`; the UI loops on `await feed.wait(t)`
and re-reads the threads it names (`store.pending_thread(id)`), or everything when it
says None. Three ways to notice another process's commits, chosen at open:

- **notify** (Postgres after `hitl-console setup --notify`): a dedicated autocommit
  connection does `LISTEN hitl_console_changes`; the setup triggers send the thread id
  on root checkpoint inserts and root writes (an `interrupt()`, a re-ask upserting its
  interrupt row, an answer by id). Latency is the commit itself (< 1 ms on the server).
  If that connection drops, it is reopened with backoff and the next `wait` says None
  (reload everything: notifications sent while it was down are lost).
- **polling** (Postgres without the trigger): every `poll_interval` seconds, root
  checkpoints with an id above a watermark (checkpoint ids are uuid6: they sort by time),
  plus the write count of each recently seen head checkpoint (an `interrupt()` lands as
  a write on the head *after* the checkpoint, often seconds later). Without an index
  leading on `checkpoints.checkpoint_id` the watermark query is a sequential scan
  (~100-200 ms at 100k threads; benchmarks/README.md); with one, under a millisecond.
  `ChangeFeed.indexed` says which, and the interval stretches so a slow poll never
  keeps the database more than ~20% busy.
- **polling** (SQLite): `PRAGMA data_version` on a read-only connection of the feed's
  own; only when another connection committed does it run the same watermark queries.
  The feed's connection is not the store's, so the store's own writes are reported too.

What the polling feed can miss (the trigger covers the first two): a write on a head
checkpoint older than `write_window` seconds when it lands (a node that worked longer
than that before calling `interrupt()`, or a parallel interrupt answered by id long
after the pause: the head does not move then), and checkpoints whose id is more than
`MARGIN_SECONDS` older than the newest one seen when they commit (writer clocks that
far apart, or a commit delayed that long). The caller reloads everything on its own
actions and on ctrl+r, which covers them.

Open the feed *before* the first full load: whatever commits during that load is then
reported by the first `wait`. A feed has one consumer; `wait` never raises for database
trouble (see `connected` and `problem`), only when the feed is closed.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import aiosqlite

from console.core.errors import DatabaseUnavailable, is_driver_error
from console.core.store.pg_schema import NOTIFY_CHANNEL

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import AsyncConnectionPool

    from console.core.store.base import CheckpointStore

log = logging.getLogger(__name__)

FeedMode = Literal["notify", "polling"]

NOTIFY_TRIGGERS = ("hitl_notify_checkpoint", "hitl_notify_interrupt")
# More distinct threads than this in one batch: reloading everything is cheaper.
MAX_BATCH = 2_000
# Heads whose writes are watched: those seen within the last WRITE_WINDOW seconds.
WRITE_WINDOW = 600.0
MAX_WATCHED_HEADS = 20_000
# Checkpoints up to this much older than the newest seen are still looked for: another
# writer may have made its id earlier and committed later, or run on a clock behind.
MARGIN_SECONDS = 5.0
# A poll may keep the database busy at most 1/SLOW_POLL_FACTOR of the time.
SLOW_POLL_FACTOR = 5.0
BACKOFF_FIRST = 0.5
# Reconnect attempts at most a second apart: a stopped server refuses each at once, so
# nothing is gained by waiting longer, and the console is current again within about a
# second of the server coming back (issue 15: it took 20-53 s with a 30 s cap).
BACKOFF_MAX = 1.0
CONNECT_TIMEOUT = 5
APPLICATION_NAME = "hitl-console live"

# --- uuid6 checkpoint ids ----------------------------------------------------------------

_UUID_EPOCH = 0x01B21DD213814000  # 100 ns ticks from 1582-10-15 to 1970-01-01


def checkpoint_time(checkpoint_id: str) -> float | None:
    """Unix time encoded in a uuid6 checkpoint id (None for anything else)."""
    try:
        value = uuid.UUID(checkpoint_id)
    except (ValueError, TypeError, AttributeError):
        return None
    if value.version != 6:
        return None
    ticks = ((value.int >> 80) << 12) | ((value.int >> 64) & 0x0FFF)
    return (ticks - _UUID_EPOCH) / 1e7


def checkpoint_id_floor(unix_time: float) -> str:
    """The smallest uuid6 checkpoint id of that instant: every id made at or after it
    compares greater (as text, the way the savers order them)."""
    ticks = max(0, int(unix_time * 1e7) + _UUID_EPOCH)
    value = ((ticks >> 12) & 0xFFFF_FFFF_FFFF) << 80
    value |= (ticks & 0x0FFF) << 64
    value |= 6 << 76  # version
    value |= 0x8000 << 48  # RFC 4122 variant, clock_seq 0, node 0
    return str(uuid.UUID(int=value))


# --- the feed ------------------------------------------------------------------------------


class ChangeFeed(abc.ABC):
    """Thread ids changed by commits since the last `wait`, gathered in the background."""

    mode: FeedMode

    def __init__(self, poll_interval: float) -> None:
        self.poll_interval = poll_interval
        self.connected = True
        self.problem: str | None = None  # the last connection error, while not connected
        self.reconnects = 0
        self.detail = ""  # one line for a status bar or --debug output
        self._changed: set[str] = set()
        self._reload = False
        self._event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def indexed(self) -> bool | None:
        """Polling on Postgres: whether an index makes the watermark query cheap."""
        return None

    async def wait(self, timeout: float) -> set[str] | None:
        """Thread ids changed since the last call: at once if some are known, else as
        soon as one is, at the latest after `timeout` seconds (then an empty set).

        None means "cannot tell which": reload everything (after the notification
        connection was lost and reopened, or when more than `MAX_BATCH` threads changed
        at once). Raises RuntimeError once the feed is closed.
        """
        if self._closed:
            raise RuntimeError("the change feed is closed")
        if not (self._changed or self._reload) and timeout > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._event.wait()
        self._event.clear()
        if self._reload:
            self._reload = False
            self._changed = set()
            return None
        changed, self._changed = self._changed, set()
        return changed

    async def close(self) -> None:
        """Stop watching and release the feed's own connection (never the store's)."""
        if self._closed:
            return
        self._closed = True
        self._event.set()  # a `wait` in progress returns now
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._release()

    async def __aenter__(self) -> ChangeFeed:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- for the implementations ---------------------------------------------------------

    def _start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="change feed")

    @abc.abstractmethod
    async def _run(self) -> None: ...

    async def _release(self) -> None:
        return None

    def _report(self, thread_ids: Iterable[str]) -> None:
        if self._reload:
            return
        self._changed.update(thread_ids)
        if len(self._changed) > MAX_BATCH:
            self._report_reload()
        elif self._changed:
            self._event.set()

    def _report_reload(self) -> None:
        self._reload = True
        self._changed = set()
        self._event.set()

    def _lost(self, exc: BaseException) -> None:
        self.connected = False
        self.problem = _first_line(exc)

    def _back(self) -> None:
        self.connected = True
        self.problem = None


# --- Postgres: LISTEN / NOTIFY -------------------------------------------------------------


async def _listen(conninfo: str, channel: str = NOTIFY_CHANNEL) -> psycopg.AsyncConnection[Any]:
    import psycopg  # a SQLite console never loads the driver

    conn = await psycopg.AsyncConnection.connect(
        conninfo,
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT,
        application_name=APPLICATION_NAME,
        # A peer that vanishes without closing the socket is noticed within ~1 min.
        keepalives=1,
        keepalives_idle=30,
        keepalives_interval=10,
        keepalives_count=3,
    )
    try:
        await conn.execute(f"LISTEN {channel}")
    except BaseException:
        await conn.close()
        raise
    return conn


class _NotifyFeed(ChangeFeed):
    mode: FeedMode = "notify"

    def __init__(
        self, conninfo: str, conn: psycopg.AsyncConnection[Any], poll_interval: float,
        channel: str = NOTIFY_CHANNEL,
    ) -> None:
        super().__init__(poll_interval)
        self._conninfo = conninfo
        self._conn: psycopg.AsyncConnection[Any] | None = conn
        self._channel = channel
        self.detail = f"LISTEN {channel}"

    @property
    def backend_pid(self) -> int | None:
        """Server pid of the listening connection (None while reconnecting)."""
        return self._conn.info.backend_pid if self._conn is not None else None

    async def _run(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            conn = self._conn
            if conn is None:
                try:
                    conn = await _listen(self._conninfo, self._channel)
                except Exception as exc:  # any failure: keep trying, never die
                    self._lost(exc)
                    await asyncio.sleep(backoff)
                    backoff = min(BACKOFF_MAX, backoff * 2)
                    continue
                self._conn = conn
                self.reconnects += 1
                self._back()
                backoff = BACKOFF_FIRST
                self._report_reload()  # notifications sent meanwhile are gone
            try:
                async for note in conn.notifies():
                    if note.payload:
                        self._report((note.payload,))
                    else:  # not one of ours: say "reload" rather than guess
                        self._report_reload()
            except Exception as exc:
                self._lost(exc)
                log.info("change feed: LISTEN connection lost: %s", self.problem)
            self._conn = None
            with contextlib.suppress(Exception):
                await conn.close()
            await asyncio.sleep(backoff)

    async def _release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None


# --- polling with a watermark (both backends) ----------------------------------------------

Key = tuple[str, str]  # (thread_id, checkpoint_id)


class _PollingFeed(ChangeFeed):
    """Root checkpoints newer than a watermark, plus write counts of recent heads."""

    mode: FeedMode = "polling"

    def __init__(self, poll_interval: float, write_window: float) -> None:
        super().__init__(poll_interval)
        self.write_window = write_window
        self.polls = 0
        self.last_poll_seconds = 0.0
        self._watermark = ""  # the newest checkpoint id seen
        self._seen: set[Key] = set()  # keys at or above the last lower bound
        self._heads: dict[str, tuple[str, int | None]] = {}  # thread -> (head id, writes)

    @property
    def interval(self) -> float:
        """Seconds between polls: `poll_interval`, stretched while polls are slow."""
        return max(self.poll_interval, SLOW_POLL_FACTOR * self.last_poll_seconds)

    # The backend's two queries, and whether anything may have changed at all.
    @abc.abstractmethod
    async def _new_checkpoints(self, lower: str) -> list[Key]: ...

    @abc.abstractmethod
    async def _write_counts(self, keys: Sequence[Key]) -> dict[Key, int]: ...

    async def _maybe_changed(self) -> bool:
        return True

    async def _baseline(self) -> None:
        """Remember what exists now (recent checkpoints and their writes) unreported."""
        await self._maybe_changed()
        now = time.time()
        self._watermark = checkpoint_id_floor(now - self.write_window)
        await self._absorb(await self._new_checkpoints(self._watermark), now)
        # Nothing newer than this instant was seen: later polls start near it, not
        # write_window seconds back.
        self._watermark = max(self._watermark, checkpoint_id_floor(now))

    async def _poll(self) -> set[str]:
        if not await self._maybe_changed():
            return set()
        now = time.time()
        return await self._absorb(await self._new_checkpoints(self._lower(now)), now)

    def _lower(self, now: float) -> str:
        newest = checkpoint_time(self._watermark)
        return checkpoint_id_floor(min(now, newest if newest is not None else now) - MARGIN_SECONDS)

    async def _absorb(self, rows: list[Key], now: float) -> set[str]:
        changed: set[str] = set()
        fresh: set[str] = set()  # new heads: their write counts are recorded unreported
        for key in rows:
            if key in self._seen:
                continue
            self._seen.add(key)
            thread_id, checkpoint_id = key
            changed.add(thread_id)
            self._watermark = max(self._watermark, checkpoint_id)
            head = self._heads.get(thread_id)
            if head is None or checkpoint_id > head[0]:
                self._heads[thread_id] = (checkpoint_id, None)
                fresh.add(thread_id)
        self._forget(now)
        if self._heads:
            keys = [(t, c) for t, (c, _) in self._heads.items()]
            counts = await self._write_counts(keys)
            for thread_id, checkpoint_id in keys:
                count = counts.get((thread_id, checkpoint_id), 0)
                before = self._heads[thread_id][1]
                if before is not None and count != before:
                    changed.add(thread_id)
                self._heads[thread_id] = (checkpoint_id, count)
        return changed

    def _forget(self, now: float) -> None:
        lower = self._lower(now)
        self._seen = {key for key in self._seen if key[1] >= lower}
        oldest = checkpoint_id_floor(now - self.write_window)
        stale = [t for t, (c, _) in self._heads.items() if c < oldest]
        for thread_id in stale:
            del self._heads[thread_id]
        if len(self._heads) > MAX_WATCHED_HEADS:
            keep = sorted(self._heads.items(), key=lambda item: item[1][0])[-MAX_WATCHED_HEADS:]
            self._heads = dict(keep)

    async def _run(self) -> None:
        next_at = time.monotonic() + self.interval
        backoff = self.poll_interval
        while True:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            started = time.monotonic()
            try:
                changed = await self._poll()
            except Exception as exc:  # never die: say so and try again later
                self._lost(exc)
                log.info("change feed: poll failed: %s", self.problem)
                backoff = min(BACKOFF_MAX, max(backoff * 2, BACKOFF_FIRST))
                next_at = time.monotonic() + backoff
                continue
            if not self.connected:
                self._back()
                self.reconnects += 1
            backoff = self.poll_interval
            self.polls += 1
            self.last_poll_seconds = time.monotonic() - started
            self._report(changed)
            next_at = started + self.interval


class _PostgresPollingFeed(_PollingFeed):
    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        poll_interval: float,
        write_window: float,
        indexed: bool,
        note: str = "",
    ) -> None:
        super().__init__(poll_interval, write_window)
        self._pool = pool
        self._indexed = indexed
        cost = "index on checkpoints.checkpoint_id" if indexed else (
            "no index on checkpoints.checkpoint_id: each poll scans the table")
        self.detail = f"polling every {poll_interval:g} s ({cost}){note}"

    @property
    def indexed(self) -> bool | None:
        return self._indexed

    async def _new_checkpoints(self, lower: str) -> list[Key]:
        async with self._pool.connection(timeout=CONNECT_TIMEOUT) as conn:
            cur = conn.cursor(row_factory=_tuple_row())
            await cur.execute(
                "SELECT thread_id, checkpoint_id FROM checkpoints"
                " WHERE checkpoint_ns = '' AND checkpoint_id > %s",
                (lower,),
            )
            return [(str(t), str(c)) for t, c in await cur.fetchall()]

    async def _write_counts(self, keys: Sequence[Key]) -> dict[Key, int]:
        async with self._pool.connection(timeout=CONNECT_TIMEOUT) as conn:
            cur = conn.cursor(row_factory=_tuple_row())
            await cur.execute(
                """SELECT w.thread_id, w.checkpoint_id, count(*)
                FROM unnest(%s::text[], %s::text[]) AS k(thread_id, checkpoint_id)
                JOIN checkpoint_writes w
                  ON w.thread_id = k.thread_id AND w.checkpoint_ns = ''
                 AND w.checkpoint_id = k.checkpoint_id
                GROUP BY 1, 2""",
                ([t for t, _ in keys], [c for _, c in keys]),
            )
            return {(str(t), str(c)): int(n) for t, c, n in await cur.fetchall()}


class _SqlitePollingFeed(_PollingFeed):
    def __init__(
        self, conn: aiosqlite.Connection, poll_interval: float, write_window: float
    ) -> None:
        super().__init__(poll_interval, write_window)
        self._conn = conn
        self._data_version: int | None = None
        self.detail = f"polling every {poll_interval:g} s (PRAGMA data_version)"

    async def _maybe_changed(self) -> bool:
        async with self._conn.execute("PRAGMA data_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else None
        changed = version != self._data_version
        self._data_version = version
        return changed

    async def _new_checkpoints(self, lower: str) -> list[Key]:
        async with self._conn.execute(
            "SELECT thread_id, checkpoint_id FROM checkpoints"
            " WHERE checkpoint_ns = '' AND checkpoint_id > ?",
            (lower,),
        ) as cur:
            return [(str(t), str(c)) for t, c in await cur.fetchall()]

    async def _write_counts(self, keys: Sequence[Key]) -> dict[Key, int]:
        async with self._conn.execute(
            """SELECT w.thread_id, w.checkpoint_id, count(*)
            FROM json_each(?) AS k
            JOIN writes w
              ON w.thread_id = json_extract(k.value, '$[0]') AND w.checkpoint_ns = ''
             AND w.checkpoint_id = json_extract(k.value, '$[1]')
            GROUP BY 1, 2""",
            (json.dumps(list(keys)),),
        ) as cur:
            return {(str(t), str(c)): int(n) for t, c, n in await cur.fetchall()}

    async def _release(self) -> None:
        with contextlib.suppress(Exception):
            await self._conn.close()


# --- opening ---------------------------------------------------------------------------------


async def open_change_feed(
    store: CheckpointStore,
    *,
    poll_interval: float = 1.0,
    write_window: float = WRITE_WINDOW,
) -> ChangeFeed:
    """The best change feed `store`'s database allows; the caller closes it.

    Raises `DatabaseUnavailable` if the database cannot be read now; once open, the
    feed rides out outages on its own (`connected`, `problem`).
    """
    if poll_interval <= 0:
        raise ValueError(f"poll_interval must be > 0, got {poll_interval}")
    store = await store.ready()  # its pool, below
    if store.location.backend == "server":  # an Agent Server: poll its API
        from console.core.server.feed import open_server_feed
        from console.core.server.store import ServerStore

        assert isinstance(store, ServerStore)
        return await open_server_feed(store, poll_interval)
    feed: _PollingFeed
    if store.location.backend == "postgres":
        pool: AsyncConnectionPool[Any] | None = getattr(store, "pool", None)
        if pool is None:
            raise TypeError(f"{type(store).__name__} has no connection pool to poll with")
        try:
            has_notify, indexed = await _inspect_postgres(pool)
        except Exception as exc:
            if not is_driver_error(exc):
                raise
            raise DatabaseUnavailable(
                f"Cannot watch {store.location.display()} for changes: {_first_line(exc)}."
            ) from exc
        note = ""
        if has_notify:
            try:
                conn = await _listen(store.location.target)
            except Exception as exc:  # e.g. a hot standby: LISTEN is not allowed there
                if not is_driver_error(exc):
                    raise
                note = f"; LISTEN failed: {_first_line(exc)}"
            else:
                notify = _NotifyFeed(store.location.target, conn, poll_interval)
                notify._start()
                return notify
        feed = _PostgresPollingFeed(pool, poll_interval, write_window, indexed, note)
    else:
        lite = aiosqlite.connect(store.location.target, timeout=10)
        try:
            await lite
            await lite.execute("PRAGMA query_only = 1")
        except BaseException as exc:
            _stop_sqlite(lite)
            if not isinstance(exc, (sqlite3.Error, OSError)):
                raise
            raise DatabaseUnavailable(
                f"Cannot watch {store.location.display()} for changes: {exc}."
            ) from exc
        feed = _SqlitePollingFeed(lite, poll_interval, write_window)
    try:
        await feed._baseline()
    except BaseException as exc:
        if not (isinstance(exc, sqlite3.Error) or is_driver_error(exc)):
            if isinstance(feed, _SqlitePollingFeed):
                _stop_sqlite(feed._conn)  # cancelled: no await; see `_stop_sqlite`
            raise
        await feed._release()
        raise DatabaseUnavailable(
            f"Cannot watch {store.location.display()} for changes: {_first_line(exc)}."
        ) from exc
    feed._start()
    return feed


async def open_listener(store: CheckpointStore, channel: str) -> ChangeFeed | None:
    """A feed of the payloads NOTIFY sends on `channel` (Postgres; its own connection,
    reopened with backoff, `wait` says None after a reopen), or None where there is no
    LISTEN (SQLite, a hot standby, an unreachable server): the caller polls instead."""
    if store.location.backend != "postgres":
        return None
    try:
        conn = await _listen(store.location.target, channel)
    except Exception as exc:
        if not is_driver_error(exc):
            raise
        log.info("LISTEN %s failed: %s", channel, _first_line(exc))
        return None
    feed = _NotifyFeed(store.location.target, conn, 1.0, channel)
    feed._start()
    return feed


def _stop_sqlite(conn: aiosqlite.Connection) -> None:
    """Close `conn` and end its thread without awaiting (the opening was cancelled, e.g.
    by a quit right after the first frame): aiosqlite's thread is not a daemon, and one
    left running keeps the process from exiting."""
    with contextlib.suppress(Exception):
        conn.stop()


def _tuple_row() -> Any:
    from psycopg.rows import tuple_row

    return tuple_row


async def _inspect_postgres(pool: AsyncConnectionPool[Any]) -> tuple[bool, bool]:
    """(both notify triggers are installed and enabled, an index leads on checkpoint_id),
    for the `checkpoints` table the store's search_path finds."""
    async with pool.connection(timeout=CONNECT_TIMEOUT) as conn:
        cur = conn.cursor(row_factory=_tuple_row())
        await cur.execute(
            """SELECT
                (SELECT count(DISTINCT t.tgname) FROM pg_trigger t
                  WHERE NOT t.tgisinternal AND t.tgenabled <> 'D'
                    AND t.tgname = ANY(%s)
                    AND t.tgrelid IN (to_regclass('checkpoints'),
                                      to_regclass('checkpoint_writes'))),
                EXISTS (SELECT 1 FROM pg_index i
                  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                  WHERE i.indrelid = to_regclass('checkpoints') AND i.indisvalid
                    AND a.attname = 'checkpoint_id')""",
            (list(NOTIFY_TRIGGERS),),
        )
        row = await cur.fetchone()
    assert row is not None
    return int(row[0]) == len(NOTIFY_TRIGGERS), bool(row[1])


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0].rstrip(".") if lines else type(exc).__name__


__all__ = [
    "MAX_BATCH",
    "ChangeFeed",
    "FeedMode",
    "checkpoint_id_floor",
    "checkpoint_time",
    "open_change_feed",
    "open_listener",
]
