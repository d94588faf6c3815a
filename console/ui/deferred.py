"""What the TUI's first frame does not import, and the warm-up that imports it after.

The first frame is the queue: the app, the main screen, the queue table, the status line
and the footer. Dialogs, the edit form, the pretty printers and diff behind the detail
pane, the help and the bulk screens are imported where they are first used; once the
queue is on screen, the main screen's warm-up imports them in a thread, then what a
decision needs (LangGraph), so neither the first key nor the first decision waits.
`tests/integration/test_startup_imports.py` keeps them off the first frame.
"""

from __future__ import annotations

import importlib

# Most used first: the reason box and the confirm of a decision, the detail pane's texts.
DEFERRED_MODULES = (
    "console.ui.modals.prompt",
    "console.ui.modals.confirm",
    "console.ui.plan_text",
    "console.ui.bundle_text",
    "console.ui.diff_text",
    "console.ui.timeline_text",
    "console.ui.modals.error",
    "console.ui.modals.help",
    "console.ui.modals.edit_form",
    "console.ui.modals.items",
    "console.ui.modals.conflict",
    "console.ui.conflict_text",
    "console.ui.modals.bulk",
    "console.core.ledger.apply",
    "console.core.ledger.bulk",
    "console.core.reveal",
)


def warm_up() -> None:
    """Import the deferred UI modules, then what applying a decision needs; run it off
    the event loop once the queue is on screen."""
    for name in DEFERRED_MODULES:
        importlib.import_module(name)
    importlib.import_module("console.core.ledger.apply").warm_up()
