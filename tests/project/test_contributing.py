"""CONTRIBUTING.md's worked examples run and do what the page says.

A code block marked ``<!-- test: NAME [FILE] -->`` on the line before it is
run here: the blocks of the format and command examples in order, in one
namespace, in a temporary folder; the plug-in's module and ``pyproject.toml``
are laid out as pip installs them (the module beside a dist-info whose
``entry_points.txt`` comes from the pyproject's entry-point tables) and loaded
through the registry's entry-point scan. The registries are restored after
each test, so the examples' format and commands do not leak into other tests.
"""

from __future__ import annotations

import re
import sys
import tomllib
import types
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, make_chunk, run_chunked, run_graph

import raydas
from raydas import commands, formats

PAGE = Path(REPO) / "CONTRIBUTING.md"
BLOCK = re.compile(r"^<!-- test: (?P<name>[\w-]+)(?: (?P<file>[\w.]+))? -->\n```\w+\n(?P<code>.*?)^```$", re.S | re.M)


def blocks(name: str) -> list[re.Match]:
    """The marked blocks called ``name``, in page order."""
    found = [m for m in BLOCK.finditer(PAGE.read_text()) if m.group("name") == name]
    assert found, f"CONTRIBUTING.md has no block marked <!-- test: {name} -->"
    return found


@pytest.fixture
def registries(monkeypatch):
    """Private copies of the format and command registries (and sys.path) for one test; their next
    use scans the entry points again."""
    for registry, entries in ((formats, formats.all_formats()), (commands, commands.all_commands())):
        monkeypatch.setattr(registry, "_FORMATS" if registry is formats else "_COMMANDS", dict(entries))
        monkeypatch.setattr(registry, "_loaded", False)
    monkeypatch.setattr(sys, "path", list(sys.path))


def run_example(name: str, folder: Path, monkeypatch) -> types.ModuleType:
    """Run the blocks called ``name`` in ``folder`` as one module (pydantic finds its classes' module)."""
    monkeypatch.chdir(folder)
    module = types.ModuleType(f"contributing_{name}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for block in blocks(name):
        exec(compile(block.group("code"), f"CONTRIBUTING.md <!-- test: {name} -->", "exec"), module.__dict__)
    return module


def test_the_format_example_writes_scans_and_reads(tmp_path, monkeypatch, registries):
    example = run_example("format", tmp_path, monkeypatch)
    assert isinstance(formats.get_format("tinydas"), example.TinyDAS)
    assert "tinydas" in formats.writers()
    # a window of channels and samples is the same slice of a full read
    full = raydas.read("example.tdas")
    part = formats.get_format("tinydas").read("example.tdas", full.start_ns + 20_000_000, channels=slice(1, 3))
    np.testing.assert_array_equal(part.data, full.data[1:3, 2:])
    # a file shorter than its header declares is a failure naming the file; the others still scan
    (tmp_path / "short.tdas").write_bytes((tmp_path / "example.tdas").read_bytes()[:-8])
    records, failures = raydas.scan([str(tmp_path / "example.tdas"), str(tmp_path / "short.tdas")])
    assert [r.format for r in records] == ["tinydas"]
    assert len(failures) == 1 and "short.tdas" in str(failures[0]) and "declares 3 x 4 samples" in str(failures[0])


def test_the_command_example_runs_in_a_pipeline_and_is_halo_exact(tmp_path, monkeypatch, registries):
    example = run_example("command", tmp_path, monkeypatch)
    assert commands.get("moving_rms") is example.MovingRMS
    assert commands.get("moving_rms").describe()["parameters"][0]["name"] == "window_s"
    # on read-only 1-s chunks carrying the declared halo, the same numbers as on the whole record
    fs = 500.0
    whole = np.random.default_rng(3).standard_normal((3, 1600)).astype(np.float32)
    graph = [{"name": "moving_rms", "uid": 1, "in_uid": 0, "window_s": 0.05}]
    stitched, halo = run_chunked(graph, whole, fs)
    at_once, _ = run_graph(graph, make_chunk(whole, fs))
    assert halo == 12 and stitched.dtype == np.float32
    np.testing.assert_allclose(stitched[:, halo:-halo], at_once[:, halo:-halo], rtol=1e-5)


def test_the_plugin_example_registers_through_its_entry_point(tmp_path, registries):
    (module,) = blocks("plugin-module")
    (pyproject,) = blocks("plugin-pyproject")
    assert pyproject.group("file") == "pyproject.toml"
    project = tomllib.loads(pyproject.group("code"))
    meta = project["project"]
    assert project["build-system"]["build-backend"] == "setuptools.build_meta" and "raydas" in meta["dependencies"]
    assert project["tool"]["setuptools"]["py-modules"] == [Path(module.group("file")).stem]
    # lay the package out as pip installs it
    site = tmp_path / "site"
    site.mkdir()
    (site / module.group("file")).write_text(module.group("code"))
    info = site / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n")
    groups = meta["entry-points"]
    (info / "entry_points.txt").write_text(
        "".join(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in points.items()) for group, points in groups.items())
    )
    sys.path.insert(0, str(site))
    try:
        assert set(groups) <= {"raydas.commands", "raydas.formats"}
        assert commands.all_commands()["gain_db"].__module__ == "raydas_gain"
        graph = [{"name": "gain_db", "uid": 1, "in_uid": 0, "db": 20.0}]
        value, _ = run_graph(graph, make_chunk(np.ones((2, 8)), 100.0))
        np.testing.assert_allclose(value, 10.0, rtol=1e-6)
        assert value.dtype == np.float32
    finally:
        sys.modules.pop("raydas_gain", None)


def test_the_shell_lines_name_what_exists():
    text = PAGE.read_text()
    for path in ["tests/project/test_import_layers.py", "tests/project/test_doctests.py", ".ci/run"]:
        assert path in text and (Path(REPO) / path).exists(), path
    for path in re.findall(r"`((?:tests|benchmarks|raydas)/[\w/]+\.py)`", text):
        assert (Path(REPO) / path).exists(), f"CONTRIBUTING.md names {path}, which does not exist"
