"""The chunk store (.npy per chunk + Parquet manifest) on local, memory:// and s3:// URLs,
and distpy's ingested folder layout."""

from __future__ import annotations

import posixpath
import uuid

import numpy as np
import pyarrow.parquet as pq
import pytest
import xxhash

from raydas import formats
from raydas.chunk import Chunk
from raydas.errors import FormatError
from raydas.formats.chunkstore import ChunkStore
from raydas.fsutil import url_to_fs
from raydas.recording import assemble, plan_chunks
from raydas.timeutil import NS_PER_S

T0 = 1_700_000_000 * NS_PER_S


def _chunks(n=3, nch=6, nt=250, halo=(5, 7)):
    rng = np.random.default_rng(1)
    full = rng.standard_normal((nch, n * nt + halo[0] + halo[1])).astype(np.float32)
    out = []
    for k in range(n):
        lo = k * nt
        data = full[:, lo : lo + nt + halo[0] + halo[1]]
        out.append(
            Chunk(
                data,
                T0 + k * NS_PER_S - halo[0] * NS_PER_S // nt,
                1.0 / nt,
                np.arange(nch) * 1.5,
                halo=halo,
                units="strain/s",
                source=f"src{k}",
                index=k,
            )
        )
    return full, out


def _store_url(kind, tmp_path, request):
    if kind == "local":
        return str(tmp_path / "store")
    if kind == "memory":
        return f"memory://store-{uuid.uuid4().hex[:8]}"
    return request.getfixturevalue("s3_bucket") + "/store"


@pytest.mark.parametrize("kind", ["local", "memory", "s3"])
def test_round_trip(kind, tmp_path, request):
    url = _store_url(kind, tmp_path, request)
    full, chunks = _chunks()
    writer = ChunkStore(url)
    rows = [writer.write(c) for c in chunks]
    manifest = writer.finish(rows, chunks[0].positions, units="strain/s")
    fs, path = url_to_fs(manifest)
    with fs.open(path, "rb") as fh:
        table = pq.read_table(fh).to_pylist()
    assert [r["file"] for r in table] == [f"{1_700_000_000 + k}.npy" for k in range(3)]
    for row in table:  # the digest of each file's bytes, computed here from the file
        with fs.open(posixpath.join(posixpath.dirname(path), row["file"]), "rb") as fh:
            assert row["checksum"] == f"xxh3_64:{xxhash.xxh3_64_hexdigest(fh.read())}"
    assert formats.detect(url).name == "raydas-chunks"
    records, failures = formats.scan(url)
    assert not failures and len(records) == 3
    assert records[0].units == "strain/s"
    np.testing.assert_allclose(records[0].positions, np.arange(6) * 1.5)
    recordings, breaks = assemble(records)
    assert len(recordings) == 1 and not breaks  # consecutive chunks are one recording
    stored = np.concatenate([formats.read_samples(r, 0, r.n_samples) for r in records], axis=1)
    np.testing.assert_array_equal(stored, full[:, 5 : 5 + 750])  # halos were trimmed before writing
    # re-chunking the store with a halo reads across its chunk files
    plans = plan_chunks(recordings, chunk_seconds=1.0, halo_samples=20)
    np.testing.assert_array_equal(plans[1].read().data, full[:, 5 + 230 : 5 + 520])


def test_distpy_folder(tmp_path):
    folder = tmp_path / "sgy_data"
    folder.mkdir()
    rng = np.random.default_rng(2)
    chunks = [rng.standard_normal((5, 100)) for _ in range(3)]  # float64 (nx, prf), 1 s each
    for k, c in enumerate(chunks):
        np.save(folder / f"{1_600_000_000 + k}.npy", c)
    np.save(folder / "measured_depth.npy", (300.0 + np.arange(5)).reshape(-1, 1))
    assert formats.detect(str(folder)).name == "distpy-npy"
    records, _ = formats.scan(str(folder))
    assert [r.sample_rate for r in records] == [100.0] * 3  # distpy chunks are one second wide
    np.testing.assert_allclose(records[0].positions, 300.0 + np.arange(5))
    recordings, breaks = assemble(records)
    assert len(recordings) == 1 and not breaks
    got = formats.read_samples(records[2], 10, 20, slice(1, 3))
    np.testing.assert_allclose(got, chunks[2][1:3, 10:20].astype(np.float32))


def test_corrupt_manifest_and_chunk(tmp_path):
    url = str(tmp_path / "store")
    _, chunks = _chunks(n=1)
    writer = ChunkStore(url)
    writer.finish([writer.write(chunks[0])], chunks[0].positions)
    (tmp_path / "store" / f"{1_700_000_000}.npy").write_bytes(b"\x93NUMPY garbage")
    (record,) = formats.scan(url)[0]
    with pytest.raises(FormatError) as err:
        formats.read_samples(record, 0, 10)
    assert "1700000000.npy" in str(err.value)
    (tmp_path / "store" / "manifest.parquet").write_bytes(b"not parquet")
    with pytest.raises(FormatError) as err:
        formats.scan_file(url)
    assert "manifest.parquet" in str(err.value)
