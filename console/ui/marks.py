"""Marks for bulk actions: a mark is a thread *and the checkpoint it was marked on*.

Never a row index: rows come and go under a live refresh and a filter, and a mark must
neither drift to another thread nor carry over to a state the reviewer did not see. A
thread that moved on since it was marked keeps its mark, flagged stale; rejecting it then
fails as a conflict (the core checks the checkpoint), which is the safe answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from console.core.models import PendingThread
from console.core.pause_id import pause_id_of

if TYPE_CHECKING:
    from console.core.ledger.apply import BulkTarget


@dataclass(frozen=True, slots=True)
class Mark:
    thread_id: str
    checkpoint_id: str
    graph: str | None
    nodes: tuple[str, ...]
    # the row marked: its questions make the pause_id a bulk decision expects (decoded
    # only then, so marking every row of a long queue stays cheap)
    thread: PendingThread | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, thread: PendingThread) -> Mark:
        return cls(thread.thread_id, thread.checkpoint_id, thread.graph, thread.nodes, thread)

    @property
    def expect(self) -> str:
        """What a decision on this mark expects: the pause_id marked (the checkpoint alone
        cannot tell a question answered since from the one marked)."""
        return pause_id_of(self.thread) if self.thread is not None else self.checkpoint_id

    @property
    def gate(self) -> str:
        """`graph/node` for the confirm dialog's breakdown."""
        return f"{self.graph or '?'}/{','.join(self.nodes) or '-'}"


class MarkBook:
    """The marked pauses, in the order they were marked."""

    def __init__(self) -> None:
        self._marks: dict[str, Mark] = {}
        self.anchor: str | None = None  # the thread last toggled: one end of a `v` range

    def __len__(self) -> int:
        return len(self._marks)

    def __iter__(self) -> Iterator[Mark]:
        return iter(list(self._marks.values()))

    def __contains__(self, thread_id: object) -> bool:
        return thread_id in self._marks

    def get(self, thread_id: str) -> Mark | None:
        return self._marks.get(thread_id)

    def state(self, thread: PendingThread) -> str:
        """'' (not marked), 'marked', or 'stale' (marked on an older checkpoint)."""
        mark = self._marks.get(thread.thread_id)
        if mark is None:
            return ""
        return "marked" if mark.checkpoint_id == thread.checkpoint_id else "stale"

    def toggle(self, thread: PendingThread) -> bool:
        """Mark or unmark one thread; True if it is marked now."""
        self.anchor = thread.thread_id
        if thread.thread_id in self._marks:
            del self._marks[thread.thread_id]
            return False
        self._marks[thread.thread_id] = Mark.of(thread)
        return True

    def add(self, threads: Iterable[PendingThread]) -> int:
        """Mark threads (a mark already there keeps its checkpoint); how many were new."""
        added = 0
        for thread in threads:
            if thread.thread_id not in self._marks:
                self._marks[thread.thread_id] = Mark.of(thread)
                added += 1
        return added

    def remove(self, thread_ids: Iterable[str]) -> int:
        removed = 0
        for thread_id in thread_ids:
            if self._marks.pop(thread_id, None) is not None:
                removed += 1
        return removed

    def clear(self) -> None:
        self._marks.clear()
        self.anchor = None

    def prune(self, pending_ids: Collection[str]) -> list[Mark]:
        """Drop marks of threads no longer pending at all; return what was dropped."""
        gone = [m for m in self._marks.values() if m.thread_id not in pending_ids]
        for mark in gone:
            del self._marks[mark.thread_id]
        return gone

    def targets(self) -> list[BulkTarget]:
        """What `reject_many` is given: each thread with the checkpoint it was marked on."""
        from console.core.ledger.apply import BulkTarget  # the decision path, when used

        return [BulkTarget(m.thread_id, m.expect) for m in self._marks.values()]

    def breakdown(self) -> list[tuple[str, int]]:
        """(graph/node, count), most marks first, then by name."""
        counts = Counter(m.gate for m in self._marks.values())
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def hidden(self, shown_ids: Collection[str]) -> int:
        """Marks on threads the current filter hides."""
        return sum(1 for m in self._marks.values() if m.thread_id not in shown_ids)

    def stale(self, heads: dict[str, str]) -> int:
        """Marks whose thread has moved on to another checkpoint (`heads`: id -> head)."""
        return sum(1 for m in self._marks.values()
                   if m.thread_id in heads and heads[m.thread_id] != m.checkpoint_id)
