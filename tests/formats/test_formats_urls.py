"""Every reader works on any fsspec URL: the same inputs read from a local
path, ``memory://`` and ``s3://`` (a real moto S3 server) give the same
records and the same samples."""

from __future__ import annotations

import shutil
import uuid

import fsspec
import numpy as np
import pytest

from raydas import formats
from raydas.chunk import Chunk
from raydas.timeutil import NS_PER_S

REAL = {
    "segy": "segy/small_channel_patch.sgy",
    "tdms": "tdms/sample_tdms_file_v4713.tdms",
    "mseed": "mseed/etna_9n_3chan_10s.mseed",
    "sintela-pb": "other/sintela_protobuf_1.pb",
}
T0 = 1_700_000_000 * NS_PER_S


def _chunk(channels=4, samples=300) -> Chunk:
    data = np.random.default_rng(5).standard_normal((channels, samples)).astype(np.float32)
    return Chunk(data, data_start_ns=T0, dt=0.004, positions=3.0 * np.arange(channels), units="strain/s")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, real_data) -> dict[str, str]:
    """format name -> a local file or folder in that format."""
    root = tmp_path_factory.mktemp("inputs")
    out = {}
    for name, rel in REAL.items():
        out[name] = str(root / rel.rsplit("/", 1)[1])
        shutil.copy(real_data / rel, out[name])
    out["prodml"] = formats.write(_chunk(), str(root / "raw.h5"))[0]
    (root / "npy").mkdir()
    formats.write(_chunk(), str(root / "npy"), format="distpy-npy")
    out["distpy-npy"] = str(root / "npy")
    bands = {"band_01_1-10": _chunk(3, 6), "band_02_10-50": _chunk(3, 6)}
    out["band-parquet"] = formats.write(bands, str(root / "bands.parquet"))[0]
    formats.write(bands, str(root / "fbe"), format="witsml-fbe")
    out["witsml-fbe"] = str(root / "fbe")
    (root / "las").mkdir()
    for k in range(3):
        (root / "las" / f"{k}.las").write_text(
            f"~V\nVERS. 2.0 :\nWRAP. NO :\n~W\nDATE. 2024-05-01 00:00:0{k} : DATE\n~C\nDEPT.M :\nB1. :\n~A\n"
            f"1.0 {k}\n2.0 {2 * k}\n"
        )
    out["las-fbe"] = str(root / "las")
    (root / "table.csv").write_text(
        "time,depth,value\n"
        + "".join(f"2024-05-01 00:00:0{j},{d},{j * 10 + d}\n" for j in range(4) for d in (5.0, 6.0))
    )
    out["csv"] = str(root / "table.csv")
    return out


def _copy_to(fs, local: str, remote: str) -> None:
    lfs = fsspec.filesystem("file")
    if lfs.isdir(local):
        for name in lfs.ls(local, detail=False):
            fs.pipe_file(f"{remote}/{name.rsplit('/', 1)[1]}", lfs.cat_file(name))
    else:
        fs.pipe_file(remote, lfs.cat_file(local))


def _records(url: str):
    records, failures = formats.scan(url)
    assert not failures, [str(f) for f in failures]
    return records


FORMATS = [
    "segy",
    "tdms",
    "mseed",
    "sintela-pb",
    "prodml",
    "distpy-npy",
    "band-parquet",
    "witsml-fbe",
    "las-fbe",
    "csv",
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("where", ["memory", "s3"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_reader_on_fsspec_urls(inputs, fmt, where, request):
    local = inputs[fmt]
    name = local.rstrip("/").rsplit("/", 1)[1]
    if where == "memory":
        base = f"memory://raydas-{uuid.uuid4().hex[:8]}"
        fs = fsspec.filesystem("memory")
    else:
        base = request.getfixturevalue("s3_bucket")
        fs = fsspec.filesystem("s3")
    url = f"{base}/{name}"
    _copy_to(fs, local, url)
    expected = _records(local)
    got = _records(url)
    assert [r.format for r in got] == [fmt] * len(expected)
    for a, b in zip(expected, got):
        assert (a.key, a.n_channels, a.n_samples, a.dt, a.start_ns) == (
            b.key,
            b.n_channels,
            b.n_samples,
            b.dt,
            b.start_ns,
        )
        np.testing.assert_array_equal(a.positions, b.positions)
        stop = min(a.n_samples, 50)
        np.testing.assert_array_equal(formats.read_samples(a, 0, stop), formats.read_samples(b, 0, stop))
    if where == "memory":
        fs.rm(url, recursive=True)
