"""Compiling command_list JSON: every error names its JSON path; execution order,
freeing of intermediates, read-only inputs, Graphviz output."""

from __future__ import annotations

import gc
import json
import weakref

import numpy as np
import pytest
from helpers import make_chunk, run_graph

from raydas import commands
from raydas.commands.base import Command
from raydas.errors import ConfigError
from raydas.pipeline import Pipeline


def _error(config) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        Pipeline.from_config(config)
    return err.value


def test_unknown_command_is_an_error_with_suggestion():
    e = _error(
        {"command_list": [{"name": "fft", "uid": 1, "in_uid": 0}, {"name": "rms_from_fftt", "uid": 2, "in_uid": 1}]}
    )
    assert e.json_path == "$.command_list[1].name"
    assert "rms_from_fftt" in str(e) and "rms_from_fft" in e.problem


def test_dangling_uid():
    e = _error({"command_list": [{"name": "abs", "uid": 1, "in_uid": 7}]})
    assert e.json_path == "$.command_list[0].in_uid" and "7" in e.problem
    e = _error(
        {
            "command_list": [
                {"name": "abs", "uid": 1, "in_uid": 0},
                {"name": "write_witsml", "uid": 2, "in_uid": 1, "gather_uids": [1, 5]},
            ]
        }
    )
    assert e.json_path == "$.command_list[1].gather_uids[1]"


def test_cycle():
    e = _error({"command_list": [{"name": "abs", "uid": 1, "in_uid": 2}, {"name": "real", "uid": 2, "in_uid": 1}]})
    assert e.json_path.startswith("$.command_list[") and "cycle" in e.problem


def test_bad_parameter_types():
    e = _error({"command_list": [{"name": "butter", "uid": 1, "in_uid": 0, "order": "five"}]})
    assert e.json_path == "$.command_list[0].order"
    e = _error(
        {
            "command_list": [
                {"name": "multiple_calcs", "uid": 1, "in_uid": 0, "func": "te_from_fft", "low_freq": [0, "x"]}
            ]
        }
    )
    assert e.json_path == "$.command_list[0].low_freq[1]"
    e = _error({"command_list": [{"name": "butter", "uid": 1, "in_uid": 0, "type": "notch"}]})
    assert e.json_path == "$.command_list[0].type"


def test_structure_errors():
    assert _error([1, 2]).json_path == "$"
    assert _error({"commands": []}).json_path == "$.command_list"
    assert _error({"command_list": ["fft"]}).json_path == "$.command_list[0]"
    assert _error({"command_list": [{"uid": 1, "in_uid": 0}]}).json_path == "$.command_list[0].name"
    assert _error({"command_list": [{"name": "abs", "in_uid": 0}]}).json_path == "$.command_list[0].uid"
    assert _error({"command_list": [{"name": "abs", "uid": 1}]}).json_path == "$.command_list[0].in_uid"
    assert _error({"command_list": [{"name": "abs", "uid": True, "in_uid": 0}]}).json_path == "$.command_list[0].uid"
    assert _error({"command_list": [{"name": "abs", "uid": 0, "in_uid": 0}]}).json_path == "$.command_list[0].uid"
    dup = _error({"command_list": [{"name": "abs", "uid": 1, "in_uid": 0}, {"name": "real", "uid": 1, "in_uid": 0}]})
    assert dup.json_path == "$.command_list[1].uid" and "already used" in dup.problem
    bands = {"func": "rms_from_fft", "low_freq": [0, 1], "high_freq": [5]}
    assert (
        _error({"command_list": [{"name": "multiple_calcs", "uid": 1, "in_uid": 0, **bands}]}).json_path
        == "$.command_list[0].high_freq"
    )


def test_invalid_json_file_names_file_and_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"command_list": [\n  {"name": "fft", "uid": 1 "in_uid": 0}\n]}')
    e = _error(str(path))
    assert e.source == str(path) and "line 2" in e.problem
    missing = _error(str(tmp_path / "nope.json"))
    assert "not found" in missing.problem


def test_unknown_parameters_and_distpy_keys_are_tolerated():
    p = Pipeline.from_config(
        {
            "command_list": [
                {
                    "name": "fft",
                    "uid": 1,
                    "in_uid": 0,
                    "comment": "graph label",
                    "formatting": "color=red",
                    "prf": 10000,
                },
                {"name": "rms_from_fft", "uid": 2, "in_uid": 1, "low_frek": 3},
            ]
        }
    )
    assert len(p.order) == 2
    assert any("low_frek" in w for w in p.warnings)
    assert not any("comment" in w or "prf" in w for w in p.warnings)


def test_any_listing_order_runs_topologically():
    graph = [
        {"name": "rms_from_fft", "uid": 3, "in_uid": 2},
        {"name": "fft", "uid": 2, "in_uid": 1},
        {"name": "abs", "uid": 1, "in_uid": 0},
    ]
    p = Pipeline.from_config({"command_list": graph})
    assert [n.uid for n in p.order] == [1, 2, 3]
    x = np.random.default_rng(0).standard_normal((3, 500))
    value, _ = run_graph(graph, make_chunk(x, 500.0), keep=3)
    np.testing.assert_allclose(value[:, 0], np.sqrt(np.mean(np.abs(x) ** 2, axis=1)), rtol=1e-5)


_SEEN: dict = {}


@commands.register
class Remember(Command):
    name = "_test_remember"
    family = "control"

    def apply(self, xp, x, ctx):
        out = x * 1.0
        _SEEN["ref"] = weakref.ref(out)
        return out


@commands.register
class CheckFreed(Command):
    name = "_test_check_freed"
    family = "control"

    def apply(self, xp, x, ctx):
        gc.collect()
        _SEEN["alive_when_checked"] = _SEEN["ref"]() is not None
        return x


def test_intermediates_are_freed_after_their_last_use():
    graph = [
        {"name": "_test_remember", "uid": 1, "in_uid": 0},
        {"name": "abs", "uid": 2, "in_uid": 1},  # the last (only) consumer of uid 1
        {"name": "_test_check_freed", "uid": 3, "in_uid": 2},
    ]
    Pipeline.from_config({"command_list": graph}).run(make_chunk(np.ones((2, 10)), 10.0))
    assert _SEEN["alive_when_checked"] is False
    graph[2]["in_uid"] = 1  # now uid 1 is still needed by uid 3
    graph[1], graph[2] = graph[2], graph[1]
    graph[1]["uid"], graph[2]["uid"] = 3, 2
    Pipeline.from_config({"command_list": graph}).run(make_chunk(np.ones((2, 10)), 10.0))
    assert _SEEN["alive_when_checked"] is True


def test_read_only_input_is_never_written():
    chunk = make_chunk(np.random.default_rng(1).standard_normal((4, 200)), 100.0)
    assert not chunk.data.flags.writeable
    before = chunk.data.copy()
    graph = [
        {"name": "butter", "uid": 1, "in_uid": 0, "freq": 10},
        {"name": "abs", "uid": 2, "in_uid": 0},
        {"name": "sta_lta", "uid": 3, "in_uid": 2, "sta": 5, "lta": 20},
        {"name": "fft", "uid": 4, "in_uid": 0},
        {"name": "multiple_calcs", "uid": 5, "in_uid": 4, "func": "rms_from_fft", "low_freq": [0], "high_freq": [-1]},
    ]
    Pipeline.from_config({"command_list": graph}).run(chunk)
    np.testing.assert_array_equal(chunk.data, before)


def test_dot_output(tmp_path):
    cfg = json.loads(
        (__import__("pathlib").Path(__file__).parents[2] / "configs/distpy/strainrate2noiselog.json").read_text()
    )
    dot = Pipeline.from_config(cfg).to_dot()
    assert dot.startswith("digraph")
    assert "0 -> 1;" in dot and "2 -> 3;" in dot
    assert '5 -> 7 [style=dashed, label="gather"];' in dot
    assert "write_witsml" in dot and "NoiseLog/" in dot
