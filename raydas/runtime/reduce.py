"""The runtime half of reducing graphs (``stack_chunks``): which actor holds which
chunks' partial stacks, checkpoints, and the merge at the end.

The driver hands every chunk's result to a :class:`StackKeeper`, which knows,
per processor actor, the chunks whose part of a stack is still only in that
actor's memory (*live*) and those written in a checkpoint segment (*sealed*).
It asks an actor for a checkpoint every ``checkpoint_every_chunks`` chunks or
``checkpoint_every_seconds`` s. When an actor dies (or restarts: its
incarnation token changes) its live chunks are sent again, to be added to a
live actor's stack; a checkpoint the dead actor was writing counts only if its
segment exists (segments are written atomically, under names the driver
chose). At the end every actor writes its last segment and
:func:`merge_segments` merges all the run's segments in a tree of Ray tasks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import posixpath
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import RaydasError
from ..fsutil import unstrip, url_to_fs
from ..manifest import Provenance
from ..outputs import OutputSink
from ..reduction import Partial, ReductionError, adopt, group_label, provenance_path, run_folder, segment_path
from ..timeutil import to_iso
from .report import Failure

log = logging.getLogger(__name__)

#: segments merged by one task of the tree reduction
MERGE_FAN_IN = 4
#: checkpoints that may fail to write in a row before the run stops
CHECKPOINT_ATTEMPTS = 5
#: seconds before a checkpoint that failed to write is tried again
CHECKPOINT_RETRY_S = 2.0


@dataclass
class _Live:
    """A chunk whose part of a stack lies only in an actor's memory."""

    ticket: Any  # the driver's _Ticket
    actor_token: str  # the actor's incarnation and partial that hold it
    seen: int = 0  # when the driver learnt it was stacked (a counter)


@dataclass
class StackKeeper:
    """What the driver knows of a reducing run's partial stacks.

    Parameters
    ----------
    sink
        The results root (segments lie under it).
    run_key
        The run key (:func:`raydas.reduction.run_folder`).
    run_id
        This driver's run id: segment names start with it.
    every_chunks, every_seconds
        Checkpoint an actor after this many chunks or seconds (s).
    sealed
        Output identities of the chunks already in adopted segments (of earlier
        runs): they are not added to a stack again.
    """

    sink: OutputSink
    run_key: str
    run_id: str
    every_chunks: int
    every_seconds: float
    sealed: set[str] = field(default_factory=set)
    live: dict[int, list[_Live]] = field(default_factory=dict)
    since: dict[int, float] = field(default_factory=dict)  # actor -> when its oldest live chunk came (monotonic)
    pending: dict[Any, tuple[int, str, int]] = field(default_factory=dict)  # checkpoint ref -> (actor, name, seen)
    segments: list[str] = field(default_factory=list)  # names of the segments this run wrote
    checkpoints: int = 0
    resent: int = 0
    failed_writes: int = 0  # checkpoints that failed to write, in a row
    _count: int = 0
    _seen: int = 0

    # --- chunks in and out -------------------------------------------------------------------------
    def reduce(self, output_id: str) -> bool:
        """Whether the chunk ``output_id`` is still to be added to a stack."""
        return output_id not in self.sealed

    def reduced(self, a: int, ticket, actor_token: str) -> list:
        """Actor ``a`` (incarnation ``actor_token``) added ``ticket``'s chunk to its stack;
        returns the tickets to send again (chunks of an earlier incarnation of ``a``,
        whose stacks died with it)."""
        if ticket.plan.output_id in self.sealed:
            return []
        lost = self._drop_other_incarnations(a, actor_token)
        self._seen += 1
        self.live.setdefault(a, []).append(_Live(ticket, actor_token, self._seen))
        self.since.setdefault(a, time.monotonic())
        return lost

    def _drop_other_incarnations(self, a: int, actor_token: str) -> list:
        live = self.live.get(a, [])
        gone = [e.ticket for e in live if e.actor_token != actor_token and e.ticket.plan.output_id not in self.sealed]
        if gone:
            log.warning("processor actor %d restarted: %d chunk(s) of its partial stacks are sent again", a, len(gone))
            self.live[a] = [e for e in live if e.actor_token == actor_token]
            self.resent += len(gone)
        return gone

    def lost(self, a: int) -> list:
        """Actor ``a`` died or restarted: returns the tickets whose part of a stack died with it
        (a checkpoint it was writing counts when its segment exists)."""
        for ref, (b, name, _) in list(self.pending.items()):
            if b == a:
                del self.pending[ref]
                self._seal_from_file(name)
        gone = [e.ticket for e in self.live.pop(a, []) if e.ticket.plan.output_id not in self.sealed]
        self.since.pop(a, None)
        self.resent += len(gone)
        return gone

    def _seal_from_file(self, name: str) -> None:
        url = self.sink.url(segment_path(self.run_key, name))
        fs, path = url_to_fs(url)
        if not fs.exists(path):
            return
        self.sealed.update(read_segment(url, header_only=True).chunk_ids())
        self.segments.append(name)

    # --- checkpoints ----------------------------------------------------------------------------------
    def due(self, a: int, force: bool = False) -> bool:
        """Whether actor ``a`` should write a checkpoint now (``force``: it holds any live chunk)."""
        if any(b == a for b, _, _ in self.pending.values()) or not self.live.get(a):
            return False
        if force:
            return True
        return len(self.live[a]) >= self.every_chunks or time.monotonic() - self.since[a] >= self.every_seconds

    def name_next(self, a: int) -> str:
        """The name of the next segment actor ``a`` writes (chosen here, so that a segment
        whose writer died can be looked for)."""
        self._count += 1
        return f"{self.run_id}-a{a}-{self._count:06d}"

    def sent(self, ref, a: int, name: str) -> None:
        self.pending[ref] = (a, name, self._seen)

    def answered(self, ref, answer: dict) -> list:
        """A checkpoint came back: its chunks are sealed; returns the tickets to send again
        (live chunks of another incarnation than the one that answered)."""
        a, name, seen = self.pending.pop(ref)
        self.failed_writes = 0
        chunks = set(answer["chunks"])
        self.sealed.update(chunks)
        if chunks:
            self.segments.append(name)
            self.checkpoints += 1
        live = [e for e in self.live.get(a, []) if e.ticket.plan.output_id not in chunks]
        # a chunk known to be stacked before the checkpoint was asked for must be in it: if it is not,
        # the partial that held it is gone (the actor dropped the run's setup, or restarted)
        missing = [e.ticket for e in live if e.seen <= seen]
        self.live[a] = [e for e in live if e.seen > seen]
        self.resent += len(missing)
        lost = missing + self._drop_other_incarnations(a, answer["actor"])
        if self.live.get(a):
            self.since[a] = time.monotonic()
        else:
            self.since.pop(a, None)
        return lost

    def not_written(self, ref, error: BaseException) -> None:
        """A checkpoint failed to write (its actor keeps the stacks and tries again later).

        Raises
        ------
        ReductionError
            After :data:`CHECKPOINT_ATTEMPTS` failures in a row: the results root cannot take them.
        """
        a, name, _ = self.pending.pop(ref)
        self.failed_writes += 1
        if self.failed_writes >= CHECKPOINT_ATTEMPTS:
            raise ReductionError(
                f"checkpoint segments of the partial stacks could not be written under {self.sink.root} "
                f"{self.failed_writes} times in a row (last: {type(error).__name__}: {error}); the chunks stacked "
                "since the last checkpoint are still to be written: rerun when the results root takes files again"
            )
        log.warning("checkpoint %s of processor actor %d not written (%s); trying again", name, a, error)
        self.since[a] = time.monotonic() - self.every_seconds + CHECKPOINT_RETRY_S  # again in a few seconds

    @property
    def settled(self) -> bool:
        """No chunk lies only in an actor's memory and no checkpoint is on its way."""
        return not self.pending and not any(self.live.values())


# --- the merge ----------------------------------------------------------------------------------------------
def read_segment(url: str, header_only: bool = False) -> Partial:
    """The partial stacks in the segment at ``url``.

    Raises
    ------
    ReductionError
        Naming the file when it cannot be read.
    """
    fs, path = url_to_fs(url)
    try:
        with fs.open(path, "rb") as fh:
            return Partial.from_file(fh, url, header_only=header_only)
    except OSError as exc:
        raise ReductionError(f"{url}: checkpoint segment not readable ({exc})") from None


def _merge(*parts) -> Partial:
    """Merge segments (URLs) and partials into one partial (a task of the tree reduction)."""
    merged = Partial()
    for part in parts:
        merged.merge(read_segment(part) if isinstance(part, str) else part)
    return merged


def merge_segments(urls: Sequence[str], fan_in: int = MERGE_FAN_IN) -> Partial:
    """Merge the segments at ``urls`` in a tree of Ray tasks (``fan_in`` per task) and
    return the merged partial on the driver.

    Raises
    ------
    ReductionError
        When a segment cannot be read, or two segments hold the same chunk.
    """
    import ray

    if not urls:
        return Partial()
    # no CPU reserved: the processor actors may hold every CPU of the cluster, and a merge is light (sums)
    merge = ray.remote(num_cpus=0, max_retries=2, retry_exceptions=[OSError])(_merge)
    level: list = [merge.remote(*urls[i : i + fan_in]) for i in range(0, len(urls), fan_in)]
    while len(level) > 1:
        level = [merge.remote(*level[i : i + fan_in]) for i in range(0, len(level), fan_in)]
    try:
        return ray.get(level[0])
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, RaydasError):
            raise ReductionError(str(cause)) from None
        raise


# --- a run's stacks -----------------------------------------------------------------------------------------
#: why a chunk is redone though its outputs are current: its part of a stack is in no checkpoint
NOT_IN_CHECKPOINT = "not in a stack checkpoint"


class RunStacks:
    """The stacks of one run of a reducing graph: which checkpoints it trusts, the
    driver's :class:`StackKeeper`, and the finished stacks written at the end.

    Parameters
    ----------
    pipeline
        The compiled graph (with at least one ``stack_chunks``).
    root
        The results root.
    provenance
        The run's :class:`~raydas.manifest.RunProvenance` (graph and settings
        digests; the chunks' inputs).
    run_id
        This run's id (new segments are named by it).
    """

    def __init__(self, pipeline, root: str, provenance, run_id: str):
        self.pipeline = pipeline
        self.sink = OutputSink(root)
        self.provenance = provenance
        self.run_id = run_id
        digest = hashlib.sha256(f"{provenance.graph_digest}/{provenance.settings_digest}".encode()).hexdigest()
        #: the folder of this graph's and settings' checkpoints: a rerun of the same graph finds them
        self.run_key = digest[:16]
        params = [n.command.params for n in pipeline.reducers]
        self.keeper = StackKeeper(
            self.sink,
            self.run_key,
            run_id,
            every_chunks=min(p.checkpoint_every_chunks for p in params),
            every_seconds=min(p.checkpoint_every_seconds for p in params),
        )
        self.adopted: list[str] = []
        self.set_aside: list[str] = []

    @property
    def reduce_key(self) -> str:
        """What the processor actors are told (:attr:`ProcessorSetup.reduce_key`)."""
        return f"{self.run_key}/{self.run_id}"

    def token(self, plan) -> str:
        """A digest of ``plan``'s provenance (inputs, span, graph, settings): a segment
        holding the chunk is trusted only while the chunk would be made the same way."""
        text = json.dumps(asdict(self.provenance.of(plan)), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def prepare(self, plans) -> None:
        """Give each plan its token, and adopt the checkpoint segments of earlier runs of
        this graph that hold only planned chunks made the same way (their chunks are
        not added to a stack again); the others are left in place, unread (a run of
        another span of the same graph may want them).

        Raises
        ------
        ReductionError
            When a segment's header cannot be read (naming it).
        """
        for plan in plans:
            plan.reduce_token = self.token(plan)
        found = self._segments_on_storage()
        headers = {name: read_segment(url, header_only=True).tokens() for name, url in found.items()}
        self.adopted, self.set_aside = adopt(headers, {p.output_id: p.reduce_token for p in plans})
        self.keeper.sealed = {c for name in self.adopted for c in headers[name]}
        if self.set_aside:
            log.info("%d checkpoint segment(s) of another plan or inputs left aside", len(self.set_aside))

    def _segments_on_storage(self) -> dict[str, str]:
        folder = self.sink.url(f"{run_folder(self.run_key)}/segments")
        fs, path = url_to_fs(folder)
        if not fs.exists(path):
            return {}
        urls = {}
        for entry in sorted(fs.ls(path, detail=False)):
            base = posixpath.basename(str(entry))
            if base.endswith(".npz") and not base.startswith("."):
                urls[base[: -len(".npz")]] = unstrip(fs, entry)
        return urls

    def sealed(self, plan) -> bool:
        """Whether ``plan``'s chunk is in an adopted segment."""
        return plan.output_id in self.keeper.sealed

    # --- the end -------------------------------------------------------------------------------------
    def finish(self, plans, report, manifest) -> None:
        """Merge every segment of the run (adopted and new), check that each chunk that ran
        is counted once, run the commands after each reducer on its finished stacks,
        record their files in ``manifest`` (a :class:`~raydas.manifest.ManifestWriter`)
        with the chunks that went in, and replace the segments by one merged segment."""
        import ray

        names = list(dict.fromkeys(self.adopted + self.keeper.segments))
        urls = [self.sink.url(segment_path(self.run_key, n)) for n in names]
        partial = merge_segments(urls) if ray.is_initialized() else _merge(*urls)
        by_id = {p.output_id: p for p in plans}
        failed = {f.chunk for f in report.failures}
        missing = sorted(set(by_id) - partial.chunk_ids() - failed)
        if missing:
            report.failures.append(
                Failure(
                    "stack",
                    "",
                    missing[0],
                    f"{len(missing)} chunk(s) that ran are in no stack (e.g. {missing[0]}): the stacks are short of "
                    "them; rerun to add them",
                )
            )
        first: set[int] = set()
        for (uid, label), stack in sorted(partial.stacks.items()):
            result = self.pipeline.run_stack(uid, stack, self.sink, shared=uid not in first)  # axes written once
            first.add(uid)
            chunks = [by_id[c.output_id] for c in stack.chunks if c.output_id in by_id]
            group = stack_group(self.pipeline, uid)
            short = sorted(c for c in failed if c in by_id and group_label(by_id[c].start_ns, group) == label)
            record = self._provenance_document(uid, stack, short)
            written = [provenance_path(uid, label)]
            self.sink.write(written[0], json.dumps(record, indent=1).encode())
            if manifest is not None and chunks:
                manifest.add(self._stack_provenance(label, chunks), result.written, result.sizes)
            report.outputs_written += len(result.written)
            report.stacks.append(
                {
                    "uid": uid,
                    "label": label,
                    "method": stack.method,
                    "chunks": stack.count,
                    "files": result.written,
                    "provenance": self.sink.url(written[0]),
                    "complete": not short,
                }
            )
            if short:
                report.warnings.append(
                    f"stack {label} of stack_chunks uid {uid} is short of {len(short)} failed chunk(s); "
                    "a rerun adds them"
                )
        report.stack_checkpoints += self.keeper.checkpoints
        report.chunks_restacked += self.keeper.resent
        self._compact(partial, names)

    def _compact(self, partial: Partial, names: list[str]) -> None:
        """One merged segment instead of many (a rerun reads one file); the merged one is
        written first, so a kill in between leaves it and its pieces, and :func:`adopt`
        prefers it."""
        if len(names) <= 1 or not len(partial):
            return
        merged = f"{self.run_id}-merged"
        self.sink.write(segment_path(self.run_key, merged), partial.to_bytes())
        for name in names:
            if name != merged:
                fs, path = url_to_fs(self.sink.url(segment_path(self.run_key, name)))
                with contextlib.suppress(FileNotFoundError):
                    fs.rm(path)

    def _provenance_document(self, uid: int, stack, short: list[str]) -> dict:
        node = self.pipeline.by_uid[uid]
        start, end = stack.span()
        return {
            "stack_chunks": {"uid": uid, "json_path": node.json_path, **node.command.params.model_dump()},
            "label": stack.label,
            "method": stack.method,
            "start": to_iso(start),
            "end": to_iso(end),
            "count": stack.count,
            "complete": not short,
            "failed_chunks": short,
            "graph_digest": self.provenance.graph_digest,
            "settings_digest": self.provenance.settings_digest,
            "chunks": [
                {"output_id": c.output_id, "start": to_iso(c.start_ns), "end": to_iso(c.end_ns), "source": c.source}
                for c in sorted(stack.chunks, key=lambda c: (c.start_ns, c.output_id))
            ],
        }

    def _stack_provenance(self, label: str, plans) -> Provenance:
        each = [self.provenance.of(p) for p in plans]
        inputs = tuple(dict.fromkeys(i for p in each for i in p.inputs))
        return dataclasses.replace(
            each[0],
            output_id=label,
            inputs=inputs,
            start_ns=min(p.start_ns for p in each),
            end_ns=max(p.end_ns for p in each),
            samples=sum(p.samples for p in each),
            halo_before=0,
            halo_after=0,
            assumed=tuple(sorted({a for p in each for a in p.assumed})),
        )


def stack_group(pipeline, uid: int) -> str:
    """The ``group`` of reducer ``uid``."""
    return pipeline.by_uid[uid].command.params.group
