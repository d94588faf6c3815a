"""A store that opens after the TUI's first frame: `LateStore`.

On Postgres, opening the store imports the driver (~50-85 ms) and connects; the TUI's
first frame needs neither when a forked child has read its first page
(`console.first_page`). So the app is given this stand-in: what the first frame asks
synchronously (`location`, `registry`, `pages_in_sql`) it answers itself; every read
(any coroutine method of `CheckpointStore`) waits for the opening, which starts at the
first read (the UI makes that one after its first frame is on the terminal); once open,
everything is the real store's.

An opening that fails (the database went away since the child read it) fails that read
with the store's own error, and the next read tries again: the UI's outage handling and
its retries work as they do for a store that was open. Sync attributes the real store
has only once open (`pool`, `saver`, ...) raise `StoreStillOpening` until then; callers
that need them first `await store.ready()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any

from console.core.dburl import DatabaseLocation
from console.core.errors import ConsoleError
from console.core.graphs import GraphRegistry
from console.core.store.base import CheckpointStore


class StoreStillOpening(ConsoleError):
    """A synchronous attribute of the store was asked for before it opened."""


class LateStore:
    """Stands in for the `CheckpointStore` that `open_store` opens on the first read.

    Not a `CheckpointStore` subclass on purpose: the base class's methods would run on
    this empty stand-in instead of waiting for the real one."""

    def __init__(
        self,
        location: DatabaseLocation,
        registry: GraphRegistry,
        open_store: Callable[[], AbstractAsyncContextManager[CheckpointStore]],
        *,
        pages_in_sql: bool,
    ) -> None:
        self.location = location
        self.registry = registry
        self._open_store = open_store
        self._pages_in_sql = pages_in_sql
        self._store: CheckpointStore | None = None
        self._opening: asyncio.Task[CheckpointStore] | None = None
        self._exits = AsyncExitStack()

    @property
    def is_open(self) -> bool:
        return self._store is not None

    @property
    def pages_in_sql(self) -> bool:
        """As the child that read the first page found it, until the store is open."""
        return self._store.pages_in_sql if self._store is not None else self._pages_in_sql

    async def ready(self) -> CheckpointStore:
        """The open store: opened now if this is the first read (or the last opening
        failed)."""
        if self._store is not None:
            return self._store
        if self._opening is None or (self._opening.done() and (
                self._opening.cancelled() or self._opening.exception() is not None)):
            self._opening = asyncio.create_task(self._open(), name="opening the store")
        # shielded: a cancelled read (a replaced worker) leaves the opening to the next
        return await asyncio.shield(self._opening)

    async def _open(self) -> CheckpointStore:
        store = await self._exits.enter_async_context(self._open_store())
        self._store = store
        return store

    async def close(self) -> None:
        """Stop an opening under way, and close the store if it opened."""
        opening = self._opening
        if opening is not None and not opening.done():
            opening.cancel()
            with contextlib.suppress(BaseException):
                await opening
        await self._exits.aclose()
        self._store = None

    def __getattr__(self, name: str) -> Any:
        # only names this class does not define: the real store's, once it is open
        store = self.__dict__.get("_store")
        if store is not None:
            return getattr(store, name)
        if inspect.iscoroutinefunction(getattr(CheckpointStore, name, None)):
            return _waiting(self.ready, name)
        if name.startswith("__"):  # copy/pickle/inspection probes
            raise AttributeError(name)
        raise StoreStillOpening(
            f"The connection to {self.location.display()} is still opening ({name}); "
            "nothing was read or changed. Try again in a moment.")


def _waiting(ready: Callable[[], Awaitable[CheckpointStore]], name: str
             ) -> Callable[..., Any]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        return await getattr(await ready(), name)(*args, **kwargs)

    call.__name__ = name
    return call
