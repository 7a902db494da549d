"""The chunk store: raydas's intermediate format, and distpy's ingested layout.

A chunk store is a folder (on any fsspec file system)::

    <store>/manifest.parquet      one row per chunk (file, start, dt, shape, source, checksum)
    <store>/measured_depth.npy    channel positions in metres, shape (n_channels, 1)
    <store>/<unixtime>.npy        float32 (n_channels, n_samples), one per chunk

Chunks are stored under their output identity (:mod:`raydas.identity`):
``<store>/<unixtime>.npy`` in distpy's layout, ``<store>/<recording label>/<unixtime>.npy``
(with that folder's own ``measured_depth.npy``) when the store holds several
recordings. The folder of a chunk's file is its recording's label, which a
scan gives as the record's ``stream`` and ``attrs["label"]``.

which is also what distpy's processing stage reads (a folder of
``<unixtime>.npy`` chunks plus ``measured_depth.npy``). distpy's own folders,
with float64 1-second chunks and no manifest, are read as the ``distpy-npy``
format: the sample rate is the chunk width (distpy's chunks are one second by
construction) unless the config says otherwise.
"""

from __future__ import annotations

import io
import json
import posixpath
import re
from dataclasses import dataclass

import numpy as np
import xxhash

from ..chunk import Chunk
from ..errors import FormatError
from ..fsutil import is_local, join, url_to_fs, write_bytes_atomic
from ..timeutil import stem_to_ns
from . import register
from .base import Format, Probe, RecordInfo, as_float32, check_declared_size, quantity_of, stored_extent
from .npyfolder import DEPTH_FILE, TIME_FILE, npy_bytes, npy_folder_files

MANIFEST = "manifest.parquet"
_CHUNK_NAME = re.compile(r"^(\d+(?:\.\d+)?)\.npy$")


def npy_parts(array: np.ndarray) -> list:
    """A C-contiguous array as ``.npy`` file content without copying its data:
    ``[header bytes, memoryview of the samples]`` (write them one after the other)."""
    array = np.ascontiguousarray(array)
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, np.lib.format.header_data_from_array_1_0(array))
    return [head.getvalue(), memoryview(array.reshape(-1)).cast("B") if array.size else b""]


def checksum(payload) -> str:
    """``xxh3_64:<hex>`` (xxHash XXH3, 64 bits) of bytes, or of a list of
    buffers taken one after the other: the digest of the file's bytes.

    XXH3 rather than CRC-32: ingest checksums every byte it writes, and CRC-32
    (about 1.7 GB/s) took as long as writing the file; XXH3 runs at memory
    speed. Stores written before carry ``crc32:<hex>``.
    """
    digest = xxhash.xxh3_64()
    for part in payload if isinstance(payload, (list, tuple)) else [payload]:
        digest.update(part)
    return f"xxh3_64:{digest.hexdigest()}"


def load_npy(url: str, mmap: bool = True) -> np.ndarray:
    """Load a .npy file from any URL (memory-mapped when local), never with pickle."""
    fs, path = url_to_fs(url)
    try:
        if is_local(fs):
            return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        with fs.open(path, "rb") as fh:
            return np.load(io.BytesIO(fh.read()), allow_pickle=False)
    except FileNotFoundError:
        raise FormatError(url, "does not exist") from None
    except (ValueError, OSError, EOFError) as exc:
        raise FormatError(url, f"is not a readable .npy array ({exc})") from exc


def npy_header(url: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a .npy file, reading only its header.

    Raises
    ------
    FormatError
        When the header is not valid, or declares more samples than the file holds.
    """
    fs, path = url_to_fs(url)
    with fs.open(path, "rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = reader(fh)
        except (ValueError, OSError, EOFError) as exc:
            raise FormatError(url, f"has no valid .npy header ({exc})") from exc
        header_end = fh.tell()
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    check_declared_size(url, f"the .npy header ({shape} {dtype})", declared, fs.size(path) - header_end)
    return shape, dtype


def _stored_samples(probe: Probe, rows: list[dict]) -> dict[str, int]:
    """Samples per channel each manifest row's chunk file can hold (float32, from one
    listing of each recording's folder of the store), for the rows whose file is
    smaller than the row declares: those are planned only as far as their file
    goes, with a warning; at least one sample, so that a damaged file is still
    named when its chunk is read. A missing file fails when its chunk is read."""
    sizes = {}
    for folder in sorted({posixpath.dirname(str(row["file"])) for row in rows}):
        try:
            listing = probe.fs.ls(posixpath.join(probe.path, folder) if folder else probe.path, detail=True)
        except FileNotFoundError:
            continue
        for entry in listing:
            sizes[posixpath.join(folder, posixpath.basename(entry["name"]))] = int(entry.get("size") or 0)
    stored = {}
    for row in rows:
        name, n_channels, declared = str(row["file"]), max(1, int(row["n_channels"])), int(row["n_samples"])
        if name in sizes and sizes[name] < 4 * n_channels * declared:
            what = f"the manifest row of {name} ({n_channels} channels, float32)"
            stored[name] = stored_extent(join(probe.url, name), what, declared, max(1, sizes[name] // (4 * n_channels)))
    return stored


def _positions(folder: str, n_channels: int) -> tuple[np.ndarray, bool]:
    """Channel positions (m) from ``folder``'s ``measured_depth.npy``, and True when
    there is none (channel indices are then assumed)."""
    fs, path = url_to_fs(folder)
    depth_path = posixpath.join(path, DEPTH_FILE)
    if fs.exists(depth_path):
        depth = np.asarray(load_npy(join(folder, DEPTH_FILE), mmap=False), dtype=np.float64).reshape(-1)
        if depth.shape[0] == n_channels:
            return depth, False
        raise FormatError(join(folder, DEPTH_FILE), f"has {depth.shape[0]} depths for {n_channels} channels")
    return np.arange(n_channels, dtype=np.float64), True


@register
class ChunkStoreFormat(Format):
    name = "raydas-chunks"
    description = "raydas chunk store: <unixtime>.npy chunks + manifest.parquet (any fsspec URL)"
    container = True
    quantities = ("strain_rate", "strain", "velocity")
    tested_on = ("written by the tests",)

    def detect(self, probe: Probe) -> bool:
        return probe.is_dir and MANIFEST in probe.entry_names

    def scan(self, probe: Probe) -> list[RecordInfo]:
        import pyarrow.parquet as pq

        manifest_url = join(probe.url, MANIFEST)
        try:
            with probe.fs.open(posixpath.join(probe.path, MANIFEST), "rb") as fh:
                table = pq.read_table(fh)
        except Exception as exc:
            raise FormatError(manifest_url, f"is not a readable Parquet manifest ({exc})") from exc
        meta = json.loads((table.schema.metadata or {}).get(b"raydas", b"{}"))
        rows = table.to_pylist()
        if not rows:
            return []
        stored = _stored_samples(probe, rows)
        positions: dict[str, tuple[np.ndarray, bool]] = {}  # recording label (folder) -> positions (m), assumed
        records = []
        for row in rows:
            label = posixpath.dirname(row["file"])
            if label not in positions:
                positions[label] = _positions(join(probe.url, label), int(row["n_channels"]))
            depth, depth_assumed = positions[label]
            assumed = {a for a in (row.get("assumed") or "").split(",") if a}
            if depth_assumed:
                assumed.add("positions")
            records.append(
                RecordInfo(
                    path=probe.url,
                    format=self.name,
                    n_channels=int(row["n_channels"]),
                    n_samples=stored.get(row["file"], int(row["n_samples"])),
                    dt=float(row["dt"]),
                    start_ns=int(row["start_ns"]),
                    positions=depth,
                    units=meta.get("units", ""),
                    quantity=quantity_of(meta.get("units")),
                    gauge_length=float(meta.get("gauge_length", float("nan"))),
                    key=row["file"],
                    attrs={"source": row.get("source", ""), "checksum": row.get("checksum", ""), "label": label},
                    stream=label,
                    assumed=tuple(assumed),
                )
            )
        return records

    def read_samples(self, record: RecordInfo, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
        return as_float32(load_npy(join(record.path, record.key))[channels, start:stop])


def _time_axis_dt(folder: str, width: int) -> float | None:
    """Sample interval (s) from a folder's ``time.npy``, or None.

    raydas (and distpy's ``write_npy`` when given a ``time_scale``) write the
    time of each column in seconds from the chunk start; distpy writes plain
    column indices ``0, 1, 2...`` otherwise, which say nothing about time, so
    those are ignored (a one-second chunk of ``width`` samples is assumed).
    """
    fs, path = url_to_fs(folder)
    if not fs.exists(posixpath.join(path, TIME_FILE)):
        return None
    axis = np.asarray(load_npy(join(folder, TIME_FILE), mmap=False), dtype=np.float64).reshape(-1)
    if axis.shape[0] != width or width < 2 or np.array_equal(axis, np.arange(width)):
        return None
    dt = (axis[-1] - axis[0]) / (width - 1)
    return float(dt) if dt > 0 else None


def write_npy_folder(chunk: Chunk, url: str) -> list[str]:
    """Write a Chunk (halo trimmed) as distpy's ``write_npy`` layout: ``<stem>.npy``
    float32 ``(channel, time)`` plus ``measured_depth.npy`` (m, shape (n, 1)) and
    ``time.npy`` (s from the chunk start) beside it.

    ``url`` is the folder, or the ``.npy`` file to write (its folder then holds the axes).
    """
    core = chunk.trimmed()
    url = str(url)
    if url.endswith(".npy"):
        folder, name = posixpath.dirname(url), posixpath.basename(url)
    else:
        folder, name = url, f"{core.stem}.npy"
    seconds = np.arange(core.data.shape[1]) * core.dt
    files = npy_folder_files(folder, name, np.asarray(core.data, dtype=np.float32), core.positions, seconds)
    for target, payload in files.items():
        write_bytes_atomic(target, payload)
    return list(files)


@register
class DistpyChunksFormat(Format):
    name = "distpy-npy"
    description = "distpy's folder: <unixtime>.npy (n_channels, time) chunks + measured_depth.npy (+ time.npy)"
    container = True
    extensions = (".npy",)
    tested_on = ("written by itself",)
    states_sample_rate = False  # the chunk width is taken for one second unless time.npy says otherwise

    def write(self, chunk, url: str, **options) -> list[str]:
        """Write a Chunk as ``<stem>.npy`` + axes; see :func:`write_npy_folder`."""
        return write_npy_folder(chunk, url)

    def detect(self, probe: Probe) -> bool:
        if not probe.is_dir:
            return False
        names = probe.entry_names
        return MANIFEST not in names and any(_CHUNK_NAME.match(n) for n in names)

    def scan(self, probe: Probe) -> list[RecordInfo]:
        names = sorted(
            (posixpath.basename(p) for p in probe.fs.ls(probe.path, detail=False)),
            key=lambda n: float(_CHUNK_NAME.match(n).group(1)) if _CHUNK_NAME.match(n) else -1,
        )
        records = []
        positions = None
        for name in names:
            m = _CHUNK_NAME.match(name)
            if not m:
                continue
            shape, _ = npy_header(join(probe.url, name))
            if len(shape) != 2:
                raise FormatError(join(probe.url, name), f"is {len(shape)}-D; distpy chunks are (depth, time)")
            if positions is None:
                positions, depth_assumed = _positions(probe.url, shape[0])
                dt = _time_axis_dt(probe.url, shape[1])
            records.append(
                RecordInfo(
                    path=probe.url,
                    format=self.name,
                    n_channels=shape[0],
                    n_samples=shape[1],
                    dt=dt or 1.0 / shape[1],  # without a time axis, distpy chunks hold one second
                    start_ns=stem_to_ns(m.group(1)),
                    positions=positions,
                    key=name,
                    assumed=("positions",) * depth_assumed + ("sample_rate",) * (dt is None),
                )
            )
        return records

    def read_samples(self, record: RecordInfo, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
        return as_float32(load_npy(join(record.path, record.key))[channels, start:stop])


@dataclass
class StoredChunk:
    """One manifest row (``size``: bytes of the chunk's file)."""

    file: str
    start_ns: int
    n_samples: int
    n_channels: int
    dt: float
    source: str
    checksum: str
    size: int = 0
    assumed: str = ""  # the chunk's assumed coordinates, comma-separated (RecordInfo.assumed)


class ChunkStore:
    """A chunk store being written: chunks (halo trimmed), then its manifest.

    What the runtime needs of a store, and all it knows of one: :meth:`write`
    a chunk (returns its manifest row), the :meth:`files` a stored chunk
    occupies (to skip chunks already stored), :meth:`describe_existing` (the
    row of a chunk stored by an earlier run) and :meth:`finish` (the manifest).
    Picklable (only its URL), so ingest tasks get it as an argument.

    ``write`` may run in many processes at once (each chunk its own file,
    written atomically); ``finish`` runs once, in the driver, with every row.
    """

    def __init__(self, url: str):
        self.url = str(url).rstrip("/")

    def chunk_url(self, output_id: str) -> str:
        """URL of the stored chunk ``output_id`` (its output identity)."""
        return join(self.url, f"{output_id}.npy")

    def write(self, chunk: Chunk) -> StoredChunk:
        """Store ``chunk`` (halo trimmed) under its output identity; returns its manifest row."""
        core = np.ascontiguousarray(chunk.core, dtype=np.float32)
        payload = npy_parts(core)  # header + the samples themselves: no copy of the chunk on the way to the file
        write_bytes_atomic(self.chunk_url(chunk.output_id), payload)
        return StoredChunk(
            file=f"{chunk.output_id}.npy",
            start_ns=chunk.start_ns,
            n_samples=core.shape[1],
            n_channels=core.shape[0],
            dt=chunk.dt,
            source=chunk.source,
            checksum=checksum(payload),
            size=sum(memoryview(part).nbytes for part in payload),
            assumed=",".join(chunk.attrs.get("assumed", ())),
        )

    def describe_existing(
        self, output_id: str, chunk_start_ns: int, dt: float, source: str, assumed: tuple[str, ...] = ()
    ) -> StoredChunk:
        """Manifest row for the chunk ``output_id`` already in the store (a resumed run),
        as :meth:`write` made it (``assumed``: the chunk's assumed coordinates)."""
        url = self.chunk_url(output_id)
        fs, path = url_to_fs(url)
        payload = fs.cat_file(path)
        shape, _ = npy_header(url)
        return StoredChunk(
            f"{output_id}.npy",
            chunk_start_ns,
            shape[1],
            shape[0],
            dt,
            source,
            checksum(payload),
            len(payload),
            ",".join(assumed),
        )

    def finish(
        self,
        rows: list[StoredChunk],
        positions: np.ndarray | dict[str, np.ndarray],
        units: str = "",
        gauge_length: float = float("nan"),
    ) -> str:
        """Write ``measured_depth.npy`` (one per folder of chunks) and the manifest; returns the manifest URL.

        ``positions``: channel positions (m) of every folder, or a mapping of folder
        (``""`` for the store itself, else a recording label) to its positions.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = sorted(rows, key=lambda r: (r.start_ns, r.file))
        folders = sorted({posixpath.dirname(r.file) for r in rows} or {""})
        for folder in folders:
            depth = positions[folder] if isinstance(positions, dict) else positions
            write_bytes_atomic(
                join(self.url, folder, DEPTH_FILE), npy_bytes(np.asarray(depth, dtype=np.float64).reshape(-1, 1))
            )
        table = pa.Table.from_pylist([r.__dict__ for r in rows])
        meta = {"units": units, "gauge_length": gauge_length, "layout": "(channel, time) float32"}
        table = table.replace_schema_metadata({"raydas": json.dumps(meta)})
        buf = io.BytesIO()
        pq.write_table(table, buf)
        write_bytes_atomic(join(self.url, MANIFEST), buf.getvalue())
        return join(self.url, MANIFEST)

    def files(self, output_id: str) -> list[str]:
        """The files (relative to the store's root) that the chunk ``output_id`` occupies once stored."""
        return [f"{output_id}.npy"]
