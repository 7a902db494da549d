"""Element-wise commands against numpy; thresholds never write into their input."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import make_chunk, run_command, run_graph

from raydas.commands.elementwise import HardThreshold, SoftThreshold
from raydas.errors import ConfigError
from raydas.pipeline import Pipeline

FS = 1000.0
RNG = np.random.default_rng(5)
X = RNG.standard_normal((6, 256)).astype(np.float32)


def test_angle_and_conj_of_a_spectrum():
    spec = np.fft.fft(X.astype(np.float64), axis=1)
    angle, _ = run_graph(
        [{"name": "fft", "uid": 1, "in_uid": 0}, {"name": "angle", "uid": 2, "in_uid": 1}], make_chunk(X, FS)
    )
    conj, _ = run_graph(
        [{"name": "fft", "uid": 1, "in_uid": 0}, {"name": "conj", "uid": 2, "in_uid": 1}], make_chunk(X, FS)
    )
    big = np.abs(spec) > 1e-2  # the phase of near-zero bins is noise
    assert np.all((angle >= -np.pi) & (angle <= np.pi))
    # phases compared on the circle: a real negative bin (DC, Nyquist) is at +pi or -pi by the sign of its zero
    np.testing.assert_allclose(np.angle(np.exp(1j * (angle[big] - np.angle(spec)[big]))), 0.0, atol=1e-3)
    np.testing.assert_allclose(conj, np.conj(spec), rtol=1e-4, atol=1e-3)


def test_unwrap_across_channels_and_along_time():
    phase = np.cumsum(np.full((6, 256), 0.9), axis=1)
    wrapped = np.angle(np.exp(1j * phase)).astype(np.float32)
    along, _ = run_command({"name": "unwrap"}, make_chunk(wrapped, FS))
    np.testing.assert_allclose(along, phase - phase[:, :1] + wrapped[:, :1], atol=1e-4)
    across, _ = run_command({"name": "unwrap", "axis": 0}, make_chunk(wrapped.T.copy(), FS))
    np.testing.assert_allclose(across, np.unwrap(wrapped.T.astype(np.float64), axis=0), atol=1e-4)
    node = Pipeline.from_config({"command_list": [{"name": "unwrap", "uid": 1, "in_uid": 0}]}).nodes[0]
    assert not node.command.time_local  # along time it accumulates from the chunk start


def test_lin_transform():
    value, _ = run_command({"name": "lin_transform", "m": -3.0, "c": 0.5}, make_chunk(X, FS))
    np.testing.assert_allclose(value, -3.0 * X + 0.5, rtol=1e-6)


@pytest.mark.parametrize("direction", [">", "<"])
def test_soft_threshold_clips(direction):
    value, _ = run_command({"name": "soft_threshold", "direction": direction, "threshold": 0.4}, make_chunk(X, FS))
    ref = np.where(X > 0.4, 0.4, X) if direction == ">" else np.where(X < 0.4, 0.4, X)
    np.testing.assert_array_equal(value, ref.astype(np.float32))


def test_hard_threshold_replaces():
    value, _ = run_command(
        {"name": "hard_threshold", "direction": "<", "threshold": -0.5, "value": 9.0}, make_chunk(X, FS)
    )
    np.testing.assert_array_equal(value, np.where(X < -0.5, 9.0, X).astype(np.float32))


def test_thresholds_leave_their_input_alone():
    # distpy wrote into its input; with Ray's read-only arrays that would even raise
    x = X.copy()
    for cls, params in ((SoftThreshold, {"threshold": 0.0}), (HardThreshold, {"threshold": 0.0, "value": 5.0})):
        cls(cls.Params(**params)).apply(np, x, None)
        np.testing.assert_array_equal(x, X)


def test_bad_direction_is_a_config_error():
    with pytest.raises(ConfigError) as err:
        Pipeline.from_config(
            {"command_list": [{"name": "soft_threshold", "uid": 1, "in_uid": 0, "direction": "greater"}]}
        )
    assert err.value.json_path == "$.command_list[0].direction"


def test_bounded_select_mask():
    value, _ = run_command({"name": "bounded_select", "min_val": -0.5, "max_val": 0.5}, make_chunk(X, FS))
    np.testing.assert_array_equal(value, ((X > -0.5) & (X <= 0.5)).astype(np.float32))
    edge, _ = run_command(
        {"name": "bounded_select", "min_val": 0.0, "max_val": 1.0}, make_chunk(np.array([[0.0, 0.5, 1.0, 1.5]]), FS)
    )
    np.testing.assert_array_equal(edge, [[0.0, 1.0, 1.0, 0.0]])


def test_rescale_alone_and_by_a_gathered_dataset():
    value, _ = run_command({"name": "rescale"}, make_chunk(X, FS))
    np.testing.assert_allclose(value, (X - X.min()) / (X.max() - X.min()), rtol=1e-5, atol=1e-6)
    graph = [
        {"name": "lin_transform", "uid": 1, "in_uid": 0, "m": 4.0},
        {"name": "rescale", "uid": 2, "in_uid": 0, "gather_uids": [1]},
    ]
    value, _ = run_graph(graph, make_chunk(X, FS))
    y = 4.0 * X
    np.testing.assert_allclose(value, (X - y.min()) / (y.max() - y.min()), rtol=1e-5, atol=1e-6)
    flat, _ = run_command({"name": "rescale"}, make_chunk(np.full((2, 5), 3.0), FS))
    np.testing.assert_array_equal(flat, 0.0)


def test_lin_transform_of_integer_indices_gives_real_numbers():
    graph = [{"name": "argmax", "uid": 1, "in_uid": 0}, {"name": "lin_transform", "uid": 2, "in_uid": 1, "m": 0.5}]
    value, _ = run_graph(graph, make_chunk(X, FS))
    np.testing.assert_allclose(value[0], 0.5 * np.argmax(X, axis=0))
    assert value.dtype == np.float32
