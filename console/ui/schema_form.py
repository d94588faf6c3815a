"""A form generated from an interrupt's `response_schema`: one field per property.

Only flat object schemas get a form (properties that are strings, numbers, integers,
booleans or enums); anything deeper is edited as JSON and validated against the same
schema. Typed text is converted per the property's type; the whole value is then
validated with jsonschema, so the form and the core agree on what is valid.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SCALARS = ("string", "number", "integer", "boolean")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One property of the schema as a form field."""

    name: str
    types: tuple[str, ...]
    required: bool
    enum: tuple[Any, ...] | None
    default: Any
    has_default: bool
    description: str
    minimum: float | None
    maximum: float | None

    def hint(self) -> str:
        """`number, 0..500, required: 0 declines` (for the field's label)."""
        parts = ["|".join(self.types) if not self.enum else "one of " + ", ".join(
            json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v
            for v in self.enum)]
        if self.minimum is not None or self.maximum is not None:
            low = "" if self.minimum is None else _number(self.minimum)
            high = "" if self.maximum is None else _number(self.maximum)
            parts.append(f"{low}..{high}")
        parts.append("required" if self.required else "optional")
        text = ", ".join(parts)
        return f"{text}: {self.description}" if self.description else text

    def initial_text(self) -> str:
        """What the field starts with: the schema's default, else empty."""
        if not self.has_default:
            return ""
        return self.default if isinstance(self.default, str) else json.dumps(self.default)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def form_fields(schema: Mapping[str, Any] | None) -> list[FieldSpec] | None:
    """The fields of a flat object schema, in declaration order; None if not flat."""
    if not isinstance(schema, Mapping) or schema.get("type") not in ("object", None):
        return None
    properties = schema.get("properties")
    if not isinstance(properties, Mapping) or not properties:
        return None
    required = set(schema.get("required") or ())
    fields = []
    for name, prop in properties.items():
        if not isinstance(prop, Mapping):
            return None
        raw_types = prop.get("type")
        types = tuple(raw_types) if isinstance(raw_types, list) else (
            (raw_types,) if isinstance(raw_types, str) else ())
        enum = prop.get("enum")
        if enum is None and (not types or any(t not in (*SCALARS, "null") for t in types)):
            return None
        if enum is not None and not isinstance(enum, list):
            return None
        fields.append(FieldSpec(
            name=str(name),
            types=types or ("string",),
            required=name in required,
            enum=tuple(enum) if enum is not None else None,
            default=prop.get("default"),
            has_default="default" in prop,
            description=str(prop.get("description") or prop.get("title") or ""),
            minimum=prop.get("minimum"),
            maximum=prop.get("maximum"),
        ))
    return fields


class FieldError(ValueError):
    """Typed text that does not fit its field's type."""


def parse_field(spec: FieldSpec, text: str) -> tuple[bool, Any]:
    """(present, value) for one field's text; empty text leaves an optional field out."""
    stripped = text.strip()
    if not stripped:
        if spec.required:
            raise FieldError("required")
        return False, None
    if spec.enum is not None:
        for option in spec.enum:
            if stripped == (option if isinstance(option, str) else json.dumps(option)):
                return True, option
        raise FieldError("must be one of " + ", ".join(map(str, spec.enum)))
    for kind in spec.types:
        try:
            return True, _convert(kind, stripped, text)
        except ValueError:
            continue
    raise FieldError(f"is not a {' or '.join(spec.types)}")


def _convert(kind: str, stripped: str, text: str) -> Any:
    if kind == "string":
        return text
    if kind == "integer":
        return int(stripped)
    if kind == "number":
        number = float(stripped)
        return int(number) if number.is_integer() and "." not in stripped else number
    if kind == "boolean":
        lowered = stripped.lower()
        if lowered in ("true", "yes", "y", "1"):
            return True
        if lowered in ("false", "no", "n", "0"):
            return False
        raise ValueError(stripped)
    if kind == "null" and stripped == "null":
        return None
    raise ValueError(stripped)


def form_value(
    fields: Sequence[FieldSpec], texts: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The object the form's texts make, and per-field errors (empty when all parse)."""
    value: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in fields:
        try:
            present, item = parse_field(spec, texts.get(spec.name, ""))
        except FieldError as exc:
            errors[spec.name] = str(exc)
            continue
        if present:
            value[spec.name] = item
    return value, errors
