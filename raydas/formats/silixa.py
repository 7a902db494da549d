"""Silixa iDAS native HDF5 (iDAS acquisition software 2.x, not PRODML).

Layout:

* one root data set ``/Acoustic``, ``(time, channel)`` int16 counts;
* its attributes carry all metadata as **strings** (variable- or fixed-length),
  the unit in the name: ``SamplingFrequency[Hz]`` (sample rate, Hz),
  ``SpatialResolution[m]`` (channel spacing, m), ``StartPosition[m]`` (first
  channel before correction, m), ``Start Distance (m)`` (first channel, m),
  ``Fibre Length Multiplier`` (spacing correction), ``MeasureLength[m]``
  (fibre length covered, m),
  ``GaugeLength`` (m), ``ISO8601 Timestamp`` (first sample, with its UTC
  offset) and ``GPSTimeStamp`` (``dd/mm/yyyy HH:MM:SS.fff (UTC)``);
* no time array: time is the start stamp plus ``i / SamplingFrequency``.

Attribute names are matched ignoring case, spaces and punctuation
(``Sampling Frequency (Hz)`` works too), and numbers may be stored as numbers.
The samples are the interrogator's differential-phase counts; the file names no
physical unit, so ``units`` is ``""`` and the ``Acoustic Output`` setting is kept
in ``attrs``.
"""

from __future__ import annotations

import datetime as _dt

import numpy as np

from .. import plausible
from ..errors import FormatError
from ..timeutil import parse_iso
from . import register
from .base import RecordInfo, attr_lookup, attr_number, attr_text, axis_order_from_names, checked, required_number
from .hdf5 import HDF5Format, numeric_dataset, stored_shape

DATASET = "Acoustic"
RATE = ("SamplingFrequency[Hz]", "SamplingFrequency", "SampleRate")
SPACING = ("SpatialResolution[m]", "SpatialSampling[m]", "SpatialResolution")


def _gps_stamp(text: str) -> int:
    """``"22/09/2023 18:29:26.158 (UTC)"`` -> ns since epoch (UTC)."""
    body = text.replace("(UTC)", "").strip()
    day, clock = body.split(" ", 1)
    stamp = _dt.datetime.strptime(day, "%d/%m/%Y").date().isoformat()
    return parse_iso(f"{stamp}T{clock.strip()}+00:00")


def start_time_ns(url: str, attrs) -> int:
    """First-sample time of an iDAS native file in ns (UTC), from the ISO 8601
    stamp (its offset honoured) or else the GPS stamp."""
    iso = attr_lookup(attrs, "ISO8601 Timestamp", "ISO8601Timestamp")
    gps = attr_lookup(attrs, "GPSTimeStamp")
    try:
        if iso is not None and attr_text(iso):
            return parse_iso(attr_text(iso))
        if gps is not None and attr_text(gps):
            return _gps_stamp(attr_text(gps))
    except ValueError as exc:
        raise FormatError(url, f"Silixa start time cannot be parsed ({exc})") from exc
    raise FormatError(url, "Silixa file has no 'ISO8601 Timestamp' or 'GPSTimeStamp' attribute")


def spacing_stated(attrs) -> bool:
    """True when Silixa iDAS metadata ``attrs`` state the channel spacing (else
    :func:`idas_positions` assumes its default)."""
    return attr_lookup(attrs, *SPACING) is not None


def idas_positions(url: str, attrs, n_channels: int, default_spacing: float | None = None) -> np.ndarray:
    """Channel positions (m along the fibre) from Silixa iDAS metadata, native
    HDF5 and TDMS alike: ``Start Distance (m)`` (else ``Zero Offset (m)``, else
    ``StartPosition[m]``) + i x ``SpatialResolution[m]`` x ``Fibre Length
    Multiplier``. On the real files the last position then equals ``Stop
    Distance (m)``. Without a spacing attribute, ``default_spacing`` (m) is
    used, or a FormatError raised when it is ``None``."""
    spacing = _number(url, attrs, SPACING, "channel spacing", default=default_spacing)
    multiplier = _number(url, attrs, ("Fibre Length Multiplier",), "fibre length multiplier", default=1.0)
    origin = _number(
        url, attrs, ("Start Distance (m)", "Zero Offset (m)", "StartPosition[m]"), "start distance", default=0.0
    )
    return origin + np.arange(n_channels) * spacing * multiplier


def _number(url: str, attrs, names: tuple[str, ...], what: str, default=None) -> float:
    value = attr_lookup(attrs, *names)
    if value is None and default is not None:
        return default
    return required_number(url, value, f"Silixa {what} attribute ({names[0]!r})")


@register
class SilixaH5Format(HDF5Format):
    name = "silixa-h5"
    description = "Silixa iDAS native HDF5 (/Acoustic with string attributes)"
    extensions = (".h5", ".hdf5")
    versions = ("iDAS 2.x",)
    tested_on = ("real/hdf5/silixa_h5_1.hdf5",)

    def looks_like(self, h5) -> bool:
        return DATASET in h5 and attr_lookup(h5[DATASET].attrs, *RATE) is not None

    def scan_hdf5(self, url: str, h5) -> list[RecordInfo]:
        data = numeric_dataset(url, h5, DATASET)
        attrs = data.attrs
        rate = checked(url, plausible.sample_rate, _number(url, attrs, RATE, "sample rate"), "Silixa SamplingFrequency")
        spacing = checked(url, plausible.spacing, _number(url, attrs, SPACING, "channel spacing"), "Silixa spacing")
        length = attr_lookup(attrs, "MeasureLength[m]")
        n_expected = int(round(attr_number(length) / spacing)) if length is not None and spacing else None
        time_first = axis_order_from_names(attr_lookup(attrs, "Dimensions"), url, n_expected, data.shape)
        shape = stored_shape(url, data, 0 if time_first else 1)
        n_time, n_chan = shape if time_first else shape[::-1]
        gauge = attr_lookup(attrs, "GaugeLength", "GaugeLength[m]")
        return [
            RecordInfo(
                path=url,
                format=self.name,
                n_channels=int(n_chan),
                n_samples=int(n_time),
                dt=1.0 / rate,
                start_ns=start_time_ns(url, attrs),
                positions=idas_positions(url, attrs, n_chan),
                units="",
                gauge_length=attr_number(gauge) if gauge is not None else float("nan"),
                key=data.name,
                attrs={
                    "time_first": time_first,
                    "version": attr_text(attr_lookup(attrs, "iDASVersion", default="")),
                    "acoustic_output": attr_text(attr_lookup(attrs, "Acoustic Output", default="")),
                },
            )
        ]


__all__ = ["SilixaH5Format", "idas_positions", "start_time_ns"]
