"""Plotting helpers shared by the thumbnail command and the ``raydas plot``
application: colour maps, colour limits, date axes and encoding a figure.

Everything is drawn with matplotlib's object API (``Figure``, no pyplot
state, Agg), so plots are safe inside Ray actors and threads. Figure builders
return the :class:`~matplotlib.figure.Figure`, so that what was drawn (colour
limits, line positions, image arrays) can be read back; :func:`figure_bytes`
saves it at exactly ``figure_size x dpi`` pixels.
"""

from __future__ import annotations

import datetime as _dt
import io

import numpy as np

from ..timeutil import NS_PER_S

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
UTC = _dt.UTC


def colour_map(name: str):
    """A matplotlib colour map by name; ``"UAVK"`` is distpy's Techlog-like scale.

    Raises
    ------
    ValueError
        For a name matplotlib does not know.
    """
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


#: what makes a figure's file depend on when it was drawn: none of it is written
_NO_DATE = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}


def figure_bytes(fig, fmt: str = "png", dpi: int | None = None) -> bytes:
    """Encode a figure (``figure_size x dpi`` pixels exactly: no tight cropping). The same
    figure gives the same bytes whenever it is drawn (no creation date, fixed SVG ids), so
    a chunk drawn again after an interruption leaves the file a clean run leaves."""
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "raydas"}):
        fig.savefig(buf, format=fmt, dpi=dpi or fig.dpi, metadata=_NO_DATE.get(fmt))
    return buf.getvalue()


def date_num(ns):
    """matplotlib date numbers (days since 1970, UTC) of ns timestamps."""
    return np.asarray(ns, dtype=np.float64) / (86400.0 * NS_PER_S)


def use_date_axis(ax, fmt: str = "%Y-%m-%d %H:%M:%S") -> None:
    """Show the x axis of ``ax`` (in :func:`date_num` units) as UTC date-times in ``fmt``."""
    from matplotlib.dates import DateFormatter

    ax.xaxis_date(tz=UTC)
    ax.xaxis.set_major_formatter(DateFormatter(fmt, tz=UTC))
