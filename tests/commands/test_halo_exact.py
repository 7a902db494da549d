"""Halo exactness: every time-local command (and every time-local chain of the
shipped configs) gives the same numbers on 1-s chunks carrying the halo the
pipeline asks for as on the whole record, away from the record's two ends.

``HALO_CASES`` lists parameters for every time-local command. A command that
is registered and time-local (by class or with its default parameters) but
missing from the table fails :func:`test_every_time_local_command_has_halo_cases`,
so new commands cannot slip through: add a row for them.
"""

from __future__ import annotations

import glob
import json
import os

import helpers
import numpy as np
import pytest
from helpers import REPO, make_chunk, run_chunked, run_graph

from raydas import commands, formats
from raydas.apps import demo
from raydas.pipeline import Pipeline
from raydas.recording import assemble, plan_chunks

FS = 500.0
CHANNELS = 8
SECONDS = 4.3  # a short last chunk too

#: parameters per time-local command (each dict is one case). Commands that are
#: per chunk by default but time-local with some parameters are listed with those.
HALO_CASES: dict[str, list[dict]] = {
    "NONE": [{}],
    "data": [{}],
    "copy": [{}],
    "to_gpu": [{}],
    "from_gpu": [{}],
    "abs": [{}],
    "real": [{}],
    "angle": [{}],
    "conj": [{}],
    "unwrap": [{"axis": 0}],
    "lin_transform": [{"m": 2.5, "c": -1.0}],
    "soft_threshold": [{"threshold": 2.3}, {"direction": "<", "threshold": 1.8}],
    "hard_threshold": [{"threshold": 2.3, "value": -1.0}],
    "bounded_select": [{"min_val": 1.5, "max_val": 2.5}],
    "butter": [{"type": "lowpass", "freq": 50.0}, {"type": "highpass", "freq": 5.0, "order": 3}],
    "sta_lta": [{}, {"sta": 10, "lta": 60}],
    "gaussian": [
        {},
        {"xorder": 0, "torder": 0, "tsigma": 3.0},
        {"torder": 1, "xorder": 0, "tsigma": 2.0, "mode": "nearest"},
    ],
    "sobel": [{}, {"axis": 0}],
    "convolve": [{}, {"coeffs": [[1, 2, 3, 4, 5]]}],
    "correlate": [{}, {"coeffs": [[1, 0, 0, 0, -1, 2], [0, 1, 0, 0, 0, 1]]}],
    "median_filter": [{}, {"distance": 6}],
    "wiener": [{"noisePower": 0.05}, {"noisePower": 0.01, "xdir": 3, "tdir": 9}],
    "running_mean": [{}, {"axis": 1, "window_length": 7}, {"axis": 1, "window_length": 8}],
    "dip_filter": [{}, {"velocity": -500.0, "shape": [5, 15], "bandwidth": 0.3}],
    "diff": [{}, {"window_length": 4}, {"axis": 0}],
    "gradient": [{}, {"axis": 1}, {"axis": 1, "edge_order": 2}],
    "roll": [{}, {"window_length": -7}, {"axis": 0, "window_length": 2}],
    "broaden": [{}, {"window_length": 8}],
    "argmax": [{}],
    "mean": [{"axis": 0}],
    "std_dev": [{"axis": 0}],
    "sum": [{"axis": 0}],
    "kurtosis": [{"axis": 0}],
    "skewness": [{"axis": 0}],
    "harmonic_mean": [{"axis": 0}],
    "geometric_mean": [{"axis": 0}],
    "moment": [{"axis": 0, "moment": 2}],
    "extract": [{"axis": 0, "index": 3}],
    "clip": [{"xmin": 2.0, "xmax": 5.0}, {"double_ended": 1}],
    "interp": [{"spacing": 0.5}],
    "curve_fit": [{"axis": 0}],
    "downsample": [{"xsample": 2}],
    "add": [{"gather_uids": [0]}],
    "multiply": [{"gather_uids": [0]}],
    "virtual_cmp": [{}],
    "fft": [{"axis": 0}],
    "ifft": [{"axis": 0}],
    "one_bit": [{}],
    "running_abs_mean": [{"window": 0.05}, {"window": 0.2}],
    "macro": [
        {
            "command_list": [
                {"name": "abs"},
                {"name": "threshold", "threshold": 2.2},
                {"name": "gaussian_filter", "sigma": 1.5},
                {"name": "gradient", "axis": 1, "distance": 1},
                {"name": "median_filter", "distance": 3},
                {"name": "normalize", "axis": 0},
            ]
        }
    ],
}


def _record() -> np.ndarray:
    """A positive (channel, time) record: offset 2, a chirp moving along the fibre, noise."""
    rng = np.random.default_rng(7)
    n = int(SECONDS * FS)
    t = np.arange(n) / FS
    x = np.arange(CHANNELS)[:, None]
    chirp = 0.5 * np.sin(2 * np.pi * (3.0 + 4.0 * t[None, :]) * (t[None, :] - 0.01 * x))
    return (2.0 + chirp + 0.2 * rng.standard_normal((CHANNELS, n))).astype(np.float32)


WHOLE = _record()


def _time_local_by_default(cls) -> bool:
    if cls.time_local:
        return True
    try:
        return cls(cls.Params()).time_local
    except (ValueError, TypeError):  # needs parameters (pydantic errors are ValueErrors): the class attribute decides
        return False


def test_every_time_local_command_has_halo_cases():
    missing = [
        name
        for name, cls in commands.all_commands().items()
        if _time_local_by_default(cls) and not cls.writes and name not in HALO_CASES and not name.startswith("_")
    ]  # "_test_..." commands are registered by tests
    assert not missing, f"time-local commands without a row in HALO_CASES (add one): {missing}"


CASES = [(name, i, params) for name, rows in HALO_CASES.items() for i, params in enumerate(rows)]


@pytest.mark.parametrize("name,i,params", CASES, ids=[f"{n}-{i}" for n, i, _ in CASES])
def test_chunks_with_halo_equal_whole_record(name, i, params):
    if name not in commands.all_commands():
        pytest.skip(f"{name} is not registered on this branch")
    graph = [dict(params, name=name, uid=1, in_uid=0)]
    node = Pipeline.from_config({"command_list": graph}).nodes[0]
    assert node.command.time_local, f"{name} {params} is not time-local: the table row tests nothing"
    stitched, halo = run_chunked(graph, WHOLE, FS)
    whole, _ = run_graph(graph, make_chunk(WHOLE, FS))
    _assert_equal_away_from_ends(stitched, whole, halo)


def _assert_equal_away_from_ends(stitched, whole, halo):
    assert stitched.shape == whole.shape
    n = whole.shape[1]
    assert n > 2 * halo + 100, "record too short for this halo"
    away = slice(halo, n - halo)
    a, b = stitched[:, away], whole[:, away]
    if b.dtype.kind in "iub":
        np.testing.assert_array_equal(a, b)
    else:
        scale = float(np.nanmax(np.abs(b))) if b.size else 1.0
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * scale + 1e-12)


def test_the_check_can_fail_without_halo():
    """The same comparison fails when chunks carry no halo (the test has teeth)."""
    graph = [{"name": "running_mean", "uid": 1, "in_uid": 0, "axis": 1, "window_length": 21}]
    pieces = [run_graph(graph, chunk)[0] for chunk in helpers.chunk_record(WHOLE, FS, halo=0)]
    whole, _ = run_graph(graph, make_chunk(WHOLE, FS))
    with pytest.raises(AssertionError):
        _assert_equal_away_from_ends(np.concatenate(pieces, axis=1), whole, 10)


# --- the shipped configs ------------------------------------------------------------------------------------------

CONFIG_DIR = os.path.join(REPO, "configs")


def _load(path: str) -> dict:
    with open(path) as fh:
        return json.load(fh)


CONFIGS = sorted(
    p for p in glob.glob(os.path.join(CONFIG_DIR, "**", "*.json"), recursive=True) if "command_list" in _load(p)
)


def _time_local_sinks(config: dict) -> tuple[list[dict], list[int]]:
    """The config's nodes that are time-local along with all their ancestors, and
    the last ones of those chains (whose inputs' results they contain)."""
    pipeline = Pipeline.from_config(config)
    local: set[int] = set()
    for node in pipeline.order:
        cmd = node.command
        if cmd.time_local and not cmd.writes and all(u == 0 or u in local for u in node.inputs):
            local.add(node.uid)
    items = [item for item in config["command_list"] if item["uid"] in local]
    consumed = {u for item in items for u in [item["in_uid"], *item.get("gather_uids", [])]}
    return items, sorted(local - consumed)


def test_configs_are_found():
    names = {os.path.basename(p) for p in CONFIGS}
    assert {"demo-noiselog.json", "strainrate2thumbnail.json"} <= names


@pytest.fixture(scope="module")
def demo_record(tmp_path_factory):
    files = demo.generate(
        str(tmp_path_factory.mktemp("halo-configs")), files=2, seconds=2.0, channels=6, sample_rate=1000.0
    )
    records, _ = formats.scan(files)
    (rec,), _ = assemble(records)
    whole = np.concatenate([formats.read_samples(r, 0, r.n_samples) for r in rec.records], axis=1)
    return rec, whole


@pytest.mark.parametrize("path", CONFIGS, ids=[os.path.basename(p) for p in CONFIGS])
def test_time_local_chains_of_configs_are_halo_exact(path, demo_record):
    rec, whole_data = demo_record
    items, sinks = _time_local_sinks(_load(path))
    if not sinks:
        pytest.skip("no time-local chain in this config")
    for sink in sinks:
        pipeline = Pipeline.from_config({"command_list": items})
        halo = pipeline.halo_samples(rec.sample_rate)
        pieces = []
        for plan in plan_chunks([rec], 1.0, halo_samples=halo):  # as the runtime cuts chunks
            chunk = plan.read()
            chunk.data.setflags(write=False)
            pieces.append(run_graph(items, chunk, keep=sink)[0])
        whole, _ = run_graph(items, make_chunk(whole_data, rec.sample_rate, spacing=demo.SPACING), keep=sink)
        _assert_equal_away_from_ends(np.concatenate(pieces, axis=1), whole, halo)
