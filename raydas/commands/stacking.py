"""Stacks over chunks: the ``stack_chunks`` reducer and the arithmetic of its stacks.

``stack_chunks`` ends the per-chunk part of a graph. Each chunk's input (the
``xcorr`` of the chunk, a spectrum, any array of a fixed shape) is added to a
running stack kept in the processor actor; the runtime merges the actors'
stacks at the end of the run and hands each final stack to the commands after
``stack_chunks`` (see :mod:`raydas.reduction` for the partial stacks, their
checkpoints and groups, and :mod:`raydas.runtime.reduce` for the merge).

Stacks of ``N`` chunks ``d_1 .. d_N`` (arrays of one shape; each row is stacked
on its own, along axis 1):

* ``linear``: the mean, ``sum_i d_i / N``.
* ``pws`` (phase-weighted stack, Schimmel & Paulssen 1997): the mean times
  ``|sum_i exp(i phi_i) / N| ** pws_power``, where ``phi_i`` is the
  instantaneous phase of ``d_i`` along axis 1 (from its analytic signal). Where
  the chunks agree in phase the weight is 1; incoherent noise is suppressed.
* ``robust`` (after Pavlis & Vernon 2010): a weighted mean whose weights are
  found by iteration. Starting from the median over chunks, each chunk's weight
  is ``|c_i| / (|d_i| |r_i|)``, with ``c_i = d_i . s / |s|`` its projection on
  the unit stack ``s / |s|`` and ``r_i = d_i - c_i s / |s|`` the residual; the
  stack becomes ``sum_i w_i d_i / sum_i w_i``, until the relative change
  (L1) is under ``robust_epsilon`` or after ``robust_max_iterations``. It needs
  every chunk's array until the end: a robust stack keeps ``N`` arrays (the
  linear and phase-weighted stacks keep one or two, whatever ``N``).

Linear and phase-weighted stacks are sums, so they merge across actors and
checkpoints in any order (float64 sums: the order changes the last bits only);
a robust stack merges by gathering its chunks' arrays.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from ..backend import fft_module
from . import register
from .base import Command, Params
from .common import safe_divide

#: how a stack is formed
STACK_METHODS = ("linear", "pws", "robust")
#: the time groupings a stack may be made over
STACK_GROUPS = ("all", "hour", "day")


@register
class StackChunks(Command):
    """Stack a value over the chunks of a run (the reducer): linear mean, phase-weighted
    stack or robust stack, over the whole run or per hour or day (UTC) of the chunks'
    start times.

    The commands after ``stack_chunks`` run once per stack, at the end of the
    run, on the stacked array (float32, the input's coordinates); writers there
    name their files ``<directory_out>/<label>.<ext>``, the label being ``all``,
    ``YYYY-MM-DD`` (day) or ``YYYY-MM-DDTHH`` (hour, UTC). The chunks that went
    into each stack are listed beside the results
    (``raydas-reduce/stacks/<uid>/<label>.json``) and in the results manifest.

    Partial stacks live in the processor actors (on the GPU for GPU actors)
    and are checkpointed under ``raydas-reduce/`` every
    ``checkpoint_every_chunks`` chunks or ``checkpoint_every_seconds`` s,
    whichever comes first: a killed driver resumes from the checkpoints, a
    killed actor's chunks since its last checkpoint are computed again. Every
    chunk is counted exactly once.

    Run on one chunk alone (``raydas.process``), the stack of one chunk is the chunk.
    """

    name = "stack_chunks"
    family = "interferometry"
    description = "Stack over chunks (linear, phase-weighted, robust), whole run or per hour/day: the reducer."
    time_local = False
    reduces = True

    class Params(Params):
        method: Literal["linear", "pws", "robust"] = Field("linear", description="linear, pws or robust")
        group: Literal["all", "hour", "day"] = Field(
            "all", description="one stack for the run, or one per hour or day (UTC) of the chunks' start times"
        )
        pws_power: float = Field(2.0, ge=0, description="pws: exponent of the phase coherence (0 = linear stack)")
        robust_epsilon: float = Field(1e-6, gt=0, description="robust: stop when the stack changes less (relative)")
        robust_max_iterations: int = Field(10, ge=1, le=1000, description="robust: most iterations")
        checkpoint_every_chunks: int = Field(
            50, ge=1, le=1_000_000, description="checkpoint the partial stacks every this many chunks per actor"
        )
        checkpoint_every_seconds: float = Field(
            600.0, gt=0, description="... or when this many seconds (s) have passed since an actor's last checkpoint"
        )

    def apply(self, xp, x, ctx):
        """The stack of this chunk alone: the chunk (float32)."""
        return x.astype(xp.float32, copy=False) if x.dtype.kind == "f" else x

    def out_meta(self, x, out, ctx):
        return ctx.meta.trimmed()

    def layout_after(self, layout):
        return layout


# --- the arithmetic -----------------------------------------------------------------------------------
def unit_phasor(xp, x):
    """``exp(i phi)`` of each sample of ``x`` (rows of real samples along axis 1), ``phi``
    being the instantaneous phase of the analytic signal; 0 where the envelope is 0."""
    if x.dtype.kind == "c":  # a complex value's phase is its own
        magnitude = xp.abs(x)
        return safe_divide(xp, x, magnitude)
    fft = fft_module(xp)
    n = x.shape[-1]
    weights = np.zeros(n)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[n // 2] = 1.0
        weights[1 : n // 2] = 2.0
    else:
        weights[1 : (n + 1) // 2] = 2.0
    analytic = fft.ifft(fft.fft(x.astype(xp.float64), axis=-1) * xp.asarray(weights), axis=-1)
    envelope = xp.abs(analytic)
    return safe_divide(xp, analytic, envelope)


def linear_stack(total, count: int):
    """The mean of ``count`` chunks whose sum is ``total``."""
    return total / max(count, 1)


def phase_weighted_stack(xp, total, phases, count: int, power: float):
    """The phase-weighted stack from the sum of the chunks and the sum of their unit phasors."""
    coherence = xp.abs(phases) / max(count, 1)
    return (total / max(count, 1)) * coherence**power


def robust_stack(xp, items, epsilon: float = 1e-6, max_iterations: int = 10):
    """The robust stack of ``items`` (``(chunks, rows, columns)``), each row on its own
    (see the module docstring); float64."""
    d = items.astype(xp.float64)
    stack = xp.median(d, axis=0)
    for _ in range(max_iterations):
        norm = xp.sqrt((stack * stack).sum(axis=-1, keepdims=True))
        unit = safe_divide(xp, stack, norm)
        c = (d * unit[None]).sum(axis=-1, keepdims=True)  # (chunks, rows, 1)
        residual = d - c * unit[None]
        d_norm = xp.sqrt((d * d).sum(axis=-1, keepdims=True))
        r_norm = xp.sqrt((residual * residual).sum(axis=-1, keepdims=True))
        good = (d_norm > 0) & (r_norm > 0)
        w = xp.where(good, xp.abs(c) / xp.where(good, d_norm * r_norm, 1.0), 0)
        w_sum = w.sum(axis=0)
        new = xp.where(w_sum > 0, (w * d).sum(axis=0) / xp.where(w_sum > 0, w_sum, 1.0), stack)
        change = xp.abs(new - stack).sum(axis=-1) / xp.maximum(xp.abs(new).sum(axis=-1), 1e-300)
        stack = new
        if float(change.max()) < epsilon:
            break
    return stack
