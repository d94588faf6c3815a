"""The queue filter as typed after `/`: free text plus `graph:`, `node:`, `older:` tokens.

Pure and forgiving, because it runs on every keystroke: a half-typed token (`graph:`,
`older:2`) narrows nothing and reports no error until it is complete, and an invalid
value is reported in `problems` instead of raising, so the input never fights the typist.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from console.core.durations import parse_duration
from console.core.errors import UsageError
from console.core.models import PendingFilter

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
