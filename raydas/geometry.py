"""Channel geometry: where each channel of a fibre lies, as a table
channel -> X, Y, Z read from CSV.

The table is the one surveys deliver beside the recordings, e.g.::

    Channel,X,Y,Z
    number,UTM [m],UTM [m],UTM [m]
    30,327809.77,4407420.05,1225.920
    ...

* A header row naming the columns ``channel``, ``x``, ``y``, ``z`` (any case,
  any order; other columns are ignored).
* Optionally a units row, recognised by a first field that is not a number;
  its X, Y, Z cells are kept as the units (e.g. ``UTM [m]``).
* One row per channel: an integer channel number and three finite numbers.
  A row whose X, Y and Z are all exactly 0 means "no coordinate" (surveys mark
  channels off the surveyed cable so): it becomes NaN, never a point at the
  origin.

The table is not data (it has no samples): scanning it says so. A run takes it
with the ``geometry`` configuration key and attaches it to its records.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np

from .errors import FormatError
from .fsutil import url_to_fs

#: a geometry table larger than this is refused (a survey of a million channels is ~40 MB)
MAX_TABLE_BYTES = 256 * 1024 * 1024

COLUMNS = ("channel", "x", "y", "z")


@dataclass(frozen=True)
class ChannelGeometry:
    """Coordinates of the channels of one fibre.

    Attributes
    ----------
    source
        The table's URL.
    channels
        Channel numbers, int64, shape ``(n,)``, strictly increasing.
    xyz
        X, Y, Z of each channel, float64, shape ``(n, 3)``; NaN where the table
        says "no coordinate".
    units
        Units of X, Y and Z as the table states them (``""`` when it does not).
    """

    source: str
    channels: np.ndarray
    xyz: np.ndarray
    units: tuple[str, str, str] = ("", "", "")

    def at(self, channels) -> np.ndarray:
        """X, Y, Z of the given channel numbers, shape ``(len(channels), 3)``;
        NaN for channels the table does not hold or marks as unknown."""
        wanted = np.asarray(channels, dtype=np.int64).reshape(-1)
        out = np.full((wanted.size, 3), np.nan)
        where = np.searchsorted(self.channels, wanted)
        inside = where < self.channels.size
        found = inside.copy()
        found[inside] = self.channels[where[inside]] == wanted[inside]
        out[found] = self.xyz[where[found]]
        return out

    @property
    def n_known(self) -> int:
        """How many channels have coordinates."""
        return int(np.isfinite(self.xyz).all(axis=1).sum())


def looks_like_geometry(head: bytes) -> bool:
    """True when a file's first bytes start a channel -> X, Y, Z table (its
    header row names the columns channel, x, y and z)."""
    try:
        first = head[:4096].decode("utf-8-sig").splitlines()[0]
    except (UnicodeDecodeError, IndexError):
        return False
    names = {cell.strip().lower() for cell in first.split(",")}
    return set(COLUMNS) <= names


def read_geometry(url: str) -> ChannelGeometry:
    """Read a channel geometry table (CSV) from a local path or fsspec URL.

    Raises
    ------
    FormatError
        Naming the file, and the line where one is at fault: a missing column,
        a value that is not a number (or not finite), a channel number that is
        not an integer or appears twice, no rows, a table larger than
        :data:`MAX_TABLE_BYTES`.
    """
    fs, path = url_to_fs(url)
    try:
        size = fs.size(path)
    except FileNotFoundError:
        raise FormatError(url, "does not exist (the channel geometry table)") from None
    if size > MAX_TABLE_BYTES:
        raise FormatError(url, f"is {size} bytes: larger than a channel geometry table can be ({MAX_TABLE_BYTES})")
    raw = fs.cat_file(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = f"is not a text (CSV) channel geometry table ({exc.reason} at byte {exc.start})"
        raise FormatError(url, problem) from None
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    names = [cell.strip().lower() for cell in header or []]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        needed = ", ".join(COLUMNS)
        raise FormatError(url, f"line 1: a channel geometry table needs the columns {needed}; missing {missing}")
    index = [names.index(c) for c in COLUMNS]
    units = ("", "", "")
    channels: list[int] = []
    xyz: list[tuple[float, float, float]] = []
    for line_number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(index):
            raise FormatError(url, f"line {line_number}: {len(row)} fields, expected at least {max(index) + 1}")
        cells = [row[i].strip() for i in index]
        if line_number == 2 and not _is_number(cells[0]):
            units = (cells[1], cells[2], cells[3])
            continue
        channels.append(_channel(url, line_number, cells[0]))
        xyz.append(tuple(_finite(url, line_number, name, cell) for name, cell in zip(COLUMNS[1:], cells[1:])))
    if not channels:
        raise FormatError(url, "has no channel rows (a channel geometry table)")
    order = np.argsort(channels, kind="stable")
    sorted_channels = np.asarray(channels, dtype=np.int64)[order]
    repeated = sorted_channels[1:][np.diff(sorted_channels) == 0]
    if repeated.size:
        raise FormatError(url, f"channel {int(repeated[0])} appears more than once")
    coordinates = np.asarray(xyz, dtype=np.float64)[order]
    coordinates[(coordinates == 0).all(axis=1)] = np.nan  # 0, 0, 0: no coordinate
    return ChannelGeometry(url, sorted_channels, coordinates, units)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _channel(url: str, line: int, text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise FormatError(url, f"line {line}: channel {text!r} is not a number") from None
    if not math.isfinite(value) or value != int(value) or abs(value) > 2**53:
        raise FormatError(url, f"line {line}: channel {text!r} is not an integer")
    return int(value)


def _finite(url: str, line: int, name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FormatError(url, f"line {line}: {name.upper()} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise FormatError(url, f"line {line}: {name.upper()} {text!r} is not finite")
    return value
