"""Spectral commands: FFTs and the frequency-band energies of the noise log (FBE).

Conventions (fixing distpy where it was wrong):

* ``fft`` has distpy's meaning: the full (two-sided) complex spectrum of
  every chunk, in complex64, so a graph that uses the whole spectrum (an
  ``abs`` written out beside the time series, a time-frequency summary) sees
  distpy's shapes and numbers. Where every use of the spectrum reads only its
  non-negative frequencies (the band energies of the noise log,
  :attr:`~raydas.commands.base.Command.spectrum_use` ``"positive"``), the
  pipeline has ``fft`` of real data along time keep the one-sided spectrum
  (bins 0..n//2: half the work and memory, the same numbers); ``ifft`` knows
  to invert it to real samples.
* A band ``[low_freq, high_freq)`` in Hz covers FFT bins
  ``[int(low*n/fs), int(high*n/fs))``; ``high_freq = -1`` (or a band that rounds
  to nothing, or one reaching Nyquist) runs up to and including the Nyquist bin.
* Band total energy ``TE = |X_0|^2 + 2 sum |X_k|^2 + |X_nyq|^2`` over the bins of
  the band (interior bins count twice in a one-sided spectrum: distpy counted
  the band's first and last bins once).
* Band RMS ``= sqrt(TE) / n`` with ``n`` the number of time samples, so the
  0-Nyquist band equals the time-domain RMS (Parseval). distpy divided by
  ``2(rows-1)`` of its memory block, which made values depend on ``BOXSIZE``.
* Two-dimensional (f-k) spectra are made as in distpy's configs: ``fft`` along
  time (axis 1), then ``fft`` along channels (axis 0). Every spectral axis is recorded
  in the array's metadata (:class:`~raydas.commands.base.Spectrum`), so
  ``ifft`` in either order, ``velocity_map`` and ``up_wave``/``down_wave``
  know the exact frequency (Hz) and wavenumber (cycles/m) of every bin: numpy's
  ``rfftfreq``/``fftfreq`` layout, ``k = j / (n dx)``.
* Commands on spectra along time see one chunk (without halo): they are per
  chunk (``time_local = False``). Along channels only, they are time-local.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from ..backend import fft_module, is_numpy, signal_module
from . import register
from .algebra import gathered_operand, same_precision
from .base import VIBRATION, ArrayMeta, Command, Layout, Params, Spectrum
from .common import AxisCommand, need_at_least, one_per
from .filters import butter_sos, filtfilt_padlen


def _spectrum_of(ctx, x, axis: int = 1) -> Spectrum:
    """The spectrum description of the input's ``axis`` (assumed a full
    two-sided FFT of the chunk, as in distpy, when the input did not come from
    ``fft``: sample spacing ``1/sample_rate`` along time, the channel spacing
    across channels)."""
    spec = ctx.meta.spectrum(axis)
    if spec is None:
        d = 1.0 / ctx.sample_rate if axis == 1 else _spacing(ctx.meta)
        coords = ctx.meta.positions if axis == 0 else None
        spec = Spectrum(axis=axis, n=int(x.shape[axis]), d=d, onesided=False, coords=coords)
    expected = spec.n // 2 + 1 if spec.onesided else spec.n
    if x.shape[axis] != expected:
        raise ValueError(
            f"axis {axis} holds {x.shape[axis]} values but its spectrum of {spec.n} samples has {expected} bins"
        )
    return spec


def bin_frequencies(xp, spec: Spectrum):
    """Signed frequency of every bin along a spectral axis (Hz along time,
    cycles/m across channels), float64, in numpy's FFT order: ``rfftfreq`` for
    a one-sided spectrum, ``fftfreq`` for a full one."""
    fft = fft_module(xp)
    f = fft.rfftfreq(spec.n, spec.d) if spec.onesided else fft.fftfreq(spec.n, spec.d)
    return xp.asarray(f, dtype=xp.float64)


def _along(xp, v, axis: int, ndim: int = 2):
    """``v`` (1-D) shaped to broadcast along ``axis`` of a ``ndim``-D array."""
    shape = [1] * ndim
    shape[axis] = -1
    return v.reshape(shape)


def two_sided(xp, X, axis: int, spec: Spectrum, meta: ArrayMeta):
    """The full spectrum along ``axis`` from a one-sided one (bins 0..n//2).

    Negative bins come from Hermitian symmetry of the real signal: in 1-D
    ``X[-j] = conj(X[j])``; when the other axis is also a (full) spectrum,
    ``X[-k, -j] = conj(X[k, j])``.
    """
    if not spec.onesided:
        return X
    m = spec.n - (spec.n // 2 + 1)  # number of negative-frequency bins
    index = [slice(None)] * X.ndim
    index[axis] = slice(m, 0, -1)
    neg = xp.conj(X[tuple(index)])
    if X.ndim == 2:
        other = 1 - axis
        if meta.spectrum(other) is not None:
            neg = xp.roll(xp.flip(neg, axis=other), 1, axis=other)
    return xp.concatenate([X, neg], axis=axis)


def to_space_time(xp, X, meta: ArrayMeta):
    """Invert every spectral axis of ``X`` (full ones first, the one-sided one
    last, the reverse of how ``fft`` made them). Real float32 when a one-sided
    axis was inverted, complex64 otherwise."""
    fft = fft_module(xp)
    specs = sorted(meta.spectra, key=lambda s: s.onesided)
    out = X
    for spec in specs:
        if spec.onesided:
            out = fft.irfft(out, n=spec.n, axis=spec.axis).astype(xp.float32, copy=False)
        else:
            out = fft.ifft(out, axis=spec.axis)
    return out if out.dtype.kind == "f" else out.astype(xp.complex64, copy=False)


def space_time_meta(meta: ArrayMeta, ctx) -> ArrayMeta:
    """Metadata after every spectral axis has been inverted."""
    positions = meta.positions
    dt = meta.dt
    for spec in meta.spectra:
        if spec.axis == 0:
            positions = spec.coords
        else:
            dt = spec.d
    return ArrayMeta(halo=(0, 0) if meta.spectrum(1) else meta.halo, positions=positions, dt=dt, spectra=())


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


def band_edges_error(low: float, high: float) -> str | None:
    """Why ``[low, high)`` Hz is no band, or None. distpy's conventions hold:
    ``high = -1`` means up to Nyquist, and so does a ``high`` equal to ``low``
    (a band "too narrow"); any other ``high`` below ``low`` would be empty, and
    read as zeros that look like data."""
    if low < 0:
        return f"the band {low:g} to {high:g} Hz starts below 0 Hz"
    if high < 0 and high != -1:
        return f"high_freq {high:g} Hz: -1 means up to Nyquist; no other negative value means anything"
    if 0 <= high < low:
        return f"the band {low:g} to {high:g} Hz ends below where it starts (it would be empty)"
    return None


def check_band(low: float, high: float, nyquist: float) -> None:
    """Refuse a band ``[low, high)`` Hz that reaches beyond the Nyquist frequency
    (Hz) of the record: its bins do not exist, and would read as zeros that look
    like data. ``high = -1`` (any negative value) means up to Nyquist.

    Raises
    ------
    ValueError
        Naming the band and the Nyquist frequency.
    """
    if low > nyquist or high > nyquist:
        band = f"band {low:g} Hz to Nyquist" if high < 0 else f"band {low:g} to {high:g} Hz"
        advice = "" if high < 0 else " (use high_freq -1 for 'up to Nyquist')"
        raise ValueError(f"{band} lies beyond the Nyquist frequency {nyquist:g} Hz of this record{advice}")


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
            cached = (parts * parts, 2)
        else:
            re, im = X.real, X.imag
            p = (re * re).astype(xp.float32, copy=False)
            if xp.iscomplexobj(X):
                p += im * im
            cached = (p, 1)
        ctx.cache["bin_squares"] = cached
    return cached


def _power_sum(xp, X, ctx, i1: int, i2: int):
    """``sum |X_j|^2`` over bins ``[i1, i2)`` of each row (float32 sums, returned as float64)."""
    if is_numpy(xp) and X.ndim == 2 and X.dtype == xp.complex64 and X.flags.c_contiguous and hasattr(xp, "vecdot"):
        # on the CPU: a dot product of each row's interleaved (re, im) slice with itself
        # (BLAS, no squared copy of the spectrum in memory)
        parts = X.view(xp.float32)[:, 2 * i1 : 2 * i2]
        return xp.vecdot(parts, parts).astype(xp.float64)
    sq, k = _bin_squares(xp, X, ctx)
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
class FFT(AxisCommand):
    """Fourier transform along an axis: distpy's full complex spectrum (complex64).

    When the pipeline finds that every use of the result reads only
    non-negative frequencies (band energies), the transform of real data along
    time keeps bins ``0..n//2`` only (numpy's ``rfft`` layout, recorded in the
    array's metadata): the same numbers for those uses at half the cost.
    """

    name = "fft"
    family = "spectral"
    description = (
        "Fourier transform along an axis: the full complex64 spectrum (one-sided where only band energies read it)."
    )
    time_local = False  # along time (the default axis) it is per chunk; across channels it is local
    keeps_layout = True  # the transform of the same rows and columns
    changed_from_distpy = (
        "complex64 instead of complex128; where every use reads only non-negative frequencies (band energies) "
        "the spectrum of real data along time is one-sided (bins 0..n/2), with the same band values."
    )

    class Params(Params):
        axis: Literal[0, 1, -1] = Field(1, description="1 (or -1) = along time, 0 = along channels")

    def __init__(self, params, uid=0):
        super().__init__(params, uid)
        self.onesided = False  # set by the pipeline (choose_spectrum_layout)

    def choose_spectrum_layout(self, positive_only: bool) -> None:
        self.onesided = positive_only and self.axis == 1

    def apply(self, xp, x, ctx):
        fft = fft_module(xp)
        if xp.iscomplexobj(x):
            return fft.fft(x.astype(xp.complex64, copy=False), axis=self.axis)
        if self.onesided:
            return fft.rfft(x.astype(xp.float32, copy=False), axis=self.axis)
        return fft.fft(x.astype(xp.float32, copy=False), axis=self.axis).astype(xp.complex64, copy=False)

    def out_meta(self, x, out, ctx):
        meta = ctx.meta
        d = (1.0 / ctx.sample_rate) if self.axis == 1 else _spacing(meta)
        spec = Spectrum(
            axis=self.axis,
            n=int(x.shape[self.axis]),
            d=d,
            onesided=self.onesided and not _is_complex(x),
            coords=meta.positions if self.axis == 0 else None,
        )
        others = tuple(s for s in meta.spectra if s.axis != self.axis)
        if self.axis == 1:
            return ArrayMeta(
                halo=(0, 0),
                positions=meta.positions if out.shape[0] == x.shape[0] else None,
                dt=None,
                spectra=others + (spec,),
            )
        return ArrayMeta(halo=meta.halo, positions=None, dt=meta.dt, spectra=others + (spec,))


@register
class IFFT(AxisCommand):
    name = "ifft"
    family = "spectral"
    description = "Inverse Fourier transform along an axis (real samples back from a one-sided spectrum)."
    time_local = False
    keeps_layout = True

    class Params(Params):
        axis: Literal[0, 1, -1] = Field(1, description="1 (or -1) = along time, 0 = along channels")

    def apply(self, xp, x, ctx):
        fft = fft_module(xp)
        spec = ctx.meta.spectrum(self.axis)
        if spec is not None and spec.onesided:
            if len(ctx.meta.spectra) == 1:
                return fft.irfft(x, n=spec.n, axis=self.axis).astype(xp.float32, copy=False)
            # the other axis is still a spectrum: the one-sided half alone is not
            # Hermitian along this axis, so rebuild the full spectrum first
            x = two_sided(xp, x, self.axis, spec, ctx.meta)
        return fft.ifft(x, axis=self.axis).astype(xp.complex64, copy=False)

    def out_meta(self, x, out, ctx):
        meta = ctx.meta
        spec = meta.spectrum(self.axis)
        others = tuple(s for s in meta.spectra if s.axis != self.axis)
        if self.axis == 1:
            dt = spec.d if spec is not None else 1.0 / ctx.sample_rate
            return ArrayMeta(halo=(0, 0), positions=meta.positions, dt=dt, spectra=others)
        positions = spec.coords if spec is not None and spec.coords is not None else meta.positions
        return ArrayMeta(halo=meta.halo, positions=positions, dt=meta.dt, spectra=others)


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
    quantities = VIBRATION
    family = "spectral"
    description = "RMS amplitude in one frequency band, from an FFT along time."
    time_local = False
    spectrum_use = "positive"
    changed_from_distpy = (
        "RMS = sqrt(TE)/n_time_samples (distpy divided by 2(rows-1) of its BOXSIZE block); "
        "band end bins weighted correctly; 0..-1 includes the Nyquist bin, so it equals the time-domain RMS. "
        "A band beyond a record's Nyquist frequency refuses that record at planning, and one ending below its "
        "start is a config error (distpy gave zeros for both)."
    )

    class Params(Params):
        low_freq: float = Field(0, description="lower band edge (Hz)")
        high_freq: float = Field(-1, description="upper band edge (Hz), exclusive; -1 = Nyquist")

        @field_validator("high_freq")
        @classmethod
        def _a_band(cls, high: float, info: ValidationInfo) -> float:
            problem = band_edges_error(info.data["low_freq"], high) if "low_freq" in info.data else None
            if problem:
                raise ValueError(problem)
            return high

    def check_layout(self, layout, gathered=()):
        check_band(self.params.low_freq, self.params.high_freq, layout.nyquist)

    def layout_after(self, layout):
        return Layout(layout.sample_rate, layout.channels, 1)

    def apply(self, xp, x, ctx):
        n = _spectrum_of(ctx, x).n
        te = band_energy(xp, x, ctx, self.params.low_freq, self.params.high_freq)
        return (xp.sqrt(te) / n).astype(xp.float32).reshape(-1, 1)


@register
class MultipleCalcs(Command):
    name = "multiple_calcs"
    quantities = VIBRATION
    family = "spectral"
    description = "Several band energies at once (the FBE / noise log): one column per band."
    time_local = False
    changed_from_distpy = (
        RmsFromFFT.changed_from_distpy + " func is required (without it distpy passed on a stale input)."
    )

    class Params(Params):
        func: Literal["te_from_fft", "rms_from_fft", "NONE"] | None = Field(
            None,
            validate_default=True,
            description="te_from_fft: band total energy TE (= n x sum of squares of the band-passed chunk); "
            "rms_from_fft: band RMS; NONE passes the input through (as distpy). Required.",
        )
        low_freq: list[float] = Field([0], description="lower band edges (Hz)")
        high_freq: list[float] = Field([0], description="upper band edges (Hz), exclusive; -1 = Nyquist")

        @field_validator("func")
        @classmethod
        def _given(cls, func):
            if func is None:
                raise ValueError(
                    "multiple_calcs needs func: te_from_fft (band total energies) or rms_from_fft (band RMS)"
                )
            return func

        @field_validator("high_freq")
        @classmethod
        def _bands(cls, high: list[float], info: ValidationInfo) -> list[float]:
            low = info.data.get("low_freq")
            if low is None:
                return high
            one_per(high, low, "high_freq", "low_freq", "band")
            for lo, hi in zip(low, high):
                problem = band_edges_error(lo, hi)
                if problem:
                    raise ValueError(problem)
            return high

    def __init__(self, params, uid=0):
        super().__init__(params, uid)
        self.spectrum_use = "through" if params.func == "NONE" else "positive"

    def check_layout(self, layout, gathered=()):
        if self.params.func != "NONE":
            for low, high in zip(self.params.low_freq, self.params.high_freq):
                check_band(low, high, layout.nyquist)

    def layout_after(self, layout):
        if self.params.func == "NONE":
            return layout
        return Layout(layout.sample_rate, layout.channels, len(self.params.low_freq))

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


def _replace_spectrum(meta: ArrayMeta, spec: Spectrum) -> ArrayMeta:
    others = tuple(s for s in meta.spectra if s.axis != spec.axis)
    return ArrayMeta(
        halo=meta.halo if spec.axis == 0 else (0, 0), positions=meta.positions, dt=meta.dt, spectra=others + (spec,)
    )


@register
class AnalyticSignal(AxisCommand):
    """Narrow-band analytic signal around ``freq`` (distpy's "MLE" estimator).

    The input is a spectrum along ``axis`` (from ``fft``). It is multiplied by
    the spectrum of a Hann-windowed complex exponential at ``freq`` (centred on
    sample 0), which keeps a band of width about ``2 fs / window_length`` around
    ``+freq`` and suppresses negative frequencies. The result is a full
    (two-sided) spectrum: ``ifft`` turns it into the complex analytic signal,
    whose magnitude is the envelope and whose angle is the phase. The kernel is
    scaled by ``2 / sum(window)``, so that a sinusoid ``A cos(2 pi freq t + p)``
    comes back as ``A exp(i (2 pi freq t + p))``.

    Per chunk along time (``time_local`` only for ``axis = 0``).
    """

    name = "analytic_signal"
    family = "spectral"
    description = "Narrow-band analytic signal at freq from a spectrum (ifft it for envelope and phase); per chunk."
    time_local = False
    changed_from_distpy = (
        "Uses the sample rate along time (1/dx across channels); distpy used the channel spacing dx along time. "
        "axis=0 works for any shape (distpy only when channels == samples). Scaled by 2/sum(window) so a "
        "sinusoid at freq has its amplitude as envelope (distpy's values were sum(window)/2 times larger)."
    )

    class Params(Params):
        freq: float = Field(200.0, description="centre frequency (Hz along time, cycles/m across channels)")
        window_length: int = Field(
            64, ge=3, description="Hann window length (samples); pass band about 2 fs / window_length wide"
        )
        axis: Literal[0, 1, -1] = Field(1, description="1 (or -1) = along time, 0 = across channels")

    def __init__(self, params, uid=0):
        super().__init__(params, uid)
        # along time it rebuilds the full spectrum from a one-sided one (Hermitian symmetry): the same result
        self.spectrum_use = "positive" if self.axis == 1 else "full"

    keeps_layout = True

    def check_layout(self, layout, gathered=()):
        w = self.params.window_length
        if self.axis == 1:
            if abs(self.params.freq) > layout.nyquist:
                nyquist = layout.nyquist
                raise ValueError(f"freq {self.params.freq:g} Hz lies beyond the Nyquist frequency {nyquist:g} Hz")
            need_at_least(layout.samples, w, "samples in a chunk", f"a Hann window of {w} samples")
        else:
            need_at_least(layout.channels, w, "channels", f"a Hann window of {w} channels")

    def kernel_spectrum(self, xp, spec: Spectrum):
        """FFT (length ``spec.n``) of the scaled, windowed complex exponential."""
        n, w = spec.n, self.params.window_length
        if w > n:
            raise ValueError(f"window_length {w} is longer than the {n} samples along axis {self.axis}")
        lag = xp.arange(w, dtype=xp.float64) - w // 2  # samples, centred on 0
        window = xp.hanning(w)
        taps = window * xp.exp(2j * np.pi * self.params.freq * lag * spec.d) * (2.0 / float(window.sum()))
        line = xp.zeros(n, dtype=xp.complex128)
        line[(lag.astype(xp.int64) % n)] = taps
        return fft_module(xp).fft(line)

    def apply(self, xp, x, ctx):
        if ctx.meta.spectrum(self.axis) is None and not xp.iscomplexobj(x):
            raise ValueError(f"analytic_signal works on a spectrum: put fft (axis {self.axis}) before it")
        spec = _spectrum_of(ctx, x, self.axis)
        full = two_sided(xp, x, self.axis, spec, ctx.meta)
        h = self.kernel_spectrum(xp, spec).astype(xp.complex64)
        return full.astype(xp.complex64, copy=False) * _along(xp, h, self.axis, full.ndim)

    def out_meta(self, x, out, ctx):
        spec = _spectrum_of(ctx, x, self.axis)
        return _replace_spectrum(ctx.meta, Spectrum(self.axis, spec.n, spec.d, False, coords=spec.coords))


@register
class Deconvolve(Command):
    """``X conj(D) / (|D|^2 + tolerance)`` with ``D`` from ``gather_uids[0]``,
    both spectra (a water-level deconvolution). Per chunk."""

    name = "deconvolve"
    family = "spectral"
    description = "Spectral division X conj(D)/(|D|^2 + tolerance), D from gather_uids[0]; per chunk."
    keeps_layout = True
    inputs = "gather"
    time_local = False

    class Params(Params):
        tolerance: float = Field(1e-6, ge=0, description="water level added to |D|^2 (units of |D|^2)")

    def apply(self, xp, x, ctx):
        d = gathered_operand(xp, x, ctx.gathered[0], None, "deconvolve")
        den = (d.real * d.real + d.imag * d.imag) if xp.iscomplexobj(d) else d * d
        return same_precision(xp, x * xp.conj(d) / (den + self.params.tolerance))


@register
class VirtualCMP(AxisCommand):
    """Virtual-source common-midpoint gather: ``X conj(flip(X, axis))``, the
    cross-spectrum of each trace with its mirror image (seismic interferometry).
    Per chunk along time; time-local for ``axis = 0``."""

    name = "virtual_cmp"
    family = "spectral"
    description = "Virtual common-midpoint gather X conj(flip(X, axis)) of a spectrum; per chunk."
    keeps_layout = True
    time_local = False

    class Params(Params):
        axis: Literal[0, 1, -1] = Field(0, description="axis to mirror: 0 = channels, 1 (or -1) = time")

    def apply(self, xp, x, ctx):
        return same_precision(xp, x * xp.conj(xp.flip(x, axis=self.axis)))


def _fk_grid(xp, x, ctx):
    """Signed wavenumber (cycles/m, column) and frequency (Hz, row) of every
    bin of a 2-D spectrum, with the wavenumber sign flipped when positions
    decrease with channel index (so that +k always points to greater depth)."""
    kspec = _spectrum_of(ctx, x, 0)
    fspec = _spectrum_of(ctx, x, 1)
    k = bin_frequencies(xp, kspec)
    coords = kspec.coords
    if coords is not None and len(coords) > 1 and float(coords[-1]) < float(coords[0]):
        k = -k
    return k.reshape(-1, 1), bin_frequencies(xp, fspec).reshape(1, -1), kspec, fspec


class _Wavefield(Command):
    """Up/down-going wave separation in the f-k domain (shared by up_wave and down_wave)."""

    family = "spectral"
    time_local = False
    keeps_layout = True
    keep_sign = 0  # +1: k f > 0 kept, -1: k f < 0 kept

    def apply(self, xp, x, ctx):
        k, f, kspec, fspec = _fk_grid(xp, x, ctx)
        sk = _sign_without_nyquist(xp, k, kspec)
        sf = _sign_without_nyquist(xp, f, fspec)
        s = sk * sf  # +1, -1, or 0 on the k = 0 / f = 0 / Nyquist lines
        weight = xp.where(s == self.keep_sign, 1.0, xp.where(s == 0, 0.5, 0.0)).astype(xp.float32)
        return to_space_time(xp, x * weight, _with_specs(ctx.meta, kspec, fspec))

    def out_meta(self, x, out, ctx):
        kspec = _spectrum_of(ctx, x, 0)
        fspec = _spectrum_of(ctx, x, 1)
        return space_time_meta(_with_specs(ctx.meta, kspec, fspec), ctx)


def _sign_without_nyquist(xp, f, spec: Spectrum):
    """sign(f), 0 at f = 0 and at the Nyquist bin of an even length (whose sign is ambiguous)."""
    s = xp.sign(f)
    if spec.n % 2 == 0:
        s = xp.where(xp.abs(f) >= 0.5 / spec.d * (1 - 1e-12), 0.0, s)
    return s


def _with_specs(meta: ArrayMeta, *specs: Spectrum) -> ArrayMeta:
    axes = {s.axis for s in specs}
    return ArrayMeta(
        halo=meta.halo,
        positions=meta.positions,
        dt=meta.dt,
        spectra=tuple(s for s in meta.spectra if s.axis not in axes) + specs,
    )


@register
class UpWave(_Wavefield):
    """Up-going waves (travelling towards smaller channel positions, i.e. shallower
    measured depth) from a 2-D f-k spectrum (``fft`` along time, then along
    channels), returned in time and space.

    Keeps the quadrants where wavenumber and frequency have the same sign (with
    numpy's ``exp(-i 2 pi (k x + f t))`` convention a wave ``cos(2 pi (f t + k x))``
    moves towards smaller ``x``); bins on the ``k = 0`` and ``f = 0`` (and
    Nyquist) lines are shared half and half with ``down_wave``, so that
    ``up_wave + down_wave`` gives back the input exactly. Complex output (real
    up to rounding for real data), as distpy's; real when the graph made the
    time spectrum one-sided. Per chunk.
    """

    name = "up_wave"
    description = "Up-going waves (towards smaller positions) from an f-k spectrum, back in time-space; per chunk."
    keep_sign = 1
    changed_from_distpy = (
        "Exact f-k bins; removed quadrants are zeroed (distpy scaled them "
        "by 1e-6) and the k=0/f=0 lines are split evenly with down_wave so up + down = input."
    )


@register
class DownWave(_Wavefield):
    """Down-going waves (towards greater channel positions): the quadrants that
    ``up_wave`` removes. Per chunk. See :class:`UpWave`."""

    name = "down_wave"
    description = "Down-going waves (towards greater positions) from an f-k spectrum, back in time-space; per chunk."
    keep_sign = -1
    changed_from_distpy = "Keeps the complementary quadrants of up_wave (distpy's down_wave was identical to up_wave)."


@register
class VelocityMap(Command):
    """Apparent phase velocity ``|f| / |k|`` (m/s) at every bin of a 2-D f-k
    spectrum (``fft`` along time, then along channels).

    ``f`` (Hz) and ``k`` (cycles/m) are the exact FFT bin frequencies of the
    input's spectral axes (numpy ``rfftfreq``/``fftfreq`` with the sample
    interval and the channel spacing): bin ``j`` of ``n`` is ``j / (n d)``.
    ``k = 0`` gives ``+inf`` (an event that reaches every channel at once).
    Unsigned: the direction of travel is for ``up_wave``/``down_wave``. Same
    shape as the input, float32. Per chunk.
    """

    name = "velocity_map"
    family = "spectral"
    description = "Apparent velocity |f|/|k| (m/s) on the bins of an f-k spectrum (exact FFT bins); per chunk."
    keeps_layout = True
    time_local = False
    changed_from_distpy = (
        "Exact FFT bin frequencies and wavenumbers (distpy used linspace(0, Nyquist, n/2): its bins are "
        "(n/2)/(n/2-1) times too far apart and its negative half sits one bin off the mirror); k = 0 gives inf "
        "instead of f/1e-7."
    )

    def apply(self, xp, x, ctx):
        k, f, _, _ = _fk_grid(xp, x, ctx)
        ak = xp.abs(k)
        speed = xp.abs(f) / xp.where(ak == 0, 1.0, ak)
        return xp.where(ak == 0, xp.inf, speed).astype(xp.float32)


@register
class VelocityMask(Command):
    """1 where ``min_velocity < v <= max_velocity`` on a ``velocity_map``, else 0
    (float32). With ``smooth > 1`` the mask is then smoothed along axis 1 with a
    5th-order zero-phase Butterworth low-pass at ``1/smooth`` of the Nyquist
    bin rate (edges padded evenly) and its magnitude taken. Multiply it into
    the f-k spectrum and ``ifft`` along channels and time: an f-k velocity
    filter. Per chunk."""

    name = "velocity_mask"
    family = "spectral"
    description = "Velocity pass mask (min_velocity, max_velocity] from velocity_map, optionally smoothed; per chunk."
    keeps_layout = True
    time_local = False

    changed_from_distpy = "max_velocity must exceed min_velocity (otherwise distpy's mask was empty)."

    class Params(Params):
        min_velocity: float = Field(1400.0, description="lower velocity bound (m/s), exclusive")
        max_velocity: float = Field(1600.0, description="upper velocity bound (m/s), inclusive")

        @field_validator("max_velocity")
        @classmethod
        def _above_min(cls, vmax: float, info: ValidationInfo) -> float:
            vmin = info.data.get("min_velocity")
            if vmin is not None and not vmax > vmin:
                raise ValueError(f"max_velocity {vmax:g} m/s must exceed min_velocity {vmin:g} m/s (the mask is empty)")
            return vmax

        smooth: float = Field(0, ge=0, description="> 1 smooths the mask edges: low-pass at 1/smooth (0 = off)")

    def apply(self, xp, x, ctx):
        p = self.params
        v = xp.real(x) if xp.iscomplexobj(x) else x
        mask = ((v > p.min_velocity) & (v <= p.max_velocity)).astype(xp.float64)
        if p.smooth > 1:
            sos = butter_sos(5, (1.0 / p.smooth,), "lowpass")
            padlen = filtfilt_padlen(sos, mask.shape[1])
            mask = xp.abs(signal_module(xp).sosfiltfilt(xp.asarray(sos), mask, axis=1, padtype="even", padlen=padlen))
        return mask.astype(xp.float32)
