"""miniSEED DAS files: each fibre channel stored as one seismic trace
(the channel number usually in the station code), read with ObsPy.

One file is one record of ``(channel, time)``:

* channels are the distinct trace ids (``NET.STA.LOC.CHA``), ordered by
  station code (numerically when the codes are numbers); their positions are
  those numbers (channel indices, not metres: miniSEED carries no geometry),
  or 0, 1, 2... otherwise;
* every channel must share one sample rate and a common time grid;
* **unequal lengths**: the record is the span that *every* channel covers
  (latest start to earliest end). Samples outside it are not read; the scan
  says so with an :class:`UnequalTracesWarning` and in ``attrs["trimmed"]``
  (samples dropped per channel at the start and end). Padding with NaN would
  invent data the processing would then filter;
* **gaps**: a gap in any channel splits the file into one record per
  stretch that every channel covers without a gap (keys ``segment0``,
  ``segment1``, ...), so the gap is a break between records, which the run
  reports as a discontinuity like a gap between files. Samples are never
  zero-filled, interpolated or shifted across a gap;
* a file cut inside a record is read up to its last complete record, with a
  :class:`~raydas.errors.TruncatedFileWarning`.

ObsPy reads from file objects, so files on object stores are fetched whole
into memory (miniSEED files are usually minutes long: tens of MB at most).
"""

from __future__ import annotations

import io
import warnings

import numpy as np

from ..errors import FormatError, RaydasError, TruncatedFileWarning
from ..fsutil import is_local, url_to_fs
from ..timeutil import NS_PER_S
from . import register
from .base import Format, Probe, RecordInfo, as_float32, check_declared_size

#: fewest bytes a miniSEED sample takes: Steim-2 packs at most 105 samples in a 64-byte frame
MIN_BYTES_PER_SAMPLE = 0.5


class UnequalTracesWarning(UserWarning):
    """The traces of a file do not cover the same time span; their common span is read."""


def _obspy():
    try:
        import obspy
    except ImportError as exc:  # pragma: no cover - obspy is a main dependency
        raise RaydasError("reading miniSEED needs ObsPy: pip install obspy") from exc
    return obspy


def _stream(url: str, headonly: bool, **kwargs):
    fs, path = url_to_fs(url)
    source = path if is_local(fs) else io.BytesIO(fs.cat_file(path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            stream = _obspy().read(source, format="MSEED", headonly=headonly, **kwargs)
        except Exception as exc:  # ObsPy raises many types on damaged records
            raise FormatError(url, f"is not readable miniSEED ({type(exc).__name__}: {exc})") from exc
    for w in caught:
        if "end of file" in str(w.message).lower():
            warnings.warn(f"{url}: truncated miniSEED: {w.message}", TruncatedFileWarning, stacklevel=3)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return stream


def _ns(utc) -> int:
    return int(utc.ns)


def _channel_order(ids: list[str]) -> tuple[list[str], np.ndarray]:
    """Trace ids sorted by station code, and the channel numbers they carry."""
    stations = [i.split(".")[1] for i in ids]
    if all(s.isdigit() for s in stations):
        order = sorted(range(len(ids)), key=lambda k: (int(stations[k]), ids[k]))
        return [ids[k] for k in order], np.array([int(stations[k]) for k in order], dtype=np.float64)
    ordered = sorted(ids)
    return ordered, np.arange(len(ordered), dtype=np.float64)


def _pieces_of(url: str, tid: str, traces, dt_ns: float) -> list[list[int]]:
    """The gap-free stretches ``[start_ns, end_ns)`` one channel covers (its
    traces merged where they touch or overlap; a step of more than half a
    sample between them is a gap)."""
    stretches: list[list[int]] = []
    for tr in sorted(traces, key=lambda tr: tr.stats.starttime):
        s = _ns(tr.stats.starttime)
        e = s + int(round(tr.stats.npts * dt_ns))
        if stretches and s - stretches[-1][1] <= 0.5 * dt_ns:
            offset = (s - stretches[-1][0]) / dt_ns
            if abs(offset - round(offset)) > 0.01:
                raise FormatError(url, f"channel {tid} has a trace off its own time grid at {tr.stats.starttime}")
            stretches[-1][1] = max(stretches[-1][1], e)
        else:
            stretches.append([s, e])
    return stretches


def _intersect(a: list[list[int]], b: list[list[int]]) -> list[list[int]]:
    """The stretches both ``a`` and ``b`` (sorted lists of ``[start, end)``) cover."""
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            out.append([lo, hi])
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _common_span(url: str, stream) -> dict:
    """Channels, sampling and the gap-free stretches all channels cover, from trace headers."""
    if len(stream) == 0:
        raise FormatError(url, "holds no miniSEED traces")
    rates = {float(tr.stats.sampling_rate) for tr in stream}
    if len(rates) != 1 or not next(iter(rates)) > 0:
        raise FormatError(url, f"traces have different sample rates ({sorted(rates)} Hz); one record needs one")
    dt_ns = NS_PER_S / rates.pop()
    by_id: dict[str, list] = {}
    for tr in stream:
        by_id.setdefault(tr.id, []).append(tr)
    ids, positions = _channel_order(list(by_id))
    pieces = {tid: _pieces_of(url, tid, by_id[tid], dt_ns) for tid in ids}
    common = pieces[ids[0]]
    for tid in ids[1:]:
        common = _intersect(common, pieces[tid])
    segments = []
    for lo, hi in common:
        for tid in ids:  # every channel's samples must fall on the segment's grid
            s0 = next(s for s, e in pieces[tid] if s <= lo < e)
            offset = (lo - s0) / dt_ns
            if abs(offset - round(offset)) > 0.01:
                raise FormatError(url, f"channel {tid} is sampled off the common time grid ({offset:.3f} samples)")
        n = int(round((hi - lo) / dt_ns))
        if n > 0:
            segments.append((lo, n))
    if not segments:
        raise FormatError(url, "its channels share no common time span")
    first, last = segments[0][0], segments[-1][0] + int(round(segments[-1][1] * dt_ns))
    spans = {tid: (p[0][0], p[-1][1]) for tid, p in pieces.items()}
    trimmed = {tid: [int(round((first - s) / dt_ns)), int(round((e - last) / dt_ns))] for tid, (s, e) in spans.items()}
    return {
        "ids": ids,
        "positions": positions,
        "dt_ns": dt_ns,
        "segments": segments,
        "n": sum(n for _, n in segments),
        "trimmed": {k: v for k, v in trimmed.items() if v != [0, 0]},
    }


@register
class MiniSeedFormat(Format):
    name = "mseed"
    description = "miniSEED (ObsPy): one trace per fibre channel, read over the span all channels cover"
    extensions = (".mseed", ".miniseed", ".ms")
    versions = ("2", "3")
    tested_on = (
        "real/mseed/etna_9n_3chan_10s.mseed",
        "fibre/mseed/geofon_1D_HSF.mseed",
        "fibre/mseed/geofon_3X_HSF.mseed",
        "fibre/mseed/geofon_5J_HSF.mseed",
        "fibre/mseed/geofon_ZH_HSF.mseed",
    )

    suffixes = (".mseed", ".miniseed", ".msd")

    def signature(self, head: bytes) -> bool:
        """miniSEED 3's ``MS3``, or miniSEED 2's fixed header: a 6-digit sequence number
        (digits, spaces or NUL), a quality code (D, R, Q, M) and a reserved byte."""
        if head[:2] == b"MS" and head[2:3] == b"\x03":
            return True
        seq_ok = len(head) >= 8 and all(c in b"0123456789 \x00" for c in head[:6])
        return seq_ok and head[6:7] in (b"D", b"R", b"Q", b"M") and head[7:8] in (b" ", b"\x00")

    def detect(self, probe: Probe) -> bool:
        return not probe.is_dir and len(probe.head) >= 48 and self.signature(probe.head)

    def scan(self, probe: Probe) -> list[RecordInfo]:
        stream = _stream(probe.url, headonly=True)
        declared = sum(int(tr.stats.npts) for tr in stream)
        what = f"miniSEED record headers ({declared} samples, at least {MIN_BYTES_PER_SAMPLE:g} bytes each)"
        check_declared_size(probe.url, what, int(declared * MIN_BYTES_PER_SAMPLE), probe.size)
        span = _common_span(probe.url, stream)
        if span["trimmed"]:
            warnings.warn(
                f"{probe.url}: miniSEED traces have unequal spans; reading the {span['n']} samples all channels "
                f"cover and dropping [start, end] samples {span['trimmed']}",
                UnequalTracesWarning,
                stacklevel=2,
            )
        first = stream[0].stats
        segments = span["segments"]
        attrs = {
            "trace_ids": span["ids"],
            "trimmed": span["trimmed"],
            "network": first.network,
            "channel_code": first.channel,
            "position_source": "station code (channel number)",
        }
        return [
            RecordInfo(
                path=probe.url,
                format=self.name,
                n_channels=len(span["ids"]),
                n_samples=n,
                dt=span["dt_ns"] / NS_PER_S,
                start_ns=start_ns,
                positions=span["positions"],
                units="counts",
                key=f"segment{k}" if len(segments) > 1 else "",
                attrs=attrs if len(segments) == 1 else {**attrs, "segment": k, "segments": len(segments)},
                # channel numbers taken for metres; "counts" is what miniSEED usually holds, not what it says
                assumed=("positions", "units"),
            )
            for k, (start_ns, n) in enumerate(segments)
        ]

    def read_samples(self, record: RecordInfo, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
        ids = record.attrs["trace_ids"][channels]
        if stop <= start or not ids:
            return np.zeros((len(ids), max(stop - start, 0)), dtype=np.float32)
        obspy = _obspy()
        dt_ns = record.dt * NS_PER_S
        t0 = obspy.UTCDateTime(ns=record.start_ns + int(round(start * dt_ns)))
        t1 = obspy.UTCDateTime(ns=record.start_ns + int(round((stop - 1) * dt_ns)))
        stream = _stream(record.path, headonly=False, starttime=t0 - record.dt / 2, endtime=t1 + record.dt / 2)
        stream.merge(method=1)
        out = np.empty((len(ids), stop - start), dtype=np.float32)
        for row, tid in enumerate(ids):
            traces = stream.select(id=tid)
            if not traces:
                raise FormatError(record.path, f"channel {tid} has no samples between {t0} and {t1}")
            tr = traces[0]
            offset = int(round((_ns(tr.stats.starttime) - _ns(t0)) / dt_ns))
            values = np.ma.filled(tr.data, np.nan)[max(-offset, 0) :]
            if offset > 0 or values.shape[0] < stop - start:
                raise FormatError(record.path, f"channel {tid} does not cover samples {start}:{stop}")
            out[row] = as_float32(values[: stop - start])
        return out
