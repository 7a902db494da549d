"""Reading a 1-s window of a ~2-GB file reads only that window: the Python
memory allocated while reading (tracemalloc, which numpy and h5py buffers
report to) stays within a few times the window's size. The files are written
sparsely (headers and the window's samples only; HDF5 chunks outside the
window as compressed zeros) and deleted afterwards."""

from __future__ import annotations

import os
import tracemalloc
import zlib

import h5py
import numpy as np
import pytest

from raydas import formats
from raydas.formats.segy import TRACE_HEADER, file_headers, trace_headers
from raydas.timeutil import NS_PER_S

RATE = 1000.0  # Hz
N_CHANNELS = 1000
N_SAMPLES = 500_000  # x 1000 channels x 4 bytes = 2 GB of samples
WINDOW = (250_000, 251_000)  # samples of the 1-s window
WINDOW_BYTES = N_CHANNELS * (WINDOW[1] - WINDOW[0]) * 4
T0 = 1_700_000_000 * NS_PER_S


def window_values() -> np.ndarray:
    """The samples written in the window: channel index + time in s since the window start."""
    t = np.arange(WINDOW[1] - WINDOW[0]) / RATE
    return (np.arange(N_CHANNELS)[:, None] + t[None, :]).astype(np.float32)


def peak_bytes_while(read) -> tuple[np.ndarray, int]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        data = read()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return data, peak


def test_segy_window_of_a_2gb_file(tmp_path):
    path = tmp_path / "big.sgy"
    trace_bytes = TRACE_HEADER + 4 * N_SAMPLES
    headers = trace_headers(N_SAMPLES, 1 / RATE, T0, np.arange(N_CHANNELS, dtype=float))
    values = window_values().astype(">f4")
    with open(path, "wb") as fh:
        fh.write(file_headers(N_CHANNELS, N_SAMPLES, 1 / RATE, ["sparse test file"]))
        fh.truncate(3600 + N_CHANNELS * trace_bytes)
        for i in range(N_CHANNELS):
            offset = 3600 + i * trace_bytes
            os.pwrite(fh.fileno(), headers[i].tobytes(), offset)
            os.pwrite(fh.fileno(), values[i].tobytes(), offset + TRACE_HEADER + 4 * WINDOW[0])
    try:
        assert os.path.getsize(path) > 2e9
        start_ns = T0 + int(WINDOW[0] / RATE * NS_PER_S)
        chunk, peak = peak_bytes_while(lambda: formats.read(str(path), start_ns, start_ns + NS_PER_S))
        assert chunk.data.shape == (N_CHANNELS, 1000) and chunk.start_ns == start_ns
        np.testing.assert_array_equal(chunk.data, window_values())
        assert peak < 4 * WINDOW_BYTES, f"peak {peak / 1e6:.1f} MB for a {WINDOW_BYTES / 1e6:.1f} MB window"
    finally:
        path.unlink()


def test_hdf5_window_of_a_2gb_dataset(tmp_path):
    path = tmp_path / "big.h5"
    with h5py.File(path, "w") as h5:
        acq = h5.create_group("Acquisition")
        acq.attrs.update(
            {
                "schemaVersion": np.bytes_("2.1"),
                "SpatialSamplingInterval": 1.0,
                "NumberOfLoci": N_CHANNELS,
                "StartLocusIndex": 0,
                "MeasurementStartTime": np.bytes_("2023-11-14T22:13:20Z"),
            }
        )
        raw = acq.create_group("Raw[0]")
        raw.attrs["OutputDataRate"] = RATE
        data = raw.create_dataset(
            "RawData", shape=(N_SAMPLES, N_CHANNELS), dtype="f4", chunks=(1000, N_CHANNELS), compression="gzip"
        )
        data.attrs["Dimensions"] = np.array([b"time", b"locus"])
        data[WINDOW[0] : WINDOW[1], :] = window_values().T
        zeros = zlib.compress(np.zeros((1000, N_CHANNELS), dtype="f4").tobytes(), 1)
        for start in range(0, N_SAMPLES, 1000):  # the other chunks: stored compressed zeros (unwritten is refused)
            if start != WINDOW[0]:
                data.id.write_direct_chunk((start, 0), zeros)
        raw.create_dataset("RawDataTime", data=T0 // 1000 + np.arange(N_SAMPLES, dtype=np.int64) * 1000)
    try:
        assert os.path.getsize(path) < 50e6  # 2 GB of samples, compressed zeros but for the window
        (rec,), _ = formats.scan(str(path))
        assert rec.n_samples * rec.n_channels * 4 == 2_000_000_000
        block, peak = peak_bytes_while(lambda: formats.read_samples(rec, *WINDOW))
        np.testing.assert_array_equal(block, window_values())
        assert peak < 4 * WINDOW_BYTES, f"peak {peak / 1e6:.1f} MB for a {WINDOW_BYTES / 1e6:.1f} MB window"
    finally:
        path.unlink()


@pytest.mark.parametrize(
    "shape,dtype", [((1000, 7), np.float32), ((257, 300), np.int16), ((3, 5), np.float64), ((0, 4), np.float32)]
)
def test_time_major_blocks_are_transposed_exactly(shape, dtype):
    from raydas.formats.base import time_major_to_float32

    block = (np.random.default_rng(1).standard_normal(shape) * 1000).astype(dtype)
    out = time_major_to_float32(block[:, ::1])
    assert out.dtype == np.float32 and out.flags["C_CONTIGUOUS"] and out.shape == shape[::-1]
    np.testing.assert_array_equal(out, block.T.astype(np.float32))
