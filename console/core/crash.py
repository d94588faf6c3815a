"""The last resort for an error nothing else handled: one sentence, details in a file.

A Rich traceback prints local variables (a reviewer's screen would show a planted
password, a decoded payload, a connection string); a plain one shows code and paths
over a shoulder or a shared tmux. Both the TUI and the CLI instead show one redacted
sentence naming a log file, and write the traceback there, without locals, redacted
and inert, readable by the reviewer alone (0600).
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from console.core.inert import inert
from console.core.redact import Redactor
from console.core.sink import Sink

LOG_DIR_ENV = "HITL_LOG_DIR"
MAX_LOG_TEXT = 200_000
MAX_MESSAGE = 160


@dataclass(frozen=True)
class CrashReport:
    sentence: str  # what the reviewer sees
    log_path: Path | None  # where the details went (None: nowhere could be written)


def log_dir() -> Path:
    """`HITL_LOG_DIR`, else `$XDG_STATE_HOME/hitl-console`, else ~/.local/state/hitl-console."""
    if configured := os.environ.get(LOG_DIR_ENV):
        return Path(configured).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or str(Path("~/.local/state").expanduser())
    return Path(state) / "hitl-console"


def report_crash(error: BaseException, redactor: Redactor | None = None) -> CrashReport:
    """Write `error`'s redacted details to a new log file; return the sentence to show."""
    redactor = redactor or Redactor()
    details = redact_details("".join(traceback.format_exception(error)), redactor)
    path = _write_log(details)
    message = str(error).strip().splitlines()
    summary = type(error).__name__
    if message:
        summary += ": " + inert(redact_details(message[0], redactor), limit=MAX_MESSAGE)
    where = (f"details are in {path}" if path is not None
             else "no log file could be written")
    return CrashReport(f"hitl-console stopped on an unexpected error ({summary}); {where}.",
                       path)


def redact_details(text: str, redactor: Redactor) -> str:
    """A traceback as the log file keeps it: through the redactor's free-text rules
    (`key=value`, `'key': 'value'`, URL credentials, tokens), inert, newlines kept."""
    return Sink(redactor).text(text, limit=MAX_LOG_TEXT, keep_newlines=True)


def _write_log(details: str) -> Path | None:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"crash-{stamp}-{os.getpid()}.log"
    header = (f"hitl-console crash at {datetime.now(UTC).isoformat()}\n"
              f"python {sys.version.split()[0]}; argv {inert(' '.join(sys.argv[1:2]))}\n\n")
    for folder in (log_dir(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = folder / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as handle:
                handle.write(header + details)
            return path
        except OSError:
            continue
    return None
