"""Stop what is left of a private Ray once the raydas process that started it is gone.

Ray ties the GCS and the raylet of a private Ray (``ray.init(address="local")``)
to the driver's life (the kernel kills them when it dies), but the raylet's own
children do not die with it at once: its dashboard and runtime-env agents notice
the raylet is gone within seconds and then wait up to 60 s trying to report that
to the GCS, which died too (measured with Ray 2.60 after ``kill -9`` of a driver).

raydas therefore starts, beside each private Ray, this small process (standard
library only, started with ``python -I -S reaper.py MARK``). raydas sets
``RAYDAS_PRIVATE_RAY=MARK`` in its environment while the private Ray starts, so
the Ray's processes inherit it, and nothing else does. The reaper reads its
standard input, a pipe from raydas, until end of file, which comes when raydas
closes it after ``ray.shutdown()`` or when raydas dies however it dies. Meanwhile
it notes the Ray's processes, those marked and their descendants (the agents rename
themselves, which can wipe the environment that ``/proc`` shows), whenever raydas
writes a line (it does once the Ray has started) and every :data:`LOOK_S` seconds.
At end of file it kills every process it noted that still runs (the same process:
same start time) and every marked one.

Processes are found through ``/proc`` (Linux); elsewhere there is nothing to read
and Ray's own clean-up is left to do the work.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time

#: the environment variable marking the processes of one private Ray
MARK_VARIABLE = "RAYDAS_PRIVATE_RAY"
#: seconds between two looks at the Ray's processes while raydas lives
LOOK_S = 1.0
#: how many times to kill and look again at the end (a worker may be starting as the others die)
ROUNDS = 50
#: seconds between two rounds
PAUSE_S = 0.1


def _processes() -> dict[int, tuple[int, int]]:
    """Every process this one can see: id -> (parent id, start time in clock ticks)."""
    found = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:  # gone
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()  # after "pid (name) "; the name may hold anything
        found[int(entry)] = (int(fields[1]), int(fields[19]))
    return found


def _is_marked(pid: int, needle: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            return needle in fh.read().split(b"\0")
    except OSError:  # gone, or another user's
        return False


def ray_processes(mark: str) -> dict[int, int]:
    """The processes of the Ray marked ``mark``: the marked ones and their descendants,
    this one excepted; id -> start time."""
    needle = f"{MARK_VARIABLE}={mark}".encode()
    table = _processes()
    family = {pid for pid in table if pid != os.getpid() and _is_marked(pid, needle)}
    grew = True
    while grew:
        more = {pid for pid, (parent, _) in table.items() if parent in family and pid not in family}
        more.discard(os.getpid())
        family |= more
        grew = bool(more)
    return {pid: table[pid][1] for pid in family}


def reap(mark: str, noted: dict[int, int] | None = None) -> int:
    """Kill the processes of the Ray marked ``mark``, and those ``noted`` earlier that still
    run, until none is left; returns how many were killed."""
    noted = dict(noted or {})
    killed: set[int] = set()
    for _ in range(ROUNDS):
        table = _processes()
        targets = ray_processes(mark)
        targets.update({pid: start for pid, start in noted.items() if table.get(pid, (0, None))[1] == start})
        if not targets:
            break
        for pid in targets:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except OSError:
                pass
        noted = targets
        time.sleep(PAUSE_S)
    return len(killed)


def main(argv: list[str]) -> int:
    """``reaper.py MARK``: note the Ray's processes until end of file on standard input, then reap them."""
    if len(argv) != 2 or not argv[1]:
        print("usage: reaper.py MARK", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C meant for raydas: raydas shuts its Ray down itself
    mark, noted = argv[1], {}
    stdin = sys.stdin.buffer.raw
    while True:
        try:
            ready, _, _ = select.select([stdin], [], [], LOOK_S)
            if ready and not stdin.read(4096):
                break  # end of file: raydas closed the pipe or died
        except OSError:
            break
        noted.update(ray_processes(mark))
    reap(mark, noted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
