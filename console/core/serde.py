"""The one serializer the console decodes and writes checkpoint values with.

Whoever can write a checkpoint row must not be able to run code on a reviewer's
machine. LangGraph's default msgpack decoding rebuilds an Ext by importing the module
and calling the attribute the row names (`os.system`, `builtins.eval`, ...). Its strict
mode (`allowed_msgpack_modules=None`) checks a list first, but it still imports numpy for
an array Ext, turns an unknown type into its bare payload (the type name is lost), lets
a deep nest of Exts run into the recursion limit, and revives legacy `json` values with
LangChain's "core" reviver (prompt templates and more). So `SafeSerializer` keeps
LangGraph's format and its list of safe types (`SAFE_MSGPACK_TYPES`) but decodes with its
own ext hook:

- an allowed type (LangGraph's and LangChain's own message/interrupt/Send/Command types,
  the standard value types) is rebuilt; only modules on that list are ever resolved;
- the loaded graph's own state classes (`with_msgpack_allowlist`, what LangGraph's strict
  mode adds too) are rebuilt only if their module is already imported: never an import;
- anything else is plain data carrying its type name: `{"__type__": "app.Order", ...fields}`,
  a `KeptExt` (a dict to every reader) that remembers its Ext: writing it back (a resume
  rewrites a whole SQLite checkpoint) gives the application its value byte for byte;
- what cannot or must not be decoded raises `UnreadableValue` with a one-line reason:
  corrupt bytes, `pickle` (never unpickled), an unknown serializer type, an encrypted value
  without the key, nesting deeper than `MAX_DEPTH`.

`--serde` names the application's serializer (e.g. `EncryptedSerializer`); the console
then writes with it and decrypts with its cipher, but the decoding after decryption is
still this one.
"""

from __future__ import annotations

import contextlib
import copy
import enum
import importlib
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

import ormsgpack
from langgraph.checkpoint.serde._msgpack import SAFE_MSGPACK_TYPES
from langgraph.checkpoint.serde.base import CipherProtocol, SerializerProtocol
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.jsonplus import (
    JsonPlusSerializer,
    _msgpack_default,
    _option,
)
from langgraph.checkpoint.serde.types import _DeltaSnapshot

from console.core.decode import (
    MAX_DEPTH,
    TYPE_KEY,
    Decoder,
    ExtHook,
    KeptExt,
    LightObject,
    TypeKey,
    type_keys,
)
from console.core.errors import UsageError
from console.core.inert import inert

SERDE_ENV = "HITL_SERDE"
AES = "aes"


class _GraphExtHook(ExtHook):
    __slots__ = ()

    def delta_snapshot(self, parts: Any, code: int, data: bytes) -> Any:
        return _DeltaSnapshot(parts)


class _GraphDecoder(Decoder):
    """`Decoder` that builds LangGraph's and LangChain's own types for real (what a graph
    resumed by the console needs): only modules on LangGraph's safe list are resolved."""

    light = False
    hook_class = _GraphExtHook

    def resolve(self, key: TypeKey) -> Callable[..., Any] | None:
        if key in SAFE_MSGPACK_TYPES:
            try:  # e.g. `pathlib._local` exists from Python 3.13 on
                module: Any = sys.modules.get(key[0]) or importlib.import_module(key[0])
            except ImportError:
                return None
            found = getattr(module, key[1], None)
            return found if callable(found) else None
        return self._graph_class(key)

    def _message(self, value: dict[str, Any]) -> Any:
        return _messages_reviver()(value)


class SafeSerializer(JsonPlusSerializer):
    """LangGraph's serializer format, decoded against an allow-list (module docstring).

    `app` is the application's serializer, used for every write so the console never
    writes a checkpoint the application cannot read; `cipher` decrypts `<type>+<cipher>`
    values before the safe decoding; `fallback` decodes serializer types of a custom
    application serializer that LangGraph's format does not have.
    """

    def __init__(
        self,
        *,
        allowed: Iterable[TypeKey | type] = (),
        app: SerializerProtocol | None = None,
        cipher: CipherProtocol | None = None,
        fallback: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(allowed_msgpack_modules=None, __unpack_ext_hook__=self._refuse_ext)
        self._extra: frozenset[TypeKey] = frozenset(type_keys(allowed))
        self._app = app
        self._cipher = cipher
        self._fallback = fallback
        self._reader = self._decoder(_GraphDecoder)

    def _decoder(self, kind: type[Decoder]) -> Decoder:
        return kind(allowed=self._extra, cipher=self._cipher, fallback=self._fallback)

    def display_decoder(self) -> Decoder:
        """The LangGraph-free decoder for listing and review with the same cipher,
        fallback and allowed classes (LangGraph's own types as `LightObject`s)."""
        return self._decoder(Decoder)

    @property
    def app(self) -> SerializerProtocol | None:
        """The application's serializer given with --serde (None: LangGraph's format)."""
        return self._app

    # ---------------------------------------------------------------- writes

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        if obj is None or isinstance(obj, bytes | bytearray) or not self._keeps_exts:
            return self._write(obj)
        try:
            blob = _pack_keeping_exts(obj)
        except ormsgpack.MsgpackEncodeError:
            return self._write(obj)  # the application's own error or pickle fallback
        if not isinstance(self._app, EncryptedSerializer):
            return "msgpack", blob
        ciphername, ciphertext = self._app.cipher.encrypt(blob)  # as the application does
        return f"msgpack+{ciphername}", ciphertext

    def _write(self, obj: Any) -> tuple[str, bytes]:
        if self._app is not None:
            return self._app.dumps_typed(obj)
        return super().dumps_typed(obj)

    @property
    def _keeps_exts(self) -> bool:
        """Whether the application writes LangGraph's msgpack format, so a `KeptExt` can
        go back as its Ext (a custom format writes it as the plain data it reads as)."""
        if self._app is None:
            return True
        inner = self._app.serde if isinstance(self._app, EncryptedSerializer) else self._app
        return type(inner).dumps_typed is JsonPlusSerializer.dumps_typed

    # ---------------------------------------------------------------- reads

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        return self._reader.loads_typed(data)

    @staticmethod
    def _refuse_ext(code: int, data: bytes) -> Any:
        raise ValueError("decoded only through SafeSerializer.loads_typed")

    # ---------------------------------------------------------------- allow-list

    def with_msgpack_allowlist(
        self, extra_allowlist: Iterable[TypeKey | type]
    ) -> SafeSerializer:
        """A copy that also rebuilds these types (LangGraph calls this with a graph's
        state classes in strict mode; the console does for a loaded graph)."""
        merged = self._extra | frozenset(type_keys(extra_allowlist))
        if merged == self._extra:
            return self
        clone = copy.copy(self)
        clone._extra = merged
        clone._reader = clone._decoder(_GraphDecoder)
        return clone


_KEEP_OPTION = _option | ormsgpack.OPT_PASSTHROUGH_SUBCLASS  # dict subclasses reach _keep


def _pack_keeping_exts(value: Any) -> bytes:
    """LangGraph's msgpack encoding, except that a `KeptExt` (or a `LightObject`) is
    written as its Ext."""
    return ormsgpack.packb(value, default=_keep, option=_KEEP_OPTION)


def _keep(obj: Any) -> Any:
    if isinstance(obj, KeptExt):
        return ormsgpack.Ext(obj.ext_code, obj.ext_data) if obj.unchanged() else dict(obj)
    if isinstance(obj, LightObject) and obj.ext_code is not None:
        return ormsgpack.Ext(obj.ext_code, obj.ext_data)
    if not isinstance(obj, enum.Enum):
        # Other subclasses of builtins, written as LangGraph writes them (as the builtin).
        if isinstance(obj, dict):
            return dict.copy(obj)
        if isinstance(obj, list):
            return list.copy(obj)
        if isinstance(obj, str):
            return str.__str__(obj)
        if isinstance(obj, int):
            return int.__int__(obj)
    # Objects LangGraph encodes (it writes their fields with its own encoder, so a KeptExt
    # inside a rebuilt object is written as its plain data).
    return _msgpack_default(obj)


_MESSAGES_REVIVER: Any = None


def _messages_reviver() -> Any:
    """LangChain's reviver limited to message classes (its own advice for untrusted
    input), never reading secrets from the environment."""
    global _MESSAGES_REVIVER
    if _MESSAGES_REVIVER is None:
        from langchain_core.load.load import Reviver

        _MESSAGES_REVIVER = Reviver(allowed_objects="messages", secrets_from_env=False)
    return _MESSAGES_REVIVER


def _short(text: str) -> str:
    return inert(text, limit=40)


# ------------------------------------------------------------------ building one


def wrap_serializer(app: SerializerProtocol | None) -> SafeSerializer:
    """The console's serializer around the application's: writes go through `app`,
    reads are decrypted with its cipher (if any), then decoded safely."""
    if app is None:
        return SafeSerializer()
    if isinstance(app, SafeSerializer):
        return app
    inner: Any = app
    cipher = None
    if isinstance(app, EncryptedSerializer):
        cipher, inner = app.cipher, app.serde
    allowed: Iterable[TypeKey] = ()
    fallback = None
    if isinstance(inner, JsonPlusSerializer):
        explicit = inner._allowed_msgpack_modules  # what the app allowed by name
        allowed = explicit if isinstance(explicit, set) else ()
    elif inner is not None:
        fallback = inner  # a custom format: only the application's serializer reads it
    return SafeSerializer(allowed=allowed, app=app, cipher=cipher, fallback=fallback)


def serializer_from_spec(spec: str | None) -> SafeSerializer:
    """The serializer `--serde SPEC` names: `aes` (LangGraph's EncryptedSerializer with
    AES, key in LANGGRAPH_AES_KEY), or `module:attr`, a serializer or a zero-argument
    factory of one. None or "": LangGraph's own format, decoded safely."""
    spec = (spec or "").strip()
    if not spec:
        return SafeSerializer()
    if spec == AES:
        return wrap_serializer(_aes())
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"--serde {spec!r} must be `aes` or `module:attr`.")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise UsageError(
            f"--serde {spec!r}: cannot import module {module_name!r} "
            f"({type(exc).__name__}: {_first_line(exc)})."
        ) from None
    found: Any = module
    for part in attr.split("."):
        if not hasattr(found, part):
            raise UsageError(f"--serde {spec!r}: module {module_name!r} has no {attr!r}.")
        found = getattr(found, part)
    if not _is_serializer(found) and callable(found):
        try:
            found = found()
        except Exception as exc:
            raise UsageError(
                f"--serde {spec!r}: calling {attr} failed "
                f"({type(exc).__name__}: {_first_line(exc)})."
            ) from None
    if not _is_serializer(found):
        raise UsageError(
            f"--serde {spec!r} is not a serializer: it needs dumps_typed and loads_typed "
            "(LangGraph's SerializerProtocol)."
        )
    return wrap_serializer(found)


def _aes() -> EncryptedSerializer:
    if not os.environ.get("LANGGRAPH_AES_KEY"):
        raise UsageError("--serde aes needs the key in LANGGRAPH_AES_KEY (16, 24 or 32 bytes).")
    try:
        return EncryptedSerializer.from_pycryptodome_aes()
    except ImportError:
        raise UsageError(
            "--serde aes needs pycryptodome: pip install 'hitl-console[aes]'."
        ) from None
    except ValueError:
        raise UsageError(
            "--serde aes: LANGGRAPH_AES_KEY must be 16, 24 or 32 bytes long."
        ) from None


def _is_serializer(obj: Any) -> bool:
    return not isinstance(obj, type) and isinstance(obj, SerializerProtocol)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return inert(text[0], limit=120) if text else ""


# ------------------------------------------------------------------ a loaded graph


def graph_allowlist(graph: Any) -> set[TypeKey]:
    """The classes a compiled graph declares for its state (and its subgraphs'): what
    LangGraph's strict mode adds to its allow-list for that graph."""
    try:
        from langgraph._internal._serde import build_serde_allowlist
    except ImportError:  # a LangGraph without it: only the built-in list
        return set()
    found: set[TypeKey] = set()
    graphs = [graph]
    with contextlib.suppress(Exception):
        graphs += [sub for _, sub in graph.get_subgraphs(recurse=True)]
    for item in graphs:
        cached = getattr(item, "_serde_allowlist", None)
        if cached:
            found |= set(cached)
            continue
        builder = getattr(item, "builder", None)
        schemas = [getattr(builder, name, None) for name in
                   ("state_schema", "input_schema", "output_schema", "context_schema")]
        nodes = getattr(builder, "nodes", None) or {}
        schemas += [getattr(node, "input_schema", None) for node in nodes.values()]
        try:
            found |= build_serde_allowlist(
                schemas=[s for s in schemas if s is not None],
                channels=getattr(item, "channels", None),
            )
        except Exception:
            continue
    return found


def saver_for_graph(saver: Any, graph: Any) -> Any:
    """`saver` whose serializer also rebuilds `graph`'s own state classes, so a resume
    hands the graph's nodes their objects back (and never rewrites them as plain data)."""
    allowed = graph_allowlist(graph)
    if not allowed or not isinstance(getattr(saver, "serde", None), SafeSerializer):
        return saver
    return saver.with_allowlist(allowed)


__all__ = [
    "MAX_DEPTH",
    "SERDE_ENV",
    "TYPE_KEY",
    "KeptExt",
    "LightObject",
    "SafeSerializer",
    "graph_allowlist",
    "saver_for_graph",
    "serializer_from_spec",
    "wrap_serializer",
]
