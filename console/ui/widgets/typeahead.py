"""Keys typed ahead of a focus change go where the focus went.

Over ssh a burst such as `/graph:email` arrives at once. The app hands every key to the
widget focused *when it reads the key*, so the whole burst goes to the queue table; the
table passes each key up to the app, whose bindings run only then, after `/` has already
moved the focus to the filter. Unchecked, `graph:email` would run as the screen's keys
(`a` approves, `r` rejects) and never reach the filter.

So the table stamps each key it receives (`KeepsTypedAhead`), and the app
(`RoutesTypedAhead`) treats a stamped key whose widget has lost the focus as typed into
what is focused now, in order. The other way, a burst that also leaves the input (`/x`
enter `j`), the input gives the focus back while enter is handled and leaves the keys
that reach it afterwards to the app (`widgets.inputs.Input`): the `j` moves the cursor.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.app import App
from textual.widgets import Input

_TARGET = "_typed_to"


class KeepsTypedAhead:
    """Mix in after the widget class: `class QueueTable(ScrollView, KeepsTypedAhead)`.

    Not a Widget itself: Textual takes CSS type names (and so `ScrollView`'s overflow
    rules) from the first base's chain, and walks every class of the MRO for `_on_key`.
    """

    async def _on_key(self, event: events.Key) -> None:
        # Textual calls every class's `_on_key` along the MRO: this one only stamps.
        setattr(event, _TARGET, self)


def typed_ahead(event: events.Key, app: App[Any]) -> bool:
    """Whether `event` was typed ahead of a focus change: stamped by a widget that has lost
    the focus since. Such a key belongs to what is focused now (`RoutesTypedAhead`), so
    nothing on its way up may act on it."""
    target = getattr(event, _TARGET, None)
    return target is not None and target is not app.focused and event.is_printable


class RoutesTypedAhead(App[None]):
    """Mix in before `App`: a stamped key whose widget lost the focus acts where the
    focus is now: a character is typed into the focused input (or dropped if none has
    the focus: it must not run as a key of another screen), any other key (enter, esc)
    runs the focused widget's bindings as if pressed there. All in arrival order."""

    async def _on_key(self, event: events.Key) -> None:
        if not typed_ahead(event, self):
            return  # App._on_key runs next: the bindings of what is focused now
        event.prevent_default()
        if isinstance(self.focused, Input) and event.character:
            self.focused.insert_text_at_cursor(event.character)
