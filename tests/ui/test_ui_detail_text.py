"""The detail pane's text for each payload convention, from real bundles of the demo."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from rich.text import Text
from ui_support import SEED_NOW, SLA_SECONDS

from console.core.models import PendingThread
from console.core.redact import Redactor
from console.core.sink import Sink
from console.core.store.base import CheckpointStore
from console.core.views import bundle_view
from console.ui.bundle_text import allowed_decisions, bundle_text, payload_tab_text
from console.ui.json_text import dumps
from console.ui.pretty import Limits, pretty, pretty_fields

REDACTOR = Redactor(key=b"ui-tests")


async def _text_for(store: CheckpointStore, graph: str) -> tuple[PendingThread, str]:
    thread = next(t for t in await store.pending(now=SEED_NOW) if t.graph == graph)
    bundle = await store.bundle(thread.thread_id, now=SEED_NOW)
    text = bundle_text(bundle, thread, now=SEED_NOW, sla_seconds=SLA_SECONDS, redactor=REDACTOR)
    assert isinstance(text, Text)
    return thread, text.plain


async def test_header_names_the_pause(store: CheckpointStore) -> None:
    thread, text = await _text_for(store, "tutorial")
    lines = text.splitlines()
    assert lines[0] == f"{thread.thread_id} | paused 6h ago, OVER the 1h SLA"
    assert lines[1] == "interrupt/raw | graph tutorial | node approval"
    assert lines[3] == "decision none yet"
    assert f"paused {thread.paused_at.strftime('%Y-%m-%d %H:%M:%S')}Z" in text  # History
    assert f"checkpoint {thread.checkpoint_id}" in text


async def test_langchain_hitl_requests_are_cards(store: CheckpointStore) -> None:
    for graph in ("hitl_agent", "hitl_agent_js"):  # Python and JS spellings
        _, text = await _text_for(store, graph)
        assert "[1/2] send_email" in text
        assert "[2/2] delete_records" in text
        assert "allowed: approve | edit | reject" in text
        assert "allowed: approve | reject" in text
        assert '"to": "' in text  # the tool args, as JSON


async def test_agent_inbox_shows_action_args_and_allowed_responses(
    store: CheckpointStore,
) -> None:
    _, text = await _text_for(store, "inbox")
    assert "[inbox] wire_transfer" in text
    assert "description: Wire " in text
    assert '"currency": ' in text
    assert "allowed: accept | edit | response" in text


async def test_schema_payload_shows_the_answer_schema(store: CheckpointStore) -> None:
    _, text = await _text_for(store, "schema")
    assert '"question": "Choose refund amount"' in text
    assert "answer schema:" in text and '"maximum": 500' in text


async def test_breakpoints_explain_themselves(store: CheckpointStore) -> None:
    _, before = await _text_for(store, "email")
    assert "Static breakpoint before send_email." in before
    _, after = await _text_for(store, "after")
    assert "Static breakpoint after prepare_payment." in after


async def test_parallel_interrupts_are_listed_one_by_one(store: CheckpointStore) -> None:
    thread, text = await _text_for(store, "parallel")
    if len(thread.interrupts) > 1:
        assert "Interrupt 1 of 2" in text and "Interrupt 2 of 2" in text
    assert "Security approval" in text


async def test_tabs_follow_the_header_in_order(store: CheckpointStore) -> None:
    _, text = await _text_for(store, "inbox")
    assert text.index("\nPayload\n") < text.index("\nState\n") < text.index("\nHistory\n")
    assert "transfers: []" in text


def test_allowed_decisions_match_by_name_then_position() -> None:
    value = {
        "action_requests": [{"name": "a"}, {"name": "b"}],
        "review_configs": [{"action_name": "b", "allowed_decisions": ["approve"]}],
    }
    assert allowed_decisions(value, 1, "b") == ["approve"]
    assert allowed_decisions(value, 0, "a") == ["approve"]  # by position
    assert allowed_decisions({"action_requests": []}, 0, "a") is None


def test_pretty_is_bounded_and_inert() -> None:
    value = {
        "amount": Decimal("12.50"),
        "tags": {"b", "a"},
        "long": "x" * 1000,
        "items": list(range(100)),
        "markup": "[bold]not bold[/]",
    }
    text = pretty_fields(value, redactor=None, limits=Limits(string=20, items=10))
    plain = text.plain
    assert "amount: Decimal('12.50')" in plain
    assert 'tags: ["a", "b"]' in plain
    assert "(+980 chars)" in plain
    assert "... 90 items omitted ..." in plain and "99" in plain  # the newest are kept
    assert '"[bold]not bold[/]"' in plain
    assert all(
        span.style != "bold" or "not bold" not in plain[span.start : span.end]
        for span in text.spans
    )
    assert pretty({"short": [1, 2]}, redactor=None).plain == '{"short": [1, 2]}'


def test_pretty_redacts_secret_keys_and_values() -> None:
    token = "sk-" + "a1B2" * 12
    value = {
        "account": {"password": "hunter2!", "api_key": token, "tier": "pro"},
        "note": f"use {token} then",
        "empty_password": "",
    }
    plain = pretty_fields(value, redactor=REDACTOR).plain
    assert "hunter2" not in plain and token not in plain
    assert plain.count("redacted:") == 3
    assert '"tier": "pro"' in plain
    assert '"empty_password"' not in plain and 'empty_password: ""' in plain
    # The same secret gets the same mark as in the CLI's JSON views.
    assert REDACTOR.fingerprint("hunter2!") in plain


def test_control_characters_show_as_escapes() -> None:
    plain = pretty_fields({"k\x1b": "a\x1b[31mb\u202e\x9b"}, redactor=None).plain
    assert "\x1b" not in plain and "\u202e" not in plain and "\x9b" not in plain
    assert "\\u001b[31mb" in plain or "\\x1b[31mb" in plain
    assert "\\u202e" in plain


async def test_secrets_in_the_demo_never_reach_the_pane(store: CheckpointStore) -> None:
    for graph in ("hitl_agent", "inbox", "parallel", "email"):
        _, text = await _text_for(store, graph)
        assert not re.search(r"\bsk-[A-Za-z0-9]{16}", text)
        assert "eyJ" not in text and "PRIVATE KEY" not in text
        assert "redacted:" in text


async def test_a_decimal_reads_the_same_on_the_card_and_in_raw_json(
    store: CheckpointStore,
) -> None:
    """Issue 16: `330750` on the card, `"330750"` in raw JSON. Both now say Decimal, with
    its exact digits; JSON that is parsed (`show --json`) keeps the digits as a string."""
    thread = next(t for t in await store.pending(now=SEED_NOW) if t.graph == "schema")
    bundle = await store.bundle(thread.thread_id, now=SEED_NOW)
    paid = bundle.interrupts[0].value["amount_paid"]
    assert isinstance(paid, Decimal)
    card = payload_tab_text(bundle, redactor=REDACTOR).plain
    raw = payload_tab_text(bundle, redactor=REDACTOR, raw=True).plain
    assert "Raw JSON" in raw and "Raw JSON" not in card
    for text in (card, raw):
        assert f"Decimal('{paid}')" in text
        assert f'"{paid}"' not in text
    shown = bundle_view(bundle, REDACTOR)
    data = json.loads(Sink(REDACTOR).json(shown))
    assert data["interrupts"][0]["value"]["amount_paid"] == str(paid)  # exact, still JSON


def test_a_secret_decimal_has_one_fingerprint_in_every_view() -> None:
    value = {"api_key": Decimal("12.50"), "amount": Decimal("1E+3"), "note": "x"}
    card = pretty(value, redactor=REDACTOR).plain
    raw = dumps(REDACTOR.redact(value, keep_decimals=True), decimals=True)
    mark = REDACTOR.fingerprint("12.50")
    machine = json.dumps(REDACTOR.redact(value), ensure_ascii=False)
    assert mark in card and mark in raw and mark in machine
    assert "Decimal('1E+3')" in card and "Decimal('1E+3')" in raw
    # a string that looks like the stand-in is data, not a Decimal
    assert "Decimal" not in dumps({"s": "0:5"}, decimals=True)
