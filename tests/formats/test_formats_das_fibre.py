"""The DAS readers of the fibre samples (../shared/testdata/fibre/hdf5: Neubrex,
GDR, DASDAE, simple HDF5, xdas NetCDF, DASVader JLD2), each checked against
an independent read of the file written plainly here (h5py, or the raw bytes
for the JLD2 file h5py 3.16 cannot open), against DASCore 0.1.24 where DASCore
reads the file right, and against xdas for its own format; then h5py-written
siblings in the other layouts the rules allow, and files that lie.

The samples stay in ``fibre/`` (the shared folder is read-only); their expected
values are here.
"""

from __future__ import annotations

import json
import pickle
import struct
import warnings
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest

from raydas import formats
from raydas.errors import FormatError, RaydasError
from raydas.timeutil import NS_PER_S

#: fibre sample -> (format, channels, samples, start (UTC), sample interval (s), first and last position (m))
EXPECTED = {
    "hdf5/neubrex_das_1.h5": ("neubrex-das", 17534, 30, "2023-05-22T06:25:34.6175051", 0.001, 0.0, 7200.358),
    "hdf5/gdr_1.h5": ("gdr-das", 10, 10000, "2016-03-08T17:40:30.195", 0.001, 0.0, 9.189),
    "hdf5/deformation_rate_event_1.hdf5": (
        "dasdae",
        225,
        900,
        "2022-06-04T15:27:44.800325476",
        500006e-9,
        2403.638669249421,
        3684.3213395777143,
    ),
    "hdf5/dispersion_event.h5": ("dasdae", 101, 2500, "2000-01-01T00:00:00", 0.0005, 0.0, 100.0),
    "hdf5/h5_simple_1.h5": ("h5simple", 100, 200, "2023-09-04T20:05:06.884208128", 0.003999948501586914, 0.0, 99.0),
    "hdf5/xdas_netcdf.nc": ("xdas-netcdf", 401, 300, "2023-01-01T00:00:00", 0.02, 0.0, 10000.0),
    "hdf5/das_vader_1.jld2": ("dasvader-jld2", 1156, 300, "2023-08-24T14:06:17.550", 1e-4, 0.0, 1848.0),
}
#: what each record measures, and the coordinates its reader had to assume
QUANTITY = {
    "hdf5/neubrex_das_1.h5": ("strain_rate", "micro-strain/second", ()),
    "hdf5/gdr_1.h5": ("unknown", "", ("positions", "units")),  # first position and unit not stored
    # distance unit: in the pickle only; no gauge length stored
    "hdf5/deformation_rate_event_1.hdf5": ("velocity", "m / s", ("positions", "gauge_length")),
    "hdf5/dispersion_event.h5": ("velocity", "m / s", ("positions", "gauge_length")),
    "hdf5/h5_simple_1.h5": ("unknown", "", ("start_time", "positions", "units", "sample_rate", "gauge_length")),
    "hdf5/xdas_netcdf.nc": ("unknown", "", ("positions", "units", "gauge_length")),  # distance values without a unit
    "hdf5/das_vader_1.jld2": ("unknown", "", ("units",)),
}
#: the JLD2 sample's layout, as the research notes decoded it (absolute byte offsets)
JLD2_DATA = (6825, 1231881)  # the zlib stream of the samples: start, length
JLD2_HTIME = (1239468, 96)  # the zlib stream of the 300 DateTimes
JULIA_UNIX_EPOCH_MS = 62_135_683_200_000
#: readers added here: none may claim another reader's file
NEW = ("neubrex-das", "gdr-das", "dasdae", "xdas-netcdf", "dasvader-jld2", "h5simple")


def ns(text: str) -> int:
    return int(np.datetime64(text, "ns").astype(np.int64))


def scan_one(path: Path):
    records = formats.scan_file(str(path))
    assert len(records) == 1
    return records[0]


def full_read(record) -> np.ndarray:
    return formats.read_samples(record, 0, record.n_samples)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fibre_samples_scan_to_their_expected_coordinates(fibre_data, name):
    fmt, channels, samples, start, dt, first, last = EXPECTED[name]
    assert formats.detect(str(fibre_data / name)).name == fmt
    rec = scan_one(fibre_data / name)
    assert (rec.format, rec.n_channels, rec.n_samples, rec.start_ns) == (fmt, channels, samples, ns(start))
    assert rec.dt == pytest.approx(dt, rel=1e-12)
    np.testing.assert_allclose(rec.positions[[0, -1]], [first, last], rtol=2**-23, atol=1e-9)
    quantity, units, assumed = QUANTITY[name]
    assert (rec.quantity, rec.units, rec.assumed) == (quantity, units, assumed)


def test_neubrex_against_h5py(fibre_data):
    path = fibre_data / "hdf5/neubrex_das_1.h5"
    rec = scan_one(path)
    with h5py.File(path) as h5:
        data, a = h5["Acoustic"], h5["Acoustic"].attrs
        assert data.shape == (rec.n_samples, rec.n_channels)  # stored (time, distance)
        np.testing.assert_array_equal(full_read(rec), data[()].T)
        assert rec.start_ns == ns(a["GPSTimeStamp(UTC)"].replace(" ", "T"))
        assert rec.dt == float(str(a["TimeSamplingInterval(seconds)"]))  # 0.001 s, the decimal written
        assert rec.channel_spacing == pytest.approx(float(a["SpatialSamplingInterval"]), rel=2**-23)
        assert rec.positions[-1] == pytest.approx(float(a["StopPosition"]), rel=2**-23)
        assert rec.gauge_length == pytest.approx(float(a["GaugeLength"]), rel=2**-23)
        assert a["DataType"] == "strain-rate"
    assert not full_read(rec).any()  # the sample is blanked: all 526,020 values are 0.0


def test_gdr_against_h5py(fibre_data):
    path = fibre_data / "hdf5/gdr_1.h5"
    rec = scan_one(path)
    with h5py.File(path) as h5:
        raw = h5["DasRawData/RawData"][()]
        times = h5["DasRawData/DasTimeArray"][()].astype(np.int64)
        acq = h5["DasMetadata/Interrogator/Acquisition"].attrs
        assert list(h5["DasRawData/RawData"].attrs["DasDimensions"]) == ["time step", "locus"]
        assert rec.channel_spacing == pytest.approx(float(acq["SpatialSamplingInterval"]))
        assert rec.gauge_length == float(acq["GaugeLength"])
    data = full_read(rec)
    np.testing.assert_array_equal(data, raw.T)
    assert rec.start_ns == times[0] and rec.end_ns == times[-1] + 1_000_000 and np.all(np.diff(times) == 1_000_000)
    assert (data[0, 0], data[9, 0], data[0, 9999], data[-1, -1], data[5, 1234]) == (458.0, -127.0, -34.0, 125.0, -268.0)
    assert float(data.sum(dtype=np.float64)) == -23742.0


@pytest.mark.parametrize("name", ["hdf5/deformation_rate_event_1.hdf5", "hdf5/dispersion_event.h5"])
def test_dasdae_against_h5py(fibre_data, name):
    path = fibre_data / name
    rec = scan_one(path)
    with h5py.File(path) as h5:
        (group,) = h5["waveforms"].values()
        dims = group.attrs["_dims"].decode().split(",")
        stored = group["data"][()]
        times = group["_coord_time"][()]
        np.testing.assert_array_equal(rec.positions, group["_coord_distance"][()])
    data = full_read(rec)
    np.testing.assert_array_equal(data, stored.T if dims[0] == "time" else stored)
    assert rec.start_ns == times[0] and rec.dt * NS_PER_S == pytest.approx(np.diff(times).mean(), rel=1e-12)
    assert rec.attrs["dims"] == ",".join(dims)


def test_dasdae_values(fibre_data):
    velocity = full_read(scan_one(fibre_data / "hdf5/deformation_rate_event_1.hdf5"))  # (distance, time)
    assert velocity[0, 0] == np.float32(0.0012064367) and velocity[-1, -1] == np.float32(-0.0016282357)
    assert velocity[100, 450] == np.float32(0.0009888269)
    dispersion = full_read(scan_one(fibre_data / "hdf5/dispersion_event.h5"))  # stored (distance, time)
    assert dispersion[50, 1000] == np.float32(4.024765e-06) and dispersion[50, 1250] == np.float32(-7.601858e-06)


def test_simple_hdf5_against_h5py(fibre_data):
    path = fibre_data / "hdf5/h5_simple_1.h5"
    rec = scan_one(path)
    with h5py.File(path) as h5:
        assert set(h5) == {"raw", "timestamp"} and not h5.attrs and not h5["raw"].attrs
        raw, stamps = h5["raw"][()], h5["timestamp"][()]
    np.testing.assert_array_equal(full_read(rec), raw.T)
    assert rec.start_ns == round(stamps[0] * 1e9) and rec.dt == (stamps[-1] - stamps[0]) / (stamps.size - 1)
    np.testing.assert_array_equal(rec.positions, np.arange(100.0))  # no position data set: the channel index


def test_xdas_netcdf_against_h5py(fibre_data):
    path = fibre_data / "hdf5/xdas_netcdf.nc"
    rec = scan_one(path)
    with h5py.File(path) as h5:
        values = h5["__values__"][()]
        assert h5["time_values"].attrs["units"] == "milliseconds since 2023-01-01 00:00:00"
        (i0, i1), (t0, t1) = h5["time_indices"][()], h5["time_values"][()]
        (j0, j1), (d0, d1) = h5["distance_indices"][()], h5["distance_values"][()]
        assert not h5["time"][()].any()  # the placeholder dimension variable: zeros, never read
    np.testing.assert_array_equal(full_read(rec), values.T.astype(np.float32))
    assert rec.start_ns == ns("2023-01-01") + int(t0) * 1_000_000
    assert rec.dt == (t1 - t0) / (i1 - i0) / 1000.0
    np.testing.assert_allclose(rec.positions, d0 + (d1 - d0) / (j1 - j0) * np.arange(j1 - j0 + 1))


def test_xdas_netcdf_against_xdas(fibre_data):
    xdas = pytest.importorskip("xdas")
    path = fibre_data / "hdf5/xdas_netcdf.nc"
    rec = scan_one(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        da = xdas.open_dataarray(str(path))
        times = np.asarray(da.coords["time"].values).astype("datetime64[ns]").astype(np.int64)
        distance = np.asarray(da.coords["distance"].values, dtype=np.float64)
        values = np.asarray(da.values)
    assert da.dims == ("time", "distance") and values.shape == (rec.n_samples, rec.n_channels)
    np.testing.assert_array_equal(rec.start_ns + np.round(np.arange(rec.n_samples) * rec.dt * NS_PER_S), times)
    np.testing.assert_array_equal(rec.positions, distance)
    np.testing.assert_array_equal(full_read(rec), values.T.astype(np.float32))


def test_dasvader_against_the_raw_bytes(fibre_data):
    """h5py 3.16 cannot open the JLD2 data sets: the samples and stamps are
    inflated here straight from the byte ranges the research decoded."""
    path = fibre_data / "hdf5/das_vader_1.jld2"
    rec = scan_one(path)
    buf = path.read_bytes()
    assert buf.startswith(b"HDF5-based Julia Data Format") and buf[512:520] == b"\x89HDF\r\n\x1a\n"
    start, length = JLD2_DATA
    samples = np.frombuffer(zlib.decompress(buf[start : start + length]), "<f4").reshape(1156, 300)
    data = full_read(rec)
    np.testing.assert_array_equal(data, samples)  # stored (distance, time)
    start, length = JLD2_HTIME
    htime_ms = np.frombuffer(zlib.decompress(buf[start : start + length]), "<i8") - JULIA_UNIX_EPOCH_MS
    assert rec.start_ns == htime_ms[0] * 1_000_000
    assert data[100, 150] == np.float32(1638.9883) and data[578, 150] == np.float32(-1385.4567)
    assert not data[1152:].any()  # the last four channels are zeros
    assert rec.gauge_length == 5.0


def test_dasvader_ranges_against_h5py(fibre_data):
    """h5py 3.16 still reads the root dDAS value (not what it references): its ranges are the record's."""
    rec = scan_one(fibre_data / "hdf5/das_vader_1.jld2")
    with h5py.File(fibre_data / "hdf5/das_vader_1.jld2") as h5:
        value = h5["dDAS"][()]
    time, offset = value["time"], value["offset"]
    assert int(time["len"]) == rec.n_samples and int(offset["len"]) == rec.n_channels
    assert rec.dt == time["step"]["hi"] + time["step"]["lo"]
    step = offset["step"]["hi"] + offset["step"]["lo"]
    np.testing.assert_array_equal(rec.positions, offset["ref"]["hi"] + offset["ref"]["lo"] + np.arange(1156) * step)
    assert value["name"].startswith(b"SR_DS_2023-08-24_14-06-17_UTC")  # the start in its original name


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize(
    "name",
    [
        "hdf5/neubrex_das_1.h5",
        "hdf5/gdr_1.h5",
        "hdf5/deformation_rate_event_1.hdf5",
        "hdf5/dispersion_event.h5",
        "hdf5/h5_simple_1.h5",
    ],
)
def test_against_dascore(fibre_data, name):
    """DASCore 0.1.24 reads these five right (it fails on the JLD2 file with h5py 3.16 and does not know
    xdas's): same shape, start, sampling, distances and values, to float32 rounding."""
    dascore = pytest.importorskip("dascore")
    rec = scan_one(fibre_data / name)
    (patch,) = list(dascore.spool(str(fibre_data / name)))
    time_axis = patch.dims.index("time")
    other = patch.dims[1 - time_axis]
    times = patch.coords.get_array("time").astype("datetime64[ns]").astype(np.int64)
    assert patch.shape[time_axis] == rec.n_samples and patch.shape[1 - time_axis] == rec.n_channels
    assert times[0] == rec.start_ns
    np.testing.assert_allclose(np.diff(times), rec.dt * NS_PER_S, rtol=2**-23, atol=1)  # DASCore rounds steps to ns
    np.testing.assert_allclose(patch.coords.get_array(other), rec.positions, rtol=2**-23, atol=1e-9)
    data = np.asarray(patch.data)
    np.testing.assert_array_equal(full_read(rec), data.T if time_axis == 0 else data)


def test_fibre_files_of_other_readers_are_not_claimed(fibre_data):
    """The DTS, DSS, OTDR, Sentek and geometry samples (other readers' work) are left to them."""
    others = [p for p in fibre_data.rglob("*") if p.is_file() and p.parent.name != "hdf5"]
    assert len(others) >= 15
    for path in others:
        with formats.Probe(str(path)) as probe:
            claimed = [n for n in NEW if _detects(n, probe)]
        assert not claimed, f"{path.name} claimed by {claimed}"


@pytest.mark.filterwarnings("ignore")
def test_real_files_are_not_claimed_by_the_new_readers(real_data):
    """Every file the existing readers read is still theirs: none of the new readers claims one."""
    files = [p for p in real_data.rglob("*") if p.is_file() and p.suffix not in (".md", ".txt")]
    assert len(files) >= 13
    for path in files:
        with formats.Probe(str(path)) as probe:
            claimed = [n for n in NEW if _detects(n, probe)]
        assert not claimed, f"{path.name} claimed by {claimed}"


def _detects(name: str, probe) -> bool:
    try:
        return bool(formats.get_format(name).detect(probe))
    except Exception:  # noqa: BLE001  (a reader that cannot tell says no, as the registry treats it)
        return False


@pytest.mark.parametrize("name", NEW)
def test_another_formats_sample_forced_as_this_one_is_refused_naming_it(fibre_data, name, tmp_path):
    """Wrong type: each reader, forced on another reader's sample, an empty file or a text file, refuses it."""
    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    text = tmp_path / "notes.nc"
    text.write_text("not a recording\n")
    samples = [fibre_data / s for s, e in EXPECTED.items() if e[0] != name] + [empty, text]
    for path in samples:
        with pytest.raises(RaydasError) as err:
            formats.scan_file(str(path), format=name)
        assert str(path) in str(err.value)


# --- h5py-written siblings: the other layouts the rules allow ------------------------------------------------------
T0 = ns("2024-06-01T12:00:00")


def write_dasdae(path: Path, dims=("time", "distance"), times=None, distance_units=None, pickled=b""):
    times = T0 + 2_000_000 * np.arange(50, dtype=np.int64) if times is None else times
    distance = 10.0 + 2.0 * np.arange(4)
    shape = (times.size, 4) if dims[0] == "time" else (4, times.size)
    data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    with h5py.File(path, "w") as h5:
        h5.attrs["__format__"] = b"DASDAE"
        h5.attrs["__DASDAE_version__"] = b"1"
        group = h5.create_group("waveforms/patch")
        group.attrs["_dims"] = ",".join(dims).encode()
        group.attrs["_attrs_data_type"] = b"strain_rate"
        group.attrs["_attrs_data_units"] = b"1/s"
        group.attrs["_attrs_gauge_length"] = 5.0
        if pickled:
            group.attrs["_attrs_coords"] = np.void(pickled)
        group.create_dataset("data", data=data)
        group.create_dataset("_coord_time", data=times).attrs["is_datetime64"] = 1
        coord = group.create_dataset("_coord_distance", data=distance)
        if distance_units:
            coord.attrs["units"] = distance_units
    return data


def test_dasdae_distance_unit_gaps_and_gauge(tmp_path):
    path = tmp_path / "ft.h5"
    data = write_dasdae(path, dims=("distance", "time"), distance_units="ft")
    rec = scan_one(path)
    np.testing.assert_allclose(rec.positions, (10.0 + 2.0 * np.arange(4)) * 0.3048)
    assert rec.assumed == () and rec.quantity == "strain_rate" and rec.gauge_length == 5.0
    np.testing.assert_array_equal(full_read(rec), data)
    gap = T0 + 2_000_000 * np.concatenate([np.arange(20), 30 + np.arange(30)]).astype(np.int64)
    write_dasdae(tmp_path / "gap.h5", times=gap)
    first, second = formats.scan_file(str(tmp_path / "gap.h5"))
    assert (first.n_samples, second.n_samples, second.start_ns) == (20, 30, T0 + 60_000_000)
    stored = np.arange(200, dtype=np.float32).reshape(50, 4)  # (time, distance)
    np.testing.assert_array_equal(formats.read_samples(second, 0, 30), stored[20:].T)


class _Boom:
    """Unpickling this would create the file named by ``marker``: proof that a pickle ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_dasdae_pickles_are_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled"
    path = tmp_path / "pickled.h5"
    write_dasdae(path, pickled=pickle.dumps(_Boom(str(marker)), protocol=0))
    rec = scan_one(path)
    formats.read(str(path))
    assert rec.n_samples == 50 and not marker.exists()
    pickle.loads(pickle.dumps(_Boom(str(marker)), protocol=0))  # the pickle does run when unpickled
    assert marker.exists()


def test_simple_hdf5_channel_major_milliseconds_and_positions(tmp_path):
    path = tmp_path / "simple.h5"
    stamps = (T0 // 1_000_000) + 4 * np.arange(60)  # ms since 1970
    data = np.random.default_rng(3).standard_normal((5, 60)).astype(np.float32)
    with h5py.File(path, "w") as h5:
        h5["values"] = data  # (channel, time)
        h5["t"] = stamps
        h5["offsets"] = 100.0 + 1.5 * np.arange(5)
    rec = scan_one(path)
    assert (rec.format, rec.n_channels, rec.n_samples, rec.start_ns, rec.dt) == ("h5simple", 5, 60, T0, 0.004)
    np.testing.assert_array_equal(rec.positions, 100.0 + 1.5 * np.arange(5))
    np.testing.assert_array_equal(full_read(rec), data)


def test_simple_hdf5_refuses_what_it_cannot_tell(tmp_path):
    square = tmp_path / "square.h5"
    with h5py.File(square, "w") as h5:
        h5["data"] = np.zeros((6, 6), np.float32)
        h5["time"] = T0 / 1e9 + np.arange(6.0)
    with pytest.raises(FormatError, match=r"square\.h5: cannot tell which axis of /data is time"):
        formats.scan_file(str(square))
    irregular = tmp_path / "irregular.h5"
    with h5py.File(irregular, "w") as h5:
        h5["data"] = np.zeros((6, 3), np.float32)
        h5["time"] = T0 / 1e9 + np.array([0.0, 1.0, 3.0, 7.0, 20.0, 21.0])
    with pytest.raises(FormatError, match=r"irregular\.h5: .*irregular sampling"):
        formats.scan_file(str(irregular))
    for name, extra in {"two.h5": "data2", "group.h5": "group/x"}.items():
        with h5py.File(tmp_path / name, "w") as h5:
            h5["data"] = np.zeros((6, 3), np.float32)
            h5["time"] = T0 / 1e9 + np.arange(6.0)
            h5[extra] = np.zeros((6, 3)) if extra == "data2" else np.zeros(3)
        with pytest.raises(FormatError, match="not in a recognised DAS format"):
            formats.detect(str(tmp_path / name))  # not one 2-D data set and coordinates: not "simple"


def write_xdas(path: Path, time_ties, distance_ties, cf13=False, interpolation="linear"):
    (ti, tv), (di, dv) = time_ties, distance_ties
    n_time, n_dist = ti[-1] + 1, di[-1] + 1
    data = np.arange(n_time * n_dist, dtype=np.float64).reshape(n_time, n_dist)
    with h5py.File(path, "w") as h5:
        h5.attrs["_NCProperties"] = b"version=2,h5netcdf=1.6.4"
        h5["time"] = np.zeros(n_time, ">f4")
        h5["distance"] = np.zeros(n_dist, ">f4")
        h5["time"].make_scale("time")
        h5["distance"].make_scale("distance")
        values = h5.create_dataset("__values__", data=data)
        values.dims[0].attach_scale(h5["time"])
        values.dims[1].attach_scale(h5["distance"])
        h5["time_indices"], h5["time_values"] = np.array(ti), np.array(tv, dtype=np.int64)
        h5["time_values"].attrs["units"] = "seconds since 2024-06-01T12:00:00"
        h5["distance_indices"], h5["distance_values"] = np.array(di), np.array(dv, dtype=np.float64)
        h5["distance_values"].attrs["units"] = "km"
        if cf13:
            for name in ("time", "distance"):
                interp = h5.create_dataset(f"{name}_interpolation", data=np.nan)
                interp.attrs["interpolation_name"] = interpolation
                interp.attrs["tie_point_mapping"] = f"{name}: {name}_indices {name}_points"
            values.attrs["coordinate_interpolation"] = (
                "time_values: time_interpolation distance_values: distance_interpolation"
            )
        else:
            values.attrs["coordinate_interpolation"] = (
                "time: time_indices time_values distance: distance_indices distance_values"
            )
    return data


@pytest.mark.parametrize("cf13", [False, True])
def test_xdas_netcdf_spellings_units_and_gaps(tmp_path, cf13):
    path = tmp_path / "gap.nc"
    # 0..9 one per second, then a jump of 100 s, then 10..19 again one per second
    data = write_xdas(path, ([0, 9, 10, 19], [0, 9, 109, 118]), ([0, 3], [0.5, 2.0]), cf13=cf13)
    first, second = formats.scan_file(str(path))
    assert (first.n_samples, first.dt, first.start_ns) == (10, 1.0, T0)
    assert (second.n_samples, second.start_ns) == (10, T0 + 109 * NS_PER_S)
    np.testing.assert_allclose(first.positions, [500.0, 1000.0, 1500.0, 2000.0])  # km
    assert first.assumed == ("units", "gauge_length")  # the distance unit read: positions not assumed
    np.testing.assert_array_equal(formats.read_samples(second, 2, 5), data[12:15].T.astype(np.float32))


def test_xdas_netcdf_refuses_other_interpolations(tmp_path):
    write_xdas(tmp_path / "cubic.nc", ([0, 9], [0, 9]), ([0, 3], [0.0, 3.0]), cf13=True, interpolation="bi_quadratic")
    with pytest.raises(FormatError, match=r"cubic\.nc: time_interpolation interpolates 'bi_quadratic'"):
        formats.scan_file(str(tmp_path / "cubic.nc"))


# --- files that lie ---------------------------------------------------------------------------------------------------
def test_gdr_truncated_is_refused_naming_it(fibre_data, tmp_path):
    buf = (fibre_data / "hdf5/gdr_1.h5").read_bytes()
    path = tmp_path / "cut.h5"
    path.write_bytes(buf[:300_000])  # RawData (400,000 bytes from byte 99,960) cut short
    with pytest.raises(FormatError, match=r"cut\.h5: is a damaged HDF5 file: it cannot be opened \(.*truncated file"):
        formats.scan_file(str(path))  # the HDF5 library checks its end-of-file address


@pytest.mark.parametrize("layout", ["neubrex", "gdr", "dasdae", "simple"])
def test_declared_data_never_written_is_refused_without_allocating(tmp_path, layout):
    """A data set declared terabytes large but never written: refused from its storage size, not read."""
    path = tmp_path / f"{layout}.h5"
    huge = (10**8, 10**4)
    with h5py.File(path, "w") as h5:
        if layout == "neubrex":
            node = h5.create_dataset("Acoustic", shape=huge, dtype="f4")
            for key, value in {"DataType": "strain-rate", "TimeSamplingInterval(seconds)": 0.001}.items():
                node.attrs[key] = value
            node.attrs.update({"StartPosition": 0.0, "SpatialSamplingInterval": 1.0, "GPSTimeStamp(UTC)": "2024-06-01"})
        elif layout == "gdr":
            h5.create_group("DasMetadata/Interrogator/Acquisition").attrs["SpatialSamplingInterval"] = "1"
            h5.create_dataset("DasRawData/RawData", shape=huge, dtype="f4")
            h5["DasRawData/DasTimeArray"] = np.arange(3, dtype=np.uint64)
        elif layout == "dasdae":
            pass  # written below, by the DASDAE writer of these tests
        else:
            h5.create_dataset("data", shape=huge, dtype="f4")
            h5["time"] = T0 / 1e9 + np.arange(10**4, dtype=np.float64)
    if layout == "dasdae":
        write_dasdae(path)
        with h5py.File(path, "a") as h5:
            del h5["waveforms/patch/data"]
            h5.create_dataset("waveforms/patch/data", shape=(50, 10**9), dtype="f4")
    with pytest.raises(FormatError, match=rf"{layout}\.h5: data set \S+ declares .* but the file stores 0 bytes"):
        formats.scan_file(str(path))


def test_jld2_chunk_declaring_more_than_deflate_can_hold_is_refused(fibre_data, tmp_path):
    """The data set's dims are raised ten-thousandfold in the object header: its 1.2 MB compressed chunk
    cannot inflate to 14 GB (deflate's limit is about 1032:1), so it is refused before anything is inflated."""
    buf = bytearray((fibre_data / "hdf5/das_vader_1.jld2").read_bytes())
    old = struct.pack("<QQ", 1156, 300)
    new = struct.pack("<QQ", 11_560_000, 300)
    at = [i for i in range(6670, 7000) if buf[i : i + 16] == old]  # dataspace and chunk dims of the data object
    assert len(at) == 2
    for i in at:
        buf[i : i + 16] = new
    path = tmp_path / "lying.jld2"
    path.write_bytes(bytes(buf))
    refused = r"lying\.jld2: data declares \(11560000, 300\) values \(13872000000 bytes\) the file cannot hold"
    with pytest.raises(FormatError, match=refused):
        formats.scan_file(str(path))  # from the metadata alone
    from raydas.formats.h5bytes import H5Bytes

    with H5Bytes(str(path)) as f, pytest.raises(FormatError, match="cannot hold them"):
        f.values(f.object(6158), "data")


def test_jld2_truncated_and_damaged_are_refused(fibre_data, tmp_path):
    buf = (fibre_data / "hdf5/das_vader_1.jld2").read_bytes()
    cut = tmp_path / "cut.jld2"
    cut.write_bytes(buf[:700_000])
    with pytest.raises(FormatError, match=r"cut\.jld2: .*beyond the end"):
        formats.scan_file(str(cut), format="dasvader-jld2")
    damaged = bytearray(buf)
    damaged[JLD2_DATA[0] + 1000 : JLD2_DATA[0] + 1100] = bytes(100)
    path = tmp_path / "damaged.jld2"
    path.write_bytes(bytes(damaged))
    rec = scan_one(path)  # the metadata are intact
    with pytest.raises(FormatError, match=r"damaged\.jld2: .*(damaged|inflates)"):
        formats.read_samples(rec, 0, 10)


def test_raydas_scan_reads_every_das_sample_of_the_fibre_folder(fibre_data, capsys):
    from raydas.apps.cli import main

    assert main(["scan", str(fibre_data / "hdf5"), str(fibre_data / "mseed"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["unreadable"] == [] and report["not_data"] == []
    found = {r["path"].split(str(fibre_data) + "/", 1)[1]: r for r in report["records"]}
    assert {name: found[name]["format"] for name in EXPECTED} == {name: e[0] for name, e in EXPECTED.items()}
    assert {found[f"mseed/geofon_{n}_HSF.mseed"]["format"] for n in ("1D", "3X", "5J", "ZH")} == {"mseed"}
    assert {r["quantity"] for r in found.values()} == {"strain_rate", "velocity", "unknown"}


# --- the helpers the readers share ---------------------------------------------------------------------------------
def test_time_runs_split_at_gaps_and_refuse_irregular_stamps():
    from raydas.formats.base import time_runs

    stamps = T0 + 1_000_000 * np.concatenate([np.arange(5), 20 + np.arange(3)])
    assert time_runs("f.h5", stamps, "t") == [(0, 5, T0, 0.001), (5, 8, T0 + 20_000_000, 0.001)]
    assert time_runs("f.h5", stamps[:1], "t", dt=0.5) == [(0, 1, T0, 0.5)]  # one stamp: the declared interval
    with pytest.raises(FormatError, match=r"f\.h5: t holds one time and the file states no sample interval"):
        time_runs("f.h5", stamps[:1], "t")
    with pytest.raises(FormatError, match=r"f\.h5: t is not increasing \(sample 2\)"):
        time_runs("f.h5", stamps[[0, 1, 1, 2]], "t")
    days = T0 + NS_PER_S * np.array([0, 370, 740, 5 * 86400, 5 * 86400 + 370, 9 * 86400])  # regular, with gaps
    runs = time_runs("f.h5", days, "t")
    assert [(lo, hi, dt) for lo, hi, _, dt in runs] == [(0, 3, 370.0), (3, 5, 370.0), (5, 6, 370.0)]
    jitter = T0 + NS_PER_S * np.array([0, 370, 760, 1100, 1500, 1850])  # within a quarter step of a 370-s grid
    assert time_runs("f.h5", jitter, "t") == [(0, 6, T0, 370.0)]
    scattered = T0 + NS_PER_S * np.cumsum([0, 1, 5, 2, 9, 3])  # most steps off any grid
    with pytest.raises(FormatError, match=r"f\.h5: t: 3 of 5 steps differ .* \(irregular sampling"):
        time_runs("f.h5", scattered, "t")


def test_float32_attributes_are_the_decimals_written_and_lengths_convert():
    from raydas.formats.base import decimal_number, metres_per

    assert decimal_number(np.float32(0.001)) == 0.001 and float(np.float32(0.001)) != 0.001
    assert decimal_number(np.array([np.float32(0.4106746)])) == 0.4106746 and decimal_number("1.021") == 1.021
    assert metres_per("f.h5", b"meters", "x") == 1.0 and metres_per("f.h5", "ft", "x") == 0.3048
    with pytest.raises(FormatError, match=r"f\.h5: x is in unit 'furlong'"):
        metres_per("f.h5", "furlong", "x")


#: sample -> (data set, stored time first), as the research notes found them (the JLD2 file: see its raw-byte test)
STORED = {
    "hdf5/neubrex_das_1.h5": ("Acoustic", True),
    "hdf5/gdr_1.h5": ("DasRawData/RawData", True),
    "hdf5/deformation_rate_event_1.hdf5": (None, True),  # the one patch's data set under /waveforms
    "hdf5/dispersion_event.h5": (None, False),
    "hdf5/h5_simple_1.h5": ("raw", True),
    "hdf5/xdas_netcdf.nc": ("__values__", True),
}


@pytest.mark.parametrize("name", sorted(STORED))
def test_a_time_window_is_the_h5py_hyperslab(fibre_data, name):
    """raydas.read of [t0, t1) (times, not indices) equals h5py's hyperslab of those samples."""
    path = fibre_data / name
    rec = scan_one(path)
    dataset, time_first = STORED[name]
    i0, i1 = rec.n_samples // 3, rec.n_samples // 3 + max(2, rec.n_samples // 5)
    chunk = formats.read(str(path), rec.time_of(i0), rec.time_of(i1))
    with h5py.File(path, "r") as f:
        if dataset is None:
            (patch,) = list(f["waveforms"].values())
            node = patch["data"]
        else:
            node = f[dataset]
        expected = node[i0:i1, :].T if time_first else node[:, i0:i1]
    assert chunk.start_ns == rec.time_of(i0) and chunk.data.shape == (rec.n_channels, i1 - i0)
    np.testing.assert_array_equal(chunk.data, expected.astype(np.float32))
