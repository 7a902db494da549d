"""Control commands kept for distpy configs.

* ``to_gpu`` / ``from_gpu``: device placement is automatic in raydas, so they
  are accepted and do nothing.
* ``NONE``: an explicit pass-through (an *unknown* name is an error in raydas;
  distpy silently mapped every unknown name to ``NONE``).
* ``data``: distpy's head node. uid 0 is always the chunk in raydas; naming
  ``data`` in JSON passes its input on unchanged.
* ``copy``: an independent copy of its input.
* ``macro``: distpy's mini-language of array operations run in sequence.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..backend import ndimage_module
from . import register
from .base import Command, Params
from .common import need_at_least, time_or_channel_axis


class _PassOn(Command):
    """A command that returns its input unchanged."""

    family = "control"
    spectrum_use = "through"
    keeps_layout = True
    passes_input_on = True
    needs_regular_time = False

    def apply(self, xp, x, ctx):
        return x


class _Placement(_PassOn):
    changed_from_distpy = "No-op: raydas places every step on the actor's device itself."


@register
class ToGpu(_Placement):
    name = "to_gpu"
    description = "Accepted for distpy configs; data already live on the actor's device."


@register
class FromGpu(_Placement):
    name = "from_gpu"
    description = "Accepted for distpy configs; writers fetch results to the host themselves."


@register
class PassThrough(_PassOn):
    name = "NONE"
    description = "Explicit pass-through: returns its input unchanged."
    changed_from_distpy = "Only the explicit name NONE passes through; distpy also mapped every unknown name here."


@register
class Data(_PassOn):
    """distpy's ``data`` node. In raydas uid 0 is always the chunk itself (never
    written in JSON); a ``data`` command passes its input on unchanged, so with
    ``in_uid: 0`` it is the raw chunk."""

    name = "data"
    description = "The raw data node: passes its input on unchanged (in_uid 0 = the chunk)."
    changed_from_distpy = "Passes its input on; distpy wrapped the previous command object as data (meaningless)."


@register
class Copy(Command):
    name = "copy"
    family = "control"
    description = "An independent copy of its input (raydas commands never write into their inputs anyway)."
    spectrum_use = "through"
    keeps_layout = True
    needs_regular_time = False

    def apply(self, xp, x, ctx):
        return x.copy()


MacroName = Literal[
    "abs", "normalize", "gaussian_filter", "gradient", "threshold", "median_filter", "percentage_on", "sum"
]


class MacroOp(BaseModel):
    """One operation of a ``macro`` (distpy's ``macro_factory`` names and defaults)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: MacroName = Field(description="the operation")
    axis: Literal[0, 1, -1] = Field(0, description="axis of gradient, normalize, percentage_on, sum (0 = channels)")
    distance: int = Field(5, ge=1, description="gradient: sample spacing; median_filter: window size (samples)")
    sigma: float = Field(2.0, gt=0, description="gaussian_filter: standard deviation on both axes (samples)")
    threshold: float = Field(0.0, description="threshold: values above it become 1, the others 0")


_DEFAULT_MACRO = [
    {"name": n}
    for n in ("abs", "normalize", "gaussian_filter", "gradient", "threshold", "median_filter", "percentage_on", "sum")
]


#: macro operations that drop an axis
_REDUCING = ("sum", "percentage_on")


def _gaussian_radius(sigma: float) -> int:
    """Support half-width of scipy.ndimage's Gaussian kernel (truncate = 4 sigma)."""
    return int(4.0 * float(sigma) + 0.5)


@register
class Macro(Command):
    """distpy's ``macro``: a ``command_list`` of small array operations applied in order.

    Operations (names and defaults as distpy's ``macro_factory``):

    * ``abs``: |x|.
    * ``normalize``: x divided by its L2 norm along ``axis`` (zero norms left as 1).
    * ``gaussian_filter``: ``scipy.ndimage.gaussian_filter(x, sigma)`` on both axes.
    * ``gradient``: ``numpy.gradient(x, distance, axis=axis)`` (``distance`` is the sample spacing).
    * ``threshold``: 1.0 where ``x > threshold``, else 0.0.
    * ``median_filter``: square ``scipy.ndimage.median_filter(x, size=distance)``.
    * ``percentage_on``: ``100 * sum(x, axis) / n`` (per cent of samples "on" after ``threshold``).
    * ``sum``: ``sum(x, axis)``.

    The default list (abs ... sum) reduces a chunk to one number. A macro with
    ``sum``, ``percentage_on`` or a ``normalize`` along time is per chunk; any
    other macro is time-local with the sum of its operations' halos.
    """

    name = "macro"
    family = "control"
    time_local = False  # the default list reduces the chunk to one number
    description = (
        "distpy's macro mini-language: abs, normalize, gaussian_filter, gradient, threshold, median_filter, "
        "percentage_on, sum."
    )
    changed_from_distpy = (
        "Each operation is computed only when it is reached (distpy computed all eight at every step); "
        "an unknown operation is a config error (distpy passed the data through)."
    )

    class Params(Params):
        command_list: list[MacroOp] = Field(
            _DEFAULT_MACRO,
            validate_default=True,
            description="operations applied in order, each {name, axis?, distance?, sigma?, threshold?}",
        )

    def __init__(self, params, uid=0):
        super().__init__(params, uid)
        ops = params.command_list
        per_chunk = any(
            op.name in _REDUCING or (op.name == "normalize" and time_or_channel_axis(op.axis) == 1) for op in ops
        )
        self.time_local = not per_chunk

    def halo_samples(self, sample_rate: float) -> int:
        """Sum of the operations' halos (gaussian 4 sigma, gradient 1, median distance//2)."""
        total = 0
        for op in self.params.command_list:
            if op.name == "gaussian_filter":
                total += _gaussian_radius(op.sigma)
            elif op.name == "gradient" and time_or_channel_axis(op.axis) == 1:
                total += 1
            elif op.name == "median_filter":
                total += op.distance // 2
        return total

    def check_layout(self, layout, gathered=()):
        """A gradient needs two values along its axis (until an operation reduces the array)."""
        for op in self.params.command_list:
            if op.name in _REDUCING:
                return
            if op.name == "gradient":
                axis = time_or_channel_axis(op.axis)
                have = layout.channels if axis == 0 else layout.samples
                need_at_least(have, 2, "channels" if axis == 0 else "samples", f"macro gradient along axis {op.axis}")

    def layout_after(self, layout):
        if any(op.name in _REDUCING for op in self.params.command_list):
            return layout.unknown()
        return layout

    def apply(self, xp, x, ctx):
        for op in self.params.command_list:
            x = _macro_step(xp, x, op)
        return x.reshape(1, 1) if x.ndim == 0 else x


def _macro_step(xp, x, op: MacroOp):
    axis = time_or_channel_axis(op.axis)
    if axis >= x.ndim:
        raise ValueError(f"macro {op.name}: axis {op.axis} does not exist on a {x.ndim}-D intermediate result")
    if op.name == "abs":
        return xp.abs(x)
    if op.name == "normalize":
        norm = xp.sqrt(xp.sum(xp.abs(x) ** 2, axis=axis, keepdims=True))
        return x / xp.where(norm == 0, 1, norm)
    if op.name == "gaussian_filter":
        return ndimage_module(xp).gaussian_filter(x, sigma=op.sigma)
    if op.name == "gradient":
        return xp.gradient(x.astype(xp.float64), float(op.distance), axis=axis).astype(xp.float32)
    if op.name == "threshold":
        return (x > op.threshold).astype(xp.float32)
    if op.name == "median_filter":
        return ndimage_module(xp).median_filter(x, size=op.distance)
    if op.name == "percentage_on":
        return (100.0 * xp.sum(x, axis=axis) / x.shape[axis]).astype(xp.float32)
    if op.name == "sum":
        return xp.sum(x, axis=axis)
    raise ValueError(f"macro: unknown operation {op.name!r}")  # unreachable: names are validated
