"""An Input that applies its own keys in the order they arrive (`text_area` does the same
for the TextArea).

Textual's Input types a character in its own `_on_key`, but an editing key such as
backspace is a binding that runs only after the key has bubbled up to the app. When
backspace and a character arrive in one write (typing over ssh), the character is typed
first and the late backspace deletes it: both keys are lost. Running the widget's own
binding where the key arrives keeps every key in arrival order. Bindings of the screens
and the app are untouched: the focused widget's binding would have won anyway.
"""

from __future__ import annotations

from textual import events
from textual.widget import Widget
from textual.widgets import Input as _Input


async def run_own_binding(widget: Widget, event: events.Key) -> None:
    """Run `widget`'s binding for `event` now and stop the event, if it has one."""
    for binding in widget._bindings.key_to_bindings.get(event.key, ()):
        if await widget.app.run_action(binding.action, widget):
            event.stop()
            event.prevent_default()  # Textual's own `_on_key` and the bubbling: done here
            return


class Input(_Input):
    """`textual.widgets.Input` whose editing keys are not overtaken by typed characters,
    and which leaves keys typed after the focus left it to where the focus went."""

    async def _on_key(self, event: events.Key) -> None:
        if self.screen.focused is not self:
            # Typed ahead of a focus change away from here (the filter's enter, then more
            # keys, in one write): neither typed nor run here; on its way up the app runs
            # it where the focus is now, as if it had arrived there.
            event.prevent_default()
            return
        await run_own_binding(self, event)

