"""Small helpers shared by the command families (axis names, channel spacing)."""

from __future__ import annotations

import numpy as np

from ..backend import to_host


def time_or_channel_axis(axis: int | None) -> int | None:
    """distpy's axis argument for a 2-D ``(channel, time)`` array: -1 means 1 (time)."""
    return 1 if axis == -1 else axis


def channel_spacing(positions, what: str) -> float:
    """Median channel spacing (m) from channel positions.

    Raises
    ------
    ValueError
        Naming ``what`` needed it, when there are no positions or fewer than two channels.
    """
    if positions is None or len(positions) < 2:
        raise ValueError(f"{what} needs channel positions (at least two channels)")
    spacing = float(np.median(np.abs(np.diff(np.asarray(to_host(positions), dtype=np.float64)))))
    if not spacing > 0:
        raise ValueError(f"{what} needs distinct channel positions (spacing is {spacing:g} m)")
    return spacing
