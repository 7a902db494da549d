"""The benchmark runner: its bare-kernel limit computes the right band RMS
(against a plain float64 numpy reference), and ``benchmarks/run.py --quick``
runs end to end and ends with the ratio line (format only: no speed asserted)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import limit  # noqa: E402
import xcorr_limit  # noqa: E402

LAST_LINE = re.compile(r"^\w+=(nan|\d+\.\d+)( \w+=(nan|\d+\.\d+))*$")
#: the ratios the last line must give (more may follow)
RATIOS = ("fbe_vs_limit", "fbe_vs_distpy", "ingest_vs_copy", "attach_vs_private", "xcorr_vs_limit", "xcorr_vs_noisepy")


def _reference_band_rms(x: np.ndarray, fs: float, lo: float, hi: float) -> np.ndarray:
    """Band RMS from a float64 one-sided spectrum: bins [lo*n/fs, hi*n/fs), Nyquist included when hi reaches it."""
    n = x.shape[1]
    power = np.abs(np.fft.rfft(x.astype(np.float64), axis=1)) ** 2
    weight = np.full(power.shape[1], 2.0)
    weight[0] = 1.0
    weight[-1] = 1.0  # n even: the Nyquist bin has no mirror image
    i1 = int(lo * n / fs)
    i2 = power.shape[1] if hi >= fs / 2 else int(hi * n / fs)
    return np.sqrt((power[:, i1:i2] * weight[i1:i2]).sum(axis=1)) / n


def test_limit_kernel_matches_a_float64_reference():
    rng = np.random.default_rng(11)
    fs, n = 1000.0, 1000
    t = np.arange(n) / fs
    x = (rng.standard_normal((5, n)) + np.sin(2 * np.pi * 120 * t)).astype(np.float32)
    bands = [(1, 100), (100, 250), (250, 500)]
    got = limit.fbe_kernel(x, limit.band_edges(n, fs, bands))
    np.testing.assert_allclose(got[:, 0], np.sqrt((x.astype(np.float64) ** 2).mean(axis=1)), rtol=1e-5)  # Parseval
    for j, (lo, hi) in enumerate(bands, start=1):
        np.testing.assert_allclose(got[:, j], _reference_band_rms(x, fs, lo, hi), rtol=1e-5)


def test_limit_needs_contiguous_bands_ending_at_nyquist():
    with pytest.raises(ValueError, match="contiguous"):
        limit.band_edges(1000, 1000.0, [(1, 100), (200, 500)])
    with pytest.raises(ValueError, match="Nyquist"):
        limit.band_edges(1000, 1000.0, [(1, 100), (100, 300)])


def test_xcorr_limit_kernel_is_numpys_correlate_over_n():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 200)).astype(np.float32)
    got = xcorr_limit.xcorr_kernel(x, 1, 5, 30)  # rows 1..4: 10 pairs
    pairs = [(i, j) for i in range(1, 5) for j in range(i, 5)]
    assert got.shape == (10, 61) and got.dtype == np.float32
    for row, (i, j) in enumerate(pairs):
        full = np.correlate(x[j].astype(np.float64), x[i].astype(np.float64), mode="full")  # index k: lag k - 199
        np.testing.assert_allclose(got[row], full[199 - 30 : 199 + 31] / 200, atol=1e-5)


@pytest.mark.slow
def test_quick_benchmark_ends_with_the_ratio_line(tmp_path):
    env = dict(os.environ, RAY_DEDUP_LOGS="0")
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--quick",
            "--no-dascore",
            "--runs",
            "1",
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert LAST_LINE.match(lines[-1]), lines[-5:]
    assert set(RATIOS) <= {pair.split("=")[0] for pair in lines[-1].split()}, lines[-1]
    assert "| fbe | raydas |" in done.stdout and "| ingest | SEG-Y ingest |" in done.stdout
    assert "| ingest | SEG-Y copy |" in done.stdout
    assert "| startup | attached (raydas up) |" in done.stdout
    assert "| xcorr | raydas |" in done.stdout and "agreement raydas xcorr vs limit" in done.stdout
    assert "GPU run pending" in done.stdout
    assert not any(tmp_path.iterdir())  # the data folder is cleaned up
