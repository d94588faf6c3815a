"""The UI's files are found the way an installed wheel finds them."""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.app import App
from textual.css.stylesheet import Stylesheet

import console
import console.ui
from console.ui.stylesheets import load_stylesheets, stylesheet_names

ROOT = Path(__file__).resolve().parents[2]


def test_stylesheets_load_from_the_package_and_parse() -> None:
    names = stylesheet_names()
    assert names[0] == "app.tcss"
    assert {"main.tcss", "help.tcss", "error.tcss"} <= set(names)
    sheet = Stylesheet(variables=App[None]().get_css_variables())  # theme colours
    sheet.add_source(load_stylesheets(), read_from=("console.styles", ""))
    sheet.parse()  # raises on a TCSS error


def test_every_package_ships_in_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    root = Path(console.__file__).parent
    packages = {
        "console" + "".join(f".{p}" for p in init.parent.relative_to(root).parts)
        for init in root.rglob("__init__.py")
    }
    assert packages <= listed, sorted(packages - listed)
