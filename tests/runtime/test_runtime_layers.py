"""The runtime's layering: the Mode enum, a Driver that needs no Run, a watcher
that drives its Run through public methods only, a runtime that knows no
format, and how a run finds a Ray already running on the machine."""

from __future__ import annotations

import ast
import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO

from raydas import formats
from raydas.config import RunConfig
from raydas.errors import RunFailed
from raydas.formats.witsml import parse_fbe
from raydas.recording import assemble, plan_chunks
from raydas.runtime import ActorLayout, ActorPool, Driver, Mode, ProcessorSetup, Run, RunReport, cluster
from raydas.runtime.watch import Watcher

NOISELOG = os.path.join(REPO, "configs/demo-noiselog.json")
RUNTIME = Path(REPO) / "raydas" / "runtime"


# --- Mode -------------------------------------------------------------------------------------
def test_mode_says_what_a_run_does():
    assert [m.value for m in Mode] == ["run", "ingest", "process"]
    assert Mode("ingest") is Mode.INGEST and Mode.RUN == "run"  # the strings of the CLI and configs
    assert Mode.RUN.processes and Mode.PROCESS.processes and not Mode.INGEST.processes
    assert Mode.INGEST.writes_store(None) and Mode.INGEST.writes_store("store")
    assert Mode.RUN.writes_store("store") and not Mode.RUN.writes_store(None)
    assert not Mode.PROCESS.writes_store("store")
    assert Mode.PROCESS.reads_store("store") and not Mode.PROCESS.reads_store(None)
    assert not Mode.RUN.reads_store("store")


def test_run_takes_a_mode_or_its_name(tmp_path):
    cfg = RunConfig(input="x", output=str(tmp_path / "out"), processing=NOISELOG)
    assert Run(cfg, mode="process").mode is Mode.PROCESS
    ingest = Run(cfg, mode=Mode.INGEST)
    assert ingest.mode is Mode.INGEST and ingest.pipeline is None
    assert ingest.config.store == str(tmp_path / "out")  # ingest fills the output folder when no store is named
    with pytest.raises(ValueError, match="unknown mode 'stream'; use one of run, ingest, process"):
        Run(cfg, mode="stream")


# --- the driver needs no run --------------------------------------------------------------------
def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_driver_and_actors_never_import_the_run():
    for name in ("driver.py", "actors.py", "cluster.py", "report.py"):
        assert not {".run", ".watch", "raydas.runtime.run"} & _imports(RUNTIME / name), name


def test_a_driver_built_without_a_run_processes_chunks(ray_session, demo_files, tmp_path):
    records, failures = formats.scan(demo_files[:1])
    recordings, _ = assemble(records)
    plans = plan_chunks(recordings, chunk_seconds=1.0, halo_for=lambda rate: 0)
    report = RunReport(output=str(tmp_path))
    pool = ActorPool("cpu", ActorLayout(1, {"num_cpus": 0.5}, 0.0))
    seen = []
    driver = Driver(
        report,
        pool,
        ProcessorSetup(_noiselog(), None, str(tmp_path)),
        in_flight=2,
        on_result=lambda plan, outcome, failure: seen.append((plan.index, failure)),
        sample_memory=False,
    )
    try:
        for plan in plans:
            driver.submit(plan)
        driver.drain()
    finally:
        driver.close()
    assert not failures and report.ok and report.chunks_done == 4 == len(plans)
    assert seen == [(p.index, None) for p in plans]  # in chunk order, none failed
    assert report.device == "cpu" and report.actors == 1 and report.in_flight == 2
    assert not pool.actors  # the driver stopped the actor its pool started
    files = sorted(os.listdir(tmp_path / "NoiseLog"))
    assert len(files) == 4
    values = parse_fbe((tmp_path / "NoiseLog" / files[2]).read_bytes())[3]
    assert values.shape[0] == 40 and np.isfinite(values).all()


def test_an_actor_that_lost_the_runs_setup_is_prepared_again(ray_session, demo_files, tmp_path):
    """Warm actors keep the last few setups; when other runs' setups have pushed this
    run's out (or the actor restarted), it says so and the driver prepares it again."""
    import ray

    from raydas.runtime.actors import Processor, remote_processor

    records, _ = formats.scan(demo_files[:1])
    plans = plan_chunks(assemble(records)[0], chunk_seconds=1.0, halo_for=lambda rate: 0)
    actor = remote_processor().options(num_cpus=0.5).remote()
    try:
        pool = ActorPool("cpu", ActorLayout(1, {"num_cpus": 0.5}, 0.0), borrowed=[actor])
        report = RunReport(output=str(tmp_path))
        driver = Driver(report, pool, ProcessorSetup(_noiselog(), None, str(tmp_path / "mine")), sample_memory=False)
        while not any(pool.ready):
            driver.step(timeout=0.5)
        others = [ProcessorSetup(_noiselog(), None, str(tmp_path / f"other{i}")) for i in range(Processor.KEEP_SETUPS)]
        ray.get([actor.prepare.remote(s) for s in others])
        for plan in plans:
            driver.submit(plan)
        driver.drain()
        driver.close()
        assert pool.actors == [actor]  # borrowed: the driver leaves it running
        assert report.ok and report.chunks_done == 4 and report.chunks_resent >= 1
        assert len(os.listdir(tmp_path / "mine" / "NoiseLog")) == 4
    finally:
        ray.kill(actor)


def _noiselog() -> dict:
    with open(NOISELOG) as fh:
        return json.load(fh)


def test_a_driver_with_actors_needs_their_setup():
    with pytest.raises(ValueError, match="needs the setup"):
        Driver(RunReport(output="x"), pool=object())


# --- watch uses the run's public methods only ------------------------------------------------------
class PublicOnly:
    """Stands in for an object and refuses any private attribute (``_name``)."""

    def __init__(self, target):
        object.__setattr__(self, "_target", target)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AssertionError(f"private attribute {name!r} used")
        return getattr(object.__getattribute__(self, "_target"), name)

    def __setattr__(self, name, value):
        if name.startswith("_"):
            raise AssertionError(f"private attribute {name!r} set")
        setattr(object.__getattribute__(self, "_target"), name, value)


def test_watch_drives_its_run_through_public_methods_only(ray_session, tmp_path):
    from raydas.apps import demo

    inbox = tmp_path / "inbox"
    # 1 kHz: the demo's noise-log bands reach 500 Hz (at 500 Hz they lie beyond Nyquist: refused at planning)
    demo.generate(str(inbox), files=2, seconds=1.0, channels=8, sample_rate=1000.0)
    (inbox / "broken.sgy").write_bytes(b"\x00\x01\xff garbage" * 300)  # a scan failure, recorded through the run
    cfg = RunConfig(input="unused", output=str(tmp_path / "out"), processing=NOISELOG, quicklook=False)
    watcher = Watcher(str(inbox), cfg, interval=0.1, idle_exit=0.3, progress=False)
    watcher.run = PublicOnly(watcher.run)
    with pytest.raises(RunFailed):  # the bad file fails the run, after the good ones ran
        watcher.watch()
    report = watcher.run.report
    assert report.chunks_done == 2 and report.files == 2
    assert [f.stage for f in report.failures] == ["scan"] and report.failures[0].file.endswith("broken.sgy")
    assert len(os.listdir(tmp_path / "out" / "NoiseLog")) == 2


# --- the runtime knows no format -----------------------------------------------------------------
def test_the_runtime_names_no_format_store_layout_or_writer():
    for path in RUNTIME.glob("*.py"):
        text = path.read_text()
        for word in ('.npy"', "distpy-npy", "synthetic", "write_witsml", "quicklook.png", "is_synthetic"):
            assert word not in text, f"{path.name} names {word!r}"


# --- finding a Ray that runs on this machine ----------------------------------------------------------
def test_running_ray_address_needs_the_file_and_an_answer(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    assert cluster.ray_temp_dir() == str(tmp_path / "ray")
    assert cluster.running_ray_address() is None  # no address file: nothing runs
    (tmp_path / "ray").mkdir()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        (tmp_path / "ray" / cluster.RAY_ADDRESS_FILE).write_text(f"127.0.0.1:{port}\n")
        assert cluster.running_ray_address() == f"127.0.0.1:{port}"
    # the file outlived its Ray (stopped without `ray stop`): nothing answers there any more
    assert cluster.running_ray_address() is None
    (tmp_path / "ray" / cluster.RAY_ADDRESS_FILE).write_text("garbage")
    assert cluster.running_ray_address() is None


def test_local_relative_paths_become_absolute_unless_sent_to_a_cluster(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    cfg = RunConfig(input=["data/a.sgy", "s3://bucket/b.sgy"], output="res", processing=NOISELOG)
    run = Run(cfg, progress=False)
    assert run.config.input == [str(tmp_path / "data" / "a.sgy"), "s3://bucket/b.sgy"]
    assert run.config.output == str(tmp_path / "res")
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")  # ray job submit: the job's working dir holds them
    assert Run(cfg, progress=False).config.output == "res"
