"""Turning decoded checkpoint values into JSON-safe data without ever raising.

State can hold anything the saver's serializer round-trips (datetimes, sets, Decimals,
UUIDs, bytes, pydantic models, dataclasses, LangChain messages) and, when a class is
not importable here, whatever stand-in the serializer produced. Reviewers must see all
of it; nothing here may crash on an unknown type.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import math
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import PurePath
from typing import Any
from uuid import UUID

MAX_DEPTH = 40
BYTES_PREVIEW = 48


def to_jsonable(value: Any, _depth: int = 0, *, keep_decimals: bool = False) -> Any:
    """A JSON-serialisable rendering of any decoded value (lossy only where it must be).

    A Decimal becomes its exact digits as a string; `keep_decimals` leaves it a Decimal
    instead, for views that say it is one (`decimal_text`)."""
    if _depth > MAX_DEPTH:
        return "…(nested too deep)"
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal) and keep_decimals:
        return value
    if isinstance(value, Mapping):
        return {_key(k): to_jsonable(v, _depth + 1, keep_decimals=keep_decimals)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v, _depth + 1, keep_decimals=keep_decimals) for v in value]
    if isinstance(value, set | frozenset):
        items = [to_jsonable(v, _depth + 1, keep_decimals=keep_decimals) for v in value]
        return sorted(items, key=repr)
    return _scalar(value, _depth, keep_decimals)


def decimal_text(value: Decimal) -> str:
    """How every human view shows a Decimal: the exact digits, said to be a Decimal (JSON
    has no such type; machine output carries the digits as a string)."""
    return f"Decimal('{value}')"


def _scalar(value: Any, depth: int, keep_decimals: bool = False) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return f"{value.total_seconds()}s"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, UUID | PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, depth + 1, keep_decimals=keep_decimals)
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        preview = base64.b64encode(raw[:BYTES_PREVIEW]).decode()
        return {"$bytes": len(raw), "base64": preview + ("…" if len(raw) > BYTES_PREVIEW else "")}
    dump = getattr(value, "model_dump", None)  # pydantic v2, LangChain messages
    if callable(dump):
        try:
            return to_jsonable(dump(), depth + 1, keep_decimals=keep_decimals)
        except Exception:  # a broken model_dump must not hide the value
            pass
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
        return to_jsonable(fields, depth + 1, keep_decimals=keep_decimals)
    if hasattr(value, "value") and hasattr(value, "id") and type(value).__name__ == "Interrupt":
        return {"id": value.id,
                "value": to_jsonable(value.value, depth + 1, keep_decimals=keep_decimals)}
    try:
        return f"<{type(value).__name__}: {value!r}>"
    except Exception:  # a broken __repr__ must not crash the review
        return f"<{type(value).__name__}>"


def _key(key: Any) -> str:
    return key if isinstance(key, str) else str(to_jsonable(key))
