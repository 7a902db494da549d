"""Hostile inputs: ``raydas run``, as a user runs it, over a folder of mutated
real files (truncated, corrupted bytes, lying headers, huge declared sizes,
NaN and absurd header numbers) beside good ones, under resource limits.

One run of the CLI in a subprocess, with its memory bounded by
``resource.setrlimit`` (RLIMIT_DATA, inherited by the Ray processes it starts),
its wall-clock time bounded, and a watchdog that kills it when its outputs grow
past a limit. For every file: it is processed (its outputs are there) or named
in the failure report; no traceback reaches the console; the good files'
outputs are all there; the run ends non-zero because some files failed.

Before, one such folder planned 2.1 M chunks and wrote 71 GB of zeros (a
PRODML declaring 2**31 samples), crashed the whole run with OverflowError (a
SEG-Y interval of 1e300 us), or skipped damaged files silently as documents.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time

import h5py
import numpy as np
import pytest

pytestmark = pytest.mark.slow

#: limits the run must stay within
WALL_SECONDS = 300
MEMORY_BYTES = 6 * 2**30  # data segment of each process (RLIMIT_DATA)
OUTPUT_BYTES = 200 * 2**20

IDAS = "hdf5/iDAS005_hdf5_example.626.h5"
RAW = "Acquisition/Raw[0]"
HOUR_US = 3600 * 10**6
PROCESSING = {
    "command_list": [
        {"name": "running_mean", "uid": 1, "in_uid": 0, "window_length": 5, "axis": 1},
        {"name": "write_npy", "uid": 2, "in_uid": 1, "directory_out": "out"},
    ]
}


# --- the mutants -----------------------------------------------------------------------------------
def _copy(real_data, name: str, target):
    shutil.copy(real_data / name, target)
    os.chmod(target, 0o644)
    return target


def _prodml(real_data, target, hours: int, rows: int = 1000, stored=(0,)) -> None:
    """The real iDAS PRODML file, ``hours`` later, its data declared ``rows`` long
    with the 1000-row chunks at ``stored`` written."""
    with h5py.File(real_data / IDAS, "r") as src, h5py.File(target, "w") as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        acq = dst.create_group("Acquisition")
        for key, value in src["Acquisition"].attrs.items():
            acq.attrs[key] = value
        raw = acq.create_group("Raw[0]")
        for key, value in src[RAW].attrs.items():
            raw.attrs[key] = value
        data = raw.create_dataset("RawData", shape=(rows, 1152), dtype="i2", chunks=(1000, 1152))
        times = raw.create_dataset("RawDataTime", shape=(rows,), dtype="i8", chunks=(1000,))
        data.attrs["Dimensions"] = src[f"{RAW}/RawData"].attrs["Dimensions"]
        for row in stored:
            data[row : row + 1000] = src[f"{RAW}/RawData"][...]
            times[row : row + 1000] = src[f"{RAW}/RawDataTime"][...] + hours * HOUR_US


def _patch(path, offset: int, fmt: str, value) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(struct.pack(fmt, value))


def build(real_data, folder) -> dict[str, str]:
    """Write the good files and the mutants into ``folder``; returns name -> what it is
    (``"good"``: its outputs must be there; ``"either"``: processed or a named failure;
    anything else: a failure whose error contains that text)."""
    cases: dict[str, str] = {}

    _copy(real_data, IDAS, folder / "good.h5")
    cases["good.h5"] = "good"
    _copy(real_data, "segy/small_channel_patch.sgy", folder / "good.sgy")
    cases["good.sgy"] = "good"

    _prodml(real_data, folder / "declares_2e9_rows.h5", hours=1, rows=2**31)
    cases["declares_2e9_rows.h5"] = "good"  # read as the 1000 rows it stores
    _prodml(real_data, folder / "holes.h5", hours=2, rows=10_000, stored=(0, 5000))
    cases["holes.h5"] = "holes"

    segy = (real_data / "segy/small_channel_patch.sgy").read_bytes()
    (folder / "truncated.sgy").write_bytes(segy[:-100])
    cases["truncated.sgy"] = "truncated"
    for name, offset, fmt, value, words in (
        ("interval_1e300us.sgy", 3200 + 72, ">d", 1e300, "sample interval"),
        ("year_32767.sgy", 3600 + 156, ">h", 32767, "year 32767"),
        ("samples_2e9.sgy", 3200 + 68, ">i", 2**31 - 1, "declared"),
    ):
        _copy(real_data, "segy/small_channel_patch.sgy", folder / name)
        _patch(folder / name, offset, fmt, value)
        cases[name] = words
    ascii_header = (real_data / "segy/f3.sgy").read_bytes()[:3200].decode("cp500").encode("ascii", "replace")
    (folder / "ascii_cut_3200.sgy").write_bytes(ascii_header)
    cases["ascii_cut_3200.sgy"] = "damaged"

    (folder / "cut_20.mseed").write_bytes((real_data / "mseed/etna_9n_3chan_10s.mseed").read_bytes()[:20])
    cases["cut_20.mseed"] = "damaged"
    lying = bytearray((real_data / "mseed/etna_9n_3chan_10s.mseed").read_bytes())
    for record in range(0, len(lying), 4096):
        struct.pack_into(">H", lying, record + 30, 65535)
    (folder / "npts_65535.mseed").write_bytes(bytes(lying))
    cases["npts_65535.mseed"] = "declared"

    _copy(real_data, "hdf5/silixa_h5_1.hdf5", folder / "rate_nan.hdf5")
    with h5py.File(folder / "rate_nan.hdf5", "r+") as h5:
        h5["Acoustic"].attrs["SamplingFrequency[Hz]"] = "NaN"
    cases["rate_nan.hdf5"] = "SamplingFrequency"
    _copy(real_data, "hdf5/decimated_optodas.hdf5", folder / "time_1e300.hdf5")
    with h5py.File(folder / "time_1e300.hdf5", "r+") as h5:
        h5["header/time"][...] = 1e300
    cases["time_1e300.hdf5"] = "header/time"
    (folder / "cut.hdf5").write_bytes((real_data / "hdf5/terra15_v5_test_file.hdf5").read_bytes()[:50_000])
    cases["cut.hdf5"] = "damaged HDF5"

    corrupted = bytearray((real_data / "hdf5/ap_sensing_1.hdf5").read_bytes())
    rng = np.random.default_rng(11)
    for at in rng.integers(len(corrupted) // 2, len(corrupted), 64):  # bytes of the samples
        corrupted[at] = int(rng.integers(0, 256))
    (folder / "corrupted_samples.hdf5").write_bytes(bytes(corrupted))
    cases["corrupted_samples.hdf5"] = "either"
    tdms = (real_data / "tdms/sample_tdms_file_v4713.tdms").read_bytes()
    (folder / "cut_more.tdms").write_bytes(tdms[: len(tdms) // 2])
    cases["cut_more.tdms"] = "either"
    (folder / "empty.pb").write_bytes(b"")
    cases["empty.pb"] = "empty"
    return cases


# --- running it under limits -----------------------------------------------------------------------
def _limit_memory() -> None:  # in the child, before exec: inherited by the Ray processes it starts
    resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_BYTES, MEMORY_BYTES))
    os.setsid()


def _folder_bytes(root) -> int:
    total = 0
    for folder, _, names in os.walk(root):
        for name in names:
            try:
                total += os.path.getsize(os.path.join(folder, name))
            except OSError:
                pass
    return total


@pytest.fixture(scope="module")
def hostile_run(real_data, tmp_path_factory):
    """One ``raydas run`` over the folder of mutants; returns (cases, process, output root, peak output bytes)."""
    base = tmp_path_factory.mktemp("hostile")
    data, out = base / "data", base / "results"
    data.mkdir()
    cases = build(real_data, data)
    config = base / "run.json"
    config.write_text(json.dumps({"input": str(data), "output": str(out), "processing": PROCESSING}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "raydas", "run", str(config), "--num-cpus", "2", "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_limit_memory,
    )
    peak = {"bytes": 0, "killed": ""}
    done = threading.Event()

    def watch():  # the output limit: kill the run as soon as its outputs grow past it
        started = time.monotonic()
        while not done.wait(0.5):
            peak["bytes"] = max(peak["bytes"], _folder_bytes(out))
            if peak["bytes"] > OUTPUT_BYTES or time.monotonic() - started > WALL_SECONDS:
                peak["killed"] = "output" if peak["bytes"] > OUTPUT_BYTES else "time"
                os.killpg(proc.pid, signal.SIGKILL)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    stdout, stderr = proc.communicate(timeout=WALL_SECONDS + 60)
    done.set()
    watcher.join()
    peak["bytes"] = max(peak["bytes"], _folder_bytes(out))
    return cases, proc.returncode, stdout, stderr, out, peak


def test_the_run_stays_within_its_limits_and_ends_non_zero(hostile_run):
    _, returncode, stdout, stderr, _, peak = hostile_run
    assert not peak["killed"], f"killed for exceeding its {peak['killed']} limit; stderr: {stderr[-3000:]}"
    assert peak["bytes"] <= OUTPUT_BYTES
    assert returncode == 1, stderr[-3000:]  # some files failed: the run says so
    assert "Traceback" not in stderr and "Traceback" not in stdout
    assert "MemoryError" not in stderr and "OverflowError" not in stderr


def _failures(out) -> dict[str, str]:
    report = json.loads((out / "raydas-failures.json").read_text())
    return {os.path.basename(f["file"]): f["error"] for f in report["failures"]}


def _outputs(out) -> list[str]:
    """The chunk files written, relative to the writer's folder (one folder per recording)."""
    return sorted(str(p.relative_to(out / "out")) for p in (out / "out").rglob("*.npy") if p.name[0].isdigit())


def _output(out, stem: str) -> np.ndarray:
    """The one chunk file named ``<stem>.npy``, in whichever recording's folder it is."""
    (path,) = (out / "out").rglob(f"{stem}.npy")
    return np.load(path)


def test_every_file_is_processed_or_named_in_the_failure_report(hostile_run, real_data):
    cases, _, _, stderr, out, _ = hostile_run
    failures = _failures(out)
    for name, expected in cases.items():
        if expected == "good":
            assert name not in failures, f"{name}: {failures.get(name)}"
        elif expected != "either":
            assert name in failures, f"{name} is neither processed nor named; stderr: {stderr[-2000:]}"
            assert expected in failures[name], f"{name}: {failures[name]}"
        assert f"{name}:" in stderr or name not in failures  # each failure is named on the console too
    processed_either = [n for n, e in cases.items() if e == "either" and n not in failures]
    assert len(_outputs(out)) >= 3 + len(processed_either)  # good.h5, the 2e9-row liar, good.sgy, and those


def test_the_good_files_outputs_are_all_there(hostile_run, real_data):
    _, _, _, _, out, _ = hostile_run
    from raydas.timeutil import unix_stem

    with h5py.File(real_data / IDAS, "r") as h5:
        first_us = int(h5[f"{RAW}/RawDataTime"][0])
    for hours in (0, 1):  # good.h5, and the file declaring 2**31 rows, read as its 1000
        stem = unix_stem((first_us + hours * HOUR_US) * 1000)
        array = _output(out, stem)
        assert array.shape == (1152, 1000) and np.isfinite(array).all()
    np.testing.assert_array_equal(
        _output(out, unix_stem(first_us * 1000)), _output(out, unix_stem((first_us + HOUR_US) * 1000))
    )
