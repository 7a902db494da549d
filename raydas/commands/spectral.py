"""Spectral commands: FFTs and the frequency-band energies of the noise log (FBE).

Conventions (fixing distpy where it was wrong):

* ``fft`` of real data along time keeps the one-sided spectrum (bins
  0..n//2, complex64); ``ifft`` knows to invert it to real samples.
* A band ``[low_freq, high_freq)`` in Hz covers FFT bins
  ``[int(low*n/fs), int(high*n/fs))``; ``high_freq = -1`` (or a band that rounds
  to nothing, or one reaching Nyquist) runs up to and including the Nyquist bin.
* Band total energy ``TE = |X_0|^2 + 2 sum |X_k|^2 + |X_nyq|^2`` over the bins of
  the band (interior bins count twice in a one-sided spectrum: distpy counted
  the band's first and last bins once).
* Band RMS ``= sqrt(TE) / n`` with ``n`` the number of time samples, so the
  0-Nyquist band equals the time-domain RMS (Parseval). distpy divided by
  ``2(rows-1)`` of its memory block, which made values depend on ``BOXSIZE``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..backend import fft_module, is_numpy
from . import register
from .base import ArrayMeta, Command, Params, Spectrum


def _spectrum_of(ctx, x) -> Spectrum:
    """The spectrum description of the input's time axis (assumed a full
    two-sided FFT of the chunk when the input did not come from ``fft``)."""
    spec = ctx.meta.spectrum(1)
    if spec is None:
        spec = Spectrum(axis=1, n=int(x.shape[1]), d=1.0 / ctx.sample_rate, onesided=False)
    return spec


def band_bins(spec: Spectrum, low: float, high: float) -> tuple[int, int]:
    """FFT bin range ``[i1, i2)`` of the band ``[low, high)`` Hz (non-negative bins)."""
    n = spec.n
    nyquist_bin = n // 2
    scale = n * spec.d  # bins per Hz
    i1 = int(low * scale)
    if high < 0 or high * scale >= nyquist_bin or int(high * scale) == i1:
        i2 = nyquist_bin + 1
    else:
        i2 = int(high * scale)
    i1 = max(0, min(i1, nyquist_bin + 1))
    return i1, max(i1, i2)


def _bin_squares(xp, X, ctx):
    """Squared parts of the spectrum, laid out so that a run of bins is one contiguous slice.

    Returns ``(sq, k)``: the power ``|X_j|^2`` of bin ``j`` is the sum of
    ``sq[:, k*j : k*(j+1)]``. For a C-contiguous complex64 spectrum ``sq`` is
    its interleaved (re, im) float32 view squared (``k = 2``): one pass over
    memory, no strided real/imaginary copies. Computed once per FFT value and
    shared by every band command reading it.
    """
    cached = ctx.cache.get("bin_squares")
    if cached is None:
        if X.dtype == xp.complex64 and X.flags.c_contiguous:
            parts = X.view(xp.float32)
            if is_numpy(xp) and parts.ndim == 2:  # on the CPU, sum blocks of rows while they are in cache
                sq, totals = _squares_and_totals(xp, parts)
                ctx.cache["row_power"] = totals  # the whole-spectrum sum of each row (the 0-Nyquist band's bins)
            else:
                sq = parts * parts
            cached = (sq, 2)
        else:
            re, im = X.real, X.imag
            p = (re * re).astype(xp.float32, copy=False)
            if xp.iscomplexobj(X):
                p += im * im
            cached = (p, 1)
        ctx.cache["bin_squares"] = cached
    return cached


def _squares_and_totals(xp, parts, block_bytes: int = 1 << 20):
    """``parts**2`` and its row sums, a block of rows at a time: each block is summed
    while it is still in cache, which saves a pass over the whole squared spectrum."""
    sq = xp.empty_like(parts)
    totals = xp.empty(parts.shape[0], dtype=xp.float32)
    step = max(1, block_bytes // max(1, parts.shape[1] * parts.itemsize))
    for r in range(0, parts.shape[0], step):
        block = xp.multiply(parts[r : r + step], parts[r : r + step], out=sq[r : r + step])
        block.sum(axis=1, out=totals[r : r + step])
    return sq, totals


def _power_sum(xp, X, ctx, i1: int, i2: int):
    """``sum |X_j|^2`` over bins ``[i1, i2)`` of each row (float32 sums, returned as float64)."""
    sq, k = _bin_squares(xp, X, ctx)
    if i1 == 0 and k * i2 >= sq.shape[1] and "row_power" in ctx.cache:
        return ctx.cache["row_power"].astype(xp.float64)
    return sq[:, k * i1 : k * i2].sum(axis=1, dtype=xp.float32).astype(xp.float64)


def band_energy(xp, X, ctx, low: float, high: float):
    """Total energy of each row in the band ``[low, high)`` Hz, float64 ``(rows,)``."""
    spec = _spectrum_of(ctx, X)
    n = spec.n
    i1, i2 = band_bins(spec, low, high)
    nyquist = n // 2 if n % 2 == 0 else None  # the bin that has no mirror image
    if spec.onesided:
        total = 2.0 * _power_sum(xp, X, ctx, i1, i2)
        if i1 == 0:
            total -= _power_sum(xp, X, ctx, 0, 1)
        if nyquist is not None and i1 <= nyquist < i2:
            total -= _power_sum(xp, X, ctx, nyquist, nyquist + 1)
        return total
    # full two-sided spectrum: positive bins plus their mirror images at n - k
    total = _power_sum(xp, X, ctx, i1, i2)
    m1 = max(i1, 1)
    m2 = min(i2, (n + 1) // 2)  # mirrored bins exclude 0 and the Nyquist bin
    if m2 > m1:
        total += _power_sum(xp, X, ctx, n - m2 + 1, n - m1 + 1)
    return total


@register
class FFT(Command):
    name = "fft"
    family = "spectral"
    summary = "Fourier transform along an axis (one-sided complex64 spectrum for real data)."
    time_local = False  # along time (the default axis) it is per chunk; across channels it is local
    changed_from_distpy = "Real input gives the one-sided spectrum (rfft) in complex64 instead of a full complex128 FFT."

    class Params(Params):
        axis: Literal[0, 1, -1] = Field(1, description="1 (or -1) = along time, 0 = along channels")

    def __init__(self, params, uid=0):
        super().__init__(params, uid)
        self.axis = 1 if params.axis == -1 else params.axis
        self.time_local = self.axis == 0  # a transform across channels is per time sample

    def apply(self, xp, x, ctx):
        fft = fft_module(xp)
        if xp.iscomplexobj(x):
            return fft.fft(x.astype(xp.complex64, copy=False), axis=self.axis)
        return fft.rfft(x.astype(xp.float32, copy=False), axis=self.axis)

    def out_meta(self, x, out, ctx):
        meta = ctx.meta
        d = (1.0 / ctx.sample_rate) if self.axis == 1 else _spacing(meta)
        spec = Spectrum(axis=self.axis, n=int(x.shape[self.axis]), d=d, onesided=not _is_complex(x))
        others = tuple(s for s in meta.spectra if s.axis != self.axis)
        if self.axis == 1:
            return ArrayMeta(halo=(0, 0), positions=meta.positions if out.shape[0] == x.shape[0] else None,
                             dt=None, spectra=others + (spec,))
        return ArrayMeta(halo=meta.halo, positions=None, dt=meta.dt, spectra=others + (spec,))


@register
class IFFT(Command):
    name = "ifft"
    family = "spectral"
    summary = "Inverse Fourier transform along an axis (real samples back from a one-sided spectrum)."
    time_local = False

    class Params(Params):
        axis: Literal[0, 1, -1] = Field(1, description="1 (or -1) = along time, 0 = along channels")

    def __init__(self, params, uid=0):
        super().__init__(params, uid)
        self.axis = 1 if params.axis == -1 else params.axis
        self.time_local = self.axis == 0

    def apply(self, xp, x, ctx):
        fft = fft_module(xp)
        spec = ctx.meta.spectrum(self.axis)
        if spec is not None and spec.onesided:
            return fft.irfft(x, n=spec.n, axis=self.axis).astype(xp.float32, copy=False)
        return fft.ifft(x, axis=self.axis).astype(xp.complex64, copy=False)

    def out_meta(self, x, out, ctx):
        meta = ctx.meta
        spec = meta.spectrum(self.axis)
        others = tuple(s for s in meta.spectra if s.axis != self.axis)
        if self.axis == 1:
            dt = spec.d if spec is not None else 1.0 / ctx.sample_rate
            return ArrayMeta(halo=(0, 0), positions=meta.positions, dt=dt, spectra=others)
        return ArrayMeta(halo=meta.halo, positions=meta.positions, dt=meta.dt, spectra=others)


def _is_complex(x) -> bool:
    return getattr(x, "dtype", None) is not None and x.dtype.kind == "c"


def _spacing(meta: ArrayMeta) -> float:
    pos = meta.positions
    if pos is None or len(pos) < 2:
        return 1.0
    return float(abs(pos[1] - pos[0])) or 1.0


@register
class RmsFromFFT(Command):
    name = "rms_from_fft"
    family = "spectral"
    summary = "RMS amplitude in one frequency band, from an FFT along time."
    time_local = False
    changed_from_distpy = (
        "RMS = sqrt(TE)/n_time_samples (distpy divided by 2(rows-1) of its BOXSIZE block); "
        "band end bins weighted correctly; 0..-1 includes the Nyquist bin, so it equals the time-domain RMS."
    )

    class Params(Params):
        low_freq: float = Field(0, description="lower band edge (Hz)")
        high_freq: float = Field(-1, description="upper band edge (Hz), exclusive; -1 = Nyquist")

    def apply(self, xp, x, ctx):
        n = _spectrum_of(ctx, x).n
        te = band_energy(xp, x, ctx, self.params.low_freq, self.params.high_freq)
        return (xp.sqrt(te) / n).astype(xp.float32).reshape(-1, 1)


@register
class MultipleCalcs(Command):
    name = "multiple_calcs"
    family = "spectral"
    summary = "Several band energies at once (the FBE / noise log): one column per band."
    time_local = False
    changed_from_distpy = RmsFromFFT.changed_from_distpy

    class Params(Params):
        func: Literal["te_from_fft", "rms_from_fft", "NONE"] = Field(
            "NONE",
            description="te_from_fft: band total energy TE (= n x sum of squares of the band-passed chunk); "
            "rms_from_fft: band RMS; NONE passes the input through (as distpy)",
        )
        low_freq: list[float] = Field([0], description="lower band edges (Hz)")
        high_freq: list[float] = Field([0], description="upper band edges (Hz), exclusive; -1 = Nyquist")

    def __init__(self, params, uid=0):
        super().__init__(params, uid)
        if len(params.low_freq) != len(params.high_freq):
            raise ValueError(
                f"low_freq has {len(params.low_freq)} bands but high_freq has {len(params.high_freq)}"
            )

    def apply(self, xp, x, ctx):
        p = self.params
        if p.func == "NONE":
            return x
        n = _spectrum_of(ctx, x).n
        cols = []
        for lo, hi in zip(p.low_freq, p.high_freq):
            te = band_energy(xp, x, ctx, lo, hi)
            cols.append(xp.sqrt(te) / n if p.func == "rms_from_fft" else te)
        return xp.stack(cols, axis=1).astype(xp.float32)
