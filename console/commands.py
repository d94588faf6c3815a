"""Read-side command handlers: tui, demo, setup, pending, show."""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.core.dburl import parse_db_url
from console.core.durations import format_age
from console.core.errors import NotPendingError, UsageError
from console.core.filter_query import cli_filter
from console.core.graphs import GraphInfo, GraphRegistry
from console.core.inert import fit, inert, inert_json
from console.core.models import ReviewBundle
from console.core.sink import Sink
from console.core.views import bundle_view, pending_view, safe_summary
from console.session import (
    decider_for,
    named_thread,
    redactor_for,
    registry_for,
    store_session,
)
from console.settings import Settings

if TYPE_CHECKING:
    from console.first_page import FirstPage


def emit_json(data: Any, sink: Sink | None = None) -> None:
    """JSON on stdout through the sink: redacted, identifiers exact, and every control,
    invisible or bidi character (and the lone surrogates of a SQLite id that is not
    UTF-8) written as a JSON escape, the same string to a reader."""
    sys.stdout.write((sink or Sink()).json(data, indent=2))
    sys.stdout.write("\n")


async def run_pending(args: argparse.Namespace, settings: Settings) -> int:
    flt = cli_filter(graph=args.graph_filter, node=args.node, older_than=args.older_than,
                     search=args.search)
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1.")
    redactor = redactor_for(settings)
    sink = Sink(redactor)
    async with store_session(settings) as store:
        # every printed row exact: its checkpoint and pause_id are what --expect takes
        threads = await store.complete(await store.pending(flt, limit=args.limit))
    if settings.json:
        emit_json([pending_view(t, redactor) for t in threads], sink)
        return 0
    if not threads:
        print("No pending threads.")
        return 0
    now = datetime.now(UTC)
    print(f"{'AGE':>5}  {'GRAPH':<14} {'NODE':<16} {'KIND':<22} {'THREAD':<24} SUMMARY")
    for t in threads:
        t.error  # noqa: B018 - decode first: an unreadable row says so in its kind
        kind = f"{t.kind.value}/{t.convention.value}"
        print(
            f"{format_age((now - t.paused_at).total_seconds()):>5}  "
            f"{fit(t.graph or '?', 14):<14} {fit(','.join(t.nodes), 16):<16} "
            f"{fit(kind, 22):<22} {fit(t.thread_id, 24):<24} "
            f"{fit(sink.text(safe_summary(t, redactor)), 60)}"
        )
    print(f"{len(threads)} pending")
    return 0


async def run_show(args: argparse.Namespace, settings: Settings) -> int:
    redactor = redactor_for(settings)
    async with store_session(settings) as store:
        args.thread = await named_thread(store, args.thread)
        bundle = await store.bundle(args.thread)
        if args.reveal:
            return await _reveal(store, settings, bundle, args.reveal)
    if bundle.pending is None:  # an error like any other: one sentence (and its JSON)
        raise NotPendingError(f"Thread {inert(args.thread)} is not waiting for a human (its "
                              f"head is checkpoint {inert(bundle.checkpoint_id)}); nothing "
                              "to review.")
    view = bundle_view(bundle, redactor)
    sink = Sink(redactor)
    if settings.json:
        emit_json(view, sink)
    else:
        print_bundle(bundle, sink.data(view), sink)
    return 0


async def _reveal(store: Any, settings: Settings, bundle: ReviewBundle, path: str) -> int:
    """Print one unredacted value, if policy allows; both outcomes are audited."""
    from console.core.jsonable import to_jsonable
    from console.core.reveal import reveal_value

    value = await reveal_value(decider_for(store, settings), bundle, path)
    # Unredacted by request and policy, but still inert: a revealed value cannot drive
    # the terminal either.
    text = inert_json(to_jsonable(value), indent=2)
    print(text if settings.json else inert(text, limit=100_000, keep_newlines=True))
    return 0


def print_bundle(bundle: ReviewBundle, view: dict[str, Any], sink: Sink) -> None:
    """The review bundle as text; `view` has been through the sink already, and every
    line is made inert again as it is printed."""
    pause = bundle.pending
    print(f"thread      {inert(view['thread_id'])}")
    print(f"checkpoint  {inert(view['checkpoint_id'])}")
    if pause is not None:
        print(f"graph       {sink.text(pause.graph or '?')}")
        print(f"paused      {pause.kind.value} at {', '.join(pause.nodes)} "
              f"({pause.convention.value}) since {view['pending']['paused_at']}")
        print(f"decisions   {', '.join(view['allowed_decisions'])}")
        print(f"pause_id    {inert(view['pause_id'])}  (pass it to --expect)")
    else:
        print("paused      no: not waiting for a human")
    count = len(view["interrupts"])
    for item in view["interrupts"]:
        # The item number is what --resume-for N=JSON and --reject-item N take.
        print(f"\nitem {item['item']} of {count}: interrupt {inert(item['id'])} "
              f"({item['convention']}; {', '.join(item['allowed_decisions']) or 'no decisions'})")
        print(_indent(json.dumps(item["value"], indent=2, ensure_ascii=False)))
    print("\nchanges since the previous checkpoint")
    for change in view["diff_previous"] or [{"path": "(none)", "kind": "", "before": None,
                                              "after": None}]:
        print(f"  {change['kind']:<8} {inert(change['path'])}: "
              f"{_short(change['before'])} -> {_short(change['after'])}")
    print("\nstate")
    print(_indent(json.dumps(view["values"], indent=2, ensure_ascii=False)))


def _short(value: Any) -> str:
    return inert(json.dumps(value, ensure_ascii=False), limit=70) if value is not None else "-"


def _indent(text: str) -> str:
    return "\n".join("  " + inert(line, limit=400) for line in text.splitlines())


async def run_setup(args: argparse.Namespace, settings: Settings) -> int:
    from console.core.ledger.db import install_ledger
    from console.core.presence import install_presence

    async with store_session(settings) as store:
        done = await store.setup(notify=args.notify)
        done += await install_ledger(store)
        done += await install_presence(store)
    if settings.json:
        emit_json({"done": done})
    else:
        print(f"Set up {store.location.display()}: {', '.join(done)}.")
    return 0


def demo_registry() -> GraphRegistry:
    from console.demo.graphs import DEMO_GRAPHS

    return GraphRegistry(GraphInfo.of(name, build(None)) for name, build in DEMO_GRAPHS.items())


async def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    from console.demo.seed import EXTRA_PENDING, EXTRA_THREADS, seed_demo

    if args.threads < 1:
        raise UsageError("--threads must be at least 1.")
    location = parse_db_url(settings.db or "")
    if args.reset:
        if location.backend != "sqlite":
            raise UsageError("--reset only deletes SQLite demo files; drop a Postgres "
                             "database yourself.")
        for suffix in ("", "-wal", "-shm"):
            Path(location.target + suffix).unlink(missing_ok=True)
    registry = demo_registry()
    async with store_session(settings, registry=registry, create=True) as store:
        existing = await store.pending()
        if not existing:
            print(f"Seeding {args.threads} paused demo threads into {location.display()} "
                  f"(and {EXTRA_THREADS} finished, answered or half-answered ones, "
                  f"{EXTRA_PENDING} of them still pending)...", file=sys.stderr)
            await seed_demo(store.saver, args.threads)
            await store.setup()
            from console.core.ledger.db import install_ledger
            from console.core.presence import install_presence

            await install_ledger(store)
            await install_presence(store)
        elif not args.no_tui:
            print(f"Using the existing demo queue in {location.display()} "
                  f"({len(existing)} pending); pass --reset to start over.", file=sys.stderr)
        if args.no_tui:
            threads = await store.pending()
            print(f"{len(threads)} pending threads in {location.display()}; open them with "
                  f"`hitl-console demo --db {location.display()}`.")
            return 0
        return await _run_app(store, settings)


async def run_tui(args: argparse.Namespace, settings: Settings) -> int:
    # Start-up allocates much and frees almost nothing, yet the cyclic GC would walk every
    # object imported so far several times before the first frame (~30 ms of ~300). It is
    # off until the first queue load has ended (the main screen turns it back on).
    gc.disable()
    try:
        reader = getattr(args, "first_page_reader", None)  # forked by `cli.main`
        if reader is not None:
            from console.ui.app import run_console  # the child reads meanwhile

            page = reader.take()
            if page is not None:
                return await _run_late(settings, page, run_console)
        async with store_session(settings) as store:
            return await _run_app(store, settings)
    finally:
        gc.enable()


async def _run_late(settings: Settings, page: FirstPage,
                    run_console: Callable[..., Awaitable[int]]) -> int:
    """The app on the page a forked child read, with the store opened after the first
    frame (`LateStore`): the driver's import and the connection are off that frame."""
    from console.core.store.late import LateStore

    registry = registry_for(settings)
    late = LateStore(parse_db_url(settings.db or ""), registry,
                     partial(store_session, settings, registry=registry),
                     pages_in_sql=page.pages_in_sql)
    try:
        return await run_console(late, settings, first_page=page.rows)
    finally:
        await late.close()


async def _run_app(store: Any, settings: Settings) -> int:
    from console.ui.app import run_console

    return await run_console(store, settings)


__all__ = ["registry_for", "run_demo", "run_pending", "run_setup", "run_show", "run_tui"]
