"""Remote files cost what their header and window need (issue 13).

On a real S3 protocol server (moto on loopback), every byte s3fs takes off the
wire is counted (``benchmarks.remote.S3Downloads``, which the remote-reads
benchmark uses too): scanning a remote SEG-Y or PRODML file reads
its headers, not its samples, and a windowed read transfers at most 1.5x the
window's bytes. HDF5 scans and reads normally run in a helper process; the
byte counts are taken with the helper switched off
(``RAYDAS_HDF5_SCAN_TIMEOUT=0``), which runs the same code in-process. A
damaged remote HDF5 file fails alone, through the helper.
"""

from __future__ import annotations

import os

import fsspec
import h5py
import numpy as np
import pytest
import s3fs
import segyio
from helpers import heap_damaged_pair, scan_all_in_a_process

import raydas
from benchmarks.remote import S3Downloads
from raydas import formats
from raydas.formats.base import Probe
from raydas.formats.prodml import write_prodml

N_CHANNELS = 100
N_SAMPLES = 10_000  # 10 s at 1 kHz
WINDOW = (3000, 5000)  # 2 s: 800 kB of float32 over 100 channels
WINDOW_BYTES = (WINDOW[1] - WINDOW[0]) * N_CHANNELS * 4


@pytest.fixture
def downloaded(monkeypatch, s3_server):
    """Bytes and requests s3fs downloads (``downloaded()`` zeroes and returns the counts)."""
    monkeypatch.setenv("RAYDAS_HDF5_SCAN_TIMEOUT", "0")  # HDF5 in this process, where it is counted
    with S3Downloads() as counts:
        yield counts.reset


@pytest.fixture(scope="module")
def samples() -> np.ndarray:
    return np.random.default_rng(5).standard_normal((N_CHANNELS, N_SAMPLES)).astype(np.float32)


def _segy(path, samples: np.ndarray) -> str:
    spec = segyio.spec()
    spec.format = 5
    spec.samples = range(samples.shape[1])
    spec.tracecount = samples.shape[0]
    with segyio.create(str(path), spec) as f:
        for i, trace in enumerate(samples):
            f.header[i] = {segyio.su.offset: 2 * i, segyio.su.dt: 1000}
            f.trace[i] = trace
        f.bin.update(hdt=1000)
    return str(path)


def _prodml(path, samples: np.ndarray, contiguous: bool) -> str:
    chunk = raydas.Chunk(samples, 1_700_000_000 * 10**9, dt=0.001, positions=np.arange(N_CHANNELS) * 2.0)
    write_prodml(chunk, str(path))
    if contiguous:  # as many acquisition systems store it: one contiguous (time, locus) block
        with h5py.File(path, "r+") as h5:
            raw = h5["Acquisition/Raw[0]"]
            data, attrs = raw["RawData"][:], dict(raw["RawData"].attrs)
            del raw["RawData"]
            raw.create_dataset("RawData", data=data).attrs.update(attrs)
    return str(path)


def _upload(local: str, bucket: str) -> str:
    url = f"{bucket}/{os.path.basename(local)}"
    fsspec.filesystem("s3").put(local, url)
    return url


def test_remote_segy_scan_reads_headers_not_samples(tmp_path, s3_bucket, samples, downloaded):
    url = _upload(_segy(tmp_path / "big.sgy", samples), s3_bucket)
    size = os.path.getsize(tmp_path / "big.sgy")

    counts = downloaded()
    (record,) = formats.scan_file(url)

    assert (record.n_channels, record.n_samples) == (N_CHANNELS, N_SAMPLES)
    # the first bytes the probe takes, then the 240-byte trace headers: no samples
    assert counts.bytes <= Probe.HEAD_BYTES + N_CHANNELS * 240
    assert counts.bytes < 0.05 * size


def test_remote_segy_window_transfers_the_window(tmp_path, s3_bucket, samples, downloaded):
    url = _upload(_segy(tmp_path / "big.sgy", samples), s3_bucket)
    (record,) = formats.scan_file(url)

    counts = downloaded()
    window = formats.read_samples(record, *WINDOW)

    np.testing.assert_array_equal(window, samples[:, WINDOW[0] : WINDOW[1]])
    assert counts.bytes <= 1.5 * WINDOW_BYTES


@pytest.mark.parametrize("contiguous", [True, False], ids=["contiguous", "chunked"])
def test_remote_prodml_scan_and_window(tmp_path, s3_bucket, samples, downloaded, contiguous):
    local = _prodml(tmp_path / "big.h5", samples, contiguous)
    url = _upload(local, s3_bucket)
    size = os.path.getsize(local)

    counts = downloaded()
    (record,) = formats.scan_file(url)
    assert (record.n_channels, record.n_samples) == (N_CHANNELS, N_SAMPLES)
    # metadata and the 8-byte time stamps of every sample (80 kB), not the 4 MB of samples
    assert counts.bytes < 0.1 * size, counts

    # a chunked data set is fetched in whole HDF5 chunks: raydas writes small ones
    start, stop = WINDOW
    counts = downloaded()
    window = formats.read_samples(record, start, stop)

    np.testing.assert_array_equal(window, samples[:, start:stop])
    assert counts.bytes <= 1.5 * (stop - start) * N_CHANNELS * 4, counts


def test_remote_hdf5_read_through_the_helper(tmp_path, s3_bucket, samples, monkeypatch):
    """With the helper on (the default), a remote HDF5 window comes back from it unchanged."""
    monkeypatch.delenv("RAYDAS_HDF5_SCAN_TIMEOUT", raising=False)
    url = _upload(_prodml(tmp_path / "big.h5", samples, contiguous=True), s3_bucket)
    s3fs.S3FileSystem.clear_instance_cache()
    (record,) = formats.scan_file(url)
    np.testing.assert_array_equal(formats.read_samples(record, *WINDOW), samples[:, WINDOW[0] : WINDOW[1]])


@pytest.mark.slow
def test_damaged_remote_hdf5_fails_alone(real_data, tmp_path, s3_bucket):
    """A remote HDF5 file whose metadata loops libhdf5 for ever (zeroed global-heap
    index, as in test_formats_fuzz) is killed with the helper after the timeout
    and named; the good file beside it in the bucket is scanned."""
    for path in heap_damaged_pair(real_data, tmp_path):
        _upload(str(path), s3_bucket)
    n_records, failures = scan_all_in_a_process(s3_bucket + "/", timeout=120)
    assert n_records >= 1
    assert "heap.hdf5" in failures and "did not finish reading its metadata" in failures
    assert "z_good.hdf5" not in failures
