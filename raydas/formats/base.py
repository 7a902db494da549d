"""What every format reader is: ``detect`` (by content), ``scan`` (metadata
only) and ``read`` (a window of samples), plus the `RecordInfo` a scan returns."""

from __future__ import annotations

import functools
import math
import posixpath
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..chunk import Chunk
from ..errors import FormatError, RaydasError
from ..fsutil import is_local, url_to_fs
from ..timeutil import NS_PER_S, to_iso

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


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

    def __post_init__(self):
        self.positions = np.asarray(self.positions, dtype=np.float64).reshape(-1)
        if self.positions.shape[0] != self.n_channels:
            raise FormatError(self.path, f"{self.positions.shape[0]} channel positions for {self.n_channels} channels")
        if not (self.dt > 0 and math.isfinite(self.dt)):
            raise FormatError(self.path, f"sample interval {self.dt!r} s is not a positive number")

    @property
    def sample_rate(self) -> float:
        """Samples per second (Hz)."""
        return 1.0 / self.dt

    @property
    def end_ns(self) -> int:
        """Time just after the last sample (exclusive), ns since epoch (UTC)."""
        return self.start_ns + int(round(self.n_samples * self.dt * NS_PER_S))

    @property
    def channel_spacing(self) -> float:
        """Median distance between neighbouring channels in metres (``nan`` for one channel)."""
        if self.n_channels < 2:
            return float("nan")
        return float(np.median(np.diff(self.positions)))

    def sample_index(self, t_ns: int) -> int:
        """Index of the first sample at or after ``t_ns`` (may be out of range)."""
        return int(math.ceil((t_ns - self.start_ns) / (self.dt * NS_PER_S) - 1e-6))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (what ``raydas scan --json`` prints)."""
        return {
            "path": self.path,
            "key": self.key,
            "format": self.format,
            "channels": self.n_channels,
            "samples": self.n_samples,
            "sample_rate_hz": self.sample_rate,
            "channel_spacing_m": _finite_or_none(self.channel_spacing),
            "first_position_m": _finite_or_none(float(self.positions[0])) if self.n_channels else None,
            "start": to_iso(self.start_ns),
            "end": to_iso(self.end_ns),
            "units": self.units,
            "gauge_length_m": _finite_or_none(self.gauge_length),
            "stream": self.stream,
        }


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

    def __init__(self, url: str):
        self.url = str(url)
        self.fs, self.path = url_to_fs(self.url)
        self._h5 = None

    @functools.cached_property
    def is_dir(self) -> bool:
        return self.fs.isdir(self.path)

    @functools.cached_property
    def size(self) -> int:
        return 0 if self.is_dir else int(self.fs.size(self.path))

    @functools.cached_property
    def head(self) -> bytes:
        if self.is_dir:
            return b""
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
        raise FormatError(url, f"cannot be opened as HDF5 ({exc})") from exc


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
    #: Name endings of the files (or folders) this format writes, e.g. ``(".sgy", ".segy")``;
    #: empty when it has no writer. :func:`raydas.formats.write` picks a writer by them.
    extensions: ClassVar[tuple[str, ...]] = ()
    #: False when the files do not state their sample rate (distpy's npy folders): a scan's
    #: ``ScanOptions.assumed_sample_rate`` then replaces the one the reader guessed.
    states_sample_rate: ClassVar[bool] = True

    def detect(self, probe: Probe) -> bool:
        """True when ``probe`` holds data in this format (judged by content)."""
        raise NotImplementedError

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
        record: int = 0,
    ) -> Chunk:
        """Read a time window ``[start_ns, end_ns)`` (ns, UTC) of one record of
        ``source`` (a URL, or a probe of it that detection made) as a Chunk."""
        if not isinstance(source, Probe):
            with Probe(source) as probe:
                return self.read(probe, start_ns, end_ns, channels, record)
        records = self.scan(source)
        if not records:
            raise FormatError(source.url, f"holds no {self.name} record")
        info = records[record]
        i0 = 0 if start_ns is None else min(max(info.sample_index(start_ns), 0), info.n_samples)
        i1 = info.n_samples if end_ns is None else min(max(info.sample_index(end_ns), i0), info.n_samples)
        data = self.read_samples(info, i0, i1, channels)
        return Chunk(
            data=data,
            data_start_ns=info.start_ns + int(round(i0 * info.dt * NS_PER_S)),
            dt=info.dt,
            positions=info.positions[channels],
            units=info.units,
            gauge_length=info.gauge_length,
            source=info.path,
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


def _attr_key(name: str) -> str:
    return "".join(c for c in str(name).lower() if c.isalnum())


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
