"""``raydas watch``: process files as they arrive in a folder or bucket.

Every ``interval`` seconds the watcher lists the folder (any fsspec URL:
local, ``s3://``, ``gs://``, ``az://``, ``memory://``). A file is taken once
it has stopped changing: its size and modification time (an object's
ETag where a store gives no time) the same over listings for ``settle``
seconds (default 5: :attr:`RunConfig.settle_seconds`, ``--settle``), so a
file still being written, even one written in parts with pauses shorter
than that, is not taken half-written. Hidden files are never taken: a
writer that writes under a hidden name (``.name.part``) and renames the
file when complete needs no settle time at all (``--settle 0``).

A file whose scan or chunks failed is taken again when it changes (new size
or modification time), and its earlier failures are dropped if it then
succeeds; left unchanged, it stays failed and the watcher ends non-zero.

A taken file's records join the recording built from the files before it,
so chunks run across file boundaries exactly as in a batch run: a chunk is
processed as soon as its own samples *and* the halo after it have arrived
(the halo before it comes from the previous file). The chunk boundaries are
those of the batch run over the same files, so the outputs are the same.

The tail of a recording (its last chunk, and chunks waiting for a halo that
will never come) is processed when a gap or layout change closes the
recording, when the watcher has seen nothing new for ``idle_exit`` seconds,
or when it is stopped. Restarting the watcher resumes: chunks whose outputs
the results manifest vouches for are skipped. Chunks are planned (and their
outputs named and checked) by the run's planner, :meth:`Run.plan`, over every
file taken so far.

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
from dataclasses import dataclass

from .. import formats
from ..config import RunConfig
from ..errors import ConfigError, FormatError, RaydasError
from ..fsutil import url_to_fs
from ..recording import ChunkPlan, assemble, chunk_length
from .driver import Driver
from .report import Failure, RunReport
from .run import Mode, Run

log = logging.getLogger(__name__)

#: what says a file changed: its size (bytes) and modification time (or ETag)
Fingerprint = tuple
#: keys of ``fs.info`` that change with a file's content: local and Azure times, S3's, GCS's, ETags
_CHANGE_KEYS = ("mtime", "LastModified", "last_modified", "updated", "ETag", "etag", "generation")


@dataclass
class _Seen:
    """A file listed but not (or no longer) taken."""

    fingerprint: Fingerprint
    since: float  # monotonic time (s) it was first listed with this fingerprint
    first_seen: float  # wall time (s) it was first listed at all


class Watcher:
    """Watches ``url`` and runs ``config``'s pipeline on what arrives.

    Parameters
    ----------
    url
        Folder (or glob) to watch: local path or fsspec URL.
    config
        Run config: processing, output, chunk_seconds, settle_seconds, ray
        options (its ``input`` is replaced by ``url``).
    interval
        Seconds between listings.
    idle_exit
        Stop after this many seconds without a new file (None: run until stopped).
    progress
        Show progress on stderr.
    settle
        Seconds a file's size and modification time must stay unchanged before
        it is taken (default: ``config.settle_seconds``); 0 takes a file seen
        unchanged over two listings.
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
        settle: float | None = None,
        catalogue: str | None = None,
    ):
        self.url = url
        self.config = config.model_copy(update={"input": url})
        self.interval = interval
        self.idle_exit = idle_exit
        self.settle = self.config.settle_seconds if settle is None else float(settle)
        self.run = Run(self.config, mode=Mode.RUN, progress=progress, on_result=self._on_result)
        if self.run.pipeline is not None and self.run.pipeline.reducers:
            node = self.run.pipeline.reducers[0]
            raise ConfigError(
                f"{node.json_path}.name",
                "stack_chunks (a stack over a run's chunks) is not supported by watch, whose run has no end; "
                "stack the files it processed with raydas run (a catalogue and --start/--end select a span)",
                self.run.processing_source,
            )
        self.stop_event = threading.Event()
        self._pending: dict[str, _Seen] = {}  # files listed, not yet taken (or changed since they failed)
        self._taken: dict[str, Fingerprint | None] = {}  # files taken, as they were when taken
        self._arrival: dict[str, float] = {}  # wall time each taken file was first listed
        self._failed: dict[str, set[str]] = {}  # failed files -> stems of their failed chunks
        self._records: list = []
        self._submitted: set[str] = set()  # output ids of the chunks handed to the driver (or already done)
        self._last_new = time.monotonic()
        self._new_since_planning = False  # a file was taken since chunks were last planned
        self.catalogue = None
        self._unsaved: list = []  # catalogue rows of files taken, not committed yet (another update held it)
        if catalogue:
            from ..catalogue import Catalogue

            self.catalogue = Catalogue(catalogue)
            self._resume_from_catalogue()

    def _resume_from_catalogue(self) -> None:
        """Take the files the catalogue holds under the watched URL, with their records, unopened."""
        records, paths = self.catalogue.records_under(self.url)
        now = time.time()
        for path in paths:
            self._taken[path] = None  # taken before the restart (not listed for its fingerprint: never re-taken)
            self._arrival[path] = now
        self.run.report.files += len(paths)
        self.run.report.records += len(records)
        self._records.extend(self.run.servable(records))
        self._new_since_planning = bool(records)

    def describe(self) -> str:
        """One line saying what is watched, when a file is taken and where results go."""
        stop = f"after {self.idle_exit:g} s without a new file, or Ctrl-C" if self.idle_exit is not None else "Ctrl-C"
        return (
            f"watching {self.url} every {self.interval:g} s; a file is taken once its size and modification time "
            f"have not changed for {self.settle:g} s; results in {self.run.config.output}; stops on {stop}"
        )

    # listing --------------------------------------------------------------------------------
    def poll(self) -> int:
        """List the folder; take the files that have settled; returns how many were taken."""
        fs, _ = url_to_fs(self.url)
        fs.invalidate_cache()  # object stores cache listings: look afresh every time
        try:
            urls = formats.expand(self.url)
        except (FileNotFoundError, RaydasError):
            urls = []
        taken = 0
        now = time.monotonic()
        rows = []
        for url in urls:
            if url in self._taken and url not in self._failed:
                continue  # taken and done: never taken again, nor looked at (a month of files costs a listing)
            try:
                fingerprint = _fingerprint(url)
            except OSError:  # gone again
                continue
            if self._taken.get(url) == fingerprint:
                continue  # a failed file, unchanged since it was taken
            seen = self._pending.get(url)
            if seen is None or seen.fingerprint != fingerprint:
                first = seen.first_seen if seen is not None else self._arrival.get(url, time.time())
                self._pending[url] = _Seen(fingerprint, now, first)
                continue  # new or still changing: look again next time
            if fingerprint[0] == 0 or now - seen.since < self.settle:
                continue
            del self._pending[url]
            table = self._take(url, fingerprint, seen.first_seen)
            if table is not None:
                rows.append(table)
            taken += 1
        self._unsaved.extend(rows)
        self._save_rows()
        if taken:
            self._last_new = time.monotonic()
        return taken

    def _save_rows(self, wait: float | None = None) -> None:
        """Commit the catalogue rows of the files taken; while another update holds the
        catalogue, keep them for the next poll (the files are processed meanwhile)."""
        if not self._unsaved:
            return
        import pyarrow as pa

        from ..catalogue import ADD_WAIT_S, CatalogueBusy

        try:
            self.catalogue.add(pa.concat_tables(self._unsaved), wait=ADD_WAIT_S if wait is None else wait)
        except CatalogueBusy as exc:
            log.warning("catalogue rows of %d file(s) kept for the next poll: %s", len(self._unsaved), exc)
            return
        self._unsaved = []

    def _take(self, url: str, fingerprint: Fingerprint, first_seen: float):
        """Scan a settled file (into the catalogue, when the watcher keeps one: its rows
        are returned to be committed); one that failed before is taken afresh (its old
        records, failures and failed chunks dropped, so that they run again)."""
        if url in self._failed:
            self._forget_failure(url)
        self._taken[url] = fingerprint
        self._new_since_planning = True
        self._arrival.setdefault(url, first_seen)
        failures_before = len(self.run.report.failures)
        rows = None
        if self.catalogue is None:
            self._records.extend(self.run.scan_file(url))
        else:
            rows = self._scan_into_catalogue(url)
        if len(self.run.report.failures) > failures_before:
            self._failed[url] = set()
        return rows

    def _forget_failure(self, url: str) -> None:
        """Drop what a failed file left: its failures, its records (counted again
        when it is scanned afresh) and its failed chunks (so that they run again)."""
        report = self.run.report
        old = [r for r in self._records if r.path == url]
        if old:
            report.files -= 1
            report.records -= len(old)
        self._records = [r for r in self._records if r.path != url]
        report.failures = [f for f in report.failures if url not in f.file.split(";")]
        again = self._failed.pop(url) & self._submitted
        self._submitted -= again
        report.chunks_total -= len(again)

    def _on_result(self, plan: ChunkPlan, outcome, failure: Failure | None) -> None:
        """A chunk failed: its files are taken again (and the chunk re-run) when they change."""
        if failure is None:
            return
        for path in plan.sources:
            self._failed.setdefault(path, set()).add(plan.stem)

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
        plans = self.run.plan(self._records)
        recordings, _ = assemble(self._records)
        latest_start = max(r.start_ns for r in recordings)
        out = []
        for plan in plans:
            if plan.output_id in self._submitted:
                continue
            rec = recordings[plan.recording_index]
            # a later recording exists, or stamped readings (never joined with another file): this one is complete
            closed = final or rec.end_ns < latest_start or not rec.first.regular
            size = chunk_length(rec, self.config.chunk_seconds, self.config.chunk_readings)
            wanted = self.run.halo_for(rec.sample_rate) if rec.first.regular else 0
            complete = plan.stop - plan.start == size and plan.halo[1] >= wanted
            if closed or complete:
                arrival = max(self._arrival.get(r.path, time.time()) for r, _, _ in plan.pieces)
                out.append((plan, arrival))
        return out

    def _submit_ready(self, driver: Driver, final: bool = False) -> None:
        """Plan and submit the chunks that became ready; planning happens only when a
        file was taken since the last time (or at the end), so an idle poll costs a listing."""
        if not final and not self._new_since_planning:
            return
        self._new_since_planning = False
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
                if self.stop_event.is_set() or (idle and not self._pending):
                    break
            self.poll()
            while self._pending:  # files already there when stopped: take them once they have settled
                time.sleep(self.interval)
                self.poll()
            self._submit_ready(driver, final=True)
            driver.drain()
        self._save_rows()
        if self._unsaved:
            self.run.warn(
                f"the catalogue rows of {len(self._unsaved)} file(s) processed by this watch were not committed: "
                "another update held the catalogue; the next watch or raydas index scans them again"
            )
        self.run.report.seconds = time.perf_counter() - t_start
        return self.run.finish()


def _fingerprint(url: str) -> Fingerprint:
    """What says that the file ``url`` changed: its size (bytes) and modification
    time, or an object store's ETag or generation where it gives no time.

    Raises
    ------
    OSError
        When the file is gone.
    """
    fs, path = url_to_fs(url)
    fs.invalidate_cache(path)
    info = fs.info(path)
    stamp = next((info[k] for k in _CHANGE_KEYS if k in info), None)
    return (int(info.get("size") or 0), str(stamp))


def watch(
    url: str,
    config: RunConfig,
    interval: float = 2.0,
    idle_exit: float | None = None,
    progress: bool = True,
    settle: float | None = None,
    catalogue: str | None = None,
) -> RunReport:
    """Process files arriving in ``url`` with ``config`` (see :class:`Watcher`)."""
    return Watcher(
        url, config, interval=interval, idle_exit=idle_exit, progress=progress, settle=settle, catalogue=catalogue
    ).watch()
