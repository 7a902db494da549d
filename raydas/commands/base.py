"""What a processing command is.

A command is a small class: distpy's JSON ``name``, a pydantic ``Params``
model (names and defaults as in distpy's code, units in the descriptions), the
halo it needs along time, and ``apply(xp, x, ctx)`` written for any array
namespace ``xp`` (numpy or cupy). It never writes into its inputs: arrays out of
Ray's object store are read-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from ..plausible import SaneNumbers

if TYPE_CHECKING:
    from ..outputs import OutputSink


class Params(SaneNumbers):
    """Base of every command's parameters. Keys a command does not know are
    kept aside (distpy configs carry comments and graph styling). Numbers are
    finite, and ``true`` is not a number (:class:`~raydas.plausible.SaneNumbers`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


@dataclass(frozen=True)
class Spectrum:
    """Says that ``axis`` of an array holds a discrete Fourier transform.

    Attributes
    ----------
    axis
        The transformed axis (1 = time, 0 = channels).
    n
        Length of the signal before the transform.
    d
        Sample spacing of that signal (s for time, m for channels).
    onesided
        True for a real-input transform keeping frequencies 0..n//2 only.
    coords
        Coordinates of the axis before the transform (channel positions in m
        for axis 0), so that the inverse transform can restore them.
    """

    axis: int
    n: int
    d: float
    onesided: bool
    coords: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Coordinate:
    """Labels of one axis of an array besides channel positions and time (the
    lag of a correlation, the channel pair of each row, a velocity or frequency).

    Attributes
    ----------
    name
        Short name, also the file name ``write_npy`` gives it (``<name>.npy``).
    axis
        The axis it labels (0 = rows, 1 = columns).
    values
        One value per entry of that axis (a host numpy array).
    units
        Its units (``"s"``, ``"m"``, ``"Hz"``, ``"m/s"``; ``""`` for indices).
    """

    name: str
    axis: int
    values: Any = field(compare=False, repr=False)
    units: str = ""


@dataclass(frozen=True)
class ArrayMeta:
    """What the executor knows about an intermediate array.

    Attributes
    ----------
    halo
        ``(before, after)`` samples at the ends of axis 1 that belong to the
        neighbouring chunks; ``(0, 0)`` once trimmed or for non-time arrays.
    positions
        Coordinates of axis 0 (m along the fibre), or ``None`` when axis 0 is not channels.
    dt
        Sample interval of axis 1 in seconds, or ``None`` when axis 1 is not time.
    spectra
        Axes that hold Fourier transforms.
    coords
        Other labels of the axes (:class:`Coordinate`), such as the lag and the
        channel pairs of a cross-correlation.
    """

    halo: tuple[int, int] = (0, 0)
    positions: Any = None
    dt: float | None = None
    spectra: tuple[Spectrum, ...] = ()
    coords: tuple[Coordinate, ...] = ()

    def coord(self, name: str) -> Coordinate | None:
        """The coordinate called ``name``, or None."""
        for c in self.coords:
            if c.name == name:
                return c
        return None

    def spectrum(self, axis: int) -> Spectrum | None:
        for s in self.spectra:
            if s.axis == axis:
                return s
        return None

    def trimmed(self) -> ArrayMeta:
        return replace(self, halo=(0, 0))


@dataclass(frozen=True)
class Layout:
    """What planning knows of the array a command will be handed, before any data
    are read (:meth:`Command.check_layout`).

    Attributes
    ----------
    sample_rate
        Samples per second of the recording (Hz): the ``sample_rate`` of the
        command's :class:`Context`, so its Nyquist frequency is ``sample_rate / 2``.
    channels
        Rows: the record's channels, or what the graph made of them (1 after
        a mean over channels); None when planning cannot tell.
    samples
        Columns: time samples of a chunk (or their Fourier transform), the
        fewest any chunk hands over, or what the graph made of them (1 after a
        mean over time, one per band after ``multiple_calcs``); None when
        planning cannot tell.
    """

    sample_rate: float
    channels: int | None = None
    samples: int | None = None

    def unknown(self) -> Layout:
        """The same rate, rows and columns unknown."""
        return Layout(self.sample_rate)

    @property
    def nyquist(self) -> float:
        """The Nyquist frequency (Hz)."""
        return self.sample_rate / 2.0


@dataclass
class Context:
    """Everything a command may need besides its primary input.

    Attributes
    ----------
    sample_rate
        Samples per second of the recording (Hz).
    meta
        Metadata of the primary input.
    gathered
        The ``gather_uids`` inputs, in order (already on the right device).
    gathered_meta
        Their metadata.
    start_ns
        Start of the chunk's own samples (halo excluded), ns UTC.
    stem
        The unix time of the chunk's first own sample (for titles and labels).
    output_id
        The chunk's output identity: writers name its files
        ``<directory_out>/<output_id>.<suffix>`` (see :meth:`Command.output_files`);
        ``stem`` when not given.
    writes_shared
        True when this chunk writes the files its output folder's chunks share
        (distpy's ``measured_depth.npy`` and ``time.npy``).
    sink
        Where writer commands put files (see :class:`raydas.outputs.OutputSink`).
    cache
        Per-input scratch shared by consumers of the same value (e.g. the power
        spectrum of an FFT, computed once for every band command).
    channel_xyz
        ``(positions, xyz)`` (or ``(positions, xyz, units)``, the table's units of X, Y, Z)
        of the chunk's channels when a geometry table gave them coordinates (see
        :meth:`coordinates`), else None.
    placement
        Where the chunk lies in its recording (:class:`raydas.chunk.Placement`);
        None for a chunk not cut from a planned recording.
    chunk_samples
        Own time samples of the chunk (halo excluded), whatever the graph made of them.
    times_ns
        For a chunk of readings stamped at irregular times (:attr:`raydas.chunk.Chunk.times_ns`):
        the stamp of each of its own readings (int64 ns since 1970, UTC, halo excluded, a host
        array); ``sample_rate`` is then only their median rate. None for regular samples.
        Writers write them as the time axis (:meth:`column_times_ns`).
    """

    sample_rate: float
    meta: ArrayMeta
    gathered: list = field(default_factory=list)
    gathered_meta: list = field(default_factory=list)
    start_ns: int = 0
    stem: str = ""
    output_id: str = ""
    writes_shared: bool = True
    sink: Any = None
    cache: dict = field(default_factory=dict)
    channel_xyz: tuple | None = None
    placement: Any = None
    chunk_samples: int = 0
    times_ns: Any = None

    def __post_init__(self):
        if not self.output_id:
            self.output_id = self.stem

    @property
    def positions(self) -> np.ndarray:
        return self.meta.positions

    def coordinates(self) -> np.ndarray | None:
        """X, Y, Z (the geometry table's units, usually m) of the channels of
        the primary input, shape ``(n_channels, 3)``: each channel's position
        along the fibre is matched to a channel of the chunk (NaN where none
        matches, e.g. after a command averaged channels). None when the chunk
        has no geometry or axis 0 is not channels."""
        if self.channel_xyz is None or self.positions is None:
            return None
        known, xyz = self.channel_xyz[:2]
        wanted = np.asarray(self.positions, dtype=np.float64).reshape(-1)
        order = np.argsort(known)
        where = np.clip(np.searchsorted(known[order], wanted), 0, len(known) - 1)
        match = order[where]
        out = np.asarray(xyz, dtype=np.float64)[match].copy()
        out[np.abs(known[match] - wanted) > 1e-6] = np.nan
        return out

    def coordinate_units(self) -> tuple[str, str, str]:
        """The units of X, Y, Z (:meth:`coordinates`) as the geometry table states them
        (e.g. ``"UTM [m]"``), ``""`` where it states none."""
        if self.channel_xyz is None or len(self.channel_xyz) < 3:
            return ("", "", "")
        return tuple(str(u) for u in self.channel_xyz[2])

    @property
    def dt(self) -> float:
        return 1.0 / self.sample_rate

    def column_times_ns(self, columns: int) -> np.ndarray | None:
        """The stamps (int64 ns, UTC) of the ``columns`` columns of the primary input when they
        are the chunk's stamped readings (:attr:`times_ns`); None when the chunk is regularly
        sampled or axis 1 of the input is no longer time (``meta.dt`` None: a mean over the
        readings, a table of bands).

        Raises
        ------
        ValueError
            When axis 1 is still time but its columns are not the chunk's readings (a command
            resampled or cut them): their times are then unknown, and no writer may invent them.
        """
        if self.times_ns is None or self.meta.dt is None:
            return None
        stamps = np.asarray(self.times_ns, dtype=np.int64).reshape(-1)
        if columns != stamps.shape[0] or tuple(self.meta.halo) != (0, 0):
            raise ValueError(
                f"the input has {columns} time columns where the chunk has {stamps.shape[0]} readings stamped at "
                "their own times: the columns' times are unknown (write before resampling or cutting along time)"
            )
        return stamps


#: the quantities of vibration (acoustic) data: what noise logs, band energies,
#: STA/LTA and ambient-noise interferometry make sense for
VIBRATION = ("strain_rate", "strain", "velocity")


class Command:
    """Base class of every command. Subclass, set the class attributes,
    implement :meth:`apply`, and register with :func:`raydas.commands.register`.

    Class attributes
    ----------------
    name
        distpy's JSON name.
    family
        One of spectral, filters, statistics, geometry, detection, algebra,
        elementwise, io, plots, control, interferometry.
    description
        One line for ``raydas commands``.
    inputs
        ``"one"``; ``"gather"`` when ``gather_uids`` is required; ``"optional"``
        when ``gather_uids`` may be given.
    time_local
        True when each output sample depends only on input samples within
        :meth:`halo_samples` of it (so chunks with a halo give whole-record results);
        False for results that are by nature per chunk (a spectrum, a mean over
        the chunk), which see the chunk without its halo.
    gpu
        True when :meth:`apply` runs on cupy; False moves this step to the host.
    writes
        True for commands that write files (they run on the host).
    keeps_layout
        True when the result has the input's rows and columns (so the
        checks of later commands at planning still know them).
    spectrum_use
        How the command reads a spectrum along time given as its primary input:
        ``"full"`` (the default) needs every bin, as distpy's full FFT has them;
        ``"positive"`` reads only the non-negative frequencies, so the one-sided
        spectrum of real data gives it the same numbers; ``"through"`` hands its
        input on unchanged (its own consumers decide). The pipeline lets ``fft``
        compute the cheaper one-sided spectrum only where every use is positive.
    passes_input_on
        True for commands whose result is their input, unchanged (``to_gpu``,
        ``NONE``, the writers): what their consumers get was made before them.
    needs_regular_time
        True (the default) when the command reads the samples as a series of
        rate ``1/dt`` (filters, spectra, windows in seconds, writers stamping
        times from ``dt``): a record with its own irregular time stamps (slow
        DTS/DSS readings, see :attr:`raydas.formats.RecordInfo.times_ns`) is
        then refused at planning, never given an invented regular rate. False
        for commands that read no rate (elementwise, statistics, writers of
        :attr:`Context.times_ns`); such a command declares no halo. An instance
        may clear it (an ``AxisCommand`` across channels with
        ``rate_free_across_channels``).
    quantities
        The quantities (:data:`raydas.formats.base.QUANTITIES`) the command makes
        sense for, e.g. :data:`VIBRATION` for a noise log; empty (the default):
        any. Planning warns when a record holds another (a noise log of
        temperatures), and says nothing for records of unknown quantity.
    reduces
        True for a reducer (``stack_chunks``): it ends the per-chunk part of the
        graph; its input is accumulated over the run's chunks in the processor
        actors, and the commands after it run once per stack at the end
        (:mod:`raydas.reduction`).
    counts_undeclared_files
        For a writer: the files it writes beyond those it declares
        (:meth:`output_files`, known before the data are, e.g. ``write_npy``'s
        ``lag.npy`` of a correlation) count among the chunk's outputs (the
        summary, the results manifest). False for writers whose other files are
        parts of one store shared by all chunks (``write_zarr``: a receipt per
        chunk counts).
    changed_from_distpy
        How raydas's numbers differ from distpy's, if they do.
    """

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Params: ClassVar[type[Params]] = Params
    inputs: ClassVar[str] = "one"
    time_local: ClassVar[bool] = True
    gpu: ClassVar[bool] = True
    writes: ClassVar[bool] = False
    spectrum_use: ClassVar[str] = "full"
    keeps_layout: ClassVar[bool] = False
    passes_input_on: ClassVar[bool] = False
    needs_regular_time: ClassVar[bool] = True
    quantities: ClassVar[tuple[str, ...]] = ()
    reduces: ClassVar[bool] = False
    counts_undeclared_files: ClassVar[bool] = False
    changed_from_distpy: ClassVar[str] = ""

    def __init__(self, params: Params, uid: int = 0):
        self.params = params
        self.uid = uid

    # --- declarations -------------------------------------------------------
    def halo_samples(self, sample_rate: float) -> int:
        """Samples of context needed on each side along time (time-local commands)."""
        return 0

    def gathers_needed(self) -> int:
        """How many ``gather_uids`` the command needs with its parameters (checked
        when the graph is compiled): 1 for ``inputs = "gather"``, else 0."""
        return 1 if self.inputs == "gather" else 0

    def check_layout(self, layout: Layout, gathered: tuple[Layout, ...] = ()) -> None:
        """Refuse, before any data are read, what this command cannot compute on
        input of this layout (a cut-off or band beyond the Nyquist frequency, too
        few channels, too few samples in a chunk) by raising ValueError saying
        why. ``gathered``: the layouts of the ``gather_uids`` inputs. The default
        accepts everything; ``layout`` fields that are None are unknown and accepted."""

    def load_inputs(self, sink) -> None:
        """Read what this command keeps under the results root (``sink``, an
        :class:`~raydas.outputs.OutputSink`), such as a saved model, so that
        :meth:`check_layout` can check against it at planning. The default reads
        nothing; errors say which file is missing or unreadable."""

    def layout_after(self, layout: Layout) -> Layout:
        """The layout of the result for input of ``layout``: the same when
        :attr:`keeps_layout`, else unknown (override where a command knows more)."""
        return layout if self.keeps_layout else layout.unknown()

    def choose_spectrum_layout(self, positive_only: bool) -> None:
        """Told once, when the pipeline is compiled, whether every reader of this
        command's result uses only its non-negative frequencies (``spectrum_use``);
        ``fft`` then computes the one-sided spectrum. The default ignores it."""

    def output_files(self, output_id: str, shared: bool = False, stamped: bool = False) -> list[str]:
        """Paths (relative to the results root) this command writes for the chunk
        ``output_id`` (see :attr:`Context.output_id`); with ``shared``, also the files
        that chunk writes for its whole output folder (:attr:`Context.writes_shared`);
        ``stamped``: the chunk's readings carry their own time stamps (:attr:`Context.times_ns`)."""
        return []

    def channel_window(self) -> int:
        """Channels a window of this command spans across the fibre (1: none). Planning
        refuses a window wider than the record's channels (along time, the halo
        :meth:`halo_samples` declares is checked against the recording)."""
        return 1

    def after_run(
        self,
        sink: OutputSink,
        output_ids: list[str],
        spans: Sequence[tuple[int, int]] | None = None,
        inputs: Sequence[Command | None] = (),
    ) -> str | None:
        """The post-run step a writer declares (e.g. a quick-look of what it wrote),
        run once after the chunks ``output_ids`` are done; returns the URL it wrote, or
        None (the default: no step). Raises RaydasError when it cannot be drawn.

        Parameters
        ----------
        sink
            The results root.
        output_ids
            The chunks of the run (:attr:`Context.output_id`).
        spans
            ``(start_ns, end_ns)`` of each chunk of ``output_ids`` (ns, UTC), when known.
        inputs
            The commands that made this one's inputs (``in_uid``, then
            ``gather_uids``; pass-through steps skipped; None for the data).
        """
        return None

    # --- work ---------------------------------------------------------------
    def apply(self, xp, x, ctx: Context):
        """Compute the result for one chunk; never modify ``x`` in place."""
        raise NotImplementedError

    def out_meta(self, x, out, ctx: Context) -> ArrayMeta:
        """Metadata of the result. The default keeps the input's when the
        shape is unchanged, and otherwise keeps what still applies."""
        meta = ctx.meta
        if getattr(out, "shape", None) == getattr(x, "shape", None):
            return meta
        same_rows = getattr(out, "ndim", 0) >= 1 and out.shape[0] == x.shape[0]
        same_cols = getattr(out, "ndim", 0) == 2 and x.ndim == 2 and out.shape[1] == x.shape[1]
        return ArrayMeta(
            halo=meta.halo if same_cols else (0, 0),
            positions=meta.positions if same_rows else None,
            dt=meta.dt if same_cols else None,
            spectra=tuple(s for s in meta.spectra if (s.axis == 0 and same_rows) or (s.axis == 1 and same_cols)),
            coords=tuple(c for c in meta.coords if (c.axis == 0 and same_rows) or (c.axis == 1 and same_cols)),
        )

    @classmethod
    def describe(cls) -> dict:
        """A JSON-ready description (``raydas commands --json``)."""
        return {
            "name": cls.name,
            "section": "command_list",
            "family": cls.family,
            "description": cls.description,
            "parameters": describe_parameters(cls.Params),
            "inputs": cls.inputs,
            "time_local": cls.time_local,
            "halo": _halo_doc(cls),
            "gpu": cls.gpu,
            "writes": cls.writes,
            "needs_regular_time": cls.needs_regular_time,
            "changed_from_distpy": cls.changed_from_distpy,
        }

    def __repr__(self) -> str:
        return f"<{self.name} uid={self.uid}>"


def describe_parameters(model: type[BaseModel]) -> list[dict]:
    """The fields of a parameter model, JSON-ready: name, default (None when
    required), required, description (``raydas commands --json``)."""
    return [
        {
            "name": name,
            "default": None if f.is_required() else _jsonable(f.get_default(call_default_factory=True)),
            "required": f.is_required(),
            "description": f.description or "",
        }
        for name, f in model.model_fields.items()
    ]


def _halo_doc(cls) -> str:
    if not cls.time_local:
        return "per chunk (sees the chunk without halo)"
    doc = (cls.halo_samples.__doc__ or "").strip()
    if cls.halo_samples is Command.halo_samples:
        return "0"
    return doc.splitlines()[0] if doc else "declared by parameters"


def _jsonable(value):
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
