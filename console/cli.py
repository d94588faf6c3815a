"""The `hitl-console` command line: argument parsing only, then calls into the core.

Exit codes (product.md section 6): 0 done, 1 error, 2 usage, 3 conflict,
4 not found or not pending, 5 refused by policy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any

from console.core.errors import ConsoleError, UsageError, database_failure
from console.settings import DEMO_DB, Settings, load_settings

Handler = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]

EPILOG = """\
database: --db URL or HITL_DB: postgresql://..., sqlite:///path, a .sqlite/.db path, or
  a LangGraph Agent Server's http(s)://host:port (API key: --api-key or LANGGRAPH_API_KEY).
exit codes: 0 done, 1 error, 2 usage, 3 conflict, 4 not found or not pending, 5 policy.
"""


SETUP_GRANTS = """\
database roles (PostgreSQL; run setup once as the owner of the checkpoint tables;
every role below also needs USAGE on the schema; README "Database roles" says more):
  reader (pending, show, the TUI's queue):
      GRANT SELECT ON checkpoints, checkpoint_blobs, checkpoint_writes,
        hitl_thread_status TO r;
  auditor (audit, the TUI's decision flags): reader +
      GRANT SELECT ON hitl_decisions, hitl_events TO r;
  reconciler (reconcile): reader + GRANT SELECT, UPDATE ON hitl_decisions TO r;
  revealer (show --reveal): reader + GRANT INSERT ON hitl_events TO r;
      GRANT USAGE ON SEQUENCE hitl_events_id_seq TO r;
  decider (approve, reject, respond, expire, deciding in the TUI): reader +
      GRANT SELECT, INSERT, UPDATE ON hitl_decisions TO r;
      GRANT SELECT, INSERT ON hitl_approvals TO r; GRANT INSERT ON hitl_events TO r;
      GRANT USAGE ON SEQUENCE hitl_decisions_id_seq, hitl_events_id_seq TO r;
      inline apply also (worker mode: neither):
      GRANT INSERT, UPDATE ON checkpoints, checkpoint_blobs, checkpoint_writes TO r;
      GRANT INSERT, UPDATE, DELETE ON hitl_thread_status TO r;
  worker (worker): decider with inline apply +
      GRANT SELECT, INSERT, UPDATE, DELETE ON hitl_workers TO r;
  watcher (workers): GRANT SELECT ON hitl_workers, hitl_decisions TO r;
  any role that writes checkpoints (the application's too) needs
      GRANT INSERT, UPDATE, DELETE ON hitl_thread_status (setup's triggers keep it)

"""


def _common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options every subcommand accepts, before or after its name."""
    default: Any = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("common options")
    group.add_argument("--db", default=default, metavar="URL",
                       help="checkpoint database, or an Agent Server's http(s) URL "
                       "(default: HITL_DB)")
    group.add_argument("--api-key", default=default, metavar="KEY", dest="api_key",
                       help="API key of an Agent Server deployment (default: "
                       "LANGGRAPH_API_KEY; `langgraph dev` needs none); never printed")
    group.add_argument("--graph", action="append", default=default, metavar="NAME=module:attr",
                       dest="graphs",
                       help="load a compiled graph (repeatable; default: the graphs of "
                       "./langgraph.json); a bare NAME filters by graph where a command lists")
    group.add_argument("--reviewer", default=default,
                       help="who is deciding (default: HITL_REVIEWER, else the OS login)")
    group.add_argument("--config", default=default, metavar="FILE",
                       help="config file (default: ~/.config/hitl-console/config.toml)")
    group.add_argument("--json", action="store_true", default=default,
                       help="machine-readable output")
    group.add_argument("--serde", default=default, metavar="SPEC",
                       help="the application's checkpoint serializer: `aes` (LangGraph's "
                       "EncryptedSerializer, key in LANGGRAPH_AES_KEY) or module:attr "
                       "(default: HITL_SERDE, [console] serde)")
    group.add_argument("--ledger-db", default=default, metavar="URL",
                       help="with an Agent Server (--db http(s)://...): a Postgres or SQLite "
                       "database for the decision ledger (default: HITL_LEDGER_DB, [console] "
                       "ledger_db): each pause is then claimed once across consoles, audited, "
                       "with four-eyes and --idempotency-key. Without it a busy thread (HTTP "
                       "409) or an answer to a question no longer waiting is still a conflict "
                       "(exit 3) and nothing is forked, but nothing is audited and a decision "
                       "racing another client's at a breakpoint is reported, not prevented")
    group.add_argument("--worker-mode", action="store_true", default=default,
                       help="only record decisions; `hitl-console worker` applies them "
                       "(default: HITL_WORKER_MODE, [console] worker_mode)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hitl-console",
        description="Review LangGraph runs paused at a human approval gate.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_options(parser, suppress=False)
    # `tui` is the default command: `hitl-console --no-mouse` means `hitl-console tui
    # --no-mouse`. (The commands' own flag defaults to SUPPRESS, or its False would
    # overwrite the True given before the command name.)
    parser.add_argument("--no-mouse", action="store_true",
                        help="tui, demo: do not enable mouse tracking (bastions, slow links)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text, epilog=EPILOG,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        _common_options(sub, suppress=True)
        return sub

    tui = command("tui", "open the full-screen console (the default command)")
    tui.add_argument("--no-mouse", action="store_true", default=argparse.SUPPRESS,
                     help="do not enable mouse tracking (bastions, slow links)")

    demo = command("demo", "seed a demo queue and open the console on it")
    demo.add_argument("--threads", type=int, default=40, help="paused threads to seed (default 40)")
    demo.add_argument("--no-tui", action="store_true", help="seed and print a summary only")
    demo.add_argument("--reset", action="store_true",
                      help="delete the demo SQLite file first and seed again")
    demo.add_argument("--no-mouse", action="store_true", default=argparse.SUPPRESS,
                      help="do not enable mouse tracking")

    setup = command("setup", "create the console's tables in the checkpoint database")
    setup.description = (
        "create the console's tables in the checkpoint database (idempotent): the decision\n"
        "ledger, and a table of thread heads kept by triggers, so the queue's cost does not\n"
        "grow with finished threads (PostgreSQL: hitl_thread_status; SQLite:\n"
        "hitl_sqlite_heads, every head decoded once by setup)")
    setup.epilog = SETUP_GRANTS + EPILOG
    setup.add_argument("--notify", action="store_true",
                       help="also install the change-notification trigger (Postgres)")

    pending = command("pending", "list pending threads, oldest first")
    pending.add_argument("--node", help="only pauses at this node")
    pending.add_argument("--older-than", metavar="D", help="only pauses older than D (e.g. 2h)")
    pending.add_argument("--search", metavar="TEXT",
                         help="the TUI's / filter: text in thread id, graph, node, summary, "
                         "plus graph:NAME node:NAME older:2h tokens")
    pending.add_argument("--limit", type=int, metavar="N", help="at most N threads")

    show = command("show", "the review bundle of one thread")
    show.add_argument("thread", help="thread id")
    show.add_argument("--reveal", metavar="PATH",
                      help="print the unredacted state value at PATH (e.g. credentials.token); "
                      "only where policy `reveal` allows it, and audited")

    from console.decide_cli import add_decision_commands

    add_decision_commands(command)

    from console.worker_cli import add_worker_commands

    add_worker_commands(command)
    return parser


def _handlers() -> dict[str, Handler]:
    from console import commands
    from console.decide_cli import DECISION_HANDLERS
    from console.worker_cli import WORKER_HANDLERS

    return {
        "tui": commands.run_tui,
        "demo": commands.run_demo,
        "setup": commands.run_setup,
        "pending": commands.run_pending,
        "show": commands.run_show,
        **DECISION_HANDLERS,
        **WORKER_HANDLERS,
    }


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a reader that left


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # psycopg logs each pool retry and each connection it finds lost ("error ignored
    # terminating ..."); our errors already say what went wrong, once, in one sentence.
    logging.getLogger("psycopg").setLevel(logging.ERROR)
    command = args.command or "tui"
    as_json = bool(getattr(args, "json", False))
    # `--graph NAME` (no colon) filters by graph; `--graph NAME=module:attr` loads one.
    specs = [g for g in args.graphs or () if ":" in g]
    args.graph_filter = next((g for g in args.graphs or () if ":" not in g), None)
    try:
        settings = load_settings(
            config=args.config, db=args.db, graphs=specs, reviewer=args.reviewer,
            json_output=as_json, no_mouse=bool(getattr(args, "no_mouse", False)),
            serde=args.serde, api_key=args.api_key,
            ledger_db=getattr(args, "ledger_db", None),
        )
        if command == "demo" and not settings.db:
            settings = settings.with_overrides(db=DEMO_DB)
        if command == "tui":  # forked before any thread or event loop starts
            from console.first_page import start_reading

            args.first_page_reader = start_reading(settings)
        with _worker_mode(bool(getattr(args, "worker_mode", False)), settings):
            return asyncio.run(_handlers()[command](args, settings))
    except ConsoleError as exc:
        return report_error(exc, as_json, keep=_named_ids(args))
    except KeyboardInterrupt:
        print("Interrupted; nothing further was done.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`pending | head`): stop quietly, as cat or grep would.
        # Python would also fail flushing stdout at exit, so point it at /dev/null.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        # A database failure nothing nearer mapped (rights, the server gone): one sentence
        # that says what the command was doing.
        doing, kept = command_purpose(command, args)
        known = database_failure(exc, doing=doing, kept=kept)
        if known is not None:
            return report_error(known, as_json, keep=_named_ids(args))
        # The last resort: one redacted sentence, the details in a log file it names.
        from console.core.crash import report_crash
        from console.core.sink import Sink

        report = report_crash(exc)
        print(report.sentence, file=sys.stderr)
        if as_json:
            print(Sink().json({"error": {"type": "crash", "message": report.sentence,
                                         "exit_code": 1}}))
        return 1


# What each command needs the database for, completing "may not ...", and what is kept.
_PURPOSES = {
    "tui": "read the queue", "demo": "seed the demo queue", "pending": "read the queue",
    "show": "read this thread", "audit": "read the decision ledger",
    "reconcile": "settle in-flight decisions", "worker": "apply queued decisions",
    "workers": "read the workers table", "setup": "set up the console's tables",
}
_READ_ONLY = {"tui", "pending", "show", "audit", "workers"}


def command_purpose(command: str, args: argparse.Namespace) -> tuple[str, str]:
    """What `command` was doing and what it left as it was, for a failure's sentence."""
    if command == "show" and getattr(args, "reveal", None):
        return "write the audit row every reveal needs", "nothing was revealed"
    kept = "nothing was changed" if command in _READ_ONLY else "nothing was written"
    return _PURPOSES.get(command, "record the decision"), kept


@contextlib.contextmanager
def _worker_mode(flag: bool, settings: Settings) -> Iterator[None]:
    """Worker mode for this command (flag, else HITL_WORKER_MODE, else `[console]
    worker_mode`): every Decider then records decisions as queued for a worker."""
    configured = bool(settings.raw.get("console", {}).get("worker_mode"))
    if not (flag or configured):
        yield
        return
    from console.core.worker_mode import WORKER_MODE_ENV

    previous = os.environ.get(WORKER_MODE_ENV)
    if not flag and previous is not None:
        yield  # the environment outranks the config file
        return
    os.environ[WORKER_MODE_ENV] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(WORKER_MODE_ENV, None)
        else:
            os.environ[WORKER_MODE_ENV] = previous


def _named_ids(args: argparse.Namespace) -> tuple[str, ...]:
    """The thread ids the command line named: an error quoting them prints them as they
    are (inert, never redacted), so the same command can be run again."""
    threads = getattr(args, "threads", None)  # `reject THREAD...`; `demo --threads N`
    named = [getattr(args, "thread", None),
             *(threads if isinstance(threads, list | tuple) else ())]
    return tuple(t for t in named if isinstance(t, str) and t)


def report_error(exc: ConsoleError, as_json: bool, keep: tuple[str, ...] = ()) -> int:
    """One sentence on stderr (plus a JSON object on stdout with --json), through the
    sink: an error quotes data (a payload, a driver's message) like any other output."""
    from console.core.sink import Sink

    sink = Sink()
    message = sink.error(exc, keep=keep)
    print(f"hitl-console: {message}", file=sys.stderr)
    if as_json:
        kind = type(exc).__name__
        print(sink.json({"error": {"type": kind, "message": message,
                                   "exit_code": exc.exit_code}}))
    return exc.exit_code if not isinstance(exc, UsageError) else 2


if __name__ == "__main__":
    raise SystemExit(main())
