"""Vendor HDF5 readers (Silixa iDAS native, Terra15, Febus A1, AP Sensing,
ASN OptoDAS, PRODML processed FBE) on the real sample files, each checked
against a plain h5py read written here, plus h5py-generated siblings in the
other layouts and attribute spellings the format rules allow."""

from __future__ import annotations

import json
import zlib

import h5py
import numpy as np
import pytest

from raydas import formats
from raydas.apps.cli import main
from raydas.errors import FormatError
from raydas.recording import assemble
from raydas.timeutil import NS_PER_S, parse_iso

# Every data file in the real folder: format, channels, samples, sample rate (Hz), start (UTC), records.
REAL = {
    "segy/small_channel_patch.sgy": ("segy", 10, 20, 250.0, "2017-09-18T00:00:00Z", 1),
    "segy/f3.sgy": ("segy", 414, 75, 250.0, None, 1),
    "segy/Format5msb.sgy": ("segy", 414, 75, 250.0, None, 1),
    "tdms/sample_tdms_file_v4713.tdms": ("tdms", 2432, 216, 500.0, "2019-04-15T03:33:35.812034Z", 1),
    "mseed/etna_9n_3chan_10s.mseed": ("mseed", 3, 13556, 1000.0, None, 1),
    "other/sintela_protobuf_1.pb": ("sintela-pb", 200, 1480, 500.0, None, 1),
    "hdf5/iDAS005_hdf5_example.626.h5": ("prodml", 1152, 1000, 1000.0, "2019-05-31T08:38:50.626928Z", 1),
    "hdf5/prodml_fbe_1.h5": ("prodml", 301, 453, 0.1953125, "2023-04-26T16:14:49.042Z", 5),
    "hdf5/silixa_h5_1.hdf5": ("silixa-h5", 3840, 100, 500.0, "2023-09-22T18:29:26.158Z", 1),
    "hdf5/terra15_v5_test_file.hdf5": ("terra15", 43, 2060, 1 / 0.00031096, "2022-08-23T23:09:54.3738363Z", 1),
    "hdf5/valencia_febus_example.h5": ("febus", 100, 2500, 250.0, None, 1),
    "hdf5/ap_sensing_1.hdf5": ("apsensing", 4082, 150, 500.0, "2023-09-24T12:46:31.739618Z", 1),
    "hdf5/decimated_optodas.hdf5": ("optodas", 51, 5000, 500.0, "2023-10-27T14:23:37.02Z", 1),
}
DOCUMENTS = {"README.md", "licenses/LGPL-3.0-segyio.md", "licenses/MIT-DASDAE-test_data.txt"}


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_raydas_scan_recognises_every_real_file(real_data, capsys):
    assert main(["scan", str(real_data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)

    def rel(path: str) -> str:
        return path.split(str(real_data) + "/", 1)[1]

    on_disk = {rel(str(p)) for p in real_data.rglob("*") if p.is_file()}
    assert on_disk == set(REAL) | DOCUMENTS  # a new sample file must be added to REAL
    assert report["unreadable"] == []
    assert {rel(u["path"]) for u in report["not_data"]} == DOCUMENTS
    by_file: dict[str, list] = {}
    for r in report["records"]:
        by_file.setdefault(rel(r["path"]), []).append(r)
    assert set(by_file) == set(REAL)
    for name, (fmt, channels, samples, rate, start, n_records) in REAL.items():
        recs = by_file[name]
        assert len(recs) == n_records, name
        for r in recs:
            assert (r["format"], r["channels"], r["samples"]) == (fmt, channels, samples), name
            assert r["sample_rate_hz"] == pytest.approx(rate, rel=1e-9), name
            if start:
                assert abs(parse_iso(r["start"]) - parse_iso(start)) <= 1000, name  # within 1 µs


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_raydas_scan_text_output_lists_documents_apart(real_data, capsys):
    assert main(["scan", str(real_data)]) == 0
    out, err = capsys.readouterr()
    assert "unreadable" not in err
    assert "skipped 3 file(s) that are not data" in err and "README.md" in err
    for fmt in ("silixa-h5", "terra15", "febus", "apsensing", "optodas", "prodml"):
        assert fmt in out


def test_documents_are_told_from_damaged_text_data(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "LICENSE").write_text("Permission is hereby granted, free of charge, to any person\nobtaining a copy\n")
    (folder / "broken.fbe").write_text("<?xml version='1.0'?>\n<logs><log>truncated")
    (folder / "table.txt").write_text("a,b,c\n1,2,3\n4,5,6\n")
    (folder / "empty.h5").write_bytes(b"")
    found = formats.scan_all(str(folder))
    assert [f.path.rsplit("/", 1)[1] for f in found.not_data] == ["LICENSE"]
    failed = {f.path.rsplit("/", 1)[1]: f.problem for f in found.failures}
    assert set(failed) == {"broken.fbe", "table.txt", "empty.h5"}  # may be damaged data: reported as failures
    assert "empty" in failed["empty.h5"]
    with pytest.raises(FormatError, match=r"LICENSE.*text document, not data"):  # asked for by name: a failure
        formats.scan_file(str(folder / "LICENSE"))


# --- Silixa iDAS native -------------------------------------------------------------------
def test_silixa_native_real_file_against_h5py(real_data):
    path = str(real_data / "hdf5/silixa_h5_1.hdf5")
    assert formats.detect(path).name == "silixa-h5"
    (rec,) = formats.scan_file(path)
    with h5py.File(path) as f:
        raw = f["Acoustic"][...]
        attrs = {k: str(v) for k, v in f["Acoustic"].attrs.items()}
    assert raw.shape == (100, 3840) and raw.dtype == np.int16
    assert (rec.n_samples, rec.n_channels) == raw.shape
    assert rec.sample_rate == float(attrs["SamplingFrequency[Hz]"]) == 500.0
    # '2023-09-22T19:29:26.158+01:00' is 18:29:26.158 UTC, as the GPS stamp says
    assert rec.start_ns == parse_iso("2023-09-22T18:29:26.158Z")
    assert attrs["GPSTimeStamp"].startswith("22/09/2023 18:29:26.158")
    # Start Distance + i x SpatialResolution x Fibre Length Multiplier ends at Stop Distance (5 cm in 7.8 km)
    multiplier = float(attrs["Fibre Length Multiplier"])
    assert rec.positions[0] == float(attrs["Start Distance (m)"])
    assert rec.channel_spacing == pytest.approx(2.0 * multiplier)
    assert rec.positions[-1] == pytest.approx(float(attrs["Stop Distance (m)"]), abs=0.05)  # rounded strings
    assert rec.gauge_length == 10.0 and rec.units == ""
    window = formats.read_samples(rec, 20, 35, slice(100, 108))
    np.testing.assert_array_equal(window, raw[20:35, 100:108].T.astype(np.float32))
    assert window.dtype == np.float32 and window.shape == (8, 15)


def write_silixa(path, data_time_channel, attrs):
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("Acoustic", data=data_time_channel)
        for k, v in attrs.items():
            ds.attrs[k] = v


def test_silixa_sibling_spellings_numbers_and_gps_stamp(tmp_path):
    data = np.arange(6 * 4, dtype=np.int16).reshape(6, 4)
    path = tmp_path / "idas.h5"
    write_silixa(
        path,
        data,
        {
            "Sampling Frequency (Hz)": 2000.0,
            "Spatial Resolution (m)": 0.5,
            "StartPosition[m]": np.bytes_(b"10"),
            "GPSTimeStamp": "01/02/2024 03:04:05.250 (UTC)",
        },
    )
    (rec,) = formats.scan_file(str(path))
    assert rec.format == "silixa-h5" and rec.sample_rate == 2000.0
    assert rec.start_ns == parse_iso("2024-02-01T03:04:05.25Z")  # day first
    np.testing.assert_array_equal(rec.positions, [10.0, 10.5, 11.0, 11.5])
    np.testing.assert_array_equal(formats.read_samples(rec, 1, 5, slice(1, 3)), data[1:5, 1:3].T)


def test_silixa_bad_attributes_are_format_errors(tmp_path):
    data = np.zeros((4, 3), dtype=np.int16)
    write_silixa(
        tmp_path / "norate.h5",
        data,
        {"SamplingFrequency[Hz]": "fast", "SpatialResolution[m]": "1", "ISO8601 Timestamp": "2024-01-01T00:00:00Z"},
    )
    with pytest.raises(FormatError, match=r"norate\.h5.*sample rate.*not a number"):
        formats.scan_file(str(tmp_path / "norate.h5"))
    write_silixa(tmp_path / "notime.h5", data, {"SamplingFrequency[Hz]": "500", "SpatialResolution[m]": "1"})
    with pytest.raises(FormatError, match=r"notime\.h5.*no 'ISO8601 Timestamp'"):
        formats.scan_file(str(tmp_path / "notime.h5"))


# --- Terra15 ---------------------------------------------------------------------------------
def test_terra15_v5_real_file_against_h5py(real_data):
    path = str(real_data / "hdf5/terra15_v5_test_file.hdf5")
    assert formats.detect(path).name == "terra15"
    (rec,) = formats.scan_file(path)
    with h5py.File(path) as f:
        raw = f["data_product/data"][...]
        gps = f["data_product/gps_time"][...]
        a = dict(f.attrs)
    assert (rec.n_samples, rec.n_channels) == raw.shape == (2060, 43)
    # the hardware interval: 5 laser pulses; the GPS stamps jitter and give ~0.06 % off
    assert rec.dt == a["dt_computer"] == pytest.approx(5 / a["pulse_rate"], rel=1e-6)
    assert rec.attrs["gps_dt"] == pytest.approx((gps[-1] - gps[0]) / (len(gps) - 1))
    assert rec.start_ns == int(round(gps[0] * NS_PER_S))
    assert rec.units == "m/s" and rec.attrs["data_product"] == "velocity" and rec.attrs["file_version"] == 5
    assert rec.positions[0] == pytest.approx(a["sensing_range_start"]) and rec.channel_spacing == pytest.approx(a["dx"])
    assert rec.gauge_length == pytest.approx(a["gauge_length"])
    np.testing.assert_array_equal(formats.read_samples(rec, 500, 530, slice(5, 9)), raw[500:530, 5:9].T)


def write_terra15(path, version, data, t0=1.7e9, dt=0.001, written=None, product="velocity"):
    n_t = data.shape[0]
    times = t0 + np.arange(n_t) * dt
    if written is not None:
        times[written:] = 0.0  # frames allocated but never written
    with h5py.File(path, "w") as f:
        f.attrs.update(
            {
                "file_version": version,
                "data_product": product,
                "data_product_units": "m/s",
                "dx": 2.0,
                "sensing_range_start": 100.0,
                "gauge_length": 4.0,
                "dt_computer": dt,
            }
        )
        group = f.create_group(product if version == 4 else "data_product")
        ds = group.create_dataset("data", data=data)
        ds.attrs["dT"] = dt
        group.create_dataset("gps_time", data=times)
        group.create_dataset("posix_time", data=times)


@pytest.mark.parametrize("version", [4, 6])
def test_terra15_v4_and_v6_siblings_and_unwritten_frames(tmp_path, version):
    data = np.random.default_rng(version).normal(size=(40, 5)).astype(np.float32)
    path = tmp_path / f"t15_v{version}.hdf5"
    write_terra15(path, version, data, written=30)
    (rec,) = formats.scan_file(str(path))
    assert rec.format == "terra15" and rec.n_samples == 30 and rec.attrs["unwritten_samples"] == 10
    assert rec.key == ("/velocity/data" if version == 4 else "/data_product/data")
    assert rec.start_ns == int(round(1.7e9 * NS_PER_S)) and rec.dt == 0.001
    np.testing.assert_array_equal(formats.read_samples(rec, 25, 40), data[25:30].T)  # never past the written part


@pytest.mark.parametrize("written", [1, 2, 17, 39, 40])
def test_terra15_written_sample_count_found_for_any_stop(tmp_path, written):
    path = tmp_path / "t15.hdf5"
    write_terra15(path, 5, np.ones((40, 2), np.float32), written=None if written == 40 else written)
    (rec,) = formats.scan_file(str(path))
    assert rec.n_samples == written and rec.attrs["unwritten_samples"] == 40 - written
    write_terra15(path, 5, np.ones((40, 2), np.float32), written=0)
    with pytest.raises(FormatError, match=r"t15\.hdf5.*no written samples"):
        formats.scan_file(str(path))


def test_terra15_unknown_version_is_refused(tmp_path):
    write_terra15(tmp_path / "v3.hdf5", 5, np.zeros((4, 2), np.float32))
    with h5py.File(tmp_path / "v3.hdf5", "a") as f:
        f.attrs["file_version"] = 3
    with pytest.raises(FormatError, match=r"v3\.hdf5.*file_version 3 is not supported"):
        formats.scan_file(str(tmp_path / "v3.hdf5"))


# --- Febus A1 --------------------------------------------------------------------------------
VALENCIA = "hdf5/valencia_febus_example.h5"


def test_febus_legacy_real_file_sampling_rate_beats_spacing(real_data):
    path = str(real_data / VALENCIA)
    assert formats.detect(path).name == "febus"
    (rec,) = formats.scan_file(path)
    with h5py.File(path) as f:
        zone = f["fa1-20050027/Source1/Zone1"]
        blocks = zone["SR_Valencia"][...]  # (block, time, channel)
        stamps = f["fa1-20050027/Source1/time"][...].reshape(-1)
        spacing = zone.attrs["Spacing"]
        rate_attr = float(zone.attrs["SamplingRate"][0])
    # Spacing says 2 ms (500 Hz) but SamplingRate says 250 Hz. Blocks hold 250
    # samples and are ~1 s apart, so only 250 Hz tiles time without gaps: it wins.
    assert 1000 / spacing[1] == 500.0 and rate_attr == 250.0
    assert np.median(np.diff(stamps)) == pytest.approx(1.0, abs=0.02) and blocks.shape == (10, 250, 100)
    assert rec.sample_rate == 250.0 and rec.attrs["rate_source"] == "SamplingRate"
    assert (rec.n_channels, rec.n_samples) == (100, 2500)
    assert rec.start_ns == int(round(stamps[0] * NS_PER_S))  # legacy stamps are block starts, no overlap to trim
    assert rec.channel_spacing == pytest.approx(16.8) and rec.gauge_length == pytest.approx(30.4)
    assert rec.attrs["quantity"] == "strain rate" and rec.units == ""  # the legacy file states no unit
    continuous = blocks.reshape(-1, 100)  # blocks abut: the series is the blocks one after another
    np.testing.assert_array_equal(formats.read_samples(rec, 240, 520, slice(3, 60, 7)), continuous[240:520, 3:60:7].T)


def write_febus(
    path,
    series,
    per_block=100,
    step=50,
    version="2.3.21",
    product="Strain Rate [nStrain|s]",
    t0=1.6e9,
    rate=500.0,
    extra=None,
    stamp_jump=None,
):
    """Firmware-2.x style file: blocks of ``per_block`` samples starting every
    ``step`` samples of ``series`` (time, channel), stamped at the block middle."""
    n_blocks = (series.shape[0] - per_block) // step + 1
    blocks = np.stack([series[k * step : k * step + per_block] for k in range(n_blocks)])
    starts = t0 + np.arange(n_blocks) * step / rate
    if stamp_jump is not None:
        starts[stamp_jump:] += 5.0
    with h5py.File(path, "w") as f:
        source = f.create_group("dev-1/Source1")
        source.attrs["Version"] = np.bytes_(version)
        source.attrs["SamplingRate"] = np.array([rate])
        source.create_dataset("time", data=(starts + per_block / rate / 2)[None, :])
        zone = source.create_group("Zone1")
        zone.attrs["Spacing"] = np.array([2.5, 1000.0 / rate, 1.0])
        zone.attrs["Origin"] = np.array([50.0, 0.0, 0.0])
        zone.attrs["Extent"] = np.array([4.0, 4.0 + series.shape[1] - 1, 0, per_block - 1, 0, 0])
        zone.attrs["BlockOverlap"] = np.array([100.0 * (per_block - step) / step])
        zone.attrs["GaugeLength"] = np.array([10.0])
        zone.create_dataset(product, data=blocks.astype(np.float32))
        for name in extra or ():
            zone.create_dataset(name, data=np.ones((n_blocks, 8, 3), np.float32))
    return blocks


def test_febus_firmware2_overlapping_blocks_keep_the_middle(tmp_path):
    n_chan, rate = 3, 500.0
    series = (np.arange(600)[:, None] * 10 + np.arange(n_chan)[None, :]).astype(np.float32)
    path = tmp_path / "febus2.h5"
    write_febus(path, series, extra=["Power Spectral Density"])
    (rec,) = formats.scan_file(str(path))
    # 100-sample blocks every 50 samples (100 % overlap): each gives its middle 50, from sample 25 on
    assert rec.attrs["keep"] == 50 and rec.attrs["skip"] == 25 and rec.attrs["rate_source"] == "Spacing"
    assert rec.n_samples == 11 * 50 and rec.units == "nstrain/s" and rec.attrs["quantity"] == "strain rate"
    assert rec.start_ns == int(round((1.6e9 + 25 / rate) * NS_PER_S))  # middle stamp minus half a block, plus skip
    np.testing.assert_array_equal(rec.positions, 50.0 + (4 + np.arange(n_chan)) * 2.5)
    assert rec.attrs["skipped_products"] == ["Power Spectral Density"]
    np.testing.assert_array_equal(formats.read_samples(rec, 40, 160), series[25 + 40 : 25 + 160].T)
    np.testing.assert_array_equal(formats.read_samples(rec, 0, rec.n_samples, slice(1, 2)), series[25:575, 1:2].T)


def test_febus_psd_only_zone_is_refused_not_read_as_strain_rate(tmp_path):
    path = tmp_path / "psd.h5"
    write_febus(path, np.zeros((300, 2), np.float32), product="Power Spectral Density")
    with pytest.raises(FormatError, match=r"psd\.h5.*Power Spectral Density.*only strain and strain-rate"):
        formats.scan_file(str(path))


def test_febus_block_time_gap_splits_records(tmp_path):
    series = np.arange(600 * 2, dtype=np.float32).reshape(600, 2)
    path = tmp_path / "gap.h5"
    write_febus(path, series, version="", stamp_jump=4)  # legacy: stamps are block starts
    with h5py.File(path, "a") as f:
        del f["dev-1/Source1"].attrs["Version"]
    recs = formats.scan_file(str(path))
    assert [r.n_samples for r in recs] == [4 * 50, 7 * 50]
    assert recs[1].start_ns - recs[0].start_ns == int(round((4 * 50 / 500 + 5.0) * NS_PER_S))
    _, breaks = assemble(recs)
    assert [b.kind for b in breaks] == ["gap"]
    np.testing.assert_array_equal(formats.read_samples(recs[1], 0, 10), series[4 * 50 + 25 : 4 * 50 + 35].T)


# --- AP Sensing --------------------------------------------------------------------------------
def test_ap_sensing_real_file_against_h5py(real_data):
    path = str(real_data / "hdf5/ap_sensing_1.hdf5")
    assert formats.detect(path).name == "apsensing"
    (rec,) = formats.scan_file(path)
    with h5py.File(path) as f:
        raw = f["DAS"][...]
        first = float(f["DAQ/PositionStart"][0])
        step = float(f["ProcessingServer/SpatialSampling"][0])
    assert raw.dtype == np.int32 and (rec.n_samples, rec.n_channels) == raw.shape == (150, 4082)
    assert rec.sample_rate == 500.0 and rec.start_ns == parse_iso("2023-09-24T12:46:31.739618Z")
    assert rec.positions[0] == pytest.approx(first) and rec.channel_spacing == pytest.approx(step)
    assert rec.gauge_length == pytest.approx(4.9005713) and rec.units == ""
    assert rec.attrs["data_type"] == "SCALED_DIFFERENTIAL_PHASE_32" and rec.attrs["radians_to_nanostrain"] == 21.54
    np.testing.assert_array_equal(formats.read_samples(rec, 10, 60, slice(4000, 4082)), raw[10:60, 4000:].T)


def test_ap_sensing_sibling_channel_major_layout(tmp_path):
    data = np.arange(5 * 8, dtype=np.int32).reshape(5, 8)  # (channel, time)
    path = tmp_path / "aps.h5"
    with h5py.File(path, "w") as f:
        f.attrs["AppVersion"] = np.array(["APSensing DAS Data Collector (Version: 3.7.0)"], dtype=object)
        f.create_dataset("DAS", data=data)
        f["ProcessingServer/DataRate"] = np.array([1000], np.int32)
        f["ProcessingServer/SpatialSampling"] = np.array([0.5], np.float32)
        f["DAQ/SpatialPoints"] = np.array([5], np.int32)
        f["DAQ/PositionStart"] = np.array([3.0])
        f["Metadata/Timestamp"] = np.array([b"2024-06-01T00:00:00.5Z"], dtype=object)
    (rec,) = formats.scan_file(str(path))
    assert (rec.n_channels, rec.n_samples, rec.attrs["time_first"]) == (5, 8, False)
    np.testing.assert_array_equal(formats.read_samples(rec, 2, 6, slice(1, 4)), data[1:4, 2:6])
    with h5py.File(path, "a") as f:
        del f["Metadata/Timestamp"]
    with pytest.raises(FormatError, match=r"aps\.h5.*Metadata/Timestamp"):
        formats.scan_file(str(path))


# --- ASN OptoDAS -------------------------------------------------------------------------------
def test_optodas_real_file_against_h5py(real_data):
    path = str(real_data / "hdf5/decimated_optodas.hdf5")
    assert formats.detect(path).name == "optodas"
    (rec,) = formats.scan_file(path)
    with h5py.File(path) as f:
        raw = f["data"][...]
        channels = f["header/channels"][...]
        dx = float(f["header/dx"][()])
        t0 = float(f["header/time"][()])
        scale = float(f["header/dataScale"][()])
    assert (rec.n_samples, rec.n_channels) == raw.shape == (5000, 51)
    assert rec.dt == 0.002 and rec.start_ns == int(round(t0 * NS_PER_S))
    assert rec.start_ns == parse_iso("2023-10-27T14:23:37.02Z")
    np.testing.assert_allclose(rec.positions, channels * dx)
    assert rec.channel_spacing == pytest.approx(50 * dx) and rec.units == "strain/s"
    assert rec.gauge_length == pytest.approx(10.213001907746815)
    np.testing.assert_array_equal(formats.read_samples(rec, 4990, 5000, slice(0, 5)), raw[4990:, :5].T * scale)


def test_optodas_sibling_distance_first_and_data_scale(tmp_path):
    data = np.arange(4 * 6, dtype=np.int16).reshape(4, 6)  # (distance, time)
    path = tmp_path / "opto.hdf5"
    with h5py.File(path, "w") as f:
        f["fileVersion"] = 7
        f["data"] = data
        f["header/dt"] = 0.01
        f["header/dx"] = 2.0
        f["header/time"] = 1.7e9
        f["header/dataScale"] = np.float32(0.5)
        f["header/unit"] = np.bytes_(b"rad/(s m)")
        f["header/dimensionNames"] = np.array([b"distance", b"time"])
        f["header/channels"] = np.array([10, 11, 12, 13], np.int32)
    (rec,) = formats.scan_file(str(path))
    assert (rec.n_channels, rec.n_samples, rec.sample_rate) == (4, 6, 100.0) and rec.units == "rad/(s m)"
    np.testing.assert_array_equal(rec.positions, [20.0, 22.0, 24.0, 26.0])
    np.testing.assert_array_equal(formats.read_samples(rec, 1, 4, slice(2, 4)), data[2:4, 1:4] * 0.5)


# --- PRODML processed FBE ------------------------------------------------------------------------
def test_optasense_prodml_fbe_real_file_reads_band_energies(real_data):
    path = str(real_data / "hdf5/prodml_fbe_1.h5")
    records = formats.scan_file(path)
    with h5py.File(path) as f:
        fbe = f["Acquisition/Processed/Fbe[0]"]
        times = fbe["FbeDataTime"][...]
        bands = [fbe[f"FbeData[{i}]"] for i in range(5)]
        expected = [(b.attrs["StartFrequency"], b.attrs["EndFrequency"], b[100:140, 7:20]) for b in bands]
    assert len(records) == 5 and len({r.stream for r in records}) == 5
    for rec, (lo, hi, block) in zip(sorted(records, key=lambda r: r.key), expected):
        assert rec.units == "rad2/Hz" and rec.attrs["kind"] == "fbe" and rec.attrs["band_hz"] == [lo, hi]
        assert (rec.n_samples, rec.n_channels) == (453, 301)
        assert rec.dt == pytest.approx(5.12) and rec.start_ns == int(times[0]) * 1000
        np.testing.assert_array_equal(formats.read_samples(rec, 100, 140, slice(7, 20)), block.T)
    recordings, breaks = assemble(records)
    assert len(recordings) == 5 and not breaks  # parallel bands never joined to one another


def write_prodml_fbe(path, start_us, energies, rate=1.0, with_raw=False):
    """PRODML v2.1 file with one Fbe group: ``energies`` is {(lo, hi): (time, locus) array}."""
    n_t = next(iter(energies.values())).shape[0]
    with h5py.File(path, "w") as f:
        acq = f.create_group("Acquisition")
        acq.attrs["schemaVersion"] = np.bytes_(b"2.1")
        acq.attrs["SpatialSamplingInterval"] = 1.5
        acq.attrs["SpatialSamplingInterval.uom"] = np.bytes_(b"m")
        acq.attrs["MeasurementStartTime"] = np.bytes_(b"2024-01-01T00:00:00Z")
        fbe = acq.create_group("Processed/Fbe[0]")
        fbe.attrs["OutputDataRate"] = rate
        fbe.attrs["FbeDataUnit"] = np.bytes_(b"(nm/m)^2")
        fbe.attrs["StartLocusIndex"] = np.int32(2)
        fbe["FbeDataTime"] = start_us + np.arange(n_t, dtype=np.int64) * int(1e6 / rate)
        for i, ((lo, hi), values) in enumerate(energies.items()):
            ds = fbe.create_dataset(f"FbeData[{i}]", data=values)
            ds.attrs["StartFrequency"], ds.attrs["EndFrequency"] = lo, hi
            ds.attrs["Dimensions"] = np.array([b"time", b"locus"])
        if with_raw:
            raw = acq.create_group("Raw[0]")
            raw.attrs["OutputDataRate"] = 100.0
            raw["RawData"] = np.zeros((300, 4), np.float32)
            raw["RawDataTime"] = start_us + np.arange(300, dtype=np.int64) * 10_000


def test_prodml_fbe_bands_from_consecutive_files_join_per_band(tmp_path):
    rng = np.random.default_rng(1)
    bands = {(10.0, 50.0): rng.random((6, 4), dtype=np.float32), (50.0, 200.0): rng.random((6, 4), dtype=np.float32)}
    t0 = 1_704_067_200_000_000
    write_prodml_fbe(tmp_path / "a.h5", t0, {k: v[:3] for k, v in bands.items()}, with_raw=True)
    write_prodml_fbe(tmp_path / "b.h5", t0 + 3_000_000, {k: v[3:] for k, v in bands.items()})
    records, failures = formats.scan(str(tmp_path))
    assert not failures
    fbe = [r for r in records if r.attrs.get("kind") == "fbe"]
    raw = [r for r in records if r.attrs.get("kind") != "fbe"]
    assert len(fbe) == 4 and len(raw) == 1 and raw[0].stream == ""
    assert raw[0].sample_rate == pytest.approx(100.0)
    np.testing.assert_array_equal(fbe[0].positions, [3.0, 4.5, 6.0, 7.5])
    recordings, breaks = assemble(fbe)
    assert not breaks and sorted(len(r.records) for r in recordings) == [2, 2]
    for recording in recordings:
        band = tuple(recording.first.attrs["band_hz"])
        joined = np.concatenate([formats.read_samples(p, 0, p.n_samples) for p in recording.records], axis=1)
        np.testing.assert_array_equal(joined, bands[band].T)


# --- bad input -------------------------------------------------------------------------------
VENDOR_FILES = [
    "hdf5/silixa_h5_1.hdf5",
    "hdf5/terra15_v5_test_file.hdf5",
    VALENCIA,
    "hdf5/ap_sensing_1.hdf5",
    "hdf5/decimated_optodas.hdf5",
    "hdf5/prodml_fbe_1.h5",
]


@pytest.mark.parametrize("name", VENDOR_FILES)
def test_truncated_vendor_files_fail_with_format_error_naming_the_file(real_data, tmp_path, name):
    raw = (real_data / name).read_bytes()
    cut = tmp_path / ("cut_" + name.rsplit("/", 1)[1])
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FormatError, match="cut_") as info:
        records = formats.scan_file(str(cut))
        for rec in records:  # metadata may survive the cut; the samples cannot
            formats.read_samples(rec, 0, rec.n_samples)
    assert info.value.path == str(cut)


def test_wrong_dtype_empty_and_corrupt_vendor_files(tmp_path):
    text_data = tmp_path / "strings.h5"
    write_silixa(
        text_data,
        np.array([[b"a", b"b"], [b"c", b"d"]]),
        {"SamplingFrequency[Hz]": "500", "SpatialResolution[m]": "1", "ISO8601 Timestamp": "2024-01-01T00:00:00Z"},
    )
    with pytest.raises(FormatError, match=r"strings\.h5.*not numbers"):
        formats.scan_file(str(text_data))
    empty = tmp_path / "empty.hdf5"
    write_terra15(empty, 5, np.zeros((0, 3), np.float32))
    with pytest.raises(FormatError, match=r"empty\.hdf5.*empty"):
        formats.scan_file(str(empty))
    header = tmp_path / "header.h5"
    raw = bytearray((tmp_path / "strings.h5").read_bytes())
    raw[8:64] = b"\xff" * 56  # superblock after the signature
    header.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match=r"header\.h5"):
        formats.scan_file(str(header))


def test_febus_window_of_a_large_file_reads_only_the_blocks_it_needs(tmp_path):
    import tracemalloc

    rate, n_chan, per_block, step, n_blocks = 1000.0, 500, 2000, 1000, 400  # 2-s blocks every 1 s: 1.6 GB of blocks
    path = tmp_path / "big_febus.h5"
    wanted = (150, 152)  # the only blocks with values; the others are stored as compressed zeros
    zeros = zlib.compress(np.zeros((1, per_block, n_chan), dtype=np.float32).tobytes(), 1)
    with h5py.File(path, "w") as f:
        source = f.create_group("dev/Source1")
        source.create_dataset("time", data=(1.7e9 + np.arange(n_blocks, dtype=np.float64))[None, :])
        zone = source.create_group("Zone1")
        zone.attrs["Spacing"] = np.array([1.0, 1.0, 1.0])
        zone.attrs["SamplingRate"] = np.array([rate])
        ds = zone.create_dataset(
            "StrainRate",
            shape=(n_blocks, per_block, n_chan),
            dtype=np.float32,
            chunks=(1, per_block, n_chan),
            compression="gzip",
        )
        for b in range(n_blocks):  # every chunk stored (a file with unwritten chunks in between is refused)
            if wanted[0] <= b < wanted[1]:
                ds[b] = b + np.arange(per_block, dtype=np.float32)[:, None] / per_block
            else:
                ds.id.write_direct_chunk((b, 0, 0), zeros)
    (rec,) = formats.scan_file(str(path))
    assert rec.attrs["keep"] == step and rec.attrs["skip"] == 500 and rec.n_samples == n_blocks * step
    start = 150 * step + 300  # a 1-s window straddling blocks 150 and 151
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        window = formats.read_samples(rec, start, start + step)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    expected = np.concatenate([150 + np.arange(800, 1500) / per_block, 151 + np.arange(500, 800) / per_block])
    np.testing.assert_allclose(window, np.broadcast_to(expected.astype(np.float32), (n_chan, step)))
    assert peak < 3 * window.nbytes  # the window, not the file (1.6 GB) nor whole blocks
