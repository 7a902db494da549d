"""``raydas up`` / ``raydas down``: a Ray of raydas's own that keeps running on
this machine, so that ``raydas run`` attaches to it instead of starting and
stopping a private Ray every time (seconds each), and finds warm processor
actors there (their imports done).

``up`` starts ``ray start --head --block`` on loopback in a process group of
its own, with raydas's settings (objects freed every
:data:`~raydas.runtime.cluster.FREE_OBJECTS_PERIOD_MS` ms), then leaves named,
detached processor actors in the ``raydas`` namespace and writes a small
record (:data:`UP_RECORD`, in Ray's temp folder) of what it started. ``down``
stops exactly that process group, and nothing else: a Ray started with ``ray
start`` by hand is stopped with ``ray stop``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

from ..config import RayOptions
from ..errors import RaydasError
from . import cluster
from .actors import start_warm_actors

#: what ``raydas up`` started, in Ray's temp folder (:func:`raydas.runtime.cluster.ray_temp_dir`)
UP_RECORD = "raydas-up.json"
#: seconds ``up`` waits for Ray to answer, and ``down`` for it to stop before it is killed
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class LocalRay:
    """A Ray that ``raydas up`` started.

    Attributes
    ----------
    pid
        The ``ray start --block`` process, leader of the process group holding the whole Ray.
    address
        Its GCS address (``host:port``).
    log
        Where ``ray start`` writes its output.
    device
        ``"cpu"`` or ``"gpu"``: the warm processor actors' device.
    actors
        How many warm processor actors it holds.
    """

    pid: int
    address: str
    log: str
    device: str = "cpu"
    actors: int = 0

    def describe(self) -> str:
        return (
            f"Ray running at {self.address} with {self.actors} warm {self.device} processor actor(s); "
            "`raydas run` attaches to it, `raydas down` stops it"
        )


def _record_path() -> str:
    return os.path.join(cluster.ray_temp_dir(), UP_RECORD)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def up(num_cpus: int | None = None, num_actors: int | None = None, device: str = "auto", port: int = 0) -> LocalRay:
    """Start a Ray of raydas's own on this machine with warm processor actors.

    Parameters
    ----------
    num_cpus
        CPUs it offers (default: all).
    num_actors
        Warm processor actors (default: one per CPU, or per GPU).
    device
        ``"auto"``, ``"cpu"`` or ``"gpu"``: the warm actors' device.
    port
        Its GCS port (0: any free one).

    Raises
    ------
    RaydasError
        When a Ray is already running here, or this one does not come up.
    """
    import ray

    running = cluster.running_ray_address()
    if running:
        raise RaydasError(
            f"a Ray is already running on this machine at {running}; `raydas run` attaches to it "
            "(`raydas down` stops one that `raydas up` started, `ray stop` one that `ray start` did)"
        )
    os.makedirs(cluster.ray_temp_dir(), exist_ok=True)
    log_path = os.path.join(cluster.ray_temp_dir(), "raydas-up.log")
    command = [
        sys.executable,
        "-m",
        "ray.scripts.scripts",
        "start",
        "--head",
        "--block",
        "--node-ip-address=127.0.0.1",
        f"--port={port}",
        "--include-dashboard=false",
        "--disable-usage-stats",
        f"--ray-client-server-port={_free_port()}",
        f"--dashboard-agent-listen-port={_free_port()}",
        "--system-config=" + json.dumps({"free_objects_period_milliseconds": cluster.FREE_OBJECTS_PERIOD_MS}),
    ]
    if num_cpus is not None:
        command.append(f"--num-cpus={num_cpus}")
    # SIGTERM (raydas down) stops it at once: nothing on a laptop's Ray needs draining first
    env = dict(os.environ, RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S="0")
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    address = None
    while address is None:
        if proc.poll() is not None:
            raise RaydasError(f"`ray start` exited with {proc.returncode}: {_tail(log_path)}")
        if time.monotonic() > deadline:
            _stop_group(proc.pid)
            raise RaydasError(f"Ray did not come up in {START_TIMEOUT_S:.0f} s: {_tail(log_path)}")
        time.sleep(0.2)
        address = cluster.running_ray_address()
    started = LocalRay(pid=proc.pid, address=address, log=log_path)
    _write_record(started)
    try:
        cluster.attach(address)
        chosen = cluster.choose_device(device)
        layout = cluster.actor_layout(RayOptions(num_actors=num_actors), chosen)
        actors = start_warm_actors(layout, chosen)
    except BaseException as exc:
        down()
        if isinstance(exc, RaydasError) or not isinstance(exc, Exception):
            raise
        raise RaydasError(f"Ray started, but its warm processor actors did not ({type(exc).__name__}: {exc})") from exc
    finally:
        ray.shutdown()
    started = LocalRay(pid=proc.pid, address=address, log=log_path, device=chosen, actors=len(actors))
    _write_record(started)
    return started


def down() -> str:
    """Stop the Ray that ``raydas up`` started (its whole process group); says what it did.

    Raises
    ------
    RaydasError
        When the Ray running here was not started by ``raydas up`` (``ray stop`` stops that one).
    """
    record = _read_record()
    if record is None:
        running = cluster.running_ray_address()
        if running:
            raise RaydasError(
                f"the Ray running at {running} was not started by `raydas up`; stop it with `ray stop` "
                "(which stops every Ray of this user on the machine)"
            )
        return "no Ray started by `raydas up` is running"
    if _is_ray_start(record.pid):
        os.kill(record.pid, signal.SIGTERM)  # `ray start --block` stops its Ray on SIGTERM
    _stop_group(record.pid)
    os.remove(_record_path())
    address_file = os.path.join(cluster.ray_temp_dir(), cluster.RAY_ADDRESS_FILE)
    try:
        with open(address_file) as fh:
            if fh.read().strip() == record.address:
                os.remove(address_file)
    except OSError:
        pass
    return f"stopped the Ray at {record.address} that `raydas up` started"


def _stop_group(pgid: int) -> None:
    """Wait for the process group ``pgid`` to end; kill what is left of it after :data:`STOP_TIMEOUT_S`."""
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _is_ray_start(pid: int) -> bool:
    """True when ``pid`` is still a ``ray start --block`` process (not a reused pid)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            args = fh.read().split(b"\0")
    except OSError:
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True  # no /proc (macOS): trust the record
    return b"start" in args and b"--block" in args


def _write_record(local: LocalRay) -> None:
    with open(_record_path(), "w") as fh:
        json.dump(asdict(local), fh)


def _read_record() -> LocalRay | None:
    try:
        with open(_record_path()) as fh:
            return LocalRay(**json.load(fh))
    except (OSError, ValueError, TypeError):
        return None


def _tail(path: str, chars: int = 2000) -> str:
    try:
        with open(path) as fh:
            return fh.read()[-chars:]
    except OSError:
        return "(no log)"
