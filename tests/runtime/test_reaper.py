"""The reaper of a private Ray (raydas.runtime.reaper): once raydas closes its pipe, or
dies, it kills the processes marked as that Ray's and their descendants, and nothing else.
Real processes stand in for Ray's (test_runtime_scale kills a real driver with a real Ray)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from raydas.runtime.cluster import start_reaper, stop_reaper
from raydas.runtime.reaper import MARK_VARIABLE, ray_processes

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="the reaper reads /proc")

#: a marked process that starts an unmarked child (as the raylet starts agents whose renaming
#: wipes the environment /proc shows) and prints the child's id
PARENT = (
    "import os, subprocess, sys, time; "
    f"env = {{k: v for k, v in os.environ.items() if k != {MARK_VARIABLE!r}}}; "
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], env=env); "
    "print(child.pid, flush=True); time.sleep(120)"
)
#: raydas as far as the reaper is concerned: starts it, tells it the Ray is up, prints its id, lives on
DRIVER = (
    "import sys, time; from raydas.runtime.cluster import start_reaper; r = start_reaper(sys.argv[1]); "
    "sys.stdin.readline(); r.stdin.write(b'started\\n'); r.stdin.flush(); print(r.pid, flush=True); time.sleep(120)"
)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b") ", 1)[1][:1] != b"Z"
    except OSError:
        return False


def _gone(pids, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(_alive(p) for p in pids)


def _marked_family(mark: str):
    marked = subprocess.Popen(
        [sys.executable, "-c", PARENT], env=dict(os.environ, **{MARK_VARIABLE: mark}), stdout=subprocess.PIPE
    )
    child = int(marked.stdout.readline())
    return marked, child


def test_closing_the_pipe_reaps_the_ray_and_nothing_else():
    mark = uuid.uuid4().hex
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    reaper = start_reaper(mark)
    marked, child = _marked_family(mark)
    try:
        assert set(ray_processes(mark)) == {marked.pid, child}  # the child by descent alone
        stop_reaper(reaper)
        assert reaper.returncode == 0
        assert _gone([marked.pid, child])
        assert _alive(bystander.pid)  # nothing else is touched
    finally:
        for p in (marked, bystander, reaper):
            p.kill()
            p.wait()
        if _alive(child):
            os.kill(child, signal.SIGKILL)


def test_a_killed_driver_has_its_ray_reaped():
    mark = uuid.uuid4().hex
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, mark], stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True
    )
    marked, child = _marked_family(mark)
    try:
        driver.stdin.write(b"up\n")
        driver.stdin.flush()
        reaper = int(driver.stdout.readline())
        os.kill(driver.pid, signal.SIGKILL)  # the driver alone
        driver.wait()
        assert _gone([marked.pid, child, reaper])
    finally:
        for p in (marked, driver):
            p.kill()
            p.wait()
        if _alive(child):
            os.kill(child, signal.SIGKILL)
