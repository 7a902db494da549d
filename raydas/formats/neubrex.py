"""Neubrex NEUBRESCOPE DAS HDF5 (NBX-S4110 and kin): strain rate or strain.

Layout:

* one root data set ``/Acoustic``, 2-D ``(time, distance)`` float32, with all
  metadata as scalar attributes, the unit in the name or in a ``...Unit``
  attribute beside it;
* ``DataType`` (``"strain-rate"``) and ``DataPhysicalUnit``
  (``"micro-strain/second"``): what the samples measure;
* ``TimeSamplingInterval(seconds)`` (s; ``InterrogationRate(Hz)`` over the
  time decimation when absent); ``GPSTimeStamp(UTC)`` (the first sample, UTC,
  up to 7 decimals), else ``ISO8601TimeStamp`` (with its UTC offset), else
  the PC clock ``CPUTimeStamp(UTC)``;
* ``StartPosition``, ``StopPosition`` and ``SpatialSamplingInterval`` in the
  unit of ``StartStopPositionUnit`` / ``SpatialSamplingIntervalUnit`` (m);
  ``GaugeLength`` (``GaugeLengthUnit``);
* no time array: time is the start plus ``i`` times the interval.

The axis order is told by the position count, (stop - start) / spacing + 1.
Numbers stored as float32 are taken as the decimals they were written from
(0.001 s, not 0.0010000000474974513 s). Silixa's native files also have
``/Acoustic``, with other attribute names; this reader claims only files
with Neubrex's own keys.
"""

from __future__ import annotations

import numpy as np

from ..errors import FormatError
from ..timeutil import parse_iso
from . import register
from .base import RecordInfo, attr_lookup, attr_text, axis_order_from_names, decimal_number, metres_per, quantity_of
from .hdf5 import HDF5Format, check_stored, numeric_dataset

DATASET = "Acoustic"
MODEL = "NEUBRESCOPE.DAS.Model"
#: first-sample stamps, best first: GPS (UTC), ISO 8601 with offset, the PC clock (UTC)
STAMPS = ("GPSTimeStamp(UTC)", "ISO8601TimeStamp", "CPUTimeStamp(UTC)")


def _start_ns(url: str, attrs) -> tuple[int, str]:
    """The first sample's time (ns, UTC) and the attribute it came from."""
    for name in STAMPS:
        text = attr_text(attrs.get(name, ""))
        if text:
            try:
                return parse_iso(text), name
            except ValueError as exc:
                raise FormatError(url, f"Neubrex {name} {text!r} is not a time") from exc
    raise FormatError(url, f"Neubrex file has none of the start-time attributes {', '.join(STAMPS)}")


def _length(url: str, attrs, name: str, unit_name: str) -> float:
    """A length attribute in metres (its unit from ``unit_name``; metres when absent)."""
    if name not in attrs:
        raise FormatError(url, f"Neubrex file has no {name} attribute")
    value = decimal_number(attrs[name])
    unit = attrs.get(unit_name)
    return value * (metres_per(url, unit, name) if unit is not None else 1.0)


@register
class NeubrexDASFormat(HDF5Format):
    """Samples are read from ``/Acoustic`` in the axis order the scan found."""

    name = "neubrex-das"
    description = "Neubrex NEUBRESCOPE DAS HDF5 (/Acoustic with DataType, TimeSamplingInterval(seconds), ...)"
    extensions = (".h5", ".hdf5")
    quantities = ("strain_rate", "strain")
    tested_on = ("fibre/hdf5/neubrex_das_1.h5",)

    def looks_like(self, h5) -> bool:
        node = h5.get(DATASET)
        if node is None or not hasattr(node, "shape"):
            return False
        attrs = node.attrs
        return MODEL in attrs or all(k in attrs for k in ("DataType", "TimeSamplingInterval(seconds)"))

    def scan_hdf5(self, url: str, h5) -> list[RecordInfo]:
        data = numeric_dataset(url, h5, DATASET)
        check_stored(url, data)
        attrs = data.attrs
        dt = attr_lookup(attrs, "TimeSamplingInterval(seconds)")
        if dt is not None:
            dt = decimal_number(dt)
        else:
            rate = attr_lookup(attrs, "InterrogationRate(Hz)")
            if rate is None:
                raise FormatError(url, "Neubrex file has no TimeSamplingInterval(seconds) or InterrogationRate(Hz)")
            dt = (1 + decimal_number(attrs.get("TimeDecimationFilter", 0))) / decimal_number(rate)
        if not dt > 0:
            raise FormatError(url, f"Neubrex sample interval {dt!r} s is not positive")
        first = _length(url, attrs, "StartPosition", "StartStopPositionUnit")
        spacing = _length(url, attrs, "SpatialSamplingInterval", "SpatialSamplingIntervalUnit")
        if not spacing > 0:
            raise FormatError(url, f"Neubrex SpatialSamplingInterval {spacing!r} m is not positive")
        n_expected = None
        if "StopPosition" in attrs:
            stop = _length(url, attrs, "StopPosition", "StartStopPositionUnit")
            n_expected = int(round((stop - first) / spacing)) + 1
        time_first = axis_order_from_names(None, url, n_expected, data.shape)
        n_time, n_chan = data.shape if time_first else data.shape[::-1]
        start_ns, stamp = _start_ns(url, attrs)
        gauge = attrs.get("GaugeLength")
        gauge_unit = attrs.get("GaugeLengthUnit")
        return [
            RecordInfo(
                path=url,
                format=self.name,
                n_channels=int(n_chan),
                n_samples=int(n_time),
                dt=dt,
                start_ns=start_ns,
                positions=first + np.arange(n_chan) * spacing,
                units=attr_text(attrs.get("DataPhysicalUnit", "")),
                quantity=quantity_of(attrs.get("DataType"), attrs.get("DataPhysicalUnit")),
                gauge_length=(
                    decimal_number(gauge) * (metres_per(url, gauge_unit, "GaugeLength") if gauge_unit else 1.0)
                    if gauge is not None
                    else float("nan")
                ),
                key=data.name,
                attrs={
                    "time_first": time_first,
                    "start_from": stamp,
                    "model": attr_text(attrs.get(MODEL, "")),
                    "software": attr_text(attrs.get("SoftVersion", "")),
                    "data_type": attr_text(attrs.get("DataType", "")),
                },
            )
        ]


__all__ = ["NeubrexDASFormat"]
