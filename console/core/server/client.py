"""The Agent Server's API client, and its failures as sentences a user can act on.

`langgraph_sdk` is imported here, lazily, on the first request: it pulls langchain_core
and pydantic (~0.9 s), which a console on a checkpointer database never needs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from console.core.dburl import DatabaseLocation
from console.core.errors import (
    ConflictError,
    ConsoleError,
    DatabaseUnavailable,
    NotPendingError,
    RightsMissing,
    UsageError,
)
from console.core.inert import inert

if TYPE_CHECKING:
    from langgraph_sdk.client import LangGraphClient

API_KEY_ENV = "LANGGRAPH_API_KEY"
# A console waits this long for one answer; the SDK's default (300 s) would freeze a
# queue refresh on a hung deployment.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0


def api_key_from(flag: str | None, env: dict[str, str] | None = None) -> str | None:
    """`--api-key`, else `LANGGRAPH_API_KEY`, else None (`langgraph dev` needs none)."""
    source = os.environ if env is None else env
    key = (flag or source.get(API_KEY_ENV) or "").strip()
    return key or None


class ServerClient:
    """One SDK client per store, built on first use, closed with the store."""

    def __init__(self, location: DatabaseLocation, api_key: str | None = None) -> None:
        if location.backend != "server":
            raise ValueError(f"not an Agent Server location: {location.backend}")
        self.location = location
        self._api_key = api_key
        self._sdk: LangGraphClient | None = None

    def __repr__(self) -> str:  # never the key
        return f"ServerClient({self.location.display()!r})"

    @property
    def sdk(self) -> LangGraphClient:
        """The SDK client (`langgraph_sdk` imported on first use)."""
        if self._sdk is None:
            from langgraph_sdk import get_client

            # api_key=None stops the SDK from reading other variables than ours
            # (LANGSMITH_API_KEY, LANGCHAIN_API_KEY): the key used is the one named.
            self._sdk = get_client(
                url=self.location.target, api_key=self._api_key,
                # (connect, read, write, pool)
                timeout=(CONNECT_TIMEOUT, READ_TIMEOUT, READ_TIMEOUT, CONNECT_TIMEOUT))
        return self._sdk

    async def close(self) -> None:
        if self._sdk is not None:
            await self._sdk.aclose()
            self._sdk = None

    @contextlib.contextmanager
    def failures(self, doing: str, *, kept: str = "nothing was changed",
                 thread_id: str | None = None) -> Iterator[None]:
        """Turn the SDK's and httpx's errors raised inside into `ConsoleError`s that say
        what the command was `doing`, what was `kept`, and what to do next."""
        try:
            yield
        except ConsoleError:
            raise
        except Exception as exc:
            mapped = server_failure(exc, self.location, doing=doing, kept=kept,
                                    thread_id=thread_id)
            if mapped is None:
                raise
            raise mapped from exc


def server_failure(
    exc: BaseException, location: DatabaseLocation, *, doing: str,
    kept: str = "nothing was changed", thread_id: str | None = None,
) -> ConsoleError | None:
    """One actionable sentence for a failed Agent Server request, or None if `exc` is
    not one (a bug, left to the crash report).

    Connection refused, timeouts and 5xx/429 are `DatabaseUnavailable` (the TUI retries
    those); 401/403 `RightsMissing`; 404 `NotPendingError` (exit 4) for a thread, a
    `UsageError` (exit 2) for the listing (no Agent Server at that URL); 409 `ConflictError`
    (exit 3: another run holds the thread); other 4xx a plain `ConsoleError`.
    """
    import httpx

    where = location.display()
    thread = f"thread {inert(thread_id, limit=200)}" if thread_id else "the thread"
    status = _status_of(exc)
    detail = _detail_of(exc)
    if status is None:
        if isinstance(exc, httpx.TimeoutException):
            return DatabaseUnavailable(
                f"The Agent Server at {where} did not answer in time while trying to "
                f"{doing}; {kept}; check that it is running and not overloaded, then try "
                "again.")
        if isinstance(exc, httpx.TransportError | ConnectionError | OSError):
            return DatabaseUnavailable(
                f"The Agent Server at {where} cannot be reached while trying to {doing} "
                f"({detail}); {kept}; check the URL and that the server is running "
                "(`langgraph dev` prints its URL), then try again.")
        return None
    if status == 401:
        return RightsMissing(
            f"The Agent Server at {where} refused the API key (HTTP 401) while trying to "
            f"{doing}; {kept}; pass --api-key or set {API_KEY_ENV} to a key of this "
            "deployment.")
    if status == 403:
        return RightsMissing(
            f"The Agent Server at {where} does not let this API key {doing} (HTTP 403: "
            f"{detail}); {kept}; ask the deployment's owner for access.")
    if status == 404 and thread_id is None:  # the listing itself: no API at this URL
        return UsageError(
            f"{where} does not answer as a LangGraph Agent Server (HTTP 404 while trying "
            f"to {doing}); {kept}; give the URL the deployment's API answers at, as "
            "`langgraph dev` prints it (e.g. http://127.0.0.1:2024, without /docs).")
    if status == 404:
        return NotPendingError(
            f"The Agent Server at {where} does not know {thread} (HTTP 404: {detail}); "
            f"{kept}; check the thread id (`hitl-console pending` lists them).")
    if status == 409:
        return ConflictError(
            f"The Agent Server at {where} refused to {doing} on {thread}: another run is "
            f"in progress there (HTTP 409); {kept}; read it again once that run is done.")
    if status == 429 or status >= 500:
        return DatabaseUnavailable(
            f"The Agent Server at {where} failed while trying to {doing} (HTTP {status}: "
            f"{detail}); {kept}; try again in a moment, or read the server's log.")
    return ConsoleError(
        f"The Agent Server at {where} rejected the request to {doing} (HTTP {status}: "
        f"{detail}); {kept}.")


def _status_of(exc: BaseException) -> int | None:
    import httpx

    if isinstance(exc, httpx.HTTPStatusError):
        response = getattr(exc, "response", None)
        if response is not None:
            return int(response.status_code)
    return None


def _detail_of(exc: BaseException) -> str:
    """The server's or driver's first line, inert, short, without its full stop."""
    text = str(getattr(exc, "message", "") or exc).strip()
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        text = body["detail"]
    first = text.splitlines()[0].strip().rstrip(".") if text else type(exc).__name__
    return inert(first, limit=200)
