"""The queue filter's text form: free text plus `graph:`, `node:`, `older:` tokens.

One meaning for the TUI's `/` filter and the CLI's `--search`. Pure and forgiving,
because the TUI runs it on every keystroke: a half-typed token (`graph:`, `older:2`)
narrows nothing and reports no error until it is complete, and an invalid value is
reported in `problems` instead of raising, so the input never fights the typist.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from console.core.durations import parse_duration
from console.core.errors import UsageError
from console.core.models import PendingFilter
from console.core.store.heads import search_needle

KEYS = ("graph", "node", "older")
# Shown as the input's placeholder and in the help screen.
SYNTAX_HINT = "text  graph:NAME  node:NAME  older:2h"


@dataclass(frozen=True, slots=True)
class FilterQuery:
    """A parsed filter: what the store understands, plus what could not be understood."""

    text: str
    filter: PendingFilter
    problems: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        """Whether the filter narrows anything at all."""
        f = self.filter
        return any(v is not None for v in (f.graph, f.node, f.older_than_seconds, f.search))


EMPTY = FilterQuery("", PendingFilter())


def _tokens(text: str) -> list[str]:
    # Quotes allow `graph:"my graph"`; an unfinished quote is normal while typing.
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def parse_filter(text: str) -> FilterQuery:
    """Turn the filter input into a `PendingFilter`; the last of repeated keys wins.

    Free words are kept in order and searched as one phrase (the store's `search`).
    Unknown `key:value` words are free text, so ids such as `ORD-1:2` can be searched.
    """
    graph: str | None = None
    node: str | None = None
    older: float | None = None
    words: list[str] = []
    problems: list[str] = []
    for token in _tokens(text):
        key, sep, value = token.partition(":")
        key = key.lower()
        if not sep or key not in KEYS:
            words.append(token)
            continue
        if not value:
            continue  # still being typed
        if key == "graph":
            graph = value
        elif key == "node":
            node = value
        else:
            try:
                older = parse_duration(value)
            except UsageError:
                if not value[-1].isdigit():  # `older:2` may become `older:2h`
                    problems.append(f"older:{value} is not a duration (try 90s, 15m, 2h, 7d)")
    search = " ".join(words) or None
    return FilterQuery(
        text=text,
        filter=PendingFilter(graph=graph, node=node, older_than_seconds=older, search=search),
        problems=tuple(problems),
    )


def narrows(wider: PendingFilter, narrower: PendingFilter) -> bool:
    """Whether every thread passing `narrower` also passes `wider` (so `narrower` can be
    run on `wider`'s result instead of the whole queue). `older:` depends on the time,
    so a filter with it is never a base to narrow from."""
    if wider.older_than_seconds is not None:
        return False
    if wider.graph is not None and wider.graph != narrower.graph:
        return False
    if wider.node is not None and wider.node != narrower.node:
        return False
    if wider.search is None:
        return True
    return narrower.search is not None and (
        search_needle(wider.search) in search_needle(narrower.search))


def cli_filter(
    *,
    graph: str | None = None,
    node: str | None = None,
    older_than: str | None = None,
    search: str | None = None,
) -> PendingFilter:
    """The CLI's filter flags as one `PendingFilter`: `--search` reads like the TUI's `/`
    filter (`graph:`, `node:`, `older:` tokens and free text), and a flag and a token
    that name different values are refused rather than one silently winning."""
    parsed = parse_filter(search or "").filter
    for token in _tokens(search or ""):
        key, sep, value = token.partition(":")
        if sep and key.lower() == "older" and value:
            parse_duration(value)  # strict here: nobody is still typing
        elif sep and key.lower() in KEYS and not value:
            raise UsageError(f"--search: {token!r} needs a value (e.g. {key.lower()}:NAME).")
    older = parse_duration(older_than) if older_than else None
    pairs: tuple[tuple[str, str, object, object], ...] = (
        ("--graph", "graph", graph, parsed.graph), ("--node", "node", node, parsed.node),
        ("--older-than", "older", older, parsed.older_than_seconds))
    for flag_name, token_name, flag, given in pairs:
        if flag is not None and given is not None and flag != given:
            raise UsageError(f"{flag_name} and {token_name}: in --search disagree; give one "
                             "of them.")
    return PendingFilter(
        graph=graph if graph is not None else parsed.graph,
        node=node if node is not None else parsed.node,
        older_than_seconds=older if older is not None else parsed.older_than_seconds,
        search=parsed.search)
