"""Control commands: NONE, data, copy, macro (distpy's mini-language) against plain numpy/scipy."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import make_chunk, run_command, run_graph
from scipy import ndimage

from raydas.commands.control import Copy, Macro
from raydas.errors import ConfigError
from raydas.pipeline import Pipeline

FS = 1000.0
RNG = np.random.default_rng(3)
X = RNG.standard_normal((9, 300)).astype(np.float32)


def test_none_passes_through_but_unknown_names_are_errors():
    value, _ = run_command({"name": "NONE"}, make_chunk(X, FS))
    np.testing.assert_array_equal(value, X)
    with pytest.raises(ConfigError) as err:
        Pipeline.from_config({"command_list": [{"name": "NONNE", "uid": 1, "in_uid": 0}]})
    assert err.value.json_path == "$.command_list[0].name" and "NONNE" in str(err.value)


def test_data_is_the_raw_chunk():
    graph = [{"name": "abs", "uid": 1, "in_uid": 0}, {"name": "data", "uid": 2, "in_uid": 0}]
    value, _ = run_graph(graph, make_chunk(X, FS))
    np.testing.assert_array_equal(value, X)


def test_copy_is_an_independent_writable_array():
    x = make_chunk(X, FS).data  # read-only, like arrays out of Ray
    y = Copy(Copy.Params()).apply(np, x, None)
    np.testing.assert_array_equal(y, X)
    assert not np.shares_memory(x, y) and y.flags.writeable


def _macro_reference(x: np.ndarray) -> float:
    """distpy's default macro list, step by step with numpy/scipy."""
    y = np.abs(x.astype(np.float64))
    norm = np.linalg.norm(y, axis=0, keepdims=True)
    y = y / np.where(norm == 0, 1, norm)
    y = ndimage.gaussian_filter(y, sigma=2)
    y = np.gradient(y, 5.0, axis=0)
    y = (y > 0).astype(np.float64)
    y = ndimage.median_filter(y, size=5)
    y = 100 * np.sum(y, axis=0) / y.shape[0]
    return float(np.sum(y))


def test_default_macro_matches_numpy_scipy_steps():
    value, _ = run_command({"name": "macro"}, make_chunk(X, FS))
    assert value.shape == (1, 1)
    assert value[0, 0] == pytest.approx(_macro_reference(X), rel=1e-4)
    assert 0 < value[0, 0]


def test_macro_filter_list():
    ops = [
        {"name": "abs"},
        {"name": "gaussian_filter", "sigma": 1.5},
        {"name": "gradient", "axis": 1, "distance": 2},
        {"name": "median_filter", "distance": 3},
    ]
    value, _ = run_command({"name": "macro", "command_list": ops}, make_chunk(X, FS))
    ref = ndimage.median_filter(np.gradient(ndimage.gaussian_filter(np.abs(X), 1.5), 2.0, axis=1), size=3)
    np.testing.assert_allclose(value, ref, rtol=1e-4, atol=1e-5)
    cmd = (
        Pipeline.from_config({"command_list": [{"name": "macro", "uid": 1, "in_uid": 0, "command_list": ops}]})
        .nodes[0]
        .command
    )
    assert cmd.time_local and cmd.halo_samples(FS) == 6 + 1 + 1  # gaussian 4*1.5, gradient 1, median 3//2


def test_default_macro_is_per_chunk():
    assert not Macro(Macro.Params()).time_local


def test_macro_unknown_operation_is_a_config_error_naming_it():
    graph = [{"name": "macro", "uid": 1, "in_uid": 0, "command_list": [{"name": "abs"}, {"name": "smooth"}]}]
    with pytest.raises(ConfigError) as err:
        Pipeline.from_config({"command_list": graph})
    assert err.value.json_path == "$.command_list[0].command_list[1].name"
    assert "smooth" in str(err.value)


def test_macro_evaluates_only_the_operations_it_reaches():
    # distpy built every op's result at every step, so a single channel failed in the
    # (unused) gradient across channels; raydas only runs what is listed
    value, _ = run_command({"name": "macro", "command_list": [{"name": "abs"}]}, make_chunk(X[:1], FS))
    np.testing.assert_array_equal(value, np.abs(X[:1]))
