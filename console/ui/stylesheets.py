"""The app's TCSS, read from the `console.styles` package so an installed wheel finds it.

The files live in `styles/` at the repository root and ship as `console.styles`
(pyproject `package-dir`); reading them through importlib.resources works the same from
a checkout, an editable install, a wheel or a zip.
"""

from __future__ import annotations

from importlib.resources import files

STYLES_PACKAGE = "console.styles"


def stylesheet_names() -> list[str]:
    """The `.tcss` files shipped, in a stable order (app.tcss first, then by name)."""
    names = [r.name for r in files(STYLES_PACKAGE).iterdir() if r.name.endswith(".tcss")]
    return sorted(names, key=lambda name: (name != "app.tcss", name))


def load_stylesheets() -> str:
    """All stylesheets as one TCSS source, each preceded by a comment naming its file."""
    root = files(STYLES_PACKAGE)
    return "\n".join(
        f"/* {name} */\n{root.joinpath(name).read_text(encoding='utf-8')}"
        for name in stylesheet_names()
    )
