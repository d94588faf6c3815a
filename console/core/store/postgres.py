"""Reading pending pauses from a LangGraph Postgres checkpointer, set-based.

Two plans, same result:
- without `hitl-console setup`: one query finds every root thread's head with
  `max(checkpoint_id)` per thread (an index-only scan of the primary key), then reads
  only those heads' trigger channels and interrupt writes;
- after setup: the `hitl_thread_status` table, kept by a trigger on `checkpoints`,
  already holds each thread's head and its triggered nodes, with a partial index on
  the open ones, so cost does not grow with finished threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import AsyncConnectionPool

from console.core.dburl import DatabaseLocation
from console.core.errors import DatabaseUnavailable, NotACheckpointDatabase
from console.core.graphs import GraphRegistry
from console.core.models import DEFAULT_GRACE_SECONDS, Convention, PendingFilter, PendingThread
from console.core.store.base import CheckpointStore, Cursor, gc_paused
from console.core.store.heads import (
    CONTROL_CHANNELS,
    FIELD_SEP,
    INTERRUPT_CHANNEL,
    ITEM_SEP,
    TRIM_AFTER_ROWS,
    HeadState,
    RawInterrupt,
    ShapeClassifier,
    Shared,
    parse_ts,
    release_freed_memory,
)
from console.core.store.pg_schema import (
    STATUS_SHAPE_SQL,
    STATUS_TABLE,
    STATUS_VERSION_COLUMN,
    next_nodes_sql,
    setup_statements,
)

CONNECT_TIMEOUT_SECONDS = 5.0

_HEADS_BY_SCAN = """
    SELECT thread_id, max(checkpoint_id) AS checkpoint_id
    FROM checkpoints
    WHERE checkpoint_ns = '' {thread_clause}
    GROUP BY thread_id
"""

_CANDIDATES = """
WITH heads AS MATERIALIZED ({heads}),
head_rows AS MATERIALIZED (
    -- LATERAL ... OFFSET 0: one primary-key probe per head (the planner otherwise
    -- estimates 1 row and hashes the whole checkpoints table, spilling to disk)
    SELECT c.thread_id, c.checkpoint_id, c.parent_checkpoint_id, c.checkpoint, c.metadata
    FROM heads h
    CROSS JOIN LATERAL (
        SELECT * FROM checkpoints c
        WHERE c.thread_id = h.thread_id AND c.checkpoint_ns = ''
          AND c.checkpoint_id = h.checkpoint_id
        OFFSET 0
    ) c
    -- cheap test first: no "branch:to:" key among the values means no triggered node
    WHERE strpos((c.checkpoint->'channel_values')::text, '"branch:to:') > 0
),
candidates AS MATERIALIZED (
    SELECT c.thread_id, c.checkpoint_id, c.parent_checkpoint_id,
           c.checkpoint->>'ts' AS ts, c.metadata::text AS metadata,
           c.metadata->>'graph_id' AS graph_id,
           {next_nodes} AS next_nodes
    FROM head_rows c
)
SELECT cand.*,
       {parent_next} AS parent_next_nodes,
       w.task_ids, w.task_paths, w.channels, w.types, w.blobs
FROM candidates cand
LEFT JOIN checkpoints p
  ON %(with_parent)s AND p.thread_id = cand.thread_id AND p.checkpoint_ns = ''
 AND p.checkpoint_id = cand.parent_checkpoint_id
LEFT JOIN LATERAL (
    SELECT array_agg(cw.task_id) AS task_ids, array_agg(cw.task_path) AS task_paths,
           array_agg(cw.channel) AS channels, array_agg(cw.type) AS types,
           array_agg(CASE WHEN cw.channel = %(interrupt)s THEN cw.blob END) AS blobs
    FROM checkpoint_writes cw
    WHERE cw.thread_id = cand.thread_id AND cw.checkpoint_ns = ''
      AND cw.checkpoint_id = cand.checkpoint_id
) w ON true
WHERE cardinality(cand.next_nodes) > 0
"""

# After setup: one index range scan of the status table, in keyset order. Its rows hold
# the head, its triggered nodes, the nodes that just ran, the nodes whose tasks finished,
# the pending interrupt writes and the metadata (kept as text: parsed on demand), so
# neither `checkpoints` nor `checkpoint_writes` is read.
_STATUS_ROWS = f"""
SELECT thread_id, checkpoint_id, parent_checkpoint_id, paused_at, next_nodes, graph_id,
       metadata_json, parent_next_nodes, done_nodes,
       int_task_ids, int_task_paths, int_types, int_blobs
FROM {STATUS_TABLE}
WHERE next_nodes <> '{{{{}}}}' {{thread_clause}} {{after_clause}}
ORDER BY paused_at, thread_id
{{limit_clause}}
"""

# The queue's own read of the status table: a row packed into few columns that psycopg
# converts cheaply (no arrays in the usual row): the head, its shape (graph id and node
# lists, see `pg_schema.STATUS_SHAPE_SQL`), metadata text, pending interrupts' task ids and
# serializer types as one text, and their blobs (one bytea for a single write, an array
# only for several).
_QUEUE_ROWS = f"""
SELECT thread_id, checkpoint_id, paused_at, {{shape}} AS shape, metadata_json,
       CASE WHEN cardinality(int_task_ids) > 0 THEN
           array_to_string(int_task_ids, E'\\x1f') || E'\\x1e'
           || array_to_string(int_types, E'\\x1f') END AS tasks,
       CASE WHEN cardinality(int_blobs) = 1 THEN int_blobs[1] END AS blob,
       CASE WHEN cardinality(int_blobs) > 1 THEN int_blobs END AS blobs
FROM {STATUS_TABLE}
WHERE next_nodes <> '{{{{}}}}' {{after_clause}}
ORDER BY paused_at, thread_id
{{limit_clause}}
""".replace("{shape}", STATUS_SHAPE_SQL)


class PostgresStore(CheckpointStore):
    """A store over a pooled async psycopg connection."""

    def __init__(
        self,
        location: DatabaseLocation,
        registry: GraphRegistry,
        pool: AsyncConnectionPool[Any],
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
    ) -> None:
        super().__init__(location, registry, grace_seconds)
        self.pool = pool
        self._saver = AsyncPostgresSaver(pool)
        self._has_status: bool | None = None
        self._shapes = ShapeClassifier(registry)

    @classmethod
    async def open(
        cls,
        location: DatabaseLocation,
        registry: GraphRegistry,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        max_size: int = 8,
        *,
        create: bool = False,
    ) -> PostgresStore:
        """Connect, check that this is a checkpointer database, and return the store."""
        await _probe(location)
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            location.target,
            min_size=1,
            max_size=max_size,
            open=False,
            kwargs={
                "autocommit": True,
                "prepare_threshold": None,
                "row_factory": dict_row,
                "connect_timeout": int(CONNECT_TIMEOUT_SECONDS),
            },
            configure=_configure_connection,
        )
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
        except Exception as exc:
            await pool.close()
            raise DatabaseUnavailable(
                f"Cannot connect to {location.display()}: {_first_line(exc)}. "
                "Check that the server is running and the URL is right."
            ) from exc
        store = cls(location, registry, pool, grace_seconds)
        await store.prepare(create=create)
        return store

    @property
    def saver(self) -> AsyncPostgresSaver:
        return self._saver

    async def close(self) -> None:
        await self.pool.close()

    async def _check_schema(self) -> None:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT to_regclass('checkpoints') IS NOT NULL AS cp,"
                    " to_regclass('checkpoint_writes') IS NOT NULL AS w,"
                    " EXISTS (SELECT 1 FROM pg_attribute"
                    f" WHERE attrelid = to_regclass('{STATUS_TABLE}')"
                    f" AND attname = '{STATUS_VERSION_COLUMN}' AND NOT attisdropped) AS status"
                )
            ).fetchone()
        assert row is not None
        if not (row["cp"] and row["w"]):
            raise NotACheckpointDatabase(
                f"{self.location.display()} has no LangGraph checkpoint tables: point --db at "
                "the database your graphs' PostgresSaver writes to."
            )
        self._has_status = bool(row["status"])

    @property
    def has_status_table(self) -> bool:
        return bool(self._has_status)

    async def head_states(
        self,
        flt: PendingFilter,
        thread_ids: Sequence[str] | None = None,
        *,
        after: Cursor | None = None,
        limit: int | None = None,
    ) -> list[HeadState]:
        params: dict[str, Any] = {
            "interrupt": INTERRUPT_CHANNEL,
            # the parent's triggers are the nodes that just ran: only interrupt_after needs them
            "with_parent": any(g.interrupt_after or g.interrupt_after_all for g in self.registry),
            "thread_ids": list(thread_ids or ()),
        }
        thread_clause = "AND thread_id = ANY(%(thread_ids)s)" if thread_ids is not None else ""
        parent_next = (f"CASE WHEN p.checkpoint IS NULL THEN NULL ELSE "
                       f"{next_nodes_sql('p.checkpoint')} END")
        if self._has_status:
            return await self._status_heads(thread_ids, after, limit)
        query = _CANDIDATES.format(
            heads=_HEADS_BY_SCAN.format(thread_clause=thread_clause),
            next_nodes=next_nodes_sql("c.checkpoint"),
            parent_next=parent_next,
        )
        try:
            async with self.pool.connection() as conn:
                rows = await (await conn.execute(query, params)).fetchall()
        except psycopg.Error as exc:
            raise DatabaseUnavailable(
                f"Reading the queue from {self.location.display()} failed: {_first_line(exc)}."
            ) from exc
        return [self._head_of(row) for row in rows]

    async def _status_rows(
        self, thread_ids: Sequence[str] | None, after: Cursor | None, limit: int | None
    ) -> list[tuple[Any, ...]]:
        params: dict[str, Any] = {"thread_ids": list(thread_ids or ()), "limit": limit}
        after_clause = _keyset(after, params)
        query = _STATUS_ROWS.format(
            thread_clause="AND thread_id = ANY(%(thread_ids)s)" if thread_ids is not None else "",
            after_clause=after_clause,
            limit_clause="LIMIT %(limit)s" if limit is not None else "",
        )
        try:
            async with self.pool.connection() as conn:
                cur = conn.cursor(binary=True, row_factory=tuple_row)
                await cur.execute(query, params)
                rows: list[tuple[Any, ...]] = await cur.fetchall()
                return rows
        except psycopg.Error as exc:
            raise DatabaseUnavailable(
                f"Reading the queue from {self.location.display()} failed: {_first_line(exc)}."
            ) from exc

    async def _status_heads(
        self, thread_ids: Sequence[str] | None, after: Cursor | None, limit: int | None
    ) -> list[HeadState]:
        heads = []
        for (thread_id, checkpoint_id, parent_id, paused_at, next_nodes, graph_id, metadata,
             parent_next, done_nodes, task_ids, task_paths, types, blobs
             ) in await self._status_rows(thread_ids, after, limit):
            head = HeadState(
                thread_id, checkpoint_id, parent_id, paused_at, metadata, tuple(next_nodes),
                finished_nodes=set(done_nodes) if done_nodes else set(),
                parent_next_nodes=tuple(parent_next) if parent_next is not None else None,
                graph_id=graph_id,
            )
            if task_ids:
                for task_id, path, type_, blob in zip(
                        task_ids, task_paths, types, blobs, strict=True):
                    head.add_interrupt_write(task_id, path, type_, blob)
            heads.append(head)
        return heads

    async def _classified(
        self, flt: PendingFilter, after: Cursor | None, limit: int | None, now: datetime
    ) -> tuple[list[PendingThread | None], int, Cursor | None]:
        if not self._has_status:
            return await super()._classified(flt, after, limit, now)
        params: dict[str, Any] = {"limit": limit}
        after_clause = _keyset(after, params)
        query = _QUEUE_ROWS.format(
            after_clause=after_clause,
            limit_clause="LIMIT %(limit)s" if limit is not None else "",
        )
        try:
            async with self.pool.connection() as conn:
                cur = conn.cursor(binary=True, row_factory=tuple_row)
                await cur.execute(query, params)
                with gc_paused():  # many small objects, no cycles: no collector passes
                    rows = await cur.fetchall()
                    pauses = self._queue_rows(rows, now)
        except psycopg.Error as exc:
            raise DatabaseUnavailable(
                f"Reading the queue from {self.location.display()} failed: {_first_line(exc)}."
            ) from exc
        last = (rows[-1][2], rows[-1][0]) if rows else None
        count = len(rows)
        if count >= TRIM_AFTER_ROWS:
            del rows
            release_freed_memory()  # psycopg's result buffers
        return pauses, count, last

    def _queue_rows(
        self, rows: list[tuple[Any, ...]], now: datetime
    ) -> list[PendingThread | None]:
        """Classify packed status rows (`_QUEUE_ROWS`); payloads stay raw."""
        shapes = self._shapes
        if shapes.registry is not self.registry:
            shapes = self._shapes = ShapeClassifier(self.registry)
        grace, codec, make = self.grace_seconds, self.codec, PendingThread.lazy_row
        convention_of = codec.convention
        pauses: list[PendingThread | None] = []
        append = pauses.append
        shared = Shared()  # equal metadata texts and serializer names: one object each
        for thread_id, checkpoint_id, paused_at, packed, metadata, tasks, blob, blobs in rows:
            shape = shapes(packed)
            kind = shape.kind
            if kind is None:
                append(None)
                continue
            if tasks is not None:
                ids, types = tasks.split(FIELD_SEP)
                types = shared[types]
                if blobs is None:
                    raw: tuple[RawInterrupt, ...] = ((ids, shape.paths[0], types, blob),)
                else:
                    raw = tuple(zip(ids.split(ITEM_SEP), shape.paths, types.split(ITEM_SEP),
                                    blobs, strict=True))
                convention = convention_of(raw)
            elif shape.stalled and (now - paused_at).total_seconds() < grace:
                append(None)
                continue
            else:
                raw, convention = (), shape.convention or Convention.BREAKPOINT
            if metadata is not None:
                metadata = shared[metadata]
            append(make(thread_id, checkpoint_id, shape.graph, shape.nodes, kind, convention,
                        paused_at, shape.next_nodes, codec, raw, metadata, shape.summary))
        return pauses

    @property
    def pages_in_sql(self) -> bool:
        return bool(self._has_status)

    def _head_of(self, row: dict[str, Any]) -> HeadState:
        head = HeadState(
            thread_id=row["thread_id"],
            checkpoint_id=row["checkpoint_id"],
            parent_checkpoint_id=row["parent_checkpoint_id"],
            paused_at=parse_ts(row["ts"]),
            metadata=row["metadata"],
            next_nodes=tuple(row["next_nodes"]),
            parent_next_nodes=(
                tuple(row["parent_next_nodes"]) if row["parent_next_nodes"] is not None else None
            ),
            graph_id=row["graph_id"],
        )
        for task_id, path, channel, type_, blob in zip(
            row["task_ids"] or (),
            row["task_paths"] or (),
            row["channels"] or (),
            row["types"] or (),
            row["blobs"] or (),
            strict=True,
        ):
            if channel == INTERRUPT_CHANNEL:
                head.add_interrupt_write(task_id, path, type_, blob)
            elif channel not in CONTROL_CHANNELS:
                head.add_output_write(task_id, path)
        return head

    async def head_checkpoint_id(self, thread_id: str) -> str | None:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT max(checkpoint_id) AS id FROM checkpoints"
                    " WHERE thread_id = %s AND checkpoint_ns = ''",
                    (thread_id,),
                )
            ).fetchone()
        return row["id"] if row else None

    async def setup(self, *, notify: bool = False) -> list[str]:
        done = []
        async with self.pool.connection() as conn, conn.transaction():
            for label, statement in setup_statements(notify=notify):
                await conn.execute(statement)
                done.append(label)
        self._has_status = True
        return done


async def _probe(location: DatabaseLocation) -> None:
    """One direct connection first: its error names the cause (refused, auth, no such
    database) at once, where a pool would retry until its timeout."""
    try:
        conn = await psycopg.AsyncConnection.connect(
            location.target, connect_timeout=int(CONNECT_TIMEOUT_SECONDS))
    except psycopg.Error as exc:
        raise DatabaseUnavailable(
            f"Cannot connect to {location.display()}: {_first_line(exc)}. "
            "Check that the server is running and the URL is right."
        ) from exc
    await conn.close()


async def _configure_connection(conn: psycopg.AsyncConnection[Any]) -> None:
    # JIT compilation added 0.6-0.8 s to the queue queries here (langgraph-notes.md).
    # Set per session rather than through `options`, which would replace the URL's own.
    await conn.execute("SET jit = off")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].rstrip(".") if text else type(exc).__name__


def _keyset(after: Cursor | None, params: dict[str, Any]) -> str:
    """The status-table clause for the page after `after` (its values go to `params`)."""
    if after is None:
        return ""
    params["after_ts"], params["after_id"] = after
    return "AND (paused_at, thread_id) > (%(after_ts)s, %(after_id)s)"
