"""A file that declares more than it stores is read only as far as it stores
(saying so), or refused, never planned at its declared size.

The case that started it: a 2.3 MB PRODML file whose ``RawData`` is declared
(2**31, 1152) int16, chunked, with only the first 1000 rows stored (and
``RawDataTime`` declared as long) scanned as 2,147,483,648 samples, and a run
planned 2.1 M chunks and wrote 71 GB of zeros. The lying files are built here
with h5py, segyio's layout (raw bytes) and numpy from the real sample files.
"""

from __future__ import annotations

import shutil
import struct

import h5py
import numpy as np
import pytest

from raydas import formats
from raydas.errors import FormatError, TruncatedFileWarning
from raydas.formats.chunkstore import ChunkStore
from raydas.recording import assemble, plan_chunks

IDAS = "hdf5/iDAS005_hdf5_example.626.h5"
RAW = "Acquisition/Raw[0]"


def _copy_attrs(src, dst) -> None:
    for key, value in src.attrs.items():
        dst.attrs[key] = value


def lying_prodml(real_data, path, rows: int = 2**31, stored=(0,)) -> str:
    """The real iDAS PRODML file with RawData/RawDataTime declared ``rows`` long;
    only the 1000-row chunks starting at the rows in ``stored`` are written."""
    with h5py.File(real_data / IDAS, "r") as src, h5py.File(path, "w") as dst:
        _copy_attrs(src, dst)
        acq = dst.create_group("Acquisition")
        _copy_attrs(src["Acquisition"], acq)
        raw = acq.create_group("Raw[0]")
        _copy_attrs(src[RAW], raw)
        data = raw.create_dataset("RawData", shape=(rows, 1152), dtype="i2", chunks=(1000, 1152))
        times = raw.create_dataset("RawDataTime", shape=(rows,), dtype="i8", chunks=(1000,))
        _copy_attrs(src[f"{RAW}/RawData"], data)
        _copy_attrs(src[f"{RAW}/RawDataTime"], times)
        for row in stored:
            data[row : row + 1000] = src[f"{RAW}/RawData"][...]
            times[row : row + 1000] = src[f"{RAW}/RawDataTime"][...]
    return str(path)


def test_a_tiny_prodml_declaring_2_billion_samples_reads_what_it_stores(real_data, tmp_path):
    url = lying_prodml(real_data, tmp_path / "liar.h5")
    with pytest.warns(TruncatedFileWarning, match=r"liar\.h5.*2147483648 samples declared.*holds 1000"):
        (record,) = formats.scan_file(url)
    (truth,) = formats.scan_file(str(real_data / IDAS))
    assert (record.n_samples, record.n_channels) == (1000, 1152)
    assert (record.dt, record.start_ns) == (truth.dt, truth.start_ns)
    np.testing.assert_array_equal(record.positions, truth.positions)
    np.testing.assert_array_equal(formats.read_samples(record, 0, 1000), formats.read_samples(truth, 0, 1000))
    recordings, _ = assemble([record])
    assert len(plan_chunks(recordings, 1.0)) == 1  # not 2.1 million


def test_stored_chunks_after_a_missing_one_are_refused_as_holes(real_data, tmp_path):
    url = lying_prodml(real_data, tmp_path / "holes.h5", rows=10_000, stored=(0, 5000))
    with pytest.raises(FormatError, match=r"holes\.h5.*holes: 1 chunk\(s\) are stored after chunk row 1 of 10"):
        formats.scan_file(url)


def test_a_contiguous_data_set_never_written_is_refused(real_data, tmp_path):
    path = tmp_path / "silixa.hdf5"
    with h5py.File(real_data / "hdf5/silixa_h5_1.hdf5", "r") as src, h5py.File(path, "w") as dst:
        acoustic = dst.create_dataset("Acoustic", shape=(10**9, 3840), dtype="i2")  # contiguous, allocated late
        _copy_attrs(src["Acoustic"], acoustic)
    assert path.stat().st_size < 1e6
    with pytest.raises(FormatError, match=r"silixa\.hdf5: data set /Acoustic .*1000000000 samples declared, but"):
        formats.scan_file(str(path))


def test_segy_samples_per_trace_beyond_the_file_are_refused(real_data, tmp_path):
    path = tmp_path / "liar.sgy"
    shutil.copy(real_data / "segy/small_channel_patch.sgy", path)
    path.chmod(0o644)
    with open(path, "r+b") as fh:  # rev 2 32-bit samples per trace, file bytes 3269-3272
        fh.seek(3200 + 68)
        fh.write(struct.pack(">i", 2**31 - 1))
    with pytest.raises(FormatError, match=r"liar\.sgy: the binary header .* bytes declared, but the file holds 3200"):
        formats.scan_file(str(path))


def test_miniseed_record_headers_declaring_more_samples_than_bytes_are_refused(real_data, tmp_path):
    raw = bytearray((real_data / "mseed/etna_9n_3chan_10s.mseed").read_bytes())
    for record in range(0, len(raw), 4096):  # number of samples, fixed header bytes 31-32
        struct.pack_into(">H", raw, record + 30, 65535)
    path = tmp_path / "liar.mseed"
    path.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match=r"liar\.mseed: miniSEED record headers \(983025 samples"):
        formats.scan_file(str(path))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def test_sintela_packet_declaring_more_samples_than_it_holds_is_refused(tmp_path):
    stamp = _field(1, 1_700_000_000)
    common = _field(1, stamp) + _field(2, 4) + _varint(3 << 3 | 5) + struct.pack("<f", 500.0)
    header = _field(1, common) + _field(2, 0) + _field(3, 10**9)  # 1e9 samples of 4 channels
    packet = _field(1, header) + _field(3, np.zeros((8, 4), "<f4").tobytes())
    path = tmp_path / "liar.pb"
    path.write_bytes(b"PBUFTS05" + struct.pack("<I", len(packet)) + packet)
    with pytest.raises(FormatError, match=r"liar\.pb: the TS05 packet at byte 0: 16000000000 bytes declared"):
        formats.scan_file(str(path))


def test_npy_header_declaring_more_than_the_file_is_refused(tmp_path):
    folder = tmp_path / "distpy"
    folder.mkdir()
    np.save(folder / "1600000000.npy", np.zeros((5, 100), np.float32))
    raw = (folder / "1600000000.npy").read_bytes().replace(b"(5, 100)", b"(5, 10**9)".replace(b"10**9", b"9" * 9))
    (folder / "1600000001.npy").write_bytes(raw)
    _, failures = formats.scan(str(folder))
    assert len(failures) == 1 and "1600000001.npy" in str(failures[0]) and "declared" in str(failures[0])


def test_a_chunk_store_row_is_planned_only_as_far_as_its_file_holds(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    store = ChunkStore(str(tmp_path / "store"))
    from raydas.chunk import Chunk

    chunk = Chunk(np.ones((4, 50), np.float32), 1_700_000_000 * 10**9, 0.01, np.arange(4.0))
    store.finish([store.write(chunk)], chunk.positions)
    manifest = tmp_path / "store" / "manifest.parquet"
    table = pq.read_table(manifest)
    rows = table.to_pylist()
    rows[0]["n_samples"] = 10**12
    pq.write_table(pa.Table.from_pylist(rows).replace_schema_metadata(table.schema.metadata), manifest)
    with pytest.warns(TruncatedFileWarning, match="1000000000000 samples declared"):
        (record,) = formats.scan_file(str(tmp_path / "store"))
    assert record.n_samples < 100
