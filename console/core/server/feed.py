"""Live refresh from an Agent Server: poll `threads.search` by `updated_at`.

Every `poll_interval` the feed asks for the threads updated since the newest stamp it
has seen (newest first, any status: a thread that was answered elsewhere or started
running leaves the queue that way), and reports their ids. Between polls it also hands
the queue the rows the store listed provisionally (`ServerStore.provisional`), a batch
at a time, so the TUI reads their nodes in the background, row by row, instead of making
the first page wait for them.

What it can miss: a change that does not touch a thread's `updated_at` (none that
matters to a pause is known), and stamps from a server clock that goes backwards. The
console reloads everything on its own actions and on ctrl+r.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from console.core.changes import BACKOFF_MAX, ChangeFeed
from console.core.errors import ConsoleError
from console.core.server.mapping import parse_time

if TYPE_CHECKING:
    from datetime import datetime

    from console.core.server.store import ServerStore

# Provisional rows handed over per batch: under the UI's incremental limit (50), so
# each batch is read thread by thread rather than by a full reload.
PROVISIONAL_BATCH = 40
PAGE = 200
SETTLE = 0.05  # seconds between provisional batches


class ServerFeed(ChangeFeed):
    """Threads updated on the server since the last look, by polling."""

    mode = "polling"

    def __init__(self, store: ServerStore, poll_interval: float) -> None:
        super().__init__(poll_interval)
        self.store = store
        self.detail = f"polling {store.location.display()} every {poll_interval:g}s"
        self._mark: datetime | None = None
        self._at_mark: set[str] = set()  # ids seen with the mark's exact stamp

    async def _baseline(self) -> None:
        """The newest stamp now: what is older than it is what the first load reads."""
        newest = await self._search(0, 1)
        if newest:
            self._mark = parse_time(newest[0]["updated_at"])
            self._at_mark = {str(newest[0]["thread_id"])}

    async def _search(self, offset: int, limit: int) -> list[dict[str, Any]]:
        with self.store.client.failures("watch the queue"):
            found = await self.store.client.sdk.threads.search(
                limit=limit, offset=offset, sort_by="updated_at", sort_order="desc",
                select=["thread_id", "updated_at"])
        return [dict(t) for t in found]

    async def poll(self) -> set[str]:
        """The ids of threads updated since the last poll (and moves the mark)."""
        changed: set[str] = set()
        newest = self._mark
        at_newest = set(self._at_mark)
        offset = 0
        while True:
            page = await self._search(offset, PAGE)
            for thread in page:
                stamp = parse_time(thread["updated_at"])
                thread_id = str(thread["thread_id"])
                if self._mark is not None and (stamp < self._mark or (
                        stamp == self._mark and thread_id in self._at_mark)):
                    page = []  # reached what was seen: stop here
                    break
                changed.add(thread_id)
                if newest is None or stamp > newest:
                    newest, at_newest = stamp, {thread_id}
                elif stamp == newest:
                    at_newest.add(thread_id)
            if len(page) < PAGE:
                break
            offset += PAGE
        self._mark, self._at_mark = newest, at_newest
        return changed

    async def _run(self) -> None:
        failures = 0
        loop = asyncio.get_running_loop()
        next_poll = loop.time()
        while True:
            if loop.time() >= next_poll:
                try:
                    changed = await self.poll()
                except ConsoleError as exc:
                    self._lost(exc)
                    failures += 1
                    await asyncio.sleep(min(BACKOFF_MAX, 0.25 * 2 ** failures))
                    continue
                if not self.connected:
                    self._back()
                    self._report_reload()  # what changed while away is not known
                failures = 0
                self._report(changed)
                next_poll = loop.time() + self.poll_interval
            self._hand_over_provisional()
            delay = SETTLE if self.store.provisional else next_poll - loop.time()
            await asyncio.sleep(max(0.0, min(delay, next_poll - loop.time())))

    def _hand_over_provisional(self) -> None:
        """The next batch of provisional rows, once the last batch was taken."""
        if self._changed or self._reload or not self.store.provisional:
            return
        batch = list(self.store.provisional)[:PROVISIONAL_BATCH]
        self._report(batch)


async def open_server_feed(store: ServerStore, poll_interval: float) -> ServerFeed:
    """A started feed on `store`'s server (raises `DatabaseUnavailable` if unreachable)."""
    feed = ServerFeed(store, poll_interval)
    await feed._baseline()
    feed._start()
    return feed


__all__ = ["ServerFeed", "open_server_feed"]
