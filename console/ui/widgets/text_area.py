"""A TextArea that applies its own keys in the order they arrive (see `inputs`).

Its own module: Textual's TextArea is only needed by the edit form, and importing it
costs ~10 ms that the first frame does not pay.
"""

from __future__ import annotations

from textual import events
from textual.widgets import TextArea as _TextArea

from console.ui.widgets.inputs import run_own_binding


class TextArea(_TextArea):
    """`textual.widgets.TextArea` whose editing keys are not overtaken by typed characters."""

    async def _on_key(self, event: events.Key) -> None:
        await run_own_binding(self, event)
