"""A process of the kill -9 test: applies one decision per request in a forked child and
SIGKILLs that child a given delay after its apply started.

The parent imports everything once and holds no connection or event loop, so each fork
starts in milliseconds and opens its own store. Protocol on stdin/stdout, one line each:
`THREAD DELAY_SECONDS` -> `killed|exited SECONDS_THE_APPLY_TOOK_OR_-1`. A negative delay
lets the apply run to the end (used to measure how long an apply takes).
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import sys
import time


async def _apply(url: str, thread_id: str, started_fd: int) -> None:
    from console.core.dburl import parse_db_url
    from console.core.graphs import GraphInfo, GraphRegistry
    from console.core.ledger.apply import Decider, current_origin
    from console.core.ledger.decisions import DecisionInput
    from console.core.ledger.rows import DecisionType
    from console.core.store import open_store
    from tests import graphs

    registry = GraphRegistry([GraphInfo.of("kill", graphs.ALL["kill"])])
    store = await open_store(parse_db_url(url), registry, grace_seconds=0)
    try:
        decider = Decider(store, current_origin("killer"), worker_mode=False)
        await decider.ensure_ledger()
        os.write(started_fd, b"s")  # the apply starts now: the kill delay counts from here
        await decider.decide(thread_id, DecisionInput(DecisionType.APPROVE))
    finally:
        await store.close()


def _one(url: str, thread_id: str, delay: float) -> str:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: apply, then leave without running the parent's cleanups
        os.close(read_fd)
        code = 0
        try:
            asyncio.run(_apply(url, thread_id, write_fd))
        except BaseException:
            code = 1
        os._exit(code)
    os.close(write_fd)
    ready, _, _ = select.select([read_fd], [], [], 60)
    started = time.monotonic()
    if ready and os.read(read_fd, 1) == b"s" and delay >= 0:
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    took = time.monotonic() - started
    os.close(read_fd)
    if os.WIFSIGNALED(status):
        return f"killed {took:.4f}"
    return f"exited {took:.4f}" if os.WEXITSTATUS(status) == 0 else f"failed {took:.4f}"


def main() -> None:
    from console.core.ledger import apply  # noqa: F401 - import the world before forking
    from tests import graphs  # noqa: F401

    url = sys.argv[1]
    print("ready", flush=True)
    for line in sys.stdin:
        thread_id, delay = line.split()
        print(_one(url, thread_id, float(delay)), flush=True)


if __name__ == "__main__":
    main()
