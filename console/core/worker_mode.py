"""The worker-mode switch, readable without the decision path (`ledger.apply`)."""

from __future__ import annotations

import os

WORKER_MODE_ENV = "HITL_WORKER_MODE"


def worker_mode_default() -> bool:
    """Whether a Decider built without `worker_mode` only records decisions for a worker:
    `HITL_WORKER_MODE=1` (which `--worker-mode` and `[console] worker_mode` set)."""
    return os.environ.get(WORKER_MODE_ENV, "").strip().lower() in ("1", "true", "yes", "on")
