"""Spectral and wavefield commands against analytic signals with known answers
or plain numpy written here; distpy's bugs fixed (each test says which)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from helpers import make_chunk, run_command, run_graph

RNG = np.random.default_rng(7)


def _fk(uid0: int = 0):
    """distpy's f-k recipe: fft along time, then fft along channels."""
    return [{"name": "fft", "uid": 1, "in_uid": uid0, "axis": 1},
            {"name": "fft", "uid": 2, "in_uid": 1, "axis": 0}]


# --- fft / ifft in two dimensions ---------------------------------------------------------------

@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_fk_spectrum_and_its_inverse_in_either_order(order):
    x = RNG.standard_normal((12, 99)).astype(np.float32)  # odd number of samples
    graph = _fk() + [{"name": "ifft", "uid": 3, "in_uid": 2, "axis": order[0]},
                     {"name": "ifft", "uid": 4, "in_uid": 3, "axis": order[1]},
                     {"name": "real", "uid": 5, "in_uid": 4}]
    chunk = make_chunk(x, 500.0, spacing=4.0)
    spectrum, meta = run_graph(graph, chunk, keep=2)
    full = np.fft.fft2(x.astype(np.float64))
    np.testing.assert_allclose(spectrum, full[:, : 99 // 2 + 1], rtol=1e-4, atol=1e-3)
    assert meta.spectrum(0).d == 4.0 and meta.spectrum(1).d == pytest.approx(1 / 500.0)
    back, back_meta = run_graph(graph, chunk, keep=5)
    np.testing.assert_allclose(back, x, atol=1e-5)
    np.testing.assert_allclose(back_meta.positions, np.arange(12) * 4.0)  # restored after ifft across channels
    assert back_meta.dt == pytest.approx(1 / 500.0)


# --- analytic_signal ----------------------------------------------------------------------------

def test_analytic_signal_of_a_sinusoid_gives_its_envelope_and_phase():
    fs, fc = 1000.0, 50.0
    t = np.arange(1000) / fs
    amplitude = np.array([1.0, 2.5, 0.3])[:, None]
    phase0 = np.array([0.0, 1.0, -2.0])[:, None]
    x = amplitude * np.cos(2 * np.pi * fc * t + phase0)
    graph = [{"name": "fft", "uid": 1, "in_uid": 0},
             {"name": "analytic_signal", "uid": 2, "in_uid": 1, "freq": fc, "window_length": 64},
             {"name": "ifft", "uid": 3, "in_uid": 2}]
    z, meta = run_graph(graph, make_chunk(x, fs, spacing=3.0))  # channel spacing 3 m: distpy's "fs"
    assert np.iscomplexobj(z) and z.shape == x.shape
    np.testing.assert_allclose(np.abs(z), np.broadcast_to(amplitude, x.shape), rtol=2e-3)
    expected = 2 * np.pi * fc * t + phase0
    assert np.abs(np.angle(z * np.exp(-1j * expected))).max() < 2e-3
    assert meta.dt == pytest.approx(1 / fs)


def test_analytic_signal_rejects_a_frequency_outside_its_band():
    fs = 1000.0
    t = np.arange(1000) / fs
    x = np.cos(2 * np.pi * 50.0 * t)[None, :].repeat(2, axis=0)
    graph = [{"name": "fft", "uid": 1, "in_uid": 0},
             {"name": "analytic_signal", "uid": 2, "in_uid": 1, "freq": 200.0, "window_length": 64},
             {"name": "ifft", "uid": 3, "in_uid": 2}]
    z, _ = run_graph(graph, make_chunk(x, fs))
    assert np.abs(z).max() < 0.01  # 150 Hz away, far outside the ~31 Hz band


def test_analytic_signal_across_channels_with_more_channels_than_samples():
    # distpy's axis=0 only broadcast when channels == samples; wavenumber in cycles/m, spacing 2 m
    dx, nx, nt = 2.0, 64, 10
    k0 = 8 / (nx * dx)
    pos = np.arange(nx) * dx
    amplitude = 1.0 + np.arange(nt) / nt
    x = np.cos(2 * np.pi * k0 * pos)[:, None] * amplitude[None, :]
    graph = [{"name": "fft", "uid": 1, "in_uid": 0, "axis": 0},
             {"name": "analytic_signal", "uid": 2, "in_uid": 1, "freq": k0, "window_length": 16, "axis": 0},
             {"name": "ifft", "uid": 3, "in_uid": 2, "axis": 0}]
    z, meta = run_graph(graph, make_chunk(x, 100.0, spacing=dx))
    assert z.shape == (nx, nt)
    np.testing.assert_allclose(np.abs(z), np.broadcast_to(amplitude, (nx, nt)), rtol=5e-3)
    np.testing.assert_allclose(meta.positions, pos)


# --- deconvolve and virtual_cmp -----------------------------------------------------------------

def test_deconvolve_recovers_the_reflectivity_of_a_convolution():
    nt, fs = 256, 1000.0
    wavelet = np.zeros(nt)
    wavelet[:5] = [1.0, 0.6, -0.3, 0.1, 0.05]
    reflectivity = np.zeros((3, nt))
    reflectivity[0, 40], reflectivity[1, 100], reflectivity[2, [30, 200]] = 1.0, -0.5, [0.7, 0.2]
    trace = np.real(np.fft.ifft(np.fft.fft(reflectivity, axis=1) * np.fft.fft(wavelet), axis=1))
    data = np.vstack([trace, np.tile(wavelet, (3, 1))])  # rows 3..5: the wavelet, as a "source" record
    graph = [{"name": "fft", "uid": 1, "in_uid": 0},
             {"name": "deconvolve", "uid": 3, "in_uid": 1, "gather_uids": [1], "tolerance": 1e-9},
             {"name": "ifft", "uid": 4, "in_uid": 3}]
    # deconvolving the record by itself gives a spike at lag 0 on every trace
    spikes, _ = run_graph(graph, make_chunk(data, fs))
    expected = np.zeros((6, nt))
    expected[:, 0] = 1.0
    np.testing.assert_allclose(spikes, expected, atol=1e-4)


def test_deconvolve_by_a_gathered_wavelet(tmp_path):
    # the wavelet's spectrum is a stored filter (data_load), gathered into deconvolve
    nt, fs = 128, 500.0
    wavelet = np.zeros(nt)
    wavelet[:3] = [1.0, 0.5, 0.25]
    reflectivity = np.zeros((2, nt))
    reflectivity[0, 10], reflectivity[1, 70] = 1.0, -2.0
    trace = np.real(np.fft.ifft(np.fft.fft(reflectivity, axis=1) * np.fft.fft(wavelet), axis=1))
    (tmp_path / "filters").mkdir()
    np.save(tmp_path / "filters" / "wavelet.npy", np.fft.rfft(wavelet)[None, :].astype(np.complex64))
    graph = [{"name": "fft", "uid": 1, "in_uid": 0},
             {"name": "data_load", "uid": 2, "in_uid": 0, "directory_out": "filters", "filename": "wavelet.npy"},
             {"name": "deconvolve", "uid": 3, "in_uid": 1, "gather_uids": [2], "tolerance": 1e-9},
             {"name": "ifft", "uid": 4, "in_uid": 3}]
    value, _ = run_graph(graph, make_chunk(trace, fs), out_dir=tmp_path)
    np.testing.assert_allclose(value, reflectivity, atol=1e-4)


def test_deconvolve_needs_gather_uids():
    from raydas.errors import ConfigError
    from raydas.pipeline import Pipeline

    with pytest.raises(ConfigError) as err:
        Pipeline.from_config({"command_list": [{"name": "fft", "uid": 1, "in_uid": 0},
                                               {"name": "deconvolve", "uid": 2, "in_uid": 1}]})
    assert "$.command_list[1].gather_uids" in str(err.value)


def test_virtual_cmp_against_numpy():
    x = RNG.standard_normal((9, 64)).astype(np.float32)
    graph = [{"name": "fft", "uid": 1, "in_uid": 0}, {"name": "virtual_cmp", "uid": 2, "in_uid": 1}]
    value, _ = run_graph(graph, make_chunk(x, 1000.0))
    spec = np.fft.rfft(x.astype(np.float64), axis=1)
    np.testing.assert_allclose(value, spec * np.conj(spec[::-1, :]), rtol=1e-4, atol=1e-3)
    along_time, _ = run_graph([graph[0], dict(graph[1], axis=1)], make_chunk(x, 1000.0))
    np.testing.assert_allclose(along_time, spec * np.conj(spec[:, ::-1]), rtol=1e-4, atol=1e-3)
