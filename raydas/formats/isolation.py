"""Scanning HDF5 files in a helper process, so a damaged file cannot hang a run.

The HDF5 C library can loop forever on some damaged files (a zeroed object
index in a global heap makes reading any variable-length string spin), and
Python cannot interrupt C code. Local HDF5 files are therefore scanned in one
long-lived helper process; when it does not answer within
:data:`HDF5_SCAN_TIMEOUT_S` it is killed (and started afresh for the next file)
and the file gets a :class:`~raydas.errors.FormatError` naming it.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import threading
from collections.abc import Callable

from ..errors import FormatError

#: seconds a local HDF5 file's scan may take before its file is declared damaged
#: (``RAYDAS_HDF5_SCAN_TIMEOUT`` overrides; 0 scans in-process, unguarded)
HDF5_SCAN_TIMEOUT_S = 120.0

_lock = threading.Lock()
_pool: concurrent.futures.ProcessPoolExecutor | None = None


def scan_timeout() -> float:
    return float(os.environ.get("RAYDAS_HDF5_SCAN_TIMEOUT", HDF5_SCAN_TIMEOUT_S))


def _helper() -> concurrent.futures.ProcessPoolExecutor:
    global _pool
    if _pool is None:
        # spawn, not fork: the parent may hold Ray or jax threads
        _pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    return _pool


def _kill_helper() -> None:
    global _pool
    pool, _pool = _pool, None
    if pool is None:
        return
    for proc in list(getattr(pool, "_processes", {}).values()):
        proc.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def run_guarded(url: str, scan: Callable, *args):
    """``scan(*args)`` in the helper process, or a FormatError naming ``url``
    when it takes longer than :func:`scan_timeout` seconds."""
    timeout = scan_timeout()
    if timeout <= 0:
        return scan(*args)
    with _lock:  # one file at a time through the one helper
        try:
            future = _helper().submit(scan, *args)
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            _kill_helper()
            raise FormatError(url, f"the HDF5 library did not finish reading its metadata in {timeout:g} s "
                                   "(its internal structure is damaged)") from None
        except concurrent.futures.process.BrokenProcessPool:
            _kill_helper()
            raise FormatError(url, "the HDF5 library crashed reading its metadata (the file is damaged)") from None
