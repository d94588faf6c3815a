"""Redaction of secrets in everything that leaves the core.

Values under secret-looking keys, and values that look like credentials wherever they
appear, are replaced by a short keyed fingerprint: a reviewer sees that a value changed
without seeing it, and the fingerprint cannot be brute-forced from a short secret
without the key. Only the secret is replaced: the key, quotes, separators and the
characters around it are kept as they were.

Always redacted (README, Configuration/Redaction):
- values under a secret key: a key whose name contains one of `SECRET_KEY_PARTS`
  (`db_password`, `clientSecret`, `x-api-key`...) or has one of `SECRET_KEY_WORDS` as a
  whole word (`pwd`, `token`, `session`: `access_token` yes, `max_tokens` no);
- header pairs `["Authorization", "Basic ..."]` and `{"name": "Cookie", "value": ...}`;
- in free text: `password=...`, `api_key: ...`, `'password': '...'` (repr, JSON, logs),
  URL credentials (`postgresql://app:PW@db/x` loses `PW` only), PEM private keys, JWTs,
  `Bearer`/`Basic` credentials, AWS, OpenAI-style `sk-`, GitHub and Slack tokens, and
  card numbers that pass the Luhn check.

Never redacted, because they are identifiers a reviewer and a script need: thread ids
(`keep=`; the views never pass them to the redactor), UUIDs and UUID-shaped checkpoint
ids (`1f1f0000-0000-...`, even truncated), interrupt, task and pause ids (hex of 16+).
The value detectors skip those shapes; a secret key's value is hidden whatever it looks
like.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from console.core.jsonable import to_jsonable

# Matched inside the key with case and separators ignored ("X-Api-Key" -> "xapikey").
SECRET_KEY_PARTS = (
    "password", "passwd", "passphrase", "secret", "apikey", "privatekey", "credential",
    "authorization", "cookie", "accesskey", "sessionkey", "sessiontoken", "accesstoken",
    "refreshtoken", "idtoken", "authtoken", "bearertoken",
)
# Matched as whole words of the key only: "token" hides `token` and `csrf_token`, never
# `max_tokens`; "session" hides `session`, never `sessions_count`.
SECRET_KEY_WORDS = ("pwd", "pass", "token", "session", "auth", "jwt")
DEFAULT_SECRET_KEYS = SECRET_KEY_PARTS + SECRET_KEY_WORDS

_JWT = r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"
_SCHEME_CREDENTIAL = r"(?i:bearer|basic|digest)\s+[A-Za-z0-9._~+/=-]{8,}"
_PEM = r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
_AWS = r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
_API_KEY = r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}\b"
_GITHUB = r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"
_SLACK = r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"
# Digits only at both ends, so the match never takes the space or dash after a number.
_CARD = r"\b\d(?:[ -]?\d){12,18}\b"
DEFAULT_VALUE_PATTERNS = (_PEM, _JWT, _SCHEME_CREDENTIAL, _AWS, _API_KEY, _GITHUB, _SLACK)

# Identifier shapes the value detectors leave alone: UUIDs and their prefixes (a card
# number never starts with a group of 8), and lowercase hex ids of 16+ with a letter
# (never the tail of a `sk-...` key: a dash before it is not an identifier's start).
_IDENTIFIER = re.compile(
    r"(?<![\w-])[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{1,12}){1,4}(?![\w-])"
    r"|(?<![\w-])(?=[0-9]*[a-f])[0-9a-f]{16,}(?![\w-])"
)
# `user:PASSWORD@` after a URL scheme: only the password group is replaced.
_URL_CREDENTIAL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@'\"]*:)([^\s@/'\"]+)(@)")
# key, then `=` or `:`, then a quoted or a bare value (a bare one may carry a scheme).
_KEY_VALUE = re.compile(
    r"""(?<![\w.-])(?P<key>[A-Za-z_][\w.-]{0,63})(?P<kq>['"]?)(?P<sep>[ \t]*[:=][ \t]*)"""
    # The value is only looked at, not consumed: when the key is not secret, the value
    # may itself hold a `password=...` (`KeyError: 'password=...'`).
    r"""(?=(?:'(?P<sq>[^'\n]*)'|"(?P<dq>(?:[^"\\\n]|\\.)*)"|"""
    r"""(?P<bare>(?:(?i:bearer|basic|digest|token)[ \t]+)?[^\s'",;&}\])]+)))"""
)
# What a header or field name looks like (a pair whose first item is prose is not one).
_HEADER_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_FINGERPRINT_MARK = "«redacted:"


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        n = int(char)
        if index % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _key_words(key: str) -> list[str]:
    return [w.lower() for w in _WORDS.findall(key)]


@dataclass
class Redactor:
    """Applies key rules and value detectors to JSON-like data and free text."""

    secret_keys: tuple[str, ...] = SECRET_KEY_PARTS
    value_patterns: tuple[str, ...] = DEFAULT_VALUE_PATTERNS
    detect_cards: bool = True
    key: bytes = field(default_factory=lambda: _default_key())
    secret_words: tuple[str, ...] = SECRET_KEY_WORDS

    def __post_init__(self) -> None:
        self._parts = tuple(re.sub(r"[\W_]", "", k.lower()) for k in self.secret_keys)
        self._words = frozenset(w.lower() for w in self.secret_words)
        self._value_re = re.compile("|".join(f"(?:{p})" for p in self.value_patterns) or r"(?!x)x")
        self._card_re = re.compile(_CARD)
        self._key_cache: dict[str, bool] = {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Redactor:
        """Build from the `[redaction]` table: add/remove keys, extra patterns."""
        table = config.get("redaction", {}) if isinstance(config, Mapping) else {}
        removed = {str(k).lower() for k in table.get("remove_keys", ())}
        parts = [k for k in SECRET_KEY_PARTS if k not in removed]
        parts += [str(k).lower() for k in table.get("keys", ())]
        patterns = list(DEFAULT_VALUE_PATTERNS) + [str(p) for p in table.get("patterns", ())]
        return cls(
            secret_keys=tuple(parts),
            value_patterns=tuple(patterns),
            detect_cards=bool(table.get("cards", True)),
            secret_words=tuple(w for w in SECRET_KEY_WORDS if w not in removed),
        )

    def fingerprint(self, value: Any) -> str:
        digest = hmac.new(self.key, repr(value).encode("utf-8", "replace"), hashlib.sha256)
        return f"{_FINGERPRINT_MARK}{digest.hexdigest()[:8]}»"

    def is_secret_key(self, key: str) -> bool:
        known = self._key_cache.get(key)
        if known is None:
            flat = re.sub(r"[\W_]", "", key.lower())
            known = any(p and p in flat for p in self._parts) or any(
                w in self._words for w in _key_words(key))
            if len(self._key_cache) < 10_000:
                self._key_cache[key] = known
        return known

    def redact(self, value: Any, *, keep_decimals: bool = False) -> Any:
        """A JSON-safe copy of `value` with every secret replaced by its fingerprint
        (`keep_decimals`: Decimals stay Decimals, for views that say so)."""
        return self._walk(to_jsonable(value, keep_decimals=keep_decimals))

    def redact_text(self, text: str, keep: Iterable[str] = ()) -> str:
        """Free text with embedded credentials replaced (for errors, logs, summaries).

        `keep`: identifiers (thread ids) the text quotes, shown as they are."""
        kept = sorted({k for k in keep if k}, key=len, reverse=True)
        if not kept:
            return self._redact_piece(text)
        splitter = re.compile("|".join(re.escape(k) for k in kept))
        return _outside(splitter, text, self._redact_piece)

    def _redact_piece(self, text: str) -> str:
        if not text:
            return text
        text = _URL_CREDENTIAL.sub(lambda m: m.group(1) + self.fingerprint(m.group(2))
                                   + m.group(3), text)
        text = self._key_values(text)
        return _outside(_IDENTIFIER, text, self._detect_values)

    def _detect_values(self, text: str) -> str:
        text = self._value_re.sub(self._value_sub, text)
        if self.detect_cards:
            text = self._card_re.sub(self._card_sub, text)
        return text

    def _value_sub(self, match: re.Match[str]) -> str:
        return self.fingerprint(match.group(0))

    def _key_values(self, text: str) -> str:
        out, last, pos = [], 0, 0
        while (match := _KEY_VALUE.search(text, pos)) is not None:
            pos = match.end()
            if not self.is_secret_key(match.group("key")):
                continue
            name = next(n for n in ("sq", "dq", "bare") if match.group(n) is not None)
            value = match.group(name)
            if not value or value.startswith(_FINGERPRINT_MARK):
                continue
            start, end = match.span(name)
            out += [text[last:start], self.fingerprint(value)]
            last = pos = end
        return "".join(out) + text[last:] if out else text

    def _card_sub(self, match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        if 13 <= len(digits) <= 19 and _luhn_ok(digits):
            return self.fingerprint(digits)
        return match.group(0)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, dict):
            named = self.named_header(value)
            return {
                self.redact_text(k): (
                    self.fingerprint(to_jsonable(v)) if (self.is_secret_key(k) or k == named)
                    and v not in (None, "") else self._walk(v)
                )
                for k, v in value.items()
            }
        if isinstance(value, list):
            if (len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], str)
                    and value[1] and _HEADER_NAME.fullmatch(value[0])
                    and self.is_secret_key(value[0])):
                # A header pair: [["Authorization", "Basic ..."]]
                return [value[0], self.fingerprint(value[1])]
            return [self._walk(v) for v in value]
        if isinstance(value, str):
            return self.redact_text(value)
        return value

    def named_header(self, value: dict[str, Any]) -> str | None:
        """`value` in {"name": "Authorization", "value": "..."} (HAR, fetch headers)."""
        name = value.get("name", value.get("key"))
        if "value" in value and isinstance(name, str) and self.is_secret_key(name):
            return "value"
        return None

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


def _outside(pattern: re.Pattern[str], text: str, change: Callable[[str], str]) -> str:
    """`change` applied to the stretches of `text` that `pattern` does not match."""
    out, last = [], 0
    for match in pattern.finditer(text):
        out.append(change(text[last:match.start()]))
        out.append(match.group(0))
        last = match.end()
    if not out:
        return change(text)
    out.append(change(text[last:]))
    return "".join(out)


def _default_key() -> bytes:
    configured = os.environ.get("HITL_REDACT_KEY")
    return configured.encode() if configured else secrets.token_bytes(32)
