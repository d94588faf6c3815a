"""DDL that `hitl-console setup` installs in a Postgres checkpointer database.

Everything is idempotent (`IF NOT EXISTS`, `ADD COLUMN IF NOT EXISTS`, `CREATE OR
REPLACE`) and runs in one transaction, so a half-done setup never exists and running it
again upgrades an older install (new columns, new functions, full backfill).

`hitl_thread_status` holds one row per root thread: its head checkpoint and everything a
queue row needs, so the queue is one index range scan of this table in keyset order and
never touches `checkpoints` or `checkpoint_writes`:

- head: checkpoint id, parent id, `ts`, triggered nodes (`next_nodes`), metadata as JSON
  text (only while the head has next nodes: finished threads keep none), graph id;
- `parent_next_nodes`: the parent's triggered nodes, i.e. the nodes that just ran (what
  `interrupt_after` needs); taken from the previous status row when the new head's parent
  is the previous head, read from the parent checkpoint otherwise (forks, rare);
- the head's writes, as far as classification needs them: pending interrupt writes
  (`int_*` arrays, one entry per (task, idx): task id, task path, serializer type, blob)
  and the nodes whose tasks produced output (`done_nodes`: LangGraph leaves finished
  parallel tasks out of `next`). An output write of a task that had asked removes its
  interrupts (one of parallel interrupts answered by id).

Triggers: a row trigger on root `checkpoints` inserts/updates (the head moves on: writes
state reset), a row trigger on root `checkpoint_writes` inserts/updates of `__interrupt__`
(the saver upserts interrupt writes: a re-ask at the same checkpoint replaces the row) and
of each task's first output write, and statement triggers on deletes (threads deleted or
pruned: their rows are recomputed from what is left).

Output writes are what tell a task finished (any write on a channel other than the
control channels). LangGraph saves a finished task's writes in one `put_writes` call, and
always at least one output (`__no_writes__` when it produced none); the savers number
that list's entries from 0 but give control channels fixed negative slots. The list starts
with one `__resume__` entry per question the task was answered (all upserted into one
slot), then its outputs: a task answered k times has its first output at idx k, so every
output write with idx >= 0 fires the trigger (its unlocked first read makes the repeats of
a recorded node cheap).

Writes and their checkpoint can commit in either order (LangGraph saves both in the
background), and the status row is where they meet, without the checkpoint trigger ever
reading `checkpoint_writes` in the usual case. A write for a checkpoint newer than the
row's head (its checkpoint has not committed) marks that id in `early_checkpoint_ids`
(for a thread with no row yet, a placeholder row with head '' and no next nodes holds the
mark); the checkpoint's trigger upserts the row, sees its own id marked and recomputes
the row from the tables. Both sides change the row with an UPDATE/upsert whose WHERE
re-checks the head, so whichever comes second waits for the other's row lock and then
sees its committed result: a write that waited finds its checkpoint is the head now and
applies itself; a checkpoint that waited finds the mark. Writes for the head that record
nothing new (a node already recorded) read the row without locking it.
"""

from __future__ import annotations

from console.core.pauses import PUSH_MARK, PUSH_PREFIX, RAN_PREFIX, START_MARK, UNREADABLE_MARK

STATUS_TABLE = "hitl_thread_status"
NOTIFY_CHANNEL = "hitl_console_changes"
# Columns the queue reads; an install without the last one predates them (run setup).
STATUS_VERSION_COLUMN = "failed_nodes"

# `heads.CONTROL_CHANNELS` as an SQL list: writes that do not mean their task finished
NOT_OUTPUT_SQL = "('__interrupt__', '__resume__', '__error__', '__error_source_node__')"


def next_nodes_sql(checkpoint: str, thread: str) -> str:
    """SQL for a checkpoint's head-task tokens (`console.core.pauses`), `thread` the SQL
    of its thread id."""
    return next_nodes_of_parts_sql(f"({checkpoint}->'channel_values')",
                                   f"({checkpoint}->'channel_versions')",
                                   f"({checkpoint}->'versions_seen')",
                                   f"({checkpoint}->'updated_channels')", thread)


def blob_held_sql(channel: str, versions: str, thread: str) -> str:
    """Whether the root blob of `channel` at its current version holds a value (the saver
    stores non-primitive values in `checkpoint_blobs`, an empty channel as type 'empty')."""
    return (f"EXISTS (SELECT 1 FROM checkpoint_blobs b WHERE b.thread_id = {thread} "
            f"AND b.checkpoint_ns = '' AND b.channel = '{channel}' "
            f"AND b.version = {versions}->>'{channel}' AND b.type <> 'empty')")


# a JSON path filter: the item is a container (where a version or a channel name belongs)
_NESTED = '(@.type() == "object" || @.type() == "array")'


def next_nodes_of_parts_sql(
    values: str, versions: str, seen: str, updated: str, thread: str
) -> str:
    """`next_nodes_sql` on a checkpoint's parts taken out already: a compressed checkpoint
    is decompressed by every operator applied to it, so a query that reads several parts
    takes each out once.

    The tokens, as `pauses.tokens_of_checkpoint` gives them: PUSH_MARK when the
    `__pregel_tasks` channel holds packets, then the PULL nodes, sorted: `branch:to:`
    triggers (primitive values, None, live inline in `channel_values`) and the `__start__`
    subscriber (START_MARK when nothing has seen `__start__`). Versions compare as
    strings. Packets and an input are written in the step before the checkpoint, so
    `updated_channels` names their channel (checked first: the blob probe is rarer)."""
    tasks_held = blob_held_sql("__pregel_tasks", versions, thread)
    start_held = blob_held_sql("__start__", versions, thread)
    # PUSH mark, sorted PULL nodes, then the `__start__` subscriber; the subqueries for
    # packets and an input run only for heads whose last step wrote them (rare)
    # `updated_channels` missing, or JSON null (`aupdate_state` saves it so): not known
    unknown = f"jsonb_typeof({updated}) IS DISTINCT FROM 'array'"
    push = (f"CASE WHEN ({unknown} OR {updated} ? '__pregel_tasks') "
            f"AND {versions} ? '__pregel_tasks' AND {tasks_held} "
            f"THEN ARRAY['{PUSH_MARK}'] ELSE '{{}}'::text[] END")
    pull = f"""ARRAY(
            SELECT substr(t.key, 11)
            FROM jsonb_each_text({versions}) AS t(key, version)
            WHERE starts_with(t.key, 'branch:to:')
              AND {values} ? t.key
              AND t.version COLLATE "C" >
                  coalesce({seen}->substr(t.key, 11)->>t.key, '') COLLATE "C"
            ORDER BY substr(t.key, 11) COLLATE "C")"""
    start = f"""CASE WHEN ({unknown} OR {updated} ? '__start__')
              AND {versions} ? '__start__' THEN ARRAY(
            SELECT s.node
            FROM (SELECT coalesce(
                (SELECT k.key FROM jsonb_each({seen}) AS k(key, value)
                 WHERE k.key <> '__input__' AND jsonb_typeof(k.value) = 'object'
                   AND k.value ? '__start__' LIMIT 1), '{START_MARK}') AS node) s
            WHERE ({versions}->>'__start__') COLLATE "C" >
                  coalesce({seen}->s.node->>'__start__', '') COLLATE "C"
              AND ({values} ? '__start__' OR {start_held})) ELSE '{{}}'::text[] END"""
    # a version or channel name that is none (a damaged row, too deep for any reader to
    # load) would read as "no task": unreadable (tested only for heads with no task)
    damaged = (f"jsonb_path_exists({versions}, '$.* ? {_NESTED}') "
               f"OR jsonb_path_exists({seen}, '$.*.* ? {_NESTED}') "
               f"OR jsonb_path_exists({updated}, '$[*] ? {_NESTED}')")
    # parts that are not objects (a damaged row): UNREADABLE_MARK, never an error that
    # fails the whole query (or an application's insert, through the status trigger)
    return f"""CASE WHEN jsonb_typeof({values}) IS DISTINCT FROM 'object'
        OR jsonb_typeof({versions}) IS DISTINCT FROM 'object'
        OR jsonb_typeof({seen}) IS DISTINCT FROM 'object'
    THEN ARRAY['{UNREADABLE_MARK}'] ELSE coalesce(
        nullif({push} || {pull} || {start}, '{{}}'::text[]),
        CASE WHEN {damaged} THEN ARRAY['{UNREADABLE_MARK}'] ELSE '{{}}'::text[] END) END"""


def last_ran_sql(seen: str) -> str:
    """`pauses.last_ran` as RAN_PREFIX tokens: the nodes whose `versions_seen` holds the
    greatest version (they ran in the newest step; `interrupt_after` asks about them when
    the parent checkpoint was never saved). Parts that are not objects (a damaged row)
    read as empty: jsonb_each on them would fail the whole query."""
    seen = f"(CASE WHEN jsonb_typeof({seen}) = 'object' THEN {seen} END)"
    each = ("jsonb_each_text(CASE WHEN jsonb_typeof(n.seen) = 'object' THEN n.seen END) "
            "AS v(channel, version)")
    top = (f"(SELECT max(v.version COLLATE \"C\") FROM jsonb_each({seen}) AS n(node, seen), "
           f"{each} WHERE NOT starts_with(n.node, '__'))")
    return f"""ARRAY(
        SELECT '{RAN_PREFIX}' || n.node
        FROM jsonb_each({seen}) AS n(node, seen), {each}
        WHERE NOT starts_with(n.node, '__')
        GROUP BY n.node
        HAVING max(v.version COLLATE "C") = {top}
        ORDER BY 1
    )"""


def ran_past_gap_sql(parent_step: str, step: str, seen: str) -> str:
    """`last_ran_sql` when the saved parent is not the step just before the head, else
    none: durability "exit" saves only a run's last checkpoint, whose parent (the
    previous run's) holds tasks that ran steps earlier; what ran last then comes from
    `versions_seen`, as `pauses.tokens_of_checkpoint` (SQLite's reader) takes it.
    `parent_step`, `step`: the two metadata `step` values as jsonb (anything but two
    numbers reads as no gap: never an error in an application's insert)."""
    return (f"CASE WHEN jsonb_typeof({parent_step}) = 'number' "
            f"AND jsonb_typeof({step}) = 'number' "
            f"AND ({parent_step})::numeric < ({step})::numeric - 1 "
            f"THEN {last_ran_sql(seen)} ELSE '{{}}'::text[] END")


def push_blob_sql(tokens: str, versions: str, thread: str, column: str) -> str:
    """The `__pregel_tasks` blob's `column` (type or blob) when `tokens` hold PUSH_MARK
    (NULL otherwise): the reader names the PUSH tasks from its packets."""
    return (f"CASE WHEN '{PUSH_MARK}' = ANY({tokens}) THEN (SELECT b.{column} "
            f"FROM checkpoint_blobs b WHERE b.thread_id = {thread} AND b.checkpoint_ns = '' "
            f"AND b.channel = '__pregel_tasks' AND b.version = {versions}->>'__pregel_tasks') "
            f"END")


def node_of_path_sql(path: str) -> str:
    """`pauses.task_key` of a stored task path (NULL where that gives None or ""): a PULL
    task's node, PUSH_PREFIX + the packet index of a PUSH task."""
    parts = f"string_to_array(btrim({path}, '~()'), ',')"
    second = f"btrim(({parts})[2])"
    return (f"CASE WHEN cardinality({parts}) < 2 THEN NULL "
            f"WHEN btrim(({parts})[1]) = '__pregel_pull' THEN {second} "
            f"WHEN btrim(({parts})[1]) = '__pregel_push' AND {second} ~ '^[0-9]+$' "
            f"THEN '{PUSH_PREFIX}' || ({second})::numeric::text END")


def joined_sql(array: str) -> str:
    """An array's items as one text, split by `heads.ITEM_SEP` (NULL items dropped)."""
    return f"array_to_string({array}, E'\\x1f')"


# A status row packed for the queue (`heads.ShapeClassifier`): one text per row instead of
# five arrays (psycopg converts arrays slowly): graph id ("=" prefix, empty when NULL),
# triggered nodes, finished nodes, the parent's triggered nodes, pending interrupts' task
# paths ("=" prefix: a path may be empty); fields split by \x1e, list items by \x1f (no
# node name holds either).
STATUS_SHAPE_SQL = (
    "concat('=' || graph_id, E'\\x1e', " + joined_sql("next_nodes") + ", E'\\x1e', "
    + joined_sql("done_nodes") + ", E'\\x1e', " + joined_sql("parent_next_nodes")
    + ", E'\\x1e', CASE WHEN cardinality(int_task_paths) > 0 THEN '=' || "
    + joined_sql("int_task_paths") + " END, E'\\x1e', " + joined_sql("failed_nodes") + ")"
)

_STATUS_DDL = f"""
CREATE TABLE IF NOT EXISTS {STATUS_TABLE} (
    thread_id text PRIMARY KEY,
    checkpoint_id text NOT NULL,
    paused_at timestamptz NOT NULL,
    next_nodes text[] NOT NULL DEFAULT '{{}}',
    graph_id text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE {STATUS_TABLE}
    ADD COLUMN IF NOT EXISTS parent_checkpoint_id text,
    ADD COLUMN IF NOT EXISTS parent_next_nodes text[],
    ADD COLUMN IF NOT EXISTS metadata_json text,
    ADD COLUMN IF NOT EXISTS done_nodes text[] NOT NULL DEFAULT '{{}}',
    ADD COLUMN IF NOT EXISTS int_task_ids text[] NOT NULL DEFAULT '{{}}',
    ADD COLUMN IF NOT EXISTS int_task_paths text[] NOT NULL DEFAULT '{{}}',
    ADD COLUMN IF NOT EXISTS int_idx integer[] NOT NULL DEFAULT '{{}}',
    ADD COLUMN IF NOT EXISTS int_types text[] NOT NULL DEFAULT '{{}}',
    ADD COLUMN IF NOT EXISTS int_blobs bytea[] NOT NULL DEFAULT '{{}}',
    ADD COLUMN IF NOT EXISTS early_checkpoint_ids text[],
    -- the head's `Send` packets (`__pregel_tasks` blob) while its tokens hold PUSH_MARK
    ADD COLUMN IF NOT EXISTS push_type text,
    ADD COLUMN IF NOT EXISTS push_blob bytea,
    -- the same of the parent (its PUSH tasks just ran: `interrupt_after` on a Send target)
    ADD COLUMN IF NOT EXISTS parent_push_type text,
    ADD COLUMN IF NOT EXISTS parent_push_blob bytea,
    -- task keys of the head's tasks with an `__error__` write (failed, not paused)
    ADD COLUMN IF NOT EXISTS {STATUS_VERSION_COLUMN} text[] NOT NULL DEFAULT '{{}}';
-- room on each page for HOT updates: the writes trigger's updates change no indexed column
ALTER TABLE {STATUS_TABLE} SET (fillfactor = 70);
CREATE INDEX IF NOT EXISTS {STATUS_TABLE}_open_idx
    ON {STATUS_TABLE} (paused_at, thread_id) WHERE next_nodes <> '{{}}';
"""

# The status rows of some threads (all when the filter is TRUE), computed from the
# checkpoint tables: used by the backfill and after deletes. `{where}` filters `thread_id`.
_COMPUTE_ROWS = f"""
SELECT c.thread_id, c.checkpoint_id,
       coalesce(hitl_ts(c.checkpoint->>'ts'), now()) AS paused_at,
       n.next_nodes,
       c.metadata->>'graph_id' AS graph_id,
       c.parent_checkpoint_id,
       CASE WHEN cardinality(n.next_nodes) = 0 THEN pn.parent_next_nodes
            WHEN p.checkpoint IS NULL THEN {last_ran_sql("(c.checkpoint->'versions_seen')")}
            ELSE pn.parent_next_nodes || {ran_past_gap_sql(
                "(p.metadata->'step')", "(c.metadata->'step')",
                "(c.checkpoint->'versions_seen')")} END AS parent_next_nodes,
       CASE WHEN cardinality(n.next_nodes) > 0 THEN c.metadata::text END AS metadata_json,
       coalesce(w.done_nodes, '{{}}') AS done_nodes,
       coalesce(f.failed_nodes, '{{}}') AS failed_nodes,
       coalesce(i.task_ids, '{{}}') AS int_task_ids,
       coalesce(i.task_paths, '{{}}') AS int_task_paths,
       coalesce(i.idx, '{{}}') AS int_idx,
       coalesce(i.types, '{{}}') AS int_types,
       coalesce(i.blobs, '{{}}') AS int_blobs,
       {push_blob_sql("n.next_nodes", "(c.checkpoint->'channel_versions')", "c.thread_id", "type")}
           AS push_type,
       {push_blob_sql("n.next_nodes", "(c.checkpoint->'channel_versions')", "c.thread_id", "blob")}
           AS push_blob,
       {push_blob_sql("pn.parent_next_nodes", "(p.checkpoint->'channel_versions')", "p.thread_id",
                      "type")} AS parent_push_type,
       {push_blob_sql("pn.parent_next_nodes", "(p.checkpoint->'channel_versions')", "p.thread_id",
                      "blob")} AS parent_push_blob
FROM (
    SELECT thread_id, max(checkpoint_id) AS checkpoint_id
    FROM checkpoints WHERE checkpoint_ns = '' AND {{where}} GROUP BY thread_id
) h
CROSS JOIN LATERAL (
    SELECT * FROM checkpoints c
    WHERE c.thread_id = h.thread_id AND c.checkpoint_ns = '' AND c.checkpoint_id = h.checkpoint_id
    OFFSET 0
) c
CROSS JOIN LATERAL (SELECT {next_nodes_sql("c.checkpoint", "c.thread_id")} AS next_nodes) n
LEFT JOIN checkpoints p
  ON p.thread_id = c.thread_id AND p.checkpoint_ns = '' AND p.checkpoint_id = c.parent_checkpoint_id
CROSS JOIN LATERAL (
    SELECT CASE WHEN p.checkpoint IS NOT NULL
                THEN {next_nodes_sql("p.checkpoint", "p.thread_id")} END AS parent_next_nodes
) pn
LEFT JOIN LATERAL (
    SELECT array_agg(DISTINCT cw.task_id) AS done_tasks,
           array_remove(array_agg(DISTINCT {node_of_path_sql("cw.task_path")}), NULL)
               AS done_nodes
    FROM checkpoint_writes cw
    WHERE cw.thread_id = c.thread_id AND cw.checkpoint_ns = ''
      AND cw.checkpoint_id = c.checkpoint_id AND cw.channel NOT IN {NOT_OUTPUT_SQL}
) w ON true
LEFT JOIN LATERAL (
    SELECT array_remove(array_agg(DISTINCT {node_of_path_sql("cw.task_path")}), NULL)
               AS failed_nodes
    FROM checkpoint_writes cw
    WHERE cw.thread_id = c.thread_id AND cw.checkpoint_ns = ''
      AND cw.checkpoint_id = c.checkpoint_id AND cw.channel = '__error__'
) f ON true
LEFT JOIN LATERAL (
    SELECT array_agg(cw.task_id ORDER BY cw.task_id, cw.idx) AS task_ids,
           array_agg(cw.task_path ORDER BY cw.task_id, cw.idx) AS task_paths,
           array_agg(cw.idx ORDER BY cw.task_id, cw.idx) AS idx,
           array_agg(cw.type ORDER BY cw.task_id, cw.idx) AS types,
           array_agg(cw.blob ORDER BY cw.task_id, cw.idx) AS blobs
    FROM checkpoint_writes cw
    WHERE cw.thread_id = c.thread_id AND cw.checkpoint_ns = ''
      AND cw.checkpoint_id = c.checkpoint_id AND cw.channel = '__interrupt__'
      AND NOT (cw.task_id = ANY(coalesce(w.done_tasks, '{{}}')))
) i ON true
"""

_COLUMNS = ("thread_id, checkpoint_id, paused_at, next_nodes, graph_id, parent_checkpoint_id, "
            "parent_next_nodes, metadata_json, done_nodes, failed_nodes, int_task_ids, "
            "int_task_paths, int_idx, int_types, int_blobs, push_type, push_blob, "
            "parent_push_type, parent_push_blob")
_UPSERT_ALL = ", ".join(
    f"{c} = EXCLUDED.{c}" for c in _COLUMNS.split(", ") if c != "thread_id"
) + ", updated_at = now()"

# A checkpoint's `ts` as a time, NULL when it is not one: a damaged row must not fail the
# backfill, nor (through the trigger) the application's own insert.
_TS_FUNCTION = """
CREATE OR REPLACE FUNCTION hitl_ts(value text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN value::timestamptz;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;
"""

_REFRESH_FUNCTION = f"""
CREATE OR REPLACE FUNCTION hitl_refresh_threads(p_threads text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {STATUS_TABLE} WHERE thread_id = ANY(p_threads);
    INSERT INTO {STATUS_TABLE} ({_COLUMNS})
    {_COMPUTE_ROWS.replace("{where}", "thread_id = ANY(p_threads)")}
    ON CONFLICT (thread_id) DO UPDATE SET {_UPSERT_ALL};
END $$;
"""

_HEAD_FUNCTION = f"""
CREATE OR REPLACE FUNCTION hitl_track_head() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    -- each part taken out once: a big checkpoint is stored compressed, and every
    -- `NEW.checkpoint->...` would decompress it again
    ck_vals jsonb := NEW.checkpoint->'channel_values';
    ck_vers jsonb := NEW.checkpoint->'channel_versions';
    ck_seen jsonb := NEW.checkpoint->'versions_seen';
    ck_upd jsonb := NEW.checkpoint->'updated_channels';
    nxt text[] := {next_nodes_of_parts_sql("ck_vals", "ck_vers", "ck_seen", "ck_upd",
                                           "NEW.thread_id")};
    push_t text;
    push_b bytea;
    moved boolean;
    early text[];
BEGIN
    IF '{PUSH_MARK}' = ANY(nxt) THEN
        -- (a statement of its own: inside the INSERT the lookup cost every checkpoint)
        SELECT b.type, b.blob INTO push_t, push_b FROM checkpoint_blobs b
        WHERE b.thread_id = NEW.thread_id AND b.checkpoint_ns = ''
          AND b.channel = '__pregel_tasks'
          AND b.version = ck_vers->>'__pregel_tasks';
    END IF;
    INSERT INTO {STATUS_TABLE} AS s (thread_id, checkpoint_id, paused_at, next_nodes, graph_id,
                                  parent_checkpoint_id, parent_next_nodes, metadata_json,
                                  push_type, push_blob)
    VALUES (
        NEW.thread_id,
        NEW.checkpoint_id,
        coalesce(hitl_ts(NEW.checkpoint->>'ts'), now()),
        nxt,
        NEW.metadata->>'graph_id',
        NEW.parent_checkpoint_id,
        NULL,
        CASE WHEN cardinality(nxt) > 0 THEN NEW.metadata::text END,
        push_t,
        push_b
    )
    ON CONFLICT (thread_id) DO UPDATE
        SET checkpoint_id = EXCLUDED.checkpoint_id,
            paused_at = EXCLUDED.paused_at,
            next_nodes = EXCLUDED.next_nodes,
            graph_id = EXCLUDED.graph_id,
            parent_checkpoint_id = EXCLUDED.parent_checkpoint_id,
            -- the usual case: the new head's parent is the previous head
            -- (NULL: read from the parent below; RAN_PREFIX tokens: `last_ran_sql`)
            parent_next_nodes = CASE
                WHEN s.checkpoint_id = EXCLUDED.checkpoint_id THEN s.parent_next_nodes
                WHEN s.checkpoint_id = EXCLUDED.parent_checkpoint_id THEN s.next_nodes
                    || {ran_past_gap_sql("(s.metadata_json::jsonb->'step')",
                                         "(NEW.metadata->'step')", "ck_seen")}
                END,
            metadata_json = EXCLUDED.metadata_json,
            push_type = EXCLUDED.push_type,
            push_blob = EXCLUDED.push_blob,
            parent_push_type = CASE
                WHEN s.checkpoint_id = EXCLUDED.checkpoint_id THEN s.parent_push_type
                WHEN s.checkpoint_id = EXCLUDED.parent_checkpoint_id THEN s.push_type
                END,
            parent_push_blob = CASE
                WHEN s.checkpoint_id = EXCLUDED.checkpoint_id THEN s.parent_push_blob
                WHEN s.checkpoint_id = EXCLUDED.parent_checkpoint_id THEN s.push_blob
                END,
            done_nodes = CASE WHEN s.checkpoint_id = EXCLUDED.checkpoint_id
                              THEN s.done_nodes ELSE '{{}}' END,
            failed_nodes = CASE WHEN s.checkpoint_id = EXCLUDED.checkpoint_id
                                THEN s.failed_nodes ELSE '{{}}' END,
            int_task_ids = CASE WHEN s.checkpoint_id = EXCLUDED.checkpoint_id
                                THEN s.int_task_ids ELSE '{{}}' END,
            int_task_paths = CASE WHEN s.checkpoint_id = EXCLUDED.checkpoint_id
                                  THEN s.int_task_paths ELSE '{{}}' END,
            int_idx = CASE WHEN s.checkpoint_id = EXCLUDED.checkpoint_id
                           THEN s.int_idx ELSE '{{}}' END,
            int_types = CASE WHEN s.checkpoint_id = EXCLUDED.checkpoint_id
                             THEN s.int_types ELSE '{{}}' END,
            int_blobs = CASE WHEN s.checkpoint_id = EXCLUDED.checkpoint_id
                             THEN s.int_blobs ELSE '{{}}' END,
            -- writes that came before their checkpoint (see hitl_track_write): keep
            -- the ids of this checkpoint and later ones, drop older ones
            early_checkpoint_ids = CASE WHEN s.early_checkpoint_ids IS NOT NULL THEN
                nullif(ARRAY(SELECT e FROM unnest(s.early_checkpoint_ids) AS e
                             WHERE e COLLATE "C" >= EXCLUDED.checkpoint_id), '{{}}') END,
            updated_at = now()
        WHERE s.checkpoint_id <= EXCLUDED.checkpoint_id
    RETURNING (xmax = 0) OR parent_next_nodes IS NULL, early_checkpoint_ids INTO moved, early;
    IF NOT FOUND THEN
        RETURN NULL;  -- an older checkpoint than the head (written late): nothing changes
    END IF;
    IF moved AND NEW.parent_checkpoint_id IS NOT NULL THEN
        -- a new thread row, or a head whose parent was not the previous head (a fork)
        UPDATE {STATUS_TABLE} s
        SET parent_next_nodes = pn.nxt || {ran_past_gap_sql(
                "(p.metadata->'step')", "(NEW.metadata->'step')", "ck_seen")},
            parent_push_type = {push_blob_sql("pn.nxt", "(p.checkpoint->'channel_versions')",
                                              "p.thread_id", "type")},
            parent_push_blob = {push_blob_sql("pn.nxt", "(p.checkpoint->'channel_versions')",
                                              "p.thread_id", "blob")}
        FROM checkpoints p
        CROSS JOIN LATERAL (
            SELECT {next_nodes_sql("p.checkpoint", "p.thread_id")} AS nxt) pn
        WHERE s.thread_id = NEW.thread_id AND p.thread_id = NEW.thread_id
          AND p.checkpoint_ns = '' AND p.checkpoint_id = NEW.parent_checkpoint_id;
    END IF;
    IF moved AND cardinality(nxt) > 0 AND (NEW.parent_checkpoint_id IS NULL OR NOT FOUND) THEN
        -- no saved parent (durability "exit" saves none; a thread's first checkpoint has
        -- none, once per thread): what ran comes from the head
        UPDATE {STATUS_TABLE}
        SET parent_next_nodes = {last_ran_sql("ck_seen")}
        WHERE thread_id = NEW.thread_id;
    END IF;
    IF NEW.checkpoint_id = ANY(early) THEN
        -- writes of this checkpoint committed before it (rare): take them in now, and
        -- keep the marks of later checkpoints
        PERFORM hitl_refresh_threads(ARRAY[NEW.thread_id]);
        early := ARRAY(SELECT e FROM unnest(early) AS e WHERE e COLLATE "C" > NEW.checkpoint_id);
        IF cardinality(early) > 0 THEN
            UPDATE {STATUS_TABLE} SET early_checkpoint_ids = early WHERE thread_id = NEW.thread_id;
        END IF;
    END IF;
    RETURN NULL;
END $$;
"""

_WRITE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION hitl_track_write() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    head text;
    done text[];
    tasks text[];
    node text;
BEGIN
    -- Most writes are output writes of a task at the head whose node is recorded already,
    -- or writes for older checkpoints: one unlocked read decides. Every change below is an
    -- UPDATE whose WHERE re-checks the head, so a checkpoint committing concurrently is
    -- seen (READ COMMITTED re-evaluates the WHERE on the row it waited for).
    SELECT checkpoint_id, done_nodes, int_task_ids INTO head, done, tasks
    FROM {STATUS_TABLE} WHERE thread_id = NEW.thread_id;
    IF NOT FOUND THEN
        -- the thread's first checkpoint has not committed: leave a mark for it
        INSERT INTO {STATUS_TABLE} (thread_id, checkpoint_id, paused_at, early_checkpoint_ids)
        VALUES (NEW.thread_id, '', now(), ARRAY[NEW.checkpoint_id])
        ON CONFLICT (thread_id) DO NOTHING;
        IF FOUND THEN
            RETURN NULL;
        END IF;
        SELECT checkpoint_id, done_nodes, int_task_ids INTO head, done, tasks
        FROM {STATUS_TABLE} WHERE thread_id = NEW.thread_id;
    END IF;
    IF head COLLATE "C" > NEW.checkpoint_id THEN
        RETURN NULL;  -- a write for an older checkpoint: stale
    END IF;
    IF head COLLATE "C" < NEW.checkpoint_id THEN
        -- its checkpoint has not committed yet: mark the id, and that checkpoint's trigger
        -- reads its writes (it waits for this row lock, then sees the mark)
        UPDATE {STATUS_TABLE}
        SET early_checkpoint_ids = CASE
            WHEN NEW.checkpoint_id = ANY(early_checkpoint_ids) THEN early_checkpoint_ids
            ELSE coalesce(early_checkpoint_ids, '{{}}') || NEW.checkpoint_id END
        WHERE thread_id = NEW.thread_id AND checkpoint_id COLLATE "C" < NEW.checkpoint_id;
        IF FOUND THEN
            RETURN NULL;
        END IF;
        -- the checkpoint committed meanwhile
        SELECT checkpoint_id, done_nodes, int_task_ids INTO head, done, tasks
        FROM {STATUS_TABLE} WHERE thread_id = NEW.thread_id;
        IF head IS DISTINCT FROM NEW.checkpoint_id THEN
            RETURN NULL;
        END IF;
    END IF;
    IF NEW.channel = '__error__' THEN
        -- a task failed (rare): it is not finished, and not waiting for a human either
        node := {node_of_path_sql("NEW.task_path")};
        IF node IS NOT NULL THEN
            UPDATE {STATUS_TABLE} SET failed_nodes = failed_nodes || node
            WHERE thread_id = NEW.thread_id AND checkpoint_id = NEW.checkpoint_id
              AND NOT (node = ANY(failed_nodes));
        END IF;
        RETURN NULL;
    END IF;
    IF NEW.channel <> '__interrupt__' AND NOT (NEW.task_id = ANY(tasks)) THEN
        -- an output write of a task that did not ask: record its node once
        node := {node_of_path_sql("NEW.task_path")};
        IF node IS NOT NULL AND NOT (node = ANY(done)) THEN
            UPDATE {STATUS_TABLE} SET done_nodes = done_nodes || node
            WHERE thread_id = NEW.thread_id AND checkpoint_id = NEW.checkpoint_id
              AND NOT (node = ANY(done_nodes));
        END IF;
        RETURN NULL;
    END IF;
    -- Interrupts (rare): lock the row and work on its newest version.
    SELECT checkpoint_id, done_nodes, int_task_ids INTO head, done, tasks
    FROM {STATUS_TABLE} WHERE thread_id = NEW.thread_id FOR NO KEY UPDATE;
    IF head IS DISTINCT FROM NEW.checkpoint_id THEN
        RETURN NULL;
    END IF;
    IF NEW.channel = '__interrupt__' THEN
        -- add, or replace the task's entry with the same idx (a node asking again)
        UPDATE {STATUS_TABLE} s
        SET int_task_ids = x.task_ids, int_task_paths = x.task_paths, int_idx = x.idx,
            int_types = x.types, int_blobs = x.blobs, updated_at = now()
        FROM (
            SELECT array_agg(e.task_id ORDER BY e.task_id, e.idx) AS task_ids,
                   array_agg(e.task_path ORDER BY e.task_id, e.idx) AS task_paths,
                   array_agg(e.idx ORDER BY e.task_id, e.idx) AS idx,
                   array_agg(e.type ORDER BY e.task_id, e.idx) AS types,
                   array_agg(e.blob ORDER BY e.task_id, e.idx) AS blobs
            FROM (
                SELECT u.task_id, u.task_path, u.idx, u.type, u.blob
                FROM {STATUS_TABLE} t,
                     unnest(t.int_task_ids, t.int_task_paths, t.int_idx, t.int_types,
                            t.int_blobs) AS u(task_id, task_path, idx, type, blob)
                WHERE t.thread_id = NEW.thread_id
                  AND (u.task_id, u.idx) IS DISTINCT FROM (NEW.task_id, NEW.idx)
                UNION ALL
                SELECT NEW.task_id, NEW.task_path, NEW.idx, NEW.type, NEW.blob
            ) e
        ) x
        WHERE s.thread_id = NEW.thread_id;
        RETURN NULL;
    END IF;
    -- an output write: the task finished
    node := {node_of_path_sql("NEW.task_path")};
    IF NEW.task_id = ANY(tasks) THEN
        -- it had asked (one of parallel interrupts answered by id): drop its interrupts
        UPDATE {STATUS_TABLE} s
        SET done_nodes = CASE WHEN node IS NULL OR node = ANY(s.done_nodes) THEN s.done_nodes
                              ELSE s.done_nodes || node END,
            int_task_ids = coalesce(x.task_ids, '{{}}'),
            int_task_paths = coalesce(x.task_paths, '{{}}'),
            int_idx = coalesce(x.idx, '{{}}'),
            int_types = coalesce(x.types, '{{}}'),
            int_blobs = coalesce(x.blobs, '{{}}'),
            updated_at = now()
        FROM (
            SELECT array_agg(u.task_id ORDER BY o) AS task_ids,
                   array_agg(u.task_path ORDER BY o) AS task_paths,
                   array_agg(u.idx ORDER BY o) AS idx,
                   array_agg(u.type ORDER BY o) AS types,
                   array_agg(u.blob ORDER BY o) AS blobs
            FROM {STATUS_TABLE} t,
                 unnest(t.int_task_ids, t.int_task_paths, t.int_idx, t.int_types, t.int_blobs)
                     WITH ORDINALITY AS u(task_id, task_path, idx, type, blob, o)
            WHERE t.thread_id = NEW.thread_id AND u.task_id <> NEW.task_id
        ) x
        WHERE s.thread_id = NEW.thread_id;
    ELSIF node IS NOT NULL AND NOT (node = ANY(done)) THEN
        UPDATE {STATUS_TABLE} SET done_nodes = done_nodes || node
        WHERE thread_id = NEW.thread_id;
    END IF;
    RETURN NULL;
END $$;
"""

_FORGET_FUNCTION = f"""
CREATE OR REPLACE FUNCTION hitl_forget_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    threads text[];
BEGIN
    SELECT array_agg(DISTINCT o.thread_id) INTO threads
    FROM old_rows o JOIN {STATUS_TABLE} s
      ON s.thread_id = o.thread_id AND s.checkpoint_id = o.checkpoint_id
    WHERE o.checkpoint_ns = '';
    IF threads IS NOT NULL THEN
        PERFORM hitl_refresh_threads(threads);
    END IF;
    RETURN NULL;
END $$;
"""

_TRIGGERS = """
DROP TRIGGER IF EXISTS hitl_track_head ON checkpoints;
CREATE TRIGGER hitl_track_head
    AFTER INSERT OR UPDATE ON checkpoints
    FOR EACH ROW WHEN (NEW.checkpoint_ns = '')
    EXECUTE FUNCTION hitl_track_head();
DROP TRIGGER IF EXISTS hitl_track_write ON checkpoint_writes;
CREATE TRIGGER hitl_track_write
    AFTER INSERT OR UPDATE ON checkpoint_writes
    FOR EACH ROW WHEN (NEW.checkpoint_ns = '' AND (NEW.channel IN ('__interrupt__', '__error__')
        OR (NEW.idx >= 0 AND NEW.channel NOT IN ('__resume__', '__error__',
                                                '__error_source_node__'))))
    EXECUTE FUNCTION hitl_track_write();
DROP TRIGGER IF EXISTS hitl_forget_heads ON checkpoints;
CREATE TRIGGER hitl_forget_heads
    AFTER DELETE ON checkpoints REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION hitl_forget_rows();
DROP TRIGGER IF EXISTS hitl_forget_writes ON checkpoint_writes;
CREATE TRIGGER hitl_forget_writes
    AFTER DELETE ON checkpoint_writes REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION hitl_forget_rows();
"""

# Rows written before the trigger existed (and every row of an older install: recomputed);
# the SHARE ROW EXCLUSIVE locks keep writers out meanwhile so nothing slips between the
# backfill and the triggers.
_STATUS_BACKFILL = f"""
LOCK TABLE checkpoints, checkpoint_writes IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO {STATUS_TABLE} ({_COLUMNS})
{_COMPUTE_ROWS.replace("{where}", "true")}
ON CONFLICT (thread_id) DO UPDATE SET {_UPSERT_ALL};
DELETE FROM {STATUS_TABLE} s
WHERE NOT EXISTS (SELECT 1 FROM checkpoints c WHERE c.thread_id = s.thread_id
                  AND c.checkpoint_ns = '');
ANALYZE {STATUS_TABLE};
"""

# Live refresh: one notification per new root checkpoint and per root write. Interrupts
# land after their checkpoint (sometimes much later) and are upserted when a node asks
# again; answering one interrupt by id changes only writes at the same head.
_NOTIFY = f"""
CREATE OR REPLACE FUNCTION hitl_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{NOTIFY_CHANNEL}', NEW.thread_id);
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS hitl_notify_checkpoint ON checkpoints;
CREATE TRIGGER hitl_notify_checkpoint
    AFTER INSERT ON checkpoints
    FOR EACH ROW WHEN (NEW.checkpoint_ns = '')
    EXECUTE FUNCTION hitl_notify_change();
DROP TRIGGER IF EXISTS hitl_notify_interrupt ON checkpoint_writes;
CREATE TRIGGER hitl_notify_interrupt
    AFTER INSERT OR UPDATE ON checkpoint_writes
    FOR EACH ROW WHEN (NEW.checkpoint_ns = '')
    EXECUTE FUNCTION hitl_notify_change();
"""


def setup_statements(*, notify: bool) -> list[tuple[str, str]]:
    """(label, SQL) pairs for `setup`, in order."""
    steps = [
        ("status table", _STATUS_DDL),
        ("head-tracking trigger",
         _TS_FUNCTION + _REFRESH_FUNCTION + _HEAD_FUNCTION + _WRITE_FUNCTION + _FORGET_FUNCTION
         + _TRIGGERS),
        ("status backfill", _STATUS_BACKFILL),
    ]
    if notify:
        steps.append(("change notifications", _NOTIFY))
    return steps
