"""From scanned records to chunks.

Scanned records are ordered in time and joined into `Recording`s: runs of
records with the same channels and sampling that follow each other without a
gap. Gaps, overlaps and layout changes end a recording and are reported as
`Discontinuity`s, so a chunk never silently bridges them.

A recording is cut into chunks of a fixed duration *across file boundaries*
(a chunk may take samples from two consecutive files), or of a fixed count of
readings (``chunk_readings``); each `ChunkPlan` says which samples of which
records make the chunk and its halo.

A record of stamped readings (:attr:`RecordInfo.times_ns`: slow DTS/DSS
readings at irregular times) is a recording of its own and has no sample rate:
with ``chunk_readings`` it is cut into chunks of that many readings; with a
duration only, into windows of that duration from its first stamp
(``[t0 + k L, t0 + (k + 1) L)``), each chunk holding the readings stamped in
its window (a window without any gives no chunk), so no rate is ever invented.
Its chunks have no halo: the commands that need one read a regular rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import formats
from .chunk import Chunk, Placement
from .formats.base import RecordInfo, assumed_names
from .timeutil import NS_PER_S, to_iso, unix_stem

#: records closer than this many samples are contiguous
CONTIGUITY_TOLERANCE = 0.5


@dataclass
class Discontinuity:
    """Why two consecutive records are not one recording."""

    kind: str  # "gap", "overlap", "sampling change", "channel change", "irregular time"
    before: str
    after: str
    detail: str

    def to_dict(self) -> dict:
        return {"kind": self.kind, "before": self.before, "after": self.after, "detail": self.detail}


@dataclass
class Recording:
    """Contiguous records with the same channels and sample interval."""

    records: list[RecordInfo]
    offsets: list[int] = field(default_factory=list)  # first sample of each record

    def __post_init__(self):
        if not self.offsets:
            total = 0
            for r in self.records:
                self.offsets.append(total)
                total += r.n_samples

    @property
    def first(self) -> RecordInfo:
        return self.records[0]

    @property
    def dt(self) -> float:
        return self.first.dt

    @property
    def sample_rate(self) -> float:
        return self.first.sample_rate

    @property
    def start_ns(self) -> int:
        return self.first.start_ns

    @property
    def n_samples(self) -> int:
        return self.offsets[-1] + self.records[-1].n_samples

    @property
    def n_channels(self) -> int:
        return self.first.n_channels

    @property
    def positions(self) -> np.ndarray:
        return self.first.positions

    @property
    def end_ns(self) -> int:
        if not self.first.regular:  # a record with stamps is never joined with another
            return self.first.end_ns
        return self.start_ns + int(round(self.n_samples * self.dt * NS_PER_S))

    def time_of(self, sample: int) -> int:
        """Time of a sample index of the recording (ns, UTC): its stamp for a record with stamps."""
        if not self.first.regular:
            return self.first.time_of(sample)
        return self.start_ns + int(round(sample * self.dt * NS_PER_S))

    def pieces(self, start: int, stop: int) -> list[tuple[RecordInfo, int, int]]:
        """``(record, first, stop)`` sample ranges covering ``[start, stop)``."""
        out = []
        for record, offset in zip(self.records, self.offsets):
            lo = max(start, offset)
            hi = min(stop, offset + record.n_samples)
            if hi > lo:
                out.append((record, lo - offset, hi - offset))
        return out


def _same_layout(a: RecordInfo, b: RecordInfo) -> tuple[str, str] | None:
    if not (a.regular and b.regular):  # stamped readings are never stitched into a regular series
        return "irregular time", "a record with its own time stamps is not joined with another"
    if a.n_channels != b.n_channels:
        return "channel change", f"{a.n_channels} channels then {b.n_channels}"
    if not math.isclose(a.dt, b.dt, rel_tol=1e-6):
        return "sampling change", f"{a.sample_rate:g} Hz then {b.sample_rate:g} Hz"
    if not np.allclose(a.positions, b.positions, rtol=0, atol=1e-3):
        return "channel change", "channel positions differ"
    return None


def assemble(records: list[RecordInfo]) -> tuple[list[Recording], list[Discontinuity]]:
    """Join time-ordered records into recordings; report every break.

    Records are first split by ``stream`` (parallel series such as the bands
    of a band-energy folder are never joined with each other), then each
    stream is joined in time.
    """
    streams: dict[str, list[RecordInfo]] = {}
    for record in records:
        streams.setdefault(record.stream, []).append(record)
    recordings: list[Recording] = []
    breaks: list[Discontinuity] = []
    for stream in streams.values():
        found, broken = _assemble_stream(stream)
        recordings.extend(found)
        breaks.extend(broken)
    recordings.sort(key=lambda r: (r.start_ns, r.first.stream, r.first.path, r.first.key))
    return recordings, breaks


def _assemble_stream(records: list[RecordInfo]) -> tuple[list[Recording], list[Discontinuity]]:
    records = sorted(records, key=lambda r: (r.start_ns, r.path, r.key))
    recordings: list[Recording] = []
    breaks: list[Discontinuity] = []
    current: list[RecordInfo] = []
    for record in records:
        if current:
            prev = current[-1]
            label_prev = prev.path + (f"#{prev.key}" if prev.key else "")
            label_next = record.path + (f"#{record.key}" if record.key else "")
            change = _same_layout(prev, record)
            gap_samples = (record.start_ns - prev.end_ns) / (prev.dt * NS_PER_S)
            reason = None
            if change:
                reason = Discontinuity(change[0], label_prev, label_next, change[1])
            elif gap_samples > CONTIGUITY_TOLERANCE:
                reason = Discontinuity(
                    "gap", label_prev, label_next, f"{gap_samples * prev.dt:.6g} s missing after {to_iso(prev.end_ns)}"
                )
            elif gap_samples < -CONTIGUITY_TOLERANCE:
                reason = Discontinuity(
                    "overlap",
                    label_prev,
                    label_next,
                    f"{-gap_samples * prev.dt:.6g} s overlap at {to_iso(record.start_ns)}",
                )
            if reason:
                breaks.append(reason)
                recordings.append(Recording(current))
                current = []
        current.append(record)
    if current:
        recordings.append(Recording(current))
    return recordings, breaks


@dataclass
class ChunkPlan:
    """Everything an ingest task needs to build one chunk (small, picklable).

    ``output_id`` (what its outputs are named by) and ``writes_shared`` (it writes
    its output folder's shared files) are given by :func:`raydas.identity.name_outputs`.
    """

    index: int
    recording_index: int  # which of the planned recordings
    start: int  # first own sample, index in the recording
    stop: int  # end of own samples (exclusive)
    halo: tuple[int, int]
    pieces: list[tuple[RecordInfo, int, int]]
    start_ns: int  # time of the first own sample
    dt: float
    positions: np.ndarray
    units: str = ""
    gauge_length: float = float("nan")
    output_id: str = ""
    writes_shared: bool = False
    placement: Placement | None = None  # where the chunk lies in its recording (set by plan_chunks)
    reduce_token: str = ""  # digest of its provenance, for the stacks of a reducing graph (raydas.runtime.reduce)

    @property
    def stem(self) -> str:
        return unix_stem(self.start_ns)

    @property
    def stamped(self) -> bool:
        """True when the chunk's readings carry their own time stamps (a record of
        :attr:`RecordInfo.times_ns`): it then has no sample rate, only its stamps."""
        return any(not r.regular for r, _, _ in self.pieces)

    @property
    def end_ns(self) -> int:
        """End of the chunk's own samples: the time just after its last one (ns, UTC).
        For stamped readings, the stamp of the record's next reading, or after the
        record's last reading its :attr:`RecordInfo.end_ns` (last stamp plus the median step)."""
        if self.stamped:
            record, lo, hi = self.pieces[-1]
            after = hi - self.halo[1]  # the record's first reading after the chunk's own
            return record.time_of(after) if after < record.n_samples else record.end_ns
        return self.start_ns + int(round((self.stop - self.start) * self.dt * NS_PER_S))

    @property
    def times_ns(self) -> np.ndarray | None:
        """The stamps (int64 ns, UTC) of every sample the chunk reads, halo included, for
        stamped readings (:attr:`stamped`); None for regularly sampled chunks."""
        if not self.stamped:
            return None
        return np.concatenate([r.times_ns[lo:hi] for r, lo, hi in self.pieces])

    @property
    def sources(self) -> list[str]:
        return sorted({r.path for r, _, _ in self.pieces})

    @property
    def assumed(self) -> tuple[str, ...]:
        """The coordinates assumed rather than read for any record the chunk reads (:attr:`RecordInfo.assumed`)."""
        return assumed_names({a for r, _, _ in self.pieces for a in r.assumed})

    def read(self) -> Chunk:
        """Read the samples (halo included) and return the Chunk (float32)."""
        blocks = [formats.read_samples(record, lo, hi) for record, lo, hi in self.pieces]
        data = blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=1)
        before, _ = self.halo
        return Chunk(
            data=data,
            data_start_ns=self.start_ns - int(round(before * self.dt * NS_PER_S)),
            dt=self.dt,
            positions=self.positions,
            halo=self.halo,
            units=self.units,
            gauge_length=self.gauge_length,
            source=";".join(self.sources),
            index=self.index,
            output_id=self.output_id,
            writes_shared=self.writes_shared or not self.output_id,
            times_ns=self.times_ns,
            attrs={
                **({"assumed": self.assumed} if self.assumed else {}),
                **({"reduce_token": self.reduce_token} if self.reduce_token else {}),
                **_channel_coordinates(self.pieces[0][0]),
            },
            placement=self.placement,
        )


def chunk_bounds(rec: Recording, chunk_seconds: float, chunk_readings: int | None = None) -> list[tuple[int, int]]:
    """``(start, stop)`` sample ranges (indices in ``rec``) of the chunks a recording is cut into.

    Parameters
    ----------
    rec
        The recording.
    chunk_seconds
        Chunk duration (s): ``round(chunk_seconds * sample_rate)`` samples for a
        regular recording; for stamped readings (no rate), windows of this duration
        from the first stamp, each holding the readings stamped in it (empty windows
        give no chunk).
    chunk_readings
        When given, every chunk holds this many readings (samples), whatever the
        sampling, and ``chunk_seconds`` is not used. The last chunk may hold fewer.
    """
    n = rec.n_samples
    if chunk_readings is not None:
        size = max(1, int(chunk_readings))
        return [(start, min(start + size, n)) for start in range(0, n, size)]
    if rec.first.regular:
        size = max(1, int(round(chunk_seconds * rec.sample_rate)))
        return [(start, min(start + size, n)) for start in range(0, n, size)]
    stamps = np.concatenate([r.times_ns for r in rec.records])
    window = max(1, int(round(chunk_seconds * NS_PER_S)))
    which = (stamps - stamps[0]) // window  # the window each reading falls in
    firsts = np.flatnonzero(np.diff(which)) + 1
    edges = [0, *firsts.tolist(), n]
    return list(zip(edges[:-1], edges[1:]))


def chunk_length(rec: Recording, chunk_seconds: float, chunk_readings: int | None = None) -> int | None:
    """Own samples of every chunk of ``rec`` but its last (:func:`chunk_bounds`); None when
    they differ (stamped readings cut by duration)."""
    if chunk_readings is not None:
        return max(1, int(chunk_readings))
    if rec.first.regular:
        return max(1, int(round(chunk_seconds * rec.sample_rate)))
    return None


def plan_chunks(
    recordings: list[Recording],
    chunk_seconds: float,
    halo_samples: int | None = None,
    halo_for=None,
    chunk_readings: int | None = None,
) -> list[ChunkPlan]:
    """Cut recordings into chunks (:func:`chunk_bounds`): of ``chunk_seconds``, or of
    ``chunk_readings`` readings when given (the last may be shorter).

    ``halo_samples`` (or ``halo_for(sample_rate)``) gives the halo wanted on
    each side; at a recording's ends the halo is whatever exists there. Stamped
    readings (no sample rate) get no halo.
    """
    plans: list[ChunkPlan] = []
    for r_index, rec in enumerate(recordings):
        size = chunk_length(rec, chunk_seconds, chunk_readings)
        halo = halo_samples if halo_for is None else halo_for(rec.sample_rate)
        halo = int(halo or 0) if rec.first.regular else 0
        for start, stop in chunk_bounds(rec, chunk_seconds, chunk_readings):
            lo = max(0, start - halo)
            hi = min(rec.n_samples, stop + halo)
            plans.append(
                ChunkPlan(
                    index=len(plans),
                    recording_index=r_index,
                    start=start,
                    stop=stop,
                    halo=(start - lo, hi - stop),
                    pieces=rec.pieces(lo, hi),
                    start_ns=rec.time_of(start),
                    dt=rec.dt,
                    positions=rec.positions,
                    units=rec.first.units,
                    gauge_length=rec.first.gauge_length,
                    # chunks of different lengths (stamped readings cut by duration) have no common grid
                    placement=None if size is None else Placement(rec.time_of(0), start, rec.n_samples, size),
                )
            )
    return plans


def _channel_coordinates(record: RecordInfo) -> dict:
    """The chunk attributes that carry a record's channel coordinates (X, Y, Z
    per channel, from a geometry table), if it has them."""
    if "channel_xyz" not in record.attrs:
        return {}
    return {
        "channel_xyz": record.attrs["channel_xyz"],
        "geometry": record.attrs.get("geometry", ""),
        "geometry_units": tuple(record.attrs.get("geometry_units", ("", "", ""))),
    }
