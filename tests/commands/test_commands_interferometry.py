"""Ambient-noise interferometry commands against analytic answers and plain numpy
written here: detrend, taper, whiten, one_bit, running_abs_mean, xcorr, dispersion."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from helpers import REPO, T0_NS, make_chunk, run_command, run_graph
from scipy.signal import windows

from raydas import commands
from raydas.errors import ConfigError, PlanError
from raydas.formats.base import RecordInfo
from raydas.pipeline import Pipeline

RNG = np.random.default_rng(2026)
FS = 200.0  # Hz


def _record(channels: int, samples: int, fs: float = FS) -> RecordInfo:
    return RecordInfo(
        path="memory://ambient/record.npy",
        format="test",
        n_channels=channels,
        n_samples=samples,
        dt=1.0 / fs,
        start_ns=T0_NS,
        positions=np.arange(channels) * 2.0,
    )


def _refusal(command: dict, channels: int = 8, samples: int = 2000, fs: float = FS) -> str:
    pipeline = Pipeline.from_config({"command_list": [dict(command, uid=1, in_uid=0)]})
    with pytest.raises(PlanError) as err:
        pipeline.check_record(_record(channels, samples, fs))
    assert "$.command_list[0]" in str(err.value) and err.value.path == "memory://ambient/record.npy"
    return str(err.value)


def _config_error(command: dict) -> str:
    with pytest.raises(ConfigError) as err:
        Pipeline.from_config({"command_list": [dict(command, uid=1, in_uid=0)]})
    assert "$.command_list[0]" in str(err.value)
    return str(err.value)


# --- detrend ----------------------------------------------------------------------------------------------------


def test_detrend_linear_against_a_least_squares_line():
    n = 301
    t = np.arange(n)
    x = (3.0 + 0.02 * t[None, :] * np.arange(1, 5)[:, None] + RNG.standard_normal((4, n))).astype(np.float32)
    got, _ = run_command({"name": "detrend", "type": "linear"}, make_chunk(x, FS))
    expected = np.empty_like(x, dtype=np.float64)
    for i, row in enumerate(x.astype(np.float64)):
        slope, intercept = np.polyfit(t, row, 1)
        expected[i] = row - (slope * t + intercept)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=2e-5)


def test_detrend_linear_removes_a_line_exactly_and_constant_the_mean():
    t = np.arange(500)
    line = np.stack([1.5 + 0.25 * t, -7.0 - 0.01 * t]).astype(np.float32)
    got, _ = run_command({"name": "detrend"}, make_chunk(line, FS))  # linear is the default
    np.testing.assert_allclose(got, 0.0, atol=1e-4)
    x = RNG.standard_normal((3, 100)).astype(np.float32) + 5.0
    got, _ = run_command({"name": "detrend", "type": "constant"}, make_chunk(x, FS))
    np.testing.assert_allclose(got, x - x.astype(np.float64).mean(axis=1, keepdims=True), atol=1e-6)


# --- taper ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.25, 0.5])
def test_taper_is_scipys_tukey_window(fraction):
    x = RNG.standard_normal((3, 400)).astype(np.float32)
    got, _ = run_command({"name": "taper", "fraction": fraction}, make_chunk(x, FS))
    np.testing.assert_allclose(got, x * windows.tukey(400, alpha=2 * fraction), rtol=1e-6, atol=1e-7)


def test_taper_capped_at_max_length_seconds():
    n, fs = 1000, 100.0
    x = np.ones((2, n), np.float32)
    got, _ = run_command({"name": "taper", "fraction": 0.4, "max_length": 0.5}, make_chunk(x, fs))
    m = 0.5 * fs  # 50 samples of ramp, not 0.4 * 999
    i = np.arange(n)
    edge = np.minimum(i, n - 1 - i)
    w = np.where(edge < m, 0.5 * (1 - np.cos(np.pi * edge / m)), 1.0)
    np.testing.assert_allclose(got[0], w, atol=1e-7)
    assert got[0, 0] == 0 and got[0, 50] == 1 and got[0, -1] == 0


def test_taper_refuses_a_fraction_beyond_half():
    assert "fraction" in _config_error({"name": "taper", "fraction": 0.6})


# --- whiten -----------------------------------------------------------------------------------------------------


def _coloured(channels: int, n: int) -> np.ndarray:
    """Red noise: strongly coloured spectrum, so that whitening has work to do."""
    white = RNG.standard_normal((channels, n))
    return np.cumsum(white, axis=1).astype(np.float32)


def test_whiten_gives_a_flat_amplitude_spectrum_inside_the_band():
    n = 2000
    x = _coloured(4, n)
    got, _ = run_command({"name": "whiten", "low_freq": 5.0, "high_freq": 40.0}, make_chunk(x, FS))
    amplitude = np.abs(np.fft.rfft(got.astype(np.float64), axis=1))
    f = np.fft.rfftfreq(n, 1 / FS)
    inside = (f >= 5.0) & (f <= 40.0)
    np.testing.assert_allclose(amplitude[:, inside], 1.0, rtol=1e-4)  # flat: every bin of the band at 1
    assert amplitude[:, ~inside].max() < 1e-4  # nothing outside
    assert np.abs(np.fft.rfft(x, axis=1)[:, inside]).std() > 10  # the input was far from flat


def test_whiten_cosine_ramps_outside_the_band():
    n = 2000
    x = _coloured(2, n)
    got, _ = run_command({"name": "whiten", "low_freq": 10.0, "high_freq": 30.0, "taper_hz": 4.0}, make_chunk(x, FS))
    amplitude = np.abs(np.fft.rfft(got.astype(np.float64), axis=1))
    f = np.fft.rfftfreq(n, 1 / FS)
    expected = np.zeros_like(f)
    expected[(f >= 10) & (f <= 30)] = 1.0
    lo = (f < 10) & (f > 6)
    hi = (f > 30) & (f < 34)
    expected[lo] = 0.5 * (1 + np.cos(np.pi * (10 - f[lo]) / 4))
    expected[hi] = 0.5 * (1 + np.cos(np.pi * (f[hi] - 30) / 4))
    np.testing.assert_allclose(amplitude, np.broadcast_to(expected, amplitude.shape), atol=1e-4)


def test_whiten_with_smoothing_against_plain_numpy():
    n, smooth = 1000, 1.0  # 1 Hz = 5 bins of 0.2 Hz
    x = _coloured(3, n)
    got, _ = run_command({"name": "whiten", "low_freq": 2.0, "high_freq": 50.0, "smooth_hz": smooth}, make_chunk(x, FS))
    X = np.fft.rfft(x.astype(np.float64), axis=1)
    f = np.fft.rfftfreq(n, 1 / FS)
    width = 5
    padded = np.pad(np.abs(X), ((0, 0), (width // 2, width // 2)), mode="edge")
    smoothed = np.stack([np.convolve(row, np.ones(width) / width, mode="valid") for row in padded])
    expected = np.fft.irfft(X / smoothed * ((f >= 2) & (f <= 50)), n=n, axis=1)
    np.testing.assert_allclose(got, expected, atol=1e-5 * np.abs(expected).max())


def test_whiten_refuses_a_band_beyond_nyquist_and_an_empty_band():
    assert "Nyquist" in _refusal({"name": "whiten", "low_freq": 10.0, "high_freq": 150.0})
    assert "low < high" in _config_error({"name": "whiten", "low_freq": 10.0, "high_freq": 5.0})


# --- temporal normalisation -------------------------------------------------------------------------------------


def test_one_bit_is_the_sign():
    x = RNG.standard_normal((3, 50)).astype(np.float32)
    x[0, :5] = 0.0
    got, _ = run_command({"name": "one_bit"}, make_chunk(x, FS))
    np.testing.assert_array_equal(got, np.sign(x))
    assert got.dtype == np.float32 and set(np.unique(got)) <= {-1.0, 0.0, 1.0}


def test_running_abs_mean_against_plain_numpy():
    x = (RNG.standard_normal((3, 600)) * np.linspace(0.1, 10, 600)).astype(np.float32)
    got, _ = run_command({"name": "running_abs_mean", "window": 0.1}, make_chunk(x, FS))
    width = 21  # 0.1 s at 200 Hz = 20 samples, made odd
    padded = np.pad(np.abs(x.astype(np.float64)), ((0, 0), (10, 10)), mode="edge")
    weight = np.stack([np.convolve(row, np.ones(width) / width, mode="valid") for row in padded])
    np.testing.assert_allclose(got, x / weight, rtol=1e-5)
    assert (
        Pipeline.from_config(
            {"command_list": [{"name": "running_abs_mean", "uid": 1, "in_uid": 0, "window": 0.1}]}
        ).halo_samples(FS)
        == 10
    )


def test_running_abs_mean_of_silence_is_zero_not_nan():
    got, _ = run_command({"name": "running_abs_mean", "window": 0.05}, make_chunk(np.zeros((2, 100)), FS))
    assert np.all(got == 0)


# --- xcorr ------------------------------------------------------------------------------------------------------

DELAYS = [0, 3, 7, -5, 12]  # samples by which each channel lags channel 0


def _delayed(n: int = 4000, delays=DELAYS) -> np.ndarray:
    """White noise s(t); channel k records s(t - delays[k]) (integer samples, no wrap)."""
    s = RNG.standard_normal(n + 200)
    return np.stack([s[100 - d : 100 - d + n] for d in delays]).astype(np.float32)


@pytest.mark.parametrize("method", ["cross-correlation", "coherence", "deconvolution"])
def test_xcorr_peaks_at_the_known_delays(method):
    x = _delayed()
    got, meta = run_command(
        {"name": "xcorr", "sources": [0], "max_lag_seconds": 0.1, "method": method}, make_chunk(x, FS, spacing=5.0)
    )
    lag = meta.coord("lag").values
    assert got.shape == (5, 41) and got.dtype == np.float32
    np.testing.assert_allclose(lag, np.arange(-20, 21) / FS)
    np.testing.assert_allclose(lag[np.argmax(got, axis=1)], np.array(DELAYS) / FS)
    # the peak stands out: a normalised correlation / coherence / deconvolution of the same noise is about 1
    np.testing.assert_allclose(got.max(axis=1), 1.0, atol=0.05)
    np.testing.assert_array_equal(meta.coord("source_channel").values, [0] * 5)
    np.testing.assert_array_equal(meta.coord("receiver_channel").values, np.arange(5))
    np.testing.assert_allclose(meta.coord("offset").values, np.arange(5) * 5.0)
    assert meta.coord("lag").units == "s" and meta.coord("offset").units == "m"


def test_xcorr_cross_correlation_is_numpys_correlate_over_n():
    x = RNG.standard_normal((3, 300)).astype(np.float32)
    got, _ = run_command({"name": "xcorr", "sources": [1], "max_lag_seconds": 0.25}, make_chunk(x, FS))
    lag = 50
    for j in range(3):
        full = np.correlate(x[j].astype(np.float64), x[1].astype(np.float64), mode="full")  # index k: lag k - 299
        expected = full[299 - lag : 299 + lag + 1] / 300
        np.testing.assert_allclose(got[j], expected, atol=1e-5)


def test_xcorr_all_pairs_within_a_channel_range():
    x = _delayed()
    got, meta = run_command(
        {"name": "xcorr", "channel_range": [1, 4], "max_lag_seconds": 0.1}, make_chunk(x, FS, spacing=2.0)
    )
    src = meta.coord("source_channel").values
    rec = meta.coord("receiver_channel").values
    assert list(zip(src, rec)) == [(1, 1), (1, 2), (1, 3), (2, 2), (2, 3), (3, 3)]
    lag = meta.coord("lag").values
    expected = [(DELAYS[r] - DELAYS[s]) / FS for s, r in zip(src, rec)]
    np.testing.assert_allclose(lag[np.argmax(got, axis=1)], expected)
    np.testing.assert_allclose(meta.coord("source_position").values, src * 2.0)
    np.testing.assert_allclose(meta.coord("receiver_position").values, rec * 2.0)


def test_xcorr_of_chunks_of_any_length_and_many_pairs_in_blocks(monkeypatch):
    from raydas.commands import interferometry

    x = RNG.standard_normal((6, 120)).astype(np.float32)
    whole, _ = run_command({"name": "xcorr", "max_lag_seconds": 0.5}, make_chunk(x, FS))
    monkeypatch.setattr(interferometry, "BLOCK_VALUES", 200)  # a few pairs per block
    blocked, _ = run_command({"name": "xcorr", "max_lag_seconds": 0.5}, make_chunk(x, FS))
    np.testing.assert_array_equal(blocked, whole)
    assert whole.shape == (21, 201)  # 6 x 7 / 2 pairs, lags -100..100 samples
    short, _ = run_command({"name": "xcorr", "sources": [0], "max_lag_seconds": 0.5}, make_chunk(x[:, :3], FS))
    # a 3-sample chunk correlates at lags -2..2 only; the other lags are zero (up to FFT rounding), never wrapped
    assert short.shape == (6, 201)
    assert np.abs(short[:, :98]).max() < 1e-6 and np.abs(short[:, 103:]).max() < 1e-6
    np.testing.assert_allclose(short[0, 100], np.sum(x[0, :3].astype(np.float64) ** 2) / 3, rtol=1e-5)


def test_xcorr_refuses_sources_and_ranges_outside_the_record():
    assert "at least 9 channels" in _refusal({"name": "xcorr", "sources": [0, 8]}, channels=8)
    assert "channel_range" in _refusal({"name": "xcorr", "channel_range": [8, 12]}, channels=8)
    assert "at least 9 channels" in _refusal({"name": "xcorr", "channel_range": [0, 9]}, channels=8)
    assert "under one sample" in _refusal({"name": "xcorr", "max_lag_seconds": 0.001}, fs=FS)
    assert "sources" in _config_error({"name": "xcorr", "sources": [-1]})
    assert "channel_range" in _config_error({"name": "xcorr", "channel_range": [5, 2]})
    assert "method" in _config_error({"name": "xcorr", "method": "phase"})


# --- dispersion -------------------------------------------------------------------------------------------------

V = 400.0  # m/s, the surface wave's velocity in the synthetics
DX = 4.0  # m
CHANNELS = 48
#: stated tolerance: the image's peak lies within 1 % of the true velocity at every frequency of the band
TOLERANCE = 0.01


def _ricker(t, f0=25.0):
    a = (np.pi * f0 * t) ** 2
    return (1 - 2 * a) * np.exp(-a)


DISPERSION = {"min_velocity": 200, "max_velocity": 800, "velocity_step": 2, "low_freq": 10.0, "high_freq": 60.0}


def test_dispersion_of_a_shot_gather_peaks_at_the_velocity():
    fs, n = 500.0, 1024
    t = np.arange(n) / fs
    gather = np.stack([_ricker(t - 0.2 - j * DX / V) for j in range(CHANNELS)]).astype(np.float32)
    image, meta = run_command(dict(DISPERSION, name="dispersion"), make_chunk(gather, fs, spacing=DX))
    velocity = meta.coord("velocity").values
    frequency = meta.coord("frequency").values
    np.testing.assert_allclose(velocity, np.arange(200, 801, 2))
    np.testing.assert_allclose(frequency, np.arange(21, 123) * fs / n)  # bins of 0.488 Hz from 10 to 60 Hz
    assert image.shape == (301, 102) and image.dtype == np.float32
    np.testing.assert_allclose(velocity[np.argmax(image, axis=0)], V, rtol=TOLERANCE)
    np.testing.assert_allclose(image.max(axis=0), 1.0)  # normalised per frequency


def test_dispersion_against_the_phase_shift_sum_written_out():
    fs, n = 100.0, 64
    x = RNG.standard_normal((5, n)).astype(np.float32)
    params = {"min_velocity": 100, "max_velocity": 300, "velocity_step": 50, "low_freq": 5.0, "high_freq": 20.0}
    image, meta = run_command(
        dict(params, name="dispersion", source_position=3.0, normalize=False), make_chunk(x, fs, spacing=2.0)
    )
    offsets = np.abs(np.arange(5) * 2.0 - 3.0)
    U = np.fft.rfft(x.astype(np.float64), axis=1)
    f = np.fft.rfftfreq(n, 1 / fs)
    band = np.nonzero((f >= 5) & (f <= 20))[0]
    for a, v in enumerate([100, 150, 200, 250, 300]):
        for b, k in enumerate(band):
            total = sum(U[j, k] / abs(U[j, k]) * np.exp(2j * np.pi * f[k] * offsets[j] / v) for j in range(5))
            assert image[a, b] == pytest.approx(abs(total) / 5, rel=1e-5)
    np.testing.assert_allclose(meta.coord("frequency").values, f[band])


@pytest.mark.parametrize("side", ["causal", "both"])
def test_virtual_shot_gather_from_noise_recovers_the_velocity(side):
    """Noise from one end travels along the fibre at V: correlating every channel
    with channel 0 gives a virtual shot gather whose dispersion image peaks at V."""
    fs, n = 500.0, 20000
    source = RNG.standard_normal(n + 2000)
    spectrum = np.fft.rfft(source)
    f = np.fft.rfftfreq(len(source), 1 / fs)
    # channel j records the noise delayed by j DX / V (fractional delays, applied exactly in frequency)
    record = np.stack(
        [
            np.fft.irfft(spectrum * np.exp(-2j * np.pi * f * j * DX / V), len(source))[1000 : 1000 + n]
            for j in range(CHANNELS)
        ]
    ).astype(np.float32)
    graph = [
        {"name": "xcorr", "uid": 1, "in_uid": 0, "sources": [0], "max_lag_seconds": 0.6},
        dict(DISPERSION, name="dispersion", uid=2, in_uid=1, side=side),
    ]
    gather, gather_meta = run_graph(graph, make_chunk(record, fs, spacing=DX), keep=1)
    lag = gather_meta.coord("lag").values
    moveout = lag[np.argmax(gather, axis=1)]  # the correlation peaks travel out at V
    np.testing.assert_allclose(moveout, np.arange(CHANNELS) * DX / V, atol=1.01 / fs)
    image, meta = run_graph(graph, make_chunk(record, fs, spacing=DX))
    velocity = meta.coord("velocity").values
    picked = velocity[np.argmax(image, axis=0)]
    np.testing.assert_allclose(picked, V, rtol=TOLERANCE)


def test_dispersion_refuses_bad_ranges():
    assert "max_velocity" in _config_error({"name": "dispersion", "min_velocity": 500, "max_velocity": 400})
    assert "low < high" in _config_error({"name": "dispersion", "low_freq": 20, "high_freq": 10})
    assert "Nyquist" in _refusal({"name": "dispersion", "low_freq": 10, "high_freq": 300})


def test_dispersion_needs_offsets():
    from raydas.commands.base import ArrayMeta, Context
    from raydas.commands.interferometry import Dispersion

    command = Dispersion(Dispersion.Params())
    with pytest.raises(ValueError, match="offsets"):
        command.apply(np, np.ones((3, 10), np.float32), Context(sample_rate=FS, meta=ArrayMeta()))


def test_write_npy_writes_the_lag_and_pair_coordinates(tmp_path):
    x = _delayed(500)
    graph = [
        {"name": "xcorr", "uid": 1, "in_uid": 0, "sources": [0], "max_lag_seconds": 0.05},
        {"name": "write_npy", "uid": 2, "in_uid": 1, "directory_out": "xcorr"},
    ]
    chunk = make_chunk(x, FS, spacing=5.0)
    value, _ = run_graph(graph, chunk, keep=1, out_dir=tmp_path)
    folder = tmp_path / "xcorr"
    np.testing.assert_array_equal(np.load(folder / f"{chunk.stem}.npy"), value)
    np.testing.assert_allclose(np.load(folder / "time.npy"), np.arange(-10, 11) / FS)  # lags, not 0..
    np.testing.assert_allclose(np.load(folder / "lag.npy"), np.arange(-10, 11) / FS)
    np.testing.assert_array_equal(np.load(folder / "receiver_channel.npy"), np.arange(5))
    np.testing.assert_allclose(np.load(folder / "offset.npy"), np.arange(5) * 5.0)
    # rows are pairs, not channels: measured_depth.npy holds row indices, as distpy writes for any array
    np.testing.assert_array_equal(np.load(folder / "measured_depth.npy").ravel(), np.arange(5))


@pytest.mark.parametrize("name", ["detrend", "taper", "whiten", "one_bit", "running_abs_mean", "xcorr", "dispersion"])
def test_every_key_is_documented_in_configs_readme(name):
    with open(f"{REPO}/configs/README.md") as fh:
        text = fh.read()
    sections = dict(re.findall(r"^### `(\w+)`\n(.*?)(?=^### |\Z)", text, flags=re.S | re.M))
    assert name in sections, f"configs/README.md has no section for {name}"
    documented = set(re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", sections[name], flags=re.M))
    cls = commands.get(name)
    expected = {(k, json.dumps(f.default)) for k, f in cls.Params.model_fields.items()}
    assert documented == expected, f"{name}: README keys/defaults {sorted(documented)} != {sorted(expected)}"
