"""Property tests: whatever state and payloads hold, the core's output paths never raise,
never emit raw terminal control bytes, and never contain a planted secret."""

from __future__ import annotations

import dataclasses
import json
import math
import string
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from console.core.conventions import summarize_value
from console.core.diff import state_diff
from console.core.inert import inert
from console.core.models import Convention, PauseKind, PendingInterrupt, PendingThread, ReviewBundle
from console.core.redact import DEFAULT_SECRET_KEYS, Redactor
from console.core.views import bundle_view, pending_view

HOSTILE = ["[bold]x[/]", "[link=http://evil]y[/link]", "\x1b[2J", "\x1b]8;;http://x\x07z",
           "\x1b]52;c;aGk=\x07", "\x07", "\x9b31m", "\u202eabc", "a\u200bb", "[/]", "\r\n"]


class Model(BaseModel):
    name: str
    amount: float


@dataclasses.dataclass
class Record:
    label: str
    when: datetime


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40), st.sampled_from(HOSTILE), st.binary(max_size=30),
    st.datetimes(timezones=st.just(UTC)), st.decimals(allow_nan=True),
    st.builds(Model, name=st.text(max_size=10), amount=st.floats(allow_nan=False)),
    st.builds(Record, label=st.sampled_from(HOSTILE), when=st.datetimes()),
    st.frozensets(st.integers(), max_size=3), st.just(timedelta(seconds=5)),
)
keys = st.one_of(st.text(max_size=12), st.sampled_from(HOSTILE))
values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(keys, children, max_size=4)),
    max_leaves=30,
)

SECRET_ALPHABET = string.ascii_letters + string.digits


def planted(token: str) -> list[tuple[str, str]]:
    """(key, value) pairs that each carry `token` in a form the redactor must catch."""
    return [
        ("api_key", token),
        ("Authorization", f"Bearer {token}"),
        ("note", f"call with sk-{token}"),
        ("note", f"jwt eyJ{token}.eyJ{token}.{token}"),
        ("note", f"aws AKIA{token.upper()[:16].ljust(16, 'Q')}"),
        ("blob", f"-----BEGIN RSA PRIVATE KEY-----\n{token}\n-----END RSA PRIVATE KEY-----"),
        ("client_secret", {"nested": token}),
    ]


def _pending(value: Any) -> PendingThread:
    interrupt = PendingInterrupt("iid", value, "task", "~__pregel_pull, gate", None,
                                 Convention.RAW)
    return PendingThread("t\x1b[31m[bold]", "", "ck", "g", ("gate",), PauseKind.INTERRUPT,
                         Convention.RAW, (interrupt,), datetime.now(UTC),
                         summarize_value(value, Convention.RAW))


def _outputs(state: dict[str, Any], payload: Any, redactor: Redactor) -> list[str]:
    pause = _pending(payload)
    bundle = ReviewBundle("t", "", "ck", None, datetime.now(UTC), state, {"old": 1}, None,
                          ("gate",), {"requested_by": "x"}, pause.interrupts, pause)
    view = bundle_view(bundle, redactor)
    texts = [json.dumps(view, ensure_ascii=False), json.dumps(pending_view(pause, redactor)),
             json.dumps([dataclasses.asdict(c) for c in state_diff({}, state, redactor)],
                        default=str)]
    return texts + [inert(t, limit=10**7) for t in texts]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state=st.dictionaries(keys, values, max_size=6), payload=values)
def test_outputs_never_raise_and_stay_inert(state: dict[str, Any], payload: Any) -> None:
    redactor = Redactor(key=b"test")
    texts = _outputs(state, payload, redactor)
    for shown in texts[3:]:
        assert "\x1b" not in shown and "\x07" not in shown and "\x9b" not in shown
        assert "\u202e" not in shown and "\u200b" not in shown


@settings(max_examples=150, deadline=None)
@given(token=st.text(SECRET_ALPHABET, min_size=20, max_size=32),
       where=st.integers(min_value=0, max_value=6),
       state=st.dictionaries(st.text(max_size=8), values, max_size=3),
       key_name=st.sampled_from(DEFAULT_SECRET_KEYS))
def test_planted_secrets_never_appear(
    token: str, where: int, state: dict[str, Any], key_name: str
) -> None:
    redactor = Redactor(key=b"test")
    key, value = planted(token)[where]
    state = {**state, key: value, key_name: token, "deep": [{"x": {key: value}}]}
    payload = {"action_requests": [{"name": "send", "args": {key: value, "password": token}}]}
    for text in _outputs(state, payload, redactor):
        assert token not in text


def test_huge_and_deep_values_are_bounded() -> None:
    redactor = Redactor(key=b"test")
    deep: Any = "leaf"
    for _ in range(200):
        deep = {"k": [deep]}
    huge = "x" * 1_000_000
    texts = _outputs({"deep": deep, "huge": huge, "nan": math.nan, "d": Decimal("NaN")},
                     huge, redactor)
    assert "nested too deep" in texts[0]
    assert all(len(inert(t)) < 20_000 for t in texts)
