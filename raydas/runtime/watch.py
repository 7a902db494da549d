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
exist are skipped.

Latency is measured per chunk from when the watcher first saw the last file
the chunk needs to when its outputs were written.

With a catalogue (``--catalogue URL``, :class:`raydas.catalogue.Catalogue`) the
watcher keeps its state there: every file it takes is scanned once and its
rows committed to the catalogue, and a restarted watcher takes the files the
catalogue already holds under the watched URL from it, without opening them.
"""

from __future__ import annotations

import logging
import threading
import time

from .. import formats
from ..config import RunConfig
from ..errors import FormatError, RaydasError
from ..fsutil import url_to_fs
from ..recording import ChunkPlan, assemble, plan_chunks
from .driver import Driver
from .report import Failure, RunReport
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
    catalogue
        Catalogue URL keeping the watcher's state (files taken and their records) across restarts.
    """

    def __init__(
        self,
        url: str,
        config: RunConfig,
        interval: float = 2.0,
        idle_exit: float | None = None,
        progress: bool = True,
        catalogue: str | None = None,
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
        self._submitted: set[str] = set()  # chunk stems handed to the driver (or already done)
        self._last_new = time.monotonic()
        self.catalogue = None
        if catalogue:
            from ..catalogue import Catalogue

            self.catalogue = Catalogue(catalogue)
            self._resume_from_catalogue()

    def _resume_from_catalogue(self) -> None:
        """Take the files the catalogue holds under the watched URL, with their records, unopened."""
        records, paths = self.catalogue.records_under(self.url)
        now = time.time()
        for path in paths:
            self._taken[path] = now
        self.run.report.files += len(paths)
        self.run.report.records += len(records)
        self._records.extend(self.run.servable(records))

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
        rows = []
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
            if self.catalogue is None:
                self._records.extend(self.run.scan_file(url))
            else:
                rows.append(self._scan_into_catalogue(url))
        if rows:
            import pyarrow as pa

            self.catalogue.add(pa.concat_tables(rows))
        if taken:
            self._last_new = time.monotonic()
        return taken

    def _scan_into_catalogue(self, url: str):
        """Scan one file that arrived into catalogue rows (its records joined to the
        recording, a failure recorded in the report); returns the rows."""
        from ..catalogue import plain_rows, record_from_row, scan_stamps

        table = scan_stamps([self.catalogue.stamp(url, self.url)], self.run.scan_options)
        records = []
        for row in plain_rows(table):
            if row["status"] == "ok":
                records.append(record_from_row(row) if row["attrs"] is not None else None)
            else:
                failure = FormatError(url, row["error"])
                self.run.report.failures.append(Failure.from_error("scan", failure, file=url))
        if any(r is None for r in records):  # metadata that does not fit the catalogue: the scan's own records
            records = formats.scan_file(url, self.run.scan_options)
        self.run.report.files += 1
        self.run.report.records += len(records)
        self._records.extend(self.run.servable(records))
        return table

    # planning ---------------------------------------------------------------------------------
    def ready_plans(self, final: bool = False) -> list[tuple[ChunkPlan, float]]:
        """Chunks not yet submitted whose samples and halos have all arrived
        (all of them when ``final``), with the arrival time of their last file."""
        if not self._records:
            return []
        recordings, breaks = assemble(self._records)
        self.run.report.discontinuities = [d.to_dict() for d in breaks]
        plans = plan_chunks(recordings, self.config.chunk_seconds, halo_for=self.run.halo_for)
        latest_start = max(r.start_ns for r in recordings)
        out = []
        for plan in plans:
            if plan.stem in self._submitted:
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
        todo_stems = {p.stem for p in todo}
        for plan, _ in ready:
            self._submitted.add(plan.stem)
        self.run.report.chunks_total += len(ready)
        self.run.report.chunks_skipped += len(done)
        driver.progress.add_total(len(todo))
        for plan, arrival in ready:
            if plan.stem in todo_stems:
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
    url: str,
    config: RunConfig,
    interval: float = 2.0,
    idle_exit: float | None = None,
    progress: bool = True,
    catalogue: str | None = None,
) -> RunReport:
    """Process files arriving in ``url`` with ``config`` (see :class:`Watcher`)."""
    return Watcher(url, config, interval=interval, idle_exit=idle_exit, progress=progress, catalogue=catalogue).watch()
