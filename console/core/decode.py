"""Decoding checkpoint values safely, without LangGraph: the read side of the serializer.

Whoever can write a checkpoint row must not be able to run code on a reviewer's machine
(`console.core.serde` says how LangGraph's own decoding would). `Decoder` reads
LangGraph's format (`msgpack`, legacy `json`, `null`, `bytes`, encrypted `<type>+<cipher>`
with the application's cipher) against an allow-list:

- the standard value types LangGraph's list allows (datetime, UUID, Decimal, ...) are
  rebuilt; nothing outside that list is ever imported or called;
- LangGraph's and LangChain's own types (messages, `Interrupt`, `Send`, `Command`, ...)
  become a `LightObject`: their fields, read like the object (attributes, `model_dump()`),
  so a listing or a review needs neither `langgraph` nor `langchain_core` nor `pydantic`
  (importing them costs ~0.4 s, most of a console start);
- anything else is plain data carrying its type name (`KeptExt`).

A `LightObject` and a `KeptExt` both remember their Ext: written back they give the
application its value byte for byte. The decision path decodes with `SafeSerializer`,
the same decoder whose `resolve` rebuilds LangGraph's types for real (a graph's reducers
need real messages); it imports LangGraph when a decision first needs it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import ormsgpack

from console.core.errors import UnreadableValue
from console.core.inert import inert

TYPE_KEY = "__type__"  # names the type of a value shown as plain data
MAX_DEPTH = 200  # containers within containers; deeper values are unreadable
MAX_EXT_DEPTH = 64  # Exts within Exts (each one is a Python-level recursion)
MAX_TYPE_NAME = 200

TypeKey = tuple[str, ...]

# LangGraph's Ext codes (langgraph.checkpoint.serde.jsonplus; tests/unit check they agree).
EXT_CONSTRUCTOR_SINGLE_ARG = 0
EXT_CONSTRUCTOR_POS_ARGS = 1
EXT_CONSTRUCTOR_KW_ARGS = 2
EXT_METHOD_SINGLE_ARG = 3
EXT_PYDANTIC_V1 = 4
EXT_PYDANTIC_V2 = 5
EXT_NUMPY_ARRAY = 6
EXT_DELTA_SNAPSHOT = 7

# The standard-library part of LangGraph's SAFE_MSGPACK_TYPES (tests/unit check it is a
# subset, and that the rest is LangGraph's and LangChain's own types, made light here).
STDLIB_TYPES: frozenset[TypeKey] = frozenset({
    ("builtins", "frozenset"), ("builtins", "set"), ("collections", "deque"),
    ("datetime", "date"), ("datetime", "datetime"), ("datetime", "time"),
    ("datetime", "timedelta"), ("datetime", "timezone"), ("decimal", "Decimal"),
    ("ipaddress", "IPv4Address"), ("ipaddress", "IPv4Interface"),
    ("ipaddress", "IPv4Network"), ("ipaddress", "IPv6Address"),
    ("ipaddress", "IPv6Interface"), ("ipaddress", "IPv6Network"),
    ("pathlib", "Path"), ("pathlib", "PosixPath"), ("pathlib", "WindowsPath"),
    ("pathlib._local", "Path"), ("pathlib._local", "PosixPath"),
    ("pathlib._local", "WindowsPath"), ("re", "compile"), ("uuid", "UUID"),
    ("zoneinfo", "ZoneInfo"),
})
STDLIB_METHODS: frozenset[tuple[str, str, str]] = frozenset({
    ("datetime", "datetime", "fromisoformat"),
})
# The rest of SAFE_MSGPACK_TYPES: LangGraph's and LangChain's own types, shown as a
# `LightObject` instead of being built (building them needs langchain_core and pydantic).
_MESSAGES = "langchain_core.messages"
LIGHT_TYPES: frozenset[TypeKey] = frozenset({
    ("langchain_core.documents.base", "Document"),
    (f"{_MESSAGES}.ai", "AIMessage"), (f"{_MESSAGES}.ai", "AIMessageChunk"),
    (f"{_MESSAGES}.base", "BaseMessage"), (f"{_MESSAGES}.base", "BaseMessageChunk"),
    (f"{_MESSAGES}.chat", "ChatMessage"), (f"{_MESSAGES}.chat", "ChatMessageChunk"),
    (f"{_MESSAGES}.function", "FunctionMessage"),
    (f"{_MESSAGES}.function", "FunctionMessageChunk"),
    (f"{_MESSAGES}.human", "HumanMessage"), (f"{_MESSAGES}.human", "HumanMessageChunk"),
    (f"{_MESSAGES}.modifier", "RemoveMessage"),
    (f"{_MESSAGES}.system", "SystemMessage"), (f"{_MESSAGES}.system", "SystemMessageChunk"),
    (f"{_MESSAGES}.tool", "ToolMessage"), (f"{_MESSAGES}.tool", "ToolMessageChunk"),
    ("langgraph.store.base", "GetOp"), ("langgraph.store.base", "Item"),
    ("langgraph.types", "Command"), ("langgraph.types", "Interrupt"),
    ("langgraph.types", "Overwrite"), ("langgraph.types", "PregelTask"),
    ("langgraph.types", "Send"), ("langgraph.types", "StateSnapshot"),
    ("langgraph.types", "TimeoutPolicy"),
})
# Positional fields of the LangGraph types written with positional arguments.
_POSITIONAL_FIELDS: dict[TypeKey, tuple[str, ...]] = {
    ("langgraph.types", "Send"): ("node", "arg", "timeout"),
}
# Legacy `json` messages: the class name -> the message's `type` field.
_MESSAGE_TYPES = {
    "AIMessage": "ai", "AIMessageChunk": "AIMessageChunk", "HumanMessage": "human",
    "HumanMessageChunk": "HumanMessageChunk", "SystemMessage": "system",
    "SystemMessageChunk": "SystemMessageChunk", "ToolMessage": "tool",
    "ToolMessageChunk": "ToolMessageChunk", "FunctionMessage": "function",
    "FunctionMessageChunk": "FunctionMessageChunk", "ChatMessage": "chat",
    "ChatMessageChunk": "ChatMessageChunk", "RemoveMessage": "remove",
}
_PLAIN_TYPES = frozenset({"null", "bytes", "bytearray", "msgpack", "json"})


class Cipher(Protocol):
    """LangGraph's CipherProtocol, as far as reading needs it."""

    def decrypt(self, ciphername: str, ciphertext: bytes) -> bytes: ...


class Fallback(Protocol):
    """An application serializer that reads a format LangGraph's has no name for."""

    def loads_typed(self, data: tuple[str, bytes]) -> Any: ...


Resolve = Callable[[TypeKey], Callable[..., Any] | None]


class _Refused(Exception):
    """Raised inside the ext hook; ormsgpack replaces it, so the reason travels aside."""


class Decoder:
    """LangGraph's serializer format, decoded against an allow-list (module docstring).

    `cipher` decrypts `<type>+<cipher>` values first; `fallback` decodes serializer types
    of a custom application serializer; `allowed` are the graph's own classes, rebuilt
    only when their module is already imported (never an import).
    """

    light = True  # LangGraph's and LangChain's types as `LightObject`s
    hook_class: type[ExtHook]  # set below, once ExtHook is defined

    def __init__(
        self,
        *,
        allowed: Iterable[TypeKey | type] = (),
        cipher: Cipher | None = None,
        fallback: Fallback | None = None,
    ) -> None:
        self._extra: frozenset[TypeKey] = frozenset(type_keys(allowed))
        self._cipher = cipher
        self._fallback = fallback

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        type_, blob = data
        if not isinstance(type_, str):
            raise UnreadableValue("no serializer type")
        if isinstance(blob, memoryview | bytearray):
            blob = bytes(blob)
        if "+" in type_:
            if self._cipher is None:
                raise UnreadableValue(f"encrypted ({short(type_)}); pass --serde")
            inner, ciphername = type_.split("+", 1)
            try:
                blob = self._cipher.decrypt(ciphername, blob)
            except Exception:
                raise UnreadableValue(
                    f"cannot decrypt ({short(type_)}): wrong key or corrupt value"
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
        raise UnreadableValue(f"unknown serializer type {short(type_)}")

    def _msgpack(self, blob: bytes) -> Any:
        hook = self.hook_class(self.resolve, light=self.light)
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
            ctor = self.resolve((".".join(ident[:-1]), ident[-1]))
            if ctor is not None and isinstance(args, list) and isinstance(kwargs, dict):
                try:
                    return ctor(*args, **kwargs)
                except Exception:
                    pass
            return opaque(dotted, kwargs if kwargs else args, named_fields=bool(kwargs))
        if lc == 1 and kind == "constructor":
            try:
                return self._message(value)
            except Exception:
                return opaque(dotted, kwargs, named_fields=True)
        if lc == 1 and kind == "secret":
            return {TYPE_KEY: "secret", "id": dotted}  # never read from our environment
        return opaque(dotted, value.get("repr"))

    def _message(self, value: dict[str, Any]) -> Any:
        """A legacy LangChain message envelope, as a `LightObject` (never revived)."""
        ident, kwargs = value["id"], value.get("kwargs")
        message_type = _MESSAGE_TYPES.get(ident[-1])
        if message_type is None or not isinstance(kwargs, dict):
            raise ValueError("not a message")
        return LightObject(".".join(ident), {**kwargs, "type": message_type}, None, b"")

    def resolve(self, key: TypeKey) -> Callable[..., Any] | None:
        """The constructor for an allowed standard type or an already imported class of
        the graph's, or None. Never imports anything."""
        if key in STDLIB_TYPES:
            module: Any = sys.modules.get(key[0])
            if module is None:
                try:  # a standard module (e.g. `pathlib._local` exists from 3.13 on)
                    module = __import__(key[0], fromlist=["_"])
                except ImportError:
                    return None
            found = getattr(module, key[1], None)
            return found if callable(found) else None
        return self._graph_class(key)

    def _graph_class(self, key: TypeKey) -> Callable[..., Any] | None:
        if key in self._extra and len(key) == 2:
            module = sys.modules.get(key[0])
            found = getattr(module, key[1], None) if module is not None else None
            if isinstance(found, type) and not issubclass(found, BaseException):
                return found
        return None


class LightObject:
    """A value of one of LangGraph's or LangChain's own types (a message, an `Interrupt`,
    a `Send`...), not built: its fields, read like the object (`msg.content`,
    `interrupt.value`, `model_dump()`), shown as the object's `model_dump` or dataclass
    fields would be. Remembers its Ext, so writing it back gives the value unchanged."""

    __slots__ = ("ext_code", "ext_data", "fields", "type_name")

    def __init__(self, type_name: str, fields: dict[str, Any], code: int | None,
                 data: bytes) -> None:
        self.type_name = type_name
        self.fields = fields
        self.ext_code = code
        self.ext_data = data

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # copy/pickle probes, before the slots are set
            raise AttributeError(name)
        try:
            return self.fields[name]
        except KeyError:
            raise AttributeError(name) from None

    def model_dump(self) -> dict[str, Any]:
        """The fields, as `model_dump()` (messages) or `dataclasses.asdict` would give."""
        return dict(self.fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LightObject):
            return NotImplemented
        return self.type_name == other.type_name and self.fields == other.fields

    __hash__ = None  # type: ignore[assignment]  # mutable fields, like the models

    def __repr__(self) -> str:
        name = self.type_name.rsplit(".", 1)[-1]
        return f"{name}({', '.join(f'{k}={v!r}' for k, v in self.fields.items())})"

    def __reduce__(self) -> Any:
        return (LightObject, (self.type_name, self.fields, self.ext_code, self.ext_data))


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


class ExtHook:
    """One decode's ext hook: rebuilds allowed types, keeps the rest as plain data."""

    __slots__ = ("depth", "light", "refused", "resolve")

    def __init__(self, resolve: Resolve, *, light: bool) -> None:
        self.resolve = resolve
        self.light = light
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
            return self.delta_snapshot(parts, code, data)
        if code == EXT_NUMPY_ARRAY:
            array = _array(parts)
            return _kept(code, data, array) if isinstance(array, dict) else array
        if not (
            isinstance(parts, list | tuple) and len(parts) >= 3
            and isinstance(parts[0], str) and isinstance(parts[1], str)
        ):
            if code in CONSTRUCTOR_CODES:
                self.refused = "malformed typed value"
                raise _Refused(self.refused)
            return _kept(code, data, opaque(f"msgpack-ext-{code}", None))
        module, name, payload = parts[0], parts[1], parts[2]
        type_name = f"{module}.{name}"
        if code == EXT_METHOD_SINGLE_ARG:
            method = parts[3] if len(parts) > 3 else None
            if (module, name, method) in STDLIB_METHODS:
                cls = self.resolve((module, name))
                if cls is not None:
                    try:
                        return getattr(cls, str(method))(payload)
                    except Exception:
                        pass
            return _kept(code, data, opaque(type_name, payload))
        if code not in CONSTRUCTOR_CODES:
            return _kept(code, data, opaque(type_name, payload))
        if self.light and (module, name) in LIGHT_TYPES:
            light = _light(code, module, name, payload, data)
            if light is not None:
                return light
        ctor = self.resolve((module, name))
        named = code in KEYWORD_CODES
        if ctor is not None:
            try:
                return _construct(code, ctor, module, name, payload)
            except Exception:
                pass
        return _kept(code, data, opaque(type_name, payload, named_fields=named))

    def delta_snapshot(self, parts: Any, code: int, data: bytes) -> Any:
        """LangGraph's delta-channel snapshot; shown as its parts (the graph rebuilds it)."""
        return _kept(code, data, opaque("langgraph.DeltaSnapshot", parts))


Decoder.hook_class = ExtHook

CONSTRUCTOR_CODES = frozenset({
    EXT_CONSTRUCTOR_SINGLE_ARG, EXT_CONSTRUCTOR_POS_ARGS, EXT_CONSTRUCTOR_KW_ARGS,
    EXT_PYDANTIC_V1, EXT_PYDANTIC_V2,
})
KEYWORD_CODES = frozenset({EXT_CONSTRUCTOR_KW_ARGS, EXT_PYDANTIC_V1, EXT_PYDANTIC_V2})


def _light(code: int, module: str, name: str, payload: Any, data: bytes) -> LightObject | None:
    """LangGraph's or LangChain's own type as a `LightObject`, if its fields can be named."""
    type_name = f"{module}.{name}"
    if code in KEYWORD_CODES:
        if isinstance(payload, dict) and all(isinstance(k, str) for k in payload):
            return LightObject(type_name, payload, code, bytes(data))
        return None
    if code == EXT_CONSTRUCTOR_POS_ARGS and isinstance(payload, list | tuple):
        names = _POSITIONAL_FIELDS.get((module, name))
        if names is not None and len(payload) <= len(names):
            return LightObject(type_name, dict(zip(names, payload, strict=False)), code,
                               bytes(data))
    return None


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
    return opaque("numpy.ndarray", meta)


def _kept(code: int, data: bytes, content: dict[Any, Any]) -> KeptExt:
    return KeptExt(content, code, bytes(data))


def opaque(type_name: str, payload: Any, *, named_fields: bool = False) -> dict[Any, Any]:
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
        elif isinstance(item, LightObject):
            children = item.fields.values()
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


def _is_name_list(value: list[Any]) -> bool:
    return (isinstance(value, list) and len(value) >= 1
            and all(isinstance(part, str) for part in value))


def type_keys(allowed: Iterable[TypeKey | type]) -> Iterable[TypeKey]:
    for item in allowed:
        if isinstance(item, type):
            yield (item.__module__, item.__name__)
        elif isinstance(item, tuple) and all(isinstance(part, str) for part in item):
            yield item


def short(text: str) -> str:
    return inert(text, limit=40)


__all__ = [
    "MAX_DEPTH",
    "TYPE_KEY",
    "Decoder",
    "ExtHook",
    "KeptExt",
    "LightObject",
    "opaque",
]
