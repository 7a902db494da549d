"""distpy's ``thumbnail``: a quick-look image of each chunk, inside a processing pipeline.

distpy's other plots, ``well_log``, ``stack`` and ``rgb``, are not graph
commands: they draw the panels of a plots config from the ``.npy`` files a
run wrote, with ``raydas plot PLOTS_CONFIG.json`` (:mod:`raydas.apps.plot`).
Naming one in a ``command_list`` is a config error that says so.
"""

from __future__ import annotations

import datetime as _dt
from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from ..backend import to_host
from ..timeutil import NS_PER_S
from . import register
from .io import Writer, WriterParams
from .plotting import UTC, clip_limits, colour_map, date_num, figure_bytes, use_date_axis


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
    columns: np.ndarray | None = None,
):
    """Draw distpy's thumbnail of a (depth, time) block.

    Parameters
    ----------
    values
        (depth, time) samples (a 1-D array is drawn as one column).
    positions
        Depth (m) of each row, or any other coordinate of the rows (an offset,
        a velocity); None numbers the rows. Rows are drawn in the order of
        their coordinate.
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
    columns
        The coordinate of each column (a lag in s, a frequency in Hz), evenly
        spaced, drawn instead of the time from the chunk start; None: time.

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
        if depth.shape != (n_rows,):
            raise ValueError(f"thumbnail: {depth.size} row coordinates for {n_rows} rows")
        if n_rows > 1 and not (np.all(np.diff(depth) >= 0) or np.all(np.diff(depth) <= 0)):
            order = np.argsort(depth, kind="stable")  # e.g. the offsets of two virtual sources' gathers
            depth, values = depth[order], values[order]
        if columns is not None:
            x = np.asarray(columns, dtype=np.float64)
            if x.shape != (n_cols,):
                raise ValueError(f"thumbnail: {x.size} column coordinates for {n_cols} columns")
            date_axis = False
            span = (x[-1] - x[0]) if n_cols > 1 else 1.0
        else:
            t = np.arange(n_cols) * dt
            x = date_num(start_ns + np.round(t * NS_PER_S)) if date_axis else t
            span = (x[-1] - x[0]) if n_cols > 1 else (date_num(dt * NS_PER_S) if date_axis else dt)
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
            use_date_axis(ax)
            for label in ax.get_xticklabels():
                label.set_rotation(30)
                label.set_horizontalalignment("right")
    ax.set_xlabel(axes[1])
    ax.set_ylabel(axes[0])
    if title:
        ax.set_title(title, fontsize=10)
    return fig


@register
class Thumbnail(Writer):
    name = "thumbnail"
    family = "plots"
    description = "Quick-look image of the chunk as <directory_out>/<output id>.<format>; passes its input on."
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
        row_coordinate: str | None = Field(
            None,
            description="coordinate of the input's rows drawn on the vertical axis (e.g. offset of an xcorr result, "
            "velocity of a dispersion image); null: the channel positions",
        )
        column_coordinate: str | None = Field(
            None,
            description="coordinate of the input's columns drawn on the horizontal axis (e.g. lag, frequency); "
            "null: the time from the chunk start",
        )

        @field_validator("cmap")
        @classmethod
        def _known_map(cls, value: str) -> str:
            colour_map(value)
            return value

    @property
    def suffix(self) -> str:
        return self.params.format

    def gathers_needed(self) -> int:
        """A scatter plot takes its y values from gather_uids[0]."""
        return 1 if self.params.plot_style == "scatter" else 0

    @staticmethod
    def _coordinate(ctx, name: str, axis: int) -> np.ndarray:
        """The values of the input's coordinate ``name`` along ``axis``; an error naming those it has."""
        coord = ctx.meta.coord(name)
        if coord is None or coord.axis != axis:
            have = [c.name for c in ctx.meta.coords if c.axis == axis]
            raise ValueError(
                f"the input has no coordinate {name!r} along axis {axis} "
                f"({'it has ' + ', '.join(have) if have else 'it has none'})"
            )
        return np.asarray(to_host(coord.values), dtype=np.float64)

    def apply(self, xp, x, ctx):
        p = self.params
        if p.directory_out == "NONE":
            return x
        values = to_host(x)
        if np.iscomplexobj(values):
            values = np.abs(values)
        gathered = [np.abs(g) if np.iscomplexobj(g) else g for g in (to_host(g) for g in ctx.gathered)]
        positions = ctx.positions if ctx.positions is not None and len(ctx.positions) == values.shape[0] else None
        if p.row_coordinate is not None:
            positions = self._coordinate(ctx, p.row_coordinate, 0)
        columns = None if p.column_coordinate is None else self._coordinate(ctx, p.column_coordinate, 1)
        stamp = _dt.datetime.fromtimestamp(ctx.start_ns / NS_PER_S, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
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
            columns=columns,
        )
        ctx.sink.write(self.output_path(ctx.output_id), figure_bytes(fig, p.format))
        return x
