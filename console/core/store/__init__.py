"""Checkpoint stores: set-based reads of the pending queue and review bundles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.core.dburl import DatabaseLocation
from console.core.graphs import GraphRegistry
from console.core.models import DEFAULT_GRACE_SECONDS
from console.core.store.base import CheckpointStore

if TYPE_CHECKING:
    from console.core.serde import SafeSerializer


async def open_store(
    location: DatabaseLocation,
    registry: GraphRegistry | None = None,
    *,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    create: bool = False,
    serde: SafeSerializer | None = None,
    api_key: str | None = None,
) -> CheckpointStore:
    """Open the store for a database location; the caller closes it. `serde` writes
    every value and its display decoder reads them (default: LangGraph's format,
    decoded safely, and built only when a write first needs it). `api_key`: an Agent
    Server's (unused by databases)."""
    registry = registry if registry is not None else GraphRegistry()
    if location.backend == "server":
        from console.core.server.store import ServerStore

        return await ServerStore.open(location, registry, grace_seconds, create=create,
                                      serde=serde, api_key=api_key)
    if location.backend == "postgres":
        from console.core.store.postgres import PostgresStore

        return await PostgresStore.open(location, registry, grace_seconds, create=create,
                                        serde=serde)
    from console.core.store.sqlite import SqliteStore

    return await SqliteStore.open(location, registry, grace_seconds, create=create, serde=serde)


__all__ = ["CheckpointStore", "open_store"]
