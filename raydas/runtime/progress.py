"""What a run shows while it runs: chunks done of total, throughput and ETA
on the driver, and how much of Ray's object store and the driver's own memory
the run is using (sampled, so that a test or an operator can see that memory
stays flat however long the recording)."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass


@dataclass
class Snapshot:
    """Progress at one moment."""

    done: int
    total: int
    seconds: float  # since the start (s)
    mb_per_s: float  # float32 samples processed per second (MB/s)
    chunks_per_s: float
    eta_s: float | None  # seconds left at the current rate; None before the first chunk

    def line(self) -> str:
        eta = "?" if self.eta_s is None else f"{self.eta_s:.0f} s"
        return f"{self.done}/{self.total} chunks, {self.chunks_per_s:.2f} chunk/s, {self.mb_per_s:.1f} MB/s, ETA {eta}"


class Progress:
    """Chunks done of total, throughput and ETA, shown on stderr.

    Interactive terminals get a tqdm bar; logs (stderr not a terminal) get one
    line every ``log_every`` seconds and one at the end. Throughput is the
    float32 samples of the chunks done (failed ones excluded) over the time
    from the start to the last chunk done: the run's summary reports the same
    figure (:attr:`RunReport.processing_seconds`).

    Parameters
    ----------
    total
        Chunks to do in this run (chunks already done are not counted).
    enabled
        Show anything at all.
    clock
        Time source in seconds (tests pass a fake one).
    """

    def __init__(self, total: int, enabled: bool = True, log_every: float = 10.0, clock=time.perf_counter, stream=None):
        self.total = int(total)
        self.done = 0
        self.bytes = 0
        self.clock = clock
        self.start = clock()
        self.enabled = enabled
        self.log_every = log_every
        self.stream = stream or sys.stderr
        self._last_log = self.start
        self._last_done = self.start
        self.end: float | None = None  # set by close(): the time the last chunk was done
        self._bar = None
        if enabled and hasattr(self.stream, "isatty") and self.stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(
                total=self.total, unit="chunk", desc="chunks", file=self.stream, dynamic_ncols=True, mininterval=0.2
            )

    def add_total(self, n: int) -> None:
        """More chunks became known (streaming)."""
        self.total += n
        if self._bar is not None:
            self._bar.total = self.total
            self._bar.refresh()

    def update(self, chunks: int = 1, nbytes: int = 0) -> None:
        """``chunks`` more done, carrying ``nbytes`` of float32 samples (0 for a failed chunk)."""
        self.done += chunks
        self.bytes += nbytes
        self._last_done = self.clock()
        if not self.enabled:
            return
        snap = self.snapshot()
        if self._bar is not None:
            self._bar.update(chunks)
            self._bar.set_postfix_str(f"{snap.mb_per_s:.1f} MB/s", refresh=False)
        elif self.clock() - self._last_log >= self.log_every:
            self._last_log = self.clock()
            print(f"raydas: {snap.line()}", file=self.stream, flush=True)

    def snapshot(self) -> Snapshot:
        """Progress now (after :meth:`close`: at the last chunk done)."""
        elapsed = max((self.clock() if self.end is None else self.end) - self.start, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if self.done else None
        return Snapshot(self.done, self.total, elapsed, self.bytes / elapsed / 1e6, rate, eta)

    @property
    def seconds(self) -> float:
        """Seconds from the start to the last chunk done (0 before any)."""
        return self._last_done - self.start if self.done else 0.0

    def close(self) -> None:
        """Stop the clock at the last chunk done and show the final line."""
        self.end = self._last_done
        if self._bar is not None:
            self._bar.close()
        elif self.enabled and self.done:
            print(f"raydas: {self.snapshot().line()}", file=self.stream, flush=True)


class MemorySampler:
    """Samples the bytes used in Ray's object store (all nodes) and the
    driver's resident memory, at most every ``interval`` seconds; keeps peaks.

    The object-store figure comes from the raylets' store statistics (Ray's
    internal API behind ``ray memory --stats-only``); when that is not
    available it stays ``None`` and the run goes on.
    """

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self._next = 0.0
        self._state = None
        self.failed = False
        self.samples: list[tuple[float, int | None, int]] = []  # (time s, store bytes, driver RSS bytes)
        self.peak_store: int | None = None
        self.peak_rss = 0
        self.baseline_store = self._store_bytes()
        self.baseline_rss = self._rss()

    def sample(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now < self._next:
            return
        self._next = now + self.interval
        store, rss = self._store_bytes(), self._rss()
        self.samples.append((now, store, rss))
        if store is not None:
            self.peak_store = store if self.peak_store is None else max(self.peak_store, store)
        self.peak_rss = max(self.peak_rss, rss)

    def _store_bytes(self) -> int | None:
        if self.failed:
            return None
        try:
            import ray
            from ray._private import internal_api

            if self._state is None:
                self._state = internal_api.get_state_from_address(ray.get_runtime_context().gcs_address)
            reply = internal_api.get_memory_info_reply(self._state, timeout_seconds=10.0)
            return int(reply.store_stats.object_store_bytes_used)
        except Exception:  # noqa: BLE001  (private API: never let it break a run)
            self.failed = True
            return None

    @staticmethod
    def _rss() -> int:
        """The driver's resident memory (bytes): /proc on Linux, else the peak from getrusage."""
        try:
            with open("/proc/self/statm") as fh:
                return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB elsewhere
