"""Stopping the worker processes a test started, the way an operator would."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Sequence


def stop_workers(procs: Sequence[subprocess.Popen[str]]) -> None:
    """SIGTERM every worker still running, then require each to exit cleanly (0)."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        stderr = proc.stderr.read() if proc.stderr else ""
        assert code == 0, stderr
