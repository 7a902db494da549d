"""Writing Zarr v3 stores, one per output stream: a recording's results as one
``(distance, time)`` array with its coordinates, filled chunk by chunk by many
processes at once, on any fsspec file system (local, S3...).

A store (a folder) holds a Zarr v3 group that ``xarray.open_zarr(url,
consolidated=False)`` opens as a Dataset (no consolidated metadata: it is not
part of Zarr v3, and xarray without ``consolidated=False`` warns, then opens it)::

    <store>/zarr.json                  the group (attributes: what wrote it)
    <store>/data/zarr.json             (distance, time) array, the recording's whole length,
                                       one Zarr chunk per pipeline chunk (all channels x
                                       the run's chunk length); attribute units
    <store>/data/c/0/<k>               the samples of pipeline chunk k of the recording
    <store>/time/zarr.json, c/<k>      int64 ns since 1970-01-01 UTC of every sample
                                       (units "nanoseconds since 1970-01-01", decoded by xarray)
    <store>/distance/zarr.json, c/0    float64 channel positions, m
    <store>/x, y, z                    float64 X, Y, Z of each channel from a geometry table
                                       (NaN where unknown), named by ``data``'s CF
                                       ``coordinates`` attribute; only with a table

Why many writers do not corrupt each other: the array is sized for the whole
recording before any chunk is written (the planner knows its length), and the
chunk grid along time is the planner's chunk length, so pipeline chunk ``k``
fills exactly Zarr chunk ``k`` of ``data`` and of ``time`` (files no other
chunk writes), each file written whole under its final name. The metadata
files and the distance chunk are the same bytes from every writer of the
recording, so writing them again changes nothing. A chunk never reads what
another wrote.

The bytes are made by ``zarr`` itself (the ``zarr`` extra) in memory; the
caller writes them (through the results sink, atomically, never through a link).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import RaydasError
from ..fsutil import join, write_bytes_atomic
from ..timeutil import unix_stem
from .writecheck import Patch, chunk_patch

TIME_UNITS = "nanoseconds since 1970-01-01"
#: the fill of ``time`` where no chunk wrote (int64 min: NaT)
TIME_FILL = np.iinfo(np.int64).min


@dataclass(frozen=True)
class ZarrSlot:
    """Where one chunk goes in its stream's array.

    Attributes
    ----------
    first
        Index along time of the chunk's first sample (a multiple of ``grid``).
    total
        Samples along time of the whole array (the recording).
    grid
        Samples along time of every Zarr chunk (the planner's chunk length).
    origin_ns
        Time of the array's first sample, ns since 1970 (UTC); it names the store.
    """

    first: int
    total: int
    grid: int
    origin_ns: int

    @property
    def store_name(self) -> str:
        """``<unixtime of the recording's start>.zarr``."""
        return f"{unix_stem(self.origin_ns)}.zarr"

    @classmethod
    def of(cls, placement, n_samples: int, start_ns: int, writer: str) -> ZarrSlot:
        """The slot of a chunk of ``n_samples`` starting at ``start_ns`` (ns UTC):
        from its :class:`~raydas.chunk.Placement`, or, without one, a stream of its own.

        Raises
        ------
        RaydasError
            When the chunk's samples do not fill the place the planner gave it
            (the input was resampled or cut along time).
        """
        if placement is None:
            return cls(0, n_samples, n_samples, start_ns)
        expected = min(placement.chunk_samples, placement.samples - placement.first)
        if n_samples != expected or placement.first % placement.chunk_samples:
            raise RaydasError(
                f"{writer}: writes the recording's own time samples; its input has {n_samples} columns where "
                f"the chunk has {expected} samples (write before resampling or cutting along time)"
            )
        return cls(placement.first, placement.samples, placement.chunk_samples, placement.recording_start_ns)


def _zarr():
    try:
        import zarr
    except ImportError:
        raise RaydasError("the Zarr writer needs zarr 3: pip install 'raydas[zarr]'") from None
    return zarr


def zarr_chunk_files(patch: Patch, slot: ZarrSlot) -> dict[str, bytes]:
    """The files (paths inside the store -> bytes) one chunk writes: its own chunk
    of ``data`` and ``time``, then the distance chunk and the metadata (the same
    from every chunk of the stream), in the order to write them.

    Parameters
    ----------
    patch
        The chunk's checked samples and coordinates (positions in m, times in ns UTC).
    slot
        Where it goes (:class:`ZarrSlot`).
    """
    zarr = _zarr()
    n_channels, n = patch.data.shape
    if slot.first + n > slot.total:
        raise RaydasError(f"Zarr writer: samples {slot.first}..{slot.first + n} do not fit an array of {slot.total}")
    files: dict = {}
    store = zarr.storage.MemoryStore(files)
    config = {"write_empty_chunks": True}  # every chunk's file exists, whatever its values
    group = zarr.create_group(store=store, zarr_format=3, attributes={"written_by": "raydas"})
    data = group.create_array(
        "data",
        shape=(n_channels, slot.total),
        chunks=(n_channels, slot.grid),
        dtype=patch.data.dtype,
        fill_value=np.nan if patch.data.dtype.kind == "f" else 0,
        dimension_names=("distance", "time"),
        attributes={"units": patch.units} if patch.units else {},
        config=config,
    )
    time = group.create_array(
        "time",
        shape=(slot.total,),
        chunks=(slot.grid,),
        dtype="int64",
        fill_value=TIME_FILL,
        dimension_names=("time",),
        attributes={"units": TIME_UNITS, "calendar": "proleptic_gregorian"},
        config=config,
    )
    distance = group.create_array(
        "distance",
        shape=(n_channels,),
        chunks=(n_channels,),
        dtype="float64",
        fill_value=np.nan,
        dimension_names=("distance",),
        attributes={"units": "m"},
        config=config,
    )
    data[:, slot.first : slot.first + n] = patch.data
    time[slot.first : slot.first + n] = patch.times_ns
    distance[:] = patch.positions
    if patch.xyz is not None:  # a geometry table's X, Y, Z along distance (the same from every chunk)
        for k, name in enumerate("xyz"):
            coord = group.create_array(
                name,
                shape=(n_channels,),
                chunks=(n_channels,),
                dtype="float64",
                fill_value=np.nan,
                dimension_names=("distance",),
                attributes={"units": patch.xyz_units[k]} if patch.xyz_units[k] else {},
                config=config,
            )
            coord[:] = patch.xyz[:, k]
        data.attrs["coordinates"] = "x y z"  # xarray opens them as coordinates
    own = [k for k in files if "/c/" in k and k.split("/")[0] in ("data", "time")]
    shared = [k for k in files if k not in own]
    return {k: files[k].to_bytes() for k in (*sorted(own), *sorted(shared, key=lambda k: k.endswith("zarr.json")))}


def write_zarr(chunk, url: str) -> list[str]:
    """Write a :class:`~raydas.chunk.Chunk` (its own samples, halo trimmed) into
    the Zarr v3 store of its recording under the folder ``url`` (any fsspec URL):
    ``<url>/<unixtime of the recording's start>.zarr``, placed by the chunk's
    :class:`~raydas.chunk.Placement` (a chunk without one is a store of its own).
    Chunks of one recording may be written in any order, from any process.

    Returns
    -------
    list of str
        The URLs written.

    Raises
    ------
    RaydasError
        For what :func:`~raydas.formats.writecheck.checked_patch` refuses, or
        without zarr.
    """
    patch = chunk_patch("Zarr writer", chunk)
    slot = ZarrSlot.of(chunk.placement, patch.data.shape[1], patch.start_ns, "Zarr writer")
    written = []
    for key, payload in zarr_chunk_files(patch, slot).items():
        target = join(url, slot.store_name, key)
        write_bytes_atomic(target, payload)
        written.append(target)
    return written
