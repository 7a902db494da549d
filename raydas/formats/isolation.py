"""Scanning HDF5 files in a helper process, so a damaged file cannot hang a run.

The HDF5 C library can loop forever on some damaged files (a zeroed object
index in a global heap makes reading any variable-length string spin), and
Python cannot interrupt C code; a remote store can also stop answering in the
middle of a read. HDF5 files are therefore scanned (and remote ones read) in one
long-lived helper process (``python -c`` running :func:`serve`, so it works
from scripts, notebooks and stdin alike); when it does not answer within
:func:`scan_timeout` seconds it is killed, started afresh for the next file,
and the file gets a :class:`~raydas.errors.FormatError` naming it.
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable

from ..errors import FormatError

#: seconds an HDF5 file's scan (or a remote one's read) may take before its file is declared damaged
#: (``RAYDAS_HDF5_SCAN_TIMEOUT`` overrides; 0 scans in-process, unguarded)
HDF5_SCAN_TIMEOUT_S = 120.0

_HEADER = struct.Struct("<Q")
_lock = threading.Lock()
_helper: subprocess.Popen | None = None
_helper_env: dict[str, str] = {}  # the environment the helper was started with


def scan_timeout() -> float:
    return float(os.environ.get("RAYDAS_HDF5_SCAN_TIMEOUT", HDF5_SCAN_TIMEOUT_S))


def _send(stream, obj) -> None:
    data = pickle.dumps(obj)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _receive(stream):
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError("the helper process closed its pipe")
    (n,) = _HEADER.unpack(head)
    return pickle.loads(stream.read(n))


def serve() -> None:
    """The helper's loop: read ``(function, args)``, answer ``("ok", result, warnings)``
    or ``("error", exception, warnings)``; ``warnings`` are the ``(message, category)``
    the call warned, so the caller warns them in its own process."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the answers
    while True:
        try:
            func, args = _receive(stdin)
        except EOFError:
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                answer = ("ok", func(*args))
            except Exception as exc:  # noqa: BLE001  (handed to the caller, who raises it)
                answer = ("error", exc)
        answer += ([(str(w.message), w.category) for w in caught],)
        try:
            _send(stdout, answer)
        except Exception as exc:  # noqa: BLE001  (an answer that does not pickle)
            _send(stdout, ("error", RuntimeError(f"{type(exc).__name__}: {exc}"), []))


def _start() -> subprocess.Popen:
    env = dict(os.environ)
    # the folder holding the raydas package: raydas/formats/isolation.py is three levels below it
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from raydas.formats.isolation import serve; serve()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    atexit.register(_stop, proc)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def can_isolate(fs) -> bool:
    """True when another process can open the files of ``fs`` (not an
    in-memory file system, which lives in this process only)."""
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol != "memory"


def run_guarded(url: str, scan: Callable, *args, what: str = "reading its metadata"):
    """``scan(*args)`` in the helper process, or a FormatError naming ``url``
    when it takes longer than :func:`scan_timeout` seconds (``scan`` must be a
    module-level function: it is pickled by name; ``what`` says what it does,
    for the error)."""
    global _helper
    timeout = scan_timeout()
    if timeout <= 0:
        return scan(*args)
    with _lock:  # one file at a time through the one helper
        if _helper is not None and _helper_env != os.environ:
            _stop(_helper)  # credentials or endpoints changed since it started: it must see the new ones
            _helper = None
        if _helper is None or _helper.poll() is not None:
            _helper_env.clear()
            _helper_env.update(os.environ)
            _helper = _start()
        proc = _helper
        try:
            _send(proc.stdin, (scan, args))
            deadline = time.monotonic() + timeout
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                _stop(proc)
                _helper = None
                raise FormatError(
                    url,
                    f"the HDF5 library did not finish {what} in {timeout:g} s "
                    "(its internal structure is damaged, or a remote store stopped answering)",
                )
            status, value, warned = _receive(proc.stdout)
        except (EOFError, OSError, pickle.UnpicklingError):
            _stop(proc)
            _helper = None
            raise FormatError(url, f"the HDF5 library crashed {what} (the file is damaged)") from None
    for message, category in warned:  # what the scan warned (a truncated file) is said here too
        warnings.warn(message, category, stacklevel=2)
    if status == "error":
        raise value
    return value
