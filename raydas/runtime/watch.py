"""``raydas watch``: process files as they arrive in a folder or bucket.

Every ``interval`` seconds the watcher lists the folder (any fsspec URL:
local, ``s3://``, ``gs://``, ``az://``, ``memory://``). A new file is taken
once its size has not changed between two listings (hidden files, such as
the temporary files of writers that rename when done, are ignored). Its
records join the recording built from the files before it, so chunks run
across file boundaries exactly as in a batch run: a chunk is processed as
soon as its own samples *and* the halo after it have arrived (the halo
before it comes from the previous file). The chunk boundaries are those of
the batch run over the same files, so the outputs are the same.

The tail of a recording (its last chunk, and chunks waiting for a halo that
will never come) is processed when a gap or layout change closes the
recording, when the watcher has seen nothing new for ``idle_exit`` seconds,
or when it is stopped. Restarting the watcher resumes: chunks whose outputs
the results manifest vouches for are skipped. Chunks are planned (and their
outputs named and checked) by the run's planner, :meth:`Run.plan`, over every
file taken so far.

Latency is measured per chunk from when the watcher first saw the last file
the chunk needs to when its outputs were written.
"""

from __future__ import annotations

import logging
import threading
import time

from .. import formats
from ..config import RunConfig
from ..errors import RaydasError
from ..fsutil import url_to_fs
from ..recording import ChunkPlan, assemble
from .driver import Driver
from .report import RunReport
from .run import Mode, Run

log = logging.getLogger(__name__)


class Watcher:
    """Watches ``url`` and runs ``config``'s pipeline on what arrives.

    Parameters
    ----------
    url
        Folder (or glob) to watch: local path or fsspec URL.
    config
        Run config: processing, output, chunk_seconds, ray options (its
        ``input`` is replaced by ``url``).
    interval
        Seconds between listings.
    idle_exit
        Stop after this many seconds without a new file (None: run until stopped).
    """

    def __init__(
        self, url: str, config: RunConfig, interval: float = 2.0, idle_exit: float | None = None, progress: bool = True
    ):
        self.url = url
        self.config = config.model_copy(update={"input": url})
        self.interval = interval
        self.idle_exit = idle_exit
        self.run = Run(self.config, mode=Mode.RUN, progress=progress)
        self.stop_event = threading.Event()
        self._sizes: dict[str, int] = {}  # path -> size at the last listing (not yet taken)
        self._first_seen: dict[str, float] = {}  # path -> wall time first listed
        self._taken: dict[str, float] = {}  # path -> wall time first listed, for files taken
        self._records: list = []
        self._submitted: set[str] = set()  # output ids of the chunks handed to the driver (or already done)
        self._last_new = time.monotonic()

    # listing --------------------------------------------------------------------------------
    def poll(self) -> int:
        """List the folder; scan the files that have settled; returns how many were taken."""
        fs, _ = url_to_fs(self.url)
        fs.invalidate_cache()  # object stores cache listings: look afresh every time
        try:
            urls = formats.expand(self.url)
        except (FileNotFoundError, RaydasError):
            urls = []
        taken = 0
        for url in urls:
            if url in self._taken:
                continue
            try:
                fs, path = url_to_fs(url)
                fs.invalidate_cache(path)
                size = int(fs.size(path) or 0)
            except OSError:  # gone again
                continue
            before = self._sizes.get(url)
            self._sizes[url] = size
            self._first_seen.setdefault(url, time.time())
            if before is None or before != size or size == 0:
                continue  # new or still growing: look again next time
            self._sizes.pop(url)
            self._taken[url] = self._first_seen.pop(url, time.time())
            taken += 1
            self._records.extend(self.run.scan_file(url))
        if taken:
            self._last_new = time.monotonic()
        return taken

    # planning ---------------------------------------------------------------------------------
    def ready_plans(self, final: bool = False) -> list[tuple[ChunkPlan, float]]:
        """Chunks not yet submitted whose samples and halos have all arrived
        (all of them when ``final``), with the arrival time of their last file."""
        if not self._records:
            return []
        plans = self.run.plan(self._records)
        recordings, _ = assemble(self._records)
        latest_start = max(r.start_ns for r in recordings)
        out = []
        for plan in plans:
            if plan.output_id in self._submitted:
                continue
            rec = recordings[plan.recording_index]
            closed = final or rec.end_ns < latest_start  # a later recording exists: this one is complete
            size = max(1, round(self.config.chunk_seconds * rec.sample_rate))
            wanted = self.run.halo_for(rec.sample_rate)
            complete = plan.stop - plan.start == size and plan.halo[1] >= wanted
            if closed or complete:
                arrival = max(self._taken.get(r.path, time.time()) for r, _, _ in plan.pieces)
                out.append((plan, arrival))
        return out

    def _submit_ready(self, driver: Driver, final: bool = False) -> None:
        ready = self.ready_plans(final)
        if not ready:
            return
        todo, done = self.run.split_done([p for p, _ in ready])
        todo_ids = {p.output_id for p in todo}
        for plan, _ in ready:
            self._submitted.add(plan.output_id)
        self.run.report.chunks_total += len(ready)
        self.run.report.chunks_skipped += len(done)
        driver.progress.add_total(len(todo))
        for plan, arrival in ready:
            if plan.output_id in todo_ids:
                driver.submit(plan, arrival=arrival)

    # running ----------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the watcher to finish: the files already there are taken once
        settled, the tails are processed, then :meth:`watch` returns."""
        self.stop_event.set()

    def watch(self) -> RunReport:
        """Watch until stopped or idle; returns the report (raises RunFailed if anything failed)."""
        t_start = time.perf_counter()
        with self.run.session() as driver:
            while True:
                self.poll()
                self._submit_ready(driver)
                deadline = time.monotonic() + self.interval
                while time.monotonic() < deadline:
                    driver.step(timeout=max(0.01, min(0.5, deadline - time.monotonic())))
                    if not driver.busy:
                        break
                if not driver.busy and time.monotonic() < deadline and not self.stop_event.is_set():
                    self.stop_event.wait(max(0.0, deadline - time.monotonic()))
                idle = self.idle_exit is not None and time.monotonic() - self._last_new > self.idle_exit
                if self.stop_event.is_set() or (idle and not self._sizes):
                    break
            self.poll()
            while self._sizes:  # files already there when stopped: take them once they have settled
                time.sleep(self.interval)
                self.poll()
            self._submit_ready(driver, final=True)
            driver.drain()
        self.run.report.seconds = time.perf_counter() - t_start
        return self.run.finish()


def watch(
    url: str, config: RunConfig, interval: float = 2.0, idle_exit: float | None = None, progress: bool = True
) -> RunReport:
    """Process files arriving in ``url`` with ``config`` (see :class:`Watcher`)."""
    return Watcher(url, config, interval=interval, idle_exit=idle_exit, progress=progress).watch()
