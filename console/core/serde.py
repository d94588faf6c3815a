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
import json
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

import ormsgpack
from langgraph.checkpoint.serde._msgpack import SAFE_MSGPACK_METHODS, SAFE_MSGPACK_TYPES
from langgraph.checkpoint.serde.base import CipherProtocol, SerializerProtocol
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.jsonplus import (
    EXT_CONSTRUCTOR_KW_ARGS,
    EXT_CONSTRUCTOR_POS_ARGS,
    EXT_CONSTRUCTOR_SINGLE_ARG,
    EXT_DELTA_SNAPSHOT,
    EXT_METHOD_SINGLE_ARG,
    EXT_NUMPY_ARRAY,
    EXT_PYDANTIC_V1,
    EXT_PYDANTIC_V2,
    JsonPlusSerializer,
    _msgpack_default,
    _option,
)
from langgraph.checkpoint.serde.types import _DeltaSnapshot

from console.core.errors import UnreadableValue, UsageError
from console.core.inert import inert

TYPE_KEY = "__type__"  # names the type of a value shown as plain data
MAX_DEPTH = 200  # containers within containers; deeper values are unreadable
MAX_EXT_DEPTH = 64  # Exts within Exts (each one is a Python-level recursion)
MAX_TYPE_NAME = 200
SERDE_ENV = "HITL_SERDE"
AES = "aes"

TypeKey = tuple[str, ...]
_PLAIN_TYPES = frozenset({"null", "bytes", "bytearray", "msgpack", "json"})


class _Refused(Exception):
    """Raised inside the ext hook; ormsgpack replaces it, so the reason travels aside."""


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
        self._extra: frozenset[TypeKey] = frozenset(_keys(allowed))
        self._app = app
        self._cipher = cipher
        self._fallback = fallback

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
        type_, blob = data
        if not isinstance(type_, str):
            raise UnreadableValue("no serializer type")
        if isinstance(blob, memoryview | bytearray):
            blob = bytes(blob)
        if "+" in type_:
            if self._cipher is None:
                raise UnreadableValue(f"encrypted ({_short(type_)}); pass --serde")
            inner, ciphername = type_.split("+", 1)
            try:
                blob = self._cipher.decrypt(ciphername, blob)
            except Exception:
                raise UnreadableValue(
                    f"cannot decrypt ({_short(type_)}): wrong key or corrupt value"
                ) from None
            type_ = inner
        return self._plain(type_, blob)

    def _plain(self, type_: str, blob: bytes) -> Any:
        if type_ == "null":
            return None
        if type_ == "bytes":
            return blob
        if type_ == "bytearray":
            return bytearray(blob)
        if type_ == "msgpack":
            return self._msgpack(blob)
        if type_ == "json":
            return self._json(blob)
        if type_ == "pickle":
            raise UnreadableValue("pickled value (the console never unpickles)")
        if self._fallback is not None:
            return self._fallback.loads_typed((type_, blob))
        raise UnreadableValue(f"unknown serializer type {_short(type_)}")

    def _msgpack(self, blob: bytes) -> Any:
        hook = _ExtHook(self._resolve)
        try:
            value = ormsgpack.unpackb(blob, ext_hook=hook, option=ormsgpack.OPT_NON_STR_KEYS)
        except (ValueError, TypeError, RecursionError, MemoryError) as exc:
            if hook.refused is not None:
                raise UnreadableValue(hook.refused) from None
            if isinstance(exc, RecursionError) or "Recursion" in str(exc):
                raise UnreadableValue(f"nested deeper than {MAX_DEPTH} levels") from None
            raise UnreadableValue("corrupt msgpack value") from None
        _check_depth(value, _msgpack_levels_bound(blob))
        return value

    def _json(self, blob: bytes) -> Any:
        try:
            value = json.loads(blob, object_hook=self._revive)
        except RecursionError:
            raise UnreadableValue(f"nested deeper than {MAX_DEPTH} levels") from None
        except (ValueError, TypeError):
            raise UnreadableValue("corrupt json value") from None
        _check_depth(value, _json_levels_bound(blob))
        return value

    def _revive(self, value: dict[str, Any]) -> Any:
        """Legacy `json` values: LangChain/LangGraph constructor envelopes, allow-listed."""
        lc, kind, ident = value.get("lc"), value.get("type"), value.get("id")
        if lc not in (1, 2) or not isinstance(ident, list) or not _is_name_list(ident):
            return value
        dotted = ".".join(ident)
        args, kwargs = value.get("args") or [], value.get("kwargs") or {}
        if lc == 2 and kind == "constructor" and len(ident) >= 2:
            ctor = self._resolve((".".join(ident[:-1]), ident[-1]))
            if ctor is not None and isinstance(args, list) and isinstance(kwargs, dict):
                try:
                    return ctor(*args, **kwargs)
                except Exception:
                    pass
            return _opaque(dotted, kwargs if kwargs else args, named_fields=bool(kwargs))
        if lc == 1 and kind == "constructor":
            try:
                return _messages_reviver()(value)
            except Exception:
                return _opaque(dotted, kwargs, named_fields=True)
        if lc == 1 and kind == "secret":
            return {TYPE_KEY: "secret", "id": dotted}  # never read from our environment
        return _opaque(dotted, value.get("repr"))

    def _resolve(self, key: TypeKey) -> Callable[..., Any] | None:
        """The constructor for an allowed type, or None. Never imports a module that is
        not on LangGraph's own safe list."""
        if key in SAFE_MSGPACK_TYPES:
            try:  # e.g. `pathlib._local` exists from Python 3.13 on
                module: Any = sys.modules.get(key[0]) or importlib.import_module(key[0])
            except ImportError:
                return None
            found = getattr(module, key[1], None)
            return found if callable(found) else None
        if key in self._extra and len(key) == 2:
            module = sys.modules.get(key[0])
            found = getattr(module, key[1], None) if module is not None else None
            if isinstance(found, type) and not issubclass(found, BaseException):
                return found
        return None

    @staticmethod
    def _refuse_ext(code: int, data: bytes) -> Any:
        raise _Refused("decoded only through SafeSerializer.loads_typed")

    # ---------------------------------------------------------------- allow-list

    def with_msgpack_allowlist(
        self, extra_allowlist: Iterable[TypeKey | type]
    ) -> SafeSerializer:
        """A copy that also rebuilds these types (LangGraph calls this with a graph's
        state classes in strict mode; the console does for a loaded graph)."""
        merged = self._extra | frozenset(_keys(extra_allowlist))
        if merged == self._extra:
            return self
        clone = copy.copy(self)
        clone._extra = merged
        return clone


class _ExtHook:
    """One decode's ext hook: rebuilds allowed types, keeps the rest as plain data."""

    __slots__ = ("depth", "refused", "resolve")

    def __init__(self, resolve: Callable[[TypeKey], Callable[..., Any] | None]) -> None:
        self.resolve = resolve
        self.depth = 0
        self.refused: str | None = None

    def __call__(self, code: int, data: bytes) -> Any:
        if self.refused is not None:
            raise _Refused(self.refused)
        self.depth += 1
        try:
            if self.depth > MAX_EXT_DEPTH:
                self.refused = f"nested deeper than {MAX_EXT_DEPTH} typed values"
                raise _Refused(self.refused)
            return self._ext(code, data)
        finally:
            self.depth -= 1

    def _unpack(self, data: bytes) -> Any:
        return ormsgpack.unpackb(data, ext_hook=self, option=ormsgpack.OPT_NON_STR_KEYS)

    def _ext(self, code: int, data: bytes) -> Any:
        parts = self._unpack(data)
        if code == EXT_DELTA_SNAPSHOT:
            return _DeltaSnapshot(parts)
        if code == EXT_NUMPY_ARRAY:
            array = _array(parts)
            return _kept(code, data, array) if isinstance(array, dict) else array
        if not (
            isinstance(parts, list | tuple) and len(parts) >= 3
            and isinstance(parts[0], str) and isinstance(parts[1], str)
        ):
            if code in _CONSTRUCTOR_CODES:
                self.refused = "malformed typed value"
                raise _Refused(self.refused)
            return _kept(code, data, _opaque(f"msgpack-ext-{code}", None))
        module, name, payload = parts[0], parts[1], parts[2]
        type_name = f"{module}.{name}"
        if code == EXT_METHOD_SINGLE_ARG:
            method = parts[3] if len(parts) > 3 else None
            if (module, name, method) in SAFE_MSGPACK_METHODS:
                cls = self.resolve((module, name))
                if cls is not None:
                    try:
                        return getattr(cls, str(method))(payload)
                    except Exception:
                        pass
            return _kept(code, data, _opaque(type_name, payload))
        if code not in _CONSTRUCTOR_CODES:
            return _kept(code, data, _opaque(type_name, payload))
        ctor = self.resolve((module, name))
        named = code in _KEYWORD_CODES
        if ctor is not None:
            try:
                return _construct(code, ctor, module, name, payload)
            except Exception:
                pass
        return _kept(code, data, _opaque(type_name, payload, named_fields=named))


_CONSTRUCTOR_CODES = frozenset({
    EXT_CONSTRUCTOR_SINGLE_ARG, EXT_CONSTRUCTOR_POS_ARGS, EXT_CONSTRUCTOR_KW_ARGS,
    EXT_PYDANTIC_V1, EXT_PYDANTIC_V2,
})
_KEYWORD_CODES = frozenset({EXT_CONSTRUCTOR_KW_ARGS, EXT_PYDANTIC_V1, EXT_PYDANTIC_V2})


def _construct(code: int, ctor: Callable[..., Any], module: str, name: str, payload: Any) -> Any:
    if code == EXT_CONSTRUCTOR_SINGLE_ARG:
        return ctor(payload)
    if code == EXT_CONSTRUCTOR_POS_ARGS:
        if (module, name) == ("langgraph.types", "Send") and len(payload) == 3:
            return ctor(payload[0], payload[1], timeout=payload[2])
        return ctor(*payload)
    if not isinstance(payload, dict):
        raise TypeError("keyword arguments expected")
    try:
        return ctor(**payload)
    except Exception:
        # what LangGraph does for a pydantic model whose validation changed since
        construct = getattr(ctor, "model_construct" if code == EXT_PYDANTIC_V2 else "construct",
                            None)
        if code in (EXT_PYDANTIC_V1, EXT_PYDANTIC_V2) and callable(construct):
            return construct(**payload)
        raise


def _array(parts: Any) -> Any:
    """A numpy array, only if numpy is already imported (never imported for a row)."""
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(parts, list | tuple) and len(parts) == 4:
        dtype_str, shape, order, buf = parts
        try:
            dtype = numpy.dtype(dtype_str)
            if not dtype.hasobject:
                return numpy.frombuffer(buf, dtype=dtype).reshape(shape, order=order)
        except Exception:
            pass
    meta = list(parts[:3]) if isinstance(parts, list | tuple) else None
    return _opaque("numpy.ndarray", meta)


class KeptExt(dict[Any, Any]):
    """An Ext the console does not rebuild: plain data with its type name to every reader
    (rendering, redaction, diff, JSON), written back as the very Ext it was read from
    (`ext_code`, `ext_data`), so a resume never turns the application's value into a dict.
    Nothing is imported or called to write it. Replacing or adding a top-level key makes
    it an edit, written as the plain data it now holds."""

    __slots__ = ("_read", "ext_code", "ext_data")

    def __init__(self, content: dict[Any, Any], code: int, data: bytes) -> None:
        super().__init__(content)
        self.ext_code = code
        self.ext_data = data
        self._read = content  # what was read, to tell an edit from the untouched value

    def unchanged(self) -> bool:
        read = self._read
        return len(self) == len(read) and all(
            key in read and read[key] is value for key, value in self.items())

    def __reduce__(self) -> Any:  # a copy keeps the Ext; a copy of an edited one is plain
        if not self.unchanged():
            return (dict, (dict(self),))
        return (KeptExt, (dict(self), self.ext_code, self.ext_data))


def _kept(code: int, data: bytes, content: dict[Any, Any]) -> KeptExt:
    return KeptExt(content, code, bytes(data))


_KEEP_OPTION = _option | ormsgpack.OPT_PASSTHROUGH_SUBCLASS  # dict subclasses reach _keep


def _pack_keeping_exts(value: Any) -> bytes:
    """LangGraph's msgpack encoding, except that a `KeptExt` is written as its Ext."""
    return ormsgpack.packb(value, default=_keep, option=_KEEP_OPTION)


def _keep(obj: Any) -> Any:
    if isinstance(obj, KeptExt):
        return ormsgpack.Ext(obj.ext_code, obj.ext_data) if obj.unchanged() else dict(obj)
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


def _opaque(type_name: str, payload: Any, *, named_fields: bool = False) -> dict[Any, Any]:
    """A value of a type the console does not rebuild, as plain data with its type name."""
    type_name = type_name[:MAX_TYPE_NAME]
    if named_fields and isinstance(payload, dict) and TYPE_KEY not in payload:
        return {TYPE_KEY: type_name, **payload}
    return {TYPE_KEY: type_name, "value": payload}


# Bytes that open a msgpack container or Ext (fixmap, fixarray, map/array 16/32, fixext,
# ext 8/16/32). Every level of a decoded value, objects rebuilt from Exts included, comes
# from one of them, so a blob with fewer than MAX_DEPTH of these bytes anywhere (strings
# included) cannot nest deeper, and needs no walk.
_OPENERS = bytes([*range(0x80, 0xA0), 0xC7, 0xC8, 0xC9, *range(0xD4, 0xD9),
                  0xDC, 0xDD, 0xDE, 0xDF])
_NOT_OPENERS = bytes(b for b in range(256) if b not in _OPENERS)


def _msgpack_levels_bound(blob: bytes) -> int:
    return len(blob.translate(None, _NOT_OPENERS))


def _json_levels_bound(blob: bytes) -> int:
    return blob.count(b"[") + blob.count(b"{")


def _check_depth(value: Any, bound: int) -> None:
    """Raise UnreadableValue if the decoded value nests deeper than MAX_DEPTH; `bound`
    is an upper limit of its depth read off the bytes (most values skip the walk)."""
    if bound <= MAX_DEPTH:
        return
    stack: list[tuple[Any, int]] = [(value, 0)]
    seen: set[int] = set()
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list | tuple | set | frozenset):
            children = item
        elif isinstance(item, type) or id(item) in seen:
            continue
        else:  # an object rebuilt from an Ext: its fields, in __dict__ or __slots__
            seen.add(id(item))
            children = _fields(item)
            if not children:
                continue
        if depth >= MAX_DEPTH:
            raise UnreadableValue(f"nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children
                     if not isinstance(child, str | bytes | int | float | bool | None))


def _fields(item: Any) -> list[Any]:
    found = list(vars(item).values()) if hasattr(item, "__dict__") else []
    for cls in type(item).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if name not in ("__dict__", "__weakref__") and hasattr(item, name):
                found.append(getattr(item, name))
    return found


_MESSAGES_REVIVER: Any = None


def _messages_reviver() -> Any:
    """LangChain's reviver limited to message classes (its own advice for untrusted
    input), never reading secrets from the environment."""
    global _MESSAGES_REVIVER
    if _MESSAGES_REVIVER is None:
        from langchain_core.load.load import Reviver

        _MESSAGES_REVIVER = Reviver(allowed_objects="messages", secrets_from_env=False)
    return _MESSAGES_REVIVER


def _is_name_list(value: list[Any]) -> bool:
    return (isinstance(value, list) and len(value) >= 1
            and all(isinstance(part, str) for part in value))


def _keys(allowed: Iterable[TypeKey | type]) -> Iterable[TypeKey]:
    for item in allowed:
        if isinstance(item, type):
            yield (item.__module__, item.__name__)
        elif isinstance(item, tuple) and all(isinstance(part, str) for part in item):
            yield item


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
    "SafeSerializer",
    "graph_allowlist",
    "saver_for_graph",
    "serializer_from_spec",
    "wrap_serializer",
]
