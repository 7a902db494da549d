"""Event detection (k-means and keras classification are in :mod:`raydas.commands.algebra`)."""

from __future__ import annotations

from pydantic import Field

from ..backend import ndimage_module
from . import register
from .base import VIBRATION, Command, Params


@register
class StaLta(Command):
    name = "sta_lta"
    quantities = VIBRATION
    family = "detection"
    description = "Short-term over long-term average ratio (centred windows); feed it |x| or x^2."
    keeps_layout = True
    changed_from_distpy = (
        "Ratio of the two window means; distpy divided each mean by its window again, "
        "scaling the ratio by lta/sta (4.0 on constant input with the defaults)."
    )

    class Params(Params):
        sta: int = Field(50, ge=1, description="short window (samples)")
        lta: int = Field(200, ge=1, description="long window (samples)")

    def halo_samples(self, sample_rate: float) -> int:
        """Half the longer window."""
        return max(self.params.sta, self.params.lta) // 2 + 1

    def apply(self, xp, x, ctx):
        nd = ndimage_module(xp)
        x64 = x.astype(xp.float64)
        sta = nd.uniform_filter1d(x64, self.params.sta, axis=1, mode="reflect")
        lta = nd.uniform_filter1d(x64, self.params.lta, axis=1, mode="reflect")
        return (sta / xp.maximum(lta, 1e-6)).astype(xp.float32)
