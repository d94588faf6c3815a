"""Reading pending pauses from a LangGraph SQLite checkpointer.

SQLite keeps the whole checkpoint as one msgpack blob, so SQL alone cannot see which
nodes are triggered. Two plans, same result:

- without `hitl-console setup`: heads are found in SQL (the primary key answers
  `max(checkpoint_id)` per thread), and only heads this process has not decoded before
  are read and decoded; a head checkpoint never changes, so the decoded facts are cached
  by its id. The first full read (nothing cached) reads every head row in the same
  statement that finds them: its cost grows with every thread, finished ones included.
- after setup: `hitl_sqlite_heads` (`sqlite_schema`), kept by triggers, names each
  thread's head and whether it has triggered nodes once anyone decoded it, so a read
  looks only at open and undecoded heads, and records the states it decoded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import aiosqlite

from console.core.dburl import DatabaseLocation
from console.core.errors import DatabaseUnavailable, NotACheckpointDatabase, unreadable_reason
from console.core.graphs import GraphRegistry
from console.core.inside import (
    Level,
    checkpoints_to_read,
    level_tokens,
    levels_by_thread,
    levels_from,
    newest_per_namespace,
)
from console.core.models import DEFAULT_GRACE_SECONDS, PendingFilter
from console.core.pauses import (
    START_CHANNEL,
    TRIGGER_PREFIX,
    light_unpackb,
    tokens_of_checkpoint,
)
from console.core.store.base import (
    CheckpointStore,
    Cursor,
    StoredCheckpoint,
    gc_paused,
    stored_checkpoint,
)
from console.core.store.heads import (
    CONTROL_CHANNELS,
    ERROR_CHANNEL,
    INTERRUPT_CHANNEL,
    ITEM_SEP,
    TRIM_AFTER_ROWS,
    HeadState,
    Shared,
    parse_ts,
    release_freed_memory,
)
from console.core.store.sqlite_schema import (
    FIRST_PAGE,
    HEAD_TRIGGERS,
    HEADS_INDEX,
    HEADS_TABLE,
    OPEN_HEADS,
    PAGE_AFTER,
    PAGE_INDEX,
    RECORD_STATE,
    UNDECODED_HEADS,
    setup_script,
)

if TYPE_CHECKING:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    from console.core.serde import SafeSerializer

log = logging.getLogger(__name__)

CACHE_LIMIT = 500_000
_BATCH = 5_000
_SCAN_BATCH = 1_000
_GRAPH_ID_MEMO = 4096
BUSY_TIMEOUT_MS = 10_000
# Recording decoded states is a courtesy to the next reader: it waits at most this long
# for the application's write lock, then leaves the states for a later read.
RECORD_BUSY_MS = 50
_RECORD_BATCH = 1_000  # rows per write transaction: the write lock is held that long

_HEAD_IDS = """
    SELECT thread_id, max(checkpoint_id) AS checkpoint_id
    FROM checkpoints WHERE checkpoint_ns = '' {thread_clause}
    GROUP BY thread_id
"""

# Every root head's checkpoint row, in one statement: what a first read needs. The
# GROUP BY walks the primary key index once; with a single max() SQLite takes the bare
# `rowid` from the row holding the max (documented), so each head row is then read by
# rowid, in rowid order (`IN` builds a sorted set), instead of by a second key lookup.
_HEADS_WITH_ROWS = """
    SELECT thread_id, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata
    FROM checkpoints
    WHERE rowid IN (
        SELECT rowid FROM (
            SELECT max(checkpoint_id), rowid FROM checkpoints
            WHERE checkpoint_ns = '' GROUP BY thread_id
        )
    )
"""

_CHECKPOINTS_BY_KEY = """
    SELECT c.thread_id, c.checkpoint_id, c.parent_checkpoint_id, c.type, c.checkpoint, c.metadata
    FROM json_each(?) AS k
    JOIN checkpoints c
      ON c.thread_id = json_extract(k.value, '$[0]') AND c.checkpoint_ns = ''
     AND c.checkpoint_id = json_extract(k.value, '$[1]')
"""

# A key that is not UTF-8 cannot travel in JSON: matched on its stored bytes instead.
_CHECKPOINT_BY_BYTES = """
    SELECT thread_id, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata
    FROM checkpoints
    WHERE CAST(thread_id AS BLOB) = ? AND checkpoint_ns = '' AND CAST(checkpoint_id AS BLOB) = ?
"""

_WRITES_BY_KEY = f"""
    SELECT w.thread_id, w.task_id, w.task_path, w.channel, w.type,
           CASE WHEN w.channel = '{INTERRUPT_CHANNEL}' THEN w.value END AS value
    FROM json_each(?) AS k
    JOIN writes w
      ON w.thread_id = json_extract(k.value, '$[0]') AND w.checkpoint_ns = ''
     AND w.checkpoint_id = json_extract(k.value, '$[1]')
"""


# Every subgraph checkpoint saved after a root head (by the head's own tasks), for
# `nested_levels`: ids only; the newest of each namespace and its parent are read apart.
_NESTED_AFTER_HEAD = """
    SELECT c.thread_id, c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id,
           json_extract(CAST(c.metadata AS TEXT), '$.step')
    FROM json_each(?) AS k
    JOIN checkpoints c
      ON c.thread_id = json_extract(k.value, '$[0]') AND c.checkpoint_ns > ''
     AND c.checkpoint_id > json_extract(k.value, '$[1]')
"""

_NESTED_CHECKPOINTS = """
    SELECT c.thread_id, c.checkpoint_ns, c.checkpoint_id, c.type, c.checkpoint
    FROM json_each(?) AS k
    JOIN checkpoints c
      ON c.thread_id = json_extract(k.value, '$[0]')
     AND c.checkpoint_ns = json_extract(k.value, '$[1]')
     AND c.checkpoint_id = json_extract(k.value, '$[2]')
"""

_NESTED_WRITES = """
    SELECT w.thread_id, w.checkpoint_ns, w.checkpoint_id, w.task_path, w.channel
    FROM json_each(?) AS k
    JOIN writes w
      ON w.thread_id = json_extract(k.value, '$[0]')
     AND w.checkpoint_ns = json_extract(k.value, '$[1]')
     AND w.checkpoint_id = json_extract(k.value, '$[2]')
"""


class _Decoded:
    """The facts of one checkpoint that classification needs (immutable once written)."""

    __slots__ = ("error", "graph_id", "metadata", "next_nodes", "parent_checkpoint_id", "ts")

    def __init__(
        self,
        ts: datetime,
        next_nodes: tuple[str, ...],
        parent_checkpoint_id: str | None,
        metadata: bytes | str,
        graph_id: str | None,
        error: str | None = None,
    ) -> None:
        self.ts = ts
        self.next_nodes = next_nodes
        self.parent_checkpoint_id = parent_checkpoint_id
        self.metadata = metadata
        self.graph_id = graph_id
        self.error = error


# An unreadable head's `next_nodes`: open (listed) but never recorded in the head table,
# so each reader decodes it again and says why.
_UNREADABLE = ("~unreadable",)


# Every head without a triggered node shares this (only `next_nodes` is ever read).
_NO_TRIGGER = _Decoded(datetime.fromtimestamp(0, UTC), (), None, b"", None)


def _bad_id(thread_id: str) -> str | None:
    """Why a thread id read from the file cannot be used (not UTF-8), or None."""
    try:
        thread_id.encode()
    except UnicodeEncodeError:
        return "its thread id is not valid UTF-8"
    return None


def _not_utf8(key: tuple[str, str]) -> bool:
    """Whether a (thread id, checkpoint id) read from the file holds bytes that are not
    UTF-8 (kept as surrogates by `_lenient_text`)."""
    return any(_bad_id(part) is not None for part in key)


def _check_parts(checkpoint: Any) -> None:
    """Raise unless a decoded checkpoint has the parts the pause rule reads, as LangGraph
    writes them: a damaged one (a renamed key, a shifted map) would otherwise read as
    "no task" and its thread would drop out of the queue instead of being unreadable."""
    values = versions = seen = None
    if isinstance(checkpoint, dict):
        values, versions, seen = (checkpoint.get(key) for key in (
            "channel_values", "channel_versions", "versions_seen"))
    if not (isinstance(values, dict) and isinstance(versions, dict) and isinstance(seen, dict)):
        raise ValueError("not a checkpoint (channel_values, channel_versions or "
                         "versions_seen missing)")
    for channel in values:
        if channel not in versions and isinstance(channel, str) and (
                channel.startswith(TRIGGER_PREFIX) or channel == START_CHANNEL):
            raise ValueError(f"inconsistent checkpoint ({channel} has a value, no version)")


def _lenient_text(data: bytes) -> str:
    """SQLite text as str: invalid UTF-8 (written by any other client) is kept as
    surrogate escapes instead of failing the whole read; `_bad_id` reports such ids."""
    return data.decode("utf-8", "surrogateescape")


def _maybe_triggered(blob: bytes) -> bool:
    """Whether a msgpack checkpoint may have a head task (`pauses`): an available
    `branch:to:<node>` trigger, `Send` packets or a `__start__` input.

    A trigger channel in `channel_values` holds None: its key string is followed by
    msgpack nil (0xc0). The same names in `channel_versions`/`versions_seen` are followed
    by versions. Anything this cannot read as a key is treated as "maybe" (decoded).

    Only the bytes before the last `channel_versions` key are searched: the checkpoint
    map holds `channel_values` before `channel_versions`, and everything after it
    (versions, `versions_seen`, `updated_channels`) names triggers without values. The
    last occurrence is the map's own key or later, so the searched part always contains
    all of `channel_values`. A finished head names its triggers ~10 times after that key
    and none before it: one `rfind` and one `find` instead of a Python loop over every
    mention. A blob without the key is no checkpoint this can read (empty, cut short,
    garbage): "maybe", so decoding says why it cannot be read instead of dropping it.
    """
    find = blob.find
    stop = blob.rfind(b"\xb0channel_versions")
    if stop < 0:
        return True
    # PUSH packets and a `__start__` input trigger tasks too (rare at rest: decode)
    if find(b"\xae__pregel_tasks", 0, stop) >= 0 or find(b"\xa9__start__", 0, stop) >= 0:
        return True
    at = find(b"branch:to:", 0, stop)
    while at >= 0:
        header = blob[at - 1] if at >= 1 else 0
        if 0xA0 <= header <= 0xBF:  # fixstr
            end = at + (header & 0x1F)
        elif at >= 2 and blob[at - 2] == 0xD9:  # str 8
            end = at + header
        else:
            return True
        if end >= len(blob) or blob[end] == 0xC0:
            return True
        at = find(b"branch:to:", at + 1, stop)
    return False


class SqliteStore(CheckpointStore):
    """A store over one aiosqlite connection (SQLite serialises access anyway)."""

    def __init__(
        self,
        location: DatabaseLocation,
        registry: GraphRegistry,
        conn: aiosqlite.Connection,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        serde: SafeSerializer | None = None,
    ) -> None:
        super().__init__(location, registry, grace_seconds, serde)
        self.conn = conn
        # Every statement on the shared connection runs under this lock; the saver,
        # built when a decision first needs it, is given the same one.
        self.lock = asyncio.Lock()
        self._saver: AsyncSqliteSaver | None = None
        self._decoded: dict[tuple[str, str], _Decoded] = {}
        # equal metadata texts, task paths and serializer names as one object each
        self._shared = Shared()
        self._graph_ids: dict[bytes | str, str | None] = {}
        self._has_heads = False  # setup's head table and triggers are installed
        self._has_pages = False  # and its queue-order index (pages read in SQL)
        self._can_record = True  # False once the file turned out read-only

    @classmethod
    async def open(
        cls,
        location: DatabaseLocation,
        registry: GraphRegistry,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        *,
        create: bool = False,
        serde: SafeSerializer | None = None,
    ) -> SqliteStore:
        """Open the file (it must exist unless `create`) and check it holds checkpoints."""
        path = Path(location.target)
        if not create and not path.is_file():
            raise DatabaseUnavailable(
                f"SQLite file {str(path)!r} does not exist: check --db, or run "
                "`hitl-console demo` to create a demo database."
            )
        try:
            conn = await aiosqlite.connect(str(path), timeout=10)
            conn.text_factory = _lenient_text
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        except (sqlite3.Error, OSError) as exc:
            raise DatabaseUnavailable(f"Cannot open {location.display()}: {exc}.") from exc
        store = cls(location, registry, conn, grace_seconds, serde)
        await store.prepare(create=create)
        return store

    @property
    def saver(self) -> AsyncSqliteSaver:
        if self._saver is None:
            from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

            saver = AsyncSqliteSaver(self.conn, serde=self.serde)
            saver.lock = self.lock
            self._saver = saver
        return self._saver

    async def checkpoints(
        self,
        thread_id: str,
        *,
        checkpoint_id: str | None = None,
        source: str | None = None,
        step: int | None = None,
        limit: int = 1,
    ) -> list[StoredCheckpoint]:
        where: list[str] = ["thread_id = ?", "checkpoint_ns = ''"]
        params: list[Any] = [thread_id]
        for clause, value in (("checkpoint_id = ?", checkpoint_id),
                              ("json_extract(CAST(metadata AS TEXT), '$.source') = ?", source),
                              ("json_extract(CAST(metadata AS TEXT), '$.step') = ?", step)):
            if value is not None:
                where.append(clause)
                params.append(value)
        query = (f"SELECT checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata"
                 f" FROM checkpoints WHERE {' AND '.join(where)}"
                 f" ORDER BY checkpoint_id DESC LIMIT ?")
        try:
            async with self.lock, self.conn.execute(query, (*params, limit)) as cur:
                rows = await cur.fetchall()
        except sqlite3.Error as exc:
            raise DatabaseUnavailable(
                f"Reading {self.location.display()} failed: {exc}.") from exc
        decode = self.decoder.loads_typed
        return [stored_checkpoint(thread_id, row[0], row[1], decode((row[2], row[3])),
                                  json.loads(row[4]) if row[4] is not None else {})
                for row in rows]

    @property
    def pages_in_sql(self) -> bool:
        return self._has_pages

    @property
    def has_head_table(self) -> bool:
        """Whether `setup` installed the trigger-kept head table (read at open)."""
        return self._has_heads

    async def close(self) -> None:
        await self.conn.close()

    async def _check_schema(self) -> None:
        try:
            async with self.conn.execute(
                "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'index', 'trigger')"
            ) as cur:
                schema = {(row[0], row[1]) for row in await cur.fetchall()}
        except sqlite3.DatabaseError as exc:
            raise NotACheckpointDatabase(
                f"{self.location.display()} is not a SQLite database ({exc})."
            ) from exc
        tables = {name for kind, name in schema if kind == "table"}
        if not {"checkpoints", "writes"} <= tables:
            raise NotACheckpointDatabase(
                f"{self.location.display()} has no LangGraph checkpoint tables: point --db at "
                "the file your graphs' SqliteSaver writes to."
            )
        # all of it, or the table is not kept up to date: then read as without setup
        self._has_heads = {("table", HEADS_TABLE), ("index", HEADS_INDEX),
                           *(("trigger", name) for name in HEAD_TRIGGERS)} <= schema
        self._has_pages = self._has_heads and ("index", PAGE_INDEX) in schema

    async def head_states(
        self,
        flt: PendingFilter,
        thread_ids: Sequence[str] | None = None,
        *,
        after: Cursor | None = None,
        limit: int | None = None,
    ) -> list[HeadState]:
        try:
            # Under the saver's lock: a read left open on this shared connection would pin
            # an old snapshot and make the next write fail with "database is locked".
            async with self.lock:
                return await self._head_states(thread_ids, after, limit)
        except sqlite3.Error as exc:
            raise DatabaseUnavailable(
                f"Reading the queue from {self.location.display()} failed: {exc}."
            ) from exc

    async def _head_states(
        self, thread_ids: Sequence[str] | None, after: Cursor | None = None,
        limit: int | None = None,
    ) -> list[HeadState]:
        params: tuple[Any, ...] = ()
        thread_clause = ""
        if thread_ids is not None:
            thread_clause = "AND thread_id IN (SELECT value FROM json_each(?))"
            params = (json.dumps(list(thread_ids)),)
        if thread_ids is None and self._has_pages and limit is not None:
            found = await self._kept_page(after, limit)
        elif thread_ids is None and self._has_heads:
            found = await self._kept_heads()
        elif thread_ids is None and not self._decoded:
            found = await self._scan_heads()  # only heads with a triggered node
        else:
            async with self.conn.execute(
                _HEAD_IDS.format(thread_clause=thread_clause), params
            ) as cur:
                rows = await cur.fetchall()
            found = await self._cached_heads(rows)
        candidates = [
            HeadState(
                thread_id=thread_id,
                checkpoint_id=checkpoint_id,
                parent_checkpoint_id=facts.parent_checkpoint_id,
                paused_at=facts.ts,
                metadata=facts.metadata,
                next_nodes=facts.next_nodes,
                graph_id=facts.graph_id,
                error=facts.error if facts.error is not None else _bad_id(thread_id),
            )
            for thread_id, checkpoint_id, facts in found
        ]
        await self._attach_writes(candidates)
        if any(g.interrupt_after or g.interrupt_after_all for g in self.registry):
            await self._attach_parent_nodes(candidates)
        return candidates

    async def _cached_heads(self, rows: Iterable[Any]) -> list[tuple[str, str, _Decoded]]:
        """The heads with a triggered node among `rows` (thread id, checkpoint id): facts
        from the cache, and only heads not seen before read and decoded (one cache lookup
        per head)."""
        found: list[tuple[str, str, _Decoded]] = []
        missing: list[tuple[str, str]] = []
        get = self._decoded.get
        with gc_paused():
            for thread_id, checkpoint_id in rows:
                facts = get((thread_id, checkpoint_id))
                if facts is None:
                    missing.append((thread_id, checkpoint_id))
                elif facts.next_nodes:
                    found.append((thread_id, checkpoint_id, facts))
        if missing:
            found.extend(await self._decoded_heads(missing))
        return found

    async def _decoded_heads(
        self, keys: list[tuple[str, str]]
    ) -> list[tuple[str, str, _Decoded]]:
        """`keys` read and decoded: (thread id, checkpoint id, facts) of those with a
        triggered node."""
        await self._decode_missing(keys)
        get = self._decoded.get
        found = []
        for key in keys:
            facts = get(key)  # None: the thread was deleted between the two reads
            if facts is not None and facts.next_nodes:
                found.append((key[0], key[1], facts))
        return found

    async def _kept_heads(
        self, busy_ms: int = RECORD_BUSY_MS
    ) -> list[tuple[str, str, _Decoded]]:
        """After setup: the heads with a triggered node, from the head table's open and
        undecoded rows only (finished threads' rows are never read). Facts come from the
        cache, else from the row (recorded by an earlier read), else from the checkpoint
        (undecoded rows); the states decoded here are recorded for the next reader
        (waiting at most `busy_ms` for the write lock)."""
        async with self.conn.execute(OPEN_HEADS) as cur:
            rows = list(await cur.fetchall())
        decoded = self._decoded
        if len(decoded) + len(rows) > CACHE_LIMIT:
            self._forget_decoded()
        found: list[tuple[str, str, _Decoded]] = []
        missing: list[tuple[str, str]] = []  # undecoded and not in the cache
        undecoded: dict[tuple[str, str], _Decoded] = {}  # decoded by this process already
        get, shared, sep = decoded.get, self._shared, ITEM_SEP
        with gc_paused():
            for thread_id, checkpoint_id, triggered, nxt, ts, parent, metadata, graph_id in rows:
                key = (thread_id, checkpoint_id)
                facts = get(key)
                if facts is None:
                    if not triggered or nxt is None:
                        missing.append(key)
                        continue
                    facts = decoded[key] = _Decoded(
                        parse_ts(ts), tuple(nxt.split(sep)), parent,
                        shared[metadata] if metadata else b"", graph_id)
                elif triggered is None:
                    undecoded[key] = facts
                if facts.next_nodes:
                    found.append((thread_id, checkpoint_id, facts))
        if missing:
            found.extend(await self._decoded_heads(missing))
            get = self._decoded.get
            undecoded.update((key, facts) for key in missing if (facts := get(key)) is not None)
        if undecoded:
            await self._record_states(undecoded, busy_ms)
        return found

    async def _kept_page(
        self, after: Cursor | None, limit: int
    ) -> list[tuple[str, str, _Decoded]]:
        """After setup: one page of the heads with a triggered node, in queue order
        (paused_at, thread_id), read from the queue-order index alone. Heads not
        decoded yet are decoded (and recorded) first; those this process could not
        record still take their place in the page."""
        async with self.conn.execute(UNDECODED_HEADS) as cur:
            missing = [(row[0], row[1]) for row in await cur.fetchall()]
        extra: list[tuple[str, str, _Decoded]] = []
        if missing:
            extra = await self._decoded_heads(missing)
            get = self._decoded.get
            await self._record_states(
                {key: facts for key in missing if (facts := get(key)) is not None})
        if after is None:
            async with self.conn.execute(FIRST_PAGE, (limit,)) as cur:
                rows = list(await cur.fetchall())
        else:
            cursor = (after[0].astimezone(UTC).isoformat(), after[1])
            async with self.conn.execute(PAGE_AFTER, (*cursor, limit)) as cur:
                rows = list(await cur.fetchall())
        decoded, shared, sep = self._decoded, self._shared, ITEM_SEP
        found: list[tuple[str, str, _Decoded]] = []
        for thread_id, checkpoint_id, _, nxt, ts, parent, metadata, graph_id in rows:
            key = (thread_id, checkpoint_id)
            facts = decoded.get(key)
            if facts is None:
                facts = decoded[key] = _Decoded(
                    parse_ts(ts), tuple(nxt.split(sep)), parent,
                    shared[metadata] if metadata else b"", graph_id)
            found.append((thread_id, checkpoint_id, facts))
        if extra:
            seen = {(t, c) for t, c, _ in found}
            found += [item for item in extra if (item[0], item[1]) not in seen
                      and (after is None or (item[2].ts, item[0]) > after)]
            found.sort(key=lambda item: (item[2].ts, item[0]))
            del found[limit:]
        return found

    async def _record_states(
        self, states: dict[tuple[str, str], _Decoded], busy_ms: int = RECORD_BUSY_MS
    ) -> None:
        """Record decoded heads in the head table (state, and the facts of open heads),
        in small write transactions.

        Never in the reviewer's way: a read-only file or an application holding the
        write lock (for `busy_ms`) skips it (the rows stay undecoded and the
        in-memory cache still spares this process decoding them again). Runs under the
        saver's lock, like every statement on this connection.
        """
        if not self._can_record:
            return
        rows = [
            # UTC: the queue-order index sorts this text as the time
            (1, ITEM_SEP.join(facts.next_nodes), facts.ts.astimezone(UTC).isoformat(),
             facts.parent_checkpoint_id, facts.metadata, facts.graph_id, thread_id,
             checkpoint_id)
            if facts.next_nodes else (0, None, None, None, None, None, thread_id, checkpoint_id)
            for (thread_id, checkpoint_id), facts in states.items()
            # not UTF-8: cannot be bound as text, so stays undecoded (decoded per read)
            if facts.error is None and not _not_utf8((thread_id, checkpoint_id))
        ]
        conn = self.conn
        await conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
        try:
            for start in range(0, len(rows), _RECORD_BATCH):
                await conn.execute("BEGIN IMMEDIATE")
                await conn.executemany(RECORD_STATE, rows[start : start + _RECORD_BATCH])
                await conn.commit()
        except sqlite3.Error as exc:
            if conn.in_transaction:
                await conn.rollback()
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if code == sqlite3.SQLITE_READONLY:
                self._can_record = False
            log.info("head states not recorded in %s: %s", self.location.display(), exc)
        finally:
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    async def _scan_heads(self) -> list[tuple[str, str, _Decoded]]:
        """Every head, read and decoded in one statement (nothing is cached yet, so every
        head row is needed: reading them by key afterwards would walk the index twice).
        Returns (thread id, checkpoint id, facts) of the heads with a triggered node (the
        others are cached as `_NO_TRIGGER`). Rows are fetched in batches, so the blobs of
        one batch (~3 KB a head) are freed before the next is read."""
        found: list[tuple[str, str, _Decoded]] = []
        append, decoded, unpack = found.append, self._decoded, self._unpack
        maybe_triggered, no_trigger = _maybe_triggered, _NO_TRIGGER
        count = 0
        async with self.conn.execute(_HEADS_WITH_ROWS) as cur:
            while rows := cast(list[Any], await cur.fetchmany(_SCAN_BATCH)):
                count += len(rows)
                with gc_paused():  # thousands of small acyclic objects: no collector passes
                    for row in rows:
                        key = (row[0], row[1])
                        if row[3] == "msgpack" and not maybe_triggered(row[4]):
                            decoded[key] = no_trigger  # `_decode`'s first test, inline
                        else:
                            facts = decoded[key] = unpack(row)
                            if facts.next_nodes:
                                append((row[0], row[1], facts))
                del rows
        if count >= TRIM_AFTER_ROWS:
            release_freed_memory()
        return found

    async def _decode_missing(self, keys: Iterable[tuple[str, str]]) -> None:
        missing = [key for key in keys if key not in self._decoded]
        if not missing:
            return
        if len(self._decoded) + len(missing) > CACHE_LIMIT:
            self._forget_decoded()
        odd = [key for key in missing if _not_utf8(key)]
        if odd:  # rare (written by another client): one lookup each, on the raw bytes
            missing = [key for key in missing if not _not_utf8(key)]
            for thread_id, checkpoint_id in odd:
                raw = (thread_id.encode("utf-8", "surrogateescape"),
                       checkpoint_id.encode("utf-8", "surrogateescape"))
                async with self.conn.execute(_CHECKPOINT_BY_BYTES, raw) as cur:
                    row = await cur.fetchone()
                if row is not None:
                    self._decoded[(thread_id, checkpoint_id)] = self._decode(row)
        for start in range(0, len(missing), _BATCH):
            batch = json.dumps(missing[start : start + _BATCH])
            async with self.conn.execute(_CHECKPOINTS_BY_KEY, (batch,)) as cur:
                rows = await cur.fetchall()
            decoded, decode = self._decoded, self._decode
            with gc_paused():  # thousands of small acyclic objects: no collector passes
                for row in rows:
                    decoded[(row[0], row[1])] = decode(row)
        if len(missing) >= TRIM_AFTER_ROWS:
            del rows
            release_freed_memory()  # the fetched checkpoint blobs (~3 KB per head)

    def _forget_decoded(self) -> None:
        self._decoded.clear()
        self._shared.clear()
        self._graph_ids.clear()

    def _decode(self, row: sqlite3.Row | tuple[Any, ...]) -> _Decoded:
        if row[3] == "msgpack" and not _maybe_triggered(row[4]):
            return _NO_TRIGGER  # finished (or between runs): nothing to decode
        return self._unpack(row)

    def _unpack(self, row: sqlite3.Row | tuple[Any, ...]) -> _Decoded:
        """`_decode` without the pre-check; a head that cannot be read is unreadable
        (`_UNREADABLE`, with its reason), never a reason to fail the whole read."""
        try:
            return self._unpack_checked(row)
        except Exception as exc:  # a hostile or corrupt row: this head only
            ts = datetime.fromtimestamp(0, UTC)
            return _Decoded(ts, _UNREADABLE, None, b"", None, unreadable_reason(exc))

    def _unpack_checked(self, row: sqlite3.Row | tuple[Any, ...]) -> _Decoded:
        _, _, parent_id, type_, blob, metadata = row
        if type_ == "msgpack":
            # Only versions, channel names and `Send` targets are needed: no objects built.
            checkpoint = light_unpackb(blob)
        else:
            checkpoint = self.decoder.loads_typed((type_, blob))
        _check_parts(checkpoint)
        next_nodes = tokens_of_checkpoint(checkpoint)
        if not next_nodes:
            return _NO_TRIGGER
        # metadata stays JSON text (rows parse it on demand); only graph_id is needed now
        metadata = self._shared[metadata] if metadata else b""
        return _Decoded(
            ts=parse_ts(checkpoint.get("ts")),
            next_nodes=next_nodes,
            parent_checkpoint_id=parent_id,
            metadata=metadata,
            graph_id=self._graph_id_of(metadata),
        )

    def _graph_id_of(self, metadata: bytes | str) -> str | None:
        """Metadata's `graph_id`, parsed once per distinct metadata text (runs of one
        graph often carry the same metadata)."""
        graph_ids = self._graph_ids
        try:
            return graph_ids[metadata]
        except KeyError:
            pass
        parsed = json.loads(metadata) if metadata else {}
        graph_id = parsed.get("graph_id") if isinstance(parsed, dict) else None
        graph_id = graph_id if isinstance(graph_id, str) else None
        if len(graph_ids) < _GRAPH_ID_MEMO:
            graph_ids[metadata] = graph_id
        return graph_id

    async def _attach_writes(self, candidates: list[HeadState]) -> None:
        by_key = {(h.thread_id, h.checkpoint_id): h for h in candidates}
        by_thread = {h.thread_id: h for h in candidates}
        keys = list(by_key)
        shared = self._shared
        for start in range(0, len(keys), _BATCH):
            batch = json.dumps(keys[start : start + _BATCH])
            async with self.conn.execute(_WRITES_BY_KEY, (batch,)) as cur:
                rows = await cur.fetchall()
            for thread_id, task_id, task_path, channel, type_, value in rows:
                head = by_thread[thread_id]
                if channel == INTERRUPT_CHANNEL:
                    head.add_interrupt_write(task_id, shared[task_path], shared[type_], value)
                elif channel == ERROR_CHANNEL:
                    head.add_error_write(task_path)
                elif channel not in CONTROL_CHANNELS:
                    head.add_output_write(task_id, task_path)

    async def _attach_parent_nodes(self, candidates: list[HeadState]) -> None:
        need = [h for h in candidates if not h.interrupt_writes and h.parent_checkpoint_id]
        await self._decode_missing((h.thread_id, h.parent_checkpoint_id or "") for h in need)
        for head in need:
            parent = self._decoded.get((head.thread_id, head.parent_checkpoint_id or ""))
            head.parent_next_nodes = parent.next_nodes if parent else None

    async def nested_levels(self, heads: Sequence[tuple[str, str]]) -> dict[str, list[Level]]:
        keys = json.dumps([list(head) for head in heads if not _not_utf8(head)])
        async with self.lock:
            async with self.conn.execute(_NESTED_AFTER_HEAD, (keys,)) as cur:
                rows = await cur.fetchall()
            by_thread: dict[str, list[tuple[str, str, str | None, Any]]] = {}
            for thread_id, ns, checkpoint_id, parent_id, step in rows:
                by_thread.setdefault(thread_id, []).append((ns, checkpoint_id, parent_id, step))
            chosen = {thread_id: newest_per_namespace(found)
                      for thread_id, found in by_thread.items()}
            wanted = json.dumps([list(key) for key in checkpoints_to_read(chosen)])
            async with self.conn.execute(_NESTED_CHECKPOINTS, (wanted,)) as cur:
                tokens = {(t, ns, i): self._level_tokens(type_, blob)
                          for t, ns, i, type_, blob in await cur.fetchall()}
            levels = levels_from(chosen, tokens)
            newest_keys = json.dumps([list(key) for key in levels])
            async with self.conn.execute(_NESTED_WRITES, (newest_keys,)) as cur:
                for thread_id, ns, checkpoint_id, task_path, channel in await cur.fetchall():
                    levels[(thread_id, ns, checkpoint_id)].add_write(task_path or "", channel)
        return levels_by_thread(levels)

    def _level_tokens(self, type_: str, blob: bytes) -> tuple[str, ...] | None:
        """A subgraph checkpoint's tokens (`inside.level_tokens`), None if unreadable."""
        try:
            checkpoint = light_unpackb(blob) if type_ == "msgpack" else \
                self.decoder.loads_typed((type_, blob))
            _check_parts(checkpoint)
            return level_tokens(checkpoint)
        except Exception:  # a hostile or corrupt row: read as not stopped
            return None

    async def newest_nested_checkpoint(self, thread_id: str) -> str | None:
        async with self.lock, self.conn.execute(
            "SELECT max(checkpoint_id) FROM checkpoints"
            " WHERE thread_id = ? AND checkpoint_ns <> ''",
            (thread_id,),
        ) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def head_checkpoint_id(self, thread_id: str) -> str | None:
        async with self.lock, self.conn.execute(
            "SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''",
            (thread_id,),
        ) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def setup(self, *, notify: bool = False) -> list[str]:
        """The saver's tables, then the head table, its triggers and backfill in one
        transaction (BEGIN IMMEDIATE: no writer commits between the backfill and the
        triggers), then every head decoded and its state recorded, so the next console
        start is already fast. Idempotent; a second run recomputes every row. `notify`
        has no SQLite equivalent (the change feed polls `PRAGMA data_version`)."""
        await self.saver.setup()
        done = ["checkpoint tables"]
        steps = setup_script()
        script = "".join(sql for _, sql in steps)
        try:
            async with self.lock:
                try:
                    await self.conn.executescript(f"BEGIN IMMEDIATE;\n{script}\nCOMMIT;")
                except BaseException:
                    if self.conn.in_transaction:
                        await self.conn.rollback()
                    raise
                self._has_heads = self._has_pages = True
                done += [label for label, _ in steps]
                # setup may wait for the application's writes like any writer
                opened = len(await self._kept_heads(busy_ms=BUSY_TIMEOUT_MS))
                async with self.conn.execute(
                    f"SELECT count(*), coalesce(sum(triggered IS NULL), 0) FROM {HEADS_TABLE}"
                ) as cur:
                    heads, undecoded = await cur.fetchone() or (0, 0)
        except sqlite3.Error as exc:
            raise DatabaseUnavailable(
                f"Setting up {self.location.display()} failed: {exc}."
            ) from exc
        state = f"head states ({heads} heads, {opened} with next nodes"
        # undecoded rows are left when the write lock stayed busy: a later read records them
        done.append(state + (f", {undecoded} left for later: database busy)" if undecoded
                             else ")"))
        return done

