"""raydas side by side with distpy 1.32.3 on the same chunk.

distpy runs in its own cached Python 3.8 environment (benchmarks/distpy_env.py;
the first run builds it in well under a minute from the package index, later
runs reuse it). Every distpy command name (reference section 1.2) has a row
in CASES:

* where distpy is right, raydas must agree to float32 rounding (``same``);
* where distpy is wrong (reference sections 1 and 5.3), the test asserts the
  DOCUMENTED difference, e.g. distpy's sta_lta equals raydas's times lta/sta.

A row whose raydas command(s) are not registered yet is skipped, naming them,
so it starts checking as soon as that command lands. All distpy runs go
through ONE process of the distpy environment (a module fixture).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from helpers import T0_NS, make_chunk, run_graph

from raydas import commands
from raydas.formats.witsml import parse_fbe

pytestmark = pytest.mark.slow

NX, NT, FS, DX = 32, 256, 1000.0, 5.0  # channels, samples, Hz, m
STEM = str(T0_NS // 1_000_000_000)  # the distpy runner names its chunk 1700000000 as well


# --- chunks ---------------------------------------------------------------------------
def _datasets() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    i = np.arange(NX)[:, None]
    j = np.arange(NT)[None, :]
    noise = rng.standard_normal((NX, NT))
    gain = 1.0 + 0.5 * np.sin(i / 5.0)
    # tones on exact FFT bins 7, 40, 90 (27.3, 156.3, 351.6 Hz) plus a DC offset: no energy at band edges
    tones = gain * (
        0.3
        + np.cos(2 * np.pi * 7 * j / NT)
        + 0.5 * np.sin(2 * np.pi * 40 * j / NT + 0.3)
        + 0.25 * np.cos(2 * np.pi * 90 * j / NT + 1.0)
    )
    up = np.cos(2 * np.pi * (3 * i / NX + 20 * j / NT))  # moves to smaller channel numbers as time goes on
    down = 0.7 * np.cos(2 * np.pi * (5 * i / NX - 33 * j / NT))
    levels = np.repeat([0.0, 5.0, 10.0], [10, 12, 10])[:, None]
    return {
        "noise": noise,
        "positive": np.abs(noise) + 0.5,
        "tones": tones,
        "waves": up + down,
        "waves_up": up,
        "waves_down": down,
        "phase": np.angle(np.exp(1j * (0.2 * j + 0.05 * i * j / NT * 40))),
        "clusters": levels + 0.1 * noise,
    }


DATA = {k: v.astype(np.float32) for k, v in _datasets().items()}


def _x(kind: str) -> np.ndarray:
    """The chunk as both programs see it: float32 values (distpy gets them as float64)."""
    return DATA[kind].astype(np.float64)


# --- comparison helpers ---------------------------------------------------------------
def close(r, d, rtol: float = 2e-5, trim: tuple[int, int] = (0, 0), what: str = "") -> None:
    """raydas ``r`` equals distpy ``d`` to float32 rounding (relative to the largest
    |d|), after dropping ``trim`` = (rows, columns) at each edge (edge conventions)."""
    r = np.asarray(r)
    d = np.asarray(d)
    if r.shape != d.shape and r.size == d.size:  # (n,) against (n, 1): keepdims differences
        r = r.reshape(d.shape)
    assert r.shape == d.shape, f"{what} shapes differ: raydas {r.shape}, distpy {d.shape}"
    if d.ndim == 2:
        tr, tc = trim
        r = r[tr : r.shape[0] - tr, tc : r.shape[1] - tc]
        d = d[tr : d.shape[0] - tr, tc : d.shape[1] - tc]
    scale = float(np.max(np.abs(d))) if d.size else 1.0
    np.testing.assert_allclose(r, d, rtol=rtol, atol=rtol * max(scale, 1e-30), err_msg=what)


def far(a, b, what: str) -> None:
    """The two differ by far more than rounding (a documented difference is real)."""
    a, b = np.asarray(a, dtype=complex), np.asarray(b, dtype=complex)
    if a.shape != b.shape:
        return
    assert np.max(np.abs(a - b)) > 1e-3 * max(np.max(np.abs(b)), 1e-30), what


# --- the table ------------------------------------------------------------------------
@dataclass
class Run:
    """What a check sees."""

    d: np.ndarray | None  # distpy's result of the main run
    report: dict  # distpy runner report of the main run
    extra: dict  # name -> (result, report, folder) of the case's further distpy runs
    r: np.ndarray  # raydas's result
    x: np.ndarray  # the chunk (float64 of the float32 values)
    folder: Path  # distpy job folder of the main run (files it wrote)
    out: Path  # raydas results root
    raydas: Callable  # run another raydas graph on the same chunk: raydas(graph) -> value


@dataclass
class Case:
    """One row: distpy's command list (positions: 0 = chunk, commands 1..n) run on
    ``data`` in both programs, and how their results relate."""

    id: str
    distpy: list[dict]
    relation: str = "same"
    command: str = ""  # the distpy command this row checks (default: the id)
    data: str = "noise"
    check: Callable[[Run], None] | None = None  # default: the last results agree (see ``trim``)
    raydas: list[dict] | None = None  # default: the same list with uid = position
    extra: dict = field(default_factory=dict)  # name -> (distpy list, options) of further distpy runs
    trim: tuple[int, int] = (0, 0)
    rtol: float = 2e-5
    boxsize: int = 500
    files: dict = field(default_factory=dict)  # relative path -> array, put in place before both runs
    fs: float = FS  # the chunk's sample rate (Hz), distpy's prf

    def raydas_graph(self) -> list[dict]:
        if self.raydas is not None:
            return self.raydas
        return [dict(c, uid=i + 1) for i, c in enumerate(self.distpy)]

    @property
    def checks(self) -> str:
        return self.command or self.id

    def names(self) -> set[str]:
        return {c["name"] for c in self.raydas_graph()}


def one(name: str, **params) -> list[dict]:
    return [dict(name=name, in_uid=0, **params)]


def after(first: dict, name: str, **params) -> list[dict]:
    return [dict(first, in_uid=0), dict(name=name, in_uid=1, **params)]


FFT = {"name": "fft", "axis": 1}


def check_scaled(factor: float, trim=(0, 0)):
    def check(run: Run) -> None:
        close(run.r * factor, run.d, trim=trim, what="distpy / raydas")
        far(run.r, run.d, "the documented factor is not 1 here")

    return check


def check_sta_lta(run: Run) -> None:
    sta, lta = 5, 20
    close(run.r * (lta / sta), run.d, trim=(0, lta // 2 + 1), what="distpy sta_lta = raydas x lta/sta")


def check_rms(run: Run) -> None:
    # distpy: sqrt(TE) / (2 (rows - 1)), rows = depth rows of its BOXSIZE block; raydas: sqrt(TE) / n_samples
    close(run.r * NT / (2 * (NX - 1)), run.d, what="BOXSIZE >= channels: one block of 32 rows")
    blocked, _, _ = run.extra["boxsize10"]
    rows = np.array([10] * 30 + [2] * 2)  # blocks of 10 rows, then the last partial block of 2
    close(run.r.ravel() * NT / (2 * (rows - 1)), blocked.ravel(), what="BOXSIZE 10: value depends on the block")
    np.testing.assert_allclose(run.r.ravel(), np.sqrt((run.x**2).mean(axis=1)), rtol=1e-5)  # Parseval


def check_butter_axis0(run: Run) -> None:
    # distpy's Wn = freq / (dx/2) for freq = 1.0 equals raydas's Wn = freq / (1/(2 dx)) for freq = 1.0 / dx^2
    close(run.r, run.d, rtol=1e-5, what="distpy freq 1.0 == raydas freq 0.04 cycles/m")
    same_number, _, _ = run.extra["freq0.04"]
    far(run.r, same_number, "the same freq number means a different cut-off in distpy")


def check_running_mean(run: Run) -> None:
    assert run.d is None and run.report.get("saved") is False  # distpy returns None (documented)
    r = np.asarray(run.r, dtype=np.float64)
    assert r.shape == run.x.shape
    w = 5
    kernel = np.ones(w) / w
    inner = slice(w, -w)
    candidates = []
    for axis in (0, 1):
        ref = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="full"), axis, run.x)
        for shift in range(w):  # backward, centred or forward windows
            cut = np.take(ref, np.arange(shift, shift + run.x.shape[axis]), axis=axis)
            part = cut[inner, inner]
            candidates.append(np.max(np.abs(r[inner, inner] - part)))
    assert min(candidates) < 1e-5, "raydas running_mean is not a 5-sample moving average along either axis"


def check_dip(run: Run) -> None:
    ignored, _, _ = run.extra["bandwidth0.3_shape5"]
    np.testing.assert_array_equal(ignored, run.d)  # distpy ignores bandwidth and shape (documented)
    close(run.r, run.d, what="defaults (bandwidth 0.1 s, 9x9) agree, edges too (nearest-value padding in both)")
    narrow = run.raydas(
        [{"name": "dip_filter", "uid": 1, "in_uid": 0, "velocity": 3000, "bandwidth": 0.3, "shape": [5, 5]}]
    )
    far(narrow[5:-5, 5:-5], run.d[5:-5, 5:-5], "raydas honours bandwidth and shape")


def _destripe_mask(f: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Bouali's mask k^2 / (f^2 + k^2 + 1e-6), floored at 1e-6, on frequency rows f and wavenumber columns k."""
    return np.maximum(k[:, None] ** 2 / (f[None, :] ** 2 + k[:, None] ** 2 + 1e-6), 1e-6)


def _linspace_bins(n: int) -> np.ndarray:
    """distpy's |frequency| per FFT bin: linspace(0, 0.5, n/2) on the first half, reversed on the last half."""
    half = np.linspace(0.0, 0.5, n // 2)
    out = np.zeros(n)
    out[: n // 2] = half
    out[-(n // 2) :] = half[::-1]
    return out


def check_destripe(run: Run) -> None:
    # raydas: the mask on the exact FFT frequencies; distpy: on linspace(0, 1/2, n/2), which is off by a factor
    # (n/2)/(n/2 - 1) on the first half and shifted by one bin on the second (so not even Hermitian symmetric).
    # Both are linear in the data: swapping the exact mask for distpy's in raydas's output gives distpy's.
    exact = _destripe_mask(np.abs(np.fft.fftfreq(NT)), np.abs(np.fft.fftfreq(NX)))
    approx = _destripe_mask(_linspace_bins(NT), _linspace_bins(NX))
    assert np.all((exact > 1e-6) | (approx == 1e-6))  # where raydas's mask is at its floor, distpy's is too (k = 0)
    from_raydas = np.real(np.fft.ifft2(np.fft.fft2(np.asarray(run.r, dtype=np.float64)) * approx / exact))
    close(from_raydas, run.d, rtol=2e-5, what="distpy = raydas with the linspace mask")
    far(run.r, run.d, "the linspace bins change the result")


def check_gradient_time(run: Run) -> None:
    # distpy differentiates against taxis = arange(nt) (sample numbers); raydas against time in s
    close(run.r / FS, run.d, what="distpy = raydas x dt")


def check_clip(run: Run) -> None:
    d, r = run.d, np.asarray(run.r)
    # both crop to the channels nearest 20 m (row 4) and 100 m (row 20); distpy's end index is exclusive, so it
    # drops the 100 m channel and, with tmax defaulting to the last time, the last sample too (documented);
    # raydas keeps both ends
    assert d.shape == (16, NT - 1) and r.shape == (17, NT)
    close(r[:16, : NT - 1], d, rtol=0, what="the rows and samples both keep")
    np.testing.assert_array_equal(r, run.x[4:21].astype(np.float32))
    close(np.load(run.out / "clip" / "measured_depth.npy").ravel(), np.arange(4, 21) * DX, rtol=0)
    close(np.load(run.folder / "clip" / "measured_depth.npy").ravel(), np.arange(4, 20) * DX, rtol=0)
    # distpy names its file after int(tmin) (0.npy), so every chunk overwrites it; raydas after the chunk time
    assert (run.folder / "clip" / "0.npy").exists() and not (run.folder / "clip" / f"{STEM}.npy").exists()
    np.testing.assert_array_equal(np.load(run.out / "clip" / f"{STEM}.npy"), r)
    assert not (run.out / "clip" / "0.npy").exists()


def check_fft(run: Run) -> None:
    close(run.r, run.d, rtol=2e-5, what="spectrum")


def check_ifft(run: Run) -> None:
    close(np.real(run.r), np.real(run.d), what="fft then ifft gives the chunk back")
    np.testing.assert_allclose(np.real(run.d), run.x, atol=1e-9)


def check_waves(run: Run) -> None:
    scale = np.abs(DATA["waves"]).max()
    close(run.r, run.d, rtol=1e-4, what="up_wave agrees")
    np.testing.assert_allclose(np.real(run.r), _x("waves_up"), atol=1e-4 * scale)


def check_down(run: Run) -> None:
    scale = np.abs(DATA["waves"]).max()
    up_d, _, _ = run.extra["up_wave"]
    # distpy's down_wave is its up_wave (documented; the same two factors, multiplied in another order)
    np.testing.assert_allclose(run.d, up_d, rtol=0, atol=1e-12 * np.abs(up_d).max())
    np.testing.assert_allclose(np.real(run.r), _x("waves_down"), atol=1e-4 * scale)  # raydas keeps the other wave


def check_velocity_map(run: Run) -> None:
    d, r = run.d, np.asarray(run.r, dtype=np.float64)
    assert d.shape == r.shape == (NX, NT)  # both on distpy's full f-k grid
    # distpy: frequency axis linspace(0, fs/2, nt/2), wavenumber axis linspace(0, 1/(2 dx), nx/2)
    assert d[1, 1] == pytest.approx((FS / 2 / (NT // 2 - 1)) / ((1 / (2 * DX)) / (NX // 2 - 1) + 1e-7))
    # raydas: the FFT's own bins, fs/nt Hz and 1/(nx dx) cycles/m apart, in numpy's fftfreq order
    f = np.abs(np.fft.fftfreq(NT, 1 / FS))
    k = np.abs(np.fft.fftfreq(NX, DX))
    moving = k > 0
    np.testing.assert_allclose(r[moving], f[None, :] / k[moving, None], rtol=1e-6)
    assert np.all(np.isinf(r[~moving]))  # k = 0: an event on every channel at once
    # distpy from raydas: bin m of the first half of each axis is m exact bins stretched by (n/2)/(n/2 - 1);
    # bin n-1-m of the second half repeats bin m, one bin off the exact mirror n-m; plus 1e-7 added to k
    stretch_f, stretch_k = (NT // 2) / (NT // 2 - 1), (NX // 2) / (NX // 2 - 1)
    i, j = np.arange(NX), np.arange(NT)
    m_k = np.where(i < NX // 2, i, NX - 1 - i)  # raydas row (|k| bin) that distpy's row i stands for
    m_f = np.where(j < NT // 2, j, NT - 1 - j)  # raydas column (|f| bin) that distpy's column j stands for
    distpy_moving = m_k > 0
    f_times = r[m_k[distpy_moving]][:, m_f] * k[m_k[distpy_moving], None]  # |f| (Hz) from raydas's map: v |k|
    np.testing.assert_allclose(f_times, np.broadcast_to(m_f * FS / NT, f_times.shape), rtol=1e-6, atol=1e-9)
    expected = f_times * stretch_f / (k[m_k[distpy_moving], None] * stretch_k + 1e-7)
    np.testing.assert_allclose(d[distpy_moving], expected, rtol=1e-6, err_msg="distpy = raydas on linspace bins")
    # the k = 0 rows (distpy's rows 0 and nx-1): raydas inf, distpy f / 1e-7
    np.testing.assert_allclose(d[~distpy_moving], np.broadcast_to(m_f * FS / NT * stretch_f / 1e-7, (2, NT)), rtol=1e-6)
    np.testing.assert_allclose(r[1:, 0], 0.0, atol=1e-6)  # zero frequency on a moving row: zero velocity in both
    np.testing.assert_allclose(d[:, 0], 0.0, atol=1e-6)
    far(d[1 : NX // 2, 1 : NT // 2], r[1 : NX // 2, 1 : NT // 2], "the linspace bins are stretched")


def check_angle(run: Run) -> None:
    r, d = np.asarray(run.r, dtype=np.float64), run.d
    assert r.shape == d.shape
    # the same angles on the circle: a real negative bin (DC, Nyquist) is +pi or -pi by the sign of its zero
    # imaginary part, which complex64 and complex128 arithmetic need not share
    np.testing.assert_allclose(np.angle(np.exp(1j * (r - d))), 0.0, atol=2e-5 * np.pi)


def check_velocity_mask(run: Run) -> None:
    vmap = np.asarray(run.raydas(VELMAP_GRAPH))
    r = np.asarray(run.r)
    np.testing.assert_array_equal(r, ((vmap > 500) & (vmap <= 700)).astype(r.dtype))
    dmap, _, _ = run.extra["velocity_map"]
    np.testing.assert_array_equal(run.d, ((dmap > 500) & (dmap <= 700)).astype(float))


def check_analytic(run: Run) -> None:
    # distpy's time-axis estimator uses the channel spacing dx as sampling rate: freq 0.5 at dx = 5 m
    # is raydas's freq 0.5 * FS / dx = 100 Hz. raydas scales its kernel by 2 / sum(window) so that a
    # sinusoid's envelope is its amplitude; distpy's values are sum(window) / 2 times larger (documented)
    gain = np.hanning(64).sum() / 2
    assert "sum(window)/2" in commands.get("analytic_signal").changed_from_distpy
    close(run.r * gain, run.d, rtol=2e-5, what="estimator with fs = dx (distpy) vs fs = prf (raydas), x gain")
    same_number, _, _ = run.extra["freq100"]
    far(run.r, same_number, "the same freq means another filter in distpy")


def check_kmeans(run: Run) -> None:
    d, r = np.asarray(run.d).ravel(), np.asarray(run.r).ravel()
    assert d.shape == r.shape
    pairs = set(zip(d.tolist(), r.tolist()))  # the same partition, whatever the label numbers
    assert len(pairs) == len(set(d.tolist())) == len(set(r.tolist())) == 3


def check_multiply_axis0(run: Run) -> None:
    np.testing.assert_array_equal(run.d, run.x)  # distpy: a no-op (documented)
    close(run.r, run.x * run.x.mean(axis=1, keepdims=True), what="raydas multiplies each channel")


def check_write_npy(run: Run) -> None:
    np.testing.assert_array_equal(run.r, run.x.astype(np.float32))  # passes its input on
    d_dir, r_dir = run.folder / "npy", run.out / "npy"
    close(np.load(r_dir / f"{STEM}.npy"), np.load(d_dir / f"{STEM}.npy"), rtol=0, what="chunk file")
    close(np.load(r_dir / "measured_depth.npy").ravel(), np.load(d_dir / "measured_depth.npy").ravel(), rtol=0)
    # time.npy: distpy wrote sample numbers, raydas writes seconds from the chunk start (documented)
    close(np.load(r_dir / "time.npy") * FS, np.load(d_dir / "time.npy"), rtol=1e-12, what="time.npy")


def check_data_load(run: Run) -> None:
    # distpy's data_load replaces its own result() method, so its consumer crashes (documented)
    assert "not callable" in run.report.get("error", ""), run.report
    np.testing.assert_array_equal(np.asarray(run.r), np.abs(MASK))


def check_write_witsml(run: Run) -> None:
    d_t, d_curves, d_depth, d_values = parse_fbe((run.folder / "fbe" / f"{STEM}.fbe").read_bytes())
    r_t, r_curves, r_depth, r_values = parse_fbe((run.out / "fbe" / f"{STEM}.fbe").read_bytes())
    assert r_curves == d_curves
    assert r_t == d_t == T0_NS
    close(r_depth, d_depth, rtol=1e-12, what="DEPTH")
    close(r_values, d_values, rtol=2e-5, what="curves")
    # distpy returns the value captured when it was built (the raw chunk); raydas passes its input on
    np.testing.assert_array_equal(run.d, run.x)
    close(run.r, run.x.mean(axis=1, keepdims=True), what="raydas passes its input on")


# --- distpy's shipped example graphs (tests/fixtures/distpy), unchanged in both programs -----------------------
EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "distpy"


def example(name: str) -> list[dict]:
    """The command_list of a distpy example graph (its uids are its list positions, as distpy needs)."""
    return json.loads((EXAMPLES / name).read_text())["command_list"]


def _fbes(run: Run, folder: str):
    """(distpy's, raydas's) parsed .fbe file of the chunk in ``folder``: (time, curves, depth, values)."""
    d = parse_fbe((run.folder / folder / f"{STEM}.fbe").read_bytes())
    r = parse_fbe((run.out / folder / f"{STEM}.fbe").read_bytes())
    assert r[1] == d[1], f"curves: raydas {r[1]}, distpy {d[1]}"
    assert r[0] == d[0] == T0_NS
    close(r[2], d[2], rtol=1e-12, what="DEPTH")
    return d, r


def check_time_frequency(label: str):
    """UKGEOS rms2summary / vlf2summary: the time series and the magnitude of its full spectrum, one row per sample."""

    def check(run: Run) -> None:
        d, r = _fbes(run, "tfa")
        assert r[1] == [label, "tfa"] and r[3].shape == (NT, 2)
        close(r[2], np.arange(NT), rtol=0, what="a (1, n) row is written with sample numbers as depth")
        close(r[3], d[3], rtol=2e-5, what="time series and |spectrum|")
        np.testing.assert_array_equal(run.d, run.x)  # distpy's write_witsml returns a stale value (the chunk)

    return check


def check_seismic2vlf(run: Run) -> None:
    d, r = _fbes(run, "vlf")
    assert r[1] == ["rms", "vlf"]
    close(r[3][:, 0] * NT / (2 * (NX - 1)), d[3][:, 0], what="rms: distpy = raydas x n/(2(rows-1))")
    close(r[3][1:-1, 1], d[3][1:-1, 1], rtol=1e-4, what="approx_vlf (as the approx_vlf row, ends apart)")


def check_noiselog(run: Run) -> None:
    d, r = _fbes(run, "NoiseLog")
    assert r[1] == ["band_0-nyquist", "band_01_200--1", "band_02_600--1", "band_03_1000--1"]
    close(r[3][:, 0] * NT / (2 * (NX - 1)), d[3][:, 0], what="band 0-Nyquist RMS: distpy = raydas x n/(2(rows-1))")
    close(r[3][:, 1:], d[3][:, 1:], rtol=5e-5, what="band total energies (tones inside the bands)")


def check_thumbnail_example(run: Run) -> None:
    for root in (run.folder, run.out):
        assert (root / "png" / f"{STEM}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    close(run.r, run.d, rtol=1e-4, what="the band-passed chunk the thumbnail passes on")


def example_case(name: str, check: Callable[[Run], None], **kw) -> Case:
    graph = example(name)
    return Case(f"example:{name}", graph, raydas=graph, relation="distpy's example graph, unchanged", check=check, **kw)


EXAMPLE_CASES = [
    # UKGEOS graphs at 500 Hz, as their system configs (prf 500)
    example_case("ukgeos/rms2summary.json", check_time_frequency("rms"), data="tones", fs=500.0),
    example_case("ukgeos/vlf2summary.json", check_time_frequency("vlf"), data="tones", fs=500.0),
    example_case("ukgeos/seismic2vlf.json", check_seismic2vlf, data="tones", fs=500.0),
    # the noise log at distpy's 10 kHz (bands from 200, 600 and 1000 Hz to Nyquist: the tones lie inside them)
    example_case("strainrate2noiselog.json", check_noiselog, data="tones", fs=10_000.0),
    example_case("strainrate2thumbnail.json", check_thumbnail_example, data="noise"),
]


VELMAP_GRAPH = [
    {"name": "fft", "uid": 1, "in_uid": 0, "axis": 1},
    {"name": "fft", "uid": 2, "in_uid": 1, "axis": 0},
    {"name": "velocity_map", "uid": 3, "in_uid": 2},
]
WAVES = [{"name": "fft", "in_uid": 0, "axis": 1}, {"name": "fft", "in_uid": 1, "axis": 0}]
MASK = np.random.default_rng(5).standard_normal((NX, NT)).astype(np.float32)

CASES = [
    # control
    Case("NONE", one("NONE")),
    Case(
        "data",
        one("data"),
        relation="distpy: meaningless (wraps a command object); raydas passes the chunk on",
        check=lambda run: (
            np.testing.assert_array_equal(run.r, run.x.astype(np.float32)),
            _assert_error(run, "not a numeric array"),
        ),
    ),
    Case("to_gpu", one("to_gpu")),
    Case("from_gpu", one("from_gpu")),
    Case("copy", one("copy")),
    Case("macro", one("macro", command_list=[{"name": "abs"}, {"name": "median_filter", "distance": 3}]), trim=(2, 2)),
    # element-wise
    Case("abs", one("abs")),
    Case("angle", after(FFT, "angle"), check=check_angle),
    Case("conj", after(FFT, "conj")),
    Case("real", one("real")),
    Case("unwrap", one("unwrap"), data="phase", rtol=1e-5),
    Case("lin_transform", one("lin_transform", m=2.5, c=-1.0)),
    Case("soft_threshold", one("soft_threshold", threshold=0.5)),
    Case("hard_threshold", one("hard_threshold", threshold=0.5, value=-2.0, direction="<")),
    Case("bounded_select", one("bounded_select", min_val=0.0, max_val=1.0)),
    Case("rescale", one("rescale")),
    Case(
        "rescale_gathered",
        command="rescale",
        distpy=[{"name": "abs", "in_uid": 0}, {"name": "rescale", "in_uid": 0, "gather_uids": [1]}],
    ),
    # statistics
    Case("mean", one("mean")),
    Case("std_dev", one("std_dev")),
    Case("sum", one("sum"), rtol=1e-5),
    Case("kurtosis", one("kurtosis"), rtol=1e-4),
    Case("skewness", one("skewness"), rtol=1e-4),
    Case("harmonic_mean", one("harmonic_mean"), data="positive"),
    Case("geometric_mean", one("geometric_mean"), data="positive"),
    Case("argmax", one("argmax"), rtol=0),
    Case("peak_to_peak", one("peak_to_peak", window_length=20)),
    Case("count_peaks", one("count_peaks", sta=5, lta=30), rtol=0),
    Case("approx_vlf", one("approx_vlf"), trim=(1, 0), rtol=1e-4),
    Case("extract", one("extract", index=3, axis=1)),
    # filters and geometry
    Case("butter", one("butter", order=4, type="lowpass", freq=100.0), rtol=1e-5),
    Case(
        "butter_axis0",
        command="butter",
        distpy=one("butter", order=4, type="lowpass", freq=1.0, axis=0),
        raydas=[{"name": "butter", "uid": 1, "in_uid": 0, "order": 4, "type": "lowpass", "freq": 0.04, "axis": 0}],
        relation="distpy Wn = freq/(dx/2): distpy freq 1.0 == raydas freq 1.0/dx^2",
        check=check_butter_axis0,
        extra={"freq0.04": (one("butter", order=4, type="lowpass", freq=0.04, axis=0), {})},
    ),
    Case("gaussian", one("gaussian", xsigma=1.5, tsigma=2.0, xorder=0, torder=1, mode="constant"), trim=(7, 9)),
    Case("sobel", one("sobel"), trim=(2, 2)),
    Case("convolve", one("convolve"), trim=(2, 2)),
    Case("correlate", one("correlate"), trim=(3, 3)),
    Case("median_filter", one("median_filter", distance=3), trim=(2, 2)),
    Case("wiener", one("wiener", xdir=5, tdir=5), trim=(3, 3), rtol=1e-4),
    Case(
        "running_mean",
        one("running_mean", window_length=5),
        relation="distpy returns None; raydas a running mean",
        check=check_running_mean,
    ),
    Case(
        "dip_filter",
        one("dip_filter", velocity=3000),
        relation="distpy ignores bandwidth and shape",
        check=check_dip,
        extra={"bandwidth0.3_shape5": (one("dip_filter", velocity=3000, bandwidth=0.3, shape=[5, 5]), {})},
    ),
    Case(
        "destripe",
        one("destripe"),
        relation="distpy's f and k are linspace approximations of the FFT bins",
        check=check_destripe,
    ),
    Case("diff", one("diff"), trim=(0, 1)),  # distpy copies the last column only for axis 0 or 1, not -1
    Case("gradient", one("gradient", axis=0)),
    Case(
        "gradient_time",
        command="gradient",
        distpy=one("gradient", axis=1),
        relation="distpy: against sample numbers; raydas: seconds",
        check=check_gradient_time,
    ),
    Case("downsample", one("downsample", xsample=2, tsample=3)),
    Case("roll", one("roll", window_length=3, axis=1)),
    Case("broaden", one("broaden", window_length=10)),  # forward-looking running max in both, to the last sample
    Case(
        "clip",
        one("clip", xmin=20.0, xmax=100.0, directory_out="clip"),
        relation="distpy's file is named after tmin (0.npy), so chunks overwrite it; its end index is exclusive",
        check=check_clip,
    ),
    # spectral
    Case("fft", one("fft"), check=check_fft, relation="same: distpy's full spectrum (complex64)"),
    Case("ifft", after(FFT, "ifft"), check=check_ifft),
    Case(
        "rms_from_fft",
        after(FFT, "rms_from_fft", low_freq=0, high_freq=-1),
        data="tones",
        relation="distpy = raydas x n/(2(rows-1)), rows of its BOXSIZE block",
        check=check_rms,
        extra={"boxsize10": (after(FFT, "rms_from_fft", low_freq=0, high_freq=-1), {"boxsize": 10})},
    ),
    Case(
        "multiple_calcs_te",
        command="multiple_calcs",
        distpy=after(FFT, "multiple_calcs", func="te_from_fft", low_freq=[0, 20, 100], high_freq=[20, 100, -1]),
        data="tones",
        rtol=5e-5,
        relation="same (tones inside the bands; distpy weights band end bins once)",
    ),
    Case(
        "multiple_calcs_rms",
        command="multiple_calcs",
        distpy=after(FFT, "multiple_calcs", func="rms_from_fft", low_freq=[0, 20, 100], high_freq=[20, 100, -1]),
        data="tones",
        relation="distpy = raydas x n/(2(rows-1))",
        check=check_scaled(NT / (2 * (NX - 1))),
    ),
    Case(
        "analytic_signal",
        after(FFT, "analytic_signal", freq=0.5, window_length=64),
        raydas=[
            dict(FFT, uid=1, in_uid=0),
            {"name": "analytic_signal", "uid": 2, "in_uid": 1, "freq": 100.0, "window_length": 64},
        ],
        relation="distpy's time axis uses fs = dx: distpy freq 0.5 == raydas 100 Hz",
        check=check_analytic,
        extra={"freq100": (after(FFT, "analytic_signal", freq=100.0, window_length=64), {})},
    ),
    Case("deconvolve", [dict(FFT, in_uid=0), {"name": "deconvolve", "in_uid": 1, "gather_uids": [1]}], rtol=1e-4),
    Case("virtual_cmp", one("virtual_cmp")),
    Case(
        "up_wave",
        WAVES + [{"name": "up_wave", "in_uid": 2}, {"name": "real", "in_uid": 3}],
        data="waves",
        check=check_waves,
    ),
    Case(
        "down_wave",
        WAVES + [{"name": "down_wave", "in_uid": 2}, {"name": "real", "in_uid": 3}],
        data="waves",
        relation="distpy's down_wave = its up_wave; raydas keeps the down-going wave",
        check=check_down,
        extra={"up_wave": (WAVES + [{"name": "up_wave", "in_uid": 2}, {"name": "real", "in_uid": 3}], {})},
    ),
    Case(
        "velocity_map",
        WAVES + [{"name": "velocity_map", "in_uid": 2}],
        relation="distpy's f and k axes are linspace approximations of the FFT bins",
        check=check_velocity_map,
    ),
    Case(
        "velocity_mask",
        WAVES
        + [
            {"name": "velocity_map", "in_uid": 2},
            {"name": "velocity_mask", "in_uid": 3, "min_velocity": 500, "max_velocity": 700},
        ],
        relation="same rule (min < v <= max) on each one's velocity map",
        check=check_velocity_mask,
        extra={"velocity_map": (WAVES + [{"name": "velocity_map", "in_uid": 2}], {})},
    ),
    # detection, machine learning, algebra
    Case(
        "sta_lta",
        one("sta_lta", sta=5, lta=20),
        data="positive",
        relation="distpy = raydas x lta/sta",
        check=check_sta_lta,
    ),
    Case(
        "kmeans",
        one("kmeans", n_clusters=3),
        data="clusters",
        relation="same partition of the channels",
        check=check_kmeans,
    ),
    Case("keras", one("keras"), relation="needs a Keras model file: not compared"),
    Case("add", [{"name": "abs", "in_uid": 0}, {"name": "add", "in_uid": 0, "gather_uids": [1]}]),
    Case("multiply", [{"name": "abs", "in_uid": 0}, {"name": "multiply", "in_uid": 0, "gather_uids": [1]}]),
    Case(
        "multiply_axis1",
        command="multiply",
        distpy=[
            {"name": "mean", "in_uid": 0, "axis": 0},
            {"name": "multiply", "in_uid": 0, "gather_uids": [1], "axis": 1},
        ],
    ),
    Case(
        "multiply_axis0",
        command="multiply",
        distpy=[
            {"name": "mean", "in_uid": 0, "axis": 1},
            {"name": "multiply", "in_uid": 0, "gather_uids": [1], "axis": 0},
        ],
        relation="distpy: a no-op; raydas multiplies each channel",
        check=check_multiply_axis0,
    ),
    Case(
        "gather",
        [
            {"name": "mean", "in_uid": 0},
            {"name": "std_dev", "in_uid": 0},
            {"name": "gather", "in_uid": 0, "gather_uids": [1, 2]},
        ],
    ),
    # i/o
    Case(
        "write_npy",
        one("write_npy", directory_out="npy"),
        relation="time.npy: distpy sample numbers, raydas s",
        check=check_write_npy,
    ),
    Case(
        "data_load",
        [
            {"name": "data_load", "in_uid": 0, "directory_out": "masks", "filename": "mask.npy"},
            {"name": "abs", "in_uid": 1},
        ],
        files={"masks/mask.npy": MASK},
        relation="distpy's consumer crashes; raydas loads the file",
        check=check_data_load,
    ),
    Case(
        "write_witsml",
        [
            {"name": "mean", "in_uid": 0},
            {"name": "sum", "in_uid": 0},
            {
                "name": "write_witsml",
                "in_uid": 1,
                "gather_uids": [2],
                "directory_out": "fbe",
                "low_freq": [0],
                "high_freq": [-1],
            },
        ],
        relation="same file; distpy returns a stale value",
        check=check_write_witsml,
    ),
]


CASES += EXAMPLE_CASES


def _assert_error(run: Run, text: str) -> None:
    assert text in run.report.get("error", ""), run.report


def test_every_distpy_command_has_a_row():
    from_reference = {
        "NONE",
        "data",
        "to_gpu",
        "from_gpu",
        "copy",
        "macro",
        "abs",
        "angle",
        "conj",
        "real",
        "unwrap",
        "lin_transform",
        "soft_threshold",
        "hard_threshold",
        "bounded_select",
        "rescale",
        "mean",
        "std_dev",
        "sum",
        "kurtosis",
        "skewness",
        "harmonic_mean",
        "geometric_mean",
        "argmax",
        "peak_to_peak",
        "count_peaks",
        "approx_vlf",
        "extract",
        "butter",
        "gaussian",
        "sobel",
        "convolve",
        "correlate",
        "median_filter",
        "wiener",
        "running_mean",
        "dip_filter",
        "destripe",
        "diff",
        "gradient",
        "downsample",
        "roll",
        "broaden",
        "clip",
        "fft",
        "ifft",
        "rms_from_fft",
        "multiple_calcs",
        "analytic_signal",
        "deconvolve",
        "virtual_cmp",
        "up_wave",
        "down_wave",
        "velocity_map",
        "velocity_mask",
        "sta_lta",
        "kmeans",
        "keras",
        "add",
        "multiply",
        "gather",
        "write_npy",
        "data_load",
        "write_witsml",
    }
    assert len(from_reference) == 64
    covered = {c.checks for c in CASES}
    assert from_reference <= covered, sorted(from_reference - covered)


# --- running ----------------------------------------------------------------------------
def _importable_benchmarks() -> None:
    """benchmarks/ lives at the repository root, beside tests/."""
    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)


@pytest.fixture(scope="module")
def distpy_results(tmp_path_factory):
    """Every case's distpy runs, in one process of the distpy environment."""
    _importable_benchmarks()
    from benchmarks.distpy_env import DistpyJob, ensure_distpy_env, last_error, run_distpy_batch

    python = ensure_distpy_env()
    if python is None:
        pytest.skip(f"distpy 1.32.3 environment cannot be built here: {last_error()}")
    keys, jobs = [], []
    for case in CASES:
        runs = {"main": (case.distpy, {"boxsize": case.boxsize})}
        runs.update(case.extra)
        for name, (command_list, options) in runs.items():
            keys.append((case.id, name))
            jobs.append(DistpyJob(command_list, _x(case.data), case.fs, xaxis=np.arange(NX) * DX, **options))
    folder = tmp_path_factory.mktemp("distpy")
    for i, (case_id, _) in enumerate(keys):
        for rel, array in next(c for c in CASES if c.id == case_id).files.items():
            path = folder / f"job_{i}" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, array)
    results = run_distpy_batch(jobs, python=python, workdir=folder)
    return {key: (res, rep, folder / f"job_{i}") for i, (key, (res, rep)) in enumerate(zip(keys, results))}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_parity_with_distpy(case: Case, distpy_results, tmp_path):
    known = commands.all_commands()
    missing = sorted(n for n in case.names() if n not in known)
    if missing:
        pytest.skip(f"not registered in raydas (yet): {', '.join(missing)}")
    if case.id == "keras":
        pytest.skip("keras: needs a trained Keras model file; not compared")
    d, report, folder = distpy_results[(case.id, "main")]
    expects_failure = case.check in (check_running_mean, check_data_load) or case.id == "data"
    if not expects_failure:
        assert "error" not in report, f"distpy failed: {report.get('error')}\n{report.get('traceback', '')}"
    extra = {name: distpy_results[(case.id, name)] for name in case.extra}
    for rel, array in case.files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        np.save(tmp_path / rel, array)
    chunk = make_chunk(DATA[case.data], case.fs, spacing=DX)

    def raydas(graph):
        value, _ = run_graph(graph, chunk, out_dir=tmp_path)
        return value

    r = raydas(case.raydas_graph())
    run = Run(d=d, report=report, extra=extra, r=r, x=_x(case.data), folder=folder, out=tmp_path, raydas=raydas)
    if case.check is not None:
        case.check(run)
    else:
        close(r, d, rtol=case.rtol, trim=case.trim, what=case.id)


def test_runner_reports_distpy_crashes_instead_of_stopping(distpy_results):
    # distpy's add without gather_uids crashes with IndexError (reference 1.1); the batch goes on
    _importable_benchmarks()
    from benchmarks.distpy_env import run_distpy_graph

    with pytest.raises(RuntimeError, match=re.escape("IndexError")):
        run_distpy_graph(one("add"), _x("noise"), FS)
