"""Reading pending pauses from a LangGraph Postgres checkpointer, set-based.

Two plans, same result:
- without `hitl-console setup`: one query finds every root thread's head with
  `max(checkpoint_id)` per thread (an index-only scan of the primary key), then reads
  only those heads' trigger channels and interrupt writes; the queue runs it on two
  thread-id ranges at once and gets the after-setup plan's packed rows from it;
- after setup: the `hitl_thread_status` table, kept by a trigger on `checkpoints`,
  already holds each thread's head and its triggered nodes, with a partial index on
  the open ones, so cost does not grow with finished threads.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import AsyncConnectionPool

from console.core.dburl import DatabaseLocation
from console.core.errors import (
    ConsoleError,
    DatabaseUnavailable,
    NotACheckpointDatabase,
    RightsMissing,
    database_failure,
    unreadable_reason,
)
from console.core.graphs import GraphRegistry
from console.core.inside import (
    Level,
    checkpoints_to_read,
    level_tokens,
    levels_by_thread,
    levels_from,
    newest_per_namespace,
)
from console.core.models import DEFAULT_GRACE_SECONDS, PendingFilter, PendingThread
from console.core.pauses import (
    PUSH_MARK,
    UNREADABLE_MARK,
    expand_push,
    light_unpackb,
    send_nodes_of_blob,
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
    FIELD_SEP,
    INTERRUPT_CHANNEL,
    ITEM_SEP,
    TRIM_AFTER_ROWS,
    HeadState,
    RawInterrupt,
    Shared,
    parse_ts,
    pause_of,
    release_freed_memory,
)
from console.core.store.pg_schema import (
    NOT_OUTPUT_SQL,
    STATUS_SHAPE_SQL,
    STATUS_TABLE,
    STATUS_VERSION_COLUMN,
    joined_sql,
    last_ran_sql,
    next_nodes_of_parts_sql,
    next_nodes_sql,
    node_of_path_sql,
    push_blob_sql,
    ran_past_gap_sql,
    setup_statements,
)
from console.core.store.pool import POOL_TIMEOUT_SECONDS, ConsolePool

CONNECT_TIMEOUT_SECONDS = 5.0

_PARENT_VERSIONS = "(p.checkpoint->'channel_versions')"

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
    -- cheap test first: no "branch:to:" key among the values, no packets and no input
    -- written in the last step mean no head task
    WHERE strpos((c.checkpoint->'channel_values')::text, '"branch:to:') > 0
       -- (`updated_channels` missing or JSON null, as `aupdate_state` saves it: not known)
       OR jsonb_typeof(c.checkpoint->'updated_channels') IS DISTINCT FROM 'array'
       OR (c.checkpoint->'updated_channels') ?| ARRAY['__pregel_tasks', '__start__']
),
candidates AS MATERIALIZED (
    SELECT c.thread_id, c.checkpoint_id, c.parent_checkpoint_id,
           c.checkpoint->>'ts' AS ts, c.metadata::text AS metadata,
           c.metadata->>'graph_id' AS graph_id,
           c.checkpoint->'channel_versions' AS versions,
           c.checkpoint->'versions_seen' AS versions_seen,
           c.metadata->'step' AS step,
           {next_nodes} AS next_nodes
    FROM head_rows c
)
SELECT cand.*,
       {push_type} AS push_type, {push_blob} AS push_blob,
       CASE WHEN %(with_parent)s THEN CASE WHEN pn.parent_next_nodes IS NULL THEN {ran}
                                          ELSE pn.parent_next_nodes || {ran_past_gap} END END
           AS parent_next_nodes,
       {parent_push_type} AS parent_push_type,
       {parent_push_blob} AS parent_push_blob,
       w.task_ids, w.task_paths, w.channels, w.types, w.blobs
FROM candidates cand
LEFT JOIN checkpoints p
  ON %(with_parent)s AND p.thread_id = cand.thread_id AND p.checkpoint_ns = ''
 AND p.checkpoint_id = cand.parent_checkpoint_id
CROSS JOIN LATERAL (SELECT {parent_next} AS parent_next_nodes) pn
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

# Without setup, the queue's read: the rows `_QUEUE_ROWS` gives after setup (same packed
# shape, tasks and blob columns; `ts` as text), computed from the checkpoint tables. A
# head's checkpoint is often stored compressed and every operator on it decompresses it
# again, so each part is taken out once: `channel_values` for the cheap test on every head,
# versions and `ts` only for the heads that pass it. The head's writes are read in one
# pass: the nodes of finished tasks (any output write) and the interrupt writes of the
# other tasks, ordered by task id and idx as `HeadState.raw_pending` orders them.
_NO_SETUP_ROWS = f"""
WITH heads AS MATERIALIZED ({_HEADS_BY_SCAN.format(thread_clause="{range_clause}")}),
candidates AS MATERIALIZED (
    SELECT c.thread_id, c.checkpoint_id, c.parent_checkpoint_id, v.ts, c.metadata, v.versions,
           v.seen,
           {next_nodes_of_parts_sql("c.vals", "v.versions", "v.seen", "c.updated",
                                    "c.thread_id")} AS next_nodes
    FROM heads h
    CROSS JOIN LATERAL (
        -- OFFSET 0: one primary-key probe per head (the planner otherwise estimates 1 row
        -- and hashes the whole checkpoints table, spilling to disk)
        SELECT c.thread_id, c.checkpoint_id, c.parent_checkpoint_id, c.checkpoint, c.metadata,
               c.checkpoint->'channel_values' AS vals,
               c.checkpoint->'updated_channels' AS updated
        FROM checkpoints c
        WHERE c.thread_id = h.thread_id AND c.checkpoint_ns = ''
          AND c.checkpoint_id = h.checkpoint_id
        OFFSET 0
    ) c
    CROSS JOIN LATERAL (
        SELECT c.checkpoint->'channel_versions' AS versions,
               c.checkpoint->'versions_seen' AS seen, c.checkpoint->>'ts' AS ts
        OFFSET 0
    ) v
    -- cheap test first: no "branch:to:" key among the values, no packets and no input
    -- written in the last step mean no head task
    WHERE strpos(c.vals::text, '"branch:to:') > 0
       -- (`updated_channels` missing or JSON null, as `aupdate_state` saves it: not known)
       OR jsonb_typeof(c.updated) IS DISTINCT FROM 'array'
       OR c.updated ?| ARRAY['__pregel_tasks', '__start__']
       -- damaged parts: listed as unreadable (`next_nodes_of_parts_sql`)
       OR jsonb_typeof(c.vals) IS DISTINCT FROM 'object'
       OR jsonb_path_exists(c.updated, '$[*] ? (@.type() == "object" || @.type() == "array")')
)
SELECT cand.thread_id, cand.checkpoint_id, cand.ts,
       concat('=' || (cand.metadata->>'graph_id'), E'\\x1e', {joined_sql("cand.next_nodes")},
              E'\\x1e', w.done, E'\\x1e',
              {joined_sql("CASE WHEN %(with_parent)s THEN CASE WHEN p.next_nodes IS NULL "
                          "THEN " + last_ran_sql("cand.seen") + " ELSE p.next_nodes || "
                          + ran_past_gap_sql("p.step", "(cand.metadata->'step')", "cand.seen")
                          + " END END")}, E'\\x1e',
              '=' || w.paths, E'\\x1e', w.failed) AS shape,
       cand.metadata::text AS metadata_json,
       w.task_ids || E'\\x1e' || w.types AS tasks,
       CASE WHEN w.asking = 1 THEN w.blobs[1] END AS blob,
       CASE WHEN w.asking > 1 THEN w.blobs END AS blobs,
       {push_blob_sql("cand.next_nodes", "cand.versions", "cand.thread_id", "type")} AS push_type,
       {push_blob_sql("cand.next_nodes", "cand.versions", "cand.thread_id", "blob")} AS push_blob,
       p.push_type AS parent_push_type, p.push_blob AS parent_push_blob
FROM candidates cand
-- the parent's triggers are the nodes that just ran: only interrupt_after needs them
LEFT JOIN LATERAL (
    SELECT pn.next_nodes, p.metadata->'step' AS step,
           {push_blob_sql("pn.next_nodes", _PARENT_VERSIONS, "p.thread_id", "type")} AS push_type,
           {push_blob_sql("pn.next_nodes", _PARENT_VERSIONS, "p.thread_id", "blob")} AS push_blob
    FROM checkpoints p
    CROSS JOIN LATERAL (SELECT {next_nodes_sql("p.checkpoint", "p.thread_id")} AS next_nodes) pn
    WHERE %(with_parent)s AND p.thread_id = cand.thread_id AND p.checkpoint_ns = ''
      AND p.checkpoint_id = cand.parent_checkpoint_id
) p ON true
LEFT JOIN LATERAL (
    SELECT {joined_sql("array_agg(DISTINCT x.node) FILTER (WHERE x.output)")} AS done,
           {joined_sql("array_agg(DISTINCT x.node) FILTER (WHERE x.failed)")} AS failed,
           {joined_sql("array_agg(x.task_path ORDER BY x.task_id, x.idx) FILTER (WHERE x.asks)")}
               AS paths,
           {joined_sql("array_agg(x.task_id ORDER BY x.task_id, x.idx) FILTER (WHERE x.asks)")}
               AS task_ids,
           {joined_sql("array_agg(x.type ORDER BY x.task_id, x.idx) FILTER (WHERE x.asks)")}
               AS types,
           array_agg(x.blob ORDER BY x.task_id, x.idx) FILTER (WHERE x.asks) AS blobs,
           count(*) FILTER (WHERE x.asks) AS asking
    FROM (
        SELECT cw.task_id COLLATE "C" AS task_id, cw.idx, cw.task_path, cw.type,
               CASE WHEN cw.channel = %(interrupt)s THEN cw.blob END AS blob,
               cw.channel NOT IN {NOT_OUTPUT_SQL} AS output,
               cw.channel = '__error__' AS failed,
               {node_of_path_sql("cw.task_path")} AS node,
               -- an interrupt write of a task that produced no output
               cw.channel = %(interrupt)s AND NOT bool_or(cw.channel NOT IN {NOT_OUTPUT_SQL})
                   OVER (PARTITION BY cw.task_id) AS asks
        FROM checkpoint_writes cw
        WHERE cw.thread_id = cand.thread_id AND cw.checkpoint_ns = ''
          AND cw.checkpoint_id = cand.checkpoint_id
    ) x
) w ON true
WHERE cardinality(cand.next_nodes) > 0
"""


# Without setup the queue is read in this many thread-id ranges at once, each on its own
# pooled connection: the read is one server process's CPU and page reads per head (a
# primary-key probe of every thread's head), so ranges read in parallel take about 1/N
# of the time on an N-core server. The cut points come from the planner's statistics;
# stale ones only make the ranges uneven.
NO_SETUP_PARTS = 2
# Cut points are read again when older than this (threads come and go).
_CUTS_MAX_AGE_SECONDS = 60.0

_THREAD_CUTS = """
SELECT histogram_bounds::text::text[] AS bounds
FROM pg_stats
WHERE schemaname = current_schema() AND tablename = 'checkpoints' AND attname = 'thread_id'
"""

# After setup: one index range scan of the status table, in keyset order. Its rows hold
# the head, its triggered nodes, the nodes that just ran, the nodes whose tasks finished,
# the pending interrupt writes and the metadata (kept as text: parsed on demand), so
# neither `checkpoints` nor `checkpoint_writes` is read.
_STATUS_ROWS = f"""
SELECT thread_id, checkpoint_id, parent_checkpoint_id, paused_at, next_nodes, graph_id,
       metadata_json, parent_next_nodes, done_nodes, failed_nodes,
       int_task_ids, int_task_paths, int_types, int_blobs, push_type, push_blob,
       parent_push_type, parent_push_blob
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
       CASE WHEN cardinality(int_blobs) > 1 THEN int_blobs END AS blobs,
       push_type, push_blob, parent_push_type, parent_push_blob
FROM {STATUS_TABLE}
WHERE next_nodes <> '{{{{}}}}' {{after_clause}}
ORDER BY paused_at, thread_id
{{limit_clause}}
""".replace("{shape}", STATUS_SHAPE_SQL)

# For the whole queue the planner often prefers a sequential scan of the status table
# (a tenth of its rows are open): that reads every finished thread's row, and the dead
# versions the per-checkpoint updates leave behind, so its cost grows with finished
# threads and bloat. The open-rows index (or a bitmap of it) reads only open rows.
_OPEN_ROWS_ONLY = "SET LOCAL enable_seqscan = off"
if TYPE_CHECKING:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    from console.core.serde import SafeSerializer

# One root checkpoint with the blobs of its channel values, as LangGraph's
# AsyncPostgresSaver reads it (its SELECT_SQL), without its pending writes.
# Every subgraph checkpoint saved after a root head (by the head's own tasks), for
# `nested_levels`: ids only; the newest of each namespace and its parent are read apart.
_NESTED_AFTER_HEAD = """
    SELECT c.thread_id, c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id,
           c.metadata->>'step'
    FROM unnest(%(threads)s::text[], %(ids)s::text[]) AS k(thread_id, head)
    JOIN checkpoints c
      ON c.thread_id = k.thread_id AND c.checkpoint_ns > ''
     AND c.checkpoint_id COLLATE "C" > k.head COLLATE "C"
"""

# The chosen subgraph checkpoints, with the blobs that hold `Send` packets or an input
# (the saver keeps non-primitive channel values apart; 'empty' marks an empty channel).
_NESTED_CHECKPOINTS = """
    SELECT c.thread_id, c.checkpoint_ns, c.checkpoint_id, c.checkpoint,
           b.channels, b.types, b.blobs
    FROM unnest(%(t)s::text[], %(n)s::text[], %(i)s::text[]) AS k(t, n, i)
    JOIN checkpoints c ON c.thread_id = k.t AND c.checkpoint_ns = k.n AND c.checkpoint_id = k.i
    LEFT JOIN LATERAL (
        SELECT array_agg(b.channel) AS channels, array_agg(b.type) AS types,
               array_agg(b.blob) AS blobs
        FROM checkpoint_blobs b
        WHERE b.thread_id = c.thread_id AND b.checkpoint_ns = c.checkpoint_ns
          AND b.channel IN ('__pregel_tasks', '__start__') AND b.type <> 'empty'
          AND b.version = c.checkpoint->'channel_versions'->>b.channel) b ON true
"""

_NESTED_WRITES = """
    SELECT w.thread_id, w.checkpoint_ns, w.checkpoint_id, w.task_path, w.channel
    FROM unnest(%(t)s::text[], %(n)s::text[], %(i)s::text[]) AS k(t, n, i)
    JOIN checkpoint_writes w
      ON w.thread_id = k.t AND w.checkpoint_ns = k.n AND w.checkpoint_id = k.i
"""

_CHECKPOINTS_SQL = """
SELECT checkpoint_id, parent_checkpoint_id, checkpoint, metadata,
    (SELECT array_agg(array[bl.channel::bytea, bl.type::bytea, bl.blob])
     FROM jsonb_each_text(checkpoint -> 'channel_versions')
     JOIN checkpoint_blobs bl
       ON bl.thread_id = checkpoints.thread_id AND bl.checkpoint_ns = checkpoints.checkpoint_ns
      AND bl.channel = jsonb_each_text.key AND bl.version = jsonb_each_text.value
    ) AS blobs
FROM checkpoints
WHERE thread_id = %(thread_id)s AND checkpoint_ns = '' {where}
ORDER BY checkpoint_id DESC LIMIT %(limit)s
"""

# Rows per fetch of the whole-queue read (see `PostgresStore._whole_queue`).
QUEUE_CHUNK = 5000


class PostgresStore(CheckpointStore):
    """A store over a pooled async psycopg connection."""

    def __init__(
        self,
        location: DatabaseLocation,
        registry: GraphRegistry,
        pool: AsyncConnectionPool[Any],
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        serde: SafeSerializer | None = None,
    ) -> None:
        super().__init__(location, registry, grace_seconds, serde)
        self.pool = pool
        self._saver: AsyncPostgresSaver | None = None  # built when a decision needs it
        self._has_status: bool | None = None
        self._cuts: tuple[float, list[str]] | None = None  # (when read, thread-id cuts)

    @classmethod
    async def open(
        cls,
        location: DatabaseLocation,
        registry: GraphRegistry,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        max_size: int = 8,
        *,
        create: bool = False,
        serde: SafeSerializer | None = None,
    ) -> PostgresStore:
        """Connect, check that this is a checkpointer database, and return the store."""
        pool = await open_pool(location, max_size)
        store = cls(location, registry, pool, grace_seconds, serde)
        await store.prepare(create=create)
        return store

    @property
    def saver(self) -> AsyncPostgresSaver:
        if self._saver is None:
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

            self._saver = AsyncPostgresSaver(self.pool, serde=self.serde)
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
        params: dict[str, Any] = {"thread_id": thread_id, "limit": limit}
        where = ""
        if checkpoint_id is not None:
            where += " AND checkpoint_id = %(checkpoint_id)s"
            params["checkpoint_id"] = checkpoint_id
        match = {key: value for key, value in (("source", source), ("step", step))
                 if value is not None}
        if match:
            where += " AND metadata @> %(match)s::jsonb"
            params["match"] = json.dumps(match)
        try:
            async with self.pool.connection() as conn:
                cur = await conn.execute(_CHECKPOINTS_SQL.format(where=where), params,
                                         binary=True)
                rows = await cur.fetchall()
        except psycopg.Error as exc:  # rights are said as such; anything else, an outage
            known = database_failure(exc, doing="read this thread", kept="nothing was changed")
            raise (known or DatabaseUnavailable(
                f"Reading {self.location.display()} failed: {_first_line(exc)}.")) from exc
        decode = self.decoder.loads_typed
        found = []
        for row in rows:
            checkpoint = dict(row["checkpoint"])
            values = dict(checkpoint.get("channel_values") or {})
            for channel, type_, blob in row["blobs"] or ():
                if bytes(type_) != b"empty":
                    values[bytes(channel).decode()] = decode((bytes(type_).decode(), blob))
            checkpoint["channel_values"] = values
            found.append(stored_checkpoint(thread_id, row["checkpoint_id"],
                                           row["parent_checkpoint_id"], checkpoint,
                                           row["metadata"]))
        return found

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
            "with_parent": self._with_parent(),
            "thread_ids": list(thread_ids or ()),
        }
        thread_clause = "AND thread_id = ANY(%(thread_ids)s)" if thread_ids is not None else ""
        parent_next = (f"CASE WHEN p.checkpoint IS NULL THEN NULL ELSE "
                       f"{next_nodes_sql('p.checkpoint', 'p.thread_id')} END")
        if self._has_status:
            return await self._status_heads(thread_ids, after, limit)
        query = _CANDIDATES.format(
            heads=_HEADS_BY_SCAN.format(thread_clause=thread_clause),
            next_nodes=next_nodes_sql("c.checkpoint", "c.thread_id"),
            ran=last_ran_sql("(cand.versions_seen)"),
            ran_past_gap=ran_past_gap_sql("(p.metadata->'step')", "cand.step",
                                          "(cand.versions_seen)"),
            parent_next=parent_next,
            push_type=push_blob_sql("cand.next_nodes", "cand.versions", "cand.thread_id", "type"),
            push_blob=push_blob_sql("cand.next_nodes", "cand.versions", "cand.thread_id", "blob"),
            parent_push_type=push_blob_sql("pn.parent_next_nodes", _PARENT_VERSIONS,
                                           "p.thread_id", "type"),
            parent_push_blob=push_blob_sql("pn.parent_next_nodes", _PARENT_VERSIONS,
                                           "p.thread_id", "blob"),
        )
        try:
            async with self.pool.connection() as conn:
                rows = await (await conn.execute(query, params)).fetchall()
        except psycopg.Error as exc:
            raise self._queue_failure(exc) from exc
        return [self._head_of(row) for row in rows]

    def _with_parent(self) -> bool:
        """Whether a head's parent is read: its triggers are the nodes that just ran, and
        only `interrupt_after` needs them."""
        return any(g.interrupt_after or g.interrupt_after_all for g in self.registry)

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
            raise self._queue_failure(exc) from exc

    async def _status_heads(
        self, thread_ids: Sequence[str] | None, after: Cursor | None, limit: int | None
    ) -> list[HeadState]:
        heads = []
        for (thread_id, checkpoint_id, parent_id, paused_at, next_nodes, graph_id, metadata,
             parent_next, done_nodes, failed_nodes, task_ids, task_paths, types, blobs,
             push_type, push_blob, parent_push_type, parent_push_blob
             ) in await self._status_rows(thread_ids, after, limit):
            tokens, error = _tokens(next_nodes, push_type, push_blob, self.decoder)
            if parent_next is not None:
                parent_next, _ = _tokens(parent_next, parent_push_type, parent_push_blob,
                                         self.decoder)
            head = HeadState(
                thread_id, checkpoint_id, parent_id, paused_at, metadata, tokens, error=error,
                finished_nodes=set(done_nodes) if done_nodes else set(),
                failed_nodes=set(failed_nodes) if failed_nodes else set(),
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
        params: dict[str, Any] = {"limit": limit}
        query = _QUEUE_ROWS.format(
            after_clause=_keyset(after, params),
            limit_clause="LIMIT %(limit)s" if limit is not None else "",
        )
        try:
            if not self._has_status:
                # every head, in no order (`pages_in_sql` is false: `pending` sorts, pages)
                rows = await self._no_setup_rows()
                with gc_paused():
                    pauses = self._queue_rows(rows, now, Shared(), ts_text=True)
                count, last = len(rows), None
                del rows
            elif limit is None:
                pauses, count, last = await self._whole_queue(query, params, now)
            else:
                async with self.pool.connection() as conn:
                    cur = conn.cursor(binary=True, row_factory=tuple_row)
                    await cur.execute(query, params)
                    with gc_paused():  # many small objects, no cycles: no collector passes
                        rows = await cur.fetchall()
                        pauses = self._queue_rows(rows, now, Shared())
                count = len(rows)
                last = (rows[-1][2], rows[-1][0]) if rows else None
                del rows, cur
        except psycopg.Error as exc:
            raise self._queue_failure(exc) from exc
        if count >= TRIM_AFTER_ROWS:
            release_freed_memory()  # psycopg's result buffers (the cursors are gone)
        return await self.settle(pauses), count, last

    async def _whole_queue(
        self, query: str, params: dict[str, Any], now: datetime
    ) -> tuple[list[PendingThread | None], int, Cursor | None]:
        """Every open status row, through a server-side cursor `QUEUE_CHUNK` rows at a
        time: one statement and one snapshot, but only one chunk's result buffers alive
        at once (all 100k rows' buffers at once cost ~110 MB of peak RSS next to the rows
        being built from them)."""
        pauses: list[PendingThread | None] = []
        shared = Shared()  # across chunks: equal metadata texts are one object
        count, last = 0, None
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(_OPEN_ROWS_ONLY)
            cur = conn.cursor("hitl_queue", binary=True, row_factory=tuple_row)
            await cur.execute(query, params)
            while rows := await cur.fetchmany(QUEUE_CHUNK):
                with gc_paused():
                    pauses += self._queue_rows(rows, now, shared)
                count += len(rows)
                last = (rows[-1][2], rows[-1][0])
                del rows
            await cur.close()
        return pauses, count, last

    async def _no_setup_rows(self) -> list[tuple[Any, ...]]:
        """`_NO_SETUP_ROWS` of every root thread, read in `NO_SETUP_PARTS` thread-id
        ranges at once."""
        cuts = await self._thread_cuts()
        bounds: list[str | None] = [None, *cuts, None]
        parts = []
        for lo, hi in itertools.pairwise(bounds):
            clause = ("AND thread_id >= %(lo)s " if lo is not None else "") + (
                "AND thread_id < %(hi)s" if hi is not None else "")
            params = {"interrupt": INTERRUPT_CHANNEL, "with_parent": self._with_parent(),
                      "lo": lo, "hi": hi}
            parts.append(self._fetch(_NO_SETUP_ROWS.replace("{range_clause}", clause), params))
        if len(parts) == 1:
            return await parts[0]
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(part) for part in parts]
        except ExceptionGroup as failed:  # the others were cancelled: report the first
            raise failed.exceptions[0] from None
        return [row for task in tasks for row in task.result()]

    async def _fetch(self, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(binary=True, row_factory=tuple_row)
            await cur.execute(query, params)
            with gc_paused():
                rows: list[tuple[Any, ...]] = await cur.fetchall()
            return rows

    async def _thread_cuts(self) -> list[str]:
        """Thread ids that cut the root threads into `NO_SETUP_PARTS` ranges of about equal
        size (none without statistics: one range)."""
        now = time.monotonic()
        if self._cuts is None or now - self._cuts[0] > _CUTS_MAX_AGE_SECONDS:
            async with self.pool.connection() as conn:
                cur = conn.cursor(row_factory=tuple_row)
                row = await (await cur.execute(_THREAD_CUTS)).fetchone()
            bounds: list[str] = (row[0] if row else None) or []
            cuts: list[str] = []
            if len(bounds) > 2:
                # in the histogram's order, which is the column's collation order
                for i in range(1, NO_SETUP_PARTS):
                    cut = bounds[len(bounds) * i // NO_SETUP_PARTS]
                    if not cuts or cut != cuts[-1]:
                        cuts.append(cut)
            self._cuts = (now, cuts)
        return self._cuts[1]

    def _queue_rows(
        self, rows: list[tuple[Any, ...]], now: datetime, shared: Shared, *,
        ts_text: bool = False,
    ) -> list[PendingThread | None]:
        """Classify packed rows (`_QUEUE_ROWS`, `_NO_SETUP_ROWS`: `ts_text`, the pause
        time is the checkpoint's `ts` text); payloads stay raw. `shared` makes equal
        metadata texts and serializer names one object each."""
        shapes, grace, codec, young = self.shapes, self.grace_seconds, self.codec, self.young
        pauses: list[PendingThread | None] = []
        append = pauses.append
        for (thread_id, checkpoint_id, paused_at, packed, metadata, tasks, blob, blobs,
             push_type, push_blob, parent_push_type, parent_push_blob) in rows:
            if UNREADABLE_MARK in packed and _unreadable_head(packed):
                append(PendingThread.unreadable(
                    thread_id, checkpoint_id, parse_ts(paused_at) if ts_text else paused_at,
                    _NOT_A_CHECKPOINT))
                continue
            if PUSH_MARK not in packed:
                shape = shapes(packed)
            else:  # `Send` packets are decoded per row (they name the PUSH tasks)
                try:
                    serde = self.decoder
                    shape = shapes(packed, send_nodes_of_blob(push_type, push_blob, serde),
                                   send_nodes_of_blob(parent_push_type, parent_push_blob, serde))
                except Exception as exc:  # a hostile or corrupt row: this row only
                    append(PendingThread.unreadable(
                        thread_id, checkpoint_id, parse_ts(paused_at) if ts_text else paused_at,
                        unreadable_reason(exc)))
                    continue
            if shape.kind is None:
                append(None)
                continue
            raw: tuple[RawInterrupt, ...] = ()
            if tasks is not None:
                ids, types = tasks.split(FIELD_SEP)
                types = shared[types]
                if blobs is None:
                    raw = ((ids, shape.paths[0], types, blob),)
                else:
                    raw = tuple(zip(ids.split(ITEM_SEP), shape.paths, types.split(ITEM_SEP),
                                    blobs, strict=True))
            append(pause_of(shape, thread_id, checkpoint_id,
                            parse_ts(paused_at) if ts_text else paused_at, raw,
                            None if metadata is None else shared[metadata],
                            now=now, grace_seconds=grace, codec=codec, young=young))
        return pauses

    @property
    def pages_in_sql(self) -> bool:
        return bool(self._has_status)

    def _head_of(self, row: dict[str, Any]) -> HeadState:
        tokens, error = _tokens(row["next_nodes"], row["push_type"], row["push_blob"],
                                self.decoder)
        head = HeadState(
            thread_id=row["thread_id"],
            checkpoint_id=row["checkpoint_id"],
            parent_checkpoint_id=row["parent_checkpoint_id"],
            paused_at=parse_ts(row["ts"]),
            metadata=row["metadata"],
            next_nodes=tokens,
            error=error,
            parent_next_nodes=(
                _tokens(row["parent_next_nodes"], row["parent_push_type"],
                        row["parent_push_blob"], self.decoder)[0]
                if row["parent_next_nodes"] is not None else None
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
            elif channel == ERROR_CHANNEL:
                head.add_error_write(path)
            elif channel not in CONTROL_CHANNELS:
                head.add_output_write(task_id, path)
        return head

    async def nested_levels(self, heads: Sequence[tuple[str, str]]) -> dict[str, list[Level]]:
        threads, ids = [t for t, _ in heads], [c for _, c in heads]
        try:
            async with self.pool.connection() as conn:
                cur = conn.cursor(row_factory=tuple_row)
                await cur.execute(_NESTED_AFTER_HEAD, {"threads": threads, "ids": ids})
                by_thread: dict[str, list[tuple[str, str, str | None, Any]]] = {}
                for thread_id, ns, checkpoint_id, parent_id, step in await cur.fetchall():
                    by_thread.setdefault(thread_id, []).append(
                        (ns, checkpoint_id, parent_id, int(step) if step is not None
                         and step.lstrip("-").isdigit() else None))
                chosen = {thread_id: newest_per_namespace(found)
                          for thread_id, found in by_thread.items()}
                wanted = checkpoints_to_read(chosen)
                keys = {"t": [k[0] for k in wanted], "n": [k[1] for k in wanted],
                        "i": [k[2] for k in wanted]}
                await cur.execute(_NESTED_CHECKPOINTS, keys)
                found_rows = await cur.fetchall()
                tokens = {(t, ns, i): self._level_tokens(checkpoint, zip(
                              channels or (), types or (), blobs or (), strict=True))
                          for t, ns, i, checkpoint, channels, types, blobs in found_rows}
                levels = levels_from(chosen, tokens)
                await cur.execute(_NESTED_WRITES, {
                    "t": [k[0] for k in levels], "n": [k[1] for k in levels],
                    "i": [k[2] for k in levels]})
                for thread_id, ns, checkpoint_id, task_path, channel in await cur.fetchall():
                    levels[(thread_id, ns, checkpoint_id)].add_write(task_path or "", channel)
        except psycopg.Error as exc:
            raise self._queue_failure(exc) from exc
        return levels_by_thread(levels)

    def _level_tokens(self, checkpoint: Any, blobs: Any) -> tuple[str, ...] | None:
        """A subgraph checkpoint's tokens (`inside.level_tokens`) from its JSON and its
        `__pregel_tasks` / `__start__` blobs; None if unreadable."""
        try:
            values = dict(checkpoint["channel_values"])
            for channel, type_, blob in blobs:
                if channel == "__pregel_tasks":
                    values[channel] = (light_unpackb(blob) if type_ == "msgpack"
                                       else self.decoder.loads_typed((type_, blob)))
                else:
                    values[channel] = True
            return level_tokens({**checkpoint, "channel_values": values})
        except Exception:  # a hostile or corrupt row: read as not stopped
            return None

    async def newest_nested_checkpoint(self, thread_id: str) -> str | None:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT max(checkpoint_id) AS id FROM checkpoints"
                " WHERE thread_id = %s AND checkpoint_ns <> ''", (thread_id,))).fetchone()
        return row["id"] if row else None

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

    def _queue_failure(self, exc: psycopg.Error) -> ConsoleError:
        """Missing rights are said as such (not an outage: retrying will not help)."""
        known = database_failure(exc, doing="read the queue", kept="nothing was changed")
        if isinstance(known, RightsMissing):
            return known
        return DatabaseUnavailable(
            f"Reading the queue from {self.location.display()} failed: {_first_line(exc)}.")

    async def setup(self, *, notify: bool = False) -> list[str]:
        done = []
        try:
            async with self.pool.connection() as conn, conn.transaction():
                for label, statement in setup_statements(notify=notify):
                    await conn.execute(statement)
                    done.append(label)
        except psycopg.Error as exc:
            raise setup_failure(exc, self.location.display()) from exc
        self._has_status = True
        return done


def setup_failure(exc: BaseException, where: str) -> ConsoleError:
    """Setup runs in one transaction: whatever failed, nothing was changed."""
    if getattr(exc, "sqlstate", None) == "42501":
        return RightsMissing(
            f"Only the owner of the checkpoint tables may set up {where} ({_first_line(exc)}); "
            "nothing was changed; run `hitl-console setup` as that role.")
    return database_failure(exc, doing=f"set up {where}", kept="nothing was changed") or \
        DatabaseUnavailable(f"Setting up {where} failed: {_first_line(exc)}; nothing was "
                            "changed.")


async def open_pool(
    location: DatabaseLocation, max_size: int, *, named: str = "",
    hint: str = "Check that the server is running and the URL is right.",
) -> AsyncConnectionPool[Any]:
    """The console's connection pool on `location`, open, one connection made: after a
    probe connection whose error names the cause at once. `named` (e.g. "the ledger
    database ") and `hint` word the one sentence a failure is told in."""
    await _probe(location, named=named, hint=hint)
    pool: AsyncConnectionPool[Any] = ConsolePool(
        location.target,
        min_size=1,
        max_size=max_size,
        open=False,
        timeout=POOL_TIMEOUT_SECONDS,
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
            f"Cannot connect to {named}{location.display()}: {_first_line(exc)}. {hint}"
        ) from exc
    return pool


async def _probe(location: DatabaseLocation, *, named: str = "",
                 hint: str = "Check that the server is running and the URL is right.",
                 ) -> None:
    """One direct connection first: its error names the cause (refused, auth, no such
    database) at once, where a pool would retry until its timeout."""
    try:
        conn = await psycopg.AsyncConnection.connect(
            location.target, connect_timeout=int(CONNECT_TIMEOUT_SECONDS))
    except psycopg.Error as exc:
        raise DatabaseUnavailable(
            f"Cannot connect to {named}{location.display()}: {_first_line(exc)}. {hint}"
        ) from exc
    await conn.close()


async def _configure_connection(conn: psycopg.AsyncConnection[Any]) -> None:
    # JIT compilation added 0.6-0.8 s to the queue queries here (langgraph-notes.md).
    # Set per session rather than through `options`, which would replace the URL's own.
    await conn.execute("SET jit = off")


def _unreadable_head(packed: str) -> bool:
    """Whether a packed status row's own tokens (not its parent's) hold UNREADABLE_MARK."""
    return UNREADABLE_MARK in packed.split(FIELD_SEP, 2)[1].split(ITEM_SEP)


_NOT_A_CHECKPOINT = ("not a checkpoint (channel_values, channel_versions or versions_seen "
                     "is not an object, or a version is not a value)")


def _tokens(
    tokens: Sequence[str], push_type: str | None, push_blob: bytes | None, serde: Any = None
) -> tuple[tuple[str, ...], str | None]:
    """A status row's task tokens with its `Send` packets named, and why they cannot be
    read (None when they can)."""
    if UNREADABLE_MARK in tokens:
        return (), _NOT_A_CHECKPOINT
    try:
        return expand_push(tokens, send_nodes_of_blob(push_type, push_blob, serde)), None
    except Exception as exc:  # a hostile or corrupt row: this row only
        return tuple(t for t in tokens if t != PUSH_MARK), unreadable_reason(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].rstrip(".") if text else type(exc).__name__


def _keyset(after: Cursor | None, params: dict[str, Any]) -> str:
    """The status-table clause for the page after `after` (its values go to `params`)."""
    if after is None:
        return ""
    params["after_ts"], params["after_id"] = after
    return "AND (paused_at, thread_id) > (%(after_ts)s, %(after_id)s)"
