"""SEG-Y reader on the real sample files and on siblings written by segyio
(either byte order, every common sample format, ASCII and extended textual
headers, empty trace-header sample counts), the SEG-Y writer, and bad input."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import segyio

from raydas import formats
from raydas.chunk import Chunk
from raydas.errors import FormatError, RaydasError
from raydas.timeutil import NS_PER_S

REAL = ["small_channel_patch.sgy", "f3.sgy", "Format5msb.sgy"]


def segyio_read(path: str) -> tuple[np.ndarray, float]:
    """(traces x samples) float32 and the interval in s, as segyio reads them."""
    with segyio.open(path, ignore_geometry=True, endian="big") as f:
        return np.asarray(f.trace.raw[:], dtype=np.float32), segyio.tools.dt(f) * 1e-6


@pytest.mark.parametrize("name", REAL)
def test_real_segy_matches_segyio(real_data, name):
    path = str(real_data / "segy" / name)
    expected, interval = segyio_read(path)
    records, failures = formats.scan(path)
    assert not failures and len(records) == 1
    rec = records[0]
    assert rec.format == "segy"
    assert (rec.n_channels, rec.n_samples) == expected.shape
    assert rec.dt == pytest.approx(interval)
    data = formats.read_samples(rec, 0, rec.n_samples)
    assert data.dtype == np.float32
    np.testing.assert_array_equal(data, expected)
    window = formats.read_samples(rec, 5, 17, slice(2, 9, 3))
    np.testing.assert_array_equal(window, expected[2:9:3, 5:17])


def test_f3_binary_sample_count_wins_over_trace_headers(real_data):
    path = str(real_data / "segy" / "f3.sgy")
    with segyio.open(path, ignore_geometry=True) as f:
        in_trace_header = f.header[0][segyio.TraceField.TRACE_SAMPLE_COUNT]
        in_binary = f.bin[segyio.BinField.Samples]
    assert (in_trace_header, in_binary) == (462, 75)
    (rec,), _ = formats.scan(path)
    assert rec.n_samples == 75 and rec.n_channels == 414
    assert rec.attrs["trace_header_sample_counts"] == [462]
    assert rec.attrs["sample_format"] == "int16"


def test_small_channel_patch_start_time(real_data):
    path = str(real_data / "segy" / "small_channel_patch.sgy")
    with segyio.open(path, ignore_geometry=True) as f:
        h = f.header[0]
        year, day = h[segyio.TraceField.YearDataRecorded], h[segyio.TraceField.DayOfYear]
        hms = (h[segyio.TraceField.HourOfDay], h[segyio.TraceField.MinuteOfHour], h[segyio.TraceField.SecondOfMinute])
    expected = dt.datetime(year, 1, 1, *hms, tzinfo=dt.UTC) + dt.timedelta(days=day - 1)
    (rec,), _ = formats.scan(path)
    assert rec.start_ns == int(expected.timestamp()) * NS_PER_S
    assert rec.attrs["revision"] == 2


# --- siblings written by segyio --------------------------------------------------
def write_with_segyio(
    path, data, interval_us=2000, fmt=5, endian="big", ext_headers=0, trace_sample_count=True, text_ascii=False
):
    spec = segyio.spec()
    spec.format = fmt
    spec.samples = list(range(data.shape[1]))
    spec.tracecount = data.shape[0]
    spec.endian = endian
    spec.ext_headers = ext_headers
    with segyio.create(path, spec) as f:
        f.bin.update(
            {
                segyio.BinField.Interval: interval_us,
                segyio.BinField.Samples: data.shape[1],
                segyio.BinField.Format: fmt,
                segyio.BinField.ExtendedHeaders: ext_headers,
            }
        )
        for k in range(ext_headers):
            f.text[k + 1] = segyio.tools.create_text_header({1: f"extended header {k}", 40: "((SEG: EndText))"})
        for i in range(data.shape[0]):
            f.header[i] = {
                segyio.TraceField.TRACE_SAMPLE_COUNT: data.shape[1] if trace_sample_count else 0,
                segyio.TraceField.TRACE_SAMPLE_INTERVAL: interval_us if trace_sample_count else 0,
                segyio.TraceField.ReceiverGroupElevation: 100 + 5 * i,
                segyio.TraceField.ElevationScalar: 1,
                segyio.TraceField.YearDataRecorded: 2024,
                segyio.TraceField.DayOfYear: 32,
                segyio.TraceField.HourOfDay: 6,
            }
            f.trace[i] = data[i]
    if text_ascii:
        card = "".join(f"C{i + 1:2d} ASCII text header line {i + 1}".ljust(80) for i in range(40))
        with open(path, "r+b") as fh:
            fh.write(card.encode("ascii"))


SAMPLE_FORMATS = {1: np.float32, 2: np.int32, 3: np.int16, 5: np.float32, 8: np.int8}


def _values(fmt: int, shape=(7, 50), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if SAMPLE_FORMATS[fmt] is np.float32:
        return (rng.standard_normal(shape) * 1000).astype(np.float32)
    info = np.iinfo(SAMPLE_FORMATS[fmt])
    return rng.integers(info.min, info.max, shape, endpoint=True).astype(SAMPLE_FORMATS[fmt])


@pytest.mark.parametrize("endian", ["big", "little"])
@pytest.mark.parametrize("fmt", sorted(SAMPLE_FORMATS))
def test_segyio_siblings_every_format_either_byte_order(tmp_path, endian, fmt):
    data = _values(fmt)
    path = str(tmp_path / f"f{fmt}_{endian}.sgy")
    write_with_segyio(path, data, fmt=fmt, endian=endian)
    with segyio.open(path, ignore_geometry=True, endian=endian) as f:
        expected = np.asarray(f.trace.raw[:], dtype=np.float32)
    (rec,), failures = formats.scan(path)
    assert not failures
    assert rec.attrs["byte_order"] == endian
    assert (rec.n_channels, rec.n_samples, rec.dt) == (7, 50, pytest.approx(0.002))
    np.testing.assert_array_equal(rec.positions, 100 + 5 * np.arange(7))
    np.testing.assert_array_equal(formats.read_samples(rec, 0, 50), expected)
    if fmt != 1:  # IBM floats are rounded by the encoding; the others hold the values exactly
        np.testing.assert_array_equal(expected, data.astype(np.float32))
    assert rec.start_ns == int(dt.datetime(2024, 2, 1, 6, tzinfo=dt.UTC).timestamp()) * NS_PER_S


def test_little_endian_with_empty_trace_header_counts_and_ascii_text(tmp_path):
    data = _values(5, (4, 33))
    path = str(tmp_path / "le_ascii.sgy")
    write_with_segyio(path, data, endian="little", trace_sample_count=False, text_ascii=True)
    with open(path, "rb") as fh:
        assert fh.read(3) == b"C 1"
    (rec,), failures = formats.scan(path)
    assert not failures
    assert (rec.n_channels, rec.n_samples) == (4, 33)
    np.testing.assert_array_equal(formats.read_samples(rec, 3, 30), data[:, 3:30])


def test_empty_binary_header_sample_count_falls_back_to_the_trace_header(tmp_path):
    """Some writers leave the binary header's samples-per-trace and interval at 0;
    the first trace header then says them (and must be read, not refused)."""
    data = _values(5, (3, 21))
    path = str(tmp_path / "no_binary_count.sgy")
    write_with_segyio(path, data, interval_us=500)
    with open(path, "r+b") as fh:
        fh.seek(3216)  # binary header: sample interval (3217-3218) and samples per trace (3221-3222)
        fh.write(b"\x00\x00\x00\x00\x00\x00")
    (rec,), failures = formats.scan(path)
    assert not failures
    assert (rec.n_channels, rec.n_samples, rec.dt) == (3, 21, pytest.approx(0.0005))
    np.testing.assert_array_equal(formats.read_samples(rec, 0, 21), data)


def test_extended_textual_headers_are_skipped(tmp_path):
    data = _values(5, (3, 40))
    path = str(tmp_path / "ext.sgy")
    write_with_segyio(path, data, ext_headers=2)
    (rec,), failures = formats.scan(path)
    assert not failures
    assert rec.attrs["data_offset"] == 3600 + 2 * 3200
    np.testing.assert_array_equal(formats.read_samples(rec, 0, 40), data)


# --- writer -------------------------------------------------------------------------
def test_writer_round_trip_through_reader_and_segyio(tmp_path):
    rng = np.random.default_rng(3)
    start = 1_700_000_000 * NS_PER_S + 250_000_000  # .25 s after a whole second
    chunk = Chunk(
        rng.standard_normal((6, 3000)).astype(np.float32),
        data_start_ns=start,
        dt=1 / 2500,
        positions=12.5 + 1.021 * np.arange(6),
        units="strain/s",
        gauge_length=10.0,
    )
    url = str(tmp_path / "out.segy")
    assert formats.write(chunk, url) == [url]
    (rec,), _ = formats.scan(url)
    assert rec.format == "segy" and rec.start_ns == start and rec.dt == pytest.approx(4e-4)
    assert rec.units == "strain/s"
    np.testing.assert_allclose(rec.positions, chunk.positions, atol=5e-4)
    np.testing.assert_array_equal(formats.read_samples(rec, 0, 3000), chunk.data)
    with segyio.open(url, ignore_geometry=True) as f:
        np.testing.assert_array_equal(np.asarray(f.trace.raw[:]), chunk.data)
        assert f.bin[segyio.BinField.Interval] == 400
        assert f.header[5][segyio.TraceField.DelayRecordingTime] == 250


def test_writer_long_traces_use_rev2_extended_fields(tmp_path):
    chunk = Chunk(
        np.arange(2 * 70_000, dtype=np.float32).reshape(2, -1), data_start_ns=0, dt=1 / 3000, positions=[0.0, 1.0]
    )
    url = str(tmp_path / "long.sgy")
    formats.write(chunk, url, format="segy")
    (rec,), _ = formats.scan(url)
    assert rec.n_samples == 70_000 and rec.dt == pytest.approx(1 / 3000, rel=1e-12)
    np.testing.assert_array_equal(formats.read_samples(rec, 69_990, 70_000), chunk.data[:, -10:])


def test_ibm_writer_words_are_segyio_words(tmp_path):
    """The writer's IBM floats (sample format 1) are bit for bit what segyio writes
    for every normal number, and read back (raydas, segyio) as segyio's do."""
    rng = np.random.default_rng(11)
    values = (rng.standard_normal(4000) * 10.0 ** rng.integers(-30, 30, 4000)).astype(np.float32)
    values[:6] = [0.0, -0.0, 1.0, -1.0, 0.1, np.finfo(np.float32).max]
    data = values.reshape(4, 1000)
    ours, theirs = str(tmp_path / "ours.sgy"), str(tmp_path / "theirs.sgy")
    chunk = Chunk(data, data_start_ns=1_700_000_000 * NS_PER_S, dt=0.001, positions=np.arange(4.0))
    assert formats.write(chunk, ours, sample_format=1) == [ours]
    write_with_segyio(theirs, data.copy(), fmt=1)  # segyio converts its input in place: give it a copy
    trace_bytes = 240 + 4 * 1000
    with open(ours, "rb") as a, open(theirs, "rb") as b:
        mine = np.frombuffer(a.read()[3600:], np.uint8).reshape(4, trace_bytes)[:, 240:]
        segyio_words = np.frombuffer(b.read()[3600:], np.uint8).reshape(4, trace_bytes)[:, 240:]
    np.testing.assert_array_equal(mine, segyio_words)
    (rec,), _ = formats.scan(ours)
    assert rec.attrs["sample_format"] == "IBM float32"
    expected, _ = segyio_read(theirs)
    np.testing.assert_array_equal(formats.read_samples(rec, 0, 1000), expected)
    np.testing.assert_array_equal(segyio_read(ours)[0], expected)
    with pytest.raises(RaydasError, match="sample_format 3"):
        formats.write(chunk, str(tmp_path / "int.sgy"), sample_format=3)


# --- bad input ----------------------------------------------------------------------
@pytest.fixture
def good_segy(tmp_path) -> str:
    path = str(tmp_path / "good.sgy")
    write_with_segyio(path, _values(5, (5, 64)))
    return path


def test_truncated_segy_names_file_and_problem(good_segy):
    with open(good_segy, "r+b") as fh:
        fh.truncate(3600 + 2 * (240 + 64 * 4) + 100)
    with pytest.raises(FormatError, match=r"good\.sgy.*truncated.*2 complete traces"):
        formats.scan_file(good_segy)


def test_corrupted_binary_header_is_not_recognised(good_segy):
    with open(good_segy, "r+b") as fh:
        fh.seek(3200 + 24)
        fh.write(b"\x7f\x7f")  # sample format code 32639 in either byte order
    with pytest.raises(FormatError, match=r"good\.sgy.*not in a recognised DAS format"):
        formats.scan_file(good_segy)
    with pytest.raises(FormatError, match=r"good\.sgy.*sample format code"):
        formats.scan_file(good_segy, format="segy")


def test_header_claiming_more_samples_than_the_file_holds(good_segy):
    with open(good_segy, "r+b") as fh:
        fh.seek(3200 + 20)
        fh.write((60000).to_bytes(2, "big"))
    with pytest.raises(FormatError, match=r"good\.sgy.*(holds no traces|truncated)"):
        formats.scan_file(good_segy)


def test_empty_and_wrong_type_files(tmp_path):
    empty = tmp_path / "empty.sgy"
    empty.write_bytes(b"")
    with pytest.raises(FormatError, match=r"empty\.sgy.*empty"):
        formats.scan_file(str(empty))
    text = tmp_path / "notes.sgy"
    text.write_text("not seismic at all\n" * 300)
    with pytest.raises(FormatError, match=r"notes\.sgy.*not in a recognised"):
        formats.scan_file(str(text))
