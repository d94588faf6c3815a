"""Keeping a failed resume's answer from being replayed.

When a node receives its answer through `interrupt()`, LangGraph records the task's
answers as a `__resume__` write on the pause's checkpoint straight away. If the node
then raises, that write stays, and the next `Command(resume=...)` finds it first: the
task gets the failed attempt's answer again and the new one is ignored. A rejection
decided after a failed approval would run as the approval.

So before resuming, the console notes each paused task's recorded answers; if the
resume fails and the head is still the pause, every task that failed gets its earlier
answers back (an empty list when it had none, which LangGraph reads as "no answers
yet"). Tasks that finished keep their writes: they are not run again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

# LangGraph's channel names (langgraph.checkpoint.serde.types.ERROR / RESUME), written
# out so that importing the ledger does not import LangGraph (tests/unit check them).
ERROR_CHANNEL = "__error__"
RESUME_CHANNEL = "__resume__"

Answers = dict[str, list[Any]]  # task id -> the answers it has recorded


def _checkpoint_config(thread_id: str, checkpoint_id: str) -> Any:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": "",
                             "checkpoint_id": checkpoint_id}}


async def recorded_answers(
    saver: BaseCheckpointSaver[Any], thread_id: str, checkpoint_id: str,
    task_ids: Iterable[str],
) -> Answers:
    """The answers each of `task_ids` has recorded on the checkpoint (missing: none)."""
    wanted = set(task_ids)
    found: Answers = {task: [] for task in wanted}
    saved = await saver.aget_tuple(_checkpoint_config(thread_id, checkpoint_id))
    for task_id, channel, value in (saved.pending_writes or []) if saved else []:
        if task_id in wanted and channel == RESUME_CHANNEL:
            found[task_id] = list(value) if isinstance(value, list) else [value]
    return found


async def forget_failed_answers(
    saver: BaseCheckpointSaver[Any], thread_id: str, checkpoint_id: str, before: Answers,
) -> list[str]:
    """Give each paused task that failed on this checkpoint its answers from `before`;
    returns the task ids restored. Call it only while the head is still the checkpoint."""
    config = _checkpoint_config(thread_id, checkpoint_id)
    saved = await saver.aget_tuple(config)
    if saved is None:
        return []
    writes = saved.pending_writes or []
    failed = {task for task, channel, _ in writes if channel == ERROR_CHANNEL} & before.keys()
    answered = {task for task, channel, _ in writes if channel == RESUME_CHANNEL}
    restored = sorted(failed & answered)
    for task_id in restored:
        # `__resume__` has a fixed write index, so this replaces the failed attempt's row.
        await saver.aput_writes(config, [(RESUME_CHANNEL, before[task_id])], task_id)
    return restored
