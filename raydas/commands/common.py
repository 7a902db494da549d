"""Small helpers shared by the command families (axis names, channel spacing)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..backend import to_host
from .base import Command, Params


def time_or_channel_axis(axis: int | None) -> int | None:
    """distpy's axis argument for a 2-D ``(channel, time)`` array: -1 means 1 (time)."""
    return 1 if axis == -1 else axis


class AxisCommand(Command):
    """A command that works along distpy's ``axis`` parameter.

    Its ``Params`` has ``axis``: 1 (or -1) along time, 0 across channels, and
    where a command allows it None for all axes. The constructor sets
    ``self.axis`` to the array axis (1, 0 or None) and ``time_local`` from it:
    across channels every time sample stands on its own, so the command is
    time-local with no halo; along time it sees whole chunks, unless the class
    sets ``local_along_time`` (a filter that declares the halo it needs along
    time in :meth:`halo_samples`).
    """

    local_along_time: ClassVar[bool] = False
    #: True when, across channels (``axis`` 0), the command reads no sample rate (it treats
    #: every time sample on its own): it then serves records of stamped readings
    #: (:attr:`Command.needs_regular_time` is False for that instance).
    rate_free_across_channels: ClassVar[bool] = False

    def __init__(self, params: Params, uid: int = 0):
        super().__init__(params, uid)
        self.axis = time_or_channel_axis(params.axis)
        self.time_local = self.axis == 0 or self.local_along_time
        if self.axis == 0 and self.rate_free_across_channels:
            self.needs_regular_time = False


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


def need_at_least(have: int | None, needed: int, what: str, why: str) -> None:
    """Refuse at planning (:meth:`Command.check_layout`) when a known count is too small.

    Parameters
    ----------
    have
        How many ``what`` the command will get (None: unknown, accepted).
    needed
        How many it needs.
    what
        ``"channels"`` or ``"samples in a chunk"``.
    why
        What needs them, e.g. ``"a gradient across channels"``.

    Raises
    ------
    ValueError
        Saying what needs how many and how many there are.
    """
    if have is not None and have < needed:
        raise ValueError(f"{why} needs at least {needed} {what}; it would get {have}")


def one_per(values: list, others: list, name: str, other_name: str, what: str) -> None:
    """A rule between two list parameters (in a pydantic validator): ``values``
    (the parameter ``name``) has one entry per entry of ``others`` (``other_name``).

    Raises
    ------
    ValueError
        Saying how many of each there are.
    """
    if len(values) != len(others):
        raise ValueError(
            f"{name} has {len(values)} value(s) but {other_name} has {len(others)}: give one of each per {what}"
        )


def safe_divide(xp, num, den):
    """``num / den``, 0 where ``den`` is 0."""
    zero = den == 0
    return xp.where(zero, 0, num / xp.where(zero, 1, den))
