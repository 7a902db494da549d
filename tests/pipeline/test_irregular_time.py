"""Records whose readings carry their own, irregular time stamps (slow DTS/DSS
readings, a single reading): the stamps travel with the record and its chunks,
such records are never stitched into a regular series, and a command that needs
a regular sample rate refuses them at planning, naming the record; raydas never
invents a regular rate for them."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import T0_NS

from raydas.chunk import Chunk
from raydas.errors import FormatError, PlanError
from raydas.formats.base import RecordInfo
from raydas.pipeline import Pipeline
from raydas.recording import assemble
from raydas.timeutil import NS_PER_S, to_iso

#: six readings: three 370 s apart, five days of nothing, three more (Neubrex RFS's pattern)
STEPS_S = [0, 369.937, 370.008, 449749.066, 370.088, 369.996]
STAMPS = T0_NS + np.round(np.cumsum(STEPS_S) * NS_PER_S).astype(np.int64)


def stamped(path: str = "memory://dss.h5", stamps=STAMPS) -> RecordInfo:
    steps = np.diff(stamps) / NS_PER_S
    return RecordInfo(
        path=path,
        format="test",
        n_channels=3,
        n_samples=len(stamps),
        dt=float(np.median(steps)) if steps.size else 60.0,
        start_ns=0,  # the first stamp wins
        positions=[0.0, 1.0, 2.0],
        times_ns=stamps,
    )


def test_a_record_with_stamps_keeps_them():
    rec = stamped()
    assert not rec.regular and rec.start_ns == STAMPS[0]
    assert rec.dt == pytest.approx(370.008)  # the median step, only a description
    assert [rec.time_of(k) for k in range(6)] == STAMPS.tolist()
    assert rec.sample_index(int(STAMPS[3])) == 3 and rec.sample_index(int(STAMPS[3]) - 1) == 3
    assert rec.sample_index(int(STAMPS[2]) + 1) == 3 and rec.sample_index(int(STAMPS[-1]) + 1) == 6
    assert rec.end_ns == STAMPS[-1] + 370_008_000_000
    listed = rec.to_dict()
    assert listed["regular"] is False and listed["sample_rate_hz"] is None  # no rate is claimed
    assert listed["times"] == [to_iso(int(t)) for t in STAMPS] and listed["median_step_s"] == rec.dt
    regular = RecordInfo("memory://r", "test", 1, 10, 0.5, T0_NS, [0.0])
    assert regular.regular and regular.to_dict()["regular"] is True and "times" not in regular.to_dict()


def test_stamps_that_do_not_fit_are_refused_naming_the_file():
    with pytest.raises(FormatError, match=r"memory://dss\.h5: 5 time stamps for 6 samples"):
        RecordInfo("memory://dss.h5", "test", 1, 6, 1.0, 0, [0.0], times_ns=STAMPS[:5])
    with pytest.raises(FormatError, match=r"memory://dss\.h5: time stamps are not increasing"):
        RecordInfo("memory://dss.h5", "test", 1, 6, 1.0, 0, [0.0], times_ns=STAMPS[::-1])


def test_a_chunk_carries_its_stamps_and_trims_them_with_its_halo():
    data = np.arange(18, dtype=np.float32).reshape(3, 6)
    chunk = Chunk(data, 0, dt=370.0, positions=[0.0, 1.0, 2.0], halo=(1, 2), times_ns=STAMPS)
    assert chunk.data_start_ns == STAMPS[0] and chunk.start_ns == STAMPS[1]
    np.testing.assert_array_equal(chunk.times().astype(np.int64), STAMPS)
    core = chunk.trimmed()
    np.testing.assert_array_equal(core.times_ns, STAMPS[1:4])
    assert core.start_ns == STAMPS[1] and core.data.shape == (3, 3)
    with pytest.raises(ValueError, match="5 time stamps for 6 samples"):
        Chunk(data, 0, dt=370.0, positions=[0.0, 1.0, 2.0], times_ns=STAMPS[:5])


def test_records_with_stamps_are_never_joined():
    a = stamped("memory://a.h5", STAMPS[:3])
    b = stamped("memory://b.h5", STAMPS[3:])
    recordings, breaks = assemble([b, a])
    assert [r.first.path for r in recordings] == ["memory://a.h5", "memory://b.h5"]
    assert [x.kind for x in breaks] == ["irregular time"]
    assert recordings[1].time_of(1) == STAMPS[4] and recordings[0].end_ns == a.end_ns


@pytest.mark.parametrize(
    "command",
    [
        {"name": "butter", "freq": 0.001},
        {"name": "fft"},
        {"name": "downsample", "tsample": 2},
        {"name": "write_prodml", "directory_out": "p"},  # states a rate (PulseRate)
    ],
)
def test_commands_refuse_a_record_with_stamps_at_planning(command):
    p = Pipeline.from_config({"command_list": [dict(command, uid=1, in_uid=0)]})
    with pytest.raises(PlanError) as err:
        p.check_record(stamped())
    assert err.value.path == "memory://dss.h5"
    problem = err.value.problem
    assert f"$.command_list[0] ({command['name']})" in problem and "needs a regular sample rate" in problem
    assert "6 readings carry their own time stamps (steps 369.937 s to 449749 s)" in problem
    single = stamped(stamps=STAMPS[:1])
    with pytest.raises(PlanError, match="1 readings carry their own time stamps \\(a single reading\\)"):
        p.check_record(single)
    p.check_record(RecordInfo("memory://r", "test", 3, 6, 370.0, T0_NS, [0.0, 1.0, 2.0]))  # regular: served


def test_in_a_run_the_stamped_record_fails_alone_at_planning(ray_session, fibre_data, tmp_path):
    import json
    import os

    from raydas.config import RunConfig
    from raydas.errors import RunFailed
    from raydas.runtime import run

    dts = str(fibre_data / "dts/febus_dts_1_C1_20250424_231747.h5")
    fast = "synthetic://?seconds=2&rate=1000&channels=4"
    graph = {
        "command_list": [
            {"name": "butter", "freq": 10.0, "order": 4, "uid": 1, "in_uid": 0},
            {"name": "write_npy", "directory_out": "npy", "uid": 2, "in_uid": 1},
        ]
    }
    (tmp_path / "graph.json").write_text(json.dumps(graph))
    out = tmp_path / "out"
    config = RunConfig(input=[fast, dts], output=str(out), processing=str(tmp_path / "graph.json"))
    with pytest.raises(RunFailed) as err:
        run(config, progress=False)
    (failure,) = err.value.failures
    assert failure.stage == "plan" and failure.file == dts
    assert "needs a regular sample rate" in failure.error and "5 readings" in failure.error
    written = [f for _, _, files in os.walk(out / "npy") for f in files if f[0].isdigit()]
    assert len(written) == 2  # the synthetic record's chunks (in its recording's folder)


def test_ingest_into_the_chunk_store_refuses_the_stamped_record(ray_session, fibre_data, tmp_path):
    from raydas.config import RunConfig
    from raydas.errors import RunFailed
    from raydas.runtime import run

    rfs = str(fibre_data / "dss/neubrex_dss_forge.h5")
    fast = "synthetic://?seconds=2&rate=1000&channels=4"
    config = RunConfig(input=[fast, rfs], output=str(tmp_path / "unused"), store=str(tmp_path / "store"))
    with pytest.raises(RunFailed) as err:
        run(config, mode="ingest", progress=False)
    (failure,) = err.value.failures
    assert failure.stage == "plan" and failure.file == rfs
    assert "6 readings carry their own time stamps; the chunk store holds regularly sampled series" in failure.error


def test_a_chunk_with_stamps_is_not_written_as_a_regular_series(tmp_path):
    from raydas import formats
    from raydas.errors import RaydasError

    chunk = Chunk(np.zeros((3, 6), np.float32), 0, dt=370.0, positions=[0.0, 1.0, 2.0], times_ns=STAMPS)
    with pytest.raises(RaydasError, match=r"x\.sgy' as segy: the data carry their own irregular time stamps"):
        formats.write(chunk, str(tmp_path / "x.sgy"))
    assert not (tmp_path / "x.sgy").exists()


# --- planning chunks of stamped readings ----------------------------------------------------------------------------
def test_chunk_readings_cut_stamped_readings_by_count():
    from raydas.recording import plan_chunks

    (recording,), _ = assemble([stamped()])
    plans = plan_chunks([recording], chunk_seconds=1.0, halo_samples=50, chunk_readings=4)
    assert [(p.start, p.stop) for p in plans] == [(0, 4), (4, 6)]
    assert [p.halo for p in plans] == [(0, 0), (0, 0)]  # no halo: the commands that need one read a rate
    assert [p.start_ns for p in plans] == [STAMPS[0], STAMPS[4]]
    assert plans[0].end_ns == STAMPS[4]  # the next reading's stamp, not 4 x the median step
    assert plans[1].end_ns == STAMPS[5] + 370_008_000_000  # after the last reading: its stamp + the median step
    assert plans[0].stamped and plans[0].placement.chunk_samples == 4
    np.testing.assert_array_equal(plans[1].times_ns, STAMPS[4:])


def test_a_duration_alone_cuts_stamped_readings_by_their_stamps():
    from raydas.recording import plan_chunks

    (recording,), _ = assemble([stamped()])
    # windows of 2000 s from the first stamp (readings at 0, 369.9, 739.9, 450489.0, 450859.1 and 451229.1 s):
    # readings 0-2 in [0, 2000) s, 3-5 in window 225, [450000, 452000) s
    plans = plan_chunks([recording], chunk_seconds=2000.0, halo_samples=10)
    assert [(p.start, p.stop) for p in plans] == [(0, 3), (3, 6)]
    assert [p.halo for p in plans] == [(0, 0), (0, 0)] and all(p.placement is None for p in plans)
    assert [p.end_ns - p.start_ns for p in plans] == [STAMPS[3] - STAMPS[0], STAMPS[5] + 370_008_000_000 - STAMPS[3]]
    # 800 s windows: the last reading (451229.1 s) falls in the next window after its two neighbours
    assert [(p.start, p.stop) for p in plan_chunks([recording], chunk_seconds=800.0)] == [(0, 3), (3, 5), (5, 6)]
    # 300 s windows: every reading alone, the empty windows of the five quiet days give no chunk
    plans = plan_chunks([recording], chunk_seconds=300.0)
    assert [(p.start, p.stop) for p in plans] == [(k, k + 1) for k in range(6)]
    # windows longer than the record: one chunk
    assert [(p.start, p.stop) for p in plan_chunks([recording], chunk_seconds=1e7)] == [(0, 6)]


def test_chunk_readings_cut_a_regular_record_by_count_too():
    from raydas.recording import plan_chunks

    regular = RecordInfo("memory://r", "test", 2, 10, 0.5, T0_NS, [0.0, 1.0])
    (recording,), _ = assemble([regular])
    plans = plan_chunks([recording], chunk_seconds=100.0, halo_samples=2, chunk_readings=4)
    assert [(p.start, p.stop, p.halo) for p in plans] == [(0, 4, (0, 2)), (4, 8, (2, 2)), (8, 10, (2, 0))]
    assert [p.end_ns - p.start_ns for p in plans] == [2 * NS_PER_S, 2 * NS_PER_S, 1 * NS_PER_S]
    assert not plans[0].stamped and plans[0].times_ns is None


def test_a_planned_chunk_of_a_real_dss_file_reads_its_stamps(fibre_data):
    """Neubrex RFS: six readings; chunks of 4 and 2 readings against a plain h5py read."""
    import h5py

    from raydas import formats
    from raydas.recording import plan_chunks

    path = fibre_data / "dss/neubrex_dss_forge.h5"
    recordings, _ = assemble(formats.scan_file(str(path)))
    plans = plan_chunks(recordings, chunk_seconds=1.0, chunk_readings=4)
    with h5py.File(path, "r") as f:
        data = f["data"][()]
        stamps = np.round(f["stamps_unix"][()]).astype(np.int64) * 1000  # µs since 1970
    expected = np.where(data == np.float32(-229526.08), np.nan, data).T
    chunks = [p.read() for p in plans]
    np.testing.assert_array_equal(chunks[0].data, expected[:, :4])
    np.testing.assert_array_equal(chunks[1].data, expected[:, 4:])
    np.testing.assert_array_equal(chunks[0].times_ns, stamps[:4])
    np.testing.assert_array_equal(chunks[1].times_ns, stamps[4:])
    assert chunks[1].start_ns == stamps[4] and chunks[1].stem == "1689890788.212"
    assert "2 readings stamped" in repr(chunks[1]) and "Hz" not in repr(chunks[1])  # no rate is claimed


def test_run_config_chunk_readings_is_checked():
    from raydas.config import RunConfig
    from raydas.errors import ConfigError

    assert RunConfig(input="x", chunk_readings=10).chunk_readings == 10
    assert RunConfig(input="x").chunk_readings is None
    for bad in (0, -3, 2.5, True, "ten"):
        with pytest.raises((ConfigError, ValueError), match="chunk_readings"):
            RunConfig(input="x", chunk_readings=bad)


# --- commands on stamped readings -------------------------------------------------------------------------------------
#: the commands that read no sample rate (with parameters that need one), and some that do
RATE_FREE = [
    {"name": "abs"},
    {"name": "lin_transform", "m": 2.0, "c": 1.0},
    {"name": "hard_threshold", "threshold": 1.0},
    {"name": "mean", "axis": 0},
    {"name": "mean", "axis": 1},
    {"name": "std_dev", "axis": 0},
    {"name": "extract", "axis": 0, "index": 1},
    {"name": "butter", "axis": 0, "freq": 0.1},  # across channels: cycles/m
    {"name": "running_mean", "axis": 0, "window_length": 3},
    {"name": "gradient", "axis": 0},
    {"name": "interp", "axis": 0, "spacing": 0.5},
    {"name": "copy"},
    {"name": "write_npy", "directory_out": "n"},
    {"name": "write_dasdae", "directory_out": "d"},
    {"name": "write_netcdf", "directory_out": "c"},
    {"name": "write_zarr", "directory_out": "z"},
]
NEEDS_RATE = [
    {"name": "butter", "axis": 1, "freq": 0.001},
    {"name": "running_mean", "axis": 1, "window_length": 3},
    {"name": "gradient", "axis": 1},
    {"name": "interp", "axis": 1, "spacing": 100.0},
    {"name": "sta_lta"},
    {"name": "write_prodml_fbe", "directory_out": "f"},
]


@pytest.mark.parametrize("command", RATE_FREE, ids=lambda c: f"{c['name']}-{c.get('axis', '')}")
def test_a_command_that_reads_no_rate_serves_stamped_readings_without_halo(command):
    p = Pipeline.from_config({"command_list": [dict(command, uid=1, in_uid=0)]})
    assert not p.order[0].command.needs_regular_time
    p.check_record(stamped())
    p.check_record(stamped(stamps=STAMPS[:1]))  # a single reading too
    assert p.order[0].command.halo_samples(1 / 370.0) == 0  # nothing along time: chunks need no halo


@pytest.mark.parametrize("command", NEEDS_RATE, ids=lambda c: f"{c['name']}-{c.get('axis', '')}")
def test_a_command_that_reads_a_rate_still_refuses_stamped_readings(command):
    p = Pipeline.from_config({"command_list": [{"name": "abs", "uid": 1, "in_uid": 0}, dict(command, uid=2, in_uid=1)]})
    with pytest.raises(PlanError, match=rf"\$\.command_list\[1\] \({command['name']}\): needs a regular sample rate"):
        p.check_record(stamped())


def test_every_command_that_reads_no_rate_declares_no_halo():
    from raydas import commands
    from raydas.commands.base import Command

    rate_free = [name for name, cls in commands.all_commands().items() if not cls.needs_regular_time]
    assert {"abs", "mean", "write_npy", "write_dasdae", "write_netcdf", "write_zarr"} <= set(rate_free)
    for name in rate_free:
        assert commands.all_commands()[name].halo_samples is Command.halo_samples, name


def _run_stamped(graph, tmp_path, chunk):
    from raydas.outputs import OutputSink

    p = Pipeline.from_config({"command_list": graph})
    return p.run(chunk, np, OutputSink(str(tmp_path)))


def _stamped_chunk():
    data = (np.arange(18, dtype=np.float32).reshape(3, 6) - 7.0) * 0.5
    return Chunk(data, 0, dt=370.008, positions=[10.0, 10.5, 11.0], times_ns=STAMPS, output_id="rec/x")


def test_write_npy_writes_the_stamps_as_the_time_axis(tmp_path):
    chunk = _stamped_chunk()
    graph = [{"name": "abs", "uid": 1, "in_uid": 0}, {"name": "write_npy", "uid": 2, "in_uid": 1, "directory_out": "n"}]
    result = _run_stamped(graph, tmp_path, chunk)
    assert result.written == ["n/rec/x.npy", "n/rec/x.time.npy", "n/rec/measured_depth.npy"]  # no shared time.npy
    np.testing.assert_array_equal(np.load(tmp_path / "n/rec/x.npy"), np.abs(chunk.data))
    times = np.load(tmp_path / "n/rec/x.time.npy")
    assert times.dtype == np.dtype("datetime64[ns]")
    np.testing.assert_array_equal(times.astype(np.int64), STAMPS)  # the stamps, not start + k * dt
    assert not (tmp_path / "n/rec/time.npy").exists()
    # a mean over the readings: one column, not a time; the file says which readings it came from
    writer = {"name": "write_npy", "uid": 2, "in_uid": 1, "directory_out": "m"}
    graph = [{"name": "mean", "uid": 1, "in_uid": 0}, writer]
    _run_stamped(graph, tmp_path, chunk)
    np.testing.assert_allclose(np.load(tmp_path / "m/rec/x.npy")[:, 0], chunk.data.mean(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(np.load(tmp_path / "m/rec/x.time.npy").astype(np.int64), STAMPS)


def test_the_patch_writers_write_the_stamps(tmp_path):
    import h5py
    import xarray as xr

    chunk = _stamped_chunk()
    graph = [
        {"name": "write_dasdae", "uid": 1, "in_uid": 0, "directory_out": "d"},
        {"name": "write_netcdf", "uid": 2, "in_uid": 0, "directory_out": "c"},
        {"name": "write_zarr", "uid": 3, "in_uid": 0, "directory_out": "z"},
    ]
    result = _run_stamped(graph, tmp_path, chunk)
    assert result.written[:2] == ["d/rec/x.h5", "c/rec/x.nc"]
    with h5py.File(tmp_path / "d/rec/x.h5", "r") as f:
        (group,) = f["waveforms"].values()
        np.testing.assert_array_equal(group["_coord_time"][()], STAMPS)
        assert "step" not in group["_coord_time"].attrs  # irregular: no step is stated
        np.testing.assert_array_equal(group["data"][()], chunk.data)
    with xr.open_dataset(tmp_path / "c/rec/x.nc", engine="h5netcdf") as ds:
        decoded = ds["time_values"].values.astype("datetime64[ns]").astype(np.int64)  # CF units: ns since the start
        np.testing.assert_array_equal(decoded, STAMPS)
        np.testing.assert_array_equal(ds["time_indices"].values, np.arange(6))  # every stamp a tie point
    (store,) = (tmp_path / "z/rec").glob("*.zarr")
    with xr.open_zarr(store, consolidated=False) as ds:
        np.testing.assert_array_equal(ds["time"].values.astype(np.int64), STAMPS)
        np.testing.assert_array_equal(ds["data"].values, chunk.data)


def test_a_single_stamped_reading_states_no_step(tmp_path):
    import h5py

    chunk = Chunk(np.ones((3, 1), np.float32), 0, dt=60.0, positions=[0.0, 1.0, 2.0], times_ns=STAMPS[:1])
    _run_stamped([{"name": "write_dasdae", "uid": 1, "in_uid": 0, "directory_out": "d"}], tmp_path, chunk)
    (path,) = (tmp_path / "d").glob("*.h5")
    with h5py.File(path, "r") as f:
        (group,) = f["waveforms"].values()
        assert group["_coord_time"][()].tolist() == [STAMPS[0]] and "step" not in group["_coord_time"].attrs


@pytest.mark.parametrize("readings", [6, 1])
def test_dascore_and_xdas_open_stamped_outputs_at_their_stamps(tmp_path, readings):
    """Real clients (test extras) read the stamped DASDAE and NetCDF files at the stamps, a single reading too."""
    dascore = pytest.importorskip("dascore")
    xdas = pytest.importorskip("xdas")
    data = np.arange(18, dtype=np.float32).reshape(3, 6)[:, :readings]
    chunk = Chunk(data, 0, dt=370.0, positions=[0.0, 1.0, 2.0], times_ns=STAMPS[:readings], output_id="x")
    graph = [
        {"name": "write_dasdae", "uid": 1, "in_uid": 0, "directory_out": "d"},
        {"name": "write_netcdf", "uid": 2, "in_uid": 0, "directory_out": "c"},
    ]
    _run_stamped(graph, tmp_path, chunk)
    patch = dascore.spool(str(tmp_path / "d/x.h5"))[0]
    assert patch.shape == (3, readings)
    np.testing.assert_array_equal(
        patch.coords.get_array("time").astype("datetime64[ns]").astype(np.int64), STAMPS[:readings]
    )
    np.testing.assert_array_equal(patch.data, data)
    array = xdas.open_dataarray(str(tmp_path / "c/x.nc"))
    np.testing.assert_array_equal(array["time"].values.astype("datetime64[ns]").astype(np.int64), STAMPS[:readings])
    np.testing.assert_array_equal(np.asarray(array.values), data.T)
