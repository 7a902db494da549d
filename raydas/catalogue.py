"""The catalogue: every record under one or more roots, as a partitioned Parquet data set.

A catalogue is a folder (local path or fsspec URL)::

    URL/_catalogue.json                                  state: schema version, roots, committed parts
    URL/_update.lock                                     the writer's lock, while one writes
    URL/records/day=2026-12-06/source=<root>-<hash>/part-<update>-<batch>.parquet

One row per record (a file that holds several records has several rows; a
file that could not be scanned has one row with its ``error``), partitioned by
the UTC day of the record's start (``day=none`` for files without records) and
by the root it was found under. The columns are :data:`SCHEMA`; they are
documented in ``configs/README.md`` ("The catalogue"). It is plain Parquet:
``pyarrow.dataset.dataset(URL + "/records", partitioning="hive")``,
``pandas.read_parquet(URL + "/records")`` and DuckDB's
``read_parquet('URL/records/**/*.parquet', hive_partitioning=true)`` open it.

:meth:`Catalogue.update` lists the roots (one listing gives each file's size and
modification time or ETag), opens only the files that are new or changed since
the last update (scanning them in parallel with Ray tasks, with
:func:`raydas.formats.scan_file`), and drops the rows of files that vanished.
Writes are atomic: new part files are written under hidden names, the state
file is replaced (one rename, or one PUT), then the parts are renamed to their
final names and the replaced ones removed; a reader of the catalogue (or of
the plain folder) sees either the old or the new rows, never a mix, and an
interrupted update leaves the batches it committed, so the next update
resumes where it stopped. One writer at a time: writers hold the update lock
(:class:`UpdateLock`, ``URL/_update.lock``), and every commit re-reads the state
file and refuses when another writer committed meanwhile; readers take no lock.
Credentials are never stored: every URL and error
text is passed through :func:`raydas.config.redact`.

:meth:`Catalogue.select` returns a :class:`Selection`: the records that cover a
span (as :class:`~raydas.formats.base.RecordInfo`, ready for planning without a
re-scan), the gaps and overlaps inside the span, and the files that could not
be scanned. ``raydas.run(config, records=selection)`` runs on it, as does
``raydas run --catalogue URL --start T --end T``.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import functools
import hashlib
import json
import logging
import math
import os
import posixpath
import re
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from . import formats, fsutil
from .config import RayOptions, redact, redact_many
from .errors import FormatError, NotDataError, RaydasError
from .formats.base import RecordInfo
from .timeutil import NS_PER_S, parse_iso, to_iso

log = logging.getLogger(__name__)

#: version of the catalogue layout and columns (the state file's ``schema``)
SCHEMA_VERSION = 1
#: the state file, at the top of the catalogue
STATE_FILE = "_catalogue.json"
#: the folder of the Parquet data set, under the catalogue
RECORDS_DIR = "records"
#: files scanned between two commits of an update (each commit is atomic)
BATCH_FILES = 512
#: part files a partition may gather (one per update that touched it) before an update merges them
COMPACT_PARTS = 16
#: files one Ray task scans (an update with fewer files spreads them out more)
FILES_PER_TASK = 32
#: an update with at most this many local files to open scans them here, without Ray (measured on
#: 2 cores: ~0.5 ms per small SEG-Y file here, against ~0.1 s of task round trips for 100 files and
#: seconds to start a private Ray); files behind a URL (object stores, HTTP) always go to Ray tasks,
#: where the latency of each read overlaps (see ``Catalogue.update``'s ``in_process_files``)
IN_PROCESS_FILES = 128
#: the update lock, at the top of the catalogue: JSON with the owner's token, host, pid, and
#: when it started and last beat (UTC); only writers (update, add, compact) take it
LOCK_FILE = "_update.lock"
#: seconds after its last heartbeat that a lock is stale: its owner is taken for dead and the
#: next writer takes it over, with a warning naming the old owner (hosts' clocks must agree to
#: well within this)
LOCK_STALE_S = 15 * 60
#: a writer refreshes its lock's heartbeat at every commit, and this often (s) in a thread while it holds it
LOCK_HEARTBEAT_S = 60
#: object stores: seconds between writing the lock and reading it back the second time
LOCK_SETTLE_S = 0.5
#: seconds :meth:`Catalogue.add` (``raydas watch``) waits for another writer's lock before it gives up
ADD_WAIT_S = 60.0
#: ``status`` of a row: a record, a file no reader could scan, a file that is a document not data
STATUSES = ("ok", "error", "not_data")

_TS = pa.timestamp("ns", tz="UTC")

#: The columns of every part file (the partition columns ``day`` and ``source`` come from the folders).
SCHEMA = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),  # file URL (credentials scrubbed)
        pa.field("key", pa.string()),  # record inside the file ("" when it holds one)
        pa.field("stream", pa.string()),  # parallel series (an FBE band); "" for the data
        pa.field("format", pa.string()),  # reader name; null for error rows
        pa.field("quantity", pa.string()),  # what the samples measure, when the record says
        pa.field("units", pa.string()),
        pa.field("start", _TS),  # first sample (UTC, ns)
        pa.field("end", _TS),  # just after the last sample (UTC, ns, exclusive)
        pa.field("samples", pa.int64()),
        pa.field("sample_interval_s", pa.float64()),
        pa.field("channels", pa.int64()),
        pa.field("first_position_m", pa.float64()),
        pa.field("last_position_m", pa.float64()),
        pa.field("channel_spacing_m", pa.float64()),  # median step (nan for one channel)
        pa.field("positions_m", pa.list_(pa.float64())),  # null when evenly spaced first..last
        pa.field("gauge_length_m", pa.float64()),
        pa.field("assumed", pa.list_(pa.string())),  # what the reader assumed (RecordInfo.assumed)
        pa.field("times_ns", pa.list_(pa.int64())),  # every sample's time (UTC, ns) when irregular; else null
        pa.field("warnings", pa.list_(pa.string())),  # warnings the scan gave
        pa.field("attrs", pa.string()),  # the reader's metadata (typed JSON), to read without a re-scan
        pa.field("status", pa.string(), nullable=False),  # ok, error, not_data
        pa.field("error", pa.string()),  # why the file could not be scanned
        pa.field("size", pa.int64()),  # bytes (a folder read whole: all its files)
        pa.field("mtime", _TS),  # modification time, null when the store gives none
        pa.field("etag", pa.string()),  # object store's ETag, null on local disks
        pa.field("root", pa.string()),  # the root it was found under
        pa.field("scanned_at", _TS),
    ]
)
#: hive partitioning of the records folder
PARTITIONING = pa.schema([("day", pa.string()), ("source", pa.string())])


# --- rows -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileStamp:
    """What a listing says of one file: enough to tell whether it changed.

    Attributes
    ----------
    url
        The URL to open (may carry credentials; never stored).
    root
        The root it was found under.
    size
        Bytes.
    mtime_ns
        Modification time (ns since epoch, UTC); 0 when the store gives none.
    etag
        Object-store version tag, ``""`` on local disks.
    """

    url: str
    root: str
    size: int
    mtime_ns: int
    etag: str

    def same_as(self, size: int, mtime_ns: int | None, etag: str | None) -> bool:
        """True when a catalogued file with these stamps is this one unchanged (ETag
        when both have one, else size and modification time)."""
        if int(size if size is not None else -1) != self.size:
            return False
        if self.etag and etag:
            return self.etag == etag
        return int(mtime_ns or 0) == self.mtime_ns


def _stamp(url: str, root: str, info: dict | None) -> FileStamp:
    info = info or {}
    return FileStamp(url, root, int(info.get("size") or 0), fsutil.modified_ns(info), fsutil.entity_tag(info))


def encode_attrs(attrs: dict) -> tuple[str, bool]:
    """A record's ``attrs`` as typed JSON text, and whether it decodes back exactly.

    Lists, dicts, strings, numbers, booleans and None are JSON; tuples, numpy
    arrays, numpy scalars and bytes are tagged (``{"__raydas__": "tuple", ...}``)
    so :func:`decode_attrs` restores them. Anything else is kept as its text and
    the second value is False (readers that need it then re-scan the file).
    """
    exact = True

    def enc(v):
        nonlocal exact
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, (int, float)) and not isinstance(v, np.generic):
            return v
        if isinstance(v, np.generic):
            return {"__raydas__": "scalar", "dtype": v.dtype.str, "v": v.item()}
        if isinstance(v, np.ndarray):
            if v.dtype.kind not in "biufUS?":
                exact = False
                return repr(v)
            return {"__raydas__": "ndarray", "dtype": v.dtype.str, "shape": list(v.shape), "v": enc(v.tolist())}
        if isinstance(v, bytes):
            return {"__raydas__": "bytes", "v": base64.b64encode(v).decode()}
        if isinstance(v, tuple):
            return {"__raydas__": "tuple", "v": [enc(x) for x in v]}
        if isinstance(v, list):
            return [enc(x) for x in v]
        if isinstance(v, dict):
            if all(isinstance(k, str) for k in v) and "__raydas__" not in v:
                return {k: enc(x) for k, x in v.items()}
            return {"__raydas__": "items", "v": [[enc(k), enc(x)] for k, x in v.items()]}
        exact = False
        return repr(v)

    text = json.dumps(enc(attrs), separators=(",", ":"))
    return text, exact


def decode_attrs(text: str | None) -> dict:
    """The ``attrs`` :func:`encode_attrs` wrote."""
    if not text:
        return {}

    def dec(v):
        if isinstance(v, list):
            return [dec(x) for x in v]
        if not isinstance(v, dict):
            return v
        tag = v.get("__raydas__")
        if tag is None:
            return {k: dec(x) for k, x in v.items()}
        if tag == "tuple":
            return tuple(dec(x) for x in v["v"])
        if tag == "ndarray":
            return np.asarray(dec(v["v"]), dtype=np.dtype(v["dtype"])).reshape(v["shape"])
        if tag == "scalar":
            return np.dtype(v["dtype"]).type(v["v"])
        if tag == "bytes":
            return base64.b64decode(v["v"])
        if tag == "items":
            return {_hashable(dec(k)): dec(x) for k, x in v["v"]}
        raise ValueError(f"unknown attrs tag {tag!r}")

    return dec(json.loads(text))


def _hashable(v):
    return tuple(_hashable(x) for x in v) if isinstance(v, list) else v


def _regular_positions(positions: np.ndarray) -> bool:
    """True when ``positions`` are ``linspace(first, last, n)`` to within a nanometre."""
    n = positions.shape[0]
    if n < 3:
        return True
    return bool(np.max(np.abs(positions - np.linspace(positions[0], positions[-1], n))) <= 1e-9)


@functools.lru_cache(maxsize=8192)
def _safe(url: str) -> str:
    """:func:`~raydas.config.redact` of a URL (paths and roots repeat: remembered)."""
    return redact(url)


def _finite(x) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


def _record_row(record: RecordInfo, stamp: FileStamp, caught: list[str], now_ns: int) -> dict:
    positions = np.asarray(record.positions, dtype=np.float64)
    attrs_text, exact = encode_attrs(record.attrs)
    return {
        "path": _safe(record.path),
        "key": record.key,
        "stream": record.stream,
        "format": record.format,
        "quantity": record.quantity,
        "units": record.units,
        "start": record.start_ns,
        "end": record.end_ns,
        "samples": int(record.n_samples),
        "sample_interval_s": float(record.dt),
        "channels": int(record.n_channels),
        "first_position_m": float(positions[0]) if positions.size else None,
        "last_position_m": float(positions[-1]) if positions.size else None,
        "channel_spacing_m": _finite(record.channel_spacing),
        "positions_m": None if _regular_positions(positions) else positions.tolist(),
        "gauge_length_m": _finite(record.gauge_length),
        "assumed": [str(a) for a in record.assumed],
        "times_ns": None if record.times_ns is None else record.times_ns.tolist(),
        "warnings": [redact(w) for w in caught],
        "attrs": redact(attrs_text, keys=False) if exact else None,
        "status": "ok",
        "error": None,
        **_stamp_columns(stamp, now_ns),
    }


def _error_row(stamp: FileStamp, status: str, message: str, caught: list[str], now_ns: int) -> dict:
    row = dict.fromkeys(SCHEMA.names)
    row.update(
        path=_safe(stamp.url),
        key="",
        stream="",
        status=status,
        error=redact(message),
        warnings=[redact(w) for w in caught],
        assumed=[],
        **_stamp_columns(stamp, now_ns),
    )
    return row


def _stamp_columns(stamp: FileStamp, now_ns: int) -> dict:
    return {
        "size": stamp.size,
        "mtime": stamp.mtime_ns or None,
        "etag": stamp.etag or None,
        "root": _safe(stamp.root),
        "scanned_at": now_ns,
    }


def scan_stamps(stamps: list[FileStamp], options: formats.ScanOptions | None = None) -> pa.Table:
    """Scan files into catalogue rows (:data:`SCHEMA`, plus ``day`` and ``source``):
    one row per record, one row with the error for a file that could not be
    scanned. Never raises for a bad file. This is the body of the Ray task."""
    options = options or formats.ScanOptions()
    rows = []
    for stamp in stamps:
        now_ns = time.time_ns()
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            try:
                records = formats.scan_file(stamp.url, options)
                status, message = "ok", None
            except NotDataError as exc:
                records, status, message = [], "not_data", exc.problem
            except FormatError as exc:
                records, status, message = [], "error", exc.problem
            except Exception as exc:  # noqa: BLE001  (a corrupt file is a row with its error, never a crash)
                records, status, message = [], "error", f"{type(exc).__name__}: {exc}"
        caught = [str(w.message) for w in seen]
        if records:
            for record in records:
                try:
                    rows.append(_record_row(record, stamp, caught, now_ns))
                except Exception as exc:  # noqa: BLE001
                    rows.append(_error_row(stamp, "error", f"{type(exc).__name__}: {exc}", caught, now_ns))
        else:
            if status == "ok":
                status, message = "error", "holds no record"
            rows.append(_error_row(stamp, status, message, caught, now_ns))
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    return _with_partitions(table)


def source_name(root: str) -> str:
    """The ``source`` partition value of a root: its last path part (letters,
    digits, ``._-``) and a hash of its (credential-free) URL."""
    clean = redact(str(root)).rstrip("/")
    tail = re.sub(r"[^A-Za-z0-9._-]+", "_", posixpath.basename(clean.split("://", 1)[-1]) or "root")[:40]
    return f"{tail}-{hashlib.sha1(clean.encode()).hexdigest()[:8]}"


def _with_partitions(table: pa.Table) -> pa.Table:
    starts = table.column("start").cast(pa.int64()).to_pylist()
    days = ["none" if s is None else str(np.datetime64(s, "ns").astype("datetime64[D]")) for s in starts]
    roots = table.column("root").to_pylist()
    names = {r: source_name(r) for r in set(roots)}
    table = table.append_column("day", pa.array(days, pa.string()))
    return table.append_column("source", pa.array([names[r] for r in roots], pa.string()))


# --- selection ---------------------------------------------------------------------------------
@dataclass
class Span:
    """A stretch of time inside a selection.

    Attributes
    ----------
    kind
        ``"gap"`` (no record covers it) or ``"overlap"`` (two or more do).
    start_ns, end_ns
        The stretch ``[start_ns, end_ns)``, ns since epoch (UTC).
    stream
        The stream it concerns (``""`` for the data).
    paths
        The files around it: before and after a gap, the overlapping ones.
    """

    kind: str
    start_ns: int
    end_ns: int
    stream: str = ""
    paths: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return (self.end_ns - self.start_ns) / NS_PER_S

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "start": to_iso(self.start_ns),
            "end": to_iso(self.end_ns),
            "seconds": self.seconds,
            "stream": self.stream,
            "paths": list(self.paths),
        }


@dataclass
class Selection:
    """What a catalogue holds for a span (:meth:`Catalogue.select`).

    Attributes
    ----------
    start_ns, end_ns
        The span asked for, ns since epoch (UTC).
    records
        The records overlapping the span, time-ordered, as scanned (whole
        records: a run plans chunks over them and keeps those inside the span).
    gaps, overlaps
        :class:`Span` s inside the span, per stream.
    unreadable
        ``{"path", "error"}`` of catalogued files that could not be scanned (they may hold data in the span).
    rows
        The selected catalogue rows (a :class:`pyarrow.Table`).
    """

    start_ns: int
    end_ns: int
    records: list[RecordInfo]
    gaps: list[Span]
    overlaps: list[Span]
    unreadable: list[dict]
    rows: pa.Table

    @property
    def paths(self) -> list[str]:
        """The files of :attr:`records`, sorted (usable as a run's ``input``)."""
        return sorted({r.path for r in self.records})

    @property
    def span(self) -> tuple[int, int]:
        return self.start_ns, self.end_ns

    @property
    def complete(self) -> bool:
        """True when records cover the whole span without gaps."""
        return bool(self.records) and not self.gaps

    def to_dict(self) -> dict:
        """A JSON-ready listing (what ``raydas select --json`` prints)."""
        return {
            "start": to_iso(self.start_ns),
            "end": to_iso(self.end_ns),
            "records": [r.to_dict() for r in self.records],
            "paths": self.paths,
            "gaps": [g.to_dict() for g in self.gaps],
            "overlaps": [o.to_dict() for o in self.overlaps],
            "unreadable": self.unreadable,
        }


def coverage(records: list[RecordInfo], start_ns: int, end_ns: int) -> tuple[list[Span], list[Span]]:
    """Gaps and overlaps of ``records`` inside ``[start_ns, end_ns)``, per stream.

    A stretch shorter than half a sample interval (of the record before it) is
    neither: consecutive files whose stamps differ by rounding are contiguous.
    """
    gaps: list[Span] = []
    overlaps: list[Span] = []
    streams: dict[str, list[RecordInfo]] = {}
    for r in records:
        streams.setdefault(r.stream, []).append(r)
    for stream, items in sorted(streams.items()):
        items = sorted(items, key=lambda r: (r.start_ns, r.end_ns, r.path, r.key))
        reach, reach_path = start_ns, ""
        tol = 0
        for r in items:
            tol = int(round(r.dt * NS_PER_S / 2))
            if r.start_ns > reach + tol:
                lo, hi = max(reach, start_ns), min(r.start_ns, end_ns)
                if hi > lo:
                    gaps.append(Span("gap", lo, hi, stream, [p for p in (reach_path, r.path) if p]))
            elif r.start_ns < reach - tol:
                lo, hi = max(r.start_ns, start_ns), min(reach, r.end_ns, end_ns)
                if hi > lo:
                    overlaps.append(Span("overlap", lo, hi, stream, [reach_path, r.path]))
            if r.end_ns > reach:
                reach, reach_path = r.end_ns, r.path
        if reach < end_ns - tol:
            gaps.append(Span("gap", max(reach, start_ns), end_ns, stream, [reach_path] if reach_path else []))
    return gaps, overlaps


def record_from_row(row: dict) -> RecordInfo:
    """The :class:`RecordInfo` a catalogue row describes (as the scan returned it).

    Raises
    ------
    RaydasError
        When the row is an error row.
    """
    if row.get("status") != "ok":
        raise RaydasError(f"{row.get('path')}: was not scanned ({row.get('error')})")
    n = int(row["channels"])
    if row.get("positions_m") is not None:
        positions = np.asarray(row["positions_m"], dtype=np.float64)
    elif n == 1:
        positions = np.asarray([row["first_position_m"]], dtype=np.float64)
    else:
        positions = np.linspace(row["first_position_m"], row["last_position_m"], n)
    start_ns = _ts_ns(row["start"])
    gauge = row.get("gauge_length_m")
    record = RecordInfo(
        path=row["path"],
        format=row["format"],
        n_channels=n,
        n_samples=int(row["samples"]),
        dt=float(row["sample_interval_s"]),
        start_ns=start_ns,
        positions=positions,
        units=row.get("units") or "",
        gauge_length=float("nan") if gauge is None else float(gauge),
        key=row.get("key") or "",
        attrs=decode_attrs(row.get("attrs")),
        stream=row.get("stream") or "",
        quantity=row.get("quantity") or "unknown",
        assumed=tuple(row.get("assumed") or ()),
        times_ns=None if row.get("times_ns") is None else np.asarray(row["times_ns"], dtype=np.int64),
    )
    return record


def plain_rows(table: pa.Table) -> list[dict]:
    """``table.to_pylist()`` with its timestamps as int ns (``to_pylist`` would give
    datetimes, which hold microseconds only)."""
    for name in ("start", "end", "mtime", "scanned_at"):
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, table.column(name).cast(pa.int64()))
    return table.to_pylist()


def _ts_ns(value) -> int:
    """ns since epoch of a timestamp as pyarrow's ``to_pylist`` gives it."""
    if hasattr(value, "value"):  # pandas.Timestamp
        return int(value.value)
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.UTC)
        return int(value.timestamp()) * NS_PER_S + value.microsecond * 1000
    return int(value)


def parse_time(value: str | int | float | _dt.datetime) -> int:
    """A time as ns since epoch (UTC): ISO-8601 text (UTC when no offset), a datetime,
    or a number of ns (int) or s (float) since epoch."""
    if isinstance(value, _dt.datetime):
        return _ts_ns(value)
    if isinstance(value, bool):
        raise RaydasError(f"not a time: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(round(value * NS_PER_S))
    try:
        return parse_iso(str(value))
    except ValueError:
        raise RaydasError(f"not an ISO-8601 time: {value!r} (e.g. 2026-12-06T07:00:00Z)") from None


def parse_channels(text: str | slice | None) -> slice | None:
    """``"A:B"`` (channel indices, B excluded; either side may be empty) as a slice."""
    if text is None or isinstance(text, slice):
        return text
    a, sep, b = str(text).partition(":")
    try:
        if not sep:
            raise ValueError
        lo = int(a) if a.strip() else 0
        hi = int(b) if b.strip() else None
    except ValueError:
        raise RaydasError(f"channels {text!r}: expected A:B (channel indices, B excluded), e.g. 0:200") from None
    if lo < 0 or (hi is not None and hi <= lo):
        raise RaydasError(f"channels {text!r}: expected 0 <= A < B")
    return slice(lo, hi)


# --- the update lock ---------------------------------------------------------------------------
def _pid_namespace() -> str | None:
    """This machine's boot and this process's pid namespace (Linux), or None: two processes
    whose locks carry the same value see each other's pids."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as fh:
            boot = fh.read().strip()
        return f"{boot}:{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


class CatalogueBusy(RaydasError):
    """Another update holds the catalogue's update lock (the message names it and what to do)."""


class UpdateLock:
    """The lock a writer of a catalogue holds: ``URL/_update.lock``.

    The lock file is JSON: ``{"token", "host", "pid", "pidns", "started", "heartbeat"}``
    (times UTC, ISO-8601). Only writers take it (:meth:`Catalogue.update`,
    :meth:`Catalogue.add`, :meth:`Catalogue.compact`); readers never need it.

    On a local file system the lock is created exclusively (``O_CREAT | O_EXCL``),
    and a stale lock is replaced under a second exclusive file
    (``_update.lock.takeover``), so two writers never both hold it. On an object
    store the lock is written (on S3 with a conditional PUT, ``If-None-Match: *``,
    which stores that ignore the condition treat as a plain PUT), then read back
    twice, :data:`LOCK_SETTLE_S` apart; the writer whose token is there holds it.
    That is best effort: a store without conditional writes leaves a window of
    one round trip in which two writers can both read their own token back; and
    the take-over of a stale lock is a read, a delete and a write, which another
    taker can interleave with. Every commit reads the lock again and refuses to
    commit when it is not the writer's own, and it refuses when the state file
    changed since the writer last read it (:meth:`Catalogue._commit`), so such a
    race leaves a failed writer. What is left of the window: the other writer's
    removal of uncommitted parts (at its start) landing between this writer's last
    check and its state write; the state then lists a part that is gone, and the
    next update warns, drops it and scans its files again.

    While held, a thread refreshes the heartbeat every :data:`LOCK_HEARTBEAT_S`
    (and every commit does). A lock is stale when its heartbeat is older than :data:`LOCK_STALE_S`, or
    when its process is gone (same host and pid namespace, no such pid); a
    writer takes a stale lock over with a :class:`UserWarning` naming the old
    owner.

    Parameters
    ----------
    catalogue
        The catalogue it locks.
    """

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        self.fs = catalogue.fs
        self.path = catalogue._path(LOCK_FILE)
        self.url = fsutil.join(redact(catalogue.url), LOCK_FILE)
        self.local = fsutil.is_local(self.fs)
        self.token = uuid.uuid4().hex
        self.started = to_iso(time.time_ns())
        self._beat = 0.0  # time.monotonic() of the last heartbeat written
        self._guard = threading.Lock()  # the heartbeat thread and the writer never write the lock at once
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost: str | None = None  # why the heartbeat thread found the lock no longer ours

    # the lock file ------------------------------------------------------------------------------
    def _document(self) -> bytes:
        doc = {
            "token": self.token,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "pidns": _pid_namespace(),
            "started": self.started,
            "heartbeat": to_iso(time.time_ns()),
        }
        return json.dumps(doc, indent=1).encode()

    def read(self) -> dict | None:
        """The lock file's content (None when there is none; ``{"unreadable": ...}`` when
        it cannot be parsed, e.g. while its creator is still writing it)."""
        try:
            if self.local:
                with open(self.path, "rb") as fh:
                    raw = fh.read()
            else:
                raw = self.fs.cat_file(self.path)
        except FileNotFoundError:
            return None
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict) or not doc.get("token"):
                raise ValueError("no owner token")
            return doc
        except ValueError as exc:
            return {"unreadable": str(exc), "modified_ns": self._modified_ns()}

    def _modified_ns(self) -> int:
        try:
            if self.local:
                return os.stat(self.path).st_mtime_ns
            return fsutil.modified_ns(self.fs.info(self.path)) or time.time_ns()
        except (FileNotFoundError, OSError):
            return time.time_ns()

    def _create(self) -> bool:
        """Write the lock if there is none; False when one is there."""
        payload = self._document()
        if self.local:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            # no fsync: O_EXCL is the exclusion, and the content is visible to every reader once
            # written (a crash that loses it leaves an empty lock, stale by its age like any
            # unreadable one); the state file and parts are not synced either
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
        else:
            self.fs.invalidate_cache(self.path)
            if type(self.fs).__name__ == "S3FileSystem":
                try:
                    self.fs.pipe_file(self.path, payload, mode="create")  # If-None-Match: *
                except FileExistsError:
                    return False
            else:
                if self.read() is not None:
                    return False
                self.fs.pipe_file(self.path, payload)
        self._beat = time.monotonic()
        return True

    def _confirm(self) -> bool:
        """Object stores: read the lock back, twice; True when it is ours both times."""
        if self.local:
            return True
        for k in range(2):
            if k:
                time.sleep(LOCK_SETTLE_S)
            holder = self.read()
            if holder is None or holder.get("token") != self.token:
                return False
        return True

    def _replace(self) -> None:
        payload = self._document()
        if self.local:
            fsutil.write_bytes_atomic(self.path, payload)
        else:
            self.fs.pipe_file(self.path, payload)
        self._beat = time.monotonic()

    # taking it ----------------------------------------------------------------------------------
    def stale(self, holder: dict) -> str | None:
        """Why ``holder`` (a lock file's content) is stale, or None when it is live."""
        now = time.time_ns()
        if "unreadable" in holder:
            age = (now - holder["modified_ns"]) / NS_PER_S
            return f"it is unreadable and {age:.0f} s old" if age > LOCK_STALE_S else None
        try:
            beat = parse_iso(holder.get("heartbeat") or holder.get("started") or "")
        except ValueError:
            return "it carries no heartbeat"
        age = (now - beat) / NS_PER_S
        if age > LOCK_STALE_S:
            limit = f"{LOCK_STALE_S / 60:g} min"
            return f"its last heartbeat ({holder.get('heartbeat')}) is {age / 60:.0f} min old (limit {limit})"
        ours = _pid_namespace()
        pid = holder.get("pid")
        if (
            ours is not None
            and holder.get("pidns") == ours
            and holder.get("host") == socket.gethostname()
            and isinstance(pid, int)
            and pid != os.getpid()
            and not _process_alive(pid)
        ):
            return f"its process (pid {pid}) is gone"
        return None

    def _take_over(self, holder: dict) -> bool:
        """Replace the stale lock ``holder``; False when someone else changed it first."""
        if self.local:
            guard = self.path + ".takeover"
            try:
                fd = os.open(guard, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                with contextlib.suppress(OSError):  # a taker that died holding it
                    if time.time() - os.stat(guard).st_mtime > 60:
                        os.remove(guard)
                return False
            try:
                current = self.read()
                if current != holder and not (current and "unreadable" in current and "unreadable" in holder):
                    return False
                self._replace()
                return True
            finally:
                os.close(fd)
                with contextlib.suppress(OSError):
                    os.remove(guard)
        current = self.read()
        if current is None or current.get("token") != holder.get("token"):
            return False
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path)
        return self._create() and self._confirm()

    def acquire(self, wait: float = 0.0) -> None:
        """Take the lock, waiting up to ``wait`` seconds for a live owner to release it.

        Raises
        ------
        RaydasError
            When another writer holds a live lock after ``wait`` seconds: the
            message names the catalogue, the owner (host, pid, since when) and what to do.
        """
        deadline = time.monotonic() + max(0.0, float(wait))
        while True:
            holder = self._attempt()
            if holder is None:
                self._start_heartbeat()
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise CatalogueBusy(self.busy_message(holder, wait))
            time.sleep(min(1.0, left))

    def _attempt(self) -> dict | None:
        """One try: None when the lock is ours now, else its holder's lock file content."""
        for _ in range(3):
            if self._create():
                if self._confirm():
                    return None
                return self.read() or {"unreadable": "another writer replaced it", "modified_ns": time.time_ns()}
            holder = self.read()
            if holder is None:  # released between the two: try again
                continue
            why = self.stale(holder)
            if why is None:
                return holder
            if not self._take_over(holder):
                current = self.read()
                if current is None:
                    continue
                return current
            message = (
                f"catalogue {redact(self.catalogue.url)}: took over the stale update lock of "
                f"{self.describe(holder)}: {why}; that writer is taken for dead (if it is still running, "
                "it fails at its next commit, committing nothing more)"
            )
            log.warning(message)
            warnings.warn(message, UserWarning, stacklevel=2)
            return None
        return {"unreadable": "it kept appearing and disappearing", "modified_ns": time.time_ns()}

    def _mine(self) -> bool:
        holder = self.read()
        return holder is not None and holder.get("token") == self.token

    @staticmethod
    def describe(holder: dict) -> str:
        """``host H, pid P, since T (last heartbeat T)`` of a lock file's content."""
        if "unreadable" in holder:
            return f"an unknown writer (the lock file is unreadable: {holder['unreadable']})"
        return (
            f"host {holder.get('host')!s}, pid {holder.get('pid')!s}, since {holder.get('started')!s} "
            f"(last heartbeat {holder.get('heartbeat')!s})"
        )

    def busy_message(self, holder: dict, wait: float = 0.0) -> str:
        waited = f" (waited {wait:g} s)" if wait else ""
        return (
            f"catalogue {redact(self.catalogue.url)} is being updated by another writer{waited}: "
            f"{self.describe(holder)}. "
            f"Wait for it to finish and run this again (a lock whose heartbeat is older than {LOCK_STALE_S / 60:g} min "
            f"is taken over); if you are sure that writer is gone, delete {self.url}."
        )

    # holding it ---------------------------------------------------------------------------------
    def verify(self) -> None:
        """Raise :class:`~raydas.errors.RaydasError` unless the lock is still this writer's."""
        holder = self.read()
        if holder is not None and holder.get("token") == self.token:
            return
        who = "nobody (the lock file was deleted)" if holder is None else self.describe(holder)
        raise RaydasError(
            f"catalogue {redact(self.catalogue.url)}: this update lost its lock {self.url}, now held by {who}; "
            "its last batch was not committed and the catalogue is as the other writer left it. "
            "Run this again once the other writer has finished."
        )

    def refresh(self, force: bool = True) -> None:
        """Check the lock is still ours and write a new heartbeat (when ``force``, or when the
        last one is older than :data:`LOCK_HEARTBEAT_S`)."""
        with self._guard:
            if not force and time.monotonic() - self._beat < LOCK_HEARTBEAT_S:
                return
            self.verify()
            self._replace()

    def _start_heartbeat(self) -> None:
        """Refresh the heartbeat every :data:`LOCK_HEARTBEAT_S` in a thread while the lock is
        held, so that a long listing or scan between two commits never looks dead."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat_loop, name="raydas-catalogue-lock", daemon=True)
        self._thread.start()

    def _beat_loop(self) -> None:
        while not self._stop.wait(LOCK_HEARTBEAT_S):
            try:
                self.refresh(force=False)
            except RaydasError as exc:  # taken over: the writer's next commit refuses
                self.lost = str(exc)
                log.warning("%s", exc)
                return
            except Exception as exc:  # noqa: BLE001  (a store's hiccup: try again at the next beat)
                log.warning("catalogue %s: could not refresh the lock: %s", redact(self.catalogue.url), exc)

    def release(self) -> None:
        """Stop the heartbeat and remove the lock if it is still ours (never raises: a
        failure is logged)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
            self._thread = None
        try:
            with self._guard:
                if self._mine():
                    if self.local:
                        os.remove(self.path)
                    else:
                        self.fs.rm_file(self.path)
        except Exception as exc:  # noqa: BLE001  (never mask the error that ended the update)
            log.warning("catalogue %s: could not remove the lock %s: %s", redact(self.catalogue.url), self.url, exc)


# --- the catalogue -----------------------------------------------------------------------------
@dataclass
class UpdateReport:
    """What one :meth:`Catalogue.update` did.

    Attributes
    ----------
    listed
        Files found under the roots.
    scanned
        URLs (credentials scrubbed) of the files opened: new or changed.
    unchanged
        Files kept as catalogued (not opened).
    dropped
        Paths whose rows were removed: vanished or changed files.
    errors
        Files scanned in this update that could not be (rows with an error).
    batches
        Commits of new rows.
    seconds
        Wall time.
    """

    listed: int = 0
    scanned: list[str] = field(default_factory=list)
    unchanged: int = 0
    dropped: list[str] = field(default_factory=list)
    errors: int = 0
    batches: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.listed} file(s) listed, {len(self.scanned)} scanned ({self.errors} with errors), "
            f"{self.unchanged} unchanged, {len(self.dropped)} dropped, in {self.seconds:.1f} s"
        )


class Catalogue:
    """A catalogue of records at ``url`` (local folder or fsspec URL; created on
    the first :meth:`update`).

    Parameters
    ----------
    url
        Where the catalogue lives. It must not carry credentials (they come from
        the environment or the machine's identity).

    Examples
    --------
    Index a folder of two SEG-Y files ten seconds apart, then ask what covers a span:

    >>> import numpy as np
    >>> import raydas
    >>> t0 = 1_700_000_000 * 10**9
    >>> for i, start in enumerate((t0, t0 + 10 * 10**9)):
    ...     chunk = raydas.Chunk(np.zeros((4, 2500), np.float32), start, dt=0.002, positions=[0.0, 2.0, 4.0, 6.0])
    ...     _ = raydas.formats.write(chunk, f"archive/file{i}.sgy")
    >>> cat = raydas.Catalogue("archive.catalogue")
    >>> cat.update(["archive"], use_ray=False).summary()  # doctest: +ELLIPSIS
    '2 file(s) listed, 2 scanned (0 with errors), 0 unchanged, 0 dropped, in ... s'
    >>> sel = cat.select("2023-11-14T22:13:20Z", "2023-11-14T22:13:40Z")
    >>> len(sel.records), [(g.kind, g.seconds) for g in sel.gaps]
    (2, [('gap', 5.0), ('gap', 5.0)])
    >>> cat.update(["archive"], use_ray=False).scanned  # nothing new: nothing opened
    []
    """

    def __init__(self, url: str):
        url = str(url)
        from .config import url_secret

        if what := url_secret(url):
            raise RaydasError(
                f"catalogue {redact(url)!r} carries a credential ({what}); credentials come from the environment "
                "or the machine's identity"
            )
        self.url = url.rstrip("/") or url
        self.fs, self.root = fsutil.url_to_fs(self.url)
        self._held: UpdateLock | None = None  # the update lock, while this object writes

    def __repr__(self) -> str:
        return f"Catalogue({redact(self.url)!r})"

    # paths ------------------------------------------------------------------------------------
    @property
    def records_url(self) -> str:
        """The Parquet data set's folder (what pandas/pyarrow/DuckDB open)."""
        return fsutil.join(self.url, RECORDS_DIR)

    def _path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def exists(self) -> bool:
        """True when a catalogue is there (an update has committed to it)."""
        return self.fs.exists(self._path(STATE_FILE))

    @property
    def lock_url(self) -> str:
        """The update lock's file (:class:`UpdateLock`)."""
        return fsutil.join(self.url, LOCK_FILE)

    @contextlib.contextmanager
    def update_lock(self, wait: float = 0.0):
        """Hold the catalogue's update lock (:class:`UpdateLock`) for the ``with`` block;
        released on the way out, errors and ``KeyboardInterrupt`` included. Nested
        uses on the same object share one lock.

        Parameters
        ----------
        wait
            Seconds to wait for another writer's live lock before giving up.

        Raises
        ------
        RaydasError
            When another writer holds it (the message names the owner and what to do).
        """
        if self._held is not None:
            yield self._held
            return
        lock = UpdateLock(self)
        lock.acquire(wait)
        self._held = lock
        try:
            yield lock
        finally:
            self._held = None
            lock.release()

    # state ------------------------------------------------------------------------------------
    def state(self, repair: bool = True) -> dict:
        """The state file's content (a new catalogue's when there is none).

        Parameters
        ----------
        repair
            Finish a commit that an interrupted update left half done (rename its
            parts, remove the ones it replaced), when this object holds the update
            lock (inside :meth:`update`, :meth:`add`, :meth:`compact`); otherwise,
            and when False, nothing is written: readers read such parts under their
            pending names.
        """
        path = self._path(STATE_FILE)
        try:
            with self.fs.open(path, "rb") as fh:
                state = json.loads(fh.read())
        except FileNotFoundError:
            return {"schema": SCHEMA_VERSION, "roots": [], "parts": [], "updated": None}
        except (OSError, ValueError) as exc:
            raise RaydasError(f"{redact(self.url)}: cannot read {STATE_FILE} ({exc})") from exc
        if state.get("schema") != SCHEMA_VERSION:
            raise RaydasError(
                f"{redact(self.url)}: catalogue schema {state.get('schema')!r}, this raydas reads {SCHEMA_VERSION}"
            )
        if state.get("journal") and repair and self._held is not None:
            state = self._apply_journal(state)
        return state

    def _write_state(self, state: dict) -> None:
        fsutil.write_bytes_atomic(fsutil.unstrip(self.fs, self._path(STATE_FILE)), json.dumps(state, indent=1).encode())

    def _commit(self, state: dict, add: dict[str, pa.Table], remove: list[str], roots: list[str]) -> dict:
        """Atomically replace the parts ``remove`` by new parts ``add`` (relative name -> table).

        ``state`` is the state this writer last read or wrote. Just before the state
        file is replaced, the update lock is checked to be still this writer's (and its
        heartbeat refreshed), and the state file is read again: when another writer
        committed since (its parts or roots differ from ``state``), nothing is
        committed, this commit's new parts are removed and :class:`RaydasError` says so.
        """
        lock = self._held
        if lock is None:
            raise RuntimeError("Catalogue._commit outside update_lock()")
        pending = {}
        try:
            for name, table in add.items():
                hidden = _hidden(name)
                full = self._path(RECORDS_DIR, hidden)
                self.fs.makedirs(posixpath.dirname(full), exist_ok=True)
                sink = pa.BufferOutputStream()
                pq.write_table(table, sink, compression="zstd")
                pending[hidden] = name
                fsutil.write_bytes_atomic(fsutil.unstrip(self.fs, full), sink.getvalue().to_pybytes())
            lock.refresh()
            self._check_unchanged(state)
        except BaseException:
            for hidden in pending:  # nothing committed: this commit's parts go (the next update would remove them)
                with contextlib.suppress(Exception):
                    self.fs.rm(self._path(RECORDS_DIR, hidden))
            raise
        parts = [p for p in state["parts"] if p not in set(remove)] + list(add)
        known = list(state.get("roots", []))
        known += [r for r in roots if r not in known]
        new_state = {
            "schema": SCHEMA_VERSION,
            "roots": known,
            "parts": parts,
            "updated": to_iso(time.time_ns()),
            "journal": {"rename": pending, "delete": list(remove)},
        }
        self._write_state(new_state)  # the commit: from here on the new parts are the catalogue's
        return self._apply_journal(new_state)

    def _check_unchanged(self, state: dict) -> None:
        """Raise :class:`RaydasError` when the state file is no longer ``state`` (another
        writer committed since this one read it)."""
        disk = self.state(repair=False)

        def mark(s: dict) -> tuple:
            return sorted(s.get("parts", [])), sorted(s.get("roots", [])), s.get("updated"), bool(s.get("journal"))

        if mark(disk) == mark(state):
            return
        ours, theirs = set(state.get("parts", [])), set(disk.get("parts", []))
        raise RaydasError(
            f"catalogue {redact(self.url)} changed while this update ran: another writer committed at "
            f"{disk.get('updated')} ({len(theirs - ours)} part file(s) added, {len(ours - theirs)} replaced since "
            f"this update read it at {state.get('updated')}); this update's last batch was not committed and the "
            "catalogue is as that writer left it. Run this again: it goes on from the catalogue as it is now "
            f"(two writers at once should not happen: each takes {LOCK_FILE}; was it deleted, or is an older raydas "
            "writing to this catalogue?)"
        )

    def _apply_journal(self, state: dict) -> dict:
        """Finish a commit: pending parts to their names, replaced parts removed (idempotent)."""
        journal = state.get("journal") or {}
        for hidden, name in journal.get("rename", {}).items():
            src, dst = self._path(RECORDS_DIR, hidden), self._path(RECORDS_DIR, name)
            if self.fs.exists(src):
                self.fs.mv(src, dst)
        for name in journal.get("delete", []):
            path = self._path(RECORDS_DIR, name)
            if self.fs.exists(path):
                self.fs.rm(path)
        state = {k: v for k, v in state.items() if k != "journal"}
        self._write_state(state)
        return state

    def _remove_orphans(self, state: dict) -> dict:
        """Remove part files no commit made: pending parts of an update that stopped
        before committing them, and parts the state does not list. Parts the state
        lists that are gone (deleted by hand, or by a second writer in the object-store
        race window :class:`UpdateLock` describes) leave the state, with a warning:
        their files are no longer catalogued, so the update scans them again.
        Returns the state."""
        base = self._path(RECORDS_DIR)
        listed = set(state["parts"])
        found = set()
        for path in self.fs.find(base) if self.fs.exists(base) else []:
            rel = posixpath.relpath(path, base)
            if rel.endswith(".parquet") and rel not in listed or posixpath.basename(rel).startswith(".part-"):
                try:
                    self.fs.rm(path)
                except FileNotFoundError:
                    pass
            else:
                found.add(rel)
        missing = sorted(listed - found)
        if not missing:
            return state
        message = (
            f"catalogue {redact(self.url)}: {len(missing)} part file(s) that {STATE_FILE} lists are gone "
            f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}); their files are scanned again"
        )
        log.warning(message)
        warnings.warn(message, UserWarning, stacklevel=3)
        return self._commit(state, {}, missing, [])

    # reading ----------------------------------------------------------------------------------
    def dataset(self, state: dict | None = None) -> ds.Dataset | None:
        """The committed parts as a :class:`pyarrow.dataset.Dataset` (None when empty)."""
        state = self.state(repair=False) if state is None else state
        if not state["parts"]:
            return None
        base = self._path(RECORDS_DIR)
        pending = {name: hidden for hidden, name in (state.get("journal") or {}).get("rename", {}).items()}
        files = []
        for part in state["parts"]:
            path = posixpath.join(base, part)
            if part in pending and not self.fs.exists(path):  # committed, not yet renamed
                path = posixpath.join(base, pending[part])
            files.append(path)
        return ds.dataset(
            files,
            schema=pa.unify_schemas([SCHEMA, PARTITIONING]),
            format="parquet",
            filesystem=self.fs,
            partitioning=ds.partitioning(PARTITIONING, flavor="hive"),
            partition_base_dir=base,
        )

    def table(self, columns: list[str] | None = None, filter=None) -> pa.Table:
        """Catalogue rows (all columns, or ``columns``), optionally filtered (a
        :mod:`pyarrow.compute` expression)."""
        data = self.dataset()
        names = columns or SCHEMA.names + PARTITIONING.names
        if data is None:
            return pa.unify_schemas([SCHEMA, PARTITIONING]).empty_table().select(names)
        return data.to_table(columns=names, filter=filter)

    def _index(self, state: dict) -> dict[str, tuple[int, int | None, str | None, tuple[str, ...], str]]:
        """path -> (size, mtime ns, etag, parts holding its rows, root) of every catalogued file
        (only these five columns are read)."""
        out: dict[str, tuple] = {}
        base = self._path(RECORDS_DIR)
        for part in state["parts"]:
            with self.fs.open(posixpath.join(base, part), "rb") as fh:
                t = pq.read_table(fh, columns=["path", "size", "mtime", "etag", "root"])
            mtimes = t.column("mtime").cast(pa.int64()).to_pylist()
            here = (part,)
            for path, size, mtime, etag, root in zip(
                t.column("path").to_pylist(),
                t.column("size").to_pylist(),
                mtimes,
                t.column("etag").to_pylist(),
                t.column("root").to_pylist(),
            ):
                known = out.get(path)
                if known is None:
                    out[path] = (size, mtime, etag, here, root)
                elif part not in known[3]:  # a file whose rows lie in several parts
                    out[path] = (*known[:3], known[3] + here, known[4])
        return out

    # updating ---------------------------------------------------------------------------------
    def update(
        self,
        roots: str | Iterable[str],
        options: formats.ScanOptions | str | None = None,
        *,
        use_ray: bool = True,
        ray: RayOptions | None = None,
        batch_files: int = BATCH_FILES,
        files_per_task: int | None = None,
        on_batch: Callable[[int, list[str]], None] | None = None,
        wait: float = 0.0,
        in_process_files: int = IN_PROCESS_FILES,
    ) -> UpdateReport:
        """Bring the catalogue up to date with ``roots``.

        The update holds the catalogue's update lock (:class:`UpdateLock`) from start
        to end: a second writer meanwhile is refused (or waits ``wait`` seconds).

        Parameters
        ----------
        roots
            Folders, globs, files or fsspec URLs (``s3://bucket/prefix``).
        options
            :class:`~raydas.formats.ScanOptions` (or a format name) for the scans.
        use_ray
            Scan in parallel with Ray tasks (the Ray a run would use:
            :func:`raydas.runtime.cluster.connect`); False scans here, one file
            after the other. A few local files to open (``in_process_files``)
            are scanned here either way.
        ray
            Which Ray (default: as a run finds it).
        batch_files
            Files scanned between two commits: an interrupted update keeps what it committed.
        files_per_task
            Files one Ray task scans (default: up to :data:`FILES_PER_TASK`, fewer
            when there are few files, so that every CPU gets some). Given, the files
            go to Ray tasks (with ``use_ray``) however few they are.
        on_batch
            ``on_batch(n, urls)`` after the n-th commit of new rows (1-based), with
            the URLs it committed.
        wait
            Seconds to wait for another writer's live lock before giving up.
        in_process_files
            When at most this many files are to be opened, all of them local, and
            ``files_per_task`` is not given, they are scanned here, without Ray (none
            is started or asked for): a small local file scans in well under a
            millisecond, less than the tasks' round trips, and far less than starting
            a Ray. Default :data:`IN_PROCESS_FILES`; 0 always uses Ray tasks.

        Returns
        -------
        UpdateReport
            What was listed, scanned, kept and dropped.

        Raises
        ------
        RaydasError
            When another writer holds the update lock (the message names it and says
            what to do), or committed to the catalogue while this update ran.
        """
        t0 = time.perf_counter()
        options = formats.ScanOptions.of(options)
        roots = [roots] if isinstance(roots, str) else [str(r) for r in roots]
        roots = [root_of(r) for r in roots]
        if not roots:
            raise RaydasError("no roots to index")
        with self.update_lock(wait):
            return self._update(
                roots, options, use_ray, ray, batch_files, files_per_task, on_batch, t0, in_process_files
            )

    def _update(
        self, roots, options, use_ray, ray, batch_files, files_per_task, on_batch, t0, in_process_files=0
    ) -> UpdateReport:
        report = UpdateReport()
        state = self.state()
        state = self._remove_orphans(state)
        listing = self._list(roots)
        report.listed = len(listing)
        index = self._index(state)
        safe_roots = {redact(r) for r in roots}
        # vanished (under the roots indexed now) and changed files lose their rows first
        todo: list[FileStamp] = []
        gone: set[str] = set()
        for path, (_, _, _, _, root) in index.items():
            if root in safe_roots and path not in listing:
                gone.add(path)
        for path, stamp in listing.items():
            known = index.get(path)
            if known is None:
                todo.append(stamp)
            elif stamp.same_as(known[0], known[1], known[2]):
                report.unchanged += 1
            else:
                gone.add(path)
                todo.append(stamp)
        if gone:
            state = self._drop(state, index, gone, roots)
            report.dropped = sorted(gone)
        if todo:
            few = len(todo) <= in_process_files and all("://" not in s.url for s in todo)
            state = self._scan_and_commit(
                state,
                todo,
                options,
                use_ray and (files_per_task is not None or not few),
                ray,
                batch_files,
                files_per_task,
                on_batch,
                report,
                roots,
            )
        elif not gone and not set(safe_roots) <= set(state.get("roots", [])):
            state = self._commit(state, {}, [], sorted(safe_roots))
        self._compact(COMPACT_PARTS, state)
        report.seconds = time.perf_counter() - t0
        return report

    def compact(self, max_parts: int = 1, state: dict | None = None) -> int:
        """Merge the part files of each partition that has more than ``max_parts``
        into one (rows ordered by start and path), in one atomic commit; an update
        does this when a partition gathers more than :data:`COMPACT_PARTS`.

        Returns
        -------
        int
            How many part files fewer the catalogue has.
        """
        with self.update_lock():
            return self._compact(max_parts, self.state() if state is None else state)

    def _compact(self, max_parts: int, state: dict) -> int:
        folders: dict[str, list[str]] = {}
        for part in state["parts"]:
            folders.setdefault(posixpath.dirname(part), []).append(part)
        base = self._path(RECORDS_DIR)
        add, remove = {}, []
        for folder, parts in sorted(folders.items()):
            if len(parts) <= max_parts:
                continue
            tables = []
            for part in parts:
                with self.fs.open(posixpath.join(base, part), "rb") as fh:
                    tables.append(pq.read_table(fh, schema=SCHEMA))
            merged = pa.concat_tables(tables).sort_by([("start", "ascending"), ("path", "ascending")])
            add[_part_name(folder)] = merged
            remove.extend(parts)
        if remove:
            self._commit(state, add, remove, [])
        return len(remove) - len(add)

    def _list(self, roots: list[str]) -> dict[str, FileStamp]:
        """Credential-free path -> stamp of every file under ``roots`` (the first root wins)."""
        listing: dict[str, FileStamp] = {}
        for root in roots:
            try:
                found = formats.expand_with_info(root)
            except FileNotFoundError:
                raise RaydasError(f"{redact(root)}: does not exist") from None
            for (url, info), safe in zip(found, redact_many([url for url, _ in found])):
                if safe not in listing:
                    listing[safe] = _stamp(url, root, info)
        return listing

    def _drop(self, state: dict, index: dict, gone: set[str], roots: list[str]) -> dict:
        """Rewrite the parts holding rows of ``gone`` without them (one commit)."""
        parts = sorted({part for p in gone for part in index[p][3]})
        base = self._path(RECORDS_DIR)
        add = {}
        for part in parts:
            with self.fs.open(posixpath.join(base, part), "rb") as fh:
                table = pq.read_table(fh, schema=SCHEMA)
            keep = pc.invert(pc.is_in(table.column("path"), pa.array(sorted(gone), pa.string())))
            table = table.filter(keep)
            if table.num_rows:
                add[_part_name(posixpath.dirname(part))] = table
        return self._commit(state, add, parts, [redact(r) for r in roots])

    def _add(self, state: dict, table: pa.Table, roots: list[str]) -> dict:
        add = {}
        for (day, source), piece in _split_partitions(table).items():
            add[_part_name(f"day={day}/source={source}")] = piece
        return self._commit(state, add, [], roots)

    def add(self, table: pa.Table, wait: float = ADD_WAIT_S) -> None:
        """Commit rows of files not yet catalogued (what :func:`scan_stamps` made, e.g.
        for files ``raydas watch`` took), in one atomic commit; partitions that
        gathered more than :data:`COMPACT_PARTS` parts are merged. It holds the
        update lock for the commit, waiting up to ``wait`` seconds for another
        writer's (then :class:`RaydasError`)."""
        if not table.num_rows:
            return
        roots = sorted(set(table.column("root").to_pylist()))
        with self.update_lock(wait):
            state = self._add(self.state(), table, roots)
            self._compact(COMPACT_PARTS, state)

    def stamp(self, url: str, root: str) -> FileStamp:
        """The :class:`FileStamp` of one file (one ``info`` call), found under ``root``."""
        fs, path = fsutil.url_to_fs(url)
        return _stamp(url, root_of(root), fs.info(path))

    def records_under(self, root: str) -> tuple[list[RecordInfo], list[str]]:
        """The records of the files catalogued under ``root``, and the paths of every
        file catalogued under it (those with errors included)."""
        rows = self.table(filter=pc.field("root") == _safe(root_of(root)))
        records = [record_from_row(r) for r in plain_rows(rows) if r["status"] == "ok" and r["attrs"] is not None]
        rescan = {r["path"] for r in plain_rows(rows.select(["path", "status", "attrs"])) if r["status"] == "ok"}
        rescan -= {r.path for r in records}
        for path in sorted(rescan):
            records.extend(formats.scan_file(path))
        return records, sorted(set(rows.column("path").to_pylist()))

    def _scan_and_commit(
        self, state, todo, options, use_ray, ray_options, batch_files, files_per_task, on_batch, report, roots
    ) -> dict:
        per_task = files_per_task or max(1, min(FILES_PER_TASK, math.ceil(len(todo) / 8)))
        groups = [todo[i : i + per_task] for i in range(0, len(todo), per_task)]
        pending: list[pa.Table] = []
        pending_urls: list[str] = []
        safe_roots = [redact(r) for r in roots]

        def commit():
            nonlocal state, pending, pending_urls
            table = pa.concat_tables(pending)
            state = self._add(state, table, safe_roots)
            report.batches += 1
            report.scanned.extend(pending_urls)
            report.errors += _error_files(table)
            urls, pending, pending_urls = pending_urls, [], []
            if on_batch is not None:
                on_batch(report.batches, urls)

        with contextlib.closing(_scan_groups(groups, options, use_ray, ray_options)) as scans:
            for group, table in scans:
                pending.append(table)
                pending_urls.extend(redact_many([s.url for s in group]))
                if len(pending_urls) >= batch_files:
                    commit()
        if pending:
            commit()
        return state

    def select(self, start, end, channels: str | slice | None = None, format: str | None = None) -> Selection:
        """The records that overlap ``[start, end)``, with the gaps and overlaps inside it.

        Parameters
        ----------
        start, end
            The span: ISO-8601 text (UTC when no offset), datetimes, or ns since epoch (int).
        channels
            ``"A:B"`` or a slice of channel indices: only records that have all of
            these channels (``channels > B - 1``) are selected.
        format
            Only records of this format.

        Returns
        -------
        Selection
            Records (ready for planning: ``raydas.run(config, records=selection)``), gaps, overlaps, unreadable files.
        """
        start_ns, end_ns = parse_time(start), parse_time(end)
        if not self.exists():
            raise RaydasError(
                f"{redact(self.url)}: no catalogue there (build one with: raydas index ROOT... --catalogue URL)"
            )
        if end_ns <= start_ns:
            raise RaydasError(f"the span ends ({to_iso(end_ns)}) before it starts ({to_iso(start_ns)})")
        wanted = parse_channels(channels)
        start_s = pa.scalar(start_ns, _TS)
        end_s = pa.scalar(end_ns, _TS)
        expr = (pc.field("status") == "ok") & (pc.field("start") < end_s) & (pc.field("end") > start_s)
        last_day = str(np.datetime64(end_ns - 1, "ns").astype("datetime64[D]"))
        expr = expr & (pc.field("day") <= last_day)  # whole partitions after the span are never opened
        if format:
            expr = expr & (pc.field("format") == format)
        if wanted is not None:
            need = wanted.stop if wanted.stop is not None else wanted.start + 1
            expr = expr & (pc.field("channels") >= need)
        rows = self.table(filter=expr).sort_by([("start", "ascending"), ("path", "ascending"), ("key", "ascending")])
        records, rescan = [], set()
        for row in plain_rows(rows):
            if row["attrs"] is None:  # the reader's metadata did not fit the catalogue: scan this one file again
                rescan.add(row["path"])
                continue
            records.append(record_from_row(row))
        for path in sorted(rescan):
            for r in formats.scan_file(path):
                if r.end_ns > start_ns and r.start_ns < end_ns and (not format or r.format == format):
                    records.append(r)
        records.sort(key=lambda r: (r.start_ns, r.path, r.key))
        gaps, overlaps = coverage(records, start_ns, end_ns)
        bad = self.table(columns=["path", "status", "error"], filter=pc.field("status") == "error")
        unreadable = [
            {"path": p, "error": e} for p, e in zip(bad.column("path").to_pylist(), bad.column("error").to_pylist())
        ]
        return Selection(start_ns, end_ns, records, gaps, overlaps, sorted(unreadable, key=lambda u: u["path"]), rows)


def root_of(url: str) -> str:
    """A root as the catalogue keeps it: a local path made absolute (the same root from
    any folder), a URL as it is."""
    url = str(url)
    return url if "://" in url else os.path.abspath(url)


def _error_files(table: pa.Table) -> int:
    bad = table.filter(pc.not_equal(table.column("status"), "ok"))
    return len(set(bad.column("path").to_pylist()))


def _split_partitions(table: pa.Table) -> dict[tuple[str, str], pa.Table]:
    out = {}
    keys = list(zip(table.column("day").to_pylist(), table.column("source").to_pylist()))
    for key in sorted(set(keys)):
        mask = pa.array([k == key for k in keys])
        out[key] = table.filter(mask).drop_columns(["day", "source"])
    return out


def _part_name(folder: str) -> str:
    return posixpath.join(folder, f"part-{uuid.uuid4().hex}.parquet")


def _hidden(name: str) -> str:
    """The pending name of a part: hidden (a leading dot), so plain readers skip it."""
    folder, base = posixpath.split(name)
    return posixpath.join(folder, f".{base}.pending")


def _scan_groups(groups: list[list[FileStamp]], options, use_ray: bool, ray_options: RayOptions | None):
    """Yield ``(group, table)`` as groups of files are scanned (here, or in Ray tasks)."""
    if not use_ray:
        for group in groups:
            yield group, scan_stamps(group, options)
        return
    import ray

    from .runtime import cluster

    connection = cluster.connect(ray_options or RayOptions())
    try:
        task = ray.remote(num_cpus=cluster.task_cpus(1.0), max_retries=2, retry_exceptions=[OSError])(scan_stamps)
        limit = max(2, 2 * int(ray.cluster_resources().get("CPU", 1) or 1))
        waiting = {}
        queue = list(groups)
        while queue or waiting:
            while queue and len(waiting) < limit:
                group = queue.pop(0)
                waiting[task.remote(group, options)] = group
            done, _ = ray.wait(list(waiting), num_returns=1)
            for ref in done:
                group = waiting.pop(ref)
                try:
                    table = ray.get(ref)
                except Exception as exc:  # noqa: BLE001  (a task that died: its files are rows with the error)
                    now = time.time_ns()
                    why = f"scan task failed: {type(exc).__name__}: {exc}"
                    table = _with_partitions(
                        pa.Table.from_pylist([_error_row(s, "error", why, [], now) for s in group], schema=SCHEMA)
                    )
                yield group, table
    finally:
        connection.close()


def select_records(
    catalogue: Catalogue | str,
    start,
    end,
    channels: str | slice | None = None,
    format: str | None = None,
) -> Selection:
    """:meth:`Catalogue.select` on a catalogue URL."""
    cat = catalogue if isinstance(catalogue, Catalogue) else Catalogue(catalogue)
    return cat.select(start, end, channels=channels, format=format)


__all__ = [
    "ADD_WAIT_S",
    "CatalogueBusy",
    "BATCH_FILES",
    "COMPACT_PARTS",
    "IN_PROCESS_FILES",
    "LOCK_FILE",
    "LOCK_HEARTBEAT_S",
    "LOCK_SETTLE_S",
    "LOCK_STALE_S",
    "PARTITIONING",
    "RECORDS_DIR",
    "SCHEMA",
    "SCHEMA_VERSION",
    "STATE_FILE",
    "Catalogue",
    "FileStamp",
    "Selection",
    "Span",
    "UpdateLock",
    "UpdateReport",
    "coverage",
    "decode_attrs",
    "encode_attrs",
    "parse_channels",
    "parse_time",
    "plain_rows",
    "record_from_row",
    "root_of",
    "scan_stamps",
    "select_records",
    "source_name",
]
