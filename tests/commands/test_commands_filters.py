"""Filters against scipy/numpy references written plainly, or analytic signals;
each distpy bug fix has a test that fails on distpy's behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import make_chunk, run_command, run_graph
from scipy import ndimage, signal

from raydas.errors import ConfigError
from raydas.pipeline import Pipeline

FS = 1000.0
RNG = np.random.default_rng(21)
X = RNG.standard_normal((10, 300)).astype(np.float32)
X64 = X.astype(np.float64)


def _one(name, **params):
    return Pipeline.from_config({"command_list": [dict(params, name=name, uid=1, in_uid=0)]}).nodes[0].command


# --- gaussian, sobel, convolve, correlate, median, wiener -------------------------------------------------------


def test_gaussian_default_is_a_fifth_derivative():
    value, _ = run_command({"name": "gaussian"}, make_chunk(X, FS))
    ref = ndimage.gaussian_filter(X64, [1.0, 1.0], order=[5, 5], mode="constant")
    np.testing.assert_allclose(value, ref, rtol=1e-3, atol=1e-4 * np.abs(ref).max())
    # a 5th derivative kills a quadratic trend; a blur would not
    t = np.arange(300.0)
    quad = np.tile(1e-3 * (t - 150) ** 2, (10, 1))
    value, _ = run_command({"name": "gaussian", "mode": "nearest"}, make_chunk(quad, FS))
    assert np.abs(value[:, 20:-20]).max() < 1e-4


def test_gaussian_blur_preserves_a_constant_and_matches_a_plain_kernel():
    value, _ = run_command(
        {"name": "gaussian", "xorder": 0, "torder": 0, "xsigma": 0.001, "tsigma": 2.0, "mode": "nearest"},
        make_chunk(X, FS),
    )
    k = np.exp(-0.5 * (np.arange(-8, 9) / 2.0) ** 2)
    k /= k.sum()
    ref = np.stack([np.convolve(np.pad(r, 8, mode="edge"), k, mode="valid") for r in X64])
    np.testing.assert_allclose(value, ref, rtol=1e-4, atol=1e-5)
    assert _one("gaussian", tsigma=2.0).halo_samples(FS) == 8


@pytest.mark.parametrize("axis", [-1, 0])
def test_sobel(axis):
    value, _ = run_command({"name": "sobel", "axis": axis}, make_chunk(X, FS))
    smooth = np.array([1.0, 2.0, 1.0])
    deriv = np.array([1.0, 0.0, -1.0])  # convolution kernel of a central difference
    kernel = np.outer(smooth, deriv) if axis == -1 else np.outer(deriv, smooth)
    ref = signal.convolve2d(X64, kernel, mode="same", boundary="fill")
    np.testing.assert_allclose(value, ref, rtol=1e-4, atol=1e-4)


def test_convolve_and_correlate_equal_scipy_signal_2d():
    conv, _ = run_command({"name": "convolve"}, make_chunk(X, FS))
    np.testing.assert_allclose(
        conv, signal.convolve2d(X64, [[1, 0, -1], [2, 0, -2], [1, 0, -1]], mode="same"), rtol=1e-4, atol=1e-4
    )
    corr, _ = run_command({"name": "correlate"}, make_chunk(X, FS))
    k = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    np.testing.assert_allclose(corr, signal.correlate2d(X64, k, mode="same"), rtol=1e-4, atol=1e-4)
    assert _one("convolve", coeffs=[[1, 2, 3, 4, 5, 6, 7]]).halo_samples(FS) == 3


def test_ragged_coeffs_are_a_config_error():
    with pytest.raises(ConfigError, match="rectangular"):
        _one("convolve", coeffs=[[1, 2], [3]])


def test_median_filter_square_window():
    value, _ = run_command({"name": "median_filter", "distance": 5}, make_chunk(X, FS))
    padded = np.pad(X64, 2, mode="symmetric")  # scipy.ndimage's 'reflect'
    windows = np.lib.stride_tricks.sliding_window_view(padded, (5, 5))
    np.testing.assert_allclose(value, np.median(windows, axis=(2, 3)), rtol=1e-6)


def test_wiener_equals_scipy_and_is_per_chunk_without_noise_power():
    value, _ = run_command({"name": "wiener"}, make_chunk(X, FS))
    np.testing.assert_allclose(value, signal.wiener(X64, [5, 5]), rtol=1e-4, atol=1e-5)
    value, _ = run_command({"name": "wiener", "xdir": 3, "tdir": 7, "noisePower": 0.5}, make_chunk(X, FS))
    np.testing.assert_allclose(value, signal.wiener(X64, [3, 7], 0.5), rtol=1e-4, atol=1e-5)
    assert not _one("wiener").time_local
    assert _one("wiener", noisePower=0.5, tdir=7).time_local and _one("wiener", tdir=7).halo_samples(FS) == 3


# --- running_mean, dip_filter, destripe ---------------------------------------------------------------------------


def _running_mean_reference(x, n, axis):
    """Centred mean of n samples with edge values repeated, via cumulative sums."""
    y = x if axis == 1 else x.T
    before, after = n // 2, n - 1 - n // 2
    padded = np.pad(y, ((0, 0), (before, after)), mode="edge")
    c = np.cumsum(np.pad(padded, ((0, 0), (1, 0))), axis=1)
    out = (c[:, n:] - c[:, :-n]) / n
    return out if axis == 1 else out.T


@pytest.mark.parametrize("axis,n", [(1, 5), (1, 8), (0, 3)])
def test_running_mean_returns_data_along_the_axis_given(axis, n):
    value, _ = run_command({"name": "running_mean", "axis": axis, "window_length": n}, make_chunk(X, FS))
    assert value is not None and value.shape == X.shape  # distpy returned None
    np.testing.assert_allclose(value, _running_mean_reference(X64, n, axis), rtol=1e-4, atol=1e-5)


def test_running_mean_along_time_smooths_time_not_channels():
    # distpy's axis=1 ran along channels: a pure time oscillation would survive it
    t = np.arange(300)
    wiggle = np.tile(np.where(t % 2 == 0, 1.0, -1.0), (10, 1))
    value, _ = run_command({"name": "running_mean", "axis": 1, "window_length": 2}, make_chunk(wiggle, FS))
    assert np.abs(value[:, 1:-1]).max() < 1e-6


def _plane_wave(velocity, dx=1.0, n_ch=21, n_t=400, width=3.0):
    """A Gaussian pulse moving along the fibre: x(t) = -velocity * (t - t0)."""
    t = np.arange(n_t) / FS
    x = np.arange(n_ch)[:, None] * dx
    arrival = 0.2 - x / velocity  # s
    return np.exp(-0.5 * ((t[None, :] - arrival) * FS / width) ** 2)


def test_dip_filter_removes_the_chosen_dip_and_keeps_the_other():
    graph = {"name": "dip_filter", "velocity": 1000.0, "shape": [9, 9], "bandwidth": 0.0013}  # s, about 1.3 dt
    same, _ = run_command(graph, make_chunk(_plane_wave(1000.0), FS))
    other, _ = run_command(graph, make_chunk(_plane_wave(-1000.0), FS))
    inner = (slice(5, -5), slice(20, -20))
    e_same = np.sum(same[inner] ** 2)
    e_other = np.sum(other[inner] ** 2)
    assert e_same < 0.05 * e_other
    assert e_other > 0.2 * np.sum(_plane_wave(-1000.0)[inner] ** 2)


def _fat_ray_reference(shape, bandwidth, velocity, dx, dt):
    """Gaussian weights of the time misfit (s) of each cell from the ray x = -velocity t, summing to 1."""
    h, k = shape[0] // 2, shape[1] // 2
    w = np.zeros(shape)
    for i in range(-h, h + 1):
        for j in range(-k, k + 1):
            arrival = -i * dx / velocity  # s: when the ray passes channel offset i
            w[i + h, j + k] = np.exp(-(((j * dt - arrival) / bandwidth) ** 2))
    return w / w.sum()


@pytest.mark.parametrize("shape,bandwidth", [([5, 21], 0.004), ([9, 9], 0.02), ([3, 3], 0.003), ([9, 9], 0.1)])
def test_dip_filter_honours_shape_and_bandwidth(shape, bandwidth):
    impulse = np.zeros((31, 101))
    impulse[15, 50] = 1.0
    value, _ = run_command(
        {"name": "dip_filter", "velocity": 300.0, "shape": shape, "bandwidth": bandwidth},
        make_chunk(impulse, FS, spacing=2.0),
    )
    kernel = _fat_ray_reference(shape, bandwidth, 300.0, 2.0, 1 / FS)
    expected = impulse.copy()
    h, k = shape[0] // 2, shape[1] // 2
    expected[15 - h : 16 + h, 50 - k : 51 + k] -= kernel[::-1, ::-1]  # correlation: response is the flipped kernel
    np.testing.assert_allclose(value, expected, atol=1e-6)
    # distpy always used a 9 x 9 kernel with bandwidth 0.1: support and weights would differ
    touched = np.nonzero(np.abs(value - impulse) > 0)
    assert touched[1].max() - touched[1].min() == shape[1] - 1


def test_dip_filter_halo_is_half_the_kernel_in_time():
    assert _one("dip_filter", shape=[3, 21]).halo_samples(FS) == 10
    with pytest.raises(ConfigError, match="odd"):
        _one("dip_filter", shape=[4, 9])


def test_destripe_removes_what_all_channels_share():
    t = np.arange(256)
    stripe = np.zeros(256)
    stripe[[40, 41, 130]] = 5.0  # phase skips hitting every channel at once
    stripe -= stripe.mean()
    x = np.arange(16)[:, None]
    field = np.sin(2 * np.pi * (x / 4.0 + t[None, :] / 256.0))  # short wavelength along the fibre: kept
    value, _ = run_command({"name": "destripe"}, make_chunk(field + stripe[None, :], FS))
    np.testing.assert_allclose(value, field, atol=1e-3)
    # reference: the Bouali mask on the exact FFT grid, in plain numpy
    f = np.abs(np.fft.fftfreq(256))[None, :]
    k = np.abs(np.fft.fftfreq(16))[:, None]
    mask = np.maximum(k**2 / (f**2 + k**2 + 1e-6), 1e-6)
    noise = np.vstack([X64[:, :256]] * 2)[:16]
    ref = np.real(np.fft.ifft2(np.fft.fft2(noise) * mask))
    value, _ = run_command({"name": "destripe"}, make_chunk(noise, FS))
    np.testing.assert_allclose(value, ref, rtol=1e-4, atol=1e-4)


def test_destripe_transposed():
    offsets = np.linspace(-1, 1, 12)[:, None] * np.ones((12, 128))  # static channel offsets
    value, _ = run_command({"name": "destripe", "axis": 1}, make_chunk(offsets, FS))
    assert np.abs(value).max() < 1e-3


# --- diff, gradient, roll, broaden ----------------------------------------------------------------------------------


def test_diff_offset_keeps_the_shape():
    value, _ = run_command({"name": "diff", "window_length": 3}, make_chunk(X, FS))
    assert value.shape == X.shape  # distpy: 3rd-order difference, 2 samples shorter
    np.testing.assert_allclose(value[:, :-3], X64[:, 3:] - X64[:, :-3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(value[:, -3:], np.repeat(X64[:, -1:] - X64[:, -4:-3], 3, axis=1), atol=1e-6)
    one, _ = run_command({"name": "diff", "axis": 0}, make_chunk(X, FS))
    np.testing.assert_allclose(one[:-1], np.diff(X64, axis=0), atol=1e-6)
    np.testing.assert_allclose(one[-1], one[-2])


def test_gradient_per_metre_and_per_second():
    positions = np.array([0.0, 1.0, 3.0, 6.0, 10.0])
    data = np.tile(positions[:, None] ** 2, (1, 50))
    from raydas.chunk import Chunk

    chunk = Chunk(data.astype(np.float32), 0, 1 / FS, positions)
    value, _ = run_command({"name": "gradient"}, chunk)
    np.testing.assert_allclose(value, np.gradient(data, positions, axis=0), rtol=1e-5)
    t = np.arange(1000) / FS
    sine = np.tile(np.sin(2 * np.pi * 5 * t), (2, 1))
    value, _ = run_command({"name": "gradient", "axis": 1}, make_chunk(sine, FS))
    analytic = 2 * np.pi * 5 * np.cos(2 * np.pi * 5 * t)  # per second (distpy's index axis: per sample)
    np.testing.assert_allclose(value[:, 1:-1], np.tile(analytic, (2, 1))[:, 1:-1], rtol=1e-3, atol=0.01)


def test_gradient_axis_null_is_refused():
    with pytest.raises(ConfigError, match="two gradients"):
        _one("gradient", axis=None)


def test_roll_fixed_and_per_channel_shifts():
    value, _ = run_command({"name": "roll", "window_length": 7}, make_chunk(X, FS))
    np.testing.assert_array_equal(value, np.roll(X, 7, axis=1))
    data = X.copy()
    shifts = np.arange(10) - 4
    data[:, 0] = shifts  # column 0 carries each channel's shift
    graph = [
        {"name": "extract", "uid": 1, "in_uid": 0, "axis": 1, "index": 0},
        {"name": "roll", "uid": 2, "in_uid": 0, "gather_uids": [1], "max_shift": 5},
    ]
    value, _ = run_graph(graph, make_chunk(data, FS))
    np.testing.assert_array_equal(value, np.stack([np.roll(r, s) for r, s in zip(data, shifts)]))
    assert _one("roll", window_length=-3, max_shift=5).halo_samples(FS) == 5


def test_broaden_spreads_each_peak_over_the_window_before_it():
    # forward-looking running maximum, as distpy's (distpy's maths: y[t] = max x[t .. t + L - 1])
    spikes = np.zeros((2, 100))
    spikes[0, 10] = 3.0
    spikes[1, 50] = 1.0
    spikes[1, 53] = 2.0
    value, _ = run_command({"name": "broaden", "window_length": 5}, make_chunk(spikes, FS))
    ref = np.stack([[r[t : t + 5].max() for t in range(100)] for r in spikes])
    np.testing.assert_array_equal(value, ref)
    assert value[0, 5] == 0.0 and value[0, 6:11].tolist() == [3.0] * 5 and value[0, 11] == 0.0
    assert value[1, 49:54].tolist() == [2.0] * 5 and value[1, 46:49].tolist() == [1.0] * 3
    assert _one("broaden").halo_samples(FS) == 49
