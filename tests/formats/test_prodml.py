"""PRODML HDF5 reader: the real Silixa iDAS file against h5py, and generated v2.0 siblings."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from raydas import formats
from raydas.errors import FormatError
from raydas.timeutil import parse_iso

IDAS = "hdf5/iDAS005_hdf5_example.626.h5"


def test_real_idas_file_against_h5py(real_data):
    path = str(real_data / IDAS)
    assert formats.detect(path).name == "prodml"
    (record,) = formats.scan_file(path)
    with h5py.File(path) as f:
        raw = f["Acquisition/Raw[0]/RawData"][...]  # (time, locus) int16
        times_us = f["Acquisition/Raw[0]/RawDataTime"][...]
        step = float(f["Acquisition"].attrs["SpatialSamplingInterval"])
        first_locus = int(f["Acquisition/Raw[0]"].attrs["StartLocusIndex"])
    assert (record.n_channels, record.n_samples) == (1152, 1000)
    assert record.sample_rate == pytest.approx(1000.0)
    assert record.start_ns == int(times_us[0]) * 1000
    assert record.start_ns == parse_iso("2019-05-31T08:38:50.626928+00:00")
    assert record.positions[0] == pytest.approx(first_locus * step)
    assert record.channel_spacing == pytest.approx(1.02095, rel=1e-5)
    assert record.units == "(nm/m)/s * Hz/m"
    assert record.gauge_length == pytest.approx(10.0)
    window = formats.read_samples(record, 100, 250, slice(10, 30))
    np.testing.assert_array_equal(window, raw[100:250, 10:30].T.astype(np.float32))


def _write_v20(path, data_locus_time, rate=500.0, start="2021-03-04T05:06:07.250000Z", with_times=False):
    n_loci, n_t = data_locus_time.shape
    with h5py.File(path, "w") as f:
        acq = f.create_group("Acquisition")
        acq.attrs["schemaVersion"] = np.bytes_("2.0")
        acq.attrs["NumberOfLoci"] = np.int32(n_loci)
        acq.attrs["SpatialSamplingInterval"] = np.float32(2.0)
        acq.attrs["SpatialSamplingIntervalUnit"] = np.bytes_("m")
        acq.attrs["StartLocusIndex"] = np.int32(10)
        acq.attrs["MeasurementStartTime"] = np.bytes_(start)
        acq.attrs["GaugeLength"] = np.float32(8.0)
        acq.attrs["GaugeLengthUnit"] = np.bytes_("m")
        raw = acq.create_group("Raw[0]")
        raw.attrs["OutputDataRate"] = np.float64(rate)
        raw.attrs["RawDataUnit"] = np.bytes_("rad/s")
        ds = raw.create_dataset("RawData", data=data_locus_time)
        ds.attrs["Dimensions"] = np.bytes_("locus, time")
        ds.attrs["PartStartTime"] = np.bytes_(start)
        if with_times:
            t0 = parse_iso(start) // 1000
            raw.create_dataset("RawDataTime", data=t0 + (np.arange(n_t) * 1e6 / rate).astype(np.int64))


def test_v20_locus_time_layout_without_time_array(tmp_path):
    data = np.arange(6 * 40, dtype=np.float32).reshape(6, 40)
    path = tmp_path / "v20.h5"
    _write_v20(path, data)
    (record,) = formats.scan_file(str(path))
    assert (record.n_channels, record.n_samples) == (6, 40)
    assert record.sample_rate == pytest.approx(500.0)
    assert record.start_ns == parse_iso("2021-03-04T05:06:07.25Z")
    np.testing.assert_allclose(record.positions, (10 + np.arange(6)) * 2.0)
    np.testing.assert_array_equal(formats.read_samples(record, 5, 12, slice(1, 4)), data[1:4, 5:12])


def test_time_array_wins_for_start(tmp_path):
    data = np.zeros((3, 20), dtype=np.float32)
    path = tmp_path / "times.h5"
    _write_v20(path, data, with_times=True, start="2022-01-01T00:00:00Z")
    (record,) = formats.scan_file(str(path))
    assert record.start_ns == parse_iso("2022-01-01T00:00:00Z")
    assert record.dt == pytest.approx(1 / 500.0)


def test_hdf5_without_data_set_is_a_clear_error(tmp_path):
    path = tmp_path / "empty_prodml.h5"
    with h5py.File(path, "w") as f:
        acq = f.create_group("Acquisition")
        acq.attrs["NumberOfLoci"] = 10
        acq.attrs["SpatialSamplingInterval"] = 1.0
        acq.create_group("Raw[0]")
    with pytest.raises(FormatError) as err:
        formats.scan_file(str(path))
    assert "empty_prodml.h5" in str(err.value) and "RawData" in str(err.value)


def test_hdf5_that_is_not_das(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(FormatError) as err:
        formats.detect(str(path))
    assert "other.h5" in str(err.value) and "not in a recognised" in str(err.value)


def test_truncated_hdf5(real_data, tmp_path):
    path = tmp_path / "cut.h5"
    path.write_bytes((real_data / IDAS).read_bytes()[:500_000])
    with pytest.raises(FormatError) as err:
        formats.scan_file(str(path))
    assert "cut.h5" in str(err.value)


def test_wrong_type_data_set(tmp_path):
    path = tmp_path / "strings.h5"
    _write_v20(path, np.zeros((2, 4), dtype=np.float32))
    with h5py.File(path, "a") as f:
        del f["Acquisition/Raw[0]/RawData"]
        f["Acquisition/Raw[0]/RawData"] = np.array([b"a", b"b"])
    with pytest.raises(FormatError) as err:
        formats.scan_file(str(path))
    assert "strings.h5" in str(err.value)


@pytest.mark.parametrize(
    ("spelling", "unit", "factor"), [(".uom", "ft", 0.3048), ("Unit", "m", 1.0), (".uom", "km", 1000.0)]
)
def test_length_units_in_either_schema_spelling_become_metres(tmp_path, spelling, unit, factor):
    path = tmp_path / "units.h5"
    _write_v20(path, np.zeros((3, 5), np.float32))
    with h5py.File(path, "a") as f:
        acq = f["Acquisition"]
        for name in ("SpatialSamplingIntervalUnit", "GaugeLengthUnit"):
            del acq.attrs[name]
        acq.attrs["SpatialSamplingInterval" + spelling] = np.bytes_(unit.encode())
        acq.attrs["GaugeLength" + spelling] = np.bytes_(unit.encode())
    (rec,) = formats.scan_file(str(path))
    assert rec.channel_spacing == pytest.approx(2.0 * factor)
    assert rec.positions[0] == pytest.approx(10 * 2.0 * factor)  # StartLocusIndex 10
    assert rec.gauge_length == pytest.approx(8.0 * factor)


def test_unknown_length_unit_is_refused(tmp_path):
    path = tmp_path / "furlong.h5"
    _write_v20(path, np.zeros((3, 5), np.float32))
    with h5py.File(path, "a") as f:
        f["Acquisition"].attrs["SpatialSamplingIntervalUnit"] = np.bytes_(b"furlong")
    with pytest.raises(FormatError, match=r"furlong\.h5.*SpatialSamplingInterval.*'furlong'"):
        formats.scan_file(str(path))
