"""Element-wise commands: each output sample depends on one input sample."""

from __future__ import annotations

from . import register
from .base import Command


@register
class Abs(Command):
    name = "abs"
    family = "elementwise"
    summary = "Absolute value |x| (magnitude of complex data)."

    def apply(self, xp, x, ctx):
        return xp.abs(x)


@register
class Real(Command):
    name = "real"
    family = "elementwise"
    summary = "Real part of complex data (e.g. after ifft)."

    def apply(self, xp, x, ctx):
        return xp.real(x) if xp.iscomplexobj(x) else x
