"""Numbers in configs are sane or refused with a ConfigError at their JSON path:
NaN and infinities (``1e309`` is infinity to Python's JSON reader), rates and
durations outside the plausible ranges, and ``true`` where an integer or a
number is meant. Before, ``sample_rate: 1e-300`` and ``chunk_seconds: 1e309``
passed validation and raised ``OverflowError`` mid-run, and ``true`` was read as 1."""

from __future__ import annotations

import json

import pytest

from raydas.config import load_config
from raydas.errors import ConfigError
from raydas.pipeline import Pipeline


def _write(tmp_path, text: str) -> str:
    path = tmp_path / "run.json"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "body,path,words",
    [
        ('"chunk_seconds": 1e309', "$.chunk_seconds", "finite"),
        ('"chunk_seconds": NaN', "$.chunk_seconds", "finite"),
        ('"chunk_seconds": 1e-300', "$.chunk_seconds", "plausible"),
        ('"chunk_seconds": true', "$.chunk_seconds", "true is not a number"),
        ('"sample_rate": 1e-300', "$.sample_rate", "plausible"),
        ('"sample_rate": 1e309', "$.sample_rate", "finite"),
        ('"sample_rate": -Infinity', "$.sample_rate", "finite"),
        ('"assumed_sample_rate": 1e-300', "$.assumed_sample_rate", "plausible"),
        ('"ray": {"num_actors": true}', "$.ray.num_actors", "true is not an integer"),
        ('"ray": {"actor_cpus": Infinity}', "$.ray.actor_cpus", "finite"),
    ],
)
def test_run_config_numbers(tmp_path, body, path, words):
    source = _write(tmp_path, '{"input": "data", ' + body + "}")
    with pytest.raises(ConfigError) as err:
        load_config(source)
    assert err.value.json_path == path
    assert words in err.value.problem, err.value.problem


def test_distpy_prf_is_checked_like_sample_rate(tmp_path):
    source = _write(tmp_path, json.dumps({"in_directory": "a", "out_directory": "b", "prf": 1e-300}))
    with pytest.raises(ConfigError) as err:
        load_config(source)
    assert err.value.json_path == "$.prf" and "plausible" in err.value.problem


def test_sane_numbers_still_load(tmp_path):
    cfg = load_config(
        _write(tmp_path, '{"input": "d", "chunk_seconds": 2, "sample_rate": 1000, "ray": {"num_actors": 2}}')
    )
    assert (cfg.chunk_seconds, cfg.sample_rate, cfg.ray.num_actors) == (2.0, 1000.0, 2)


@pytest.mark.parametrize(
    "command,path,words",
    [
        ({"name": "running_mean", "window_length": True}, "$.command_list[0].window_length", "true is not an integer"),
        ({"name": "sta_lta", "lta": False}, "$.command_list[0].lta", "false is not an integer"),
        ({"name": "lin_transform", "m": float("nan")}, "$.command_list[0].m", "finite"),
        ({"name": "lin_transform", "c": float("-inf")}, "$.command_list[0].c", "finite"),
    ],
)
def test_processing_config_numbers(command, path, words):
    with pytest.raises(ConfigError) as err:
        Pipeline.from_config({"command_list": [dict(command, uid=1, in_uid=0)]})
    assert err.value.json_path.startswith(path), err.value.json_path
    assert words in err.value.problem, err.value.problem


@pytest.mark.parametrize("depth,path", [(100_000, "$"), (100, "$.processing" + "[0]" * 63)])
def test_deeply_nested_json_is_a_config_error(tmp_path, depth, path):
    source = _write(tmp_path, '{"input": "d", "processing": ' + "[" * depth + "]" * depth + "}")
    with pytest.raises(ConfigError) as err:  # a RecursionError before
        load_config(source)
    assert err.value.json_path == path and "nested deeper than" in err.value.problem


def test_nesting_within_the_limit_loads(tmp_path):
    cfg = load_config(
        _write(tmp_path, '{"input": "d", "processing": {"command_list": [], "x": ' + "[" * 60 + "]" * 60 + "}}")
    )
    assert cfg.processing["command_list"] == []
