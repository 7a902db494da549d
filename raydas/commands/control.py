"""Control commands kept for distpy configs: device placement is automatic in
raydas, so ``to_gpu`` and ``from_gpu`` are accepted and do nothing."""

from __future__ import annotations

from . import register
from .base import Command


class _Placement(Command):
    family = "control"
    changed_from_distpy = "No-op: raydas places every step on the actor's device itself."

    def apply(self, xp, x, ctx):
        return x


@register
class ToGpu(_Placement):
    name = "to_gpu"
    summary = "Accepted for distpy configs; data already live on the actor's device."


@register
class FromGpu(_Placement):
    name = "from_gpu"
    summary = "Accepted for distpy configs; writers fetch results to the host themselves."
