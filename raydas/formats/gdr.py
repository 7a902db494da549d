"""Geothermal Data Repository (GDR) DAS HDF5, metadata standard "DAS-RCN"
(the OpenEI GDR's layout for DAS submissions, e.g. Brady Hot Springs).

Layout:

* ``/DasMetadata`` and its sub-groups ``Interrogator``, ``Interrogator/Acquisition``
  (``AcquisitionSampleRate`` Hz, ``SpatialSamplingInterval`` with
  ``SpatialSamplingIntervalUnit``, ``GaugeLength`` with ``GaugeLengthUnit``,
  ``NumberOfChannels``, ``UnitOfMeasure``) and ``Cable``, all as attributes;
  numbers are often stored as strings and a missing value as ``"NaN"``;
* ``/DasRawData/RawData``: 2-D samples, axis order in its ``DasDimensions``
  attribute (``["time step", "locus"]``);
* ``/DasRawData/DasTimeArray``: the time of every sample, ns since 1970 (UTC).

It is not PRODML (no ``/Acquisition``), although ``RawDataStandard`` may say so.
Times come from the time array (a record per regular run, split at gaps);
the channel spacing from ``SpatialSamplingInterval``. The first channel's
position is not stored: it is taken as 0 m (``assumed`` says ``positions``).
The unit is ``UnitOfMeasure`` where it is given; the sample files say ``NaN``.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import FormatError
from . import register
from .base import (
    RecordInfo,
    attr_lookup,
    attr_text,
    axis_order_from_names,
    metres_per,
    quantity_of,
    run_key,
    time_runs,
)
from .hdf5 import HDF5Format, check_complete, check_stored, numeric_dataset

ACQUISITION = "DasMetadata/Interrogator/Acquisition"
DATA = "DasRawData/RawData"
TIMES = "DasRawData/DasTimeArray"


def _stated(value) -> str:
    """An attribute's text, ``""`` for GDR's missing values (``"NaN"``, ``""``)."""
    text = attr_text(value) if value is not None else ""
    return "" if text.lower() in ("nan", "none", "n/a") else text


def _number(url: str, attrs, name: str) -> float | None:
    """A number GDR stores (often as a string), or None when it says NaN or is missing."""
    text = _stated(attrs.get(name))
    if not text:
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise FormatError(url, f"GDR {name} {text!r} is not a number") from exc
    return value if math.isfinite(value) else None


def _length(url: str, attrs, name: str) -> float | None:
    """A length in metres (its unit in ``<name>Unit``: ``meters``, ``feet``...), or None when not stated."""
    value = _number(url, attrs, name)
    unit = _stated(attrs.get(f"{name}Unit"))
    return None if value is None else value * (metres_per(url, unit, f"GDR {name}") if unit else 1.0)


@register
class GDRFormat(HDF5Format):
    """Samples are read from ``/DasRawData/RawData``, one regular run of its times per record."""

    name = "gdr-das"
    description = "Geothermal Data Repository DAS-HDF5, DAS-RCN metadata (/DasMetadata, /DasRawData)"
    extensions = (".h5", ".hdf5")
    quantities = ("strain_rate", "strain", "velocity")
    versions = ("DAS-RCN v1.10",)
    tested_on = ("fibre/hdf5/gdr_1.h5",)

    def looks_like(self, h5) -> bool:
        return ACQUISITION in h5 and DATA in h5 and TIMES in h5

    def scan_hdf5(self, url: str, h5) -> list[RecordInfo]:
        data = numeric_dataset(url, h5, DATA)
        check_stored(url, data)
        acq = h5[ACQUISITION].attrs
        n_declared = _number(url, acq, "NumberOfChannels")
        dims = attr_lookup(data.attrs, "DasDimensions", "Dimensions")
        time_first = axis_order_from_names(dims, url, int(n_declared) if n_declared is not None else None, data.shape)
        n_time, n_chan = data.shape if time_first else data.shape[::-1]
        times = numeric_dataset(url, h5, TIMES, ndim=1)
        check_complete(url, times)
        if times.shape[0] != n_time:
            raise FormatError(url, f"{TIMES} has {times.shape[0]} times for {n_time} samples")
        rate = _number(url, acq, "AcquisitionSampleRate")
        runs = time_runs(url, times[()], TIMES, dt=1.0 / rate if rate and rate > 0 else None)
        spacing = _length(url, acq, "SpatialSamplingInterval")
        if spacing is None or not spacing > 0:
            stated = acq.get("SpatialSamplingInterval")
            raise FormatError(url, f"GDR SpatialSamplingInterval {stated!r} is not a positive length")
        gauge = _length(url, acq, "GaugeLength")
        unit = _stated(acq.get("UnitOfMeasure"))
        meta = h5["DasMetadata"].attrs
        return [
            RecordInfo(
                path=url,
                format=self.name,
                n_channels=int(n_chan),
                n_samples=hi - lo,
                dt=dt,
                start_ns=start_ns,
                positions=np.arange(n_chan) * spacing,  # the first channel's position is not stored
                units=unit,
                quantity=quantity_of(unit),
                gauge_length=gauge if gauge is not None else float("nan"),
                key=run_key(data.name, lo, hi, n_time),
                assumed=("positions",),
                attrs={
                    "dataset": data.name,
                    "time_first": time_first,
                    "first_sample": lo,
                    "standard": _stated(meta.get("MetadataStandard")),
                    "doi": _stated(meta.get("DigitalObjectIdentifier")),
                    "interrogator": _stated(h5["DasMetadata/Interrogator"].attrs.get("InterrogatorManufacturer")),
                },
            )
            for lo, hi, start_ns, dt in runs
        ]


__all__ = ["GDRFormat"]
