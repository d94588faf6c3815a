"""A value of a type the console does not rebuild survives an inline decision unchanged.

The application's state holds msgpack Exts of a module that is not installed here (and
one naming `os.system`). The console shows them as plain data with their type name; an
inline approval resumes the thread, which on SQLite rewrites the whole checkpoint. The
new head row must still hold the very same Ext bytes (the application reads its own type
back, not a dict), a key the reviewer edits holds the new value, the gated action ran
once, and nothing was imported or called. (Postgres rewrites only the channels a step
changes, so there the unchanged `notes` blob is the planted row itself; the test still
checks the head points at the same bytes.)
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import ormsgpack
import psycopg
from langgraph.checkpoint.serde.jsonplus import (
    EXT_CONSTRUCTOR_KW_ARGS,
    EXT_CONSTRUCTOR_SINGLE_ARG,
    EXT_PYDANTIC_V2,
    JsonPlusSerializer,
)

from console.core.dburl import parse_db_url
from console.core.graphs import GraphInfo, GraphRegistry
from console.core.ledger.apply import Decider, current_origin
from console.core.ledger.decisions import DecisionInput
from console.core.ledger.rows import DecisionType
from console.core.serde import SafeSerializer
from console.core.store import open_store
from tests import graphs

THREAD = "kept"


def _ext(code: int, *parts: Any) -> ormsgpack.Ext:
    return ormsgpack.Ext(code, ormsgpack.packb(list(parts)))


def _app_values(markers: Path) -> dict[str, Any]:
    return {
        "order": _ext(EXT_PYDANTIC_V2, "no_such_app.models", "Order", {"id": 8},
                      "model_validate_json"),
        "lines": [_ext(EXT_CONSTRUCTOR_KW_ARGS, "no_such_app.models", "Line",
                       {"sku": "A-1", "qty": 2})],
        "hostile": _ext(EXT_CONSTRUCTOR_SINGLE_ARG, "os", "system",
                        f"touch {markers / 'os_system'}"),
    }


def _raw(blob: bytes) -> Any:
    """A msgpack value with every Ext left as its (code, payload), never decoded."""
    return ormsgpack.unpackb(blob, ext_hook=lambda code, data: ("ext", code, data),
                             option=ormsgpack.OPT_NON_STR_KEYS)


def _plant(db_url: str, notes: list[Any], history: list[Any]) -> None:
    """The application's values into the thread's stored `notes` and `history`."""
    dump = JsonPlusSerializer().dumps_typed
    if db_url.startswith("postgresql://"):
        with psycopg.connect(db_url, autocommit=True) as conn:
            for channel, value in (("notes", notes), ("history", history)):
                changed = conn.execute(
                    "UPDATE checkpoint_blobs SET blob = %s, type = 'msgpack' "
                    "WHERE thread_id = %s AND channel = %s", (dump(value)[1], THREAD, channel))
                assert changed.rowcount >= 1
        return
    with sqlite3.connect(parse_db_url(db_url).target) as conn:
        checkpoint_id, type_, blob = conn.execute(
            "SELECT checkpoint_id, type, checkpoint FROM checkpoints WHERE thread_id = ? "
            "AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1", (THREAD,)).fetchone()
        checkpoint = SafeSerializer().loads_typed((type_, blob))
        checkpoint["channel_values"].update(notes=notes, history=history)
        conn.execute("UPDATE checkpoints SET checkpoint = ? WHERE thread_id = ? AND "
                     "checkpoint_id = ?", (dump(checkpoint)[1], THREAD, checkpoint_id))


def _head_row(db_url: str) -> tuple[str, dict[str, Any]]:
    """The head checkpoint's id and its raw `notes` / `history` values, Exts undecoded."""
    if db_url.startswith("postgresql://"):
        with psycopg.connect(db_url) as conn:
            checkpoint_id, versions = conn.execute(
                "SELECT checkpoint_id, checkpoint->'channel_versions' FROM checkpoints "
                "WHERE thread_id = %s AND checkpoint_ns = '' ORDER BY checkpoint_id DESC "
                "LIMIT 1", (THREAD,)).fetchone()
            values = {}
            for channel in ("notes", "history"):
                (blob,) = conn.execute(
                    "SELECT blob FROM checkpoint_blobs WHERE thread_id = %s AND "
                    "checkpoint_ns = '' AND channel = %s AND version = %s",
                    (THREAD, channel, str(versions[channel]))).fetchone()
                values[channel] = _raw(bytes(blob))
            return checkpoint_id, values
    with sqlite3.connect(parse_db_url(db_url).target) as conn:
        checkpoint_id, blob = conn.execute(
            "SELECT checkpoint_id, checkpoint FROM checkpoints WHERE thread_id = ? AND "
            "checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1", (THREAD,)).fetchone()
    channel_values = _raw(blob)["channel_values"]
    return checkpoint_id, {c: channel_values[c] for c in ("notes", "history")}


async def test_an_inline_decision_writes_unknown_types_back_unchanged(
    db_url: str, tmp_path: Path
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    registry = GraphRegistry([GraphInfo.of("raw", graphs.raw)])
    store = await open_store(parse_db_url(db_url), registry, grace_seconds=0, create=True)
    try:
        graph = graphs.raw.copy(update={"checkpointer": store.saver})
        await graph.ainvoke({"topic": THREAD, "notes": ["seeded"], "history": ["h"]}, {
            "configurable": {"thread_id": THREAD}, "metadata": {"graph_id": "raw"}})
        app_values = _app_values(markers)
        _plant(db_url, ["seeded", app_values], [app_values["order"]])
        planted_id, _ = _head_row(db_url)

        # the reviewer sees plain data with its type name
        pause = await store.pending_thread(THREAD)
        assert pause is not None
        shown = (await graph.aget_state({"configurable": {"thread_id": THREAD}})).values
        assert shown["notes"][1]["order"] == {"__type__": "no_such_app.models.Order", "id": 8}
        assert shown["notes"][1]["lines"][0]["__type__"] == "no_such_app.models.Line"

        decider = Decider(store, current_origin("carol"))
        outcome = await decider.decide(THREAD, DecisionInput(
            DecisionType.EDIT, state_update={"history": ["edited"]}, force=True))
        assert outcome.status == "applied", outcome.message

        final = (await graph.aget_state({"configurable": {"thread_id": THREAD}})).values
        assert final["effects"] == ["acted"]  # the gated action ran once
        assert final["history"] == ["edited"]
        assert final["notes"][1]["order"]["__type__"] == "no_such_app.models.Order"
    finally:
        await store.close()

    head_id, head = _head_row(db_url)
    assert head_id != planted_id  # the resume wrote new checkpoints
    # the application's values, byte for byte: the same ext codes and payloads
    assert head["notes"] == ["seeded", _raw(JsonPlusSerializer().dumps_typed(app_values)[1])]
    assert head["notes"][1]["order"][:2] == ("ext", EXT_PYDANTIC_V2)
    assert head["history"] == ["edited"]  # what the reviewer wrote replaced it
    assert sorted(p.name for p in markers.iterdir()) == []
