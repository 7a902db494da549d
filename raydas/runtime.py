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
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any


from . import formats
from .config import RunConfig, redact
from .errors import ConfigError, FormatError, RaydasError, RunFailed
from .formats.chunkstore import ChunkStoreWriter, StoredChunk
from .outputs import OutputSink
from .pipeline import ChunkResult, Pipeline, load_json
from .recording import ChunkPlan, assemble, plan_chunks

log = logging.getLogger(__name__)

FAILURE_REPORT = "raydas-failures.json"


# --- Ray remote pieces ---------------------------------------------------------
def _remote_pieces():
    """Define the Ray remote function and actor lazily (importing raydas must not need Ray running)."""
    import ray

    @ray.remote(max_retries=3, retry_exceptions=[OSError, TimeoutError])
    def ingest_chunk(plan: ChunkPlan, store_url: str | None, keep: bool = True):
        t0 = time.perf_counter()
        chunk = plan.read()
        chunk.attrs["read_seconds"] = time.perf_counter() - t0
        row = ChunkStoreWriter(store_url).write(chunk) if store_url else None
        return (chunk if keep else None), row  # ingest only: no copy of the samples into the object store

    @ray.remote(max_restarts=3, max_task_retries=3)
    class ProcessorActor:
        """Holds one compiled pipeline and an array backend; processes chunks."""

        def __init__(self, processing: dict, source: str | None, device: str, output_root: str):
            from .backend import array_namespace

            self.pipeline = Pipeline.from_config(processing, source=source)
            self.xp = array_namespace(device)
            self.device = device
            self.sink = OutputSink(output_root)

        def process(self, chunk) -> ChunkResult:
            result = self.pipeline.run(chunk, self.xp, self.sink)
            result.seconds["read"] = chunk.attrs.get("read_seconds", 0.0)
            return result

        @ray.method(retry_exceptions=[OSError, TimeoutError])
        def read_and_process(self, plan: ChunkPlan) -> ChunkResult:
            """Read the chunk here (memory-mapped when local) and process it: no object-store round trip."""
            t0 = time.perf_counter()
            chunk = plan.read()
            read_seconds = time.perf_counter() - t0
            result = self.pipeline.run(chunk, self.xp, self.sink)
            result.seconds["read"] = read_seconds
            return result

        def ping(self) -> str:
            return self.device

    return ingest_chunk, ProcessorActor


# --- reporting -------------------------------------------------------------------
@dataclass
class RunReport:
    """What a run did (printed by the CLI, returned to Python callers)."""

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
            f"time:      {self.seconds:.2f} s ({rate:.1f} MB/s of float32 samples) on {self.actors} {self.device} actor(s)",
        ]
        if self.stage_seconds:
            stages = ", ".join(f"{k} {v:.2f} s" for k, v in sorted(self.stage_seconds.items(), key=lambda kv: -kv[1]))
            lines.append(f"per stage: {stages} (summed over actors)")
        if self.manifest:
            lines.append(f"store:     {self.manifest}")
        if self.quicklook:
            lines.append(f"quicklook: {self.quicklook}")
        for d in self.discontinuities:
            lines.append(f"break:     {d['kind']} between {d['before']} and {d['after']}: {d['detail']}")
        for w in self.warnings:
            lines.append(f"warning:   {w}")
        for f in self.failures:
            where = f.get("file") or ""
            chunk = f" chunk {f['chunk']}" if f.get("chunk") else ""
            lines.append(f"FAILED:    [{f['stage']}] {where}{chunk}: {f['error']}")
        return "\n".join(lines)


def _failure(stage: str, error: BaseException, file: str = "", chunk: str = "") -> dict:
    cause = getattr(error, "cause", None) or error
    if isinstance(cause, FormatError):
        file = file or cause.path
    message = str(cause) if isinstance(cause, RaydasError) else f"{type(cause).__name__}: {cause}"
    return redact({"stage": stage, "file": file, "chunk": chunk,
                   "error": message.strip().splitlines()[-1] if message else ""})


# --- Ray connection ------------------------------------------------------------------
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
        ray.init(address="local", num_cpus=options.num_cpus, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    return True


def choose_device(requested: str) -> str:
    """'gpu' when asked, or when 'auto' and the cluster has a GPU now; else 'cpu'."""
    import ray

    if requested != "auto":
        return requested
    return "gpu" if ray.cluster_resources().get("GPU", 0) >= 1 else "cpu"


def actor_layout(options, device: str) -> tuple[int, dict, float]:
    """How many processor actors, their Ray options, and the CPUs per ingest task."""
    import ray

    resources = ray.cluster_resources()
    cpus = float(resources.get("CPU", 1))
    if device == "gpu":
        n = options.num_actors or max(1, int(resources.get("GPU", 1)))
        actor_opts = {"num_gpus": 1, "num_cpus": options.actor_cpus}
    else:
        n = options.num_actors or max(1, int(cpus // options.actor_cpus))
        actor_opts = {"num_cpus": options.actor_cpus}
    spare = cpus - n * options.actor_cpus
    ingest_cpus = 0.5 if spare >= 0.5 else 0.0  # never wait for CPUs the actors hold
    return n, actor_opts, ingest_cpus


# --- the driver ------------------------------------------------------------------------
class Run:
    """One run of raydas: ``mode`` is 'run' (ingest + process), 'ingest'
    (fill the chunk store) or 'process' (read the store, process)."""

    def __init__(self, config: RunConfig, mode: str = "run", progress: bool = True, resume: bool = True):
        if mode not in ("run", "ingest", "process"):
            raise ValueError(f"unknown mode {mode!r}")
        self.config = config
        self.mode = mode
        self.progress = progress
        self.resume = resume
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

    def scan(self) -> list:
        records, failures = formats.scan(self._input_spec(), self.config.format)
        for exc in failures:
            self.report.failures.append(_failure("scan", exc, file=exc.path))
        self.report.files = len({r.path for r in records}) + len(failures)
        records = [self._override_rate(r) for r in records]
        self.report.records = len(records)
        return records

    def _override_rate(self, record):
        rate = self.config.sample_rate
        if rate is None and self.config.assumed_sample_rate and record.format == "distpy-npy":
            rate = self.config.assumed_sample_rate
        if rate is not None:
            record.dt = 1.0 / rate
        return record

    def plan(self, records) -> list[ChunkPlan]:
        recordings, breaks = assemble(records)
        self.report.discontinuities = [d.summary() for d in breaks]
        halo_for = self.pipeline.halo if self.pipeline is not None else (lambda fs: 0)
        return plan_chunks(recordings, self.config.chunk_seconds, halo_for=halo_for)

    def _todo(self, plans: list[ChunkPlan]) -> tuple[list[ChunkPlan], list[ChunkPlan]]:
        """Split plans into (to do, already done) from the outputs that exist."""
        if not self.resume:
            return plans, []
        if self.mode == "ingest":
            writer = ChunkStoreWriter(self.config.store)
            expected = {p.index: [f"{p.stem}.npy"] for p in plans}
            existing = OutputSink(writer.url).existing([f for fs in expected.values() for f in fs])
        else:
            expected = {p.index: self.pipeline.outputs(p.stem) for p in plans}
            existing = OutputSink(self.config.output).existing([f for fs in expected.values() for f in fs])
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
                        rows, plans[0].positions, units=plans[0].units, gauge_length=plans[0].gauge_length)
            if self.config.ray.timeline and ray.is_initialized():
                OutputSink(self.config.output).write(self.config.ray.timeline, json.dumps(ray.timeline()).encode())
        finally:
            if started:
                ray.shutdown()
        if self.pipeline is not None and self.config.quicklook and plans:
            self._quicklook(plans)
        self.report.seconds = time.perf_counter() - t_start
        if self.report.failures:
            path = OutputSink(self.config.output).write(FAILURE_REPORT, json.dumps(
                {"failures": self.report.failures, "discontinuities": self.report.discontinuities,
                 "config": redact(self.config.model_dump(mode="json"))}, indent=2).encode())
            raise RunFailed(self.report.failures, path)
        return self.report

    def _drive(self, todo: list[ChunkPlan]) -> list[StoredChunk]:
        import ray

        ingest_chunk, ProcessorActor = _remote_pieces()
        opts = self.config.ray
        store = self.config.store if self.mode in ("ingest",) or (self.mode == "run" and self.config.store) else None
        actors: list = []
        if self.mode != "ingest":
            actors, ingest_cpus = self._start_actors(ProcessorActor)
        else:
            ingest_cpus = 1.0
        # CPU actors read their own chunks when nothing is persisted on the way: the chunk then goes
        # from page cache to the FFT without a copy into the object store and a task per chunk
        read_in_actor = bool(actors) and store is None and self.report.device == "cpu"
        window = opts.in_flight or max(2, 2 * max(1, len(actors)))
        load = [0] * len(actors)
        in_flight: dict[Any, tuple[ChunkPlan, int, Any]] = {}
        rows: list[StoredChunk] = []
        bar = _progress(len(todo), self.progress)
        queue = list(todo)
        try:
            while queue or in_flight:
                while queue and len(in_flight) < window:
                    plan = queue.pop(0)
                    if read_in_actor:
                        a = min(range(len(actors)), key=load.__getitem__)
                        load[a] += 1
                        in_flight[actors[a].read_and_process.remote(plan)] = (plan, a, None)
                        continue
                    chunk_ref, row_ref = ingest_chunk.options(num_cpus=ingest_cpus, num_returns=2).remote(
                        plan, store, bool(actors))
                    if actors:
                        a = min(range(len(actors)), key=load.__getitem__)
                        load[a] += 1
                        in_flight[actors[a].process.remote(chunk_ref)] = (plan, a, row_ref)
                    else:
                        in_flight[row_ref] = (plan, -1, row_ref)
                done, _ = ray.wait(list(in_flight), num_returns=1)
                for ref in done:
                    plan, a, row_ref = in_flight.pop(ref)
                    if a >= 0:
                        load[a] -= 1
                    self._collect(ref, plan, row_ref, rows)
                    bar.update(1)
                    bar.set_postfix_str(f"{self.report.bytes_processed / 1e6:.0f} MB")
        finally:
            bar.close()
        return rows

    def _start_actors(self, actor_class) -> tuple[list, float]:
        """Start this run's processor actors; returns them and the CPUs each ingest task asks for.

        Long-lived callers that run many short jobs (the benchmarks) override this to reuse warm actors.
        """
        opts = self.config.ray
        device = choose_device(opts.device)
        n, actor_opts, ingest_cpus = actor_layout(opts, device)
        actors = [actor_class.options(**actor_opts).remote(self.processing, self.processing_source, device,
                                                           self.config.output) for _ in range(n)]
        self.report.device, self.report.actors = device, n
        return actors, ingest_cpus

    def _collect(self, ref, plan: ChunkPlan, row_ref, rows: list[StoredChunk]) -> None:
        import ray

        try:
            result = ray.get(ref)
        except Exception as exc:  # the chunk failed: record it, the others go on
            stage = "process" if isinstance(getattr(exc, "cause", None), RaydasError) and \
                not isinstance(getattr(exc, "cause", None), FormatError) else "ingest"
            self.report.failures.append(_failure(stage, exc, file=";".join(plan.sources), chunk=plan.stem))
            return
        if isinstance(result, ChunkResult):
            self.report.chunks_done += 1
            self.report.outputs_written += len(result.outputs)
            for k, v in result.seconds.items():
                stage = "read" if k == "read" else ("write" if k in ("write_witsml", "write_npy", "thumbnail") else "compute")
                self.report.stage_seconds[stage] = self.report.stage_seconds.get(stage, 0.0) + v
            if row_ref is not None and self.config.store and self.mode == "run":
                row = ray.get(row_ref)
                if row is not None:
                    rows.append(row)
        else:  # ingest-only: the result is the manifest row
            self.report.chunks_done += 1
            self.report.outputs_written += 1
            rows.append(result)
        self.report.bytes_processed += 4 * plan.positions.shape[0] * (plan.stop - plan.start)

    def _describe_existing(self, done: list[ChunkPlan]) -> list[StoredChunk]:
        writer = ChunkStoreWriter(self.config.store)
        return [writer.describe_existing(p.stem, p.start_ns, p.dt, ";".join(p.sources)) for p in done]

    def _quicklook(self, plans: list[ChunkPlan]) -> None:
        from .quicklook import noise_log_quicklook

        try:
            self.report.quicklook = noise_log_quicklook(self.pipeline, self.config.output, [p.stem for p in plans])
        except RaydasError as exc:
            self.report.warnings.append(f"quicklook not drawn: {exc}")


class _NoProgress:
    def update(self, n):
        pass

    def set_postfix_str(self, s):
        pass

    def close(self):
        pass


def _progress(total: int, enabled: bool):
    if not enabled:
        return _NoProgress()
    from tqdm import tqdm

    interactive = sys.stderr.isatty()
    return tqdm(total=total, unit="chunk", desc="chunks", file=sys.stderr, dynamic_ncols=True,
                mininterval=0.1 if interactive else 5.0)


def run(config: RunConfig, mode: str = "run", progress: bool = True, resume: bool = True) -> RunReport:
    """Run raydas on a config (see :class:`Run`)."""
    return Run(config, mode=mode, progress=progress, resume=resume).execute()
