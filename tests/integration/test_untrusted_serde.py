"""Rows written by an attacker, and stores written with the application's serializer.

An attacker who can write one checkpoint row plants msgpack Exts that name callables
(`os.system`, `subprocess.run`, `builtins.eval`, `importlib.import_module` of a module
that acts on import, a pydantic model of such a module). Through the real CLI (a
subprocess, as a reviewer runs it) `pending`, `show`, `setup` and an inline `reject`
must never create the marker files; the same rows read by LangGraph's own default
decoder do create them, so this test can fail.

An application that encrypts its checkpoints (`EncryptedSerializer`, `msgpack+aes`) is
listed, shown and approved exactly once with `--serde aes`, and what the console writes
is still encrypted.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import ormsgpack
import psycopg
import pytest
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.jsonplus import (
    EXT_CONSTRUCTOR_POS_ARGS,
    EXT_CONSTRUCTOR_SINGLE_ARG,
    EXT_PYDANTIC_V2,
    JsonPlusSerializer,
)
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.types import Interrupt

from console.core.dburl import parse_db_url
from console.core.serde import SafeSerializer
from console.core.store import open_store
from tests import graphs
from tests.effects import count_effects, effects_target, prepare_effects

ROOT = Path(__file__).resolve().parents[2]
AES_KEY = "0123456789abcdef0123456789abcdef"  # 32 bytes: AES-256
MARKERS = ("os_system", "subprocess", "eval", "import_chain", "model_import")
RAW = graphs.spec("raw")
RACE = graphs.spec("race")


# ------------------------------------------------------------------ planting


def _ext(code: int, *parts: Any) -> ormsgpack.Ext:
    return ormsgpack.Ext(code, ormsgpack.packb(list(parts)))


def hostile(marker_dir: Path) -> dict[str, Any]:
    """Exts that create a file in `marker_dir` if anything imports or calls what they name."""
    return {
        "os_system": _ext(EXT_CONSTRUCTOR_SINGLE_ARG, "os", "system",
                          f"touch {marker_dir / 'os_system'}"),
        "subprocess": _ext(EXT_CONSTRUCTOR_POS_ARGS, "subprocess", "run",
                           [["touch", str(marker_dir / "subprocess")]]),
        "eval": _ext(EXT_CONSTRUCTOR_SINGLE_ARG, "builtins", "eval",
                     f"open({str(marker_dir / 'eval')!r}, 'w').close()"),
        "import_chain": _ext(EXT_CONSTRUCTOR_SINGLE_ARG, "importlib", "import_module",
                             "hitl_evil_plugin"),
        "model_import": _ext(EXT_PYDANTIC_V2, "hitl_evil_models", "Order", {"id": 7},
                             "model_validate_json"),
        "missing_model": _ext(EXT_PYDANTIC_V2, "no_such_app.models", "Order", {"id": 8},
                              "model_validate_json"),
    }


def plugin_dir(tmp_path: Path, marker_dir: Path) -> Path:
    """Modules an attacker's row names: importing either creates a marker."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "hitl_evil_plugin.py").write_text(
        f"open({str(marker_dir / 'import_chain')!r}, 'w').close()\n")
    (plugins / "hitl_evil_models.py").write_text(textwrap.dedent(f"""
        from pydantic import BaseModel
        open({str(marker_dir / 'model_import')!r}, 'w').close()

        class Order(BaseModel):
            id: int
    """))
    return plugins


async def seed(db_url: str, threads: dict[str, str]) -> None:
    """Run each thread (id -> graph name) to its pause, with a list in `notes` so the
    state has a non-primitive channel (a Postgres blob row)."""
    store = await open_store(parse_db_url(db_url), create=True)
    try:
        for thread_id, name in threads.items():
            graph = graphs.ALL[name].copy(update={"checkpointer": store.saver})
            await graph.ainvoke({"topic": thread_id, "notes": ["seeded"]}, {
                "configurable": {"thread_id": thread_id}, "metadata": {"graph_id": name}})
    finally:
        await store.close()


def _interrupt_blob(old_type: str, old_blob: bytes, payload: dict[str, Any]) -> bytes:
    """The `__interrupt__` write with its value replaced, same interrupt id."""
    old = SafeSerializer().loads_typed((old_type, old_blob))
    items = [Interrupt(value={"question": "ok?", "evil": payload}, id=i.id) for i in old]
    return JsonPlusSerializer().dumps_typed(items)[1]


# Three `raw` pauses: one clean, one with hostile Exts in its interrupt write, one with
# them in its stored state (`plant`).
PLANTED_THREADS = {"plain": "raw", "evil-write": "raw", "evil-state": "raw"}


async def seed_planted(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`PLANTED_THREADS` seeded and planted, the attacker's modules importable (an import
    would create a marker): returns the marker directory, empty until something runs."""
    markers = tmp_path / "markers"
    markers.mkdir()
    monkeypatch.syspath_prepend(str(plugin_dir(tmp_path, markers)))
    await seed(db_url, PLANTED_THREADS)
    plant(db_url, hostile(markers), in_write="evil-write", in_state="evil-state")
    return markers


def plant(db_url: str, payload: dict[str, Any], *, in_write: str, in_state: str) -> None:
    """Hostile values into `in_write`'s interrupt write and `in_state`'s stored state."""
    state_blob = JsonPlusSerializer().dumps_typed(["seeded", payload])[1]
    if db_url.startswith("postgresql://"):
        with psycopg.connect(db_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT task_id, idx, type, blob FROM checkpoint_writes "
                "WHERE thread_id = %s AND channel = '__interrupt__'", (in_write,)).fetchall()
            assert rows
            for task_id, idx, type_, blob in rows:
                conn.execute(
                    "UPDATE checkpoint_writes SET blob = %s WHERE thread_id = %s AND "
                    "task_id = %s AND idx = %s",
                    (_interrupt_blob(type_, blob, payload), in_write, task_id, idx))
            changed = conn.execute(
                "UPDATE checkpoint_blobs SET blob = %s, type = 'msgpack' "
                "WHERE thread_id = %s AND channel = 'notes'", (state_blob, in_state))
            assert changed.rowcount >= 1
        return
    path = parse_db_url(db_url).target
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT checkpoint_id, task_id, idx, type, value FROM writes "
            "WHERE thread_id = ? AND channel = '__interrupt__'", (in_write,)).fetchall()
        assert rows
        for checkpoint_id, task_id, idx, type_, blob in rows:
            conn.execute(
                "UPDATE writes SET value = ? WHERE thread_id = ? AND checkpoint_id = ? "
                "AND task_id = ? AND idx = ?",
                (_interrupt_blob(type_, blob, payload), in_write, checkpoint_id, task_id, idx))
        checkpoint_id, type_, blob = conn.execute(
            "SELECT checkpoint_id, type, checkpoint FROM checkpoints WHERE thread_id = ? "
            "AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1", (in_state,)).fetchone()
        checkpoint = SafeSerializer().loads_typed((type_, blob))
        checkpoint["channel_values"]["notes"] = ["seeded", payload]
        conn.execute("UPDATE checkpoints SET checkpoint = ? WHERE thread_id = ? AND "
                     "checkpoint_id = ?",
                     (JsonPlusSerializer().dumps_typed(checkpoint)[1], in_state, checkpoint_id))


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("HITL_SERDE", "LANGGRAPH_AES_KEY", "HITL_CONFIG")}
    return {**env, **extra}


# LangGraph's own savers with their default serializer, reading the planted rows: this
# is what the console did before, and what it must not do.
_DEFAULT_READ = """
import sys
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.postgres import PostgresSaver
import sqlite3
url, threads = sys.argv[1], sys.argv[2:]
def read(saver):
    for thread in threads:
        saver.get_tuple({"configurable": {"thread_id": thread, "checkpoint_ns": ""}})
if url.startswith("postgresql://"):
    with PostgresSaver.from_conn_string(url) as saver:
        read(saver)
else:
    read(SqliteSaver(sqlite3.connect(url)))
"""


# ------------------------------------------------------------------ the attacker's rows


async def test_planted_exts_never_run(db_url: str, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    plugins = plugin_dir(tmp_path, markers)
    await seed(db_url, {"plain": "raw", "evil-write": "raw", "evil-state": "raw"})
    plant(db_url, hostile(markers), in_write="evil-write", in_state="evil-state")
    env = _env(PYTHONPATH=os.pathsep.join([str(ROOT), str(plugins)]))
    db = ["--db", db_url]

    listed = cli("pending", "--json", *db, env=env)
    assert listed.returncode == 0, listed.stderr
    rows = {row["thread_id"]: row for row in json.loads(listed.stdout)}
    assert {"plain", "evil-write", "evil-state"} <= set(rows)
    shown = cli("show", "evil-write", "--json", *db, env=env)
    assert shown.returncode == 0, shown.stderr
    evil = json.loads(shown.stdout)["interrupts"][0]["value"]["evil"]
    # unknown types are plain data carrying their type name, never rebuilt
    assert evil["os_system"] == {"__type__": "os.system",
                                 "value": f"touch {markers / 'os_system'}"}
    assert evil["missing_model"] == {"__type__": "no_such_app.models.Order", "id": 8}
    assert evil["model_import"]["__type__"] == "hitl_evil_models.Order"
    # with the graph loaded, the state is read through LangGraph itself
    state = cli("show", "evil-state", "--json", "--graph", RAW, *db, env=env)
    assert state.returncode == 0, state.stderr
    assert json.loads(state.stdout)["values"]["notes"][1]["eval"]["__type__"] == "builtins.eval"
    setup = cli("setup", *db, env=env)
    assert setup.returncode == 0, setup.stderr
    after = cli("pending", "--json", *db, env=env)
    assert after.returncode == 0, after.stderr
    assert {"plain", "evil-write", "evil-state"} <= {r["thread_id"] for r in
                                                     json.loads(after.stdout)}
    # an inline decision reads and rewrites the planted state through the same serializer
    rejected = cli("reject", "evil-state", "--reason", "no", "--graph", RAW, *db, env=env)
    assert rejected.returncode == 0, rejected.stderr
    for result in (listed, shown, state, setup, after, rejected):
        assert "Traceback" not in result.stderr
    assert sorted(p.name for p in markers.iterdir()) == []

    # The same rows through LangGraph's default decoder run every payload.
    proof = subprocess.run(
        [sys.executable, "-c", _DEFAULT_READ,
         parse_db_url(db_url).target if db_url.startswith("sqlite") else db_url,
         "evil-write", "plain"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert proof.returncode == 0, proof.stderr
    assert sorted(p.name for p in markers.iterdir()) == sorted(MARKERS)


# ------------------------------------------------------------------ encrypted stores


@contextlib.asynccontextmanager
async def app_saver(db_url: str) -> AsyncIterator[Any]:
    """The application's own saver, with EncryptedSerializer (key from the environment)."""
    serde = EncryptedSerializer.from_pycryptodome_aes()
    if db_url.startswith("postgresql://"):
        async with AsyncPostgresSaver.from_conn_string(db_url, serde=serde) as saver:
            await saver.setup()
            yield saver
        return
    async with aiosqlite.connect(parse_db_url(db_url).target) as conn:
        saver = AsyncSqliteSaver(conn, serde=serde)
        await saver.setup()
        yield saver


async def _encrypted_app_run(db_url: str, thread_id: str) -> None:
    """The application runs `race` to its pause, encrypted."""
    async with app_saver(db_url) as saver:
        graph = graphs.race.copy(update={"checkpointer": saver})
        await graph.ainvoke({"topic": thread_id}, {
            "configurable": {"thread_id": thread_id}, "metadata": {"graph_id": "race"}})


def raw_types(db_url: str, thread_id: str) -> dict[str, list[str]]:
    """Serializer types of the thread's raw rows, per table (Postgres: blobs other than
    LangGraph's `empty` marker)."""
    if db_url.startswith("postgresql://"):
        with psycopg.connect(db_url) as conn:
            def column(sql: str) -> list[str]:
                return [r[0] for r in conn.execute(sql, (thread_id,)).fetchall()]
            return {
                "checkpoints": column("SELECT checkpoint_id FROM checkpoints "
                                      "WHERE thread_id = %s"),
                "checkpoint_blobs": column("SELECT type FROM checkpoint_blobs "
                                           "WHERE thread_id = %s AND type <> 'empty'"),
                "checkpoint_writes": column("SELECT type FROM checkpoint_writes "
                                            "WHERE thread_id = %s"),
            }
    with sqlite3.connect(parse_db_url(db_url).target) as conn:
        return {
            "checkpoints": [r[0] for r in conn.execute(
                "SELECT type FROM checkpoints WHERE thread_id = ?", (thread_id,))],
            "writes": [r[0] for r in conn.execute(
                "SELECT type FROM writes WHERE thread_id = ?", (thread_id,))],
        }


def _all_encrypted(types: dict[str, list[str]]) -> None:
    for table, found in types.items():
        if table == "checkpoints" and "checkpoint_blobs" in types:
            continue  # Postgres keeps the checkpoint itself as JSONB; values are blobs
        assert found and all(t.endswith("+aes") for t in found), (table, found)


async def test_encrypted_store_is_listed_shown_and_approved_once(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANGGRAPH_AES_KEY", AES_KEY)
    await _encrypted_app_run(db_url, "enc-1")
    await _encrypted_app_run(db_url, "enc-2")  # decided through a worker
    before = raw_types(db_url, "enc-1")
    _all_encrypted(before)
    effects = prepare_effects(effects_target(db_url, tmp_path))
    env = _env(LANGGRAPH_AES_KEY=AES_KEY, PYTHONPATH=str(ROOT),
               **{graphs.EFFECTS_ENV: effects})
    db = ["--db", db_url]

    listed = cli("pending", "--json", "--serde", "aes", *db, env=env)
    assert listed.returncode == 0, listed.stderr
    both = ["enc-1", "enc-2"]
    assert [r["thread_id"] for r in json.loads(listed.stdout)] == both
    # the same through HITL_SERDE and through `[console] serde`
    by_env = cli("pending", "--json", *db, env={**env, "HITL_SERDE": "aes"})
    assert [r["thread_id"] for r in json.loads(by_env.stdout)] == both, by_env.stderr
    config = tmp_path / "console.toml"
    config.write_text('[console]\nserde = "aes"\n')
    by_config = cli("pending", "--json", "--config", str(config), *db, env=env)
    assert [r["thread_id"] for r in json.loads(by_config.stdout)] == both, by_config.stderr
    shown = cli("show", "enc-1", "--json", "--serde", "aes", *db, env=env)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["interrupts"][0]["value"] == {"question": "race?"}

    setup = cli("setup", "--serde", "aes", *db, env=env)  # SQLite decodes every head here
    assert setup.returncode == 0, setup.stderr
    approved = cli("approve", "enc-1", "--serde", "aes", "--graph", RACE, *db, env=env)
    assert approved.returncode == 0, approved.stderr
    again = cli("approve", "enc-1", "--serde", "aes", "--graph", RACE, *db, env=env)
    assert again.returncode in (3, 4), again.stderr
    assert count_effects(effects) == {"enc-1": 1}
    # worker mode: the console records, the worker (where the key lives) applies
    queued = cli("approve", "enc-2", "--worker-mode", "--serde", "aes", *db, env=env)
    assert queued.returncode == 0, queued.stderr
    worked = cli("worker", "--once", "--serde", "aes", "--graph", RACE, "--json", *db, env=env)
    assert worked.returncode == 0, worked.stderr
    assert [json.loads(line)["status"] for line in worked.stdout.splitlines()] == ["applied"]
    assert count_effects(effects) == {"enc-1": 1, "enc-2": 1}

    for thread in both:
        after = raw_types(db_url, thread)
        assert len(after["checkpoints"]) > len(before["checkpoints"])  # the resume wrote
        _all_encrypted(after)
    # and the application still reads its thread, finished
    async with app_saver(db_url) as saver:
        for thread in both:
            head = await saver.aget_tuple({"configurable": {"thread_id": thread}})
            assert head is not None
            assert head.checkpoint["channel_values"]["effects"] == ["acted"]


async def test_encrypted_heads_without_the_key_do_not_hide_the_rest(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --serde: the encrypted thread is `unreadable` with its reason, and the
    plain thread next to it is listed as usual (needs per-row isolation in the reads)."""
    monkeypatch.setenv("LANGGRAPH_AES_KEY", AES_KEY)
    await _encrypted_app_run(db_url, "enc-1")
    await seed(db_url, {"plain": "raw"})
    env = _env(PYTHONPATH=str(ROOT))
    listed = cli("pending", "--json", "--db", db_url, env=env)
    assert listed.returncode == 0, listed.stderr
    rows = {r["thread_id"]: r for r in json.loads(listed.stdout)}
    assert rows["plain"]["kind"] == "interrupt"
    assert rows["enc-1"]["kind"] == "unreadable"
    assert rows["enc-1"]["error"] == "encrypted (msgpack+aes); pass --serde"
    setup = cli("setup", "--db", db_url, env=env)
    assert setup.returncode == 0, setup.stderr
    shown = cli("show", "enc-1", "--db", db_url, env=env)
    assert shown.returncode == 1
    assert shown.stderr.strip() == ("hitl-console: Thread 'enc-1' cannot be read: "
                                    "encrypted (msgpack+aes); pass --serde; nothing was "
                                    "changed.")
