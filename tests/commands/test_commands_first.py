"""The foundation's commands, each against an independent numpy/scipy reference
or an analytic signal; distpy's known bugs fixed (each test fails on distpy's behaviour)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import make_chunk, run_command, run_graph
from scipy import signal

from raydas.formats.witsml import parse_fbe

FS = 1000.0
RNG = np.random.default_rng(42)
NOISE = RNG.standard_normal((8, 1000)).astype(np.float32)


def test_fft_is_distpys_full_spectrum():
    value, meta = run_command({"name": "fft"}, make_chunk(NOISE, FS))
    np.testing.assert_allclose(value, np.fft.fft(NOISE.astype(np.float64), axis=1), rtol=1e-4, atol=1e-3)
    assert value.dtype == np.complex64
    assert meta.spectrum(1).n == 1000 and not meta.spectrum(1).onesided


def test_fft_along_channels():
    value, _ = run_command({"name": "fft", "axis": 0}, make_chunk(NOISE, FS))
    np.testing.assert_allclose(value, np.fft.fft(NOISE.astype(np.float64), axis=0), rtol=1e-4, atol=1e-3)


def test_ifft_inverts_fft():
    # distpy's meaning: the inverse of the full spectrum is complex, its imaginary part zero for real data
    graph = [{"name": "fft", "uid": 1, "in_uid": 0}, {"name": "ifft", "uid": 2, "in_uid": 1}]
    value, meta = run_graph(graph, make_chunk(NOISE[:, :999], FS))  # odd length too
    np.testing.assert_allclose(value.real, NOISE[:, :999], atol=1e-5)
    np.testing.assert_allclose(value.imag, 0.0, atol=1e-5)
    assert value.dtype == np.complex64 and meta.dt == pytest.approx(1 / FS)


def _rms_graph(lo, hi):
    return [
        {"name": "fft", "uid": 1, "in_uid": 0},
        {"name": "rms_from_fft", "uid": 2, "in_uid": 1, "low_freq": lo, "high_freq": hi},
    ]


def test_rms_0_to_nyquist_equals_time_domain_rms():
    value, _ = run_graph(_rms_graph(0, -1), make_chunk(NOISE, FS))
    reference = np.sqrt(np.mean(NOISE.astype(np.float64) ** 2, axis=1))
    np.testing.assert_allclose(value[:, 0], reference, rtol=1e-5)
    assert value.shape == (8, 1)


def test_rms_of_a_tone_in_and_out_of_band():
    t = np.arange(2000) / FS
    tone = np.vstack([a * np.sin(2 * np.pi * 123.0 * t) for a in (1.0, 2.0, 0.5)])
    inside, _ = run_graph(_rms_graph(100, 150), make_chunk(tone, FS))
    outside, _ = run_graph(_rms_graph(150, 400), make_chunk(tone, FS))
    np.testing.assert_allclose(inside[:, 0], np.array([1.0, 2.0, 0.5]) / np.sqrt(2), rtol=1e-4)
    assert np.all(outside[:, 0] < 1e-4)


def test_rms_band_matches_plain_fft_mask():
    lo, hi = 37.0, 211.0
    value, _ = run_graph(_rms_graph(lo, hi), make_chunk(NOISE, FS))
    n = NOISE.shape[1]
    spec = np.fft.fft(NOISE.astype(np.float64), axis=1)
    freqs = np.abs(np.fft.fftfreq(n, 1 / FS))
    k = np.abs(np.round(np.fft.fftfreq(n) * n))  # |bin index|
    mask = (k >= int(lo * n / FS)) & (k < int(hi * n / FS))
    band = np.fft.ifft(spec * mask, axis=1).real
    np.testing.assert_allclose(value[:, 0], np.sqrt(np.mean(band**2, axis=1)), rtol=1e-4)
    assert freqs is not None


def test_rms_does_not_depend_on_the_number_of_channels():
    # distpy divided by 2*(rows-1) of its memory block: one channel alone gave inf, 1000 channels 10x
    one, _ = run_graph(_rms_graph(0, -1), make_chunk(NOISE[:1], FS))
    many, _ = run_graph(_rms_graph(0, -1), make_chunk(np.tile(NOISE[:1], (700, 1)), FS))
    assert np.isfinite(one[0, 0])
    np.testing.assert_allclose(many[:, 0], one[0, 0], rtol=1e-6)


def test_multiple_calcs_band_energies():
    lows, highs = [0, 50, 200], [50, 200, -1]
    graph = [
        {"name": "fft", "uid": 1, "in_uid": 0},
        {"name": "multiple_calcs", "uid": 2, "in_uid": 1, "func": "te_from_fft", "low_freq": lows, "high_freq": highs},
        {"name": "multiple_calcs", "uid": 3, "in_uid": 1, "func": "rms_from_fft", "low_freq": lows, "high_freq": highs},
    ]
    chunk = make_chunk(NOISE, FS)
    te, _ = run_graph(graph, chunk, keep=2)
    rms, _ = run_graph(graph, chunk, keep=3)
    x = NOISE.astype(np.float64)
    n = x.shape[1]
    p = np.abs(np.fft.fft(x, axis=1)) ** 2  # full two-sided power, written plainly
    for j, (lo, hi) in enumerate(zip(lows, highs)):
        i1 = int(lo * n / FS)
        i2 = n // 2 + 1 if hi < 0 else int(hi * n / FS)
        ks = np.arange(i1, i2)
        mirror = [n - k for k in ks if 0 < k < n - k]
        expected = p[:, ks].sum(axis=1) + p[:, mirror].sum(axis=1)
        np.testing.assert_allclose(te[:, j], expected, rtol=1e-5)
        np.testing.assert_allclose(rms[:, j], np.sqrt(expected) / n, rtol=1e-5)
    # the bands tile 0..Nyquist, so their energies add up to the total (Parseval)
    np.testing.assert_allclose(te.sum(axis=1), n * (x**2).sum(axis=1), rtol=1e-5)


def test_abs_and_real():
    graph = [
        {"name": "fft", "uid": 1, "in_uid": 0},
        {"name": "abs", "uid": 2, "in_uid": 1},
        {"name": "real", "uid": 3, "in_uid": 1},
    ]
    chunk = make_chunk(NOISE, FS)
    spectrum = np.fft.fft(NOISE.astype(np.float64), axis=1)
    mag, _ = run_graph(graph, chunk, keep=2)
    re, _ = run_graph(graph, chunk, keep=3)
    np.testing.assert_allclose(mag, np.abs(spectrum), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(re, spectrum.real, rtol=1e-4, atol=1e-3)
    signed, _ = run_command({"name": "abs"}, make_chunk(NOISE, FS))
    np.testing.assert_array_equal(signed, np.abs(NOISE))


@pytest.mark.parametrize("btype,freq", [("lowpass", 100.0), ("highpass", 20.0), ("bandpass", [30.0, 120.0])])
def test_butter_along_time_matches_filtfilt(btype, freq):
    value, _ = run_command({"name": "butter", "type": btype, "freq": freq, "order": 4}, make_chunk(NOISE, FS))
    wn = np.asarray(freq) / (FS / 2)
    b, a = signal.butter(4, wn, btype=btype)
    reference = signal.filtfilt(b, a, NOISE.astype(np.float64), axis=1, padtype="even")
    interior = slice(200, 800)  # the two differ only in edge padding
    np.testing.assert_allclose(value[:, interior], reference[:, interior], atol=2e-4)


def test_butter_across_channels_uses_the_spatial_nyquist():
    dx = 2.0  # m; spatial Nyquist = 1/(2 dx) = 0.25 cycles/m
    x = RNG.standard_normal((400, 20)).astype(np.float32)
    value, _ = run_command({"name": "butter", "axis": 0, "freq": 0.05, "order": 4}, make_chunk(x, FS, spacing=dx))
    b, a = signal.butter(4, 0.05 / (1 / (2 * dx)))  # Wn = 0.2; distpy used freq/(dx/2) = 0.05 here
    reference = signal.filtfilt(b, a, x.astype(np.float64), axis=0)
    np.testing.assert_allclose(value[100:300], reference[100:300], atol=2e-4)
    b_distpy, a_distpy = signal.butter(4, 0.05 / (dx / 2))
    distpy = signal.filtfilt(b_distpy, a_distpy, x.astype(np.float64), axis=0)
    assert np.abs(value[100:300] - distpy[100:300]).max() > 0.1


def test_butter_rejects_cutoff_above_nyquist():
    from raydas.errors import ConfigError
    from raydas.pipeline import Pipeline

    pipeline = Pipeline.from_config({"command_list": [{"name": "butter", "uid": 1, "in_uid": 0, "freq": 600}]})
    with pytest.raises(ConfigError) as err:
        pipeline.halo_samples(1000.0)
    assert "$.command_list[0]" in str(err.value) and "Nyquist" in str(err.value)


def _moving_mean(x, w):
    """Centred moving mean with reflected edges, written plainly with cumulative sums."""
    left = w // 2
    right = w - 1 - left
    padded = np.concatenate([x[:, left - 1 :: -1] if left else x[:, :0], x, x[:, : -right - 1 : -1]], axis=1)
    c = np.cumsum(np.concatenate([np.zeros((x.shape[0], 1)), padded], axis=1), axis=1)
    return (c[:, w:] - c[:, :-w]) / w


def test_sta_lta_against_moving_means():
    x = np.abs(NOISE.astype(np.float64)) + 0.1
    value, _ = run_command({"name": "sta_lta", "sta": 10, "lta": 50}, make_chunk(x, FS))
    reference = _moving_mean(x, 10) / _moving_mean(x, 50)
    np.testing.assert_allclose(value, reference, rtol=1e-4)


def test_sta_lta_is_one_on_constant_input():
    value, _ = run_command({"name": "sta_lta"}, make_chunk(np.full((3, 1000), 2.0), FS))
    np.testing.assert_allclose(value, 1.0, rtol=1e-6)  # distpy gave lta/sta = 4.0


def test_mean_and_downsample():
    value, _ = run_command({"name": "mean"}, make_chunk(NOISE, FS))
    np.testing.assert_allclose(value[:, 0], NOISE.astype(np.float64).mean(axis=1), atol=1e-6)
    across, _ = run_command({"name": "mean", "axis": 0}, make_chunk(NOISE, FS))
    np.testing.assert_allclose(across[0], NOISE.astype(np.float64).mean(axis=0), atol=1e-6)
    small, meta = run_command({"name": "downsample", "xsample": 3, "tsample": 4}, make_chunk(NOISE, FS, spacing=2.0))
    np.testing.assert_array_equal(small, NOISE[::3, ::4])
    np.testing.assert_allclose(meta.positions, np.arange(8)[::3] * 2.0)
    assert meta.dt == pytest.approx(4 / FS)


def test_placement_commands_pass_data_through():
    graph = [{"name": "to_gpu", "uid": 1, "in_uid": 0}, {"name": "from_gpu", "uid": 2, "in_uid": 1}]
    value, _ = run_graph(graph, make_chunk(NOISE, FS))
    np.testing.assert_array_equal(value, NOISE)


def test_write_npy(tmp_path):
    chunk = make_chunk(NOISE, FS, spacing=1.5, halo=(100, 50))
    run_command({"name": "write_npy", "directory_out": "npy"}, chunk, out_dir=tmp_path)
    stored = np.load(tmp_path / "npy" / f"{chunk.stem}.npy")
    np.testing.assert_array_equal(stored, NOISE[:, 100:950])  # halo trimmed
    np.testing.assert_allclose(np.load(tmp_path / "npy" / "measured_depth.npy")[:, 0], np.arange(8) * 1.5)


def test_write_witsml_distpy_curves(tmp_path):
    lows, highs = [10, 100], [100, -1]
    graph = [
        {"name": "fft", "uid": 1, "in_uid": 0},
        {"name": "rms_from_fft", "uid": 2, "in_uid": 1},
        {"name": "multiple_calcs", "uid": 3, "in_uid": 1, "func": "rms_from_fft", "low_freq": lows, "high_freq": highs},
        {
            "name": "write_witsml",
            "uid": 4,
            "in_uid": 3,
            "gather_uids": [2],
            "directory_out": "fbe",
            "low_freq": lows,
            "high_freq": highs,
            "data_style": "Test",
        },
    ]
    chunk = make_chunk(NOISE, FS, spacing=2.0)
    bands, _ = run_graph(graph, chunk, keep=3, out_dir=tmp_path)
    total, _ = run_graph(graph, chunk, keep=2, out_dir=tmp_path)
    payload = (tmp_path / "fbe" / f"{chunk.stem}.fbe").read_bytes()
    time_ns, curves, depth, values = parse_fbe(payload)
    assert curves == ["band_0-nyquist", "band_01_10-100", "band_02_100--1"]
    assert time_ns == chunk.start_ns
    np.testing.assert_allclose(depth, np.arange(8) * 2.0)
    np.testing.assert_allclose(values[:, 0], total[:, 0], rtol=1e-6)
    np.testing.assert_allclose(values[:, 1:], bands, rtol=1e-6)
    assert b"WITSMLComposite" in payload and b'version="1.3.1.1"' in payload


def test_thumbnail_writes_an_image(tmp_path):
    chunk = make_chunk(NOISE, FS)
    value, _ = run_command({"name": "thumbnail", "directory_out": "png", "dpi": 30}, chunk, out_dir=tmp_path)
    image = (tmp_path / "png" / f"{chunk.stem}.png").read_bytes()
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
    np.testing.assert_array_equal(value, NOISE)  # passes its input on
