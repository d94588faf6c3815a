"""Worker-mode commands: `worker` applies queued decisions, `workers` shows who does.

A console in worker mode (`--worker-mode`, `HITL_WORKER_MODE=1` or `[console]
worker_mode = true`) only records decisions; `hitl-console worker`, started next to the
application with its graphs, applies them. See console/core/worker.py for the states.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from console.core.durations import format_age, parse_duration
from console.core.errors import UsageError
from console.core.inert import fit, inert
from console.settings import Settings

if TYPE_CHECKING:
    from console.core.ledger.rows import QueueDepth, WorkerRecord
    from console.core.worker import WorkerResult

Command = Callable[[str, str], argparse.ArgumentParser]

WORKER_EPILOG = """\
graphs: the worker imports them (--graph NAME=module:attr, repeatable, or ./langgraph.json);
NAME must be the graph name the console shows (the runs' graph_id metadata).
stop: SIGTERM or Ctrl-C stops claiming, finishes running applies (--shutdown-timeout) and
puts unstarted claims back in the queue; a second signal stops at once.
"""


def add_worker_commands(command: Command) -> None:
    worker = command("worker", "apply decisions recorded by consoles in worker mode")
    worker.epilog = WORKER_EPILOG + (worker.epilog or "")
    worker.add_argument("--concurrency", "-c", type=int, default=1, metavar="N",
                        help="decisions applied at once (default 1)")
    worker.add_argument("--lease", default="60s", metavar="D",
                        help="how long a claim survives without a heartbeat; a dead worker's "
                        "claims are settled after it (default 60s)")
    worker.add_argument("--poll", default=None, metavar="D",
                        help="poll interval without notifications (default: "
                        "[console] poll_interval, 1s)")
    worker.add_argument("--no-listen", action="store_true",
                        help="poll even on Postgres instead of LISTEN/NOTIFY")
    worker.add_argument("--once", action="store_true",
                        help="apply what is queued now, then exit (cron, CI)")
    worker.add_argument("--limit", type=int, metavar="N", help="with --once: at most N")
    worker.add_argument("--shutdown-timeout", default="30s", metavar="D",
                        help="on SIGTERM, wait this long for running applies (default 30s)")
    worker.add_argument("--id", dest="worker_id", metavar="NAME",
                        help="worker id (default host:pid:random)")
    worker.add_argument("--quiet", "-q", action="store_true",
                        help="log only warnings (default: one line per decision)")

    workers = command("workers", "live workers, their heartbeats, and the queue depth")
    workers.add_argument("--all", action="store_true",
                         help="also list stopped workers and those not seen for a day")


def _configure_logging(settings: Settings, quiet: bool) -> None:
    from console.session import sink_for

    sink = sink_for(settings)

    class _Redact(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.msg = sink.text(record.getMessage(), limit=2000)
            record.args = ()
            return True

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler.addFilter(_Redact())
    logger = logging.getLogger("console.worker")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.WARNING if quiet else logging.INFO)


def _result_printer(settings: Settings) -> Callable[[WorkerResult], None] | None:
    if not settings.json:
        return None
    from console.session import sink_for

    sink = sink_for(settings)

    def emit(result: WorkerResult) -> None:
        print(sink.json({"decision_id": result.decision_id, "thread_id": result.thread_id,
                         "status": result.status, "outcome": result.outcome,
                         "new_checkpoint_id": result.new_checkpoint_id}), flush=True)
    return emit


async def run_worker_command(args: argparse.Namespace, settings: Settings) -> int:
    from console.core.worker import Worker, WorkerOptions, open_worker_store
    from console.session import registry_for

    if not settings.db:
        raise UsageError("No database given: pass --db URL or set HITL_DB.")
    from console.core.server.reconcile import refuse_workers

    refuse_workers(settings.db)
    if args.limit is not None and (args.limit < 1 or not args.once):
        raise UsageError("--limit N needs --once and N >= 1.")
    options = WorkerOptions(
        concurrency=args.concurrency,
        lease_seconds=parse_duration(args.lease),
        poll_seconds=parse_duration(args.poll) if args.poll else settings.poll_interval,
        listen=not args.no_listen,
        shutdown_timeout=parse_duration(args.shutdown_timeout),
        worker_id=args.worker_id,
    )
    registry = registry_for(settings)
    if not registry:
        raise UsageError("A worker needs the application's graphs: pass --graph "
                         "NAME=module:attr (repeatable) or run it next to langgraph.json.")
    _configure_logging(settings, args.quiet)
    log = logging.getLogger("console.worker")
    stop = asyncio.Event()
    if not args.once:
        _install_signal_handlers(stop)  # before connecting: a SIGTERM while starting stops too
    store = await open_worker_store(settings.db, registry, concurrency=options.concurrency,
                                    serde=settings.serde)
    try:
        worker = Worker(store, options, on_result=_result_printer(settings))
        log.info("worker %s on %s: graphs %s; concurrency %d; lease %s", worker.worker_id,
                 store.location.display(), ", ".join(registry.names()), options.concurrency,
                 args.lease)
        if args.once:
            results = await worker.drain(limit=args.limit)
            log.info("done: %d decision(s) handled (%s)", len(results), _counts(worker))
            return 0
        await worker.run(stop)
        log.info("stopped: %s", _counts(worker))
        return 0
    finally:
        await store.close()


def _counts(worker: Any) -> str:
    c = worker.counters
    return (f"{c.applied} applied, {c.failed} failed, {c.released} released, "
            f"{c.reconciled} reconciled" + (f", {c.lost} lost" if c.lost else ""))


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()

    def graceful(signum: int) -> None:
        logging.getLogger("console.worker").info(
            "%s: stopping (running applies finish; a second signal stops at once)",
            signal.Signals(signum).name)
        stop.set()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, graceful, sig)


# ------------------------------------------------------------------------- workers


async def run_workers(args: argparse.Namespace, settings: Settings) -> int:
    from console.core.graphs import GraphRegistry
    from console.core.ledger.db import database_error, ledger_db
    from console.core.ledger.rows import QueueDepth
    from console.core.server.reconcile import refuse_workers
    from console.session import store_session

    refuse_workers(settings.db)
    async with store_session(settings, registry=GraphRegistry()) as store:
        ledger = ledger_db(store)  # read only: `workers` never installs anything
        try:
            if await ledger.installed():
                workers = await ledger.workers()
                depth = await ledger.queue_depth()
            else:
                workers, depth = [], QueueDepth(0, 0, 0, None, {}, 0)
        except Exception as exc:
            raise database_error(exc, store.location.display(),
                                 doing="read the workers table") from exc
    shown = [w for w in workers if args.all or (
        _state(w) != "stopped" and w.heartbeat_age_seconds < 86400)]
    warnings = _warnings(workers, depth)
    if settings.json:
        from console.session import sink_for

        print(sink_for(settings).json({
            "workers": [_worker_json(w) for w in shown],
            "queue": {"queued": depth.queued, "claimed": depth.claimed,
                      "expired": depth.expired,
                      "oldest_queued_seconds": depth.oldest_queued_seconds,
                      "queued_by_graph": depth.queued_by_graph,
                      "failed_last_day": depth.failed_last_day},
            "warnings": warnings,
        }, indent=2))
        return 0
    if shown:
        print(f"{'WORKER':<30} {'STATE':<8} {'WAKE':<6} {'HEARTBEAT':>9} {'APPLYING':>8} "
              f"{'APPLIED':>7} {'FAILED':>6}  GRAPHS")
        for w in shown:
            print(f"{fit(inert(w.worker_id), 30):<30} {_state(w):<8} {w.wake:<6} "
                  f"{format_age(w.heartbeat_age_seconds) + ' ago':>9} {w.applying:>8} "
                  f"{w.applied:>7} {w.failed:>6}  {fit(inert(','.join(w.graphs)), 30)}")
    else:
        print("No live workers.")
    oldest = (f", oldest {format_age(depth.oldest_queued_seconds)}"
              if depth.oldest_queued_seconds is not None else "")
    by_graph = ", ".join(f"{inert(g)} {n}" for g, n in sorted(depth.queued_by_graph.items()))
    print(f"queue: {depth.queued} queued{oldest}{f' ({by_graph})' if by_graph else ''}; "
          f"{depth.claimed} being applied ({depth.expired} with an expired lease); "
          f"{depth.failed_last_day} failed in the last 24h")
    for line in warnings:
        print(f"warning: {inert(line)}", file=sys.stderr)
    return 0


def _state(w: WorkerRecord) -> str:
    """'lost' for a worker that stopped heartbeating without saying goodbye."""
    if w.state != "stopped" and w.heartbeat_age_seconds > w.lease_seconds:
        return "lost"
    return w.state


def _worker_json(w: WorkerRecord) -> dict[str, Any]:
    return {"worker_id": w.worker_id, "host": w.host, "pid": w.pid, "state": _state(w),
            "wake": w.wake, "graphs": list(w.graphs), "concurrency": w.concurrency,
            "lease_seconds": w.lease_seconds, "started_at": w.started_at.isoformat(),
            "heartbeat_at": w.heartbeat_at.isoformat(),
            "heartbeat_age_seconds": round(w.heartbeat_age_seconds, 3),
            "stopped_at": w.stopped_at.isoformat() if w.stopped_at else None,
            "applying": w.applying, "applied": w.applied, "failed": w.failed,
            "released": w.released, "reconciled": w.reconciled}


def _warnings(workers: list[WorkerRecord], depth: QueueDepth) -> list[str]:
    live = [w for w in workers if _state(w) in ("running", "stopping")]
    served = {g for w in live for g in w.graphs}
    found = []
    if depth.queued and not live:
        found.append(f"{depth.queued} decision(s) queued and no live worker: start "
                     "`hitl-console worker` next to the application.")
    else:
        for graph, count in sorted(depth.queued_by_graph.items()):
            if graph != "?" and graph not in served:
                found.append(f"{count} decision(s) queued for graph {graph!r}, which no live "
                             "worker loads (check the worker's --graph NAME).")
    if depth.expired and not live:
        found.append(f"{depth.expired} claim(s) of stopped workers await reconciliation by "
                     "the next worker.")
    return found


WORKER_HANDLERS = {
    "worker": run_worker_command,
    "workers": run_workers,
}

__all__ = ["WORKER_HANDLERS", "add_worker_commands"]
