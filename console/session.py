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
    """The decision path for this reviewer, with the config's policy and templates."""
    from console.core.ledger.apply import Decider, current_origin

    return Decider(store, current_origin(settings.reviewer, settings.ssh_origin),
                   templates=settings.raw.get("templates", {}),
                   policy=Policy.from_config(settings.raw))


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
    store = await open_store(
        parse_db_url(settings.db),
        registry if registry is not None else registry_for(settings),
        grace_seconds=settings.grace_seconds,
        create=create,
        serde=serializer_for(settings),
        api_key=settings.api_key,
    )
    if store.location.backend != "server":  # a server's queue has no ledger rows of ours
        # Runs that stopped after a delivered decision stay listed (as `stalled`, with why).
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
