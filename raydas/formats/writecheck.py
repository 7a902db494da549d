"""What every patch writer (DASDAE, xdas NetCDF, Zarr) checks before it writes,
and the coordinates it writes: one place, so that they refuse alike.

A patch is a 2-D ``(channel, time)`` block with finite channel positions in
metres and a regular time axis (integer ns since 1970, UTC).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..errors import RaydasError
from ..timeutil import NS_PER_S

#: the last time an int64 count of ns since 1970 holds (2262-04-11)
_MAX_NS = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Patch:
    """The checked content of one chunk, ready to be written.

    Attributes
    ----------
    data
        ``(channel, time)`` samples, C-contiguous, their own dtype (float32 from the pipeline).
    positions
        Channel positions along the fibre in metres, float64, all finite.
    times_ns
        Time of every sample, int64 ns since 1970-01-01 UTC: ``start + round(i * dt)``.
    dt
        Sample interval in seconds (finite, > 0).
    units
        Unit of the samples (``""`` when unknown).
    gauge_length
        Gauge length in metres (``nan`` when unknown).
    stamped
        True when ``times_ns`` are the samples' own stamps (irregular readings), not
        ``start + round(i * dt)``: ``dt`` is then no step to state.
    xyz
        X, Y, Z of each channel from a geometry table, ``(n_channels, 3)`` float64 (NaN
        where unknown), or None; writers write them as coordinates along distance.
    xyz_units
        Their units, as the table states them (``""`` when it does not).
    """

    data: np.ndarray
    positions: np.ndarray
    times_ns: np.ndarray
    dt: float
    units: str = ""
    gauge_length: float = float("nan")
    stamped: bool = False
    xyz: np.ndarray | None = None
    xyz_units: tuple[str, str, str] = ("", "", "")

    def with_coordinates(self, xyz, units=("", "", "")) -> Patch:
        """This patch with the channels' X, Y, Z (``(n_channels, 3)``; None: none).

        Raises
        ------
        RaydasError
            When ``xyz`` is not one X, Y, Z per channel.
        """
        if xyz is None:
            return self
        xyz = np.asarray(xyz, dtype=np.float64)
        if xyz.shape != (self.data.shape[0], 3):
            raise RaydasError(f"{xyz.shape} channel coordinates for {self.data.shape[0]} channels: need (channels, 3)")
        return replace(self, xyz=xyz, xyz_units=tuple(str(u) for u in units))

    @property
    def start_ns(self) -> int:
        return int(self.times_ns[0])

    @property
    def dt_ns(self) -> int:
        """The sample interval rounded to whole ns."""
        return int(round(self.dt * NS_PER_S))

    def regular_times(self) -> bool:
        """Whether the sample times are ``start + round(i * dt)`` (False for stamped, irregular samples)."""
        if len(self.times_ns) < 2:
            return True
        offsets = np.round(np.arange(len(self.times_ns), dtype=np.float64) * (self.dt * NS_PER_S)).astype(np.int64)
        return bool(np.array_equal(self.times_ns - self.times_ns[0], offsets))

    def regular_positions(self) -> float | None:
        """The channel spacing (m) when positions are evenly spaced to 1e-9 relative, else None."""
        if len(self.positions) < 2:
            return None
        steps = np.diff(self.positions)
        step = float(steps[0])
        return step if step != 0 and np.allclose(steps, step, rtol=1e-9, atol=0) else None


def checked_patch(
    writer: str, data, start_ns: int, dt, positions, units: str = "", gauge_length=float("nan"), times_ns=None
) -> Patch:
    """Check what a writer is handed and build its :class:`Patch`.

    Parameters
    ----------
    writer
        Who writes (named in errors), e.g. ``"DASDAE writer"``.
    data
        The samples, ``(channel, time)``.
    start_ns
        Time of the first sample, ns since 1970 (UTC).
    dt
        Sample interval in seconds.
    positions
        Channel positions in metres, one per row of ``data``.
    units, gauge_length
        Unit of the samples; gauge length in metres (nan when unknown).
    times_ns
        The time of every sample (int64 ns since 1970, UTC) when the samples carry
        stamps (irregular sampling); None: ``start_ns + round(i * dt)``.

    Raises
    ------
    RaydasError
        When ``data`` is not 2-D with at least one channel and one sample, the
        positions are not one finite number per channel, the sample interval is
        not a finite positive number of seconds, a sample time does not fit
        in int64 ns, or given stamps are not one increasing time per sample.
    """
    array = np.asarray(data)
    if array.ndim != 2:
        raise RaydasError(f"{writer}: writes (channel, time) arrays; got a {array.ndim}-D array of shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise RaydasError(f"{writer}: nothing to write (shape {array.shape})")
    if array.dtype.kind not in "biuf":
        raise RaydasError(f"{writer}: writes real numbers; got {array.dtype}")
    if positions is None:
        raise RaydasError(f"{writer}: needs channel positions (m); the input's rows are not channels")
    pos = np.asarray(positions, dtype=np.float64).reshape(-1)
    if pos.shape[0] != array.shape[0]:
        raise RaydasError(f"{writer}: {pos.shape[0]} channel positions for {array.shape[0]} channels")
    if not np.all(np.isfinite(pos)):
        raise RaydasError(f"{writer}: channel positions must be finite metres; got {pos[~np.isfinite(pos)][:3]}")
    if dt is None:
        raise RaydasError(f"{writer}: needs a time axis; the input's columns are not time samples")
    try:
        dt = float(dt)
    except (TypeError, ValueError):
        raise RaydasError(f"{writer}: sample interval {dt!r} is not a number of seconds") from None
    if not (math.isfinite(dt) and dt > 0):
        raise RaydasError(f"{writer}: sample interval {dt!r} s is not a finite positive number")
    if times_ns is not None:
        times = np.asarray(times_ns).reshape(-1)
        if times.dtype.kind not in "iu" or times.shape[0] != array.shape[1]:
            raise RaydasError(f"{writer}: {times.shape[0]} time stamps ({times.dtype}) for {array.shape[1]} samples")
        times = times.astype(np.int64)
        if np.any(np.diff(times) <= 0):
            raise RaydasError(f"{writer}: sample time stamps must increase")
    else:
        offsets = np.round(np.arange(array.shape[1], dtype=np.float64) * (dt * NS_PER_S))
        last = int(start_ns) + float(offsets[-1])
        if not (-_MAX_NS <= int(start_ns) and last <= _MAX_NS):
            raise RaydasError(f"{writer}: sample times from {start_ns} ns do not fit in int64 ns since 1970")
        times = np.int64(start_ns) + offsets.astype(np.int64)
    return Patch(
        data=np.ascontiguousarray(array),
        positions=pos,
        times_ns=times,
        dt=dt,
        units=str(units or ""),
        gauge_length=float(gauge_length) if gauge_length is not None else float("nan"),
        stamped=times_ns is not None,
    )


def chunk_patch(writer: str, chunk) -> Patch:
    """:func:`checked_patch` of a :class:`~raydas.chunk.Chunk`'s own samples (halo
    trimmed), with their stamps when the chunk carries them (a ``times_ns`` attribute)."""
    core = chunk.trimmed()
    stamps = getattr(core, "times_ns", None)
    patch = checked_patch(
        writer, core.data, core.data_start_ns, core.dt, core.positions, core.units, core.gauge_length, stamps
    )
    return patch.with_coordinates(core.attrs.get("channel_xyz"), core.attrs.get("geometry_units", ("", "", "")))
