"""The UI's pure parts, without an app: JSON and redacted values, schema forms, marks,
drafts, action availability, error titles, status line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from console.core.errors import ConflictError, NotPendingError, PolicyRefused
from console.core.ledger.decisions import DecisionRefused
from console.core.models import Convention, PauseKind, PendingInterrupt, PendingThread
from console.core.pause_id import pause_id
from console.core.policy import Policy
from console.core.redact import Redactor
from console.ui.actions import action_states, needs_value
from console.ui.drafts import Draft, DraftBook
from console.ui.errors import describe_error
from console.ui.json_text import (
    JsonInputError,
    UnknownRedaction,
    dumps,
    loads,
    restore,
    schema_problems,
    secret_originals,
)
from console.ui.live import feed_label, is_outage, retry_delay
from console.ui.marks import MarkBook
from console.ui.schema_form import FieldError, form_fields, form_value, parse_field
from console.ui.widgets.status_line import StatusInfo, StatusLine

REDACTOR = Redactor(key=b"unit")
NOW = datetime(2025, 1, 15, 12, tzinfo=UTC)


def _pause(thread_id: str = "t-1", checkpoint: str = "c-1", *, value: Any = "ok?",
           convention: Convention = Convention.RAW, schema: dict[str, Any] | None = None,
           kind: PauseKind = PauseKind.INTERRUPT, graph: str = "g") -> PendingThread:
    interrupts = () if kind is not PauseKind.INTERRUPT else (
        PendingInterrupt("i-1", value, "task", "~__pregel_pull, n", schema, convention),)
    return PendingThread(thread_id, "", checkpoint, graph, ("n",), kind, convention,
                         interrupts, NOW, "summary")


def test_redacted_values_go_back_unchanged() -> None:
    raw = {"body": "key sk-abcdefghijklmnopqrstu and Bearer abcdefghijk123, bye",
           "api_key": 42, "nested": {"password": "hunter2"}, "card": "4111 1111 1111 1111"}
    shown = REDACTOR.redact(raw)
    assert "sk-" not in str(shown) and "hunter2" not in str(shown)
    originals = secret_originals([raw], REDACTOR)
    assert restore(shown, originals) == raw
    edited = dict(shown, body=shown["body"].replace("bye", "thanks"))
    assert restore(edited, originals)["body"].endswith("thanks")
    assert "sk-abcdefghijklmnopqrstu" in restore(edited, originals)["body"]
    with pytest.raises(UnknownRedaction, match="cannot put back"):
        restore({"x": "«redacted:00000000»"}, originals)


def test_json_errors_name_line_and_column_and_dumps_is_inert() -> None:
    with pytest.raises(JsonInputError) as info:
        loads('{\n  "a": 1,\n}')
    assert str(info.value) == "line 3, column 1: Expecting property name enclosed in double quotes"
    assert loads(dumps({"a": "x\u202ey\x9b"})) == {"a": "x\u202ey\x9b"}
    assert "\u202e" not in dumps({"a": "x\u202ey"})
    assert schema_problems({"n": 600}, {"properties": {"n": {"maximum": 500}}}) == [
        "n: 600 is greater than the maximum of 500"]


def test_schema_forms_for_flat_schemas_only() -> None:
    schema = {"type": "object", "required": ["amount"], "properties": {
        "amount": {"type": "number", "minimum": 0, "maximum": 500},
        "currency": {"type": "string", "enum": ["EUR", "USD"], "default": "EUR"},
        "urgent": {"type": "boolean"}}}
    fields = form_fields(schema)
    assert fields is not None and [f.name for f in fields] == ["amount", "currency", "urgent"]
    assert fields[0].hint() == "number, 0..500, required"
    assert fields[1].initial_text() == "EUR"
    value, errors = form_value(fields, {"amount": "12", "currency": "USD", "urgent": "yes"})
    assert (value, errors) == ({"amount": 12, "currency": "USD", "urgent": True}, {})
    assert form_value(fields, {"amount": ""})[1] == {"amount": "required"}
    with pytest.raises(FieldError, match="one of EUR, USD"):
        parse_field(fields[1], "GBP")
    assert form_fields({"type": "object", "properties": {"x": {"type": "array"}}}) is None
    assert form_fields({"type": "string"}) is None


def test_marks_hold_the_checkpoint_not_the_row() -> None:
    marks = MarkBook()
    a, b = _pause("a", "c1"), _pause("b", "c1", graph="h")
    assert marks.toggle(a) and marks.state(a) == "marked"
    assert marks.state(_pause("a", "c2")) == "stale"
    marks.add([a, b])
    # each target expects the pause marked: its checkpoint and its questions
    assert [t.checkpoint_id for t in marks.targets()] == [pause_id("c1", ["i-1"])] * 2
    assert marks.hidden({"a"}) == 1 and marks.stale({"a": "c2", "b": "c1"}) == 1
    assert marks.breakdown() == [("g/n", 1), ("h/n", 1)]
    assert [m.thread_id for m in marks.prune({"b"})] == ["a"] and len(marks) == 1


def test_drafts_by_pause_and_moved_to_a_new_head() -> None:
    book = DraftBook()
    book.put(Draft("t", "c1", state_text="{}"))
    assert book.get(("t", "c2")) is None
    moved = book.move(("t", "c1"), "c2")
    assert moved is not None and book.get(("t", "c2")) == moved and book.get(("t", "c1")) is None
    book.discard_thread("t")
    assert len(book) == 0


def test_action_states_combine_payload_policy_and_graph() -> None:
    hitl = {"action_requests": [{"name": "a", "args": {}}, {"name": "b", "args": {}}],
            "review_configs": [{"action_name": "b", "allowed_decisions": ["approve"]}]}
    pause = _pause(value=hitl, convention=Convention.LANGCHAIN_HITL)
    states = action_states(pause, policy=Policy(), reviewer="r", graph_loaded=True,
                           worker_mode=False)
    assert states["approve"].allowed and states["edit"].allowed
    assert states["reject"].reason == ("Action 2 (b) does not allow reject; it allows approve.")
    schema = _pause(value={}, convention=Convention.SCHEMA, schema={"type": "object"})
    assert needs_value(schema)
    assert not action_states(schema, policy=Policy(), reviewer="r", graph_loaded=True,
                             worker_mode=False)["reject"].allowed
    breakpoint_ = _pause(kind=PauseKind.BEFORE, convention=Convention.BREAKPOINT)
    assert not action_states(breakpoint_, policy=Policy(), reviewer="r", graph_loaded=True,
                             worker_mode=False)["respond"].allowed
    unloaded = action_states(_pause(), policy=Policy(), reviewer="r", graph_loaded=False,
                             worker_mode=False)
    assert not unloaded["approve"].allowed and "is not loaded" in unloaded["approve"].reason
    assert action_states(_pause(), policy=Policy(), reviewer="r", graph_loaded=False,
                         worker_mode=True)["approve"].allowed  # a worker applies it


def test_error_titles_and_outage_detection() -> None:
    assert describe_error(ConflictError("x."))[0] == "Conflict"
    assert describe_error(NotPendingError("x."))[0] == "Not pending"
    assert describe_error(PolicyRefused("x."))[0] == "Refused by policy"
    assert describe_error(DecisionRefused("x."))[0] == "Refused"
    assert is_outage(ConnectionError()) and not is_outage(KeyError("k"))
    assert [retry_delay(n, (1, 2, 4)) for n in (1, 2, 3, 9)] == [1, 2, 4, 4]
    assert feed_label(None, 0) == "off"


def test_status_line_redacts_what_it_echoes() -> None:
    key = "sk-live0123456789abcdefghijklmnop"
    line = StatusLine(StatusInfo(database="db", reviewer="r", busy=f"approving {key}",
                                 last=f"approve failed: {key}"))
    assert key[:10] not in line.plain and "redacted" in line.plain


def test_status_line_words_for_everything_that_matters() -> None:
    line = StatusLine(StatusInfo(database="db", reviewer="r", total=5, shown=5,
                                 refreshed_at=NOW, state="stale", marked=2,
                                 busy="approving t", live="polling 1s", last="x"))
    assert line.plain == ("BUSY approving t | 5 pending | 2 marked | STALE since 12:00:00 | "
                          "last: x | polling 1s | reviewer r | db")
