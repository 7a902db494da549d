"""`Chunk`: the one type that flows through raydas.

A chunk is a 2-D block of samples laid out ``(channel, time)``, float32 by
default, with the coordinates needed to interpret it. It may carry a *halo*:
extra samples before and after its own time span, read from the neighbouring
data so that filters see the same context as on the whole record. The halo is
trimmed from results before they are written.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .timeutil import NS_PER_S, to_iso, unix_stem


@dataclass(frozen=True)
class Placement:
    """Where a chunk's own samples lie in its recording, as the planner cut it.

    Writers that fill one array per recording from many processes at once
    (``write_zarr``) place each chunk by it, without asking anyone.

    Attributes
    ----------
    recording_start_ns
        Time of the recording's first sample, ns since 1970 (UTC); it names the recording.
    first
        Index in the recording of the chunk's first own sample (a multiple of ``chunk_samples``).
    samples
        Samples in the whole recording.
    chunk_samples
        Own samples of every chunk of the recording but its last (the planner's chunk length).
    """

    recording_start_ns: int
    first: int
    samples: int
    chunk_samples: int


@dataclass
class Chunk:
    """A block of DAS samples and its coordinates.

    Attributes
    ----------
    data
        Array of shape ``(n_channels, n_samples)`` including the halo samples.
    data_start_ns
        Time of ``data[:, 0]`` (the first halo sample, if any), ns since
        1970-01-01 UTC. :attr:`start_ns` is the time of the chunk's own first
        sample (halo excluded), as everywhere else in raydas.
    dt
        Sample interval in seconds.
    positions
        Position of each channel along the fibre in metres, shape ``(n_channels,)``.
    halo
        ``(before, after)``: how many samples at each end of ``data`` belong to
        the neighbours rather than to this chunk.
    units
        Unit of the samples, e.g. ``"strain/s"``; ``""`` when unknown.
    gauge_length
        Gauge length in metres (``nan`` when unknown).
    source
        Where the samples came from (file URLs, ``;``-separated).
    index
        Position of this chunk in its recording (0-based).
    attrs
        Free-form metadata (vendor headers worth keeping).
    output_id
        The chunk's output identity, what writers name its files by:
        ``<recording label>/<stem>`` (or ``<stem>`` alone in distpy's layout),
        set by the planner (:mod:`raydas.identity`); the stem alone when not given.
    writes_shared
        True when this chunk writes the files its output folder's chunks share
        (distpy's ``measured_depth.npy`` and ``time.npy``): the planner gives
        that to one chunk per folder; a chunk made by hand writes them.
    times_ns
        The time of every sample in ``data`` (int64 ns, UTC) when the samples
        are not regularly spaced (a record with stamps,
        :attr:`raydas.formats.RecordInfo.times_ns`); ``dt`` is then only their
        median step. ``None`` for regular samples.
    placement
        Where the chunk lies in its recording (:class:`Placement`); None for a
        chunk that was not cut from a planned recording.
    """

    data: Any
    data_start_ns: int
    dt: float
    positions: np.ndarray
    halo: tuple[int, int] = (0, 0)
    units: str = ""
    gauge_length: float = float("nan")
    source: str = ""
    index: int = 0
    attrs: dict = field(default_factory=dict)
    output_id: str = ""
    writes_shared: bool = True
    times_ns: np.ndarray | None = None
    placement: Placement | None = None

    def __post_init__(self):
        if getattr(self.data, "ndim", None) != 2:
            raise ValueError(f"Chunk data must be 2-D (channel, time), got shape {getattr(self.data, 'shape', None)}")
        self.positions = np.asarray(self.positions, dtype=np.float64).reshape(-1)
        if self.positions.shape[0] != self.data.shape[0]:
            raise ValueError(f"{self.positions.shape[0]} channel positions for {self.data.shape[0]} channels")
        before, after = (int(h) for h in self.halo)
        if before < 0 or after < 0 or before + after > self.data.shape[1]:
            raise ValueError(f"halo {self.halo} does not fit {self.data.shape[1]} samples")
        self.halo = (before, after)
        self.data_start_ns = int(self.data_start_ns)
        self.dt = float(self.dt)
        if not self.output_id:
            self.output_id = self.stem
        if self.times_ns is not None:
            self.times_ns = np.asarray(self.times_ns, dtype=np.int64).reshape(-1)
            if self.times_ns.shape[0] != self.data.shape[1]:
                raise ValueError(f"{self.times_ns.shape[0]} time stamps for {self.data.shape[1]} samples")
            if self.times_ns.size:
                self.data_start_ns = int(self.times_ns[0])

    # --- sampling -----------------------------------------------------------
    @property
    def sample_rate(self) -> float:
        """Samples per second (Hz)."""
        return 1.0 / self.dt

    @property
    def n_channels(self) -> int:
        return int(self.data.shape[0])

    @property
    def n_samples(self) -> int:
        """Samples of the chunk itself, halo excluded."""
        return int(self.data.shape[1]) - self.halo[0] - self.halo[1]

    @property
    def start_ns(self) -> int:
        """Time of the first sample that belongs to this chunk, halo excluded (ns, UTC)."""
        if self.times_ns is not None and self.halo[0] < self.times_ns.size:
            return int(self.times_ns[self.halo[0]])
        return self.data_start_ns + int(round(self.halo[0] * self.dt * NS_PER_S))

    @property
    def duration(self) -> float:
        """Duration of the chunk itself in seconds, halo excluded."""
        return self.n_samples * self.dt

    @property
    def stem(self) -> str:
        """Output file stem: the unix time of the chunk's first own sample."""
        return unix_stem(self.start_ns)

    @property
    def core(self):
        """The samples of the chunk itself (a view, halo removed)."""
        before, after = self.halo
        return self.data[:, before : self.data.shape[1] - after]

    def times(self) -> np.ndarray:
        """Time of every sample in ``data`` as ``datetime64[ns]`` (its stamps, when it has them)."""
        if self.times_ns is not None:
            return self.times_ns.astype("datetime64[ns]")
        offsets = np.round(np.arange(self.data.shape[1]) * self.dt * NS_PER_S).astype(np.int64)
        return (self.data_start_ns + offsets).astype("datetime64[ns]")

    def trimmed(self) -> Chunk:
        """A copy of this chunk's metadata around its core samples, halo (0, 0)."""
        before, after = self.halo
        stamps = None if self.times_ns is None else self.times_ns[before : self.times_ns.size - after]
        return replace(self, data=self.core, data_start_ns=self.start_ns, halo=(0, 0), times_ns=stamps)

    # --- xarray ----------------------------------------------------------------
    def to_xarray(self):
        """This chunk (halo included) as an ``xarray.DataArray``.

        Dimensions ``("distance", "time")``: ``distance`` in m along the fibre,
        ``time`` as ``datetime64[ns]`` (UTC). ``attrs`` hold ``units``,
        ``gauge_length`` (m), ``dt`` (s), ``halo`` (samples before, after),
        ``source`` and ``index``; :meth:`from_xarray` reads them back.
        Needs the optional ``xarray`` extra (``pip install 'raydas[xarray]'``).
        """
        xr = _xarray()
        attrs = {
            "units": self.units,
            "gauge_length": float(self.gauge_length),
            "dt": self.dt,
            "halo": list(self.halo),
            "source": self.source,
            "index": self.index,
        }
        return xr.DataArray(
            self.data,
            dims=("distance", "time"),
            coords={"distance": ("distance", self.positions, {"units": "m"}), "time": self.times()},
            attrs=attrs,
            name="das",
        )

    @classmethod
    def from_xarray(cls, array) -> Chunk:
        """A Chunk from a DataArray with ``distance`` (m) and ``time``
        (``datetime64``) dimensions, as :meth:`to_xarray` makes (either order).

        The sample interval is ``attrs["dt"]`` when present, else the time
        coordinate's spacing, which must then be regular.
        """
        _xarray()
        missing = {"distance", "time"} - set(array.dims)
        if missing or array.ndim != 2:
            raise ValueError(f"DataArray needs 2 dimensions named distance and time; it has {array.dims}")
        array = array.transpose("distance", "time")
        times = array["time"].values.astype("datetime64[ns]").astype(np.int64)
        dt = array.attrs.get("dt")
        if dt is None:
            steps = np.diff(times)
            if steps.size == 0 or np.ptp(steps) > 0.001 * steps.mean():
                raise ValueError("time coordinate is not regularly sampled and attrs has no 'dt'")
            dt = float(steps.mean()) / NS_PER_S
        return cls(
            data=np.asarray(array.values),
            data_start_ns=int(times[0]),
            dt=float(dt),
            positions=np.asarray(array["distance"].values, dtype=np.float64),
            halo=tuple(int(h) for h in array.attrs.get("halo", (0, 0))),
            units=str(array.attrs.get("units", "")),
            gauge_length=float(array.attrs.get("gauge_length", float("nan"))),
            source=str(array.attrs.get("source", "")),
            index=int(array.attrs.get("index", 0)),
        )

    def __repr__(self) -> str:
        sampling = (
            f"{self.n_samples} readings stamped"
            if self.times_ns is not None
            else f"{self.n_samples} samples @ {self.sample_rate:g} Hz"
        )
        return (
            f"Chunk({self.n_channels} ch x {sampling}, "
            f"start {to_iso(self.start_ns)}, halo {self.halo}, {self.data.dtype})"
        )


def _xarray():
    try:
        import xarray
    except ImportError as exc:
        raise ImportError("Chunk.to_xarray/from_xarray need xarray: pip install 'raydas[xarray]'") from exc
    return xarray
