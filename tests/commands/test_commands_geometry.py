"""clip, interp and curve_fit against numpy/scipy or analytic curves."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import T0_NS, make_chunk, run_command

from raydas.chunk import Chunk
from raydas.errors import ConfigError
from raydas.pipeline import Pipeline

FS = 100.0
RNG = np.random.default_rng(31)
X = RNG.standard_normal((10, 200)).astype(np.float32)


def test_clip_channels_and_times_inclusive():
    value, meta = run_command(
        {"name": "clip", "xmin": 4.1, "xmax": 12.0, "tmin": 0.5, "tmax": 1.0}, make_chunk(X, FS, spacing=2.0)
    )
    np.testing.assert_array_equal(value, X[2:7, 50:101])  # positions 4..12 m, times 0.5..1.0 s
    np.testing.assert_array_equal(meta.positions, [4.0, 6.0, 8.0, 10.0, 12.0])


def test_clip_defaults_keep_everything():
    value, _ = run_command({"name": "clip"}, make_chunk(X, FS))
    np.testing.assert_array_equal(value, X)  # distpy's exclusive end dropped the last channel


def test_clip_double_ended_halves():
    first, _ = run_command({"name": "clip", "double_ended": 0}, make_chunk(X, FS))
    np.testing.assert_array_equal(first, X[:5])
    second, meta = run_command({"name": "clip", "double_ended": 1}, make_chunk(X, FS))
    np.testing.assert_array_equal(second, X[5:][::-1])
    np.testing.assert_array_equal(meta.positions, [9.0, 8.0, 7.0, 6.0, 5.0])


def test_clip_writes_one_file_per_chunk_named_by_chunk_time(tmp_path):
    graph = {
        "command_list": [
            {
                "name": "clip",
                "uid": 1,
                "in_uid": 0,
                "xmin": 2.0,
                "xmax": 4.0,
                "tmin": 0.0,
                "tmax": 0.5,
                "directory_out": "clipped",
            }
        ]
    }
    from raydas.outputs import OutputSink

    pipeline = Pipeline.from_config(graph)
    for k in range(2):  # two chunks with the same tmin: distpy wrote both to clipped/0.npy
        chunk = make_chunk(X + k, FS, data_start_ns=T0_NS + k * 2 * 10**9)
        pipeline.run(chunk, np, OutputSink(str(tmp_path)))
    files = sorted(p.name for p in (tmp_path / "clipped").iterdir())
    stems = [str(T0_NS // 10**9), str(T0_NS // 10**9 + 2)]
    assert files == sorted([f"{s}.npy" for s in stems] + ["measured_depth.npy", "time.npy"])
    np.testing.assert_array_equal(np.load(tmp_path / "clipped" / f"{stems[1]}.npy"), X[2:5, :51] + 1)
    np.testing.assert_allclose(np.load(tmp_path / "clipped" / "time.npy"), np.arange(51) / FS)
    np.testing.assert_array_equal(np.load(tmp_path / "clipped" / "measured_depth.npy")[:, 0], [2.0, 3.0, 4.0])


def test_interp_onto_new_positions_equals_numpy_interp():
    positions = np.array([0.0, 1.5, 2.0, 4.0, 7.0, 7.5, 9.0, 12.0, 13.0, 16.0])
    chunk = Chunk(X, T0_NS, 1 / FS, positions)
    value, meta = run_command({"name": "interp", "spacing": 0.7}, chunk)
    new = np.arange(0.0, 16.0 + 0.35, 0.7)
    ref = np.stack([np.interp(new, positions, X[:, t].astype(np.float64)) for t in range(X.shape[1])], axis=1)
    np.testing.assert_allclose(value, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(meta.positions, new)
    listed, _ = run_command({"name": "interp", "positions": [-1.0, 3.0, 20.0]}, chunk)
    np.testing.assert_allclose(listed[:, 7], np.interp([-1.0, 3.0, 20.0], positions, X[:, 7]), rtol=1e-5)


def test_interp_along_time_changes_the_sample_interval():
    value, meta = run_command({"name": "interp", "axis": 1, "spacing": 0.025}, make_chunk(X, FS))
    t_old = np.arange(200) / FS
    t_new = np.arange(0, t_old[-1] + 0.0125, 0.025)
    np.testing.assert_allclose(value, np.stack([np.interp(t_new, t_old, r) for r in X]), rtol=1e-5, atol=1e-5)
    assert meta.dt == 0.025


def test_interp_needs_exactly_one_grid():
    with pytest.raises(ConfigError, match="exactly one"):
        Pipeline.from_config({"command_list": [{"name": "interp", "uid": 1, "in_uid": 0}]})


def test_curve_fit_recovers_a_line_and_an_exponential():
    t = np.arange(200) / FS
    slopes = np.linspace(-3, 3, 4)[:, None]
    lines = slopes * t + 2.0
    value, _ = run_command({"name": "curve_fit"}, make_chunk(lines, FS))
    np.testing.assert_allclose(value, lines, rtol=1e-4, atol=1e-4)
    coeffs, _ = run_command({"name": "curve_fit", "output": "coefficients"}, make_chunk(lines, FS))
    np.testing.assert_allclose(coeffs, np.hstack([slopes, np.full((4, 1), 2.0)]), rtol=1e-4, atol=1e-4)
    decay = 3.0 * np.exp(-1.5 * t) + 0.5
    coeffs, _ = run_command(
        {"name": "curve_fit", "method": "exp_fit", "output": "coefficients"}, make_chunk(np.vstack([decay, decay]), FS)
    )
    np.testing.assert_allclose(coeffs, [[3.0, -1.5, 0.5]] * 2, rtol=1e-3)


def test_curve_fit_across_channels_and_bounds():
    depth = np.arange(10) * 5.0
    profile = np.tile((0.03 * depth + 20.0)[:, None], (1, 6))  # a geothermal gradient
    value, _ = run_command(
        {"name": "curve_fit", "axis": 0, "output": "coefficients", "bounds": [[-1.0, 0.0], [1.0, 50.0]]},
        make_chunk(profile, FS, spacing=5.0),
    )
    np.testing.assert_allclose(value, np.tile([[0.03], [20.0]], (1, 6)), rtol=1e-4)
    with pytest.raises(ConfigError, match="bounds"):
        Pipeline.from_config(
            {
                "command_list": [
                    {"name": "curve_fit", "uid": 1, "in_uid": 0, "method": "exp_fit", "bounds": [[-5, 0], [0, 400]]}
                ]
            }
        )
