"""Planted secrets never reach a reviewer's screen.

Real threads whose state, interrupt payload (HITL action args and descriptions, a raw
payload) and thread metadata carry planted secrets, under every
secret-looking key name and as free text (JWT, bearer token, PEM private key, AWS key id,
`sk-` key, Luhn-valid card number), plus terminal escapes. A thread id shaped like a
credential is an identifier (issue 15): shown, never hidden, so it can be addressed.
A reviewer walks every screen
they can reach (queue, each part and tab of the detail pane, the edit form in both views
and its preview, the reject reason and confirm dialogs, the conflict dialog, a failed
decision's error, bulk reject's dialog and summary, notifications); each is captured as
rendered text (`export_screenshot`, i.e. what a terminal would show) together with the
text of every widget on it (scrolled-away and inactive-tab content included). No capture
may contain a secret or any 10-character piece of one, nor a raw ESC or BEL byte.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from textual.widgets import Input, Static, TextArea
from ui_support import (
    build_app,
    decided,
    main_screen,
    open_ui_store,
    previewed,
    screen_lines,
    seed_threads,
    settle,
    until,
)

from console.core.ledger.apply import Decider, current_origin
from console.core.ledger.decisions import DecisionInput
from console.core.ledger.rows import DecisionType
from console.settings import Settings
from console.ui.modals.bulk import BulkProgressScreen, BulkRejectScreen
from console.ui.modals.confirm import ConfirmScreen
from console.ui.modals.conflict import ConflictScreen
from console.ui.modals.edit_form import EditForm
from console.ui.modals.error import ErrorModal
from console.ui.modals.prompt import PromptScreen
from console.ui.screens.main import MainScreen


def _luhn(prefix: str) -> str:
    """`prefix` plus the check digit that makes it Luhn-valid."""
    for check in "0123456789":
        digits = prefix + check
        total = sum(int(c) if i % 2 == 0 else (2 * int(c) - 9 if int(c) > 4 else 2 * int(c))
                    for i, c in enumerate(reversed(digits)))
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


CARD = _luhn("453914880343646")
# Values the key rules must hide (none of them looks like a credential on its own).
KEYED = {
    "password": "Zq7Xv2Lm9Tr4Wp8KqQ",
    "db_password": "Hy6Rt5Ew4Qa3Sd2FfG",
    "api_key": "Mn8Bv7Cx6Zl5Kj4HhJ",
    "x-api-key": "Po9Iu8Yt7Re6Wq5AaS",
    "token": "Gf4Dd3Ss2Aa1Qq0WwE",
    "refresh_token": "Lk9Jj8Hh7Gg6Ff5DdR",
    "Authorization": "Basic Tm9wZTpOb3BlTm9wZQ==",
    "secret": "Vb3Nn2Mm1Ll0Kk9JjT",
    "client_secret": "Cc8Xx7Zz6Yy5Ww4VvY",
    "cookie": "sessionid=Uu3Ii2Oo1Pp0Aa9SsU",
    "private_key": "Rr6Tt5Yy4Uu3Ii2OoI",
    "credentials": {"user": "svc", "pin": "Ee1Rr0Tt9Yy8Uu7IiO"},
    "aws_access_key": "Qw3Er4Ty5Ui6Op7AsP",
    "session_key": "Aa5Ss6Dd7Ff8Gg9HhL",
}
# Credentials the value detectors must find wherever they appear in free text.
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwbGFudGVkLXVzZXItNDIifQ"
       ".Xk3Jd9Qm2Lp7Zr5Wt8Vn1Bc4Hs6Gf0Ya")
BEARER = "Bearer Wq8Zt3Kp6Ls1Nd9Vb4Jm"
PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAplantedKeyMaterialQ1w2E3r4\n"
       "T5y6U7i8O9p0AsDfGhJkLzXcVbNm\n-----END RSA PRIVATE KEY-----")
AWS = "AKIAQ7W8E9R0T1Y2U3I4"
SK = "sk-Fp2Gq3Hr4Js5Kt6Lu7Mv8Nw9"
FREE = {"jwt": JWT, "bearer": BEARER, "pem": PEM, "aws": AWS, "sk": SK, "card": CARD}
ESCAPES = "\x1b]52;c;Y2xpcGJvYXJk\x07 \x1b[31mred\x1b[0m \x1b]8;;http://evil.example\x07x"


def _free_text(tag: str) -> str:
    return (f"{tag}: deploy with {BEARER} and jwt {JWT}; card {CARD[:4]} {CARD[4:8]} "
            f"{CARD[8:12]} {CARD[12:]} (ref {CARD}); aws {AWS}; key {SK}; {ESCAPES}\n{PEM}")


SECRET_ID = "vault-sk-Tz1Xc2Vb3Nm4Qw5Er6"  # a thread id carrying a credential-shaped key


def _pieces(value: str, size: int = 10) -> Iterator[str]:
    """Every `size`-character window of `value`'s secret part (pattern prefixes and the
    PEM armour are public, not secret)."""
    core = value
    for public in ("-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----",
                   "Bearer ", "Basic ", "sessionid=", "vault-"):
        core = core.replace(public, "\n")
    for part in core.split("\n"):
        part = part.strip()
        for start in range(max(0, len(part) - size + 1)):
            yield part[start:start + size]


def _all_secrets() -> dict[str, str]:
    out = {f"key {k}": v for k, v in KEYED.items() if isinstance(v, str)}
    out["key credentials.pin"] = KEYED["credentials"]["pin"]
    out.update({f"text {k}": v for k, v in FREE.items()})
    out["card digits"] = CARD
    return out


SECRETS = _all_secrets()


# --- the graphs: real ones, every pause form a reviewer can meet here ---------------------


class VaultState(TypedDict, total=False):
    profile: dict[str, Any]
    log: str
    history: list[str]
    received: Annotated[list[Any], operator.add]
    effects: Annotated[list[str], operator.add]


def _prepare(state: VaultState) -> dict[str, Any]:
    # a step before the pause changes secrets too: the diff must say "changed", not show
    return {"profile": {**state.get("profile", {}), "password": KEYED["db_password"],
                        "rotated": _free_text("rotated")},
            "history": [_free_text("history")]}


def _act(state: VaultState) -> dict[str, Any]:
    return {"effects": ["acted"]}


HITL_PAYLOAD = {
    "action_requests": [
        {"name": "send_email",
         "args": {"to": "ops@example.com", "password": KEYED["password"],
                  "api_key": KEYED["api_key"], "body": _free_text("body")},
         "description": f"Authorization: {BEARER}; attach {PEM}"},
    ],
    "review_configs": [
        {"action_name": "send_email", "allowed_decisions": ["approve", "edit", "reject"]},
    ],
}
RAW_PAYLOAD = {"question": _free_text("question"), **KEYED}


def _gate(payload: Any) -> Any:
    def gate(state: VaultState) -> dict[str, Any]:
        return {"received": [interrupt(payload)]}
    return gate


def _failing_gate(state: VaultState) -> dict[str, Any]:
    """The resume fails with a secret in the exception: the error path shows it."""
    answer = interrupt({"question": "send it?"})
    raise RuntimeError(f"mail server refused: {answer!r} {BEARER} {SK} card {CARD} {ESCAPES}")


def _graph(name: str, gate: Any) -> Any:
    builder = StateGraph(VaultState)
    builder.add_node("prepare", _prepare)
    builder.add_node("gate", gate)
    builder.add_node("act", _act)
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "gate")
    builder.add_edge("gate", "act")
    builder.add_edge("act", END)
    return builder.compile(name=name)


GRAPHS = {
    "vault_hitl": _graph("vault_hitl", _gate(HITL_PAYLOAD)),
    "vault_raw": _graph("vault_raw", _gate(RAW_PAYLOAD)),
    "vault_fail": _graph("vault_fail", _failing_gate),
}
STATE = {"profile": {"name": "zoe", **KEYED, "bio": _free_text("bio")},
         "log": _free_text("log")}
METADATA = {"requested_by": "zoe", "api_token": KEYED["token"], "note": _free_text("meta"),
            "authorization": KEYED["Authorization"]}
THREADS = [
    ("vault_hitl", "vault-hitl", STATE, METADATA),
    ("vault_raw", "vault-raw", STATE, METADATA),
    ("vault_raw", SECRET_ID, STATE, METADATA),
    ("vault_fail", "vault-fail", STATE, METADATA),
]
SIZE = (160, 50)  # wide: queue and detail side by side (scrolled-away text: widget texts)


# --- capturing what the reviewer sees ----------------------------------------------------


def _widget_texts(app: Any, skip: Sequence[Any] = ()) -> list[str]:
    """The content of every text widget on the active screen, shown or scrolled away."""
    out = []
    for widget in app.screen.query("*"):
        if widget in skip:
            continue
        if isinstance(widget, Static):
            rendered = widget.render()
            out.append(str(getattr(rendered, "plain", rendered)))
        elif isinstance(widget, Input):
            out.append(widget.value)
        elif isinstance(widget, TextArea):
            out.append(widget.text)
    return out


class Captures:
    def __init__(self) -> None:
        self.shots: list[tuple[str, str]] = []
        self.tabs_seen: set[str] = set()

    def take(self, app: Any, label: str, *, typed: Sequence[Any] = ()) -> str:
        """Capture the screen; `typed`: inputs holding what the reviewer typed there
        themselves (their own keystrokes, echoed where they typed them), left out."""
        lines = screen_lines(app)
        for widget in typed:
            region = widget.region
            for row in range(region.y, region.bottom):
                lines[row] = lines[row][:region.x] + " " * region.width + lines[row][
                    region.right:]
        shown = "\n".join(lines)
        notes = "\n".join(f"{n.title} {n.message}" for n in app._notifications)
        self.shots.append((label, "\n".join([shown, *_widget_texts(app, typed), notes])))
        return shown

    def labels(self) -> list[str]:
        return [label for label, _ in self.shots]

    def leaks(self) -> list[str]:
        found = []
        for label, text in self.shots:
            if "\x1b" in text or "\x07" in text:
                found.append(f"{label}: raw ESC/BEL")
            joined = text.replace(" ", "").replace("-", "")  # a card split by spaces
            for name, secret in SECRETS.items():
                where = joined if name == "card digits" else text
                piece = next((p for p in _pieces(secret) if p in where), None)
                if piece is not None:
                    found.append(f"{label}: {name} ({piece!r})")
        return found


async def _walk_detail(pilot: Any, captures: Captures, label: str) -> None:
    """Capture the detail pane: each of its tabs (whatever tabs it has) and the payload
    both as cards and as raw JSON."""
    from console.ui.widgets import detail as detail_module

    app = pilot.app
    detail = main_screen(app).detail
    tabs = tuple(getattr(detail_module, "TABS", ())) if hasattr(
        detail, "action_detail_tab") else ()
    views = [(tab, raw) for tab in tabs for raw in ((False, True) if tab == "payload"
                                                     else (False,))] or [("pane", False)]
    for tab, raw in views:
        name = f"{label} [{tab}{' raw' if raw else ''}]"
        if tab != "pane":
            await detail.run_action(f"detail_tab('{tab}')")
            if raw:
                await detail.run_action("detail_raw")
            await settle(pilot, rounds=1)
            assert getattr(detail, "tab", tab) == tab, f"tab {tab} did not open"
        # The screen shows the top; the rest of the tab (scrolled away) is in the text of
        # its widgets, which every capture includes.
        captures.take(app, name)
        if raw:
            await detail.run_action("detail_raw")
    if tabs:
        await detail.run_action(f"detail_tab('{tabs[0]}')")
        await pilot.pause()
    captures.tabs_seen.update(tabs)


async def _select(pilot: Any, thread_id: str) -> None:
    screen = main_screen(pilot.app)
    assert screen.table.select_thread(thread_id)
    await settle(pilot)
    await until(pilot, lambda: screen.detail.thread_id == thread_id
                and screen.detail.checkpoint_id is not None, what=f"the detail of {thread_id}")


@pytest.fixture
async def vault_db(db_url: str) -> str:
    await seed_threads(db_url, GRAPHS, THREADS)
    return db_url


def test_the_planted_secrets_are_really_there() -> None:
    """The check is only worth something if the data carries what it looks for."""
    from console.core.redact import Redactor

    redactor = Redactor(key=b"t")
    raw = repr((STATE, METADATA, HITL_PAYLOAD, RAW_PAYLOAD))
    for name, secret in SECRETS.items():
        if name != "thread id key":
            assert all(piece in raw for piece in _pieces(secret)), name
    shown = repr(redactor.redact((STATE, METADATA, HITL_PAYLOAD, RAW_PAYLOAD)))
    assert not [n for n, s in SECRETS.items() if any(p in shown for p in _pieces(s))]
    assert any(piece in _free_text("x") for piece in _pieces(CARD))


async def test_no_planted_secret_on_any_screen(vault_db: str) -> None:
    store = await open_ui_store(vault_db, GRAPHS)
    captures = Captures()
    try:
        app = build_app(store, Settings(reviewer="tester", mouse=False))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = main_screen(app)
            assert len(screen.all_threads) == len(THREADS)
            captures.take(app, "queue")
            for _, thread_id, _, _ in THREADS:
                await _select(pilot, thread_id)
                await _walk_detail(pilot, captures, f"detail {thread_id}")

            # the edit form, both views, and its preview of the Command
            await _select(pilot, "vault-hitl")
            await pilot.press("e")
            await until(pilot, lambda: isinstance(app.screen, EditForm), what="the form")
            await settle(pilot)
            captures.take(app, "edit form")
            await pilot.press("ctrl+t")
            await settle(pilot)
            captures.take(app, "edit form (JSON)")
            await pilot.press("ctrl+s")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="preview")
            captures.take(app, "edit preview")
            await pilot.press("n")
            await settle(pilot)
            captures.take(app, "edit form after preview")
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, MainScreen)

            # approve: the confirm dialog with the exact Command; n sends nothing
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            captures.take(app, "approve confirm")
            await pilot.press("n")
            await settle(pilot)

            # reject: the reason prompt, then a reason with a secret in it in the confirm
            await pilot.press("r")
            await until(pilot, lambda: isinstance(app.screen, PromptScreen))
            captures.take(app, "reject prompt")
            await pilot.press(*f"see {SK}")
            await previewed(pilot)  # the Command, with the reason as typed, redacted
            captures.take(app, "reject prompt with its Command",
                          typed=[app.screen.query_one(Input)])
            await pilot.press("escape")
            await settle(pilot)
            captures.take(app, "after esc: nothing was sent")

            # a failed resume whose exception quotes secrets: the error the reviewer reads
            await _select(pilot, "vault-fail")
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await decided(pilot)
            captures.take(app, "failed decision")
            if isinstance(app.screen, ErrorModal):
                await pilot.press("escape")
                await settle(pilot)
            await _walk_detail(pilot, captures, "detail after the failure")

            # a conflict: someone else rejects the open thread, quoting secrets
            await _select(pilot, "vault-raw")
            await pilot.press("enter")
            await settle(pilot)
            other = Decider(store, current_origin("alice"))
            await other.decide("vault-raw", DecisionInput(
                DecisionType.REJECT, reason=f"leaked {BEARER} and {JWT}"))
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, ConflictScreen),
                        what="the conflict dialog")
            await settle(pilot)
            captures.take(app, "conflict dialog")
            await pilot.press("escape")
            await settle(pilot)

            # bulk reject: the dialog, its confirm, the summary
            await pilot.press("ctrl+r")
            await settle(pilot)
            await pilot.press("asterisk")
            await pilot.press("R")
            await until(pilot, lambda: isinstance(app.screen, BulkRejectScreen))
            captures.take(app, "bulk reject dialog")
            await pilot.press(*f"dupes {AWS}", "enter")
            await settle(pilot)
            captures.take(app, "bulk reject confirm", typed=[app.screen.query_one(Input)])
            await pilot.press("y")
            await until(pilot, lambda: isinstance(app.screen, BulkProgressScreen))
            progress = app.screen
            await until(pilot, lambda: progress.done, timeout=60, what="the bulk reject")
            await settle(pilot)
            captures.take(app, "bulk reject summary")
            await pilot.press("escape")
            await decided(pilot)
            captures.take(app, "queue after bulk reject")
    finally:
        await store.close()
    assert len(captures.shots) >= 20, captures.labels()
    from console.ui.widgets import detail as detail_module

    assert captures.tabs_seen == set(getattr(detail_module, "TABS", ()))
    assert captures.leaks() == []
    if os.environ.get("HITL_TEST_DUMP"):
        Path(os.environ["HITL_TEST_DUMP"]).write_text(
            "\n\n".join(f"===== {label}\n{text}" for label, text in captures.shots))
