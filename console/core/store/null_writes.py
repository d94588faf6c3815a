"""Clearing the null task's writes the console left on a paused subgraph checkpoint.

The savers have no call to delete a write, and they never replace one (a write with the
same task id and index is ignored), so an edit the console stored for a nested pause
(`console/core/nested.py`) that did not run must be deleted here, in each saver's own
table, before another decision on that pause stores its own. Only the null task's rows
of one (thread, namespace, checkpoint) are touched: LangGraph itself writes null-task
rows only on the checkpoint a `Command` resumes, the root's, never a subgraph's.
"""

from __future__ import annotations

from typing import Any

NULL_TASK_ID = "00000000-0000-0000-0000-000000000000"


async def clear_null_writes(store: Any, thread_id: str, checkpoint_ns: str,
                            checkpoint_id: str) -> int:
    """Delete the null task's writes on one subgraph checkpoint; returns how many."""
    if not checkpoint_ns:
        raise ValueError("the root namespace's null writes belong to LangGraph's Commands")
    params = (thread_id, checkpoint_ns, checkpoint_id, NULL_TASK_ID)
    if store.location.backend == "postgres":
        async with store.pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_ns = %s"
                " AND checkpoint_id = %s AND task_id = %s", params)
            return int(cur.rowcount)
    async with store.lock:
        cur = await store.conn.execute(
            "DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = ?"
            " AND checkpoint_id = ? AND task_id = ?", params)
        await store.conn.commit()
        return int(cur.rowcount)
