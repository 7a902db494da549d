"""Filters along time or across channels."""

from __future__ import annotations

import functools
from typing import Literal, Union

import numpy as np
from pydantic import Field

from ..backend import signal_module, to_host
from . import register
from .base import Command, Params

#: a filter's response is taken to have died out once the tail beyond the halo
#: holds less than this fraction of its total absolute response.
HALO_TOLERANCE = 1e-7
MAX_HALO_SECONDS = 60.0


@functools.lru_cache(maxsize=256)
def butter_sos(order: int, wn: tuple[float, ...], btype: str) -> np.ndarray:
    from scipy import signal

    return signal.butter(order, wn if len(wn) > 1 else wn[0], btype=btype, output="sos")


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
class Butter(Command):
    name = "butter"
    family = "filters"
    summary = "Zero-phase Butterworth filter (forward-backward) along time or across channels."
    changed_from_distpy = (
        "Across channels (axis 0) the cut-off is relative to the spatial Nyquist 1/(2 dx) "
        "(distpy used dx/2); computed as second-order sections in float64 for stability."
    )

    class Params(Params):
        order: int = Field(5, ge=1, le=20, description="filter order")
        type: Literal["lowpass", "highpass", "bandpass", "bandstop"] = Field("lowpass", description="filter type")
        freq: Union[float, list[float]] = Field(
            200.0, description="cut-off (Hz along time, cycles/m across channels); two values for band filters"
        )
        padtype: Union[Literal["even", "odd", "constant"], None] = Field("even", description="edge extension")
        axis: Literal[0, 1, -1] = Field(1, description="1 (or -1) = along time, 0 = across channels")

    def __init__(self, params, uid=0):
        super().__init__(params, uid)
        self.axis = 1 if params.axis == -1 else params.axis
        freqs = params.freq if isinstance(params.freq, list) else [params.freq]
        want = 2 if params.type in ("bandpass", "bandstop") else 1
        if len(freqs) != want:
            raise ValueError(f"a {params.type} filter needs {want} cut-off frequenc{'ies' if want > 1 else 'y'} in freq")
        self.freqs = tuple(float(f) for f in freqs)

    def sos(self, nyquist: float) -> np.ndarray:
        wn = tuple(f / nyquist for f in self.freqs)
        if not all(0 < w < 1 for w in wn):
            raise ValueError(
                f"butter: cut-off {list(self.freqs)} must lie strictly between 0 and the Nyquist frequency {nyquist:g}"
            )
        return butter_sos(self.params.order, wn, self.params.type)

    def halo(self, sample_rate: float) -> int:
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
            dx = _spacing(ctx.positions)
            nyquist = 1.0 / (2.0 * dx)
        sos = self.sos(nyquist)
        padtype = self.params.padtype
        # scipy's default edge padding, shortened for chunks shorter than it
        ntaps = 2 * sos.shape[0] + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
        padlen = min(3 * ntaps, x.shape[self.axis] - 1) if padtype is not None else 0
        y = signal_module(xp).sosfiltfilt(
            xp.asarray(sos), x.astype(xp.float64), axis=self.axis, padtype=padtype, padlen=padlen
        )
        return y.astype(xp.float32)


def _spacing(positions) -> float:
    if positions is None or len(positions) < 2:
        raise ValueError("butter across channels needs channel positions (at least two channels)")
    pos = to_host(positions)
    return float(np.median(np.abs(np.diff(pos))))
