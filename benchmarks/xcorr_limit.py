"""The bare-kernel limit of all-pairs cross-correlation: what 2 cores can do with no framework.

Each worker process reads one stored float32 chunk (``np.load``, memory-mapped
from the page cache), takes ``scipy.fft.rfft`` along time in float32 (zero-padded
to a fast length of at least ``n + max_lag``), forms the conjugate products of
every pair ``i <= j`` of the channel window in blocks, inverse-transforms them
(``irfft``), keeps lags ``-max_lag..max_lag`` divided by ``n`` (what raydas's
``xcorr`` returns) and saves the ``(pairs, lags)`` float32 array as ``.npy``
with a temporary file and a rename. A persistent, warmed ``multiprocessing``
pool runs one task per chunk; its start-up is not timed.
"""

from __future__ import annotations

import os

import numpy as np

#: complex values formed per block of pairs
BLOCK = 1 << 22


def xcorr_kernel(x: np.ndarray, first: int, stop: int, max_lag: int) -> np.ndarray:
    """All pairs ``i <= j`` of rows ``first..stop-1`` of ``x``: ``sum_t x_i(t) x_j(t + lag) / n`` for
    lags ``-max_lag..max_lag`` (samples), float32 ``(pairs, 2 max_lag + 1)``."""
    import scipy.fft

    n = x.shape[1]
    nfft = scipy.fft.next_fast_len(n + max_lag, real=True)
    X = scipy.fft.rfft(np.asarray(x[first:stop], dtype=np.float32), n=nfft, axis=1, workers=1)
    src, rec = np.triu_indices(stop - first)
    out = np.empty((len(src), 2 * max_lag + 1), dtype=np.float32)
    block = max(1, BLOCK // X.shape[1])
    scale = np.float32(1.0 / n)
    for s in range(0, len(src), block):
        product = X[rec[s : s + block]] * np.conj(X[src[s : s + block]])
        product *= scale
        c = scipy.fft.irfft(product, n=nfft, axis=1, workers=1)
        out[s : s + block, :max_lag] = c[:, nfft - max_lag :]
        out[s : s + block, max_lag:] = c[:, : max_lag + 1]
    return out


def run_chunk(args: tuple) -> int:
    """Worker: one chunk from file to written result; returns the bytes written."""
    path, out_path, first, stop, max_lag = args
    values = xcorr_kernel(np.load(path, mmap_mode="r"), first, stop, max_lag)
    tmp = f"{out_path}.tmp-{os.getpid()}.npy"
    np.save(tmp, values)
    os.replace(tmp, out_path)
    return values.nbytes
