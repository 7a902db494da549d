"""SEG-Y (rev 0, 1, 2) as written by DAS interrogators: one trace per channel,
time along the trace.

Read from the format's rules rather than from one vendor's files:

* byte order from the rev-2 byte-order word when present, otherwise from which
  reading of the binary header gives a valid sample format;
* samples per trace from the binary header (it wins when trace headers
  disagree), then the rev-2 extended field, then the first trace header;
* the number of traces from the file size (headers often lie or say 0);
* IBM and IEEE floats, 1/2/3/4/8-byte integers, extended textual headers;
* start time from the first trace header (year, day of year, h, m, s) plus the
  delay recording time; channel positions from the receiver-group elevation
  (distpy's convention), the offset, or the channel index, whichever varies.

Samples are read only for the requested window (memory-mapped locally,
byte ranges on object stores).
"""

from __future__ import annotations

import datetime as _dt
import re

import numpy as np

from ..errors import FormatError
from ..fsutil import is_local, url_to_fs
from ..timeutil import NS_PER_S
from . import register
from .base import FormatReader, Probe, RecordInfo

TEXT_HEADER = 3200
BINARY_HEADER = 400
TRACE_HEADER = 240

#: sample format code -> (numpy dtype without byte order, bytes per sample)
SAMPLE_FORMATS = {
    1: ("u4", 4),  # IBM float, converted after reading
    2: ("i4", 4),
    3: ("i2", 2),
    5: ("f4", 4),
    6: ("f8", 8),
    7: ("u1", 3),  # 3-byte two's complement integer
    8: ("i1", 1),
    9: ("i8", 8),
    10: ("u4", 4),
    11: ("u2", 2),
    12: ("u8", 8),
    15: ("u1", 3),  # 3-byte unsigned integer
    16: ("u1", 1),
}
FORMAT_NAMES = {
    1: "IBM float32", 2: "int32", 3: "int16", 5: "IEEE float32", 6: "IEEE float64", 7: "int24",
    8: "int8", 9: "int64", 10: "uint32", 11: "uint16", 12: "uint64", 15: "uint24", 16: "uint8",
}


def ibm_to_float32(words: np.ndarray) -> np.ndarray:
    """Convert IBM System/360 single-precision words (as uint32) to float32."""
    words = words.astype(np.uint32, copy=False)
    sign = np.where(words >> 31, -1.0, 1.0)
    exponent = ((words >> 24) & 0x7F).astype(np.int32)
    mantissa = (words & 0x00FFFFFF).astype(np.float64)
    return (sign * np.ldexp(mantissa, 4 * (exponent - 64) - 24)).astype(np.float32)


def _field(buf: bytes, offset: int, fmt: str, endian: str) -> int | float:
    return np.frombuffer(buf, dtype=np.dtype(endian + fmt), count=1, offset=offset)[0].item()


def _guess_endian(binary: bytes) -> str | None:
    """'>' or '<' for the binary header, or None if neither reading is valid."""
    for endian in (">", "<"):
        if _field(binary, 96, "u4", endian) == 0x01020304:  # rev-2 byte-order word (file byte 3297)
            return endian
    for endian in (">", "<"):
        fmt = _field(binary, 24, "i2", endian)
        interval = _field(binary, 16, "u2", endian)
        if fmt in SAMPLE_FORMATS and interval > 0:
            return endian
    for endian in (">", "<"):
        if _field(binary, 24, "i2", endian) in SAMPLE_FORMATS:
            return endian
    return None


class SegyLayout:
    """Where everything is in one SEG-Y file, from its headers and size."""

    def __init__(self, url: str, head: bytes, size: int, first_trace_header: bytes | None = None):
        self.url = url
        if len(head) < TEXT_HEADER + BINARY_HEADER:
            raise FormatError(url, f"too short for SEG-Y ({len(head)} bytes; headers need 3600)")
        binary = head[TEXT_HEADER : TEXT_HEADER + BINARY_HEADER]
        endian = _guess_endian(binary)
        if endian is None:
            raise FormatError(url, "binary header has no valid SEG-Y sample format code")
        self.endian = endian
        self.format_code = _field(binary, 24, "i2", endian)
        if self.format_code not in SAMPLE_FORMATS:
            raise FormatError(url, f"sample format code {self.format_code} is not supported")
        revision = binary[300]  # file byte 3501: major revision
        n_ext = _field(binary, 304, "i2", endian)  # file bytes 3505-3506
        self.revision = revision
        self.data_offset = TEXT_HEADER + BINARY_HEADER
        if n_ext > 0:
            self.data_offset += TEXT_HEADER * n_ext
        elif n_ext == -1:  # variable count: stanzas until ((SEG: EndText))
            self.data_offset = _find_end_text(url, head, size)
        if revision >= 2:
            first_trace = _field(binary, 318, "u8", endian)  # file bytes 3519-3526
            if first_trace > 0:
                self.data_offset = int(first_trace)
        th = first_trace_header or b""
        n_samples = _field(binary, 20, "u2", endian)
        if n_samples == 0 and revision >= 2:
            n_samples = _field(binary, 68, "i4", endian)
        if n_samples == 0 and len(th) >= TRACE_HEADER:
            n_samples = _field(th, 114, "u2", endian)
        if n_samples <= 0:
            raise FormatError(url, "samples per trace is 0 in the binary header and in the first trace header")
        self.n_samples = int(n_samples)
        interval_us = float(_field(binary, 16, "u2", endian))
        if interval_us == 0 and revision >= 2:
            interval_us = float(_field(binary, 72, "f8", endian))
        if interval_us == 0 and len(th) >= TRACE_HEADER:
            interval_us = float(_field(th, 116, "u2", endian))
        if not interval_us > 0:
            raise FormatError(url, "sample interval is 0 in the binary header and in the first trace header")
        self.dt = interval_us * 1e-6
        base, self.bytes_per_sample = SAMPLE_FORMATS[self.format_code]
        self.sample_dtype = np.dtype(endian + base) if base != "u1" else np.dtype("u1")
        self.trace_bytes = TRACE_HEADER + self.n_samples * self.bytes_per_sample
        payload = size - self.data_offset
        if payload <= 0:
            raise FormatError(url, f"holds no traces: {size} bytes, headers end at byte {self.data_offset}")
        self.n_traces, leftover = divmod(payload, self.trace_bytes)
        if leftover:
            raise FormatError(
                url,
                f"truncated or not fixed-length: {payload} bytes after the headers are not a whole number of "
                f"{self.trace_bytes}-byte traces ({self.n_samples} samples of {FORMAT_NAMES[self.format_code]}); "
                f"{self.n_traces} complete traces and {leftover} bytes left over",
            )
        self.text_header = head[:TEXT_HEADER]

    def text(self) -> str:
        raw = self.text_header
        if raw[:1] == b"\xc3" or raw.count(b"\x40") > raw.count(b" "):  # EBCDIC 'C' / spaces
            return raw.decode("cp500", "replace")
        return raw.decode("ascii", "replace")

    def trace_offset(self, i: int) -> int:
        return self.data_offset + i * self.trace_bytes

    def decode(self, raw: np.ndarray) -> np.ndarray:
        """Turn raw samples (``sample_dtype``; for 3-byte formats, uint8 triplets on
        the last axis) into float32."""
        if self.format_code == 1:
            return ibm_to_float32(raw.astype(np.uint32))
        if self.bytes_per_sample == 3:
            b = raw.reshape(raw.shape[:-1] + (-1, 3)).astype(np.int32)
            if self.endian == ">":
                v = (b[..., 0] << 16) | (b[..., 1] << 8) | b[..., 2]
            else:
                v = (b[..., 2] << 16) | (b[..., 1] << 8) | b[..., 0]
            if self.format_code == 7:
                v = np.where(v >= 1 << 23, v - (1 << 24), v)
            return v.astype(np.float32)
        return raw.astype(np.float32)


def _find_end_text(url: str, head: bytes, size: int) -> int:
    offset = TEXT_HEADER + BINARY_HEADER
    fs, path = url_to_fs(url)
    with fs.open(path, "rb") as fh:
        while offset + TEXT_HEADER <= size:
            fh.seek(offset)
            block = fh.read(TEXT_HEADER)
            offset += TEXT_HEADER
            for enc in ("ascii", "cp500"):
                if "((SEG: EndText))" in block.decode(enc, "replace"):
                    return offset
    raise FormatError(url, "extended textual headers never end with ((SEG: EndText))")


def _trace_headers(fs, path: str, layout: SegyLayout, local: bool) -> np.ndarray:
    """All trace headers as a (n_traces, 240) uint8 array."""
    if local:
        mm = np.memmap(path, dtype=np.uint8, mode="r", offset=layout.data_offset,
                       shape=(layout.n_traces, layout.trace_bytes))
        return np.array(mm[:, :TRACE_HEADER])
    starts = [layout.trace_offset(i) for i in range(layout.n_traces)]
    blocks = fs.cat_ranges([path] * len(starts), starts, [s + TRACE_HEADER for s in starts])
    return np.frombuffer(b"".join(blocks), dtype=np.uint8).reshape(layout.n_traces, TRACE_HEADER)


def _header_column(headers: np.ndarray, offset: int, fmt: str, endian: str) -> np.ndarray:
    width = np.dtype(fmt).itemsize
    raw = np.ascontiguousarray(headers[:, offset : offset + width])
    return raw.view(np.dtype(endian + fmt)).reshape(-1).astype(np.float64)


def _scaled(values: np.ndarray, scalars: np.ndarray) -> np.ndarray:
    """Apply SEG-Y scalars: positive multiplies, negative divides, 0 means 1."""
    factor = np.where(scalars > 0, scalars, np.where(scalars < 0, -1.0 / np.where(scalars < 0, scalars, -1), 1.0))
    return values * factor


def _positions(headers: np.ndarray, endian: str) -> tuple[np.ndarray, str]:
    n = headers.shape[0]
    elevation = _scaled(_header_column(headers, 40, "i4", endian), _header_column(headers, 68, "i2", endian))
    if n > 1 and np.ptp(elevation) > 0:
        return elevation, "receiver group elevation"
    offset = _header_column(headers, 36, "i4", endian)
    if n > 1 and np.ptp(offset) > 0:
        return offset, "offset"
    return np.arange(n, dtype=np.float64), "channel index"


def _start_time(th: bytes, endian: str) -> int:
    year, day, hour, minute, second = (_field(th, o, "i2", endian) for o in (156, 158, 160, 162, 164))
    delay_ms = _field(th, 108, "i2", endian)
    if year <= 0:
        base = 0
    else:
        if year < 100:
            year += 2000 if year < 50 else 1900
        try:
            stamp = _dt.datetime(year, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(
                days=max(day, 1) - 1, hours=hour, minutes=minute, seconds=second
            )
        except (OverflowError, ValueError):
            stamp = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
        base = int(stamp.timestamp()) * NS_PER_S
    return base + int(delay_ms) * 1_000_000


_UNIT_RE = re.compile(r"UNITS?\s*[:=]\s*([^\s,;]+)", re.IGNORECASE)


@register
class SegyFormat(FormatReader):
    name = "segy"
    description = "SEG-Y rev 0/1/2, one trace per channel (IBM/IEEE float, integers, either byte order)"

    def detect(self, probe: Probe) -> bool:
        if probe.is_dir or probe.size < TEXT_HEADER + BINARY_HEADER + TRACE_HEADER or probe.is_hdf5:
            return False
        binary = probe.head[TEXT_HEADER : TEXT_HEADER + BINARY_HEADER]
        endian = _guess_endian(binary)
        if endian is None:
            return False
        text = probe.head[:TEXT_HEADER]
        looks_textual = text[:1] in (b"C", b"\xc3") or sum(32 <= c < 127 for c in text) > 0.9 * TEXT_HEADER or (
            text.count(b"\x40") > TEXT_HEADER // 4
        )
        return bool(looks_textual)

    def layout(self, probe: Probe) -> SegyLayout:
        need = TEXT_HEADER + BINARY_HEADER
        head = probe.head
        layout = SegyLayout(probe.url, head, probe.size)
        if len(head) < layout.data_offset + TRACE_HEADER:
            with probe.fs.open(probe.path, "rb") as fh:
                fh.seek(layout.data_offset)
                th = fh.read(TRACE_HEADER)
        else:
            th = head[layout.data_offset : layout.data_offset + TRACE_HEADER]
        if len(th) < TRACE_HEADER:
            raise FormatError(probe.url, f"no complete trace header after the {need}-byte file headers")
        return SegyLayout(probe.url, head, probe.size, th)

    def scan(self, probe: Probe) -> list[RecordInfo]:
        layout = self.layout(probe)
        local = is_local(probe.fs)
        headers = _trace_headers(probe.fs, probe.path, layout, local)
        positions, source = _positions(headers, layout.endian)
        trace_counts = _header_column(headers, 114, "u2", layout.endian)
        text = layout.text()
        unit = _UNIT_RE.search(text)
        attrs = {
            "sample_format": FORMAT_NAMES[layout.format_code],
            "byte_order": "big" if layout.endian == ">" else "little",
            "revision": layout.revision,
            "position_source": source,
            "data_offset": layout.data_offset,
        }
        disagree = np.unique(trace_counts[trace_counts != layout.n_samples])
        if disagree.size:
            attrs["trace_header_sample_counts"] = [int(v) for v in disagree[:5]]
        return [
            RecordInfo(
                path=probe.url,
                format=self.name,
                n_channels=layout.n_traces,
                n_samples=layout.n_samples,
                dt=layout.dt,
                start_ns=_start_time(headers[0].tobytes(), layout.endian),
                positions=positions,
                units=unit.group(1) if unit else "",
                attrs=attrs,
            )
        ]

    def read_samples(self, record: RecordInfo, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
        fs, path = url_to_fs(record.path)
        with Probe(record.path) as probe:
            layout = self.layout(probe)
        traces = range(layout.n_traces)[channels]
        bps = layout.bytes_per_sample
        n = stop - start
        if n <= 0 or len(traces) == 0:
            return np.zeros((len(traces), max(n, 0)), dtype=np.float32)
        if is_local(fs):
            mm = np.memmap(path, dtype=np.uint8, mode="r", offset=layout.data_offset,
                           shape=(layout.n_traces, layout.trace_bytes))
            block = mm[traces.start : traces.stop : traces.step,
                       TRACE_HEADER + start * bps : TRACE_HEADER + stop * bps]
            raw_bytes = np.ascontiguousarray(block)
        else:
            starts = [layout.trace_offset(i) + TRACE_HEADER + start * bps for i in traces]
            blocks = fs.cat_ranges([path] * len(starts), starts, [s + n * bps for s in starts])
            raw_bytes = np.frombuffer(b"".join(blocks), dtype=np.uint8).reshape(len(traces), n * bps)
        if bps == 3:
            return layout.decode(raw_bytes)
        raw = raw_bytes.view(layout.sample_dtype).reshape(len(traces), n)
        return layout.decode(raw)
