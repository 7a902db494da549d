"""The package ships every module and the configs."""

from __future__ import annotations

import importlib.resources
import os
import tomllib

from helpers import REPO


def test_every_subpackage_is_listed():
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as fh:
        listed = set(tomllib.load(fh)["tool"]["setuptools"]["packages"])
    found = set()
    for root, dirs, files in os.walk(os.path.join(REPO, "raydas")):
        dirs[:] = [d for d in dirs if not d.startswith((".", "__"))]
        if "__init__.py" in files:
            found.add(os.path.relpath(root, REPO).replace(os.sep, "."))
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"


def test_configs_are_installed():
    names = {p.name for p in importlib.resources.files("raydas.configs").iterdir()}
    assert {"demo.json", "demo-noiselog.json"} <= names
    assert "strainrate2noiselog.json" in {p.name for p in importlib.resources.files("raydas.configs.distpy").iterdir()}
