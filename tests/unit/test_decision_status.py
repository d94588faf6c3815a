"""The words the detail pane uses for each ledger status."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from console.core.ledger.rows import LedgerRow
from console.core.ledger.status import BAD, DONE, PENDING, describe, pause_status

NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
ROW = LedgerRow(
    id=1, thread_id="t", checkpoint_ns="", checkpoint_id="c1", pause_key="i1,i2",
    decision="approve", status="queued", reviewer="alice", reason=None, edits=None,
    resume=None, idempotency_key=None, client_host="bastion", ssh_origin=None,
    client_pid=1, apply_mode="worker", created_at=NOW - timedelta(minutes=2),
    finished_at=None, new_checkpoint_id=None, outcome=None,
)


def test_each_status_in_words() -> None:
    assert describe(ROW, NOW).text == "approve by alice, queued 2m ago - waiting for a worker"
    claimed = replace(ROW, status="claimed", claimed_by="w1",
                      claimed_at=NOW - timedelta(seconds=30))
    assert describe(claimed, NOW).text == (
        "approve by alice, being applied by worker w1 (since 30s ago)")
    applied = replace(claimed, status="applied", finished_at=NOW - timedelta(seconds=5),
                      new_checkpoint_id="c2")
    assert describe(applied, NOW).text == "approve by alice, applied 5s ago by worker w1 -> c2"
    assert describe(applied, NOW).tone == DONE
    failed = replace(claimed, status="failed", outcome="resuming failed (boom)\nmore")
    words = describe(failed, NOW)
    assert words.text == ("approve by alice, failed on worker w1: resuming failed (boom) more; "
                          "you can decide again")
    assert words.tone == BAD
    conflict = replace(failed, outcome="conflict: the thread moved on")
    assert describe(conflict, NOW).text == "approve by alice, conflict: the thread moved on"
    inline = replace(ROW, status="in_flight", apply_mode="inline")
    assert describe(inline, NOW).text == "approve by alice, being applied since 2m ago"
    stuck = replace(inline, created_at=NOW - timedelta(hours=1))
    assert "hitl-console reconcile" in describe(stuck, NOW).text


def test_pause_status_picks_the_latest_row_of_this_pause() -> None:
    older = replace(ROW, id=1, status="failed", outcome="resuming failed (x)", claimed_by="w1")
    newer = replace(ROW, id=2)
    other = replace(ROW, id=3, checkpoint_id="c0", status="applied", finished_at=NOW)
    words = pause_status([other, older, newer], "c1", ("i2", "i1"), NOW)
    assert words.text.startswith("approve by alice, queued 2m ago") and "(2 decisions" in words.text
    assert words.tone == PENDING
    elsewhere = pause_status([other], "c1", ("i1", "i2"), NOW)
    assert elsewhere.text.startswith("none on this pause yet (last on this thread: approve")
    assert pause_status([], "c1", (), NOW).text == "none yet"
