"""A small reader of HDF5 structures from their bytes, for files the HDF5
library cannot open: the JLD2 files Julia writes (DASVader's), whose chunked
data sets HDF5 2.0 (h5py 3.16) refuses ("stored chunk dimension encoding
length does not match value calculated from chunk dimensions": JLD2 encodes
chunk dimensions in 8 bytes where the library expects the fewest that fit).

It understands what such files hold, from the HDF5 file format specification
(version 3.0), and refuses the rest naming the structure it does not read:

* superblock version 2 or 3 (8-byte offsets and lengths), found after a
  user block; addresses are relative to it;
* version 2 object headers (``OHDR``) and their continuation blocks (``OCHK``);
* compact link messages (hard links), dataspace messages (versions 1, 2),
  datatype messages (fixed-point, float, string, bitfield, opaque, compound,
  reference, enumeration, variable-length, array), shared (committed)
  datatypes, filter pipelines of deflate and shuffle;
* data layouts compact, contiguous, and chunked with a single-chunk index
  (layout message version 4).

Checksums are not verified; every address and length is checked against the
file's size before it is read, and a compressed chunk is inflated only up to
the size its data set declares, so a damaged or lying file is refused
(:class:`~raydas.errors.FormatError` naming it), never read past its end or
inflated without bound.
"""

from __future__ import annotations

import contextlib
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from ..errors import FormatError, RaydasError
from ..fsutil import url_to_fs

SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: most bytes deflate can inflate one byte to (the format's limit, about 1032:1)
DEFLATE_MAX_RATIO = 1032
#: bounds on what one object header may hold, so a damaged one cannot loop
MAX_MESSAGES = 4096
MAX_CONTINUATIONS = 64
FILTER_DEFLATE, FILTER_SHUFFLE = 1, 2

# message types (HDF5 spec IV.A.2)
DATASPACE, LINK_INFO, DATATYPE, LAYOUT, FILTERS, LINK, CONTINUATION = 0x01, 0x02, 0x03, 0x08, 0x0B, 0x06, 0x10


@dataclass
class H5Type:
    """A decoded HDF5 datatype: ``cls`` (0 fixed-point, 1 float, 6 compound,
    7 reference, ...), ``size`` in bytes, ``big_endian``, ``signed``, and for a
    compound its ``members`` ``{name: (byte offset, H5Type)}``."""

    cls: int
    size: int
    big_endian: bool = False
    signed: bool = False
    members: dict[str, tuple[int, H5Type]] = field(default_factory=dict)

    def numpy(self, what: str, url: str) -> np.dtype:
        """The numpy dtype of a number type, or a FormatError naming ``what``."""
        order = ">" if self.big_endian else "<"
        if self.cls == 1 and self.size in (4, 8):
            return np.dtype(f"{order}f{self.size}")
        if self.cls == 0 and self.size in (1, 2, 4, 8):
            return np.dtype(f"{order}{'i' if self.signed else 'u'}{self.size}")
        raise FormatError(url, f"{what} holds HDF5 type class {self.cls} of {self.size} bytes, not numbers")


@dataclass
class H5Object:
    """What raydas uses of one object header: its links (name -> address),
    and for a data set its shape, type, layout and filters."""

    address: int
    links: dict[str, int] = field(default_factory=dict)
    shape: tuple[int, ...] | None = None
    dtype: H5Type | None = None
    layout: tuple | None = None
    filters: list[int] = field(default_factory=list)
    dense_links: bool = False


class H5Bytes:
    """An HDF5 file read through its bytes (any fsspec URL), the superblock at ``offset``.

    Use as a context manager. Addresses given to its methods are the file's
    own (relative to the superblock); errors name the file.
    """

    def __init__(self, url: str, offset: int = 512):
        self.url = url
        fs, path = url_to_fs(url)
        self.size = int(fs.size(path))
        self._fh = fs.open(path, "rb")
        self.base = offset
        head = self.read_abs(offset, 48, "the superblock")
        if head[:8] != SIGNATURE:
            raise FormatError(url, f"has no HDF5 superblock at byte {offset}")
        version, offsets, lengths = head[8], head[9], head[10]
        if version not in (2, 3) or offsets != 8 or lengths != 8:
            raise FormatError(
                url, f"HDF5 superblock version {version} with {offsets}-byte addresses is not one raydas reads"
            )
        self.base = struct.unpack_from("<Q", head, 12)[0] or offset  # addresses count from the superblock
        self.root = struct.unpack_from("<Q", head, 36)[0]

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> H5Bytes:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- bytes -------------------------------------------------------------------
    def read_abs(self, start: int, n: int, what: str) -> bytes:
        """``n`` bytes from absolute byte ``start``, or a FormatError naming ``what`` when the file is shorter."""
        if start < 0 or n < 0 or start + n > self.size:
            raise FormatError(self.url, f"{what} (bytes {start}-{start + n}) lies beyond the end ({self.size} bytes)")
        self._fh.seek(start)
        data = self._fh.read(n)
        if len(data) != n:
            raise FormatError(self.url, f"{what}: read {len(data)} of {n} bytes at byte {start}")
        return data

    def read(self, address: int, n: int, what: str) -> bytes:
        """``n`` bytes at the file address ``address`` (relative to the superblock)."""
        return self.read_abs(self.base + address, n, what)

    # --- object headers ----------------------------------------------------------
    def messages(self, address: int) -> list[tuple[int, int, bytes]]:
        """``(type, flags, body)`` of every message of the version 2 object header at ``address``."""
        head = self.read(address, 6, f"object header at {address:#x}")
        if head[:4] != b"OHDR" or head[4] != 2:
            raise FormatError(self.url, f"object at {address:#x} is not a version 2 object header (OHDR)")
        flags = head[5]
        at = address + 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
        width = 1 << (flags & 3)
        size = int.from_bytes(self.read(at, width, "object header size"), "little")
        blocks = [(at + width, size)]
        found: list[tuple[int, int, bytes]] = []
        continuations = 0
        while blocks:
            start, length = blocks.pop(0)
            body = self.read(start, length, f"object header block at {start:#x}")
            p = 0
            while p + 4 <= len(body):
                kind, msg_size, msg_flags = body[p], struct.unpack_from("<H", body, p + 1)[0], body[p + 3]
                p += 4 + (2 if flags & 0x04 else 0)
                if p + msg_size > len(body):
                    raise FormatError(self.url, f"message at {start + p:#x} runs past its object header block")
                message = body[p : p + msg_size]
                p += msg_size
                if kind == CONTINUATION:
                    continuations += 1
                    if continuations > MAX_CONTINUATIONS:
                        raise FormatError(self.url, f"object header at {address:#x} has too many continuations")
                    where, extent = struct.unpack_from("<QQ", message)
                    if self.read(where, 4, "continuation block") != b"OCHK" or extent < 8:
                        raise FormatError(self.url, f"continuation block at {where:#x} is not an OCHK block")
                    blocks.append((where + 4, extent - 8))
                else:
                    found.append((kind, msg_flags, message))
                if len(found) > MAX_MESSAGES:
                    raise FormatError(self.url, f"object header at {address:#x} holds too many messages")
        return found

    def object(self, address: int) -> H5Object:
        """The links, or the shape, type, layout and filters, of the object at ``address``."""
        obj = H5Object(address)
        for kind, flags, body in self.messages(address):
            if kind == LINK:
                name, target = self._link(body)
                if target is not None:
                    obj.links[name] = target
            elif kind == LINK_INFO:
                obj.dense_links = struct.unpack_from("<Q", body, 2 + (8 if body[1] & 1 else 0))[0] != 2**64 - 1
            elif kind == DATASPACE:
                obj.shape = self._dataspace(body)
            elif kind == DATATYPE:
                obj.dtype = self._shared_type(body) if flags & 0x02 else parse_type(self.url, body)[0]
            elif kind == LAYOUT:
                obj.layout = self._layout(body)
            elif kind == FILTERS:
                obj.filters = self._filters(body)
        return obj

    def _link(self, body: bytes) -> tuple[str, int | None]:
        flags, p = body[1], 2
        link_type = 0
        if flags & 0x08:
            link_type, p = body[p], p + 1
        p += (8 if flags & 0x04 else 0) + (1 if flags & 0x10 else 0)
        width = 1 << (flags & 3)
        length = int.from_bytes(body[p : p + width], "little")
        name = body[p + width : p + width + length].decode("utf-8", "replace")
        p += width + length
        return name, (struct.unpack_from("<Q", body, p)[0] if link_type == 0 else None)

    def _dataspace(self, body: bytes) -> tuple[int, ...]:
        version, rank = body[0], body[1]
        start = {1: 8, 2: 4}.get(version)
        if start is None:
            raise FormatError(self.url, f"dataspace message version {version} is not one raydas reads")
        return tuple(struct.unpack_from(f"<{rank}Q", body, start))

    def _shared_type(self, body: bytes) -> H5Type:
        """A committed datatype: the shared message points at an object header holding it."""
        version, kind = body[0], body[1]
        at = {1: 8, 2: 2, 3: 2}.get(version)
        if at is None or (version == 3 and kind != 2):  # version 3 type 1 points into a shared-message heap
            raise FormatError(self.url, f"shared datatype message (version {version}, type {kind}) is not understood")
        address = struct.unpack_from("<Q", body, at)[0]
        types = [parse_type(self.url, b)[0] for k, _, b in self.messages(address) if k == DATATYPE]
        if not types:
            raise FormatError(self.url, f"committed datatype at {address:#x} holds no datatype message")
        return types[0]

    def _layout(self, body: bytes) -> tuple:
        version, cls = body[0], body[1]
        if version not in (3, 4):
            raise FormatError(self.url, f"data layout message version {version} is not one raydas reads")
        if cls == 0:
            size = struct.unpack_from("<H", body, 2)[0]
            return ("compact", body[4 : 4 + size])
        if cls == 1:
            return ("contiguous", *struct.unpack_from("<QQ", body, 2))
        if cls == 2 and version == 4:
            flags, rank, width = body[2], body[3], body[4]
            dims = tuple(int.from_bytes(body[5 + i * width : 5 + (i + 1) * width], "little") for i in range(rank))
            p = 5 + rank * width
            index = body[p]
            if index != 1:
                raise FormatError(self.url, f"chunk index type {index} is not read (only a single chunk is)")
            if flags & 0x02:
                filtered_size, mask, address = struct.unpack_from("<QIQ", body, p + 1)
                return ("chunk", dims, address, filtered_size, mask)
            return ("chunk", dims, struct.unpack_from("<Q", body, p + 1)[0], None, 0)
        raise FormatError(self.url, f"data layout class {cls} (layout version {version}) is not one raydas reads")

    def _filters(self, body: bytes) -> list[int]:
        version, count = body[0], body[1]
        p = 8 if version == 1 else 2
        ids = []
        for _ in range(count):
            fid = struct.unpack_from("<H", body, p)[0]
            if version == 1:
                name_len, _flags, n_values = struct.unpack_from("<HHH", body, p + 2)
                p += 8 + (name_len + 7) // 8 * 8 + 4 * n_values + (4 if n_values % 2 else 0)
            else:
                name_len = struct.unpack_from("<H", body, p + 2)[0] if fid >= 256 else 0
                p += 2 + (2 if fid >= 256 else 0)
                _flags, n_values = struct.unpack_from("<HH", body, p)
                p += 4 + name_len + 4 * n_values
            ids.append(fid)
        unknown = [f for f in ids if f not in (FILTER_DEFLATE, FILTER_SHUFFLE)]
        if unknown:
            raise FormatError(self.url, f"data are compressed with HDF5 filter {unknown[0]} (raydas reads deflate)")
        return ids

    # --- data --------------------------------------------------------------------
    def check_stored(self, obj: H5Object, what: str) -> None:
        """Refuse a data set whose declared values cannot be in the file (checked
        without reading them): contiguous bytes past the end, a compact value
        shorter than its shape, a compressed chunk too small to inflate to them."""
        if obj.shape is None or obj.dtype is None or obj.layout is None:
            raise FormatError(self.url, f"{what} (object at {obj.address:#x}) is not a data set")
        declared = int(np.prod(obj.shape, dtype=np.float64) * obj.dtype.size)
        kind = obj.layout[0]
        if kind == "compact":
            room = len(obj.layout[1])
        elif kind == "contiguous":
            room = self.size - self.base - obj.layout[1]
        else:
            _, dims, address, filtered_size, _ = obj.layout
            stored = filtered_size if filtered_size is not None else declared
            if self.base + address + stored > self.size:
                raise FormatError(self.url, f"{what}: its chunk (bytes {address}+{stored}) lies beyond the end")
            room = DEFLATE_MAX_RATIO * filtered_size + 64 if filtered_size is not None else stored
        if declared > room:
            raise FormatError(self.url, f"{what} declares {obj.shape} values ({declared} bytes) the file cannot hold")

    def values(self, obj: H5Object, what: str) -> bytes:
        """All the bytes of a data set's values in C order (a chunk inflated up to
        the size the data set declares, never more)."""
        if obj.shape is None or obj.dtype is None or obj.layout is None:
            raise FormatError(self.url, f"{what} (object at {obj.address:#x}) is not a data set")
        expected = int(np.prod(obj.shape, dtype=np.int64)) * obj.dtype.size
        kind = obj.layout[0]
        if kind == "compact":
            raw = obj.layout[1]
        elif kind == "contiguous":
            raw = self.read(obj.layout[1], expected, what)
        else:
            raw = self._chunk(obj, what)
        if len(raw) < expected:
            raise FormatError(self.url, f"{what} holds {len(raw)} bytes of the {expected} its shape declares")
        return raw[:expected]

    def _chunk(self, obj: H5Object, what: str) -> bytes:
        _, dims, address, filtered_size, mask = obj.layout
        chunk_shape = dims[:-1]
        if len(chunk_shape) != len(obj.shape) or any(c < s for c, s in zip(chunk_shape, obj.shape)):
            raise FormatError(self.url, f"{what}: single chunk {chunk_shape} does not cover the shape {obj.shape}")
        chunk_bytes = int(np.prod(chunk_shape, dtype=np.int64)) * obj.dtype.size
        if filtered_size is None:
            raw = self.read(address, chunk_bytes, what)
        else:
            if chunk_bytes > DEFLATE_MAX_RATIO * filtered_size + 64:
                raise FormatError(
                    self.url,
                    f"{what} declares {chunk_bytes} bytes but its compressed chunk of {filtered_size} bytes "
                    "cannot hold them",
                )
            raw = self.read(address, filtered_size, what)
            for i, fid in reversed(list(enumerate(obj.filters))):
                if mask & (1 << i):
                    continue
                raw = _inflate(self.url, raw, chunk_bytes, what) if fid == FILTER_DEFLATE else raw
                if fid == FILTER_SHUFFLE:
                    raw = _unshuffle(raw, obj.dtype.size)
        if len(raw) != chunk_bytes:
            raise FormatError(self.url, f"{what}: its chunk holds {len(raw)} bytes, not the {chunk_bytes} declared")
        if chunk_shape == obj.shape:
            return raw
        block = np.frombuffer(raw, dtype=np.uint8).reshape(*chunk_shape, obj.dtype.size)
        return block[tuple(slice(0, s) for s in obj.shape)].tobytes()


@contextlib.contextmanager
def decoding(url: str):
    """Turn what decoding damaged bytes raises (``struct.error``, ``IndexError``,
    ``ValueError``, ``OverflowError``...) into a FormatError naming ``url``."""
    try:
        yield
    except RaydasError:
        raise
    except (struct.error, IndexError, KeyError, ValueError, TypeError, OverflowError, zlib.error) as exc:
        raise FormatError(url, f"HDF5 structures are damaged or not understood ({type(exc).__name__}: {exc})") from exc


def _inflate(url: str, raw: bytes, expected: int, what: str) -> bytes:
    """A zlib stream inflated up to ``expected`` bytes (a stream that says more is refused)."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(raw, expected + 1)
    except zlib.error as exc:
        raise FormatError(url, f"{what}: its compressed chunk is damaged ({exc})") from exc
    if len(out) != expected:
        raise FormatError(url, f"{what}: its chunk inflates to {len(out)} bytes, not the {expected} declared")
    return out


def _unshuffle(raw: bytes, size: int) -> bytes:
    n = len(raw) // size
    return np.frombuffer(raw[: n * size], dtype=np.uint8).reshape(size, n).T.tobytes() + raw[n * size :]


def parse_type(url: str, body: bytes, p: int = 0) -> tuple[H5Type, int]:
    """The datatype encoded at ``body[p:]`` and the offset just after it (HDF5 spec IV.A.2.d)."""
    if p + 8 > len(body):
        raise FormatError(url, "a datatype message is cut short")
    cls, version = body[p] & 0x0F, body[p] >> 4
    bits = body[p + 1] | body[p + 2] << 8 | body[p + 3] << 16
    size = struct.unpack_from("<I", body, p + 4)[0]
    p += 8
    kind = H5Type(cls, size, big_endian=bool(bits & 1), signed=bool(bits & 8))
    if cls in (0, 4):  # fixed-point, bitfield: bit offset, precision
        return kind, p + 4
    if cls == 1:  # float: bit offset, precision, exponent and mantissa layout
        return kind, p + 12
    if cls == 2:  # time
        return kind, p + 2
    if cls in (3, 7):  # string, reference: nothing more
        return kind, p
    if cls == 5:  # opaque: a tag padded to 8 bytes
        return kind, p + ((bits & 0xFF) + 7) // 8 * 8
    if cls == 6:
        return _compound(url, body, p, kind, version, bits & 0xFFFF)
    if cls == 8:  # enumeration: base type, names, values
        base, p = parse_type(url, body, p)
        for _ in range(bits & 0xFFFF):
            end = body.index(b"\x00", p)
            p = end + 1 if version >= 3 else p + ((end - p) // 8 + 1) * 8
        return kind, p + (bits & 0xFFFF) * base.size
    if cls == 9:  # variable-length: base type
        return kind, parse_type(url, body, p)[1]
    if cls == 10:  # array: rank, dimensions (and a permutation before version 3), base type
        rank = body[p]
        p += (1 if version >= 3 else 4) + 4 * rank + (0 if version >= 3 else 4 * rank)
        base, p = parse_type(url, body, p)
        kind.members = {"": (0, base)}
        return kind, p
    raise FormatError(url, f"HDF5 datatype class {cls} is not one raydas reads")


def _compound(url: str, body: bytes, p: int, kind: H5Type, version: int, count: int) -> tuple[H5Type, int]:
    """The members of a compound datatype (versions 1-3 encode them differently)."""
    width = max(1, (kind.size.bit_length() + 7) // 8)  # version 3: offsets in the fewest bytes that hold the size
    for _ in range(count):
        try:
            end = body.index(b"\x00", p)
        except ValueError:
            raise FormatError(url, "a compound datatype member name is not terminated") from None
        name = body[p:end].decode("utf-8", "replace")
        if version >= 3:
            p = end + 1
            offset = int.from_bytes(body[p : p + width], "little")
            p += width
        else:
            p += ((end - p) // 8 + 1) * 8
            offset = struct.unpack_from("<I", body, p)[0]
            p += 4 + (28 if version == 1 else 0)
        member, p = parse_type(url, body, p)
        kind.members[name] = (offset, member)
    return kind, p


__all__ = ["H5Bytes", "H5Object", "H5Type", "decoding", "parse_type"]
