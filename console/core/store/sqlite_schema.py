"""DDL that `hitl-console setup` installs in a SQLite checkpointer database.

SQLite stores each checkpoint as one msgpack blob that SQL cannot read, so unlike the
Postgres status table (`pg_schema`) the triggers here only track *which checkpoint is
each root thread's head*; the console itself decodes a head once and records in the same
row whether it has triggered nodes (`triggered`):

- NULL: not decoded yet (a new head: every new root checkpoint resets it);
- 0: no triggered node (a finished run, or a thread between runs): it can only become a
  pause with a new checkpoint, which resets the row, so the queue never looks at it again;
- 1: triggered nodes: a candidate, whose writes the queue reads on every read (an
  `interrupt()` lands as a write after its checkpoint, and answers by id change writes
  only). The row then also holds the decoded facts classification needs (triggered
  nodes, `ts`, parent id, metadata, graph id), so a console start reads no checkpoint
  blob for it: reading and decoding them was half the cost of a fresh read. (A parent
  is still decoded for each breakpoint head when a loaded graph has `interrupt_after`.)

The queue reads the rows with `triggered IS NOT 0` through a partial index, so its cost
follows the open heads, not the number of threads. Finished rows are small (the facts
are NULL), and an open row is a few hundred bytes: fit for a WITHOUT ROWID table.

The triggers run inside the application's own statements, with the application's SQLite
library, so they are plain SQL (no functions of the console's) and avoid UPSERT: every
statement in them is conflict-free (an UPDATE guarded by the head order, then an INSERT
of a thread that has no row). That keeps them valid on any SQLite an application may use,
and immune to the rule that the firing statement's conflict policy (the saver writes
with `INSERT OR REPLACE`) overrides the one of statements inside a trigger.

Checkpoint ids are uuid6 and compare as text: the head is `max(checkpoint_id)`, as the
saver's own `get_tuple` finds it. Paths the triggers cover:

- `INSERT OR REPLACE` of a new checkpoint: the row moves to it (NULL state), unless the
  stored head is newer (an older checkpoint written late never moves the head back); the
  same id written again resets the state (the content may differ). REPLACE's implicit
  delete fires no delete trigger unless `recursive_triggers` is on; if it is, the delete
  trigger recomputes the row first and the insert trigger then sets it: the same result.
- `DELETE` (`adelete_thread`, pruning): when the deleted row was the head, the thread's
  row is recomputed from what is left (gone when nothing is).
- `UPDATE` of checkpoint rows (the saver never does; a migration might): both threads'
  rows recomputed.
"""

from __future__ import annotations

HEADS_TABLE = "hitl_sqlite_heads"
HEADS_INDEX = "hitl_sqlite_heads_open"
# The open heads in queue order: a page of the queue is read from it alone (a first
# page of 500 at 20k threads in a few ms instead of reading every open head).
PAGE_INDEX = "hitl_sqlite_heads_queue"
HEAD_TRIGGERS = ("hitl_sqlite_head_insert", "hitl_sqlite_head_delete", "hitl_sqlite_head_update")

_TABLE = f"""
CREATE TABLE IF NOT EXISTS {HEADS_TABLE} (
    thread_id TEXT PRIMARY KEY,
    checkpoint_id TEXT NOT NULL,
    triggered INTEGER,  -- NULL: not decoded yet; 0: no triggered node; 1: triggered nodes
    -- with triggered = 1, the head's decoded facts (NULL otherwise):
    next_nodes TEXT,  -- the triggered nodes, split by heads.ITEM_SEP
    paused_at TEXT,  -- the checkpoint's ts, ISO 8601 UTC
    parent_checkpoint_id TEXT,
    metadata BLOB,  -- as stored in checkpoints.metadata
    graph_id TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS {HEADS_INDEX}
    ON {HEADS_TABLE} (triggered) WHERE triggered IS NOT 0;
CREATE INDEX IF NOT EXISTS {PAGE_INDEX}
    ON {HEADS_TABLE} (paused_at, thread_id) WHERE triggered = 1;
"""

_RESET = ("triggered = NULL, next_nodes = NULL, paused_at = NULL, parent_checkpoint_id = NULL,"
          " metadata = NULL, graph_id = NULL")

# Recompute the rows of the threads `{threads}` (an SQL list) from `checkpoints`.
_RECOMPUTE = f"""
    DELETE FROM {HEADS_TABLE} WHERE thread_id IN ({{threads}});
    INSERT INTO {HEADS_TABLE} (thread_id, checkpoint_id, triggered)
    SELECT thread_id, max(checkpoint_id), NULL FROM checkpoints
    WHERE thread_id IN ({{threads}}) AND checkpoint_ns = ''
    GROUP BY thread_id;
"""

# DROP + CREATE: running setup again installs the current definitions.
_TRIGGERS = f"""
DROP TRIGGER IF EXISTS hitl_sqlite_head_insert;
CREATE TRIGGER hitl_sqlite_head_insert AFTER INSERT ON checkpoints
WHEN NEW.checkpoint_ns = ''
BEGIN
    UPDATE {HEADS_TABLE} SET checkpoint_id = NEW.checkpoint_id, {_RESET}
    WHERE thread_id = NEW.thread_id AND checkpoint_id <= NEW.checkpoint_id;
    INSERT INTO {HEADS_TABLE} (thread_id, checkpoint_id, triggered)
    SELECT NEW.thread_id, NEW.checkpoint_id, NULL
    WHERE NOT EXISTS (SELECT 1 FROM {HEADS_TABLE} WHERE thread_id = NEW.thread_id);
END;
DROP TRIGGER IF EXISTS hitl_sqlite_head_delete;
CREATE TRIGGER hitl_sqlite_head_delete AFTER DELETE ON checkpoints
WHEN OLD.checkpoint_ns = ''
BEGIN
    DELETE FROM {HEADS_TABLE}
    WHERE thread_id = OLD.thread_id AND checkpoint_id = OLD.checkpoint_id;
    INSERT INTO {HEADS_TABLE} (thread_id, checkpoint_id, triggered)
    SELECT thread_id, max(checkpoint_id), NULL FROM checkpoints
    WHERE thread_id = OLD.thread_id AND checkpoint_ns = ''
      AND NOT EXISTS (SELECT 1 FROM {HEADS_TABLE} WHERE thread_id = OLD.thread_id)
    GROUP BY thread_id;
END;
DROP TRIGGER IF EXISTS hitl_sqlite_head_update;
CREATE TRIGGER hitl_sqlite_head_update AFTER UPDATE ON checkpoints
WHEN OLD.checkpoint_ns = '' OR NEW.checkpoint_ns = ''
BEGIN
{_RECOMPUTE.format(threads="OLD.thread_id, NEW.thread_id")}
END;
"""

# Every root thread's head, all undecoded: heads written before the triggers existed, and
# on a second run a full repair (states are decoded again right after).
_BACKFILL = f"""
DELETE FROM {HEADS_TABLE};
INSERT INTO {HEADS_TABLE} (thread_id, checkpoint_id, triggered)
SELECT thread_id, max(checkpoint_id), NULL FROM checkpoints
WHERE checkpoint_ns = '' GROUP BY thread_id;
"""

# The queue's read after setup: the heads that may be pauses (the partial index finds them).
OPEN_HEADS = f"""
    SELECT thread_id, checkpoint_id, triggered, next_nodes, paused_at, parent_checkpoint_id,
           metadata, graph_id
    FROM {HEADS_TABLE} INDEXED BY {HEADS_INDEX}
    WHERE triggered IS NOT 0
"""

# Heads not decoded yet (new since the last read): decoded before a page is read.
UNDECODED_HEADS = f"""
    SELECT thread_id, checkpoint_id
    FROM {HEADS_TABLE} INDEXED BY {HEADS_INDEX}
    WHERE triggered IS NOT 0 AND triggered IS NULL
"""

# One page of the open heads in queue order (`paused_at` is ISO 8601 UTC text, which
# sorts as the time does), after a keyset cursor or from the start.
_PAGE = f"""
    SELECT thread_id, checkpoint_id, triggered, next_nodes, paused_at, parent_checkpoint_id,
           metadata, graph_id
    FROM {HEADS_TABLE} INDEXED BY {PAGE_INDEX}
    WHERE triggered = 1 {{after}}
    ORDER BY paused_at, thread_id LIMIT ?
"""
FIRST_PAGE = _PAGE.format(after="")
PAGE_AFTER = _PAGE.format(after="AND (paused_at, thread_id) > (?, ?)")

# Recording a decoded state, only on the row it was decoded for and only while it is
# still undecoded: a head that moved meanwhile has another checkpoint id. (A new write of
# the *same* id would pass this test; the saver never rewrites a stored id, and its
# content would have to differ for the recorded state to be wrong.)
RECORD_STATE = f"""
    UPDATE {HEADS_TABLE}
    SET triggered = ?, next_nodes = ?, paused_at = ?, parent_checkpoint_id = ?, metadata = ?,
        graph_id = ?
    WHERE thread_id = ? AND checkpoint_id = ? AND triggered IS NULL
"""


def setup_script() -> list[tuple[str, str]]:
    """(label, SQL script) pairs for `setup`, to run in one transaction, in order."""
    return [
        ("head table", _TABLE),
        ("head-tracking triggers", _TRIGGERS),
        ("head backfill", _BACKFILL),
    ]
