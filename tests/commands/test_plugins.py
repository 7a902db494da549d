"""Third-party command sets: a package that declares an entry point in the
``raydas.commands`` group is picked up by the registry and runs from JSON, in
this process and through the command line. Also ``raydas graph`` on a graph
with gather edges."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from helpers import make_chunk, run_graph

from raydas import commands
from raydas.pipeline import Pipeline

PLUGIN = textwrap.dedent('''
    """A tiny third-party command set for raydas."""
    from pydantic import Field
    from raydas.commands import Command, Params


    class Triple(Command):
        name = "triple_it"
        family = "elementwise"
        description = "Multiply by three (plug-in test)."

        class Params(Params):
            offset: float = Field(0.0, description="added after tripling")

        def apply(self, xp, x, ctx):
            return 3 * x + self.params.offset
''')


def _install_plugin(site, entry: str = "triple = raydas_triple_plugin:Triple", extra: str = "") -> None:
    """Lay the package out as pip installs it: the module plus a dist-info with entry_points.txt."""
    site.mkdir(exist_ok=True)
    (site / "raydas_triple_plugin.py").write_text(PLUGIN)
    info = site / "raydas_triple_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: raydas-triple-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[raydas.commands]\n{entry}\n{extra}")


@pytest.fixture
def fresh_registry(monkeypatch):
    """Make the registry scan entry points again; restore it (and sys.path) afterwards."""
    commands.all_commands()  # the built-ins register once, on first import of their modules
    monkeypatch.setattr(commands, "_COMMANDS", dict(commands._COMMANDS))
    monkeypatch.setattr(commands, "_loaded", False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    sys.modules.pop("raydas_triple_plugin", None)


def test_plugin_command_is_registered_and_runs_from_json(tmp_path, fresh_registry):
    _install_plugin(tmp_path / "site")
    sys.path.insert(0, str(tmp_path / "site"))
    assert "triple_it" in commands.all_commands()
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    graph = [{"name": "triple_it", "uid": 1, "in_uid": 0, "offset": 1.5}]
    value, _ = run_graph(graph, make_chunk(x, 100.0))
    np.testing.assert_allclose(value, 3 * x + 1.5)


def test_a_broken_plugin_does_not_break_the_built_ins(tmp_path, fresh_registry, caplog):
    _install_plugin(
        tmp_path / "site", entry="broken = raydas_no_such_module:Thing", extra="triple = raydas_triple_plugin:Triple\n"
    )
    sys.path.insert(0, str(tmp_path / "site"))
    with caplog.at_level(logging.WARNING):
        names = commands.all_commands()
    assert {"fft", "triple_it"} <= set(names)
    assert "broken" in caplog.text and "raydas_no_such_module" in caplog.text


def _raydas(*args, site):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "raydas", *args], capture_output=True, text=True, env=env, timeout=120)


def test_plugin_through_the_command_line_and_graph(tmp_path):
    site = tmp_path / "site"
    _install_plugin(site)
    listed = _raydas("commands", "--json", site=site)
    assert listed.returncode == 0, listed.stderr
    triple = next(c for c in json.loads(listed.stdout) if c["name"] == "triple_it")
    assert triple["parameters"][0]["name"] == "offset"

    config = tmp_path / "graph.json"
    config.write_text(
        json.dumps(
            {
                "name": "plug-in graph",
                "command_list": [
                    {"name": "triple_it", "uid": 1, "in_uid": 0},
                    {"name": "fft", "uid": 2, "in_uid": 1},
                    {"name": "rms_from_fft", "uid": 3, "in_uid": 2},
                    {
                        "name": "multiple_calcs",
                        "uid": 4,
                        "in_uid": 2,
                        "func": "te_from_fft",
                        "low_freq": [0],
                        "high_freq": [-1],
                    },
                    {"name": "write_witsml", "uid": 5, "in_uid": 4, "gather_uids": [3], "directory_out": "fbe"},
                ],
            }
        )
    )
    out = tmp_path / "g.dot"
    result = _raydas("graph", str(config), "-o", str(out), site=site)
    assert result.returncode == 0, result.stderr
    dot = out.read_text()
    for node in ['1 [label="1: triple_it"', '2 [label="2: fft"', '5 [label="5: write_witsml\\n-> fbe/"']:
        assert node in dot
    for edge in ["0 -> 1;", "1 -> 2;", "2 -> 3;", "2 -> 4;", "4 -> 5;", '3 -> 5 [style=dashed, label="gather"];']:
        assert edge in dot
    assert 'fillcolor="lightgrey"' in dot  # write_witsml runs on the host
    # without the plug-in on the path, the same graph is an error naming the command's JSON path
    missing = subprocess.run(
        [sys.executable, "-m", "raydas", "graph", str(config)], capture_output=True, text=True, timeout=120
    )
    assert missing.returncode != 0 and "$.command_list[0].name" in missing.stderr


def test_pipeline_to_dot_marks_gather_edges():
    pipeline = Pipeline.from_config(
        {
            "command_list": [
                {"name": "fft", "uid": 1, "in_uid": 0},
                {"name": "velocity_map", "uid": 2, "in_uid": 1},
                {"name": "multiply", "uid": 3, "in_uid": 1, "gather_uids": [2]},
            ]
        }
    )
    dot = pipeline.to_dot()
    assert '2 -> 3 [style=dashed, label="gather"];' in dot and "1 -> 3;" in dot and "0 -> 1;" in dot
