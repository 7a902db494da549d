"""CSV tables of fibre measurements, in distpy's two layouts (read with pyarrow):

* **long** ("DAS/DTS table"): a header row, then one row per (time, depth):
  a time column (ISO 8601, e.g. ``2020-01-01 10:00:00``, or unix seconds),
  a depth column (m) and one or more value columns. Each value column becomes
  one record (its key is the column name).
* **wide** (DTS): a header row whose first cell labels the depth column and
  whose other cells are the times; then one row per depth. One record.

Columns are recognised by name, as distpy's ``time_label``/``depth_label``
name them: time ``time``/``date``/``datetime``/``timestamp``; depth
``depth``/``md``/``dept``/``distance``/``position`` (a ``_m`` suffix allowed).
Times without a UTC offset are taken as UTC. Missing (time, depth) cells are
NaN. The interval between samples is the median time spacing; records split
where the times are not evenly spaced. CSV cannot be read in part: a window
reads the whole file (these are small tables).
"""

from __future__ import annotations

import io
import re

import numpy as np

from ..errors import FormatError
from ..fsutil import url_to_fs
from ..timeutil import NS_PER_S, parse_iso, regular_runs
from . import register
from .base import Format, Probe, RecordInfo, quantity_of

TIME_NAMES = re.compile(r"^(time|date|datetime|timestamp|time_?utc)$", re.IGNORECASE)
DEPTH_NAMES = re.compile(r"^(depth|md|dept|distance|position|fibre_?position|fiber_?position)(_?m)?$", re.IGNORECASE)


def _is_time(text: str) -> bool:
    try:
        parse_iso(text)
        return len(text.strip()) >= 10
    except (ValueError, TypeError):
        return False


def _header(head: bytes) -> list[str] | None:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head[:-4].decode("utf-8", "replace") if head else ""
    lines = [line for line in text.splitlines()[:3]]
    if len(lines) < 2 or "," not in lines[0]:
        return None
    names = [c.strip().strip('"') for c in lines[0].split(",")]
    if len(lines[1].split(",")) != len(names):
        return None
    return names


def _layout(names: list[str]) -> str | None:
    if len(names) >= 2 and all(_is_time(n) for n in names[1:]):
        return "wide"
    has_time = any(TIME_NAMES.match(n) for n in names)
    has_depth = any(DEPTH_NAMES.match(n) for n in names)
    return "long" if has_time and has_depth and len(names) >= 3 else None


def _times_ns(column, url: str) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_timestamp(column.type):
        if column.type.tz is None:
            column = pc.assume_timezone(column, "UTC")
        return column.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64()).to_numpy()
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return np.round(column.to_numpy(zero_copy_only=False).astype(np.float64) * NS_PER_S).astype(np.int64)
    values = column.to_pylist()
    try:
        lookup = {v: parse_iso(v) for v in set(values)}
    except (ValueError, TypeError) as exc:
        raise FormatError(url, f"time column holds a value that is not an ISO 8601 time ({exc})") from exc
    return np.array([lookup[v] for v in values], dtype=np.int64)


def load_table(url: str) -> tuple[str, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Read a CSV table whole.

    Returns
    -------
    layout, times_ns, depths, values
        ``times_ns`` sorted (ns, UTC), ``depths`` sorted (m) and, per value
        column, a float32 ``(depth, time)`` array with NaN where the table has no cell.
    """
    import pyarrow.csv as pcsv

    fs, path = url_to_fs(url)
    payload = fs.cat_file(path)
    names = _header(payload[:4096])
    layout = _layout(names) if names else None
    if layout is None:
        raise FormatError(url, "is not a CSV table with time and depth columns (long) or a depth x time grid (wide)")
    try:
        options = pcsv.ConvertOptions(column_types={names[0]: "string"} if layout == "wide" else {})
        table = pcsv.read_csv(io.BytesIO(payload), convert_options=options)
    except Exception as exc:  # pyarrow.ArrowInvalid on ragged or mistyped rows
        raise FormatError(url, f"is not a well-formed CSV table ({type(exc).__name__}: {exc})") from exc
    if layout == "wide":
        times = np.array([parse_iso(n) for n in table.column_names[1:]], dtype=np.int64)
        depth = _numbers(table.column(0), url, table.column_names[0])
        grid = np.column_stack(
            [_numbers(table.column(i), url, table.column_names[i]) for i in range(1, table.num_columns)]
        )
        t_order, d_order = np.argsort(times, kind="stable"), np.argsort(depth, kind="stable")
        return layout, times[t_order], depth[d_order], {"": grid[d_order][:, t_order].astype(np.float32)}
    t_name = next(n for n in table.column_names if TIME_NAMES.match(n))
    d_name = next(n for n in table.column_names if DEPTH_NAMES.match(n))
    row_times = _times_ns(table.column(t_name), url)
    row_depths = _numbers(table.column(d_name), url, d_name)
    times, col = np.unique(row_times, return_inverse=True)
    depths, row = np.unique(row_depths, return_inverse=True)
    values = {}
    for name in table.column_names:
        if name in (t_name, d_name):
            continue
        grid = np.full((depths.size, times.size), np.nan, dtype=np.float32)
        grid[row, col] = _numbers(table.column(name), url, name)
        values[name] = grid
    if not values:
        raise FormatError(url, "CSV table has time and depth columns but no value column")
    return layout, times, depths, values


def _numbers(column, url: str, name: str) -> np.ndarray:
    import pyarrow as pa

    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_null(column.type)):
        try:
            column = column.cast(pa.float64())
        except Exception:
            raise FormatError(url, f"column {name!r} is not numeric ({column.type})") from None
    return column.to_numpy(zero_copy_only=False).astype(np.float64)


@register
class CsvTableFormat(Format):
    name = "csv"
    description = "CSV tables: long (time, depth, values...) or DTS-wide (depth rows x time columns)"
    extensions = (".csv",)
    quantities = ("temperature",)
    tested_on = ("written by the tests (pandas)",)

    suffixes = (".csv",)

    def detect(self, probe: Probe) -> bool:
        if probe.is_dir or probe.is_hdf5:
            return False
        names = _header(probe.head)
        return bool(names) and _layout(names) is not None

    def scan(self, probe: Probe) -> list[RecordInfo]:
        layout, times, depths, values = load_table(probe.url)
        try:
            dt, runs = regular_runs(times)
        except ValueError as exc:
            raise FormatError(probe.url, str(exc)) from exc
        return [
            RecordInfo(
                path=probe.url,
                format=self.name,
                n_channels=depths.size,
                n_samples=hi - lo,
                dt=dt,
                start_ns=int(times[lo]),
                positions=depths,
                key=name,
                stream=name,
                quantity=quantity_of(name),  # a value column named for what it holds ("temperature")
                attrs={"layout": layout, "first_column": int(lo)},
                assumed=("sample_rate",) if times.size < 2 else (),  # one time: 1 s between samples assumed
            )
            for name in values
            for lo, hi in runs
        ]

    def read_samples(self, record: RecordInfo, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
        _, _, _, values = load_table(record.path)
        first = record.attrs["first_column"]
        return np.ascontiguousarray(values[record.key][channels, first + start : first + stop])
