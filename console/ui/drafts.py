"""Edit-form drafts, kept per pause so that no error and no closed form loses typing.

A draft belongs to the pause it was written for: (thread, checkpoint). Reopening the
form on the same pause brings it back; a thread that moved on starts from a fresh form,
unless the reviewer chooses to re-apply the draft on the new head (`move`). A draft is
dropped only when a decision on its thread succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

PauseRef = tuple[str, str]  # (thread_id, checkpoint_id)


@dataclass(frozen=True, slots=True)
class Draft:
    """Everything typed into the edit form, as text (so nothing is lost to parsing)."""

    thread_id: str
    checkpoint_id: str
    action_texts: dict[int, str] = field(default_factory=dict)
    state_text: str = ""
    resume_text: str = ""
    field_texts: dict[str, str] = field(default_factory=dict)
    json_mode: bool = False  # the schema value edited as JSON instead of the form
    reason: str = ""

    @property
    def ref(self) -> PauseRef:
        return (self.thread_id, self.checkpoint_id)


class DraftBook:
    """The drafts of one console session, by pause."""

    def __init__(self) -> None:
        self._drafts: dict[PauseRef, Draft] = {}

    def __len__(self) -> int:
        return len(self._drafts)

    def get(self, ref: PauseRef) -> Draft | None:
        return self._drafts.get(ref)

    def put(self, draft: Draft) -> None:
        self._drafts[draft.ref] = draft

    def latest_for(self, thread_id: str) -> Draft | None:
        """The draft written last for any checkpoint of this thread."""
        found = [d for ref, d in self._drafts.items() if ref[0] == thread_id]
        return found[-1] if found else None

    def move(self, ref: PauseRef, checkpoint_id: str) -> Draft | None:
        """Re-key a draft to a new head of its thread (re-apply after a conflict)."""
        draft = self._drafts.pop(ref, None)
        if draft is None:
            return None
        moved = replace(draft, checkpoint_id=checkpoint_id)
        self._drafts[moved.ref] = moved
        return moved

    def discard_thread(self, thread_id: str) -> None:
        """Forget every draft of a thread (its decision went through)."""
        for ref in [r for r in self._drafts if r[0] == thread_id]:
            del self._drafts[ref]
