"""Reductions and statistics."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from . import register
from .base import Command, Params


@register
class Mean(Command):
    name = "mean"
    family = "statistics"
    summary = "Mean along an axis, keeping the reduced axis (1 = over the chunk's time samples)."
    time_local = False

    class Params(Params):
        axis: Optional[Literal[0, 1, -1]] = Field(1, description="1 (or -1) = over time, 0 = over channels, null = all")

    def __init__(self, params, uid=0):
        super().__init__(params, uid)
        self.axis = 1 if params.axis == -1 else params.axis
        self.time_local = self.axis == 0  # a mean across channels is per time sample

    def apply(self, xp, x, ctx):
        if self.axis is None:
            return xp.mean(x).reshape(1, 1)
        return xp.mean(x, axis=self.axis, keepdims=True)
