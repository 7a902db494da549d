"""xdas NetCDF4 (HDF5): a data array whose coordinates are stored as tie
points, interpolated linearly in between (CF "coordinate interpolation").

Layout:

* root attribute ``_NCProperties`` (NetCDF-4) and ``Conventions`` (``CF-1.9``...);
* the samples: a 2-D variable (``__values__`` for an unnamed xdas array) whose
  dimensions are its netCDF dimensions (``DIMENSION_LIST``: ``time``,
  ``distance``), with attribute ``coordinate_interpolation`` naming the tie
  points of each coordinate, in either spelling:

  * xdas's ``"time: time_indices time_values distance: distance_indices distance_values"``
    (dimension: index variable, value variable);
  * CF 1.13's ``"time_values: time_interpolation ..."`` (value variable:
    interpolation variable, whose ``tie_point_mapping`` is
    ``"time: time_indices time_points"``);

* ``<coord>_indices`` (int) and ``<coord>_values``: the tie points. Time
  values carry CF ``units`` ``"<unit> since <time>"`` (UTC when the time has no
  offset, as CF says); distance values a length unit, or none (metres then,
  and ``assumed`` says ``positions``);
* the netCDF dimension variables (``/time``, ``/distance``, ``*_points``) are
  placeholders of zeros: they are never read.

Between two tie points a coordinate is linear; consecutive tie points one
index apart mark a jump (a gap). Each regular run of the interpolated times
is a record.
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import FormatError
from ..timeutil import NS_PER_S, parse_iso
from . import register
from .base import RecordInfo, attr_text, metres_per, quantity_of, run_key, time_runs
from .hdf5 import HDF5Format, check_stored, numeric_dataset

#: ns in one CF time unit
TIME_UNITS = {
    **dict.fromkeys(("nanoseconds", "nanosecond", "ns"), 1),
    **dict.fromkeys(("microseconds", "microsecond", "us"), 10**3),
    **dict.fromkeys(("milliseconds", "millisecond", "ms"), 10**6),
    **dict.fromkeys(("seconds", "second", "secs", "sec", "s"), NS_PER_S),
    **dict.fromkeys(("minutes", "minute", "mins", "min"), 60 * NS_PER_S),
    **dict.fromkeys(("hours", "hour", "hrs", "hr", "h"), 3600 * NS_PER_S),
    **dict.fromkeys(("days", "day", "d"), 86400 * NS_PER_S),
}
CALENDARS = ("standard", "gregorian", "proleptic_gregorian")
ATTRIBUTE = "coordinate_interpolation"


def _tie_point_names(url: str, h5, mapping: str) -> dict[str, tuple[str, str]]:
    """``{dimension: (index variable, value variable)}`` from a ``coordinate_interpolation`` value."""
    groups, heads = [], []
    for word in mapping.split():
        if word.endswith(":"):
            heads.append(word[:-1])
        elif heads:
            groups.append((heads, [word]))
            heads = []
        elif groups:
            groups[-1][1].append(word)
    names = {}
    for heads, words in groups:
        if len(heads) == 1 and len(words) == 2:  # xdas: "dim: indices values"
            names[heads[0]] = (words[0], words[1])
        elif len(heads) == 1 and len(words) == 1 and _is_interpolation(h5.get(words[0])):  # CF 1.13
            interpolation = h5[words[0]].attrs
            if attr_text(interpolation["interpolation_name"]) != "linear":
                raise FormatError(url, f"{words[0]} interpolates {interpolation['interpolation_name']!r}, not linearly")
            found = re.match(r"\s*(\w+):\s*(\w+)\s+(\w+)", attr_text(interpolation.get("tie_point_mapping", "")))
            if not found:
                raise FormatError(url, f"{words[0]} has no tie_point_mapping 'dimension: indices points'")
            names[found.group(1)] = (found.group(2), heads[0])
        else:
            raise FormatError(url, f"{ATTRIBUTE} {mapping!r} is in neither xdas's nor CF 1.13's spelling")
    return names


def _is_interpolation(node) -> bool:
    return node is not None and "interpolation_name" in node.attrs


def _tie_points(url: str, h5, index_name: str, value_name: str, length: int) -> tuple[np.ndarray, object]:
    """The tie point indices (checked: increasing, from 0 to ``length - 1``) and the value data set."""
    indices = numeric_dataset(url, h5, index_name, ndim=1)
    values = numeric_dataset(url, h5, value_name, ndim=1)
    for node in (indices, values):
        check_stored(url, node)
    index = np.asarray(indices[()], dtype=np.int64)
    if values.shape[0] != index.size:
        raise FormatError(url, f"{value_name} has {values.shape[0]} tie points, {index_name} {index.size}")
    if index[0] != 0 or index[-1] != length - 1 or np.any(np.diff(index) <= 0):
        raise FormatError(url, f"{index_name} {index.tolist()[:6]} does not run from 0 to {length - 1} increasing")
    return index, values


def _interpolate(index: np.ndarray, offsets: np.ndarray, length: int) -> np.ndarray:
    """Values at every index ``0 .. length - 1``, linear between tie points (float64)."""
    return np.interp(np.arange(length, dtype=np.float64), index.astype(np.float64), offsets)


def _time_origin(url: str, values) -> tuple[int, int]:
    """``(ns per unit, origin ns)`` of a CF time variable's ``units`` ``"<unit> since <time>"``."""
    units = attr_text(values.attrs.get("units", ""))
    calendar = attr_text(values.attrs.get("calendar", "standard")).lower()
    if calendar not in CALENDARS:
        raise FormatError(url, f"{values.name} uses calendar {calendar!r}; raydas reads {', '.join(CALENDARS)}")
    unit, _, since = units.partition(" since ")
    if unit.strip().lower() not in TIME_UNITS:
        raise FormatError(url, f"{values.name} units {units!r} are not '<time unit> since <time>'")
    try:
        origin = parse_iso(since.strip().replace(" UTC", "Z"))
    except ValueError as exc:
        raise FormatError(url, f"{values.name} units {units!r}: {since!r} is not a time") from exc
    return TIME_UNITS[unit.strip().lower()], origin


def _is_time(values) -> bool:
    return " since " in attr_text(values.attrs.get("units", ""))


@register
class XdasNetCDFFormat(HDF5Format):
    """Samples are read from each tie-pointed 2-D variable, in its dimension order."""

    name = "xdas-netcdf"
    description = "xdas NetCDF4/HDF5: a data array with tie-point (interpolated) time and distance coordinates"
    extensions = (".nc", ".h5")
    quantities = ("strain_rate", "strain", "velocity")
    tested_on = ("fibre/hdf5/xdas_netcdf.nc",)

    def write(self, chunk, url: str, **options) -> list[str]:
        """Write a Chunk as xdas NetCDF4 (``xdas.open_dataarray`` opens it); see
        :func:`raydas.formats.xdas_writer.write_netcdf`."""
        from .xdas_writer import write_netcdf

        return write_netcdf(chunk, url)

    def looks_like(self, h5) -> bool:
        return "_NCProperties" in h5.attrs and any(
            getattr(node, "ndim", 0) == 2 and ATTRIBUTE in node.attrs for node in h5.values()
        )

    def scan_hdf5(self, url: str, h5) -> list[RecordInfo]:
        records = []
        for name in sorted(h5):
            node = h5[name]
            if getattr(node, "ndim", 0) == 2 and ATTRIBUTE in node.attrs:
                records.extend(self._variable(url, h5, node))
        if not records:
            raise FormatError(url, f"NetCDF file has no 2-D variable with {ATTRIBUTE}")
        return records

    def _variable(self, url: str, h5, data) -> list[RecordInfo]:
        data = numeric_dataset(url, h5, data.name)
        check_stored(url, data)
        dims = [scale[0].name.rsplit("/", 1)[-1] if len(scale) else "" for scale in data.dims]
        ties = _tie_point_names(url, h5, attr_text(data.attrs[ATTRIBUTE]))
        if sorted(dims) != sorted(ties) or len(dims) != 2:
            raise FormatError(url, f"{data.name} has dimensions {dims} but tie points for {sorted(ties)}")
        points = {dim: _tie_points(url, h5, *ties[dim], data.shape[axis]) for axis, dim in enumerate(dims)}
        timed = [dim for dim in dims if _is_time(points[dim][1])]
        if len(timed) != 1:
            raise FormatError(url, f"{data.name}: {len(timed)} of its coordinates {dims} are times ('... since ...')")
        time_first = dims[0] == timed[0]
        n_time, n_chan = data.shape if time_first else data.shape[::-1]
        index, values = points[timed[0]]
        per_unit, origin = _time_origin(url, values)
        ties_ns = [int(round(v * per_unit)) if isinstance(v, float) else int(v) * per_unit for v in values[()].tolist()]
        # offsets from the first tie point in float64 (exact to well under 1 ns), the epoch added in int64:
        # adding it to a float64 array would round every stamp to 256 ns
        offsets = np.round(_interpolate(index, np.subtract(ties_ns, ties_ns[0]), n_time)).astype(np.int64)
        stamps = np.int64(ties_ns[0] + origin) + offsets
        index, values = points[dims[1] if time_first else dims[0]]
        unit = values.attrs.get("units")
        positions = _interpolate(index, np.asarray(values[()], dtype=np.float64), n_chan)
        if unit is not None and attr_text(unit):
            positions = positions * metres_per(url, unit, values.name)
        units = attr_text(data.attrs.get("units", ""))
        return [
            RecordInfo(
                path=url,
                format=self.name,
                n_channels=int(n_chan),
                n_samples=hi - lo,
                dt=dt,
                start_ns=start_ns,
                positions=positions,
                units=units,
                quantity=quantity_of(units),
                key=run_key(data.name, lo, hi, n_time),
                assumed=() if unit is not None and attr_text(unit) else ("positions",),
                attrs={"dataset": data.name, "time_first": time_first, "first_sample": lo, "dims": ",".join(dims)},
            )
            for lo, hi, start_ns, dt in time_runs(url, stamps.astype(np.int64), f"{data.name}'s {timed[0]} tie points")
        ]


__all__ = ["XdasNetCDFFormat"]
