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
* a channel with a gap inside that span is an error naming the file, the
  channel and the gap;
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
from .base import Format, Probe, RecordInfo, as_float32


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


def _common_span(url: str, stream) -> dict:
    """Channels, sampling and the span all channels cover, from trace headers."""
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
    spans = {}
    for tid in ids:
        pieces = sorted(by_id[tid], key=lambda tr: tr.stats.starttime)
        t0 = _ns(pieces[0].stats.starttime)
        end = t0
        for tr in pieces:
            s = _ns(tr.stats.starttime)
            if s - end > 0.5 * dt_ns:
                raise FormatError(
                    url,
                    f"channel {tid} has a gap of {(s - end) / NS_PER_S:g} s at "
                    f"{tr.stats.starttime}; raydas reads gap-free miniSEED channels",
                )
            end = max(end, s + int(round(tr.stats.npts * dt_ns)))
        spans[tid] = (t0, end)
    start = max(s for s, _ in spans.values())
    stop = min(e for _, e in spans.values())
    for tid, (s, _) in spans.items():
        offset = (start - s) / dt_ns
        if abs(offset - round(offset)) > 0.01:
            raise FormatError(url, f"channel {tid} is sampled off the common time grid ({offset:.3f} samples)")
    n = int(round((stop - start) / dt_ns))
    if n <= 0:
        raise FormatError(url, "its channels share no common time span")
    trimmed = {tid: [int(round((start - s) / dt_ns)), int(round((e - stop) / dt_ns))] for tid, (s, e) in spans.items()}
    return {
        "ids": ids,
        "positions": positions,
        "dt_ns": dt_ns,
        "start": start,
        "n": n,
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

    def detect(self, probe: Probe) -> bool:
        head = probe.head
        if probe.is_dir or len(head) < 48:
            return False
        # fixed header: 6-digit sequence number (digits, spaces or NUL), quality code, reserved byte
        seq_ok = all(c in b"0123456789 \x00" for c in head[:6])
        v3 = head[:2] == b"MS" and head[2:3] == b"\x03"
        return v3 or (seq_ok and head[6:7] in b"DRQM" and head[7:8] in b" \x00")

    def scan(self, probe: Probe) -> list[RecordInfo]:
        stream = _stream(probe.url, headonly=True)
        span = _common_span(probe.url, stream)
        if span["trimmed"]:
            warnings.warn(
                f"{probe.url}: miniSEED traces have unequal spans; reading the {span['n']} samples all channels "
                f"cover and dropping [start, end] samples {span['trimmed']}",
                UnequalTracesWarning,
                stacklevel=2,
            )
        first = stream[0].stats
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
                n_samples=span["n"],
                dt=span["dt_ns"] / NS_PER_S,
                start_ns=span["start"],
                positions=span["positions"],
                units="counts",
                attrs=attrs,
            )
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
