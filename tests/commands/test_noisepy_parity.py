"""raydas's interferometry commands against NoisePy's own functions on the same data.

NoisePy (``noisepy-seis``, module ``noisepy.seis.noise_module``) runs in its own
interpreter through ``tests/noisepy_runner.py``: the one named by
``RAYDAS_NOISEPY_PYTHON`` (``benchmarks/noisepy_env.sh`` builds one and prints it),
else this one if it imports NoisePy; without either the tests skip and say why.
noisepy-seis declares Python < 3.11 and a long list of dependencies (obspy,
pyasdf, zarr, ...); installed with ``pip install --no-deps
--ignore-requires-python noisepy-seis noisepy-seis-io`` plus the few pure-Python
modules its imports ask for (pyasdf, dill, prov, pydantic-yaml, ruamel.yaml,
psutil, diskcache, datetimerange, typepy, mbstrdecoder) into a scratch venv that
also sees raydas's site-packages, its numpy functions run on Python 3.11.

Where the maths are the same the numbers agree to float32 rounding: linear
detrend, demean, the cosine taper, running-absolute-mean and one-bit
normalisation, phase-only whitening with NoisePy's cosine-squared band edges.
Where raydas deliberately differs, the test states the difference and checks it:

* NoisePy's running-mean normalisation divides 0 by 0 on silence (NaN, and
  through its FFT NaN everywhere); raydas gives 0 where the running mean is 0.
* NoisePy's taper is at most 20 *samples* per end whatever the rate; raydas's
  ``max_length`` is in seconds (``20 / fs`` gives NoisePy's).
* NoisePy's band edges: bins ``ix0 - n_taper .. ix0 - 1`` rise as
  ``cos^2(linspace(pi/2, pi, n_taper))`` so bin ``ix0 - 1`` is already 1; raydas's
  ``whiten`` with ``low_freq = (ix0 - 1) df``, ``high_freq = ix1 df`` and
  ``taper_hz = (n_taper - 1) df`` is the same weighting.
* Correlation: NoisePy's is circular over ``next_fast_len(n)`` samples, not
  divided by ``n``; it subtracts the mean of the one-sided cross-spectrum (so
  an auto-correlation loses its zero-lag spike), zeroes the 0-Hz bin (of
  every row, the auto pair's too, unless all rows are auto-correlations) and
  drops the Nyquist bin; and its lag axis is one sample late
  (its sample ``j`` of ``2 L + 1`` holds lag ``j - L - 1``, from labelling
  ``ifftshift``'s output with ``arange(-N/2 + 1, N/2)``). raydas correlates
  linearly (zero padding), divides by ``n``, keeps every bin, and sample ``j``
  holds lag ``j - L``. On input that ends in at least ``L`` zeros (circular
  equals linear there) the test checks NoisePy's result equals raydas's times
  ``n``, shifted one sample, minus exactly those spectral changes (computed here
  with plain numpy).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO, make_chunk, run_command

FS = 100.0  # Hz
N = 2000  # samples: 5-smooth, so NoisePy's next_fast_len keeps it
L = 100  # lag samples
SMOOTH_N = 21  # running-mean window (samples)
RUNNER = os.path.join(REPO, "tests", "noisepy_runner.py")


def _interpreter() -> str:
    """NoisePy's interpreter: ``RAYDAS_NOISEPY_PYTHON``, this one if it imports NoisePy, else
    one built once by ``benchmarks/noisepy_env.sh`` into ``benchmarks/.cache/noisepy-venv``
    (as the distpy parity test builds distpy's); the tests skip, saying why, where that fails."""
    given = os.environ.get("RAYDAS_NOISEPY_PYTHON")
    if given:
        return given
    if importlib.util.find_spec("noisepy") is not None:
        return sys.executable
    folder = os.path.join(REPO, "benchmarks", ".cache", "noisepy-venv")
    python = os.path.join(folder, "bin", "python")
    check = [python, "-c", "import noisepy.seis.noise_module"]
    if os.path.exists(python) and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    built = subprocess.run(
        ["bash", os.path.join(REPO, "benchmarks", "noisepy_env.sh"), folder],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHON=sys.executable),
        timeout=600,
    )
    if built.returncode == 0:
        return python
    pytest.skip(
        "NoisePy is not importable here and benchmarks/noisepy_env.sh could not build an interpreter for it "
        f"({built.stderr.strip()[-300:]}); set RAYDAS_NOISEPY_PYTHON to one where noisepy.seis.noise_module imports"
    )


def _data() -> tuple[np.ndarray, list[int]]:
    """Four channels of the same noise, delayed by known samples; the last 200 samples are zeros."""
    rng = np.random.default_rng(14)
    s = rng.standard_normal(N + 400)
    delays = [0, 3, 7, -5]
    x = np.zeros((4, N))
    for k, d in enumerate(delays):
        x[k, : N - 200] = s[200 - d : 200 - d + N - 200]
    return x.astype(np.float32).astype(np.float64), delays


def _dense() -> np.ndarray:
    """Noise without zeros (NoisePy's running-mean normalisation divides 0 by 0 on silence)."""
    return np.random.default_rng(15).standard_normal((3, N)).astype(np.float32).astype(np.float64)


@pytest.fixture(scope="module")
def noisepy(tmp_path_factory) -> dict[str, np.ndarray]:
    python = _interpreter()
    folder = tmp_path_factory.mktemp("noisepy")
    x, _ = _data()
    np.savez(folder / "in.npz", x=x, dense=_dense(), fs=FS, freqmin=5.0, freqmax=30.0, smooth_n=SMOOTH_N, maxlag=L / FS)
    done = subprocess.run(
        [python, RUNNER, str(folder / "in.npz"), str(folder / "out.npz")], capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        pytest.fail(f"NoisePy's runner failed under {python}:\n{done.stderr[-3000:]}")
    with np.load(folder / "out.npz") as out:
        return dict(out)


def _raydas(command: dict) -> np.ndarray:
    x, _ = _data()
    return run_command(command, make_chunk(x, FS))[0].astype(np.float64)


def test_detrend_and_demean(noisepy):
    np.testing.assert_allclose(_raydas({"name": "detrend", "type": "linear"}), noisepy["detrend"], atol=2e-5)
    np.testing.assert_allclose(_raydas({"name": "detrend", "type": "constant"}), noisepy["demean"], atol=2e-5)


def test_taper_with_noisepys_twenty_samples(noisepy):
    got = _raydas({"name": "taper", "fraction": 0.05, "max_length": 20 / FS})
    np.testing.assert_allclose(got, noisepy["taper"], atol=1e-6)
    # the documented difference: NoisePy's 20 samples are 20 samples at any rate; raydas's cap is in seconds
    longer = _raydas({"name": "taper", "fraction": 0.05, "max_length": 0.5})  # 50 samples at 100 Hz
    assert not np.allclose(longer[:, :50], noisepy["taper"][:, :50])


def test_running_abs_mean_and_one_bit(noisepy):
    rma = np.fft.ifft(noisepy["rma_fft"], axis=1).real  # NoisePy hands back the FFT of its normalised data
    command = {"name": "running_abs_mean", "window": SMOOTH_N / FS}
    got = run_command(command, make_chunk(_dense(), FS))[0]
    np.testing.assert_allclose(got, rma, atol=1e-5)
    # the documented difference: on silence (the zeros ending _data()) NoisePy divides 0 by 0, and the NaN
    # spreads through its FFT to every sample; raydas gives 0 there
    assert np.isnan(noisepy["rma_zeros_fft"]).all()
    silent = _raydas(command)
    assert np.isfinite(silent).all() and (silent[:, -150:] == 0).all()
    one_bit = np.fft.ifft(noisepy["one_bit_fft"], axis=1).real
    np.testing.assert_allclose(_raydas({"name": "one_bit"}), one_bit, atol=1e-9)


def test_phase_only_whitening_with_noisepys_band_edges(noisepy):
    df = FS / N
    ix0, ix1, n_taper = 100, 600, 100  # NoisePy: the bins nearest 5 and 30 Hz, its 100-bin ramps
    got = _raydas(
        {
            "name": "whiten",
            "low_freq": (ix0 - 1) * df,
            "high_freq": ix1 * df,
            "taper_hz": (n_taper - 1) * df,
        }
    )
    ours = np.fft.rfft(got, axis=1)[:, : N // 2]
    theirs = noisepy["whiten_fft"][:, : N // 2]  # NoisePy zeroes the negative frequencies
    np.testing.assert_allclose(ours, theirs, atol=2e-4)
    assert np.abs(theirs[:, ix0 : ix1 + 1]).min() == pytest.approx(1.0)  # flat inside the band


def test_cross_correlation_differs_only_as_documented(noisepy):
    x, delays = _data()
    got, meta = run_command({"name": "xcorr", "sources": [0], "max_lag_seconds": L / FS}, make_chunk(x, FS))
    theirs = noisepy["xcorr"]
    assert theirs.shape == (4, 2 * L + 1) and int(noisepy["xcorr_nfft"]) == N
    # their peaks sit one sample later on their lag axis than the delays; ours at the delays
    np.testing.assert_array_equal(np.argmax(theirs[1:], axis=1) - L, np.array(delays[1:]) + 1)
    np.testing.assert_allclose(meta.coord("lag").values[np.argmax(got[1:], axis=1)], np.array(delays[1:]) / FS)

    # the documented changes, in plain numpy: spectral mean removed, DC zeroed (cross pairs), Nyquist dropped
    F = np.fft.fft(x, axis=1)
    tau = np.arange(-L - 1, L)  # the lag each of NoisePy's samples holds
    k = np.arange(1, N // 2)
    kernel = np.exp(2j * np.pi * np.outer(tau, k) / N).sum(axis=1)  # sum over bins 1..N/2-1 of e^{i 2 pi k tau / N}
    for row in range(4):
        cross = np.conj(F[0]) * F[row]
        m = cross[: N // 2].mean()
        change = -(2.0 / N) * np.real(m * kernel)  # -m on bins 1..N/2-1 and its mirror image
        change -= np.real(cross[N // 2]) * (-1.0) ** tau / N  # the Nyquist bin dropped
        change -= np.real(cross[0]) / N  # bin 0 zeroed: the batch is not all auto-correlations, so in every row
        ours = np.concatenate([[0.0], got[row, :-1]])  # our lag j - L - 1 at their sample j (first one: see below)
        expected = N * ours.astype(np.float64) + change
        scale = np.abs(theirs[row]).max()
        np.testing.assert_allclose(theirs[row, 1:], expected[1:], atol=2e-4 * scale, err_msg=f"pair 0-{row}")
