"""The console's serializer: what it rebuilds, what stays plain data, what is unreadable,
and how `--serde` is resolved. No database: values go through the real LangGraph
serializers that write checkpoints."""

from __future__ import annotations

import dataclasses
import enum
import importlib.abc
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypedDict
from uuid import uuid4

import ormsgpack
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.jsonplus import (
    EXT_CONSTRUCTOR_SINGLE_ARG,
    EXT_METHOD_SINGLE_ARG,
    EXT_PYDANTIC_V2,
    JsonPlusSerializer,
)
from langgraph.graph import START, StateGraph
from langgraph.types import Command, Interrupt, Send
from pydantic import BaseModel

from console.core.errors import UnreadableValue, UsageError
from console.core.serde import (
    MAX_DEPTH,
    TYPE_KEY,
    SafeSerializer,
    graph_allowlist,
    serializer_from_spec,
    wrap_serializer,
)

KEY = "0123456789abcdef0123456789abcdef"
PLAIN = JsonPlusSerializer()  # what applications write with


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Order:
    id: int
    items: list[str]


class Ticket(BaseModel):
    title: str
    priority: int


def _ext(code: int, *parts: Any) -> ormsgpack.Ext:
    return ormsgpack.Ext(code, ormsgpack.packb(list(parts)))


def _blob(value: Any) -> tuple[str, bytes]:
    return PLAIN.dumps_typed(value)


class _ImportSpy(importlib.abc.MetaPathFinder):
    """Records every module an import looks for (and finds none itself)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        self.asked.append(fullname)


@pytest.fixture
def imports() -> Iterator[_ImportSpy]:
    spy = _ImportSpy()
    sys.meta_path.insert(0, spy)
    try:
        yield spy
    finally:
        sys.meta_path.remove(spy)


def test_standard_and_langgraph_types_round_trip() -> None:
    value = {
        "when": datetime(2026, 1, 2, 3, 4, tzinfo=UTC), "day": date(2026, 1, 2),
        "at": time(3, 4), "span": timedelta(days=2), "amount": Decimal("1.50"),
        "id": uuid4(), "tags": {"a", "b"}, "frozen": frozenset({1}), "raw": b"\x00\x01",
        "messages": [HumanMessage("hi"), AIMessage("yo"), ToolMessage("ok", tool_call_id="1")],
        "interrupt": Interrupt(value={"q": 1}, id="i1"), "send": Send("node", {"x": 1}),
    }
    assert SafeSerializer().loads_typed(_blob(value)) == value
    command = SafeSerializer().loads_typed(_blob(Command(resume={"i1": "approved"}, goto="n")))
    assert isinstance(command, Command)
    assert (command.resume, command.goto) == ({"i1": "approved"}, "n")


def test_application_types_are_plain_data_with_their_type_name() -> None:
    value = {"color": Color.RED, "order": Order(3, ["x"]), "ticket": Ticket(title="t", priority=2)}
    decoded = SafeSerializer().loads_typed(_blob(value))
    module = __name__
    assert decoded == {
        "color": {TYPE_KEY: f"{module}.Color", "value": "red"},
        "order": {TYPE_KEY: f"{module}.Order", "id": 3, "items": ["x"]},
        "ticket": {TYPE_KEY: f"{module}.Ticket", "title": "t", "priority": 2},
    }


def test_an_allow_list_rebuilds_classes_only_from_modules_already_imported() -> None:
    serde = SafeSerializer().with_msgpack_allowlist([Order, Ticket, ("no_such_app", "Model")])
    value = {"order": Order(3, ["x"]), "ticket": Ticket(title="t", priority=2)}
    assert serde.loads_typed(_blob(value)) == value
    missing = _blob({"m": _ext(EXT_PYDANTIC_V2, "no_such_app", "Model", {"a": 1}, "x")})
    assert serde.loads_typed(missing) == {"m": {TYPE_KEY: "no_such_app.Model", "a": 1}}


def test_named_callables_are_never_imported_or_called(imports: _ImportSpy) -> None:
    names = {
        "system": _ext(EXT_CONSTRUCTOR_SINGLE_ARG, "os", "system", "exit 3"),
        "eval": _ext(EXT_CONSTRUCTOR_SINGLE_ARG, "builtins", "eval", "1/0"),
        "chain": _ext(EXT_CONSTRUCTOR_SINGLE_ARG, "importlib", "import_module",
                      "hitl_never_there"),
        "model": _ext(EXT_PYDANTIC_V2, "hitl_missing_app.models", "Order", {"id": 1}, "m"),
        "method": _ext(EXT_METHOD_SINGLE_ARG, "os", "system", "exit 3", "__call__"),
        "array": _ext(6, "<f8", [1], "C", b"\x00" * 8),
    }
    decoded = SafeSerializer().loads_typed(_blob(names))
    assert decoded["system"] == {TYPE_KEY: "os.system", "value": "exit 3"}
    assert decoded["chain"] == {TYPE_KEY: "importlib.import_module", "value": "hitl_never_there"}
    assert decoded["model"] == {TYPE_KEY: "hitl_missing_app.models.Order", "id": 1}
    if "numpy" not in sys.modules:  # rebuilt only when the process already has numpy
        assert decoded["array"][TYPE_KEY] == "numpy.ndarray"
    assert not [m for m in imports.asked if m.startswith(("hitl_", "numpy"))]


@pytest.mark.parametrize(("data", "reason"), [
    (("pickle", b"\x80\x04K\x01."), "pickled value (the console never unpickles)"),
    (("msgpack+aes", b"secret"), "encrypted (msgpack+aes); pass --serde"),
    (("yaml", b"a: 1"), "unknown serializer type yaml"),
    (("msgpack", b"\xc1"), "corrupt msgpack value"),
    (("msgpack", b"\x92\x01"), "corrupt msgpack value"),
    (("json", b"{nope"), "corrupt json value"),
    (("msgpack", b"\x91" * 5000 + b"\xc0"), f"nested deeper than {MAX_DEPTH} levels"),
    (("json", b"[" * 5000 + b"]" * 5000), f"nested deeper than {MAX_DEPTH} levels"),
])
def test_unreadable_values_give_one_reason(data: tuple[str, bytes], reason: str) -> None:
    with pytest.raises(UnreadableValue) as caught:
        SafeSerializer().loads_typed(data)
    assert caught.value.reason == reason
    assert "\n" not in str(caught.value)


def test_ordinary_nesting_is_read() -> None:
    value: Any = ["x" * 300]
    for _ in range((MAX_DEPTH - 5) // 2):  # a dict and a list per round
        value = {"a": [value]}
    assert SafeSerializer().loads_typed(_blob(value)) == value


def test_deep_ext_nesting_is_unreadable_not_a_recursion_error() -> None:
    value: Any = []
    for _ in range(5000):
        value = _ext(EXT_CONSTRUCTOR_SINGLE_ARG, "builtins", "set", [value])
    with pytest.raises(UnreadableValue, match="nested deeper"):
        SafeSerializer().loads_typed(("msgpack", ormsgpack.packb(value)))
    nested: Any = "x"
    for _ in range(MAX_DEPTH + 5):
        nested = [nested]
    with pytest.raises(UnreadableValue, match="nested deeper"):  # inside a slotted object
        SafeSerializer().loads_typed(_blob([Interrupt(value=nested, id="i")]))
    deep: Any = "x"
    for _ in range(MAX_DEPTH + 5):
        deep = Order(1, [deep])  # type: ignore[list-item]
    with pytest.raises(UnreadableValue, match="nested deeper"):
        SafeSerializer().with_msgpack_allowlist([Order]).loads_typed(_blob(deep))


def test_legacy_json_revives_messages_only_and_never_reads_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HITL_TEST_SECRET", "s3cret-value")
    import json

    def load(value: Any) -> Any:
        return SafeSerializer().loads_typed(("json", json.dumps(value).encode()))

    message = {"lc": 1, "type": "constructor",
               "id": ["langchain_core", "messages", "HumanMessage"], "kwargs": {"content": "hi"}}
    assert load(message) == HumanMessage("hi")
    prompt = {"lc": 1, "type": "constructor",
              "id": ["langchain_core", "prompts", "prompt", "PromptTemplate"],
              "kwargs": {"template": "{x}", "input_variables": ["x"]}}
    assert load(prompt) == {TYPE_KEY: "langchain_core.prompts.prompt.PromptTemplate",
                            "template": "{x}", "input_variables": ["x"]}
    assert "s3cret" not in repr(load({"lc": 1, "type": "secret", "id": ["HITL_TEST_SECRET"]}))
    assert load({"lc": 2, "type": "constructor", "id": ["os", "system"], "args": ["exit 1"]}) \
        == {TYPE_KEY: "os.system", "value": ["exit 1"]}


def test_encrypted_serializer_decrypts_then_decodes_safely(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LANGGRAPH_AES_KEY", KEY)
    app = EncryptedSerializer.from_pycryptodome_aes()
    serde = serializer_from_spec("aes")
    hostile = {"x": _ext(EXT_CONSTRUCTOR_SINGLE_ARG, "os", "system", "exit 3"), "n": 1}
    typed = app.dumps_typed(hostile)
    assert typed[0] == "msgpack+aes"
    assert serde.loads_typed(typed) == {"x": {TYPE_KEY: "os.system", "value": "exit 3"}, "n": 1}
    written = serde.dumps_typed({"ok": [1, 2]})
    assert written[0] == "msgpack+aes" and app.loads_typed(written) == {"ok": [1, 2]}
    assert serde.loads_typed(PLAIN.dumps_typed({"plain": True})) == {"plain": True}
    monkeypatch.setenv("LANGGRAPH_AES_KEY", "fedcba9876543210fedcba9876543210")
    with pytest.raises(UnreadableValue, match="cannot decrypt"):
        serializer_from_spec("aes").loads_typed(typed)


def test_an_applications_allow_list_is_kept_but_not_its_permissive_default() -> None:
    assert wrap_serializer(JsonPlusSerializer(allowed_msgpack_modules=[Order])).loads_typed(
        _blob(Order(1, []))) == Order(1, [])
    permissive = wrap_serializer(JsonPlusSerializer(allowed_msgpack_modules=True))
    assert permissive.loads_typed(_blob(Order(1, [])))[TYPE_KEY].endswith(".Order")


# a serializer and a factory for `--serde module:attr`
custom_instance = JsonPlusSerializer()
not_a_serializer = object()


def custom_factory() -> JsonPlusSerializer:
    return JsonPlusSerializer()


def broken_factory() -> JsonPlusSerializer:
    raise RuntimeError("no config")


def test_serde_specs_resolve_or_say_what_is_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    here = __name__
    assert isinstance(serializer_from_spec(None), SafeSerializer)
    assert serializer_from_spec(f"{here}:custom_instance").app is custom_instance
    assert isinstance(serializer_from_spec(f"{here}:custom_factory").app, JsonPlusSerializer)
    errors = {
        "nope": "must be `aes` or `module:attr`",
        "hitl_no_such_module:x": "cannot import module 'hitl_no_such_module'",
        f"{here}:missing": f"module '{here}' has no 'missing'",
        f"{here}:not_a_serializer": "is not a serializer",
        f"{here}:broken_factory": "calling broken_factory failed (RuntimeError: no config)",
    }
    for spec, message in errors.items():
        with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
            serializer_from_spec(spec)
    monkeypatch.delenv("LANGGRAPH_AES_KEY", raising=False)
    with pytest.raises(UsageError, match="LANGGRAPH_AES_KEY"):
        serializer_from_spec("aes")
    monkeypatch.setenv("LANGGRAPH_AES_KEY", "short")
    with pytest.raises(UsageError, match="16, 24 or 32 bytes"):
        serializer_from_spec("aes")
    monkeypatch.setenv("LANGGRAPH_AES_KEY", KEY)
    monkeypatch.setitem(sys.modules, "Crypto", None)  # pycryptodome not installed
    monkeypatch.setitem(sys.modules, "Crypto.Cipher", None)
    with pytest.raises(UsageError, match=r"pip install 'hitl-console\[aes\]'"):
        serializer_from_spec("aes")


class _State(TypedDict):
    order: Order
    ticket: Ticket


def test_a_loaded_graphs_state_classes_are_its_allow_list() -> None:
    builder = StateGraph(_State)
    builder.add_node("n", lambda state: {})
    builder.add_edge(START, "n")
    allowed = graph_allowlist(builder.compile())
    assert {(__name__, "Order"), (__name__, "Ticket")} <= allowed
