"""Opening the core's objects from Settings: the one place the CLI and the TUI share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from console.core.dburl import parse_db_url
from console.core.errors import UsageError
from console.core.graphs import GraphRegistry, load_registry
from console.core.policy import Policy
from console.core.redact import Redactor
from console.core.sink import Sink
from console.core.store import CheckpointStore, open_store
from console.settings import Settings

if TYPE_CHECKING:
    from console.core.ledger.apply import Decider
    from console.core.ledger.db import LedgerDB
    from console.core.serde import SafeSerializer


def registry_for(settings: Settings) -> GraphRegistry:
    return load_registry(settings.graphs)


def serializer_for(settings: Settings) -> SafeSerializer | None:
    """The application's serializer given with --serde (wrapped safely), or None: the
    store then reads LangGraph's format without LangGraph, and builds the writing
    serializer when a decision first needs it (LangGraph's import is most of a start)."""
    if not (settings.serde or "").strip():
        return None
    from console.core.serde import serializer_from_spec

    return serializer_from_spec(settings.serde)


def redactor_for(settings: Settings) -> Redactor:
    return Redactor.from_config(settings.raw)


def sink_for(settings: Settings) -> Sink:
    """The one way out for this session's output (redacted with the config's rules)."""
    return Sink(redactor_for(settings))


def decider_for(store: CheckpointStore, settings: Settings) -> Decider:
    """The decision path for this reviewer, with the config's policy and templates: a
    `ServerDecider` (ledger in `--ledger-db`, if any) when the store is an Agent Server."""
    from console.core.ledger.apply import Decider, current_origin

    origin = current_origin(settings.reviewer, settings.ssh_origin)
    templates = settings.raw.get("templates", {})
    policy = Policy.from_config(settings.raw)
    if store.location.backend == "server":
        from console.core.server.decide import ServerDecider

        return ServerDecider(store, origin, templates=templates, policy=policy,
                             ledger=server_ledger(store, settings))
    return Decider(store, origin, templates=templates, policy=policy)


def server_ledger(store: CheckpointStore, settings: Settings) -> LedgerDB:
    """The ledger `--ledger-db` names for this server store (one per store, connected on
    first use and closed with it), or a `NoLedger` saying how to configure one."""
    from console.core.server.store import ServerStore

    assert isinstance(store, ServerStore)
    if store.decision_ledger is None:
        from console.core.ledger.standalone import standalone_ledger

        store.decision_ledger = standalone_ledger(settings.ledger_db)
    return store.decision_ledger


def _refuse_misplaced_ledger(settings: Settings, backend: str) -> None:
    if settings.ledger_db and backend != "server":
        raise UsageError(
            "--ledger-db (HITL_LEDGER_DB, [console] ledger_db) is for an Agent Server "
            "source; a checkpoint database keeps its decision ledger beside its "
            "checkpoints. Drop it, or point --db at the server.")


@asynccontextmanager
async def store_session(
    settings: Settings,
    *,
    registry: GraphRegistry | None = None,
    create: bool = False,
) -> AsyncIterator[CheckpointStore]:
    """The store for `settings.db`, closed on exit."""
    if not settings.db:
        raise UsageError("No database given: pass --db URL or set HITL_DB "
                         "(or run `hitl-console demo` to try it on a demo queue).")
    location = parse_db_url(settings.db)
    _refuse_misplaced_ledger(settings, location.backend)
    store = await open_store(
        location,
        registry if registry is not None else registry_for(settings),
        grace_seconds=settings.grace_seconds,
        create=create,
        serde=serializer_for(settings),
        api_key=settings.api_key,
    )
    if location.backend != "server":
        # Runs that stopped after a delivered decision stay listed (as `stalled`, with
        # why). (On a server, such a run's thread is the server's `error` status.)
        from console.core.ledger.db import ledger_db
        from console.core.ledger.reconcile import StalledDecisions

        store.queue_sources.append(StalledDecisions(ledger_db(store)))
    try:
        yield store
    finally:
        await store.close()


async def named_thread(store: CheckpointStore, given: str) -> str:
    """The thread a command line names: as given, or, when no thread has that id, the
    id whose inert form it is (`\\u202e` for a bidi mark in text output), so every id
    the console prints can be passed back."""
    from console.core.inert import uninert

    decoded = uninert(given)
    if decoded == given or await store.head_checkpoint_id(given) is not None:
        return given
    return decoded if await store.head_checkpoint_id(decoded) is not None else given
