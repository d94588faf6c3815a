"""Who else has a thread open: the queue's `@` flag and the detail header's "alice is
reading this (draft open, 2m)" (`console.core.presence`: advisory, never a decision).

Every `presence_interval` seconds this console renews its row (the thread whose detail
it has, and whether it holds a draft there) and reads everyone else's. It also renews
its row as soon as what it has open changes (a look every `PRESENCE_WATCH` seconds that
costs no query until something changed), and on Postgres it listens for the others'
changes (NOTIFY from `setup`'s triggers) and reads them at once: another console's open,
move or draft shows within a second there; the interval's poll is the fallback, and all
there is on SQLite. Its row is not deleted on exit (nothing may hold up a quit, and the
store is closing): it lapses one lease after the last heartbeat, as a dead console's
does. A database without the presence table (no `setup` since it was added) or a role
without rights to it turns presence off for the session, silently: it is a hint, and the
queue and decisions work the same without it.
"""

from __future__ import annotations

import asyncio
import logging

from textual import work

from console.core.changes import ChangeFeed, open_listener
from console.core.presence import PRESENCE_CHANNEL, PresenceBoard, Reader
from console.ui.screens.base import ScreenBase

log = logging.getLogger(__name__)

PRESENCE_FLAG = "@"  # the queue's decision cell when only someone else's presence shows
PRESENCE_WATCH = 0.2  # seconds between looks at what this console has open (no query)

Shown = tuple[str | None, str | None, bool]  # thread, checkpoint, draft


class PresenceMixin(ScreenBase):
    """This console's presence, and the other reviewers' in the queue and detail."""

    _presence_board: PresenceBoard | None = None
    _presence_off = False
    _presence_sent: Shown | None = None  # what the last heartbeat said
    _presence_busy = False  # a heartbeat is being written
    presence_beats = 0  # heartbeats written: lets tests wait for one
    presence_reads = 0  # reads of the others (beats, notifications): likewise
    presence_notified = 0  # reads a notification caused

    def start_presence(self) -> None:
        interval = self._options.presence_interval
        self.readers: dict[str, list[Reader]] = {}
        if interval > 0:
            self._presence_board = PresenceBoard(self._decider.ledger, self._decider.origin,
                                                 lease_seconds=max(3 * interval, 1.0))
            self.set_interval(interval, self._presence_tick)
            self.set_interval(min(PRESENCE_WATCH, interval), self._presence_watch)
            self._presence_listen()

    def others_reading(self, thread_id: str) -> list[Reader]:
        readers: dict[str, list[Reader]] = getattr(self, "readers", {})
        return readers.get(thread_id, [])

    def _presence_now(self) -> Shown:
        detail = self.detail
        thread = detail.thread_id
        draft = thread is not None and self.drafts.latest_for(thread) is not None
        return (thread, detail.checkpoint_id, draft)

    def _presence_watch(self) -> None:
        """Renew the row now if what this console has open changed since the last beat
        (or if it never beat: others see this console from its start)."""
        if self._presence_off or self._presence_busy:
            return
        if self._presence_sent is None or self._presence_now() != self._presence_sent:
            self._presence_tick()

    @work(name="presence", group="presence", exclusive=True, exit_on_error=False)
    async def _presence_tick(self) -> None:
        board = self._presence_board
        if board is None or self._presence_off:
            return
        shown = self._presence_now()
        self._presence_busy = True
        try:
            await board.beat(*shown)
            self._presence_sent = shown
            readers = await board.others()
        except Exception as exc:  # advice only: a missing table or right turns it off
            log.info("presence off: %s: %s", type(exc).__name__, exc)
            self._presence_off = True
            return
        finally:
            self._presence_busy = False
        self.presence_beats += 1
        self._show_readers(readers)

    @work(name="presence listen", group="presence listen", exclusive=True,
          exit_on_error=False)
    async def _presence_listen(self) -> None:
        """Postgres: read the others whenever one of their rows changes."""
        try:
            listener: ChangeFeed | None = await open_listener(self._store, PRESENCE_CHANNEL)
        except Exception as exc:  # advice only: never a dialog for it
            log.info("presence LISTEN off: %s: %s", type(exc).__name__, exc)
            return
        if listener is None:
            return  # SQLite, or no LISTEN here: the interval's poll does it all
        board = self._presence_board
        try:
            while board is not None and not self._presence_off:
                changed = await listener.wait(self._options.presence_interval)
                if changed == set():
                    continue  # a quiet interval: the tick has polled meanwhile
                if changed and changed <= {board.console_id}:
                    continue  # only our own row
                try:
                    readers = await board.others()
                except Exception as exc:  # the tick says whether presence still works
                    log.info("presence read failed: %s: %s", type(exc).__name__, exc)
                    continue
                self.presence_notified += 1
                self._show_readers(readers)
        except Exception as exc:  # a closed feed, a bug: polling carries on without it
            log.info("presence LISTEN stopped: %s: %s", type(exc).__name__, exc)
        finally:
            await asyncio.shield(listener.close())

    def _show_readers(self, readers: list[Reader]) -> None:
        self.presence_reads += 1
        found: dict[str, list[Reader]] = {}
        for reader in readers:
            found.setdefault(reader.thread_id, []).append(reader)
        changed = set(found) ^ set(self.readers) | {
            t for t in found if found[t] != self.readers.get(t)}
        self.readers = found
        if not self.is_mounted:
            return
        if changed:
            self.table.refresh_rows(sorted(changed))
        thread = self.detail.thread_id
        shown = self.others_reading(thread) if thread is not None else []
        self.detail.show_presence("; ".join(r.words() for r in shown) or None)
