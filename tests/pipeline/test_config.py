"""Run configs: raydas's own and distpy's system configs, with JSON-path errors."""

from __future__ import annotations

import json
import os

import pytest
from helpers import REPO

from raydas.config import load_config
from raydas.errors import ConfigError


def _write(tmp_path, doc, name="run.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return str(path)


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    cfg = load_config(
        _write(
            tmp_path,
            {
                "input": "data/*.sgy",
                "output": "out",
                "processing": "p.json",
                "chunk_seconds": 2,
                "ray": {"num_actors": 3},
            },
        )
    )
    assert cfg.input == str(tmp_path / "data/*.sgy")
    assert cfg.output == str(tmp_path / "out")
    assert cfg.processing == str(tmp_path / "p.json")
    assert cfg.chunk_seconds == 2.0 and cfg.ray.num_actors == 3


def test_urls_and_absolute_paths_are_kept(tmp_path):
    cfg = load_config(_write(tmp_path, {"input": ["s3://bucket/a/*.h5", "/abs/b.sgy"], "output": "memory://res"}))
    assert cfg.input == ["s3://bucket/a/*.h5", "/abs/b.sgy"]
    assert cfg.output == "memory://res"


def test_distpy_system_configs_load_unchanged():
    ingest = load_config(os.path.join(REPO, "configs/distpy/sgyConfig.json"))
    folder = os.path.join(REPO, "configs/distpy")
    assert ingest.input == os.path.join(folder, "archive/2020prj0001/sgy")
    assert ingest.output == os.path.join(folder, "scratch/2020prj0001/sgy_data")
    assert ingest.ray.num_actors == 2
    proc = load_config(os.path.join(REPO, "configs/distpy/strainrate2fbeConfig.json"))
    assert proc.input == os.path.join(folder, "scratch/2020prj0001/sgy_data")
    assert proc.output == os.path.join(folder, "projects/2020prj0001/witsml")
    assert proc.processing == os.path.join(folder, "strainrate2noiselog.json")
    assert proc.assumed_sample_rate == 10000


def test_distpy_directories_form(tmp_path):
    cfg = load_config(
        _write(
            tmp_path,
            {
                "in_directory": "/data/in",
                "out_directory": "/data/out",
                "config": "g.json",
                "parallel_flag": 0,
                "ncpu": 8,
            },
        )
    )
    assert cfg.input == "/data/in" and cfg.output == "/data/out" and cfg.ray.num_actors == 1


@pytest.mark.parametrize(
    "doc,path",
    [
        ({"output": "x"}, "$.input"),
        ({"input": "a", "chunk_seconds": "long"}, "$.chunk_seconds"),
        ({"input": "a", "chunk_seconds": -1}, "$.chunk_seconds"),
        ({"input": "a", "ray": {"device": "tpu"}}, "$.ray.device"),
        ({"input": "a", "ray": {"num_actor": 2}}, "$.ray.num_actor"),
        ({"input": "a", "outptu": "x"}, "$.outptu"),
        ({"in_drive": "a", "project": "p", "data": "d"}, "$.results"),
        ({"in_drive": "a", "project": 5, "data": "d", "results": "r"}, "$.project"),
        ({"in_directory": "a", "out_directory": "b", "prf": "fast"}, "$.prf"),
        ({"in_directory": "a", "out_directory": "b", "ncpu": 0}, "$.ncpu"),
    ],
)
def test_errors_name_the_json_path(tmp_path, doc, path):
    source = _write(tmp_path, doc)
    with pytest.raises(ConfigError) as err:
        load_config(source)
    assert err.value.json_path == path
    assert source in str(err.value)


def test_wrong_document_types(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, "[1, 2]"))
    assert err.value.json_path == "$"
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, '{"input": '))
    assert "invalid JSON" in err.value.problem
    with pytest.raises(ConfigError) as err:
        load_config(os.path.join(REPO, "configs/distpy/strainrate2noiselog.json"))
    assert "processing config" in err.value.problem
