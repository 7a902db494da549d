"""Sentek Instruments DAS ``.das`` binary (DMS shot records): strain rate or
strain, all little-endian float32 with no magic number.

Layout (4-byte words):

* 6 header words: channel count ``n_ch``, sample count ``n_t``, sample
  interval (ns), strain-rate flag (1 strain rate, 0 strain), trigger position
  (sample), decimation factor;
* ``n_ch`` channel positions (m), not evenly spaced;
* ``n_t`` sample times (ms from an unstated origin), float32 so quantized
  (0.015625 ms at 1.7e5 ms);
* ``n_t x n_ch`` samples, time-major.

Detection is by content: both counts are whole numbers, the flag is 0 or 1,
and the file is exactly ``4 * (6 + n_ch + n_t + n_ch * n_t)`` bytes long.

Time: the sample interval is the header's (the stamps agree with it within
their float32 quantization, which is checked; where they do not, the record
keeps the stamps as :attr:`RecordInfo.times_ns`). The absolute start is not in
the file: it is read from the name's ``YYYYMMDDhhmmssfff`` stamp
(``DASDMSShot00_20230328155653619.das``), taken as UTC (``start_time`` is in
``assumed``); without one, the record starts at the first stamp after 1970-01-01.
The unit is not stored.
"""

from __future__ import annotations

import datetime as _dt
import re
import struct

import numpy as np

from ..errors import FormatError
from ..fsutil import url_to_fs
from . import register
from .base import Format, Probe, RecordInfo

HEADER_WORDS = 6
#: more channels or samples than this in a header is no Sentek file
MAX_COUNT = 2**31
_NAME_TIME = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})(?!\d)")


def _header(head: bytes) -> tuple[int, int, float, float, float, float] | None:
    if len(head) < 4 * HEADER_WORDS:
        return None
    n_ch, n_t, dt_ns, flag, trigger, decimation = struct.unpack_from("<6f", head)
    if not all(np.isfinite(v) for v in (n_ch, n_t, dt_ns, flag, trigger, decimation)):
        return None
    if not (1 <= n_ch < MAX_COUNT and 1 <= n_t < MAX_COUNT and n_ch == int(n_ch) and n_t == int(n_t)):
        return None
    if flag not in (0.0, 1.0) or not dt_ns > 0:
        return None
    return int(n_ch), int(n_t), dt_ns, flag, trigger, decimation


def _size(n_ch: int, n_t: int) -> int:
    return 4 * (HEADER_WORDS + n_ch + n_t + n_ch * n_t)


def _name_time(name: str) -> int | None:
    """The ``YYYYMMDDhhmmssfff`` time in a file name, ns (taken as UTC), or None."""
    match = _NAME_TIME.search(name)
    if not match:
        return None
    y, mo, d, h, mi, s, ms = (int(g) for g in match.groups())
    try:
        t = _dt.datetime(y, mo, d, h, mi, s, ms * 1000, tzinfo=_dt.UTC)
    except ValueError:
        return None
    return (t - _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)) // _dt.timedelta(microseconds=1) * 1000


def _read(url: str, offset: int, count: int) -> np.ndarray:
    fs, path = url_to_fs(url)
    with fs.open(path, "rb") as fh:
        fh.seek(offset)
        raw = fh.read(4 * count)
    if len(raw) != 4 * count:
        raise FormatError(url, f"ends before byte {offset + 4 * count} (Sentek data cut short)")
    return np.frombuffer(raw, dtype="<f4")


@register
class SentekFormat(Format):
    """Samples are read from the time-major float32 block, only the rows of the window."""

    name = "sentek-das"
    description = "Sentek Instruments DAS .das binary (float32 header, positions, stamps, time-major samples)"
    extensions = (".das",)
    quantities = ("strain_rate", "strain")
    tested_on = ("fibre/other/DASDMSShot00_20230328155653619.das",)

    def detect(self, probe: Probe) -> bool:
        if probe.is_dir:
            return False
        header = _header(probe.head)
        return header is not None and _size(header[0], header[1]) == probe.size

    def scan(self, probe: Probe) -> list[RecordInfo]:
        url = probe.url
        header = _header(probe.head)
        if header is None:
            raise FormatError(url, "has no Sentek header (6 float32 words: channels, samples, interval, flag, ...)")
        n_ch, n_t, dt_ns, flag, trigger, decimation = header
        if _size(n_ch, n_t) != probe.size:
            raise FormatError(
                url, f"declares {n_ch} channels x {n_t} samples ({_size(n_ch, n_t)} bytes) but holds {probe.size}"
            )
        positions = _read(url, 4 * HEADER_WORDS, n_ch).astype(np.float64)
        stamps_ms = _read(url, 4 * (HEADER_WORDS + n_ch), n_t).astype(np.float64)
        if not np.isfinite(positions).all() or (np.diff(positions) < 0).any():
            raise FormatError(url, "Sentek channel positions are not a non-decreasing list of numbers")
        if not np.isfinite(stamps_ms).all() or (np.diff(stamps_ms) < 0).any():
            raise FormatError(url, "Sentek sample times are not a non-decreasing list of numbers")
        dt = dt_ns / 1e9
        # float32 stamps are quantized: they agree with the header interval within two of their steps
        quantum = float(np.spacing(np.float32(np.abs(stamps_ms).max()))) if n_t else 0.0
        span_ms = stamps_ms[-1] - stamps_ms[0]
        regular = abs(span_ms - (n_t - 1) * dt * 1e3) <= 2 * quantum + 1e-6 * span_ms
        name_ns = _name_time(probe.name)
        origin = name_ns if name_ns is not None else int(round(stamps_ms[0] * 1e6))
        times = None
        if not regular:
            times = origin + np.round((stamps_ms - stamps_ms[0]) * 1e6).astype(np.int64)
            if (np.diff(times) <= 0).any():
                raise FormatError(url, "Sentek sample times repeat and disagree with the header interval")
        return [
            RecordInfo(
                path=url,
                format=self.name,
                n_channels=n_ch,
                n_samples=n_t,
                dt=dt,
                start_ns=origin,
                positions=positions,
                quantity="strain_rate" if flag == 1.0 else "strain",
                times_ns=times,
                assumed=("start_time", "units"),
                attrs={
                    "start_from": "file name (taken as UTC)" if name_ns is not None else "first stamp after 1970",
                    "stamp_first_ms": float(stamps_ms[0]),
                    "stamp_last_ms": float(stamps_ms[-1]),
                    "trigger_sample": float(trigger),
                    "decimation": float(decimation),
                    "data_offset": 4 * (HEADER_WORDS + n_ch + n_t),
                },
            )
        ]

    def read_samples(self, record: RecordInfo, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
        n_ch = record.n_channels
        stop = min(stop, record.n_samples)
        if stop <= start:
            return np.zeros((len(range(n_ch)[channels]), 0), dtype=np.float32)
        block = _read(record.path, record.attrs["data_offset"] + 4 * start * n_ch, (stop - start) * n_ch)
        return np.ascontiguousarray(block.reshape(stop - start, n_ch)[:, channels].T, dtype=np.float32)

    def stamps_ms(self, record: RecordInfo) -> np.ndarray:
        """The file's own sample times (ms from its unstated origin), as stored (float32)."""
        return _read(record.path, 4 * (HEADER_WORDS + record.n_channels), record.n_samples).copy()


__all__ = ["SentekFormat"]
