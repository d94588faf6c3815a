"""The TUI's last resort: an error no handler caught never reaches the screen as a
Rich traceback with local variables; one redacted sentence names a log file, and the
file holds the details, redacted."""

from __future__ import annotations

from pathlib import Path

import pytest
from ui_support import build_app

from console.core.store.base import CheckpointStore
from console.settings import Settings

PASSWORD = "hunter2-Planted-pw"
BEARER = "Bearer abcdefghijklmnop0123456789"


async def test_an_unhandled_error_shows_one_sentence_and_logs_redacted_details(
    store: CheckpointStore, settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    logs = tmp_path / "logs"
    monkeypatch.setenv("HITL_LOG_DIR", str(logs))
    app = build_app(store, settings)

    def broken_help() -> None:
        db_password = PASSWORD  # a local: Textual's own handler would print it
        raise RuntimeError(f"help failed: password={db_password} auth {BEARER}")

    with pytest.raises(RuntimeError):
        async with app.run_test() as pilot:
            app.action_help = broken_help  # type: ignore[method-assign]
            await pilot.press("question_mark")
            await pilot.pause()
    assert app.return_code == 1
    shown = capsys.readouterr()
    screen = shown.err + shown.out
    sentence = [line for line in screen.splitlines() if line.strip()]
    assert len(sentence) == 1, screen
    assert sentence[0].startswith("hitl-console stopped on an unexpected error (RuntimeError: ")
    assert "Traceback" not in screen and "locals" not in screen and "db_password" not in screen
    assert PASSWORD not in screen and "abcdefghijklmnop" not in screen
    (log,) = logs.iterdir()
    assert str(log) in sentence[0]
    details = log.read_text()
    assert "Traceback" in details and "broken_help" in details and "RuntimeError" in details
    assert PASSWORD not in details and "abcdefghijklmnop" not in details
    assert "«redacted:" in details
    assert log.stat().st_mode & 0o077 == 0  # the reviewer's alone
