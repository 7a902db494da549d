"""Simple HDF5: one 2-D data set and its coordinate data sets, nothing else
(the FORESEE / PubDAS layout, DASCore's "H5Simple"), found by structure, not by names.

Layout (the names do not matter):

* the root holds only numeric data sets, no groups;
* exactly one of them is 2-D: the samples;
* the others are 1-D coordinates. The **time** coordinate is the one whose
  length is one of the samples' axes and whose values are absolute times:
  increasing, and seconds, milliseconds, microseconds or nanoseconds since
  1970 between 1980 and 2100 (the magnitude tells which). Its axis is time;
  the other axis is the channels. A 1-D data set as long as the channel axis,
  increasing, gives the channel positions (m).

Nothing in such a file states units: the time unit is told from the
magnitude, the positions are taken as metres (or the channel index where no
coordinate gives them), so ``assumed`` names ``start_time``,
``sample_rate``, ``positions`` and ``units``. A time coordinate that is not
regular is refused (raydas does not read irregular sampling as a rate).

This reader is tried after every vendor reader (it is registered last among
the HDF5 readers), so a vendor file is never read as "simple".
"""

from __future__ import annotations

import numpy as np

from ..errors import FormatError
from ..timeutil import NS_PER_S
from . import register
from .base import RecordInfo, run_key, time_runs
from .hdf5 import HDF5Format, check_complete, check_stored, numeric_dataset

#: ns per unit of a time coordinate, tried in this order on its first value
TIME_SCALES = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
#: absolute times a coordinate's first value must fall between to be time (ns since 1970): 1980 to 2100
TIME_RANGE_NS = (315_532_800 * 10**9, 4_102_444_800 * 10**9)


def _parts(h5):
    """``(data, coordinates)`` when the root is one 2-D numeric data set plus 1-D numeric ones, else None."""
    import h5py

    data, coords = None, []
    for node in h5.values():
        if not isinstance(node, h5py.Dataset) or node.dtype.kind not in "iuf" or node.ndim not in (1, 2):
            return None
        if node.ndim == 2:
            if data is not None:
                return None
            data = node
        elif node.shape[0] > 0:
            coords.append(node)
    return (data, coords) if data is not None and coords else None


def _time_scale(coord) -> str | None:
    """The unit of a 1-D data set if its first and last values are increasing absolute times, else None."""
    first, last = float(coord[0]), float(coord[coord.shape[0] - 1])
    if not (last > first or coord.shape[0] == 1):
        return None
    for unit, ns in TIME_SCALES.items():
        if TIME_RANGE_NS[0] <= first * ns <= TIME_RANGE_NS[1]:
            return unit
    return None


def _time_axes(data, coords) -> list[tuple[object, str, int]]:
    """The candidate time coordinates: ``(data set, unit, axis of the samples)``, one per axis it can be."""
    found = []
    for coord in coords:
        for axis in (0, 1):
            if coord.shape[0] == data.shape[axis]:
                unit = _time_scale(coord)
                if unit:
                    found.append((coord, unit, axis))
    return found


@register
class SimpleHDF5Format(HDF5Format):
    """Samples are read from the one 2-D data set, in the axis order its time coordinate gives."""

    name = "h5simple"
    description = "simple HDF5: one 2-D data set + 1-D time (and position) data sets, found by structure"
    extensions = (".h5", ".hdf5")
    tested_on = ("fibre/hdf5/h5_simple_1.h5",)

    def looks_like(self, h5) -> bool:
        parts = _parts(h5)
        return parts is not None and bool(_time_axes(*parts))

    def scan_hdf5(self, url: str, h5) -> list[RecordInfo]:
        parts = _parts(h5)
        if parts is None:
            raise FormatError(url, "is not one 2-D data set and 1-D coordinates (simple HDF5)")
        data, coords = parts
        candidates = _time_axes(data, coords)
        if len(candidates) != 1:
            found = ", ".join(f"{c.name} (axis {axis})" for c, _, axis in candidates) or "none"
            raise FormatError(url, f"cannot tell which axis of {data.name} is time: time coordinates {found}")
        times, unit, axis = candidates[0]
        data = numeric_dataset(url, h5, data.name)
        check_stored(url, data)
        check_complete(url, times)
        time_first = axis == 0
        n_time, n_chan = data.shape if time_first else data.shape[::-1]
        values = np.asarray(times[()], dtype=np.float64)
        # the interval from the stored values themselves (float seconds lose ~0.2 µs when rounded to ns)
        stamps = np.round(values * TIME_SCALES[unit]).astype(np.int64)
        others = [c for c in coords if c is not times and c.shape[0] == n_chan]
        for coord in others:
            check_complete(url, coord)
        others = [c for c in others if _increasing(c)]
        positions = np.asarray(others[0][()], dtype=np.float64) if len(others) == 1 else np.arange(n_chan, dtype=float)
        return [
            RecordInfo(
                path=url,
                format=self.name,
                n_channels=int(n_chan),
                n_samples=hi - lo,
                dt=(values[hi - 1] - values[lo]) / (hi - lo - 1) * TIME_SCALES[unit] / NS_PER_S if hi - lo > 1 else dt,
                start_ns=start_ns,
                positions=positions,
                key=run_key(data.name, lo, hi, n_time),
                assumed=("start_time", "sample_rate", "positions", "units"),
                attrs={
                    "dataset": data.name,
                    "time_first": time_first,
                    "first_sample": lo,
                    "time_coordinate": f"{times.name} ({unit} since 1970, told by magnitude)",
                    "position_coordinate": others[0].name if len(others) == 1 else "channel index",
                },
            )
            for lo, hi, start_ns, dt in time_runs(url, stamps, times.name)
        ]


def _increasing(coord) -> bool:
    values = np.asarray(coord[()], dtype=np.float64)
    return bool(np.all(np.diff(values) > 0))


__all__ = ["SimpleHDF5Format"]
