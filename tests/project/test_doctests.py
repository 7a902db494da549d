"""The ``Examples`` in the public API's docstrings run, and say what they do.

Each module below is run through :mod:`doctest` in a fresh temporary folder
(the examples write files such as ``example.sgy`` and ``results/`` relative to
the current folder). The modules are the ones the test session imports anyway,
so nothing is imported twice; ``testpaths = ["tests"]`` stays as it is.
The runtime's example runs on the session's Ray (``ray_session``): started
alone, a private Ray takes longer to start than the example takes to run.
"""

from __future__ import annotations

import doctest
import importlib
import io

import pytest

#: module -> the public functions whose docstrings must carry a runnable example
DOCTESTED = {
    "raydas.formats": ["scan", "read", "write"],
    "raydas.pipeline": ["Pipeline.from_config", "Pipeline.run"],
    "raydas.runtime.run": ["run"],
    "raydas.catalogue": ["Catalogue"],
}


def _object(module, dotted: str):
    obj = module
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("name", DOCTESTED)
def test_docstring_examples_run(name, tmp_path, monkeypatch, request):
    if name.startswith("raydas.runtime"):
        request.getfixturevalue("ray_session")
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)  # the module itself (raydas.runtime.run is also a function's name)
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = [t for t in doctest.DocTestFinder().find(module) if t.examples]
    for test in tests:
        runner.run(test, out=out.write)
    failed, attempted = runner.summarize(verbose=False)
    assert attempted and not failed, f"{failed} of {attempted} examples in {name} failed:\n{out.getvalue()}"
    with_examples = {t.name.removeprefix(name + ".") for t in tests}
    missing = [f for f in DOCTESTED[name] if f not in with_examples]
    assert not missing, f"{name}: no runnable Examples in the docstrings of {missing}"


def test_the_public_api_is_what_was_doctested():
    import raydas

    assert raydas.scan is _object(importlib.import_module("raydas.formats"), "scan")
    assert raydas.read is _object(importlib.import_module("raydas.formats"), "read")
    assert raydas.Pipeline is _object(importlib.import_module("raydas.pipeline"), "Pipeline")
    assert raydas.run is _object(importlib.import_module("raydas.runtime.run"), "run")
    assert raydas.Catalogue is _object(importlib.import_module("raydas.catalogue"), "Catalogue")
