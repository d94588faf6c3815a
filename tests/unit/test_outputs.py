"""The inert set and the redactor's forms, misses and false positives (issue 15)."""

from __future__ import annotations

import json
import unicodedata

import pytest

from console.core.errors import ConsoleError, describe_exception
from console.core.inert import INERT_RANGES, inert, inert_json, is_inert_char
from console.core.redact import Redactor

R = Redactor(key=b"t")


def test_the_inert_set_covers_every_control_format_and_separator() -> None:
    """Fails if the running Python's Unicode knows a Cc/Cf/Zl/Zp/Cs outside the table."""
    cats = {"Cc", "Cf", "Zl", "Zp", "Cs"}
    missing = [f"U+{cp:04X}" for cp in range(0x110000)
               if unicodedata.category(chr(cp)) in cats and not is_inert_char(chr(cp))]
    assert not missing
    for first, last in INERT_RANGES:
        assert is_inert_char(chr(first)) and is_inert_char(chr(last))


@pytest.mark.parametrize("char", ["\u061c", "\u2028", "\u2029", "\u00ad", "\u180e", "\ufff9",
                                  "\ufffb", "\U000e0041", "\u009b", "\u009d", "\ufe0f"])
def test_invisible_and_bidi_are_marked_and_json_escaped(char: str) -> None:
    assert char not in inert(f"a{char}b")
    dumped = inert_json({"id": f"a{char}b"}, indent=2)
    assert char not in dumped and json.loads(dumped) == {"id": f"a{char}b"}


@pytest.mark.parametrize(("text", "secret"), [
    ("pwd=hunter22", "hunter22"), ("passphrase: two-words", "two-words"),
    ("password=PW1x and more", "PW1x"), ("api_key: abc123", "abc123"),
    ("state={'password': 'PWx9'}", "PWx9"), ('{"passphrase": "a b c"}', "a b c"),
    ("postgresql://app:PWdb7@db/x", "PWdb7"), ("Authorization: Basic dXNlcjpw", "dXNlcjpw"),
    ("KeyError: 'password=inside'", "inside"),
])
def test_free_text_forms_are_redacted(text: str, secret: str) -> None:
    assert secret not in R.redact_text(text)


def test_keys_and_header_pairs() -> None:
    data = {"pwd": "a1", "passphrase": "a2", "headers": [["Authorization", "Basic a3"]],
            "h": {"name": "Cookie", "value": "a4"}, "max_tokens": 5, "sessions_count": 2,
            "lines": ["a password here", "a5"]}
    shown = json.dumps(R.redact(data))
    assert not [s for s in ("a1", "a2", "a3", "a4") if f'"{s}' in shown or f" {s}" in shown]
    assert '"max_tokens": 5' in shown and '"sessions_count": 2' in shown and '"a5"' in shown


@pytest.mark.parametrize("ident", [
    "00000000-0000-0000-0000-000000abcdef", "1f1f0000-0000-6000-8000-000000000001",
    "1f1f0000-0000-6000-80", "a3f9c0d1e2b3a4f5a6b7c8d9e0f1a2b3",
])
def test_identifiers_are_never_redacted(ident: str) -> None:
    assert R.redact_text(f"id {ident} next") == f"id {ident} next"
    assert R.redact({"x": ident}) == {"x": ident}


def test_no_eaten_characters_and_kept_thread_ids() -> None:
    shown = R.redact_text("moved on from 4111-1111-1111-1111 to 5")
    assert shown.startswith("moved on from «redacted:") and shown.endswith("» to 5")
    thread = "run-sk-live-abcdefghijklmnopqrst"
    assert R.redact_text(f"Rejected {thread}.", keep=[thread]) == f"Rejected {thread}."
    assert thread not in R.redact_text(f"Rejected {thread}.")


def test_one_sentence_for_any_exception() -> None:
    assert describe_exception(ConsoleError("Nothing was written.")) == "Nothing was written."
    assert describe_exception(RuntimeError("boom\nline two")) == "RuntimeError: boom"
    assert describe_exception(KeyError()) == "KeyError"


def test_uninert_gives_back_what_inert_showed() -> None:
    from console.core.inert import inert, uninert

    for text in ("a\u202eb", "x\x1b]0;y\x07z", "t-\u2066\U000e0041", "plain", "é⏎"):
        assert uninert(inert(text)) == text or "\n" in text
