"""Terra15 Treble HDF5, file versions 4, 5 and 6.

Layout:

* root attributes: ``file_version`` (4, 5 or 6), ``data_product`` (e.g.
  ``velocity``), ``data_product_units`` (e.g. ``m/s``), ``dx`` (channel
  spacing, m), ``sensing_range_start`` (first channel, m), ``gauge_length``
  (m), ``pulse_rate`` (Hz), ``dt_computer`` (s), ``nt``/``nx``;
* the data group is ``/<data_product>`` in version 4 (``/velocity``...) and
  ``/data_product`` in versions 5 and 6. It holds ``data`` ``(time, channel)``
  float32 (attribute ``dT``, the sample interval in s), and per-sample times
  ``gps_time`` and ``posix_time`` in s since 1970 (UTC);
* files are written in frames of ``frame_size`` samples; frames allocated
  but never written (a recording stopped early) keep time 0. Only the
  samples before the first unwritten time are part of the record (found by a
  binary search: the scan reads a few time values, not the whole array).

Sampling: the sample interval is the data set's ``dT`` (the hardware
interval, a whole number of laser pulses: 5 / ``pulse_rate`` on the real
sample); the GPS time stamps jitter by tens of µs per frame, so the interval
derived from them is kept only for reference (``attrs["gps_dt"]``). The start
is the first GPS time.
"""

from __future__ import annotations

import math

import numpy as np

from .. import plausible
from ..errors import FormatError
from . import register
from .base import RecordInfo, attr_lookup, attr_number, attr_text, checked, quantity_of
from .hdf5 import HDF5Format, numeric_dataset, stored_shape

VERSIONS = (4, 5, 6)


def data_group_name(url: str, h5) -> str:
    """Name of the group holding ``data`` and the time arrays for this file version."""
    attrs = h5.attrs
    try:
        version = int(attr_number(attrs["file_version"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise FormatError(url, "Terra15 file has no readable 'file_version' attribute") from exc
    if version not in VERSIONS:
        raise FormatError(url, f"Terra15 file_version {version} is not supported (versions 4, 5 and 6 are)")
    if version == 4:
        name = attr_text(attrs.get("data_product", ""))
        if not name or name not in h5:
            raise FormatError(url, f"Terra15 v4 file has no group named by data_product ({name!r})")
        return name
    return "data_product"


def _written(value) -> bool:
    return bool(np.isfinite(value) and value > 0)


def _valid_samples(times, n: int) -> int:
    """Number of leading samples, of the first ``n`` (those the file stores),
    with a written (positive, finite) time.

    Unwritten frames are all at the end, so a binary search over single
    values finds the first one without reading the whole time array.
    """
    if n == 0 or _written(times[n - 1]):
        return n
    lo, hi = 0, n - 1  # times[hi] is unwritten; answer in [lo, hi]
    while lo < hi:
        mid = (lo + hi) // 2
        if _written(times[mid]):
            lo = mid + 1
        else:
            hi = mid
    return lo


@register
class Terra15Format(HDF5Format):
    """Samples are read from ``record.key``, ``(time, channel)``, up to the last written sample."""

    name = "terra15"
    description = "Terra15 Treble HDF5, file versions 4-6 (velocity, strain rate, ...)"
    extensions = (".hdf5", ".h5")
    quantities = ("velocity", "strain_rate", "strain")
    versions = tuple(str(v) for v in VERSIONS)
    tested_on = ("real/hdf5/terra15_v5_test_file.hdf5",)

    def looks_like(self, h5) -> bool:
        return "file_version" in h5.attrs and "data_product" in h5.attrs

    def scan_hdf5(self, url: str, h5) -> list[RecordInfo]:
        group = data_group_name(url, h5)
        data = numeric_dataset(url, h5, f"{group}/data")
        root = h5.attrs
        time_key = f"{group}/gps_time" if f"{group}/gps_time" in h5 else f"{group}/posix_time"
        times = numeric_dataset(url, h5, time_key, ndim=1)
        if times.shape[0] != data.shape[0]:
            raise FormatError(url, f"{times.name} has {times.shape[0]} times for {data.shape[0]} samples")
        stored = min(stored_shape(url, data)[0], stored_shape(url, times)[0])
        n_time = _valid_samples(times, stored)
        if n_time == 0:
            raise FormatError(url, f"Terra15 file holds no written samples ({times.name} starts at 0)")
        dt_attr = attr_lookup(data.attrs, "dT", default=attr_lookup(root, "dt_computer", "dt"))
        dt = attr_number(dt_attr) if dt_attr is not None else float("nan")
        t0, t_last = float(times[0]), float(times[n_time - 1])
        gps_dt = (t_last - t0) / (n_time - 1) if n_time > 1 else float("nan")
        if not (dt > 0 and math.isfinite(dt)):
            dt = gps_dt
        if not (dt > 0 and math.isfinite(dt)):
            raise FormatError(url, "Terra15 file gives no sample interval (no dT and fewer than 2 times)")
        dt = checked(url, plausible.sample_interval, dt, "Terra15 sample interval (dT)")
        try:
            spacing = attr_number(attr_lookup(data.attrs, "dx", default=root["dx"]))
        except KeyError as exc:
            raise FormatError(url, "Terra15 file has no 'dx' (channel spacing) attribute") from exc
        spacing = checked(url, plausible.spacing, spacing, "Terra15 dx")
        start_ns = checked(url, plausible.seconds_to_ns, t0, f"Terra15 first time ({times.name})")
        first = attr_number(root.get("sensing_range_start", 0.0))
        n_chan = data.shape[1]
        gauge = root.get("gauge_length")
        return [
            RecordInfo(
                path=url,
                format=self.name,
                n_channels=int(n_chan),
                n_samples=n_time,
                dt=float(dt),
                start_ns=start_ns,
                positions=first + np.arange(n_chan) * spacing,
                units=attr_text(root.get("data_product_units", "")),
                quantity=quantity_of(root.get("data_product"), root.get("data_product_units")),
                gauge_length=attr_number(gauge) if gauge is not None else float("nan"),
                key=data.name,
                attrs={
                    "file_version": int(attr_number(root["file_version"])),
                    "data_product": attr_text(root.get("data_product", "")),
                    "gps_dt": float(gps_dt),
                    "unwritten_samples": int(data.shape[0] - n_time),
                },
            )
        ]
