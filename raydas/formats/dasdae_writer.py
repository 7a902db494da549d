"""Writing DASDAE HDF5 version 1, the format DASCore reads and writes natively.

One file holds one patch, written with h5py (no PyTables, no pickles)::

    /                       __format__ = "DASDAE", __DASDAE_version__ = "1"
    /waveforms/DAS________<start>__<end>       the patch group
        attributes  _dims = "distance,time", _cdims_distance, _cdims_time,
                    _attrs_data_units, _attrs_gauge_length (m), _attrs_data_type,
                    __attrs_coords_separate__ = True
        data             float32 (distance, time)
        _coord_distance  float64, m (attribute units = "m"; step when regular)
        _coord_time      int64 ns since 1970, UTC (is_datetime64 = 1; step in ns)
        _coord_x, _y, _z  float64 X, Y, Z of each channel from a geometry table (_cdims_x
                         = "distance"; units when DASCore knows them, raydas_units as the
                         table states them), only when every channel has them

Patch attributes and coordinate metadata are stored as plain HDF5 attributes
("separate" metadata, which DASCore 0.1.24 reads with h5py) rather than as the
pickled summary older DASCore files carry.
"""

from __future__ import annotations

import io
import re

import numpy as np

from ..fsutil import write_bytes_atomic
from .writecheck import Patch, chunk_patch

FORMAT_NAME = "DASDAE"
VERSION = "1"

#: the data types DASCore knows (``PatchAttrs.data_type``); others are not written
DATA_TYPES = (
    "velocity",
    "strain_rate",
    "phase",
    "phase_difference",
    "phase_rate",
    "strain",
    "temperature",
    "temperature_gradient",
)

#: unit words DASCore's unit registry (pint) reads; a unit made of others is kept only
#: as ``_attrs_raydas_units`` so that DASCore can still open the file
_UNIT_WORDS = {
    "strain", "m", "mm", "um", "µm", "nm", "km", "s", "ms", "us", "ns", "rad", "Hz", "K", "degC",
    "dB", "count", "counts", "W", "V", "Pa", "ε", "µε", "microstrain", "nanostrain", "radian", "meter",
    "second", "kelvin",
}  # fmt: skip
_UNIT_TOKEN = re.compile(r"[A-Za-zµε]+")


def dascore_units(units: str) -> str | None:
    """``units`` when every word of it is one DASCore's unit registry knows
    (``strain/s``, ``m/s``, ``nm/m/s``, ``rad``...), else None."""
    text = str(units or "").strip()
    if not text or not re.fullmatch(r"[A-Za-zµε0-9 /*^.()-]+", text):
        return None
    words = _UNIT_TOKEN.findall(text)
    return text if words and all(w in _UNIT_WORDS for w in words) else None


def _stamp(ns: int) -> str:
    """A time as DASCore spells it in patch names: ``2024_06_01T12_00_00_125000000``."""
    text = str(np.datetime64(int(ns), "ns"))
    return text.replace("-", "_").replace(":", "_").replace(".", "_")


def patch_name(patch: Patch) -> str:
    """The patch group's name: ``DAS__<network>__<station>__<tag>__<first time>__<last time>``
    with empty network, station and tag, as DASCore names patches."""
    return f"DAS________{_stamp(patch.start_ns)}__{_stamp(int(patch.times_ns[-1]))}"


def dasdae_bytes(patch: Patch, data_type: str = "") -> bytes:
    """The content of a DASDAE v1 file holding ``patch``.

    Parameters
    ----------
    patch
        The checked samples and coordinates (:func:`raydas.formats.writecheck.checked_patch`).
    data_type
        DASCore's word for the quantity (``"strain_rate"``, ``"velocity"``...; one of
        :data:`DATA_TYPES`), ``""`` to leave it unset.
    """
    import h5py

    if data_type and data_type not in DATA_TYPES:
        raise ValueError(f"DASDAE writer: data_type {data_type!r} is not one of {', '.join(DATA_TYPES)}")
    text = str  # variable-length UTF-8 strings: DASCore reads them back as str (bytes would not match its queries)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        h5.attrs["__format__"] = text(FORMAT_NAME)
        h5.attrs["__DASDAE_version__"] = text(VERSION)
        group = h5.create_group("waveforms").create_group(patch_name(patch))
        attrs = group.attrs
        attrs["__attrs_coords_separate__"] = np.bool_(True)
        attrs["_dims"] = text("distance,time")
        attrs["_cdims_distance"] = text("distance")
        attrs["_cdims_time"] = text("time")
        units = dascore_units(patch.units)
        if units:
            attrs["_attrs_data_units"] = text(units)
        if patch.units:
            attrs["_attrs_raydas_units"] = text(patch.units)
        if data_type:
            attrs["_attrs_data_type"] = text(data_type)
        if np.isfinite(patch.gauge_length):
            attrs["_attrs_gauge_length"] = np.float64(patch.gauge_length)
        group.create_dataset("data", data=patch.data)
        distance = group.create_dataset("_coord_distance", data=patch.positions)
        distance.attrs["units"] = text("m")
        distance.attrs["is_datetime64"] = np.bool_(False)
        distance.attrs["is_timedelta64"] = np.bool_(False)
        step = patch.regular_positions()
        if step is not None:
            distance.attrs["step"] = np.float64(step)
        # a geometry table's X, Y, Z: coordinates along distance, when every channel has them
        # (DASCore's spool drops the channels whose coordinate is NaN: "unknown" would lose data)
        if patch.xyz is not None and np.isfinite(patch.xyz).all():
            for k, name in enumerate("xyz"):
                coord = group.create_dataset(f"_coord_{name}", data=patch.xyz[:, k])
                unit = dascore_units(patch.xyz_units[k])  # DASCore parses units: only those it knows
                if unit:
                    coord.attrs["units"] = text(unit)
                if patch.xyz_units[k]:
                    coord.attrs["raydas_units"] = text(patch.xyz_units[k])  # as the table states them
                coord.attrs["is_datetime64"] = np.bool_(False)
                coord.attrs["is_timedelta64"] = np.bool_(False)
                attrs[f"_cdims_{name}"] = text("distance")
        time = group.create_dataset("_coord_time", data=patch.times_ns)
        time.attrs["units"] = text("s")
        time.attrs["is_datetime64"] = np.bool_(True)
        time.attrs["is_timedelta64"] = np.bool_(False)
        one = len(patch.times_ns) < 2
        if (one and not patch.stamped) or (not one and np.all(np.diff(patch.times_ns) == patch.dt_ns)):
            time.attrs["step"] = np.int64(patch.dt_ns)
            time.attrs["step_is_timedelta64"] = np.bool_(True)
    return buf.getvalue()


def write_dasdae(chunk, url: str, data_type: str = "") -> list[str]:
    """Write a :class:`~raydas.chunk.Chunk` (its own samples, halo trimmed) as a
    DASDAE v1 HDF5 file that DASCore opens (``dascore.spool(url)``, ``dascore.read(url)``).

    Parameters
    ----------
    chunk
        Samples ``(channel, time)``; positions in m, start in ns UTC, ``dt`` in s.
    url
        Where to write (any fsspec URL); written atomically.
    data_type
        DASCore's word for the quantity (see :data:`DATA_TYPES`), ``""`` for none.

    Returns
    -------
    list of str
        ``[url]``.

    Raises
    ------
    RaydasError
        For what :func:`~raydas.formats.writecheck.checked_patch` refuses.
    """
    payload = dasdae_bytes(chunk_patch("DASDAE writer", chunk), data_type)
    write_bytes_atomic(url, payload)
    return [url]
