"""AP Sensing DAS HDF5 (Data Collector, ``FileVersion`` 10 and similar).

Layout:

* root attributes ``AppVersion`` (``APSensing DAS Data Collector ...``),
  ``FileVersion``;
* samples in the root data set ``/DAS`` as ``(time, channel)`` integers
  (``SCALED_DIFFERENTIAL_PHASE_32``: scaled differential phase, int32);
* metadata as 1-element data sets in groups: ``/ProcessingServer/DataRate``
  (sample rate, Hz), ``/ProcessingServer/SpatialSampling`` (channel spacing,
  m), ``/ProcessingServer/GaugeLength`` (m), ``/ProcessingServer/DataType``,
  ``/ProcessingServer/RadiansToNanoStrain``; ``/DAQ/PositionStart`` (first
  channel, m), ``/DAQ/SpatialPoints`` (channels); ``/Metadata/Timestamp``
  (first sample, ISO 8601 UTC), ``/Metadata/TraceCount`` (samples).

The samples are read as stored (the file gives a phase-to-strain factor,
kept in ``attrs``, but no physical unit of the stored integers), so ``units``
is ``""``.
"""

from __future__ import annotations

import numpy as np

from .. import plausible
from ..errors import FormatError
from ..timeutil import parse_iso
from . import register
from .base import RecordInfo, attr_number, attr_text, checked
from .hdf5 import HDF5Format, dataset_value, numeric_dataset, required_dataset_number, stored_shape

DATASET = "DAS"


@register
class APSensingFormat(HDF5Format):
    name = "apsensing"
    description = "AP Sensing DAS HDF5 (/DAS with /ProcessingServer, /DAQ, /Metadata)"
    extensions = (".hdf5", ".h5")
    versions = ("10",)
    tested_on = ("real/hdf5/ap_sensing_1.hdf5",)

    def looks_like(self, h5) -> bool:
        if DATASET not in h5:
            return False
        return "ProcessingServer" in h5 or "apsensing" in attr_text(h5.attrs.get("AppVersion", "")).lower().replace(
            " ", ""
        )

    def scan_hdf5(self, url: str, h5) -> list[RecordInfo]:
        data = numeric_dataset(url, h5, DATASET)
        rate = required_dataset_number(url, h5, "ProcessingServer/DataRate", "AP Sensing sample rate in Hz")
        rate = checked(url, plausible.sample_rate, rate, "AP Sensing ProcessingServer/DataRate")
        spacing = required_dataset_number(
            url, h5, "ProcessingServer/SpatialSampling", "AP Sensing channel spacing in m"
        )
        spacing = checked(url, plausible.spacing, spacing, "AP Sensing ProcessingServer/SpatialSampling")
        stamp = dataset_value(h5, "Metadata/Timestamp")
        if stamp is None:
            raise FormatError(url, "AP Sensing file has no Metadata/Timestamp (start time)")
        try:
            start_ns = parse_iso(attr_text(stamp))
        except ValueError as exc:
            raise FormatError(
                url, f"AP Sensing Metadata/Timestamp {attr_text(stamp)!r} is not an ISO 8601 time"
            ) from exc
        points = dataset_value(h5, "DAQ/SpatialPoints")
        traces = dataset_value(h5, "Metadata/TraceCount")
        # stored (time, channel) unless the channel or trace counts say the axes are swapped
        channel_major = (points is not None and data.shape[1] != int(points) and data.shape[0] == int(points)) or (
            traces is not None and data.shape[1] == int(traces) and data.shape[0] != int(traces)
        )
        time_first = not channel_major
        shape = stored_shape(url, data, 0 if time_first else 1)
        n_time, n_chan = shape if time_first else shape[::-1]
        first = attr_number(dataset_value(h5, "DAQ/PositionStart", 0.0))
        gauge = dataset_value(h5, "ProcessingServer/GaugeLength")
        factor = dataset_value(h5, "ProcessingServer/RadiansToNanoStrain")
        return [
            RecordInfo(
                path=url,
                format=self.name,
                n_channels=int(n_chan),
                n_samples=int(n_time),
                dt=1.0 / rate,
                start_ns=start_ns,
                positions=first + np.arange(n_chan) * spacing,
                units="",
                gauge_length=attr_number(gauge) if gauge is not None else float("nan"),
                key=data.name,
                attrs={
                    "time_first": time_first,
                    "data_type": attr_text(dataset_value(h5, "ProcessingServer/DataType", "")),
                    "radians_to_nanostrain": attr_number(factor) if factor is not None else None,
                    "file_version": attr_text(h5.attrs.get("FileVersion", "")),
                },
            )
        ]
