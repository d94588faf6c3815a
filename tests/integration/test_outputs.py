"""One way out (issue 15): whatever leaves the console, through any sink, is inert and
redacted, and every identifier it prints can be passed back.

One SQLite store per module; threads whose ids hold an `sk-live-...` key, a bidi
character and a UUID, and whose state and payload mix every control, bidi, invisible
and tag class with every secret form. The CLI runs in process (`console.cli.main`); the
TUI runs under Pilot at 80x24 and its screens are read back as text.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.cli import main
from console.core.dburl import parse_db_url
from console.core.graphs import GraphInfo, GraphRegistry
from console.core.inert import inert, is_inert_char
from console.core.store import open_store
from tests import graphs

GRAPH_ARGS = ["--graph", graphs.spec("echo"), "--graph", graphs.spec("pwned")]
CONTROLS = [
    "\x1b]0;pwned\x07", "\x1b]52;c;ZXZpbA==\x07", "\x1b[31m", "\x9b31m", "\x9d0;x\x9c", "\x00",
    "\x7f", "\r", "\u061c", "\u2028", "\u2029", "\u00ad", "\u180e", "\ufff9", "\ufffb",
    "\u202e", "\u2066", "\u200b", "\u200d", "\ufeff", "\ufe0f", "\u3164", "\U000e0041",
    "\U000e007f", "\U000e0100",
]
# (form, secret): each secret is unique, so finding it anywhere is a leak.
SECRET_FORMS = [
    "password={s}", "api_key: {s}", "{{'password': '{s}'}}", '{{"passphrase": "{s}"}}',
    "postgresql://app:{s}@db/x", "Authorization: Basic {s}", "pwd={s}", "token: {s}",
]
UUID = "00000000-0000-0000-0000-000000abcdef"
SK_ID = "sk-live-Ab12Cd34Ef56Gh78Ij90"


def _secret(n: int) -> str:
    return f"Sx{n:04d}q7Lm2Np9Rt"


def _hostile(pieces: list[str]) -> str:
    return " ".join(pieces)


def _no_raw_controls(text: str) -> None:
    text = text.replace("\r\n", "\n")  # CSV's own line ends (RFC 4180)
    raw = sorted({f"U+{ord(c):04X}" for c in text if is_inert_char(c) and c not in "\n\t"})
    assert not raw, raw


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('outputs') / 'out.sqlite'}"
    asyncio.run(_seed(url, {f"t-{SK_ID}-\u202e{UUID}": ("echo", "hello \x1b]0;x\x07"),
                            "pw-1": ("pwned", "pwned")}))
    assert main(["setup", "--db", url, "--json"]) == 0
    return url


async def _seed(url: str, threads: dict[str, tuple[str, str]]) -> None:
    store = await open_store(parse_db_url(url), GraphRegistry(), grace_seconds=0, create=True)
    try:
        for thread_id, (name, topic) in threads.items():
            graph = graphs.ALL[name].copy(update={"checkpointer": store.saver})
            await graph.ainvoke({"topic": topic}, {"configurable": {"thread_id": thread_id},
                                                   "metadata": {"graph_id": name}})
    finally:
        await store.close()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([*args])
    out, err = capsys.readouterr()
    return code, out, err


pieces = st.lists(
    st.one_of(st.sampled_from(CONTROLS),
              st.tuples(st.sampled_from(SECRET_FORMS), st.integers(0, 9999)).map(
                  lambda p: p[0].format(s=_secret(p[1]))),
              st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=6)),
    min_size=1, max_size=12)


@settings(max_examples=5, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=pieces, n=st.integers(0, 10**6))
def test_every_sink_is_inert_redacted_and_ids_work(
    db: str, capsys: pytest.CaptureFixture[str], parts: list[str], n: int
) -> None:
    text = _hostile(parts)
    secrets = [p for p in (_secret(i) for i in range(10000)) if p in text]
    thread = f"h{n}-{SK_ID}-\u2066{UUID}"
    asyncio.run(_seed(db, {thread: ("echo", text)}))
    outputs: list[str] = []
    code, out, err = cli(capsys, "pending", "--db", db, "--json", "--search", f"h{n}-")
    assert code == 0, err
    outputs += [out, err]
    ids = [row["thread_id"] for row in json.loads(out)]
    assert thread in ids  # exactly, through the JSON escapes
    for thread_id in ids:  # every id printed can be passed back
        code, shown, err = cli(capsys, "show", thread_id, "--db", db, "--json", *GRAPH_ARGS)
        assert code == 0, err
        assert json.loads(shown)["thread_id"] == thread_id
        outputs += [shown, err]
    for args in (["pending"], ["show", thread]):
        outputs += cli(capsys, *args, "--db", db, *GRAPH_ARGS)[1:]
    # the id as text output prints it (inert: the bidi mark shown as \u2066) works too
    code, shown, err = cli(capsys, "show", inert(thread), "--db", db, "--json", *GRAPH_ARGS)
    assert code == 0, err
    assert json.loads(shown)["thread_id"] == thread
    outputs += asyncio.run(_tui_screens(db, thread))
    code, out, err = cli(capsys, "reject", thread, "--db", db, "--reason", f"no {text}",
                         *GRAPH_ARGS)
    assert code == 0, err
    outputs += [out, err]
    for fmt in (["--json"], ["--csv"], []):
        outputs += cli(capsys, "audit", "--db", db, "--thread", thread, *fmt)[1:]
    for index, output in enumerate(outputs):
        _no_raw_controls(output)
        leaked = [s for s in secrets if s in output]
        assert not leaked, (index, [ln for ln in output.splitlines() if leaked[0] in ln])
    assert f"h{n}-{SK_ID}"[:28] in outputs[-2]  # the audit shows the id, not a fingerprint


async def _tui_screens(db: str, thread: str) -> list[str]:
    """The TUI as a reviewer sees it at 80x24: the queue, then the thread's detail (each
    of its tabs, the payload as cards and as raw JSON)."""
    from console.settings import Settings
    from tests.ui.ui_support import build_app, main_screen, screen_text, settle, until

    registry = GraphRegistry(GraphInfo.of(name, graphs.ALL[name]) for name in ("echo", "pwned"))
    store = await open_store(parse_db_url(db), registry, grace_seconds=0)
    shown: list[str] = []
    try:
        app = build_app(store, Settings(reviewer="tester", mouse=False))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            screen = main_screen(app)
            assert screen.table.select_thread(thread)
            await settle(pilot)
            await until(pilot, lambda: screen.detail.thread_id == thread
                        and screen.detail.checkpoint_id is not None, what="the detail")
            shown.append(screen_text(app))  # the queue
            await pilot.press("enter")  # at 80 columns the detail takes the screen
            await settle(pilot)
            assert screen.detail.display
            for tab in ("payload", "state", "diff", "history"):
                await screen.detail.run_action(f"detail_tab('{tab}')")
                await settle(pilot)
                shown.append(screen_text(app))
            await screen.detail.run_action("detail_tab('payload')")
            await screen.detail.run_action("detail_raw")
            await settle(pilot)
            shown.append(screen_text(app))
    finally:
        await store.close()
    return shown


def test_a_failure_quoting_controls_and_a_password(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A gated node raising `RuntimeError("... ESC]0;pwned BEL state={'password': ...}")`:
    approve's stderr, the ledger's outcome column and audit hold neither."""
    code, out, err = cli(capsys, "approve", "pw-1", "--db", db, *GRAPH_ARGS)
    assert code == 1 and "Traceback" not in err and err.count("\n") == 1
    path = parse_db_url(db).target
    with sqlite3.connect(path) as conn:
        (outcome,) = conn.execute(
            "SELECT outcome FROM hitl_decisions WHERE thread_id = 'pw-1'").fetchone()
    assert "boom" in outcome and "RuntimeError" in outcome
    shown = [out, err, outcome]
    shown += cli(capsys, "audit", "--db", db, "--thread", "pw-1", "--json")[1:]
    shown += cli(capsys, "audit", "--db", db, "--thread", "pw-1", "--csv")[1:]
    for text in shown:
        _no_raw_controls(text)
        assert graphs.PWNED_PASSWORD not in text and "\x1b" not in text


def test_audit_csv_of_a_raw_row_is_inert(
    db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A reason written raw (by an older version or another tool) holding a terminal
    retitle and a clipboard write: `audit --csv` and `--json` print them as marks."""
    path = parse_db_url(db).target
    reason = "ok \x1b]0;retitled\x07 \x1b]52;c;ZXZpbA==\x07 api_key: SxRawRow0001 \u202e"
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE hitl_decisions SET reason = ?, thread_id = thread_id",
                     (reason,))
    code, out, _ = cli(capsys, "audit", "--db", db, "--csv")
    assert code == 0
    _no_raw_controls(out)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and all(r["reason"].startswith("ok \\x1b\\x5d") for r in rows)
    assert "SxRawRow0001" not in out
    code, out, _ = cli(capsys, "audit", "--db", db, "--json")
    _no_raw_controls(out)
    records: list[dict[str, Any]] = [json.loads(line) for line in out.splitlines()]
    assert records and all("retitled" in r["reason"] for r in records)
    assert "SxRawRow0001" not in out


def test_the_expected_pause_is_quoted_whole(db: str, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    """`--expect 4111-1111-1111-1111` (card-shaped, not a pause id: a usage error) is
    quoted with the space after it kept; a stale checkpoint id is quoted whole, never
    taken for a card number."""
    thread = f"t-{SK_ID}-\u202e{UUID}"
    code, out, err = cli(capsys, "approve", thread, "--db", db, "--expect",
                         "4111-1111-1111-1111", *GRAPH_ARGS)
    assert code == 2, (out, err)
    assert "»' is neither" in err or "4111-1111-1111-1111' is neither" in err
    assert "»to" not in err and "»," not in err.replace("», ", "")
    stale = "1f1f0000-0000-6000-8000-000000abcdef"
    code, out, err = cli(capsys, "approve", thread, "--db", db, "--expect", stale,
                         *GRAPH_ARGS)
    assert code == 3, (out, err)
    assert stale in err and "redacted" not in err
