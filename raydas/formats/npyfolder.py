"""distpy's npy folder: the one place that lays out its files.

A folder of chunks as distpy's ``write_npy`` leaves it (and its processing
stage reads)::

    <folder>/<unixtime>.npy       one (channel, time) array per chunk
    <folder>/measured_depth.npy   channel positions in metres, shape (n_channels, 1)
    <folder>/time.npy             time of each column, s from the chunk start
    <folder>/coordinates.npy      X, Y, Z of each channel, shape (n_channels, 3), when a
                                  geometry table gave them (raydas only; NaN where unknown)

The chunk store's ``distpy-npy`` writer and the ``write_npy`` and ``clip``
commands all build their files with :func:`npy_folder_files`; each writes them
its own way (atomically to a URL, or through the results sink). The two axis
files are shared by every chunk of the folder: in a run, one chunk per folder
writes them (:func:`axis_files` names them), so that what a folder holds never
depends on the order the chunks were written in.
"""

from __future__ import annotations

import io

import numpy as np

from ..fsutil import join

DEPTH_FILE = "measured_depth.npy"
TIME_FILE = "time.npy"
COORDINATES_FILE = "coordinates.npy"


def axis_files(folder: str) -> list[str]:
    """The files of ``folder`` shared by all its chunks: ``[measured_depth.npy, time.npy]``."""
    return [join(folder, name) if folder else name for name in (DEPTH_FILE, TIME_FILE)]


def axes_or_indices(
    shape: tuple[int, ...], depth_m: np.ndarray | None, dt: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """The axis files' values for an array of ``shape``: channel positions (m) when
    ``depth_m`` has one per row, else row indices; seconds from the chunk start when
    ``dt`` (s) is known, else column indices (what distpy wrote)."""
    rows = shape[0] if shape else 1
    cols = shape[1] if len(shape) > 1 else 1
    depth = np.asarray(depth_m) if depth_m is not None and len(depth_m) == rows else np.arange(rows, dtype=np.float64)
    seconds = np.arange(cols) * dt if dt is not None else np.arange(cols)
    return depth, seconds


def npy_bytes(array: np.ndarray) -> bytes:
    """An array as the content of a ``.npy`` file (C order, never pickled)."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def npy_folder_files(
    folder: str,
    name: str,
    values: np.ndarray,
    depth_m: np.ndarray | None = None,
    seconds: np.ndarray | None = None,
    xyz: np.ndarray | None = None,
) -> dict[str, bytes]:
    """The files of one chunk in distpy's npy folder, path -> content.

    Parameters
    ----------
    folder
        The folder (a URL, a local path, or a path under the results root); ``""``
        for none.
    name
        File name of the chunk's array, e.g. ``"<unixtime>.npy"``.
    values
        The chunk's ``(channel, time)`` array, written with its own dtype.
    depth_m
        Channel positions (m), written as ``measured_depth.npy`` of shape
        ``(n_channels, 1)`` with their own dtype; None writes no depth file.
    seconds
        Time of each column (s from the chunk start), written as ``time.npy``;
        None writes no time file.
    xyz
        X, Y, Z of each channel, ``(n_channels, 3)``, written as
        ``coordinates.npy``; None writes no coordinates file.

    Returns
    -------
    dict
        ``{<folder>/<name>: ..., <folder>/measured_depth.npy: ..., <folder>/time.npy: ...}``
        in that order, without the files that were not asked for.
    """

    def path(file: str) -> str:
        return join(folder, file) if folder else file

    files = {path(name): npy_bytes(values)}
    if depth_m is not None:
        files[path(DEPTH_FILE)] = npy_bytes(np.asarray(depth_m).reshape(-1, 1))
    if seconds is not None:
        files[path(TIME_FILE)] = npy_bytes(np.asarray(seconds))
    if xyz is not None:
        files[path(COORDINATES_FILE)] = npy_bytes(np.asarray(xyz, dtype=np.float64).reshape(-1, 3))
    return files
