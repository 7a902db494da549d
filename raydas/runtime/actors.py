"""What runs on the Ray workers: the ingest task, the processor actor, and the
:class:`ActorPool` a driver sends chunks to.

A processor actor is told a run's :class:`ProcessorSetup` (processing config,
results root, device) once, by :meth:`ActorPool.prepare`, and compiles it;
every call then names the setup by its key (a few bytes, not the config), so
warm actors left running by ``raydas up`` serve any run, several at a time,
whatever its pipeline, and keep their imports (numpy, scipy, the commands and
formats) warm between runs. An actor that does not hold the setup a call names
(it restarted since) raises :class:`SetupMissing`; the driver prepares it
again and re-sends the chunk.

GPU actors run two calls at once: one uploads its chunk (pinned staging
buffer, copy stream) while the other computes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import pickle
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import RayOptions
from ..errors import RaydasError
from ..formats.chunkstore import ChunkStore
from ..fsutil import remove_stale_temporaries
from ..outputs import OutputSink
from ..pipeline import Pipeline
from ..recording import ChunkPlan
from ..reduction import Partial, segment_path
from ..version import __version__
from . import cluster
from .cluster import ActorLayout
from .report import ProcessedChunk

log = logging.getLogger(__name__)

#: the Ray namespace of the warm processor actors ``raydas up`` leaves running
NAMESPACE = "raydas"
#: setups up to this size (pickled bytes) travel inside the prepare call; Ray inlines arguments under 100 KiB
INLINE_SETUP_BYTES = 64 * 1024


# --- what a processor actor is told -------------------------------------------------------------
@dataclass(frozen=True)
class ProcessorSetup:
    """What a processor actor needs to process a run's chunks.

    Attributes
    ----------
    processing
        The processing config (distpy's ``command_list`` document).
    source
        The file it came from, for error messages (None when given inline).
    output_root
        The results root (path or URL) every output lies under.
    device
        ``"cpu"`` or ``"gpu"``: the array backend the actor computes with.
    nan_policy
        What the pipeline does with NaN and infinite samples (:data:`raydas.pipeline.NAN_POLICIES`).
    reduce_key
        For a graph with reducers (``stack_chunks``): the folder of the run's
        checkpoint segments (:func:`raydas.reduction.run_folder`) and this
        driver's run id, so that partial stacks of two runs never mix; "" otherwise.
    key
        A digest of all the above, made once on the driver: actors keep one
        compiled pipeline per key.
    """

    processing: dict
    source: str | None
    output_root: str
    device: str = "cpu"
    nan_policy: str = "propagate"
    reduce_key: str = ""
    key: str = field(init=False, default="")

    def __post_init__(self):
        text = json.dumps(
            [self.processing, self.source, self.output_root, self.device, self.nan_policy, self.reduce_key],
            sort_keys=True,
            default=str,
        )
        object.__setattr__(self, "key", hashlib.sha256(text.encode()).hexdigest()[:16])


class SetupMissing(RaydasError):
    """A processor actor was asked for a setup it does not hold (it restarted, or
    dropped it for newer ones, since it was prepared)."""

    def __init__(self, key: str):
        self.key = key
        super().__init__(f"the processor actor holds no setup {key} (it restarted since it was prepared)")

    def __reduce__(self):
        return type(self), (self.key,)


@dataclass
class _Compiled:
    """A setup made ready in an actor: the pipeline, its array backend and results root."""

    pipeline: Pipeline
    xp: Any
    upload: Any  # backend.HostToDevice
    sink: OutputSink
    writers: frozenset[str]  # names of the writer commands (their seconds are the "write" stage)
    nan_policy: str = "propagate"
    reduce_key: str = ""  # where its checkpoint segments go (see ProcessorSetup)
    partial: Partial | None = None  # the running stacks of a reducing graph


# --- the work itself (plain Python: Ray wraps it) -------------------------------------------------
def read_chunk(plan: ChunkPlan):
    """Read a planned chunk, marking when its ingest started and ended (wall clock, s)."""
    t0 = time.time()
    chunk = plan.read()
    chunk.attrs["ingest_wall"] = (t0, time.time())
    return chunk


def ingest_chunk(plan: ChunkPlan, store: ChunkStore | None, keep: bool = True):
    """The ingest task: read a chunk; store it when ``store`` is given.

    Returns
    -------
    chunk, row
        The chunk (None when ``keep`` is False: ingest only, no copy of the
        samples into the object store) and its manifest row (None when not stored).
    """
    chunk = read_chunk(plan)
    row = store.write(chunk) if store is not None else None
    return (chunk if keep else None), row


class Processor:
    """The processor actor's body: compiles each setup it meets (keeping the last
    few) and runs chunks through the pipeline, writing outputs atomically."""

    #: compiled setups kept at once (a warm actor serves run after run)
    KEEP_SETUPS = 4

    def __init__(self):
        #: this incarnation of the actor (a restarted actor has another): partial stacks die with it
        self.token = uuid.uuid4().hex[:12]
        self._compiled: OrderedDict[str, _Compiled] = OrderedDict()
        self._uploads: dict[str, Any] = {}  # device -> HostToDevice (one staging buffer per device)
        self._lock = threading.Lock()  # GPU actors run two calls at once

    def _compile(self, setup: ProcessorSetup) -> None:
        from ..backend import HostToDevice, array_namespace

        with self._lock:
            compiled = self._compiled.get(setup.key)
            if compiled is None:
                pipeline = Pipeline.from_config(setup.processing, source=setup.source)
                if setup.device not in self._uploads:
                    self._uploads[setup.device] = HostToDevice(array_namespace(setup.device))
                upload = self._uploads[setup.device]
                writers = frozenset(n.command.name for n in pipeline.order if n.command.writes)
                compiled = _Compiled(
                    pipeline,
                    upload.xp,
                    upload,
                    OutputSink(setup.output_root),
                    writers,
                    setup.nan_policy,
                    setup.reduce_key,
                    Partial() if pipeline.reducers else None,
                )
                self._compiled[setup.key] = compiled
                while len(self._compiled) > self.KEEP_SETUPS:
                    self._compiled.popitem(last=False)
            self._compiled.move_to_end(setup.key)

    def _compiled_for(self, key: str) -> _Compiled:
        with self._lock:
            compiled = self._compiled.get(key)
            if compiled is None:
                raise SetupMissing(key)
            self._compiled.move_to_end(key)
            return compiled

    def prepare(self, setup: ProcessorSetup) -> dict:
        """Compile ``setup`` (raises when it cannot be: no cupy, bad config) and say who answers."""
        self._compile(setup)
        return self.ping()

    def ping(self) -> dict:
        """Device, process id, GPU ids and node of this actor, and the raydas version it runs."""
        import ray

        return {
            "pid": os.getpid(),
            "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
            "node": ray.get_runtime_context().get_node_id(),
            "version": __version__,
        }

    def process(self, key: str, chunk, resent: bool = False, reduce: bool = True) -> ProcessedChunk:
        """Run the pipeline of the setup ``key`` (prepared before) on one chunk.

        ``reduce``: add the chunk to the partial stacks of a reducing graph
        (False for a chunk already in a checkpoint segment, re-run only for its
        other outputs).

        ``resent``: the chunk was re-sent after the actor processing it died. It is
        computed again (whatever that attempt completed is written again, byte for
        byte: an existing file cannot tell a killed attempt's output from a stale
        one), and the temporary files the killed attempt left are cleared.

        Raises
        ------
        SetupMissing
            When this actor does not hold that setup (it restarted since).
        """
        t0 = time.time()
        work = self._compiled_for(key)
        t_up = time.perf_counter()
        staged = dataclasses.replace(chunk, data=work.upload(chunk.data))
        upload = time.perf_counter() - t_up
        with work.upload.computing():
            result = work.pipeline.run(
                staged, work.xp, work.sink, nan_policy=work.nan_policy, reduce_into=work.partial if reduce else None
            )
        if resent:
            for name in result.written:
                remove_stale_temporaries(work.sink.url(name))
        result.seconds["upload"] = upload
        return ProcessedChunk(
            result,
            ingest_wall=chunk.attrs.get("ingest_wall"),
            start=t0,
            end=time.time(),
            write_seconds=sum(s for name, s in result.seconds.items() if name in work.writers),
            actor=self._holder(work),
        )

    def _holder(self, work: _Compiled) -> str:
        """This actor's incarnation and, for a reducing setup, the partial its chunks go into."""
        return self.token if work.partial is None else f"{self.token}-{work.partial.id}"

    def read_and_process(self, key: str, plan: ChunkPlan, resent: bool = False, reduce: bool = True) -> ProcessedChunk:
        """Read the chunk here (memory-mapped when local) and process it: no ingest
        task and no object-store round trip (CPU actors, when nothing is stored on the way)."""
        self._compiled_for(key)  # before reading: an actor without the setup says so at once
        return self.process(key, read_chunk(plan), resent, reduce)

    def checkpoint(self, key: str, name: str) -> dict:
        """Write the partial stacks of setup ``key`` as the checkpoint segment ``name``
        (:func:`raydas.reduction.segment_path`, atomically) and start empty ones.

        Returns
        -------
        dict
            ``actor`` (this incarnation's token and its partial's id) and ``chunks`` (the output
            identities sealed in the segment; none written when empty).

        Raises
        ------
        SetupMissing
            When this actor does not hold that setup (it restarted since: its stacks are lost).
        """
        work = self._compiled_for(key)
        taken = work.partial.take() if work.partial is not None else None
        chunks = sorted(taken.chunk_ids()) if taken is not None else []
        if chunks:
            run_key = work.reduce_key.split("/")[0]
            try:
                work.sink.write(segment_path(run_key, name), taken.to_bytes())
            except BaseException:
                work.partial.merge(taken)  # not written: the stacks stay here, for the next checkpoint
                raise
        return {"actor": self._holder(work), "chunks": chunks}


# --- Ray's wrappers (defined on use: importing raydas must not need Ray) -----------------------------
def remote_ingest():
    """The ingest task as a Ray remote function (retried on I/O errors)."""
    import ray

    return ray.remote(max_retries=3, retry_exceptions=[OSError, TimeoutError])(ingest_chunk)


def remote_processor():
    """The processor actor class. Restarted when it dies; its calls are not retried
    by Ray: the driver re-sends a dead actor's chunks to a live one, in its own order."""
    import ray

    return ray.remote(max_restarts=-1, max_task_retries=0)(Processor)


def warm_actor_name(device: str, index: int) -> str:
    """Name of a warm processor actor (namespace :data:`NAMESPACE`); the version is in
    it, so a run never borrows actors that run another raydas."""
    return f"processor-{__version__}-{device}-{index}"


def start_warm_actors(layout: ActorLayout, device: str) -> list:
    """Start named, detached processor actors that outlive this process (``raydas up``);
    returns their handles once each answers (imports done)."""
    import ray

    actor_class = remote_processor()
    actors = [
        actor_class.options(
            name=warm_actor_name(device, i),
            namespace=NAMESPACE,
            lifetime="detached",
            get_if_exists=True,
            **_with_concurrency(layout.actor_options, device),
        ).remote()
        for i in range(layout.count)
    ]
    ray.get([a.ping.remote() for a in actors], timeout=cluster.ACTOR_START_TIMEOUT_S)
    return actors


def warm_actors(device: str) -> list:
    """Handles of the warm processor actors ``raydas up`` left for ``device``
    (and this raydas version), in index order; empty when there are none."""
    import ray

    prefix = warm_actor_name(device, 0)[:-1]
    names = [
        a["name"]
        for a in ray.util.list_named_actors(all_namespaces=True)
        if a.get("namespace") == NAMESPACE and a["name"].startswith(prefix) and a["name"][len(prefix) :].isdigit()
    ]
    handles = []
    for name in sorted(names, key=lambda n: int(n[len(prefix) :])):
        try:
            handles.append(ray.get_actor(name, namespace=NAMESPACE))
        except ValueError:  # gone since it was listed
            continue
    return handles


def _with_concurrency(actor_options: dict, device: str) -> dict:
    """GPU actors run two calls at once: the upload of one chunk overlaps the compute of another."""
    return dict(actor_options, max_concurrency=2) if device == "gpu" else dict(actor_options)


def _creation_error(exc) -> str:
    """The message of an actor's constructor failure, or '' when the actor died otherwise."""
    text = str(exc)
    if "creation task" in text:
        lines = [ln.strip() for ln in text.splitlines() if "Error" in ln and ":" in ln]
        return lines[-1] if lines else text.strip().splitlines()[-1]
    return ""


# --- the pool a driver sends chunks to ---------------------------------------------------------------
class ActorPool:
    """The processor actors of a run: started or borrowed, made ready for the run's
    setup, picked least-loaded, pinged back into service when they die, stopped at the end.

    Actors must answer :meth:`prepare` before they get work, so a GPU that does
    not exist (or a setup that cannot compile, e.g. no cupy) ends the run with
    an error instead of a wait for ever.

    Parameters
    ----------
    device
        ``"cpu"`` or ``"gpu"``.
    layout
        How many actors, their Ray options, the CPUs per ingest task.
    borrowed
        Running actors to use first (warm ones from ``raydas up``, or a caller's
        own); the pool starts the rest and :meth:`stop` stops only those.
    """

    def __init__(self, device: str, layout: ActorLayout, borrowed: Sequence = ()):
        self.device = device
        self.layout = layout
        self.borrowed = min(len(borrowed), layout.count)
        actor_class = remote_processor()
        options = _with_concurrency(layout.actor_options, device)
        started = [actor_class.options(**options).remote() for _ in range(layout.count - self.borrowed)]
        self.actors: list = list(borrowed[: self.borrowed]) + started
        self.ready = [False] * len(self.actors)
        self.load = [0] * len(self.actors)  # calls in flight per actor
        self.info: dict[int, dict] = {}  # actor index -> its last answer to prepare (pid, GPU ids, node)
        self._pings: dict[Any, int] = {}  # prepare ref -> actor index, for actors not known to be ready
        self._setup_arg = None  # the setup (or its ObjectRef when large), for prepare
        self._key = ""  # what every process call names
        self._unready_since: float | None = None  # since when no actor has been ready (monotonic s)

    @classmethod
    def for_cluster(cls, options: RayOptions) -> ActorPool:
        """The pool the cluster's resources and ``options`` call for, borrowing
        the warm actors ``raydas up`` left (if any) before starting new ones."""
        device = cluster.choose_device(options.device)
        layout = cluster.actor_layout(options, device)
        return cls(device, layout, borrowed=warm_actors(device))

    def __len__(self) -> int:
        return len(self.actors)

    @property
    def ingest_cpus(self) -> float:
        return self.layout.ingest_cpus

    # readiness -----------------------------------------------------------------------------------
    def prepare(self, setup: ProcessorSetup) -> None:
        """Hand every actor the run's setup (compiled on arrival); each is ready once it answers."""
        import ray

        setup = dataclasses.replace(setup, device=self.device)
        # a small setup travels inside each call (Ray inlines small arguments: no extra round trip);
        # a large one is put in the object store once and each call fetches it
        self._setup_arg = setup if len(pickle.dumps(setup)) <= INLINE_SETUP_BYTES else ray.put(setup)
        self._key = setup.key
        self.ready = [False] * len(self.actors)
        self._pings = {}
        for a in range(len(self.actors)):
            self._ping(a)

    def _ping(self, a: int) -> None:
        self._pings[self.actors[a].prepare.remote(self._setup_arg)] = a

    @property
    def pings(self) -> list:
        """Answers still awaited from actors not known to be ready."""
        return list(self._pings)

    def is_ping(self, ref) -> bool:
        return ref in self._pings

    def answered(self, ref) -> None:
        """Take an actor's answer to :meth:`prepare`: ready, or asked again if it is restarting.

        Raises
        ------
        RaydasError
            When the actor cannot start or cannot compile the setup (no cupy,
            bad config): restarting will not help.
        """
        import ray

        a = self._pings.pop(ref)
        try:
            self.info[a] = ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            cause = _creation_error(exc)
            if cause:
                raise RaydasError(f"processor actor could not start on {self.device}: {cause}") from None
            time.sleep(0.2)  # still restarting (or its node is gone): ask again shortly
            self._ping(a)
            return
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None) or exc
            message = str(cause).strip().splitlines()[-1] if str(cause).strip() else type(cause).__name__
            raise RaydasError(f"processor actor could not start on {self.device}: {message}") from None
        self.ready[a] = True

    def check_alive(self, busy: bool) -> None:
        """Raise when no actor has been ready for :data:`cluster.ACTOR_START_TIMEOUT_S` while there is work."""
        import ray

        if any(self.ready):
            self._unready_since = None
            return
        if not busy:
            return
        now = time.monotonic()
        self._unready_since = self._unready_since or now
        if now - self._unready_since > cluster.ACTOR_START_TIMEOUT_S:
            raise RaydasError(
                f"no processor actor became available in {cluster.ACTOR_START_TIMEOUT_S:.0f} s; the cluster cannot "
                f"place actors needing {self.layout.actor_options} (resources now: {ray.cluster_resources()})"
            )

    def lost(self, a: int) -> None:
        """Actor ``a`` died under a call (or lost its setup): out of service until it is prepared again."""
        if self.ready[a]:
            self.ready[a] = False
            self._ping(a)

    # work --------------------------------------------------------------------------------------------
    def pick(self) -> int | None:
        """The least-loaded ready actor, or None when none is ready."""
        live = [a for a in range(len(self.actors)) if self.ready[a]]
        return min(live, key=self.load.__getitem__) if live else None

    def process(self, a: int, chunk_ref, resent: bool, reduce: bool = True):
        """Send a chunk (an ObjectRef from an ingest task) to actor ``a``; returns the result's ref."""
        self.load[a] += 1
        return self.actors[a].process.remote(self._key, chunk_ref, resent, reduce)

    def read_and_process(self, a: int, plan: ChunkPlan, resent: bool, reduce: bool = True):
        """Have actor ``a`` read and process a chunk itself; returns the result's ref."""
        self.load[a] += 1
        return self.actors[a].read_and_process.remote(self._key, plan, resent, reduce)

    def checkpoint(self, a: int, name: str):
        """Have actor ``a`` write its partial stacks as segment ``name``; returns the answer's ref."""
        return self.actors[a].checkpoint.remote(self._key, name)

    def returned(self, a: int) -> None:
        """A call on actor ``a`` came back (with a result or an error)."""
        self.load[a] -= 1

    def stop(self) -> None:
        """Stop the actors this pool started; borrowed ones keep running."""
        import ray

        for actor in self.actors[self.borrowed :]:
            ray.kill(actor)
        self.actors = self.actors[: self.borrowed]
        self.ready, self.load = self.ready[: self.borrowed], self.load[: self.borrowed]
