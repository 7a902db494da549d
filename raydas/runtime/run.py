"""One run of raydas: scan, plan, skip what is done, drive the rest, report.

::

    scan (formats, with the config's ScanOptions) -> plan chunks, name their
        outputs and check no two share a path -> skip chunks whose outputs the
        results manifest vouches for -> Driver (ingest tasks, processor actors),
        each output recorded in the results manifest -> chunk store manifest
        (ingest) -> the post-run steps the writers declare -> report (and
        failure report)

The run knows no format: records come from :func:`raydas.formats.scan`
(sources by URL scheme included), the chunk store is a
:class:`~raydas.formats.chunkstore.ChunkStore`, and the post-run steps are
what the pipeline's writers declare (:meth:`Pipeline.after_run`).

Its lifecycle is public, so that ``raydas watch`` drives a run the same way
:meth:`Run.execute` does::

    with run.session(total) as driver:   # connect to Ray, start the actors
        driver.submit(plan) ...; driver.drain()
    report = run.finish()                # failure report; raises RunFailed
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
import os
import posixpath
import sys
import time
from collections.abc import Callable, Iterator

from .. import formats
from ..config import RunConfig, numeric_settings
from ..configfile import load_json
from ..errors import ConfigError, FormatError, PlanError, RaydasError, RunFailed
from ..formats.base import AXES, RecordInfo
from ..formats.chunkstore import ChunkStore, StoredChunk
from ..fsutil import url_to_fs
from ..geometry import read_geometry
from ..identity import OutputLayout, check_unique, name_outputs, pick_shared_writers
from ..manifest import (
    OUTPUT_MISSING,
    ManifestWriter,
    ResultsManifest,
    RunProvenance,
    graph_digest,
    judge,
    new_run_id,
    settings_json,
)
from ..outputs import OutputSink
from ..pipeline import Pipeline
from ..recording import ChunkPlan, Recording, assemble, plan_chunks
from ..timeutil import to_iso
from . import cluster, cost
from .actors import ActorPool, ProcessorSetup
from .driver import Driver
from .progress import Progress
from .reduce import NOT_IN_CHECKPOINT, RunStacks
from .report import FAILURE_REPORT, Failure, ProcessedChunk, RunReport

#: how the warning about assumed coordinates starts (RecordInfo.assumed)
ASSUMED_WARNING = "assumed, not read from the file:"
#: longest wait for workers to report their last task events to ray.timeline() (s)
TASK_EVENTS_FLUSH_S = 6.0


class Mode(enum.StrEnum):
    """What a run does with its chunks."""

    #: ingest and process (and fill the chunk store on the way when the config names one)
    RUN = "run"
    #: fill the chunk store from the input files; no processing
    INGEST = "ingest"
    #: process the chunk store (or the input) with the pipeline
    PROCESS = "process"

    @property
    def processes(self) -> bool:
        """True when chunks go through the pipeline."""
        return self is not Mode.INGEST

    def writes_store(self, store: str | None) -> bool:
        """True when chunks are written to the chunk store ``store`` on their way."""
        return self is Mode.INGEST or (self is Mode.RUN and bool(store))

    def reads_store(self, store: str | None) -> bool:
        """True when the chunks come from the chunk store ``store`` rather than the input."""
        return self is Mode.PROCESS and bool(store)


OnResult = Callable[[ChunkPlan, ProcessedChunk | StoredChunk | None, Failure | None], None]


class Run:
    """One run of raydas on a config.

    Parameters
    ----------
    config
        The run config.
    mode
        :class:`Mode` (or its value: ``"run"``, ``"ingest"``, ``"process"``).
    progress
        Show progress on stderr.
    resume
        ``"auto"`` (or True): skip chunks whose outputs the results manifest
        vouches for (same inputs, graph and settings); ``"never"`` (or False):
        recompute everything; None: as the config's ``resume`` says.
    on_result
        ``on_result(plan, outcome, failure)``, called on the driver for every
        chunk, in chunk order, as soon as it and all chunks before it are done.
    sample_memory
        Sample object-store and driver memory (peaks in the report).
    actors
        Processor actors to use instead of the cluster's (a warm pool kept by
        the caller across runs; the run stops only actors the pool started).
    records
        The records to run instead of scanning the input: a
        :class:`~raydas.catalogue.Selection` (``Catalogue(url).select(start, end)``;
        only the chunks overlapping its span run) or a list of
        :class:`~raydas.formats.base.RecordInfo`. A config with ``catalogue``,
        ``start`` and ``end`` selects them itself.

    Raises
    ------
    ConfigError
        When the processing config is missing or invalid (before any work).
    """

    def __init__(
        self,
        config: RunConfig,
        mode: Mode | str = Mode.RUN,
        progress: bool = True,
        resume: bool | str | None = None,
        on_result: OnResult | None = None,
        sample_memory: bool = True,
        actors: ActorPool | None = None,
        records=None,
    ):
        try:
            self.mode = Mode(mode)
        except ValueError:
            raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(m.value for m in Mode)}") from None
        if self.mode is Mode.INGEST and not config.store:  # ingest fills 'store', else 'output' (distpy's layout)
            config = config.model_copy(update={"store": config.output})
        self.config = _with_absolute_local_paths(config)
        self.progress = progress
        self.resume = resume_mode(resume, self.config.resume)
        self.on_result = on_result
        self.sample_memory = sample_memory
        self.actors = actors
        self.driver: Driver | None = None
        self.report = RunReport(output=self.config.output, nan_policy=self.config.nan_policy, resume=self.resume)
        self.manifest: ManifestWriter | None = None  # the results manifest's writer, during a session
        self._provenance: RunProvenance | None = None
        self._layout: OutputLayout | None = None
        self._assumed: dict[tuple[str, ...], list[str]] = {}  # assumed coordinates -> the records that assumed them
        self.processing: dict | None = None
        self.processing_source: str | None = None
        self.pipeline: Pipeline | None = None
        self._inputs_loaded = False
        self.given = records
        self.span: tuple[int, int] | None = None
        self.stacks: RunStacks | None = None  # a reducing graph's stacks (stack_chunks), once planned
        self._planned: list[ChunkPlan] = []  # every chunk of the run (done or to do), once planned
        self.scan_options = formats.ScanOptions(
            format=self.config.format,
            sample_rate=self.config.sample_rate,
            assumed_sample_rate=self.config.assumed_sample_rate,
            **self._geometry_options(),
        )
        if self.mode.processes:
            self._load_processing()

    def _geometry_options(self) -> dict:
        """The channel geometry table the config names, read and checked once here (a
        damaged table refuses the run before any work, naming its file and line)."""
        if self.config.geometry is None:
            return {}
        table = read_geometry(self.config.geometry.file)
        return {"geometry": table, "first_channel": self.config.geometry.first_channel}

    def _load_processing(self) -> None:
        proc = self.config.processing
        if proc is None:
            raise ConfigError("$.processing", "no processing config given (distpy system configs name it in 'config')")
        if isinstance(proc, str):
            self.processing_source = proc
            proc = load_json(proc)
        self.processing = proc
        self.pipeline = Pipeline.from_config(proc, source=self.processing_source, log_warnings=False)  # in the summary
        self.report.warnings.extend(self.pipeline.warnings)

    @property
    def store(self) -> ChunkStore | None:
        """The chunk store this run writes chunks to, or None."""
        return ChunkStore(self.config.store) if self.mode.writes_store(self.config.store) else None

    # scanning and planning ---------------------------------------------------------------
    def input_spec(self) -> str | list[str]:
        """What the run reads: the chunk store (``process`` with a store) or the input."""
        return self.config.store if self.mode.reads_store(self.config.store) else self.config.input

    def scan(self, spec: str | list[str] | None = None) -> list[RecordInfo]:
        """Scan ``spec`` (default: :meth:`input_spec`); files that fail are recorded in the report.

        With records given (or a config naming a catalogue and a span) and no
        ``spec``, nothing is scanned: those records are returned."""
        if spec is None and not self.mode.reads_store(self.config.store):
            if self.given is None and self.config.catalogue:
                from ..catalogue import Catalogue

                self.given = Catalogue(self.config.catalogue).select(self.config.start, self.config.end)
            if self.given is not None:
                return self._given_records()
        records, failures = formats.scan(self.input_spec() if spec is None else spec, self.scan_options)
        for exc in failures:
            self.report.failures.append(Failure.from_error("scan", exc, file=exc.path))
        self.report.files += len({r.path for r in records}) + len(failures)
        self.report.records += len(records)
        self.note_assumed(records)
        return records

    def _given_records(self) -> list[RecordInfo]:
        """The records given (a catalogue's selection): counted in the report, the
        selection's gaps, overlaps and unreadable files noted as warnings."""
        given = self.given
        # the config's sample-rate overrides apply as to scanned records (on copies: the selection stays as it is)
        records = [self.scan_options.apply(dataclasses.replace(r)) for r in getattr(given, "records", given)]
        if hasattr(given, "span"):
            self.span = given.span
            for hole in given.gaps + given.overlaps:
                self.report.warnings.append(
                    f"catalogue: {hole.kind} of {hole.seconds:.6g} s from {to_iso(hole.start_ns)} to "
                    f"{to_iso(hole.end_ns)}" + (f" in stream {hole.stream!r}" if hole.stream else "")
                )
            if given.unreadable:
                self.report.warnings.append(
                    f"catalogue: {len(given.unreadable)} catalogued file(s) could not be scanned when indexed "
                    f"(they may hold data in the span): " + ", ".join(u["path"] for u in given.unreadable[:5])
                )
        self.report.files += len({r.path for r in records})
        self.report.records += len(records)
        return records

    def scan_file(self, url: str) -> list[RecordInfo]:
        """Scan one file (``raydas watch``: a file that arrived); a failure is recorded
        in the report and gives no records."""
        try:
            records = formats.scan_file(url, self.scan_options)
        except FormatError as exc:
            self.report.failures.append(Failure.from_error("scan", exc, file=url))
            return []
        self.report.files += 1
        self.report.records += len(records)
        self.note_assumed(records)
        return self.servable(records)

    def servable(self, records: list[RecordInfo]) -> list[RecordInfo]:
        """The records the pipeline can serve (:meth:`Pipeline.check_record`); each of the
        others is a failure (stage ``plan``, its file and the reason), before any work.
        Without a pipeline (``ingest`` into the chunk store, which holds regular series),
        a record with its own irregular time stamps is such a failure too."""
        if self.pipeline is None:
            kept = []
            for record in records:
                if record.regular:
                    kept.append(record)
                    continue
                exc = PlanError(
                    record.path,
                    f"its {record.n_samples} readings carry their own time stamps; the chunk store holds regularly "
                    "sampled series and raydas does not invent a regular rate for them",
                )
                self.report.failures.append(Failure.from_error("plan", exc, file=record.path))
            return kept
        if not self._inputs_loaded:  # a saved model the graph reads, so that chunks are checked against it
            self.pipeline.load_inputs(OutputSink(self.config.output))
            self._inputs_loaded = True
        kept = []
        for record in records:
            try:
                self.pipeline.check_record(record)
            except PlanError as exc:
                self.report.failures.append(Failure.from_error("plan", exc, file=exc.path))
                continue
            for warning in self.pipeline.quantity_warnings(record):
                self.warn(warning)
            kept.append(record)
        return kept

    def _servable_chunks(self, recordings: list[Recording], plans: list[ChunkPlan]) -> list[ChunkPlan]:
        """The planned chunks the pipeline can serve; a chunk too short for it (the last
        of a recording, say, for a command that needs so many samples) is a failure
        (stage ``plan``) and the others run."""
        if self.pipeline is None:
            return plans
        problems: dict[tuple[int, int], PlanError | None] = {}
        kept = []
        for plan in plans:
            key = (plan.recording_index, plan.stop - plan.start)
            if key not in problems:
                rec = recordings[plan.recording_index]
                try:
                    whole = dataclasses.replace(rec.first, n_samples=rec.n_samples)
                    self.pipeline.check_record(whole, chunk_samples=key[1])
                    problems[key] = None
                except PlanError as exc:
                    problems[key] = exc
            if problems[key] is None:
                kept.append(plan)
            else:
                self.report.failures.append(Failure.of_chunk("plan", problems[key], plan))
        return kept

    def note_assumed(self, records: list[RecordInfo]) -> None:
        """Warn, once per record, of the axes (start time, positions, sample rate) it
        assumed rather than read (:attr:`RecordInfo.assumed`; units and gauge length
        show in ``raydas scan`` and the results manifest): one warning per set of
        axes, naming its records."""
        for record in records:
            axes = tuple(a for a in record.assumed if a in AXES)
            if axes:
                named = self._assumed.setdefault(axes, [])
                name = posixpath.basename(record.path.rstrip("/")) + (f" [{record.stream}]" if record.stream else "")
                if name not in named:
                    named.append(name)
        self.report.warnings = [w for w in self.report.warnings if not w.startswith(ASSUMED_WARNING)]
        for assumed, names in self._assumed.items():
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            self.report.warnings.append(f"{ASSUMED_WARNING} {', '.join(assumed)} for {len(names)} record(s): {shown}")

    def halo_for(self, sample_rate: float) -> int:
        """Halo samples each chunk needs on each side at ``sample_rate`` (Hz)."""
        return self.pipeline.halo_samples(sample_rate) if self.pipeline is not None else 0

    def plan(self, records: list[RecordInfo]) -> list[ChunkPlan]:
        """Chunks of the recordings ``records`` make up (breaks noted in the report), each
        with its output identity; every mode plans here, so every mode is checked. A record
        or chunk the graph cannot serve is a failure (stage ``plan``) and the others go on.

        Raises
        ------
        PlanError
            When two planned outputs would share a path (before any work).
        """
        recordings, breaks = assemble(self.servable(records))
        self.report.discontinuities = [d.to_dict() for d in breaks]
        plans = plan_chunks(
            recordings, self.config.chunk_seconds, halo_for=self.halo_for, chunk_readings=self.config.chunk_readings
        )
        if self._layout is None:
            self._layout = OutputLayout.for_inputs(self.config.output_layout, self.input_spec() or [])
        for warning in name_outputs(plans, recordings, self._layout):
            self.warn(warning)
        if self.span is not None:  # a catalogue's span: the chunks that overlap it
            lo, hi = self.span
            plans = [p for p in plans if p.start_ns < hi and p.end_ns > lo]
        plans = self._servable_chunks(recordings, plans)
        pick_shared_writers(plans)  # among the chunks that run
        check_unique(plans, self.expected_outputs)
        return plans

    def warn(self, text: str) -> None:
        """Note a warning in the report (once)."""
        if text not in self.report.warnings:
            self.report.warnings.append(text)

    def expected_outputs(self, plan: ChunkPlan) -> list[str]:
        """Files (relative to :meth:`outputs_root`) the chunk ``plan`` leaves when done."""
        if not self.mode.processes:
            return self.store.files(plan.output_id)
        return self.pipeline.output_files(plan.output_id, plan.writes_shared, plan.stamped)

    def outputs_root(self) -> str:
        """Where :meth:`expected_outputs` lie: the chunk store (ingest) or the results root."""
        return self.config.store if not self.mode.processes else self.config.output

    @property
    def provenance(self) -> RunProvenance:
        """This run's graph and settings digests, and the states of its input files."""
        if self._provenance is None:
            self._provenance = RunProvenance(graph_digest(self.pipeline), settings_json(numeric_settings(self.config)))
        return self._provenance

    def split_done(self, plans: list[ChunkPlan]) -> tuple[list[ChunkPlan], list[ChunkPlan]]:
        """Split plans into (to do, already done): a chunk is done when every output it
        leaves exists and the results manifest says it was made from the same inputs,
        graph and settings, and, for a graph with ``stack_chunks``, it lies in an
        adopted checkpoint segment. A chunk redone although it had outputs (on disk or
        in the manifest) is counted in the report's ``redone``, by reason. With
        ``resume`` "never", all are to do."""
        if self.resume == "never":
            return plans, []
        expected = {id(p): self.expected_outputs(p) for p in plans}
        sizes = OutputSink(self.outputs_root()).sizes([f for fs in expected.values() for f in fs])
        rows = ResultsManifest(self.outputs_root()).rows()
        todo, done = [], []
        for p in plans:
            files = expected[id(p)]
            if files or self.stacks is None:
                reason = judge(self.provenance.of(p), files, rows, sizes)
            else:
                reason = None  # a reducing graph's chunk may leave no file of its own
            if reason is None and self.stacks is not None and not self.stacks.sealed(p):
                reason = NOT_IN_CHECKPOINT  # its part of a stack lies in no checkpoint
            if reason is None:
                done.append(p)
                continue
            todo.append(p)
            if reason not in (OUTPUT_MISSING, NOT_IN_CHECKPOINT) or any(f in sizes or f in rows for f in files):
                self.report.redone[reason] = self.report.redone.get(reason, 0) + 1  # not new: redone
        return todo, done

    def _note_stale_outputs(self) -> None:
        """After the run: warn about outputs in this graph's output folders that an earlier
        run made with another graph or other settings and that this run did not write again
        (their records failed, or are no longer among the inputs, or their stack's day is
        not in this run): they are left in place, and named here so that they are never
        taken for this run's results. Read from the results manifest, whose latest row of
        each file says which run wrote it."""
        if not self.mode.processes or self.pipeline is None:
            return
        folders = {folder.rstrip("/") + "/" for folder in self.pipeline.writer_folders().values()}
        if not folders:
            return
        settings = self.provenance.settings_digest
        rows = ResultsManifest(self.outputs_root()).rows()
        stale = sorted(
            path
            for path, row in rows.items()
            if any(path.startswith(folder) for folder in folders)
            and (row.get("graph_digest") != self.provenance.graph_digest or row.get("settings_digest") != settings)
        )
        if stale:
            self.warn(
                f"{len(stale)} output file(s) in this graph's folders were made by an earlier run with another graph "
                f"or settings and were not written again by this run (their inputs failed or are not in this run), "
                f"e.g. {stale[0]}; the results manifest has their provenance"
            )

    def _record(self, plan: ChunkPlan, outcome: ProcessedChunk | StoredChunk | None, failure: Failure | None) -> None:
        """The driver's ``on_result``: note the chunk's outputs in the results manifest, then
        call the caller's ``on_result``."""
        if failure is None and outcome is not None and self.manifest is not None:
            if isinstance(outcome, ProcessedChunk):
                files, sizes = outcome.result.written, outcome.result.sizes
            else:  # ingest: the stored chunk
                files = self.store.files(plan.output_id)
                sizes = dict.fromkeys(files, outcome.size)
            self.manifest.add(self.provenance.of(plan), files, sizes)
        if self.on_result is not None:
            self.on_result(plan, outcome, failure)

    def check_outputs(self, plans: list[ChunkPlan]) -> None:
        """Before any work (and before listing what exists): every output path of
        ``plans`` fits its store, and the results root (and the chunk store) is
        written to once, a probe.

        Raises
        ------
        PlanRefused
            When a root cannot be written or a path is too long.
        """
        root = self.outputs_root()
        cost.check_output_paths(root, [f for plan in plans for f in self.expected_outputs(plan)])
        for where in dict.fromkeys([root, self.config.output]):
            cost.probe_writable(where)

    def preflight(self, plans: list[ChunkPlan]) -> cost.PlanCost:
        """Before any work on ``plans`` (the chunks still to do): the plan's cost
        (chunks, bytes read, estimated bytes written, a processor actor's memory for
        the largest chunk and its halo) is stated (in the report; on stderr with
        progress) and checked against the run's limits, and no command's window is
        longer than the data it slides over.

        Raises
        ------
        PlanRefused
            When a window is too long or the cost exceeds a limit (the message has the numbers).
        """
        root = self.outputs_root()
        pipeline = self.pipeline if self.mode.processes else None
        estimate = cost.limits(cost.estimate(plans), self.config, root)
        if pipeline is not None:  # windows and memory first: the output estimate runs the pipeline
            cost.check_windows(plans, pipeline)
            cost.check_memory(estimate, plans, pipeline)
        else:
            estimate.actor_limit = None  # no processor actors: ingest tasks hold a chunk, not a pipeline's copies
        cost.estimate_outputs(estimate, plans, pipeline, self.config.output, self.mode.writes_store(self.config.store))
        self.report.plan = estimate.line()
        if self.progress:
            print(f"raydas: plan: {self.report.plan}", file=sys.stderr, flush=True)
        cost.check_output(estimate)
        return estimate

    # the lifecycle ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def session(self, total: int = 0) -> Iterator[Driver]:
        """Connect to Ray, start (or borrow) the processor actors and a :class:`Driver`
        for ``total`` chunks (more may be added to its progress later).

        On leaving without an error, Ray's timeline is saved when asked (before
        the actors stop: their last task events are still to come); then the
        actors stop and the Ray this session started stops.
        """
        started_at = time.time()
        self.manifest = ManifestWriter(self.outputs_root())
        connection = cluster.connect(self.config.ray)
        if connection.how == "attached":
            self.report.ray = connection.describe()
            print(f"raydas: {connection.describe()}", file=sys.stderr, flush=True)
        bar = None
        try:
            pool = None
            if self.mode.processes:
                pool = self.actors or ActorPool.for_cluster(self.config.ray)
                if pool.borrowed and connection.how == "attached":
                    self.report.ray += f", {pool.borrowed} warm processor actor(s)"
            bar = Progress(total, enabled=self.progress)
            self.driver = Driver(
                self.report,
                pool,
                self._setup() if pool is not None else None,
                store=self.store,
                in_flight=self.config.ray.in_flight,
                progress=bar,
                on_result=self._record,
                sample_memory=self.sample_memory,
                stacks=self.stacks.keeper if self.stacks is not None else None,
            )
            try:
                yield self.driver
                # on a Ray shared with other runs (attached), the timeline keeps this run's events only
                self._save_timeline(since=started_at if connection.how == "attached" else None)
            finally:
                self.driver.close()
        finally:
            if bar is not None:
                bar.close()
                self.report.processing_seconds += bar.seconds
            connection.close()
            self._close_manifest()

    def _close_manifest(self) -> None:
        """Flush and merge the results manifest; a failure to do so is a warning (the
        outputs stand; the next run recomputes those it cannot vouch for)."""
        try:
            self.report.results_manifest = self.manifest.close()
        except (OSError, RaydasError) as exc:
            self.warn(f"results manifest not completed under {self.outputs_root()}: {exc}")

    def _setup(self) -> ProcessorSetup:
        return ProcessorSetup(
            self.processing,
            self.processing_source,
            self.config.output,
            nan_policy=self.config.nan_policy,
            reduce_key=self.stacks.reduce_key if self.stacks is not None else "",
        )

    def drive(self, plans: list[ChunkPlan]) -> list[StoredChunk]:
        """Send ``plans`` through ingest and the actors (a :meth:`session`); returns
        the chunk-store rows written (ingest, or a run that stores its chunks)."""
        with self.session(len(plans)) as driver:
            for plan in plans:
                driver.submit(plan)
            driver.drain()
            if self.stacks is not None:  # with the actors and Ray still up: last checkpoints, the merge
                driver.seal_stacks()
                self.stacks.finish(self._planned, self.report, self.manifest)
        return driver.rows

    def execute(self) -> RunReport:
        """Scan, plan and process; returns the report (raises RunFailed if anything failed)."""
        t_start = time.perf_counter()
        records = self.scan()
        plans = self.plan(records) if records else []
        if plans:
            self.check_outputs(plans)
        self._planned = plans
        if plans and self.mode.processes and self.pipeline.reducers:
            self.stacks = RunStacks(self.pipeline, self.outputs_root(), self.provenance, new_run_id())
            self.stacks.prepare(plans)
        todo, done = self.split_done(plans)
        self.report.chunks_total = len(plans)
        self.report.chunks_skipped = len(done)
        if todo:
            self.preflight(todo)
        rows = self.drive(todo) if todo else []
        if self.stacks is not None and not todo:  # every chunk in a checkpoint: the stacks from them alone
            self._finish_stacks_alone()
        store = self.store
        if store is not None:
            rows += [
                store.describe_existing(p.output_id, p.start_ns, p.dt, ";".join(p.sources), p.assumed) for p in done
            ]
            if rows and plans:
                depths = {posixpath.dirname(p.output_id): p.positions for p in plans}
                self.report.manifest = store.finish(
                    rows, depths, units=plans[0].units, gauge_length=plans[0].gauge_length
                )
        if self.pipeline is not None and self.config.quicklook and plans:
            self._after_run(plans)
        if plans:
            self._note_stale_outputs()
        self.report.seconds = time.perf_counter() - t_start
        return self.finish()

    def _finish_stacks_alone(self) -> None:
        """Write the stacks of a run whose chunks all lie in checkpoints (no session: merged here)."""
        manifest = ManifestWriter(self.outputs_root())
        try:
            self.stacks.finish(self._planned, self.report, manifest)
        finally:
            self.manifest = manifest
            self._close_manifest()

    def _after_run(self, plans: list[ChunkPlan]) -> None:
        """The post-run steps the pipeline's writers declare (the noise log's quick-look)."""
        try:
            drawn = self.pipeline.after_run(
                OutputSink(self.config.output),
                [p.output_id for p in plans],
                spans=[(p.start_ns, p.end_ns) for p in plans],
            )
        except RaydasError as exc:
            self.report.warnings.append(f"quicklook not drawn: {exc}")
            return
        self.report.quicklook = drawn[0] if drawn else None

    def finish(self) -> RunReport:
        """Write (or clear) the failure report beside the outputs; raise RunFailed if anything failed."""
        sink = OutputSink(self.config.output)
        if self.report.failures:
            document = self.report.failure_document(self.config.model_dump(mode="json"))
            path = sink.write(FAILURE_REPORT, json.dumps(document, indent=2).encode())
            raise RunFailed(self.report.failures, path, report=self.report)
        stale = sink.url(FAILURE_REPORT)
        try:  # a clean rerun removes the report of an earlier failed run
            fs, p = url_to_fs(stale)
            if fs.exists(p):
                fs.rm(p)
        except OSError:
            pass
        return self.report

    def _save_timeline(self, since: float | None = None) -> None:
        """Write Ray's Chrome-trace timeline of this run, when asked (``ray.timeline`` / ``--timeline``),
        as that file under the results root; only events from ``since`` on (wall clock, s) when given."""
        import ray

        target = self.config.ray.timeline
        if not target or not ray.is_initialized():
            return
        with cluster.quiet_ray_notice(cluster.TIMELINE_NOTICE_LOGGER):
            events = ray.timeline()
            deadline = time.monotonic() + TASK_EVENTS_FLUSH_S
            while time.monotonic() < deadline:  # workers report their task events about once a second
                time.sleep(1.0)
                later = ray.timeline()
                if len(later) == len(events):
                    break
                events = later
        if since is not None:
            events = [e for e in events if e.get("ts", 0) >= since * 1e6]
        self.report.timeline = OutputSink(self.config.output).write(target, json.dumps(events).encode())


def resume_mode(resume: bool | str | None, configured: str = "auto") -> str:
    """``"auto"`` or ``"never"`` from a ``resume`` argument (True/False, the mode, or
    None for the ``configured`` one)."""
    if resume is None:
        return configured
    if isinstance(resume, bool):
        return "auto" if resume else "never"
    if resume not in ("auto", "never"):
        raise ValueError(f"resume must be 'auto' or 'never', not {resume!r}")
    return resume


def _with_absolute_local_paths(config: RunConfig) -> RunConfig:
    """``config`` with its local relative paths made absolute against this process's folder.

    The processor actors of a Ray already running on this machine (``raydas up``)
    work in another folder. Not when the run goes to a cluster by address
    (``RAY_ADDRESS``, ``ray job submit``): there every node resolves relative
    paths in the job's working dir.
    """
    address = config.ray.address or os.environ.get("RAY_ADDRESS")
    if address not in (None, "", "auto", "local"):
        return config

    def absolute(path):
        if isinstance(path, list):
            return [absolute(p) for p in path]
        if not isinstance(path, str) or "://" in path or os.path.isabs(path):
            return path
        return os.path.abspath(path)

    geometry = config.geometry and config.geometry.model_copy(update={"file": absolute(config.geometry.file)})
    return config.model_copy(
        update={
            "input": absolute(config.input),
            "output": absolute(config.output),
            "store": absolute(config.store),
            "geometry": geometry,
            "catalogue": absolute(config.catalogue),
        }
    )


def run(
    config: RunConfig,
    mode: Mode | str = Mode.RUN,
    progress: bool = True,
    resume: bool | str | None = None,
    on_result: OnResult | None = None,
    records=None,
) -> RunReport:
    """Run raydas on a config: scan the input, cut it into chunks, process them on Ray, write the results.

    Ray is the one at ``config.ray.address`` or ``RAY_ADDRESS``, else the one
    running on this machine (``raydas up``), else a private one started and
    stopped here (:mod:`raydas.runtime.cluster`); in a process already
    connected to Ray, that one.

    Parameters
    ----------
    config
        The run config (:func:`raydas.load_config`).
    mode, progress, resume, on_result, records
        As for :class:`Run`: ``records`` is what to run instead of scanning the input, e.g.
        ``raydas.Catalogue(url).select(start, end)`` (then only chunks inside its span run).

    Returns
    -------
    RunReport
        What was done, how long each stage took, and what failed.

    Raises
    ------
    RunFailed
        When a file or chunk failed (the others still ran), with the failures and
        the path of the failure report written beside the outputs.

    Examples
    --------
    Two seconds of eight channels written as SEG-Y, run in one-second chunks
    through a graph that writes each chunk's absolute values as ``.npy``, on a
    private Ray of one CPU:

    >>> import numpy as np
    >>> import raydas
    >>> data = np.full((8, 1000), -2.0, dtype=np.float32)  # 8 channels, 2 s at 500 Hz
    >>> chunk = raydas.Chunk(data, data_start_ns=1_700_000_000 * 10**9, dt=0.002, positions=2.0 * np.arange(8))
    >>> raydas.formats.write(chunk, "example.sgy")
    ['example.sgy']
    >>> config = raydas.load_config(
    ...     {
    ...         "input": "example.sgy",
    ...         "output": "results",
    ...         "chunk_seconds": 1.0,
    ...         "processing": {
    ...             "command_list": [
    ...                 {"name": "abs", "uid": 1, "in_uid": 0},
    ...                 {"name": "write_npy", "uid": 2, "in_uid": 1, "directory_out": "abs"},
    ...             ]
    ...         },
    ...         "ray": {"num_cpus": 1},
    ...     }
    ... )

    Every file written is counted: two chunk files and their folder's
    ``measured_depth.npy`` and ``time.npy``:

    >>> report = raydas.run(config, progress=False)
    >>> report.files, report.chunks_done, report.outputs_written, report.failures
    (1, 2, 4, [])

    A re-run skips the chunks whose outputs exist:

    >>> again = raydas.run(config, progress=False)
    >>> again.chunks_done, again.chunks_skipped
    (0, 2)
    """
    return Run(config, mode=mode, progress=progress, resume=resume, on_result=on_result, records=records).execute()
