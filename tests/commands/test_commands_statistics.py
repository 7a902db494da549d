"""Reductions and statistics against numpy/scipy written plainly, or analytic signals."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import make_chunk, run_command
from scipy import signal, stats

from raydas.errors import PipelineError

FS = 1000.0
RNG = np.random.default_rng(11)
X = (RNG.standard_normal((7, 400)) ** 3).astype(np.float32)  # skewed, heavy-tailed
POS = np.abs(X) + 0.1
X64 = X.astype(np.float64)


@pytest.mark.parametrize(
    "name,ref",
    [
        ("std_dev", lambda x, a: np.std(x, axis=a, keepdims=True)),
        ("sum", lambda x, a: np.sum(x, axis=a, keepdims=True)),
        ("mean", lambda x, a: np.mean(x, axis=a, keepdims=True)),
    ],
)
@pytest.mark.parametrize("axis", [1, 0])
def test_numpy_reductions_keep_the_reduced_axis(name, ref, axis):
    value, meta = run_command({"name": name, "axis": axis}, make_chunk(X, FS))
    np.testing.assert_allclose(value, ref(X64, axis), rtol=1e-4, atol=1e-4)
    assert value.shape == ((7, 1) if axis == 1 else (1, 400))
    if axis == 1:
        assert meta.positions is not None and len(meta.positions) == 7


def test_std_dev_of_a_sine_is_amplitude_over_root_two():
    t = np.arange(1000) / FS
    value, _ = run_command({"name": "std_dev"}, make_chunk(np.vstack([3 * np.sin(2 * np.pi * 10 * t)] * 2), FS))
    np.testing.assert_allclose(value[:, 0], 3 / np.sqrt(2), rtol=1e-4)


@pytest.mark.parametrize(
    "name,ref,data",
    [
        ("kurtosis", lambda x: stats.kurtosis(x, axis=1, bias=False), X64),
        ("skewness", lambda x: stats.skew(x, axis=1, bias=False), X64),
        ("harmonic_mean", lambda x: x.shape[1] / np.sum(1.0 / x, axis=1), POS.astype(np.float64)),
        ("geometric_mean", lambda x: np.exp(np.mean(np.log(x), axis=1)), POS.astype(np.float64)),
    ],
)
def test_scipy_statistics_per_channel(name, ref, data):
    value, _ = run_command({"name": name}, make_chunk(data, FS))
    assert value.shape == (7, 1)
    np.testing.assert_allclose(value[:, 0], ref(data), rtol=1e-4)


def test_kurtosis_of_gaussian_noise_is_near_zero_and_skewness_sign():
    noise = np.random.default_rng(0).standard_normal((2, 200_000))
    value, _ = run_command({"name": "kurtosis"}, make_chunk(noise, FS))
    assert np.all(np.abs(value) < 0.05)
    skew, _ = run_command({"name": "skewness"}, make_chunk(np.exp(noise[:, :5000]), FS))  # log-normal: positive
    assert np.all(skew > 1)


def test_harmonic_mean_refuses_negative_data():
    with pytest.raises(PipelineError, match="non-negative"):
        run_command({"name": "harmonic_mean"}, make_chunk(X, FS))


def test_moment_second_order_is_the_variance():
    value, _ = run_command({"name": "moment", "moment": 2}, make_chunk(X, FS))
    np.testing.assert_allclose(value[:, 0], np.var(X64, axis=1), rtol=1e-4)
    first, _ = run_command({"name": "moment"}, make_chunk(X, FS))  # distpy's default: order 1, always 0
    np.testing.assert_allclose(first, 0.0, atol=1e-5)


def test_argmax_across_channels_and_over_time():
    value, _ = run_command({"name": "argmax"}, make_chunk(X, FS))
    np.testing.assert_array_equal(value[0], np.argmax(X, axis=0))
    over_time, _ = run_command({"name": "argmax", "axis": 1}, make_chunk(X, FS))
    np.testing.assert_array_equal(over_time[:, 0], np.argmax(X, axis=1))


def _p2p_reference(x, w):
    """Largest max-min over windows centred like ndimage (edges: nearest), written as a loop."""
    n = x.shape[1]
    half = w // 2
    padded = np.pad(x, ((0, 0), (half, w - 1 - half)), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, w, axis=1)[:, :n]
    return (windows.max(axis=2) - windows.min(axis=2)).max(axis=1)


def test_peak_to_peak_window():
    value, _ = run_command({"name": "peak_to_peak", "window_length": 30}, make_chunk(X, FS))
    np.testing.assert_allclose(value[:, 0], _p2p_reference(X64, 30), rtol=1e-6)
    step = np.zeros((1, 400))
    step[0, 100:] = 1.0
    step[0, 300:] = -2.0  # rise of 1 and fall of 3, 200 samples apart
    short, _ = run_command({"name": "peak_to_peak", "window_length": 50}, make_chunk(step, FS))
    assert short[0, 0] == pytest.approx(3.0)


def test_count_peaks_of_separated_bumps():
    t = np.arange(2000)
    bumps = sum(np.exp(-0.5 * ((t - c) / 30.0) ** 2) for c in (300, 900, 1500))
    data = np.vstack([bumps, 2 * bumps])
    value, _ = run_command({"name": "count_peaks", "sta": 20, "lta": 80}, make_chunk(data, FS))
    np.testing.assert_array_equal(value[:, 0], [3, 3])
    reference = len(signal.find_peaks_cwt(X64[0], np.arange(50, 200, 5)))
    default, _ = run_command({"name": "count_peaks"}, make_chunk(X, FS))
    assert default[0, 0] == reference


def test_approx_vlf_is_a_gaussian_weighted_average_then_3_channel_median():
    value, _ = run_command({"name": "approx_vlf"}, make_chunk(X, FS))
    n = X.shape[1]
    w = np.exp(-((np.arange(n) - n / 2) ** 2) / (2 * 3e6))
    avg = (X64 * w).sum(axis=1) / w.sum()
    padded = np.concatenate([[0.0], avg, [0.0]])
    ref = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
    np.testing.assert_allclose(value[:, 0], ref, rtol=1e-4, atol=1e-6)
    # a fading channel (zeros) between two live ones is filled by the median
    data = np.ones((3, 500))
    data[1] = 0.0
    faded, _ = run_command({"name": "approx_vlf"}, make_chunk(np.vstack([data, data]), FS))
    assert faded[1, 0] == pytest.approx(1.0)


def test_extract_a_channel_and_a_time_sample():
    row, meta = run_command({"name": "extract", "axis": 0, "index": 2}, make_chunk(X, FS, spacing=2.0))
    np.testing.assert_array_equal(row, X[2:3])
    assert list(meta.positions) == [4.0]
    col, _ = run_command({"name": "extract", "index": -1}, make_chunk(X, FS))
    np.testing.assert_array_equal(col[:, 0], X[:, -1])
    with pytest.raises(PipelineError, match="outside"):
        run_command({"name": "extract", "axis": 0, "index": 7}, make_chunk(X, FS))


def test_hash_packs_64_binary_samples_first_as_top_bit():
    bits = np.zeros((3, 80))
    bits[0, 5] = 1.0  # offset 5: the first hashed sample -> 2**63
    bits[1, 5:69:2] = 1.0  # 1010... -> 0xAAAA...
    bits[2, 5:69] = 0.9  # above 0.5 counts as 1
    value, _ = run_command({"name": "hash", "offset": 5}, make_chunk(bits, FS))
    assert value.dtype == np.uint64
    assert [int(v) for v in value[:, 0]] == [1 << 63, 0xAAAAAAAAAAAAAAAA, (1 << 64) - 1]
    with pytest.raises(PipelineError, match="64 samples"):
        run_command({"name": "hash", "offset": 20}, make_chunk(bits, FS))
