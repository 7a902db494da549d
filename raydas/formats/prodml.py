"""PRODML v2.0 / v2.1 HDF5 raw DAS data (Silixa iDAS, OptaSense, and others).

Layout (from the Energistics PRODML DAS schema):

* ``/Acquisition`` attributes: ``MeasurementStartTime`` (ISO 8601),
  ``SpatialSamplingInterval`` (m), ``StartLocusIndex``, ``NumberOfLoci``,
  ``GaugeLength``, ``PulseRate``, ``schemaVersion``. v2.0 spells units
  ``<Name>Unit`` where v2.1 spells them ``<Name>.uom``; lengths given in feet
  (or cm, mm, km) are converted to metres.
* ``/Acquisition/Raw[N]`` attributes ``OutputDataRate`` (Hz), ``RawDataUnit``,
  and its own ``StartLocusIndex`` / ``NumberOfLoci`` for the loci it holds.
* ``/Acquisition/Raw[N]/RawData``: 2-D samples whose ``Dimensions`` attribute
  says the axis order (``time, locus`` usually; ``locus, time`` accepted).
* ``/Acquisition/Raw[N]/RawDataTime``: time of every sample in microseconds
  since 1970 (UTC).
* Processed frequency-band energies (OptaSense and others):
  ``/Acquisition/Processed/Fbe[N]`` attributes ``OutputDataRate`` (Hz),
  ``FbeDataUnit`` (``rad2/Hz``...), ``StartLocusIndex``/``NumberOfLoci``;
  ``FbeData[M]`` one 2-D data set per band (attributes ``StartFrequency``,
  ``EndFrequency`` in Hz, ``Dimensions``) and ``FbeDataTime`` (µs since 1970).
  Each band is a record of its own ``stream``, read as band energies, never as
  raw samples. A file may hold FBE only (no ``RawData``).

Only the requested window of a data set is read (an HDF5 hyperslab).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import FormatError
from ..timeutil import parse_iso
from . import register
from .base import RecordInfo, attr_lookup, axis_order_from_names
from .base import attr_number as number
from .base import attr_text as text
from .hdf5 import HDF5Format, numeric_dataset


def _raw_nodes(h5) -> list[str]:
    acq = h5.get("Acquisition")
    if acq is None:
        return []
    return sorted(name for name in acq if name.lower().startswith("raw[") and "RawData" in acq[name])


#: length units PRODML files use, in metres
_LENGTH_UNITS = {"m": 1.0, "ft": 0.3048, "cm": 0.01, "mm": 0.001, "km": 1000.0, "usft": 1200 / 3937}


def _metres(url: str, attrs, name: str, default: float = float("nan")) -> float:
    """A length attribute in metres, converted from its unit: ``<name>.uom``
    (v2.1) or ``<name>Unit`` (v2.0); metres when neither is given."""
    value = attr_lookup(attrs, name)
    if value is None:
        return default
    unit = attr_lookup(attrs, f"{name}.uom", f"{name}Unit", f"{name}.Uom")
    if unit is None:
        return number(value)
    key = text(unit).lower().replace(" ", "").replace("[", "").replace("]", "")
    if key not in _LENGTH_UNITS:
        raise FormatError(url, f"{name} is in unit {text(unit)!r}; raydas knows {', '.join(_LENGTH_UNITS)}")
    return number(value) * _LENGTH_UNITS[key]


def _fbe_nodes(h5) -> list:
    """The ``/Acquisition/Processed/Fbe[N]`` groups (frequency-band energies)."""
    processed = h5.get("Acquisition/Processed")
    if processed is None:
        return []
    return [processed[k] for k in sorted(processed, key=_index) if k.lower().startswith("fbe[")]


def _index(name: str) -> int:
    """N of ``Name[N]`` (for numeric order: FbeData[10] after FbeData[9])."""
    try:
        return int(name.rsplit("[", 1)[1].rstrip("]"))
    except (IndexError, ValueError):
        return 0


def _timing(url: str, group, times, data, acq_attrs) -> tuple[int, float]:
    """``(start_ns, dt)`` of a Raw or Fbe group: times (µs since 1970, UTC) in
    its time array when present, else the data set's ``PartStartTime`` or the
    acquisition's ``MeasurementStartTime``; the interval from the time array,
    unless ``OutputDataRate`` (Hz) disagrees by more than 0.1 %."""
    rate = attr_lookup(group.attrs, "OutputDataRate")
    start_ns = None
    dt = None
    if times is not None and times.shape and times.shape[0] > 0:
        first = int(times[0])
        start_ns = first * 1000  # microseconds -> ns
        if times.shape[0] > 1:
            last = int(times[times.shape[0] - 1])
            dt = (last - first) * 1e-6 / (times.shape[0] - 1)
    if rate is not None and number(rate) > 0:
        rate_dt = 1.0 / number(rate)
        if dt is None or not math.isclose(dt, rate_dt, rel_tol=1e-3):
            dt = rate_dt if dt is None or dt <= 0 else dt
    if start_ns is None:
        stamp = attr_lookup(data.attrs, "PartStartTime", default=attr_lookup(acq_attrs, "MeasurementStartTime"))
        if stamp is None:
            raise FormatError(url, f"{group.name} has no time array and no start time attribute")
        try:
            start_ns = parse_iso(text(stamp))
        except ValueError as exc:
            raise FormatError(url, f"{group.name}: start time {text(stamp)!r} is not ISO 8601") from exc
    if dt is None or not dt > 0:
        raise FormatError(url, f"{group.name}: cannot tell the sample rate (no OutputDataRate, <2 times)")
    return start_ns, dt


@register
class ProdmlFormat(HDF5Format):
    name = "prodml"
    description = "PRODML v2.0/v2.1 HDF5: raw data (/Acquisition/Raw[N]/RawData) and band energies (Processed/Fbe[N])"
    extensions = (".h5", ".hdf5", ".prodml")

    def write(self, chunk, url: str, **options) -> list[str]:
        """Write a Chunk as PRODML v2.1 HDF5; see :func:`write_prodml`."""
        return write_prodml(chunk, url)

    def looks_like(self, h5) -> bool:
        if "Acquisition" not in h5:
            return False
        attrs = h5["Acquisition"].attrs
        return any(k in attrs for k in ("NumberOfLoci", "SpatialSamplingInterval", "schemaVersion"))

    def scan_hdf5(self, url: str, h5) -> list[RecordInfo]:
        acq = h5["Acquisition"]
        records = [self._raw_record(url, acq, name) for name in _raw_nodes(h5)]
        for fbe in _fbe_nodes(h5):
            records.extend(self._fbe_records(url, acq, fbe))
        if not records:
            raise FormatError(
                url,
                "PRODML file has no /Acquisition/Raw[N]/RawData and no "
                "/Acquisition/Processed/Fbe[N]/FbeData[M] data set (no samples)",
            )
        return records

    def _raw_record(self, url: str, acq, name: str) -> RecordInfo:
        """The record of ``/Acquisition/Raw[N]/RawData``: its loci from ``Raw[N]``
        (else the acquisition's) attributes."""
        raw = acq[name]
        a, r = acq.attrs, raw.attrs
        return self._record(
            url,
            acq,
            raw,
            numeric_dataset(url, raw, "RawData"),
            raw.get("RawDataTime"),
            n_loci=attr_lookup(r, "NumberOfLoci", default=attr_lookup(a, "NumberOfLoci")),
            start_locus=number(attr_lookup(r, "StartLocusIndex", default=attr_lookup(a, "StartLocusIndex", default=0))),
            step=_metres(url, a, "SpatialSamplingInterval", default=1.0),
            units=text(attr_lookup(r, "RawDataUnit", default="")),
            attrs={
                "schema_version": text(
                    attr_lookup(a, "schemaVersion", default=attr_lookup(acq.file.attrs, "schemaVersion", default=""))
                ),
                "description": text(attr_lookup(r, "RawDescription", default="")),
            },
        )

    def _fbe_records(self, url: str, acq, fbe) -> list[RecordInfo]:
        """One record per frequency band of a processed ``Fbe[N]`` group; each
        band is its own ``stream`` (``"Fbe[0] 9.28-50.3 Hz"``) so bands are
        never joined in time with one another."""
        f = fbe.attrs
        spacing_attrs = f if "SpatialSamplingInterval" in f else acq.attrs
        step = _metres(url, spacing_attrs, "SpatialSamplingInterval", default=1.0)
        group = fbe.name.rsplit("/", 1)[1]
        records = []
        for name in sorted((k for k in fbe if k.lower().startswith("fbedata[")), key=_index):
            data = numeric_dataset(url, fbe, name)
            lo, hi = attr_lookup(data.attrs, "StartFrequency"), attr_lookup(data.attrs, "EndFrequency")
            band = (number(lo), number(hi)) if lo is not None and hi is not None else None
            records.append(
                self._record(
                    url,
                    acq,
                    fbe,
                    data,
                    fbe.get("FbeDataTime"),
                    n_loci=attr_lookup(f, "NumberOfLoci"),
                    start_locus=number(attr_lookup(f, "StartLocusIndex", default=0)),
                    step=step,
                    units=text(attr_lookup(f, "FbeDataUnit", default="")),
                    stream=f"{group} {band[0]:.4g}-{band[1]:.4g} Hz" if band else f"{group}/{name}",
                    attrs={
                        "kind": "fbe",
                        "band_hz": list(band) if band else None,
                        "window_size": int(number(f["WindowSize"])) if "WindowSize" in f else None,
                    },
                )
            )
        return records

    def _record(
        self, url, acq, group, data, times, *, n_loci, start_locus, step, units, attrs, stream=""
    ) -> RecordInfo:
        """The record of one 2-D data set ``data`` of a Raw or Fbe ``group``:
        axis order from its ``Dimensions`` (else the locus count ``n_loci``),
        timing from ``times`` (µs since 1970) or the start-time attributes,
        position of locus i ``(start_locus + i) * step`` (m)."""
        n_loci = int(number(n_loci)) if n_loci is not None else None
        time_first = axis_order_from_names(data.attrs.get("Dimensions"), url, n_loci, data.shape)
        n_time, n_channels = data.shape if time_first else data.shape[::-1]
        start_ns, dt = _timing(url, group, times, data, acq.attrs)
        return RecordInfo(
            path=url,
            format=self.name,
            n_channels=int(n_channels),
            n_samples=int(n_time),
            dt=float(dt),
            start_ns=int(start_ns),
            positions=(start_locus + np.arange(n_channels)) * step,
            units=units,
            gauge_length=_metres(url, acq.attrs, "GaugeLength"),
            key=data.name,
            stream=stream,
            attrs={
                "dimensions": "time,locus" if time_first else "locus,time",
                "vendor": text(attr_lookup(acq.attrs, "ServiceCompanyName", "VendorCode", default="")),
                **attrs,
            },
        )

    def time_first(self, record: RecordInfo) -> bool:
        return record.attrs.get("dimensions") != "locus,time"


# --- writing ------------------------------------------------------------------------
def prodml_bytes(patch, source: str = "") -> bytes:
    """The content of a PRODML v2.1 HDF5 file holding ``patch`` as raw data.

    ``/Acquisition/Raw[0]/RawData`` holds the samples as ``(time, locus)`` in their
    own dtype (float32 from the pipeline) and ``RawDataTime`` the time of every
    sample in microseconds since 1970 (UTC), with ``PartStartTime`` /
    ``PartEndTime`` (ISO 8601, UTC) on both. ``/Acquisition`` carries what
    readers look for (``schemaVersion`` "2.1", ``uuid`` and ``AcquisitionId``,
    ``NumberOfLoci``, ``StartLocusIndex``, ``SpatialSamplingInterval`` in m,
    ``GaugeLength`` in m, ``PulseRate`` in Hz, ``PulseWidth`` in ns). raydas does
    not know the interrogator's pulse rate and width: ``PulseRate`` is the output
    data rate and ``PulseWidth`` NaN. Positions are written as PRODML defines them,
    ``(StartLocusIndex + i) * SpatialSamplingInterval``, so they are rounded to
    that grid. The same patch always gives the same bytes (the uuid is made from
    the content's description), so a chunk written again is byte-identical.

    Parameters
    ----------
    patch
        The checked samples and coordinates (:func:`raydas.formats.writecheck.checked_patch`).
    source
        Where the samples came from (kept in ``AcquisitionDescription``).
    """
    import io
    import uuid

    import h5py

    from ..timeutil import to_iso

    data = patch.data
    n_loci, n_time = data.shape
    positions = patch.positions
    step = float(np.median(np.diff(positions))) if n_loci > 1 else 1.0
    start_locus = int(round(positions[0] / step)) if step else 0
    times_us = patch.times_ns // 1000
    first, last = to_iso(int(patch.times_ns[0])), to_iso(int(patch.times_ns[-1]))
    rate = 1.0 / patch.dt
    ident = str(uuid.uuid5(uuid.NAMESPACE_URL, f"raydas:prodml:{source}:{first}:{n_loci}x{n_time}:{rate!r}:{step!r}"))
    ascii_attr = lambda v: np.bytes_(str(v))  # noqa: E731  (PRODML strings are fixed-length byte strings)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        h5.attrs["schemaVersion"] = ascii_attr("2.1")
        acq = h5.create_group("Acquisition")
        for key, value in {
            "schemaVersion": "2.1",
            "uuid": ident,
            "AcquisitionId": ident,
            "MeasurementStartTime": first,
            "ServiceCompanyName": "raydas",
            "GaugeLength.uom": "m",
            "SpatialSamplingInterval.uom": "m",
            "PulseRate.uom": "Hz",
            "PulseWidth.uom": "ns",
            "AcquisitionDescription": f"written by raydas from {source}"[:200],
        }.items():
            acq.attrs[key] = ascii_attr(value)
        acq.attrs["GaugeLength"] = float(patch.gauge_length)
        acq.attrs["SpatialSamplingInterval"] = step
        acq.attrs["NumberOfLoci"] = np.int32(n_loci)
        acq.attrs["StartLocusIndex"] = np.int32(start_locus)
        acq.attrs["PulseRate"] = rate
        acq.attrs["PulseWidth"] = float("nan")
        raw = acq.create_group("Raw[0]")
        raw.attrs["OutputDataRate"] = rate
        raw.attrs["OutputDataRate.uom"] = ascii_attr("Hz")
        raw.attrs["RawDataUnit"] = ascii_attr(patch.units)
        raw.attrs["NumberOfLoci"] = np.int32(n_loci)
        raw.attrs["StartLocusIndex"] = np.int32(start_locus)
        dset = raw.create_dataset("RawData", data=data.T, chunks=(min(n_time, 4096) or 1, n_loci or 1))
        dset.attrs["Dimensions"] = np.array([b"time", b"locus"])
        dset.attrs["PartStartTime"] = ascii_attr(first)
        dset.attrs["PartEndTime"] = ascii_attr(last)
        dset.attrs["Count"] = np.int64(data.size)
        dset.attrs["StartIndex"] = np.int64(0)
        times = raw.create_dataset("RawDataTime", data=times_us)
        for key in ("PartStartTime", "StartTime"):
            times.attrs[key] = ascii_attr(first)
        for key in ("PartEndTime", "EndTime"):
            times.attrs[key] = ascii_attr(last)
        times.attrs["Uom"] = ascii_attr("us")
    return buf.getvalue()


def write_prodml(chunk, url: str) -> list[str]:
    """Write a :class:`~raydas.chunk.Chunk` (its own samples, halo trimmed) as
    PRODML v2.1 HDF5 raw data (attribute spellings of v2.1: ``<Name>.uom``);
    see :func:`prodml_bytes`. raydas's reader and DASCore's PRODML reader open it.

    Parameters
    ----------
    chunk
        Samples ``(channel, time)``; positions in m, start in ns UTC, ``dt`` in s.
    url
        Where to write (any fsspec URL); written atomically.

    Returns
    -------
    list of str
        ``[url]``.

    Raises
    ------
    RaydasError
        For what :func:`~raydas.formats.writecheck.checked_patch` refuses.
    """
    from ..fsutil import write_bytes_atomic
    from .writecheck import chunk_patch

    write_bytes_atomic(url, prodml_bytes(chunk_patch("PRODML writer", chunk), chunk.source))
    return [url]
