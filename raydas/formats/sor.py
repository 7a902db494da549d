"""Telcordia SR-4731 issue 2 OTDR traces (``.sor``, "Bellcore" files): one
backscatter trace along the fibre, read as a record of one reading whose
channels are the trace's points along distance.

Layout (little-endian; strings NUL-terminated):

* a ``Map`` block at byte 0: ``b"Map\\0"``, u16 version (200), u32 map size,
  u16 block count, then per block its name, u16 version and u32 size; the
  blocks follow one another from byte 0 in map order, each starting with its
  name again;
* ``FxdParams``: u32 acquisition time (unix s, UTC) at +0, u16 wavelength
  (0.1 nm) at +6, u16 pulse width (ns) at +18, u32 data spacing (100 ps per
  10,000 points) at +20, u32 point count at +24, u32 group index x 1e5 at
  +28, u16 averaging time (0.1 s) at +38;
* ``DataPts``: u32 point count, u16 number of scale-factor blocks (raydas reads
  traces with one), u32 points, u16 scale factor (x 1000), then the points as
  u16, each a level in -0.001 dB times the scale.

Values are the stored levels in dB, ``-raw * scale / 1e6`` (0 dB is the
instrument's reference; more negative is less backscatter). Viewers often
draw ``level - min(level)`` instead (0 at the noise floor); that is the same
trace shifted. Distance between points is ``c * t / n`` (t the time per point,
n the group index), the convention of the OTDR tools; the standard does not
say it in the file, so ``positions`` is in ``assumed``. The checksum block is
not checked (instruments leave it 0).
"""

from __future__ import annotations

import struct

import numpy as np

from ..errors import FormatError
from ..fsutil import url_to_fs
from . import register
from .base import Format, Probe, RecordInfo

MAGIC = b"Map\x00"
VERSIONS = (200,)
C_M_PER_S = 299_792_458.0
REQUIRED = ("FxdParams", "DataPts")


def _cstring(buf: bytes, at: int, url: str) -> tuple[str, int]:
    end = buf.find(b"\x00", at)
    if end < 0:
        raise FormatError(url, f"SR-4731 text at byte {at} is not terminated")
    return buf[at:end].decode("ascii", "replace"), end + 1


def _blocks(url: str, head: bytes, size: int) -> dict[str, tuple[int, int]]:
    """Block name -> (offset, size), from the map; checked against the file's size."""
    if len(head) < 12 or head[:4] != MAGIC:
        raise FormatError(url, "does not start with an SR-4731 Map block")
    version, map_size, count = struct.unpack_from("<HIH", head, 4)
    if version not in VERSIONS:
        raise FormatError(url, f"is SR-4731 version {version}; raydas reads {', '.join(map(str, VERSIONS))}")
    if not 12 <= map_size <= min(len(head), size) or count < 1:
        raise FormatError(url, f"SR-4731 map declares {map_size} bytes and {count} blocks")
    blocks, at, offset = {"Map": (0, map_size)}, 12, map_size
    for _ in range(count - 1):
        name, at = _cstring(head[:map_size], at, url)
        if at + 6 > map_size:
            raise FormatError(url, "SR-4731 map is cut short")
        _, length = struct.unpack_from("<HI", head, at)
        at += 6
        blocks[name] = (offset, length)
        offset += length
    if offset != size:
        raise FormatError(url, f"SR-4731 blocks add up to {offset} bytes but the file holds {size} (cut or padded)")
    missing = [b for b in REQUIRED if b not in blocks]
    if missing:
        raise FormatError(url, f"SR-4731 file has no {', '.join(missing)} block")
    return blocks


def _read(url: str, offset: int, length: int) -> bytes:
    fs, path = url_to_fs(url)
    with fs.open(path, "rb") as fh:
        fh.seek(offset)
        raw = fh.read(length)
    if len(raw) != length:
        raise FormatError(url, f"ends before byte {offset + length}")
    return raw


def _payload(url: str, name: str, block: tuple[int, int]) -> tuple[bytes, int]:
    """A block's bytes after its name, and where they start in the file."""
    offset, length = block
    raw = _read(url, offset, length)
    if not raw.startswith(name.encode() + b"\x00"):
        raise FormatError(url, f"SR-4731 block at byte {offset} is not {name}")
    return raw[len(name) + 1 :], offset + len(name) + 1


@register
class SORFormat(Format):
    """One trace: ``n_channels`` points along distance, one reading."""

    name = "sor"
    description = "Telcordia SR-4731 issue 2 OTDR trace (.sor): backscatter level (dB) along distance"
    extensions = (".sor",)
    quantity = "backscatter"
    versions = ("2.00",)
    tested_on = ("fibre/otdr/ofl100_1.sor", "fibre/otdr/ofl100_2.sor")

    def detect(self, probe: Probe) -> bool:
        head = probe.head
        return (
            not probe.is_dir
            and head[:4] == MAGIC
            and len(head) >= 6
            and struct.unpack_from("<H", head, 4)[0] in VERSIONS
        )

    def scan(self, probe: Probe) -> list[RecordInfo]:
        url = probe.url
        blocks = _blocks(url, probe.head, probe.size)
        fxd, _ = _payload(url, "FxdParams", blocks["FxdParams"])
        if len(fxd) < 40:
            raise FormatError(url, f"SR-4731 FxdParams holds {len(fxd)} bytes; 40 are needed")
        stamp, wavelength, pulse, spacing, points, index, averaging = (
            struct.unpack_from("<I", fxd, 0)[0],
            struct.unpack_from("<H", fxd, 6)[0],
            struct.unpack_from("<H", fxd, 18)[0],
            *struct.unpack_from("<III", fxd, 20),
            struct.unpack_from("<H", fxd, 38)[0],
        )
        if not (spacing > 0 and index > 0):
            raise FormatError(url, f"SR-4731 data spacing {spacing} or group index {index} is not positive")
        offset, length = blocks["DataPts"]
        head = _read(url, offset, min(length, 32))
        name_end = len("DataPts") + 1
        if not head.startswith(b"DataPts\x00") or len(head) < name_end + 12:
            raise FormatError(url, f"SR-4731 block at byte {offset} is not DataPts")
        total, n_scales, n_points, scale = struct.unpack_from("<IHIH", head, name_end)
        if n_scales != 1:
            raise FormatError(
                url, f"SR-4731 DataPts holds {n_scales} scale-factor blocks; raydas reads traces with one"
            )
        data_at = offset + name_end + 12
        if not 0 < n_points == total or data_at + 2 * n_points > offset + length:
            raise FormatError(
                url, f"SR-4731 DataPts declares {n_points} of {total} points, more than its {length} bytes hold"
            )
        dx = C_M_PER_S * (spacing * 1e-10 / 1e4) / (index / 1e5)
        return [
            RecordInfo(
                path=url,
                format=self.name,
                n_channels=int(n_points),
                n_samples=1,
                dt=averaging / 10 if averaging else 1.0,  # one reading: its averaging time
                start_ns=int(stamp) * 10**9,
                positions=np.arange(n_points) * dx,
                units="dB",
                quantity="backscatter",
                times_ns=np.array([int(stamp) * 10**9]),
                assumed=("positions",) + (() if averaging else ("sample_rate",)),
                attrs={
                    "data_offset": data_at,
                    "scale": scale / 1000,
                    "wavelength_nm": wavelength / 10,
                    "pulse_width_ns": int(pulse),
                    "group_index": index / 1e5,
                    "points_declared_by_fxdparams": int(points),
                },
            )
        ]

    def read_samples(self, record: RecordInfo, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
        rows = range(record.n_channels)[channels]
        stop = min(stop, record.n_samples)
        if stop <= start or not len(rows):
            return np.zeros((len(rows), max(stop - start, 0)), dtype=np.float32)
        raw = np.frombuffer(_read(record.path, record.attrs["data_offset"], 2 * record.n_channels), dtype="<u2")
        level = -raw[channels].astype(np.float64) * record.attrs["scale"] / 1000
        return level.astype(np.float32)[:, None]


__all__ = ["SORFormat"]
