"""Element-wise commands: each output sample depends on one input sample
(``unwrap`` along time and ``rescale`` use the whole chunk and say so)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from . import register
from .base import Command, Params
from .common import AxisCommand


class _Elementwise(Command):
    family = "elementwise"
    keeps_layout = True
    needs_regular_time = False  # sample by sample (or over the chunk's readings): no rate read


@register
class Abs(_Elementwise):
    name = "abs"
    description = "Absolute value |x| (magnitude of complex data)."

    def apply(self, xp, x, ctx):
        return xp.abs(x)


@register
class Real(_Elementwise):
    name = "real"
    description = "Real part of complex data (e.g. after ifft)."

    def apply(self, xp, x, ctx):
        return xp.real(x) if xp.iscomplexobj(x) else x


@register
class Angle(_Elementwise):
    name = "angle"
    description = "Phase angle of complex data (rad, -pi..pi); 0 or pi for real data."

    def apply(self, xp, x, ctx):
        return xp.angle(x).astype(xp.float32)


@register
class Conj(_Elementwise):
    name = "conj"
    description = "Complex conjugate (real data pass unchanged)."

    def apply(self, xp, x, ctx):
        return xp.conj(x)


@register
class Unwrap(AxisCommand, _Elementwise):
    """``numpy.unwrap`` of phase angles (rad) along an axis.

    Across channels (axis 0) each time sample is unwrapped on its own, so it is
    time-local. Along time the unwrapped phase accumulates from the first
    sample of the chunk, so it is per chunk (each chunk starts from its own
    first sample's phase, as distpy's chunks did).
    """

    name = "unwrap"
    description = "Unwrap phase angles (rad) along an axis (numpy.unwrap); along time it is per chunk."

    class Params(Params):
        axis: Literal[0, 1, -1] = Field(-1, description="-1 or 1 = along time (per chunk), 0 = across channels")

    def apply(self, xp, x, ctx):
        return xp.unwrap(x.astype(xp.float64), axis=self.axis).astype(xp.float32)


@register
class LinTransform(_Elementwise):
    name = "lin_transform"
    description = "Linear transform m*x + c."

    class Params(Params):
        m: float = Field(1.0, description="slope (unit of output per unit of input)")
        c: float = Field(0.0, description="intercept (unit of output)")

    def apply(self, xp, x, ctx):
        y = x * self.params.m + self.params.c
        if x.dtype.kind in "biu":  # labels, indices, masks: the transform gives real numbers
            return y.astype(xp.float32)
        return y.astype(x.dtype, copy=False)


class ThresholdParams(Params):
    direction: Literal[">", "<"] = Field(">", description="'>' acts on values above the threshold, '<' below")
    threshold: float = Field(0.0, description="the threshold (unit of the data)")


_DIRECTION_CHANGE = "direction must be '>' or '<' (distpy treated anything else as '<')"


@register
class SoftThreshold(_Elementwise):
    name = "soft_threshold"
    description = "Clip at the threshold: values beyond it (direction > or <) become the threshold."
    changed_from_distpy = f"Returns a new array (distpy overwrote its input in place); {_DIRECTION_CHANGE}."

    class Params(ThresholdParams):
        pass

    def apply(self, xp, x, ctx):
        p = self.params
        return xp.minimum(x, p.threshold) if p.direction == ">" else xp.maximum(x, p.threshold)


@register
class HardThreshold(_Elementwise):
    name = "hard_threshold"
    description = "Values beyond the threshold (direction > or <) are replaced by value."
    changed_from_distpy = SoftThreshold.changed_from_distpy

    class Params(ThresholdParams):
        value: float = Field(0.0, description="replacement for values beyond the threshold")

    def apply(self, xp, x, ctx):
        p = self.params
        beyond = x > p.threshold if p.direction == ">" else x < p.threshold
        return xp.where(beyond, xp.asarray(p.value, dtype=x.dtype), x)


@register
class BoundedSelect(_Elementwise):
    name = "bounded_select"
    description = "Mask: 1.0 where min_val < x <= max_val, else 0.0 (e.g. one k-means cluster)."
    changed_from_distpy = "The mask is float32 (distpy: float64)."

    class Params(Params):
        min_val: float = Field(0.0, description="lower bound (exclusive)")
        max_val: float = Field(1.0, description="upper bound (inclusive)")

    @model_validator(mode="after")
    def _ordered(self):
        if self.max_val < self.min_val:
            raise ValueError(f"max_val {self.max_val} is below min_val {self.min_val}")
        return self

    def apply(self, xp, x, ctx):
        p = self.params
        return ((x > p.min_val) & (x <= p.max_val)).astype(xp.float32)


@register
class Rescale(_Elementwise):
    """``(x - min) / (max - min)`` over the whole chunk; with ``gather_uids`` the
    minimum and maximum come from that dataset instead. Per chunk: each chunk is
    scaled by its own extremes."""

    name = "rescale"
    description = "Rescale the chunk to 0..1 by its min and max (or those of gather_uids[0])."
    inputs = "optional"
    time_local = False
    changed_from_distpy = "A constant input gives zeros (distpy divided by zero)."

    def apply(self, xp, x, ctx):
        ref = ctx.gathered[0] if ctx.gathered else x
        lo = xp.min(ref)
        span = xp.max(ref) - lo
        span = xp.where(span == 0, 1, span)
        return ((x - lo) / span).astype(xp.float32)
