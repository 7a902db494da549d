"""What every HDF5 reader shares: the :class:`HDF5Format` base class and the
helpers it and its subclasses use (checked data sets, windowed reads,
metadata stored as data sets, h5py errors turned into FormatErrors).

A vendor's HDF5 reader subclasses :class:`HDF5Format` and keeps only its
declarations (``name``, ``description``) and its layout knowledge:
``looks_like`` (is this open file ours?), ``scan_hdf5`` (the records, from
metadata only) and, when the samples are not one 2-D data set, ``read_hdf5``.
The base class opens the file (through the detection probe for a scan, once
per call for samples) and turns what h5py raises on a damaged file into a
:class:`~raydas.errors.FormatError` naming it.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from ..errors import FormatError, RaydasError
from ..fsutil import is_local, url_to_fs
from . import isolation
from .base import (
    HDF5_MAGIC,
    Format,
    Probe,
    RecordInfo,
    as_float32,
    check_declared_size,
    open_h5,
    required_number,
    stored_extent,
    time_major_to_float32,
)


class HDF5Format(Format):
    """Base class of the readers of HDF5 layouts (PRODML, Silixa, Terra15, ...).

    Subclasses implement :meth:`looks_like` and :meth:`scan_hdf5`. The default
    :meth:`read_hdf5` reads the 2-D data set ``record.key`` in the axis order
    :meth:`time_first` gives (``record.attrs["time_first"]``, true when absent).
    """

    suffixes = (".h5", ".hdf5", ".he5", ".hdf")

    def signature(self, head: bytes) -> bool:
        return head.startswith(HDF5_MAGIC)

    def looks_like(self, h5) -> bool:
        """True when the open HDF5 file ``h5`` holds this vendor's layout (judged by content)."""
        raise NotImplementedError

    def scan_hdf5(self, url: str, h5) -> list[RecordInfo]:
        """The records of the open HDF5 file ``h5`` (its URL ``url``), from metadata only."""
        raise NotImplementedError

    def detect(self, probe: Probe) -> bool:
        h5 = probe.h5
        return h5 is not None and self.looks_like(h5)

    def scan(self, probe: Probe) -> list[RecordInfo]:
        """Records of the probed file: :meth:`scan_hdf5` on the file the probe opened.

        Raises
        ------
        FormatError
            Naming the file, when it is not HDF5 or its content is damaged.
        """
        h5 = probe.h5
        if h5 is None:
            raise FormatError(probe.url, f"is not an HDF5 file (the {self.name} format is HDF5)")
        with hdf5_errors(probe.url):
            return self.scan_hdf5(probe.url, h5)

    def read_samples(self, record: RecordInfo, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
        """Samples ``[start, stop)`` x ``channels`` of ``record`` as float32
        ``(channel, time)``: the file is opened once and :meth:`read_hdf5` reads the window.

        Raises
        ------
        FormatError
            Naming the file, when it cannot be opened or its content is damaged.
        """
        fs = url_to_fs(record.path)[0]
        if not is_local(fs) and isolation.can_isolate(fs):
            # a remote file is read in the helper process, with its timeout, so a
            # damaged one (or a stalled transfer) fails alone instead of hanging the actor
            return isolation.run_guarded(
                record.path, _read_here, self.name, record, start, stop, channels, what="reading its samples"
            )
        return self.read_here(record, start, stop, channels)

    def read_here(self, record: RecordInfo, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
        """:meth:`read_samples` in this process, unguarded (the helper process calls this)."""
        with hdf5_errors(record.path), open_h5(record.path) as h5:
            return self.read_hdf5(h5, record, start, stop, channels)

    def read_hdf5(self, h5, record: RecordInfo, start: int, stop: int, channels: slice) -> np.ndarray:
        """The window from the open file ``h5``; by default from the 2-D data set
        ``record.key`` (samples past ``record.n_samples`` are never read); for a
        record that is one run of a data set split at its time gaps, the data set
        ``record.attrs["dataset"]`` from its time index ``record.attrs["first_sample"]`` on."""
        data = numeric_dataset(record.path, h5, record.attrs.get("dataset", record.key))
        first = record.attrs.get("first_sample", 0)
        stop = min(stop, record.n_samples)
        return read_window(data, self.time_first(record), first + start, first + max(stop, start), channels)

    def time_first(self, record: RecordInfo) -> bool:
        """True when ``record``'s data set is stored ``(time, channel)``."""
        return record.attrs.get("time_first", True)


def numeric_dataset(url: str, h5, key: str, ndim: int | tuple[int, ...] = 2, axes: str = ""):
    """The data set ``key`` of an open HDF5 file (or group), checked to be a
    numeric array of ``ndim`` dimensions with no zero-length axis; ``axes``
    names the expected dimensions in the error (``"block, time, channel"``).

    Raises
    ------
    FormatError
        Naming ``url`` and what is wrong (missing, not numeric, wrong shape).
    """
    import h5py

    node = h5.get(key)
    if not isinstance(node, h5py.Dataset):
        raise FormatError(url, f"has no data set {key}")
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if node.ndim not in dims:
        expected = " or ".join(map(str, dims)) + (f" ({axes})" if axes else "")
        raise FormatError(url, f"data set {node.name} has {node.ndim} dimensions; expected {expected}")
    if node.dtype.kind not in "iuf":
        raise FormatError(url, f"data set {node.name} holds {node.dtype} values, not numbers")
    if 0 in node.shape:
        raise FormatError(url, f"data set {node.name} is empty (shape {node.shape})")
    return node


#: HDF5 storage layouts (``H5D_COMPACT``, ``H5D_CONTIGUOUS``, ``H5D_CHUNKED``, ``H5D_VIRTUAL``)
_COMPACT, _CONTIGUOUS, _CHUNKED, _VIRTUAL = 0, 1, 2, 3


def stored_shape(url: str, dataset, axis: int = 0, partial: bool = True) -> tuple[int, ...]:
    """The shape of ``dataset`` as far as the file really stores it, before a
    scan commits to the shape it declares (a 2.3 MB file may declare 2**31 rows
    and store 1000).

    Stored means written into the file, within its end: for a chunked data set,
    the allocated chunks whose bytes lie inside the file; for a contiguous one,
    its allocated bytes up to the end of the file. Along ``axis`` (time, or
    Febus blocks) the stored extent is the run of leading complete slabs;
    when it is shorter than declared, only it is read, with a
    :class:`~raydas.errors.TruncatedFileWarning` (:func:`~raydas.formats.base.stored_extent`).
    Virtual and external data sets are taken as declared.

    Parameters
    ----------
    url
        The file, named in warnings and errors.
    dataset
        An open h5py data set.
    axis
        The axis that may be stored in part (time).
    partial
        False to refuse any data set that is not wholly stored (metadata arrays read whole).

    Raises
    ------
    FormatError
        When nothing is stored, when chunks are stored after a missing one
        (holes), or when ``partial`` is false and less than declared is stored.
    """
    shape = tuple(int(n) for n in dataset.shape)
    if not shape or 0 in shape:
        return shape
    plist = dataset.id.get_create_plist()
    layout = plist.get_layout()
    if layout in (_COMPACT, _VIRTUAL) or plist.get_external_count() > 0:
        return shape
    what = f"data set {dataset.name} ({' x '.join(map(str, shape))} {dataset.dtype})"
    end_of_file = dataset.file.id.get_filesize()
    if layout == _CONTIGUOUS:
        slab_bytes = dataset.dtype.itemsize * math.prod(shape) // shape[axis]
        offset = dataset.id.get_offset()
        stored_bytes = 0 if offset is None else min(dataset.id.get_storage_size(), end_of_file - offset)
        if axis != 0:  # a cut contiguous array ends part-way through the other axes' rows
            check_declared_size(url, what, slab_bytes * shape[axis], stored_bytes)
            return shape
        stored = stored_bytes // slab_bytes
    else:
        stored = _stored_chunk_slabs(url, dataset, axis, end_of_file, what) * dataset.chunks[axis]
    n = stored_extent(url, what, shape[axis], min(stored, shape[axis]), partial=partial)
    return shape[:axis] + (n,) + shape[axis + 1 :]


def _stored_chunk_slabs(url: str, dataset, axis: int, end_of_file: int, what: str) -> int:
    """Leading slabs of chunks along ``axis`` whose every chunk is stored
    (allocated, and inside the file); FormatError when a chunk is stored past them."""
    shape, chunks = dataset.shape, dataset.chunks
    per_axis = [-(-n // c) for n, c in zip(shape, chunks)]
    across = math.prod(per_axis) // per_axis[axis]  # chunks in one slab
    found: dict[int, int] = {}

    def visit(info) -> None:
        if info.byte_offset is not None and info.byte_offset + info.size <= end_of_file:
            slab = info.chunk_offset[axis] // chunks[axis]
            found[slab] = found.get(slab, 0) + 1

    n_chunks = dataset.id.get_num_chunks()
    if n_chunks:
        try:
            dataset.id.chunk_iter(visit)
        except (AttributeError, NotImplementedError):  # HDF5 before 1.12.3: one chunk at a time
            for i in range(n_chunks):
                visit(dataset.id.get_chunk_info(i))
    slabs = 0
    while found.get(slabs, 0) == across:
        slabs += 1
    later = sum(count for slab, count in found.items() if slab >= slabs)
    if later:
        raise FormatError(
            url,
            f"{what} has holes: {later} chunk(s) are stored after chunk row {slabs} of {per_axis[axis]}, "
            "which is missing or lies past the end of the file (damaged, or the header lies)",
        )
    return slabs


def check_stored(url: str, dataset) -> None:
    """Refuse a data set whose declared values cannot be in the file: contiguous
    data must have the bytes its shape declares allocated
    (``get_storage_size``) inside the file; chunked data must have some chunk
    stored. So a lying header never makes raydas read or allocate what is not there.

    Raises
    ------
    FormatError
        Naming ``url``, the data set, what it declares and what the file stores.
    """
    declared = int(np.prod(dataset.shape, dtype=np.float64) * dataset.dtype.itemsize)
    stored = int(dataset.id.get_storage_size())
    if dataset.chunks is None:
        offset = dataset.id.get_offset()
        end = (offset if offset is not None else 0) + declared
        size = dataset.file.id.get_filesize()
        if stored < declared or offset is None or end > size:
            raise FormatError(
                url,
                f"data set {dataset.name} declares {dataset.shape} {dataset.dtype} values ({declared} bytes) but the "
                f"file stores {stored} bytes of it" + (f", ending at byte {end} of {size}" if end > size else ""),
            )
    elif declared and not stored:
        raise FormatError(url, f"data set {dataset.name} declares {dataset.shape} values but stores none")


def check_complete(url: str, dataset) -> None:
    """Refuse a data set a scan reads whole (a time or position array) unless all
    its declared values are stored: :func:`check_stored`, and for chunked data
    every chunk allocated. A chunked array declaring a billion values with one
    chunk written would otherwise be read as a billion fill values.

    Raises
    ------
    FormatError
        Naming ``url``, the data set, the chunks it declares and those it stores.
    """
    check_stored(url, dataset)
    if dataset.chunks is None or not dataset.size:
        return
    declared = int(np.prod([-(-n // c) for n, c in zip(dataset.shape, dataset.chunks)], dtype=np.float64))
    stored = int(dataset.id.get_num_chunks())
    if stored < declared:
        raise FormatError(
            url, f"data set {dataset.name} declares {dataset.shape} values in {declared} chunks but stores {stored}"
        )


def read_window(dataset, time_first: bool, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
    """Samples ``[start, stop)`` x ``channels`` of a 2-D HDF5 data set as a
    float32 ``(channel, time)`` array, reading only that hyperslab.

    ``time_first`` says the stored axis order: ``(time, channel)`` when true,
    ``(channel, time)`` otherwise.
    """
    if time_first:
        return time_major_to_float32(dataset[start:stop, channels])
    return as_float32(dataset[channels, start:stop])


def dataset_value(h5, key: str, default=None):
    """A scalar or 1-element HDF5 data set (vendors that store metadata as data
    sets: AP Sensing, OptoDAS) as a Python value; ``default`` when missing or empty."""
    node = h5.get(key)
    if node is None or not hasattr(node, "shape"):
        return default
    value = node[()]
    if isinstance(value, np.ndarray):
        if value.size == 0:
            return default
        value = value.reshape(-1)[0]
    return value


def required_dataset_number(url: str, h5, key: str, what: str) -> float:
    """A number a vendor stores as a 1-element data set ``key`` (AP Sensing,
    OptoDAS), as a float.

    Raises
    ------
    FormatError
        Naming ``url``, ``what`` the number is and ``key``, when the data set
        is missing or does not hold a number.
    """
    return required_number(url, dataset_value(h5, key), f"{what} ({key})")


@contextlib.contextmanager
def hdf5_errors(url: str):
    """Turn the errors h5py raises on a damaged file (``OSError``,
    ``RuntimeError``, ``KeyError``, ``ValueError`` from the HDF5 library) into
    a :class:`FormatError` naming ``url``; the project's own errors pass through."""
    try:
        yield
    except RaydasError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise FormatError(
            url, f"HDF5 content is damaged or not as the format says ({type(exc).__name__}: {exc})"
        ) from exc


def _read_here(format_name: str, record: RecordInfo, start: int, stop: int, channels: slice) -> np.ndarray:
    """The helper process's side of a guarded remote read (module level: pickled by name)."""
    from . import get_format

    return get_format(format_name).read_here(record, start, stop, channels)
