"""A process of the server race tests: waits at the barrier, then approves every thread
through the CLI (`approve T --db <server> [--ledger-db URL]`), recording exit codes."""

from __future__ import annotations

import contextlib
import io
from typing import Any


def approve_all(url: str, ledger: str | None, threads: list[str], barrier: Any,
                results: Any) -> None:
    from console.cli import main

    barrier.wait()
    codes: dict[str, Any] = {}
    for thread_id in threads:
        argv = ["approve", thread_id, "--db", url, "--reviewer", "racer"]
        if ledger:
            argv += ["--ledger-db", ledger]
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            codes[thread_id] = main(argv)
        if codes[thread_id] != 0:
            codes[f"{thread_id}:stderr"] = err.getvalue()
    results.put(codes)
