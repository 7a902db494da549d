"""The writers for other tools: DASDAE HDF5 (opened by DASCore), xdas NetCDF4
(opened by xdas) and PRODML 2.1 (opened by DASCore's PRODML reader). Each
file is opened by the real client (a test extra) and compared with the chunk
written, value by value; the graph commands write the same files under the
results root; bad input is refused naming the writer."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest
from helpers import make_chunk, run_command, run_graph

from raydas import formats
from raydas.chunk import Chunk
from raydas.errors import ConfigError, PipelineError, RaydasError
from raydas.formats.dasdae_writer import dascore_units, write_dasdae
from raydas.formats.prodml import write_prodml
from raydas.formats.xdas_writer import write_netcdf
from raydas.pipeline import Pipeline
from raydas.timeutil import NS_PER_S

START = 1_717_243_200 * NS_PER_S + 125_000_000  # 2024-06-01T12:00:00.125Z
DT = 0.002  # s
POSITIONS = 100.0 + 2.0 * np.arange(5)  # m


@pytest.fixture
def chunk() -> Chunk:
    data = np.random.default_rng(7).standard_normal((5, 400)).astype(np.float32)
    return Chunk(data, START, DT, POSITIONS, units="strain/s", gauge_length=8.0, source="synthetic")


def expected_times(start_ns: int, n: int, dt: float) -> np.ndarray:
    """The sample times written plainly: start + i * dt, in datetime64[ns]."""
    return np.array([start_ns + round(i * dt * NS_PER_S) for i in range(n)], dtype="datetime64[ns]")


def dascore():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("dascore")


# --- DASDAE ---------------------------------------------------------------------------------
def test_dasdae_opens_in_dascore_with_the_same_data_coordinates_and_attributes(tmp_path, chunk):
    dc = dascore()
    url = str(tmp_path / "out.h5")
    assert write_dasdae(chunk, url, data_type="strain_rate") == [url]
    spool = dc.spool(url)
    assert len(spool) == 1
    for patch in (spool[0], dc.read(url)[0]):
        assert patch.dims == ("distance", "time")
        np.testing.assert_array_equal(patch.data, chunk.data)
        assert patch.data.dtype == np.float32
        np.testing.assert_array_equal(patch.get_array("distance"), POSITIONS)
        np.testing.assert_array_equal(patch.get_array("time"), expected_times(START, 400, DT))
        assert patch.get_coord("distance").units == dc.get_quantity("m")
        assert patch.attrs.data_type == "strain_rate"
        assert patch.attrs.data_units == dc.get_quantity("strain/s")
        assert patch.attrs.model_dump()["gauge_length"] == 8.0
    df = dc.scan_to_df(url)
    assert df["time_min"][0] == np.datetime64(START, "ns")
    assert df["time_step"][0] == np.timedelta64(2_000_000, "ns")
    assert df["distance_min"][0] == 100.0 and df["distance_step"][0] == 2.0


def test_dasdae_layout_read_plainly(tmp_path, chunk):
    url = str(tmp_path / "out.h5")
    write_dasdae(chunk, url)
    with h5py.File(url, "r") as h5:
        assert h5.attrs["__format__"] == "DASDAE" and h5.attrs["__DASDAE_version__"] == "1"
        (name,) = list(h5["waveforms"])
        assert name == "DAS________2024_06_01T12_00_00_125000000__2024_06_01T12_00_00_923000000"
        group = h5["waveforms"][name]
        assert group.attrs["_dims"] == "distance,time"
        assert "_attrs_data_type" not in group.attrs  # unset unless given
        np.testing.assert_array_equal(group["data"][:], chunk.data)
        assert group["_coord_time"].dtype == np.int64 and group["_coord_time"][0] == START
        assert group["_coord_time"].attrs["step"] == 2_000_000
        assert not any(isinstance(v, bytes) and v.startswith(b"\x80") for v in group.attrs.values())  # no pickle


def test_dasdae_irregular_positions_and_unknown_units(tmp_path):
    dc = dascore()
    positions = np.array([0.0, 1.0, 3.5, 10.0])
    data = np.arange(4 * 30, dtype=np.float32).reshape(4, 30)
    url = str(tmp_path / "odd.h5")
    write_dasdae(Chunk(data, START, 1 / 3000, positions, units="furlongs per fortnight"), url)
    patch = dc.spool(url)[0]
    np.testing.assert_array_equal(patch.get_array("distance"), positions)
    # 1/3000 s is no whole number of ns: the file holds each time rounded, and DASCore makes an evenly
    # spaced coordinate of them (its step rounded down), off by under 1 ns per sample
    drift = patch.get_array("time").astype(np.int64) - expected_times(START, 30, 1 / 3000).astype(np.int64)
    assert np.abs(drift).max() <= 30
    with h5py.File(url, "r") as h5:
        (group,) = h5["waveforms"].values()
        np.testing.assert_array_equal(group["_coord_time"][:], expected_times(START, 30, 1 / 3000).astype(np.int64))
        assert "step" not in group["_coord_time"].attrs and "step" not in group["_coord_distance"].attrs
    assert patch.attrs.data_units is None  # a unit DASCore cannot read is kept aside, not written as its unit
    assert patch.attrs.model_dump()["raydas_units"] == "furlongs per fortnight"


@pytest.mark.parametrize(
    "units, kept", [("strain/s", True), ("m/s", True), ("nm/m/s", True), ("rad", True), ("", False), ("a.u.", False)]
)
def test_dascore_units(units, kept):
    assert dascore_units(units) == (units if kept else None)


def test_write_dasdae_command_writes_the_chunk_under_the_results_root(tmp_path):
    dc = dascore()
    data = np.random.default_rng(3).standard_normal((6, 300)).astype(np.float32)
    chunk = make_chunk(data, 500.0, spacing=1.5, halo=(50, 20))
    params = {"name": "write_dasdae", "directory_out": "dasdae", "units": "m/s", "data_type": "velocity"}
    value, _ = run_command(params, chunk, out_dir=tmp_path)
    np.testing.assert_array_equal(value, data[:, 50:280])  # passed on, halo trimmed
    path = tmp_path / "dasdae" / f"{chunk.stem}.h5"
    patch = dc.spool(str(path))[0]
    np.testing.assert_array_equal(patch.data, data[:, 50:280])
    np.testing.assert_array_equal(patch.get_array("distance"), 1.5 * np.arange(6))
    np.testing.assert_array_equal(patch.get_array("time"), expected_times(chunk.start_ns, 230, 1 / 500))
    assert patch.attrs.data_type == "velocity"
    assert not [p.name for p in (tmp_path / "dasdae").iterdir() if p.name.startswith(".")]  # no temporaries left


def test_write_dasdae_refuses_a_spectrum_and_a_bad_data_type(tmp_path):
    chunk = make_chunk(np.ones((4, 64), np.float32), 100.0)
    graph = [
        {"name": "fft", "uid": 1, "in_uid": 0},
        {"name": "abs", "uid": 2, "in_uid": 1},
        {"name": "write_dasdae", "uid": 3, "in_uid": 2, "directory_out": "d"},
    ]
    with pytest.raises(PipelineError, match=r"write_dasdae .*needs a time axis"):
        run_graph(graph, chunk, out_dir=tmp_path)
    with pytest.raises(ConfigError, match="data_type"):
        Pipeline.from_config({"command_list": [{"name": "write_dasdae", "uid": 1, "in_uid": 0, "data_type": "x"}]})


# --- what every patch writer refuses ----------------------------------------------------------
@pytest.mark.parametrize(
    "data, start, dt, positions, message",
    [
        (np.ones(10, np.float32), START, DT, [0.0], "1-D array"),
        (np.ones((2, 3, 4), np.float32), START, DT, [0.0, 1.0], "3-D array"),
        (np.ones((2, 0), np.float32), START, DT, [0.0, 1.0], "nothing to write"),
        (np.ones((2, 4), np.complex64), START, DT, [0.0, 1.0], "real numbers"),
        (np.ones((2, 4), np.float32), START, DT, [0.0, np.nan], "finite metres"),
        (np.ones((2, 4), np.float32), START, DT, [0.0, np.inf], "finite metres"),
        (np.ones((2, 4), np.float32), START, DT, [0.0], "1 channel positions for 2 channels"),
        (np.ones((2, 4), np.float32), START, float("nan"), [0.0, 1.0], "not a finite positive"),
        (np.ones((2, 4), np.float32), START, -1.0, [0.0, 1.0], "not a finite positive"),
        (np.ones((2, 4), np.float32), START, None, [0.0, 1.0], "needs a time axis"),
        (np.ones((2, 4), np.float32), 2**63 - 10, DT, [0.0, 1.0], "do not fit in int64"),
        (np.ones((2, 4), np.float32), START, DT, None, "needs channel positions"),
    ],
)
def test_every_patch_writer_refuses_what_it_cannot_write(data, start, dt, positions, message):
    from raydas.formats.writecheck import checked_patch

    with pytest.raises(RaydasError, match=rf"^DASDAE writer: .*{message}"):
        checked_patch("DASDAE writer", data, start, dt, positions)


# --- xdas NetCDF ------------------------------------------------------------------------------
def xdas():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("xdas")


def test_netcdf_opens_in_xdas_with_the_same_values_and_coordinates(tmp_path, chunk):
    xd = xdas()
    url = str(tmp_path / "out.nc")
    assert write_netcdf(chunk, url) == [url]
    da = xd.open_dataarray(url)
    assert da.dims == ("time", "distance")
    values = np.asarray(da.values)
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values, chunk.data.T)
    np.testing.assert_array_equal(da.coords["time"].values, expected_times(START, 400, DT))
    np.testing.assert_array_equal(da.coords["distance"].values, POSITIONS)
    assert da.attrs["units"] == "strain/s" and da.attrs["gauge_length"] == 8.0
    np.testing.assert_array_equal(np.asarray(da.sel(distance=104.0).values), chunk.data[2])


def test_netcdf_irregular_positions_and_a_rate_of_no_whole_ns(tmp_path):
    xd = xdas()
    positions = np.array([0.0, 1.0, 3.5, 10.0])
    data = np.arange(4 * 30, dtype=np.float32).reshape(4, 30)
    url = str(tmp_path / "odd.nc")
    write_netcdf(Chunk(data, START, 1 / 3000, positions), url)
    da = xd.open_dataarray(url)
    np.testing.assert_array_equal(da.coords["distance"].values, positions)  # every channel a tie point
    # the first and last times are exact; xdas interpolates those between them to within 1 ns
    times = da.coords["time"].values.astype(np.int64)
    expected = expected_times(START, 30, 1 / 3000).astype(np.int64)
    assert times[0] == expected[0] and times[-1] == expected[-1] and np.abs(times - expected).max() <= 1
    np.testing.assert_array_equal(np.asarray(da.values), data.T)


def test_netcdf_one_sample_one_channel(tmp_path):
    xd = xdas()
    url = str(tmp_path / "one.nc")
    write_netcdf(Chunk(np.array([[2.5]], np.float32), START, DT, [42.0]), url)
    da = xd.open_dataarray(url)
    assert da.shape == (1, 1) and float(np.asarray(da.values)[0, 0]) == 2.5
    assert da.coords["time"].values[0] == np.datetime64(START, "ns") and da.coords["distance"].values[0] == 42.0


def test_netcdf_layout_read_plainly(tmp_path, chunk):
    url = str(tmp_path / "out.nc")
    write_netcdf(chunk, url)
    with h5py.File(url, "r") as h5:
        assert h5.attrs["Conventions"] == "CF-1.13" and "_NCProperties" in h5.attrs
        np.testing.assert_array_equal(h5["__values__"][:], chunk.data.T)
        np.testing.assert_array_equal(h5["time_indices"][:], [0, 399])
        np.testing.assert_array_equal(h5["time_values"][:], [0, 399 * 2_000_000])
        assert h5["time_values"].attrs["units"] == "nanoseconds since 2024-06-01 12:00:00.125000000"
        np.testing.assert_array_equal(h5["distance_values"][:], [100.0, 108.0])


def test_write_netcdf_command_writes_the_chunk_under_the_results_root(tmp_path):
    xd = xdas()
    data = np.random.default_rng(4).standard_normal((6, 300)).astype(np.float32)
    chunk = make_chunk(data, 500.0, spacing=1.5, halo=(50, 20))
    value, _ = run_command({"name": "write_netcdf", "directory_out": "nc", "units": "m/s"}, chunk, out_dir=tmp_path)
    np.testing.assert_array_equal(value, data[:, 50:280])
    da = xd.open_dataarray(str(tmp_path / "nc" / f"{chunk.stem}.nc"))
    np.testing.assert_array_equal(np.asarray(da.values), data[:, 50:280].T)
    np.testing.assert_array_equal(da.coords["time"].values, expected_times(chunk.start_ns, 230, 1 / 500))
    np.testing.assert_array_equal(da.coords["distance"].values, 1.5 * np.arange(6))
    assert da.attrs["units"] == "m/s"


def test_write_netcdf_refuses_a_mean_over_time(tmp_path):
    chunk = make_chunk(np.ones((4, 64), np.float32), 100.0)
    graph = [
        {"name": "mean", "uid": 1, "in_uid": 0, "axis": 0},
        {"name": "write_netcdf", "uid": 2, "in_uid": 1, "directory_out": "nc"},
    ]
    with pytest.raises(PipelineError, match=r"write_netcdf .*channel positions"):
        run_graph(graph, chunk, out_dir=tmp_path)


# --- PRODML -----------------------------------------------------------------------------------
def test_prodml_opens_in_dascores_prodml_reader_and_in_raydas(tmp_path, chunk):
    dc = dascore()
    url = str(tmp_path / "out.h5")
    assert write_prodml(chunk, url) == [url]
    assert dc.get_format(url) == ("PRODML", "2.1")
    for patch in (dc.spool(url)[0], dc.read(url)[0]):
        assert patch.dims == ("time", "distance")
        np.testing.assert_array_equal(patch.data, chunk.data.T)
        np.testing.assert_array_equal(patch.get_array("time"), expected_times(START, 400, DT))
        np.testing.assert_array_equal(patch.get_array("distance"), POSITIONS)
        assert patch.attrs.data_units == dc.get_quantity("strain/s")
        assert patch.attrs.gauge_length == 8.0 and patch.attrs.schema_version == "2.1"
    (rec,), failures = formats.scan(url)
    assert not failures and rec.format == "prodml"
    assert (rec.n_channels, rec.n_samples, rec.dt, rec.start_ns) == (5, 400, pytest.approx(DT), START)
    np.testing.assert_allclose(rec.positions, POSITIONS)
    np.testing.assert_array_equal(formats.read(url).data, chunk.data)


def test_every_writer_gives_the_same_bytes_for_the_same_chunk(tmp_path, chunk):
    """A chunk written again (a resumed run) is byte-identical."""
    for name, write in (("dasdae", write_dasdae), ("nc", write_netcdf), ("prodml", write_prodml)):
        a, b = str(tmp_path / f"a.{name}"), str(tmp_path / f"b.{name}")
        write(chunk, a)
        write(chunk, b)
        assert open(a, "rb").read() == open(b, "rb").read(), name


def test_write_prodml_command_writes_the_chunk_under_the_results_root(tmp_path):
    dc = dascore()
    data = np.random.default_rng(5).standard_normal((6, 300)).astype(np.float32)
    chunk = make_chunk(data, 500.0, spacing=1.5, halo=(50, 20))
    value, _ = run_command({"name": "write_prodml", "directory_out": "p", "units": "m/s"}, chunk, out_dir=tmp_path)
    np.testing.assert_array_equal(value, data[:, 50:280])
    url = str(tmp_path / "p" / f"{chunk.stem}.h5")
    patch = dc.spool(url)[0]
    np.testing.assert_array_equal(patch.data, data[:, 50:280].T)
    np.testing.assert_array_equal(patch.get_array("time"), expected_times(chunk.start_ns, 230, 1 / 500))
    np.testing.assert_array_equal(patch.get_array("distance"), 1.5 * np.arange(6))
    back = formats.read(url)
    np.testing.assert_array_equal(back.data, data[:, 50:280])
    assert back.start_ns == chunk.start_ns and back.units == "m/s"


def test_write_prodml_refuses_one_dimensional_input(tmp_path):
    from raydas import commands
    from raydas.commands.base import ArrayMeta, Context
    from raydas.outputs import OutputSink

    kind = commands.get("write_prodml")
    cmd = kind(kind.Params(directory_out="p"))
    ctx = Context(500.0, ArrayMeta(positions=np.arange(4.0), dt=0.002), start_ns=START, sink=OutputSink(str(tmp_path)))
    with pytest.raises(RaydasError, match=r"^write_prodml: writes \(channel, time\) arrays; got a 1-D"):
        cmd.apply(np, np.ones(4, np.float32), ctx)
    assert not (tmp_path / "p").exists()


# --- PRODML FBE -------------------------------------------------------------------------------
def band_chunks(n_time: int = 6, positions=POSITIONS) -> dict:
    rng = np.random.default_rng(1)
    return {
        (10.0, 50.0): Chunk(rng.random((5, n_time), dtype=np.float32), START, 1.0, positions, units="strain^2"),
        (50.0, 200.0): Chunk(rng.random((5, n_time), dtype=np.float32), START, 1.0, positions, units="strain^2"),
    }


def test_prodml_fbe_opens_in_dascore_and_raydas_band_by_band(tmp_path):
    dc = dascore()
    bands = band_chunks()
    url = str(tmp_path / "fbe.h5")
    assert formats.write(bands, url, format="prodml") == [url]
    # dascore.read gives one patch per band (a spool of this file would pick patches by their
    # time and distance, which all bands share, so it is not used here)
    patches = {(p.attrs.start_frequency, p.attrs.end_frequency): p for p in dc.read(url)}
    assert set(patches) == set(bands)
    for band, chunk in bands.items():
        patch = patches[band]
        assert patch.dims == ("time", "distance")
        np.testing.assert_array_equal(patch.data, chunk.data.T)
        np.testing.assert_array_equal(patch.get_array("distance"), POSITIONS)
        np.testing.assert_array_equal(patch.get_array("time"), expected_times(START, 6, 1.0))
        assert patch.attrs.data_units == dc.get_quantity("strain^2")
    records, failures = formats.scan(url)
    assert not failures and len(records) == 2
    for rec in records:
        band = tuple(rec.attrs["band_hz"])
        assert rec.attrs["kind"] == "fbe" and rec.stream == f"Fbe[0] {band[0]:g}-{band[1]:g} Hz"
        assert (rec.n_channels, rec.n_samples, rec.dt, rec.start_ns) == (5, 6, 1.0, START)
        np.testing.assert_allclose(rec.positions, POSITIONS)
        np.testing.assert_array_equal(formats.read_samples(rec, 0, 6), bands[band].data)


def test_prodml_fbe_of_one_reading_is_read_by_raydas(tmp_path):
    """One band-energy reading per file (one per chunk): raydas reads it with the group's
    OutputDataRate; DASCore 0.1.24 cannot make a time axis of one PRODML time stamp."""
    url = str(tmp_path / "fbe1.h5")
    bands = band_chunks(n_time=1)
    formats.write(bands, url, format="prodml")
    records, failures = formats.scan(url)
    assert not failures and [(r.n_samples, r.dt, r.start_ns) for r in records] == [(1, 1.0, START)] * 2
    np.testing.assert_array_equal(formats.read_samples(records[0], 0, 1), bands[(10.0, 50.0)].data)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda b: {(50.0, 10.0) if k == (10.0, 50.0) else k: v for k, v in b.items()}, "not 0 <= start <= end"),
        (lambda b: {(float("nan"), 5.0): next(iter(b.values()))}, "not 0 <= start <= end"),
        (lambda b: {**b, (200.0, 400.0): Chunk(np.ones((5, 3), np.float32), START, 1.0, POSITIONS)}, "differs"),
        (lambda b: band_chunks(positions=POSITIONS - 200.0), "before 0 m"),
        (lambda b: {}, "0 bands"),
    ],
)
def test_prodml_fbe_refuses_bands_it_cannot_write(tmp_path, change, message):
    with pytest.raises(RaydasError, match=rf"^PRODML FBE writer: .*{message}"):
        formats.write(change(band_chunks()), str(tmp_path / "bad.h5"), format="prodml")
    assert not (tmp_path / "bad.h5").exists()


# --- every writer command: through the results sink -------------------------------------------
@pytest.mark.parametrize("name", ["write_dasdae", "write_netcdf", "write_prodml", "write_zarr"])
def test_writer_commands_never_write_through_a_link(tmp_path, name):
    import os

    pytest.importorskip({"write_netcdf": "h5netcdf", "write_zarr": "zarr"}.get(name, "h5py"))
    root, outside = tmp_path / "res", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    os.symlink(outside, root / "out")
    chunk = make_chunk(np.ones((3, 50), np.float32), 100.0)
    with pytest.raises(PipelineError, match=rf"^{name} .*out inside the results root is a symbolic link"):
        run_command({"name": name, "directory_out": "out"}, chunk, out_dir=root)
    assert os.listdir(outside) == []


def noise_log_graph(directory: str = "pfbe", **writer) -> list[dict]:
    lows, highs = [10, 100], [100, -1]
    return [
        {"name": "fft", "uid": 1, "in_uid": 0},
        {"name": "rms_from_fft", "uid": 2, "in_uid": 1},
        {"name": "multiple_calcs", "uid": 3, "in_uid": 1, "func": "rms_from_fft", "low_freq": lows, "high_freq": highs},
        {
            "name": "write_prodml_fbe",
            "uid": 4,
            "in_uid": 3,
            "gather_uids": [2],
            "directory_out": directory,
            "low_freq": lows,
            "high_freq": highs,
            **writer,
        },
    ]


def test_write_prodml_fbe_writes_a_noise_log_that_raydas_reads_back_band_by_band(tmp_path):
    from helpers import T0_NS

    from raydas.recording import assemble

    noise = np.random.default_rng(8).standard_normal((4, 2000)).astype(np.float32)
    chunks = [make_chunk(noise[:, :1000], 1000.0, spacing=2.0), make_chunk(noise[:, 1000:], 1000.0, spacing=2.0)]
    chunks[1].data_start_ns = T0_NS + NS_PER_S
    chunks[1].output_id = chunks[1].stem  # named by its new start, as the planner names chunks
    expected = {}
    for chunk in chunks:
        graph = noise_log_graph(units="rad")
        bands, _ = run_graph(graph, chunk, keep=3, out_dir=tmp_path)
        total, _ = run_graph(graph, chunk, keep=2, out_dir=tmp_path)
        expected[chunk.stem] = {(0.0, 500.0): total[:, 0], (10.0, 100.0): bands[:, 0], (100.0, 500.0): bands[:, 1]}
    with h5py.File(tmp_path / "pfbe" / f"{chunks[0].stem}.h5", "r") as h5:
        fbe = h5["Acquisition/Processed/Fbe[0]"]
        assert fbe.attrs["OutputDataRate"] == 1.0 and fbe.attrs["FbeDataUnit"] == b"rad"
        assert [
            (d.attrs["StartFrequency"], d.attrs["EndFrequency"]) for d in (fbe[f"FbeData[{i}]"] for i in range(3))
        ] == [
            (0.0, 500.0),
            (10.0, 100.0),
            (100.0, 500.0),
        ]
        np.testing.assert_array_equal(fbe["FbeDataTime"][:], [T0_NS // 1000])
    records, failures = formats.scan(str(tmp_path / "pfbe"))
    assert not failures and len(records) == 6
    recordings, breaks = assemble(records)
    assert not breaks and len(recordings) == 3  # one per band, the two chunks joined in time
    for recording in recordings:
        band = tuple(recording.first.attrs["band_hz"])
        np.testing.assert_allclose(recording.first.positions, 2.0 * np.arange(4))
        for rec, chunk in zip(recording.records, chunks):
            assert rec.start_ns == chunk.start_ns and rec.dt == 1.0
            np.testing.assert_allclose(formats.read_samples(rec, 0, 1)[:, 0], expected[chunk.stem][band], rtol=1e-6)


def test_write_prodml_fbe_refuses_a_table_of_other_bands_at_planning():
    from raydas.errors import PlanError

    pipeline = Pipeline.from_config({"command_list": noise_log_graph(low_freq=[10], high_freq=[100])})
    from raydas.formats.base import RecordInfo

    record = RecordInfo("memory://r.npy", "test", 4, 4000, 0.001, START, np.arange(4.0))
    with pytest.raises(PlanError, match=r"write_prodml_fbe: its input has 2 columns but low_freq/high_freq name 1"):
        pipeline.check_record(record, chunk_samples=1000)
    with pytest.raises(ConfigError, match="high_freq"):
        Pipeline.from_config({"command_list": noise_log_graph(low_freq=[10, 100], high_freq=[5, -1])})


def test_stamped_irregular_samples_keep_their_times_in_dascore_and_xdas(tmp_path):
    from raydas.formats.dasdae_writer import dasdae_bytes
    from raydas.formats.writecheck import checked_patch
    from raydas.formats.xdas_writer import netcdf_bytes

    dc, xd = dascore(), xdas()
    stamps = START + np.array([0, 1_000_000, 2_500_000, 2_600_000, 9_000_000], dtype=np.int64)
    data = np.arange(15, dtype=np.float32).reshape(3, 5)
    patch = checked_patch("writer", data, START, 0.001, [0.0, 1.0, 2.0], times_ns=stamps)
    assert not patch.regular_times()
    (tmp_path / "s.h5").write_bytes(dasdae_bytes(patch))
    (tmp_path / "s.nc").write_bytes(netcdf_bytes(patch))
    np.testing.assert_array_equal(dc.spool(str(tmp_path / "s.h5"))[0].get_array("time"), stamps.astype("M8[ns]"))
    da = xd.open_dataarray(str(tmp_path / "s.nc"))
    np.testing.assert_array_equal(da.coords["time"].values, stamps.astype("M8[ns]"))
    np.testing.assert_array_equal(np.asarray(da.values), data.T)
    with pytest.raises(RaydasError, match="must increase"):
        checked_patch("writer", data, START, 0.001, [0.0, 1.0, 2.0], times_ns=stamps[::-1])
    with pytest.raises(RaydasError, match="4 time stamps"):
        checked_patch("writer", data, START, 0.001, [0.0, 1.0, 2.0], times_ns=stamps[:4])
