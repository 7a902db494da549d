"""A whole run over real slow readings (Febus T1 DTS: twelve temperature profiles
stamped as they came, about 321 s apart): cut by count of readings
(``chunk_readings``), processed by a command that reads no sample rate, written
with ``write_npy`` whose time axis is the readings' own stamps, each checked
against a plain h5py read of the file written here; and a command that needs a
regular rate still refuses the record at planning, naming its JSON path."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import raydas
from raydas.errors import RunFailed
from raydas.manifest import read_manifest
from raydas.timeutil import unix_stem

DTS = "dts/febus_dts.h5"


def _h5py_read(path):
    """Temperatures (channel, reading) and stamps (int64 ns UTC, to the microsecond as the file gives them)."""
    with h5py.File(path, "r") as f:
        temperature = f["Data/Temperature"][()]  # (reading, distance), float64
        seconds = f["Data/Time"][:, 0]  # seconds since 1970, UTC
        distance = f["Data/Distance"][()]
    stamps = np.array([round(s * 1e6) * 1000 for s in seconds.tolist()], dtype=np.int64)
    return temperature.T, stamps, distance


def _config(path, out, graph, **extra):
    return raydas.load_config(
        {
            "input": str(path),
            "output": str(out),
            "processing": {"command_list": graph},
            "ray": {"num_cpus": 1},
            **extra,
        }
    )


def test_a_run_over_dts_readings_cut_by_count_writes_their_stamps(ray_session, fibre_data, tmp_path):
    path = fibre_data / DTS
    temperature, stamps, distance = _h5py_read(path)
    assert temperature.shape == (1103, 12)
    graph = [
        {"name": "lin_transform", "uid": 1, "in_uid": 0, "m": 1.8, "c": 32.0},  # °C to °F
        {"name": "write_npy", "uid": 2, "in_uid": 1, "directory_out": "fahrenheit"},
    ]
    out = tmp_path / "out"
    report = raydas.run(_config(path, out, graph, chunk_readings=5), progress=False)
    assert report.failures == [] and report.chunks_done == 3  # 5 + 5 + 2 readings
    (folder,) = {p.parent for p in (out / "fahrenheit").rglob("*.npy")}
    firsts = [0, 5, 10]
    for k, first in enumerate(firsts):
        last = firsts[k + 1] if k + 1 < len(firsts) else 12
        stem = unix_stem(int(stamps[first]))
        values = np.load(folder / f"{stem}.npy")
        expected = (temperature[:, first:last] * 1.8 + 32.0).astype(np.float32)
        np.testing.assert_allclose(values, expected, rtol=1e-6)  # the file's float64 read as float32
        times = np.load(folder / f"{stem}.time.npy")
        assert times.dtype == np.dtype("datetime64[ns]")
        np.testing.assert_array_equal(times.astype(np.int64), stamps[first:last])  # the stamps, jitter and all
    np.testing.assert_array_equal(np.load(folder / "measured_depth.npy").ravel(), distance)
    assert not (folder / "time.npy").exists()  # no shared time axis: each chunk has its own stamps
    # the results manifest gives each chunk's real span: its first stamp to the next reading's
    table = read_manifest(str(out)).to_pylist()
    spans = sorted({(row["start_ns"], row["end_ns"], row["samples"]) for row in table})
    step = int(round(float(np.median(np.diff(stamps)))))  # after the last reading: its stamp + the median step
    assert spans == [(stamps[0], stamps[5], 5), (stamps[5], stamps[10], 5), (stamps[10], stamps[11] + step, 2)]
    again = raydas.run(_config(path, out, graph, chunk_readings=5), progress=False)
    assert again.chunks_done == 0 and again.chunks_skipped == 3  # resume trusts the stamped outputs


def test_a_command_that_needs_a_rate_refuses_the_dts_record_by_name(ray_session, fibre_data, tmp_path):
    path = fibre_data / DTS
    graph = [
        {"name": "abs", "uid": 1, "in_uid": 0},
        {"name": "fft", "uid": 2, "in_uid": 1},
        {"name": "write_npy", "uid": 3, "in_uid": 2, "directory_out": "spectrum"},
    ]
    with pytest.raises(RunFailed) as err:
        raydas.run(_config(path, tmp_path / "out", graph, chunk_readings=4), progress=False)
    (failure,) = err.value.failures
    assert failure.stage == "plan" and failure.file == str(path)
    assert "$.command_list[1] (fft) (record /Data/Temperature): needs a regular sample rate" in failure.error
    assert "12 readings carry their own time stamps" in failure.error


def test_a_duration_alone_cuts_dss_readings_by_their_stamps(ray_session, fibre_data, tmp_path):
    """Neubrex RFS: six strain readings, three 370 s apart, five days of nothing, three more.
    Hour-long windows from the first stamp give two chunks of three readings; no rate is invented."""
    path = fibre_data / "dss/neubrex_dss_forge.h5"
    with h5py.File(path, "r") as f:
        data = f["data"][()]  # (reading, depth) float32
        stamps = np.round(f["stamps_unix"][()]).astype(np.int64) * 1000  # µs since 1970 -> ns
    expected = np.abs(np.where(data == np.float32(-229526.08), np.nan, data).T)  # the invalid marker is NaN
    graph = [
        {"name": "abs", "uid": 1, "in_uid": 0},
        {"name": "write_dasdae", "uid": 2, "in_uid": 1, "directory_out": "dasdae"},
    ]
    out = tmp_path / "out"
    report = raydas.run(_config(path, out, graph, chunk_seconds=3600.0), progress=False)
    assert report.failures == [] and report.chunks_done == 2
    files = sorted(f for f in (out / "dasdae").rglob("*.h5") if f.is_file())  # the folder is named by the file
    assert [f.stem for f in files] == [unix_stem(int(stamps[0])), unix_stem(int(stamps[3]))]
    for file, (first, last) in zip(files, [(0, 3), (3, 6)]):
        with h5py.File(file, "r") as f:
            (group,) = f["waveforms"].values()
            np.testing.assert_array_equal(group["_coord_time"][()], stamps[first:last])
            assert "step" not in group["_coord_time"].attrs
            np.testing.assert_array_equal(group["data"][()], expected[:, first:last])
