"""The bare-kernel limit of the FBE workload: what 2 cores can do with no framework.

Each worker process reads one stored float32 chunk (``np.load``, memory-mapped
from the page cache), takes ``scipy.fft.rfft`` along time in float32 (complex64
out), squares the interleaved real/imaginary parts once and sums them per band
with ``np.add.reduceat``, then writes the band RMS table as text (the same
rows and number format as the data lines of raydas's WITSML file) with a
temporary file and a rename. A persistent, warmed ``multiprocessing`` pool runs
one task per chunk; its start-up is not timed.
"""

from __future__ import annotations

import os

import numpy as np


def band_edges(n: int, prf: float, bands: list[tuple[float, float]]) -> np.ndarray:
    """FFT bin edges of contiguous bands (raydas's and distpy's bin rule), plus bin 0 in front."""
    from raydas.commands.base import Spectrum
    from raydas.commands.spectral import band_bins

    spec = Spectrum(axis=1, n=n, d=1.0 / prf, onesided=True)
    bins = [band_bins(spec, lo, hi) for lo, hi in bands]
    for (_, a), (b, _) in zip(bins, bins[1:]):
        if a != b:
            raise ValueError(f"the limit kernel needs contiguous bands, got bins {bins}")
    if bins[-1][1] != n // 2 + 1:
        raise ValueError("the limit kernel needs the last band to end at Nyquist")
    return np.array([0] + [b[0] for b in bins], dtype=np.intp)


def fbe_kernel(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Band RMS ``(channels, 1 + bands)``: column 0 is 0-Nyquist, then each band.

    ``edges`` from :func:`band_edges`: ``[0, first bin of band 1, ..., first bin of the last band]``.
    """
    import scipy.fft

    n = x.shape[1]
    spectrum = scipy.fft.rfft(x, axis=1, workers=1)
    interleaved = spectrum.view(np.float32)  # re, im, re, im ...: |X_k|^2 is the sum of a pair
    sq = interleaved * interleaved
    sums = np.add.reduceat(sq, 2 * edges, axis=1)  # [p0, band 1, ..., last band (to Nyquist)]
    p0 = sums[:, 0]
    p_nyquist = sq[:, -2] + sq[:, -1] if n % 2 == 0 else 0.0
    te = 2.0 * sums[:, 1:]
    if edges[1] == 0:
        te[:, 0] -= p0
    te[:, -1] -= p_nyquist
    total = 2.0 * sums.sum(axis=1) - p0 - p_nyquist
    return np.sqrt(np.column_stack([total, te])) / n


def text_table(depth: np.ndarray, values: np.ndarray) -> bytes:
    """Rows ``depth, v1, ...`` with 9 significant digits (as raydas's WITSML data lines)."""
    table = np.column_stack([depth, values]).tolist()
    return "".join(", ".join(f"{v:.9g}" for v in row) + "\n" for row in table).encode()


def run_chunk(args: tuple) -> int:
    """Worker: one chunk from file to written result; returns the bytes written."""
    path, out_path, edges, depth = args
    x = np.load(path, mmap_mode="r")
    values = fbe_kernel(x, edges)
    payload = text_table(depth, values)
    tmp = f"{out_path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(payload)
    os.replace(tmp, out_path)
    return len(payload)


def warm(_=None) -> int:
    """Import and plan once in a worker (untimed warm-up)."""
    import scipy.fft

    scipy.fft.rfft(np.zeros((4, 64), np.float32), axis=1)
    return os.getpid()
