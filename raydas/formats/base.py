"""What every format reader is: ``detect`` (by content), ``scan`` (metadata
only) and ``read`` (a window of samples), plus the `RecordInfo` a scan returns."""

from __future__ import annotations

import functools
import math
import os
import posixpath
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .. import plausible
from ..chunk import Chunk
from ..errors import FormatError, RaydasError, TruncatedFileWarning
from ..fsutil import is_local, url_to_fs
from ..timeutil import NS_PER_S, regular_runs, to_iso

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
#: what :attr:`RecordInfo.assumed` may name: coordinates a reader did not read from the file
ASSUMABLE = ("start_time", "positions", "units", "sample_rate", "gauge_length")
#: of those, the axes of the data (times, places, sampling): a run warns when one is assumed
AXES = ("start_time", "positions", "sample_rate")

#: What a record's samples measure (:attr:`RecordInfo.quantity`): one of these words.
QUANTITIES = (
    "strain_rate",
    "strain",
    "velocity",
    "temperature",
    "attenuation",
    "backscatter",
    "psd",
    "spectrum",
    "unknown",
)


@dataclass
class RecordInfo:
    """Metadata of one continuous block of samples in one file.

    Attributes
    ----------
    path
        File (or container) URL.
    format
        Name of the format reader that produced it.
    n_channels, n_samples
        Shape of the record as ``(channel, time)``.
    dt
        Sample interval in seconds.
    start_ns
        Time of the first sample, ns since epoch (UTC).
    positions
        Channel positions along the fibre in metres, shape ``(n_channels,)``.
    units
        Unit of the samples (e.g. ``"strain/s"``); ``""`` when the file does not say.
    gauge_length
        Gauge length in metres, ``nan`` when unknown.
    key
        Which record inside the file (dataset path, chunk name); ``""`` when the
        file holds one record.
    stream
        Which of several parallel series the record belongs to (a curve or band
        name); records of different streams are never joined in time. ``""``
        for the data themselves.
    attrs
        Vendor metadata worth keeping (small values only).
    quantity
        What the samples measure, one word of :data:`QUANTITIES` (``"strain_rate"``,
        ``"velocity"``, ...), read from the file where it says so; ``"unknown"``
        otherwise.
    assumed
        The coordinates that were assumed rather than read from the file, from
        :data:`ASSUMABLE`: ``"start_time"`` (e.g. a SEG-Y without times starts at
        1970), ``"positions"`` (channel indices or a default spacing taken for
        metres), ``"sample_rate"`` (guessed from a chunk's width), ``"units"`` and
        ``"gauge_length"`` (the file does not say; added whenever ``units`` is
        empty or ``gauge_length`` is nan). Readers set the others. No name twice,
        in :data:`ASSUMABLE`'s order.
    times_ns
        For a record whose readings are not regularly spaced (slow DTS/DSS
        readings stamped as they come, a single reading): the time of every
        sample, int64 ns since 1970 (UTC), shape ``(n_samples,)``; ``dt`` is
        then only the median step (or the acquisition time of a single
        reading), never a rate to process with (:attr:`regular` is False and
        commands that need a regular rate refuse the record at planning).
        ``None`` for regularly sampled records.
    """

    path: str
    format: str
    n_channels: int
    n_samples: int
    dt: float
    start_ns: int
    positions: np.ndarray
    units: str = ""
    gauge_length: float = float("nan")
    key: str = ""
    attrs: dict = field(default_factory=dict)
    stream: str = ""
    quantity: str = "unknown"
    assumed: tuple[str, ...] = ()
    times_ns: np.ndarray | None = None

    def __post_init__(self):
        if self.quantity not in QUANTITIES:
            raise FormatError(self.path, f"quantity {self.quantity!r} is not one of {', '.join(QUANTITIES)}")
        self.assumed = assumed_names(self.assumed, units=self.units, gauge_length=self.gauge_length)
        self.positions = np.asarray(self.positions, dtype=np.float64).reshape(-1)
        if self.positions.shape[0] != self.n_channels:
            raise FormatError(self.path, f"{self.positions.shape[0]} channel positions for {self.n_channels} channels")
        if not (self.dt > 0 and math.isfinite(self.dt)):
            raise FormatError(self.path, f"sample interval {self.dt!r} s is not a positive number")
        if self.times_ns is not None:
            self.times_ns = np.asarray(self.times_ns, dtype=np.int64).reshape(-1)
            if self.times_ns.shape[0] != self.n_samples:
                raise FormatError(self.path, f"{self.times_ns.shape[0]} time stamps for {self.n_samples} samples")
            if self.n_samples and (np.diff(self.times_ns) <= 0).any():
                raise FormatError(self.path, "time stamps are not increasing")
            if self.n_samples:
                self.start_ns = int(self.times_ns[0])
        self._check_plausible()

    def _check_plausible(self) -> None:
        """Every number the file declared is within :mod:`raydas.plausible`'s ranges, so
        that no later step overflows or commits memory on a nonsense value.

        Raises
        ------
        FormatError
            Naming the file (and record) and the number that is not plausible.
        """
        try:
            plausible.count(self.n_channels, "channel count")
            plausible.count(self.n_samples, "sample count")
            plausible.sample_interval(self.dt)
            plausible.time_ns(self.start_ns, "start time")
            plausible.time_ns(self.end_ns, "end time")
            plausible.positions(self.positions)
            plausible.gauge_length(self.gauge_length)
        except ValueError as exc:
            where = f"record {self.key}: " if self.key else ""
            raise FormatError(self.path, f"{where}{exc}") from None

    @property
    def regular(self) -> bool:
        """True when the samples are ``dt`` apart; False when the record carries
        its own stamps (:attr:`times_ns`)."""
        return self.times_ns is None

    @property
    def sample_rate(self) -> float:
        """Samples per second (Hz)."""
        return 1.0 / self.dt

    @property
    def end_ns(self) -> int:
        """Time just after the last sample (exclusive), ns since epoch (UTC); for a
        record with stamps, the last stamp plus ``dt``."""
        if self.times_ns is not None and self.n_samples:
            return int(self.times_ns[-1]) + int(round(self.dt * NS_PER_S))
        return self.start_ns + int(round(self.n_samples * self.dt * NS_PER_S))

    def time_of(self, sample: int) -> int:
        """Time of sample ``sample`` (ns, UTC): its stamp, or ``start_ns + sample * dt``."""
        if self.times_ns is not None:
            return int(self.times_ns[sample])
        return self.start_ns + int(round(sample * self.dt * NS_PER_S))

    @property
    def channel_spacing(self) -> float:
        """Median distance between neighbouring channels in metres (``nan`` for one channel)."""
        if self.n_channels < 2:
            return float("nan")
        steps = np.sort(np.diff(self.positions))  # np.median's value, without its overhead per call
        if np.isnan(steps[-1]):  # sorted last
            return float("nan")
        half = steps.shape[0] // 2
        return float(steps[half]) if steps.shape[0] % 2 else float((steps[half - 1] + steps[half]) / 2)

    def sample_index(self, t_ns: int) -> int:
        """Index of the first sample at or after ``t_ns`` (may be out of range)."""
        if self.times_ns is not None:
            return int(np.searchsorted(self.times_ns, t_ns, side="left"))
        return int(math.ceil((t_ns - self.start_ns) / (self.dt * NS_PER_S) - 1e-6))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (what ``raydas scan --json`` prints)."""
        return {
            "path": self.path,
            "key": self.key,
            "format": self.format,
            "channels": self.n_channels,
            "samples": self.n_samples,
            "sample_rate_hz": self.sample_rate if self.regular else None,  # stamped readings have no rate
            "channel_spacing_m": _finite_or_none(self.channel_spacing),
            "first_position_m": _finite_or_none(float(self.positions[0])) if self.n_channels else None,
            "start": to_iso(self.start_ns),
            "end": to_iso(self.end_ns),
            "units": self.units,
            "quantity": self.quantity,
            "assumed": list(self.assumed),
            "gauge_length_m": _finite_or_none(self.gauge_length),
            "stream": self.stream,
            "regular": self.regular,
            **({} if self.regular else {"median_step_s": self.dt, "times": [to_iso(int(t)) for t in self.times_ns]}),
        }


def assumed_names(names, units: str = "x", gauge_length: float = 0.0) -> tuple[str, ...]:
    """``names`` (an iterable of :data:`ASSUMABLE` entries), plus ``"units"`` when ``units``
    is empty and ``"gauge_length"`` when ``gauge_length`` (m) is nan, in :data:`ASSUMABLE`'s order.

    Raises
    ------
    ValueError
        For a name that is not in :data:`ASSUMABLE`.
    """
    wanted = set(names)
    unknown = wanted - set(ASSUMABLE)
    if unknown:
        raise ValueError(f"unknown assumed coordinate(s) {sorted(unknown)}; use {', '.join(ASSUMABLE)}")
    if not units:
        wanted.add("units")
    if gauge_length is None or not math.isfinite(gauge_length):
        wanted.add("gauge_length")
    return tuple(name for name in ASSUMABLE if name in wanted)


def _finite_or_none(x: float):
    return float(x) if x is not None and math.isfinite(x) else None


class Probe:
    """Cheap, cached views of one input, made once and handed from detection
    to scan: the first bytes, the size, and (for HDF5 files) the open h5py file.

    Use as a context manager so an opened HDF5 file is closed. A probe pickles
    with what it has read (not its open HDF5 file), so it can be handed to the
    helper process that scans local HDF5 files.
    """

    HEAD_BYTES = 65536

    def __init__(self, url: str, entries: list[dict] | None = None):
        self.url = str(url)
        self.fs, self.path = url_to_fs(self.url)
        self._h5 = None
        if entries is not None:  # a folder, listed already (a walk's listing, handed on)
            self.is_dir = True
            self.entries = list(entries)

    @functools.cached_property
    def _local(self) -> bool:
        return is_local(self.fs)

    @functools.cached_property
    def is_dir(self) -> bool:
        if self._local:
            return os.path.isdir(self.path)
        return self.fs.isdir(self.path)

    @functools.cached_property
    def entries(self) -> list[dict]:
        """A folder's listing (fsspec ``ls`` entries: ``name``, ``type``, ``size``...), made
        once for every detector that looks at it; ``[]`` for a file."""
        return self.fs.ls(self.path, detail=True) if self.is_dir else []

    @functools.cached_property
    def entry_names(self) -> list[str]:
        """The base names in :attr:`entries` (in the same order)."""
        return [posixpath.basename(str(e["name"]).rstrip("/")) for e in self.entries]

    @functools.cached_property
    def size(self) -> int:
        if self.is_dir:
            return 0
        if self._local:
            return os.path.getsize(self.path)
        return int(self.fs.size(self.path))

    @functools.cached_property
    def head(self) -> bytes:
        if self.is_dir:
            return b""
        if self._local:  # the same bytes as fsspec's local cat_file, without its per-call path handling
            with open(self.path, "rb") as fh:
                return fh.read(self.HEAD_BYTES)
        # one ranged read: opening a remote file with its default cache would fetch
        # many megabytes ahead for these few kilobytes
        return bytes(self.fs.cat_file(self.path, start=0, end=self.HEAD_BYTES))

    @property
    def name(self) -> str:
        return posixpath.basename(self.path.rstrip("/"))

    @property
    def is_hdf5(self) -> bool:
        return self.head.startswith(HDF5_MAGIC)

    @property
    def h5(self):
        """The file opened with h5py (cached), or ``None`` if it is not HDF5."""
        if self._h5 is None and self.is_hdf5:
            self._h5 = open_h5(self.url)
        return self._h5

    def close(self):
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_h5": None}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


#: bytes fetched ahead of each read of a remote HDF5 file: small, because h5py
#: reads metadata in many small scattered pieces and data in whole contiguous
#: runs or HDF5 chunks (a remote store's default block is tens of megabytes)
REMOTE_BLOCK_BYTES = 16 * 1024


def open_h5(url: str):
    """Open an HDF5 file read-only from a local path or any fsspec URL."""
    import h5py

    fs, path = url_to_fs(url)
    try:
        if is_local(fs):
            return h5py.File(path, "r")
        return h5py.File(fs.open(path, "rb", cache_type="readahead", block_size=REMOTE_BLOCK_BYTES), "r")
    except OSError as exc:
        raise FormatError(url, f"is a damaged HDF5 file: it cannot be opened ({exc})") from exc


class Format:
    """Base class of a format: subclass it, set ``name``, implement
    ``detect``, ``scan`` and ``read_samples``, and decorate with
    :func:`raydas.formats.register`. An HDF5 layout subclasses
    :class:`raydas.formats.hdf5.HDF5Format` instead, which opens the file and
    names it in errors, leaving only the layout to write.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: True when the format is a folder read as a whole (a chunk store).
    container: ClassVar[bool] = False
    #: Name endings its files (or folders) usually have, e.g. ``(".sgy", ".segy")``. Detection
    #: never looks at them; :func:`raydas.formats.write` picks a writer (a format that
    #: :attr:`writes`) by them.
    extensions: ClassVar[tuple[str, ...]] = ()
    #: What its records measure when the format itself fixes it (a word of :data:`QUANTITIES`),
    #: ``"unknown"`` when the format does not: each record then says what its file states.
    quantity: ClassVar[str] = "unknown"
    #: The quantities its files may state (``raydas formats`` lists them beside :attr:`quantity`).
    quantities: ClassVar[tuple[str, ...]] = ()
    #: The versions of the format (file or schema versions) the reader knows; empty when it has none.
    versions: ClassVar[tuple[str, ...]] = ()
    #: The sample files it is tested on, relative to the shared test-data folder
    #: (``"real/hdf5/terra15_v5_test_file.hdf5"``), or what the tests write (``"written by itself"``).
    tested_on: ClassVar[tuple[str, ...]] = ()
    #: False when the files do not state their sample rate (distpy's npy folders): a scan's
    #: ``ScanOptions.assumed_sample_rate`` then replaces the one the reader guessed.
    states_sample_rate: ClassVar[bool] = True
    #: Lower-case name endings of this format's files (``(".sgy", ".segy")``): a file so named
    #: that no reader recognises is a damaged file of this format, not a document.
    suffixes: ClassVar[tuple[str, ...]] = ()

    @property
    def writes(self) -> bool:
        """True when the format has a writer (its class overrides :meth:`write`)."""
        return type(self).write is not Format.write

    def describe(self) -> dict[str, Any]:
        """What ``raydas formats`` lists: name, description, quantity, versions,
        extensions, whether it writes, and the samples it is tested on."""
        return {
            "name": self.name,
            "description": self.description,
            "quantity": self.quantity,
            "quantities": list(dict.fromkeys((*self.quantities, self.quantity))),
            "versions": list(self.versions),
            "extensions": list(self.extensions),
            "writes": self.writes,
            "tested_on": list(self.tested_on),
        }

    def detect(self, probe: Probe) -> bool:
        """True when ``probe`` holds data in this format (judged by content)."""
        raise NotImplementedError

    def signature(self, head: bytes) -> bool:
        """True when ``head`` (a file's first bytes, perhaps only a few) starts the way
        this format's files start (a magic number, a header's first field), even when
        the file is too damaged to :meth:`detect`. By default no signature is known."""
        return False

    def claims(self, probe: Probe) -> str:
        """Why the probed file claims to be in this format (its first bytes, or its
        name), in words that follow "it is damaged:"; ``""`` when it does not."""
        if probe.is_dir:
            return ""
        if self.signature(probe.head):
            return f"its first bytes are those of {self.name} data"
        name = probe.name.lower()
        ending = next((s for s in self.suffixes if name.endswith(s)), None)
        return f"its name ends in {ending}, as {self.name} data do" if ending else ""

    def scan(self, probe: Probe) -> list[RecordInfo]:
        """Metadata of every record in the input, without reading samples."""
        raise NotImplementedError

    def read_samples(self, record: RecordInfo, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
        """Samples ``[start, stop)`` of ``record`` for ``channels`` as a
        float32 ``(channel, time)`` array. Only that window is read."""
        raise NotImplementedError

    def write(self, data, url: str, **options) -> list[str]:
        """Write ``data`` (a :class:`Chunk`, or for band-energy formats a mapping
        of curve name to Chunk) to ``url``; returns the URLs written."""
        raise RaydasError(f"format {self.name!r} has no writer")

    def read(
        self,
        source: str | Probe,
        start_ns: int | None = None,
        end_ns: int | None = None,
        channels: slice = slice(None),
        record: int | None = None,
    ) -> Chunk:
        """Read a time window ``[start_ns, end_ns)`` (ns, UTC) of one record of
        ``source`` (a URL, or a probe of it that detection made) as a Chunk.

        ``record`` picks the record by its index in the scan; by default the
        record holding ``start_ns`` (the first record when ``start_ns`` is None
        or before every record). A record with stamps (:attr:`RecordInfo.times_ns`)
        gives a Chunk with its stamps (:attr:`Chunk.times_ns`)."""
        if not isinstance(source, Probe):
            with Probe(source) as probe:
                return self.read(probe, start_ns, end_ns, channels, record)
        records = self.scan(source)
        if not records:
            raise FormatError(source.url, f"holds no {self.name} record")
        if record is None:
            record = 0
            if start_ns is not None:
                later = [k for k, r in enumerate(records) if r.start_ns <= start_ns]
                record = max(later, key=lambda k: records[k].start_ns) if later else 0
        info = records[record]
        i0 = 0 if start_ns is None else min(max(info.sample_index(start_ns), 0), info.n_samples)
        i1 = info.n_samples if end_ns is None else min(max(info.sample_index(end_ns), i0), info.n_samples)
        data = self.read_samples(info, i0, i1, channels)
        return Chunk(
            data=data,
            data_start_ns=info.time_of(i0) if i0 < info.n_samples else info.end_ns,
            dt=info.dt,
            positions=info.positions[channels],
            units=info.units,
            gauge_length=info.gauge_length,
            source=info.path,
            times_ns=None if info.times_ns is None else info.times_ns[i0:i1],
        )

    def __repr__(self) -> str:
        return f"<format {self.name}>"


def as_float32(block) -> np.ndarray:
    """Return ``block`` as a C-contiguous float32 ndarray (copying only if needed)."""
    return np.ascontiguousarray(block, dtype=np.float32)


#: time samples transposed at once by :func:`time_major_to_float32` (a block stays in cache)
TRANSPOSE_BLOCK = 256


def time_major_to_float32(block) -> np.ndarray:
    """A ``(time, channel)`` array as a C-contiguous float32 ``(channel, time)`` one.

    Transposed a block of :data:`TRANSPOSE_BLOCK` time samples at a time: about
    five times faster than one strided copy of a large array, which misses the
    cache on every element.
    """
    block = np.asarray(block)
    n_time, n_channels = block.shape
    out = np.empty((n_channels, n_time), dtype=np.float32)
    for t in range(0, n_time, TRANSPOSE_BLOCK):
        out[:, t : t + TRANSPOSE_BLOCK] = block[t : t + TRANSPOSE_BLOCK].T
    return out


def attr_text(value) -> str:
    """An HDF5 attribute as a str (bytes, numpy bytes and 1-element arrays included)."""
    if isinstance(value, np.ndarray):
        if value.size == 0:
            return ""
        if value.size == 1:
            value = value.reshape(-1)[0]
        else:
            return ", ".join(attr_text(v) for v in value.reshape(-1))
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", "replace").strip("\x00").strip()
    return str(value).strip()


def attr_number(value) -> float:
    """An HDF5 attribute as a float (1-element arrays and numeric strings included)."""
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0]
    if isinstance(value, (bytes, np.bytes_, str)):
        return float(attr_text(value))
    return float(value)


#: vendor words for what the samples measure (data types, products), compared without case,
#: spaces or punctuation, and the quantity each names
_QUANTITY_WORDS = {
    "strainrate": "strain_rate",
    "strain": "strain",
    "velocity": "velocity",
    "particlevelocity": "velocity",
    "temperature": "temperature",
    "attenuation": "attenuation",
    "backscatter": "backscatter",
    "psd": "psd",
    "powerspectraldensity": "psd",
    "spectrum": "spectrum",
    "spectra": "spectrum",
}
#: units (lower case, no spaces, micro as "u") and the quantity each is the unit of
_QUANTITY_UNITS = {
    **dict.fromkeys(
        [
            "strain/s",
            "1/s",
            "s^-1",
            "s-1",
            "ε/s",
            "uε/s",
            "nε/s",
            "pε/s",
            "ustrain/s",
            "nstrain/s",
            "microstrain/s",
            "microstrain/second",
            "nanostrain/s",
            "nanostrain/second",
        ],
        "strain_rate",
    ),
    **dict.fromkeys(
        ["ε", "uε", "nε", "pε", "m/m", "ustrain", "nstrain", "microstrain", "nanostrain"],
        "strain",
    ),
    **dict.fromkeys(["m/s", "mm/s", "um/s", "nm/s"], "velocity"),
    **dict.fromkeys(["°c", "degc", "degreec", "degreescelsius", "celsius", "k", "kelvin"], "temperature"),
    **dict.fromkeys(["db/m", "db/km"], "attenuation"),
    "db": "backscatter",
}


def quantity_of(*texts) -> str:
    """The quantity (a word of :data:`QUANTITIES`) that a vendor's data type or
    unit names: the first of ``texts`` (``"strain-rate"``, ``"micro-strain/second"``,
    ``"m / s"``, ``"rad2/Hz"``, bytes too) that names one; ``"unknown"`` when none
    does (``""``, ``"counts"``, ``"rad"``, ``"NaN"``)."""
    for value in texts:
        if value is None:
            continue
        raw = attr_text(value).lower().replace("µ", "u").replace("μ", "u")
        word = "".join(c for c in raw if c.isalnum())
        if word in _QUANTITY_WORDS:
            return _QUANTITY_WORDS[word]
        unit = "".join(c for c in raw if not c.isspace()).replace("micro-", "micro").replace("nano-", "nano")
        unit = unit.replace("sec", "s") if unit.endswith("/sec") else unit
        if unit in _QUANTITY_UNITS:
            return _QUANTITY_UNITS[unit]
        if unit.endswith("/hz"):  # a power spectral density: (unit)^2/Hz
            return "psd"
    return "unknown"


def _attr_key(name: str) -> str:
    return "".join(c for c in str(name).lower() if c.isalnum())


def decimal_number(value) -> float:
    """An attribute as a float, a float32 taken as the decimal it was written
    from: ``float32(0.001)`` is 0.001 s, not 0.0010000000474974513 s (which
    drifts by 47 µs over a million samples)."""
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0]
    if isinstance(value, np.float32):
        return float(str(value))
    return attr_number(value)


#: length units vendors name, in metres
LENGTH_UNITS = {
    "m": 1.0,
    "meter": 1.0,
    "meters": 1.0,
    "metre": 1.0,
    "metres": 1.0,
    "ft": 0.3048,
    "feet": 0.3048,
    "cm": 0.01,
    "mm": 0.001,
    "km": 1000.0,
    "usft": 1200 / 3937,
}


def metres_per(url: str, unit, what: str) -> float:
    """Metres in one ``unit`` (``"m"``, ``"meters"``, ``"ft"``, ...; bytes too) of ``what``.

    Raises
    ------
    FormatError
        Naming ``url``, ``what`` and the unit, when raydas does not know it.
    """
    key = attr_text(unit).lower().replace(" ", "").replace("[", "").replace("]", "")
    if key not in LENGTH_UNITS:
        raise FormatError(url, f"{what} is in unit {attr_text(unit)!r}; raydas knows {', '.join(LENGTH_UNITS)}")
    return LENGTH_UNITS[key]


def time_runs(url: str, stamps_ns, what: str, dt: float | None = None) -> list[tuple[int, int, int, float]]:
    """The regular runs of a file's sample times, as records are made of them.

    Parameters
    ----------
    url
        The file (named in errors).
    stamps_ns
        The time of every sample, ns since 1970 (UTC), as the file stores them.
    what
        What the stamps are (``"DasRawData/DasTimeArray"``), for errors.
    dt
        The interval the file declares (s), if any: it splits the runs and is
        the interval of a run of one sample; else the median step.

    Returns
    -------
    list of (first, stop, start_ns, dt)
        One per run: its sample index range, its first time (ns, UTC) and its
        interval (s, the mean step over the run). A run breaks wherever two
        stamps are not one interval apart (within half of one): a gap.

    Raises
    ------
    FormatError
        When the stamps are empty, not increasing, stray more than a quarter
        of an interval from their run's regular grid, or most steps are off the
        grid (irregular sampling, which raydas does not turn into a regular
        rate), or when a single stamp gives no interval and the file declares none.
    """
    t = np.asarray(stamps_ns, dtype=np.int64).reshape(-1)
    if t.size == 0:
        raise FormatError(url, f"{what} holds no time")
    steps = np.diff(t)
    if steps.size and not np.all(steps > 0):
        raise FormatError(url, f"{what} is not increasing (sample {int(np.argmin(steps > 0)) + 1})")
    if dt is None and t.size == 1:
        raise FormatError(url, f"{what} holds one time and the file states no sample interval")
    median, runs = regular_runs(t, dt)
    if len(runs) > 1 and len(runs) - 1 > (t.size - 1) / 2:  # most steps off the grid: no regular rate at all
        raise FormatError(
            url,
            f"{what}: {len(runs) - 1} of {t.size - 1} steps differ from the interval {median:g} s by more than half "
            "of it (irregular sampling, which raydas does not read as a regular rate)",
        )
    out = []
    for lo, hi in runs:
        n = hi - lo
        step = (int(t[hi - 1]) - int(t[lo])) / (n - 1) / NS_PER_S if n > 1 else median
        stray = np.abs(t[lo:hi] - int(t[lo]) - np.round(np.arange(n) * step * NS_PER_S)).max()
        if stray > 0.25 * step * NS_PER_S:
            raise FormatError(
                url,
                f"{what}: samples {lo}-{hi - 1} stray up to {stray / NS_PER_S:g} s from a regular grid of "
                f"{step:g} s (irregular sampling, which raydas does not read as a regular rate)",
            )
        out.append((lo, hi, int(t[lo]), float(step)))
    return out


def run_key(dataset: str, lo: int, hi: int, n: int) -> str:
    """The key of the record holding samples ``[lo, hi)`` of the ``n`` of ``dataset``:
    the data set's name when the record is all of it, else ``"<dataset>#samples<lo>-<hi>"``."""
    return dataset if (lo, hi) == (0, n) else f"{dataset}#samples{lo}-{hi}"


def required_number(url: str, value, what: str) -> float:
    """A metadata ``value`` (attribute or data-set value) as a float, or a
    FormatError naming the file and ``what`` (which vendor field, in which unit)
    when it is missing or not a number."""
    if value is None:
        raise FormatError(url, f"has no {what}")
    try:
        return attr_number(value)
    except (TypeError, ValueError) as exc:
        raise FormatError(url, f"{what} is not a number ({attr_text(value)!r})") from exc


def check_declared_size(url: str, what: str, declared_bytes: int, stored_bytes: int) -> None:
    """Refuse a size a file declares that its storage does not hold, before any
    memory or disk is committed to it.

    Parameters
    ----------
    url
        The file, named in the error.
    what
        What declares the size, e.g. ``"data set /DAS (150 x 4082 int32)"``.
    declared_bytes
        Bytes the headers say there are.
    stored_bytes
        Bytes the file really holds for it (the file size past the headers,
        HDF5's allocated storage).

    Raises
    ------
    FormatError
        When ``declared_bytes`` exceeds ``stored_bytes``, with both numbers.
    """
    stored_extent(url, what, int(declared_bytes), int(stored_bytes), "bytes", partial=False)


def stored_extent(url: str, what: str, declared: int, stored: int, unit: str = "samples", partial: bool = True) -> int:
    """How much of what a file declares it really stores: ``declared`` when
    ``stored`` covers it; otherwise (``partial``) the ``stored`` part, with a
    :class:`~raydas.errors.TruncatedFileWarning` naming the file, so only
    what is there is read.

    Parameters
    ----------
    url, what
        The file and what declares the extent (named in the warning or error).
    declared, stored
        The extent the headers declare and the extent stored, in ``unit``
        (samples per channel, traces, bytes).
    partial
        Whether reading the stored part alone makes sense (leading time samples
        do; a part of a header-described block does not).

    Raises
    ------
    FormatError
        When less is stored than declared and ``partial`` is false, or nothing is stored.
    """
    if stored >= declared:
        return declared
    said = f"{what}: {declared} {unit} declared, but the file holds {max(stored, 0)}"
    why = "the file is truncated, or its header lies"
    if not partial or stored <= 0:
        raise FormatError(url, f"{said}; refusing to read what is not there ({why})")
    warnings.warn(f"{url}: {said} complete ones; reading those {stored} ({why})", TruncatedFileWarning, stacklevel=2)
    return stored


def checked(url: str, validator, value, what: str):
    """``validator(value, what)`` (one of :mod:`raydas.plausible`'s), its ValueError
    turned into a FormatError naming ``url``: a file whose sample rate, interval,
    spacing or time is not plausible fails alone, named."""
    try:
        return validator(value, what)
    except ValueError as exc:
        raise FormatError(url, str(exc)) from None


def attr_lookup(attrs, *names: str, default=None):
    """The first of ``names`` found in ``attrs`` (an h5py ``AttributeManager``
    or a mapping), matched ignoring case, spaces, punctuation and bracketed
    units, so ``"SamplingFrequency[Hz]"`` also finds ``"Sampling Frequency (Hz)"``.
    Returns ``default`` when none is there."""
    for name in names:
        if name in attrs:
            return attrs[name]
    wanted = [_attr_key(n) for n in names]
    keys = {_attr_key(k): k for k in attrs.keys()}
    for key in wanted:
        if key in keys:
            return attrs[keys[key]]
    return default


def axis_order_from_names(names, url: str, n_channels: int | None = None, shape=None) -> bool:
    """True when a vendor's dimension names (``["time", "distance"]``,
    ``"locus, time"``, ...) put time first (the first name is matched by its
    start: ``"time_s"`` is time, ``"locus_index"`` a distance axis). When the names are missing, a
    known channel count decides against ``shape``; otherwise time first.

    Raises
    ------
    FormatError
        When the names are present but name neither a time nor a distance axis first.
    """
    text = attr_text(names).lower().replace(" ", "") if names is not None else ""
    if text:
        first = text.split(",")[0]
        if first == "t" or first.startswith("time"):
            return True
        if first == "x" or first.startswith(("locus", "distance", "channel", "space", "depth")):
            return False
        raise FormatError(url, f"unknown dimension names {text!r}; expected time and distance/locus")
    if n_channels is not None and shape is not None and len(shape) == 2:
        if shape[0] == n_channels and shape[1] != n_channels:
            return False
    return True


def epoch_ns(url: str, values, unit_s: float, what: str) -> np.ndarray:
    """Stamps a file stores as float epoch times (``unit_s`` seconds per unit:
    1.0 for seconds, 1e-6 for microseconds) as int64 ns since 1970 (UTC),
    rounded to the microsecond (a float64 of today's epoch seconds holds no
    finer digit).

    Raises
    ------
    FormatError
        Naming ``url`` and ``what``, when a stamp is missing (NaN, inf) or before 1970.
    """
    t = np.asarray(values, dtype=np.float64).reshape(-1)
    if t.size == 0:
        raise FormatError(url, f"{what} holds no time")
    if not np.isfinite(t).all() or (t < 0).any() or (t * unit_s > 1e11).any():
        bad = int(np.flatnonzero(~np.isfinite(t) | (t < 0) | (t * unit_s > 1e11))[0])
        raise FormatError(url, f"{what}[{bad}] = {float(t[bad])!r} is not a time since 1970")
    return np.round(t * (unit_s * 1e6)).astype(np.int64) * 1000


def reading_interval(url: str, stamps_ns: np.ndarray, what: str, single: float | None = None) -> float:
    """The ``dt`` of a record of stamped readings: their median step (s), or for
    one reading ``single`` (its acquisition time, as the file states it; 1 s
    when the file states none). Only a description: such a record keeps its
    stamps (:attr:`RecordInfo.times_ns`) and no command reads it as a rate.

    Raises
    ------
    FormatError
        Naming ``url`` and ``what``, when the stamps do not increase.
    """
    steps = np.diff(np.asarray(stamps_ns, dtype=np.int64))
    if steps.size and not (steps > 0).all():
        raise FormatError(url, f"{what} is not increasing (reading {int(np.argmin(steps > 0)) + 1})")
    if steps.size:
        return float(np.median(steps)) / NS_PER_S
    return float(single) if single is not None and single > 0 else 1.0
