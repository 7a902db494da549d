"""The driver loop shared by batch runs and ``raydas watch``.

::

    submit(plan) -> queue -> [window] ingest task (reads the chunk and its halo;
        optionally stores it) -> Ray object store -> ActorPool.process(chunk_ref)
        (zero copy on the same node) -> ProcessedChunk back -> handed over in order

CPU actors read their own chunks when nothing is stored on the way: the
samples then go from the page cache to the FFT with no copy into the object
store and no task per chunk.

Faults: chunks are stateless calls; a chunk whose actor died (killed, out of
memory, node lost) is sent to a live actor, its ingested data reconstructed
by Ray from lineage if it was on the lost node, and computed again. Writers
are atomic, so an output appears under its final name only when complete, and
deterministic, so writing it again gives the same bytes. Results reach the
driver (progress, ``on_result``) in chunk order. A killed driver loses
nothing: the rerun skips chunks whose outputs the results manifest vouches for.

The driver knows nothing of the run that feeds it: it takes plans, an actor
pool, a setup, a chunk store and a report to fill.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import FormatError, PlanError, RaydasError
from ..formats.chunkstore import ChunkStore, StoredChunk
from ..recording import ChunkPlan
from . import cluster
from .actors import ActorPool, ProcessorSetup, SetupMissing, remote_ingest
from .progress import MemorySampler, Progress
from .reduce import StackKeeper
from .report import Failure, ProcessedChunk, RunReport

log = logging.getLogger(__name__)

#: times a chunk is handed to another actor after the one processing it died
ACTOR_FAILURES_PER_CHUNK = 3

#: what the driver hands over for each chunk: processed, stored only (ingest), or failed
ChunkOutcome = ProcessedChunk | StoredChunk | Failure


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
    restack: bool = False  # sent again only to rebuild a lost partial stack: handed over already
    reduce: bool = False  # its last attempt added it to an actor's partial stacks


class Driver:
    """Sends planned chunks through ingest and the processor actors, a bounded number at a time.

    Keeps at most ``in_flight`` chunks in flight: a chunk's ingest task is
    launched only when a slot frees up, so the object store holds at most that
    many chunks (plus their halos) however long the recording. Sends each
    chunk to the least-loaded ready actor of its pool; when an actor dies
    (killed, out of memory, its node lost) its chunks go to another actor,
    and the restarted actor is used again once it answers. Results are
    handed to ``on_result`` in submission order. The driver owns its pool:
    :meth:`close` stops the actors the pool started.

    Parameters
    ----------
    report
        Filled as chunks come back (counts, stages, failures, memory peaks).
    pool
        The processor actors; None to ingest only (fill ``store``).
    setup
        What the actors run (required with a pool).
    store
        Chunk store each chunk is written to on the way, or None.
    in_flight
        Chunks in flight at once (default: 2 per actor, at least 2).
    progress
        Progress shown (default: none).
    on_result
        ``on_result(plan, outcome, failure)`` on the driver, in chunk order:
        ``outcome`` is a :class:`ProcessedChunk`, a :class:`StoredChunk`
        (ingest only) or None when ``failure`` says why the chunk failed.
    sample_memory
        Sample the object store's and the driver's memory (report peaks).
    stacks
        For a graph with reducers: the :class:`~raydas.runtime.reduce.StackKeeper`
        that tracks the actors' partial stacks (checkpoints, chunks to send again).
    """

    def __init__(
        self,
        report: RunReport,
        pool: ActorPool | None = None,
        setup: ProcessorSetup | None = None,
        *,
        store: ChunkStore | None = None,
        in_flight: int | None = None,
        progress: Progress | None = None,
        on_result: Callable[[ChunkPlan, ProcessedChunk | StoredChunk | None, Failure | None], None] | None = None,
        sample_memory: bool = True,
        stacks: StackKeeper | None = None,
    ):
        import ray

        if pool is not None and setup is None:
            raise ValueError("a driver with processor actors needs the setup they run")
        self._ray = ray
        self.report = report
        self.pool = pool
        self.store = store
        self.progress = progress or Progress(0, enabled=False)
        self.on_result = on_result
        self._ingest = remote_ingest()
        if pool is not None:
            pool.prepare(setup)
            report.device, report.actors = pool.device, len(pool)
            self.ingest_cpus = pool.ingest_cpus
        else:
            self.ingest_cpus = cluster.task_cpus(1.0)
        self.read_in_actor = pool is not None and store is None and pool.device == "cpu"
        self.window = in_flight or max(2, 2 * max(1, len(pool) if pool else 0))
        report.in_flight = self.window
        self.queue: deque[_Ticket] = deque()
        self.in_flight: dict[Any, _Ticket] = {}
        self.rows: list[StoredChunk] = []
        self._seq = 0
        self._next_out = 0
        self._finished: dict[int, tuple[_Ticket, ChunkOutcome]] = {}  # seq -> (ticket, outcome)
        self.delivered: list[int] = []  # chunk indices in the order they were handed over
        self.finished_at: list[float] = []  # when each chunk's result came back (time.perf_counter(), s)
        self.memory = MemorySampler(interval=0.2) if sample_memory else None
        self.stacks = stacks

    # submission ----------------------------------------------------------------------------
    def submit(self, plan: ChunkPlan, arrival: float | None = None) -> None:
        """Queue a chunk (``arrival``: wall-clock time its data arrived, for latency).

        Raises
        ------
        PlanError
            When the plan has no output identity (it did not go through the planner's checks).
        """
        if not plan.output_id:
            raise PlanError(f"chunk {plan.index} ({plan.stem}) has no output identity: plan it with Run.plan")
        self.queue.append(_Ticket(self._seq, plan, arrival=arrival))
        self._seq += 1

    @property
    def busy(self) -> bool:
        return bool(self.queue or self.in_flight or (self.stacks is not None and self.stacks.pending))

    def _launch(self) -> None:
        pool = self.pool
        while self.queue and len(self.in_flight) < self.window:
            ticket = self.queue[0]
            a = None
            if pool is not None:
                a = pool.pick()
                if a is None:
                    return  # no actor ready yet: wait for an answer
            self.queue.popleft()
            resent = ticket.actor_failures > 0 or ticket.restack  # clear what an earlier attempt left half-written
            reduce = self.stacks is None or self.stacks.reduce(ticket.plan.output_id)
            ticket.reduce = reduce
            if self.read_in_actor:
                ticket.submitted = time.time()
                ticket.actor = a
                self.in_flight[pool.read_and_process(a, ticket.plan, resent, reduce)] = ticket
                continue
            if ticket.chunk_ref is None:
                ticket.submitted = time.time()
                ticket.chunk_ref, ticket.row_ref = self._ingest.options(
                    num_cpus=self.ingest_cpus, num_returns=2
                ).remote(ticket.plan, self.store, pool is not None)
            if pool is not None:
                ticket.actor = a
                ref = pool.process(a, ticket.chunk_ref, resent, reduce)
            else:
                ref = ticket.row_ref
            self.in_flight[ref] = ticket

    # waiting -------------------------------------------------------------------------------
    def step(self, timeout: float | None = 1.0) -> None:
        """Launch what the window allows, then handle whatever finished (waits at most ``timeout`` s)."""
        ray = self._ray
        self._launch()
        self._checkpoint()
        checkpoints = list(self.stacks.pending) if self.stacks is not None else []
        waiting = list(self.in_flight) + (self.pool.pings if self.pool is not None else []) + checkpoints
        if not waiting:
            return
        done, _ = ray.wait(waiting, num_returns=1, timeout=timeout)
        if done:  # take everything else that is already finished too
            more, _ = ray.wait(waiting, num_returns=len(waiting), timeout=0)
            done = list(dict.fromkeys(done + more))
        for ref in done:
            if self.pool is not None and self.pool.is_ping(ref):
                self.pool.answered(ref)
            elif ref in self.in_flight:
                self._collect(ref, self.in_flight.pop(ref))
            elif self.stacks is not None and ref in self.stacks.pending:
                self._checkpoint_answered(ref)
        if self.pool is not None:
            self.pool.check_alive(self.busy)
        if self.memory is not None:
            self.memory.sample()

    def drain(self) -> None:
        """Step until every submitted chunk is handed over."""
        while self.busy:
            self.step()

    # partial stacks ----------------------------------------------------------------------------
    def _checkpoint(self, force: bool = False) -> None:
        """Ask each ready actor whose partial stacks are due (``force``: hold any chunk) to write them."""
        stacks, pool = self.stacks, self.pool
        if stacks is None or pool is None:
            return
        for a in range(len(pool)):
            if not pool.ready[a] and stacks.live.get(a):  # it died or restarted: what it held is gone
                self._restack(stacks.lost(a))
            elif pool.ready[a] and stacks.due(a, force):
                name = stacks.name_next(a)
                stacks.sent(pool.checkpoint(a, name), a, name)

    def _checkpoint_answered(self, ref) -> None:
        a = self.stacks.pending[ref][0]
        try:
            answer = self._ray.get(ref)
        except Exception as exc:  # noqa: BLE001  (died or restarted: its live chunks go again)
            cause = getattr(exc, "cause", None)
            if not isinstance(exc, self._ray.exceptions.RayActorError) and not isinstance(cause, SetupMissing):
                self.stacks.not_written(ref, cause or exc)  # the actor keeps them: tried again later
                return
            self.pool.lost(a)
            self._restack(self.stacks.lost(a))
            return
        self._restack(self.stacks.answered(ref, answer))

    def _restack(self, tickets: list) -> None:
        """Send again the chunks whose part of a stack was lost with an actor (handed over already)."""
        for ticket in tickets:
            ticket.restack = True
            ticket.actor_failures = 0
            self.queue.append(ticket)
        if tickets:
            log.warning("%d chunk(s) sent again to rebuild partial stacks lost with an actor", len(tickets))

    def seal_stacks(self) -> list[str]:
        """After :meth:`drain`: have every actor write its last partial stacks, sending
        again whatever was lost on the way, until every chunk lies in a segment;
        returns the names of the segments this driver's actors wrote."""
        stacks = self.stacks
        if stacks is None:
            return []
        while not stacks.settled or self.busy:
            self.drain()
            self._checkpoint(force=True)
            self.step()
        return list(stacks.segments)

    def _resend(self, ticket: _Ticket, why: str) -> bool:
        """Re-queue a chunk whose actor died (or restarted without the run's setup);
        False when it has been re-sent too often."""
        a = ticket.actor
        self.pool.lost(a)
        ticket.actor_failures += 1
        if ticket.actor_failures > ACTOR_FAILURES_PER_CHUNK:
            return False
        log.warning("processor actor %d %s chunk %s; sending it to another actor", a, why, ticket.plan.output_id)
        self.report.chunks_resent += 1
        self.queue.appendleft(ticket)
        return True

    # results ---------------------------------------------------------------------------------
    def _collect(self, ref, ticket: _Ticket) -> None:
        ray = self._ray
        if ticket.actor >= 0:
            self.pool.returned(ticket.actor)
        try:
            out = ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            if self.stacks is not None:
                self._restack(self.stacks.lost(ticket.actor))
            if self._resend(ticket, f"died ({type(exc).__name__}) while processing"):
                return
            self._fail(ticket, Failure.of_chunk("process", exc, ticket.plan))
            return
        except Exception as exc:  # noqa: BLE001  (the chunk failed: record it, the others go on)
            cause = getattr(exc, "cause", None)
            if isinstance(cause, SetupMissing) and self.stacks is not None:
                self._restack(self.stacks.lost(ticket.actor))
            if isinstance(cause, SetupMissing) and self._resend(ticket, "restarted and lost the run's setup before"):
                return
            stage = "process" if isinstance(cause, RaydasError) and not isinstance(cause, FormatError) else "ingest"
            self._fail(ticket, Failure.of_chunk(stage, exc, ticket.plan))
            return
        if self.stacks is not None and ticket.reduce:
            self._restack(self.stacks.reduced(ticket.actor, ticket, out.actor))
        if ticket.restack:
            ticket.chunk_ref = None
            return
        self._finish(ticket, out)

    def _fail(self, ticket: _Ticket, failure: Failure) -> None:
        if ticket.restack:  # handed over already as done: its stack is now short of it
            ticket.chunk_ref = None
            self.report.failures.append(failure)
            return
        self._finish(ticket, failure)

    def _finish(self, ticket: _Ticket, outcome: ChunkOutcome) -> None:
        ticket.chunk_ref = None  # release the chunk in the object store
        self.finished_at.append(time.perf_counter())
        self._finished[ticket.seq] = (ticket, outcome)
        while self._next_out in self._finished:  # hand over in submission order
            t, o = self._finished.pop(self._next_out)
            self._next_out += 1
            self._account(t, o)

    def _account(self, ticket: _Ticket, outcome: ChunkOutcome) -> None:
        plan = ticket.plan
        report = self.report
        nbytes = 4 * plan.positions.shape[0] * (plan.stop - plan.start)
        failure = outcome if isinstance(outcome, Failure) else None
        if failure is not None:
            report.failures.append(failure)
        elif isinstance(outcome, ProcessedChunk):
            report.chunks_done += 1
            report.outputs_written += len(outcome.result.written)
            report.bytes_processed += nbytes
            report.add_stages(outcome.stage_seconds(ticket.submitted))
            if outcome.result.nonfinite is not None:
                report.add_nonfinite(plan, outcome.result.nonfinite)
            if ticket.row_ref is not None and self.store is not None:
                row = self._ray.get(ticket.row_ref)
                if row is not None:
                    self.rows.append(row)
        else:  # ingest only: the manifest row
            report.chunks_done += 1
            report.outputs_written += 1
            report.bytes_processed += nbytes
            self.rows.append(outcome)
        ticket.row_ref = None
        if ticket.arrival is not None and failure is None:
            report.latencies.append(time.time() - ticket.arrival)
        self.delivered.append(plan.index)
        self.progress.update(1, 0 if failure is not None else nbytes)
        if self.on_result is not None:
            self.on_result(plan, None if failure is not None else outcome, failure)

    def close(self) -> None:
        """Note the memory peaks and stop the pool's actors (borrowed ones keep running)."""
        if self.memory is not None:
            self.memory.sample(force=True)
            self.report.peak_object_store_bytes = (
                None
                if self.memory.peak_store is None
                else max(0, self.memory.peak_store - (self.memory.baseline_store or 0))
            )
            self.report.peak_driver_rss_bytes = self.memory.peak_rss
        if self.pool is not None:
            self.pool.stop()
