"""Reductions and statistics.

Every reduction keeps the reduced axis (length 1), so results stay
``(channel, time)``-shaped: over time (axis 1) a chunk becomes one column
``(n_channels, 1)`` and the command is per chunk; across channels (axis 0) it
becomes one row ``(1, n_samples)`` and is time-local (halo 0). distpy returned
1-D arrays from the scipy.stats commands.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from ..backend import ndimage_module, to_host
from . import register
from .base import Command, Layout, Params
from .common import AxisCommand, need_at_least

_KEEPDIMS = "Keeps the reduced axis ((n_channels, 1) over time; distpy returned a 1-D array)."


class AxisParams(Params):
    axis: Literal[0, 1, -1] | None = Field(1, description="1 (or -1) = over time, 0 = over channels, null = all")


class _Reduction(AxisCommand):
    """A reduction along ``axis``; subclasses implement :meth:`reduce`."""

    family = "statistics"
    time_local = False
    Params = AxisParams
    needs_regular_time = False  # over readings or channels, counted, never weighed by time

    def apply(self, xp, x, ctx):
        if self.axis is None:
            return self.reduce(xp, x.reshape(1, -1), 1).reshape(1, 1)
        return self.reduce(xp, x, self.axis)

    def layout_after(self, layout):
        return reduced_layout(layout, self.axis)

    def reduce(self, xp, x, axis: int):
        raise NotImplementedError


def reduced_layout(layout: Layout, axis: int | None) -> Layout:
    """The layout after reducing ``axis`` (1: one value per channel; 0: one row along time; None: a number)."""
    if axis == 1:
        return Layout(layout.sample_rate, layout.channels, 1)
    if axis == 0:
        return Layout(layout.sample_rate, 1, layout.samples)
    return Layout(layout.sample_rate, 1, 1)


@register
class Mean(_Reduction):
    name = "mean"
    description = "Mean along an axis, keeping the reduced axis (1 = over the chunk's time samples)."

    def reduce(self, xp, x, axis):
        return xp.mean(x, axis=axis, keepdims=True)


@register
class StdDev(_Reduction):
    name = "std_dev"
    description = "Standard deviation (population, ddof=0) along an axis, keeping the reduced axis."

    def reduce(self, xp, x, axis):
        return xp.std(x.astype(xp.float64), axis=axis, keepdims=True).astype(xp.float32)


@register
class Sum(_Reduction):
    name = "sum"
    description = "Sum along an axis, keeping the reduced axis."

    def reduce(self, xp, x, axis):
        return xp.sum(x, axis=axis, keepdims=True, dtype=xp.float64 if x.dtype.kind == "f" else None).astype(
            x.dtype, copy=False
        )


class _ScipyStat(_Reduction):
    """A scipy.stats reduction, computed in float64 on the host."""

    gpu = False
    changed_from_distpy = _KEEPDIMS

    def reduce(self, xp, x, axis):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # constant rows give nan, as scipy documents
            out = np.asarray(self.stat(np.asarray(to_host(x), dtype=np.float64), axis), dtype=np.float64)
        return np.expand_dims(out, axis).astype(np.float32)

    def stat(self, x: np.ndarray, axis: int) -> np.ndarray:
        raise NotImplementedError


@register
class Kurtosis(_ScipyStat):
    name = "kurtosis"
    description = "Excess kurtosis (Fisher, bias-corrected k-statistics, NaNs omitted): scipy.stats.kurtosis."

    def stat(self, x, axis):
        from scipy import stats

        return stats.kurtosis(x, axis=axis, bias=False, nan_policy="omit")


@register
class Skewness(_ScipyStat):
    name = "skewness"
    description = "Skewness (bias-corrected, NaNs omitted): scipy.stats.skew."

    def stat(self, x, axis):
        from scipy import stats

        return stats.skew(x, axis=axis, bias=False, nan_policy="omit")


@register
class HarmonicMean(_ScipyStat):
    name = "harmonic_mean"
    description = "Harmonic mean (scipy.stats.hmean); needs non-negative data (feed it |x| or x^2)."

    def stat(self, x, axis):
        from scipy import stats

        if np.any(x < 0):
            raise ValueError("harmonic_mean needs non-negative data; put abs (or a square) before it")
        return stats.hmean(x, axis=axis)


@register
class GeometricMean(_ScipyStat):
    name = "geometric_mean"
    description = "Geometric mean (scipy.stats.gmean); needs non-negative data (feed it |x| or x^2)."

    def stat(self, x, axis):
        from scipy import stats

        if np.any(x < 0):
            raise ValueError("geometric_mean needs non-negative data; put abs (or a square) before it")
        with np.errstate(divide="ignore"):
            return stats.gmean(x, axis=axis)


@register
class Moment(_ScipyStat):
    name = "moment"
    description = "n-th central moment (scipy.stats.moment, NaNs omitted); distpy had it but never registered it."

    class Params(AxisParams):
        moment: int = Field(1, ge=0, description="order of the central moment (1 is always 0; 2 is the variance)")

    def stat(self, x, axis):
        from scipy import stats

        return stats.moment(x, order=self.params.moment, axis=axis, nan_policy="omit")


@register
class Argmax(_Reduction):
    name = "argmax"
    description = "Index of the maximum along an axis (default across channels: per time sample, a DTS profile pick)."
    changed_from_distpy = "Keeps the reduced axis: (1, n_samples) across channels (distpy returned a 1-D array)."

    class Params(Params):
        axis: Literal[0, 1, -1] | None = Field(
            0, description="0 = across channels (per time sample), 1 = over time, null = flat index"
        )

    def reduce(self, xp, x, axis):
        return xp.argmax(x, axis=axis, keepdims=True)


@register
class PeakToPeak(Command):
    """Per channel, the largest ``max - min`` found inside any window of
    ``window_length`` samples of the chunk (running maximum minus running
    minimum, edges extended with the nearest sample)."""

    name = "peak_to_peak"
    family = "statistics"
    description = "Largest peak-to-peak range inside any window of window_length samples, per channel."
    time_local = False
    changed_from_distpy = "Returns (n_channels, 1) (distpy: a 1-D array)."

    class Params(Params):
        window_length: int = Field(200, ge=1, description="window (samples)")

    def layout_after(self, layout):
        return reduced_layout(layout, 1)

    def apply(self, xp, x, ctx):
        nd = ndimage_module(xp)
        w = self.params.window_length
        hi = nd.maximum_filter1d(x, size=w, axis=1, mode="nearest")
        lo = nd.minimum_filter1d(x, size=w, axis=1, mode="nearest")
        return xp.max(hi - lo, axis=1, keepdims=True)


@register
class CountPeaks(Command):
    """Number of peaks per channel found by ``scipy.signal.find_peaks_cwt``
    with wavelet widths ``sta, sta+5, ... < lta`` samples."""

    name = "count_peaks"
    family = "statistics"
    description = "Number of peaks per channel (scipy.signal.find_peaks_cwt, widths sta..lta step 5 samples)."
    time_local = False
    gpu = False
    changed_from_distpy = "Works on numpy >= 1.24 (distpy used numpy.int)."

    class Params(Params):
        sta: int = Field(50, ge=1, description="smallest wavelet width (samples)")
        lta: int = Field(200, ge=2, description="wavelet widths stay below this (samples)")

        @field_validator("lta")
        @classmethod
        def _above_sta(cls, lta: int, info: ValidationInfo) -> int:
            sta = info.data.get("sta")
            if sta is not None and lta <= sta:
                raise ValueError(f"lta ({lta}) must exceed sta ({sta})")
            return lta

    def layout_after(self, layout):
        return reduced_layout(layout, 1)

    def apply(self, xp, x, ctx):
        from scipy.signal import find_peaks_cwt

        widths = np.arange(self.params.sta, self.params.lta, 5)
        data = np.asarray(to_host(x), dtype=np.float64)
        counts = [len(find_peaks_cwt(row, widths)) for row in data]
        return np.asarray(counts, dtype=np.int64).reshape(-1, 1)


#: variance of approx_vlf's Gaussian weights (samples^2), distpy's constant.
VLF_VARIANCE = 3.0e6


@register
class ApproxVlf(Command):
    """distpy's "very low frequency" estimate: per channel a Gaussian-weighted
    average over the chunk (centred on the chunk's middle, variance 3e6
    samples^2, so nearly flat for chunks of a few thousand samples), then a
    3-channel median (``scipy.signal.medfilt``, zero beyond the fibre ends; a single channel keeps its average)
    to suppress fading channels."""

    name = "approx_vlf"
    family = "statistics"
    description = "Very-low-frequency estimate: Gaussian-weighted chunk average per channel, 3-channel median."
    time_local = False
    gpu = False
    changed_from_distpy = (
        "Returns (n_channels, 1) (distpy: a 1-D array); one channel alone keeps its average "
        "(distpy's 3-channel median of it and two zeros beyond the fibre ends gave 0)."
    )

    def layout_after(self, layout):
        return reduced_layout(layout, 1)

    def apply(self, xp, x, ctx):
        from scipy.signal import medfilt

        data = np.asarray(to_host(x), dtype=np.float64)
        n = data.shape[1]
        k = np.arange(n)
        w = np.exp(-((k - 0.5 * n) ** 2) / (2.0 * VLF_VARIANCE))
        avg = data @ (w / w.sum())
        if avg.size > 1:
            avg = medfilt(avg, 3)
        return avg.astype(np.float32).reshape(-1, 1)


@register
class Extract(AxisCommand):
    """One channel (``axis=0``: row ``index``, a time series) or one time sample
    (``axis=1``: column ``index`` of the chunk, a depth profile)."""

    name = "extract"
    family = "statistics"
    needs_regular_time = False  # a row or a column, by index
    description = "One channel (axis 0, kept as a (1, n_samples) row) or one time sample (axis 1, a column)."
    changed_from_distpy = "A channel comes out as a (1, n_samples) row along time (distpy: a column)."

    class Params(Params):
        index: int = Field(0, description="row (channel) or column (time sample) index; negative counts from the end")
        axis: Literal[0, 1, -1] = Field(1, description="0 = one channel, 1 (or -1) = one time sample of the chunk")

    def check_layout(self, layout, gathered=()):
        i = self.params.index
        have, what = (layout.channels, "channels") if self.axis == 0 else (layout.samples, "samples in a chunk")
        need_at_least(have, i + 1 if i >= 0 else -i, what, f"extract of index {i}")

    def layout_after(self, layout):
        return reduced_layout(layout, self.axis)

    def apply(self, xp, x, ctx):
        i = self.params.index
        n = x.shape[self.axis]
        if not -n <= i < n:
            raise ValueError(f"extract: index {i} is outside the {n} {'channels' if self.axis == 0 else 'samples'}")
        if self.axis == 0:
            return x[i : i + 1 if i != -1 else None, :]
        return x[:, i].reshape(-1, 1)

    def out_meta(self, x, out, ctx):
        meta = super().out_meta(x, out, ctx)
        if self.axis == 0 and ctx.meta.positions is not None:
            from dataclasses import replace

            i = self.params.index
            return replace(meta, positions=ctx.meta.positions[i : i + 1 if i != -1 else None])
        return meta


@register
class Hash(Command):
    """A 64-bit perceptual hash per channel (distpy's unregistered ``hash``).

    Takes the 64 samples ``offset .. offset+63`` of each channel, counts a
    sample as bit 1 when it is above 0.5 (the input is meant to be 0/1, e.g.
    after ``bounded_select`` or a macro ``threshold``), and packs them with the
    first sample as the most significant bit. Output: ``(n_channels, 1)`` uint64.
    """

    name = "hash"
    family = "statistics"
    description = "64-bit hash per channel of 64 binary samples (> 0.5 = 1) from offset; first sample = top bit."
    time_local = False
    changed_from_distpy = (
        "Samples count as 1 when > 0.5 (distpy truncated them with int()); fewer than 64 samples is an error."
    )

    class Params(Params):
        offset: int = Field(0, ge=0, description="first sample of the 64 hashed (samples from the chunk start)")

    def layout_after(self, layout):
        return reduced_layout(layout, 1)

    def check_layout(self, layout, gathered=()):
        start = self.params.offset
        need_at_least(layout.samples, start + 64, "samples in a chunk", f"a hash of 64 samples from offset {start}")

    def apply(self, xp, x, ctx):
        start = self.params.offset
        if x.shape[1] < start + 64:
            raise ValueError(f"hash needs 64 samples from offset {start}; the chunk has {x.shape[1]}")
        bits = (x[:, start : start + 64] > 0.5).astype(xp.uint64)
        weights = xp.asarray(np.left_shift(np.uint64(1), np.arange(63, -1, -1, dtype=np.uint64)))
        return xp.sum(bits * weights, axis=1, dtype=xp.uint64).reshape(-1, 1)
