"""A typed value the console does not rebuild goes back to the store as the very Ext it was
read from, while every reader in the console sees plain data with its type name.

Values are written by LangGraph's own serializer (what applications use), decoded by the
console, written again by the console, and the bytes compared. The Exts name modules
that create a marker file on import, and callables that would create one if called."""

from __future__ import annotations

import copy
import enum
import importlib.abc
import json
import pickle
import sys
from pathlib import Path
from typing import Any

import ormsgpack
import pytest
from langchain_core.messages import AIMessage
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.jsonplus import (
    EXT_CONSTRUCTOR_KW_ARGS,
    EXT_METHOD_SINGLE_ARG,
    EXT_PYDANTIC_V2,
    JsonPlusSerializer,
)

from console.core.diff import state_diff
from console.core.jsonable import to_jsonable
from console.core.redact import Redactor
from console.core.serde import TYPE_KEY, KeptExt, SafeSerializer, wrap_serializer
from console.ui.pretty import pretty
from tests.integration.test_untrusted_serde import hostile, plugin_dir

PLAIN = JsonPlusSerializer()
AES_KEY = "0123456789abcdef0123456789abcdef"


def _ext(code: int, *parts: Any) -> ormsgpack.Ext:
    return ormsgpack.Ext(code, ormsgpack.packb(list(parts)))


def _planted(markers: Path) -> dict[str, Any]:
    """Exts of every kind the console keeps, alone and nested in lists and dicts."""
    evil = hostile(markers)
    return {
        **evil,
        "kw_app_type": _ext(EXT_CONSTRUCTOR_KW_ARGS, "no_such_app.models", "Invoice",
                            {"total": 12.5, "lines": [1, 2]}),
        "method": _ext(EXT_METHOD_SINGLE_ARG, "no_such_app.clock", "Tick", "x", "parse"),
        "unknown_code": ormsgpack.Ext(42, b"\x00\x01opaque"),
        "nested": [{"deeper": [evil["os_system"], {"order": evil["missing_model"]}]}],
        "ext_in_ext": _ext(EXT_PYDANTIC_V2, "no_such_app.models", "Cart",
                           {"order": evil["model_import"]}, "model_validate_json"),
        "allowed_next_to_them": AIMessage(content="hi", id="m1"),
    }


def _exts(blob: bytes) -> list[tuple[int, bytes]]:
    """Every top-level Ext (code, payload) of a msgpack value, in order, undecoded."""
    found: list[tuple[int, bytes]] = []

    def hook(code: int, data: bytes) -> None:
        found.append((code, data))

    ormsgpack.unpackb(blob, ext_hook=hook, option=ormsgpack.OPT_NON_STR_KEYS)
    return found


class _ImportSpy(importlib.abc.MetaPathFinder):
    """Records every module an import looks for (and finds none itself)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        self.asked.append(fullname)


@pytest.fixture
def markers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    found = tmp_path / "markers"
    found.mkdir()
    monkeypatch.syspath_prepend(str(plugin_dir(tmp_path, found)))
    return found


def test_unknown_exts_are_written_back_byte_for_byte(markers: Path) -> None:
    checkpoint = {"v": 4, "channel_values": {"notes": ["seeded", _planted(markers)],
                                             "topic": "t"}}
    type_, blob = PLAIN.dumps_typed(checkpoint)
    serde = SafeSerializer()
    spy = _ImportSpy()
    sys.meta_path.insert(0, spy)
    try:
        decoded = serde.loads_typed((type_, blob))
        assert serde.dumps_typed(decoded) == (type_, blob)
        # written twice (a second resume) it is still the same value
        assert serde.dumps_typed(serde.loads_typed((type_, blob))) == (type_, blob)
    finally:
        sys.meta_path.remove(spy)
    assert not [m for m in spy.asked if m.split(".")[0] in ("no_such_app", "hitl_evil_models",
                                                            "hitl_evil_plugin", "subprocess")]
    assert len(_exts(blob)) >= 9
    assert sorted(p.name for p in markers.iterdir()) == []


def test_a_kept_ext_reads_as_plain_data_with_its_type_name(markers: Path) -> None:
    value = SafeSerializer().loads_typed(PLAIN.dumps_typed(_planted(markers)))
    order = value["missing_model"]
    assert isinstance(order, KeptExt) and isinstance(order, dict)
    assert order == {TYPE_KEY: "no_such_app.models.Order", "id": 8}
    assert value["nested"][0]["deeper"][0][TYPE_KEY] == "os.system"
    assert value["unknown_code"] == {TYPE_KEY: "msgpack-ext-42", "value": None}
    assert value["ext_in_ext"]["order"][TYPE_KEY] == "hitl_evil_models.Order"

    # JSON output, redaction, diff and the detail pane see a dict with its type name
    as_json = json.loads(json.dumps(to_jsonable(value)))
    assert as_json["missing_model"] == {"__type__": "no_such_app.models.Order", "id": 8}
    assert as_json["kw_app_type"] == {"__type__": "no_such_app.models.Invoice",
                                      "total": 12.5, "lines": [1, 2]}
    assert json.loads(json.dumps(order)) == {"__type__": "no_such_app.models.Order", "id": 8}
    assert Redactor().redact(order) == {"__type__": "no_such_app.models.Order", "id": 8}
    assert state_diff({"o": order}, {"o": {TYPE_KEY: "no_such_app.models.Order", "id": 8}},
                      Redactor()) == []
    changed = state_diff({"o": order}, {"o": {TYPE_KEY: "no_such_app.models.Order", "id": 9}},
                         Redactor())
    assert [(c.path, c.before, c.after) for c in changed] == [("o.id", 8, 9)]
    shown = pretty(order, redactor=Redactor()).plain
    assert '"__type__": "no_such_app.models.Order"' in shown and '"id": 8' in shown
    assert "KeptExt" not in shown
    assert sorted(p.name for p in markers.iterdir()) == []


def test_each_kept_ext_keeps_its_own_code_and_payload(markers: Path) -> None:
    planted = _planted(markers)
    _, blob = PLAIN.dumps_typed(planted)
    value = SafeSerializer().loads_typed(("msgpack", blob))
    for key, ext in planted.items():
        if isinstance(ext, ormsgpack.Ext):
            expected = _exts(ormsgpack.packb(ext))
            assert [(value[key].ext_code, value[key].ext_data)] == expected, key
            _, alone = SafeSerializer().dumps_typed(value[key])
            assert _exts(alone) == expected, key
    assert sorted(p.name for p in markers.iterdir()) == []


def test_an_edited_or_replaced_value_is_written_as_its_new_data(markers: Path) -> None:
    serde = SafeSerializer()
    value = serde.loads_typed(PLAIN.dumps_typed({"a": hostile(markers)["missing_model"],
                                                 "b": hostile(markers)["os_system"]}))
    value["a"]["id"] = 9  # edited in place
    value["b"] = {"note": "replaced"}  # replaced, as a Command(update=...) does
    written = serde.dumps_typed(value)
    assert _exts(written[1]) == []
    assert PLAIN.loads_typed(written) == {
        "a": {TYPE_KEY: "no_such_app.models.Order", "id": 9}, "b": {"note": "replaced"}}
    # a copy of an edited value is an edited value too
    assert _exts(serde.dumps_typed(copy.deepcopy(value["a"]))[1]) == []
    assert sorted(p.name for p in markers.iterdir()) == []


def test_copies_keep_the_ext(markers: Path) -> None:
    serde = SafeSerializer()
    ext = hostile(markers)["missing_model"]
    order = serde.loads_typed(PLAIN.dumps_typed(ext))
    for copied in (copy.copy(order), copy.deepcopy(order), pickle.loads(pickle.dumps(order))):
        assert isinstance(copied, KeptExt) and copied == order
        assert _exts(serde.dumps_typed(copied)[1]) == _exts(ormsgpack.packb(ext))
    assert sorted(p.name for p in markers.iterdir()) == []


class Level(enum.IntEnum):
    LOW = 1


class Mode(enum.StrEnum):
    FAST = "fast"


class Tag(str):
    pass


class Count(int):
    pass


class Bag(dict[str, Any]):
    pass


class Items(list[Any]):
    pass


def test_every_other_value_is_written_as_langgraph_writes_it() -> None:
    value = {"flags": [True, False, None], "level": Level.LOW, "mode": Mode.FAST,
             "tag": Tag("x"), "count": Count(3), "bag": Bag(k=Tag("v")),
             "items": Items([Count(1), Bag()]), "message": AIMessage(content="hi", id="m1"),
             "set": {1, 2}, Tag("key"): 1.5}
    assert SafeSerializer().dumps_typed(value) == PLAIN.dumps_typed(value)


def test_an_encrypted_store_gets_its_ext_back_encrypted(
    markers: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANGGRAPH_AES_KEY", AES_KEY)
    app = EncryptedSerializer.from_pycryptodome_aes()
    serde = wrap_serializer(app)
    stored = app.dumps_typed(["seeded", hostile(markers)["missing_model"]])
    written = serde.dumps_typed(serde.loads_typed(stored))
    assert written[0] == "msgpack+aes"
    assert app.cipher.decrypt("aes", written[1]) == app.cipher.decrypt("aes", stored[1])
    assert sorted(p.name for p in markers.iterdir()) == []
