"""Advisory presence between consoles (issue 16): who has which thread open, with or
without a draft, gone when a console leaves or stops beating for one lease."""

from __future__ import annotations

from console.core.ledger.apply import current_origin
from console.core.ledger.db import ledger_db
from console.core.presence import PresenceBoard, install_presence
from console.core.store import CheckpointStore


async def test_consoles_see_each_other_until_they_leave_or_die(store: CheckpointStore) -> None:
    await install_presence(store)
    await install_presence(store)  # idempotent, like the rest of setup
    alice = PresenceBoard(ledger_db(store), current_origin("alice"), lease_seconds=30)
    bob = PresenceBoard(ledger_db(store), current_origin("bob"), lease_seconds=30)
    now = 1_000_000.0
    await alice.beat("t-1", "ck-1", False, now=now)
    await bob.beat(None, None, False, now=now)
    assert await alice.others(now=now) == []  # bob has nothing open
    [seen] = await bob.others(now=now + 1)
    assert (seen.reviewer, seen.thread_id, seen.draft) == ("alice", "t-1", False)
    await alice.beat("t-1", "ck-1", True, now=now + 120)  # a draft; opened_at is kept
    [seen] = await bob.others(now=now + 121)
    assert seen.draft and seen.since == now
    assert seen.words(now + 121) == "alice is reading this (draft open, 2m)"
    await alice.beat("t-2", "ck-9", False, now=now + 130)  # another thread: a new since
    [seen] = await bob.others(now=now + 130)
    assert (seen.thread_id, seen.since) == ("t-2", now + 130)
    # a console that dies stops beating: gone one lease after its last beat
    assert await bob.others(now=now + 130 + 30) != []
    assert await bob.others(now=now + 130 + 31) == []
    # one that exits leaves at once
    await alice.beat("t-2", "ck-9", False, now=now + 200)
    await alice.leave()
    assert await bob.others(now=now + 200) == []
