"""The pause token: which question a decision answers, not only which checkpoint.

A node that calls `interrupt()` again after an answer keeps its checkpoint id (LangGraph
writes no checkpoint until the node returns) and gets a new interrupt id: the id is the
hash of the task's namespace and of how many answers the task already holds. So a
checkpoint id alone cannot tell question 2 from question 1. Worse, LangGraph matches a
resume keyed by the *first* question's id to the task's next unanswered question (kept
for ids saved by older versions), so a stale answer would silently answer the new one.

`pause_id` = `<checkpoint_id>:<digest of the sorted pending interrupt ids>`: printed by
`pending --json` and `show --json`, taken by `--expect`, sent by the TUI for what the
reviewer read. Opaque by design; a breakpoint (no interrupt ids) has the digest of none.
A bare checkpoint id is still accepted while no question at that checkpoint has been
answered; `Decider.plan` decides that from the ledger and the checkpoint's `__resume__`
writes.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from console.core.errors import UsageError
from console.core.ledger.rows import interrupts_key
from console.core.models import PendingThread

SEPARATOR = ":"  # checkpoint ids are uuid6 text: never a colon
DIGEST_CHARS = 12  # 48 bits: tells the questions of one checkpoint apart


def questions_digest(interrupt_ids: Iterable[str]) -> str:
    """The short, order-independent digest of a pause's pending interrupt ids."""
    key = interrupts_key(interrupt_ids)
    return hashlib.blake2b(key.encode(), digest_size=DIGEST_CHARS // 2).hexdigest()


def pause_id(checkpoint_id: str, interrupt_ids: Iterable[str]) -> str:
    """The token naming one pause: its checkpoint and the questions pending there."""
    return f"{checkpoint_id}{SEPARATOR}{questions_digest(interrupt_ids)}"


def pause_id_of(pause: PendingThread) -> str:
    return pause_id(pause.checkpoint_id, pause.interrupt_ids)


@dataclass(frozen=True, slots=True)
class Expectation:
    """What `--expect` (or the TUI) says the reviewer read."""

    checkpoint_id: str
    digest: str | None  # None: a bare checkpoint id (which question is not known)

    def same_questions(self, pause: PendingThread) -> bool:
        return self.digest is None or self.digest == questions_digest(pause.interrupt_ids)


def parse_expect(raw: str) -> Expectation:
    """A `pause_id` or a bare checkpoint id; anything else is a usage error."""
    text = raw.strip()
    checkpoint, sep, digest = text.rpartition(SEPARATOR)
    if not sep:
        if not text:
            raise UsageError("--expect is empty: pass a pause_id (from `pending --json`) or "
                             "a checkpoint id.")
        if not _is_uuid(text):  # LangGraph's checkpoint ids are UUIDs: this is a typo
            raise UsageError(f"--expect {raw!r} is neither a pause_id (CHECKPOINT:"
                             f"{'x' * DIGEST_CHARS}, as `pending --json` prints it) nor a "
                             "checkpoint id (a UUID).")
        return Expectation(text, None)
    if not checkpoint or len(digest) != DIGEST_CHARS or \
            any(c not in "0123456789abcdef" for c in digest):
        raise UsageError(f"--expect {raw!r} is not a pause_id (CHECKPOINT:{'x' * DIGEST_CHARS}, "
                         "as `pending --json` prints it) nor a checkpoint id.")
    return Expectation(checkpoint, digest)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def new_question(thread_id: str, pause: PendingThread, *, by: str = "",
                 seen_ids: Iterable[str] | None = None) -> str:
    """The conflict sentence for a pause whose questions changed on the same checkpoint:
    names what the graph asks now and its `pause_id`, so the reviewer can read, then
    decide on exactly that. When the questions read are known and some of them simply
    got answered elsewhere (parallel interrupts answered by id), it says so instead."""
    seen = set(seen_ids or ())
    now = set(pause.interrupt_ids)
    if seen and now < seen:
        answered = len(seen - now)
        were = "was" if answered == 1 else "were"
        return (f"Conflict on {thread_id}: {answered} of the {len(seen)} interrupts you saw "
                f"{were} answered elsewhere; {len(now)} still wait"
                f"{'s' if len(now) == 1 else ''}. Nothing was sent; decide again on what is "
                "left.")
    summary = " ".join((pause.summary or "").split())
    if len(summary) > 160:
        summary = summary[:157] + "..."
    waiting = len(pause.interrupt_ids)
    what = (f"it now asks: {summary!r}" if waiting <= 1
            else f"{waiting} questions wait now: {summary!r}")
    return (f"Conflict on {thread_id}: the question at checkpoint {pause.checkpoint_id} "
            f"changed since you read it{by}; {what} (pause_id {pause_id_of(pause)}). "
            "Nothing was run; read it, then decide with that pause_id.")


RESUME_CHANNEL = "__resume__"  # langgraph's RESUME; named here so read paths stay light


async def answer_recorded(saver: Any, thread_id: str, checkpoint_id: str) -> bool:
    """Whether any task at this root checkpoint holds an answer (a `__resume__` write).

    LangGraph writes a task's answers there as soon as `interrupt()` returns one, and a
    plain `Command(resume=v)` leaves one under the null task: either way a question at
    this checkpoint was answered, by whatever client. An empty list is "no answers" (what
    the console restores after a failed resume).
    """
    config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": "",
                               "checkpoint_id": checkpoint_id}}
    saved = await saver.aget_tuple(config)
    return any(channel == RESUME_CHANNEL and value not in (None, [])
               for _task, channel, value in (saved.pending_writes or [] if saved else []))
