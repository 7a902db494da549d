"""The Ray layer: ingest tasks, processor actors and the driver loop.

::

    scan (driver) -> plan chunks -> skip chunks whose outputs exist
        -> ingest task per chunk (reads the chunk and its halo; optionally
           persists it to the chunk store) -> Ray object store
        -> ProcessorActor.process(chunk_ref) (zero-copy on the same node;
           runs the compiled Pipeline on numpy or cupy; writers write atomically)
        -> small ChunkResult back to the driver

The driver keeps a bounded number of chunks in flight, so memory stays flat
however long the recording. Locally it starts a private Ray
(``address="local"``); under ``ray job submit`` it attaches to ``RAY_ADDRESS``.

Devices: one GPU actor per GPU of the cluster (``num_gpus=1`` and an explicit
``num_cpus``), CPU actors where there is none ("auto" looks at
``ray.cluster_resources()``). Actors must answer a ping before they get
work, so a GPU that does not exist (or a constructor that fails, e.g. no
cupy) ends the run with an error instead of a wait for ever.

Faults: chunks are stateless calls; a chunk whose actor died (killed, out of
memory, node lost) is sent to a live actor, its ingested data reconstructed
by Ray from lineage if it was on the lost node. Writers are atomic and skip
outputs an earlier attempt completed, so every output is written once, under
its final name only when complete. Results reach the driver (progress,
``on_result``) in chunk order. A killed driver loses nothing: the rerun
skips chunks whose outputs exist.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import formats, synthetic
from .config import RunConfig, redact
from .errors import ConfigError, FormatError, RaydasError, RunFailed
from .formats.chunkstore import ChunkStoreWriter, StoredChunk
from .fsutil import exists, remove_stale_temporaries, url_to_fs
from .outputs import OutputSink
from .pipeline import ChunkResult, Pipeline, load_json
from .progress import MemorySampler, Progress
from .recording import ChunkPlan, assemble, plan_chunks
from .timeutil import to_iso

log = logging.getLogger(__name__)

FAILURE_REPORT = "raydas-failures.json"


# --- Ray remote pieces ---------------------------------------------------------
#: seconds to wait for processor actors to start (GPU nodes of an autoscaling cluster take minutes)
ACTOR_START_TIMEOUT_S = 900.0
#: longest wait for workers to report their last task events to ray.timeline() (s)
TASK_EVENTS_FLUSH_S = 6.0
#: times a chunk is handed to another actor after the one processing it died
ACTOR_FAILURES_PER_CHUNK = 3


def _remote_pieces():
    """Define the Ray remote function and actor lazily (importing raydas must not need Ray running)."""
    import ray

    @ray.remote(max_retries=3, retry_exceptions=[OSError, TimeoutError])
    def ingest_chunk(plan: ChunkPlan, store_url: str | None, keep: bool = True):
        chunk = _read_chunk(plan)
        row = ChunkStoreWriter(store_url).write(chunk) if store_url else None
        return (chunk if keep else None), row  # ingest only: no copy of the samples into the object store

    # Stateless per call (everything a chunk needs is in its arguments), so a
    # restarted actor (new process, __init__ re-run) takes over at once. Calls
    # are not retried by Ray: the driver re-sends a dead actor's chunks to a
    # live one, in its own order.
    @ray.remote(max_restarts=-1, max_task_retries=0)
    class ProcessorActor:
        """Holds one compiled pipeline and an array backend; processes chunks.

        GPU actors run two calls at once: one uploads its chunk (pinned
        staging buffer, copy stream) while the other computes.
        """

        def __init__(self, processing: dict, source: str | None, device: str, output_root: str):
            from .backend import HostToDevice, array_namespace

            self.pipeline = Pipeline.from_config(processing, source=source)
            self.xp = array_namespace(device)
            self.upload = HostToDevice(self.xp)
            self.device = device
            self.sink = OutputSink(output_root)

        def process(self, chunk, skip_existing: bool = False) -> dict:
            """Run the pipeline on one chunk; returns the small ChunkResult and wall-clock marks."""
            t0 = time.time()
            expected = self.pipeline.output_files(chunk.stem) if skip_existing else []
            if expected and all(exists(self.sink.url(f)) for f in expected):
                # an earlier attempt (on an actor that died afterwards) wrote them all
                return {
                    "result": ChunkResult(stem=chunk.stem, index=chunk.index),
                    "skipped": True,
                    "ingest_wall": chunk.attrs.get("ingest_wall"),
                    "start": t0,
                    "end": time.time(),
                }
            t_up = time.perf_counter()
            staged = dataclasses.replace(chunk, data=self.upload(chunk.data))
            upload = time.perf_counter() - t_up
            with self.upload.computing():
                result = self.pipeline.run(staged, self.xp, self.sink)
            for name in expected:  # a re-sent chunk: clear what the killed attempt left half-written
                remove_stale_temporaries(self.sink.url(name))
            result.seconds["upload"] = upload
            return {
                "result": result,
                "skipped": False,
                "ingest_wall": chunk.attrs.get("ingest_wall"),
                "start": t0,
                "end": time.time(),
            }

        def read_and_process(self, plan: ChunkPlan, skip_existing: bool = False) -> dict:
            """Read the chunk here (memory-mapped when local) and process it: no ingest
            task and no object-store round trip (CPU actors, when nothing is stored on the way)."""
            return self.process(_read_chunk(plan), skip_existing)

        def ping(self) -> dict:
            import ray

            return {
                "device": self.device,
                "pid": os.getpid(),
                "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
                "node": ray.get_runtime_context().get_node_id(),
            }

    return ingest_chunk, ProcessorActor


def _read_chunk(plan: ChunkPlan):
    """Read a planned chunk, marking when its ingest started and ended (wall clock, s)."""
    import raydas.synthetic  # noqa: F401  (registers the synthetic source's reader in this worker)

    t0 = time.time()
    chunk = plan.read()
    chunk.attrs["ingest_wall"] = (t0, time.time())
    return chunk


# --- reporting -------------------------------------------------------------------
#: the stages of a chunk's life, in the order they happen (RunReport.stage_seconds keys)
STAGES = ("ingest", "queue", "compute", "write")


@dataclass
class RunReport:
    """What a run did (printed by the CLI, returned to Python callers).

    ``stage_seconds`` sums, over the chunks processed, the time each spent in
    ``ingest`` (reading, in an ingest task), ``queue`` (from submission to the
    start of processing, less ingest: scheduling, object transfer, waiting for
    an actor), ``compute`` (commands, host-to-device copy included) and
    ``write`` (writer commands).
    """

    output: str
    chunks_total: int = 0
    chunks_done: int = 0
    chunks_skipped: int = 0
    files: int = 0
    records: int = 0
    outputs_written: int = 0
    bytes_processed: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)
    discontinuities: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    quicklook: str | None = None
    manifest: str | None = None
    device: str = "cpu"
    actors: int = 0
    chunks_resent: int = 0
    in_flight: int = 0
    peak_object_store_bytes: int | None = None
    peak_driver_rss_bytes: int | None = None
    latencies: list[float] = field(default_factory=list)
    timeline: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        rate = self.bytes_processed / self.seconds / 1e6 if self.seconds > 0 else 0.0
        lines = [
            f"results:   {self.output}",
            f"chunks:    {self.chunks_done} processed, {self.chunks_skipped} already done, {self.chunks_total} in all",
            f"inputs:    {self.files} file(s), {self.records} record(s)",
            f"outputs:   {self.outputs_written} file(s) written",
            f"time:      {self.seconds:.2f} s ({rate:.1f} MB/s of float32 samples) "
            f"on {self.actors} {self.device} actor(s)",
        ]
        if self.stage_seconds:
            stages = ", ".join(f"{k} {self.stage_seconds.get(k, 0.0):.2f} s" for k in STAGES)
            lines.append(f"stages:    {stages} (summed over chunks)")
        if self.peak_object_store_bytes is not None or self.peak_driver_rss_bytes:
            store = "?" if self.peak_object_store_bytes is None else f"{self.peak_object_store_bytes / 2**20:.0f} MiB"
            lines.append(
                f"memory:    object store peak {store} with {self.in_flight} chunks in flight, "
                f"driver RSS peak {(self.peak_driver_rss_bytes or 0) / 2**20:.0f} MiB"
            )
        if self.chunks_resent:
            lines.append(f"recovered: {self.chunks_resent} chunk(s) re-sent after their actor died")
        if self.latencies:
            lat = np.asarray(self.latencies)
            lines.append(
                f"latency:   arrival to outputs median {np.median(lat):.2f} s, max {lat.max():.2f} s "
                f"({lat.size} chunks)"
            )
        if self.manifest:
            lines.append(f"store:     {self.manifest}")
        if self.quicklook:
            lines.append(f"quicklook: {self.quicklook}")
        if self.timeline:
            lines.append(f"timeline:  {self.timeline} (open in Perfetto or chrome://tracing)")
        for d in self.discontinuities:
            lines.append(f"break:     {d['kind']} between {d['before']} and {d['after']}: {d['detail']}")
        for w in self.warnings:
            lines.append(f"warning:   {w}")
        for f in self.failures:
            where = f.get("file") or ""
            chunk = f" chunk {f['chunk']}" if f.get("chunk") else ""
            lines.append(f"FAILED:    [{f['stage']}] {where}{chunk}: {f['error']}")
        return "\n".join(lines)


def _failure(stage: str, error: BaseException, file: str = "", chunk: str = "", plan: ChunkPlan | None = None) -> dict:
    """One entry of the failure report: stage, file, chunk (stem and UTC span), error."""
    cause = getattr(error, "cause", None) or error
    if isinstance(cause, FormatError):
        file = cause.path  # the one file at fault, even when the chunk spans several
    message = str(cause) if isinstance(cause, RaydasError) else f"{type(cause).__name__}: {cause}"
    entry = {"stage": stage, "file": file, "chunk": chunk, "error": message.strip().splitlines()[-1] if message else ""}
    if plan is not None:
        entry["chunk_start"] = to_iso(plan.start_ns)
        entry["chunk_seconds"] = (plan.stop - plan.start) * plan.dt
    return redact(entry)


# --- Ray connection ------------------------------------------------------------------
#: How often the raylets delete objects nobody references any more (ms). Ray's default (1000)
#: keeps every chunk finished in the last second in the object store on top of those in flight;
#: at 100 ms the store holds little more than the in-flight window. Set for the private local
#: Ray; on a cluster start the nodes with RAY_free_objects_period_milliseconds=100.
FREE_OBJECTS_PERIOD_MS = 100


def connect_ray(options) -> bool:
    """Attach to a Ray cluster (``RAY_ADDRESS`` / ``options.address``) or start a
    private local one. Returns True when this call started Ray (and should stop it)."""
    import ray

    if ray.is_initialized():
        return False
    address = options.address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=True)
    else:
        ray.init(
            address="local",
            num_cpus=options.num_cpus,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            _system_config={"free_objects_period_milliseconds": FREE_OBJECTS_PERIOD_MS},
        )
    return True


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


def actor_layout(options, device: str) -> tuple[int, dict, float]:
    """How many processor actors, their Ray options, and the CPUs per ingest task."""
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
    return n, actor_opts, ingest_cpus


# --- the driver ------------------------------------------------------------------------
@dataclass
class _Ticket:
    """A chunk on its way through ingest and processing."""

    seq: int  # submission order: results are handed over in this order
    plan: ChunkPlan
    chunk_ref: Any = None
    row_ref: Any = None
    actor: int = -1
    submitted: float = 0.0  # wall clock (s)
    actor_failures: int = 0
    arrival: float | None = None  # wall clock when its data arrived (streaming)


class Driver:
    """The driver loop shared by batch runs and ``raydas watch``.

    Keeps at most ``window`` chunks in flight: a chunk's ingest task is
    launched only when a slot frees up, so the object store holds at most
    ``window`` chunks (plus their halos) however long the recording. Sends each
    chunk to the least-loaded live processor actor; when an actor dies (killed,
    out of memory, its node lost) its chunks go to another actor, and the
    restarted actor is used again once it answers. Results are handed to
    ``on_result`` in submission order.
    """

    def __init__(self, run: Run, progress: Progress, on_result=None):
        import ray

        self.run = run
        self.report = run.report
        self.progress = progress
        self.on_result = on_result
        ingest_chunk, ProcessorActor = _remote_pieces()
        self._ingest = ingest_chunk
        opts = run.config.ray
        mode = run.mode
        self.store = run.config.store if mode == "ingest" or (mode == "run" and run.config.store) else None
        self.actors: list = []
        self.ready: list[bool] = []
        self.pings: dict[Any, int] = {}  # ping ref -> actor index, for actors not known to be alive
        self.actor_info: dict[int, dict] = {}  # actor index -> its last answer to ping (device, pid, GPU ids, node)
        self.actor_opts: dict = {}
        if mode != "ingest":
            self.actors, self.ingest_cpus, self.actor_opts = run._start_actors(ProcessorActor)
            self.ready = [False] * len(self.actors)
            for a, actor in enumerate(self.actors):
                self.pings[actor.ping.remote()] = a
            self._writers = {node.command.name for node in run.pipeline.order if node.command.writes}
        else:
            self.ingest_cpus = 1.0
            self._writers = set()
        # CPU actors read their own chunks when nothing is stored on the way: the samples then go from
        # the page cache to the FFT with no copy into the object store and no task per chunk
        self.read_in_actor = bool(self.actors) and self.store is None and self.report.device == "cpu"
        self.window = opts.in_flight or max(2, 2 * max(1, len(self.actors)))
        self.report.in_flight = self.window
        self.load = [0] * len(self.actors)
        self.queue: deque[_Ticket] = deque()
        self.in_flight: dict[Any, _Ticket] = {}
        self.rows: list[StoredChunk] = []
        self._seq = 0
        self._next_out = 0
        self._finished: dict[int, tuple[_Ticket, Any, dict | None]] = {}  # seq -> (ticket, result, failure)
        self._alive_since: float | None = None  # since when no actor has been alive (monotonic s)
        self.delivered: list[int] = []  # chunk indices in the order they were handed over
        self.finished_at: list[float] = []  # when each chunk's result came back (time.perf_counter(), s)
        self.memory = MemorySampler(interval=0.2) if run.sample_memory else None
        self._ray = ray

    # submission ----------------------------------------------------------------------------
    def submit(self, plan: ChunkPlan, arrival: float | None = None) -> None:
        self.queue.append(_Ticket(self._seq, plan, arrival=arrival))
        self._seq += 1

    @property
    def busy(self) -> bool:
        return bool(self.queue or self.in_flight)

    def _pick_actor(self) -> int | None:
        live = [a for a in range(len(self.actors)) if self.ready[a]]
        return min(live, key=self.load.__getitem__) if live else None

    def _launch(self) -> None:
        while self.queue and len(self.in_flight) < self.window:
            ticket = self.queue[0]
            if self.actors:
                a = self._pick_actor()
                if a is None:
                    return  # no actor alive yet: wait for a ping
            self.queue.popleft()
            # a chunk re-sent after its actor died skips the outputs that actor completed
            skip = self.run.resume and ticket.actor_failures > 0
            if self.read_in_actor:
                ticket.submitted = time.time()
                ticket.actor = a
                self.load[a] += 1
                self.in_flight[self.actors[a].read_and_process.remote(ticket.plan, skip)] = ticket
                continue
            if ticket.chunk_ref is None:
                ticket.submitted = time.time()
                ticket.chunk_ref, ticket.row_ref = self._ingest.options(
                    num_cpus=self.ingest_cpus, num_returns=2
                ).remote(ticket.plan, self.store, bool(self.actors))
            if self.actors:
                ticket.actor = a
                self.load[a] += 1
                ref = self.actors[a].process.remote(ticket.chunk_ref, skip)
            else:
                ref = ticket.row_ref
            self.in_flight[ref] = ticket

    # waiting -------------------------------------------------------------------------------
    def step(self, timeout: float | None = 1.0) -> None:
        """Launch what the window allows, then handle whatever finished (waits at most ``timeout`` s)."""
        ray = self._ray
        self._launch()
        waiting = list(self.in_flight) + list(self.pings)
        if not waiting:
            return
        done, _ = ray.wait(waiting, num_returns=1, timeout=timeout)
        if done:  # take everything else that is already finished too
            more, _ = ray.wait(waiting, num_returns=len(waiting), timeout=0)
            done = list(dict.fromkeys(done + more))
        for ref in done:
            if ref in self.pings:
                self._pinged(ref)
            else:
                self._collect(ref, self.in_flight.pop(ref))
        self._check_actors_alive()
        if self.memory is not None:
            self.memory.sample()

    def drain(self) -> None:
        while self.busy:
            self.step()

    def _pinged(self, ref) -> None:
        a = self.pings.pop(ref)
        try:
            self.actor_info[a] = self._ray.get(ref)
        except self._ray.exceptions.RayActorError as exc:
            cause = _creation_error(exc)
            if cause:  # the constructor itself failed (no cupy, bad config...): restarting will not help
                raise RaydasError(f"processor actor could not start on {self.report.device}: {cause}") from None
            time.sleep(0.2)  # still restarting (or its node is gone): ask again shortly
            self.pings[self.actors[a].ping.remote()] = a
            return
        self.ready[a] = True

    def _check_actors_alive(self) -> None:
        if not self.actors or any(self.ready):
            self._alive_since = None
            return
        if not self.busy:
            return
        now = time.monotonic()
        self._alive_since = self._alive_since or now
        if now - self._alive_since > ACTOR_START_TIMEOUT_S:
            raise RaydasError(
                f"no processor actor became available in {ACTOR_START_TIMEOUT_S:.0f} s; the cluster cannot place "
                f"actors needing {self.actor_opts} (resources now: {self._ray.cluster_resources()})"
            )

    def _actor_died(self, ticket: _Ticket, exc) -> bool:
        """Re-queue a chunk whose actor died; False when it has failed too often."""
        a = ticket.actor
        if self.ready[a]:
            self.ready[a] = False
            self.pings[self.actors[a].ping.remote()] = a
        ticket.actor_failures += 1
        if ticket.actor_failures > ACTOR_FAILURES_PER_CHUNK:
            return False
        log.warning(
            "processor actor %d died while processing chunk %s; sending it to another actor (%s)",
            a,
            ticket.plan.stem,
            type(exc).__name__,
        )
        self.report.chunks_resent += 1
        self.queue.appendleft(ticket)
        return True

    # results ---------------------------------------------------------------------------------
    def _collect(self, ref, ticket: _Ticket) -> None:
        ray = self._ray
        if ticket.actor >= 0:
            self.load[ticket.actor] -= 1
        try:
            out = ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            if self._actor_died(ticket, exc):
                return
            self._finish(
                ticket,
                None,
                _failure("process", exc, file=";".join(ticket.plan.sources), chunk=ticket.plan.stem, plan=ticket.plan),
            )
            return
        except Exception as exc:  # noqa: BLE001  (the chunk failed: record it, the others go on)
            cause = getattr(exc, "cause", None)
            stage = "process" if isinstance(cause, RaydasError) and not isinstance(cause, FormatError) else "ingest"
            self._finish(
                ticket,
                None,
                _failure(stage, exc, file=";".join(ticket.plan.sources), chunk=ticket.plan.stem, plan=ticket.plan),
            )
            return
        self._finish(ticket, out, None)

    def _finish(self, ticket: _Ticket, out, failure: dict | None) -> None:
        ticket.chunk_ref = None  # release the chunk in the object store
        self.finished_at.append(time.perf_counter())
        self._finished[ticket.seq] = (ticket, out, failure)
        while self._next_out in self._finished:  # hand over in submission order
            t, o, f = self._finished.pop(self._next_out)
            self._next_out += 1
            self._account(t, o, f)

    def _account(self, ticket: _Ticket, out, failure: dict | None) -> None:
        plan = ticket.plan
        report = self.report
        nbytes = 4 * plan.positions.shape[0] * (plan.stop - plan.start)
        if failure is not None:
            report.failures.append(failure)
        elif isinstance(out, dict):  # processed
            result: ChunkResult = out["result"]
            report.chunks_done += 1
            report.outputs_written += len(result.written)
            report.bytes_processed += nbytes
            self._add_stages(ticket, out)
            if ticket.row_ref is not None and self.store:
                row = self._ray.get(ticket.row_ref)
                if row is not None:
                    self.rows.append(row)
        else:  # ingest only: the manifest row
            report.chunks_done += 1
            report.outputs_written += 1
            report.bytes_processed += nbytes
            self.rows.append(out)
        ticket.row_ref = None
        if ticket.arrival is not None and failure is None:
            report.latencies.append(time.time() - ticket.arrival)
        self.delivered.append(plan.index)
        self.progress.update(1, nbytes)
        if self.on_result is not None:
            self.on_result(plan, out, failure)

    def _add_stages(self, ticket: _Ticket, out: dict) -> None:
        stages = dict.fromkeys(STAGES, 0.0)
        t0, t1 = out.get("ingest_wall") or (ticket.submitted, ticket.submitted)
        stages["ingest"] = t1 - t0
        stages["queue"] = max(0.0, out["start"] - ticket.submitted - stages["ingest"])
        for name, sec in out["result"].seconds.items():
            stages["write" if name in self._writers else "compute"] += sec
        for k, v in stages.items():
            self.report.stage_seconds[k] = self.report.stage_seconds.get(k, 0.0) + v

    def close(self) -> None:
        if self.memory is not None:
            self.memory.sample(force=True)
            self.report.peak_object_store_bytes = (
                None
                if self.memory.peak_store is None
                else max(0, self.memory.peak_store - (self.memory.baseline_store or 0))
            )
            self.report.peak_driver_rss_bytes = self.memory.peak_rss
        self.run._stop_actors(self.actors)
        self.actors = []


def _creation_error(exc) -> str:
    """The message of an actor's constructor failure, or '' when the actor died otherwise."""
    text = str(exc)
    if "creation task" in text:
        lines = [ln.strip() for ln in text.splitlines() if "Error" in ln and ":" in ln]
        return lines[-1] if lines else text.strip().splitlines()[-1]
    return ""


class Run:
    """One run of raydas: ``mode`` is 'run' (ingest + process), 'ingest'
    (fill the chunk store) or 'process' (read the store, process).

    ``on_result(plan, result, failure)`` is called on the driver for every
    chunk, in chunk order, as soon as it and all chunks before it are done.
    """

    def __init__(
        self,
        config: RunConfig,
        mode: str = "run",
        progress: bool = True,
        resume: bool = True,
        on_result=None,
        sample_memory: bool = True,
    ):
        if mode not in ("run", "ingest", "process"):
            raise ValueError(f"unknown mode {mode!r}")
        self.config = config
        self.mode = mode
        self.progress = progress
        self.resume = resume
        self.on_result = on_result
        self.sample_memory = sample_memory
        self.driver: Driver | None = None
        self.report = RunReport(output=config.output)
        self.processing: dict | None = None
        self.processing_source: str | None = None
        self.pipeline: Pipeline | None = None
        if mode != "ingest":
            self._load_processing()
        elif not config.store:  # ingest writes the chunk store to 'store', else to 'output' (distpy's layout)
            self.config = config = config.model_copy(update={"store": config.output})

    def _load_processing(self) -> None:
        proc = self.config.processing
        if proc is None:
            raise ConfigError("$.processing", "no processing config given (distpy system configs name it in 'config')")
        if isinstance(proc, str):
            self.processing_source = proc
            proc = load_json(proc)
        self.processing = proc
        self.pipeline = Pipeline.from_config(proc, source=self.processing_source)
        self.report.warnings.extend(self.pipeline.warnings)

    # scanning and planning ---------------------------------------------------------------
    def _input_spec(self):
        if self.mode == "process" and self.config.store:
            return self.config.store
        return self.config.input

    def scan(self, spec=None) -> list:
        spec = self._input_spec() if spec is None else spec
        if synthetic.is_synthetic(spec):
            records, failures = synthetic.records(spec), []
        else:
            records, failures = formats.scan(spec, self.config.format)
        for exc in failures:
            self.report.failures.append(_failure("scan", exc, file=exc.path))
        self.report.files += len({r.path for r in records}) + len(failures)
        records = [self._override_rate(r) for r in records]
        self.report.records += len(records)
        return records

    def _override_rate(self, record):
        rate = self.config.sample_rate
        if rate is None and self.config.assumed_sample_rate and record.format == "distpy-npy":
            rate = self.config.assumed_sample_rate
        if rate is not None:
            record.dt = 1.0 / rate
        return record

    def halo_for(self, sample_rate: float) -> int:
        return self.pipeline.halo_samples(sample_rate) if self.pipeline is not None else 0

    def plan(self, records) -> list[ChunkPlan]:
        recordings, breaks = assemble(records)
        self.report.discontinuities = [d.to_dict() for d in breaks]
        return plan_chunks(recordings, self.config.chunk_seconds, halo_for=self.halo_for)

    def expected_outputs(self, plan: ChunkPlan) -> list[str]:
        if self.mode == "ingest":
            return [f"{plan.stem}.npy"]
        return self.pipeline.output_files(plan.stem)

    def _todo(self, plans: list[ChunkPlan]) -> tuple[list[ChunkPlan], list[ChunkPlan]]:
        """Split plans into (to do, already done) from the outputs that exist."""
        if not self.resume:
            return plans, []
        root = ChunkStoreWriter(self.config.store).url if self.mode == "ingest" else self.config.output
        expected = {p.index: self.expected_outputs(p) for p in plans}
        existing = OutputSink(root).existing([f for fs in expected.values() for f in fs])
        todo, done = [], []
        for p in plans:
            files = expected[p.index]
            (done if files and all(f in existing for f in files) else todo).append(p)
        return todo, done

    # running -----------------------------------------------------------------------------
    def execute(self) -> RunReport:
        """Scan, plan and process; returns the report (raises RunFailed if anything failed)."""
        import ray

        t_start = time.perf_counter()
        records = self.scan()
        plans = self.plan(records) if records else []
        todo, done = self._todo(plans)
        self.report.chunks_total = len(plans)
        self.report.chunks_skipped = len(done)
        rows: list[StoredChunk] = []
        started = connect_ray(self.config.ray) if todo or (self.mode == "ingest" and plans) else False
        try:
            if todo:
                rows = self._drive(todo)
            if self.mode == "ingest" or (self.mode == "run" and self.config.store):
                rows += self._describe_existing(done)
                if rows and plans:
                    self.report.manifest = ChunkStoreWriter(self.config.store).finish(
                        rows, plans[0].positions, units=plans[0].units, gauge_length=plans[0].gauge_length
                    )
            if not todo:
                self._save_timeline()
        finally:
            if started:
                ray.shutdown()
        if self.pipeline is not None and self.config.quicklook and plans:
            self._quicklook(plans)
        self.report.seconds = time.perf_counter() - t_start
        return self.finish()

    def finish(self) -> RunReport:
        """Write (or clear) the failure report beside the outputs; raise RunFailed if anything failed."""
        sink = OutputSink(self.config.output)
        if self.report.failures:
            failed = {f["chunk"] for f in self.report.failures if f.get("chunk")}
            path = sink.write(
                FAILURE_REPORT,
                json.dumps(
                    {
                        "failures": self.report.failures,
                        "discontinuities": self.report.discontinuities,
                        "chunks": {
                            "total": self.report.chunks_total,
                            "processed": self.report.chunks_done,
                            "already_done": self.report.chunks_skipped,
                            "failed": len(failed),
                        },
                        "rerun": "fix or remove the files named here, then run the same command again: "
                        "chunks whose outputs exist are skipped",
                        "config": redact(self.config.model_dump(mode="json")),
                    },
                    indent=2,
                ).encode(),
            )
            raise RunFailed(self.report.failures, path)
        stale = sink.url(FAILURE_REPORT)
        try:  # a clean rerun removes the report of an earlier failed run
            fs, p = url_to_fs(stale)
            if fs.exists(p):
                fs.rm(p)
        except OSError:
            pass
        return self.report

    def _save_timeline(self) -> None:
        """Write Ray's Chrome-trace timeline of this run, when asked (``ray.timeline`` / ``--timeline``),
        as that file under the results root."""
        import ray

        target = self.config.ray.timeline
        if not target or not ray.is_initialized():
            return
        events = ray.timeline()
        deadline = time.monotonic() + TASK_EVENTS_FLUSH_S
        while time.monotonic() < deadline:  # workers report their task events about once a second
            time.sleep(1.0)
            later = ray.timeline()
            if len(later) == len(events):
                break
            events = later
        self.report.timeline = OutputSink(self.config.output).write(target, json.dumps(events).encode())

    def start_driver(self, total: int) -> Driver:
        bar = Progress(total, enabled=self.progress)
        self.driver = Driver(self, bar, on_result=self.on_result)
        return self.driver

    def _start_actors(self, actor_class) -> tuple[list, float, dict]:
        """Start this run's processor actors, laid out from the cluster's resources.

        Returns the actors, the CPUs each ingest task asks for, and the actors'
        Ray options. Long-lived callers that run many short jobs (the
        benchmarks) override this and :meth:`_stop_actors` to reuse warm actors.
        """
        opts = self.config.ray
        device = choose_device(opts.device)
        n, actor_opts, ingest_cpus = actor_layout(opts, device)
        if device == "gpu":
            actor_opts["max_concurrency"] = 2  # upload of one chunk overlaps compute of another
        actors = [
            actor_class.options(**actor_opts).remote(
                self.processing, self.processing_source, device, self.config.output
            )
            for _ in range(n)
        ]
        self.report.device, self.report.actors = device, n
        return actors, ingest_cpus, actor_opts

    def _stop_actors(self, actors: list) -> None:
        import ray

        for actor in actors:
            ray.kill(actor)

    def _drive(self, todo: list[ChunkPlan]) -> list[StoredChunk]:
        driver = self.start_driver(len(todo))
        try:
            for plan in todo:
                driver.submit(plan)
            driver.drain()
            self._save_timeline()  # before the actors stop: their last task events are still to come
        finally:
            driver.progress.close()
            driver.close()
        return driver.rows

    def _describe_existing(self, done: list[ChunkPlan]) -> list[StoredChunk]:
        writer = ChunkStoreWriter(self.config.store)
        return [writer.describe_existing(p.stem, p.start_ns, p.dt, ";".join(p.sources)) for p in done]

    def _quicklook(self, plans: list[ChunkPlan]) -> None:
        from .quicklook import noise_log_quicklook

        try:
            self.report.quicklook = noise_log_quicklook(self.pipeline, self.config.output, [p.stem for p in plans])
        except RaydasError as exc:
            self.report.warnings.append(f"quicklook not drawn: {exc}")


def run(config: RunConfig, mode: str = "run", progress: bool = True, resume: bool = True, on_result=None) -> RunReport:
    """Run raydas on a config (see :class:`Run`)."""
    return Run(config, mode=mode, progress=progress, resume=resume, on_result=on_result).execute()
