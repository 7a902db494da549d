"""Band energies give the same numbers whatever the spectrum's memory layout
(the interleaved complex64 fast path, a strided view, a complex128 input),
checked against Parseval on the time samples."""

import numpy as np

from raydas.commands.base import ArrayMeta, Context, Spectrum
from raydas.commands.spectral import band_energy


def _ctx(n, fs, onesided=True):
    return Context(sample_rate=fs, meta=ArrayMeta(spectra=(Spectrum(axis=1, n=n, d=1.0 / fs, onesided=onesided),)))


def test_band_energy_same_for_every_layout():
    rng = np.random.default_rng(3)
    fs, n = 1000.0, 1000
    x = rng.standard_normal((6, n)).astype(np.float32)
    parseval = n * (x.astype(np.float64) ** 2).sum(axis=1)  # TE of 0..Nyquist = n * sum x^2
    X = np.fft.rfft(x, axis=1).astype(np.complex64)
    layouts = {
        "contiguous complex64": X,
        "strided rows": np.repeat(X, 2, axis=0)[::2],
        "fortran order": np.asfortranarray(X),
        "complex128": X.astype(np.complex128),
    }
    for name, spec in layouts.items():
        te = band_energy(np, spec, _ctx(n, fs), 0, -1)
        np.testing.assert_allclose(te, parseval, rtol=1e-5, err_msg=name)
        parts = sum(band_energy(np, spec, _ctx(n, fs), lo, hi) for lo, hi in [(0, 100), (100, 300), (300, -1)])
        np.testing.assert_allclose(parts, parseval, rtol=1e-5, err_msg=name)


def test_band_energy_two_sided():
    rng = np.random.default_rng(4)
    fs, n = 500.0, 500
    x = rng.standard_normal((3, n)).astype(np.float32)
    X = np.fft.fft(x, axis=1).astype(np.complex64)
    te = band_energy(np, X, _ctx(n, fs, onesided=False), 0, -1)
    np.testing.assert_allclose(te, n * (x.astype(np.float64) ** 2).sum(axis=1), rtol=1e-5)
