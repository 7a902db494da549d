"""What the code and the README tell a user exists, exists.

- Every ``--flag`` that a message, help text or docstring under ``raydas/``
  (or a ``raydas ...`` command line in the READMEs) names is a flag of
  ``raydas``'s parser; after ``raydas SUBCOMMAND`` it is a flag of that
  sub-command. Ray's own command lines (``ray start --head``) are Ray's business.
- Every module's ``__all__`` names only things the module has.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import re
from pathlib import Path

import pytest
from helpers import REPO

from raydas.apps.cli import build_parser

FLAG = re.compile(r"(?<![\w-])--[a-z][\w-]*")
#: a command line of Ray's own CLI, up to the end of its quote or line
RAY_COMMAND = re.compile(r"\bray [a-z][^`'\"\n]*")
#: a raydas command line, up to the end of its quote, clause or line: (sub-command, rest)
RAYDAS_COMMAND = re.compile(r"\braydas ([a-z]+)([^`'\",;)\n]*)")


def _flags(parser: argparse.ArgumentParser) -> tuple[set[str], dict[str, set[str]]]:
    """(every flag of the parser and its sub-commands, each sub-command's own flags with the global ones)."""
    top = {o for a in parser._actions for o in a.option_strings}
    subs = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                subs[name] = top | {o for a in sub._actions for o in a.option_strings}
    return top.union(*subs.values()), subs


ALL_FLAGS, SUB_FLAGS = _flags(build_parser())


def unknown_flags(text: str) -> list[str]:
    """The flags ``text`` names that raydas's parser does not have."""
    bad = []
    text = RAY_COMMAND.sub(" ", text)
    for sub, rest in RAYDAS_COMMAND.findall(text):
        if sub in SUB_FLAGS:
            bad += [f"raydas {sub} {flag}" for flag in FLAG.findall(rest) if flag not in SUB_FLAGS[sub]]
    text = RAYDAS_COMMAND.sub(" ", text)
    return bad + [flag for flag in FLAG.findall(text) if flag not in ALL_FLAGS]


def _strings(path: Path):
    """(line, text) of every string constant in a module, argv elements (``"--port=8"``) left out."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if not re.fullmatch(r"--\S+", node.value):
                yield node.lineno, node.value


def test_every_flag_the_package_names_exists():
    bad = [
        f"{path.relative_to(REPO)}:{line}: {flag}"
        for path in sorted(Path(REPO, "raydas").rglob("*.py"))
        for line, text in _strings(path)
        for flag in unknown_flags(text)
    ]
    assert not bad, "flags named but not in raydas's parser:\n  " + "\n  ".join(bad)


@pytest.mark.parametrize("readme", ["README.md", "configs/README.md", "CONTRIBUTING.md"])
def test_every_flag_a_readme_gives_raydas_exists(readme):
    path = Path(REPO, readme)
    if not path.exists():
        pytest.skip(f"{readme} not written yet")
    bad = [
        f"{readme}:{i}: {flag}"
        for i, line in enumerate(path.read_text().splitlines(), 1)
        for sub, rest in RAYDAS_COMMAND.findall(line)
        if sub in SUB_FLAGS
        for flag in FLAG.findall(rest)
        if flag not in SUB_FLAGS[sub]
    ]
    assert not bad, "raydas command lines with flags their sub-command does not have:\n  " + "\n  ".join(bad)


def test_the_flag_check_catches_a_made_up_flag():
    assert unknown_flags("no such thing: use `raydas run --processing p.json`") == ["raydas run --processing"]
    assert unknown_flags("give --procesing") == ["--procesing"]
    assert unknown_flags("start one with `raydas up` or `ray start --head`; then --address auto") == []
    assert unknown_flags("`raydas scan --json` lists them") == []
    assert unknown_flags("the Ray running here (raydas up, ray start --head)") == []
    assert unknown_flags("`raydas up --timeline t.json`") == ["raydas up --timeline"]  # a flag of run, not of up


def test_all_names_only_what_exists():
    bad = []
    for path in sorted(Path(REPO, "raydas").rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name != "raydas.__main__":
            module = importlib.import_module(name)
            bad += [f"{name}.{n}" for n in getattr(module, "__all__", ()) if not hasattr(module, n)]
    assert not bad, f"__all__ names what its module does not have: {bad}"
