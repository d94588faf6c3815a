"""Settling decisions a crashed console left in flight on an Agent Server (`reconcile`).

The checkpointer path reads the thread's checkpoint rows (`ledger.reconcile`); a server
gives only its API, so the same three answers are read from `threads.get` and
`get_state`:

- **not delivered** (`failed`): the question the decision answered still waits (or, at a
  breakpoint, the thread still stops at the checkpoint the decision was for);
- **delivered, the run stopped** (`stalled`): the question was consumed (or the
  breakpoint left) but the server marks the thread `error`: the run failed after taking
  the answer, and the application must repair or resume it;
- **delivered** (`applied`): the question was consumed and the run finished or paused
  again.

A thread with a run in progress is left in flight (that run may be the decision's); a
later `reconcile` settles it. Nothing is ever re-sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from console.core.ledger.reconcile import (
    Delivery,
    Settled,
    Truth,
    reconcile,
)
from console.core.ledger.rows import LedgerRow

if TYPE_CHECKING:
    from console.core.server.decide import ServerDecider

_BUSY = ("busy",)
_ERROR = "error"

NO_LEDGER_TO_RECONCILE = (
    "Nothing to reconcile: without --ledger-db the console records no decision in flight "
    "on an Agent Server (each resume is sent and checked within the one command), so none "
    "can be left behind. Pass --ledger-db URL to keep decisions in a ledger.")

NO_WORKERS = (
    "{db} is an Agent Server: it runs its graphs itself, so there are no console workers "
    "to run or list there (decisions resume through its API as they are made); use "
    "`hitl-console audit --ledger-db URL` to see the decisions instead.")


def refuse_workers(db: str | None) -> None:
    """A `UsageError` for `worker`/`workers` pointed at an Agent Server."""
    from console.core.dburl import parse_db_url
    from console.core.errors import UsageError

    if not db:
        return
    location = parse_db_url(db)
    if location.backend == "server":
        raise UsageError(NO_WORKERS.format(db=location.display()))


async def server_delivery(decider: ServerDecider, row: LedgerRow) -> Truth | None:
    """What became of `row`'s decision, from the server's own view; None while a run is
    in progress on the thread (not settled yet)."""
    thread = await decider.store_thread(row.thread_id)
    if thread is None:
        return Truth(Delivery.NOT_DELIVERED, None, detail="the thread no longer exists")
    if thread.get("status") in _BUSY:
        return None
    state = await decider.state_of(row.thread_id)
    head = _checkpoint(state)
    next_nodes = tuple(str(n) for n in state.get("next") or ())
    waiting = {str(i["id"]) for task in state.get("tasks") or ()
               for i in task.get("interrupts") or () if i.get("id")}
    answered = {part for part in row.pause_key.split(",") if part}
    if answered:
        if answered & waiting:
            return Truth(Delivery.NOT_DELIVERED, head, detail=(
                "the question it answered is still waiting on the server"))
    elif head == row.checkpoint_id and next_nodes and thread.get("status") != _ERROR:
        return Truth(Delivery.NOT_DELIVERED, head, detail=(
            f"the thread still stops at the breakpoint {head}"))
    if thread.get("status") == _ERROR:
        failed = [str(t.get("name")) for t in state.get("tasks") or () if t.get("error")]
        nodes = tuple(dict.fromkeys(failed or next_nodes))
        return Truth(Delivery.STOPPED, head, nodes, detail=(
            "the server took the answer but its run failed (thread status error)"
            f" and the run stopped before {', '.join(nodes) or 'its next step'}"))
    if waiting or (thread.get("status") == "interrupted" and next_nodes):
        pause = await decider.store.pending_thread(row.thread_id)
        return Truth(Delivery.FINISHED, head, again=pause, detail=(
            f"the server took the answer and the run is paused again at {head}"))
    return Truth(Delivery.FINISHED, head, detail=(
        f"the server took the answer and the run finished at {head}"))


async def reconcile_server(decider: ServerDecider, *, lease_seconds: float = 600.0,
                           now: datetime | None = None) -> list[Settled]:
    """Settle abandoned in-flight rows of the `--ledger-db` ledger from the server's view
    (`ledger.reconcile` with `server_delivery`); never re-sends."""
    return await reconcile(decider, lease_seconds=lease_seconds, now=now,
                           delivery=partial(server_delivery, decider))


def _checkpoint(state: Mapping[str, Any]) -> str | None:
    checkpoint = state.get("checkpoint") or {}
    found = checkpoint.get("checkpoint_id") or state.get("checkpoint_id")
    return str(found) if found else None
