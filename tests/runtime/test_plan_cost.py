"""A plan states its cost before it starts and is refused, before any work, when
it cannot fit: outputs over a limit (default: the results root's free space
less 5%), a chunk and its halo over a processor actor's memory (a window of
1e9 samples made every chunk carry the whole recording), an output path longer
than its store allows, a results root that cannot be written (a probe write;
a missing bucket on the moto S3 server is not created).

Before, none of this was checked: such runs computed every chunk and failed
on writing, or filled the disk and the memory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from helpers import REPO

from raydas.config import RunConfig
from raydas.errors import PlanRefused
from raydas.runtime import Run, run
from raydas.runtime import cost as plan_cost

NOISELOG = os.path.join(REPO, "configs/demo-noiselog.json")
NPY = {"command_list": [{"name": "write_npy", "uid": 1, "in_uid": 0, "directory_out": "raw"}]}


def _window(name: str, **params) -> dict:
    return {
        "command_list": [
            {"name": name, "uid": 1, "in_uid": 0, **params},
            {"name": "write_npy", "uid": 2, "in_uid": 1, "directory_out": "out"},
        ]
    }


def _planned(config: RunConfig) -> tuple[Run, list]:
    runner = Run(config, progress=False)
    todo, _ = runner.split_done(runner.plan(runner.scan()))
    return runner, todo


def files_under(folder) -> list[str]:
    return [os.path.join(d, f) for d, _, names in os.walk(folder) for f in names]


def test_the_plan_states_its_cost_and_the_estimate_matches_what_is_written(ray_session, demo_files, tmp_path):
    config = RunConfig(input=demo_files, output=str(tmp_path / "res"), processing=NPY, quicklook=False)
    runner, todo = _planned(config)
    estimate = runner.preflight(todo)
    assert estimate.chunks == 12 and estimate.input_bytes == 4 * 40 * 12_000  # 40 channels, 12 s at 1 kHz
    assert estimate.chunk_bytes == 4 * 40 * 1000 and estimate.actor_bytes == plan_cost.WORKING_COPIES * 4 * 40 * 1000
    assert files_under(tmp_path / "res") == []  # the probe write left nothing
    report = run(config, progress=False)
    written = sum(os.path.getsize(f) for f in files_under(tmp_path / "res"))
    assert written <= estimate.output_bytes <= 1.1 * written  # the shared axis files are counted per chunk
    assert report.plan == estimate.line() and "12 chunk(s)" in report.plan and "plan:" in report.summary()


def test_a_plan_over_its_output_limit_is_refused_before_any_work(demo_files, tmp_path):
    config = RunConfig(
        input=demo_files, output=str(tmp_path / "res"), processing=NPY, limits={"output_bytes": "100 kB"}
    )
    with pytest.raises(PlanRefused) as err:
        Run(config, progress=False).execute()
    assert "would write about 2.0 MB, more than the 100.0 kB allowed (limits.output_bytes)" in str(err.value)
    assert "nothing was computed" in str(err.value)
    assert files_under(tmp_path / "res") == []


def test_the_default_output_limit_is_the_free_space_less_a_margin(demo_files, tmp_path):
    runner, todo = _planned(RunConfig(input=demo_files, output=str(tmp_path / "res"), processing=NPY))
    estimate = plan_cost.estimate(todo)
    limited = plan_cost.limits(estimate, runner.config, runner.config.output)
    free = shutil.disk_usage(tmp_path).free
    assert limited.output_limit == pytest.approx(0.95 * free, rel=0.01)
    assert "free space of" in limited.limit_sources["output"]


def test_cli_max_output_bytes_refuses_and_is_validated(demo_files, tmp_path):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"input": demo_files, "output": str(tmp_path / "res"), "processing": NPY}))
    base = [sys.executable, "-m", "raydas", "run", str(config), "--no-progress"]
    refused = subprocess.run(base + ["--max-output-bytes", "1kB"], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "more than the 1.0 kB allowed" in refused.stderr
    assert "Traceback" not in refused.stderr and files_under(tmp_path / "res") == []
    wrong = subprocess.run(base + ["--max-output-bytes", "lots"], capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 2 and "--max-output-bytes" in wrong.stderr and "not a size" in wrong.stderr


@pytest.mark.parametrize(
    "processing,culprit",
    [
        (
            _window("running_mean", window_length=1e9, axis=1),
            "$.command_list[0] (running_mean) asks for a halo of 500000000",
        ),
        (_window("sta_lta", sta=10, lta=1e9), "$.command_list[0] (sta_lta) asks for a halo of 500000001"),
    ],
)
def test_a_window_longer_than_the_recording_is_refused(demo_files, tmp_path, processing, culprit):
    config = RunConfig(input=demo_files, output=str(tmp_path / "res"), processing=processing)
    with pytest.raises(PlanRefused) as err:
        Run(config, progress=False).execute()
    message = str(err.value)
    assert culprit in message and "longer than the recording it runs on (12000 samples, 12 s at 1000 Hz)" in message
    assert files_under(tmp_path / "res") == []


def test_a_halo_that_makes_every_chunk_the_whole_recording_is_refused_over_the_actor_memory(demo_files, tmp_path):
    processing = _window("running_mean", window_length=20001, axis=1)  # a 20-s window over a 12-s recording
    limits = {"actor_memory_bytes": "2 MB"}
    config = RunConfig(input=demo_files, output=str(tmp_path / "res"), processing=processing, limits=limits)
    with pytest.raises(PlanRefused) as err:
        Run(config, progress=False).execute()
    message = str(err.value)
    assert "a chunk of 40 channels x 12000 samples (1000 of its own" in message  # bounded by the recording
    assert "1.9 MB of float32, about 11.5 MB in a processor actor, more than the 2.0 MB" in message
    assert "$.command_list[0] (running_mean) asks for a halo of 10000 samples (10 s)" in message
    assert "the whole recording" in message and files_under(tmp_path / "res") == []


def test_chunks_too_long_for_an_actor_name_chunk_seconds(demo_files, tmp_path):
    limits = {"actor_memory_bytes": "1 MB"}
    config = RunConfig(input=demo_files, output=str(tmp_path / "res"), processing=NPY, chunk_seconds=10, limits=limits)
    with pytest.raises(PlanRefused, match=r"\$\.chunk_seconds makes the chunks this long"):
        Run(config, progress=False).execute()


def test_a_window_within_the_limits_still_runs_the_plan(demo_files, tmp_path):
    runner, todo = _planned(
        RunConfig(
            input=demo_files, output=str(tmp_path / "res"), processing=_window("running_mean", window_length=51, axis=1)
        )
    )
    estimate = runner.preflight(todo)
    assert estimate.chunk_bytes == 4 * 40 * (1000 + 2 * 25)


def test_an_output_name_too_long_for_the_file_system_is_refused_at_planning(demo_files, tmp_path):
    processing = {"command_list": [{"name": "write_npy", "uid": 1, "in_uid": 0, "directory_out": "d" * 250}]}
    with pytest.raises(PlanRefused, match=r"output name 'd{250}' is 250 bytes long.*allows 2\d\d"):
        Run(RunConfig(input=demo_files, output=str(tmp_path / "res"), processing=processing), progress=False).execute()
    deep = tmp_path / "/".join(["p" * 200] * 21)  # a path longer than PATH_MAX
    with pytest.raises(PlanRefused, match=r"output path .* bytes long; the file system allows"):
        Run(RunConfig(input=demo_files, output=str(deep), processing=NPY), progress=False).execute()


def test_a_results_root_that_cannot_be_written_is_found_before_any_work(demo_files, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the results folder should be")
    config = RunConfig(input=demo_files, output=str(blocker / "res"), processing=NOISELOG)
    with pytest.raises(PlanRefused, match=r"results root .*blocker/res cannot be written \((NotADirectory|FileExists)"):
        Run(config, progress=False).execute()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_results_root_is_found_before_any_work(demo_files, tmp_path):
    root = tmp_path / "res"
    root.mkdir()
    root.chmod(0o555)
    try:
        with pytest.raises(PlanRefused, match=r"cannot be written \(PermissionError"):
            Run(RunConfig(input=demo_files, output=str(root), processing=NOISELOG), progress=False).execute()
    finally:
        root.chmod(0o755)


def test_a_missing_bucket_is_found_before_any_work_and_not_created(demo_files, s3_bucket):
    import s3fs

    config = RunConfig(input=demo_files, output="s3://raydas-no-such-bucket/results", processing=NOISELOG)
    with pytest.raises(PlanRefused, match=r"bucket 'raydas-no-such-bucket', which does not exist"):
        Run(config, progress=False).execute()
    s3fs.S3FileSystem.clear_instance_cache()
    assert not s3fs.S3FileSystem().exists("raydas-no-such-bucket")
    Run(RunConfig(input=demo_files, output=f"{s3_bucket}/results", processing=NOISELOG), progress=False).preflight(
        _planned(RunConfig(input=demo_files, output=f"{s3_bucket}/results", processing=NOISELOG))[1]
    )  # an existing bucket passes


def test_a_window_wider_than_the_channels_is_refused(demo_files, tmp_path):
    processing = _window("running_mean", window_length=1e9, axis=0)  # across channels: no halo, a huge buffer
    with pytest.raises(PlanRefused, match=r"\$\.command_list\[0\] \(running_mean\) slides a window of 1000000000 "):
        Run(RunConfig(input=demo_files, output=str(tmp_path / "res"), processing=processing), progress=False).execute()
    assert files_under(tmp_path / "res") == []
