"""Ray at scale: actor layout (GPU/CPU), host-to-device staging, faults
survived (actor killed, node lost, driver killed, corrupt file), flat memory
with the synthetic source, and the run's observability (progress, stages,
timeline)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from helpers import REPO

from raydas.apps.cli import main as cli_main
from raydas.backend import HostToDevice
from raydas.config import RayOptions, RunConfig
from raydas.errors import RunFailed
from raydas.formats.witsml import parse_fbe
from raydas.manifest import ResultsManifest
from raydas.runtime import FAILURE_REPORT, STAGES, Run, run
from raydas.runtime.progress import Progress

NOISELOG = os.path.join(REPO, "configs/demo-noiselog.json")
#: the folder of the demo recording's outputs under a writer's directory_out: its first file's name
LABEL = "das_20250601T120000.sgy"
SCENARIOS = os.path.join(REPO, "tests", "ray_scenarios.py")


def _cfg(inputs, out, **kw):
    kw.setdefault("quicklook", False)
    kw.setdefault("processing", NOISELOG)
    return RunConfig(input=inputs, output=str(out), **kw)


def _fbe_values(folder) -> dict[str, np.ndarray]:
    return {f: parse_fbe((folder / f).read_bytes())[3] for f in sorted(os.listdir(folder)) if not f.startswith(".")}


def _scenario(name: str, args: dict, timeout: float = 240) -> dict:
    proc = subprocess.run(
        [sys.executable, SCENARIOS, name, json.dumps(args)],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


# --- 1. actors on GPUs or CPUs --------------------------------------------------------------
def test_host_to_device_staging_path_on_numpy():
    """The cupy upload path (reused page-locked staging buffer, then a device
    copy) run with numpy as xp: right values, a fresh writable array each time
    that no later upload overwrites, one staging buffer reused, two threads
    uploading at once (a GPU actor runs two calls) each get their own data."""
    up = HostToDevice(np, staged=True)
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    a.setflags(write=False)  # as out of Ray's object store
    da = up(a)
    buffer = up._buffer
    db = up(a[:, ::-1] * 2)  # non-contiguous input
    assert up._buffer is buffer  # reused, not reallocated
    np.testing.assert_array_equal(da, a)  # not overwritten by the second upload
    np.testing.assert_array_equal(db, a[:, ::-1] * 2)
    assert da.flags.writeable and not np.shares_memory(da, buffer)
    results = {}

    def worker(k):
        for i in range(50):
            x = np.full((8, 100), k * 1000 + i, dtype=np.float32)
            results.setdefault(k, []).append(bool((up(x) == x).all()))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[0]) and all(results[1]) and len(results[0]) == 50
    with up.computing():  # numpy: a plain lock, no stream
        pass
    plain = HostToDevice(np)  # the CPU actor's path: the array from Ray, no copy
    assert plain(a) is a


@pytest.mark.slow
def test_actor_layout_gpu_or_cpu_from_cluster_resources(demo_files, tmp_path):
    r = _scenario("layout", {"files": demo_files, "out": str(tmp_path), "processing": NOISELOG})
    assert r["cpu_device"] == "cpu"
    assert r["cpu_layout"][0] == 2 and r["cpu_layout"][1] == {"num_cpus": 1.0}
    assert "no processor actor became available" in r["gpu_none_error"]
    assert r["gpu_device"] == "gpu"
    n, opts, _ = r["gpu_layout"]
    assert n == 1 and opts == {"num_gpus": 1, "num_cpus": 1.0}  # num_cpus explicit, never Ray's hidden default
    assert r["gpu_actor"]["gpu_ids"] == ["0"] and r["gpu_actor"]["cuda_visible"] == "0"
    assert "cupy" in r["gpu_fake_error"]  # the actor says why it cannot compute, the run does not hang
    # a CPU: 0 head alone (autoscaler not yet scaled up): ingest tasks still ask for CPUs, so they never land on
    # the head and their demand makes the autoscaler start CPU ingest nodes
    for layout in (r["empty_cpu_layout"], r["empty_gpu_layout"]):
        assert layout[0] == 1 and layout[2] > 0


# --- 2. faults ------------------------------------------------------------------------------
#: a graph with every writer: npy folder, clip's npy folder, WITSML, PNG and SVG thumbnails
ALL_WRITERS = {
    "command_list": [
        {"name": "write_npy", "uid": 1, "in_uid": 0, "directory_out": "npy"},
        {"name": "clip", "uid": 2, "in_uid": 0, "directory_out": "clip", "xmax": 530.0},
        {"name": "fft", "uid": 3, "in_uid": 0},
        {"name": "rms_from_fft", "uid": 4, "in_uid": 3, "low_freq": 0, "high_freq": -1},
        {"name": "multiple_calcs", "uid": 5, "in_uid": 3, "func": "rms_from_fft", "low_freq": [1, 100],
         "high_freq": [100, -1]},
        {"name": "write_witsml", "uid": 6, "in_uid": 5, "gather_uids": [4], "directory_out": "NoiseLog",
         "low_freq": [1, 100], "high_freq": [100, -1]},
        {"name": "thumbnail", "uid": 7, "in_uid": 0, "directory_out": "png", "dpi": 20, "figure_size": [2, 2]},
        {"name": "thumbnail", "uid": 8, "in_uid": 0, "directory_out": "svg", "format": "svg", "dpi": 20,
         "figure_size": [2, 2]},
    ]
}  # fmt: skip


def _snapshot(root) -> dict[str, bytes]:
    """Every result file under ``root`` (the chunk store under it included), by relative path:
    all but the results manifest (provenance: when, which run) and temporary files."""
    out = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != "raydas-manifest"]
        for name in names:
            if not name.startswith("."):
                path = os.path.join(folder, name)
                out[os.path.relpath(path, root)] = open(path, "rb").read()
    return out


def _assert_same_files(got: dict[str, bytes], clean: dict[str, bytes]) -> None:
    assert sorted(got) == sorted(clean)
    differ = [name for name in clean if got[name] != clean[name]]
    assert not differ, f"{len(differ)} file(s) differ from a clean run's, e.g. {differ[:5]}"


def _rms_by_chunk(files, seconds: float, rate: float = 1000.0) -> list[np.ndarray]:
    """Independent reference: RMS over 0-Nyquist of each chunk, from segyio's samples."""
    x = np.concatenate([_segy(p) for p in files], axis=1)
    n = int(seconds * rate)
    return [np.sqrt(np.mean(x[:, i : i + n] ** 2, axis=1)) for i in range(0, x.shape[1], n)]


def _segy(path):
    import segyio

    with segyio.open(path, ignore_geometry=True) as f:
        return np.asarray(f.trace.raw[:], dtype=np.float64)


@pytest.mark.slow
def test_processor_actor_killed_mid_run(ray_session, demo_files, tmp_path):
    """An actor killed with chunks in flight: they go to another actor; every writer's files
    (and the chunk store's) are byte for byte a clean run's, and every file is counted once."""
    res = tmp_path / "res"
    r = Run(_cfg(demo_files, res, chunk_seconds=1.0, processing=ALL_WRITERS, store=str(res / "store")), progress=False)
    killed = []

    def on_result(plan, result, failure):
        if len(r.driver.delivered) == 2 and not killed:
            pool = r.driver.pool
            busiest = max(range(len(pool.actors)), key=pool.load.__getitem__)  # it has chunks in flight
            pid = pool.info[busiest]["pid"]  # (a ping now would wait for its chunks)
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    r.on_result = on_result
    report = r.execute()
    assert killed and report.chunks_resent >= 1  # the kill hit chunks in flight, which were re-sent
    assert report.ok and report.chunks_done == 12
    assert r.driver.delivered == sorted(r.driver.delivered) and len(set(r.driver.delivered)) == 12  # once, in order
    files = _snapshot(res)
    results = [f for f in files if not f.startswith("store/")]
    assert report.outputs_written == len(results) == 12 * 5 + 4  # 5 writers' files per chunk, + 2 npy folders' axes
    clean_cfg = _cfg(demo_files, tmp_path / "clean", chunk_seconds=1.0, processing=ALL_WRITERS,
                     store=str(tmp_path / "clean" / "store"))  # fmt: skip
    clean = run(clean_cfg, progress=False)
    assert clean.outputs_written == report.outputs_written
    _assert_same_files(files, _snapshot(tmp_path / "clean"))
    folder = tmp_path / "res" / "NoiseLog" / LABEL
    names = sorted(os.listdir(folder), key=lambda n: float(n.removesuffix(".fbe")))
    assert len(names) == 12 and not any(n.startswith(".") for n in names)
    for name, expected in zip(names, _rms_by_chunk(demo_files, 1.0)):
        np.testing.assert_allclose(parse_fbe((folder / name).read_bytes())[3][:, 0], expected, rtol=1e-5)


@pytest.mark.slow
def test_worker_node_lost_mid_run(demo_files, tmp_path):
    r = _scenario(
        "node_lost", {"files": demo_files, "out": str(tmp_path / "res"), "processing": NOISELOG, "chunk_seconds": 0.5}
    )
    assert r["removed"] and r["removed_after"] < r["chunks_total"]
    assert len(r["actor_nodes"]) == 2  # one actor was on the node that went away
    assert r["failures"] == [] and r["chunks_done"] == r["chunks_total"] == 24
    assert r["delivered"] == sorted(r["delivered"]) and len(set(r["delivered"])) == 24
    assert len([n for n in os.listdir(tmp_path / "res" / "NoiseLog" / LABEL) if n.endswith(".fbe")]) == 24


def _in_session(sid: int) -> dict[int, str]:
    """The processes of the session ``sid`` still running (not zombies): id -> name (Linux /proc)."""
    found = {}
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except (OSError, ValueError):
            continue
        name = stat[stat.index(b"(") + 1 : stat.rindex(b")")].decode(errors="replace")
        state, _, _, session = stat[stat.rindex(b")") + 2 :].split()[:4]
        if int(session) == sid and state != b"Z":
            found[int(entry)] = name
    return found


def _children(pid: int) -> dict[int, bytes]:
    """The children of ``pid`` outside its session: id -> start time field (Linux /proc)."""
    found = {}
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except (OSError, ValueError):
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()
        if int(fields[1]) == pid and int(fields[3]) != pid:
            found[int(entry)] = fields[19]
    return found


def _still_running(processes: dict[int, bytes]) -> dict[int, str]:
    """Those of ``processes`` (id -> start time) still running (the same process, not a zombie)."""
    left = {}
    for pid, start in processes.items():
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()
        if fields[19] == start and fields[0] != b"Z":
            left[pid] = stat[stat.index(b"(") + 1 : stat.rindex(b")")].decode(errors="replace")
    return left


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds the private Ray's processes through /proc")
def test_driver_killed_then_rerun_writes_only_what_is_missing(ray_session, demo_files, tmp_path):
    """The driver alone is killed (SIGKILL): its private Ray goes with it (Ray by itself leaves
    the raylet's agents behind for a minute), the files written are complete, and a rerun
    writes only what is missing."""
    cfg = tmp_path / "run.json"
    out = tmp_path / "res"
    cfg.write_text(
        json.dumps(
            {
                "input": demo_files,
                "output": str(out),
                "processing": NOISELOG,
                "chunk_seconds": 0.05,
                "quicklook": False,
                "ray": {"num_actors": 1},
            }
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "raydas", "run", str(cfg), "--no-progress", "--num-cpus", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a session of its own: every process of its private Ray is in it
    )
    folder = out / "NoiseLog" / LABEL
    deadline = time.monotonic() + 180
    left: dict[int, str] = {}
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if folder.exists() and len(os.listdir(folder)) >= 20:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed: " + proc.stderr.read().decode()[-2000:]
        ray_processes = _in_session(proc.pid)
        assert any("raylet" in n for n in ray_processes.values()), ray_processes  # its private Ray runs
        helpers = _children(proc.pid)  # raydas's own helpers (in sessions of their own), e.g. the reaper
        os.kill(proc.pid, signal.SIGKILL)  # the driver alone
        proc.wait(timeout=30)
        gone_by = time.monotonic() + 30  # well before Ray's agents would give up by themselves (60 s)
        while (left := _in_session(proc.pid) | _still_running(helpers)) and time.monotonic() < gone_by:
            time.sleep(0.5)
        assert left == {}, f"the killed driver's private Ray left {left} running"
    finally:
        for pid in left:  # whatever lingers must not outlive the test
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    before = {n: os.stat(folder / n).st_mtime_ns for n in os.listdir(folder) if not n.startswith(".")}
    assert 20 <= len(before) < 240
    for name in before:  # a file under a final name is complete
        parse_fbe((folder / name).read_bytes())
    # resume trusts what the results manifest vouches for: the rows the killed driver flushed (those of
    # its last second, and of chunks its actors finished after it died, are lost: they are redone)
    rows = ResultsManifest(str(out)).rows()
    vouched = {n for n in before if f"NoiseLog/{LABEL}/{n}" in rows}
    assert vouched
    report = run(RunConfig.model_validate_json(cfg.read_text()), progress=False)
    assert report.chunks_total == 240 and report.chunks_skipped == len(vouched)
    assert report.chunks_done == 240 - len(vouched)
    after = {n: os.stat(folder / n).st_mtime_ns for n in os.listdir(folder) if not n.startswith(".")}
    assert len(after) == 240
    assert all(after[n] == t for n, t in before.items() if n in vouched)  # nothing vouched for rewritten


@pytest.mark.slow
def test_driver_killed_then_rerun_leaves_every_writers_files_as_a_clean_run(ray_session, demo_files, tmp_path):
    """The driver killed mid-run (kill -9), then the same run again: every writer's files,
    the chunk store and the quick-look are byte for byte those of a clean run. Before,
    write_npy's time.npy was rewritten by every chunk, so a resumed run could leave the
    short last chunk's axis (or a full one) where a clean run left the other."""
    out = tmp_path / "res"
    doc = {
        "input": demo_files,
        "output": str(out),
        "store": str(out / "store"),
        "processing": ALL_WRITERS,
        "chunk_seconds": 0.37,  # 33 chunks, the last one short (160 samples)
        "ray": {"num_actors": 1},
    }
    cfg = tmp_path / "run.json"
    cfg.write_text(json.dumps(doc))
    proc = subprocess.Popen(
        [sys.executable, "-m", "raydas", "run", str(cfg), "--no-progress", "--num-cpus", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    folder = out / "NoiseLog" / LABEL
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if folder.exists() and len(os.listdir(folder)) >= 8 and (out / "raydas-manifest").exists():
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed: " + proc.stderr.read().decode()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)  # the driver
        proc.wait(timeout=30)
    finally:
        time.sleep(1.0)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # then its private Ray, before looking at the files
        except ProcessLookupError:
            pass
    time.sleep(0.5)
    done_before = len(os.listdir(folder))
    assert 8 <= done_before < 33
    report = run(RunConfig.model_validate_json(cfg.read_text()), progress=False)
    assert report.chunks_total == 33 and 0 < report.chunks_skipped <= done_before and report.quicklook
    clean = run(
        RunConfig.model_validate(dict(doc, output=str(tmp_path / "clean"), store=str(tmp_path / "clean" / "store"))),
        progress=False,
    )
    assert clean.chunks_done == 33
    _assert_same_files(_snapshot(out), _snapshot(tmp_path / "clean"))
    seconds = np.load(out / "npy" / LABEL / "time.npy")
    np.testing.assert_allclose(seconds, np.arange(370) / 1000.0)  # the first (full) chunk's axis


def test_corrupt_file_fails_in_ingest_others_complete(ray_session, demo_files, tmp_path, capsys):
    """A file that scans but whose samples cannot be read (cut short after the
    scan): its chunks fail in their ingest tasks, the other files complete,
    the run exits non-zero with a report (file, chunk, error) beside the
    outputs; a clean rerun removes the stale report."""
    data = tmp_path / "data"
    data.mkdir()
    paths = [shutil.copy(p, data) for p in demo_files]
    cfg = tmp_path / "run.json"
    out = tmp_path / "res"
    cfg.write_text(json.dumps({"input": str(data), "output": str(out), "processing": NOISELOG, "quicklook": False}))
    r = Run(_cfg(str(data), out), progress=False)
    original_scan = r.scan

    def scan_then_corrupt(spec=None):
        records = original_scan(spec)
        with open(paths[1], "r+b") as fh:  # the middle file loses its traces after the scan
            fh.truncate(3600 + 240 + 100)
        return records

    r.scan = scan_then_corrupt
    with pytest.raises(RunFailed) as err:
        r.execute()
    failures = err.value.failures
    assert failures and {f.stage for f in failures} == {"ingest"}
    assert all(f.file == paths[1] for f in failures)
    failed = {f.chunk for f in failures}
    assert len(failed) == 4 and all(f.error and f.chunk_start.startswith("2025-06-01T12:00:0") for f in failures)
    assert len(os.listdir(out / "NoiseLog" / LABEL)) == 8  # the two good files
    report = json.loads((out / FAILURE_REPORT).read_text())
    assert report["chunks"] == {"total": 12, "processed": 8, "already_done": 0, "failed": 4}
    assert {f["chunk"] for f in report["failures"]} == failed
    shutil.copy(demo_files[1], paths[1])  # repaired: the CLI rerun does only the 4 missing chunks
    assert cli_main(["run", str(cfg), "--no-progress"]) == 0
    assert "4 processed, 8 already done" in capsys.readouterr().out
    assert not (out / FAILURE_REPORT).exists()


def test_cli_exits_non_zero_when_a_file_is_corrupt(ray_session, demo_files, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for p in demo_files[:2]:
        shutil.copy(p, data)
    (data / "bad.sgy").write_bytes(b"\0" * 3600 + b"garbage")
    cfg = tmp_path / "run.json"
    cfg.write_text(
        json.dumps({"input": str(data), "output": str(tmp_path / "res"), "processing": NOISELOG, "quicklook": False})
    )
    assert cli_main(["run", str(cfg), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "bad.sgy" in err and FAILURE_REPORT in err
    assert len(os.listdir(tmp_path / "res" / "NoiseLog" / LABEL)) == 8


# --- 3. flat memory ---------------------------------------------------------------------------
@pytest.mark.slow
def test_synthetic_source_keeps_object_store_and_driver_memory_flat(tmp_path):
    """A synthetic recording streams through raydas's own local Ray: the object
    store holds at most the chunks in flight plus those finished within one of
    Ray's free periods (FREE_OBJECTS_PERIOD_MS), whatever the length; the
    driver's memory stays flat."""
    from raydas.runtime import FREE_OBJECTS_PERIOD_MS

    seconds, channels, rate = 60, 1000, 1000.0
    chunk_bytes = 4 * channels * int(rate)  # 1-s chunks, no halo for this pipeline
    total = seconds * chunk_bytes
    r = _scenario(
        "memory",
        {
            "input": f"synthetic://?seconds={seconds}&rate={rate:g}&channels={channels}",
            "out": str(tmp_path / "res"),
            "processing": NOISELOG,
            "in_flight": 4,
        },
    )
    assert r["ok"] and r["chunks_done"] == seconds and r["in_flight"] == 4
    assert r["store_samples"] >= 5, "object-store use was not sampled"
    times = np.asarray(r["finished_at"])
    period = FREE_OBJECTS_PERIOD_MS / 1000
    freed_late = int(max(np.searchsorted(times, t + period) - i for i, t in enumerate(times)))
    bound = (r["in_flight"] + freed_late + 1) * chunk_bytes
    assert r["peak_store"] is not None and r["peak_store"] <= bound
    assert r["peak_store"] < total / 5  # flat: nowhere near holding the recording
    assert r["rss_baseline"] > 0
    growth = r["rss_peak"] - r["rss_baseline"]
    assert growth < 0.1 * total  # the driver never holds the data
    assert "memory:    object store peak" in r["summary"]
    print(
        f"object store peak {r['peak_store'] / 2**20:.1f} MiB (bound {bound / 2**20:.1f} MiB = {r['in_flight']} in "
        f"flight + {freed_late} freed within {period:g} s + 1 chunks; data {total / 2**20:.0f} MiB); "
        f"driver RSS +{growth / 2**20:.1f} MiB; {r['seconds']:.1f} s"
    )
    # RMS over 0-Nyquist of chunk 30: noise of RMS 0.1, a 50 Hz tone of amplitude 1 and a 700 Hz tone
    # rising from 0 to 1 along the fibre: sqrt(0.01 + 0.5 + ramp**2 / 2)
    folder = tmp_path / "res" / "NoiseLog" / "synthetic" / f"seconds_{seconds}_rate_{rate:g}_channels_{channels}"
    stem = sorted(os.listdir(folder))[30]
    values = parse_fbe((folder / stem).read_bytes())[3]
    ramp = np.linspace(0, 1, channels)
    np.testing.assert_allclose(values[:, 0], np.sqrt(0.01 + 0.5 + ramp**2 / 2), rtol=0.02)


def test_synthetic_windows_agree_whatever_the_chunking():
    from raydas.errors import ConfigError
    from raydas.formats import synthetic

    rec = synthetic.records("synthetic://?seconds=5&rate=200&channels=7")[0]
    assert (rec.n_channels, rec.n_samples, rec.dt) == (7, 1000, 0.005)
    src = synthetic.SyntheticSource()
    whole = src.read_samples(rec, 0, 1000)
    np.testing.assert_allclose(
        np.concatenate([src.read_samples(rec, 0, 333), src.read_samples(rec, 333, 1000)], axis=1),
        whole,
        rtol=0,
        atol=1e-6,
    )
    t = np.arange(1000) / 200.0
    tones = np.sin(2 * np.pi * 50 * t)[None, :] + np.linspace(0, 1, 7)[:, None] * np.sin(2 * np.pi * 700 * t)
    noise = whole - tones
    assert abs(noise.std() - 0.1) < 0.01 and abs(noise.mean()) < 0.01
    with pytest.raises(ConfigError, match="unknown synthetic parameter 'chanels'"):
        synthetic.records("synthetic://?chanels=3")


# --- 4. streaming -------------------------------------------------------------------------------
BUTTER_NPY = {
    "command_list": [
        {"name": "butter", "uid": 1, "in_uid": 0, "type": "lowpass", "freq": 50.0, "order": 4},
        {"name": "write_npy", "uid": 2, "in_uid": 1, "directory_out": "lowpass"},
    ]
}


def test_watch_processes_arriving_files_like_a_batch_run(ray_session, tmp_path):
    """A writer drops SEG-Y files into a folder one after another; the watcher
    processes them as they come, taking each chunk's halo from the next and
    previous files: the low-passed samples equal a batch run's."""
    from raydas.apps import demo
    from raydas.runtime.watch import Watcher

    source = demo.generate(str(tmp_path / "src"), files=3, seconds=2.0, channels=12, sample_rate=500.0)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    cfg = RunConfig(
        input="unused", output=str(tmp_path / "live"), processing=BUTTER_NPY, chunk_seconds=0.5, quicklook=False
    )
    watcher = Watcher(str(inbox), cfg, interval=0.2, progress=False, settle=0)  # files arrive whole (renamed)
    submitted_before_last = []

    def writer():
        for k, path in enumerate(source):
            time.sleep(0.6)
            if k == len(source) - 1:
                submitted_before_last.append(len(watcher._submitted))
            tmp = inbox / ("." + os.path.basename(path) + ".part")  # hidden while being written
            shutil.copy(path, tmp)
            os.replace(tmp, inbox / os.path.basename(path))
        watcher.stop()

    thread = threading.Thread(target=writer)
    thread.start()
    report = watcher.watch()
    thread.join()
    assert report.ok and report.chunks_done == 12
    assert submitted_before_last[0] < 12  # the last chunks waited for the last file
    batch = run(
        RunConfig(
            input=source, output=str(tmp_path / "batch"), processing=BUTTER_NPY, chunk_seconds=0.5, quicklook=False
        ),
        progress=False,
    )
    assert batch.chunks_done == 12 and watcher.run.pipeline.halo_samples(500.0) > 0  # the chunks had halos to carry
    names = sorted(n for n in os.listdir(tmp_path / "batch" / "lowpass" / LABEL) if n[0].isdigit())
    assert len(names) == 12
    for name in names:
        np.testing.assert_array_equal(
            np.load(tmp_path / "live" / "lowpass" / LABEL / name),
            np.load(tmp_path / "batch" / "lowpass" / LABEL / name),
        )


def test_watch_cli_reports_latency(ray_session, tmp_path, capsys):
    from raydas.apps import demo

    inbox = tmp_path / "inbox"
    demo.generate(str(inbox), files=2, seconds=1.0, channels=8, sample_rate=500.0)
    (tmp_path / "lowpass.json").write_text(json.dumps(BUTTER_NPY))
    cfg = tmp_path / "watch.json"
    cfg.write_text(json.dumps({"output": "out", "processing": "lowpass.json", "quicklook": False}))
    code = cli_main(
        ["watch", str(inbox), "--config", str(cfg), "--interval", "0.1", "--idle-exit", "0.5", "--no-progress"]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "2 processed" in text and "latency:   arrival to outputs median" in text
    assert len(os.listdir(tmp_path / "out" / "lowpass" / LABEL)) == 2 + 2  # + measured_depth.npy, time.npy


def test_watch_sees_new_objects_in_a_bucket(s3_bucket, tmp_path):
    """Listing a bucket (moto S3): a new object is taken once its size has
    settled over two listings, and chunks become ready only when the halo
    after them has arrived (no Ray needed for the watcher's side)."""
    import fsspec

    from raydas.apps import demo
    from raydas.runtime.watch import Watcher

    source = demo.generate(str(tmp_path / "src"), files=2, seconds=2.0, channels=6, sample_rate=500.0)
    fs = fsspec.filesystem("s3")
    watcher = Watcher(
        f"{s3_bucket}/inbox",
        RunConfig(input="unused", output=str(tmp_path / "out"), processing=BUTTER_NPY, chunk_seconds=0.5),
        progress=False,
        settle=0,  # taken once unchanged over two listings
    )
    assert watcher.poll() == 0
    fs.put(source[0], f"{s3_bucket}/inbox/a.sgy")
    assert watcher.poll() == 0  # first sight: not taken until its size is seen twice
    assert watcher.poll() == 1
    first = [p.stem for p, _ in watcher.ready_plans()]
    assert len(first) == 3  # the 4th chunk of file 1 waits for the halo in file 2
    fs.put(source[1], f"{s3_bucket}/inbox/b.sgy")
    watcher.poll()
    assert watcher.poll() == 1
    assert len(watcher.ready_plans()) == 7 and len(watcher.ready_plans(final=True)) == 8


# --- 5. observability ---------------------------------------------------------------------------
def test_summary_has_stages_and_timeline_is_written(ray_session, demo_files, tmp_path):
    timeline = tmp_path / "res" / "trace" / "timeline.json"  # a file under the results root
    report = run(_cfg(demo_files, tmp_path / "res", ray=RayOptions(timeline="trace/timeline.json")), progress=False)
    assert set(report.stage_seconds) == set(STAGES)
    assert report.stage_seconds["compute"] > 0 and report.stage_seconds["write"] > 0
    assert report.stage_seconds["ingest"] > 0
    text = report.summary()
    assert "stages:    ingest" in text and "queue" in text and "compute" in text and "write" in text
    events = json.loads(timeline.read_text())
    names = {e.get("name") for e in events}
    assert {"read_and_process", "task:execute"} <= names  # the CPU actors' spans (they read their own chunks)
    assert report.timeline == str(timeline)


def test_progress_counts_throughput_and_eta():
    now = [100.0]
    lines = []

    class Stream:
        def isatty(self):
            return False

        def write(self, s):
            lines.append(s)

        def flush(self):
            pass

    p = Progress(10, enabled=True, log_every=1.0, clock=lambda: now[0], stream=Stream())
    assert p.snapshot().eta_s is None
    now[0] = 102.0
    p.update(4, nbytes=8_000_000)
    snap = p.snapshot()
    assert (snap.done, snap.total) == (4, 10)
    assert snap.chunks_per_s == pytest.approx(2.0) and snap.mb_per_s == pytest.approx(4.0)
    assert snap.eta_s == pytest.approx(3.0)  # 6 chunks left at 2 chunks/s
    assert any("4/10 chunks" in ln and "ETA 3 s" in ln for ln in lines)
    p.add_total(2)
    assert p.snapshot().total == 12


def test_cli_timeline_flag_and_synthetic_input(ray_session, tmp_path, capsys):
    cfg = tmp_path / "run.json"
    cfg.write_text(json.dumps({"input": "unused", "output": "res", "processing": NOISELOG, "quicklook": False}))
    trace = tmp_path / "res" / "trace.json"  # under the results root
    code = cli_main(
        [
            "run",
            str(cfg),
            "--input",
            "synthetic://?seconds=3&rate=1000&channels=16",  # the noise log's bands reach 500 Hz
            "--timeline",
            "trace.json",
            "--in-flight",
            "2",
            "--no-progress",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "3 processed" in out and f"timeline:  {trace}" in out and "with 2 chunks in flight" in out
    assert json.loads(trace.read_text())  # a non-empty Chrome trace
    assert len(os.listdir(tmp_path / "res" / "NoiseLog" / "synthetic" / "seconds_3_rate_1000_channels_16")) == 3
