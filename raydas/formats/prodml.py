"""PRODML v2.0 / v2.1 HDF5 raw DAS data (Silixa iDAS, OptaSense, and others).

Layout (from the Energistics PRODML DAS schema):

* ``/Acquisition`` attributes: ``MeasurementStartTime`` (ISO 8601),
  ``SpatialSamplingInterval`` (m), ``StartLocusIndex``, ``NumberOfLoci``,
  ``GaugeLength``, ``PulseRate``, ``schemaVersion``. v2.0 spells units
  ``<Name>Unit`` where v2.1 spells them ``<Name>.uom``.
* ``/Acquisition/Raw[N]`` attributes ``OutputDataRate`` (Hz), ``RawDataUnit``,
  and its own ``StartLocusIndex`` / ``NumberOfLoci`` for the loci it holds.
* ``/Acquisition/Raw[N]/RawData``: 2-D samples whose ``Dimensions`` attribute
  says the axis order (``time, locus`` usually; ``locus, time`` accepted).
* ``/Acquisition/Raw[N]/RawDataTime``: time of every sample in microseconds
  since 1970 (UTC).

Only the requested window of ``RawData`` is read (an HDF5 hyperslab).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import FormatError
from ..timeutil import NS_PER_S, parse_iso
from . import register
from .base import FormatReader, Probe, RecordInfo, as_float32, attr_number as number, attr_text as text, open_h5


def _first(attrs, *names, default=None):
    for name in names:
        if name in attrs:
            return attrs[name]
    return default


def _raw_nodes(h5) -> list[str]:
    acq = h5.get("Acquisition")
    if acq is None:
        return []
    return sorted(name for name in acq if name.lower().startswith("raw[") and "RawData" in acq[name])


def _axis_order(dataset, n_loci: int | None) -> str:
    """'time,locus' or 'locus,time' for a RawData dataset."""
    dims = text(dataset.attrs.get("Dimensions", "")).lower().replace(" ", "")
    if dims.startswith("locus") or dims.startswith("distance"):
        return "locus,time"
    if dims.startswith("time"):
        return "time,locus"
    if n_loci is not None and dataset.shape[0] == n_loci and dataset.shape[1] != n_loci:
        return "locus,time"
    return "time,locus"


@register
class ProdmlFormat(FormatReader):
    name = "prodml"
    description = "PRODML v2.0/v2.1 HDF5 raw DAS data (/Acquisition/Raw[N]/RawData)"
    extensions = (".h5", ".hdf5", ".prodml")

    def write(self, chunk, url: str, **options) -> list[str]:
        """Write a Chunk as PRODML v2.1 HDF5; see :func:`write_prodml`."""
        return write_prodml(chunk, url)

    def detect(self, probe: Probe) -> bool:
        h5 = probe.h5
        if h5 is None or "Acquisition" not in h5:
            return False
        attrs = h5["Acquisition"].attrs
        return any(k in attrs for k in ("NumberOfLoci", "SpatialSamplingInterval", "schemaVersion"))

    def scan(self, probe: Probe) -> list[RecordInfo]:
        h5 = probe.h5
        nodes = _raw_nodes(h5)
        if not nodes:
            raise FormatError(probe.url, "PRODML file has no /Acquisition/Raw[N]/RawData data set (no raw samples)")
        acq = h5["Acquisition"]
        return [self._record(probe.url, acq, name) for name in nodes]

    def _record(self, url: str, acq, name: str) -> RecordInfo:
        raw = acq[name]
        data = raw["RawData"]
        if data.ndim != 2:
            raise FormatError(url, f"{data.name} has {data.ndim} dimensions; expected 2 (time, locus)")
        a, r = acq.attrs, raw.attrs
        n_loci_attr = _first(r, "NumberOfLoci", default=_first(a, "NumberOfLoci"))
        order = _axis_order(data, int(number(n_loci_attr)) if n_loci_attr is not None else None)
        n_time, n_loci = data.shape if order == "time,locus" else data.shape[::-1]
        step = number(_first(a, "SpatialSamplingInterval", default=1.0))
        start_locus = number(_first(r, "StartLocusIndex", default=_first(a, "StartLocusIndex", default=0)))
        positions = (start_locus + np.arange(n_loci)) * step
        times = raw.get("RawDataTime")
        rate = _first(r, "OutputDataRate", default=None)
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
            stamp = _first(data.attrs, "PartStartTime", default=_first(a, "MeasurementStartTime"))
            if stamp is None:
                raise FormatError(url, f"{raw.name} has no RawDataTime and no start time attribute")
            start_ns = parse_iso(text(stamp))
        if dt is None or not dt > 0:
            raise FormatError(url, f"{raw.name}: cannot tell the sample rate (no OutputDataRate, <2 times)")
        gauge = _first(a, "GaugeLength")
        attrs = {
            "schema_version": text(_first(a, "schemaVersion", default="")),
            "vendor": text(_first(a, "ServiceCompanyName", "VendorCode", default="")),
            "dimensions": order,
            "description": text(_first(r, "RawDescription", default="")),
        }
        return RecordInfo(
            path=url,
            format=self.name,
            n_channels=int(n_loci),
            n_samples=int(n_time),
            dt=float(dt),
            start_ns=int(start_ns),
            positions=positions,
            units=text(_first(r, "RawDataUnit", default="")),
            gauge_length=number(gauge) if gauge is not None else float("nan"),
            key=f"{raw.name}/RawData",
            attrs=attrs,
        )

    def read_samples(self, record: RecordInfo, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
        with open_h5(record.path) as h5:
            if record.key not in h5:
                raise FormatError(record.path, f"data set {record.key} is missing")
            data = h5[record.key]
            if record.attrs.get("dimensions") == "locus,time":
                return as_float32(data[channels, start:stop])
            return as_float32(data[start:stop, channels].T)



# --- writing ------------------------------------------------------------------------
def write_prodml(chunk, url: str) -> list[str]:
    """Write a Chunk as PRODML v2.1 HDF5 (attribute spellings of v2.1: ``<Name>.uom``).

    ``/Acquisition/Raw[0]/RawData`` holds the samples as float32 ``(time, locus)``
    and ``RawDataTime`` the time of every sample in microseconds since 1970 (UTC).
    Positions are written as PRODML defines them, ``(StartLocusIndex + i) *
    SpatialSamplingInterval``, so they are rounded to that grid.
    """
    import io

    import h5py

    from ..fsutil import write_bytes_atomic
    from ..timeutil import to_iso

    data = np.asarray(chunk.data, dtype=np.float32)
    n_loci, n_time = data.shape
    positions = np.asarray(chunk.positions, dtype=np.float64)
    step = float(np.median(np.diff(positions))) if n_loci > 1 else 1.0
    start_locus = int(round(positions[0] / step)) if step else 0
    times_us = (chunk.start_ns + np.round(np.arange(n_time) * chunk.dt * NS_PER_S).astype(np.int64)) // 1000
    first, last = to_iso(int(times_us[0]) * 1000), to_iso(int(times_us[-1]) * 1000 if n_time else chunk.start_ns)
    ascii_attr = lambda v: np.bytes_(str(v))  # noqa: E731  (PRODML strings are fixed-length byte strings)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        h5.attrs["schemaVersion"] = ascii_attr("2.1")
        acq = h5.create_group("Acquisition")
        for key, value in {"schemaVersion": "2.1", "MeasurementStartTime": first, "ServiceCompanyName": "raydas",
                           "GaugeLength.uom": "m", "SpatialSamplingInterval.uom": "m",
                           "AcquisitionDescription": f"written by raydas from {chunk.source}"[:200]}.items():
            acq.attrs[key] = ascii_attr(value)
        acq.attrs["GaugeLength"] = float(chunk.gauge_length)
        acq.attrs["SpatialSamplingInterval"] = step
        acq.attrs["NumberOfLoci"] = np.int32(n_loci)
        acq.attrs["StartLocusIndex"] = np.int32(start_locus)
        raw = acq.create_group("Raw[0]")
        raw.attrs["OutputDataRate"] = 1.0 / chunk.dt
        raw.attrs["OutputDataRate.uom"] = ascii_attr("Hz")
        raw.attrs["RawDataUnit"] = ascii_attr(chunk.units)
        raw.attrs["NumberOfLoci"] = np.int32(n_loci)
        raw.attrs["StartLocusIndex"] = np.int32(start_locus)
        dset = raw.create_dataset("RawData", data=data.T, chunks=(min(n_time, 4096) or 1, n_loci or 1))
        dset.attrs["Dimensions"] = np.array([b"time", b"locus"])
        dset.attrs["PartStartTime"] = ascii_attr(first)
        dset.attrs["PartEndTime"] = ascii_attr(last)
        dset.attrs["Count"] = np.int64(data.size)
        dset.attrs["StartIndex"] = np.int64(0)
        times = raw.create_dataset("RawDataTime", data=times_us)
        times.attrs["StartTime"] = ascii_attr(first)
        times.attrs["EndTime"] = ascii_attr(last)
        times.attrs["Uom"] = ascii_attr("us")
    write_bytes_atomic(url, buf.getvalue())
    return [url]
