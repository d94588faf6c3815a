"""A process of the race test: waits at the barrier, then approves every thread via the CLI."""

from __future__ import annotations

import contextlib
import io
from typing import Any


def approve_all(url: str, threads: list[tuple[str, str | None]], barrier: Any,
                results: Any) -> None:
    from console.cli import main

    barrier.wait()
    codes = {}
    for thread_id, expect in threads:
        argv = ["approve", thread_id, "--db", url, "--graph", "race=tests.graphs:race"]
        if expect:
            argv += ["--expect", expect]
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            codes[thread_id] = main(argv)
        if codes[thread_id] not in (0, 3):
            codes[f"{thread_id}:stderr"] = err.getvalue()
    results.put(codes)
