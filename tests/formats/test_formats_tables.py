"""Depth-log stacks (WITSML 1.3.1.1 FBE and LAS 2.0 FBE folders) and CSV
tables (long and DTS-wide): generated files, values checked against the
arrays they were written from, every file kept, gaps split, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from raydas import formats
from raydas.chunk import Chunk
from raydas.errors import FormatError
from raydas.formats.depthlog import SkippedFileWarning
from raydas.formats.witsml import fbe_document
from raydas.recording import assemble
from raydas.timeutil import NS_PER_S, parse_iso, unix_stem

T0 = parse_iso("2024-05-01T00:00:00Z")
DEPTH = np.array([100.0, 101.0, 102.5])
CURVES = ["band_0-nyquist", "band_01_10-50"]


def energies(k: int) -> np.ndarray:
    """(depth, curve) values of file k: easy to recognise."""
    return np.array([[k * 100 + d * 10 + c for c in range(len(CURVES))] for d in range(DEPTH.size)], float)


def write_fbe_folder(folder, seconds):
    folder.mkdir()
    for k, s in enumerate(seconds):
        t = T0 + s * NS_PER_S
        (folder / f"{unix_stem(t)}.fbe").write_bytes(fbe_document(DEPTH, energies(k), CURVES, t))


def test_fbe_folder_reingests_every_file_as_curve_time_series(tmp_path):
    folder = tmp_path / "fbe"
    write_fbe_folder(folder, [0, 10, 20, 30])
    records, failures = formats.scan(str(folder))
    assert not failures and sorted(r.key for r in records) == sorted(CURVES)
    for rec in records:
        assert rec.format == "witsml-fbe"
        assert (rec.n_channels, rec.n_samples, rec.dt, rec.start_ns) == (3, 4, 10.0, T0)  # the last file too
        column = CURVES.index(rec.key)
        expected = np.stack([energies(k)[:, column] for k in range(4)], axis=1)
        np.testing.assert_array_equal(formats.read_samples(rec, 0, 4), expected)
        np.testing.assert_array_equal(formats.read_samples(rec, 3, 4, slice(1, 3)), expected[1:3, 3:4])


def test_fbe_folder_with_a_gap_splits_and_is_reported(tmp_path):
    folder = tmp_path / "fbe"
    write_fbe_folder(folder, [0, 10, 20, 60, 70])
    records, _ = formats.scan(str(folder))
    band = sorted((r for r in records if r.key == CURVES[1]), key=lambda r: r.start_ns)
    assert [(r.n_samples, r.start_ns) for r in band] == [(3, T0), (2, T0 + 60 * NS_PER_S)]
    recordings, breaks = assemble(records)
    assert len(recordings) == 4 and {b.kind for b in breaks} == {"gap"}
    assert all("30 s missing" in b.detail for b in breaks)


def test_fbe_writer_round_trip_and_bad_file_in_folder(tmp_path):
    rng = np.random.default_rng(4)
    bands = {
        name: Chunk(rng.random((3, 5)).astype(np.float32), data_start_ns=T0, dt=2.0, positions=DEPTH) for name in CURVES
    }
    folder = str(tmp_path / "out")
    written = formats.write(bands, folder, format="witsml-fbe")
    assert len(written) == 5 and written[0].endswith(f"{unix_stem(T0)}.fbe")
    (tmp_path / "out" / "9999999999.fbe").write_text("<?xml version='1.0'?><WITSMLComposite><broken")
    with pytest.warns(SkippedFileWarning, match=r"9999999999\.fbe.*not well-formed XML"):
        records, failures = formats.scan(folder)
    assert not failures
    for rec in records:
        assert (rec.n_samples, rec.dt) == (5, 2.0)
        np.testing.assert_allclose(formats.read_samples(rec, 0, 5), bands[rec.key].data, rtol=1e-7)


def test_single_fbe_file_and_mixed_folder_are_read_file_by_file(tmp_path):
    folder = tmp_path / "mixed"
    write_fbe_folder(folder, [0, 1])
    (folder / "notes.txt").write_text("field notes, not data\n")
    found = formats.scan_all(str(folder))
    records, failures = found.records, found.failures
    assert not failures and [f.path.rsplit("/", 1)[1] for f in found.not_data] == ["notes.txt"]  # a document
    assert len(records) == 4 and all(r.n_samples == 1 and r.path.endswith(".fbe") for r in records)
    recordings, breaks = assemble(records)
    assert len(recordings) == 2 and not breaks  # 1-s files join into one series per curve


# --- LAS 2.0 -------------------------------------------------------------------------------
def las_text(date: str, rows: np.ndarray, version="2.0", null="-999.25") -> str:
    lines = [
        "~Version Information",
        f"VERS.   {version} : CWLS LOG ASCII STANDARD",
        "WRAP.   NO : one line per depth",
        "~Well Information",
        f"NULL.   {null} : null value",
        f"DATE.   {date} : DATE",
        "~Curve Information",
        "DEPT.M      : depth",
        "B01 .     : Frequency Band Energy 10-50",
        "B02 .     : Frequency Band Energy 50-200",
        "~Params",
        "~ASCII",
    ]
    lines += [" ".join(f"{v:g}" for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def test_las_folder_reads_bands_over_time(tmp_path):
    folder = tmp_path / "las"
    folder.mkdir()
    tables = []
    for k in range(3):
        rows = np.column_stack([DEPTH, 10 * k + np.arange(3), np.full(3, -999.25 if k == 1 else 5.0)])
        tables.append(rows)
        stamp = f"2024-05-01 00:0{k}:00+00:00"
        (folder / f"chunk{k}.las").write_text(las_text(stamp, rows))
    records, failures = formats.scan(str(folder))
    assert not failures and sorted(r.key for r in records) == ["B01", "B02"]
    b1 = next(r for r in records if r.key == "B01")
    assert (b1.format, b1.n_channels, b1.n_samples, b1.dt, b1.start_ns) == ("las-fbe", 3, 3, 60.0, T0)
    np.testing.assert_array_equal(b1.positions, DEPTH)
    np.testing.assert_array_equal(formats.read_samples(b1, 0, 3), np.stack([t[:, 1] for t in tables], axis=1))
    b2 = formats.read_samples(next(r for r in records if r.key == "B02"), 0, 3)
    assert np.isnan(b2[:, 1]).all() and (b2[:, [0, 2]] == 5.0).all()  # NULL -> NaN


def test_las_bad_input(tmp_path):
    rows = np.column_stack([DEPTH, np.ones(3), np.ones(3)])
    v3 = tmp_path / "v3.las"
    v3.write_text(las_text("2024-05-01 00:00:00", rows, version="3.0"))
    with pytest.raises(FormatError, match=r"v3\.las.*only LAS 2\.0"):
        formats.scan_file(str(v3))
    bad = tmp_path / "bad.las"
    bad.write_text(las_text("2024-05-01 00:00:00", rows).replace("101 1 1", "101 x 1"))
    with pytest.raises(FormatError, match=r"bad\.las.*non-numeric"):
        formats.scan_file(str(bad))
    nodate = tmp_path / "nodate.las"
    nodate.write_text(las_text("yesterday", rows))
    with pytest.raises(FormatError, match=r"nodate\.las.*not an ISO 8601"):
        formats.scan_file(str(nodate))


# --- CSV ---------------------------------------------------------------------------------------
def test_csv_long_layout(tmp_path):
    times = ["2024-05-01 00:00:00", "2024-05-01 00:01:00", "2024-05-01 00:02:00"]
    lines = ["time,depth,temperature,pressure"]
    expected_t = np.full((3, 3), np.nan)
    for j, t in enumerate(times):
        for i, d in enumerate(DEPTH):
            if (i, j) == (2, 1):
                continue  # a missing cell
            expected_t[i, j] = 20 + i + 0.5 * j
            lines.append(f"{t},{d},{expected_t[i, j]},{1000 + i}")
    path = tmp_path / "long.csv"
    path.write_text("\n".join(lines) + "\n")
    records, failures = formats.scan(str(path))
    by_key = {r.key: r for r in records}
    assert not failures and sorted(by_key) == ["pressure", "temperature"]
    rec = by_key["temperature"]
    assert (rec.format, rec.n_channels, rec.n_samples, rec.dt, rec.start_ns) == ("csv", 3, 3, 60.0, T0)
    np.testing.assert_array_equal(rec.positions, DEPTH)
    np.testing.assert_array_equal(formats.read_samples(rec, 0, 3), expected_t.astype(np.float32))
    pressure = formats.read_samples(by_key["pressure"], 0, 3)
    assert pressure[0, 0] == 1000 and np.isnan(pressure[2, 1])


def test_csv_dts_wide_layout(tmp_path):
    header = "depth,2024-05-01T00:00:00Z,2024-05-01T00:00:30Z,2024-05-01T00:01:00Z,2024-05-01T00:01:30Z"
    grid = np.arange(12, dtype=float).reshape(3, 4)
    rows = [f"{d}," + ",".join(f"{v:g}" for v in grid[i]) for i, d in enumerate(DEPTH)]
    path = tmp_path / "dts.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    (rec,), failures = formats.scan(str(path))
    assert not failures
    assert (rec.n_channels, rec.n_samples, rec.dt, rec.start_ns, rec.attrs["layout"]) == (3, 4, 30.0, T0, "wide")
    np.testing.assert_array_equal(formats.read_samples(rec, 1, 4, slice(0, 2)), grid[:2, 1:4])


def test_csv_bad_input(tmp_path):
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("time,depth,value\n2024-05-01 00:00:00,1,2\n2024-05-01 00:00:01,1,2,3,4\n")
    with pytest.raises(FormatError, match=r"ragged\.csv.*well-formed"):
        formats.scan_file(str(ragged))
    words = tmp_path / "words.csv"
    words.write_text("time,depth,value\n2024-05-01 00:00:00,deep,2\n2024-05-01 00:00:01,1,2\n")
    with pytest.raises(FormatError, match=r"words\.csv.*depth.*not numeric"):
        formats.scan_file(str(words))
    prose = tmp_path / "prose.csv"
    prose.write_text("Dear reader, this is a letter,\nnot a table, sadly.\n")
    with pytest.raises(FormatError, match=r"prose\.csv.*not in a recognised"):
        formats.scan_file(str(prose))
