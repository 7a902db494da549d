"""Ambient-noise interferometry: preprocessing, cross-correlation, dispersion.

The usual chain on each chunk is ``detrend`` -> ``taper`` -> ``whiten`` ->
``one_bit`` or ``running_abs_mean`` (temporal normalisation) -> ``xcorr``
(against virtual sources, or all pairs) -> a stack over chunks (the runtime's
reducer) -> ``dispersion`` of the virtual shot gather.

Conventions:

* Everything runs along time (axis 1) of a ``(channel, time)`` array, through
  the array namespace ``xp`` (numpy on CPU actors, cupy on GPU actors), in
  float32/complex64 except where a command says it uses float64 inside.
* ``one_bit`` and ``running_abs_mean`` are time-local (``running_abs_mean``
  declares a halo of half its window); ``detrend``, ``taper``, ``whiten``,
  ``xcorr`` and ``dispersion`` work on a whole chunk (without halo), as they do
  on a whole day file in other tools.
* The correlation of a source channel ``s`` and a receiver channel ``r`` at lag
  ``tau`` is ``sum_t s(t) r(t + tau)``: a wave that reaches the receiver ``d``
  seconds after the source gives a peak at ``tau = +d``. It is computed in the
  frequency domain as ``R conj(S)`` with zero padding to at least
  ``n + max_lag`` samples, so lags do not wrap round (a linear, not circular,
  correlation).
"""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator, model_validator

from ..backend import fft_module, ndimage_module, to_host
from . import register
from .base import VIBRATION, ArrayMeta, Command, Coordinate, Layout, Params
from .common import need_at_least, safe_divide

#: spectra of at most this many complex values are formed at once by ``xcorr`` and ``dispersion``
BLOCK_VALUES = 1 << 22


@functools.lru_cache(maxsize=64)
def _fast_length(n: int) -> int:
    import scipy.fft

    return int(scipy.fft.next_fast_len(n, real=True))


def _odd_bins(width_hz: float, df: float) -> int:
    """A running-mean window over frequency: ``width_hz`` (Hz) in bins of ``df`` Hz, odd, at least 1."""
    if width_hz <= 0:
        return 1
    k = int(round(width_hz / df))
    return max(1, 2 * (k // 2) + 1)


def _smooth_over_frequency(xp, a, width_hz: float, df: float):
    """Running mean of a real array over its last axis (frequency bins of ``df`` Hz), ``width_hz`` wide,
    the edges extended with the nearest value. The array itself when the window is one bin."""
    bins = _odd_bins(width_hz, df)
    if bins == 1:
        return a
    return ndimage_module(xp).uniform_filter1d(a, bins, axis=-1, mode="nearest")


# --- preprocessing ----------------------------------------------------------------------------------------------


@register
class Detrend(Command):
    """Remove the mean (``type = "constant"``) or the least-squares straight line
    (``type = "linear"``) of every channel over the chunk. Per chunk; float64 inside."""

    name = "detrend"
    family = "interferometry"
    description = "Remove each channel's mean (constant) or least-squares line (linear) over the chunk; per chunk."
    time_local = False
    keeps_layout = True

    class Params(Params):
        type: Literal["linear", "constant"] = Field("linear", description="linear: a straight line; constant: the mean")

    def apply(self, xp, x, ctx):
        y = x.astype(xp.float64)
        y = y - y.mean(axis=1, keepdims=True)
        n = x.shape[1]
        if self.params.type == "linear" and n > 1:
            t = xp.arange(n, dtype=xp.float64) - (n - 1) / 2.0  # centred sample index
            slope = (y * t).sum(axis=1, keepdims=True) / float((t * t).sum())
            y = y - slope * t
        return y.astype(xp.float32)


@register
class Taper(Command):
    """Cosine (Tukey) taper at both ends of the chunk along time.

    The window is 1 in the middle and rises as ``w[i] = (1 - cos(pi i / m)) / 2``
    over the first ``m`` samples (``w[0] = 0``) and falls alike over the last
    ``m``, with ``m = fraction (n - 1)`` for ``n`` samples, capped at
    ``max_length * sample_rate`` when ``max_length`` (s) is given: a Tukey window
    with ``alpha = 2 fraction`` (``scipy.signal.windows.tukey``). Per chunk.
    """

    name = "taper"
    family = "interferometry"
    description = "Cosine (Tukey) taper of both chunk ends: fraction of its length per end, capped at max_length s."
    time_local = False
    keeps_layout = True

    class Params(Params):
        fraction: float = Field(0.05, ge=0, le=0.5, description="part of the chunk tapered at each end (0 to 0.5)")
        max_length: float | None = Field(None, gt=0, description="longest taper at each end (s); null: no cap")

    def ramp_samples(self, n: int, sample_rate: float) -> float:
        """Length ``m`` (samples, fractional) of each ramp for a chunk of ``n`` samples at ``sample_rate`` (Hz)."""
        m = self.params.fraction * (n - 1)
        if self.params.max_length is not None:
            m = min(m, self.params.max_length * sample_rate)
        return m

    def apply(self, xp, x, ctx):
        n = x.shape[1]
        m = self.ramp_samples(n, ctx.sample_rate)
        if m <= 0:
            return x.astype(xp.float32, copy=True)
        i = xp.arange(n, dtype=xp.float64)
        edge = xp.minimum(i, n - 1 - i)  # samples from the nearer end
        w = xp.where(edge < m, 0.5 * (1.0 - xp.cos(np.pi * edge / m)), 1.0)
        return (x * w.astype(xp.float32)).astype(xp.float32, copy=False)


@register
class Whiten(Command):
    """Spectral whitening of every channel in the band ``[low_freq, high_freq]`` Hz.

    With ``X`` the real FFT of the chunk, each bin is divided by the running mean
    of ``|X|`` over ``smooth_hz`` Hz (an odd number of bins, at least one; with one
    bin, ``X / |X|``: the amplitude spectrum is exactly 1 in the band). Outside
    the band it is multiplied by a cosine ramp that falls from 1 at the band edge
    to 0 at ``taper_hz`` Hz beyond it, and by 0 further out. The result is
    returned to time (float32, the chunk's length). Bins whose smoothed
    amplitude is 0 give 0. Per chunk.
    """

    name = "whiten"
    quantities = VIBRATION
    family = "interferometry"
    description = "Spectral whitening in [low_freq, high_freq] Hz (|X| smoothed over smooth_hz Hz), ramps of taper_hz."
    time_local = False
    keeps_layout = True

    class Params(Params):
        low_freq: float = Field(1.0, ge=0, description="lower band edge (Hz)")
        high_freq: float = Field(10.0, gt=0, description="upper band edge (Hz)")
        smooth_hz: float = Field(0.0, ge=0, description="running mean of |X| over this width (Hz); 0 = |X| itself")
        taper_hz: float = Field(0.0, ge=0, description="cosine ramps outside the band (Hz); 0 = hard edges")

        @field_validator("high_freq")
        @classmethod
        def _a_band(cls, high: float, info: ValidationInfo) -> float:
            low = info.data.get("low_freq")
            if low is not None and not high > low:
                raise ValueError(f"the band is [low_freq, high_freq] with low < high, got {low:g} to {high:g} Hz")
            return high

    def check_layout(self, layout, gathered=()):
        """The band lies below the Nyquist frequency."""
        if self.params.high_freq > layout.nyquist:
            raise ValueError(
                f"high_freq {self.params.high_freq:g} Hz lies beyond the Nyquist frequency {layout.nyquist:g} Hz"
            )

    def weights(self, xp, f):
        """Band weight of each frequency ``f`` (Hz): 1 in the band, cosine ramps, 0 beyond."""
        p = self.params
        w = ((f >= p.low_freq) & (f <= p.high_freq)).astype(xp.float64)
        if p.taper_hz > 0:
            below = (f < p.low_freq) & (f > p.low_freq - p.taper_hz)
            above = (f > p.high_freq) & (f < p.high_freq + p.taper_hz)
            ramp_lo = 0.5 * (1.0 + xp.cos(np.pi * (p.low_freq - f) / p.taper_hz))
            ramp_hi = 0.5 * (1.0 + xp.cos(np.pi * (f - p.high_freq) / p.taper_hz))
            w = xp.where(below, ramp_lo, xp.where(above, ramp_hi, w))
        return w

    def apply(self, xp, x, ctx):
        fft = fft_module(xp)
        n = x.shape[1]
        X = fft.rfft(x.astype(xp.float64), axis=1)
        df = ctx.sample_rate / n
        f = xp.arange(X.shape[1], dtype=xp.float64) * df
        amplitude = _smooth_over_frequency(xp, xp.abs(X), self.params.smooth_hz, df)
        Y = safe_divide(xp, X, amplitude) * self.weights(xp, f)
        return fft.irfft(Y, n=n, axis=1).astype(xp.float32)


@register
class OneBit(Command):
    """One-bit normalisation: the sign of every sample (-1, 0 or 1), float32. Time-local."""

    name = "one_bit"
    quantities = VIBRATION
    family = "interferometry"
    description = "One-bit normalisation: sign(x) (-1, 0, 1)."
    keeps_layout = True

    def apply(self, xp, x, ctx):
        return xp.sign(x).astype(xp.float32)


@register
class RunningAbsMean(Command):
    """Temporal normalisation by the running absolute mean.

    ``y = x / w`` with ``w`` the centred running mean of ``|x|`` over ``window``
    seconds (``2 (round(window fs) // 2) + 1`` samples, odd), the record's ends
    extended with the nearest value; 0 where ``w`` is 0. Time-local: its halo is
    half the window. float64 inside.
    """

    name = "running_abs_mean"
    quantities = VIBRATION
    family = "interferometry"
    description = "Temporal normalisation: x divided by the running mean of |x| over window s (centred)."
    keeps_layout = True

    class Params(Params):
        window: float = Field(1.0, gt=0, description="running-mean window (s)")

    def window_samples(self, sample_rate: float) -> int:
        """The window in samples at ``sample_rate`` (Hz): odd, at least 1."""
        return 2 * (int(round(self.params.window * sample_rate)) // 2) + 1

    def halo_samples(self, sample_rate: float) -> int:
        """Half the window, round(window fs) // 2 samples."""
        return self.window_samples(sample_rate) // 2

    def apply(self, xp, x, ctx):
        a = xp.abs(x.astype(xp.float64))
        w = ndimage_module(xp).uniform_filter1d(a, self.window_samples(ctx.sample_rate), axis=1, mode="nearest")
        return safe_divide(xp, x.astype(xp.float64), w).astype(xp.float32)


# --- correlation ------------------------------------------------------------------------------------------------


@register
class XCorr(Command):
    """Frequency-domain cross-correlation of channel pairs over the chunk.

    Pairs: with ``sources`` (channel indices: rows of the input), every source
    with every channel of ``channel_range`` (default all); without, every pair
    ``i <= j`` in ``channel_range`` (auto-correlations included). Row order:
    source by source, receivers in order; or ``(0,0), (0,1), ... (1,1), ...``.

    With ``S`` and ``R`` the FFTs of source and receiver (zero-padded to at
    least ``n + max_lag`` samples), the row of a pair is the inverse FFT of

    * ``cross-correlation``: ``R conj(S) / n``, i.e. ``sum_t s(t) r(t + tau) / n``;
    * ``coherence``: ``R conj(S) / (|R|~ |S|~ + e)``;
    * ``deconvolution``: ``R conj(S) / (|S|~^2 + e)``,

    where ``|.|~`` is the amplitude spectrum smoothed over ``smooth_hz`` Hz and the
    water level ``e`` is ``water_level`` times the mean of the denominator over
    frequency (per pair). Lags run from ``-max_lag`` to ``+max_lag`` samples
    (``max_lag = round(max_lag_seconds fs)``); a positive lag means the receiver
    records ``tau`` later than the source. The result, float32 of shape
    ``(pairs, 2 max_lag + 1)``, carries the coordinates ``lag`` (s, axis 1) and
    ``source_channel``, ``receiver_channel`` (indices), ``source_position``,
    ``receiver_position`` and ``offset`` (receiver minus source, m) on axis 0.
    Per chunk.
    """

    name = "xcorr"
    quantities = VIBRATION
    family = "interferometry"
    description = (
        "Cross-correlation (or coherence, deconvolution) of channel pairs in the frequency domain: "
        "(pair, lag) with lag and pair coordinates; per chunk."
    )
    time_local = False

    class Params(Params):
        sources: list[int] | None = Field(
            None, description="virtual-source channels (row indices); null = all pairs within channel_range"
        )
        channel_range: list[int] | None = Field(
            None, description="[first, stop) channels (row indices) correlated, within the record; null = all"
        )
        max_lag_seconds: float = Field(1.0, gt=0, description="largest lag kept on each side (s)")
        method: Literal["cross-correlation", "coherence", "deconvolution"] = Field(
            "cross-correlation", description="cross-correlation, coherence or deconvolution"
        )
        smooth_hz: float = Field(
            0.0, ge=0, description="coherence/deconvolution: smooth amplitude spectra over this width (Hz)"
        )
        water_level: float = Field(
            1e-3, ge=0, description="coherence/deconvolution: added to the denominator, times its mean over frequency"
        )

        @field_validator("sources")
        @classmethod
        def _sources(cls, value):
            if value is not None and (not value or any(s < 0 for s in value)):
                raise ValueError("sources lists channel indices from 0 (or is null for all pairs)")
            return value

        @field_validator("channel_range")
        @classmethod
        def _range(cls, value):
            if value is not None and (len(value) != 2 or not 0 <= value[0] < value[1]):
                raise ValueError("channel_range is [first, stop) with 0 <= first < stop")
            return value

    def max_lag(self, sample_rate: float) -> int:
        """The largest lag in samples at ``sample_rate`` (Hz)."""
        return int(round(self.params.max_lag_seconds * sample_rate))

    def _channels(self, n_channels: int) -> range:
        r = self.params.channel_range
        return range(n_channels) if r is None else range(r[0], min(r[1], n_channels))

    def pairs(self, n_channels: int) -> tuple[np.ndarray, np.ndarray]:
        """Source and receiver row of every pair (host int64 arrays), for ``n_channels`` rows."""
        receivers = np.asarray(self._channels(n_channels), dtype=np.int64)
        if self.params.sources is not None:
            src = np.asarray(self.params.sources, dtype=np.int64)
            return np.repeat(src, len(receivers)), np.tile(receivers, len(src))
        i, j = np.triu_indices(len(receivers))
        return receivers[i], receivers[j]

    def check_layout(self, layout, gathered=()):
        """Sources and the channel range lie within the channels; the lag fits the rate."""
        if self.max_lag(layout.sample_rate) < 1:
            raise ValueError(
                f"max_lag_seconds {self.params.max_lag_seconds:g} s is under one sample at {layout.sample_rate:g} Hz"
            )
        if layout.channels is None:
            return
        if self.params.sources is not None:
            need_at_least(
                layout.channels, max(self.params.sources) + 1, "channels", f"xcorr sources {self.params.sources}"
            )
        r = self.params.channel_range
        if r is not None:
            need_at_least(layout.channels, r[1], "channels", f"xcorr channel_range {r}")

    def layout_after(self, layout):
        pairs = None if layout.channels is None else len(self.pairs(layout.channels)[0])
        return Layout(layout.sample_rate, pairs, 2 * self.max_lag(layout.sample_rate) + 1)

    def apply(self, xp, x, ctx):
        fft = fft_module(xp)
        n = x.shape[1]
        lag = self.max_lag(ctx.sample_rate)
        nfft = _fast_length(n + lag)
        src, rec = self.pairs(x.shape[0])
        used = np.unique(np.concatenate([src, rec]))
        where = np.zeros(x.shape[0], dtype=np.int64)
        where[used] = np.arange(len(used))  # row of each used channel in the spectra
        X = fft.rfft(x[xp.asarray(used)].astype(xp.float32, copy=False), n=nfft, axis=1)
        if self.params.method != "cross-correlation":
            amplitude = _smooth_over_frequency(xp, xp.abs(X), self.params.smooth_hz, ctx.sample_rate / nfft)
        out = xp.empty((len(src), 2 * lag + 1), dtype=xp.float32)
        block = max(1, BLOCK_VALUES // X.shape[1])
        for start in range(0, len(src), block):
            s = xp.asarray(where[src[start : start + block]])
            r = xp.asarray(where[rec[start : start + block]])
            C = X[r] * xp.conj(X[s])
            if self.params.method == "cross-correlation":
                C = C * xp.float32(1.0 / max(n, 1))
            else:
                if self.params.method == "coherence":
                    den = amplitude[r] * amplitude[s]
                else:
                    den = amplitude[s] * amplitude[s]
                den = den + self.params.water_level * den.mean(axis=1, keepdims=True)
                C = safe_divide(xp, C, den).astype(xp.complex64, copy=False)
            c = fft.irfft(C, n=nfft, axis=1)
            out[start : start + block, :lag] = c[:, nfft - lag :]
            out[start : start + block, lag:] = c[:, : lag + 1]
        return out

    def out_meta(self, x, out, ctx):
        src, rec = self.pairs(x.shape[0])
        lag = self.max_lag(ctx.sample_rate)
        positions = ctx.meta.positions
        pos = (
            np.asarray(to_host(positions), dtype=np.float64)
            if positions is not None
            else np.arange(x.shape[0], dtype=np.float64)
        )
        return ArrayMeta(
            halo=(0, 0),
            positions=None,
            dt=1.0 / ctx.sample_rate,
            coords=(
                Coordinate("source_channel", 0, src, ""),
                Coordinate("receiver_channel", 0, rec, ""),
                Coordinate("source_position", 0, pos[src], "m"),
                Coordinate("receiver_position", 0, pos[rec], "m"),
                Coordinate("offset", 0, pos[rec] - pos[src], "m"),
                Coordinate("lag", 1, np.arange(-lag, lag + 1) / ctx.sample_rate, "s"),
            ),
        )


# --- dispersion -------------------------------------------------------------------------------------------------


@register
class Dispersion(Command):
    """Phase-shift dispersion image of a (virtual) shot gather: phase velocity x frequency.

    Each trace ``j`` at offset ``x_j`` (m) is Fourier transformed over time,
    ``U_j(f)``; the image is ``E(v, f) = | sum_j U_j(f) / |U_j(f)| exp(i 2 pi f x_j / v) |
    / N`` (Park et al.'s phase shift), 1 where every trace lines up at velocity
    ``v``. Offsets are ``|offset|`` of an ``xcorr`` result, else
    ``|position - source_position|`` (the first channel when
    ``source_position`` is null). The time axis of an ``xcorr`` result is its lag
    axis: ``side`` picks the causal part (lags >= 0), the acausal part reversed,
    or their mean (``both``). Velocities from ``min_velocity`` to
    ``max_velocity`` in steps of ``velocity_step`` (m/s); frequencies are the FFT
    bins of the traces in ``[low_freq, high_freq]`` Hz. With ``normalize`` each
    frequency's column is scaled to a maximum of 1. float32 ``(velocities,
    frequencies)`` with coordinates ``velocity`` (m/s, axis 0) and ``frequency``
    (Hz, axis 1). Per chunk.
    """

    name = "dispersion"
    quantities = VIBRATION
    family = "interferometry"
    description = "Phase-shift dispersion image (phase velocity m/s x frequency Hz) of a (virtual) shot gather."
    time_local = False

    class Params(Params):
        min_velocity: float = Field(100.0, gt=0, description="lowest phase velocity (m/s)")
        max_velocity: float = Field(2000.0, gt=0, description="highest phase velocity (m/s)")
        velocity_step: float = Field(10.0, gt=0, description="velocity step (m/s)")
        low_freq: float = Field(1.0, ge=0, description="lowest frequency (Hz)")
        high_freq: float = Field(-1.0, description="highest frequency (Hz); -1 = Nyquist")
        source_position: float | None = Field(
            None, description="source position (m) of a gather without xcorr offsets; null = the first channel"
        )
        side: Literal["causal", "acausal", "both"] = Field(
            "both", description="for an xcorr result: lags >= 0, lags <= 0 reversed, or their mean"
        )
        normalize: bool = Field(True, description="scale each frequency to a maximum of 1")

        @model_validator(mode="after")
        def _ranges(self):
            if not self.max_velocity > self.min_velocity:
                raise ValueError(
                    f"max_velocity {self.max_velocity:g} m/s must exceed min_velocity {self.min_velocity:g} m/s"
                )
            if self.high_freq != -1 and not self.high_freq > self.low_freq:
                raise ValueError(
                    f"the band is [low_freq, high_freq] with low < high (or high -1), got {self.low_freq:g} "
                    f"to {self.high_freq:g} Hz"
                )
            return self

    def velocities(self) -> np.ndarray:
        """The phase velocities of the image's rows (m/s)."""
        p = self.params
        count = int(np.floor((p.max_velocity - p.min_velocity) / p.velocity_step + 1e-9)) + 1
        return p.min_velocity + p.velocity_step * np.arange(count)

    def check_layout(self, layout, gathered=()):
        """The band starts below the Nyquist frequency."""
        p = self.params
        if p.low_freq > layout.nyquist or p.high_freq > layout.nyquist:
            raise ValueError(
                f"the band {p.low_freq:g} to {p.high_freq:g} Hz lies beyond the Nyquist frequency {layout.nyquist:g} Hz"
            )

    def layout_after(self, layout):
        return Layout(layout.sample_rate, len(self.velocities()), None)

    def _zero_lag(self, meta: ArrayMeta) -> int | None:
        """Column of lag 0 of an xcorr result, None for a gather in time."""
        lag = meta.coord("lag")
        return None if lag is None else int(np.argmin(np.abs(np.asarray(lag.values))))

    def trace_length(self, columns: int, meta: ArrayMeta) -> int:
        """Samples of each trace the image is made of, for an input of ``columns`` columns."""
        zero = self._zero_lag(meta)
        if zero is None:
            return columns
        causal, acausal = columns - zero, zero + 1
        return {"causal": causal, "acausal": acausal, "both": min(causal, acausal)}[self.params.side]

    def _traces(self, xp, x, meta: ArrayMeta):
        zero = self._zero_lag(meta)
        if zero is None:
            return x
        causal = x[:, zero:]
        acausal = xp.flip(x[:, : zero + 1], axis=1)
        if self.params.side == "causal":
            return causal
        if self.params.side == "acausal":
            return acausal
        m = min(causal.shape[1], acausal.shape[1])
        return 0.5 * (causal[:, :m].astype(xp.float64) + acausal[:, :m])

    def offsets(self, meta: ArrayMeta) -> np.ndarray:
        """Distance (m, >= 0) of every trace from its source."""
        offset = meta.coord("offset")
        if offset is not None:
            return np.abs(np.asarray(offset.values, dtype=np.float64))
        if meta.positions is None:
            raise ValueError("dispersion needs offsets: an xcorr result or channel positions")
        pos = np.asarray(to_host(meta.positions), dtype=np.float64)
        origin = pos[0] if self.params.source_position is None else self.params.source_position
        return np.abs(pos - origin)

    def frequencies(self, n: int, sample_rate: float) -> tuple[int, int]:
        """Bins ``[i1, i2)`` of an ``n``-sample real FFT at ``sample_rate`` (Hz) inside the band."""
        df = sample_rate / n
        f = np.arange(n // 2 + 1) * df
        high = f[-1] if self.params.high_freq < 0 else self.params.high_freq
        inside = np.nonzero((f >= self.params.low_freq) & (f <= high + 1e-9 * df))[0]
        if inside.size == 0:
            return 0, 0
        return int(inside[0]), int(inside[-1]) + 1

    def apply(self, xp, x, ctx):
        fft = fft_module(xp)
        traces, offsets = self._traces(xp, x, ctx.meta), self.offsets(ctx.meta)
        n = traces.shape[1]
        i1, i2 = self.frequencies(n, ctx.sample_rate)
        v = self.velocities()
        if i2 <= i1:
            return xp.zeros((len(v), 0), dtype=xp.float32)
        U = fft.rfft(traces.astype(xp.float64), axis=1)[:, i1:i2]
        unit = safe_divide(xp, U, xp.abs(U))  # (traces, freqs)
        f = xp.asarray(np.arange(i1, i2) * (ctx.sample_rate / n))
        xs = xp.asarray(offsets)
        image = xp.empty((len(v), i2 - i1), dtype=xp.float64)
        block = max(1, BLOCK_VALUES // max(1, unit.size))
        for start in range(0, len(v), block):
            slow = xp.asarray(1.0 / v[start : start + block])  # s/m
            # phase shift exp(i 2 pi f x / v) for every (velocity, trace, frequency)
            phase = xp.exp(2j * np.pi * slow[:, None, None] * xs[None, :, None] * f[None, None, :])
            image[start : start + block] = xp.abs((phase * unit[None]).sum(axis=1)) / max(1, traces.shape[0])
        if self.params.normalize:
            peak = image.max(axis=0, keepdims=True)
            image = safe_divide(xp, image, peak)
        return image.astype(xp.float32)

    def out_meta(self, x, out, ctx):
        n = self.trace_length(x.shape[1], ctx.meta)
        i1, i2 = self.frequencies(n, ctx.sample_rate)
        return ArrayMeta(
            halo=(0, 0),
            positions=None,
            dt=None,
            coords=(
                Coordinate("velocity", 0, self.velocities(), "m/s"),
                Coordinate("frequency", 1, np.arange(i1, i2) * (ctx.sample_rate / max(n, 1)), "Hz"),
            ),
        )
