"""TDMS (Silixa iDAS), miniSEED and Sintela protobuf readers on the real
sample files, checked against plain npTDMS / ObsPy / google.protobuf reads,
and on bad input."""

from __future__ import annotations

import struct
import warnings

import numpy as np
import pytest

from raydas import formats
from raydas.errors import FormatError, TruncatedFileWarning
from raydas.formats.mseed import UnequalTracesWarning
from raydas.timeutil import parse_iso


# --- TDMS ------------------------------------------------------------------------------
def test_truncated_silixa_tdms_reads_complete_samples_and_warns(real_data):
    from nptdms import TdmsFile

    path = str(real_data / "tdms" / "sample_tdms_file_v4713.tdms")
    with pytest.warns(TruncatedFileWarning, match=r"sample_tdms_file_v4713\.tdms.*216 complete"):
        (rec,), failures = formats.scan(path)
    assert not failures
    tdms = TdmsFile.read(path)
    channels = tdms["Measurement"].channels()
    expected = np.stack([c[:] for c in channels]).astype(np.float32)
    props = tdms.properties
    assert (rec.n_channels, rec.n_samples) == expected.shape == (2432, 216)
    assert rec.sample_rate == props["SamplingFrequency[Hz]"] == 500.0
    assert rec.start_ns == int(props["GPSTimeStamp"].astype("datetime64[ns]").astype(np.int64))
    assert rec.start_ns == parse_iso("2019-04-15T03:33:35.812034Z")
    assert rec.gauge_length == 10.0
    assert rec.positions[0] == pytest.approx(props["Start Distance (m)"])
    assert rec.positions[-1] == pytest.approx(props["Stop Distance (m)"], abs=0.1)  # within 5 % of a channel
    np.testing.assert_array_equal(formats.read_samples(rec, 0, 216), expected)
    np.testing.assert_array_equal(formats.read_samples(rec, 100, 140, slice(7, 2000, 13)), expected[7:2000:13, 100:140])


def _write_tdms(path, data, rate=250.0, start="2024-03-01T10:00:00"):
    from nptdms import ChannelObject, GroupObject, RootObject, TdmsWriter

    root = RootObject(
        {
            "SamplingFrequency[Hz]": rate,
            "GPSTimeStamp": np.datetime64(start),
            "SpatialResolution[m]": 2.0,
            "Start Distance (m)": 10.0,
        }
    )
    with TdmsWriter(path) as writer:
        writer.write_segment(
            [root, GroupObject("Measurement")]
            + [ChannelObject("Measurement", str(i), data[i]) for i in range(data.shape[0])]
        )


def test_generic_npTDMS_layout_is_read(tmp_path):
    data = np.random.default_rng(1).integers(-3000, 3000, (5, 120)).astype(np.int16)
    path = str(tmp_path / "generic.tdms")
    _write_tdms(path, data)
    (rec,), failures = formats.scan(path)
    assert not failures and rec.attrs["layout"] == "npTDMS"
    assert (rec.n_channels, rec.n_samples, rec.sample_rate) == (5, 120, 250.0)
    assert rec.start_ns == parse_iso("2024-03-01T10:00:00Z")
    np.testing.assert_array_equal(rec.positions, 10.0 + 2.0 * np.arange(5))
    np.testing.assert_array_equal(formats.read_samples(rec, 20, 90, slice(1, 4)), data[1:4, 20:90])


def test_tdms_bad_input(tmp_path, real_data):
    lead_in_only = tmp_path / "cut.tdms"
    lead_in_only.write_bytes((real_data / "tdms" / "sample_tdms_file_v4713.tdms").read_bytes()[:20])
    with pytest.raises(FormatError, match=r"cut\.tdms.*too short for TDMS"):
        formats.scan_file(str(lead_in_only))
    garbled = tmp_path / "garbled.tdms"
    garbled.write_bytes(b"TDSm" + bytes(range(256)) * 8)
    with pytest.raises(FormatError, match=r"garbled\.tdms"):
        formats.scan_file(str(garbled))


# --- miniSEED ---------------------------------------------------------------------------
def test_mseed_unequal_traces_read_over_common_span(real_data):
    import obspy

    path = str(real_data / "mseed" / "etna_9n_3chan_10s.mseed")
    stream = obspy.read(path)
    lengths = [tr.stats.npts for tr in stream]
    assert lengths == [13735, 13729, 13556]
    with pytest.warns(UnequalTracesWarning, match="13556 samples all channels cover"):
        (rec,), failures = formats.scan(path)
    assert not failures
    assert (rec.n_channels, rec.n_samples, rec.sample_rate) == (3, min(lengths), 1000.0)
    assert rec.start_ns == stream[0].stats.starttime.ns
    np.testing.assert_array_equal(rec.positions, [66, 67, 68])
    assert rec.attrs["trimmed"] == {"9N.00066..HSF": [0, 179], "9N.00067..HSF": [0, 173]}
    expected = np.stack([tr.data[: min(lengths)] for tr in stream]).astype(np.float32)
    np.testing.assert_array_equal(formats.read_samples(rec, 0, rec.n_samples), expected)
    np.testing.assert_array_equal(formats.read_samples(rec, 4000, 4100, slice(1, 3)), expected[1:3, 4000:4100])


def test_mseed_channels_ordered_by_station_number(tmp_path):
    import obspy

    start = obspy.UTCDateTime("2024-01-01T00:00:00")
    traces = [
        obspy.Trace(
            np.arange(100, dtype=np.int32) * (k + 1),
            {"network": "XX", "station": f"{k:05d}", "channel": "HSF", "sampling_rate": 200.0, "starttime": start},
        )
        for k in (12, 10, 11)
    ]
    path = str(tmp_path / "three.mseed")
    obspy.Stream(traces).write(path, format="MSEED", encoding="STEIM2")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # equal spans: no warning
        (rec,), _ = formats.scan(path)
    np.testing.assert_array_equal(rec.positions, [10, 11, 12])
    np.testing.assert_array_equal(formats.read_samples(rec, 0, 100)[:, 5], [55, 60, 65])


def _trace(values, station, start, rate=200.0):
    import obspy

    return obspy.Trace(np.asarray(values, np.int32), {"station": station, "sampling_rate": rate, "starttime": start})


def test_mseed_gap_splits_the_file_into_one_record_per_continuous_segment(tmp_path):
    import obspy

    from raydas.recording import assemble

    start = obspy.UTCDateTime("2024-01-01T00:00:00")
    gappy = obspy.Stream([_trace(np.arange(50), "00001", start), _trace(100 + np.arange(50), "00001", start + 1.0)])
    path = str(tmp_path / "gap.mseed")
    gappy.write(path, format="MSEED")
    records = formats.scan_file(path)
    assert [(r.key, r.n_samples, r.start_ns) for r in records] == [
        ("segment0", 50, start.ns),
        ("segment1", 50, (start + 1.0).ns),  # the second trace where it is, never shifted onto the first
    ]
    reference = obspy.read(path)  # the plain read: the two traces as written
    for rec, tr in zip(records, sorted(reference, key=lambda t: t.stats.starttime), strict=True):
        np.testing.assert_array_equal(formats.read_samples(rec, 0, rec.n_samples), tr.data[None].astype(np.float32))
        np.testing.assert_array_equal(formats.read_samples(rec, 10, 20), tr.data[None, 10:20].astype(np.float32))
    window = formats.read(path, start_ns=(start + 1.1).ns, end_ns=(start + 1.2).ns)
    assert window.start_ns == (start + 1.1).ns  # read() picks the record holding the window
    recordings, breaks = assemble(records)
    assert len(recordings) == 2 and [b.kind for b in breaks] == ["gap"]
    assert "0.75 s missing" in breaks[0].detail


def test_mseed_channels_with_different_gaps_give_the_stretches_all_cover(tmp_path):
    import obspy

    start = obspy.UTCDateTime("2024-01-01T00:00:00")
    a = [_trace(np.arange(400), "00001", start)]  # 0 - 2 s, no gap
    b = [_trace(1000 + np.arange(100), "00002", start), _trace(2000 + np.arange(200), "00002", start + 1.0)]
    path = str(tmp_path / "two.mseed")
    obspy.Stream(a + b).write(path, format="MSEED")
    records = formats.scan_file(path)
    assert [(r.n_channels, r.n_samples, r.start_ns) for r in records] == [(2, 100, start.ns), (2, 200, (start + 1).ns)]
    first, second = (formats.read_samples(r, 0, r.n_samples) for r in records)
    np.testing.assert_array_equal(first, np.stack([np.arange(100), 1000 + np.arange(100)]).astype(np.float32))
    np.testing.assert_array_equal(second, np.stack([200 + np.arange(200), 2000 + np.arange(200)]).astype(np.float32))
    assert np.isfinite(first).all() and np.isfinite(second).all()  # nothing filled


def test_mseed_truncated_and_corrupted(tmp_path, real_data):
    raw = (real_data / "mseed" / "etna_9n_3chan_10s.mseed").read_bytes()
    cut = tmp_path / "cut.mseed"
    cut.write_bytes(raw[: 4096 + 1000])  # first 4096-byte record complete, the second cut
    with pytest.warns(TruncatedFileWarning, match=r"cut\.mseed: truncated miniSEED"):
        (rec,), _ = formats.scan(str(cut))
    with pytest.warns(TruncatedFileWarning):
        data = formats.read_samples(rec, 0, rec.n_samples)
    assert data.shape == (1, rec.n_samples) and rec.n_samples > 0
    corrupted = tmp_path / "corrupted.mseed"
    corrupted.write_bytes(raw[:48] + b"\xff" * 4048)  # valid fixed header, garbage after it
    with pytest.raises(FormatError, match=r"corrupted\.mseed"):
        rec = formats.scan_file(str(corrupted))[0]
        formats.read_samples(rec, 0, rec.n_samples)


# --- Sintela protobuf ---------------------------------------------------------------------
def _protobuf_packet_class():
    """A TimeseriesPacket message built with google.protobuf (an independent decoder)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    T = descriptor_pb2.FieldDescriptorProto
    f = descriptor_pb2.FileDescriptorProto(name="sintela_test.proto", package="t")

    def message(name, *fields):
        m = f.message_type.add(name=name)
        for fname, number, ftype, extra in fields:
            m.field.add(
                name=fname,
                number=number,
                type=ftype,
                label=extra.get("label", T.LABEL_OPTIONAL),
                **({"type_name": extra["type_name"]} if "type_name" in extra else {}),
            )

    message("Stamp", ("seconds", 1, T.TYPE_INT64, {}), ("nanos", 2, T.TYPE_INT32, {}))
    message(
        "Common",
        ("time", 1, T.TYPE_MESSAGE, {"type_name": ".t.Stamp"}),
        ("num_channels", 2, T.TYPE_INT32, {}),
        ("sample_rate", 3, T.TYPE_FLOAT, {}),
        ("channel_spacing", 4, T.TYPE_FLOAT, {}),
        ("gauge_length", 5, T.TYPE_FLOAT, {}),
    )
    message(
        "Header",
        ("common", 1, T.TYPE_MESSAGE, {"type_name": ".t.Common"}),
        ("sample_count", 2, T.TYPE_UINT32, {}),
        ("num_samples", 3, T.TYPE_INT32, {}),
    )
    message(
        "Packet",
        ("header", 1, T.TYPE_MESSAGE, {"type_name": ".t.Header"}),
        ("samples", 3, T.TYPE_FLOAT, {"label": T.LABEL_REPEATED}),
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("t.Packet"))


def _envelopes(raw: bytes):
    pos = 0
    while pos < len(raw):
        tag, length = raw[pos + 4 : pos + 8], struct.unpack("<I", raw[pos + 8 : pos + 12])[0]
        yield tag, raw[pos + 12 : pos + 12 + length]
        pos += 12 + length


def test_sintela_protobuf_matches_google_protobuf_decode(real_data):
    path = real_data / "other" / "sintela_protobuf_1.pb"
    Packet = _protobuf_packet_class()
    packets = []
    for tag, payload in _envelopes(path.read_bytes()):
        if tag == b"TS05":
            msg = Packet()
            msg.ParseFromString(payload)
            packets.append(msg)
    assert len(packets) == 185
    h = packets[0].header
    n_ch = h.common.num_channels
    expected = np.concatenate(
        [np.asarray(p.samples, np.float32).reshape(p.header.num_samples, n_ch) for p in packets]
    ).T
    (rec,), failures = formats.scan(str(path))
    assert not failures and rec.format == "sintela-pb"
    assert (rec.n_channels, rec.n_samples) == expected.shape == (200, 1480)
    assert rec.sample_rate == h.common.sample_rate == 500.0
    assert rec.start_ns == h.common.time.seconds * 10**9 + h.common.time.nanos
    assert rec.gauge_length == h.common.gauge_length
    np.testing.assert_allclose(rec.positions, h.common.channel_spacing * np.arange(200))
    assert rec.attrs["manufacturer"] == "Sintela"
    np.testing.assert_array_equal(formats.read_samples(rec, 0, 1480), expected)
    np.testing.assert_array_equal(formats.read_samples(rec, 5, 37, slice(150, 160)), expected[150:160, 5:37])


def test_sintela_bad_input(tmp_path, real_data):
    raw = (real_data / "other" / "sintela_protobuf_1.pb").read_bytes()
    cut = tmp_path / "cut.pb"
    cut.write_bytes(raw[:50_000])
    with pytest.raises(FormatError, match=r"cut\.pb.*truncated"):
        formats.scan_file(str(cut))
    band = tmp_path / "band.pb"
    meta_len = 12 + struct.unpack("<I", raw[8:12])[0]
    band.write_bytes(raw[:meta_len] + b"PBUFBAND" + struct.pack("<I", 3) + b"\x08\x01\x10")
    with pytest.raises(FormatError, match=r"band\.pb.*'BAND' packets are not supported"):
        formats.scan_file(str(band))
    garbled = tmp_path / "garbled.pb"
    garbled.write_bytes(raw[:meta_len] + b"PBUFTS05" + struct.pack("<I", 6) + b"\x0a\xff\xff\xff\xff\x0f")
    with pytest.raises(FormatError, match=r"garbled\.pb.*undecodable"):
        formats.scan_file(str(garbled))
