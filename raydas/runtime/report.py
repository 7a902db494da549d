"""What a run did: the :class:`RunReport` (printed by the CLI, returned to
Python callers), its typed :class:`Failure` entries, what a processor actor
returns for one chunk (:class:`ProcessedChunk`), and the JSON failure report
written beside the outputs (:data:`FAILURE_REPORT`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..config import redact
from ..errors import FormatError, RaydasError
from ..pipeline import ChunkResult, NonFinite
from ..recording import ChunkPlan
from ..timeutil import to_iso

#: the failure report's file name, under the results root
FAILURE_REPORT = "raydas-failures.json"
#: the stages of a chunk's life, in the order they happen (RunReport.stage_seconds keys)
STAGES = ("ingest", "queue", "compute", "write")


@dataclass(frozen=True)
class Failure:
    """One thing that failed: a file's scan, or a chunk's ingest or processing.

    Attributes
    ----------
    stage
        ``"scan"``, ``"plan"`` (a record or chunk the processing graph cannot
        serve, found before any work), ``"ingest"`` or ``"process"``.
    file
        The file at fault (``;``-separated when a chunk spans several and the
        error does not say which one); ``""`` when no file is to blame.
    chunk
        The chunk's stem (its unix time), ``""`` for a scan failure.
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
            entry["chunk_seconds"] = (plan.stop - plan.start) * plan.dt
        return cls(**redact(entry))

    @classmethod
    def of_chunk(cls, stage: str, error: BaseException, plan: ChunkPlan) -> Failure:
        """The failure of one chunk: its files, stem and span."""
        return cls.from_error(stage, error, file=";".join(plan.sources), chunk=plan.stem, plan=plan)

    def to_dict(self) -> dict:
        """The entry of the JSON failure report (the chunk's span only for chunk failures)."""
        entry = asdict(self)
        if self.chunk_start is None:
            del entry["chunk_start"], entry["chunk_seconds"]
        return entry

    def line(self) -> str:
        """One line for people: ``[stage] file chunk N: error``."""
        chunk = f" chunk {self.chunk}" if self.chunk else ""
        return f"[{self.stage}] {self.file}{chunk}: {self.error}"


@dataclass
class ProcessedChunk:
    """What a processor actor returns for one chunk (small: it goes back to the driver).

    Attributes
    ----------
    result
        The pipeline's result (outputs written, seconds per command).
    skipped
        True when an earlier attempt (on an actor that died afterwards) had
        written every output, so nothing ran.
    ingest_wall
        Wall-clock start and end of reading the chunk (s since the epoch), None if unknown.
    start, end
        Wall-clock start and end of the processing call (s since the epoch).
    write_seconds
        Of the commands' seconds, those spent in writer commands (s).
    """

    result: ChunkResult
    skipped: bool
    ingest_wall: tuple[float, float] | None
    start: float
    end: float
    write_seconds: float = 0.0

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
    nan_policy: str = "propagate"
    nonfinite_chunks: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def add_nonfinite(self, plan: ChunkPlan, found: NonFinite) -> None:
        """Note a chunk that carried NaN or infinite samples of its own (``nonfinite_chunks``:
        chunk stem, files, samples, channels)."""
        if found.samples:
            self.nonfinite_chunks.append(
                {
                    "chunk": plan.stem,
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

    def add_stages(self, seconds: dict[str, float]) -> None:
        for name, value in seconds.items():
            self.stage_seconds[name] = self.stage_seconds.get(name, 0.0) + value

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
        if self.ray:
            lines.append(f"ray:       {self.ray}")
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
        if self.quicklook:
            lines.append(f"quicklook: {self.quicklook}")
        if self.timeline:
            lines.append(f"timeline:  {self.timeline} (open in Perfetto or chrome://tracing)")
        for d in self.discontinuities:
            lines.append(f"break:     {d['kind']} between {d['before']} and {d['after']}: {d['detail']}")
        for w in self.warnings:
            lines.append(f"warning:   {w}")
        for f in self.failures:
            lines.append(f"FAILED:    {f.line()}")
        return redact("\n".join(lines))  # paths, warnings and errors are input

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
            "rerun": "fix or remove the files named here, then run the same command again: "
            "chunks whose outputs exist are skipped",
            "config": redact(config),
        }
