"""What a run did: the :class:`RunReport` (printed by the CLI, returned to
Python callers), its typed :class:`Failure` entries, what a processor actor
returns for one chunk (:class:`ProcessedChunk`), and the JSON failure report
written beside the outputs (:data:`FAILURE_REPORT`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..config import redact
from ..errors import FormatError, RaydasError
from ..fsutil import FAILURE_REPORT  # noqa: F401  (re-exported as raydas.runtime.FAILURE_REPORT)
from ..pipeline import ChunkResult, NonFinite
from ..recording import ChunkPlan
from ..timeutil import to_iso

#: the stages of a chunk's life, in the order they happen (RunReport.stage_seconds keys)
STAGES = ("ingest", "queue", "compute", "write")


@dataclass(frozen=True)
class Failure:
    """One thing that failed: a file's scan, or a chunk's ingest or processing.

    Attributes
    ----------
    stage
        ``"scan"``, ``"plan"`` (a record or chunk the processing graph cannot
        serve, found before any work), ``"ingest"``, ``"process"`` or ``"stack"``
        (a stack is short of chunks that ran).
    file
        The file at fault (``;``-separated when a chunk spans several and the
        error does not say which one); ``""`` when no file is to blame.
    chunk
        The chunk's output identity (``<recording>/<unixtime>``, or the unix time
        alone in distpy's layout), ``""`` for a scan failure.
    error
        The last line of the error message, credentials redacted.
    chunk_start
        UTC time of the chunk's first own sample (ISO 8601), None for a scan failure.
    chunk_seconds
        Duration of the chunk's own samples (s), None for a scan failure.
    """

    stage: str
    file: str
    chunk: str
    error: str
    chunk_start: str | None = None
    chunk_seconds: float | None = None

    @classmethod
    def from_error(
        cls, stage: str, error: BaseException, file: str = "", chunk: str = "", plan: ChunkPlan | None = None
    ) -> Failure:
        """The failure ``error`` (a Ray task error unwrapped to its cause) stands for."""
        cause = getattr(error, "cause", None) or error
        if isinstance(cause, FormatError):
            file = cause.path  # the one file at fault, even when the chunk spans several
        message = str(cause) if isinstance(cause, RaydasError) else f"{type(cause).__name__}: {cause}"
        entry = {
            "stage": stage,
            "file": file,
            "chunk": chunk,
            "error": message.strip().splitlines()[-1] if message else "",
        }
        if plan is not None:
            entry["chunk_start"] = to_iso(plan.start_ns)
            # readings at their own times: the span of their stamps, not a count times dt
            own = plan.stop - plan.start
            entry["chunk_seconds"] = (plan.end_ns - plan.start_ns) / 1e9 if plan.stamped else own * plan.dt
        return cls(**redact(entry))

    @classmethod
    def of_chunk(cls, stage: str, error: BaseException, plan: ChunkPlan) -> Failure:
        """The failure of one chunk: its files, stem and span."""
        return cls.from_error(stage, error, file=";".join(plan.sources), chunk=plan.output_id or plan.stem, plan=plan)

    def to_dict(self) -> dict:
        """The entry of the JSON failure report (the chunk's span only for chunk failures)."""
        entry = asdict(self)
        if self.chunk_start is None:
            del entry["chunk_start"], entry["chunk_seconds"]
        return entry

    def line(self) -> str:
        """One line for people: ``[stage] file chunk N: error``."""
        chunk = f" chunk {self.chunk}" if self.chunk else ""
        error = self.error.removeprefix(f"{self.file}: ") if self.file else self.error  # the file is named once
        return f"[{self.stage}] {self.file}{chunk}: {error}"


@dataclass
class ProcessedChunk:
    """What a processor actor returns for one chunk (small: it goes back to the driver).

    Attributes
    ----------
    result
        The pipeline's result (outputs written, seconds per command).
    ingest_wall
        Wall-clock start and end of reading the chunk (s since the epoch), None if unknown.
    start, end
        Wall-clock start and end of the processing call (s since the epoch).
    write_seconds
        Of the commands' seconds, those spent in writer commands (s).
    actor
        The incarnation of the processor actor that processed it (a token that
        changes when the actor restarts): where its part of a stack lies.
    """

    result: ChunkResult
    ingest_wall: tuple[float, float] | None
    start: float
    end: float
    write_seconds: float = 0.0
    actor: str = ""

    def stage_seconds(self, submitted: float) -> dict[str, float]:
        """Seconds in each of :data:`STAGES`, for a chunk submitted at ``submitted`` (wall clock, s)."""
        t0, t1 = self.ingest_wall or (submitted, submitted)
        ingest = t1 - t0
        commands = sum(self.result.seconds.values())
        return {
            "ingest": ingest,
            "queue": max(0.0, self.start - submitted - ingest),
            "compute": commands - self.write_seconds,
            "write": self.write_seconds,
        }


@dataclass
class RunReport:
    """What a run did (printed by the CLI, returned to Python callers).

    ``seconds`` is the whole run (scan, Ray's start, post-run steps included);
    ``processing_seconds`` the time from the start of processing to the last
    chunk done, over which the progress bar and the summary give throughput.
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
    processing_seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
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
    ray: str = ""
    plan: str = ""  # what the plan said it would cost, before it started
    nan_policy: str = "propagate"
    nonfinite_chunks: list[dict] = field(default_factory=list)
    resume: str = "auto"
    redone: dict[str, int] = field(default_factory=dict)
    results_manifest: str | None = None
    stacks: list[dict] = field(default_factory=list)  # finished stacks: uid, label, method, chunks, files
    stack_checkpoints: int = 0  # checkpoint segments the actors wrote
    chunks_restacked: int = 0  # chunks sent again to rebuild a partial stack lost with an actor

    @property
    def ok(self) -> bool:
        return not self.failures

    def add_nonfinite(self, plan: ChunkPlan, found: NonFinite) -> None:
        """Note a chunk that carried NaN or infinite samples of its own (``nonfinite_chunks``:
        the chunk's output id, files, samples, channels)."""
        if found.samples:
            self.nonfinite_chunks.append(
                {
                    "chunk": plan.output_id or plan.stem,
                    "file": ";".join(plan.sources),
                    "samples": found.samples,
                    "channels": list(found.channels),
                }
            )

    def nonfinite_line(self) -> str | None:
        """How many chunks, samples and channels were NaN/Inf, and what the policy did; None if none were."""
        if not self.nonfinite_chunks:
            return None
        samples = sum(c["samples"] for c in self.nonfinite_chunks)
        channels = len({ch for c in self.nonfinite_chunks for ch in c["channels"]})
        done = {"propagate": "results they reach are NaN", "zero": "set to 0 before processing"}.get(
            self.nan_policy, self.nan_policy
        )
        return (
            f"{len(self.nonfinite_chunks)} chunk(s) carried {samples} NaN/Inf sample(s) on {channels} channel(s) "
            f"(nan_policy {self.nan_policy}: {done})"
        )

    def stacks_line(self) -> str:
        """The finished stacks: how many, of how many chunks, and what recovery they needed."""
        by_uid: dict[int, list[dict]] = {}
        for s in self.stacks:
            by_uid.setdefault(s["uid"], []).append(s)
        parts = [
            f"stack_chunks uid {uid}: {len(items)} {items[0]['method']} stack(s) of {sum(s['chunks'] for s in items)} "
            f"chunk(s)"
            for uid, items in by_uid.items()
        ]
        files = sum(len(s["files"]) for s in self.stacks)
        line = "; ".join(parts) + f"; {files} file(s) written from them, {self.stack_checkpoints} checkpoint(s)"
        if self.chunks_restacked:
            line += f", {self.chunks_restacked} chunk(s) stacked again after their actor died"
        short = [s for s in self.stacks if not s["complete"]]
        if short:
            line += f"; {len(short)} stack(s) short of failed chunks"
        return line

    def add_stages(self, seconds: dict[str, float]) -> None:
        for name, value in seconds.items():
            self.stage_seconds[name] = self.stage_seconds.get(name, 0.0) + value

    def summary(self, failures: bool = True) -> str:
        """The run in a few lines for people: results, counts, time, memory, breaks, warnings
        and, unless ``failures`` is False (the CLI prints them on stderr), what failed."""
        lines = [
            f"results:   {self.output}",
            f"chunks:    {self.chunks_done} processed, {self.chunks_skipped} already done, {self.chunks_total} in all",
            f"inputs:    {self.files} file(s), {self.records} record(s)",
            *([f"plan:      {self.plan}"] if self.plan else []),
            f"outputs:   {self.outputs_written} file(s) written",
            f"time:      {self.seconds:.2f} s in all; {self._throughput()}"
            + (f" on {self.actors} {self.device} actor(s)" if self.actors else ""),
        ]
        if self.ray:
            lines.append(f"ray:       {self.ray}")
        if self.stage_seconds:
            stages = ", ".join(f"{k} {self.stage_seconds.get(k, 0.0):.2f} s" for k in STAGES)
            lines.append(f"stages:    {stages} (summed over chunks)")
        if self.peak_object_store_bytes is not None or self.peak_driver_rss_bytes:
            lines.append(f"memory:    {self._memory()}")
        if self.resume == "never":
            lines.append("resume:    never (every chunk recomputed)")
        if self.redone:
            why = ", ".join(f"{reason} {n}" for reason, n in self.redone.items())
            lines.append(f"redone:    {sum(self.redone.values())} chunk(s) whose outputs were not current ({why})")
        if self.chunks_resent:
            lines.append(f"recovered: {self.chunks_resent} chunk(s) re-sent after their actor died")
        if self.stacks:
            lines.append(f"stacks:    {self.stacks_line()}")
        if nonfinite := self.nonfinite_line():
            lines.append(f"non-finite: {nonfinite}")
        if self.latencies:
            lat = np.asarray(self.latencies)
            lines.append(
                f"latency:   arrival to outputs median {np.median(lat):.2f} s, max {lat.max():.2f} s "
                f"({lat.size} chunks)"
            )
        if self.manifest:
            lines.append(f"store:     {self.manifest}")
        if self.results_manifest:
            lines.append(f"manifest:  {self.results_manifest}")
        if self.quicklook:
            lines.append(f"quicklook: {self.quicklook}")
        if self.timeline:
            lines.append(f"timeline:  {self.timeline} (open in Perfetto or chrome://tracing)")
        for d in self.discontinuities:
            lines.append(f"break:     {d['kind']} between {d['before']} and {d['after']}: {d['detail']}")
        for w in self.warnings:
            lines.append(f"warning:   {w}")
        if failures:
            lines.extend(f"FAILED:    {f.line()}" for f in self.failures)
        return redact("\n".join(lines))  # paths, warnings and errors are input

    def _throughput(self) -> str:
        """Processing time and MB/s of float32 samples, the figure the progress bar shows."""
        if self.processing_seconds <= 0:
            return "no chunk processed"
        rate = self.bytes_processed / self.processing_seconds / 1e6
        return f"processing {self.processing_seconds:.2f} s at {rate:.1f} MB/s of float32 samples"

    def _memory(self) -> str:
        """The memory peaks measured; the object store's only when it was measured."""
        parts = []
        if self.peak_object_store_bytes is not None:
            parts.append(
                f"object store peak {self.peak_object_store_bytes / 2**20:.0f} MiB "
                f"with {self.in_flight} chunks in flight"
            )
        if self.peak_driver_rss_bytes:
            parts.append(f"driver RSS peak {self.peak_driver_rss_bytes / 2**20:.0f} MiB")
        return ", ".join(parts)

    def failure_document(self, config: dict) -> dict:
        """The JSON failure report (:data:`FAILURE_REPORT`): what failed, the chunk
        counts, how to rerun, and the run's config (``config``, redacted here)."""
        failed = {f.chunk for f in self.failures if f.chunk}
        return {
            "failures": [f.to_dict() for f in self.failures],
            "discontinuities": redact(self.discontinuities, keys=False),
            "chunks": {
                "total": self.chunks_total,
                "processed": self.chunks_done,
                "already_done": self.chunks_skipped,
                "failed": len(failed),
            },
            "nonfinite": self.nonfinite_chunks,
            "redone": dict(self.redone),
            "rerun": "fix or remove the files named here, then run the same command again: "
            "chunks whose outputs are current (see the results manifest) are skipped",
            "config": redact(config),
        }
