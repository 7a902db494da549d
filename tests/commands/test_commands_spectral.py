"""Spectral and wavefield commands against analytic signals with known answers
or plain numpy written here; distpy's bugs fixed (each test says which)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import make_chunk, run_command, run_graph
from scipy import signal

RNG = np.random.default_rng(7)


def _fk(uid0: int = 0):
    """distpy's f-k recipe: fft along time, then fft along channels."""
    return [{"name": "fft", "uid": 1, "in_uid": uid0, "axis": 1}, {"name": "fft", "uid": 2, "in_uid": 1, "axis": 0}]


# --- fft / ifft in two dimensions ---------------------------------------------------------------


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_fk_spectrum_and_its_inverse_in_either_order(order):
    x = RNG.standard_normal((12, 99)).astype(np.float32)  # odd number of samples
    graph = _fk() + [
        {"name": "ifft", "uid": 3, "in_uid": 2, "axis": order[0]},
        {"name": "ifft", "uid": 4, "in_uid": 3, "axis": order[1]},
        {"name": "real", "uid": 5, "in_uid": 4},
    ]
    chunk = make_chunk(x, 500.0, spacing=4.0)
    spectrum, meta = run_graph(graph, chunk, keep=2)
    full = np.fft.fft2(x.astype(np.float64))
    np.testing.assert_allclose(spectrum, full, rtol=1e-4, atol=1e-3)
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
    graph = [
        {"name": "fft", "uid": 1, "in_uid": 0},
        {"name": "analytic_signal", "uid": 2, "in_uid": 1, "freq": fc, "window_length": 64},
        {"name": "ifft", "uid": 3, "in_uid": 2},
    ]
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
    graph = [
        {"name": "fft", "uid": 1, "in_uid": 0},
        {"name": "analytic_signal", "uid": 2, "in_uid": 1, "freq": 200.0, "window_length": 64},
        {"name": "ifft", "uid": 3, "in_uid": 2},
    ]
    z, _ = run_graph(graph, make_chunk(x, fs))
    assert np.abs(z).max() < 0.01  # 150 Hz away, far outside the ~31 Hz band


def test_analytic_signal_of_samples_says_to_fft_first():
    from raydas.errors import PipelineError

    with pytest.raises(PipelineError) as err:
        run_command({"name": "analytic_signal", "freq": 10.0}, make_chunk(np.ones((2, 100)), 100.0))
    assert "put fft" in str(err.value) and "$.command_list[0]" in str(err.value)


def test_analytic_signal_across_channels_with_more_channels_than_samples():
    # distpy's axis=0 only broadcast when channels == samples; wavenumber in cycles/m, spacing 2 m
    dx, nx, nt = 2.0, 64, 10
    k0 = 8 / (nx * dx)
    pos = np.arange(nx) * dx
    amplitude = 1.0 + np.arange(nt) / nt
    x = np.cos(2 * np.pi * k0 * pos)[:, None] * amplitude[None, :]
    graph = [
        {"name": "fft", "uid": 1, "in_uid": 0, "axis": 0},
        {"name": "analytic_signal", "uid": 2, "in_uid": 1, "freq": k0, "window_length": 16, "axis": 0},
        {"name": "ifft", "uid": 3, "in_uid": 2, "axis": 0},
    ]
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
    graph = [
        {"name": "fft", "uid": 1, "in_uid": 0},
        {"name": "deconvolve", "uid": 3, "in_uid": 1, "gather_uids": [1], "tolerance": 1e-9},
        {"name": "ifft", "uid": 4, "in_uid": 3},
    ]
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
    np.save(tmp_path / "filters" / "wavelet.npy", np.fft.fft(wavelet)[None, :].astype(np.complex64))
    graph = [
        {"name": "fft", "uid": 1, "in_uid": 0},
        {"name": "data_load", "uid": 2, "in_uid": 0, "directory_out": "filters", "filename": "wavelet.npy"},
        {"name": "deconvolve", "uid": 3, "in_uid": 1, "gather_uids": [2], "tolerance": 1e-9},
        {"name": "ifft", "uid": 4, "in_uid": 3},
    ]
    value, _ = run_graph(graph, make_chunk(trace, fs), out_dir=tmp_path)
    np.testing.assert_allclose(value, reflectivity, atol=1e-4)


def test_deconvolve_needs_gather_uids():
    from raydas.errors import ConfigError
    from raydas.pipeline import Pipeline

    with pytest.raises(ConfigError) as err:
        Pipeline.from_config(
            {"command_list": [{"name": "fft", "uid": 1, "in_uid": 0}, {"name": "deconvolve", "uid": 2, "in_uid": 1}]}
        )
    assert "$.command_list[1].gather_uids" in str(err.value)


def test_virtual_cmp_against_numpy():
    x = RNG.standard_normal((9, 64)).astype(np.float32)
    graph = [{"name": "fft", "uid": 1, "in_uid": 0}, {"name": "virtual_cmp", "uid": 2, "in_uid": 1}]
    value, _ = run_graph(graph, make_chunk(x, 1000.0))
    spec = np.fft.fft(x.astype(np.float64), axis=1)
    np.testing.assert_allclose(value, spec * np.conj(spec[::-1, :]), rtol=1e-4, atol=1e-3)
    along_time, _ = run_graph([graph[0], dict(graph[1], axis=1)], make_chunk(x, 1000.0))
    np.testing.assert_allclose(along_time, spec * np.conj(spec[:, ::-1]), rtol=1e-4, atol=1e-3)


# --- up_wave / down_wave ------------------------------------------------------------------------


def _two_waves(nx=32, dx=5.0, fs=400.0, nt=400):
    """A wave moving towards smaller positions (up) and one towards greater (down), both periodic in the chunk."""
    x = np.arange(nx)[:, None] * dx
    t = np.arange(nt)[None, :] / fs
    length = nx * dx
    up = np.cos(2 * np.pi * (8.0 * t + 2 * x / length))  # phase constant along x = -v t
    down = 0.7 * np.cos(2 * np.pi * (12.0 * t - 3 * x / length) + 0.4)  # x = +v t
    return up, down, fs, dx


@pytest.mark.parametrize("first_axis", [1, 0])
def test_up_and_down_waves_separate_and_reconstruct(first_axis):
    up, down, fs, dx = _two_waves()
    fk = [
        {"name": "fft", "uid": 1, "in_uid": 0, "axis": first_axis},
        {"name": "fft", "uid": 2, "in_uid": 1, "axis": 1 - first_axis},
    ]  # either order
    graph = fk + [{"name": "up_wave", "uid": 3, "in_uid": 2}, {"name": "down_wave", "uid": 4, "in_uid": 2}]
    chunk = make_chunk(up + down, fs, spacing=dx)
    got_up, meta = run_graph(graph, chunk, keep=3)
    got_down, _ = run_graph(graph, chunk, keep=4)
    np.testing.assert_allclose(got_up, up, atol=1e-4)
    np.testing.assert_allclose(got_down, down, atol=1e-4)
    np.testing.assert_allclose(got_up + got_down, up + down, atol=1e-4)
    assert np.abs(got_up - got_down).max() > 0.5  # distpy's down_wave was identical to up_wave
    # distpy's meaning: back from the full f-k spectrum as complex values, real here up to rounding
    assert got_up.dtype == np.complex64 and got_up.shape == up.shape
    assert np.abs(got_up.imag).max() < 1e-5
    np.testing.assert_allclose(meta.positions, np.arange(32) * dx)
    assert meta.dt == pytest.approx(1 / fs) and meta.spectra == ()


def test_up_and_down_add_up_on_noise():
    x = RNG.standard_normal((16, 101)).astype(np.float32)  # odd time, even channels: Nyquist lines shared
    graph = _fk() + [{"name": "up_wave", "uid": 3, "in_uid": 2}, {"name": "down_wave", "uid": 4, "in_uid": 2}]
    chunk = make_chunk(x, 250.0, spacing=1.0)
    got_up, _ = run_graph(graph, chunk, keep=3)
    got_down, _ = run_graph(graph, chunk, keep=4)
    np.testing.assert_allclose(got_up + got_down, x, atol=1e-5)
    # plain numpy reference: keep k*f > 0, half of the k = 0, f = 0 and Nyquist lines
    spec = np.fft.fft2(x.astype(np.float64))
    k = np.fft.fftfreq(16)[:, None]
    f = np.fft.fftfreq(101)[None, :]
    sk = np.where(np.isclose(np.abs(k), 0.5), 0, np.sign(k))
    weight = np.where(sk * np.sign(f) > 0, 1.0, np.where(sk * np.sign(f) == 0, 0.5, 0.0))
    np.testing.assert_allclose(got_up, np.fft.ifft2(spec * weight).real, atol=1e-5)


def test_up_wave_follows_decreasing_positions():
    up, down, fs, dx = _two_waves()
    # channels numbered from the bottom: positions decrease with index, so "up" is towards greater index
    chunk = make_chunk(up + down, fs, spacing=-dx)
    got_up, _ = run_graph(_fk() + [{"name": "up_wave", "uid": 3, "in_uid": 2}], chunk)
    np.testing.assert_allclose(got_up, down, atol=1e-4)


# --- velocity_map / velocity_mask ---------------------------------------------------------------


def test_velocity_map_uses_exact_fft_bins():
    nx, nt, dx, fs = 20, 50, 4.0, 100.0
    value, meta = run_graph(
        _fk() + [{"name": "velocity_map", "uid": 3, "in_uid": 2}], make_chunk(np.zeros((nx, nt)), fs, spacing=dx)
    )
    f = np.fft.fftfreq(nt, 1 / fs)  # 0, 2, 4, ... Hz, then the negative frequencies
    k = np.fft.fftfreq(nx, dx)  # 0, 1/80, 2/80, ... cycles/m
    assert value.shape == (nx, nt) and value.dtype == np.float32
    assert value[1, 5] == pytest.approx(10.0 / (1 / 80))  # 10 Hz over 1/80 cycles/m = 800 m/s
    assert value[-3, 7] == pytest.approx(14.0 / (3 / 80))
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(value[1:], np.abs(f[None, :]) / np.abs(k[1:, None]), rtol=1e-6)
    assert np.all(np.isinf(value[0]))  # k = 0: every channel at once
    assert meta.spectrum(0) is not None  # still on the f-k grid, for multiply


def test_velocity_filter_as_in_distpy_configs_keeps_one_velocity():
    # distpy's autodescribe flow:
    # fft(1) -> fft(0) -> velocity_map -> velocity_mask -> multiply -> ifft(0) -> ifft(1) -> real
    nx, dx, fs = 50, 6.0, 1000.0
    x = np.arange(nx)[:, None] * dx
    t = np.arange(1000)[None, :] / fs
    fast = np.cos(2 * np.pi * (5.0 * t - x / 300.0))  # 5 Hz at k = 1/300 cycles/m: 1500 m/s
    slow = np.cos(2 * np.pi * (10.0 * t - x / 30.0))  # 300 m/s
    graph = _fk() + [
        {"name": "velocity_map", "uid": 3, "in_uid": 2},
        {"name": "velocity_mask", "uid": 4, "in_uid": 3, "min_velocity": 1400, "max_velocity": 1600},
        {"name": "multiply", "uid": 5, "in_uid": 2, "gather_uids": [4]},
        {"name": "ifft", "uid": 6, "in_uid": 5, "axis": 0},
        {"name": "ifft", "uid": 7, "in_uid": 6, "axis": 1},
        {"name": "real", "uid": 8, "in_uid": 7},
    ]
    value, meta = run_graph(graph, make_chunk(fast + slow, fs, spacing=dx))
    np.testing.assert_allclose(value, fast, atol=1e-4)
    np.testing.assert_allclose(meta.positions, x[:, 0])


def test_velocity_mask_bounds_and_smoothing():
    speeds = np.array([[100.0, 1400.0, 1400.5, 1500.0, 1600.0, 1600.5, np.inf] * 6] * 3)
    mask, _ = run_command({"name": "velocity_mask"}, make_chunk(speeds, 1000.0))
    np.testing.assert_array_equal(mask[0, :7], [0, 0, 1, 1, 1, 0, 0])  # (min, max]
    smooth, _ = run_command({"name": "velocity_mask", "smooth": 4}, make_chunk(speeds, 1000.0))
    hard = ((speeds > 1400) & (speeds <= 1600)).astype(float)
    b, a = signal.butter(5, 1 / 4, "low")
    np.testing.assert_allclose(smooth, np.abs(signal.filtfilt(b, a, hard, axis=1, padtype="even")), atol=1e-5)
    assert 0 < smooth[0, 1] < 1  # edges softened


# --- data_load ----------------------------------------------------------------------------------


def test_data_load_reads_a_stored_mask(tmp_path):
    (tmp_path / "masks").mkdir()
    mask = RNG.random((4, 33))
    np.save(tmp_path / "masks" / "fk.npy", mask)
    value, _ = run_command(
        {"name": "data_load", "directory_out": "masks", "filename": "fk"},
        make_chunk(np.zeros((4, 64)), 1000.0),
        out_dir=tmp_path,
    )
    np.testing.assert_allclose(value, mask, rtol=1e-6)
    assert value.dtype == np.float32


@pytest.mark.parametrize(
    "where",
    [
        {"directory_out": "../outside", "filename": "m.npy"},
        {"directory_out": "masks", "filename": "../../m.npy"},
        {"directory_out": "/etc", "filename": "m.npy"},
    ],
)
def test_data_load_stays_inside_the_results_root(where):
    from raydas.errors import ConfigError
    from raydas.pipeline import Pipeline

    with pytest.raises(ConfigError) as err:
        Pipeline.from_config({"command_list": [dict(where, name="data_load", uid=1, in_uid=0)]})
    assert "$.command_list[0]" in str(err.value)


def test_data_load_missing_file_names_it(tmp_path):
    from raydas.errors import PipelineError

    with pytest.raises(PipelineError) as err:
        run_command(
            {"name": "data_load", "directory_out": "masks", "filename": "nothere.npy"},
            make_chunk(np.zeros((2, 8)), 100.0),
            out_dir=tmp_path,
        )
    assert "nothere.npy" in str(err.value) and "not found" in str(err.value)


def test_data_load_refuses_pickles(tmp_path):
    from raydas.errors import PipelineError

    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(PipelineError) as err:
        run_command(
            {"name": "data_load", "directory_out": ".", "filename": "obj.npy"},
            make_chunk(np.zeros((2, 8)), 100.0),
            out_dir=tmp_path,
        )
    assert "obj.npy" in str(err.value)


def test_transforms_across_channels_keep_the_halo():
    # along channels the spectral commands are time-local: a butter after them still sees whole-record context
    import helpers
    from scipy import signal as sig

    from raydas.pipeline import Pipeline

    fs, n = 500.0, 2000
    record = RNG.standard_normal((16, n))
    graph = [
        {"name": "fft", "uid": 1, "in_uid": 0, "axis": 0},
        {"name": "virtual_cmp", "uid": 2, "in_uid": 1, "axis": 0},
        {"name": "ifft", "uid": 3, "in_uid": 2, "axis": 0},
        {"name": "real", "uid": 4, "in_uid": 3},
        {"name": "butter", "uid": 5, "in_uid": 4, "freq": 40.0, "order": 4},
        {"name": "_test_keep", "uid": 6, "in_uid": 5},
    ]
    pipeline = Pipeline.from_config({"command_list": graph})
    halo = pipeline.halo_samples(fs)
    assert 0 < halo < 500
    pieces = []
    for start in range(0, n, 500):
        lo, hi = max(0, start - halo), min(n, start + 500 + halo)
        pipeline.run(make_chunk(record[:, lo:hi], fs, halo=(start - lo, hi - start - 500)), np)
        pieces.append(helpers._KEPT["value"])
    stitched = np.concatenate(pieces, axis=1)
    spec = np.fft.fft(record, axis=0)
    product = spec * np.conj(spec[::-1])  # virtual_cmp on the full channel spectrum, as distpy
    before_butter = np.fft.ifft(product, axis=0).real
    reference = sig.sosfiltfilt(sig.butter(4, 40.0 / (fs / 2), output="sos"), before_butter, axis=1, padtype="even")
    away = slice(halo, n - halo)
    assert np.abs(stitched[:, away] - reference[:, away]).max() < 1e-4 * np.abs(reference).max()
