"""One Settings object from the config file, the environment and command-line flags.

Precedence, highest first: flags, environment (`HITL_*`), config file, defaults.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from console.core.durations import parse_duration
from console.core.errors import UsageError
from console.core.models import DEFAULT_GRACE_SECONDS

DEFAULT_CONFIG = Path("~/.config/hitl-console/config.toml")
DEMO_DB = "sqlite:///./hitl-demo.sqlite"


@dataclass(frozen=True)
class Settings:
    """Everything the CLI and the console need to know about how to run."""

    db: str | None = None
    graphs: tuple[str, ...] = ()
    reviewer: str = ""
    ssh_origin: str | None = None
    json: bool = False
    config_path: Path | None = None
    sla_seconds: float = 3600.0
    grace_seconds: float = DEFAULT_GRACE_SECONDS
    poll_interval: float = 1.0
    mouse: bool = True
    keymap: dict[str, str] = field(default_factory=dict)
    serde: str | None = None  # --serde: `aes` or module:attr of the app's serializer
    # --api-key / LANGGRAPH_API_KEY for an Agent Server; never printed (repr=False)
    api_key: str | None = field(default=None, repr=False)
    # --ledger-db: where an Agent Server source keeps its decision ledger
    ledger_db: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)  # the whole config file, for policy etc.

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def default_reviewer() -> str:
    """`HITL_REVIEWER`, else the OS login."""
    if reviewer := os.environ.get("HITL_REVIEWER"):
        return reviewer
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def load_settings(
    *,
    config: str | None = None,
    db: str | None = None,
    graphs: list[str] | None = None,
    reviewer: str | None = None,
    json_output: bool = False,
    no_mouse: bool = False,
    serde: str | None = None,
    api_key: str | None = None,
    ledger_db: str | None = None,
    env: dict[str, str] | None = None,
) -> Settings:
    """Build Settings; a missing default config file is fine, a missing named one is not."""
    env = dict(os.environ) if env is None else env
    path = Path(config or env.get("HITL_CONFIG") or DEFAULT_CONFIG).expanduser()
    raw: dict[str, Any] = {}
    if path.is_file() or path == Path(os.devnull):  # /dev/null: "no config", explicitly
        try:
            raw = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"Config file {path} is not valid TOML: {exc}.") from exc
    elif config or env.get("HITL_CONFIG"):
        raise UsageError(f"Config file {path} does not exist.")
    console_cfg = raw.get("console", {})
    settings = Settings(
        db=console_cfg.get("db"),
        graphs=tuple(console_cfg.get("graphs", ())),
        reviewer=console_cfg.get("reviewer", ""),
        sla_seconds=_duration(console_cfg.get("sla", "1h"), "console.sla"),
        grace_seconds=_duration(console_cfg.get("grace", "5m"), "console.grace"),
        poll_interval=_duration(console_cfg.get("poll_interval", "1s"), "console.poll_interval"),
        mouse=bool(console_cfg.get("mouse", True)),
        keymap={str(k): str(v) for k, v in raw.get("keymap", {}).items()},
        serde=str(console_cfg["serde"]) if console_cfg.get("serde") else None,
        ledger_db=str(console_cfg["ledger_db"]) if console_cfg.get("ledger_db") else None,
        config_path=path if path.is_file() else None,
        raw=raw,
    )
    return settings.with_overrides(
        db=db or env.get("HITL_DB") or settings.db,
        graphs=tuple(graphs) if graphs else None,
        reviewer=reviewer or env.get("HITL_REVIEWER") or settings.reviewer or default_reviewer(),
        ssh_origin=env.get("SSH_CONNECTION") or None,
        json=json_output,
        mouse=False if no_mouse else None,
        serde=serde or env.get("HITL_SERDE") or None,
        api_key=(api_key or env.get("LANGGRAPH_API_KEY") or "").strip() or None,
        ledger_db=ledger_db or env.get("HITL_LEDGER_DB") or None,
    )


def _duration(value: Any, key: str) -> float:
    try:
        return parse_duration(str(value))
    except UsageError as exc:
        raise UsageError(f"Config key {key}: {exc}") from exc
