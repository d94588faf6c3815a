"""Fixtures the integration tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from console.core.dburl import parse_db_url
from console.core.graphs import GraphInfo, GraphRegistry
from console.core.store import CheckpointStore, open_store
from tests import graphs


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[CheckpointStore]:
    """A store on the test database with every test graph loaded (grace 0); a module
    that needs other graphs defines its own `store`."""
    registry = GraphRegistry(GraphInfo.of(n, g) for n, g in graphs.ALL.items())
    opened = await open_store(parse_db_url(db_url), registry, grace_seconds=0, create=True)
    try:
        yield opened
    finally:
        await opened.close()
