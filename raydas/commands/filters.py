"""Filters along time or across channels."""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from ..backend import ndimage_module, signal_module, to_host
from . import register
from .base import Command, Params
from .common import AxisCommand, channel_spacing, need_at_least

#: a filter's response is taken to have died out once the tail beyond the halo
#: holds less than this fraction of its total absolute response.
HALO_TOLERANCE = 1e-7
MAX_HALO_SECONDS = 60.0


@functools.lru_cache(maxsize=256)
def butter_sos(order: int, wn: tuple[float, ...], btype: str) -> np.ndarray:
    from scipy import signal

    return signal.butter(order, wn if len(wn) > 1 else wn[0], btype=btype, output="sos")


def filtfilt_padlen(sos: np.ndarray, n_samples: int) -> int:
    """Edge padding of a forward-backward filter: scipy's default for ``sosfiltfilt``
    (3 x the number of taps), shortened for signals of fewer samples than that.

    Parameters
    ----------
    sos
        The filter as second-order sections, shape ``(n_sections, 6)``.
    n_samples
        Length of the signal along the filtered axis (samples).

    Returns
    -------
    int
        Samples of padding at each end.
    """
    ntaps = 2 * sos.shape[0] + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return min(3 * ntaps, n_samples - 1)


@functools.lru_cache(maxsize=256)
def iir_decay_samples(sos_bytes: bytes, n_sections: int, limit: int) -> int:
    """Samples after which an IIR filter's impulse response has (nearly) died out."""
    from scipy import signal

    sos = np.frombuffer(sos_bytes, dtype=np.float64).reshape(n_sections, 6).copy()
    n = 1024
    while True:
        impulse = np.zeros(n)
        impulse[0] = 1.0
        h = np.abs(signal.sosfilt(sos, impulse))
        tail = np.cumsum(h[::-1])[::-1]  # tail[k] = sum of |h| from k on
        total = tail[0]
        below = np.nonzero(tail <= HALO_TOLERANCE * total)[0]
        if below.size and below[0] < n - 1:
            return int(below[0])
        if n >= limit:
            return limit
        n = min(n * 4, limit)


@register
class Butter(AxisCommand):
    rate_free_across_channels = True  # across channels: positions, no time rate
    name = "butter"
    family = "filters"
    local_along_time = True  # declares its halo along time
    description = "Zero-phase Butterworth filter (forward-backward) along time or across channels."
    keeps_layout = True
    changed_from_distpy = (
        "Across channels (axis 0) the cut-off is relative to the spatial Nyquist 1/(2 dx) "
        "(distpy used dx/2); computed as second-order sections in float64 for stability."
    )

    class Params(Params):
        order: int = Field(5, ge=1, le=20, description="filter order")
        type: Literal["lowpass", "highpass", "bandpass", "bandstop"] = Field("lowpass", description="filter type")
        freq: float | list[float] = Field(
            200.0, description="cut-off (Hz along time, cycles/m across channels); two values for band filters"
        )
        padtype: Literal["even", "odd", "constant"] | None = Field("even", description="edge extension")
        axis: Literal[0, 1, -1] = Field(1, description="1 (or -1) = along time, 0 = across channels")

        @field_validator("freq")
        @classmethod
        def _cut_offs(cls, freq, info: ValidationInfo):
            freqs = freq if isinstance(freq, list) else [freq]
            kind = info.data.get("type", "lowpass")
            want = 2 if kind in ("bandpass", "bandstop") else 1
            if len(freqs) != want:
                raise ValueError(f"a {kind} filter needs {want} cut-off frequenc{'ies' if want > 1 else 'y'} in freq")
            if not all(f > 0 for f in freqs):
                raise ValueError(f"cut-off frequencies are positive, got {freqs}")
            if want == 2 and not freqs[0] < freqs[1]:
                raise ValueError(f"a {kind} filter's band is [low, high] with low < high, got {freqs}")
            return freq

    def __init__(self, params, uid=0):
        super().__init__(params, uid)
        freqs = params.freq if isinstance(params.freq, list) else [params.freq]
        self.freqs = tuple(float(f) for f in freqs)

    def sos(self, nyquist: float) -> np.ndarray:
        wn = tuple(f / nyquist for f in self.freqs)
        if not all(0 < w < 1 for w in wn):
            raise ValueError(
                f"butter: cut-off {list(self.freqs)} must lie strictly between 0 and the Nyquist frequency {nyquist:g}"
            )
        return butter_sos(self.params.order, wn, self.params.type)

    def check_layout(self, layout, gathered=()):
        """Along time the cut-off lies below the record's Nyquist frequency; across channels, two channels."""
        if self.axis == 1:
            self.sos(layout.nyquist)
        else:
            need_at_least(layout.channels, 2, "channels", "butter across channels")

    def halo_samples(self, sample_rate: float) -> int:
        """Until the impulse response has decayed (1e-7 of its total), for filters along time."""
        if self.axis != 1:
            return 0
        sos = self.sos(sample_rate / 2.0)
        limit = int(MAX_HALO_SECONDS * sample_rate)
        return iir_decay_samples(sos.tobytes(), sos.shape[0], limit)

    def apply(self, xp, x, ctx):
        if self.axis == 1:
            nyquist = ctx.sample_rate / 2.0
        else:
            dx = channel_spacing(ctx.positions, "butter across channels")
            nyquist = 1.0 / (2.0 * dx)
        sos = self.sos(nyquist)
        padtype = self.params.padtype
        padlen = filtfilt_padlen(sos, x.shape[self.axis]) if padtype is not None else 0
        y = signal_module(xp).sosfiltfilt(
            xp.asarray(sos), x.astype(xp.float64), axis=self.axis, padtype=padtype, padlen=padlen
        )
        return y.astype(xp.float32)


# --- image filters (scipy.ndimage on CPU, cupyx.scipy.ndimage on GPU) --------------------------------------------

NdMode = Literal["reflect", "constant", "nearest", "mirror", "wrap"]


@register
class Gaussian(Command):
    """``scipy.ndimage.gaussian_filter`` with standard deviations ``[xsigma,
    tsigma]`` (channels, samples) and derivative orders ``[xorder, torder]``.

    Note distpy's defaults: ``xorder = torder = 5`` make this the **fifth
    derivative** of a Gaussian along both axes, not a blur. raydas keeps those
    defaults so distpy configs give the same numbers; set ``xorder`` and
    ``torder`` to 0 for a smoothing filter.
    """

    name = "gaussian"
    family = "filters"
    description = "Gaussian filter (ndimage.gaussian_filter); default orders 5 = 5th derivative, set 0 for a blur."
    keeps_layout = True

    class Params(Params):
        xsigma: float = Field(1.0, gt=0, description="standard deviation across channels (channels)")
        tsigma: float = Field(1.0, gt=0, description="standard deviation along time (samples)")
        xorder: int = Field(5, ge=0, description="derivative order across channels (0 = smoothing)")
        torder: int = Field(5, ge=0, description="derivative order along time (0 = smoothing)")
        mode: NdMode = Field("constant", description="edge handling (scipy.ndimage modes)")

    def halo_samples(self, sample_rate: float) -> int:
        """The kernel's half-width along time, int(4 tsigma + 0.5) samples."""
        return int(4.0 * self.params.tsigma + 0.5)

    def apply(self, xp, x, ctx):
        p = self.params
        return ndimage_module(xp).gaussian_filter(
            x.astype(xp.float32, copy=False), sigma=[p.xsigma, p.tsigma], order=[p.xorder, p.torder], mode=p.mode
        )


@register
class Sobel(Command):
    name = "sobel"
    family = "filters"
    description = "Sobel edge detector (ndimage.sobel) along an axis."
    keeps_layout = True

    class Params(Params):
        axis: Literal[0, 1, -1] = Field(-1, description="-1 or 1 = derivative along time, 0 = across channels")
        mode: NdMode = Field("constant", description="edge handling (scipy.ndimage modes)")

    def halo_samples(self, sample_rate: float) -> int:
        """1 sample (a 3 x 3 stencil)."""
        return 1

    def apply(self, xp, x, ctx):
        return ndimage_module(xp).sobel(x.astype(xp.float32, copy=False), axis=self.params.axis, mode=self.params.mode)


class KernelParams(Params):
    mode: NdMode = Field("constant", description="edge handling (scipy.ndimage modes)")

    @field_validator("coeffs", check_fields=False)
    @classmethod
    def _rectangular(cls, value):
        if not value or not value[0] or any(len(row) != len(value[0]) for row in value):
            raise ValueError("coeffs must be a non-empty rectangular list of rows (channels) of values (samples)")
        return value


class _KernelFilter(Command):
    """A 2-D filter with the kernel ``coeffs``, by the ``scipy.ndimage`` function of the command's name."""

    keeps_layout = True

    family = "filters"

    def halo_samples(self, sample_rate: float) -> int:
        """Half the kernel's width along time (columns // 2)."""
        return len(self.params.coeffs[0]) // 2

    def kernel(self, xp):
        return xp.asarray(np.asarray(self.params.coeffs, dtype=np.float32))

    def apply(self, xp, x, ctx):
        ndimage_function = getattr(ndimage_module(xp), self.name)  # convolve or correlate
        return ndimage_function(x.astype(xp.float32, copy=False), self.kernel(xp), mode=self.params.mode)


@register
class Convolve(_KernelFilter):
    name = "convolve"
    description = "2-D convolution with coeffs (rows = channels, columns = samples), ndimage.convolve."

    class Params(KernelParams):
        coeffs: list[list[float]] = Field(
            [[1, 0, -1], [2, 0, -2], [1, 0, -1]], description="kernel: rows across channels, columns along time"
        )


@register
class Correlate(_KernelFilter):
    name = "correlate"
    description = "2-D correlation with coeffs (rows = channels, columns = samples), ndimage.correlate."

    class Params(KernelParams):
        coeffs: list[list[float]] = Field(
            [[0, 0, 1], [0, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]],
            description="kernel: rows across channels, columns along time",
        )


@register
class MedianFilter(Command):
    name = "median_filter"
    family = "filters"
    description = "Square median filter of distance x distance (channels x samples), ndimage.median_filter."
    keeps_layout = True

    class Params(Params):
        distance: int = Field(3, ge=1, description="window side (channels and samples)")

    def halo_samples(self, sample_rate: float) -> int:
        """distance // 2 samples."""
        return self.params.distance // 2

    def apply(self, xp, x, ctx):
        return ndimage_module(xp).median_filter(x, size=self.params.distance)


@register
class Wiener(Command):
    """``scipy.signal.wiener`` with window ``[xdir, tdir]`` (channels, samples).

    With ``noisePower`` unset the noise power is the mean local variance of the
    whole array, so the result is per chunk (as in distpy); give ``noisePower``
    for a time-local filter whose chunks match the whole record.
    """

    name = "wiener"
    family = "filters"
    description = (
        "Adaptive Wiener filter (scipy.signal.wiener), window xdir x tdir; per chunk unless noisePower is set."
    )
    time_local = False
    keeps_layout = True

    class Params(Params):
        xdir: int = Field(5, ge=1, description="window across channels (channels, odd)")
        tdir: int = Field(5, ge=1, description="window along time (samples, odd)")
        noisePower: float | None = Field(
            None, ge=0, description="noise power (unit of the data squared); null = mean local variance of the chunk"
        )

    def __init__(self, params, uid=0):
        super().__init__(params, uid)
        self.time_local = params.noisePower is not None

    def halo_samples(self, sample_rate: float) -> int:
        """tdir // 2 samples (with noisePower set)."""
        return self.params.tdir // 2

    def apply(self, xp, x, ctx):
        p = self.params
        y = signal_module(xp).wiener(x.astype(xp.float64), [p.xdir, p.tdir], p.noisePower)
        return y.astype(xp.float32)


@register
class RunningMean(AxisCommand):
    """Centred running mean of ``window_length`` samples along ``axis``
    (``scipy.ndimage.uniform_filter1d``, edges extended with the nearest value)."""

    rate_free_across_channels = True  # across channels: positions, no time rate
    name = "running_mean"
    family = "filters"
    local_along_time = True  # declares its halo along time
    description = "Centred running mean of window_length samples along axis (0 = across channels, 1 = time)."
    keeps_layout = True
    changed_from_distpy = (
        "Returns the filtered data (distpy returned None); axis is the axis the window runs along, as in numpy "
        "(distpy's loop ran along the other one); the window is centred (distpy meant a forward window)."
    )

    class Params(Params):
        window_length: int = Field(5, ge=1, description="window (samples or channels)")
        axis: Literal[0, 1, -1] = Field(0, description="0 = across channels, 1 (or -1) = along time")

    def halo_samples(self, sample_rate: float) -> int:
        """window_length // 2 samples along time; 0 across channels."""
        return self.params.window_length // 2 if self.axis == 1 else 0

    def channel_window(self) -> int:
        return self.params.window_length if self.axis == 0 else 1

    def apply(self, xp, x, ctx):
        y = ndimage_module(xp).uniform_filter1d(
            x.astype(xp.float64), self.params.window_length, axis=self.axis, mode="nearest"
        )
        return y.astype(xp.float32)


@register
class DipFilter(Command):
    """t-x "fat-ray" dip filter: removes events with apparent velocity ``velocity``.

    The kernel covers ``shape = [channels, samples]`` around each sample. The
    ray ``x = -velocity * t`` runs through its centre; the cell at channel
    offset ``i`` and sample offset ``j`` lies off the ray by the time misfit
    ``m = j dt + i dx / velocity`` (s) and weighs ``exp(-(m / bandwidth)^2)``;
    the weights sum to 1. The output is the sample minus this weighted mean
    along the dip, so an event lying along the ray (``x(t) = x0 - velocity
    (t - t0)``) is removed and events at other dips are kept. A negative
    velocity removes the other direction. These are distpy's weights; with its
    defaults (bandwidth 0.1 s, 9 x 9) the results agree with distpy. A bandwidth
    of a few ``dt`` (or ``dx / velocity``) makes the filter dip-selective: with
    0.1 s at kHz sampling the weights are nearly flat over 9 x 9 cells.
    """

    name = "dip_filter"
    family = "filters"
    description = (
        "t-x fat-ray dip filter removing events of apparent velocity `velocity` (m/s); kernel shape, bandwidth (s)."
    )
    changed_from_distpy = "bandwidth and shape are honoured (distpy hard-coded 0.1 s and 9 x 9)."
    keeps_layout = True

    class Params(Params):
        velocity: float = Field(100.0, description="apparent velocity removed (m/s); sign = direction")
        bandwidth: float = Field(
            0.1, gt=0, description="width of the fat ray (s): time misfit from the ray at which a weight is 1/e"
        )
        shape: list[int] = Field([9, 9], description="kernel size [channels, samples], odd numbers")

        @field_validator("shape")
        @classmethod
        def _odd_pair(cls, value):
            if len(value) != 2 or any(v < 1 or v % 2 == 0 for v in value):
                raise ValueError("shape must be two odd positive sizes [channels, samples]")
            return value

        @field_validator("velocity")
        @classmethod
        def _nonzero(cls, value):
            if value == 0:
                raise ValueError("velocity must not be 0")
            return value

    def check_layout(self, layout, gathered=()):
        need_at_least(layout.channels, 2, "channels", "dip_filter (a channel spacing)")

    def halo_samples(self, sample_rate: float) -> int:
        """Half the kernel along time, shape[1] // 2 samples."""
        return self.params.shape[1] // 2

    def kernel(self, dx: float, dt: float) -> np.ndarray:
        """The normalised fat-ray weights, shape ``(shape[0], shape[1])``; ``dx`` in m, ``dt`` in s."""
        p = self.params
        h, k = p.shape[0] // 2, p.shape[1] // 2
        i = np.arange(-h, h + 1, dtype=np.float64)[:, None]
        j = np.arange(-k, k + 1, dtype=np.float64)[None, :]
        misfit = j * dt + i * dx / p.velocity  # s off the ray
        w = np.exp(-((misfit / p.bandwidth) ** 2))
        return w / w.sum()

    def apply(self, xp, x, ctx):
        dx = channel_spacing(ctx.positions, "dip_filter")
        dt = ctx.meta.dt or 1.0 / ctx.sample_rate
        k = xp.asarray(self.kernel(dx, dt))
        x64 = x.astype(xp.float64)
        return (x64 - ndimage_module(xp).correlate(x64, k, mode="nearest")).astype(xp.float32)


@register
class Destripe(Command):
    """Bouali (2010) destriping: ``real(ifft2(fft2(x) * R))`` with
    ``R = k^2 / (f^2 + k^2 + 1e-6)`` (floored at 1e-6), ``f`` and ``k`` the
    FFT frequencies in cycles per sample and per channel. It removes what is
    common to all channels at each instant (``k = 0``: stripes across the fibre,
    "phase skips"). ``axis=1`` applies it to the transpose (removes what is
    constant in time on each channel). Per chunk (a 2-D FFT)."""

    name = "destripe"
    family = "filters"
    description = (
        "Bouali (2010) destriping in the f-k domain: removes stripes common to all channels (axis 1: transposed)."
    )
    time_local = False
    keeps_layout = True
    changed_from_distpy = (
        "Works on numpy >= 1.24 (distpy used numpy.int); f and k are the exact FFT frequencies "
        "(distpy approximated them with linspace)."
    )

    class Params(Params):
        axis: Literal[0, 1] = Field(0, description="0 = remove stripes across channels, 1 = the transposed filter")

    def apply(self, xp, x, ctx):
        from ..backend import fft_module

        fft = fft_module(xp)
        y = x if self.params.axis == 0 else x.T
        nx, nt = y.shape
        f = xp.abs(xp.asarray(np.fft.fftfreq(nt)))[None, :]
        k = xp.abs(xp.asarray(np.fft.fftfreq(nx)))[:, None]
        r = xp.maximum(k**2 / (f**2 + k**2 + 1e-6), 1e-6)
        out = xp.real(fft.ifft2(fft.fft2(y.astype(xp.float64)) * r)).astype(xp.float32)
        return out if self.params.axis == 0 else out.T


# --- differences and shifts -----------------------------------------------------------------------------------


@register
class Diff(AxisCommand):
    """Difference over an offset of ``window_length`` samples along ``axis``:
    ``y[i] = x[i + L] - x[i]``; the last ``L`` values repeat the last full
    difference, so the shape is kept."""

    rate_free_across_channels = True  # across channels: positions, no time rate
    name = "diff"
    family = "filters"
    local_along_time = True  # declares its halo along time
    description = "Difference x[i+L] - x[i] over an offset L = window_length along axis; shape kept."
    keeps_layout = True
    changed_from_distpy = (
        "window_length is the offset between the samples differenced (as distpy documented); distpy used it as the "
        "difference order, which shrank the output for values above 1."
    )

    class Params(Params):
        window_length: int = Field(1, ge=1, description="offset L between the differenced samples")
        axis: Literal[0, 1, -1] = Field(-1, description="-1 or 1 = along time, 0 = across channels")

    def halo_samples(self, sample_rate: float) -> int:
        """window_length samples along time; 0 across channels."""
        return self.params.window_length if self.axis == 1 else 0

    def check_layout(self, layout, gathered=()):
        lag = self.params.window_length
        have, what = (layout.samples, "samples") if self.axis == 1 else (layout.channels, "channels")
        need_at_least(have, lag + 1, what, f"diff over an offset of {lag}")

    def apply(self, xp, x, ctx):
        lag = self.params.window_length
        y = x if self.axis == 1 else x.T
        n = y.shape[1]
        if n <= lag:
            raise ValueError(f"diff: offset {lag} needs more than {lag} samples along the axis, got {n}")
        d = y[:, lag:] - y[:, :-lag]
        out = xp.concatenate([d, xp.repeat(d[:, -1:], lag, axis=1)], axis=1)
        return out if self.axis == 1 else out.T


@register
class Gradient(AxisCommand):
    """``numpy.gradient`` against physical coordinates: channel positions (m)
    across channels (axis 0), the sample interval (s) along time (axis 1), so
    the result is per metre or per second."""

    rate_free_across_channels = True  # across channels: positions, no time rate
    name = "gradient"
    family = "filters"
    local_along_time = True  # declares its halo along time
    description = "Derivative (numpy.gradient) per metre across channels (axis 0) or per second along time (axis 1)."
    keeps_layout = True
    changed_from_distpy = (
        "Along time the spacing is the sample interval in s (distpy's time axis was usually sample indices); "
        "axis null is refused (it gave two arrays)."
    )

    class Params(Params):
        axis: Literal[0, 1, -1] | None = Field(
            0, description="0 = across channels (per m), 1 (or -1) = along time (per s)"
        )
        edge_order: Literal[1, 2] = Field(1, description="accuracy order at the array's ends")

        @field_validator("axis")
        @classmethod
        def _one_axis(cls, value):
            if value is None:
                raise ValueError("axis null would give two gradients; use one gradient command per axis (0 or 1)")
            return value

    def halo_samples(self, sample_rate: float) -> int:
        """1 sample along time (central differences); 0 across channels."""
        return 1 if self.axis == 1 else 0

    def check_layout(self, layout, gathered=()):
        have, what = (layout.samples, "samples") if self.axis == 1 else (layout.channels, "channels")
        need_at_least(have, self.params.edge_order + 1, what, f"a gradient of edge_order {self.params.edge_order}")

    def apply(self, xp, x, ctx):
        x64 = x.astype(xp.float64)
        if self.axis == 1:
            dt = ctx.meta.dt or 1.0 / ctx.sample_rate
            return xp.gradient(x64, dt, axis=1, edge_order=self.params.edge_order).astype(xp.float32)
        channel_spacing(ctx.positions, "gradient across channels")  # checks positions exist
        pos = xp.asarray(np.asarray(to_host(ctx.positions), dtype=np.float64))
        return xp.gradient(x64, pos, axis=0, edge_order=self.params.edge_order).astype(xp.float32)


@register
class Roll(AxisCommand):
    """``numpy.roll`` by ``window_length`` samples along ``axis``; with
    ``gather_uids`` each channel (axis 1) or each time sample (axis 0) is rolled
    by its own shift, read from that dataset (rounded to whole samples).

    Along time a roll is a delay: with a halo of ``max(|window_length|,
    max_shift)`` samples chunks equal the whole record's roll away from its ends.
    With per-channel shifts, set ``max_shift`` to the largest shift expected.
    """

    name = "roll"
    family = "filters"
    local_along_time = True  # declares its halo along time
    description = "Circular shift by window_length samples along axis, or per channel by the shifts in gather_uids[0]."
    keeps_layout = True
    inputs = "optional"

    class Params(Params):
        window_length: int = Field(1, description="shift (samples; positive = later in time / higher channel)")
        axis: Literal[0, 1, -1] = Field(1, description="1 (or -1) = along time, 0 = across channels")
        max_shift: int = Field(
            0, ge=0, description="largest |shift| from gather_uids (samples); sets the halo (raydas)"
        )

    def halo_samples(self, sample_rate: float) -> int:
        """max(|window_length|, max_shift) samples along time; 0 across channels."""
        return max(abs(self.params.window_length), self.params.max_shift) if self.axis == 1 else 0

    def apply(self, xp, x, ctx):
        if not ctx.gathered:
            return xp.roll(x, self.params.window_length, axis=self.axis)
        y = x if self.axis == 1 else x.T
        shifts = xp.rint(xp.asarray(ctx.gathered[0]).astype(xp.float64)).astype(xp.int64).ravel()
        if shifts.shape[0] != y.shape[0]:
            what = "channel" if self.axis == 1 else "time sample"
            raise ValueError(f"roll: {shifts.shape[0]} shifts in gather_uids[0] for {y.shape[0]} {what}s")
        n = y.shape[1]
        idx = (xp.arange(n)[None, :] - shifts[:, None]) % n
        out = xp.take_along_axis(y, idx, axis=1)
        return out if self.axis == 1 else out.T


@register
class Broaden(Command):
    """Peak broadening for picking: ``y[t] = max(x[t .. t + window_length - 1])``,
    a running maximum looking forward in time, as distpy's; near the chunk end
    the window holds the samples that are left. Every peak is spread over the
    ``window_length - 1`` samples before it, so a pick on the broadened data
    falls up to ``window_length - 1`` samples early, the same on every channel
    (the apparent velocity is unchanged)."""

    name = "broaden"
    family = "filters"
    description = (
        "Spread each peak over the window_length - 1 samples before it: running max over the next window_length."
    )
    keeps_layout = True

    class Params(Params):
        window_length: int = Field(50, ge=1, description="length of the forward-looking window (samples)")

    def halo_samples(self, sample_rate: float) -> int:
        """window_length - 1 samples (after each sample)."""
        return self.params.window_length - 1

    def apply(self, xp, x, ctx):
        w = self.params.window_length
        # origin -(w // 2) moves scipy's centred window to [t, t + w - 1]
        return ndimage_module(xp).maximum_filter1d(x, size=w, axis=1, origin=-(w // 2), mode="nearest")
