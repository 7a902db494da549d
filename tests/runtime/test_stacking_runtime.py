"""Reducing graphs on the real local Ray: stacks over every chunk of a run, checkpoints,
an actor and the driver killed mid-stack, reruns. Every stack is checked against a
cross-correlation written plainly here, and every chunk must be counted exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import raydas
from raydas import formats
from raydas.config import RunConfig
from raydas.manifest import read_manifest
from raydas.runtime.cost import size_text
from raydas.runtime.run import Run

RATE = 250.0
CHANNELS = 6
MAX_LAG = 8  # samples


def _url(seconds: int) -> str:
    return f"synthetic://?seconds={seconds}&rate={RATE:g}&channels={CHANNELS}&seed=3"


def _processing(method: str = "linear", every: int = 4) -> dict:
    return {
        "command_list": [
            {"name": "xcorr", "uid": 1, "in_uid": 0, "sources": [0], "max_lag_seconds": MAX_LAG / RATE},
            {"name": "stack_chunks", "uid": 2, "in_uid": 1, "method": method, "checkpoint_every_chunks": every},
            {"name": "write_npy", "uid": 3, "in_uid": 2, "directory_out": "stack"},
        ]
    }


def _config(out, seconds: int, chunk_seconds: float = 1.0, **processing) -> RunConfig:
    return RunConfig.model_validate(
        {
            "input": _url(seconds),
            "output": str(out),
            "processing": _processing(**processing),
            "chunk_seconds": chunk_seconds,
            "ray": {"num_actors": 2},
        }
    )


def _expected_stack(seconds: int, chunk_seconds: float = 1.0) -> np.ndarray:
    """The mean over chunks of sum_t s(t) r(t + tau) / n, written plainly with np.correlate."""
    (record,) = formats.scan(_url(seconds))[0]
    data = formats.read_samples(record, 0, record.n_samples).astype(np.float64)
    n = int(round(chunk_seconds * RATE))
    stacks = []
    for start in range(0, record.n_samples, n):
        chunk = data[:, start : start + n]
        m = chunk.shape[1]
        rows = [
            np.correlate(chunk[r], chunk[0], mode="full")[m - 1 - MAX_LAG : m + MAX_LAG] / m for r in range(CHANNELS)
        ]
        stacks.append(np.array(rows))
    return np.mean(stacks, axis=0)


def _provenance(out) -> dict:
    return json.loads((out / "raydas-reduce" / "stacks" / "2" / "all.json").read_text())


def _exactly_once(out, chunks: int) -> None:
    document = _provenance(out)
    ids = [c["output_id"] for c in document["chunks"]]
    assert len(ids) == len(set(ids)) == chunks == document["count"]
    assert document["complete"] is True


def test_a_stack_over_every_chunk_of_a_run_is_the_mean_of_their_correlations(ray_session, tmp_path):
    out = tmp_path / "res"
    report = raydas.run(_config(out, 12), progress=False)
    assert report.chunks_done == 12 and report.ok
    np.testing.assert_allclose(np.load(out / "stack" / "all.npy"), _expected_stack(12), rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(np.load(out / "stack" / "time.npy"), np.arange(-MAX_LAG, MAX_LAG + 1) / RATE)
    _exactly_once(out, 12)
    assert report.stacks[0]["chunks"] == 12 and report.stack_checkpoints >= 2
    # the plan counted the stack's files: the stack (6 x 17 float32) and its axis and coordinate files
    on_disk = sum((out / f).stat().st_size for f in report.stacks[0]["files"])
    assert f"~{size_text(on_disk)} " in report.plan, report.plan
    assert "stack_chunks uid 2: 1 linear stack(s) of 12 chunk(s)" in report.summary()
    # every file the summary counts is on disk, and the results manifest has the stack's provenance
    written = [f for s in report.stacks for f in s["files"]]
    assert report.outputs_written == len(written) and all((out / f).exists() for f in written)
    table = read_manifest(str(out)).to_pandas()
    row = table[table["path"] == "stack/all.npy"].iloc[0]
    assert row["output_id"] == "all" and row["samples"] == 12 * RATE
    # the checkpoints were merged into one segment
    (folder,) = (out / "raydas-reduce").glob("*/segments")
    assert len(list(folder.iterdir())) == 1


def test_a_rerun_reuses_the_checkpoints_and_a_changed_graph_does_not(ray_session, tmp_path):
    out = tmp_path / "res"
    raydas.run(_config(out, 8), progress=False)
    first = (out / "stack" / "all.npy").read_bytes()
    again = raydas.run(_config(out, 8), progress=False)
    assert again.chunks_skipped == 8 and again.chunks_done == 0
    assert (out / "stack" / "all.npy").read_bytes() == first  # made again from the checkpoint, the same bytes
    _exactly_once(out, 8)
    changed = raydas.run(_config(out, 8, method="pws"), progress=False)
    assert changed.chunks_skipped == 0 and changed.chunks_done == 8  # another graph: its own checkpoints
    assert (out / "stack" / "all.npy").read_bytes() != first


def test_an_actor_killed_mid_stack_loses_no_chunk_and_counts_none_twice(ray_session, tmp_path):

    out = tmp_path / "res"
    killed = []

    def kill_an_actor(plan, outcome, failure):
        keeper = run.stacks.keeper
        writing = {a for a, _, _ in keeper.pending.values()}
        holding = [a for a, live in keeper.live.items() if live and a not in writing]
        if not killed and plan.index >= 4 and holding:
            # chunks lie only in this actor's memory (others, maybe, in its checkpoints), and it is writing none
            killed.append(len(keeper.live[holding[0]]))
            os.kill(run.driver.pool.info[holding[0]]["pid"], signal.SIGKILL)  # dead now: it writes nothing more

    run = Run(_config(out, 16, every=3), progress=False, on_result=kill_an_actor, sample_memory=False)
    report = run.execute()
    assert killed and report.ok and report.chunks_done == 16
    assert report.chunks_restacked >= killed[0] >= 1
    np.testing.assert_allclose(np.load(out / "stack" / "all.npy"), _expected_stack(16), rtol=2e-5, atol=1e-7)
    _exactly_once(out, 16)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="kills the driver's process group")
def test_a_driver_killed_mid_stack_resumes_from_its_checkpoints(ray_session, tmp_path):
    out = tmp_path / "res"
    config = _config(out, 60, chunk_seconds=0.4, every=6)
    path = tmp_path / "run.json"
    path.write_text(config.model_dump_json())
    proc = subprocess.Popen(
        [sys.executable, "-m", "raydas", "run", str(path), "--no-progress", "--num-cpus", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            segments = list((out / "raydas-reduce").glob("*/segments/*.npz"))
            if len(segments) >= 3:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed: " + proc.stderr.read().decode()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # its private Ray
        except ProcessLookupError:
            pass
    assert not (out / "stack" / "all.npy").exists()
    report = raydas.run(config, progress=False)
    assert report.ok and report.chunks_total == 150
    assert report.chunks_skipped >= 12  # the chunks of the segments written before the kill
    assert report.chunks_done == 150 - report.chunks_skipped
    np.testing.assert_allclose(
        np.load(out / "stack" / "all.npy"), _expected_stack(60, chunk_seconds=0.4), rtol=2e-5, atol=1e-7
    )
    _exactly_once(out, 150)


def test_watch_refuses_a_reducing_graph_with_the_reason(ray_session, tmp_path):
    from raydas.errors import ConfigError
    from raydas.runtime.watch import watch

    with pytest.raises(ConfigError, match="stack_chunks"):
        watch(str(tmp_path), _config(tmp_path / "res", 4), progress=False, idle_exit=1)


def test_stacks_per_day_and_over_the_whole_run_from_files_of_two_days(ray_session, tmp_path):
    """Files of two UTC days: one stack per day and one of all, each the mean of the
    correlations of its own chunks (computed here from the arrays written)."""
    import datetime as dt

    rng = np.random.default_rng(21)
    rate, seconds = 200.0, 2
    starts = ["2024-03-01T10:00:00", "2024-03-01T10:00:02", "2024-03-01T23:59:58", "2024-03-02T12:00:00"]
    per_day: dict[str, list[np.ndarray]] = {}
    folder = tmp_path / "data"
    folder.mkdir()
    for i, start in enumerate(starts):
        when = dt.datetime.fromisoformat(start).replace(tzinfo=dt.UTC)
        data = rng.normal(size=(CHANNELS, int(seconds * rate))).astype(np.float32)
        chunk = raydas.Chunk(data, int(when.timestamp()) * 10**9, 1 / rate, np.arange(CHANNELS) * 2.0)
        formats.write(chunk, str(folder / f"part{i}.sgy"))
        for c in range(seconds):  # 1-s chunks; the one starting 23:59:59 is of the first day
            piece = data[:, int(c * rate) : int((c + 1) * rate)].astype(np.float64)
            m = piece.shape[1]
            lag = 4
            rows = [np.correlate(piece[r], piece[0], mode="full")[m - 1 - lag : m + lag] / m for r in range(CHANNELS)]
            per_day.setdefault(start[:10], []).append(np.array(rows))
    processing = {
        "command_list": [
            {"name": "xcorr", "uid": 1, "in_uid": 0, "sources": [0], "max_lag_seconds": 4 / rate},
            {"name": "stack_chunks", "uid": 2, "in_uid": 1, "group": "day", "checkpoint_every_chunks": 3},
            {"name": "write_npy", "uid": 3, "in_uid": 2, "directory_out": "daily"},
            {"name": "stack_chunks", "uid": 4, "in_uid": 1, "group": "all"},
            {"name": "write_npy", "uid": 5, "in_uid": 4, "directory_out": "total"},
        ]
    }
    out = tmp_path / "res"
    config = RunConfig.model_validate(
        {"input": str(folder / "*.sgy"), "output": str(out), "processing": processing, "chunk_seconds": 1.0}
    )
    report = raydas.run(config, progress=False)
    assert report.ok and report.chunks_done == 8
    assert sorted(p.name for p in (out / "daily").glob("2024-*.npy")) == ["2024-03-01.npy", "2024-03-02.npy"]
    for day, items in per_day.items():
        np.testing.assert_allclose(np.load(out / "daily" / f"{day}.npy"), np.mean(items, axis=0), rtol=2e-5, atol=1e-7)
    everything = [a for items in per_day.values() for a in items]
    np.testing.assert_allclose(np.load(out / "total" / "all.npy"), np.mean(everything, axis=0), rtol=2e-5, atol=1e-7)
    day_one = json.loads((out / "raydas-reduce" / "stacks" / "2" / "2024-03-01.json").read_text())
    assert day_one["count"] == 6 and day_one["end"].startswith("2024-03-02T00:00:00")
    assert {s["label"]: s["chunks"] for s in report.stacks if s["uid"] == 2} == {"2024-03-01": 6, "2024-03-02": 2}
    # the summary counts each file once: the axis and coordinate files are written by one stack of each reducer
    on_disk = [p for folder in ("daily", "total") for p in (out / folder).iterdir()]
    assert report.outputs_written == len(on_disk) == len({f for s in report.stacks for f in s["files"]})


@pytest.mark.slow
def test_checkpoints_and_stacks_go_through_fsspec_to_an_object_store(s3_server, s3_bucket, tmp_path):
    """Results root on S3 (the moto server), ``raydas run`` on a private Ray whose actors
    have the credentials in their environment: they write their checkpoint segments
    there and the merge reads them back (reruns adopting them: the local rerun test)."""
    import tempfile

    import s3fs

    out = f"{s3_bucket}/results"
    path = tmp_path / "run.json"
    path.write_text(_config(out, 8, every=3).model_dump_json())
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
    env["RAY_TMPDIR"] = tempfile.mkdtemp(prefix="rdstk")  # short: Ray's socket paths must stay under 107 bytes
    command = [sys.executable, "-m", "raydas", "run", str(path), "--no-progress", "--address", "local"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "stack_chunks uid 2: 1 linear stack(s) of 8 chunk(s)" in done.stdout + done.stderr
    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_server})
    with fs.open(f"{out}/stack/all.npy", "rb") as fh:
        np.testing.assert_allclose(np.load(fh), _expected_stack(8), rtol=2e-5, atol=1e-7)
    (segment,) = fs.glob(f"{out}/raydas-reduce/*/segments/*.npz")
    assert segment.endswith("-merged.npz")


def test_an_actor_that_drops_the_runs_setup_mid_stack_loses_no_chunk(ray_session, tmp_path):
    """A warm actor keeps the last few setups: other runs' setups push this run's out, and its
    partial stacks with it. The driver finds out (the actor says it holds no such setup, or a
    checkpoint lacks chunks it stacked) and sends those chunks again."""
    import ray

    from raydas.runtime.actors import Processor, ProcessorSetup

    out = tmp_path / "res"
    pushed = []

    def push_the_setup_out(plan, outcome, failure):
        if not pushed and plan.index == 6:
            actor = run.driver.pool.actors[0]
            others = [
                ProcessorSetup(_processing(), None, str(tmp_path / f"o{i}")) for i in range(Processor.KEEP_SETUPS)
            ]
            ray.get([actor.prepare.remote(s) for s in others])
            pushed.append(actor)

    run = Run(_config(out, 16, every=50), progress=False, on_result=push_the_setup_out, sample_memory=False)
    report = run.execute()
    assert pushed and report.ok and report.chunks_done == 16
    assert report.chunks_restacked >= 1
    np.testing.assert_allclose(np.load(out / "stack" / "all.npy"), _expected_stack(16), rtol=2e-5, atol=1e-7)
    _exactly_once(out, 16)
