"""Geometry: selecting and resampling the (channel, time) grid, and fitting curves along it."""

from __future__ import annotations

import logging
import posixpath
from typing import Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator, model_validator

from ..backend import to_host
from ..formats.npyfolder import axis_files, npy_folder_files
from . import register
from .base import ArrayMeta, Command, Layout, Params
from .common import AxisCommand, need_at_least, time_or_channel_axis
from .io import WriterParams

log = logging.getLogger(__name__)


@register
class Downsample(Command):
    name = "downsample"
    family = "geometry"
    description = "Keep every xsample-th channel and every tsample-th time sample (no anti-alias filter, as distpy)."
    time_local = False

    class Params(Params):
        xsample: int = Field(1, ge=1, description="keep every n-th channel")
        tsample: int = Field(1, ge=1, description="keep every n-th time sample")

    def __init__(self, params, uid=0):
        super().__init__(params, uid)
        self.time_local = params.tsample == 1  # channel decimation alone is per time sample

    def apply(self, xp, x, ctx):
        return x[:: self.params.xsample, :: self.params.tsample]

    def layout_after(self, layout):
        def kept(n, step):
            return None if n is None else -(-n // step)

        return Layout(
            layout.sample_rate, kept(layout.channels, self.params.xsample), kept(layout.samples, self.params.tsample)
        )

    def out_meta(self, x, out, ctx):
        meta = ctx.meta
        positions = meta.positions[:: self.params.xsample] if meta.positions is not None else None
        if self.params.tsample == 1:
            return ArrayMeta(halo=meta.halo, positions=positions, dt=meta.dt, spectra=())
        dt = meta.dt * self.params.tsample if meta.dt is not None else None
        return ArrayMeta(halo=(0, 0), positions=positions, dt=dt, spectra=())


def _nearest(axis: np.ndarray, value: float) -> int:
    return int(np.abs(axis - value).argmin())


@register
class Clip(Command):
    """Crop to channels ``xmin..xmax`` (m) and times ``tmin..tmax`` (s from the
    chunk start), both ends inclusive, using the nearest channel / sample.

    ``double_ended`` handles a fibre laid down and back: 0 keeps the first half
    of the channels, 1 the second half reversed (so both halves run the same
    way); -1 (default) keeps all. With ``directory_out`` the crop is written as
    ``<directory_out>/<output id of the chunk>.npy`` plus, once per folder,
    ``measured_depth.npy`` and ``time.npy`` (s from the chunk start), and passed on.
    """

    name = "clip"
    family = "geometry"
    description = (
        "Crop to xmin..xmax (m) and tmin..tmax (s from chunk start); double-ended fibre halves; optional .npy."
    )
    time_local = False
    changed_from_distpy = (
        "Files are named by the chunk's output identity (distpy used int(tmin), so every chunk overwrote one file); "
        "works on numpy >= 1.24; xmax and tmax are inclusive (distpy's exclusive end dropped the last channel "
        "even with the defaults); double_ended=1 with default limits keeps the reversed half (distpy kept nothing)."
    )

    class Params(WriterParams):
        xmin: float | None = Field(None, description="first position kept (m); null = fibre start")
        xmax: float | None = Field(None, description="last position kept (m); null = fibre end")
        tmin: float | None = Field(None, description="first time kept (s from the chunk start); null = chunk start")
        tmax: float | None = Field(None, description="last time kept (s from the chunk start); null = chunk end")
        double_ended: Literal[-1, 0, 1] = Field(-1, description="-1 all channels, 0 first half, 1 second half reversed")

        @field_validator("tmax")
        @classmethod
        def _after_tmin(cls, tmax, info: ValidationInfo):
            tmin = info.data.get("tmin")
            if tmax is not None and tmin is not None and tmax < tmin:
                raise ValueError(f"tmax {tmax} s is before tmin {tmin} s")
            return tmax

    def __init__(self, params, uid=0):
        super().__init__(params, uid)
        self.writes = params.directory_out != "NONE"
        self.gpu = not self.writes
        # cropping channels only is per time sample; cropping time or writing files is per chunk
        self.time_local = params.tmin is None and params.tmax is None and not self.writes

    def output_path(self, output_id: str) -> str:
        """The chunk file of ``output_id`` (relative to the results root)."""
        return f"{self.params.directory_out}/{output_id}.npy"

    def output_files(self, output_id: str, shared: bool = False, stamped: bool = False) -> list[str]:
        if not self.writes:
            return []
        path = self.output_path(output_id)
        return [path, *(axis_files(posixpath.dirname(path)) if shared else [])]

    def check_layout(self, layout, gathered=()):
        if self.params.double_ended == 0:
            need_at_least(layout.channels, 2, "channels", "clip of the first half of a double-ended fibre")

    def _channels(self, n: int, positions) -> np.ndarray:
        """Indices of the channels kept, in output order."""
        idx = np.arange(n)
        half = n // 2
        if self.params.double_ended == 0:
            idx = idx[:half]
        elif self.params.double_ended == 1:
            idx = idx[half:][::-1]
        pos = np.arange(n, dtype=np.float64) if positions is None else np.asarray(to_host(positions), dtype=np.float64)
        pos = pos[idx]
        if pos.size == 0:
            raise ValueError(f"clip: no channels left (double_ended={self.params.double_ended} of {n} channels)")
        lo = _nearest(pos, self.params.xmin) if self.params.xmin is not None else int(pos.argmin())
        hi = _nearest(pos, self.params.xmax) if self.params.xmax is not None else int(pos.argmax())
        lo, hi = min(lo, hi), max(lo, hi)
        return idx[lo : hi + 1]

    def _samples(self, n: int, dt: float) -> slice:
        t = np.arange(n) * dt
        lo = _nearest(t, self.params.tmin) if self.params.tmin is not None else 0
        hi = _nearest(t, self.params.tmax) if self.params.tmax is not None else n - 1
        if hi < lo:
            raise ValueError(f"clip: tmax {self.params.tmax} s is before tmin {self.params.tmin} s")
        return slice(lo, hi + 1)

    def apply(self, xp, x, ctx):
        rows = self._channels(x.shape[0], ctx.meta.positions)
        cols = self._samples(x.shape[1], ctx.meta.dt or ctx.dt) if not self.time_local else slice(None)
        out = x[xp.asarray(rows)][:, cols]
        if self.writes:
            self._write(ctx, to_host(out), rows, np.arange(x.shape[1])[cols] * (ctx.meta.dt or ctx.dt))
        return out

    def _write(self, ctx, values: np.ndarray, rows: np.ndarray, seconds: np.ndarray) -> None:
        """Write the clipped chunk; the chunk that writes its folder's axes adds the kept
        channels' positions (m; their indices when unknown) and ``seconds`` (s from the chunk start)."""
        path = self.output_path(ctx.output_id)
        depth = None
        if ctx.writes_shared:
            positions = ctx.meta.positions
            depth = np.asarray(to_host(positions), dtype=np.float64)[rows] if positions is not None else rows * 1.0
        files = npy_folder_files(
            posixpath.dirname(path), posixpath.basename(path), values, depth, seconds if ctx.writes_shared else None
        )
        for name, payload in files.items():
            ctx.sink.write(name, payload)

    def out_meta(self, x, out, ctx):
        meta = ctx.meta
        rows = self._channels(x.shape[0], meta.positions)
        positions = np.asarray(to_host(meta.positions))[rows] if meta.positions is not None else None
        return ArrayMeta(halo=meta.halo if self.time_local else (0, 0), positions=positions, dt=meta.dt, spectra=())


@register
class Interp(AxisCommand):
    """Linear resampling onto a new grid (``numpy.interp`` per column or row;
    values beyond the old grid take the end values).

    * ``axis=0``: onto new channel positions, either ``positions`` (m) or a
      regular grid from the first position every ``spacing`` m. Per time
      sample, so time-local.
    * ``axis=1``: onto a new sample interval ``spacing`` (s) from the chunk's
      first sample (per chunk).

    distpy had an ``interp`` command that was never registered and returned None.
    """

    rate_free_across_channels = True  # across channels: positions, no time rate
    name = "interp"
    family = "geometry"
    description = "Linear resampling onto new channel positions (axis 0, m) or a new sample interval (axis 1, s)."

    class Params(Params):
        axis: Literal[0, 1, -1] = Field(0, description="0 = across channels, 1 (or -1) = along time")
        spacing: float | None = Field(None, gt=0, description="new spacing: m (axis 0) or s (axis 1)")
        positions: list[float] | None = Field(None, description="new channel positions (m, axis 0 only)")

        @model_validator(mode="after")
        def _grid(self):
            if (self.spacing is None) == (self.positions is None):
                raise ValueError("give exactly one of spacing or positions")
            if self.positions is not None and time_or_channel_axis(self.axis) != 0:
                raise ValueError("positions are for axis 0; use spacing (s) along time")
            if self.positions is not None and len(self.positions) == 0:
                raise ValueError("positions is empty")
            return self

    def _old_new(self, n: int, ctx) -> tuple[np.ndarray, np.ndarray]:
        if self.axis == 0:
            old = (
                np.arange(n, dtype=np.float64)
                if ctx.meta.positions is None
                else np.asarray(to_host(ctx.meta.positions), dtype=np.float64)
            )
            if self.params.positions is not None:
                return old, np.asarray(self.params.positions, dtype=np.float64)
            step = self.params.spacing if old[-1] >= old[0] else -self.params.spacing
            return old, np.arange(old[0], old[-1] + 0.5 * step, step)
        dt = ctx.meta.dt or ctx.dt
        old = np.arange(n, dtype=np.float64) * dt
        return old, np.arange(0.0, old[-1] + 0.5 * self.params.spacing, self.params.spacing)

    def apply(self, xp, x, ctx):
        y = x if self.axis == 0 else x.T
        old, new = self._old_new(y.shape[0], ctx)
        order = np.argsort(old, kind="stable")
        old_sorted = old[order]
        # index of the left neighbour and the weight of the right one, as numpy.interp
        right = (
            np.clip(np.searchsorted(old_sorted, new, side="right"), 1, len(old_sorted) - 1)
            if len(old) > 1
            else np.zeros(len(new), int)
        )
        left = np.maximum(right - 1, 0)
        span = old_sorted[right] - old_sorted[left]
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.where(span > 0, (new - old_sorted[left]) / np.where(span > 0, span, 1), 0.0)
        w = np.clip(w, 0.0, 1.0)
        a = y[xp.asarray(order[left])]
        b = y[xp.asarray(order[right])]
        wx = xp.asarray(w.astype(np.float32))[:, None]
        out = (a * (1 - wx) + b * wx).astype(xp.float32)
        return out if self.axis == 0 else out.T

    def out_meta(self, x, out, ctx):
        meta = ctx.meta
        _, new = self._old_new(x.shape[0] if self.axis == 0 else x.shape[1], ctx)
        if self.axis == 0:
            return ArrayMeta(halo=meta.halo, positions=new, dt=meta.dt, spectra=())
        return ArrayMeta(halo=(0, 0), positions=meta.positions, dt=self.params.spacing, spectra=())


def _lin(x, a, b):
    return a * x + b


def _exp(x, a, b, c):
    return a * np.exp(b * x) + c


def _sum2exp(x, a, b, c, d, e):
    return a * np.exp(b * x) + c * np.exp(d * x) + e


#: model, number of coefficients, number of initial slopes used
_MODELS = {"lin_fit": (_lin, 2, 1), "exp_fit": (_exp, 3, 1), "sum2exp_fit": (_sum2exp, 5, 2)}


@register
class CurveFit(AxisCommand):
    """Least-squares fit (``scipy.optimize.curve_fit``) of a model to every
    channel against time (``axis=1``, t in s from the chunk start) or to every
    time sample against position (``axis=0``, m).

    Models (``method``): ``lin_fit`` ``a x + b``; ``exp_fit`` ``a exp(b x) + c``;
    ``sum2exp_fit`` ``a exp(b x) + c exp(d x) + e``. Starting values as distpy:
    slopes from ``initSlopes``, amplitudes ``y[0] - y[-1]``, offset ``y[-1]``.
    ``output="fit"`` gives the fitted curve (same shape as the input);
    ``"coefficients"`` one value per coefficient (columns for axis 1, rows for
    axis 0). A fit that does not converge gives NaN for that channel / sample.
    distpy had this command unregistered (and broken).
    """

    name = "curve_fit"
    family = "geometry"
    description = "Fit lin_fit / exp_fit / sum2exp_fit per channel vs time (s) or per sample vs position (m)."
    gpu = False

    class Params(Params):
        method: Literal["lin_fit", "exp_fit", "sum2exp_fit"] = Field("lin_fit", description="the model")
        bounds: list[list[float]] | None = Field(
            None, description="[[lower...], [upper...]] per coefficient; null = unbounded"
        )
        initSlopes: list[float] = Field([-0.5], description="starting slope(s) b (and d): per s or per m")
        axis: Literal[0, 1, -1] = Field(1, description="1 (or -1) = each channel vs time, 0 = each sample vs position")
        output: Literal["fit", "coefficients"] = Field("fit", description="fitted curve or the coefficients")

        @model_validator(mode="after")
        def _shapes(self):
            _, ncoef, nslopes = _MODELS[self.method]
            if len(self.initSlopes) < nslopes:
                raise ValueError(f"{self.method} needs {nslopes} initSlopes")
            if self.bounds is not None and (len(self.bounds) != 2 or any(len(b) != ncoef for b in self.bounds)):
                raise ValueError(f"bounds must be [[{ncoef} lower values], [{ncoef} upper values]] for {self.method}")
            return self

    def check_layout(self, layout, gathered=()):
        _, ncoef, _ = _MODELS[self.params.method]
        have, what = (layout.samples, "samples in a chunk") if self.axis == 1 else (layout.channels, "channels")
        need_at_least(have, ncoef, what, f"a {self.params.method} fit of {ncoef} coefficients")

    def layout_after(self, layout):
        if self.params.output == "fit":
            return layout
        _, ncoef, _ = _MODELS[self.params.method]
        if self.axis == 1:
            return Layout(layout.sample_rate, layout.channels, ncoef)
        return Layout(layout.sample_rate, ncoef, layout.samples)

    def _start(self, y: np.ndarray) -> list[float]:
        s = self.params.initSlopes
        first, last = float(y[0]), float(y[-1])
        if self.params.method == "lin_fit":
            return [s[0], last]
        if self.params.method == "exp_fit":
            return [first - last, s[0], last]
        return [first - last, s[0], first - last, s[1], last]

    def apply(self, xp, x, ctx):
        from scipy.optimize import curve_fit

        model, ncoef, _ = _MODELS[self.params.method]
        data = np.asarray(to_host(x), dtype=np.float64)
        series = data if self.axis == 1 else data.T
        if self.axis == 1:
            coord = np.arange(series.shape[1]) * (ctx.meta.dt or ctx.dt)
        else:
            coord = (
                np.arange(series.shape[1], dtype=np.float64)
                if ctx.meta.positions is None
                else np.asarray(to_host(ctx.meta.positions), dtype=np.float64)
            )
        bounds = (-np.inf, np.inf) if self.params.bounds is None else tuple(self.params.bounds)
        coeffs = np.full((series.shape[0], ncoef), np.nan)
        failed = 0
        for i, y in enumerate(series):
            try:
                p0 = (
                    np.clip(self._start(y), *(np.asarray(b, float) for b in bounds))
                    if self.params.bounds
                    else self._start(y)
                )
                coeffs[i], _ = curve_fit(model, coord, y, p0=p0, bounds=bounds, maxfev=2000)
            except (RuntimeError, ValueError):
                failed += 1
        if failed:
            log.warning(
                "curve_fit (%s): %d of %d fits did not converge; NaN there", self.params.method, failed, series.shape[0]
            )
        if self.params.output == "coefficients":
            out = coeffs if self.axis == 1 else coeffs.T
        else:
            fitted = np.stack([model(coord, *c) for c in coeffs]) if len(coeffs) else np.empty_like(series)
            out = fitted if self.axis == 1 else fitted.T
        return out.astype(np.float32)
