"""Geometry: selecting and resampling the (channel, time) grid."""

from __future__ import annotations

from pydantic import Field

from . import register
from .base import ArrayMeta, Command, Params


@register
class Downsample(Command):
    name = "downsample"
    family = "geometry"
    summary = "Keep every xsample-th channel and every tsample-th time sample (no anti-alias filter, as distpy)."
    time_local = False

    class Params(Params):
        xsample: int = Field(1, ge=1, description="keep every n-th channel")
        tsample: int = Field(1, ge=1, description="keep every n-th time sample")

    def __init__(self, params, uid=0):
        super().__init__(params, uid)
        self.time_local = params.tsample == 1  # channel decimation alone is per time sample

    def apply(self, xp, x, ctx):
        return x[:: self.params.xsample, :: self.params.tsample]

    def out_meta(self, x, out, ctx):
        meta = ctx.meta
        positions = meta.positions[:: self.params.xsample] if meta.positions is not None else None
        if self.params.tsample == 1:
            return ArrayMeta(halo=meta.halo, positions=positions, dt=meta.dt, spectra=())
        dt = meta.dt * self.params.tsample if meta.dt is not None else None
        return ArrayMeta(halo=(0, 0), positions=positions, dt=dt, spectra=())
