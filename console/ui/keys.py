"""Key bindings as a reviewer reads them, after the keymap from settings is applied."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from textual.app import App
from textual.binding import Binding, BindingType


def key_rows(
    app: App[Any], bindings: Iterable[BindingType], keymap: Mapping[str, str]
) -> list[tuple[str, str]]:
    """(keys, description) rows, e.g. ("j / down", "Down"), in declaration order.

    A binding remapped in `keymap` (binding id -> comma-separated keys, the format of
    `App.set_keymap`) shows its new keys, so the help never lies about a remapped key.
    """
    rows: list[tuple[str, str]] = []
    for binding in bindings:
        if not isinstance(binding, Binding) or not binding.description:
            continue
        remapped = binding.id is not None and binding.id in keymap
        keys = keymap[binding.id] if remapped and binding.id else binding.key
        shown = []
        for key in (k.strip() for k in keys.split(",")):
            display = None if remapped else binding.key_display
            shown.append(app.get_key_display(Binding(key, binding.action, key_display=display)))
        rows.append((" / ".join(shown), binding.description))
    return rows


# Textual draws some keys as arrows and symbols; those glyphs are ambiguous-width or
# missing in some ssh clients' fonts (textual-notes.md), so the console spells them out.
_SPELLED = {"↑": "up", "↓": "down", "←": "left", "→": "right", "⏎": "enter", "⇥": "tab"}


def spell_key(display: str) -> str:
    """`down` for `↓`, `^down` for `^↓`; other displays unchanged."""
    for glyph, name in _SPELLED.items():
        display = display.replace(glyph, name)
    return display
