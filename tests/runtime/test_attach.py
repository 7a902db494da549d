"""`raydas run` attaches to a Ray already running on the machine instead of
starting its own: one started with `ray start --head`, or by `raydas up` (with
warm processor actors), which `raydas down` stops again.

Each test runs raydas in subprocesses (the session's in-process Ray is
another matter) with a Ray temp folder of its own (``RAY_TMPDIR``) and its own
token, so it never meets anybody else's Ray on the machine; whatever it
started is stopped by pid at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
import segyio
from helpers import REPO
from ray_head import BIN, HeadNode, pids_with_env

from raydas.formats.witsml import parse_fbe

ADDRESS_FILE = "ray_current_cluster"


def _env(base: str, token_file) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(
        {
            "RAY_TMPDIR": base,  # this test's own Ray temp folder: $RAY_TMPDIR/ray
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(token_file),
            "RAY_USAGE_STATS_ENABLED": "0",
            "PATH": BIN + os.pathsep + env.get("PATH", ""),
        }
    )
    return env


def _token(tmp_path):
    token_file = tmp_path / "auth_token"
    token_file.write_text(secrets.token_hex(32))
    token_file.chmod(0o600)
    return token_file


def raydas(*args, env: dict, cwd=None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "raydas", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )


def _job(tmp_path, demo_files, output: str) -> str:
    """A run config with relative paths (data, processing) in a folder of its own."""
    work = tmp_path / "job"
    if not work.exists():
        (work / "data").mkdir(parents=True)
        shutil.copy(demo_files[0], work / "data")
        shutil.copy(os.path.join(REPO, "configs", "demo-noiselog.json"), work / "noiselog.json")
    config = work / f"{output}.json"
    config.write_text(json.dumps({"input": "data/*.sgy", "output": output, "processing": "noiselog.json"}))
    return str(config)


def _sessions(base: str) -> list[str]:
    return sorted(n for n in os.listdir(os.path.join(base, "ray")) if n.startswith("session_2"))


def _check_noise_log(folder, demo_file) -> None:
    """4 s of data in 1-s chunks: four .fbe files in the recording's folder (named after its
    file); the second's RMS over 0-Nyquist from segyio's samples."""
    files = sorted((folder / os.path.basename(demo_file)).glob("*.fbe"))
    assert len(files) == 4
    _, curves, depth, values = parse_fbe(files[1].read_bytes())
    with segyio.open(demo_file, ignore_geometry=True) as f:
        x = np.asarray(f.trace.raw[:], dtype=np.float64)[:, 1000:2000]
    assert curves[0] == "band_0-nyquist"
    np.testing.assert_allclose(values[:, 0], np.sqrt(np.mean(x**2, axis=1)), rtol=1e-5)
    np.testing.assert_allclose(depth, 500.0 + 2.0 * np.arange(40))


def _kill_leftovers(base: str) -> None:
    for pid in pids_with_env("RAY_TMPDIR", base):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.slow
def test_run_attaches_to_a_ray_started_with_ray_start(demo_files, tmp_path):
    base = tempfile.mkdtemp(prefix="rat")  # short: Ray's socket paths must stay under 107 bytes
    env = _env(base, _token(tmp_path))
    config = _job(tmp_path, demo_files, "results")
    head = HeadNode(env, temp_dir=os.path.join(base, "ray"))
    try:
        head.wait_ready()
        assert head.wait_address_file().endswith(f":{head.gcs}")
        sessions = _sessions(base)
        done = raydas("run", config, "--no-progress", env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        said = [ln for ln in done.stderr.splitlines() if "attached" in ln]
        assert len(said) == 1 and f":{head.gcs}" in said[0], done.stderr[-3000:]  # one line says so
        assert "ray:       attached to the Ray already running on this machine at" in done.stdout
        assert "4 processed" in done.stdout
        assert _sessions(base) == sessions  # no Ray of its own was started beside it
        # raydas down stops only what raydas up started
        refused = raydas("down", env=env)
        assert refused.returncode == 2
        assert "not started by `raydas up`" in refused.stderr and "ray stop" in refused.stderr
        assert head.proc.poll() is None
    finally:
        head.stop()
        _kill_leftovers(base)
        shutil.rmtree(base, ignore_errors=True)
    _check_noise_log(tmp_path / "job" / "results" / "NoiseLog", demo_files[0])


@pytest.mark.slow
def test_raydas_up_leaves_warm_actors_that_runs_borrow_and_down_stops_it(demo_files, tmp_path):
    base = tempfile.mkdtemp(prefix="rup")
    env = _env(base, _token(tmp_path))
    try:
        up = raydas("up", "--num-cpus", "2", env=env, timeout=240)
        assert up.returncode == 0, up.stderr[-3000:]
        assert "2 warm cpu processor actor(s)" in up.stdout
        assert os.path.exists(os.path.join(base, "ray", ADDRESS_FILE))
        again = raydas("up", env=env)  # one is enough
        assert again.returncode == 2 and "already running" in again.stderr

        first = raydas("run", _job(tmp_path, demo_files, "first"), "--no-progress", env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        assert "raydas: attached to the Ray already running on this machine" in first.stderr
        assert "2 warm processor actor(s)" in first.stdout and "4 processed" in first.stdout
        assert len(_sessions(base)) == 1  # raydas up's Ray, and no other

        # the warm actors die: Ray restarts them, and the next run is still right
        warm = []
        for pid in pids_with_env("RAY_TMPDIR", base):
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if fh.read().startswith(b"ray::Processor"):
                    warm.append(pid)
        assert len(warm) == 2
        for pid in warm:
            os.kill(pid, signal.SIGKILL)
        second = raydas("run", _job(tmp_path, demo_files, "second"), "--no-progress", env=env)
        assert second.returncode == 0, second.stderr[-3000:]
        assert "4 processed" in second.stdout and "attached" in second.stdout

        down = raydas("down", env=env)
        assert down.returncode == 0 and "stopped the Ray" in down.stdout, down.stderr[-3000:]
        assert not os.path.exists(os.path.join(base, "ray", ADDRESS_FILE))
        deadline = time.monotonic() + 30
        while pids_with_env("RAY_TMPDIR", base) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not pids_with_env("RAY_TMPDIR", base)  # every process of that Ray is gone, workers included
        assert raydas("down", env=env).stdout.strip() == "raydas: no Ray started by `raydas up` is running"
    finally:
        if os.path.exists(os.path.join(base, "ray", "raydas-up.json")):
            raydas("down", env=env)
        _kill_leftovers(base)
        shutil.rmtree(base, ignore_errors=True)
    for name in ("first", "second"):
        _check_noise_log(tmp_path / "job" / name / "NoiseLog", demo_files[0])
