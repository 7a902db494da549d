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
import functools
import math
import re
import struct
from dataclasses import dataclass

import numpy as np

from .. import plausible
from ..errors import FormatError, RaydasError
from ..fsutil import is_local, url_to_fs
from ..timeutil import NS_PER_S
from . import register
from .base import Format, Probe, RecordInfo, check_declared_size, quantity_of

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
    1: "IBM float32",
    2: "int32",
    3: "int16",
    5: "IEEE float32",
    6: "IEEE float64",
    7: "int24",
    8: "int8",
    9: "int64",
    10: "uint32",
    11: "uint16",
    12: "uint64",
    15: "uint24",
    16: "uint8",
}


def ibm_to_float32(words: np.ndarray) -> np.ndarray:
    """Convert IBM System/360 single-precision words (as uint32) to float32.

    value = (-1)**sign * 0.mantissa(24 bits) * 16**(exponent - 64). The 24-bit
    mantissa is exact in float32 and ``ldexp`` rounds once, so working in
    float32 gives the same numbers as float64 would, at a third of the memory.
    Values beyond float32's range become +-inf or 0.
    """
    words = np.asarray(words).astype(np.uint32, copy=False)
    mantissa = (words & 0x00FFFFFF).astype(np.float32)
    exponent = ((words >> 24) & 0x7F).astype(np.int32)
    exponent *= 4
    exponent -= 4 * 64 + 24
    out = np.ldexp(mantissa, exponent)
    np.negative(out, out=out, where=(words >> 31).astype(bool))
    return out


def float32_to_ibm(values: np.ndarray) -> np.ndarray:
    """Convert float32 values to IBM System/360 single-precision words (uint32),
    the inverse of :func:`ibm_to_float32`.

    The mantissa is truncated to the 24 bits left after hexadecimal
    normalisation, as segyio does (the words are bit for bit segyio's for every
    normal number and zero); subnormal numbers are converted exactly;
    infinities and NaN become the largest IBM number of their sign.
    """
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    sign = bits & np.uint32(0x80000000)
    biased = ((bits >> np.uint32(23)) & np.uint32(0xFF)).astype(np.int32)
    fraction = bits << np.uint32(9)  # the 23 fraction bits, at the top of the word
    fraction = np.where(biased > 0, (fraction >> np.uint32(1)) | np.uint32(0x80000000), fraction)  # implicit 1
    exponent = biased + 130  # base-2, bias 127 -> base-16, bias 64, once divided by 4 below
    fraction >>= ((-exponent) & 3).astype(np.uint32)
    exponent = (exponent + 3) >> 2
    for _ in range(6):  # subnormal inputs: shift until the first hexadecimal digit is not 0
        low = (fraction < np.uint32(0x10000000)) & (fraction != 0)
        exponent -= low
        fraction = np.where(low, fraction << np.uint32(4), fraction)
    words = (fraction >> np.uint32(8)) | (exponent.astype(np.uint32) << np.uint32(24)) | sign
    words = np.where((bits & np.uint32(0x7FFFFFFF)) == 0, np.uint32(0), words)  # +-0 as 0, as segyio writes it
    return np.where(biased == 0xFF, sign | np.uint32(0x7FFFFFFF), words)  # inf, NaN


#: numpy type codes of header fields -> :mod:`struct` codes (the same values, read without numpy's per-call cost)
_STRUCT_CODES = {
    "i1": "b",
    "u1": "B",
    "i2": "h",
    "u2": "H",
    "i4": "i",
    "u4": "I",
    "i8": "q",
    "u8": "Q",
    "f4": "f",
    "f8": "d",
}


def _field(buf: bytes, offset: int, fmt: str, endian: str) -> int | float:
    """One header field (``fmt`` a numpy type code, ``endian`` ``>`` or ``<``) as a Python number.

    Raises
    ------
    ValueError
        When ``buf`` ends before the field does.
    """
    try:
        return struct.unpack_from(endian + _STRUCT_CODES[fmt], buf, offset)[0]
    except struct.error as exc:
        raise ValueError(f"header field at byte {offset}: {exc}") from None


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


@dataclass(frozen=True)
class SegyLayout:
    """Where the samples are in one SEG-Y file: what a read needs, found once
    by the scan (:meth:`parse`) and carried in the record's ``attrs``
    (:meth:`to_attrs`, :meth:`from_record`) so that no read parses a header again.

    Attributes
    ----------
    endian
        Byte order of every field and sample: ``">"`` (big) or ``"<"`` (little).
    format_code
        SEG-Y data sample format code (1 IBM float, 5 IEEE float, 3 int16, ...).
    data_offset
        Byte offset of the first trace header.
    n_samples, n_traces
        Samples per trace and number of traces (one trace per channel).
    dt
        Sample interval in s.
    revision
        SEG-Y revision (0, 1 or 2).
    """

    endian: str
    format_code: int
    data_offset: int
    n_samples: int
    n_traces: int
    dt: float
    revision: int

    @property
    def bytes_per_sample(self) -> int:
        return SAMPLE_FORMATS[self.format_code][1]

    @property
    def sample_dtype(self) -> np.dtype:
        """How the raw samples are viewed: 3-byte formats as uint8 triplets."""
        base = SAMPLE_FORMATS[self.format_code][0]
        return np.dtype(self.endian + base) if base != "u1" else np.dtype("u1")

    @property
    def trace_bytes(self) -> int:
        return TRACE_HEADER + self.n_samples * self.bytes_per_sample

    def trace_offset(self, i: int) -> int:
        """Byte offset of trace ``i``'s header."""
        return self.data_offset + i * self.trace_bytes

    def to_attrs(self) -> dict:
        """What a record's ``attrs`` carry of the layout (small, picklable values)."""
        return {
            "byte_order": "big" if self.endian == ">" else "little",
            "format_code": self.format_code,
            "data_offset": self.data_offset,
            "revision": self.revision,
        }

    @classmethod
    def from_record(cls, record: RecordInfo) -> SegyLayout:
        """The layout a scan put in ``record.attrs`` (see :meth:`to_attrs`)."""
        a = record.attrs
        if not {"byte_order", "format_code", "data_offset", "revision"} <= a.keys():
            raise FormatError(record.path, "record carries no SEG-Y layout (scan the file again)")
        return cls(
            endian=">" if a["byte_order"] == "big" else "<",
            format_code=int(a["format_code"]),
            data_offset=int(a["data_offset"]),
            n_samples=record.n_samples,
            n_traces=record.n_channels,
            dt=record.dt,
            revision=int(a["revision"]),
        )

    @classmethod
    def parse(cls, probe: Probe) -> SegyLayout:
        """The layout of the probed file from its first bytes (textual and binary
        headers), its size, and its first trace header (read apart only when
        extended textual headers push it past the first bytes).

        Raises
        ------
        FormatError
            Naming the file, when the headers give no valid layout or the file is
            not a whole number of traces.
        """
        url, head, size = probe.url, probe.head, probe.size
        need = TEXT_HEADER + BINARY_HEADER
        if len(head) < need:
            raise FormatError(url, f"too short for SEG-Y ({len(head)} bytes; headers need {need})")
        binary = head[TEXT_HEADER:need]
        endian = _guess_endian(binary)
        if endian is None:
            raise FormatError(url, "binary header has no valid SEG-Y sample format code")
        format_code = _field(binary, 24, "i2", endian)
        if format_code not in SAMPLE_FORMATS:
            raise FormatError(url, f"sample format code {format_code} is not supported")
        revision, data_offset = header_geometry(url, head, size, endian)
        if len(head) < data_offset + TRACE_HEADER:
            with probe.fs.open(probe.path, "rb") as fh:
                fh.seek(data_offset)
                th = fh.read(TRACE_HEADER)
        else:
            th = head[data_offset : data_offset + TRACE_HEADER]
        if len(th) < TRACE_HEADER:
            raise FormatError(url, f"no complete trace header after the {need}-byte file headers")
        n_samples = _field(binary, 20, "u2", endian)
        if revision >= 2 and _field(binary, 68, "i4", endian) > 0:  # rev 2: the 32-bit count overrides
            n_samples = _field(binary, 68, "i4", endian)
        if n_samples == 0:
            n_samples = _field(th, 114, "u2", endian)
        if n_samples <= 0:
            raise FormatError(url, "samples per trace is 0 in the binary header and in the first trace header")
        interval_us = float(_field(binary, 16, "u2", endian))
        extended_us = _field(binary, 72, "f8", endian) if revision >= 2 else 0.0
        if math.isfinite(extended_us) and extended_us > 0:  # rev 2: the IEEE double overrides
            interval_us = extended_us
        if interval_us == 0:
            interval_us = float(_field(th, 116, "u2", endian))
        if not interval_us > 0:
            raise FormatError(url, "sample interval is 0 in the binary header and in the first trace header")
        trace_bytes = TRACE_HEADER + int(n_samples) * SAMPLE_FORMATS[format_code][1]
        payload = size - data_offset
        if payload <= 0:
            raise FormatError(url, f"holds no traces: {size} bytes, headers end at byte {data_offset}")
        what = f"the binary header (traces of {n_samples} samples of {FORMAT_NAMES[format_code]})"
        check_declared_size(url, what, trace_bytes, payload)  # one trace, at least
        n_traces, leftover = divmod(payload, trace_bytes)
        if leftover:
            raise FormatError(
                url,
                f"truncated or not fixed-length: {payload} bytes after the headers are not a whole number of "
                f"{trace_bytes}-byte traces ({n_samples} samples of {FORMAT_NAMES[format_code]}); "
                f"{n_traces} complete traces and {leftover} bytes left over",
            )
        try:
            dt = plausible.sample_interval(interval_us * 1e-6, "sample interval in the binary header")
        except ValueError as exc:
            raise FormatError(url, str(exc)) from None
        return cls(endian, int(format_code), int(data_offset), int(n_samples), int(n_traces), dt, revision)

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


def text_header_text(raw: bytes) -> str:
    """The 3200-byte textual header as text (EBCDIC or ASCII, whichever it is)."""
    if raw[:1] == b"\xc3" or raw.count(b"\x40") > raw.count(b" "):  # EBCDIC 'C' / spaces
        return raw.decode("cp500", "replace")
    return raw.decode("ascii", "replace")


def header_geometry(url: str, head: bytes, size: int, endian: str) -> tuple[int, int]:
    """The SEG-Y revision and the byte offset of the first trace header, from the
    binary header: extended textual headers and the rev-2 first-trace offset count."""
    binary = head[TEXT_HEADER : TEXT_HEADER + BINARY_HEADER]
    revision = binary[300]  # file byte 3501: major revision (one byte in either byte order)
    if revision == 0 and endian == "<" and binary[301] in (1, 2):
        revision = binary[301]  # written as a little-endian int16 (segyio does this)
    n_ext = _field(binary, 304, "i2", endian)  # file bytes 3505-3506
    data_offset = TEXT_HEADER + BINARY_HEADER
    if n_ext > 0:
        data_offset += TEXT_HEADER * n_ext
    elif n_ext == -1:  # variable count: stanzas until ((SEG: EndText))
        data_offset = _find_end_text(url, head, size)
    if revision >= 2:
        first_trace = _field(binary, 320, "u8", endian)  # file bytes 3521-3528
        if first_trace > 0:
            data_offset = int(first_trace)
    return int(revision), int(data_offset)


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


def _trace_headers(fs, path: str, layout: SegyLayout, local: bool, head: bytes = b"") -> np.ndarray:
    """All trace headers as a (n_traces, 240) uint8 array; taken from ``head`` (the
    file's first bytes, already read) when every trace lies inside it (a small file)."""
    end = layout.data_offset + layout.n_traces * layout.trace_bytes
    if end <= len(head):
        traces = np.frombuffer(head, dtype=np.uint8, count=end - layout.data_offset, offset=layout.data_offset)
        return np.array(traces.reshape(layout.n_traces, layout.trace_bytes)[:, :TRACE_HEADER])
    if local:
        mm = np.memmap(
            path, dtype=np.uint8, mode="r", offset=layout.data_offset, shape=(layout.n_traces, layout.trace_bytes)
        )
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


def _start_time(th: bytes, endian: str) -> tuple[int, bool]:
    """First-sample time (ns, UTC) from a trace header: year, day of year, hour,
    minute, second (bytes 157-166) plus the delay recording time (ms, bytes 109-110),
    and True when the header holds no date (a year of 0: the time then counts from
    1970-01-01, assumed).

    Raises
    ------
    ValueError
        When a field is outside its range (a year of 32767 is not 1970).
    """
    year, day, hour, minute, second = (_field(th, o, "i2", endian) for o in (156, 158, 160, 162, 164))
    delay_ms = _field(th, 108, "i2", endian)
    assumed = False
    if year <= 0:
        base, assumed = 0, True
    else:
        if year < 100:
            year += 2000 if year < 50 else 1900
        plausible.year(year, "trace header year")
        for value, (low, high), what in (
            (day, (0, 366), "day of year"),
            (hour, (0, 23), "hour"),
            (minute, (0, 59), "minute"),
            (second, (0, 60), "second"),
        ):
            plausible.in_range(value, low, high, f"trace header {what}")
        stamp = _dt.datetime(year, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(
            days=max(day, 1) - 1, hours=hour, minutes=minute, seconds=second
        )
        base = int(stamp.timestamp()) * NS_PER_S
    return base + int(delay_ms) * 1_000_000, assumed


_UNIT_RE = re.compile(r"UNITS?\s*[:=]\s*([^\s,;]+)", re.IGNORECASE)


@functools.lru_cache(maxsize=64)
def _header_units(text_header: bytes) -> str:
    """The units a textual header names (``UNITS: ...``), ``""`` when none; remembered,
    since the files of one archive often share their textual header."""
    unit = _UNIT_RE.search(text_header_text(text_header))
    return unit.group(1) if unit else ""


@register
class SegyFormat(Format):
    name = "segy"
    description = "SEG-Y rev 0/1/2, one trace per channel (IBM/IEEE float, integers, either byte order)"
    extensions = (".sgy", ".segy")
    quantities = ("strain_rate", "strain", "velocity")
    versions = ("0", "1", "2")
    tested_on = ("real/segy/small_channel_patch.sgy", "real/segy/f3.sgy", "real/segy/Format5msb.sgy")

    def write(self, chunk, url: str, sample_format: int = 5, **options) -> list[str]:
        """Write a Chunk as SEG-Y rev 2.0, big-endian, IEEE (``sample_format`` 5)
        or IBM (1) floats; see :func:`write_segy`."""
        return write_segy(chunk, url, sample_format)

    suffixes = (".sgy", ".segy")

    def signature(self, head: bytes) -> bool:
        """The textual header's first card image, ``C 1`` or ``C01``, in ASCII or EBCDIC."""
        return head[:3] in (b"C 1", b"C01", b"\xc3\x40\xf1", b"\xc3\xf0\xf1")

    def detect(self, probe: Probe) -> bool:
        if probe.is_dir or probe.size < TEXT_HEADER + BINARY_HEADER + TRACE_HEADER or probe.is_hdf5:
            return False
        binary = probe.head[TEXT_HEADER : TEXT_HEADER + BINARY_HEADER]
        endian = _guess_endian(binary)
        if endian is None:
            return False
        text = probe.head[:TEXT_HEADER]
        looks_textual = (
            text[:1] in (b"C", b"\xc3")
            or sum(32 <= c < 127 for c in text) > 0.9 * TEXT_HEADER
            or (text.count(b"\x40") > TEXT_HEADER // 4)
        )
        return bool(looks_textual)

    def scan(self, probe: Probe) -> list[RecordInfo]:
        layout = SegyLayout.parse(probe)
        headers = _trace_headers(probe.fs, probe.path, layout, is_local(probe.fs), probe.head)
        positions, source = _positions(headers, layout.endian)
        trace_counts = _header_column(headers, 114, "u2", layout.endian)
        units = _header_units(probe.head[:TEXT_HEADER])
        attrs = {
            "sample_format": FORMAT_NAMES[layout.format_code],
            "position_source": source,
            **layout.to_attrs(),
        }
        try:
            start_ns, no_date = _start_time(headers[0].tobytes(), layout.endian)
        except ValueError as exc:
            raise FormatError(probe.url, f"first trace header: {exc}") from None
        disagree = np.unique(trace_counts[trace_counts != layout.n_samples])
        if disagree.size:
            attrs["trace_header_sample_counts"] = [int(v) for v in disagree[:5]]
        assumed = ["start_time"] * no_date + ["positions"] * (source == "channel index")
        return [
            RecordInfo(
                path=probe.url,
                format=self.name,
                n_channels=layout.n_traces,
                n_samples=layout.n_samples,
                dt=layout.dt,
                start_ns=start_ns,
                positions=positions,
                units=units,
                quantity=quantity_of(units or None),
                attrs=attrs,
                assumed=tuple(assumed),
            )
        ]

    def read_samples(self, record: RecordInfo, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
        """The window, from the layout the scan put in ``record.attrs``: a
        memory map of the file when local (one pass: gather the traces, swap
        bytes, convert), one byte range per trace on other file systems."""
        layout = SegyLayout.from_record(record)
        fs, path = url_to_fs(record.path)
        traces = range(layout.n_traces)[channels]
        bps = layout.bytes_per_sample
        n = stop - start
        if n <= 0 or len(traces) == 0:
            return np.zeros((len(traces), max(n, 0)), dtype=np.float32)
        if is_local(fs):
            mapped = np.asarray(
                np.memmap(
                    path,
                    dtype=np.uint8,
                    mode="r",
                    offset=layout.data_offset,
                    shape=(layout.n_traces, layout.trace_bytes),
                )
            )
            block = mapped[
                traces.start : traces.stop : traces.step, TRACE_HEADER + start * bps : TRACE_HEADER + stop * bps
            ]
            if bps != 3:  # one pass over the mapped bytes: gather the traces, swap bytes, convert
                return layout.decode(block.view(layout.sample_dtype))
            raw_bytes = np.ascontiguousarray(block)
        else:
            starts = [layout.trace_offset(i) + TRACE_HEADER + start * bps for i in traces]
            blocks = fs.cat_ranges([path] * len(starts), starts, [s + n * bps for s in starts])
            raw_bytes = np.frombuffer(b"".join(blocks), dtype=np.uint8).reshape(len(traces), n * bps)
        if bps == 3:
            return layout.decode(raw_bytes)
        raw = raw_bytes.view(layout.sample_dtype).reshape(len(traces), n)
        return layout.decode(raw)


# --- writing ---------------------------------------------------------------------
#: the delay recording time (trace bytes 109-110) carries the milliseconds of the start time
_MAX_UINT16 = 65535


def text_header(lines: list[str]) -> bytes:
    """A 3200-byte EBCDIC textual header: 40 card images ``C 1 ...`` of 80 characters."""
    cards = []
    for i in range(40):
        body = lines[i] if i < len(lines) else ""
        card = f"C{i + 1:2d} {body}"[:80].ljust(80)
        cards.append(card)
    cards[39] = "C40 END TEXTUAL HEADER".ljust(80)
    return "".join(cards).encode("cp500")


#: sample format codes the writer writes: IBM float and IEEE float32
WRITE_FORMATS = (1, 5)


def file_headers(n_traces: int, n_samples: int, dt: float, lines: list[str], sample_format: int = 5) -> bytes:
    """Textual + binary header (3600 bytes, big-endian, SEG-Y rev 2.0) for
    samples of ``sample_format`` (5 IEEE float32, 1 IBM float).

    The sample interval is written in whole microseconds (bytes 3217-3218) and,
    exactly, as the rev-2 IEEE double (bytes 3273-3280); a sample count above
    65535 goes in the rev-2 32-bit field (bytes 3269-3272) with 0 in the 16-bit one.
    """
    import struct

    binary = bytearray(BINARY_HEADER)
    interval_us = dt * 1e6
    struct.pack_into(">H", binary, 16, int(round(interval_us)) if interval_us < _MAX_UINT16 + 0.5 else 0)
    struct.pack_into(">H", binary, 20, n_samples if n_samples <= _MAX_UINT16 else 0)
    struct.pack_into(">h", binary, 24, sample_format)
    struct.pack_into(">h", binary, 28, 1)  # one trace per ensemble
    struct.pack_into(">h", binary, 54, 1)  # measurement system: metres
    struct.pack_into(">i", binary, 68, n_samples)
    struct.pack_into(">d", binary, 72, interval_us)
    struct.pack_into(">I", binary, 96, 0x01020304)  # byte-order word
    binary[300], binary[301] = 2, 0  # revision 2.0
    struct.pack_into(">h", binary, 302, 1)  # fixed-length traces
    struct.pack_into(">h", binary, 304, 0)  # no extended textual headers
    struct.pack_into(">Q", binary, 312, n_traces)
    struct.pack_into(">Q", binary, 320, TEXT_HEADER + BINARY_HEADER)
    return text_header(lines) + bytes(binary)


def trace_headers(n_samples: int, dt: float, start_ns: int, positions: np.ndarray) -> np.ndarray:
    """Trace headers as a ``(n_traces, 240)`` uint8 array (big-endian fields).

    Start time in bytes 157-166 (year, day of year, hour, minute, second, UTC,
    time basis code 4 in bytes 167-168) plus its milliseconds as the delay
    recording time (bytes 109-110); position along the fibre (m) as the
    receiver-group elevation in mm (bytes 41-44, scalar -1000 in bytes 69-70).
    """
    positions = np.asarray(positions, dtype=np.float64).reshape(-1)
    n = positions.shape[0]
    stamp = np.datetime64(int(start_ns), "ns").astype("datetime64[ms]").item()
    year_start = type(stamp)(stamp.year, 1, 1)
    fields = {  # name: (0-based byte offset, big-endian type)
        "seq_line": (0, ">i4"),
        "seq_file": (4, ">i4"),
        "field_record": (8, ">i4"),
        "trace_in_record": (12, ">i4"),
        "elevation": (40, ">i4"),
        "elev_scalar": (68, ">i2"),
        "coord_scalar": (70, ">i2"),
        "delay_ms": (108, ">i2"),
        "n_samples": (114, ">u2"),
        "interval_us": (116, ">u2"),
        "year": (156, ">i2"),
        "day": (158, ">i2"),
        "hour": (160, ">i2"),
        "minute": (162, ">i2"),
        "second": (164, ">i2"),
        "time_basis": (166, ">i2"),
    }
    layout = np.dtype(
        {
            "names": list(fields),
            "formats": [f for _, f in fields.values()],
            "offsets": [o for o, _ in fields.values()],
            "itemsize": TRACE_HEADER,
        }
    )
    columns = np.zeros(n, dtype=layout)
    index = np.arange(1, n + 1)
    columns["seq_line"] = index
    columns["seq_file"] = index
    columns["field_record"] = 1
    columns["trace_in_record"] = index
    columns["elevation"] = np.round(positions * 1000.0).astype(np.int64)
    columns["elev_scalar"] = -1000
    columns["coord_scalar"] = 1
    columns["delay_ms"] = stamp.microsecond // 1000
    columns["n_samples"] = n_samples if n_samples <= _MAX_UINT16 else 0
    interval_us = dt * 1e6
    columns["interval_us"] = int(round(interval_us)) if interval_us < _MAX_UINT16 + 0.5 else 0
    columns["year"] = stamp.year
    columns["day"] = (stamp - year_start).days + 1
    columns["hour"], columns["minute"], columns["second"] = stamp.hour, stamp.minute, stamp.second
    columns["time_basis"] = 4  # UTC
    return columns.view(np.uint8).reshape(n, TRACE_HEADER)


def _describe(chunk, sample_format: int) -> list[str]:
    from ..timeutil import to_iso

    return [
        f"raydas: DAS record, one trace per channel, {FORMAT_NAMES[sample_format]}",
        f"START {to_iso(chunk.data_start_ns)} (UTC; trace headers hold it to the millisecond)",
        f"SAMPLE INTERVAL {chunk.dt:.9g} S   SAMPLES {chunk.data.shape[1]}   CHANNELS {chunk.data.shape[0]}",
        "POSITION ALONG FIBRE: RECEIVER GROUP ELEVATION IN MM (SCALAR -1000)",
        f"UNITS: {chunk.units or 'unknown'}",
        f"GAUGE LENGTH {chunk.gauge_length:g} M",
        f"SOURCE {chunk.source}"[:76],
    ]


def write_segy(chunk, url: str, sample_format: int = 5) -> list[str]:
    """Write a Chunk (all of ``chunk.data``, halo included) as SEG-Y rev 2.0,
    big-endian, one trace per channel: start time (UTC, to the millisecond)
    and position along the fibre (mm) in the trace headers, units in the
    textual header.

    Parameters
    ----------
    chunk
        The samples ``(channel, time)`` and their coordinates.
    url
        Where to write (any fsspec URL); written atomically.
    sample_format
        5: IEEE float32 (exact); 1: IBM float (what older seismic software reads;
        the 24-bit mantissa loses up to 3 bits, truncated as segyio does).

    Returns
    -------
    list of str
        ``[url]``.
    """
    from ..fsutil import write_bytes_atomic

    if sample_format not in WRITE_FORMATS:
        raise RaydasError(f"SEG-Y writer: sample_format {sample_format!r}; it writes 5 (IEEE float32) or 1 (IBM float)")
    data = np.asarray(chunk.data, dtype=np.float32)
    n_traces, n_samples = data.shape
    body = np.empty((n_traces, TRACE_HEADER + 4 * n_samples), dtype=np.uint8)
    body[:, :TRACE_HEADER] = trace_headers(n_samples, chunk.dt, chunk.data_start_ns, chunk.positions)
    for i in range(0, n_traces, _TRACES_PER_BLOCK):  # a block at a time: the temporaries stay small
        block = data[i : i + _TRACES_PER_BLOCK]
        words = float32_to_ibm(block) if sample_format == 1 else block.view(np.uint32)
        body[i : i + len(block), TRACE_HEADER:] = words.astype(">u4").view(np.uint8).reshape(len(block), -1)
    header = file_headers(n_traces, n_samples, chunk.dt, _describe(chunk, sample_format), sample_format)
    write_bytes_atomic(url, [header, memoryview(body.reshape(-1))])
    return [url]


#: traces encoded at once by :func:`write_segy`
_TRACES_PER_BLOCK = 64
