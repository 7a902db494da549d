"""The results manifest: where every output came from, and what resume trusts.

Beside a run's outputs (under the results root, or the chunk store for
``ingest``) lies a folder of Parquet files, one row per output file::

    <root>/raydas-manifest/<run id>-<n>.parquet

A run adds its rows as fragments while it goes (each written atomically, so a
killed run keeps what it flushed), and at its end merges every fragment into
one and removes the fragments it merged. Readers take the union of all
fragments, the latest row per path winning; two runs writing into one root at
once therefore never lose each other's rows. The folder reads as one table
with ``pandas.read_parquet(<root>/raydas-manifest)`` or
``pyarrow.parquet.read_table``; :func:`read_manifest` gives the merged table.

Columns (:func:`schema`):

=================  =================================================================
path               the output file, relative to the root
output_id          the chunk's output identity (:mod:`raydas.identity`)
stream             the stream of the chunk's records ("" for plain data)
inputs             list of {url, key, size, mtime_ns, etag}: every file the chunk
                   (with its halo) was read from; size in bytes, modification time
                   in ns since 1970 (local files) or the object's ETag
start_ns, end_ns   the chunk's own span, ns since 1970 UTC (end exclusive)
samples, channels  its own samples and its channels
halo_before/after  halo samples read before and after it
graph_digest       sha256 of the compiled processing graph ("" for ingest)
settings           JSON of the settings that change numbers (+ raydas version)
settings_digest    sha256 of ``settings``
raydas_version     the raydas that wrote it
assumed            coordinates of its records that were assumed, not read
bytes              size of the output file
written_at         when the run recorded it (UTC)
run_id             which run wrote it
=================  =================================================================

A re-run skips a chunk only when every one of its outputs exists with the
size recorded and its row matches what the run would write now (same inputs,
span, halo, graph and settings); :func:`judge` says why it does not.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import posixpath
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from . import formats
from .errors import RaydasError
from .fsutil import MANIFEST_DIR, join, unstrip, url_to_fs, write_bytes_atomic
from .recording import ChunkPlan
from .version import __version__

# MANIFEST_DIR (from fsutil): the manifest's folder under the results root or the chunk store; walks and globs pass it

# why an output is recomputed, in the order a chunk's reason is picked from its outputs' reasons
GRAPH_CHANGED = "graph changed"
SETTINGS_CHANGED = "settings changed"
INPUTS_CHANGED = "inputs changed"
OUTPUT_MISSING = "output missing"
NOT_RECORDED = "not in the manifest"
OUTPUT_CHANGED = "output changed"
REASONS = (GRAPH_CHANGED, SETTINGS_CHANGED, INPUTS_CHANGED, OUTPUT_MISSING, NOT_RECORDED, OUTPUT_CHANGED)


def schema():
    """The manifest's Arrow schema (see the module docstring)."""
    import pyarrow as pa

    inputs = pa.struct(
        [
            ("url", pa.string()),
            ("key", pa.string()),
            ("size", pa.int64()),
            ("mtime_ns", pa.int64()),
            ("etag", pa.string()),
        ]
    )
    return pa.schema(
        [
            ("path", pa.string()),
            ("output_id", pa.string()),
            ("stream", pa.string()),
            ("inputs", pa.list_(inputs)),
            ("start_ns", pa.int64()),
            ("end_ns", pa.int64()),
            ("samples", pa.int64()),
            ("channels", pa.int64()),
            ("halo_before", pa.int64()),
            ("halo_after", pa.int64()),
            ("graph_digest", pa.string()),
            ("settings", pa.string()),
            ("settings_digest", pa.string()),
            ("raydas_version", pa.string()),
            ("assumed", pa.list_(pa.string())),
            ("bytes", pa.int64()),
            ("written_at", pa.timestamp("us", tz="UTC")),
            ("run_id", pa.string()),
        ]
    )


# --- digests ---------------------------------------------------------------------------------------
def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def graph_digest(pipeline) -> str:
    """Digest of a compiled :class:`~raydas.pipeline.Pipeline`: every command's name,
    uid, inputs and validated parameters (comments and unknown keys do not count);
    ``""`` for no pipeline (ingest)."""
    if pipeline is None:
        return ""
    nodes = sorted(
        (n.uid, n.command.name, n.in_uid, list(n.gather_uids), n.command.params.model_dump(mode="json"))
        for n in pipeline.nodes
    )
    return _digest(nodes)


def settings_json(settings: dict[str, Any]) -> str:
    """The settings that change numbers (:func:`raydas.config.numeric_settings`) with
    the raydas version, as canonical JSON."""
    return json.dumps({**settings, "raydas_version": __version__}, sort_keys=True, default=str)


# --- inputs ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InputFile:
    """One file a chunk was read from, as it was: URL, record key, size (bytes),
    modification time (ns since 1970; local files) or ETag (object stores)."""

    url: str
    key: str = ""
    size: int | None = None
    mtime_ns: int | None = None
    etag: str | None = None

    def same_as(self, other: dict) -> bool:
        """True when ``other`` (a manifest entry) describes this file unchanged."""
        if (other.get("url"), other.get("key") or "", other.get("size")) != (self.url, self.key, self.size):
            return False
        if self.etag or other.get("etag"):
            return other.get("etag") == self.etag
        return other.get("mtime_ns") == self.mtime_ns


def _stat(entry: dict) -> tuple[int | None, int | None, str | None]:
    """``(size, mtime_ns, etag)`` from an fsspec listing entry."""
    size = entry.get("size")
    mtime = entry.get("mtime", entry.get("LastModified"))
    if isinstance(mtime, _dt.datetime):
        mtime_ns = int(mtime.timestamp() * 1e9)
    elif isinstance(mtime, (int, float)):
        mtime_ns = int(round(mtime * 1e9))
    else:
        mtime_ns = None
    etag = entry.get("ETag") or entry.get("etag")
    return (int(size) if size is not None else None), mtime_ns, (str(etag).strip('"') if etag else None)


def stat_files(urls: Iterable[str]) -> dict[str, tuple[int | None, int | None, str | None]]:
    """``url -> (size, mtime_ns, etag)`` for files (one listing per folder); URLs no
    file system serves (``synthetic://``) or that are gone get ``(None, None, None)``."""
    by_folder: dict[tuple[Any, str], list[str]] = {}
    out: dict[str, tuple[int | None, int | None, str | None]] = {}
    for url in urls:
        try:
            fs, path = url_to_fs(url)
        except (ValueError, ImportError):
            out[url] = (None, None, None)
            continue
        by_folder.setdefault((fs, posixpath.dirname(path)), []).append(url)
    for (fs, folder), members in by_folder.items():
        try:
            listing = {e["name"].rstrip("/"): e for e in fs.ls(folder, detail=True)}
        except (FileNotFoundError, NotADirectoryError, OSError):
            listing = {}
        for url in members:
            path = url_to_fs(url)[1].rstrip("/")
            entry = listing.get(path) or listing.get(unstrip(fs, path))
            out[url] = _stat(entry) if entry else (None, None, None)
    return out


def input_files(plan: ChunkPlan) -> list[tuple[str, str]]:
    """``(file URL, record key)`` of every record a plan reads (its halo included): a
    container's record (a chunk store's chunk) is the file its key names."""
    seen: dict[tuple[str, str], None] = {}
    for record, _, _ in plan.pieces:
        try:
            container = formats.get_format(record.format).container
        except RaydasError:
            container = False
        seen[(join(record.path, record.key) if container else record.path, record.key)] = None
    return list(seen)


# --- what one chunk's outputs should say ---------------------------------------------------------
@dataclass(frozen=True)
class Provenance:
    """What a run would write in the manifest for the outputs of one chunk."""

    output_id: str
    stream: str
    inputs: tuple[InputFile, ...]
    start_ns: int
    end_ns: int
    samples: int
    channels: int
    halo_before: int
    halo_after: int
    graph_digest: str
    settings: str
    settings_digest: str
    assumed: tuple[str, ...] = ()

    def row(self, path: str, nbytes: int | None, run_id: str, written_at: _dt.datetime) -> dict:
        """The manifest row of output ``path`` (``nbytes`` long) written by run ``run_id``."""
        entry = asdict(self)
        entry["inputs"] = [asdict(i) for i in self.inputs]
        entry["assumed"] = list(self.assumed)
        return {
            "path": path,
            **entry,
            "raydas_version": __version__,
            "bytes": nbytes,
            "written_at": written_at,
            "run_id": run_id,
        }

    def judge(self, row: dict | None, size_on_disk: int | None) -> str | None:
        """Why the output described by ``row`` (None: no row) and found on disk with
        ``size_on_disk`` bytes (None: not there) is not current; None when it is."""
        if size_on_disk is None:
            return OUTPUT_MISSING
        if row is None:
            return NOT_RECORDED
        if row.get("graph_digest") != self.graph_digest:
            return GRAPH_CHANGED
        if row.get("settings_digest") != self.settings_digest:
            return SETTINGS_CHANGED
        recorded = row.get("inputs") or []
        same_inputs = len(recorded) == len(self.inputs) and all(
            mine.same_as(theirs) for mine, theirs in zip(self.inputs, recorded)
        )
        span = (self.output_id, self.stream, self.start_ns, self.end_ns, self.samples, self.channels)
        halo = (self.halo_before, self.halo_after)
        if (
            not same_inputs
            or tuple(row.get(k) for k in ("output_id", "stream", "start_ns", "end_ns", "samples", "channels")) != span
            or (row.get("halo_before"), row.get("halo_after")) != halo
            or tuple(row.get("assumed") or ()) != self.assumed
        ):
            return INPUTS_CHANGED
        if row.get("bytes") is not None and row["bytes"] != size_on_disk:
            return OUTPUT_CHANGED
        return None


@dataclass
class RunProvenance:
    """What a run knows of every chunk's provenance: its graph and settings digests,
    and the input files' states (looked up once per file)."""

    graph_digest: str
    settings: str
    files: dict[str, tuple[int | None, int | None, str | None]] = field(default_factory=dict)

    @property
    def settings_digest(self) -> str:
        return hashlib.sha256(self.settings.encode()).hexdigest()

    def of(self, plan: ChunkPlan) -> Provenance:
        """The provenance of ``plan``'s outputs (stats its input files the first time)."""
        pairs = input_files(plan)
        missing = [url for url, _ in pairs if url not in self.files]
        if missing:
            self.files.update(stat_files(missing))
        inputs = tuple(InputFile(url, key, *self.files[url]) for url, key in pairs)
        first = plan.pieces[0][0] if plan.pieces else None
        return Provenance(
            output_id=plan.output_id,
            stream=first.stream if first is not None else "",
            inputs=inputs,
            start_ns=plan.start_ns,
            end_ns=plan.end_ns,  # stamped readings: the real span of their stamps
            samples=plan.stop - plan.start,
            channels=int(plan.positions.shape[0]),
            halo_before=plan.halo[0],
            halo_after=plan.halo[1],
            graph_digest=self.graph_digest,
            settings=self.settings,
            settings_digest=self.settings_digest,
            assumed=plan.assumed,
        )


def judge(provenance: Provenance, files: Sequence[str], rows: dict[str, dict], sizes: dict[str, int]) -> str | None:
    """Why a chunk must be recomputed: the first of :data:`REASONS` that one of its
    output ``files`` gives (``rows``: the manifest by path; ``sizes``: bytes on disk
    by path); None when every output is current (and there is at least one)."""
    if not files:
        return OUTPUT_MISSING
    found = {provenance.judge(rows.get(f), sizes.get(f)) for f in files} - {None}
    return next((r for r in REASONS if r in found), None)


# --- the manifest on disk --------------------------------------------------------------------------
def new_run_id() -> str:
    """A run's id: UTC start time and a random suffix (sorts by time)."""
    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:8]}"


class ResultsManifest:
    """The manifest of the outputs under ``root`` (any fsspec URL).

    Parameters
    ----------
    root
        The results root (or chunk store) the outputs lie under.
    """

    def __init__(self, root: str):
        self.root = str(root).rstrip("/") or "."
        self.folder = join(self.root, MANIFEST_DIR)

    def _fragments(self) -> list[str]:
        fs, path = url_to_fs(self.folder)
        try:
            names = fs.ls(path, detail=False)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(join(self.folder, posixpath.basename(n)) for n in names if n.endswith(".parquet"))

    def _read_fragments(self) -> tuple[list[str], Any]:
        """The fragments that could be read and their rows as one table (fragments merged
        or removed by another run meanwhile are looked for again, up to three times)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        for _ in range(3):
            read, tables, vanished = [], [], False
            for url in self._fragments():
                fs, path = url_to_fs(url)
                try:
                    with fs.open(path, "rb") as fh:
                        tables.append(pq.read_table(fh).cast(schema()))
                except FileNotFoundError:
                    vanished = True
                    continue
                except Exception as exc:  # a damaged fragment is named, never silently taken for "no rows"
                    raise RaydasError(f"{url}: results manifest fragment cannot be read ({exc})") from exc
                read.append(url)
            if not vanished:
                break
        table = pa.concat_tables(tables) if tables else schema().empty_table()
        return read, table

    def table(self):
        """Every output's latest row, as a pyarrow Table sorted by path."""
        _, table = self._read_fragments()
        return _latest(table)

    def rows(self) -> dict[str, dict]:
        """Every output's latest row, by path."""
        return {row["path"]: row for row in self.table().to_pylist()}

    def append(self, rows: list[dict], name: str) -> str:
        """Write ``rows`` as the fragment ``<name>.parquet`` (atomically); returns its URL."""
        import pyarrow as pa

        return self._write(pa.Table.from_pylist(rows, schema=schema()), name)

    def _write(self, table, name: str) -> str:
        import pyarrow.parquet as pq

        buf = io.BytesIO()
        pq.write_table(table, buf)
        url = join(self.folder, f"{name}.parquet")
        write_bytes_atomic(url, buf.getvalue())
        return url

    def compact(self, name: str) -> str | None:
        """Merge every fragment into ``<name>.parquet``, then remove the fragments merged
        (never one written meanwhile by another run); returns its URL (None: nothing to merge)."""
        read, table = self._read_fragments()
        if len(read) < 2:
            return read[0] if read else None
        url = self._write(_latest(table), name)
        for old in read:
            if old == url:
                continue
            fs, path = url_to_fs(old)
            try:
                fs.rm(path)
            except FileNotFoundError:  # merged by another run already
                pass
        return url


def _latest(table):
    """``table`` with one row per path: the latest written (ties: the last read)."""
    import pyarrow as pa

    if table.num_rows == 0:
        return table
    paths = table["path"].to_pylist()
    stamps = table["written_at"].to_pylist()
    earliest = _dt.datetime.min.replace(tzinfo=_dt.UTC)
    keep: dict[str, int] = {}
    for i in sorted(range(len(paths)), key=lambda i: (stamps[i] or earliest, i)):
        keep[paths[i]] = i
    return table.take(pa.array([keep[p] for p in sorted(keep)]))


def read_manifest(root: str):
    """The results manifest under ``root`` as a pyarrow Table, one (latest) row per output."""
    return ResultsManifest(root).table()


class ManifestWriter:
    """Collects a run's rows and writes them as fragments while the run goes
    (every :data:`FLUSH_ROWS` rows or :data:`FLUSH_SECONDS` s, merging every
    :data:`MERGE_EVERY` fragments), then merges. A driver killed loses the rows
    of at most the last second: those outputs are recomputed (to the same bytes)
    by the next run.

    Parameters
    ----------
    root
        Where the outputs (and so the manifest) lie.
    run_id
        The run's id (fragment names start with it).
    """

    FLUSH_ROWS = 500
    FLUSH_SECONDS = 1.0
    MERGE_EVERY = 64

    def __init__(self, root: str, run_id: str | None = None):
        self.manifest = ResultsManifest(root)
        self.run_id = run_id or new_run_id()
        self._rows: list[dict] = []
        self._count = 0
        self._flushed_at = time.monotonic()

    def add(self, provenance: Provenance, files: Sequence[str], sizes: dict[str, int]) -> None:
        """Record ``files`` (relative to the root; ``sizes`` in bytes) as written with ``provenance``."""
        now = _dt.datetime.now(_dt.UTC)
        self._rows.extend(provenance.row(f, sizes.get(f), self.run_id, now) for f in files)
        if len(self._rows) >= self.FLUSH_ROWS or time.monotonic() - self._flushed_at > self.FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write the rows collected so far as one fragment."""
        if self._rows:
            self.manifest.append(self._rows, f"{self.run_id}-{self._count:05d}")
            self._count += 1
            self._rows = []
            if self._count % self.MERGE_EVERY == 0:
                self.manifest.compact(f"{self.run_id}-{self._count:05d}-merged")
        self._flushed_at = time.monotonic()

    def close(self) -> str | None:
        """Flush, then merge every fragment of the root; returns the merged file's URL."""
        self.flush()
        if self._count == 0:
            return None
        return self.manifest.compact(f"{self.run_id}-merged")
