"""Revealing one redacted value: only to reviewers `[policy] reveal` names, every attempt
(allowed or refused) written to `hitl_events` before anything is shown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from console.core.errors import PolicyRefused, UsageError

if TYPE_CHECKING:
    from console.core.ledger.apply import Decider
    from console.core.models import ReviewBundle


def value_at(values: Any, path: str) -> Any:
    """The value at a dotted path (`user.account.api_key`, list items by index)."""
    value = values
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise UsageError(f"The state has no value at {path!r}. Nothing was revealed.")
    return value


async def reveal_value(decider: Decider, bundle: ReviewBundle, path: str | None) -> Any:
    """The real value at `path` in the bundle's state, if policy lets this reviewer see
    it. The attempt is recorded first (`reveal` or `reveal_refused`); a refusal raises
    `PolicyRefused`. `path` None: refused before a path was asked for."""
    verdict = decider.policy.may_reveal(decider.origin.reviewer)
    await decider.ensure_ledger()
    action = "reveal" if verdict.allowed and path else "reveal_refused"
    await decider.ledger.event(decider.origin, action, bundle.thread_id, bundle.checkpoint_id,
                               {"path": path})
    if not verdict.allowed:
        raise PolicyRefused(f"{verdict.reason} The attempt was recorded.")
    if not path:
        raise UsageError("Name the value to reveal (a dotted path in the state).")
    return value_at(bundle.values, path)
