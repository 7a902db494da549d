"""A `ray start --head --block` cluster of a test's own, on loopback, with its own
ports, temp dir and token (tests/runtime/test_job_submit.py, test_attach.py).

It does not meet the session's in-process Ray (tests/conftest.py) or anybody
else's Ray on the machine, and is stopped by terminating the `ray start
--block` process it came from, never with `ray stop` (which stops every Ray
on the machine).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BIN = os.path.dirname(sys.executable)
RAY = os.path.join(BIN, "ray")


def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def pids_using(marker: str) -> list[int]:
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


def pids_with_env(name: str, value: str) -> list[int]:
    """Processes whose environment holds ``name=value`` (e.g. this test's own RAY_TMPDIR):
    also Ray's workers, whose command lines are renamed (``ray::Processor``)."""
    marker = f"{name}={value}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if marker in fh.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


class HeadNode:
    """A `ray start --head --block` cluster of this test's own, with the dashboard on loopback.

    ``temp_dir``: Ray's temp dir for it (default: a new one); where it leaves
    its address file (``ray_current_cluster``) for drivers that look for a
    running Ray (``$RAY_TMPDIR/ray``).
    """

    def __init__(self, env: dict, temp_dir: str | None = None):
        self.env = env
        # short: Ray's socket paths must stay under 107 bytes
        self.temp_dir = temp_dir or tempfile.mkdtemp(prefix="rjs")
        os.makedirs(self.temp_dir, exist_ok=True)
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
        ) = free_ports(9)
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

    def wait_address_file(self, timeout: float = 60.0) -> str:
        """Until `ray start` has left its address (``ray_current_cluster``) in the temp dir,
        as it does just before it blocks; returns the address."""
        path = os.path.join(self.temp_dir, "ray_current_cluster")
        deadline = time.monotonic() + timeout
        while not os.path.exists(path):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"`ray start` left no address file in {timeout:.0f} s: {self.startup_log()}")
            time.sleep(0.2)
        with open(path) as fh:
            return fh.read().strip()

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
        while pids_using(self.temp_dir) and time.monotonic() < deadline:
            time.sleep(0.5)
        for pid in pids_using(self.temp_dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()
        shutil.rmtree(self.temp_dir, ignore_errors=True)
