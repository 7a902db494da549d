"""ASN OptoDAS HDF5 (``fileVersion`` 7-9 written by DASControl).

Layout:

* ``/fileVersion`` (scalar data set), ``/fileGenerator`` (``DASControl``);
* ``/data``: the samples, axis order in ``/header/dimensionNames``
  (``[time, distance]`` usually);
* ``/header/dt`` (sample interval, s), ``/header/dx`` (distance per channel
  index, m), ``/header/time`` (first sample, s since 1970, UTC),
  ``/header/channels`` (the channel indices stored, possibly decimated:
  position = index x dx), ``/header/gaugeLength`` (m), ``/header/unit``
  (``strain/s``, ``rad/(s m)``...), ``/header/dataScale``: multiply the stored
  numbers by it to get values in ``unit`` (applied when reading);
* many more scalar data sets (``acqSpec``, ``cableSpec``, ``demodSpec``,
  ``monitoring``...) that are not needed here.
"""

from __future__ import annotations

import numpy as np

from .. import plausible
from ..errors import FormatError
from . import register
from .base import RecordInfo, attr_number, attr_text, axis_order_from_names, checked, quantity_of
from .hdf5 import HDF5Format, dataset_value, numeric_dataset, required_dataset_number, stored_shape


@register
class OptoDASFormat(HDF5Format):
    name = "optodas"
    description = "ASN OptoDAS HDF5 (/data with /header/dt, /header/dx, /header/time)"
    extensions = (".hdf5", ".h5")
    quantities = ("strain_rate", "strain")
    versions = ("8",)
    tested_on = ("real/hdf5/decimated_optodas.hdf5",)

    def looks_like(self, h5) -> bool:
        return "data" in h5 and "header" in h5 and "header/dt" in h5 and "header/time" in h5

    def scan_hdf5(self, url: str, h5) -> list[RecordInfo]:
        data = numeric_dataset(url, h5, "data")
        dt = required_dataset_number(url, h5, "header/dt", "OptoDAS sample interval in s")
        dt = checked(url, plausible.sample_interval, dt, "OptoDAS header/dt")
        dx = required_dataset_number(url, h5, "header/dx", "OptoDAS channel spacing in m")
        dx = checked(url, plausible.spacing, dx, "OptoDAS header/dx")
        t0 = required_dataset_number(url, h5, "header/time", "OptoDAS start time in s since 1970")
        start_ns = checked(url, plausible.seconds_to_ns, t0, "OptoDAS header/time")
        names = h5["header/dimensionNames"][()] if "header/dimensionNames" in h5 else None
        time_first = axis_order_from_names(names, url)
        shape = stored_shape(url, data, 0 if time_first else 1)
        n_time, n_chan = shape if time_first else shape[::-1]
        if "header/channels" in h5:
            channels = numeric_dataset(url, h5, "header/channels", ndim=(0, 1, 2))
            stored_shape(url, channels, partial=False)
            channels = np.asarray(channels[()], dtype=np.float64).reshape(-1)
            if channels.shape[0] != n_chan:
                raise FormatError(url, f"OptoDAS header/channels lists {channels.shape[0]} channels; data has {n_chan}")
        else:
            channels = np.arange(n_chan, dtype=np.float64)
        scale = dataset_value(h5, "header/dataScale", 1.0)
        gauge = dataset_value(h5, "header/gaugeLength")
        return [
            RecordInfo(
                path=url,
                format=self.name,
                n_channels=int(n_chan),
                n_samples=int(n_time),
                dt=dt,
                start_ns=start_ns,
                positions=channels * dx,
                units=attr_text(dataset_value(h5, "header/unit", "")),
                quantity=quantity_of(dataset_value(h5, "header/unit")),
                gauge_length=attr_number(gauge) if gauge is not None else float("nan"),
                key=data.name,
                assumed=() if "header/channels" in h5 else ("positions",),  # else channels 0.. are assumed
                attrs={
                    "time_first": time_first,
                    "data_scale": attr_number(scale),
                    "file_version": attr_text(dataset_value(h5, "fileVersion", "")),
                    "name": attr_text(dataset_value(h5, "header/name", "")),
                },
            )
        ]

    def read_hdf5(self, h5, record: RecordInfo, start: int, stop: int, channels: slice) -> np.ndarray:
        """The stored numbers of the window times ``/header/dataScale`` (values in ``record.units``)."""
        block = super().read_hdf5(h5, record, start, stop, channels)
        scale = record.attrs.get("data_scale", 1.0)
        return block if scale == 1.0 else block * np.float32(scale)
