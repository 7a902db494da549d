"""`ray job submit` as an operator runs it: a real `ray start --head` cluster on
loopback with the dashboard (job server) and token authentication, a job that
runs `python -m raydas run <config>` from a shipped working dir, and the
cluster stopped again, whatever happens.

The cluster gets its own ports, temp dir and token file, so it does not meet
the session's in-process Ray (tests/conftest.py) or anybody else's Ray on the
machine. It is stopped by terminating the `ray start --block` process it came
from, never with `ray stop` (which stops every Ray on the machine).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import segyio
from helpers import REPO

from raydas.formats.witsml import parse_fbe

BIN = os.path.dirname(sys.executable)
RAY = os.path.join(BIN, "ray")


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _pids_using(marker: str) -> list[int]:
    """Processes whose command line names ``marker`` (this test's own temp dir)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                if marker.encode() in fh.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


class HeadNode:
    """A `ray start --head --block` cluster of this test's own, with the dashboard on loopback."""

    def __init__(self, env: dict):
        self.env = env
        self.temp_dir = tempfile.mkdtemp(prefix="rjs")  # short: Ray's socket paths must stay under 107 bytes
        (
            self.gcs,
            self.dashboard,
            self.client,
            self.agent_http,
            self.agent_grpc,
            self.metrics,
            self.runtime_env,
            self.node_manager,
            self.object_manager,
        ) = _free_ports(9)
        self.address = f"http://127.0.0.1:{self.dashboard}"
        self.log = open(os.path.join(self.temp_dir, "ray-start.log"), "w")
        self.proc = subprocess.Popen(
            [
                RAY,
                "start",
                "--head",
                "--block",
                "--node-ip-address=127.0.0.1",
                f"--port={self.gcs}",
                "--num-cpus=2",
                "--num-gpus=0",
                "--object-store-memory=300000000",
                f"--temp-dir={self.temp_dir}",
                "--include-dashboard=true",
                "--dashboard-host=127.0.0.1",
                f"--dashboard-port={self.dashboard}",
                f"--ray-client-server-port={self.client}",
                f"--dashboard-agent-listen-port={self.agent_http}",
                f"--dashboard-agent-grpc-port={self.agent_grpc}",
                f"--metrics-export-port={self.metrics}",
                f"--runtime-env-agent-port={self.runtime_env}",
                f"--node-manager-port={self.node_manager}",
                f"--object-manager-port={self.object_manager}",
                "--disable-usage-stats",
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Until the job server answers on the dashboard port (any HTTP status will do)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ray start exited with {self.proc.returncode}: {self.startup_log()}")
            try:
                urllib.request.urlopen(f"{self.address}/api/version", timeout=2)
                return
            except urllib.error.HTTPError:
                return  # answered, e.g. 401 without a token
            except OSError:
                time.sleep(1.0)
        raise RuntimeError(f"the dashboard did not come up in {timeout:.0f} s: {self.startup_log()}")

    def startup_log(self) -> str:
        self.log.flush()
        with open(self.log.name) as fh:
            return fh.read()[-3000:]

    def cli(self, *args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([RAY, *args], env=env or self.env, capture_output=True, text=True, timeout=timeout)

    def stop(self) -> None:
        """Terminate the `ray start --block` process (its reaper stops the rest), then
        kill whatever of this cluster is left, found by its temp dir, by pid."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        deadline = time.monotonic() + 20
        while _pids_using(self.temp_dir) and time.monotonic() < deadline:
            time.sleep(0.5)
        for pid in _pids_using(self.temp_dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


@pytest.mark.slow
def test_ray_job_submit_runs_raydas_on_a_token_protected_cluster(demo_files, tmp_path):
    token_file = tmp_path / "auth_token"
    token_file.write_text(secrets.token_hex(32))
    token_file.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(
        {
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(token_file),
            "PATH": BIN + os.pathsep + env.get("PATH", ""),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
    )

    # the job's working dir: a run config, its processing graph and the data, with relative paths
    work = tmp_path / "job"
    (work / "data").mkdir(parents=True)
    shutil.copy(demo_files[0], work / "data")
    shutil.copy(os.path.join(REPO, "configs", "demo-noiselog.json"), work / "noiselog.json")
    results = tmp_path / "results"  # outside the working dir, so the test can read it afterwards
    (work / "job.json").write_text(
        json.dumps({"input": "data/*.sgy", "output": str(results), "processing": "noiselog.json", "quicklook": False})
    )

    head = HeadNode(env)
    try:
        head.wait_ready()
        wrong = {k: v for k, v in env.items() if k != "RAY_AUTH_TOKEN_PATH"}
        denied = head.cli(
            "job", "list", "--address", head.address, env=dict(wrong, RAY_AUTH_TOKEN="not-the-token"), timeout=120
        )
        said = (denied.stdout + denied.stderr).lower()
        assert denied.returncode != 0 and ("auth" in said or "401" in said or "unauthorized" in said), said[-2000:]
        job_id = f"raydas-test-{secrets.token_hex(4)}"
        submit = head.cli(
            "job",
            "submit",
            "--address",
            head.address,
            "--submission-id",
            job_id,
            "--working-dir",
            str(work),
            "--",
            "python",
            "-m",
            "raydas",
            "-v",
            "run",
            "job.json",
            "--no-progress",
        )
        logs = head.cli("job", "logs", "--address", head.address, job_id, timeout=120).stdout
        status = head.cli("job", "status", "--address", head.address, job_id, timeout=120).stdout
        why = f"{status}\n{submit.stdout[-3000:]}\n{submit.stderr[-3000:]}\n{logs[-3000:]}"
        assert f"job '{job_id}' succeeded" in status.lower(), why
        # the driver attached to this cluster through RAY_ADDRESS, not to a private Ray
        assert "Connecting to existing Ray cluster at address" in logs and f":{head.gcs}" in logs, logs[-3000:]
        assert "4 processed" in logs
    finally:
        head.stop()
    assert not _pids_using(head.temp_dir)

    files = sorted((results / "NoiseLog").glob("*.fbe"))
    assert len(files) == 4  # 4 s of data, 1-s chunks
    _, curves, depth, values = parse_fbe(files[1].read_bytes())
    with segyio.open(demo_files[0], ignore_geometry=True) as f:
        x = np.asarray(f.trace.raw[:], dtype=np.float64)[:, 1000:2000]  # second 1..2 at 1 kHz
    assert curves[0] == "band_0-nyquist"
    np.testing.assert_allclose(values[:, 0], np.sqrt(np.mean(x**2, axis=1)), rtol=1e-5)
    np.testing.assert_allclose(depth, 500.0 + 2.0 * np.arange(40))
