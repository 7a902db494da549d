"""Which Ray a run uses, and how its actors are laid out on it.

A run connects, in this order of preference, to:

1. the cluster at ``ray.address`` (``--address``) or ``RAY_ADDRESS`` (``ray job
   submit`` sets it);
2. the Ray already running on this machine, started by ``ray start --head`` or
   ``raydas up`` (found by the address file ``ray start`` leaves in Ray's temp
   folder, and checked to answer): attaching costs a fraction of a second where
   starting and stopping a private Ray costs seconds;
3. a private local Ray of its own (``address="local"``), stopped at the end.
   ``ray.address: "local"`` or ``ray.num_cpus`` (``--num-cpus``, the size of a
   private Ray) ask for this one even when a Ray is running. It dies with the
   process that started it, however that process dies: a reaper
   (:mod:`raydas.runtime.reaper`) kills what Ray would leave behind for a minute.

Devices: one GPU actor per GPU of the cluster (``num_gpus=1`` and an explicit
``num_cpus``), CPU actors where there is none ("auto" looks at
``ray.cluster_resources()``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

from ..config import RayOptions
from ..errors import RaydasError

log = logging.getLogger(__name__)

#: How often the raylets delete objects nobody references any more (ms). Ray's default (1000)
#: keeps every chunk finished in the last second in the object store on top of those in flight;
#: at 100 ms the store holds little more than the in-flight window. Set for the private local
#: Ray and for ``raydas up``'s; on a cluster start the nodes with RAY_free_objects_period_milliseconds=100.
FREE_OBJECTS_PERIOD_MS = 100
#: seconds to wait for processor actors to start (GPU nodes of an autoscaling cluster take minutes)
ACTOR_START_TIMEOUT_S = 900.0
#: the file in Ray's temp folder where ``ray start --head`` writes the address of the Ray it started
RAY_ADDRESS_FILE = "ray_current_cluster"


def ray_temp_dir() -> str:
    """Ray's temp folder on this machine, as Ray itself finds it: ``$RAY_TMPDIR/ray``,
    else ``$TMPDIR/ray`` on Linux, else ``/tmp/ray``."""
    if "RAY_TMPDIR" in os.environ:
        root = os.environ["RAY_TMPDIR"]
    elif sys.platform.startswith("linux") and "TMPDIR" in os.environ:
        root = os.environ["TMPDIR"]
    else:
        root = "/tmp"
    return os.path.join(root, "ray")


def running_ray_address(timeout: float = 1.0) -> str | None:
    """The address (``host:port``) of the Ray that ``ray start --head`` (or ``raydas up``)
    started on this machine, when it still answers; None when none runs.

    A private Ray (another process's ``ray.init()``) is never returned: it leaves
    no address file.
    """
    try:
        with open(os.path.join(ray_temp_dir(), RAY_ADDRESS_FILE)) as fh:
            address = fh.read().strip()
    except OSError:
        return None
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return None
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return address
    except OSError:  # the file outlived its Ray (stopped without `ray stop`)
        return None


@dataclass(frozen=True)
class Connection:
    """How this process is connected to Ray.

    Attributes
    ----------
    how
        ``"private"`` (a local Ray of its own), ``"attached"`` (the Ray running on
        this machine), ``"address"`` (the cluster at an address) or
        ``"existing"`` (this process was already connected).
    address
        The GCS address (``host:port``) or the address given.
    owned
        True when :func:`connect` initialised Ray here, so :meth:`close` disconnects
        (and, for a private Ray, stops it).
    """

    how: str
    address: str
    owned: bool
    reaper: subprocess.Popen | None = field(default=None, compare=False, repr=False)

    def describe(self) -> str:
        """One line saying which Ray the run uses."""
        return {
            "private": "a private local Ray",
            "attached": f"attached to the Ray already running on this machine at {self.address}",
            "address": f"the Ray cluster at {self.address}",
            "existing": "the Ray this process was already connected to",
        }[self.how]

    def close(self) -> None:
        """Disconnect when :func:`connect` connected (a private Ray stops with it)."""
        import ray

        if self.owned:
            ray.shutdown()
        if self.reaper is not None:
            stop_reaper(self.reaper)


def connect(options: RayOptions) -> Connection:
    """Connect this process to Ray as the module docstring says.

    Raises
    ------
    RaydasError
        When ``options.address`` is ``"auto"`` and no Ray runs on this machine.
    """
    import ray

    if ray.is_initialized():
        return Connection("existing", ray.get_runtime_context().gcs_address, owned=False)
    address = options.address or os.environ.get("RAY_ADDRESS")
    if address and address not in ("auto", "local"):
        ray.init(address=address, log_to_driver=True)
        return Connection("address", address, owned=True)
    running = None if address == "local" or options.num_cpus is not None else running_ray_address()
    if address == "auto" and running is None:
        raise RaydasError(
            "no Ray is running on this machine to attach to (--address auto): start one with `raydas up` "
            "(or `ray start --head`), or leave --address out for a private Ray"
        )
    if running:
        attach(running)
        return Connection("attached", running, owned=True)
    mark = uuid.uuid4().hex
    reaper = start_reaper(mark)  # first: whenever this process dies from now on, its Ray goes too
    try:
        with _marked(mark), quiet_ray_notice(TOKEN_NOTICE_LOGGER):
            ray.init(
                address="local",
                num_cpus=options.num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                _system_config={"free_objects_period_milliseconds": FREE_OBJECTS_PERIOD_MS},
            )
    except BaseException:
        stop_reaper(reaper)
        raise
    reaper.stdin.write(b"started\n")  # look now: the raylet's agents run (and rename themselves)
    reaper.stdin.flush()
    return Connection("private", ray.get_runtime_context().gcs_address, owned=True, reaper=reaper)


def start_reaper(mark: str) -> subprocess.Popen:
    """Start the reaper of the private Ray marked ``mark`` (:mod:`raydas.runtime.reaper`):
    it kills that Ray's processes once this process closes its pipe or dies. It runs in a
    session of its own, so that signals sent to this process's group leave it to do that."""
    from . import reaper

    return subprocess.Popen(
        [sys.executable, "-I", "-S", reaper.__file__, mark],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def stop_reaper(reaper: subprocess.Popen, timeout: float = 30.0) -> None:
    """Close the reaper's pipe (it then kills what is left of its Ray) and wait for it."""
    try:
        reaper.stdin.close()
        reaper.wait(timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        reaper.kill()
        reaper.wait()


@contextmanager
def _marked(mark: str):
    """Set the reaper's mark in the environment while a private Ray starts (its processes
    inherit it; processes this one starts later do not)."""
    from .reaper import MARK_VARIABLE

    before = os.environ.get(MARK_VARIABLE)
    os.environ[MARK_VARIABLE] = mark
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(MARK_VARIABLE, None)
        else:
            os.environ[MARK_VARIABLE] = before


#: the logger of Ray's notice "Token authentication is enabled for this Ray cluster" (Ray 2.60)
TOKEN_NOTICE_LOGGER = "ray._private.authentication.authentication_token_setup"
#: the logger of Ray's notice "In the near future, ray.timeline() will read ... from the dashboard" (Ray 2.60)
TIMELINE_NOTICE_LOGGER = "ray._private.state"


@contextlib.contextmanager
def quiet_ray_notice(logger: str) -> Iterator[None]:
    """Without the warnings Ray logs through ``logger`` (below ERROR) meanwhile: notices
    Ray gives on every call (token authentication on, timeline's future source) that
    raydas's runs would print every time, and more than once."""
    quiet = logging.getLogger(logger)
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        yield
    finally:
        quiet.setLevel(level)


def attach(address: str) -> None:
    """Connect this process to the Ray running on this machine at ``address``.

    Token authentication as Ray does for a local cluster it finds itself (and not
    for an explicit address): on when a token exists here (``~/.ray/auth_token``,
    ``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH``), unless ``RAY_AUTH_MODE`` says otherwise.
    """
    import ray

    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # another Ray version: RAY_AUTH_MODE decides
        pass
    else:
        with quiet_ray_notice(TOKEN_NOTICE_LOGGER):
            maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
    try:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError) as exc:
        raise RaydasError(
            f"could not attach to the Ray running on this machine at {address} ({exc}); its token must be this "
            "user's (~/.ray/auth_token, RAY_AUTH_TOKEN_PATH, RAY_AUTH_TOKEN); or run with --address local "
            "for a private Ray"
        ) from exc


def choose_device(requested: str) -> str:
    """'gpu' when asked, or when 'auto' and the cluster has a GPU now; else 'cpu'."""
    import ray

    gpus = ray.cluster_resources().get("GPU", 0)
    if requested == "gpu" and gpus < 1:
        log.warning(
            "device 'gpu' asked for but the cluster has no GPU now; waiting up to %.0f s for GPU nodes (autoscaler)",
            ACTOR_START_TIMEOUT_S,
        )
    if requested != "auto":
        return requested
    return "gpu" if gpus >= 1 else "cpu"


def task_cpus(wanted: float = 1.0) -> float:
    """CPUs a task with no processor actors beside it (ingest, catalogue scans) asks for:
    ``wanted`` when the cluster has them free, or has no CPU yet (an autoscaling head
    with CPU: 0: the demand makes the autoscaler add CPU nodes); else 0, so that the
    task shares the CPUs that long-lived actors hold (the warm processor actors of
    ``raydas up`` hold every CPU of the machine) instead of waiting for them for ever."""
    import ray

    if float(ray.cluster_resources().get("CPU", 0)) == 0 or float(ray.available_resources().get("CPU", 0)) >= wanted:
        return wanted
    log.info("the cluster's CPUs are held by actors (warm processor actors?): tasks share them")
    return 0.0


class ActorLayout(NamedTuple):
    """How a run's processor actors sit on the cluster.

    Attributes
    ----------
    count
        Processor actors.
    actor_options
        Their Ray options (``num_cpus``, and ``num_gpus`` on GPUs).
    ingest_cpus
        CPUs each ingest task asks for.
    """

    count: int
    actor_options: dict
    ingest_cpus: float


def actor_layout(options: RayOptions, device: str) -> ActorLayout:
    """The actor layout for ``device`` from the cluster's resources and ``options``."""
    import ray

    resources = ray.cluster_resources()
    cpus = float(resources.get("CPU", 0))
    if device == "gpu":
        n = options.num_actors or max(1, int(resources.get("GPU", 1)))
        actor_opts = {"num_gpus": 1, "num_cpus": options.actor_cpus}
    else:
        n = options.num_actors or max(1, int(cpus // options.actor_cpus))
        actor_opts = {"num_cpus": options.actor_cpus}
    spare = cpus - n * options.actor_cpus
    # never wait for CPUs the actors hold; but on a cluster with no CPU yet (an autoscaling head with CPU: 0)
    # ask for some, so ingest stays off the head and its demand makes the autoscaler add CPU nodes
    ingest_cpus = 0.5 if spare >= 0.5 or cpus == 0 else 0.0
    return ActorLayout(n, actor_opts, ingest_cpus)
