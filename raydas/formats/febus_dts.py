"""Febus T1 Raman DTS HDF5: temperature profiles along the fibre, one every
integration cycle (seconds to minutes), each stamped.

Layout (``version`` 2, read by content):

* root attributes ``device`` = ``"DTS"``, ``measurement`` = ``"Temperature"``,
  ``device_name``, ``version``, ``version_soft``;
* ``/Data/Temperature`` ``(time, distance)`` float64, one row per reading,
  appended as they come; the unit is not stated (°C assumed);
* ``/Data/Time`` ``(time, 1)`` float64 epoch seconds (UTC): the stamp of each
  reading. They follow the instrument's cycle with jitter (320.846 to 320.881 s
  in one sample), so the record keeps them (:attr:`RecordInfo.times_ns`) and
  never claims a regular rate;
* ``/Data/Distance`` ``(distance,)`` float64 m: the position of each point;
* also raw ``Stokes``/``AntiStokes`` on their own ``DistanceSignal`` axis, the
  instrument's sensor temperatures and calibrations (not read as data);
* ``/Parameters``: acquisition settings as attributes (``integration_time``
  in s, ``fiber_effective_index``, ...).
"""

from __future__ import annotations

import numpy as np

from ..errors import FormatError
from . import register
from .base import RecordInfo, attr_number, attr_text, epoch_ns, reading_interval
from .hdf5 import HDF5Format, check_complete, check_stored, numeric_dataset

DATA, TIME, DISTANCE = "Data/Temperature", "Data/Time", "Data/Distance"


@register
class FebusDTSFormat(HDF5Format):
    """Samples are read from ``/Data/Temperature`` (time-major)."""

    name = "febus-dts"
    description = "Febus T1 DTS HDF5 (device DTS: /Data/Temperature, /Data/Time, /Data/Distance): temperature"
    extensions = (".h5",)
    quantity = "temperature"
    versions = ("2",)
    tested_on = ("fibre/dts/febus_dts.h5", "fibre/dts/febus_dts_1_C1_20250424_231747.h5")

    def looks_like(self, h5) -> bool:
        device = attr_text(h5.attrs.get("device", "")).upper()
        measurement = attr_text(h5.attrs.get("measurement", "")).lower()
        return (device == "DTS" or measurement == "temperature") and all(k in h5 for k in (DATA, TIME, DISTANCE))

    def scan_hdf5(self, url: str, h5) -> list[RecordInfo]:
        data = numeric_dataset(url, h5, DATA, axes="time, distance")
        check_stored(url, data)
        times = numeric_dataset(url, h5, TIME, ndim=(1, 2))
        distance = numeric_dataset(url, h5, DISTANCE, ndim=1)
        check_complete(url, times)
        check_complete(url, distance)
        n_time, n_chan = data.shape
        if times.shape[0] != n_time or (times.ndim == 2 and times.shape[1] != 1):
            raise FormatError(url, f"{TIME} has shape {times.shape}; {DATA} {data.shape} needs ({n_time}, 1)")
        if distance.shape[0] != n_chan:
            raise FormatError(url, f"{DISTANCE} has {distance.shape[0]} positions for {n_chan} columns of {DATA}")
        stamps = epoch_ns(url, times[()].reshape(-1), 1.0, TIME)
        params = h5.get("Parameters")
        cycle = params.attrs.get("integration_time") if params is not None else None
        dt = reading_interval(url, stamps, TIME, single=attr_number(cycle) if cycle is not None else None)
        positions = np.asarray(distance[()], dtype=np.float64)
        if not np.isfinite(positions).all() or (np.diff(positions) <= 0).any():
            raise FormatError(url, f"{DISTANCE} is not an increasing list of positions")
        return [
            RecordInfo(
                path=url,
                format=self.name,
                n_channels=int(n_chan),
                n_samples=int(n_time),
                dt=dt,
                start_ns=int(stamps[0]),
                positions=positions,
                units="°C",
                quantity="temperature",
                key=data.name,
                times_ns=stamps,
                assumed=("units",),  # the file says Temperature, not in which unit
                attrs={
                    "time_first": True,
                    "device_name": attr_text(h5.attrs.get("device_name", "")),
                    "version": attr_text(h5.attrs.get("version", "")),
                    "software": attr_text(h5.attrs.get("version_soft", "")),
                },
            )
        ]


__all__ = ["FebusDTSFormat"]
