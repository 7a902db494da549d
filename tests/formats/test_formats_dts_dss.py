"""The slow fibre readers (DTS temperature and DSS strain profiles, a few
readings stamped as they come) on the samples of ../shared/testdata/fibre:
Febus T1 DTS and Neubrex RFS DSS, each checked against a plain h5py read
written here, with the stamps kept as the file has them (never snapped to a
regular grid), and on h5py-written siblings that lie or break.

The samples stay in ``fibre/`` (the shared folder is read-only); their expected
values are here.
"""

from __future__ import annotations

import datetime as dt
import shutil

import h5py
import numpy as np
import pytest

from raydas import formats
from raydas.errors import FormatError, PlanError
from raydas.pipeline import Pipeline

DTS = ("dts/febus_dts.h5", "dts/febus_dts_1_C1_20250424_231747.h5")
RFS = "dss/neubrex_dss_forge.h5"
#: (shape (time, distance), T[0,0], T[-1,-1], mean, first stamp (UTC)) from the research notes
DTS_EXPECTED = {
    DTS[0]: ((12, 1103), 21.519973528784238, 17.994745786996322, 24.69696235890186, "2026-05-29T22:48:01.007"),
    DTS[1]: ((5, 1961), 19.17549960311017, 23.66124743964597, 22.986898875678587, "2025-04-24T21:17:47.525"),
}
#: the six Neubrex readings in UTC (stamps_unix), and the same instants as the local stamps write them
RFS_UTC = [
    "2023-07-15T16:52:09.112303",
    "2023-07-15T16:58:19.049524",
    "2023-07-15T17:04:29.057851",
    "2023-07-20T22:00:18.124022",
    "2023-07-20T22:06:28.212142",
    "2023-07-20T22:12:38.208072",
]
INVALID = np.float32(-229526.08)


def ns(text: str) -> int:
    return int(np.datetime64(text, "ns").astype(np.int64))


def scan_one(path):
    records = formats.scan_file(str(path))
    assert len(records) == 1
    return records[0]


# --- Febus T1 DTS -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", DTS)
def test_febus_dts_against_h5py(fibre_data, name):
    path = fibre_data / name
    assert formats.detect(str(path)).name == "febus-dts"
    rec = scan_one(path)
    with h5py.File(path, "r") as f:
        temperature = f["Data/Temperature"][()]
        seconds = f["Data/Time"][:, 0]
        distance = f["Data/Distance"][()]
    shape, first, last, mean, start = DTS_EXPECTED[name]
    assert temperature.shape == shape and (rec.n_samples, rec.n_channels) == shape
    assert (temperature[0, 0], temperature[-1, -1]) == (first, last)
    assert temperature.mean() == pytest.approx(mean, rel=1e-12)
    stamps = np.array([round(s * 1e6) * 1000 for s in seconds.tolist()])  # epoch s, to the microsecond
    assert not rec.regular and rec.start_ns == ns(start) == stamps[0]
    np.testing.assert_array_equal(rec.times_ns, stamps)  # every stamp as stored, jitter included
    assert rec.dt == pytest.approx(float(np.median(np.diff(seconds))), abs=1e-6)
    np.testing.assert_array_equal(rec.positions, distance)
    assert (rec.quantity, rec.units, rec.assumed) == ("temperature", "°C", ("units", "gauge_length"))
    full = formats.read_samples(rec, 0, rec.n_samples)
    np.testing.assert_array_equal(full, temperature.T.astype(np.float32))
    window = formats.get_format("febus-dts").read(str(path), start_ns=int(stamps[1]), end_ns=int(stamps[3]))
    np.testing.assert_array_equal(window.times_ns, stamps[1:3])
    np.testing.assert_array_equal(window.data, temperature[1:3].T.astype(np.float32))


def test_febus_dts_stamps_are_not_snapped(fibre_data):
    rec = scan_one(fibre_data / DTS[0])
    steps = np.diff(rec.times_ns) / 1e9
    assert steps.min() == pytest.approx(320.846, abs=1e-3) and steps.max() == pytest.approx(320.881, abs=1e-3)
    assert rec.time_of(11) == ns("2026-05-29T23:46:50.618")  # DASCore 0.1.24 gives .676: a regular grid's end
    listed = rec.to_dict()
    assert listed["sample_rate_hz"] is None and len(listed["times"]) == 12 and listed["regular"] is False


def test_a_command_on_a_dts_record_is_refused_at_planning(fibre_data):
    rec = scan_one(fibre_data / DTS[1])
    p = Pipeline.from_config({"command_list": [{"name": "butter", "freq": 0.01, "uid": 1, "in_uid": 0}]})
    with pytest.raises(PlanError, match=r"febus_dts_1_C1.*butter.*needs a regular sample rate.*5 readings"):
        p.check_record(rec)


def _dts_sibling(path, n_time=3, n_dist=4, time_rows=None, distance=None, seconds=None):
    with h5py.File(path, "w") as f:
        f.attrs["device"] = np.bytes_(b"DTS")
        f.attrs["measurement"] = np.bytes_(b"Temperature")
        f.create_dataset("Data/Temperature", data=np.arange(n_time * n_dist, dtype=np.float64).reshape(n_time, -1))
        t = 1.7e9 + 10.0 * np.arange(n_time if time_rows is None else time_rows) if seconds is None else seconds
        f.create_dataset("Data/Time", data=np.asarray(t, np.float64)[:, None])
        f.create_dataset("Data/Distance", data=np.arange(n_dist) * 0.5 if distance is None else distance)
    return str(path)


def test_febus_dts_that_lies_is_refused_naming_it(tmp_path):
    good = _dts_sibling(tmp_path / "good.h5")
    (rec,) = formats.scan_file(good)
    assert rec.n_channels == 4 and rec.n_samples == 3 and rec.dt == 10.0
    with pytest.raises(FormatError, match=r"rows\.h5: Data/Time has shape \(2, 1\)"):
        formats.scan_file(_dts_sibling(tmp_path / "rows.h5", time_rows=2))
    with pytest.raises(FormatError, match=r"dist\.h5: Data/Distance has 3 positions for 4 columns"):
        formats.scan_file(_dts_sibling(tmp_path / "dist.h5", distance=np.arange(3.0)))
    with pytest.raises(FormatError, match=r"back\.h5: Data/Time is not increasing \(reading 2\)"):
        formats.scan_file(_dts_sibling(tmp_path / "back.h5", seconds=[1.7e9, 1.7e9 + 5, 1.7e9 + 1]))
    with pytest.raises(FormatError, match=r"nan\.h5: Data/Time\[1\] = nan is not a time since 1970"):
        formats.scan_file(_dts_sibling(tmp_path / "nan.h5", seconds=[1.7e9, np.nan, 1.7e9 + 1]))
    single = _dts_sibling(tmp_path / "single.h5", n_time=1)
    (one,) = formats.scan_file(single)
    assert one.n_samples == 1 and one.times_ns.tolist() == [1_700_000_000 * 10**9] and one.dt == 1.0


def test_febus_dts_truncated_is_refused_naming_it(fibre_data, tmp_path):
    data = (fibre_data / DTS[0]).read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match=r"cut\.h5"):
        rec = formats.scan_file(str(cut))[0]
        formats.read_samples(rec, 0, rec.n_samples)


# --- Neubrex RFS DSS ------------------------------------------------------------------------------------------------
def test_neubrex_rfs_against_h5py(fibre_data):
    path = fibre_data / RFS
    assert formats.detect(str(path)).name == "neubrex-rfs"
    rec = scan_one(path)
    with h5py.File(path, "r") as f:
        data = f["data"][()]
        depth = f["depth"][()]
        unix_us = f["stamps_unix"][()]
    assert data.shape == (6, 75367) and (rec.n_samples, rec.n_channels) == data.shape
    assert data[0, 0] == np.float32(1.6245117) and data[3, 37683] == np.float32(2793.168)
    np.testing.assert_array_equal(rec.times_ns, [ns(t) for t in RFS_UTC])
    np.testing.assert_array_equal(rec.times_ns, np.round(unix_us).astype(np.int64) * 1000)
    np.testing.assert_array_equal(rec.positions, depth.astype(np.float64))
    assert (rec.quantity, rec.units, rec.assumed) == ("strain", "micro-strain", ("positions", "gauge_length"))
    expected = np.where(data == INVALID, np.nan, data).T  # the invalid marker read as NaN
    full = formats.read_samples(rec, 0, rec.n_samples)
    np.testing.assert_array_equal(full, expected)
    assert np.isnan(full).sum() == (data == INVALID).sum() > 0
    assert np.nanmean(full.astype(np.float64)) == pytest.approx(1930.4524747337086, rel=1e-9)
    np.testing.assert_array_equal(formats.read_samples(rec, 2, 5, slice(100, 200)), expected[100:200, 2:5])
    assert rec.dt == pytest.approx(370.008, abs=1e-3)  # the median step, not a rate


def test_neubrex_rfs_local_stamps_give_the_same_times(fibre_data, tmp_path):
    """A file with only the local text stamps and TimeZoneFormat (as the instrument writes beside stamps_unix)."""
    sibling = tmp_path / "local.h5"
    with h5py.File(fibre_data / RFS, "r") as src, h5py.File(sibling, "w") as dst:
        dst.create_dataset("data", data=src["data"][:, :50])
        for k, v in src["data"].attrs.items():
            dst["data"].attrs[k] = v
        dst.create_dataset("depth", data=src["depth"][:50])
        dst.create_dataset("stamps", data=src["stamps"][()])
        local = [dt.datetime.strptime(s.decode(), "%m/%d/%Y %H:%M:%S.%f") for s in src["stamps"][()]]
    rec = scan_one(sibling)
    assert rec.attrs["time_from"] == "stamps"
    utc = [int(np.datetime64(t + dt.timedelta(hours=6), "ns").astype(np.int64)) for t in local]  # -06:00
    np.testing.assert_array_equal(rec.times_ns, utc)
    np.testing.assert_array_equal(rec.times_ns, [ns(t) for t in RFS_UTC])


def test_neubrex_rfs_that_lies_is_refused_naming_it(tmp_path):
    def sibling(name, depth_n=4, stamps=None, zone="-06:00"):
        path = tmp_path / name
        with h5py.File(path, "w") as f:
            f.create_dataset("data", data=np.ones((2, 4), np.float32))
            f["data"].attrs["TimeZoneFormat"] = zone
            f.create_dataset("depth", data=np.arange(depth_n, dtype=np.float32))
            f.create_dataset("stamps", data=stamps if stamps is not None else [b"07/15/2023 10:52:09.112303"] * 2)
        return str(path)

    with pytest.raises(FormatError, match=r"same\.h5: stamps is not increasing \(reading 1\)"):
        formats.scan_file(sibling("same.h5"))
    with pytest.raises(FormatError, match=r"text\.h5: Neubrex stamps are not MM/DD/YYYY"):
        formats.scan_file(sibling("text.h5", stamps=[b"yesterday", b"today"]), format="neubrex-rfs")
    with pytest.raises(FormatError, match=r"depth\.h5: depth has 3 points for 4 columns"):
        formats.scan_file(sibling("depth.h5", depth_n=3), format="neubrex-rfs")


# --- both ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [*DTS, RFS])
def test_other_samples_forced_as_these_readers_are_refused(fibre_data, name, tmp_path):
    other = "febus-dts" if name == RFS else "neubrex-rfs"
    shutil.copy(fibre_data / name, tmp_path / "x.h5")
    with pytest.raises(FormatError, match=r"x\.h5: "):
        formats.scan_file(str(tmp_path / "x.h5"), format=other)


def test_no_other_reader_claims_the_slow_samples(fibre_data):
    for name in (*DTS, RFS):
        claimed = [
            fmt.name
            for fmt in formats.all_formats().values()
            if fmt.name not in ("febus-dts", "neubrex-rfs") and _detects(fmt, fibre_data / name)
        ]
        assert claimed == [], (name, claimed)


def _detects(fmt, path) -> bool:
    from raydas.formats.base import Probe

    with Probe(str(path)) as probe:
        try:
            return bool(fmt.detect(probe))
        except Exception:
            return False


def test_a_sparse_time_array_declaring_a_billion_readings_is_refused_without_reading_it(tmp_path):
    """Chunked arrays with a chunk written declare what they like: a time array read whole at scan must
    have every chunk stored, or the scan would read a billion fill values."""
    path = tmp_path / "sparse.h5"
    n = 10**9
    with h5py.File(path, "w") as f:
        f.attrs["device"] = np.bytes_(b"DTS")
        temperature = f.create_dataset("Data/Temperature", shape=(n, 4), chunks=(1, 4), dtype=np.float64)
        temperature[0] = 20.0
        times = f.create_dataset("Data/Time", shape=(n, 1), chunks=(1024, 1), dtype=np.float64)
        times[0] = 1.7e9
        f.create_dataset("Data/Distance", data=np.arange(4.0))
    assert path.stat().st_size < 100_000
    with pytest.raises(FormatError, match=r"sparse\.h5: data set /Data/Time declares \(1000000000, 1\) values in "):
        formats.scan_file(str(path))
