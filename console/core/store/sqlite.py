"""Reading pending pauses from a LangGraph SQLite checkpointer.

SQLite keeps the whole checkpoint as one msgpack blob, so SQL alone cannot see which
nodes are triggered. Heads are found in SQL (the primary key answers `max(checkpoint_id)`
per thread), and only heads this process has not decoded before are read and decoded;
a head checkpoint never changes, so the decoded facts are cached by its id. The first
full read (nothing cached) reads every head row in the same statement that finds them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import aiosqlite
import ormsgpack
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from console.core.dburl import DatabaseLocation
from console.core.errors import DatabaseUnavailable, NotACheckpointDatabase
from console.core.graphs import GraphRegistry
from console.core.models import DEFAULT_GRACE_SECONDS, PendingFilter
from console.core.store.base import CheckpointStore, Cursor, gc_paused
from console.core.store.heads import (
    CONTROL_CHANNELS,
    INTERRUPT_CHANNEL,
    TRIM_AFTER_ROWS,
    HeadState,
    Shared,
    parse_ts,
    release_freed_memory,
    triggered_nodes,
)

CACHE_LIMIT = 500_000
_BATCH = 5_000
_SCAN_BATCH = 1_000
_GRAPH_ID_MEMO = 4096

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

_WRITES_BY_KEY = f"""
    SELECT w.thread_id, w.task_id, w.task_path, w.channel, w.type,
           CASE WHEN w.channel = '{INTERRUPT_CHANNEL}' THEN w.value END AS value
    FROM json_each(?) AS k
    JOIN writes w
      ON w.thread_id = json_extract(k.value, '$[0]') AND w.checkpoint_ns = ''
     AND w.checkpoint_id = json_extract(k.value, '$[1]')
"""


class _Decoded:
    """The facts of one checkpoint that classification needs (immutable once written)."""

    __slots__ = ("graph_id", "metadata", "next_nodes", "parent_checkpoint_id", "ts")

    def __init__(
        self,
        ts: datetime,
        next_nodes: tuple[str, ...],
        parent_checkpoint_id: str | None,
        metadata: bytes | str,
        graph_id: str | None,
    ) -> None:
        self.ts = ts
        self.next_nodes = next_nodes
        self.parent_checkpoint_id = parent_checkpoint_id
        self.metadata = metadata
        self.graph_id = graph_id


# Every head without a triggered node shares this (only `next_nodes` is ever read).
_NO_TRIGGER = _Decoded(datetime.fromtimestamp(0, UTC), (), None, b"", None)


def _maybe_triggered(blob: bytes) -> bool:
    """Whether a msgpack checkpoint may hold an available `branch:to:<node>` trigger.

    A trigger channel in `channel_values` holds None: its key string is followed by
    msgpack nil (0xc0). The same names in `channel_versions`/`versions_seen` are followed
    by versions. Anything this cannot read as a key is treated as "maybe" (decoded).

    Only the bytes before the last `channel_versions` key are searched: the checkpoint
    map holds `channel_values` before `channel_versions`, and everything after it
    (versions, `versions_seen`, `updated_channels`) names triggers without values. The
    last occurrence is the map's own key or later, so the searched part always contains
    all of `channel_values` (without the key, the whole blob is searched). A finished head
    names its triggers ~10 times after that key and none before it: one `rfind` and one
    `find` instead of a Python loop over every mention.
    """
    find = blob.find
    stop = blob.rfind(b"\xb0channel_versions")
    if stop < 0:
        stop = len(blob)
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
    ) -> None:
        super().__init__(location, registry, grace_seconds)
        self.conn = conn
        self._saver = AsyncSqliteSaver(conn)
        self._decoded: dict[tuple[str, str], _Decoded] = {}
        # equal metadata texts, task paths and serializer names as one object each
        self._shared = Shared()
        self._graph_ids: dict[bytes | str, str | None] = {}

    @classmethod
    async def open(
        cls,
        location: DatabaseLocation,
        registry: GraphRegistry,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        *,
        create: bool = False,
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
            await conn.execute("PRAGMA busy_timeout = 10000")
        except (sqlite3.Error, OSError) as exc:
            raise DatabaseUnavailable(f"Cannot open {location.display()}: {exc}.") from exc
        store = cls(location, registry, conn, grace_seconds)
        await store.prepare(create=create)
        return store

    @property
    def saver(self) -> AsyncSqliteSaver:
        return self._saver

    @property
    def pages_in_sql(self) -> bool:
        return False

    async def close(self) -> None:
        await self.conn.close()

    async def _check_schema(self) -> None:
        try:
            async with self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            ) as cur:
                tables = {row[0] for row in await cur.fetchall()}
        except sqlite3.DatabaseError as exc:
            raise NotACheckpointDatabase(
                f"{self.location.display()} is not a SQLite database ({exc})."
            ) from exc
        if not {"checkpoints", "writes"} <= tables:
            raise NotACheckpointDatabase(
                f"{self.location.display()} has no LangGraph checkpoint tables: point --db at "
                "the file your graphs' SqliteSaver writes to."
            )

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
            async with self._saver.lock:
                return await self._head_states(thread_ids)
        except sqlite3.Error as exc:
            raise DatabaseUnavailable(
                f"Reading the queue from {self.location.display()} failed: {exc}."
            ) from exc

    async def _head_states(self, thread_ids: Sequence[str] | None) -> list[HeadState]:
        params: tuple[Any, ...] = ()
        thread_clause = ""
        if thread_ids is not None:
            thread_clause = "AND thread_id IN (SELECT value FROM json_each(?))"
            params = (json.dumps(list(thread_ids)),)
        if thread_ids is None and not self._decoded:
            found = await self._scan_heads()  # only heads with a triggered node
        else:
            found = await self._cached_heads(_HEAD_IDS.format(thread_clause=thread_clause),
                                             params)
        candidates = [
            HeadState(
                thread_id=thread_id,
                checkpoint_id=checkpoint_id,
                parent_checkpoint_id=facts.parent_checkpoint_id,
                paused_at=facts.ts,
                metadata=facts.metadata,
                next_nodes=facts.next_nodes,
                graph_id=facts.graph_id,
            )
            for thread_id, checkpoint_id, facts in found
        ]
        await self._attach_writes(candidates)
        if any(g.interrupt_after or g.interrupt_after_all for g in self.registry):
            await self._attach_parent_nodes(candidates)
        return candidates

    async def _cached_heads(
        self, query: str, params: tuple[Any, ...]
    ) -> list[tuple[str, str, _Decoded]]:
        """The heads with a triggered node: head ids from SQL, facts from the cache, and
        only heads not seen before read and decoded (one cache lookup per head)."""
        async with self.conn.execute(query, params) as cur:
            rows = await cur.fetchall()
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
            await self._decode_missing(missing)
            get = self._decoded.get
            for key in missing:
                facts = get(key)  # None: the thread was deleted between the two reads
                if facts is not None and facts.next_nodes:
                    found.append((key[0], key[1], facts))
        return found

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
            self._decoded.clear()
            self._shared.clear()
            self._graph_ids.clear()
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

    def _decode(self, row: sqlite3.Row | tuple[Any, ...]) -> _Decoded:
        if row[3] == "msgpack" and not _maybe_triggered(row[4]):
            return _NO_TRIGGER  # finished (or between runs): nothing to decode
        return self._unpack(row)

    def _unpack(self, row: sqlite3.Row | tuple[Any, ...]) -> _Decoded:
        """`_decode` without the pre-check."""
        _, _, parent_id, type_, blob, metadata = row
        if type_ == "msgpack":
            # Only versions and channel names are needed: skip rebuilding objects.
            checkpoint = ormsgpack.unpackb(
                blob, ext_hook=_skip_ext, option=ormsgpack.OPT_NON_STR_KEYS
            )
        else:
            checkpoint = self._saver.serde.loads_typed((type_, blob))
        next_nodes = triggered_nodes(
            checkpoint.get("channel_values") or {},
            checkpoint.get("channel_versions") or {},
            checkpoint.get("versions_seen") or {},
        )
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
                elif channel not in CONTROL_CHANNELS:
                    head.add_output_write(task_id, task_path)

    async def _attach_parent_nodes(self, candidates: list[HeadState]) -> None:
        need = [h for h in candidates if not h.interrupt_writes and h.parent_checkpoint_id]
        await self._decode_missing((h.thread_id, h.parent_checkpoint_id or "") for h in need)
        for head in need:
            parent = self._decoded.get((head.thread_id, head.parent_checkpoint_id or ""))
            head.parent_next_nodes = parent.next_nodes if parent else None

    async def head_checkpoint_id(self, thread_id: str) -> str | None:
        async with self._saver.lock, self.conn.execute(
            "SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''",
            (thread_id,),
        ) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def setup(self, *, notify: bool = False) -> list[str]:
        # SQLite needs no status table (see the module docstring); the ledger adds its own.
        await self._saver.setup()
        return ["checkpoint tables"]


def _skip_ext(code: int, data: bytes) -> None:
    return None
