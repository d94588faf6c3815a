"""Who else has a thread open: the queue's `@` flag and the detail header's "alice is
reading this (draft open, 2m)" (`console.core.presence`: advisory, never a decision).

Every `presence_interval` seconds this console renews its row (the thread whose detail
it has, and whether it holds a draft there) and reads everyone else's. Its row is not
deleted on exit (nothing may hold up a quit, and the store is closing): it lapses one
lease after the last heartbeat, as a dead console's does. A database
without the presence table (no `setup` since it was added) or a role without rights to
it turns presence off for the session, silently: it is a hint, and the queue and
decisions work the same without it.
"""

from __future__ import annotations

import logging

from textual import work

from console.core.presence import PresenceBoard, Reader
from console.ui.screens.base import ScreenBase

log = logging.getLogger(__name__)

PRESENCE_FLAG = "@"  # the queue's decision cell when only someone else's presence shows


class PresenceMixin(ScreenBase):
    """This console's presence, and the other reviewers' in the queue and detail."""

    _presence_board: PresenceBoard | None = None
    _presence_off = False
    presence_beats = 0  # heartbeats written: lets tests wait for one

    def start_presence(self) -> None:
        interval = self._options.presence_interval
        self.readers: dict[str, list[Reader]] = {}
        if interval > 0:
            self._presence_board = PresenceBoard(self._store, self._decider.origin,
                                                 lease_seconds=max(3 * interval, 1.0))
            self.set_interval(interval, self._presence_tick)

    def others_reading(self, thread_id: str) -> list[Reader]:
        readers: dict[str, list[Reader]] = getattr(self, "readers", {})
        return readers.get(thread_id, [])

    @work(name="presence", group="presence", exclusive=True, exit_on_error=False)
    async def _presence_tick(self) -> None:
        board = self._presence_board
        if board is None or self._presence_off:
            return
        detail = self.detail
        thread = detail.thread_id
        draft = thread is not None and self.drafts.latest_for(thread) is not None
        try:
            await board.beat(thread, detail.checkpoint_id, draft)
            readers = await board.others()
        except Exception as exc:  # advice only: a missing table or right turns it off
            log.info("presence off: %s: %s", type(exc).__name__, exc)
            self._presence_off = True
            return
        self.presence_beats += 1
        found: dict[str, list[Reader]] = {}
        for reader in readers:
            found.setdefault(reader.thread_id, []).append(reader)
        changed = set(found) ^ set(self.readers) | {
            t for t in found if found[t] != self.readers.get(t)}
        self.readers = found
        if changed and self.is_mounted:
            self.table.refresh_rows(sorted(changed))
        shown = self.others_reading(thread) if thread is not None else []
        detail.show_presence("; ".join(r.words() for r in shown) or None)
