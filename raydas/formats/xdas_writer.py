"""Writing xdas's native NetCDF4 (HDF5) files, which ``xdas.open_dataarray`` opens.

One file holds one ``(time, distance)`` array, its coordinates stored as CF
"coordinate interpolation" tie points, as xdas 0.2 writes them (CF 1.13)::

    /                   Conventions = "CF-1.13"
    /__values__         (time, distance) samples, float32; attributes
                        coordinate_interpolation = "time_values: time_interpolation
                        distance_values: distance_interpolation", units (of the samples)
    /time_indices       int64 sample indices of the time tie points (first and last;
                        every sample for stamped, irregular samples)
    /time_values        int64 ns since the first sample at those indices (units =
                        "nanoseconds since <first sample, UTC, to the ns>"; small
                        numbers, so that readers going through float64 stay exact)
    /distance_indices   int64 channel indices of the distance tie points
                        (first and last when evenly spaced, else every channel)
    /distance_values    float64 positions along the fibre at those indices, m
    /time_interpolation, /distance_interpolation   linear interpolation between tie points
    /x, /y, /z          float64 X, Y, Z of each channel along ``distance`` from a geometry
                        table (NaN where unknown; units as the table states them), named
                        by ``__values__``'s CF ``coordinates`` attribute; only with a table

The time tie points hold the first and last sample times exactly; xdas
interpolates the others linearly between them (to the ns when the sample
interval is a whole number of ns). Written with ``h5netcdf`` (the ``netcdf``
extra), which xdas itself writes with.
"""

from __future__ import annotations

import io

import numpy as np

from ..errors import RaydasError
from ..fsutil import write_bytes_atomic
from .writecheck import Patch, chunk_patch

CONVENTIONS = "CF-1.13"
VALUES = "__values__"  # the name xdas gives an unnamed array


def time_units(start_ns: int) -> str:
    """CF units of times counted in ns from ``start_ns`` (ns since 1970, UTC):
    ``"nanoseconds since 2024-06-01 12:00:00.125000000"``."""
    return "nanoseconds since " + str(np.datetime64(int(start_ns), "ns")).replace("T", " ")


def _tie_points(n: int, regular: bool) -> np.ndarray:
    if n == 1:
        return np.array([0], dtype=np.int64)
    return np.array([0, n - 1], dtype=np.int64) if regular else np.arange(n, dtype=np.int64)


def netcdf_bytes(patch: Patch) -> bytes:
    """The content of an xdas NetCDF4 file holding ``patch`` as ``(time, distance)``.

    Parameters
    ----------
    patch
        The checked samples and coordinates (:func:`raydas.formats.writecheck.checked_patch`):
        positions in m, times in int64 ns since 1970 (UTC).

    Raises
    ------
    RaydasError
        When ``h5netcdf`` is not installed (``pip install raydas[netcdf]``).
    """
    try:
        import h5netcdf
    except ImportError:
        raise RaydasError("the NetCDF writer needs h5netcdf: pip install 'raydas[netcdf]'") from None
    n_channels, n_times = patch.data.shape
    t_index = _tie_points(n_times, regular=patch.regular_times())  # stamped samples: every time a tie point
    d_index = _tie_points(n_channels, regular=patch.regular_positions() is not None)
    buf = io.BytesIO()
    with h5netcdf.File(buf, "w") as nc:
        nc.attrs["Conventions"] = CONVENTIONS
        nc.dimensions = {
            "time": n_times,
            "distance": n_channels,
            "time_points": len(t_index),
            "distance_points": len(d_index),
        }
        nc.create_variable("time_indices", ("time_points",), data=t_index)
        offsets = patch.times_ns[t_index] - patch.start_ns
        values = nc.create_variable("time_values", ("time_points",), data=offsets)
        values.attrs["units"] = time_units(patch.start_ns)
        values.attrs["calendar"] = "proleptic_gregorian"
        nc.create_variable("distance_indices", ("distance_points",), data=d_index)
        distance = nc.create_variable("distance_values", ("distance_points",), data=patch.positions[d_index])
        distance.attrs["units"] = "m"
        for axis in ("time", "distance"):
            interp = nc.create_variable(f"{axis}_interpolation", (), dtype="f8", fillvalue=np.nan)
            interp.attrs["interpolation_name"] = "linear"
            interp.attrs["tie_point_mapping"] = f"{axis}: {axis}_indices {axis}_points"
            interp.attrs["computational_precision"] = "64"
        data = nc.create_variable(VALUES, ("time", "distance"), data=np.ascontiguousarray(patch.data.T))
        data.attrs["coordinate_interpolation"] = (
            "time_values: time_interpolation distance_values: distance_interpolation"
        )
        if patch.xyz is not None:  # a geometry table's X, Y, Z: CF auxiliary coordinates along distance
            for k, name in enumerate("xyz"):
                coord = nc.create_variable(name, ("distance",), data=patch.xyz[:, k])
                if patch.xyz_units[k]:
                    coord.attrs["units"] = patch.xyz_units[k]
            data.attrs["coordinates"] = "x y z"
        if patch.units:
            data.attrs["units"] = patch.units
        if np.isfinite(patch.gauge_length):
            data.attrs["gauge_length"] = patch.gauge_length
    return buf.getvalue()


def write_netcdf(chunk, url: str) -> list[str]:
    """Write a :class:`~raydas.chunk.Chunk` (its own samples, halo trimmed) as an
    xdas NetCDF4 file that ``xdas.open_dataarray(url)`` opens as ``(time, distance)``
    with times in UTC and distances in m.

    Parameters
    ----------
    chunk
        Samples ``(channel, time)``; positions in m, start in ns UTC, ``dt`` in s.
    url
        Where to write (any fsspec URL); written atomically.

    Returns
    -------
    list of str
        ``[url]``.

    Raises
    ------
    RaydasError
        For what :func:`~raydas.formats.writecheck.checked_patch` refuses, or without h5netcdf.
    """
    payload = netcdf_bytes(chunk_patch("NetCDF writer", chunk))
    write_bytes_atomic(url, payload)
    return [url]
