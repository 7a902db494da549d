"""Run a processing graph on one chunk or file in this process and get its
results back as arrays with their coordinates: for notebooks and scripts, no
Ray, and no files written unless the writers are given a folder.

:func:`process` is ``raydas.process``; each result is an :class:`Output`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .chunk import Chunk
from .commands.base import ArrayMeta
from .errors import RaydasError
from .outputs import OutputSink
from .pipeline import Pipeline
from .reduction import Partial
from .timeutil import NS_PER_S, to_iso


@dataclass(frozen=True)
class Output:
    """The result of one command of a graph run in memory (halo trimmed).

    Attributes
    ----------
    uid, name
        The command's uid and name in the graph.
    data
        The values, a numpy array (float32, or complex64 after an FFT).
    distance
        Position of each row along the fibre (m), when the rows are channels; else None.
    time
        Time of each column (``datetime64[ns]``, UTC), when the columns are the
        chunk's samples (or a regular resampling of them from its start); else None.
    frequency
        Frequency of each column (Hz), when the columns are a spectrum along time; else None.
    dt
        Seconds between columns when they are time; else None.
    start_ns
        Time of the chunk's first own sample (ns, UTC).
    input_units
        Units of the samples the graph was given (commands do not say how they
        change units: an FFT's or an RMS's values are not in these units).
    """

    uid: int
    name: str
    data: np.ndarray
    distance: np.ndarray | None
    time: np.ndarray | None
    frequency: np.ndarray | None
    dt: float | None
    start_ns: int
    input_units: str

    def to_xarray(self):
        """These values as an ``xarray.DataArray``: dimensions ``distance`` (m) or
        ``row``, then ``time`` (UTC), ``frequency`` (Hz) or ``column``; attrs
        ``uid``, ``command``, ``start`` (ISO 8601 UTC), ``dt`` (s, when time) and
        ``input_units``. Needs the ``xarray`` extra (``pip install 'raydas[xarray]'``)."""
        from .chunk import _xarray

        xr = _xarray()
        dims, coords = [], {}
        if self.data.ndim >= 1:
            if self.distance is not None:
                dims.append("distance")
                coords["distance"] = ("distance", self.distance, {"units": "m"})
            else:
                dims.append("row")
        if self.data.ndim >= 2:
            if self.time is not None:
                dims.append("time")
                coords["time"] = self.time
            elif self.frequency is not None:
                dims.append("frequency")
                coords["frequency"] = ("frequency", self.frequency, {"units": "Hz"})
            else:
                dims.append("column")
        dims += [f"axis_{i}" for i in range(len(dims), self.data.ndim)]
        attrs = {"uid": self.uid, "command": self.name, "start": to_iso(self.start_ns), "input_units": self.input_units}
        if self.dt is not None:
            attrs["dt"] = self.dt
        return xr.DataArray(self.data, dims=dims, coords=coords, attrs=attrs, name=f"{self.name}_{self.uid}")

    def __repr__(self) -> str:
        axes = [
            what
            for what, coord in (
                ("distance (m)", self.distance),
                ("time (UTC)", self.time),
                ("frequency (Hz)", self.frequency),
            )
            if coord is not None
        ]
        return (
            f"Output(uid {self.uid} {self.name}: {self.data.dtype} {self.data.shape}"
            f"{', ' + ', '.join(axes) if axes else ''}; chunk from {to_iso(self.start_ns)})"
        )


class _NoFiles(OutputSink):
    """The sink of a run in memory with no folder: writers serialise, nothing is written."""

    def __init__(self):
        super().__init__("(in memory: no files written)")

    def write(self, relative: str, payload: bytes) -> str:
        return self.url(relative)

    def read(self, relative: str) -> bytes:
        raise FileNotFoundError(f"{relative}: no results folder to read from (pass output= to raydas.process)")


def process(
    chunk_or_path: Chunk | str | os.PathLike,
    graph: Pipeline | dict | str,
    *,
    output: str | os.PathLike | None = None,
    keep: list[int] | None = None,
) -> dict[int, Output]:
    """Run a processing graph on one chunk (or one whole file) here, and return its results.

    No Ray is started. Nothing is written unless ``output`` names a folder for
    the graph's writers (``write_witsml``, ``write_npy``...): without one they
    run but write nothing. A ``stack_chunks`` stacks this one chunk (the stack
    is the chunk's value), and the commands after it run on that stack.

    Parameters
    ----------
    chunk_or_path
        A :class:`Chunk` (its halo, if any, is trimmed from the results), or a
        data file read whole (format detected by content).
    graph
        A :class:`Pipeline`, a processing config (``{"command_list": [...]}``) or its JSON file.
    output
        Results root for the graph's writers, if they are to write.
    keep
        uids whose results to return (default: the graph's outputs, the
        commands whose results no other command takes: :meth:`Pipeline.leaves`).

    Returns
    -------
    dict of int to Output
        One :class:`Output` per uid kept, in graph order.

    Raises
    ------
    RaydasError
        When ``keep`` names a uid the graph does not have (or the file cannot be read).

    Examples
    --------
    Band RMS of a 50 Hz tone of amplitude 1 on three channels 2 m apart:

    >>> import numpy as np, raydas
    >>> t = np.arange(2000) / 1000.0  # 2 s at 1 kHz
    >>> tone = np.tile(np.sin(2 * np.pi * 50 * t), (3, 1))
    >>> chunk = raydas.Chunk(tone.astype("float32"), 1_700_000_000 * 10**9, 1e-3, [0.0, 2.0, 4.0])
    >>> graph = {"command_list": [
    ...     {"name": "fft", "uid": 1, "in_uid": 0},
    ...     {"name": "rms_from_fft", "uid": 2, "in_uid": 1, "low_freq": 40, "high_freq": 60}]}
    >>> out = raydas.process(chunk, graph)
    >>> out[2]
    Output(uid 2 rms_from_fft: float32 (3, 1), distance (m); chunk from 2023-11-14T22:13:20.000000Z)
    >>> out[2].distance, np.round(out[2].data[:, 0], 3)
    (array([0., 2., 4.]), array([0.707, 0.707, 0.707], dtype=float32))
    >>> spectrum = raydas.process(chunk, graph, keep=[1])[1]
    >>> float(spectrum.frequency[np.abs(spectrum.data[0]).argmax()])
    50.0
    """
    pipeline = graph if isinstance(graph, Pipeline) else Pipeline.from_config(graph)
    chunk = chunk_or_path if isinstance(chunk_or_path, Chunk) else _read_whole(chunk_or_path)
    uids = pipeline.leaves() if keep is None else list(keep)
    names = {node.uid: node.command.name for node in pipeline.order}
    unknown = [uid for uid in uids if uid not in names]
    if unknown:
        raise RaydasError(f"keep: uid(s) {unknown} are not in the graph (its uids: {sorted(names)})")
    sink = OutputSink(str(output)) if output is not None else _NoFiles()
    partial = Partial() if pipeline.reducers else None
    result = pipeline.run(chunk, np, sink, keep=set(uids), reduce_into=partial)
    values = dict(result.values)
    for (reducer, _), stack in partial.stacks.items() if partial is not None else []:
        values.update(pipeline.run_stack(reducer, stack, sink, keep=set(uids)).values)  # the stack of one chunk
    return {uid: _output(uid, names[uid], *values[uid], chunk) for uid in uids}


def _read_whole(path) -> Chunk:
    from . import formats

    return formats.read(os.fspath(path))


def _output(uid: int, name: str, data: np.ndarray, meta: ArrayMeta, chunk: Chunk) -> Output:
    rows = data.shape[0] if data.ndim >= 1 else 0
    columns = data.shape[1] if data.ndim >= 2 else 0
    distance = meta.positions if meta.positions is not None and len(meta.positions) == rows else None
    spectrum = meta.spectrum(1) if data.ndim >= 2 else None
    return Output(
        uid=uid,
        name=name,
        data=data,
        distance=None if distance is None else np.asarray(distance, dtype=np.float64),
        time=_times(chunk, meta.dt, columns) if data.ndim >= 2 else None,
        frequency=_frequencies(spectrum, columns),
        dt=meta.dt if data.ndim >= 2 else None,
        start_ns=chunk.start_ns,
        input_units=chunk.units,
    )


def _times(chunk: Chunk, dt: float | None, columns: int) -> np.ndarray | None:
    """UTC times of ``columns`` columns ``dt`` s apart from the chunk's start, when
    they span the chunk (to one column); None when they do not (a crop in time)."""
    if dt is None or columns == 0 or abs(columns * dt - chunk.duration) > dt * (1 + 1e-6):
        return None
    offsets = np.round(np.arange(columns) * dt * NS_PER_S).astype(np.int64)
    return (chunk.start_ns + offsets).astype("datetime64[ns]")


def _frequencies(spectrum: Any, columns: int) -> np.ndarray | None:
    """Frequencies (Hz) of the columns of a spectrum along time, when they are its bins."""
    if spectrum is None:
        return None
    freqs = np.fft.rfftfreq(spectrum.n, spectrum.d) if spectrum.onesided else np.fft.fftfreq(spectrum.n, spectrum.d)
    return freqs if len(freqs) == columns else None
