"""Pure core pieces: durations, URLs, redaction, inert text, conventions, import hygiene."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from console.core.conventions import allowed_decisions, detect_convention
from console.core.dburl import parse_db_url
from console.core.durations import format_age, parse_duration
from console.core.errors import UsageError
from console.core.inert import fit, inert
from console.core.models import Convention
from console.core.redact import Redactor


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("72h", 259200),
                                                ("7d", 604800), ("1h30m", 5400), ("45", 45)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "soon", "5 parsecs", "-3h", "h"])
def test_bad_durations(bad: str) -> None:
    with pytest.raises(UsageError, match="not a duration"):
        parse_duration(bad)


def test_format_age() -> None:
    assert [format_age(s) for s in (5, 90, 7200, 200000)] == ["5s", "1m", "2h", "2d"]


def test_db_urls() -> None:
    assert parse_db_url("postgresql://u:pw@h/db").display() == "postgresql://u:***@h/db"
    assert parse_db_url("sqlite:///rel/x.sqlite").target == "rel/x.sqlite"
    assert parse_db_url("sqlite:////abs/x.sqlite").target == "/abs/x.sqlite"
    assert parse_db_url("./queue.db").backend == "sqlite"
    for bad in ("mysql://x", "queue.txt", "", "sqlite://"):
        with pytest.raises(UsageError):
            parse_db_url(bad)


def test_redaction_keys_values_and_fingerprints() -> None:
    redactor = Redactor(key=b"k")
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlMTIzNDU"
    data = {
        "api_key": "short", "nested": {"Password": "hunter2", "ok": "fine"},
        "text": f"token {jwt} and card 4111 1111 1111 1111 and sk-abcdefghijklmnop1234",
        "auth": "Bearer abcdefghijklmnopqrstu", "not_card": "1234 5678 9012 3456",
    }
    out = redactor.redact(data)
    flat = str(out)
    for secret in ("short", "hunter2", jwt, "4111 1111", "sk-abcdef", "abcdefghijklmnopqrstu"):
        assert secret not in flat
    assert out["nested"]["ok"] == "fine"
    assert out["not_card"] == "1234 5678 9012 3456"  # fails Luhn: not a card
    assert redactor.redact({"api_key": "short"}) == redactor.redact({"api_key": "short"})
    assert redactor.redact({"api_key": "a"}) != redactor.redact({"api_key": "b"})
    assert Redactor(key=b"other").fingerprint("short") != redactor.fingerprint("short")


def test_inert_text() -> None:
    hostile = "a\x1b[31mred\x1b]8;;http://x\x07link\x1b]52;c;Zm9v\x07\x07\u202eevil\u200b[bold]b"
    shown = inert(hostile)
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert "[bold]" in shown  # markup stays literal text; the UI renders it as Text
    assert inert("x" * 5000).endswith("chars)")
    assert fit("abcdefgh", 5) == "abcd…"


def test_convention_detection() -> None:
    assert detect_convention({"actionRequests": [{"name": "x"}]}, None) \
        is Convention.LANGCHAIN_HITL
    assert detect_convention([{"action_request": {"action": "a"}, "config": {}}], None) \
        is Convention.AGENT_INBOX
    assert detect_convention("hi", {"type": "string"}) is Convention.SCHEMA
    assert detect_convention({"question": "?"}, None) is Convention.RAW
    payload = {"actionRequests": [{"name": "a"}],
               "reviewConfigs": [{"actionName": "a", "allowedDecisions": ["approve"]}]}
    assert allowed_decisions(payload, Convention.LANGCHAIN_HITL) == ["approve"]


def test_core_never_imports_textual() -> None:
    code = ("import sys, console.core.store, console.core.ledger.apply, console.core.views, "
            "console.core.ledger.decisions, console.core.store.postgres, "
            "console.core.store.sqlite; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cli_search_reads_like_the_tui_filter() -> None:
    from console.core.errors import UsageError
    from console.core.filter_query import cli_filter, parse_filter

    text = "graph:email node:approve older:2h ORD-1:2 acme"
    assert cli_filter(search=text) == parse_filter(text).filter
    assert cli_filter(graph="email", search="graph:email acme").search == "acme"
    for bad in ({"graph": "a", "search": "graph:b"}, {"search": "older:soon"},
                {"search": "node:"}, {"older_than": "1h", "search": "older:2h"}):
        with pytest.raises(UsageError):
            cli_filter(**bad)


def test_a_whole_hitl_request_allows_only_what_every_action_allows() -> None:
    from console.core.conventions import allowed_decisions
    from console.core.models import Convention

    def request(*configs: tuple[str, list[str]]) -> dict[str, object]:
        return {"action_requests": [{"name": n, "args": {}} for n, _ in configs],
                "review_configs": [{"action_name": n, "allowed_decisions": a}
                                   for n, a in configs]}

    hitl = Convention.LANGCHAIN_HITL
    # respond on one action only: a pause-wide respond would be refused for the other
    assert allowed_decisions(request(("send_email", ["approve", "edit", "reject", "respond"]),
                                     ("delete_records", ["approve", "reject"])), hitl) == [
        "approve", "edit", "reject"]  # edit one action, approve the other
    assert allowed_decisions(request(("a", ["edit", "reject"]), ("b", ["reject"])), hitl) == [
        "reject"]
    assert allowed_decisions({"action_requests": [{"name": "x", "args": {}}]}, hitl) == [
        "approve", "edit", "reject"]


def test_config_dev_null_means_no_config(tmp_path: Path) -> None:
    """`HITL_CONFIG=/dev/null` (or `--config /dev/null`) is the usual way to say "no
    config file": it was refused as a file that "does not exist"; a missing path still is."""
    import os

    from console.settings import load_settings

    assert load_settings(env={"HITL_CONFIG": os.devnull}).raw == {}
    assert load_settings(config=os.devnull, env={}).raw == {}
    with pytest.raises(UsageError, match="does not exist"):
        load_settings(config=str(tmp_path / "missing.toml"), env={})
