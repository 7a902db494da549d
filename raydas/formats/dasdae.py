"""DASDAE HDF5, version 1: the format DASCore writes its patches in (through PyTables).

Layout:

* root attributes ``__format__`` = ``"DASDAE"`` and ``__DASDAE_version__`` (``"1"``);
* ``/waveforms/<patch>``: one group per patch (the name packs station, tag,
  start and end), with attributes ``_dims`` (``"time,distance"`` or
  ``"distance,time"``: the axis order of ``data``), ``_attrs_<name>`` (the
  patch's attributes: ``data_type`` ``"velocity"``, ``data_units`` ``"m / s"``,
  ``gauge_length``...) and ``_cdims_<coord>``;
* ``<patch>/data``: the 2-D samples, in the order ``_dims`` says;
* ``<patch>/_coord_<dim>``: each coordinate's values; the time one is int64
  ns since 1970 (UTC) with attribute ``is_datetime64`` = 1; the distance one in
  the unit of its ``units`` attribute (or ``_attrs_<dim>_units``), metres
  where neither is stored.

The pickled ``_attrs_coords`` summary some files carry is never unpickled (it
may run code); everything in it is in the data sets above. Each patch gives
one record per regular run of its times (split at gaps). Without a stored
distance unit, positions are taken as metres and ``assumed`` says ``positions``.
"""

from __future__ import annotations

import numpy as np

from ..errors import FormatError
from . import register
from .base import RecordInfo, attr_number, attr_text, metres_per, quantity_of, run_key, time_runs
from .hdf5 import HDF5Format, check_complete, check_stored, numeric_dataset

FORMAT_NAME = "DASDAE"
VERSIONS = ("1",)


def _coordinate(url: str, group, dim: str, length: int) -> np.ndarray:
    """The 1-D coordinate data set ``_coord_<dim>`` of a patch, checked against its axis length."""
    coord = numeric_dataset(url, group, f"_coord_{dim}", ndim=1)
    check_complete(url, coord)
    if coord.shape[0] != length:
        raise FormatError(url, f"{coord.name} has {coord.shape[0]} values for an axis of {length}")
    return coord


@register
class DASDAEFormat(HDF5Format):
    """Samples are read from each patch's ``data``, in the axis order of its ``_dims``."""

    name = "dasdae"
    description = "DASDAE HDF5 v1, DASCore's format (/waveforms/<patch>/data + _coord_<dim>; pickles never read)"
    extensions = (".h5", ".hdf5")
    quantities = ("strain_rate", "strain", "velocity")
    versions = VERSIONS
    tested_on = ("fibre/hdf5/deformation_rate_event_1.hdf5", "fibre/hdf5/dispersion_event.h5")

    def write(self, chunk, url: str, data_type: str = "", **options) -> list[str]:
        """Write a Chunk as DASDAE v1 (DASCore opens it); see
        :func:`raydas.formats.dasdae_writer.write_dasdae`."""
        from .dasdae_writer import write_dasdae

        return write_dasdae(chunk, url, data_type)

    def looks_like(self, h5) -> bool:
        return attr_text(h5.attrs.get("__format__", "")) == FORMAT_NAME and "waveforms" in h5

    def scan_hdf5(self, url: str, h5) -> list[RecordInfo]:
        import h5py

        version = attr_text(h5.attrs.get("__DASDAE_version__", ""))
        if version not in VERSIONS:
            raise FormatError(url, f"DASDAE version {version!r} is not supported (version {', '.join(VERSIONS)} is)")
        records = []
        for name in sorted(h5["waveforms"]):
            group = h5["waveforms"][name]
            if isinstance(group, h5py.Group):
                records.extend(self._patch(url, group))
        if not records:
            raise FormatError(url, "DASDAE file has no patch in /waveforms")
        return records

    def _patch(self, url: str, group) -> list[RecordInfo]:
        """The records of one patch group: its regular runs of time."""
        dims = [d.strip() for d in attr_text(group.attrs.get("_dims", "")).split(",") if d.strip()]
        if len(dims) != 2 or "time" not in dims:
            raise FormatError(url, f"DASDAE patch {group.name} has dims {dims}; raydas reads (time, distance) patches")
        time_first = dims[0] == "time"
        axis = dims[1] if time_first else dims[0]
        data = numeric_dataset(url, group, "data", axes=", ".join(dims))
        check_stored(url, data)
        n_time, n_chan = data.shape if time_first else data.shape[::-1]
        times = _coordinate(url, group, "time", n_time)
        if not times.attrs.get("is_datetime64", 0) or times.dtype.kind not in "iu":
            raise FormatError(url, f"{times.name} is not a datetime64 coordinate (ns since 1970): no absolute time")
        assumed = ()
        if f"_coord_{axis}" in group:
            coord = _coordinate(url, group, axis, n_chan)
            unit = coord.attrs.get("units", group.attrs.get(f"_attrs_{axis}_units"))
            positions = np.asarray(coord[()], dtype=np.float64)
            if unit is not None and attr_text(unit):
                positions = positions * metres_per(url, unit, coord.name)
            else:
                assumed = ("positions",)  # values read; their unit (in the pickle) taken as metres
        else:
            positions, assumed = np.arange(n_chan, dtype=np.float64), ("positions",)
        a = group.attrs
        units = attr_text(a.get("_attrs_data_units", ""))
        gauge = _gauge(a.get("_attrs_gauge_length"))
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
                quantity=quantity_of(a.get("_attrs_data_type"), units),
                gauge_length=gauge,
                key=run_key(data.name, lo, hi, n_time),
                assumed=assumed,
                attrs={
                    "dataset": data.name,
                    "time_first": time_first,
                    "first_sample": lo,
                    "dims": ",".join(dims),
                    "instrument_id": attr_text(a.get("_attrs_instrument_id", "")),
                    "data_type": attr_text(a.get("_attrs_data_type", "")),
                },
            )
            for lo, hi, start_ns, dt in time_runs(url, times[()], times.name)
        ]


def _gauge(value) -> float:
    """The gauge length (m), NaN when missing or not a number (DASCore writes NaN as b'N.')."""
    try:
        return attr_number(value) if value is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")


__all__ = ["DASDAEFormat"]
