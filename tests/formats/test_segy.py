"""SEG-Y reader: real files checked against segyio, and generated siblings."""

from __future__ import annotations

import numpy as np
import pytest
import segyio

from raydas import formats
from raydas.errors import FormatError
from raydas.timeutil import parse_iso

REAL = ["small_channel_patch.sgy", "f3.sgy", "Format5msb.sgy"]


def segyio_traces(path) -> np.ndarray:
    with segyio.open(path, ignore_geometry=True) as f:
        return np.asarray(f.trace.raw[:], dtype=np.float64)


@pytest.mark.parametrize("name", REAL)
def test_real_files_match_segyio(real_data, name):
    path = str(real_data / "segy" / name)
    assert formats.detect(path).name == "segy"
    (record,) = formats.scan_file(path)
    reference = segyio_traces(path)
    assert (record.n_channels, record.n_samples) == reference.shape  # one trace = one channel
    assert record.sample_rate == pytest.approx(250.0)  # dt 4 ms in every file
    data = formats.read_samples(record, 0, record.n_samples)
    assert data.dtype == np.float32
    np.testing.assert_allclose(data, reference, rtol=1e-6)
    window = formats.read_samples(record, 5, 17, slice(3, 9))
    np.testing.assert_allclose(window, reference[3:9, 5:17], rtol=1e-6)


def test_binary_header_sample_count_wins(real_data):
    # f3.sgy: trace headers still say 462 samples, the binary header says 75 (segyio agrees with 75)
    (record,) = formats.scan_file(str(real_data / "segy" / "f3.sgy"))
    assert record.n_samples == 75
    assert record.attrs["trace_header_sample_counts"] == [462]
    assert record.attrs["sample_format"] == "int16"


def test_start_time_and_delay(real_data):
    (patch,) = formats.scan_file(str(real_data / "segy" / "small_channel_patch.sgy"))
    assert patch.start_ns == parse_iso("2017-09-18T00:00:00Z")  # year 2017, day 261
    (f3,) = formats.scan_file(str(real_data / "segy" / "f3.sgy"))
    assert f3.start_ns == 4_000_000  # no date; samples start after the 4 ms delay recording time


def _write(path, data, fmt, endian="big", interval_us=1000, depth=None, binary_traces=None, extra_bin=None):
    spec = segyio.spec()
    spec.format = fmt
    spec.samples = list(range(data.shape[1]))
    spec.tracecount = data.shape[0]
    spec.endian = endian
    with segyio.create(str(path), spec) as f:
        f.bin.update(
            {segyio.BinField.Interval: interval_us, segyio.BinField.Samples: data.shape[1], segyio.BinField.Format: fmt}
        )
        if binary_traces is not None:
            f.bin.update({segyio.BinField.Traces: binary_traces})
        if extra_bin:
            f.bin.update(extra_bin)
        for i in range(data.shape[0]):
            header = {
                segyio.TraceField.TRACE_SAMPLE_COUNT: data.shape[1],
                segyio.TraceField.TRACE_SAMPLE_INTERVAL: interval_us,
            }
            if depth is not None:
                header[segyio.TraceField.ReceiverGroupElevation] = int(depth[i] * 100)
                header[segyio.TraceField.ElevationScalar] = -100
            f.header[i] = header
            f.trace[i] = data[i]


@pytest.mark.parametrize("fmt,dtype", [(1, np.float32), (5, np.float32), (2, np.int32), (3, np.int16), (8, np.int8)])
@pytest.mark.parametrize("endian", ["big", "little"])
def test_sample_formats_and_byte_orders(tmp_path, fmt, dtype, endian):
    rng = np.random.default_rng(fmt)
    if np.issubdtype(dtype, np.integer):
        data = rng.integers(-100, 100, size=(7, 33)).astype(dtype)
    else:
        data = rng.standard_normal((7, 33)).astype(dtype)
    path = tmp_path / f"f{fmt}_{endian}.sgy"
    _write(path, data, fmt, endian=endian, depth=100.0 + 2.5 * np.arange(7))
    (record,) = formats.scan_file(str(path))
    assert record.attrs["byte_order"] == endian
    assert record.sample_rate == pytest.approx(1000.0)
    np.testing.assert_allclose(record.positions, 100.0 + 2.5 * np.arange(7))  # receiver elevation / 100
    got = formats.read_samples(record, 0, 33)
    reference = segyio_traces(path) if endian == "big" else data.astype(np.float64)
    tol = 1e-6 if fmt == 1 else 0  # IBM floats round-trip to ~1e-7
    np.testing.assert_allclose(got, reference, rtol=tol, atol=0 if fmt != 1 else 1e-6)


def test_trace_count_from_file_size_when_header_lies(tmp_path):
    data = np.arange(5 * 12, dtype=np.float32).reshape(5, 12)
    path = tmp_path / "lies.sgy"
    _write(path, data, 5, binary_traces=999)
    (record,) = formats.scan_file(str(path))
    assert record.n_channels == 5


def test_truncated_file_is_a_clear_error(tmp_path):
    data = np.ones((4, 50), dtype=np.float32)
    good = tmp_path / "good.sgy"
    _write(good, data, 5)
    cut = tmp_path / "cut.sgy"
    cut.write_bytes(good.read_bytes()[:-37])
    with pytest.raises(FormatError) as err:
        formats.scan_file(str(cut))
    assert "cut.sgy" in str(err.value) and "truncated" in str(err.value)


def test_headers_only_file_is_not_segy_data(tmp_path):
    path = tmp_path / "headers.sgy"
    data = np.ones((2, 10), dtype=np.float32)
    _write(path, data, 5)
    path.write_bytes(path.read_bytes()[:3600])
    with pytest.raises(FormatError) as err:
        formats.scan_file(str(path))
    assert "headers.sgy" in str(err.value)


def test_reads_from_memory_url(real_data):
    import fsspec

    payload = (real_data / "segy" / "small_channel_patch.sgy").read_bytes()
    fs = fsspec.filesystem("memory")
    fs.pipe("/segy-test/patch.sgy", payload)
    (record,) = formats.scan_file("memory://segy-test/patch.sgy")
    got = formats.read_samples(record, 2, 9, slice(1, 4))
    reference = segyio_traces(real_data / "segy" / "small_channel_patch.sgy")
    np.testing.assert_allclose(got, reference[1:4, 2:9], rtol=1e-6)
