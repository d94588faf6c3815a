"""The CLI's last resort and the redaction of crash details (no database needed)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from console import commands
from console.cli import main
from console.core.crash import redact_details, report_crash
from console.core.redact import Redactor
from console.settings import Settings

PASSWORD = "hunter2-Planted-pw"


def test_crash_details_hide_secret_keys_and_credentials() -> None:
    text = (f"password={PASSWORD} {{'api_key': 'sk-abcdefghijklmnopqrstuv'}} "
            f"token: abc123tok \x1b[31mred")
    redacted = redact_details(text, Redactor())
    assert PASSWORD not in redacted and "abcdefghijklmnop" not in redacted
    assert "abc123tok" not in redacted and "\x1b" not in redacted
    assert redacted.count("«redacted:") == 3


def test_an_unexpected_cli_error_is_one_sentence_and_a_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HITL_LOG_DIR", str(tmp_path))

    async def broken(args: argparse.Namespace, settings: Settings) -> int:
        secret = PASSWORD
        raise KeyError(f"password={secret}")

    monkeypatch.setattr(commands, "run_pending", broken)
    assert main(["pending", "--db", str(tmp_path / "x.sqlite")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and PASSWORD not in err
    (log,) = tmp_path.iterdir()
    assert str(log) in err
    assert "KeyError" in log.read_text() and PASSWORD not in log.read_text()


def test_no_writable_log_directory_still_gives_a_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setenv("HITL_LOG_DIR", str(blocked / "sub"))  # cannot be created
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(blocked / "tmp"))
    report = report_crash(ValueError("boom"))
    assert report.log_path is None
    assert report.sentence == ("hitl-console stopped on an unexpected error (ValueError: boom); "
                               "no log file could be written.")
