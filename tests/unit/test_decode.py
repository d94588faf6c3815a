"""The LangGraph-free display decoder agrees with LangGraph's format and safe list."""

from __future__ import annotations

from datetime import UTC, datetime

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.serde import jsonplus
from langgraph.checkpoint.serde._msgpack import SAFE_MSGPACK_METHODS, SAFE_MSGPACK_TYPES
from langgraph.checkpoint.serde.types import ERROR, RESUME
from langgraph.types import Interrupt, Send

from console.core import decode
from console.core.decode import Decoder, LightObject
from console.core.jsonable import to_jsonable
from console.core.ledger import answers
from console.core.serde import SafeSerializer


def test_ext_codes_and_channels_are_langgraphs() -> None:
    codes = {name: getattr(jsonplus, name) for name in dir(jsonplus) if name.startswith("EXT_")}
    assert codes == {name: getattr(decode, name) for name in codes}
    assert (answers.ERROR_CHANNEL, answers.RESUME_CHANNEL) == (ERROR, RESUME)


def test_safe_types_are_split_between_built_and_light() -> None:
    assert decode.STDLIB_TYPES | decode.LIGHT_TYPES == SAFE_MSGPACK_TYPES
    assert not decode.STDLIB_TYPES & decode.LIGHT_TYPES
    assert all(m.startswith(("langgraph.", "langchain_core.")) for m, _ in decode.LIGHT_TYPES)
    assert decode.STDLIB_METHODS == SAFE_MSGPACK_METHODS


def test_light_values_read_like_the_objects() -> None:
    messages = [HumanMessage("hi", id="1"),
                AIMessage("", id="2", tool_calls=[{"name": "f", "args": {"a": 1}, "id": "c"}])]
    value = {"messages": messages, "at": datetime(2026, 1, 2, tzinfo=UTC),
             "ask": Interrupt(value={"q": 1}, id="i1"), "send": Send("node", {"x": 1})}
    blob = SafeSerializer().dumps_typed(value)
    light = Decoder().loads_typed(blob)
    real = SafeSerializer().loads_typed(blob)
    assert isinstance(light["messages"][0], LightObject)
    assert light["at"] == value["at"]  # standard types are built
    assert light["messages"][1].tool_calls[0]["name"] == "f"
    assert light["ask"].value == {"q": 1} and light["send"].node == "node"
    shown, expected = to_jsonable(light), to_jsonable(real)
    # what every output shows; a `Send` (not a dataclass) had only its repr to show
    assert shown.pop("send") == {"node": "node", "arg": {"x": 1}}
    expected.pop("send")
    assert shown == expected
    # written back, a light value is the application's value unchanged
    assert SafeSerializer().loads_typed(SafeSerializer().dumps_typed(light)) == real
