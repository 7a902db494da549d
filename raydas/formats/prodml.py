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

from .. import plausible
from ..errors import FormatError
from ..timeutil import parse_iso
from . import register
from .base import RecordInfo, attr_lookup, axis_order_from_names, checked, metres_per, quantity_of
from .base import attr_number as number
from .base import attr_text as text
from .hdf5 import HDF5Format, numeric_dataset, stored_shape


def _raw_nodes(h5) -> list[str]:
    acq = h5.get("Acquisition")
    if acq is None:
        return []
    return sorted(name for name in acq if name.lower().startswith("raw[") and "RawData" in acq[name])


def _metres(url: str, attrs, name: str, default: float = float("nan")) -> float:
    """A length attribute in metres, converted from its unit: ``<name>.uom``
    (v2.1) or ``<name>Unit`` (v2.0); metres when neither is given."""
    value = attr_lookup(attrs, name)
    if value is None:
        return default
    unit = attr_lookup(attrs, f"{name}.uom", f"{name}Unit", f"{name}.Uom")
    if unit is None:
        return number(value)
    return number(value) * metres_per(url, unit, name)


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


def _stored_times(url: str, times) -> int:
    """How many times of a time array (``RawDataTime``, ``FbeDataTime``) the file
    really stores (0 without one): its declared length may be a lie."""
    if times is None or not getattr(times, "shape", None):
        return 0
    return stored_shape(url, times)[0]


def _timing(url: str, group, times, n_times: int, data, acq_attrs) -> tuple[int, float]:
    """``(start_ns, dt)`` of a Raw or Fbe group: times (µs since 1970, UTC) in
    the first ``n_times`` of its time array when present, else the data set's
    ``PartStartTime`` or the acquisition's ``MeasurementStartTime``; the interval
    from the time array, unless ``OutputDataRate`` (Hz) disagrees by more than 0.1 %."""
    rate = attr_lookup(group.attrs, "OutputDataRate")
    start_ns = None
    dt = None
    if n_times > 0:
        first = int(times[0])
        start_ns = first * 1000  # microseconds -> ns
        if n_times > 1:
            last = int(times[n_times - 1])
            dt = (last - first) * 1e-6 / (n_times - 1)
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
    dt = checked(url, plausible.sample_interval, dt, f"{group.name} sample interval")
    return checked(url, plausible.time_ns, start_ns, f"{group.name} start time"), dt


@register
class ProdmlFormat(HDF5Format):
    name = "prodml"
    description = "PRODML v2.0/v2.1 HDF5: raw data (/Acquisition/Raw[N]/RawData) and band energies (Processed/Fbe[N])"
    extensions = (".h5", ".hdf5", ".prodml")
    quantities = ("strain_rate", "strain", "velocity", "psd")
    versions = ("2.0", "2.1")
    tested_on = ("real/hdf5/iDAS005_hdf5_example.626.h5", "real/hdf5/prodml_fbe_1.h5")

    def write(self, data, url: str, **options) -> list[str]:
        """Write a Chunk (raw data) or band energies (``{(start_hz, end_hz): Chunk}``,
        FBE) as PRODML v2.1 HDF5; see :func:`write_prodml`."""
        return write_prodml(data, url)

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
            step_stated=attr_lookup(a, "SpatialSamplingInterval") is not None,
            units=text(attr_lookup(r, "RawDataUnit", default="")),
            quantity=quantity_of(attr_lookup(r, "RawDescription"), attr_lookup(r, "RawDataUnit")),
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
                    step_stated=attr_lookup(spacing_attrs, "SpatialSamplingInterval") is not None,
                    units=text(attr_lookup(f, "FbeDataUnit", default="")),
                    quantity="psd",  # band energies (PRODML's frequency-band-extracted data): energy per band
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
        self, url, acq, group, data, times, *, n_loci, start_locus, step, step_stated, units, quantity, attrs, stream=""
    ) -> RecordInfo:
        """The record of one 2-D data set ``data`` of a Raw or Fbe ``group``:
        axis order from its ``Dimensions`` (else the locus count ``n_loci``),
        timing from ``times`` (µs since 1970) or the start-time attributes,
        position of locus i ``(start_locus + i) * step`` (m; assumed when the
        file states no ``SpatialSamplingInterval``: ``step_stated`` False)."""
        n_loci = int(number(n_loci)) if n_loci is not None else None
        time_first = axis_order_from_names(data.attrs.get("Dimensions"), url, n_loci, data.shape)
        shape = stored_shape(url, data, 0 if time_first else 1)
        n_time, n_channels = shape if time_first else shape[::-1]
        start_ns, dt = _timing(url, group, times, _stored_times(url, times), data, acq.attrs)
        return RecordInfo(
            path=url,
            format=self.name,
            n_channels=int(n_channels),
            n_samples=int(n_time),
            dt=float(dt),
            start_ns=int(start_ns),
            positions=(start_locus + np.arange(n_channels)) * checked(url, plausible.spacing, step, "PRODML spacing"),
            units=units,
            quantity=quantity,
            gauge_length=_metres(url, acq.attrs, "GaugeLength"),
            key=data.name,
            stream=stream,
            assumed=() if step_stated else ("positions",),
            attrs={
                "dimensions": "time,locus" if time_first else "locus,time",
                "vendor": text(attr_lookup(acq.attrs, "ServiceCompanyName", "VendorCode", default="")),
                **attrs,
            },
        )

    def time_first(self, record: RecordInfo) -> bool:
        return record.attrs.get("dimensions") != "locus,time"


# --- writing ------------------------------------------------------------------------
def _ascii(value) -> np.bytes_:
    """A PRODML string attribute (fixed-length byte string)."""
    return np.bytes_(str(value))


def _locus_grid(positions: np.ndarray) -> tuple[float, int]:
    """``(SpatialSamplingInterval in m, StartLocusIndex)`` of channel positions in m."""
    step = float(np.median(np.diff(positions))) if len(positions) > 1 else 1.0
    return step, int(round(positions[0] / step)) if step else 0


def _acquisition(h5, patch, source: str, kind: str, number_of_loci: int, start_locus: int, step: float):
    """The ``/Acquisition`` group with what readers look for (raydas's and DASCore's):
    schema version, a uuid made from the content's description (so the same content
    gives the same bytes), loci, spacing (m), gauge length (m), pulse rate (Hz: the
    output data rate; raydas does not know the interrogator's) and width (ns: NaN)."""
    import uuid

    from ..timeutil import to_iso

    n_loci, n_time = patch.data.shape
    first = to_iso(int(patch.times_ns[0]))
    rate = 1.0 / patch.dt
    ident = uuid.uuid5(uuid.NAMESPACE_URL, f"raydas:prodml:{kind}:{source}:{first}:{n_loci}x{n_time}:{rate!r}:{step!r}")
    h5.attrs["schemaVersion"] = _ascii("2.1")
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
        acq.attrs[key] = _ascii(value)
    acq.attrs["GaugeLength"] = float(patch.gauge_length)
    acq.attrs["SpatialSamplingInterval"] = step
    acq.attrs["NumberOfLoci"] = np.int32(number_of_loci)
    acq.attrs["StartLocusIndex"] = np.int32(start_locus)
    acq.attrs["PulseRate"] = rate
    acq.attrs["PulseWidth"] = float("nan")
    return acq


def _times(group, name: str, patch) -> None:
    """``<name>``: the time of every sample in µs since 1970 (UTC), with its first and last as ISO 8601."""
    from ..timeutil import to_iso

    first, last = to_iso(int(patch.times_ns[0])), to_iso(int(patch.times_ns[-1]))
    times = group.create_dataset(name, data=patch.times_ns // 1000)
    for key in ("PartStartTime", "StartTime"):
        times.attrs[key] = _ascii(first)
    for key in ("PartEndTime", "EndTime"):
        times.attrs[key] = _ascii(last)
    times.attrs["Uom"] = _ascii("us")


#: bytes of one HDF5 chunk of the samples raydas writes (all loci, as many
#: time rows as fit): small enough that a windowed read from a remote store
#: fetches little beyond its window (an HDF5 chunk is fetched whole)
WRITE_CHUNK_BYTES = 128 * 1024


def _samples(group, name: str, patch) -> None:
    """``<name>``: the samples as ``(time, locus)`` in their own dtype, with their time span."""
    from ..timeutil import to_iso

    n_loci, n_time = patch.data.shape
    rows = min(n_time, max(1, WRITE_CHUNK_BYTES // (patch.data.dtype.itemsize * max(n_loci, 1)))) or 1
    dset = group.create_dataset(name, data=patch.data.T, chunks=(rows, n_loci or 1))
    dset.attrs["Dimensions"] = np.array([b"time", b"locus"])
    dset.attrs["PartStartTime"] = _ascii(to_iso(int(patch.times_ns[0])))
    dset.attrs["PartEndTime"] = _ascii(to_iso(int(patch.times_ns[-1])))
    dset.attrs["Count"] = np.int64(patch.data.size)
    dset.attrs["StartIndex"] = np.int64(0)
    return dset


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
    DASCore 0.1.24 cannot make a time axis of a file of one time sample (raydas
    reads it, with ``OutputDataRate``).

    Parameters
    ----------
    patch
        The checked samples and coordinates (:func:`raydas.formats.writecheck.checked_patch`).
    source
        Where the samples came from (kept in ``AcquisitionDescription``).
    """
    import io

    import h5py

    n_loci = patch.data.shape[0]
    step, start_locus = _locus_grid(patch.positions)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        acq = _acquisition(h5, patch, source, "raw", n_loci, start_locus, step)
        raw = acq.create_group("Raw[0]")
        raw.attrs["OutputDataRate"] = 1.0 / patch.dt
        raw.attrs["OutputDataRate.uom"] = _ascii("Hz")
        raw.attrs["RawDataUnit"] = _ascii(patch.units)
        raw.attrs["NumberOfLoci"] = np.int32(n_loci)
        raw.attrs["StartLocusIndex"] = np.int32(start_locus)
        _samples(raw, "RawData", patch)
        _times(raw, "RawDataTime", patch)
    return buf.getvalue()


def prodml_fbe_bytes(bands: list[tuple[float, float]], patches: list, source: str = "") -> bytes:
    """The content of a PRODML v2.1 HDF5 file holding frequency-band energies (FBE).

    ``/Acquisition/Processed/Fbe[0]`` holds one ``FbeData[i]`` ``(time, locus)``
    data set per band (attributes ``StartFrequency`` and ``EndFrequency`` in Hz),
    ``FbeDataTime`` (µs since 1970, UTC), and the group's ``OutputDataRate`` (Hz),
    ``FbeDataUnit``, ``NumberOfLoci``, ``StartLocusIndex`` and ``Dimensions``.
    ``/Acquisition`` counts its loci from index 0 (``NumberOfLoci`` reaches the
    last locus written), so that the band group's ``StartLocusIndex`` places the
    loci for raydas's reader and for DASCore's alike.

    Parameters
    ----------
    bands
        ``(start, end)`` of each band in Hz, in order.
    patches
        The energies of each band (:func:`raydas.formats.writecheck.checked_patch`), all
        with the same shape, times, positions and units.
    source
        Where the energies came from (kept in ``AcquisitionDescription``).

    Raises
    ------
    RaydasError
        When there is no band, a band's edges are not finite with start <= end, the
        bands disagree on shape, times or positions, or a position lies before 0 m.
    """
    import io

    import h5py

    from ..errors import RaydasError

    if not bands or len(bands) != len(patches):
        raise RaydasError(f"PRODML FBE writer: {len(bands)} bands for {len(patches)} arrays of energies")
    first = patches[0]
    for (lo, hi), patch in zip(bands, patches):
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo <= hi):
            raise RaydasError(f"PRODML FBE writer: band {lo!r}-{hi!r} Hz is not 0 <= start <= end")
        same = (
            patch.data.shape == first.data.shape
            and np.array_equal(patch.times_ns, first.times_ns)
            and np.array_equal(patch.positions, first.positions)
        )
        if not same:
            raise RaydasError(
                f"PRODML FBE writer: band {lo:g}-{hi:g} Hz differs from the first in shape, times or positions"
            )
    n_loci = first.data.shape[0]
    step, start_locus = _locus_grid(first.positions)
    if start_locus < 0:
        raise RaydasError(f"PRODML FBE writer: loci start at {first.positions[0]!r} m, before 0 m")
    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        acq = _acquisition(h5, first, source, "fbe", start_locus + n_loci, 0, step)
        fbe = acq.create_group("Processed").create_group("Fbe[0]")
        fbe.attrs["OutputDataRate"] = 1.0 / first.dt
        fbe.attrs["OutputDataRate.uom"] = _ascii("Hz")
        fbe.attrs["FbeDataUnit"] = _ascii(first.units)
        fbe.attrs["NumberOfLoci"] = np.int32(n_loci)
        fbe.attrs["StartLocusIndex"] = np.int32(start_locus)
        fbe.attrs["Dimensions"] = np.array([b"time", b"locus"])
        _times(fbe, "FbeDataTime", first)
        for i, ((lo, hi), patch) in enumerate(zip(bands, patches)):
            dset = _samples(fbe, f"FbeData[{i}]", patch)
            dset.attrs["StartFrequency"] = float(lo)
            dset.attrs["EndFrequency"] = float(hi)
            dset.attrs["FbeDataUnit"] = _ascii(patch.units)  # DASCore reads the unit beside the band's data
    return buf.getvalue()


def write_prodml(data, url: str) -> list[str]:
    """Write PRODML v2.1 HDF5 (attribute spellings of v2.1: ``<Name>.uom``) that
    raydas's reader and DASCore's PRODML reader open.

    Parameters
    ----------
    data
        A :class:`~raydas.chunk.Chunk` (its own samples, halo trimmed), written as raw
        data (:func:`prodml_bytes`); or band energies, a mapping of ``(start, end)``
        in Hz to a Chunk of that band's energies, written as FBE (:func:`prodml_fbe_bytes`).
        Positions in m, start in ns UTC, ``dt`` in s.
    url
        Where to write (any fsspec URL); written atomically.

    Returns
    -------
    list of str
        ``[url]``.

    Raises
    ------
    RaydasError
        For what :func:`~raydas.formats.writecheck.checked_patch` refuses, or bands
        that :func:`prodml_fbe_bytes` refuses.
    """
    from collections.abc import Mapping

    from ..fsutil import write_bytes_atomic
    from .writecheck import chunk_patch

    if isinstance(data, Mapping):
        bands = [(float(lo), float(hi)) for lo, hi in data]
        patches = [chunk_patch("PRODML FBE writer", chunk) for chunk in data.values()]
        sources = ";".join(sorted({c.source for c in data.values() if c.source}))
        payload = prodml_fbe_bytes(bands, patches, sources)
    else:
        payload = prodml_bytes(chunk_patch("PRODML writer", data), data.source)
    write_bytes_atomic(url, payload)
    return [url]
