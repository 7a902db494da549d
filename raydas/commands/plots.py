"""Plot commands that run inside a processing pipeline."""

from __future__ import annotations

import io
from typing import Literal

import numpy as np
from pydantic import Field

from ..backend import to_host
from . import register
from .io import WriterParams, _Writer


def render_image(
    values: np.ndarray,
    positions: np.ndarray,
    duration: float,
    fmt: str = "png",
    clip_level: float = 1.0,
    cmap: str = "viridis",
    axes: tuple[str, str] = ("depth (m)", "time (s)"),
    depth_down: bool = True,
    figure_size: tuple[float, float] = (8, 6),
    dpi: int = 300,
    title: str = "",
    style: str = "imshow",
) -> bytes:
    """Render a (depth, time) array as an image file and return its bytes.

    ``positions`` gives the depth (m) of each row, ``duration`` the time span
    (s) of the columns. Colour limits are ``mean +/- clip_level * std`` of the
    finite values. Uses matplotlib's object API (no pyplot state), so it is
    safe inside actors and threads.
    """
    from matplotlib.figure import Figure

    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values.reshape(-1, 1)
    finite = values[np.isfinite(values)]
    mean = float(finite.mean()) if finite.size else 0.0
    std = float(finite.std()) if finite.size else 1.0
    vmin, vmax = mean - clip_level * std, mean + clip_level * std
    if not vmax > vmin:
        vmin, vmax = mean - 1.0, mean + 1.0
    fig = Figure(figsize=figure_size, dpi=dpi)
    ax = fig.subplots()
    first, last = float(positions[0]), float(positions[-1])
    if style == "contourf":
        t = np.linspace(0.0, duration, values.shape[1])
        image = ax.contourf(t, np.asarray(positions, dtype=float), np.clip(values, vmin, vmax), levels=32, cmap=cmap)
    else:
        image = ax.imshow(values, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, origin="lower",
                          extent=(0.0, duration, first, last), interpolation="nearest")
    if depth_down != ax.yaxis_inverted() and (last >= first):
        ax.invert_yaxis()
    ax.set_ylabel(axes[0])
    ax.set_xlabel(axes[1])
    if title:
        ax.set_title(title)
    fig.colorbar(image, ax=ax)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


@register
class Thumbnail(_Writer):
    name = "thumbnail"
    family = "plots"
    summary = "Quick-look image of the chunk as <directory_out>/<unixtime>.<format>; passes its input on."
    changed_from_distpy = "The restart check knows the file extension, so flows with thumbnails resume."

    class Params(WriterParams):
        format: Literal["png", "jpg", "jpeg", "pdf", "svg"] = Field("png", description="image format")
        clip_level: float = Field(1.0, gt=0, description="colour limits at mean +/- clip_level x std")
        cmap: str = Field("viridis", description="matplotlib colour map")
        axes: list[str] = Field(["depth (m)", "time (s)"], description="axis labels (depth, time)")
        invert_depth: int = Field(0, description="1 draws depth increasing upwards")
        figure_size: list[float] = Field([8, 6], description="figure size (inches)")
        dpi: int = Field(300, ge=10, le=1200, description="resolution (dots per inch)")
        plot_style: Literal["imshow", "contourf"] = Field("imshow", description="imshow or contourf")

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
        positions = ctx.positions if ctx.positions is not None else np.arange(values.shape[0])
        duration = values.shape[1] * (ctx.meta.dt or 1.0 / ctx.sample_rate)
        payload = render_image(
            values, positions, duration, fmt=p.format, clip_level=p.clip_level, cmap=p.cmap,
            axes=(p.axes[0], p.axes[1]) if len(p.axes) >= 2 else ("depth (m)", "time (s)"),
            depth_down=not p.invert_depth, figure_size=tuple(p.figure_size[:2]), dpi=p.dpi,
            title=ctx.stem, style=p.plot_style,
        )
        ctx.outputs.write(f"{p.directory_out}/{ctx.stem}.{p.format}", payload)
        return x
