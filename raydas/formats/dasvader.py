"""DASVader.jl JLD2 files: a Julia ``dDAS`` struct saved with JLD2 (an HDF5
file behind a 512-byte user block that starts ``HDF5-based Julia Data Format``).

Layout (every address relative to the HDF5 superblock at byte 512):

* root data set ``dDAS``: one value of a compound type (a committed Julia
  type) with the fields

  * ``data`` (or ``strainrate``): a reference to the samples, a 2-D float
    data set stored ``(channel, time)`` (Julia's column-major ``time x channel``
    matrix), usually one deflate chunk;
  * ``time``: a Julia ``StepRangeLen`` of seconds relative to the start:
    ``ref`` and ``step`` (each ``hi + lo``, a double-double), ``len``,
    ``offset``; value ``k`` (``k = 1 .. len``) is ``ref + (k - offset) * step``;
  * ``htime``: a reference to the absolute time of every sample, Julia
    ``DateTime`` values (int64 ms since 0000-12-31, the Rata Die epoch; 1970 is
    62135683200000), rounded to 1 ms;
  * ``offset``: a ``StepRangeLen`` of the channel positions (m);
  * ``atrib``: a reference to the interrogator's metadata (Febus A1 keys:
    ``GaugeLength`` a reference to one float, ``Spacing``...).

The start is ``htime[0]``, the interval the ``time`` step, the positions the
``offset`` range: htime's millisecond stamps are checked against them, not
used as sample times. No unit is stored (``assumed`` says ``units``).

h5py 3.16 (HDF5 2.0) refuses these files' data sets (JLD2 encodes chunk
dimensions in 8 bytes where HDF5 2.0 expects the fewest that fit), and
pinning an older h5py would hold back every other reader, so this reader
decodes the few HDF5 structures involved from the bytes
(:mod:`raydas.formats.h5bytes`) and refuses, naming what it met, any layout
it does not understand. A deflate chunk is inflated whole for any window
(the sample file has one chunk of 1.4 MB).
"""

from __future__ import annotations

import math
import struct

import numpy as np

from ..errors import FormatError
from . import register
from .base import Format, Probe, RecordInfo, as_float32
from .h5bytes import SIGNATURE, H5Bytes, H5Object, H5Type, decoding

MAGIC = b"HDF5-based Julia Data Format"
USERBLOCK = 512
ROOT = "dDAS"
DATA_FIELDS = ("data", "strainrate")
#: Julia's DateTime of 1970-01-01T00:00:00 (Dates.UNIXEPOCH), ms
JULIA_UNIX_EPOCH_MS = 62_135_683_200_000


def _field(url: str, raw: bytes, kind: H5Type, *path: str):
    """The value of a (nested) compound field of ``raw``: a float, an int, or a
    reference's address, from the field names and offsets the type declares."""
    offset = 0
    for name in path:
        if name not in kind.members:
            raise FormatError(url, f"DASVader field {'.'.join(path)} is missing (found {', '.join(kind.members)})")
        at, kind = kind.members[name]
        offset += at
    if offset + kind.size > len(raw):
        raise FormatError(url, f"DASVader field {'.'.join(path)} lies beyond its value ({len(raw)} bytes)")
    if kind.cls == 7 and kind.size == 8:  # an object reference: the object's address
        return struct.unpack_from("<Q", raw, offset)[0]
    return np.frombuffer(raw, kind.numpy(f"DASVader field {'.'.join(path)}", url), 1, offset)[0].item()


def _range(url: str, raw: bytes, kind: H5Type, name: str) -> tuple[float, float, int]:
    """``(first value, step, length)`` of a Julia StepRangeLen field."""
    ref = _field(url, raw, kind, name, "ref", "hi") + _field(url, raw, kind, name, "ref", "lo")
    step = _field(url, raw, kind, name, "step", "hi") + _field(url, raw, kind, name, "step", "lo")
    length, offset = _field(url, raw, kind, name, "len"), _field(url, raw, kind, name, "offset")
    if not (math.isfinite(ref) and math.isfinite(step) and step > 0 and length > 0):
        raise FormatError(url, f"DASVader {name} range (ref {ref}, step {step}, length {length}) is not increasing")
    return ref + (1 - offset) * step, step, int(length)


def _dataset(url: str, f: H5Bytes, address: int, what: str) -> H5Object:
    obj = f.object(address)
    if obj.shape is None or obj.dtype is None or obj.layout is None:
        raise FormatError(url, f"DASVader {what} (object at {address:#x}) is not a data set")
    return obj


def _root(url: str, f: H5Bytes) -> tuple[bytes, H5Type]:
    """The ``dDAS`` value's bytes and its compound type."""
    root = f.object(f.root)
    if ROOT not in root.links:
        more = " (its links are in a fractal heap, which raydas does not read)" if root.dense_links else ""
        raise FormatError(url, f"JLD2 file has no root data set {ROOT}{more}: not a DASVader file")
    obj = _dataset(url, f, root.links[ROOT], ROOT)
    if obj.dtype.cls != 6:
        raise FormatError(url, f"DASVader {ROOT} is not a compound value (type class {obj.dtype.cls})")
    return f.values(obj, ROOT), obj.dtype


def _gauge_length(url: str, f: H5Bytes, raw: bytes, kind: H5Type) -> float:
    """``atrib.GaugeLength`` (m), NaN when the metadata are not there or not as understood."""
    try:
        atrib = _dataset(url, f, _field(url, raw, kind, "atrib"), "atrib")
        values = f.values(atrib, "atrib")
        gauge = _dataset(url, f, _field(url, values, atrib.dtype, "GaugeLength"), "atrib.GaugeLength")
        return float(np.frombuffer(f.values(gauge, "GaugeLength"), gauge.dtype.numpy("GaugeLength", url))[0])
    except FormatError:
        return float("nan")


@register
class DASVaderFormat(Format):
    """Samples are decoded from the ``data`` field's data set, stored ``(channel, time)``."""

    name = "dasvader-jld2"
    description = "DASVader.jl JLD2 (Julia's HDF5 behind a 512-byte user block): dDAS struct, decoded from its bytes"
    extensions = (".jld2",)
    versions = ("JLD2 0.2",)
    tested_on = ("fibre/hdf5/das_vader_1.jld2",)

    def detect(self, probe: Probe) -> bool:
        head = probe.head
        if probe.is_dir or not head.startswith(MAGIC) or head[USERBLOCK : USERBLOCK + 8] != SIGNATURE:
            return False
        with H5Bytes(probe.url, USERBLOCK) as f:
            return ROOT in f.object(f.root).links

    def scan(self, probe: Probe) -> list[RecordInfo]:
        url = probe.url
        if not probe.head.startswith(MAGIC):
            raise FormatError(url, "is not a JLD2 file (no 'HDF5-based Julia Data Format' user block)")
        with decoding(url), H5Bytes(url, USERBLOCK) as f:
            raw, kind = _root(url, f)
            field = next((name for name in DATA_FIELDS if name in kind.members), None)
            if field is None:
                raise FormatError(url, f"DASVader {ROOT} has none of the fields {', '.join(DATA_FIELDS)}")
            data = _dataset(url, f, _field(url, raw, kind, field), field)
            if len(data.shape) != 2:
                raise FormatError(url, f"DASVader {field} has shape {data.shape}, not (channel, time)")
            data.dtype.numpy(f"DASVader {field}", url)
            f.check_stored(data, field)
            first_time, dt, n_time = _range(url, raw, kind, "time")
            first_position, spacing, n_chan = _range(url, raw, kind, "offset")
            if data.shape == (n_time, n_chan) and n_time != n_chan:
                time_first = True
            elif data.shape == (n_chan, n_time):
                time_first = False
            else:
                raise FormatError(
                    url, f"DASVader {field} has shape {data.shape} for {n_chan} offsets and {n_time} times"
                )
            htime = _dataset(url, f, _field(url, raw, kind, "htime"), "htime")
            if htime.shape != (n_time,) or htime.dtype.size != 8:
                raise FormatError(url, f"DASVader htime has shape {htime.shape}, not ({n_time},) 8-byte DateTimes")
            stamps_ms = np.frombuffer(f.values(htime, "htime"), "<i8") - JULIA_UNIX_EPOCH_MS
            span = (stamps_ms[-1] - stamps_ms[0]) / 1000.0
            if abs(span - (n_time - 1) * dt) > max(0.002, 0.01 * span):
                expected = f"{n_time} samples of {dt:g} s span {(n_time - 1) * dt:g} s"
                raise FormatError(url, f"DASVader htime spans {span:g} s, but {expected}")
            gauge = _gauge_length(url, f, raw, kind)
        return [
            RecordInfo(
                path=url,
                format=self.name,
                n_channels=n_chan,
                n_samples=n_time,
                dt=dt,
                start_ns=int(stamps_ms[0]) * 1_000_000,  # htime[0]: the first sample's absolute time
                positions=first_position + np.arange(n_chan) * spacing,
                gauge_length=gauge,
                key=f"{ROOT}.{field}",
                attrs={
                    "data_address": data.address,
                    "time_first": time_first,
                    "relative_start_s": first_time,
                    "layout": data.layout[0],
                },
            )
        ]

    def read_samples(self, record: RecordInfo, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
        """The window, from the decoded data set (a deflate chunk is inflated whole)."""
        with decoding(record.path), H5Bytes(record.path, USERBLOCK) as f:
            data = _dataset(record.path, f, record.attrs["data_address"], record.key)
            expected = (record.n_samples, record.n_channels) if record.attrs["time_first"] else None
            shape = expected or (record.n_channels, record.n_samples)
            if data.shape != shape:
                raise FormatError(record.path, f"{record.key} has shape {data.shape} (file changed since its scan?)")
            values = np.frombuffer(f.values(data, record.key), data.dtype.numpy(record.key, record.path))
        block = values.reshape(shape)
        stop = max(start, min(stop, record.n_samples))
        return as_float32(block[start:stop, channels].T if record.attrs["time_first"] else block[channels, start:stop])


__all__ = ["DASVaderFormat"]
