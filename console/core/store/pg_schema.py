"""DDL that `hitl-console setup` installs in a Postgres checkpointer database.

Everything is idempotent (`IF NOT EXISTS`, `CREATE OR REPLACE`) and runs in one
transaction, so a half-done setup never exists.
"""

from __future__ import annotations

STATUS_TABLE = "hitl_thread_status"
NOTIFY_CHANNEL = "hitl_console_changes"


def next_nodes_sql(checkpoint: str) -> str:
    """SQL for the nodes whose `branch:to:` trigger is available and unseen in a checkpoint.

    Mirrors LangGraph's `prepare_next_tasks`: primitive channel values (a trigger holds
    None) live inline in `checkpoint->'channel_values'`; versions compare as strings.
    """
    return f"""ARRAY(
        SELECT substr(t.key, 11)
        FROM jsonb_each_text({checkpoint}->'channel_versions') AS t(key, version)
        WHERE starts_with(t.key, 'branch:to:')
          AND ({checkpoint}->'channel_values') ? t.key
          AND t.version COLLATE "C" >
              coalesce({checkpoint}->'versions_seen'->substr(t.key, 11)->>t.key, '') COLLATE "C"
        ORDER BY 1
    )"""


_STATUS_DDL = f"""
CREATE TABLE IF NOT EXISTS {STATUS_TABLE} (
    thread_id text PRIMARY KEY,
    checkpoint_id text NOT NULL,
    paused_at timestamptz NOT NULL,
    next_nodes text[] NOT NULL DEFAULT '{{}}',
    graph_id text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS {STATUS_TABLE}_open_idx
    ON {STATUS_TABLE} (paused_at, thread_id) WHERE next_nodes <> '{{}}';
"""

_STATUS_FUNCTION = f"""
CREATE OR REPLACE FUNCTION hitl_track_head() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {STATUS_TABLE} AS s (thread_id, checkpoint_id, paused_at, next_nodes, graph_id)
    VALUES (
        NEW.thread_id,
        NEW.checkpoint_id,
        coalesce((NEW.checkpoint->>'ts')::timestamptz, now()),
        {next_nodes_sql("NEW.checkpoint")},
        NEW.metadata->>'graph_id'
    )
    ON CONFLICT (thread_id) DO UPDATE
        SET checkpoint_id = EXCLUDED.checkpoint_id,
            paused_at = EXCLUDED.paused_at,
            next_nodes = EXCLUDED.next_nodes,
            graph_id = EXCLUDED.graph_id,
            updated_at = now()
        WHERE s.checkpoint_id <= EXCLUDED.checkpoint_id;
    RETURN NULL;
END $$;
"""

_STATUS_TRIGGER = """
DROP TRIGGER IF EXISTS hitl_track_head ON checkpoints;
CREATE TRIGGER hitl_track_head
    AFTER INSERT OR UPDATE ON checkpoints
    FOR EACH ROW WHEN (NEW.checkpoint_ns = '')
    EXECUTE FUNCTION hitl_track_head();
"""

# Rows written before the trigger existed; the SHARE lock keeps writers out meanwhile so
# no head slips between the backfill and the trigger.
_STATUS_BACKFILL = f"""
LOCK TABLE checkpoints IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO {STATUS_TABLE} (thread_id, checkpoint_id, paused_at, next_nodes, graph_id)
SELECT c.thread_id, c.checkpoint_id,
       coalesce((c.checkpoint->>'ts')::timestamptz, now()),
       {next_nodes_sql("c.checkpoint")},
       c.metadata->>'graph_id'
FROM (
    SELECT thread_id, max(checkpoint_id) AS checkpoint_id
    FROM checkpoints WHERE checkpoint_ns = '' GROUP BY thread_id
) h
JOIN checkpoints c
  ON c.thread_id = h.thread_id AND c.checkpoint_ns = '' AND c.checkpoint_id = h.checkpoint_id
ON CONFLICT (thread_id) DO UPDATE
    SET checkpoint_id = EXCLUDED.checkpoint_id, paused_at = EXCLUDED.paused_at,
        next_nodes = EXCLUDED.next_nodes, graph_id = EXCLUDED.graph_id, updated_at = now();
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
        ("head-tracking trigger", _STATUS_FUNCTION + _STATUS_TRIGGER),
        ("status backfill", _STATUS_BACKFILL),
    ]
    if notify:
        steps.append(("change notifications", _NOTIFY))
    return steps
