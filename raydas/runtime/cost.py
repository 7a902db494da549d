"""What a plan will cost, said before it starts, and the checks that refuse a
plan before any work: a :class:`PlanCost` (chunks, bytes read, bytes written,
the memory a processor actor needs for the largest chunk and its halo) against
the run's :class:`~raydas.config.Limits`, output paths against their store's
length limits, and a probe write into the results root.

The output estimate comes from the pipeline itself: it runs on two small
chunks of each recording's channels (noise, no halo) with a sink that counts
the bytes its writers hand it and writes nothing, and the bytes per chunk are
extrapolated linearly in the chunk's length. Pipelines with a command that
writes outside the results root (``keras``, which may save its model) are not
run this way: their output estimate is unknown, and says so.
"""

from __future__ import annotations

import math
import os
import shutil
import uuid
from dataclasses import dataclass, field

import numpy as np

from ..chunk import Chunk
from ..commands.filters import MAX_HALO_SECONDS
from ..config import RunConfig
from ..errors import PlanRefused, RaydasError
from ..fsutil import is_local, join, url_to_fs, write_bytes_atomic
from ..outputs import OutputSink
from ..pipeline import Pipeline
from ..recording import ChunkPlan
from ..reduction import Partial, group_label

#: most context (s) a command may ask for beyond the recording it runs on: what a filter's
#: impulse response is given at most (butter's halo)
MAX_CONTEXT_SECONDS = MAX_HALO_SECONDS
#: float32 copies of a chunk (with its halo) a processor actor holds at its peak: the
#: chunk, float64 temporaries and results, complex spectra
WORKING_COPIES = 6
#: share of the results root's free space a run may fill by default
FREE_SPACE_SHARE = 0.95
#: samples (channels x time) of the larger test chunk the output estimate runs the pipeline on
PROBE_SAMPLES = 2**21
#: bytes of a chunk-store chunk besides its float32 samples (the .npy header)
NPY_HEADER_BYTES = 128
#: commands not run to estimate outputs, and why
NOT_RUN_TO_ESTIMATE = {"keras": "keras may train and save its model outside the results root"}
#: longest object key (bytes) of the object stores raydas writes to (S3, GCS, Azure blob)
OBJECT_KEY_BYTES = 1024
#: file systems whose first path part is a bucket, which must exist (raydas never creates one)
BUCKET_PROTOCOLS = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oci", "oss"}
#: what :func:`raydas.fsutil.write_bytes_atomic` adds to a file name for its temporary file
TEMPORARY_SUFFIX_BYTES = len(f"..tmp-{uuid.uuid4().hex}")


def size_text(n: float | None) -> str:
    """Bytes for people: ``"12.3 MB"``; ``"unknown"`` for None."""
    if n is None:
        return "unknown"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return f"{n:.1f} TB"


@dataclass
class PlanCost:
    """What the chunks still to do will cost.

    Attributes
    ----------
    chunks
        Chunks to process.
    input_bytes
        float32 bytes of the samples the chunks read, halos included.
    output_bytes
        Estimated bytes of the outputs they write (None: not estimated, see ``notes``).
    chunk_bytes
        float32 bytes of the largest chunk with its halo.
    actor_bytes
        Estimated memory (bytes) a processor actor needs for that chunk: :data:`WORKING_COPIES` of it.
    output_limit, actor_limit
        The limits (bytes; None: none) and, in ``limit_sources``, where they come from.
    notes
        What could not be estimated, and why.
    """

    chunks: int = 0
    input_bytes: int = 0
    output_bytes: int | None = 0
    chunk_bytes: int = 0
    actor_bytes: int = 0
    output_limit: int | None = None
    actor_limit: int | None = None
    limit_sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line for people: what the plan costs, and its limits."""
        out = f"~{size_text(self.output_bytes)}" if self.output_bytes is not None else "an unknown amount"
        if self.output_limit is not None:
            out += f" (limit {size_text(self.output_limit)})"
        actor = f"~{size_text(self.actor_bytes)} in a processor actor"
        if self.actor_limit is not None:
            actor += f" (limit {size_text(self.actor_limit)})"
        return (
            f"{self.chunks} chunk(s), {size_text(self.input_bytes)} of samples to read, {out} to write; "
            f"largest chunk {size_text(self.chunk_bytes)} with its halo, {actor}"
            + "".join(f"; {note}" for note in self.notes)
        )


# --- estimating ---------------------------------------------------------------------------------
def estimate(plans: list[ChunkPlan]) -> PlanCost:
    """What reading ``plans`` costs: bytes read, and the memory of the largest
    chunk with its halo (outputs: :func:`estimate_outputs`)."""
    cost = PlanCost(chunks=len(plans))
    for plan in plans:
        samples = plan.positions.shape[0] * (plan.stop - plan.start + sum(plan.halo))
        cost.input_bytes += 4 * samples
        cost.chunk_bytes = max(cost.chunk_bytes, 4 * samples)
    cost.actor_bytes = WORKING_COPIES * cost.chunk_bytes
    return cost


def estimate_outputs(
    cost: PlanCost, plans: list[ChunkPlan], pipeline: Pipeline | None, output_root: str, store_chunks: bool = False
) -> PlanCost:
    """``cost`` with the bytes ``plans`` write: the ``pipeline``'s writers under
    ``output_root`` (None: no processing) plus, with ``store_chunks``, the chunk
    store's copies (float32, halo trimmed)."""
    cost.output_bytes = 0
    if store_chunks:
        for plan in plans:
            cost.output_bytes += 4 * plan.positions.shape[0] * (plan.stop - plan.start) + NPY_HEADER_BYTES
    if pipeline is not None and plans:
        written = _pipeline_output_bytes(plans, pipeline, output_root, cost.notes)
        cost.output_bytes = None if written is None else cost.output_bytes + written
    return cost


def _pipeline_output_bytes(plans: list[ChunkPlan], pipeline: Pipeline, root: str, notes: list[str]) -> int | None:
    """Bytes the pipeline's writers write for ``plans``: per layout (channels,
    interval, chunk length) a linear model in the chunk's length from two test runs."""
    skipped = sorted({n.command.name for n in pipeline.order} & set(NOT_RUN_TO_ESTIMATE))
    if skipped:
        notes.append(f"outputs not estimated: {NOT_RUN_TO_ESTIMATE[skipped[0]]}")
        return None
    total = float(_stack_output_bytes(plans, pipeline, root, notes) if pipeline.reducers else 0)
    if not pipeline.output_files("0"):
        return int(total)
    models: dict[tuple, tuple[float, float]] = {}
    for plan in plans:
        n_channels, own = plan.positions.shape[0], plan.stop - plan.start
        key = (n_channels, plan.dt, plan.positions[0] if n_channels else 0.0)
        if key not in models:
            try:
                models[key] = _bytes_model(pipeline, plan, root)
            except RaydasError as exc:
                notes.append(f"outputs not estimated: the pipeline failed on a test chunk ({exc})")
                return None
        a, b = models[key]
        total += max(0.0, a + b * own)
    return int(math.ceil(total))


def _stack_output_bytes(plans: list[ChunkPlan], pipeline: Pipeline, root: str, notes: list[str]) -> int:
    """Bytes the commands after the reducers write for the stacks of ``plans``: those
    written for the stack of one test chunk (of the first plan's layout), once per
    label (hour, day) the chunks fall in. The checkpoints are not counted (each about
    the size of a stack, merged into one at the end)."""
    plan = plans[0]
    own = plan.stop - plan.start
    rng = np.random.default_rng(0)
    data = rng.standard_normal((plan.positions.shape[0], own)).astype(np.float32)
    data.setflags(write=False)
    chunk = Chunk(data, plan.start_ns, plan.dt, plan.positions, units=plan.units, gauge_length=plan.gauge_length)
    partial = Partial()
    sink = CountingSink(root)
    try:
        with np.errstate(all="ignore"):
            pipeline.run(chunk, np, sink, reduce_into=partial)
            per_stack = {}
            for (uid, _), stack in partial.stacks.items():
                before = sink.bytes
                pipeline.run_stack(uid, stack, sink)
                per_stack[uid] = sink.bytes - before
    except RaydasError as exc:
        notes.append(f"stack outputs not estimated: the pipeline failed on a test chunk ({exc})")
        return 0
    total = 0
    for node in pipeline.reducers:
        labels = {group_label(p.start_ns, node.command.params.group) for p in plans}
        total += per_stack.get(node.uid, 0) * len(labels)
    return total


def _bytes_model(pipeline: Pipeline, plan: ChunkPlan, root: str) -> tuple[float, float]:
    """``(a, b)``: bytes written for a chunk of ``t`` samples are about ``a + b t``,
    from the pipeline run on test chunks of ``t2`` and ``t2 // 2`` samples."""
    n_channels = max(1, plan.positions.shape[0])
    own = plan.stop - plan.start
    t2 = max(2, min(own, PROBE_SAMPLES // n_channels))
    t1 = max(1, t2 // 2)
    b2, b1 = _bytes_written(pipeline, plan, root, t2), _bytes_written(pipeline, plan, root, t1)
    slope = (b2 - b1) / (t2 - t1) if t2 > t1 else 0.0
    return b2 - slope * t2, max(slope, 0.0)


def _bytes_written(pipeline: Pipeline, plan: ChunkPlan, root: str, n_samples: int) -> int:
    """Bytes the pipeline's writers hand the sink for a noise chunk of ``n_samples``
    samples of ``plan``'s channels and interval (nothing is written)."""
    rng = np.random.default_rng(0)
    data = rng.standard_normal((plan.positions.shape[0], n_samples)).astype(np.float32)
    data.setflags(write=False)
    chunk = Chunk(data, plan.start_ns, plan.dt, plan.positions, units=plan.units, gauge_length=plan.gauge_length)
    sink = CountingSink(root)
    with np.errstate(all="ignore"):
        pipeline.run(chunk, np, sink)
    return sink.bytes


class CountingSink(OutputSink):
    """A results sink that counts the bytes it is handed and writes nothing
    (reads, e.g. ``data_load``'s stored filter, come from the real root)."""

    def __init__(self, root: str):
        super().__init__(root)
        self.bytes = 0

    def write(self, relative: str, payload) -> str:
        parts = payload if isinstance(payload, (list, tuple)) else [payload]
        self.bytes += sum(memoryview(p).nbytes for p in parts)
        return self.url(relative)


# --- limits ------------------------------------------------------------------------------------------
def limits(cost: PlanCost, config: RunConfig, root: str) -> PlanCost:
    """``cost`` with the run's limits filled in: the configured ones, else the
    results root's free space less a margin (local roots; none on object stores)
    and this machine's memory shared among the processor actors."""
    if config.limits.output_bytes is not None:
        cost.output_limit, cost.limit_sources["output"] = config.limits.output_bytes, "limits.output_bytes"
    else:
        free = free_space(root)
        if free is not None:
            cost.output_limit = int(free * FREE_SPACE_SHARE)
            share = round(100 * (1 - FREE_SPACE_SHARE))
            cost.limit_sources["output"] = f"the free space of {root} ({size_text(free)}) less {share}%"
    if config.limits.actor_memory_bytes is not None:
        cost.actor_limit = config.limits.actor_memory_bytes
        cost.limit_sources["actor"] = "limits.actor_memory_bytes"
    else:
        actors = config.ray.num_actors or os.cpu_count() or 1
        cost.actor_limit = machine_memory() // actors
        memory = size_text(machine_memory())
        cost.limit_sources["actor"] = f"this machine's {memory} of memory shared by {actors} actor(s)"
    return cost


def free_space(root: str) -> int | None:
    """Free bytes of the file system a local results root is on (None for object stores)."""
    fs, path = url_to_fs(root)
    if not is_local(fs):
        return None
    path = os.path.abspath(path)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def machine_memory() -> int:
    """Bytes of physical memory of this machine."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_output(cost: PlanCost) -> None:
    """Refuse a plan whose estimated output exceeds its limit.

    Raises
    ------
    PlanRefused
        With the numbers, the limit's source and what to change.
    """
    if cost.output_bytes is not None and cost.output_limit is not None and cost.output_bytes > cost.output_limit:
        raise PlanRefused(
            f"the plan's {cost.chunks} chunk(s) would write about {size_text(cost.output_bytes)}, more than the "
            f"{size_text(cost.output_limit)} allowed ({cost.limit_sources['output']}); nothing was computed. "
            "Free space, write to a store with more room, or set limits.output_bytes (--max-output-bytes)"
        )


def check_memory(cost: PlanCost, plans: list[ChunkPlan], pipeline: Pipeline | None) -> None:
    """Refuse a plan whose largest chunk, with its halo, would not fit a processor actor.

    Raises
    ------
    PlanRefused
        With the numbers, the limit's source and what to change: the command whose
        halo makes the chunks large, by its JSON path, or ``chunk_seconds``.
    """
    if cost.actor_limit is not None and cost.actor_bytes > cost.actor_limit:
        biggest = max(plans, key=lambda p: p.positions.shape[0] * (p.stop - p.start + sum(p.halo)))
        recording = max(p.stop for p in plans if p.recording_index == biggest.recording_index)
        raise PlanRefused(_memory_message(cost, biggest, recording, pipeline))


def check_windows(plans: list[ChunkPlan], pipeline: Pipeline) -> None:
    """Refuse a command whose window across channels is wider than the data's
    channels, or whose window along time (the halo it asks for on each side) is
    longer than the recording it runs on and than :data:`MAX_CONTEXT_SECONDS`
    (the most context a filter's impulse response is given): such a window has
    no meaning, and computing it costs memory in proportion to it, not to the data.

    Raises
    ------
    PlanRefused
        Naming the command's JSON path, its halo and the recording's length.
    """
    channels = max(plan.positions.shape[0] for plan in plans)
    for node in pipeline.order:
        window = int(node.command.channel_window())
        if window > channels:
            raise PlanRefused(
                f"{node.json_path} ({node.command.name}) slides a window of {window} channels across the fibre, "
                f"wider than the {channels} channels of the data: such a window has no meaning; lower it"
            )
    longest: dict[float, int] = {}  # sample interval -> longest recording (samples) planned at it
    for plan in plans:
        longest[plan.dt] = max(longest.get(plan.dt, 0), plan.stop)
    for dt, n_samples in longest.items():
        rate = 1.0 / dt
        bound = max(n_samples, int(MAX_CONTEXT_SECONDS * rate))
        for node in pipeline.order:
            if not node.command.time_local:
                continue
            halo = int(node.command.halo_samples(rate))
            if halo > bound:
                raise PlanRefused(
                    f"{node.json_path} ({node.command.name}) asks for a halo of {halo} samples ({halo * dt:g} s) on "
                    f"each side, longer than the recording it runs on ({n_samples} samples, {n_samples * dt:g} s at "
                    f"{rate:g} Hz) and than the {MAX_CONTEXT_SECONDS:g} s any filter needs: a window longer than the "
                    "recording has no meaning; lower it"
                )


def _memory_message(cost: PlanCost, plan: ChunkPlan, recording: int, pipeline: Pipeline | None) -> str:
    own, (before, after) = plan.stop - plan.start, plan.halo
    said = (
        f"a chunk of {plan.positions.shape[0]} channels x {own + before + after} samples ({own} of its own, "
        f"{before} + {after} of halo) is {size_text(cost.chunk_bytes)} of float32, about "
        f"{size_text(cost.actor_bytes)} in a processor actor, more than the {size_text(cost.actor_limit)} one may "
        f"use ({cost.limit_sources['actor']}); nothing was computed. "
    )
    culprit = halo_culprit(pipeline, 1.0 / plan.dt) if pipeline is not None else None
    if culprit is not None and max(before, after) > own:
        path, name, halo = culprit
        whole = (before, after) == (plan.start, recording - plan.stop)
        return said + (
            f"{path} ({name}) asks for a halo of {halo} samples ({halo * plan.dt:g} s) on each side"
            + (", so the chunk holds the whole recording" if whole else "")
            + ": lower its window, or raise limits.actor_memory_bytes"
        )
    return said + "$.chunk_seconds makes the chunks this long: shorten it, or raise limits.actor_memory_bytes"


def halo_culprit(pipeline: Pipeline, sample_rate: float) -> tuple[str, str, int] | None:
    """``(JSON path, command name, halo samples)`` of the time-local command asking
    for the largest halo at ``sample_rate`` (Hz), or None when none asks for one."""
    best = None
    for node in pipeline.order:
        if not node.command.time_local:
            continue
        try:
            halo = int(node.command.halo_samples(sample_rate))
        except (ValueError, TypeError):
            continue
        if halo > 0 and (best is None or halo > best[2]):
            best = (node.json_path, node.command.name, halo)
    return best


# --- output paths and the results root ----------------------------------------------------------
def check_output_paths(root: str, relatives: list[str]) -> None:
    """Refuse output paths longer than their store allows: on local file systems a
    name longer than ``NAME_MAX`` (less what a temporary file adds) or a path longer
    than ``PATH_MAX``; on object stores a key longer than :data:`OBJECT_KEY_BYTES`.

    Raises
    ------
    PlanRefused
        Naming the longest path and the limit it passes.
    """
    if not relatives:
        return
    fs, base = url_to_fs(root)
    longest = max(relatives, key=lambda r: len(join(base, r).encode()))
    path = join(base, longest)
    if is_local(fs):
        path = os.path.abspath(path)
        name_max, path_max = _local_limits(path)
        name = max(path.split(os.sep), key=lambda part: len(part.encode()))
        if len(name.encode()) + TEMPORARY_SUFFIX_BYTES > name_max:
            raise PlanRefused(
                f"output name {name!r} is {len(name.encode())} bytes long; with the {TEMPORARY_SUFFIX_BYTES} bytes "
                f"its temporary file adds, the file system allows {name_max - TEMPORARY_SUFFIX_BYTES} "
                f"(in {path}); shorten the results root (output) or the writers' directory_out"
            )
        if len(path.encode()) + TEMPORARY_SUFFIX_BYTES >= path_max:
            raise PlanRefused(
                f"output path {path} is {len(path.encode())} bytes long; the file system allows "
                f"{path_max - 1 - TEMPORARY_SUFFIX_BYTES}; shorten the results root (output) or directory_out"
            )
        return
    key = path.split("/", 1)[1] if "/" in path else ""
    if len(key.encode()) > OBJECT_KEY_BYTES:
        raise PlanRefused(
            f"output key {key[:80]}... is {len(key.encode())} bytes long; object stores allow {OBJECT_KEY_BYTES}; "
            "shorten the results root (output) or the writers' directory_out"
        )


def _local_limits(path: str) -> tuple[int, int]:
    """``(NAME_MAX, PATH_MAX)`` of the file system ``path`` is (or would be) on."""
    existing = path
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    try:
        return os.pathconf(existing, "PC_NAME_MAX"), os.pathconf(existing, "PC_PATH_MAX")
    except (OSError, ValueError):
        return 255, 4096


def probe_writable(root: str) -> None:
    """Write and remove a small file under ``root``, so that a results root that cannot
    be written (a read-only folder, a missing bucket) is found before any work.
    A missing bucket is never created.

    Raises
    ------
    PlanRefused
        Naming the root and why it cannot be written.
    """
    fs, path = url_to_fs(root)
    protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
    if protocols & BUCKET_PROTOCOLS:
        bucket = path.strip("/").split("/", 1)[0]
        try:
            missing = bool(bucket) and not fs.exists(bucket)
        except Exception as exc:  # noqa: BLE001  (object-store clients raise many types)
            raise PlanRefused(f"the results root {root} cannot be reached ({type(exc).__name__}: {exc})") from None
        if missing:
            raise PlanRefused(f"the results root {root} is in bucket {bucket!r}, which does not exist; create it first")
    probe = join(root, f".raydas-probe-{uuid.uuid4().hex}")
    try:
        write_bytes_atomic(probe, b"raydas checks that it can write here\n")
        fs.rm(url_to_fs(probe)[1])
    except Exception as exc:  # noqa: BLE001  (PermissionError, NotADirectoryError, botocore errors...)
        raise PlanRefused(
            f"the results root {root} cannot be written ({type(exc).__name__}: {exc}); nothing was computed"
        ) from None
