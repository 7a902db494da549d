"""Plot commands: distpy's ``thumbnail`` (inside a processing pipeline) and
its panel plots ``well_log``, ``stack`` and ``rgb`` (from a plots config, run
with ``raydas plot PLOTS_CONFIG.json``).

Everything is drawn with matplotlib's object API (``Figure``, no pyplot
state, Agg), so plots are safe inside Ray actors and threads. The figure
builders return the :class:`~matplotlib.figure.Figure` so that what was drawn
(colour limits, line positions, image arrays) can be read back; the writers
save it at exactly ``figure_size x dpi`` pixels.

Plots config (distpy's ``plotsConfig.json``, plus two raydas keys)::

    {
      "directory_in": "interpretation/NoiseLog",  # raydas: folder of the .npy files
                                                  #   (default: the config's folder)
      "directory_out": "plots",                   # raydas: where <out_plot>.png go (default: directory_in)
      "figure_size": [8, 6], "dpi": 300,          # inches, dots per inch
      "time_reference": "time.npy",               # one unix time (s, UTC) per column
      "depth_reference": "measured_depth.npy",    # one depth (m) per row
      "depth_display_unit": "m",                  # or "ft" (depths are converted for display)
      "start_of_fibre": 0.0, "end_of_fibre": 1200.0,   # white lines (display unit)
      "well_segments": "zones.txt",               # zone file (see read_zones), optional
      "label_list": [{"event_label_start": 100.0, "event_mark": "2020-03-01 12:00:00",
                      "event_text": "pump on"}],  # red event lines (times UTC)
      "plots": [{"plot_type": "well_log", "out_plot": "noiselog",
                 "plot_list": [{"title_text": "200 Hz-Nyquist", "data": "band_01_200--1.npy",
                                "colormap": "magma"}]}]
    }

A distpy *system* config whose ``config`` names such a file is accepted as
well: its input folder is ``directory_in`` and its results folder
``directory_out``.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..backend import to_host
from ..configfile import config_folder, load_json, resolve_path, validation_error
from ..errors import ConfigError, FormatError
from ..outputs import OutputSink, safe_relative
from ..timeutil import NS_PER_S
from . import register
from .base import Command, Params
from .io import WriterParams, _Writer

M_PER_FT = 0.3048
#: distpy's approximation of Techlog's UAVK colour scale (``colormap: "UAVK"``).
UAVK_COLOURS = (
    "white",
    "navy",
    "blue",
    "royalblue",
    "deepskyblue",
    "cyan",
    "palegreen",
    "greenyellow",
    "yellow",
    "orange",
    "darkorange",
    "orangered",
    "tomato",
    "red",
    "firebrick",
    "brown",
)
_UTC = _dt.UTC


# --- shared helpers -----------------------------------------------------------------
def colour_map(name: str):
    """A matplotlib colour map by name; ``"UAVK"`` is distpy's Techlog-like scale."""
    from matplotlib import colormaps
    from matplotlib.colors import LinearSegmentedColormap

    if name == "UAVK":
        return LinearSegmentedColormap.from_list("UAVK", UAVK_COLOURS)
    try:
        return colormaps[name]
    except KeyError:
        raise ValueError(f"unknown colour map {name!r} (any matplotlib colour map name, or UAVK)") from None


def clip_limits(values: np.ndarray, clip_level: float) -> tuple[float, float]:
    """Colour limits ``mean -/+ clip_level * std`` of the finite values (distpy's thumbnail scaling)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    mean = float(finite.mean()) if finite.size else 0.0
    std = float(finite.std()) if finite.size else 0.0
    vmin, vmax = mean - clip_level * std, mean + clip_level * std
    if not vmax > vmin:  # constant data: a unit band around it
        vmin, vmax = mean - 1.0, mean + 1.0
    return vmin, vmax


def despiked_max(values: np.ndarray, m: float = 3.0) -> float:
    """Largest value among those within ``m`` median absolute deviations of the
    median (distpy's ``despike``); the well-log colour scale tops at 10x this."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return 0.0
    dev = np.abs(v - np.median(v))
    mad = np.median(dev)
    kept = v[dev / mad < m] if mad > 0 else v[dev == 0]
    return float(kept.max()) if kept.size else float(v.max())


def unit_intensity(values: np.ndarray) -> np.ndarray:
    """``(x - min) / (max - min)``: values scaled to 0..1 (NaN -> 0; constant -> 0)."""
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    if not finite.any():
        return np.zeros_like(v)
    lo, hi = float(v[finite].min()), float(v[finite].max())
    out = (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)
    return np.where(finite, out, 0.0)


def figure_bytes(fig, fmt: str = "png", dpi: int | None = None) -> bytes:
    """Encode a figure (``figure_size x dpi`` pixels exactly: no tight cropping)."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi or fig.dpi)
    return buf.getvalue()


def _date_num(ns):
    """matplotlib date numbers (days since 1970, UTC) of ns timestamps."""
    return np.asarray(ns, dtype=np.float64) / (86400.0 * NS_PER_S)


def _use_date_axis(ax, fmt: str = "%Y-%m-%d %H:%M:%S") -> None:
    from matplotlib.dates import DateFormatter

    ax.xaxis_date(tz=_UTC)
    ax.xaxis.set_major_formatter(DateFormatter(fmt, tz=_UTC))


# --- thumbnail -----------------------------------------------------------------------
def thumbnail_figure(
    values: np.ndarray,
    positions: np.ndarray | None,
    start_ns: int,
    dt: float,
    clip_level: float = 1.0,
    cmap: str = "viridis",
    axes: tuple[str, str] = ("depth (m)", "time (s)"),
    invert_depth: bool = False,
    figure_size: tuple[float, float] = (8, 6),
    dpi: int = 300,
    title: str = "",
    style: str = "imshow",
    gathered: list[np.ndarray] | tuple = (),
):
    """Draw distpy's thumbnail of a (depth, time) block.

    Parameters
    ----------
    values
        (depth, time) samples (a 1-D array is drawn as one column).
    positions
        Depth (m) of each row; None numbers the rows.
    start_ns
        Time of the first column, ns since 1970 UTC.
    dt
        Time between columns (s).
    clip_level
        Colour limits are ``mean -/+ clip_level * std`` (imshow, contourf).
    axes
        Labels (depth, time). When the time label contains "date" the time
        axis shows UTC date-times instead of seconds from the chunk start.
    invert_depth
        Draw depth increasing upwards (distpy's ``invert_depth: 1``); by
        default depth increases downwards.
    style
        ``imshow``, ``contourf``, or ``scatter``: one point per sample at x =
        ``values``, y = ``gathered[0]``, colour ``gathered[1]`` and size
        ``gathered[2]`` when given.
    gathered
        The ``gather_uids`` arrays (scatter only).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values.reshape(-1, 1)
    if values.ndim != 2:
        raise ValueError(f"thumbnail draws 1-D or 2-D arrays, not shape {values.shape}")
    fig = Figure(figsize=figure_size, dpi=dpi, layout="constrained")
    ax = fig.subplots()
    date_axis = "date" in axes[1].lower()
    if style == "scatter":
        if not gathered:
            raise ValueError("plot_style 'scatter' needs gather_uids: y values, then optional colour and size")
        y = np.asarray(gathered[0], dtype=np.float64).ravel()
        c = np.asarray(gathered[1], dtype=np.float64).ravel() if len(gathered) > 1 else None
        s = np.asarray(gathered[2], dtype=np.float64).ravel() if len(gathered) > 2 else None
        for label, arr in (("y (gather_uids[0])", y), ("colour (gather_uids[1])", c), ("size (gather_uids[2])", s)):
            if arr is not None and arr.size != values.size:
                raise ValueError(f"scatter: {label} has {arr.size} values but the input has {values.size}")
        image = ax.scatter(values.ravel(), y, c=c, s=s, cmap=cmap if c is not None else None)
        if c is not None:
            fig.colorbar(image, ax=ax)
    else:
        n_rows, n_cols = values.shape
        depth = np.arange(n_rows, dtype=np.float64) if positions is None else np.asarray(positions, dtype=np.float64)
        t = np.arange(n_cols) * dt
        x = _date_num(start_ns + np.round(t * NS_PER_S)) if date_axis else t
        span = (x[-1] - x[0]) if n_cols > 1 else (_date_num(dt * NS_PER_S) if date_axis else dt)
        vmin, vmax = clip_limits(values, clip_level)
        if style == "contourf" and n_rows > 1 and n_cols > 1:
            levels = np.linspace(vmin, vmax, 31)
            image = ax.contourf(x, depth, np.clip(values, vmin, vmax), levels=levels, cmap=cmap)
        else:
            extent = (x[0], x[0] + span * n_cols / max(n_cols - 1, 1), depth[-1], depth[0])
            image = ax.imshow(
                values, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, extent=extent, interpolation="nearest"
            )
        low, high = float(np.min(depth)), float(np.max(depth))
        if high > low:
            ax.set_ylim((low, high) if invert_depth else (high, low))
        fig.colorbar(image, ax=ax)
        if date_axis:
            _use_date_axis(ax)
            for label in ax.get_xticklabels():
                label.set_rotation(30)
                label.set_horizontalalignment("right")
    ax.set_xlabel(axes[1])
    ax.set_ylabel(axes[0])
    if title:
        ax.set_title(title, fontsize=10)
    return fig


@register
class Thumbnail(_Writer):
    name = "thumbnail"
    family = "plots"
    description = "Quick-look image of the chunk as <directory_out>/<unixtime>.<format>; passes its input on."
    inputs = "optional"
    changed_from_distpy = (
        "The restart check knows the file extension, so flows with thumbnails resume; times are UTC "
        "(distpy used the machine's local time zone); the image is exactly figure_size x dpi pixels."
    )

    class Params(WriterParams):
        format: Literal["png", "jpg", "jpeg", "pdf", "svg"] = Field("png", description="image format")
        clip_level: float = Field(1.0, gt=0, description="colour limits at mean -/+ clip_level x std")
        cmap: str = Field("viridis", description="matplotlib colour map (or UAVK)")
        axes: list[str] = Field(
            ["depth (m)", "time (s)"],
            min_length=2,
            max_length=2,
            description="axis labels (depth, time); a time label containing 'date' draws UTC date-times",
        )
        invert_depth: int = Field(0, description="1 draws depth increasing upwards")
        figure_size: list[float] = Field([8, 6], min_length=2, max_length=2, description="figure size (inches)")
        dpi: int = Field(300, ge=10, le=1200, description="resolution (dots per inch)")
        plot_style: Literal["imshow", "contourf", "scatter"] = Field(
            "imshow",
            description="imshow, contourf, or scatter (x = data, y = gather[0], colour = gather[1], size = gather[2])",
        )

        @field_validator("cmap")
        @classmethod
        def _known_map(cls, value: str) -> str:
            colour_map(value)
            return value

    @property
    def suffix(self) -> str:
        return self.params.format

    def apply(self, xp, x, ctx):
        p = self.params
        if p.directory_out == "NONE":
            return x
        values = to_host(x)
        if np.iscomplexobj(values):
            values = np.abs(values)
        gathered = [np.abs(g) if np.iscomplexobj(g) else g for g in (to_host(g) for g in ctx.gathered)]
        positions = ctx.positions if ctx.positions is not None and len(ctx.positions) == values.shape[0] else None
        stamp = _dt.datetime.fromtimestamp(ctx.start_ns / NS_PER_S, tz=_UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        fig = thumbnail_figure(
            values,
            positions,
            ctx.start_ns,
            ctx.meta.dt or 1.0 / ctx.sample_rate,
            clip_level=p.clip_level,
            cmap=colour_map(p.cmap),
            axes=(p.axes[0], p.axes[1]),
            invert_depth=bool(p.invert_depth),
            figure_size=(p.figure_size[0], p.figure_size[1]),
            dpi=p.dpi,
            title=f"{stamp} ({ctx.stem})",
            style=p.plot_style,
            gathered=gathered,
        )
        ctx.sink.write(f"{p.directory_out}/{ctx.stem}.{p.format}", figure_bytes(fig, p.format))
        return x


# --- plots config ---------------------------------------------------------------------
class PanelData(BaseModel):
    """One dataset of a panel plot (an entry of ``plot_list``)."""

    model_config = ConfigDict(extra="ignore")

    data: str = Field(description=".npy file (depth x time) in directory_in")
    title_text: str = Field("", description="panel title")
    colormap: str = Field("magma", description="matplotlib colour map, or UAVK")
    alpha: float = Field(0.5, ge=0, le=1, description="opacity in a stack plot")
    inverted: Literal["yes", "no"] = Field("no", description="rgb: draw 1 - intensity in this channel")

    @field_validator("colormap")
    @classmethod
    def _known_map(cls, value: str) -> str:
        colour_map(value)
        return value


class EventLabel(BaseModel):
    """A labelled moment drawn as a red vertical line."""

    model_config = ConfigDict(extra="ignore")

    event_mark: str = Field(description="time of the event, 'YYYY-mm-dd HH:MM:SS' UTC")
    event_text: str = Field("", description="label text")
    event_label_start: float = Field(0.0, description="depth at which the label is written (display unit)")

    @field_validator("event_mark")
    @classmethod
    def _parse(cls, value: str) -> str:
        _dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
        return value

    @property
    def ns(self) -> int:
        stamp = _dt.datetime.strptime(self.event_mark, "%Y-%m-%d %H:%M:%S").replace(tzinfo=_UTC)
        return int(stamp.timestamp()) * NS_PER_S


class PlotSpec(BaseModel):
    """One figure of a plots config."""

    model_config = ConfigDict(extra="ignore")

    plot_type: Literal["well_log", "stack", "rgb"]
    out_plot: str = Field(description="file stem of the PNG in directory_out")
    plot_list: list[PanelData] = Field(min_length=1)

    @field_validator("out_plot")
    @classmethod
    def _inside(cls, value: str) -> str:
        return safe_relative(value)

    @model_validator(mode="after")
    def _three_for_rgb(self):
        if self.plot_type == "rgb" and len(self.plot_list) != 3:
            raise ValueError(f"an rgb plot takes exactly 3 datasets (red, green, blue), got {len(self.plot_list)}")
        return self


class PlotsConfig(BaseModel):
    """distpy's plots config (``plotsConfig.json``)."""

    model_config = ConfigDict(extra="ignore")

    directory_in: str | None = Field(None, description="folder of the .npy files (default: the config's folder)")
    directory_out: str | None = Field(None, description="folder for the PNGs (default: directory_in)")
    figure_size: list[float] = Field([8, 6], min_length=2, max_length=2, description="inches")
    dpi: int = Field(300, ge=10, le=1200, description="dots per inch")
    start_of_fibre: float | None = Field(None, description="depth of the start of the fibre (display unit)")
    end_of_fibre: float | None = Field(None, description="depth of the end of the fibre (display unit)")
    time_reference: str = Field("time.npy", description="unix times (s, UTC) of the columns")
    depth_reference: str = Field("measured_depth.npy", description="depths (m) of the rows")
    depth_display_unit: Literal["m", "ft"] = Field("m", description="unit of the depth axis")
    well_segments: str | None = Field(None, description="zone file (see read_zones)")
    label_list: list[EventLabel] = Field([], description="events")
    plots: list[PlotSpec] = Field(min_length=1)


class Zone(BaseModel):
    name: str
    start: float
    end: float


def read_zones(url: str) -> list[Zone]:
    """Read distpy's well-segments file: space-delimited, two header lines,
    then a pair of lines per zone, ``<start depth> ... <name>`` and ``<end
    depth> ...`` (depths in the plot's display unit).

    Raises
    ------
    FormatError
        Naming the file and line of a malformed entry.
    """
    from ..fsutil import url_to_fs

    fs, path = url_to_fs(url)
    try:
        with fs.open(path, "rb") as fh:
            text = fh.read().decode("utf-8", "replace")
    except FileNotFoundError:
        raise FormatError(url, "zone file (well_segments) does not exist") from None
    rows = [r for r in csv.reader(text.splitlines(), delimiter=" ", skipinitialspace=True)]
    body = [(i + 1, [t for t in r if t]) for i, r in enumerate(rows)][2:]
    body = [(n, r) for n, r in body if r]
    if len(body) % 2:
        raise FormatError(url, f"line {body[-1][0]}: zone has a start line but no end line")
    zones = []
    for (n1, first), (n2, second) in zip(body[0::2], body[1::2]):
        try:
            zones.append(Zone(name=first[-1], start=float(first[0]), end=float(second[0])))
        except ValueError:
            raise FormatError(
                url, f"lines {n1}-{n2}: expected '<start depth> ... <name>' then '<end depth> ...'"
            ) from None
    return zones


class PanelInputs:
    """The data of one panel plot, loaded and checked: ``depth`` (display
    unit, one per row), ``times_ns`` (one per column), ``arrays`` (one
    (depth, time) array per ``plot_list`` entry), annotations."""

    def __init__(
        self,
        spec: PlotSpec,
        arrays: list[np.ndarray],
        depth: np.ndarray,
        times_ns: np.ndarray,
        depth_unit: str = "m",
        events: list[EventLabel] = (),
        zones: list[Zone] = (),
        fibre_ends: tuple[float | None, float | None] = (None, None),
        figure_size=(8, 6),
        dpi: int = 300,
    ):
        self.spec = spec
        self.arrays = arrays
        self.depth = np.asarray(depth, dtype=np.float64).ravel()
        self.times_ns = np.asarray(times_ns, dtype=np.int64).ravel()
        self.depth_unit = depth_unit
        self.events = list(events)
        self.zones = list(zones)
        self.fibre_ends = fibre_ends
        self.figure_size = tuple(figure_size)
        self.dpi = dpi


class _PanelPlot(Command):
    """Base of the panel plots: drawn by ``raydas plot`` from a plots config."""

    family = "plots"
    gpu = False
    writes = True
    time_local = False
    changed_from_distpy = (
        "Zone lines are drawn at their depths (distpy drew them at row indices on a depth axis); time ticks "
        "match their columns and event times are UTC; renders with current matplotlib."
    )

    class Params(Params):
        out_plot: str = Field("NONE", description="file stem of the PNG")
        plot_list: list[PanelData] = Field(
            [], description="datasets: data (.npy), title_text, colormap, alpha, inverted"
        )

    def apply(self, xp, x, ctx):
        raise ValueError(
            f"{self.name} draws panels from a plots config: list it under 'plots' there "
            "and run `raydas plot PLOTS_CONFIG.json` (it has no place in a command_list)"
        )

    # drawing -------------------------------------------------------------------------
    def figure(self, inputs: PanelInputs):
        """Draw the plot; returns the Figure."""
        raise NotImplementedError

    @staticmethod
    def _image(ax, inputs: PanelInputs, values, **kwargs):
        d, t = inputs.depth, _date_num(inputs.times_ns)
        step = (t[-1] - t[0]) / (len(t) - 1) if len(t) > 1 else 1.0 / 86400.0
        dstep = (d[-1] - d[0]) / (len(d) - 1) if len(d) > 1 else 1.0
        extent = (t[0] - step / 2, t[-1] + step / 2, d[-1] + dstep / 2, d[0] - dstep / 2)
        return ax.imshow(values, aspect="auto", extent=extent, interpolation="nearest", **kwargs)

    @staticmethod
    def annotate(ax, inputs: PanelInputs, title: str, with_depth_label: bool = True) -> None:
        """distpy's annotations: time ticks (every 1/8 of the columns, as
        asctime), event lines, fibre ends (white) and zone lines (red) at their depths."""
        from matplotlib.ticker import FixedLocator

        d = inputs.depth
        t = _date_num(inputs.times_ns)
        ax.set_title(title, fontsize=10)
        _use_date_axis(ax, "%a %b %d %H:%M:%S %Y")
        every = max(1, len(t) // 8)
        ax.xaxis.set_major_locator(FixedLocator(t[::every]))
        ax.tick_params(axis="x", labelrotation=90, labelsize=7)
        ax.set_ylim(float(d.max()), float(d.min()))
        for event in inputs.events:
            x = _date_num(event.ns)
            ax.axvline(x, color="r", gid="event")
            ax.text(
                x,
                event.event_label_start,
                event.event_text,
                rotation="vertical",
                fontsize=7,
                bbox=dict(facecolor="yellow", alpha=0.85),
            )
        for end in inputs.fibre_ends:
            if end is not None:
                ax.axhline(end, color="w", gid="fibre_end")
        for zone in inputs.zones:
            ax.axhline(zone.start, color="r", gid="zone")
            ax.axhline(zone.end, color="r", gid="zone")
            ax.text(t[0], zone.end, zone.name, fontsize=7, bbox=dict(facecolor="yellow", alpha=0.85))
        if with_depth_label:
            ax.set_ylabel(f"depth ({inputs.depth_unit})")


def _new_figure(inputs: PanelInputs):
    from matplotlib.figure import Figure

    return Figure(figsize=inputs.figure_size, dpi=inputs.dpi, layout="constrained")


@register
class WellLog(_PanelPlot):
    name = "well_log"
    description = "Waterfall panels side by side, one per plot_list dataset (plots config; raydas plot)."

    def figure(self, inputs):
        fig = _new_figure(inputs)
        axes = fig.subplots(1, len(inputs.arrays), sharey=True, squeeze=False)[0]
        for i, (ax, item, values) in enumerate(zip(axes, inputs.spec.plot_list, inputs.arrays)):
            vmax = 10.0 * despiked_max(values)
            self._image(ax, inputs, values, cmap=colour_map(item.colormap), vmin=0.0, vmax=vmax if vmax > 0 else 1.0)
            self.annotate(ax, inputs, item.title_text, with_depth_label=i == 0)
        return fig


@register
class Stack(_PanelPlot):
    name = "stack"
    description = "Datasets overlaid with transparency on one panel (false colour; plots config; raydas plot)."

    def figure(self, inputs):
        fig = _new_figure(inputs)
        ax = fig.subplots()
        for item, values in zip(inputs.spec.plot_list, inputs.arrays):
            vmax = 10.0 * despiked_max(values)
            self._image(
                ax,
                inputs,
                values,
                cmap=colour_map(item.colormap),
                alpha=item.alpha,
                vmin=0.0,
                vmax=vmax if vmax > 0 else 1.0,
            )
        self.annotate(ax, inputs, "Stack of " + " ".join(i.title_text for i in inputs.spec.plot_list))
        return fig


@register
class Rgb(_PanelPlot):
    name = "rgb"
    description = "Three datasets as the red, green and blue channels, each scaled to 0-1 (plots config; raydas plot)."

    def figure(self, inputs):
        fig = _new_figure(inputs)
        ax = fig.subplots()
        channels = []
        for item, values in zip(inputs.spec.plot_list, inputs.arrays):
            level = unit_intensity(values)
            channels.append(1.0 - level if item.inverted == "yes" else level)
        self._image(ax, inputs, np.stack(channels, axis=-1))
        r, g, b = (i.title_text for i in inputs.spec.plot_list)
        self.annotate(ax, inputs, f"R = {r}, G = {g}, B = {b}")
        return fig


PANEL_PLOTS: dict[str, type[_PanelPlot]] = {"well_log": WellLog, "stack": Stack, "rgb": Rgb}


# --- running a plots config -----------------------------------------------------------
def load_plots_config(source: str | dict, base: str | None = None) -> tuple[PlotsConfig, str, str, str | None]:
    """Read a plots config (or a distpy system config naming one).

    Returns
    -------
    config, directory_in, directory_out, source
        Folders resolved against the config file's folder.

    Raises
    ------
    ConfigError
        Naming the file and JSON path of the problem.
    """
    from ..config import DISTPY_SYSTEM_KEYS, from_distpy_system

    path = None
    doc = source
    if not isinstance(source, dict):
        path = str(source)
        doc = load_json(path)
        base = base or config_folder(path)
    if not isinstance(doc, dict):
        raise ConfigError("$", f"a plots config is a JSON object, not {type(doc).__name__}", path)
    if "plots" not in doc and DISTPY_SYSTEM_KEYS & set(doc):  # a distpy system config naming the plot spec
        system = from_distpy_system(doc, path)
        if not system.processing:
            raise ConfigError("$.config", "missing: the plots config (JSON) this system config runs", path)
        inner = resolve_path(base, system.processing)
        cfg, _, _, _ = load_plots_config(inner)
        return cfg, resolve_path(base, system.input), resolve_path(base, system.output), inner
    try:
        cfg = PlotsConfig.model_validate(doc)
    except ValidationError as exc:
        raise validation_error(exc, path) from None
    directory_in = resolve_path(base, cfg.directory_in) if cfg.directory_in else (base or ".")
    directory_out = resolve_path(base, cfg.directory_out) if cfg.directory_out else directory_in
    return cfg, directory_in, directory_out, path


def _load_array(folder: str, name: str, where: str, source: str | None) -> np.ndarray:
    from ..formats.chunkstore import load_npy
    from ..fsutil import join

    try:
        safe = safe_relative(name)
    except ValueError as exc:
        raise ConfigError(where, str(exc), source) from None
    return np.asarray(load_npy(join(folder, safe), mmap=False))


def panel_inputs(
    cfg: PlotsConfig, directory_in: str, index: int, source: str | None = None, base: str | None = None
) -> PanelInputs:
    """Load and check the data of ``cfg.plots[index]``."""
    spec = cfg.plots[index]
    times = np.asarray(
        _load_array(directory_in, cfg.time_reference, "$.time_reference", source), dtype=np.float64
    ).ravel()
    depth = np.asarray(
        _load_array(directory_in, cfg.depth_reference, "$.depth_reference", source), dtype=np.float64
    ).ravel()
    if cfg.depth_display_unit == "ft":
        depth = depth / M_PER_FT
    if times.size == 0 or depth.size == 0:
        raise ConfigError("$.time_reference" if times.size == 0 else "$.depth_reference", "is empty", source)
    if np.nanmax(times) < 1e8:
        raise ConfigError(
            "$.time_reference",
            f"{cfg.time_reference} must hold unix times (s, UTC) of the "
            f"columns; its largest value is {np.nanmax(times):g}",
            source,
        )
    arrays = []
    for j, item in enumerate(spec.plot_list):
        where = f"$.plots[{index}].plot_list[{j}].data"
        values = _load_array(directory_in, item.data, where, source)
        if values.ndim != 2 or values.shape != (depth.size, times.size):
            raise ConfigError(
                where,
                f"{item.data} has shape {values.shape}; expected ({depth.size}, {times.size}) "
                f"= ({cfg.depth_reference} rows, {cfg.time_reference} columns)",
                source,
            )
        arrays.append(np.asarray(values, dtype=np.float64))
    zones = (
        read_zones(resolve_path(base, cfg.well_segments) if base else cfg.well_segments) if cfg.well_segments else []
    )
    return PanelInputs(
        spec,
        arrays,
        depth,
        np.round(times * NS_PER_S).astype(np.int64),
        depth_unit=cfg.depth_display_unit,
        events=cfg.label_list,
        zones=zones,
        fibre_ends=(cfg.start_of_fibre, cfg.end_of_fibre),
        figure_size=cfg.figure_size,
        dpi=cfg.dpi,
    )


def run_plots(source: str | dict, base: str | None = None) -> list[str]:
    """Draw every plot of a plots config; returns the URLs written
    (``<directory_out>/<out_plot>.png``, atomically)."""
    cfg, directory_in, directory_out, path = load_plots_config(source, base)
    base = base or (config_folder(path) if path else None)
    sink = OutputSink(directory_out)
    written = []
    for i, spec in enumerate(cfg.plots):
        inputs = panel_inputs(cfg, directory_in, i, path, base)
        plot = PANEL_PLOTS[spec.plot_type](
            PANEL_PLOTS[spec.plot_type].Params(out_plot=spec.out_plot, plot_list=spec.plot_list)
        )
        fig = plot.figure(inputs)
        written.append(sink.write(f"{spec.out_plot}.png", figure_bytes(fig, "png")))
    return written
