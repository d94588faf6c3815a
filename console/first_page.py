"""The queue's first page for the TUI's first frame, and, on Postgres, read in a forked
process while the parent imports the UI.

The first frame shows the first page of the queue (issue 17: on screen within 1.75x of a
bare Textual app). On SQLite it is read in-process before the app starts. On Postgres
that would put the driver's import (~50-85 ms: psycopg's binary module, type adapters,
`importlib.metadata`), the pool and the first queries in front of the UI's own import,
and a thread would not help (both imports hold the GIL throughout). So `start_reading`
forks before the UI is imported: the child opens the store exactly as the parent would
(it is a copy of the parent at the fork), reads the page on the second core and writes
it down a pipe; the parent, once the UI is imported, takes it (`FirstPageReader.take`)
and opens its own store after the first frame (`LateStore`).

Whatever goes wrong in the child (no fork, an unreachable database, a row it cannot
send, a slow server) makes `take` return None and the parent does what it did before:
open the store and read the page itself, so every error is reported as it always was.

The pipe carries pickled rows. Only the child, a copy of this process, writes it, and the
unpickler admits only the row classes and the value types the display decoder can build
(`ALLOWED`): even a forged stream could build nothing else.
"""

from __future__ import annotations

import asyncio
import io
import os
import pickle
import select
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from console.core.decode import STDLIB_TYPES

if TYPE_CHECKING:
    from console.core.models import PendingThread
    from console.core.store.base import CheckpointStore
    from console.settings import Settings

# The first frame shows this many rows as soon as they are read (a store that pages in
# SQL reads them in a few ms), before the whole queue is read: more than any terminal
# shows, and no more (each row is decoded, classified and measured before that frame).
FIRST_PAGE = 100
TAKE_TIMEOUT = 10.0  # seconds the parent waits for the child before reading it itself

# What the pipe's pickles may name: the rows and what a decoded payload holds.
ALLOWED: frozenset[tuple[str, str]] = frozenset({
    *(key for key in STDLIB_TYPES if len(key) == 2),
    ("re", "_compile"),  # how a pickled pattern rebuilds
    ("console.core.models", "PendingThread"),
    ("console.core.models", "PendingInterrupt"),
    ("console.core.models", "PauseKind"),
    ("console.core.models", "Convention"),
    ("console.core.models", "restore_row"),
    ("console.core.decode", "LightObject"),
    ("console.core.decode", "KeptExt"),
    ("console.core.store.heads", "Settle"),
    ("console.first_page", "FirstPage"),
})


@dataclass(frozen=True)
class FirstPage:
    """The first page as the child read it. `pages_in_sql`: whether the store reads a page
    in SQL (after `setup`); without it there is no page (`rows` empty) and the app reads
    the whole queue after its first frame, as it does on any store that cannot page."""

    rows: tuple[PendingThread, ...]
    pages_in_sql: bool


async def read_first_page(store: CheckpointStore, limit: int = FIRST_PAGE,
                          now: datetime | None = None) -> list[PendingThread]:
    """The queue's first page, read before the app starts: its first frame then shows
    the rows (a frame drawn empty, then again with rows, took ~30 ms more). Empty where
    the store does not page in SQL (it would read everything for a page) or the read
    failed: the app's first load then reads the queue, or says why it cannot."""
    if not store.pages_in_sql:
        return []
    try:
        return await store.pending(now=now or datetime.now(UTC), limit=limit)
    except Exception:
        return []


class FirstPageReader:
    """A forked child reading the first page; `take` it once the UI is imported."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self._fd = fd

    def take(self, timeout: float = TAKE_TIMEOUT) -> FirstPage | None:
        """The child's page, or None if it failed or took longer than `timeout` (the
        child is then killed). Always reaps the child."""
        data = bytearray()
        deadline = time.monotonic() + timeout
        try:
            while (left := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select([self._fd], [], [], left)
                if not ready:
                    break
                chunk = os.read(self._fd, 1 << 16)
                if not chunk:  # the child is done writing
                    return _loads(bytes(data))
                data += chunk
            return None
        finally:
            os.close(self._fd)
            self._reap()

    def _reap(self) -> None:
        try:
            done, _ = os.waitpid(self.pid, os.WNOHANG)
            if not done:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        except (ChildProcessError, ProcessLookupError):
            pass


def start_reading(settings: Settings, limit: int = FIRST_PAGE) -> FirstPageReader | None:
    """Fork a child that reads the first page of `settings.db` if that is a Postgres
    database (elsewhere the page is cheap to read in-process), else None. Call it before
    anything starts a thread or an event loop: the child is a copy of this process."""
    from console.core.dburl import parse_db_url

    try:
        backend = parse_db_url(settings.db or "").backend
    except Exception:  # the parent's own opening says what is wrong with the URL
        return None
    if backend != "postgres" or not hasattr(os, "fork"):
        return None
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:  # pragma: no cover - the child; measured through the pipe by the tests
        os.close(read_end)
        _child(settings, limit, write_end)
    os.close(write_end)
    return FirstPageReader(pid, read_end)


def _child(settings: Settings, limit: int, fd: int) -> None:
    """Read, write, and leave without running anything of the parent's (atexit, buffers)."""
    data = b""
    try:
        # Nothing of the child's may reach the reviewer's terminal, and Ctrl-C there
        # ends it at once (the parent then reads the page itself, or quits).
        devnull = os.open(os.devnull, os.O_RDWR)
        for stream in (0, 1, 2):
            os.dup2(devnull, stream)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        data = _dumps(asyncio.run(_read(settings, limit)))
    except BaseException:
        data = b""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os._exit(0)


async def _read(settings: Settings, limit: int) -> FirstPage:
    from console.session import store_session

    async with store_session(settings) as store:
        if not store.pages_in_sql:
            return FirstPage((), False)
        rows = await store.pending(now=datetime.now(UTC), limit=limit)
        # decoded here, on the second core, and sent without the child's codec
        return FirstPage(tuple(rows), True)


def _dumps(page: FirstPage) -> bytes:
    """`page` pickled; a time zone by its key (its own reduction goes through
    `getattr`, which the unpickler must not admit: it reaches any attribute)."""
    from zoneinfo import ZoneInfo

    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {ZoneInfo: lambda zone: (ZoneInfo, (zone.key,))}
    pickler.dump(page)
    return out.getvalue()


class _RowUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not a first-page type")
        return super().find_class(module, name)


def _loads(data: bytes) -> FirstPage | None:
    if not data:
        return None
    try:
        loaded = _RowUnpickler(io.BytesIO(data)).load()
    except Exception:
        return None
    if not isinstance(loaded, FirstPage):
        return None
    return loaded
