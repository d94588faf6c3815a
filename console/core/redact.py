"""Redaction of secrets in everything that leaves the core.

Values under secret-looking keys, and values that look like credentials wherever they
appear, are replaced by a short keyed fingerprint: a reviewer sees that a value changed
without seeing it, and the fingerprint cannot be brute-forced from a short secret
without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from console.core.jsonable import to_jsonable

DEFAULT_SECRET_KEYS = (
    "password", "passwd", "secret", "token", "api_key", "apikey", "api-key", "authorization",
    "cookie", "set-cookie", "private_key", "privatekey", "credential", "client_secret",
    "access_key", "session_key",
)

_JWT = r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"
_BEARER = r"(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,}"
_PEM = r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
_AWS = r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
_API_KEY = r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}\b"
_GITHUB = r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"
_SLACK = r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"
_CARD = r"\b(?:\d[ -]?){13,19}\b"
DEFAULT_VALUE_PATTERNS = (_PEM, _JWT, _BEARER, _AWS, _API_KEY, _GITHUB, _SLACK)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        n = int(char)
        if index % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


@dataclass
class Redactor:
    """Applies key rules and value detectors to JSON-like data."""

    secret_keys: tuple[str, ...] = DEFAULT_SECRET_KEYS
    value_patterns: tuple[str, ...] = DEFAULT_VALUE_PATTERNS
    detect_cards: bool = True
    key: bytes = field(default_factory=lambda: _default_key())

    def __post_init__(self) -> None:
        self._key_re = re.compile(
            "|".join(re.escape(k) for k in self.secret_keys) or r"(?!x)x", re.IGNORECASE
        )
        self._value_re = re.compile("|".join(f"(?:{p})" for p in self.value_patterns) or r"(?!x)x")
        self._card_re = re.compile(_CARD)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Redactor:
        """Build from the `[redaction]` table: add/remove keys, extra patterns."""
        table = config.get("redaction", {}) if isinstance(config, Mapping) else {}
        keys = [k for k in DEFAULT_SECRET_KEYS if k not in set(table.get("remove_keys", ()))]
        keys += [str(k).lower() for k in table.get("keys", ())]
        patterns = list(DEFAULT_VALUE_PATTERNS) + [str(p) for p in table.get("patterns", ())]
        return cls(
            secret_keys=tuple(keys),
            value_patterns=tuple(patterns),
            detect_cards=bool(table.get("cards", True)),
        )

    def fingerprint(self, value: Any) -> str:
        digest = hmac.new(self.key, repr(value).encode("utf-8", "replace"), hashlib.sha256)
        return f"«redacted:{digest.hexdigest()[:8]}»"

    def is_secret_key(self, key: str) -> bool:
        return bool(self._key_re.search(key))

    def redact(self, value: Any) -> Any:
        """A JSON-safe copy of `value` with every secret replaced by its fingerprint."""
        return self._walk(to_jsonable(value))

    def redact_text(self, text: str) -> str:
        """Free text with embedded credentials replaced (for errors, logs, summaries)."""
        text = self._value_re.sub(lambda m: self.fingerprint(m.group(0)), text)
        if self.detect_cards:
            text = self._card_re.sub(self._card_sub, text)
        return text

    def _card_sub(self, match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        if 13 <= len(digits) <= 19 and _luhn_ok(digits):
            return self.fingerprint(digits)
        return match.group(0)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                self.redact_text(k): (
                    self.fingerprint(v) if self.is_secret_key(k) and v not in (None, "") else
                    self._walk(v)
                )
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._walk(v) for v in value]
        if isinstance(value, str):
            return self.redact_text(value)
        return value

    def secret_paths(self, value: Any, prefix: str = "") -> Iterable[str]:
        """Dotted paths of values the key rules hide (used to refuse reveals and edits)."""
        data = to_jsonable(value)
        if isinstance(data, dict):
            for k, v in data.items():
                path = f"{prefix}.{k}" if prefix else k
                if self.is_secret_key(k):
                    yield path
                else:
                    yield from self.secret_paths(v, path)


def _default_key() -> bytes:
    configured = os.environ.get("HITL_REDACT_KEY")
    return configured.encode() if configured else secrets.token_bytes(32)
