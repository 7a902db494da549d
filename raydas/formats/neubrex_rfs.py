"""Neubrex RFS (Rayleigh frequency shift) HDF5: strain (DSS) or temperature
(DTS) profiles along a well or cable, a few readings hours or days apart.

Layout (read by content):

* root data set ``data`` ``(time, depth)`` float32, with attributes
  ``DataUnitLabel`` (``"micro-strain"``), ``StartDateTime``/``EndDateTime``
  (local time), ``TimeZoneFormat`` (``"-06:00"``) and well names;
* ``depth`` ``(depth,)`` float32: measured depth of each point, not exactly
  evenly spaced (kept as it is; metres assumed, no unit is stored);
* ``stamps_unix`` ``(time,)`` float64, microseconds since 1970 (UTC), and/or
  ``stamps`` ``(time,)`` text ``MM/DD/YYYY hh:mm:ss.ffffff`` in local time
  (``TimeZoneFormat`` gives the offset): the stamp of each reading. Readings
  are irregular (370 s apart, then five days), so the record keeps them
  (:attr:`RecordInfo.times_ns`).

Invalid points hold the value -229526.08 (float32), which Neubrex writes
where the measurement failed (deep below the fibre's usable end) and does not
declare as a fill value: raydas reads it as NaN, and ``attrs["nan_for"]`` says so.
"""

from __future__ import annotations

import datetime as _dt

import numpy as np

from ..errors import FormatError
from . import register
from .base import RecordInfo, attr_text, epoch_ns, quantity_of, reading_interval
from .hdf5 import HDF5Format, check_complete, check_stored, numeric_dataset, read_window

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
#: Neubrex's marker of an invalid point (float32 bits 0xC8602585)
INVALID = np.float32(-229526.08)


def _local_stamps(url: str, texts, offset: str) -> np.ndarray:
    """``MM/DD/YYYY hh:mm:ss.ffffff`` local times at UTC ``offset`` (``"-06:00"``) as ns (UTC)."""
    try:
        sign = -1 if offset.strip().startswith("-") else 1
        hours, minutes = offset.strip().lstrip("+-").split(":")
        zone = _dt.timezone(sign * _dt.timedelta(hours=int(hours), minutes=int(minutes)))
        out = []
        for text in texts:
            t = _dt.datetime.strptime(attr_text(text), "%m/%d/%Y %H:%M:%S.%f").replace(tzinfo=zone)
            out.append((t - _EPOCH) // _dt.timedelta(microseconds=1) * 1000)
    except ValueError as exc:
        raise FormatError(
            url, f"Neubrex stamps are not MM/DD/YYYY hh:mm:ss.ffffff at offset {offset!r} ({exc})"
        ) from None
    return np.asarray(out, dtype=np.int64)


@register
class NeubrexRFSFormat(HDF5Format):
    """Samples are read from ``/data`` (time-major), invalid points as NaN."""

    name = "neubrex-rfs"
    description = "Neubrex RFS HDF5 (root data, depth, stamps_unix/stamps): strain (DSS) or temperature profiles"
    extensions = (".h5",)
    quantities = ("strain", "temperature")
    tested_on = ("fibre/dss/neubrex_dss_forge.h5",)

    def looks_like(self, h5) -> bool:
        data, depth = h5.get("data"), h5.get("depth")
        stamps = h5.get("stamps_unix", h5.get("stamps"))
        if not all(hasattr(n, "shape") for n in (data, depth, stamps)):
            return False
        return len(data.shape) == 2 and depth.shape == data.shape[1:] and stamps.shape == data.shape[:1]

    def scan_hdf5(self, url: str, h5) -> list[RecordInfo]:
        data = numeric_dataset(url, h5, "data", axes="time, depth")
        check_stored(url, data)
        n_time, n_chan = data.shape
        depth = numeric_dataset(url, h5, "depth", ndim=1)
        check_complete(url, depth)
        if depth.shape[0] != n_chan:
            raise FormatError(url, f"depth has {depth.shape[0]} points for {n_chan} columns of data")
        if "stamps_unix" in h5:
            unix = numeric_dataset(url, h5, "stamps_unix", ndim=1)
            check_complete(url, unix)
            stamps, source = epoch_ns(url, unix[()], 1e-6, "stamps_unix"), "stamps_unix"
        else:
            if h5["stamps"].shape != (n_time,):
                raise FormatError(url, f"stamps has shape {h5['stamps'].shape}; data {data.shape} needs ({n_time},)")
            check_complete(url, h5["stamps"])
            stamps = _local_stamps(url, h5["stamps"][()], attr_text(data.attrs.get("TimeZoneFormat", "+00:00")))
            source = "stamps"
        if stamps.shape[0] != n_time:
            raise FormatError(url, f"{source} has {stamps.shape[0]} stamps for {n_time} rows of data")
        positions = np.asarray(depth[()], dtype=np.float64)
        if not np.isfinite(positions).all() or (np.diff(positions) <= 0).any():
            raise FormatError(url, "depth is not an increasing list of positions")
        unit = attr_text(data.attrs.get("DataUnitLabel", ""))
        return [
            RecordInfo(
                path=url,
                format=self.name,
                n_channels=int(n_chan),
                n_samples=int(n_time),
                dt=reading_interval(url, stamps, source),
                start_ns=int(stamps[0]),
                positions=positions,
                units=unit,
                quantity=quantity_of(unit),
                key=data.name,
                times_ns=stamps,
                assumed=("positions",),  # depth is stored without a unit: metres assumed
                attrs={
                    "time_first": True,
                    "time_from": source,
                    "nan_for": float(INVALID),
                    "well": attr_text(data.attrs.get("WellName", "")),
                },
            )
        ]

    def read_hdf5(self, h5, record: RecordInfo, start: int, stop: int, channels: slice) -> np.ndarray:
        data = numeric_dataset(record.path, h5, record.key)
        out = read_window(data, True, start, min(stop, record.n_samples), channels)
        out[out == INVALID] = np.nan
        return out


__all__ = ["NeubrexRFSFormat"]
