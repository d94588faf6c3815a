"""The queue filter in the TUI: `QueueSearch` runs the parsed filter (the core's
`console.core.filter_query`) over the queue in memory with the core's meaning
(`matches`, `search_text`), fast enough for every keystroke at 100k rows.
"""

from __future__ import annotations

from datetime import datetime
from itertools import compress

from console.core.filter_query import (
    EMPTY,
    KEYS,
    SYNTAX_HINT,
    FilterQuery,
    narrows,
    parse_filter,
)
from console.core.models import PendingFilter, PendingThread
from console.core.store.heads import found, matches, search_needle, search_parts

__all__ = ["EMPTY", "KEYS", "SYNTAX_HINT", "FilterQuery", "QueueSearch", "narrows",
           "parse_filter"]

Result = tuple[list[PendingThread], list[str], list[str]]  # threads passing, their texts


class _Texts:
    """The search texts of a list of threads, as their two `search_parts` in aligned
    lists: the folded thread id (the thread's own string when folding leaves it alone)
    and the rest, one string per distinct rest (a gate's pauses share them)."""

    __slots__ = ("chars", "ids", "rests", "shared")

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.rests: list[str] = []
        self.shared: dict[str, str] = {}  # each distinct rest, once
        self.chars: set[str] = set()  # every character of the folded ids (or more)

    def parts(self, folded_id: str, rest: str) -> tuple[str, str]:
        """The parts as kept: the rest shared, the id's characters noted."""
        self.chars.update(folded_id)
        return folded_id, self.shared.setdefault(rest, rest)

    def append(self, folded_id: str, rest: str) -> None:
        folded_id, rest = self.parts(folded_id, rest)
        self.ids.append(folded_id)
        self.rests.append(rest)

    def passing(self, needle: str, ids: list[str], rests: list[str]) -> list[bool]:
        """Which of these texts (of this index) hold `needle` (a `search_needle`)."""
        if " " in needle:
            return [found(needle, i, r) for i, r in zip(ids, rests, strict=True)]
        # Each distinct rest is looked at once; ids only if they could hold the needle
        # (ids are often hex, so most words cannot be in them).
        hits = {r for r in self.shared if needle in r}
        if self.chars.issuperset(needle):
            return [r in hits or needle in i for i, r in zip(ids, rests, strict=True)]
        return [r in hits for r in rests]


class QueueSearch:
    """The queue through a filter, fast enough to run on every keystroke at 100k rows.

    Each thread's search text (the core's `search_text`, the one `pending --search`
    uses) is computed once, as its `search_parts` (`_Texts`: sharing the parts that
    repeat saves ~12 MB at 100k rows). The owner keeps the texts aligned with its list
    by reporting in-place changes (`inserted`, `removed`), so a live refresh costs one
    text, not one per row. A new list object is re-indexed (`index_step`, a few hundred
    rows at a time), reusing the texts of the threads it still holds.

    While the query only grows (`ac` -> `acm`), the previous result is narrowed rather
    than the whole queue; the results of the query's earlier states are kept, so
    backspacing is a lookup.
    """

    RESULTS_KEPT = 12

    def __init__(self) -> None:
        self._threads: list[PendingThread] | None = None
        self._texts = _Texts()
        self._results: dict[PendingFilter, Result] = {}
        # an index being built a step at a time: the list, its texts so far, and the
        # texts of the previous index to reuse by thread (`id()`: those threads are kept
        # alive by `self._threads` until the new index replaces it)
        self._building: list[PendingThread] | None = None
        self._built = _Texts()
        self._reuse: dict[int, tuple[str, str]] = {}

    def ready(self, threads: list[PendingThread]) -> bool:
        """Whether `threads` is indexed (as it is now)."""
        return threads is self._threads and len(threads) == len(self._texts.ids)

    def prepare(self, threads: list[PendingThread]) -> None:
        """Index `threads` now, or finish indexing it."""
        while not self.index_step(threads, len(threads) + 1):
            pass

    def index_step(self, threads: list[PendingThread], rows: int) -> bool:
        """Index up to `rows` more threads of `threads`; True once all of them are.

        At 100k rows the texts take ~1-2 s to compute (summaries are decoded from the
        stored payloads), so the owner runs this in small steps after each full load,
        between keystrokes, rather than when the reviewer first types.
        """
        if self.ready(threads):
            return True
        if threads is not self._building:
            self._building, self._built = threads, _Texts()
            texts = self._texts
            self._reuse = {id(t): (i, r) for t, i, r in
                           zip(self._threads or (), texts.ids, texts.rests, strict=True)}
        built, reuse = self._built, self._reuse
        for thread in threads[len(built.ids):len(built.ids) + rows]:
            built.append(*(reuse.get(id(thread)) or search_parts(thread)))
        if len(built.ids) < len(threads):
            return False
        self._threads, self._texts = threads, built
        self._building, self._built, self._reuse = None, _Texts(), {}
        self._results.clear()
        return True

    def forget(self) -> None:
        """Drop the index (its memory) until the filter is used again."""
        self._threads, self._texts = None, _Texts()
        self._results.clear()
        self._building, self._built, self._reuse = None, _Texts(), {}

    def inserted(self, threads: list[PendingThread], index: int) -> None:
        """The owner inserted `threads[index]` into the list (in place)."""
        if self._aligned(threads, len(threads) - 1):
            texts = self._texts
            folded_id, rest = texts.parts(*search_parts(threads[index]))
            texts.ids.insert(index, folded_id)
            texts.rests.insert(index, rest)

    def removed(self, threads: list[PendingThread], index: int) -> None:
        """The owner deleted the thread at `index` of the list (in place)."""
        if self._aligned(threads, len(threads) + 1):
            del self._texts.ids[index]
            del self._texts.rests[index]

    def _aligned(self, threads: list[PendingThread], indexed: int) -> bool:
        # Whether the texts follow this very list, which had `indexed` threads before the
        # change; if not, the next `select` re-indexes it (old texts are not trusted).
        self._results.clear()
        if threads is self._building:
            self._building, self._built, self._reuse = None, _Texts(), {}  # start over
        if threads is self._threads and len(self._texts.ids) == indexed:
            return True
        self.forget()
        return False

    def select(
        self, threads: list[PendingThread], flt: PendingFilter, now: datetime
    ) -> list[PendingThread]:
        """The threads of `threads` (sorted, as given) that pass `flt` at `now`."""
        self.prepare(threads)
        cached = self._results.get(flt)
        if cached is None:
            cached = self._run(flt, now, self._base(flt))
            if flt.older_than_seconds is None:
                self._keep(flt, cached)
        return cached[0]

    def _base(self, flt: PendingFilter) -> Result:
        # The smallest earlier result that holds every answer to `flt`.
        assert self._threads is not None
        best: Result = (self._threads, self._texts.ids, self._texts.rests)
        for earlier, result in self._results.items():
            if len(result[0]) < len(best[0]) and narrows(earlier, flt):
                best = result
        return best

    def _run(self, flt: PendingFilter, now: datetime, base: Result) -> Result:
        threads, ids, rests = base
        if flt.search and (flt.graph, flt.node, flt.older_than_seconds) == (None, None, None):
            passed = self._texts.passing(search_needle(flt.search), ids, rests)
        else:
            searching = bool(flt.search)  # else the text is not looked at
            passed = [matches(t, flt, now, text=f"{i} {r}" if searching else "")
                      for t, i, r in zip(threads, ids, rests, strict=True)]
        if all(passed):  # e.g. a first letter: share the lists (2.4 MB at 100k rows)
            return base
        return (list(compress(threads, passed)), list(compress(ids, passed)),
                list(compress(rests, passed)))

    def _keep(self, flt: PendingFilter, result: Result) -> None:
        # Keep the states this query went through (they narrow it) for backspace.
        for earlier in [f for f in self._results if not narrows(f, flt)]:
            del self._results[earlier]
        while len(self._results) >= self.RESULTS_KEPT:
            del self._results[next(iter(self._results))]
        self._results[flt] = result
