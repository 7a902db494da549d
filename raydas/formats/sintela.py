"""Sintela ONYX recorder protobuf streams (``.pb``).

A file is a sequence of envelopes: ``b"PBUF"`` + a 4-byte packet tag + uint32
little-endian payload length + a protobuf message. The first envelope is
``META`` (recording metadata: recorder name, identification strings); the
others are time-series packets (``TS05``; ``RF01`` has the same layout).

Time-series packet fields, by protobuf field number (decoded here with a
small wire-format reader; no generated code):

* 1 header
    * 1 common header: 1 time (1 seconds, 2 nanoseconds, UTC), 2 number of
      channels, 3 sample rate (Hz, float), 4 channel spacing (m, float),
      5 gauge length (m, float), 6 start channel, 10 has dropped samples,
      11 time-series data type (code)
    * 2 sample count (index of the packet's first sample in the stream),
      3 samples in this packet, 4 channel step
* 3 samples: packed float32, time-major (``samples x channels``)
* 4 raw frames (bytes): not supported (its layout is not published)

Layout facts cross-checked on the real sample: 185 packets of 8 samples x
200 channels, sample counts contiguous, packet times 8/500 s apart.
Band and FFT packets are refused with a "not supported" error.
"""

from __future__ import annotations

import struct

import numpy as np

from .. import plausible
from ..errors import FormatError
from ..fsutil import url_to_fs
from ..timeutil import NS_PER_S
from . import register
from .base import Format, Probe, RecordInfo, check_declared_size, checked, quantity_of

MAGIC = b"PBUF"
ENVELOPE = 12  # magic, tag, uint32 LE length
TIMESERIES_TAGS = ("TS05", "RF01")
#: time-series data type code -> unit (Sintela's published enum as reported by DASCore's reader)
DATA_TYPE_UNITS = {0: "rad", 1: "rad", 2: "rad", 3: "rad/s", 4: "microstrain", 5: "microstrain/s"}
#: how much of a packet to read to decode its header (the header comes first and is ~90 bytes)
HEADER_BYTES = 512


# --- protobuf wire format -------------------------------------------------------
def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("varint runs past the end of the message")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def protobuf_fields(buf: bytes, stop_after: int | None = None) -> dict[int, list]:
    """Decode one protobuf message into ``{field number: [values]}``.

    Varints come back as ints, 32/64-bit fields and length-delimited fields as
    bytes (decode them further with :func:`protobuf_fields`, ``np.frombuffer``
    or ``.decode()`` as the schema says). ``stop_after`` stops after that field
    number has been read (to decode a header without reading the payload).
    """
    fields: dict[int, list] = {}
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise ValueError(f"field {number} needs {length} bytes, {len(buf) - pos} left")
            value, pos = buf[pos : pos + length], pos + length
        else:
            raise ValueError(f"unsupported wire type {wire} (field {number})")
        fields.setdefault(number, []).append(value)
        if number == stop_after:
            break
    return fields


def _one(fields: dict, number: int, default=None):
    return fields.get(number, [default])[0]


def _f32(raw: bytes | None) -> float:
    return struct.unpack("<f", raw)[0] if raw else float("nan")


# --- envelopes ---------------------------------------------------------------------
def _envelopes(url: str, fh, size: int):
    """Yield ``(tag, payload offset, payload length)`` for every envelope."""
    pos = 0
    while pos < size:
        fh.seek(pos)
        head = fh.read(ENVELOPE)
        if len(head) < ENVELOPE:
            raise FormatError(url, f"truncated: {len(head)}-byte envelope header at byte {pos}")
        if head[:4] != MAGIC:
            raise FormatError(url, f"no {MAGIC!r} envelope at byte {pos} (found {head[:4]!r})")
        tag = head[4:8].rstrip(b"\x00").decode("ascii", "replace")
        length = struct.unpack("<I", head[8:12])[0]
        if pos + ENVELOPE + length > size:
            raise FormatError(
                url, f"truncated: {tag} packet at byte {pos} needs {length} bytes, {size - pos - ENVELOPE} left"
            )
        yield tag, pos + ENVELOPE, length
        pos += ENVELOPE + length


def _packet_header(url: str, payload_head: bytes) -> dict:
    try:
        header = protobuf_fields(_one(protobuf_fields(payload_head, stop_after=1), 1, b""))
        common = protobuf_fields(_one(header, 1, b""))
        stamp = protobuf_fields(_one(common, 1, b""))
    except ValueError as exc:
        raise FormatError(url, f"has an undecodable time-series packet header ({exc})") from exc
    return {
        "time_ns": _one(stamp, 1, 0) * NS_PER_S + _one(stamp, 2, 0),
        "n_channels": _one(common, 2, 0),
        "rate": _f32(_one(common, 3)),
        "spacing": _f32(_one(common, 4)),
        "gauge": _f32(_one(common, 5)),
        "start_channel": _one(common, 6, 0),
        "dropped": _one(common, 10, 0),
        "data_type": _one(common, 11, 0),
        "sample_count": _one(header, 2, 0),
        "n_samples": _one(header, 3, 0),
        "channel_step": _one(header, 4, 1) or 1,
    }


def _meta_attrs(payload: bytes) -> dict:
    try:
        meta = protobuf_fields(payload)
        ident = protobuf_fields(_one(meta, 3, b""))
    except ValueError:
        return {}
    text = lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else ""  # noqa: E731
    return {
        "recorder": text(_one(meta, 1)),
        "manufacturer": text(_one(ident, 1)),
        "system_type": text(_one(ident, 2)),
        "model": text(_one(ident, 3)),
    }


@register
class SintelaProtobufFormat(Format):
    name = "sintela-pb"
    description = "Sintela ONYX protobuf stream (PBUF envelopes: META + TS05 time-series packets)"
    extensions = (".pb",)
    quantities = ("strain_rate", "strain")
    versions = ("TS05",)
    tested_on = ("real/other/sintela_protobuf_1.pb",)

    suffixes = (".pb",)

    def signature(self, head: bytes) -> bool:
        return head[:4] == MAGIC

    def detect(self, probe: Probe) -> bool:
        return not probe.is_dir and probe.head[:4] == MAGIC and probe.head[4:8].isalnum()

    def scan(self, probe: Probe) -> list[RecordInfo]:
        attrs: dict = {}
        headers, offsets = [], []
        with probe.fs.open(probe.path, "rb") as fh:
            for tag, offset, length in list(_envelopes(probe.url, fh, probe.size)):
                fh.seek(offset)
                if tag == "META":
                    attrs.update(_meta_attrs(fh.read(length)))
                elif tag in TIMESERIES_TAGS:
                    header = _packet_header(probe.url, fh.read(min(length, HEADER_BYTES)))
                    declared = 4 * header["n_samples"] * header["n_channels"]  # float32 samples
                    check_declared_size(probe.url, f"the {tag} packet at byte {offset - ENVELOPE}", declared, length)
                    headers.append(header)
                    offsets.append((offset, length))
                else:
                    raise FormatError(
                        probe.url,
                        f"Sintela {tag!r} packets are not supported (only time series: {', '.join(TIMESERIES_TAGS)})",
                    )
        if not headers:
            raise FormatError(probe.url, "holds no Sintela time-series packet")
        first = headers[0]
        for name in ("n_channels", "rate", "spacing", "start_channel", "channel_step", "data_type"):
            values = {h[name] for h in headers}
            if len(values) != 1:
                raise FormatError(probe.url, f"packets disagree on {name} ({sorted(values)[:4]})")
        for prev, nxt in zip(headers, headers[1:]):
            if nxt["sample_count"] != prev["sample_count"] + prev["n_samples"]:
                raise FormatError(
                    probe.url,
                    f"samples missing between stream samples {prev['sample_count']} and {nxt['sample_count']}",
                )
        if any(h["dropped"] for h in headers):
            raise FormatError(probe.url, "the recorder flagged dropped samples in this stream")
        if not (first["rate"] > 0 and first["n_channels"] > 0):
            raise FormatError(
                probe.url, f"packet header has no usable sampling ({first['rate']} Hz, {first['n_channels']} channels)"
            )
        checked(probe.url, plausible.sample_rate, first["rate"], "Sintela packet sample rate")
        checked(probe.url, plausible.spacing, first["spacing"], "Sintela packet channel spacing")
        checked(probe.url, plausible.time_ns, first["time_ns"], "Sintela first packet time")
        step = first["spacing"] * first["channel_step"]
        positions = first["start_channel"] * first["spacing"] + step * np.arange(first["n_channels"])
        attrs.update(
            packets=[[o, n, h["n_samples"]] for (o, n), h in zip(offsets, headers)],
            data_type=first["data_type"],
            first_sample_count=first["sample_count"],
        )
        return [
            RecordInfo(
                path=probe.url,
                format=self.name,
                n_channels=first["n_channels"],
                n_samples=sum(h["n_samples"] for h in headers),
                dt=1.0 / first["rate"],
                start_ns=first["time_ns"],
                positions=positions,
                units=DATA_TYPE_UNITS.get(first["data_type"], ""),
                quantity=quantity_of(DATA_TYPE_UNITS.get(first["data_type"])),
                gauge_length=first["gauge"],
                attrs=attrs,
            )
        ]

    def read_samples(self, record: RecordInfo, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
        n_ch = record.n_channels
        out = np.empty((len(range(n_ch)[channels]), max(stop - start, 0)), dtype=np.float32)
        fs, path = url_to_fs(record.path)
        first = 0
        with fs.open(path, "rb") as fh:
            for offset, length, n in record.attrs["packets"]:
                lo, hi = max(start, first), min(stop, first + n)
                if hi > lo:
                    fh.seek(offset)
                    block = self._samples(record.path, fh.read(length), n, n_ch)
                    out[:, lo - start : hi - start] = block[lo - first : hi - first, channels].T
                first += n
                if first >= stop:
                    break
        return out

    @staticmethod
    def _samples(url: str, payload: bytes, n_samples: int, n_channels: int) -> np.ndarray:
        try:
            fields = protobuf_fields(payload)
        except ValueError as exc:
            raise FormatError(url, f"has an undecodable time-series packet ({exc})") from exc
        if 3 not in fields:
            what = "raw frames (field 4), whose layout is not published" if 4 in fields else "no samples"
            raise FormatError(url, f"time-series packet holds {what}: not supported")
        samples = np.frombuffer(b"".join(fields[3]), dtype="<f4")
        if samples.size != n_samples * n_channels:
            raise FormatError(url, f"packet holds {samples.size} samples, header says {n_samples} x {n_channels}")
        return samples.reshape(n_samples, n_channels)
