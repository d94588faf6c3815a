"""The full-screen console (Textual). Everything here reads through `console.core`.

Start it with `make_app(store, settings)` (or `run_console`) from `console.ui.app`.
"""
