"""Writers: each writes one file per chunk under the results root, atomically,
named by the chunk's output identity (``<directory_out>/<output_id>.<suffix>``:
see :mod:`raydas.identity`), and passes its input on. A writer writes the very
paths its :meth:`Writer.output_files` declares (both come from
:meth:`Writer.output_path`), so what a run expects and what it finds agree.
``data_load`` reads a stored array (a filter or mask) from under the same root."""

from __future__ import annotations

import io
import json
import posixpath
import threading

import numpy as np
from pydantic import Field, ValidationInfo, field_validator, model_validator

from ..backend import to_host
from ..errors import FormatError, RaydasError
from ..formats.dasdae_writer import DATA_TYPES, dasdae_bytes
from ..formats.npyfolder import axes_or_indices, axis_files, npy_bytes, npy_folder_files
from ..formats.prodml import prodml_bytes, prodml_fbe_bytes
from ..formats.witsml import band_curve_names, fbe_document
from ..formats.writecheck import Patch, checked_patch
from ..formats.xdas_writer import netcdf_bytes
from ..formats.zarr_writer import ZarrSlot, zarr_chunk_files
from ..outputs import OutputSink, safe_relative
from . import register
from .base import VIBRATION, Command, Params
from .common import one_per


class WriterParams(Params):
    directory_out: str = Field("NONE", description="folder under the results root; NONE writes nothing")

    @field_validator("directory_out", "filename", check_fields=False)  # filename: data_load's file
    @classmethod
    def _inside_results(cls, value: str) -> str:
        return value if value == "NONE" else safe_relative(value)


class Writer(Command):
    """Base of the commands that write one file per chunk, ``<directory_out>/<output_id>.<suffix>``, on the host."""

    family = "io"
    writes = True
    passes_input_on = True
    gpu = False
    time_local = False
    keeps_layout = True  # writers pass their input on
    suffix = ""

    def output_path(self, output_id: str) -> str:
        """The chunk file of ``output_id`` (relative to the results root): the one name writers write."""
        return f"{self.params.directory_out}/{output_id}.{self.suffix}"

    def shared_files(self, output_id: str, stamped: bool = False) -> list[str]:
        """Files shared by every chunk of ``output_id``'s folder, written by one chunk of it (none by default)."""
        return []

    def stamp_files(self, output_id: str) -> list[str]:
        """Files a chunk of stamped readings writes besides its own (none by default)."""
        return []

    def output_files(self, output_id: str, shared: bool = False, stamped: bool = False) -> list[str]:
        if self.params.directory_out == "NONE":
            return []
        return [
            self.output_path(output_id),
            *(self.stamp_files(output_id) if stamped else []),
            *(self.shared_files(output_id, stamped) if shared else []),
        ]


@register
class WriteNpy(Writer):
    name = "write_npy"
    description = (
        "Write the chunk's array as <directory_out>/<output id>.npy (+ measured_depth.npy, time.npy, "
        "coordinates.npy when a geometry table gave the channels X, Y, Z, and <coordinate>.npy for an xcorr "
        "or dispersion result; readings stamped at their own times: <output id>.time.npy, their stamps); "
        "pass it on."
    )
    suffix = "npy"
    needs_regular_time = False  # stamped readings: their stamps are written, never a time from dt
    counts_undeclared_files = True  # the coordinate files of a correlation or dispersion image (lag.npy...)
    changed_from_distpy = (
        "time.npy holds seconds from the chunk start (distpy wrote sample indices); the axis files are written "
        "once per folder, by its first chunk (distpy rewrote them with every chunk)."
    )

    class Params(WriterParams):
        pass

    def shared_files(self, output_id: str, stamped: bool = False) -> list[str]:
        """``measured_depth.npy`` and ``time.npy`` beside the chunk files (for stamped
        readings ``measured_depth.npy`` only: their times differ from chunk to chunk)."""
        files = axis_files(posixpath.dirname(self.output_path(output_id)))
        return files[:1] if stamped else files

    def stamp_files(self, output_id: str) -> list[str]:
        """``<output id>.time.npy``: the stamps of a chunk of stamped readings."""
        return [self.time_path(output_id)]

    def time_path(self, output_id: str) -> str:
        """The file of a stamped chunk's times (relative to the results root)."""
        return f"{self.params.directory_out}/{output_id}.time.npy"

    def apply(self, xp, x, ctx):
        if self.params.directory_out == "NONE":
            return x
        host = to_host(x)
        path = self.output_path(ctx.output_id)
        folder = posixpath.dirname(path)
        depth = seconds = xyz = None
        coordinates = {}
        if ctx.writes_shared:  # one chunk per folder writes the axes (positions or row indices, s or columns)
            depth, seconds = axes_or_indices(host.shape, ctx.positions, ctx.meta.dt if host.ndim == 2 else None)
            columns_in_s = [c for c in ctx.meta.coords if c.axis == 1 and c.units == "s"]
            if columns_in_s and host.ndim == 2:  # a lag axis: time.npy holds the lags (s)
                seconds = np.asarray(columns_in_s[0].values)
            if ctx.positions is not None and len(ctx.positions) == host.shape[0]:
                xyz = ctx.coordinates()
            # the other labels of the axes (channel pairs, velocities, frequencies)
            coordinates = {posixpath.join(folder, f"{c.name}.npy"): np.asarray(c.values) for c in ctx.meta.coords}
        if ctx.times_ns is not None:  # stamped readings: their own times, never times made from dt
            seconds = None
            stamps = ctx.column_times_ns(host.shape[1]) if host.ndim == 2 else None
            stamps = np.asarray(ctx.times_ns if stamps is None else stamps, dtype=np.int64)
        files = npy_folder_files(folder, posixpath.basename(path), host, depth, seconds, xyz)
        if ctx.times_ns is not None:
            files[self.time_path(ctx.output_id)] = npy_bytes(stamps.astype("datetime64[ns]"))
        files.update({name: npy_bytes(values) for name, values in coordinates.items()})
        for name, payload in files.items():
            ctx.sink.write(name, payload)
        return x


class PatchWriterParams(WriterParams):
    units: str = Field(
        "", description="unit of the values written (e.g. strain/s); empty: unknown (the graph may change the unit)"
    )


class PatchWriter(Writer):
    """Base of the writers of one self-describing file per chunk (DASDAE, NetCDF,
    PRODML): the chunk's ``(channel, time)`` array with its coordinates, channel
    positions in m and sample times in ns UTC. An input that is not one (1-D, a
    spectrum, rows that are no longer channels) is refused, naming the command."""

    def target(self, ctx) -> str:
        """The chunk's file, relative to the results root: the name :meth:`output_files`
        declares (so what a run expects, counts and resumes is what is written)."""
        return self.output_path(ctx.output_id)

    def patch(self, x, ctx) -> Patch:
        """The checked content of the chunk (see :func:`raydas.formats.writecheck.checked_patch`),
        with the stamps of stamped readings as its times (:meth:`Context.column_times_ns`)."""
        host = to_host(x)
        positions = ctx.positions if host.ndim == 2 else None
        try:
            stamps = ctx.column_times_ns(host.shape[1]) if host.ndim == 2 else None
        except ValueError as exc:
            raise RaydasError(f"{self.name}: {exc}") from None
        patch = checked_patch(self.name, host, ctx.start_ns, ctx.meta.dt, positions, self.params.units, times_ns=stamps)
        return patch.with_coordinates(ctx.coordinates(), ctx.coordinate_units())  # a geometry table's X, Y, Z

    def encode(self, patch: Patch) -> bytes:
        """The file's content."""
        raise NotImplementedError

    def apply(self, xp, x, ctx):
        if self.params.directory_out == "NONE":
            return x
        ctx.sink.write(self.target(ctx), self.encode(self.patch(x, ctx)))
        return x


@register
class WriteDasdae(PatchWriter):
    name = "write_dasdae"
    description = (
        "Write the chunk as DASDAE HDF5 <directory_out>/<output id>.h5 (DASCore's format: distance m, time UTC)."
    )
    suffix = "h5"
    needs_regular_time = False  # stamped readings: their stamps are the time coordinate
    changed_from_distpy = "New in raydas (distpy has no DASDAE writer)."

    class Params(PatchWriterParams):
        data_type: str = Field(
            "", description=f"DASCore's name of the quantity: one of {', '.join(DATA_TYPES)}; empty: unset"
        )

        @field_validator("data_type")
        @classmethod
        def _known_type(cls, value: str) -> str:
            if value and value not in DATA_TYPES:
                raise ValueError(f"{value!r} is not one of {', '.join(DATA_TYPES)}")
            return value

    def encode(self, patch: Patch) -> bytes:
        return dasdae_bytes(patch, self.params.data_type)


@register
class WriteNetcdf(PatchWriter):
    name = "write_netcdf"
    description = (
        "Write the chunk as xdas NetCDF4 <directory_out>/<output id>.nc ((time, distance): time UTC, distance m)."
    )
    suffix = "nc"
    needs_regular_time = False  # stamped readings: every stamp a tie point of the time coordinate
    changed_from_distpy = "New in raydas (distpy has no NetCDF writer)."

    class Params(PatchWriterParams):
        pass

    def encode(self, patch: Patch) -> bytes:
        return netcdf_bytes(patch)


@register
class WriteProdml(PatchWriter):
    name = "write_prodml"
    description = "Write the chunk as PRODML 2.1 raw data <directory_out>/<output id>.h5 (time us UTC, loci in m)."
    suffix = "h5"
    changed_from_distpy = "New in raydas (distpy has no PRODML writer)."

    class Params(PatchWriterParams):
        pass

    def encode(self, patch: Patch) -> bytes:
        return prodml_bytes(patch)


@register
class WriteZarr(PatchWriter):
    """Write each recording's results into one Zarr v3 store,
    ``<directory_out>/<recording>/<unixtime of its start>.zarr``: a ``(distance, time)``
    array ``data`` sized for the whole recording, with coordinates ``time`` (ns UTC)
    and ``distance`` (m), that ``xarray.open_zarr`` opens. Each chunk writes its own
    Zarr chunk (placed by the planner, so chunks written at once by many actors never
    touch each other's files), the metadata (the same bytes from every chunk), then
    its receipt ``<directory_out>/<output id>.zarr-chunk.json`` (the store, its files,
    its samples): the file a run counts, and finds on resuming, for the chunk. Any
    fsspec results root works (local, S3...). Needs the ``zarr`` extra.

    The input must keep the recording's time samples (write before resampling or
    cutting along time); a chunk not cut from a planned recording is a store of its own.
    While a recording grows (``raydas watch``) the array is sized as the chunk's plan
    knew it; a chunk planned earlier does not shorten an array a later plan lengthened
    (two chunks writing the metadata at the very same moment may still leave the
    shorter length until the next chunk is written).
    """

    name = "write_zarr"
    description = (
        "Write each recording into one Zarr v3 store <directory_out>/<output id>.zarr ((distance, time), "
        "time UTC, distance m), chunk by chunk from any actor; a receipt per chunk."
    )
    suffix = "zarr-chunk.json"
    needs_regular_time = False  # stamped readings: their stamps fill the time array
    changed_from_distpy = "New in raydas (distpy has no Zarr writer)."

    class Params(PatchWriterParams):
        pass

    def apply(self, xp, x, ctx):
        if self.params.directory_out == "NONE":
            return x
        patch = self.patch(x, ctx)
        slot = ZarrSlot.of(ctx.placement, patch.data.shape[1], patch.start_ns, self.name)
        # one store per recording, in the recording's output folder (that of the chunk's output id)
        store = posixpath.join(self.params.directory_out, posixpath.dirname(ctx.output_id), slot.store_name)
        files = zarr_chunk_files(patch, slot)
        if self._longer_already(ctx.sink, store, slot.total):
            # a recording that grows (raydas watch): a chunk planned earlier never shortens the array
            files = {k: v for k, v in files.items() if k not in ("data/zarr.json", "time/zarr.json")}
        for key, payload in files.items():
            ctx.sink.write(f"{store}/{key}", payload)
        receipt = {
            "store": store,
            "files": list(files),
            "first_sample": slot.first,
            "samples": int(patch.data.shape[1]),
            "start_ns": patch.start_ns,
        }
        ctx.sink.write(self.target(ctx), json.dumps(receipt, sort_keys=True).encode())
        return x

    @staticmethod
    def _longer_already(sink, store: str, total: int) -> bool:
        """Whether the store's array already spans more than ``total`` samples along time
        (written for a later plan of a growing recording)."""
        try:
            meta = json.loads(sink.read(f"{store}/data/zarr.json"))
            return int(meta["shape"][1]) > total
        except (FileNotFoundError, ValueError, KeyError, IndexError, TypeError):
            return False


@register
class WriteProdmlFbe(PatchWriter):
    """Write band energies (the table ``multiple_calcs`` makes: one row per channel,
    one column per band) as PRODML 2.1 processed data, ``<directory_out>/<output id>.h5``:
    ``/Acquisition/Processed/Fbe[0]`` with one ``FbeData[i]`` per band (its edges in
    Hz; ``high_freq`` -1, or equal to ``low_freq``, is the Nyquist frequency), holding
    one reading per chunk at the chunk's start (µs UTC), at an ``OutputDataRate`` of one
    reading per chunk length (Hz; the planner's chunk length, the chunk's own
    otherwise). ``gather_uids[0]``, when given, is the band from 0 Hz to Nyquist
    (one column), written first as distpy's ``write_witsml`` writes it. raydas reads
    these files back band by band (each band a stream; one file per chunk joins in
    time); DASCore 0.1.24 cannot make a time axis of a single PRODML reading.
    """

    name = "write_prodml_fbe"
    description = (
        "Write band energies as PRODML 2.1 FBE <directory_out>/<output id>.h5 (one reading per chunk; "
        "gather_uids[0]: band 0-Nyquist)."
    )
    inputs = "optional"
    suffix = "h5"
    changed_from_distpy = "New in raydas (distpy writes band energies as WITSML only)."

    class Params(PatchWriterParams):
        low_freq: list[float] = Field([0], description="lower band edges (Hz), one per column")
        high_freq: list[float] = Field([1], description="upper band edges (Hz), one per column; -1 = Nyquist")

        @field_validator("high_freq")
        @classmethod
        def _one_per_band(cls, high: list[float], info: ValidationInfo) -> list[float]:
            if "low_freq" in info.data:
                one_per(high, info.data["low_freq"], "high_freq", "low_freq", "band")
                for lo, hi in zip(info.data["low_freq"], high):
                    if lo < 0 or (0 <= hi < lo) or (hi < 0 and hi != -1):
                        raise ValueError(f"the band {lo:g} to {hi:g} Hz is no band (-1: up to Nyquist)")
            return high

    def check_layout(self, layout, gathered=()):
        """One column per band; the gathered band 0, one column."""
        p = self.params
        if p.directory_out == "NONE":
            return
        if layout.samples is not None and layout.samples != len(p.low_freq):
            raise ValueError(
                f"write_prodml_fbe: its input has {layout.samples} columns but low_freq/high_freq name "
                f"{len(p.low_freq)} bands; give one band per column (the band table of multiple_calcs)"
            )
        if gathered and gathered[0].samples not in (None, 1):
            raise ValueError(f"write_prodml_fbe: gather_uids[0] (band 0) has {gathered[0].samples} columns, not 1")

    def apply(self, xp, x, ctx):
        p = self.params
        if p.directory_out == "NONE":
            return x
        values = np.asarray(to_host(x))
        nyquist = ctx.sample_rate / 2.0
        bands = [(lo, nyquist if hi < 0 or hi == lo else hi) for lo, hi in zip(p.low_freq, p.high_freq)]
        if values.ndim != 2 or values.shape[1] != len(bands):
            raise RaydasError(
                f"write_prodml_fbe: writes a (channel, band) table with {len(bands)} bands; got shape {values.shape}"
            )
        columns = [values[:, i : i + 1] for i in range(len(bands))]
        if ctx.gathered:
            band0 = np.asarray(to_host(ctx.gathered[0]))
            if band0.shape != (values.shape[0], 1):
                raise RaydasError(
                    f"write_prodml_fbe: band 0 (gather_uids[0]) has shape {band0.shape}, not ({values.shape[0]}, 1)"
                )
            bands.insert(0, (0.0, nyquist))
            columns.insert(0, band0)
        samples = ctx.placement.chunk_samples if ctx.placement is not None else ctx.chunk_samples
        period = samples / ctx.sample_rate if samples else None  # s between readings
        patches = [checked_patch(self.name, c, ctx.start_ns, period, ctx.positions, p.units) for c in columns]
        ctx.sink.write(self.target(ctx), prodml_fbe_bytes(bands, patches))
        return x


def row_as_column(shape: tuple[int, ...], band00_size: int | None, n_names: int) -> bool:
    """Whether ``write_witsml`` writes a ``(1, n)`` input as a column of n rows.

    distpy wrote every one-row input as a column (a time series or a spectrum
    after a mean over depth: one row per sample); that also turned the band
    table of a one-channel record into a column, which cannot be written beside
    its band-0 value. So a one-row input becomes a column only when its curves,
    with the gathered band 0 (``band00_size`` values, None without), then have
    the number of columns the curve names (``n_names``) describe and as a row
    they do not.
    """
    if len(shape) != 2 or shape[0] != 1 or shape[1] <= 1:
        return False
    n = shape[1]
    extra = 0 if band00_size is None else band00_size
    as_row = n + extra == n_names
    as_column = extra % n == 0 and 1 + extra // n == n_names
    return as_column and not as_row


def witsml_table(shape: tuple[int, ...], band00_size: int | None, n_names: int) -> tuple[int, int, bool]:
    """The table ``write_witsml`` writes for an input of ``shape`` beside a gathered
    band 0 of ``band00_size`` values (None without): ``(rows, columns, as_column)``.

    Raises
    ------
    ValueError
        When the band 0 does not give each row the same number of values, or the
        columns are not one per curve name (``n_names``).
    """
    as_column = row_as_column(shape, band00_size, n_names)
    rows, columns = (shape[1], 1) if as_column else (shape[0], int(np.prod(shape[1:], dtype=np.int64)))
    extra = band00_size or 0
    if extra % rows:
        raise ValueError(
            f"write_witsml: gather_uids[0] has {extra} values, which the {rows} rows to write cannot share evenly"
        )
    columns += extra // rows
    if columns != n_names:
        raise ValueError(
            f"write_witsml: {columns} columns to write but low_freq/high_freq/labels name "
            f"{n_names}; give one band (or label) per column"
        )
    return rows, columns, as_column


@register
class WriteWitsml(Writer):
    name = "write_witsml"
    quantities = VIBRATION
    description = (
        "Write band energies as WITSML 1.3.1.1 <directory_out>/<output id>.fbe (gather_uids[0]: band 0-Nyquist)."
    )
    inputs = "optional"
    suffix = "fbe"
    changed_from_distpy = (
        "Passes its input on (distpy returned a stale value); a one-row input is written as a column only when "
        "the curve names describe that (distpy also turned a one-channel record's band table into a column)."
    )

    class Params(WriterParams):
        low_freq: list[float] = Field([0], description="lower band edges (Hz), one per column")
        high_freq: list[float] = Field([1], description="upper band edges (Hz), one per column; -1 = Nyquist")
        labels: list[str] = Field([], description="curve names replacing the band names, in order")
        data_style: str = Field("NONE", description="names the installed system in the WITSML file")

        @field_validator("high_freq")
        @classmethod
        def _one_per_band(cls, high: list[float], info: ValidationInfo) -> list[float]:
            if "low_freq" in info.data:
                one_per(high, info.data["low_freq"], "high_freq", "low_freq", "band")
            return high

    def apply(self, xp, x, ctx):
        p = self.params
        if p.directory_out == "NONE":
            return x
        values = np.asarray(to_host(x), dtype=np.float64)
        depth = ctx.positions
        if values.ndim == 1:
            values = values.reshape(-1, 1)
        band00 = np.asarray(to_host(ctx.gathered[0]), dtype=np.float64) if ctx.gathered else None
        names = self.curve_names(band00 is not None)
        rows, _, as_column = witsml_table(values.shape, None if band00 is None else band00.size, len(names))
        if as_column:
            values = values.T  # a (1, n) row (a time series, a spectrum) is written as a column, as distpy
            depth = None
        columns = [values] if band00 is None else [band00.reshape(rows, -1), values]
        table = np.concatenate(columns, axis=1)
        if depth is None or len(depth) != table.shape[0]:
            depth = np.arange(table.shape[0], dtype=np.float64)
        fs = ctx.sample_rate
        descriptions = ["from 0 Hz to Nyquist Hz" if n == "band_0-nyquist" else n for n in names]
        for i, (lo, hi) in enumerate(zip(p.low_freq, p.high_freq)):
            j = i + (1 if band00 is not None else 0)
            if j < len(descriptions) and not p.labels:
                descriptions[j] = f"from {lo:g} Hz to {hi:g} Hz (prf={fs:g})"
        payload = fbe_document(depth, table, names, ctx.start_ns, data_style=p.data_style, descriptions=descriptions)
        ctx.sink.write(self.output_path(ctx.output_id), payload)
        return x

    def curve_names(self, with_band00: bool) -> list[str]:
        """The curves written: distpy's band names (``band_0-nyquist`` first with a
        gathered band 0), replaced in order by ``labels``."""
        p = self.params
        return band_curve_names(p.low_freq, p.high_freq, with_band00, p.labels)

    def check_layout(self, layout, gathered=()):
        """The table (the input's columns, beside the gathered band 0) has one column per curve name."""
        if self.params.directory_out == "NONE" or layout.channels is None or layout.samples is None:
            return
        band00 = None
        if gathered:
            if gathered[0].channels is None or gathered[0].samples is None:
                return
            band00 = gathered[0].channels * gathered[0].samples
        witsml_table((layout.channels, layout.samples), band00, len(self.curve_names(bool(gathered))))

    def after_run(self, sink: OutputSink, output_ids: list[str], spans=None, inputs=()) -> str | None:
        """The noise-log quick-look (``quicklook.png``) of the band values written,
        each curve's quantity named after the command that made it (``inputs``)."""
        p = self.params
        if p.directory_out == "NONE":
            return None
        from .quicklook import noise_log_quicklook

        return noise_log_quicklook(sink, p.directory_out, output_ids, spans, self.curve_quantities(inputs))

    def curve_quantities(self, inputs) -> list[str]:
        """What the values of each curve written are (``"RMS"``...), from the commands
        that made this command's inputs (``in_uid``, then ``gather_uids[0]``: band 0-Nyquist)."""
        from .quicklook import quantity_of

        gathered = len(inputs) > 1
        quantities = [quantity_of(inputs[0] if inputs else None)] * len(self.curve_names(gathered))
        if gathered:
            quantities[0] = quantity_of(inputs[1])
        return quantities


@register
class DataLoad(Command):
    """Load a stored array, e.g. a precomputed f-k filter or mask, from
    ``<results root>/<directory_out>/<filename>`` (``.npy``; the suffix is added
    when missing). The path may not leave the results root; nothing is
    unpickled. The array is read once per process and reused for every chunk;
    its values are ignored (with ``directory_out = NONE`` the input is passed
    on, as in distpy), but when the stored array has the input's shape it takes
    the input's coordinates: give a stored f-k mask the f-k spectrum as
    ``in_uid``. Real arrays come back as float32, complex ones as complex64.
    """

    name = "data_load"
    family = "io"
    description = "Load a stored filter/mask <directory_out>/<filename>.npy from the results root (read once)."
    gpu = False
    time_local = False
    needs_regular_time = False  # a stored array: no time read
    changed_from_distpy = "Works (distpy's data_load overwrote its own result method and broke its consumer)."

    class Params(WriterParams):
        filename: str = Field("NONE", description="file name under directory_out (.npy)")

        @model_validator(mode="after")
        def _both_or_neither(self):
            if (self.directory_out == "NONE") != (self.filename == "NONE"):
                raise ValueError("data_load needs both directory_out and filename (or neither, to pass its input on)")
            return self

    def __init__(self, params, uid=0):
        super().__init__(params, uid)
        name = params.filename if params.filename.endswith(".npy") else f"{params.filename}.npy"
        self.relative = safe_relative(posixpath.join(params.directory_out, name)) if params.filename != "NONE" else ""
        self._loaded: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def load(self, sink) -> np.ndarray:
        """The stored array (read from ``sink`` on first use)."""
        if sink is None:
            raise ValueError("data_load reads under the results root: run the pipeline with an output folder")
        url = sink.url(self.relative)
        with self._lock:
            if url not in self._loaded:
                try:
                    payload = sink.read(self.relative)
                except FileNotFoundError:
                    raise FormatError(
                        url, "not found (data_load reads directory_out/filename under the results root)"
                    ) from None
                try:
                    array = np.load(io.BytesIO(payload), allow_pickle=False)
                except ValueError as exc:
                    raise FormatError(url, f"not a plain .npy array ({exc})") from None
                if not isinstance(array, np.ndarray) or array.dtype.kind not in "biufc":
                    raise FormatError(url, f"holds {getattr(array, 'dtype', type(array))}, not numbers")
                array = array.astype(np.complex64 if array.dtype.kind == "c" else np.float32)
                array.setflags(write=False)
                self._loaded[url] = array
            return self._loaded[url]

    def apply(self, xp, x, ctx):
        if not self.relative:
            return x
        return self.load(ctx.sink)
