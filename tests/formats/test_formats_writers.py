"""Writers (PRODML HDF5, npy + axes, Parquet band table, SEG-Y in its own test
file, WITSML in the depth-log tests): each written file is read back through
its reader and checked plainly (h5py, numpy, pyarrow); Chunk <-> xarray."""

from __future__ import annotations

import sys

import h5py
import numpy as np
import pytest

from raydas import formats
from raydas.chunk import Chunk
from raydas.errors import RaydasError
from raydas.timeutil import NS_PER_S

START = 1_717_243_200 * NS_PER_S + 125_000_000  # 2024-06-01T12:00:00.125Z


@pytest.fixture
def chunk() -> Chunk:
    data = np.random.default_rng(7).standard_normal((5, 400)).astype(np.float32)
    return Chunk(
        data,
        data_start_ns=START,
        dt=0.002,
        positions=100.0 + 2.0 * np.arange(5),
        units="strain/s",
        gauge_length=8.0,
        source="synthetic",
    )


def test_prodml_writer_round_trip(tmp_path, chunk):
    url = str(tmp_path / "out.h5")
    assert formats.write(chunk, url) == [url]
    with h5py.File(url, "r") as h5:
        acq = h5["Acquisition"]
        assert acq.attrs["GaugeLength.uom"] == b"m" and acq.attrs["GaugeLength"] == 8.0
        assert acq.attrs["schemaVersion"] == b"2.1"
        raw = acq["Raw[0]"]
        assert list(raw["RawData"].attrs["Dimensions"]) == [b"time", b"locus"]
        np.testing.assert_array_equal(raw["RawData"][:], chunk.data.T)
        times = raw["RawDataTime"][:]
        assert times.dtype == np.int64 and times[0] == START // 1000 and times[1] - times[0] == 2000
    (rec,), failures = formats.scan(url)
    assert not failures and rec.format == "prodml"
    assert (rec.n_channels, rec.n_samples, rec.dt, rec.start_ns) == (5, 400, pytest.approx(0.002), START)
    assert rec.units == "strain/s" and rec.gauge_length == 8.0
    np.testing.assert_allclose(rec.positions, chunk.positions)
    np.testing.assert_array_equal(formats.read_samples(rec, 10, 60, slice(1, 4)), chunk.data[1:4, 10:60])


def test_npy_writer_round_trip(tmp_path, chunk):
    folder = str(tmp_path / "npy")
    written = formats.write(chunk, folder, format="distpy-npy")
    assert [w.rsplit("/", 1)[1] for w in written] == ["1717243200.125.npy", "measured_depth.npy", "time.npy"]
    np.testing.assert_array_equal(np.load(written[0]), chunk.data)
    np.testing.assert_array_equal(np.load(written[1]).ravel(), chunk.positions)
    (rec,), failures = formats.scan(folder)
    assert not failures and rec.format == "distpy-npy"
    assert rec.dt == pytest.approx(0.002) and rec.start_ns == START
    np.testing.assert_array_equal(rec.positions, chunk.positions)
    np.testing.assert_array_equal(formats.read_samples(rec, 0, 400), chunk.data)


def test_parquet_band_table_round_trip(tmp_path):
    import pyarrow.parquet as pq

    rng = np.random.default_rng(2)
    positions = np.array([10.0, 12.0, 14.0])
    bands = {
        name: Chunk(
            rng.random((3, 4)).astype(np.float32), data_start_ns=START, dt=1.0, positions=positions, units="energy"
        )
        for name in ("band_01_10-50", "band_02_50-200")
    }
    url = str(tmp_path / "bands.parquet")
    assert formats.write(bands, url) == [url]
    table = pq.read_table(url)
    assert table.num_rows == 2 * 3 * 4 and table.column_names == ["time", "position_m", "band", "value"]
    rows = table.to_pylist()
    first = rows[0]
    assert first["band"] == "band_01_10-50" and first["position_m"] == 10.0
    assert first["value"] == pytest.approx(float(bands["band_01_10-50"].data[0, 0]))
    records, failures = formats.scan(url)
    assert not failures and [r.key for r in records] == list(bands)
    for rec in records:
        assert (rec.n_channels, rec.n_samples, rec.dt, rec.start_ns) == (3, 4, 1.0, START)
        np.testing.assert_array_equal(formats.read_samples(rec, 0, 4), bands[rec.key].data)
        np.testing.assert_array_equal(formats.read_samples(rec, 1, 3, slice(0, 2)), bands[rec.key].data[:2, 1:3])


def test_write_picks_format_by_name_and_refuses_unknown(tmp_path, chunk):
    assert set(formats.writers()) >= {"segy", "prodml", "distpy-npy", "band-parquet"}
    url = str(tmp_path / "x.sgy")
    formats.write(chunk, url)
    assert formats.detect(url).name == "segy"
    with pytest.raises(RaydasError, match="cannot tell the format"):
        formats.write(chunk, str(tmp_path / "x.unknown"))
    with pytest.raises(RaydasError, match="has no writer"):
        formats.write(chunk, str(tmp_path / "x.tdms"), format="tdms")


# --- xarray ---------------------------------------------------------------------------------
def test_chunk_xarray_round_trip(chunk):
    with_halo = Chunk(
        chunk.data,
        chunk.start_ns,
        chunk.dt,
        chunk.positions,
        halo=(10, 20),
        units=chunk.units,
        gauge_length=chunk.gauge_length,
        source="a.sgy",
        index=3,
    )
    array = with_halo.to_xarray()
    assert array.dims == ("distance", "time")
    assert array["time"].dtype == np.dtype("datetime64[ns]")
    assert array["time"].values[0] == np.datetime64("2024-06-01T12:00:00.125", "ns")
    assert array["time"].values[1] - array["time"].values[0] == np.timedelta64(2_000_000, "ns")
    assert array["distance"].attrs["units"] == "m"
    assert array.attrs["units"] == "strain/s" and array.attrs["gauge_length"] == 8.0
    back = Chunk.from_xarray(array.transpose("time", "distance"))
    np.testing.assert_array_equal(back.data, with_halo.data)
    assert (back.data_start_ns, back.dt, back.halo, back.units, back.index) == (START, 0.002, (10, 20), "strain/s", 3)
    np.testing.assert_array_equal(back.positions, with_halo.positions)
    del array.attrs["dt"]
    assert Chunk.from_xarray(array).dt == pytest.approx(0.002)


def test_xarray_missing_gives_clear_error(chunk, monkeypatch):
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(ImportError, match=r"pip install 'raydas\[xarray\]'"):
        chunk.to_xarray()
