"""Channel geometry tables: ``channel -> X, Y, Z`` as CSV (the Brady Hot
Springs ``brady_hs_DAS_DTS_coords.csv`` layout). They describe where a run's
channels lie; they hold no samples.

Layout: a header ``Channel,X,Y,Z`` (any case, spaces allowed), optionally a
units row whose first field is not a number (``number,UTM [m],UTM [m],UTM
[m]``), then one ``channel,x,y,z`` row per channel. A row of 0, 0, 0 means
"no coordinate" (the channels before the fibre enters the ground): it is read
as NaN.

A scan meets such a table as "not data" (listed apart from the records, like
a README), saying what it is; :func:`read_channel_coords` loads it. Attaching
it to a run's records and carrying it into outputs is not done yet.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np

from ..errors import FormatError, NotDataError
from ..fsutil import url_to_fs
from . import register
from .base import Format, Probe, RecordInfo

HEADER = ("channel", "x", "y", "z")
#: a geometry table larger than this is refused (the sample is 300 kB for 8721 channels)
MAX_BYTES = 64 * 2**20


def _header(line: str) -> tuple[str, ...]:
    return tuple(f.strip().lower() for f in line.lstrip("\ufeff").split(","))


@dataclass
class ChannelCoords:
    """A channel geometry table.

    Attributes
    ----------
    channels
        Channel numbers, int64, as the table lists them.
    xyz
        ``(channel, 3)`` float64 coordinates in the table's unit (NaN where
        the table has 0, 0, 0: no coordinate).
    units
        The units row (``["UTM [m]", "UTM [m]", "UTM [m]"]``), empty when absent.
    """

    channels: np.ndarray
    xyz: np.ndarray
    units: list[str]


def read_channel_coords(url: str) -> ChannelCoords:
    """Load a ``Channel,X,Y,Z`` table (local path or fsspec URL).

    Raises
    ------
    FormatError
        Naming the file and the row, when it is not such a table, or a row is
        not four numbers, or a channel repeats.
    """
    fs, path = url_to_fs(url)
    if fs.size(path) > MAX_BYTES:
        raise FormatError(url, f"is larger than {MAX_BYTES} bytes; a channel table is not")
    text = fs.cat_file(path).decode("utf-8", "replace")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or _header(",".join(rows[0])) != HEADER:
        raise FormatError(url, "does not start with the header Channel,X,Y,Z")
    body, units = rows[1:], []
    if body and body[0] and not _is_number(body[0][0]):
        units, body = [u.strip() for u in body[0][1:]], body[1:]
    values = np.empty((len(body), 4), dtype=np.float64)
    for k, row in enumerate(body):
        if len(row) != 4 or not all(_is_number(v) for v in row):
            raise FormatError(url, f"row {k + 2 + bool(units)} is not a channel and three numbers: {row!r}")
        values[k] = [float(v) for v in row]
    channels = values[:, 0].astype(np.int64)
    if (channels != values[:, 0]).any() or np.unique(channels).size != channels.size:
        raise FormatError(url, "channel numbers are not whole numbers listed once each")
    xyz = values[:, 1:]
    xyz[(xyz == 0).all(axis=1)] = np.nan
    return ChannelCoords(channels=channels, xyz=xyz, units=units)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@register
class ChannelCoordsFormat(Format):
    """Claims geometry tables so that scans report them as what they are: not data."""

    name = "channel-coords"
    description = "channel geometry table (CSV Channel,X,Y,Z): not data; listed apart by scans"
    extensions = (".csv",)
    tested_on = ("fibre/meta/brady_hs_DAS_DTS_coords.csv",)

    def detect(self, probe: Probe) -> bool:
        if probe.is_dir:
            return False
        first = probe.head.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
        return _header(first) == HEADER

    def scan(self, probe: Probe) -> list[RecordInfo]:
        table = read_channel_coords(probe.url)
        placed = int(np.isfinite(table.xyz).all(axis=1).sum())
        raise NotDataError(
            probe.url,
            f"is a channel geometry table (Channel,X,Y,Z: {table.channels.size} channels, {placed} placed), not data",
        )


__all__ = ["ChannelCoords", "ChannelCoordsFormat", "read_channel_coords"]
