"""``raydas plot``: distpy's panel plots ``well_log``, ``stack`` and ``rgb``,
drawn from a plots config over the ``.npy`` files a run wrote.

These are not graph commands (a ``command_list`` that names one is a config
error saying to come here); ``raydas commands`` lists them in a section of
their own.

Plots config (distpy's ``plotsConfig.json``, plus two raydas keys)::

    {
      "directory_in": "interpretation/NoiseLog",  # raydas: folder of the .npy files
                                                  #   (default: the config's folder)
      "directory_out": "plots",                   # raydas: where <out_plot>.png go, a folder under the
                                                  #   config's folder (default: directory_in)
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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..commands import PLOTS_CONFIG_PANELS
from ..commands.base import describe_parameters
from ..commands.plotting import UTC, colour_map, date_num, figure_bytes, use_date_axis
from ..config import DISTPY_SYSTEM_KEYS, from_distpy_system
from ..configfile import config_folder, load_json, resolve_path, validation_error
from ..errors import ConfigError, FormatError
from ..formats.chunkstore import load_npy
from ..fsutil import join, url_to_fs
from ..outputs import OutputSink, safe_relative
from ..timeutil import NS_PER_S

M_PER_FT = 0.3048


# --- the plots config -----------------------------------------------------------------
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
        """The event time, ns since 1970 UTC."""
        stamp = _dt.datetime.strptime(self.event_mark, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        return int(stamp.timestamp()) * NS_PER_S


class PlotSpec(BaseModel):
    """One figure of a plots config (an entry of ``plots``)."""

    model_config = ConfigDict(extra="ignore")

    plot_type: str = Field(description="the figure: " + ", ".join(PLOTS_CONFIG_PANELS))
    out_plot: str = Field(description="file stem of the PNG in directory_out")
    plot_list: list[PanelData] = Field(
        min_length=1, description="datasets: data (.npy), title_text, colormap, alpha, inverted"
    )

    @field_validator("plot_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in PLOTS_CONFIG_PANELS:
            raise ValueError(f"unknown plot_type {value!r}: one of {', '.join(PLOTS_CONFIG_PANELS)}")
        return value

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
    directory_out: str | None = Field(
        None, description="folder for the PNGs under the config's folder (default: directory_in)"
    )
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

    @field_validator("directory_out")
    @classmethod
    def _under_the_config(cls, value: str | None) -> str | None:
        return value if value is None else safe_relative(value)


class Zone(BaseModel):
    """A zone of the well (display unit)."""

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


# --- what a panel plot draws ----------------------------------------------------------
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


def _new_figure(inputs: PanelInputs):
    from matplotlib.figure import Figure

    return Figure(figsize=inputs.figure_size, dpi=inputs.dpi, layout="constrained")


def _image(ax, inputs: PanelInputs, values, **kwargs):
    """Draw ``values`` (depth x time) with each cell centred on its depth and time."""
    d, t = inputs.depth, date_num(inputs.times_ns)
    step = (t[-1] - t[0]) / (len(t) - 1) if len(t) > 1 else 1.0 / 86400.0
    dstep = (d[-1] - d[0]) / (len(d) - 1) if len(d) > 1 else 1.0
    extent = (t[0] - step / 2, t[-1] + step / 2, d[-1] + dstep / 2, d[0] - dstep / 2)
    return ax.imshow(values, aspect="auto", extent=extent, interpolation="nearest", **kwargs)


def _annotate(ax, inputs: PanelInputs, title: str, with_depth_label: bool = True) -> None:
    """distpy's annotations: time ticks (every 1/8 of the columns, as
    asctime), event lines, fibre ends (white) and zone lines (red) at their depths."""
    from matplotlib.ticker import FixedLocator

    d = inputs.depth
    t = date_num(inputs.times_ns)
    ax.set_title(title, fontsize=10)
    use_date_axis(ax, "%a %b %d %H:%M:%S %Y")
    every = max(1, len(t) // 8)
    ax.xaxis.set_major_locator(FixedLocator(t[::every]))
    ax.tick_params(axis="x", labelrotation=90, labelsize=7)
    ax.set_ylim(float(d.max()), float(d.min()))
    for event in inputs.events:
        x = date_num(event.ns)
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


def _energy_scale(values: np.ndarray) -> dict:
    """Colour limits of a band energy: 0 to 10x its despiked maximum (1 when that is 0)."""
    vmax = 10.0 * despiked_max(values)
    return {"vmin": 0.0, "vmax": vmax if vmax > 0 else 1.0}


def well_log_figure(inputs: PanelInputs):
    """Waterfall panels side by side, one per dataset; returns the Figure."""
    fig = _new_figure(inputs)
    axes = fig.subplots(1, len(inputs.arrays), sharey=True, squeeze=False)[0]
    for i, (ax, item, values) in enumerate(zip(axes, inputs.spec.plot_list, inputs.arrays)):
        _image(ax, inputs, values, cmap=colour_map(item.colormap), **_energy_scale(values))
        _annotate(ax, inputs, item.title_text, with_depth_label=i == 0)
    return fig


def stack_figure(inputs: PanelInputs):
    """The datasets overlaid on one panel, each with its ``alpha``; returns the Figure."""
    fig = _new_figure(inputs)
    ax = fig.subplots()
    for item, values in zip(inputs.spec.plot_list, inputs.arrays):
        _image(ax, inputs, values, cmap=colour_map(item.colormap), alpha=item.alpha, **_energy_scale(values))
    _annotate(ax, inputs, "Stack of " + " ".join(i.title_text for i in inputs.spec.plot_list))
    return fig


def rgb_figure(inputs: PanelInputs):
    """Three datasets as red, green and blue, each scaled to 0-1 (``inverted``: 1 - it); returns the Figure."""
    fig = _new_figure(inputs)
    ax = fig.subplots()
    channels = []
    for item, values in zip(inputs.spec.plot_list, inputs.arrays):
        level = unit_intensity(values)
        channels.append(1.0 - level if item.inverted == "yes" else level)
    _image(ax, inputs, np.stack(channels, axis=-1))
    r, g, b = (i.title_text for i in inputs.spec.plot_list)
    _annotate(ax, inputs, f"R = {r}, G = {g}, B = {b}")
    return fig


@dataclass(frozen=True)
class PanelPlot:
    """A figure type of a plots config (its ``plot_type``), as ``raydas commands`` lists it."""

    name: str
    description: str
    figure: Callable[[PanelInputs], object]
    changed_from_distpy: str = (
        "Zone lines are drawn at their depths (distpy drew them at row indices on a depth axis); time ticks "
        "match their columns and event times are UTC; renders with current matplotlib."
    )

    def describe(self) -> dict:
        """A JSON-ready description: the keys of its entry in ``plots``."""
        return {
            "name": self.name,
            "section": "plots_config",
            "family": "plots",
            "description": self.description,
            "parameters": [p for p in describe_parameters(PlotSpec) if p["name"] != "plot_type"],
            "changed_from_distpy": self.changed_from_distpy,
        }


PANEL_PLOTS: dict[str, PanelPlot] = {
    p.name: p
    for p in (
        PanelPlot(
            "well_log",
            "Waterfall panels side by side, one per plot_list dataset (plots config; raydas plot).",
            well_log_figure,
        ),
        PanelPlot(
            "stack",
            "Datasets overlaid with transparency on one panel (false colour; plots config; raydas plot).",
            stack_figure,
        ),
        PanelPlot(
            "rgb",
            "Three datasets as the red, green and blue channels, each scaled to 0-1 (plots config; raydas plot).",
            rgb_figure,
        ),
    )
}


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
    try:
        safe = safe_relative(name)
    except ValueError as exc:
        raise ConfigError(where, str(exc), source) from None
    return np.asarray(load_npy(join(folder, safe), mmap=False))


def panel_inputs(
    cfg: PlotsConfig, directory_in: str, index: int, source: str | None = None, base: str | None = None
) -> PanelInputs:
    """Load and check the data of ``cfg.plots[index]``.

    Raises
    ------
    ConfigError
        At the JSON path of a reference whose data do not fit (shape, times).
    """
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
    zones = read_zones(resolve_path(base, cfg.well_segments)) if cfg.well_segments else []
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
        fig = PANEL_PLOTS[spec.plot_type].figure(panel_inputs(cfg, directory_in, i, path, base))
        written.append(sink.write(f"{spec.out_plot}.png", figure_bytes(fig, "png")))
    return written
