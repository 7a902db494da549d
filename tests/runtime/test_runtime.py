"""End to end on a real local Ray: SEG-Y -> chunks -> processor actors -> WITSML,
resume, failures, and the chunk store between ingest and process."""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import numpy as np
import pytest
import segyio
from helpers import REPO

from raydas.config import RunConfig, load_config
from raydas.errors import ConfigError, RunFailed
from raydas.formats.witsml import parse_fbe
from raydas.runtime import FAILURE_REPORT, Run, run

NOISELOG = os.path.join(REPO, "configs/demo-noiselog.json")


def _cfg(inputs, out, **kw):
    return RunConfig(input=inputs, output=str(out), processing=NOISELOG, **kw)


def _noiselog(out, first_file) -> str:
    """The demo recording's noise-log folder: ``<out>/NoiseLog/<recording label>``, the
    label being the recording's first file (raydas's per-recording output layout)."""
    return os.path.join(out, "NoiseLog", os.path.basename(first_file))


def _segy(path):
    with segyio.open(path, ignore_geometry=True) as f:
        return np.asarray(f.trace.raw[:], dtype=np.float64)


def test_run_writes_one_fbe_per_chunk_with_right_numbers(ray_session, demo_files, tmp_path):
    report = run(_cfg(demo_files, tmp_path / "res"), progress=False)
    assert report.chunks_total == 12 and report.chunks_done == 12 and report.ok
    folder = _noiselog(tmp_path / "res", demo_files[0])
    files = sorted(os.listdir(folder))
    assert len(files) == 12 and not any(f.startswith(".") for f in files)  # no temp files left
    assert os.path.exists(tmp_path / "res" / "quicklook.png")
    # chunk 5 (seconds 5..6 of the recording, in the second file), checked with numpy on segyio's read
    t_ns, curves, depth, values = parse_fbe(open(os.path.join(folder, files[5]), "rb").read())
    x = _segy(demo_files[1])[:, 1000:2000]
    assert curves[0] == "band_0-nyquist"
    np.testing.assert_allclose(values[:, 0], np.sqrt(np.mean(x**2, axis=1)), rtol=1e-5)
    spec = np.fft.rfft(x, axis=1)
    w = np.full(spec.shape[1], 2.0)
    w[0] = w[-1] = 1.0  # DC and Nyquist appear once in a one-sided spectrum
    band = slice(100, 250)  # 100-250 Hz at 1 Hz per bin
    expected = np.sqrt((w[band] * np.abs(spec[:, band]) ** 2).sum(axis=1)) / 1000
    np.testing.assert_allclose(values[:, 2], expected, rtol=1e-4)
    np.testing.assert_allclose(depth, 500.0 + 2.0 * np.arange(40))


def test_rerun_skips_existing_outputs(ray_session, demo_files, tmp_path):
    out = tmp_path / "res"
    run(_cfg(demo_files, out, quicklook=False), progress=False)
    folder = _noiselog(out, demo_files[0])
    stamp = {f: os.stat(os.path.join(folder, f)).st_mtime_ns for f in os.listdir(folder)}
    victim = sorted(stamp)[3]
    os.remove(os.path.join(folder, victim))
    again = run(_cfg(demo_files, out, quicklook=False), progress=False)
    assert again.chunks_skipped == 11 and again.chunks_done == 1
    for f, t in stamp.items():
        if f != victim:
            assert os.stat(os.path.join(folder, f)).st_mtime_ns == t  # untouched
    assert os.path.exists(os.path.join(folder, victim))


def test_bad_file_fails_alone(ray_session, demo_files, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for p in demo_files[:2]:
        shutil.copy(p, data)
    broken = data / "broken.sgy"
    broken.write_bytes(open(demo_files[2], "rb").read()[:-1000])  # truncated mid-trace
    with pytest.raises(RunFailed) as err:
        run(_cfg(str(data), tmp_path / "res", quicklook=False), progress=False)
    failures = err.value.failures
    assert len(failures) == 1 and failures[0].file.endswith("broken.sgy")
    assert "truncated" in failures[0].error
    assert len(os.listdir(_noiselog(tmp_path / "res", demo_files[0]))) == 8  # the two good files still ran
    report = json.loads((tmp_path / "res" / FAILURE_REPORT).read_text())
    assert report["failures"][0]["file"].endswith("broken.sgy")


def test_failure_while_reading_a_chunk(ray_session, demo_files, tmp_path):
    """A file that scans but cannot be read (here: deleted after the scan) fails its chunks only."""
    data = tmp_path / "data"
    data.mkdir()
    paths = [shutil.copy(p, data) for p in demo_files]
    r = Run(_cfg(str(data), tmp_path / "res", quicklook=False, store=str(tmp_path / "store")), progress=False)
    records = r.scan()
    plans = r.plan(records)
    os.remove(paths[2])
    rows = r.drive(plans)
    stages = {f.stage for f in r.report.failures}
    assert stages == {"ingest"}
    lost = {p.output_id for p in plans if any(rec.path == paths[2] for rec, _, _ in p.pieces)}
    assert {f.chunk for f in r.report.failures} == lost and len(lost) == 4
    assert r.report.chunks_done == 8
    good = {p.output_id for p in plans} - lost  # <recording>/<unixtime>
    assert sorted(row.file for row in rows) == sorted(f"{oid}.npy" for oid in good)  # stored: the chunks read
    processed = {str(p.relative_to(tmp_path / "res" / "NoiseLog")) for p in (tmp_path / "res" / "NoiseLog").rglob("*")}
    assert {n.removesuffix(".fbe") for n in processed if n.endswith(".fbe")} == good  # processed


def test_ingest_then_process_through_the_chunk_store(ray_session, demo_files, tmp_path):
    store = str(tmp_path / "store")
    ingest = run(
        RunConfig(input=demo_files, output=str(tmp_path / "unused"), store=store), mode="ingest", progress=False
    )
    assert ingest.chunks_done == 12 and ingest.manifest.endswith("manifest.parquet")
    processed = run(
        RunConfig(input=store, output=str(tmp_path / "a"), processing=NOISELOG, quicklook=False),
        mode="process",
        progress=False,
    )
    direct = run(_cfg(demo_files, tmp_path / "b", quicklook=False), progress=False)
    assert processed.chunks_done == direct.chunks_done == 12
    label = os.path.basename(demo_files[0])  # the store keeps the recording's label: the same names
    names = os.listdir(tmp_path / "b" / "NoiseLog" / label)
    assert len(names) == 12 and sorted(os.listdir(tmp_path / "a" / "NoiseLog" / label)) == sorted(names)
    for name in names:
        a = parse_fbe((tmp_path / "a" / "NoiseLog" / label / name).read_bytes())
        b = parse_fbe((tmp_path / "b" / "NoiseLog" / label / name).read_bytes())
        assert a[0] == b[0] and a[1] == b[1]
        np.testing.assert_allclose(a[3], b[3], rtol=1e-6)


def test_ingest_and_index_share_the_cpus_that_warm_actors_hold(ray_session, demo_files, tmp_path):
    """``raydas up`` leaves warm processor actors holding every CPU of the machine: ingest
    tasks and catalogue scans (no processor actors of their own) share those CPUs instead
    of waiting for ever for a free one. Before, both hung."""
    import threading

    import ray

    from raydas.catalogue import Catalogue

    holder = ray.remote(num_cpus=ray.cluster_resources()["CPU"])(type("Warm", (), {"ping": lambda self: 1}))
    warm = holder.remote()
    try:
        ray.get(warm.ping.remote(), timeout=60)  # it holds every CPU now
        outcome = {}

        def work():
            config = RunConfig(input=demo_files, output=str(tmp_path / "unused"), store=str(tmp_path / "store"))
            outcome["ingest"] = run(config, mode="ingest", progress=False)
            outcome["index"] = Catalogue(str(tmp_path / "cat")).update(demo_files, files_per_task=1)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        thread.join(timeout=240)
        assert not thread.is_alive(), "ingest or index is waiting for CPUs that the warm actors hold"
        assert outcome["ingest"].chunks_done == 12
        assert len(outcome["index"].scanned) == len(demo_files)
    finally:
        ray.kill(warm)


def test_distpy_configs_run_unchanged(ray_session, tmp_path):
    """distpy's processing system config + its noise-log graph, on distpy's float64 1-s chunks."""
    shutil.copytree(os.path.join(REPO, "configs/distpy"), tmp_path / "cfg")
    chunks = tmp_path / "cfg" / "scratch" / "2020prj0001" / "sgy_data"
    chunks.mkdir(parents=True)
    rng = np.random.default_rng(3)
    t = np.arange(10000) / 10000.0
    for k in range(3):
        x = rng.standard_normal((6, 10000)) + np.sin(2 * np.pi * 700 * (t + k))[None, :]
        np.save(chunks / f"{1_600_000_000 + k}.npy", x)  # float64, as distpy's ingest writes
    np.save(chunks / "measured_depth.npy", (100.0 + np.arange(6)).reshape(-1, 1))
    cfg = load_config(str(tmp_path / "cfg" / "strainrate2fbeConfig.json"))
    report = run(cfg, mode="process", progress=False)
    assert report.chunks_done == 3
    out = tmp_path / "cfg" / "projects" / "2020prj0001" / "witsml" / "NoiseLog"
    t_ns, curves, depth, values = parse_fbe((out / "1600000001.fbe").read_bytes())
    assert curves == ["band_0-nyquist", "band_01_200--1", "band_02_600--1", "band_03_1000--1"]
    np.testing.assert_allclose(depth, 100.0 + np.arange(6))
    x = np.load(chunks / "1600000001.npy").astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(values[:, 0], np.sqrt(np.mean(x**2, axis=1)), rtol=1e-5)
    spec = np.fft.rfft(x, axis=1)
    te_600 = 2 * (np.abs(spec[:, 600:5000]) ** 2).sum(axis=1) + np.abs(spec[:, 5000]) ** 2
    np.testing.assert_allclose(values[:, 2], te_600, rtol=1e-4)


def test_config_errors_come_before_any_work(demo_files, tmp_path):
    """A bad processing graph is refused before the scan, before Ray starts and before
    anything is written (the CLI, as users run it, with real data to process)."""
    import subprocess
    import sys

    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "command_list": [
                    {"name": "fft", "uid": 1, "in_uid": 0},
                    {"name": "no_such_command", "uid": 2, "in_uid": 1},
                ]
            }
        )
    )
    with pytest.raises(ConfigError) as err:
        Run(RunConfig(input="x", output=str(tmp_path), processing=str(bad)))
    assert err.value.json_path == "$.command_list[1].name" and str(bad) in str(err.value)
    config = tmp_path / "run.json"
    out = tmp_path / "res"
    config.write_text(json.dumps({"input": demo_files, "output": str(out), "processing": str(bad)}))
    ray_tmp = tempfile.mkdtemp(prefix="rdcfg")  # short: Ray's socket paths must stay under 107 bytes
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "raydas", "run", str(config), "--no-progress", "--num-cpus", "2"],
            capture_output=True,
            text=True,
            timeout=300,
            env=dict(env, RAY_TMPDIR=ray_tmp),
        )
        assert done.returncode == 2 and "$.command_list[1].name" in done.stderr, done.stderr
        assert not out.exists()  # nothing written, no failure report: there was no work to report on
        assert os.listdir(ray_tmp) == []  # and no Ray was started
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)


@pytest.mark.slow
def test_distpy_two_stages_from_the_cli(ray_session, tmp_path, capsys):
    """distpy's CASE00 flow: `raydas ingest sgyConfig.json`, then `raydas process strainrate2fbeConfig.json`,
    on SEG-Y at the 10 kHz of that config (its noise-log bands start at 200, 600 and 1000 Hz: at 1 kHz the
    records are refused at planning, their top bands lying beyond Nyquist). The CLI's own ``main``, on the
    session's Ray (``python -m raydas`` on a private Ray: the README test runs these two commands so)."""
    from raydas.apps import demo
    from raydas.apps.cli import main as cli_main

    shutil.copytree(os.path.join(REPO, "configs/distpy"), tmp_path / "cfg")
    archive = tmp_path / "cfg" / "archive" / "2020prj0001" / "sgy"
    demo_files = demo.generate(str(archive), files=3, seconds=4.0, channels=8, sample_rate=10_000.0)
    assert cli_main(["ingest", str(tmp_path / "cfg" / "sgyConfig.json"), "--no-progress"]) == 0, capsys.readouterr()
    assert "12 processed" in capsys.readouterr().out
    store = tmp_path / "cfg" / "scratch" / "2020prj0001" / "sgy_data"
    assert (store / "manifest.parquet").exists() and len(list(store.glob("*.npy"))) == 12 + 1  # + measured_depth
    code = cli_main(["process", str(tmp_path / "cfg" / "strainrate2fbeConfig.json"), "--no-progress"])
    assert code == 0, capsys.readouterr()
    assert "12 processed" in capsys.readouterr().out
    out = tmp_path / "cfg" / "projects" / "2020prj0001" / "witsml" / "NoiseLog"
    assert len(list(out.glob("*.fbe"))) == 12
    t_ns, curves, depth, values = parse_fbe(sorted(out.glob("*.fbe"))[0].read_bytes())
    x = _segy(demo_files[0])[:, :10_000]
    np.testing.assert_allclose(values[:, 0], np.sqrt(np.mean(x**2, axis=1)), rtol=1e-5)


def test_stale_temporaries_of_a_finished_file_are_removed(tmp_path):
    """A writer killed mid-write leaves `.<name>.tmp-<id>`; the attempt that completes
    the file clears them, and touches nothing else."""
    from raydas.fsutil import remove_stale_temporaries, write_bytes_atomic

    final = tmp_path / "1700000000.fbe"
    (tmp_path / ".1700000000.fbe.tmp-dead1").write_bytes(b"half")
    (tmp_path / ".1700000000.fbe.tmp-dead2").write_bytes(b"half")
    (tmp_path / ".1700000001.fbe.tmp-busy").write_bytes(b"another chunk, still being written")
    write_bytes_atomic(str(final), b"complete")
    remove_stale_temporaries(str(final))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".1700000001.fbe.tmp-busy", "1700000000.fbe"]
    assert final.read_bytes() == b"complete"
