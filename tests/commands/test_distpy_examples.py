"""distpy's shipped example processing graphs run unchanged (tests/fixtures/distpy, copied
from Schlumberger/distpy under its MIT licence), end to end on a real local Ray, on data
that suits them: distpy's own chunk layout (``<unixtime>.npy`` float64 files and
``measured_depth.npy``) at the sample rate of their system configs (10 kHz for the noise
log, 500 Hz for the UKGEOS graphs). Every number is checked against plain numpy written
here. Side by side with distpy 1.32.3: tests/commands/test_distpy_parity.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, make_chunk, run_graph

from raydas.config import RunConfig
from raydas.formats.witsml import parse_fbe
from raydas.pipeline import Pipeline
from raydas.runtime import run

EXAMPLES = Path(REPO) / "tests" / "fixtures" / "distpy"
T0 = 1_600_000_000  # unix time (s) of the first chunk
DEPTH0, DX = 40.0, 39.5  # m: UKGEOS-like receivers along the borehole


def example(name: str) -> dict:
    """The example graph ``name`` (a path under tests/fixtures/distpy), as distpy shipped it."""
    return json.loads((EXAMPLES / name).read_text())


def record(nx: int, fs: float, seconds: int, seed: int = 0) -> np.ndarray:
    """(channel, time) test signal: noise, a tone per channel and a slow drift, float32 values."""
    rng = np.random.default_rng(seed)
    n = int(fs * seconds)
    t = np.arange(n) / fs
    gain = 1.0 + np.arange(nx)[:, None] / nx
    x = (
        0.3 * rng.standard_normal((nx, n))
        + gain * np.sin(2 * np.pi * 0.21 * fs * t)
        + 0.5 * np.cos(2 * np.pi * 0.5 * t)[None, :]
    )
    return x.astype(np.float32).astype(np.float64)


def distpy_chunks(folder: Path, x: np.ndarray, fs: float) -> list[np.ndarray]:
    """``x`` cut into distpy's 1-s float64 chunk files; returns the chunks."""
    folder.mkdir(parents=True)
    n = int(fs)
    chunks = [x[:, k : k + n] for k in range(0, x.shape[1], n)]
    for i, c in enumerate(chunks):
        np.save(folder / f"{T0 + i}.npy", c)
    np.save(folder / "measured_depth.npy", (DEPTH0 + DX * np.arange(x.shape[0])).reshape(-1, 1))
    return chunks


def run_example(name: str, x: np.ndarray, fs: float, tmp_path: Path):
    """Run the example graph on ``x`` through raydas's runtime; returns (chunks, results root)."""
    chunks = distpy_chunks(tmp_path / "chunks", x, fs)
    out = tmp_path / "results"
    config = RunConfig(
        input=str(tmp_path / "chunks"),
        output=str(out),
        processing=str(EXAMPLES / name),
        assumed_sample_rate=fs,
        quicklook=False,
    )
    report = run(config, progress=False)
    assert report.ok and report.chunks_done == len(chunks)
    return chunks, out


def fbe(out: Path, folder: str, i: int):
    return parse_fbe((out / folder / f"{T0 + i}.fbe").read_bytes())


# --- the UKGEOS time-frequency summaries: mean over depth -> fft -> abs -> write_witsml --------------------
@pytest.mark.parametrize("name, label", [("ukgeos/rms2summary.json", "rms"), ("ukgeos/vlf2summary.json", "vlf")])
def test_ukgeos_time_frequency_summaries(ray_session, tmp_path, name, label):
    # distpy's graphs write the time series beside the magnitude of its full spectrum, one row per sample;
    # with a one-sided fft the two columns have different lengths (raydas failed every chunk with
    # "cannot reshape array of size 500 into shape (251,newaxis)")
    fs = 500.0
    x = record(5, fs, seconds=3)
    chunks, out = run_example(name, x, fs, tmp_path)
    for i, c in enumerate(chunks):
        if name.endswith("vlf2summary.json"):
            c = np.concatenate([np.diff(c, axis=0), np.diff(c, axis=0)[-1:]], axis=0)  # offset 1, last row repeated
        series = c.mean(axis=0)
        t_ns, curves, depth, values = fbe(out, "tfa", i)
        assert curves == [label, "tfa"] and t_ns == (T0 + i) * 10**9
        np.testing.assert_array_equal(depth, np.arange(c.shape[1]))  # a (1, n) row is written as a column
        scale = np.abs(series).max()
        np.testing.assert_allclose(values[:, 0], series, rtol=1e-5, atol=1e-5 * scale)
        spectrum = np.abs(np.fft.fft(series))
        np.testing.assert_allclose(values[:, 1], spectrum, rtol=1e-4, atol=1e-5 * spectrum.max())


def test_ukgeos_seismic_to_vlf(ray_session, tmp_path):
    fs = 500.0
    x = record(7, fs, seconds=2, seed=1)
    chunks, out = run_example("ukgeos/seismic2vlf.json", x, fs, tmp_path)
    for i, c in enumerate(chunks):
        t_ns, curves, depth, values = fbe(out, "vlf", i)
        assert curves == ["rms", "vlf"]
        np.testing.assert_allclose(depth, DEPTH0 + DX * np.arange(7))
        np.testing.assert_allclose(values[:, 0], np.sqrt(np.mean(c**2, axis=1)), rtol=1e-5)  # Parseval
        k = np.arange(c.shape[1])
        w = np.exp(-((k - 0.5 * c.shape[1]) ** 2) / (2 * 3.0e6))
        average = c @ (w / w.sum())
        padded = np.concatenate([[0.0], average, [0.0]])
        vlf = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)  # 3-channel median, 0 beyond
        np.testing.assert_allclose(values[:, 1], vlf, rtol=1e-5, atol=1e-6)


# --- config_examples ------------------------------------------------------------------------------------------
def test_standard_noise_log(ray_session, tmp_path):
    fs = 10_000.0  # the prf of distpy's strainrate2fbeConfig.json: bands 200, 600, 1000 Hz to Nyquist
    x = record(4, fs, seconds=2, seed=2)
    chunks, out = run_example("strainrate2noiselog.json", x, fs, tmp_path)
    for i, c in enumerate(chunks):
        _, curves, depth, values = fbe(out, "NoiseLog", i)
        assert curves == ["band_0-nyquist", "band_01_200--1", "band_02_600--1", "band_03_1000--1"]
        np.testing.assert_allclose(values[:, 0], np.sqrt(np.mean(c**2, axis=1)), rtol=1e-5)
        power = np.abs(np.fft.fft(c, axis=1)) ** 2
        f = np.abs(np.fft.fftfreq(c.shape[1], 1 / fs))
        for j, low in enumerate((200, 600, 1000), start=1):
            np.testing.assert_allclose(values[:, j], power[:, f >= low].sum(axis=1), rtol=1e-4)


def test_standard_thumbnails(ray_session, tmp_path):
    fs = 1000.0  # a 200 Hz low-pass needs more than 400 Hz sampling
    x = record(6, fs, seconds=1, seed=3)  # one chunk: the example draws at 300 dpi
    chunks, out = run_example("strainrate2thumbnail.json", x, fs, tmp_path)
    assert sorted(os.listdir(out / "png")) == [f"{T0 + i}.png" for i in range(len(chunks))]
    assert (out / "png" / f"{T0}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- one-sided only where every use reads non-negative frequencies --------------------------------------------
def _fft_node(graph: dict) -> object:
    pipeline = Pipeline.from_config(graph)
    return next(n.command for n in pipeline.nodes if n.command.name == "fft")


def test_fft_is_two_sided_where_the_graph_uses_the_full_spectrum():
    assert not _fft_node(example("ukgeos/rms2summary.json")).onesided
    assert not _fft_node(example("ukgeos/vlf2summary.json")).onesided


def test_fft_is_one_sided_where_only_band_energies_read_it():
    # through to_gpu/from_gpu (pass-through) as in the noise log, and directly
    assert _fft_node(example("strainrate2noiselog.json")).onesided
    assert _fft_node(example("ukgeos/seismic2vlf.json")).onesided
    graph = example("strainrate2noiselog.json")
    graph["command_list"].append({"name": "abs", "uid": 8, "in_uid": 2})  # one more use, of the whole spectrum
    assert not _fft_node(graph).onesided


@pytest.mark.parametrize("n", [256, 255, 2, 1])
def test_band_energies_agree_from_one_and_two_sided_spectra(n):
    """Every command that declares it reads only non-negative frequencies gives the same numbers
    from the one-sided spectrum the compiler picks as from distpy's full one (even and odd lengths)."""
    from raydas import commands

    fs = 1000.0
    x = record(3, fs, seconds=1, seed=4)[:, :n]
    params = {
        "rms_from_fft": [{"low_freq": 0, "high_freq": -1}, {"low_freq": 100, "high_freq": 250}],
        "multiple_calcs": [
            {"func": "te_from_fft", "low_freq": [0, 20, 300], "high_freq": [20, 300, -1]},
            {"func": "rms_from_fft", "low_freq": [0, 499], "high_freq": [-1, -1]},
        ],
        "analytic_signal": [{"freq": 200.0, "window_length": min(16, max(3, n))}],
    }
    positive = {name for name, cls in commands.all_commands().items() if cls.spectrum_use == "positive"}
    positive |= {"multiple_calcs", "analytic_signal"}  # per instance: func te/rms; along time
    assert positive == set(params), "give parameters for every command that reads only positive frequencies"
    for name, cases in params.items():
        for p in cases:
            if name == "analytic_signal" and n < 3:
                continue
            one = [{"name": "fft", "uid": 1, "in_uid": 0}, {"name": name, "uid": 2, "in_uid": 1, **p}]
            two = one + [{"name": "abs", "uid": 3, "in_uid": 1}]  # a use of the full spectrum: two-sided
            assert _fft_node({"command_list": one}).onesided and not _fft_node({"command_list": two}).onesided
            a, _ = run_graph(one, make_chunk(x, fs), keep=2)
            b, _ = run_graph(two, make_chunk(x, fs), keep=2)
            assert a.shape == b.shape and a.dtype == b.dtype
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6 * max(np.abs(b).max(), 1e-30), err_msg=name)
