"""Start-up: time to first output of a one-file ``raydas run``, with a private Ray
(started and stopped by the run) against a Ray kept running (``raydas up``).

Both sides run the CLI as a user does (``python -m raydas run CONFIG``) on the
same small SEG-Y file (4 s x 40 channels at 1 kHz, the demo's noise log) and
are timed from launching the command to the first ``.fbe`` file appearing in
the results (writers rename a file into place once complete); the time to the
command's exit is recorded beside it. The private side passes ``--address
local``, so both sides run while the one ``raydas up`` Ray is up (started and
stopped outside every clock, in a Ray temp folder of the benchmark's own), and
their passes interleave.

Run alone: ``python benchmarks/startup.py [--runs N] [--results FILE]``; the
last line is ``attach_vs_private=<r>`` (time to first output, private over
attached). ``benchmarks/run.py`` runs it as its start-up case.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


class StartupBench:
    """A one-file run timed to its first output, privately or attached to ``raydas up``'s Ray.

    Use as a context manager: entering writes the data and starts ``raydas up``
    (with its own ``RAY_TMPDIR``), leaving stops it (``raydas down``) and
    removes the data.
    """

    def __init__(self, work: Path, log=print):
        self.work = Path(work)
        self.log = log
        self.ray_tmp = tempfile.mkdtemp(prefix="rdb")  # short: Ray's socket paths must stay under 107 bytes
        self.env = dict(os.environ, RAY_TMPDIR=self.ray_tmp, RAY_USAGE_STATS_ENABLED="0")
        self.env.pop("RAY_ADDRESS", None)
        self.exits: dict[str, list[float]] = {"private": [], "attached": []}
        self.config = ""
        self.nbytes = 0

    def __enter__(self) -> StartupBench:
        from raydas.apps import demo

        self.config = demo.prepare(str(self.work / "startup"), files=1, seconds=4.0, channels=40, sample_rate=1000.0)
        self.nbytes = sum(f.stat().st_size for f in (self.work / "startup" / "data").iterdir())
        t0 = time.perf_counter()
        up = self._raydas("up", "--num-cpus", str(os.cpu_count() or 2), timeout=300)
        if up.returncode != 0:
            raise RuntimeError(f"raydas up failed: {up.stderr[-2000:]}")
        self.log(f"  raydas up in {time.perf_counter() - t0:.1f} s (outside the clock): {up.stdout.strip()}")
        return self

    def __exit__(self, *exc) -> None:
        down = self._raydas("down", timeout=120)
        if down.returncode != 0:
            self.log(f"  raydas down failed: {down.stderr[-2000:]}")
        shutil.rmtree(self.ray_tmp, ignore_errors=True)

    def _raydas(self, *args: str, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "raydas", *args], capture_output=True, text=True, env=self.env, timeout=timeout
        )

    def private(self) -> float:
        """One pass with a private Ray: seconds from launch to the first output."""
        return self._pass("private", ["--address", "local"])

    def attached(self) -> float:
        """One pass attached to ``raydas up``'s Ray: seconds from launch to the first output."""
        return self._pass("attached", [])

    def _pass(self, side: str, extra: list[str]) -> float:
        out = self.work / f"startup-{side}"
        shutil.rmtree(out, ignore_errors=True)
        folder = out / "NoiseLog"
        command = [sys.executable, "-m", "raydas", "run", self.config, "--no-progress", "--output", str(out), *extra]
        with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
            t0 = time.perf_counter()
            proc = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=self.env)
            first = None
            while proc.poll() is None:
                if first is None and _has_output(folder):
                    first = time.perf_counter() - t0
                time.sleep(0.005)
            done = time.perf_counter() - t0
            stderr.seek(0)
            said = stderr.read()
        if first is None and _has_output(folder):
            first = done
        if proc.returncode != 0 or first is None:
            raise RuntimeError(f"{side} run failed (exit {proc.returncode}): {said[-2000:]}")
        if ("attached" in said) != (side == "attached"):
            raise RuntimeError(f"the {side} run did not use the Ray it should: {said[-2000:]}")
        self.exits[side].append(done)
        return first

    def exit_medians(self) -> tuple[float, float]:
        """Median seconds to the command's exit: private, attached."""
        return tuple(
            statistics.median(self.exits[k]) if self.exits[k] else float("nan") for k in ("private", "attached")
        )


def _has_output(folder: Path) -> bool:
    try:
        return any(not p.name.startswith(".") for p in folder.rglob("*.fbe"))  # in the recording's folder
    except FileNotFoundError:
        return False


def sides(bench: StartupBench | None, side_class, why_not: str = "") -> list:
    """The two sides of the start-up case as ``side_class`` (benchmarks/run.py's Side);
    without a bench, sides that did not run (``why_not`` says why)."""
    what = "one-file raydas run (CLI), time to first .fbe"
    nbytes = bench.nbytes if bench else 0
    return [
        side_class(
            "startup",
            "private Ray",
            f"{what}; Ray started and stopped by the run",
            0,
            nbytes,
            bench.private if bench else None,
            why_not=why_not,
        ),
        side_class(
            "startup",
            "attached (raydas up)",
            f"{what}; attached to raydas up's Ray, warm actors",
            0,
            nbytes,
            bench.attached if bench else None,
            why_not=why_not,
        ),
    ]


def summary(bench: StartupBench, private, attached, ratio: float) -> str:
    """One line: time to first output both ways, their ratio, and the times to exit."""
    exit_private, exit_attached = bench.exit_medians()
    return (
        f"start-up, one-file run: first output after {private.median:.2f} s with a private Ray, "
        f"{attached.median:.2f} s attached to raydas up's: {ratio:.2f}x sooner attached "
        f"(command done after {exit_private:.2f} s vs {exit_attached:.2f} s)"
    )


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(HERE))
    import run as bench_run  # benchmarks/run.py: Side, measure, table, machine, versions

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="timed passes per side (default 5)")
    ap.add_argument("--results", default=None, help="append the results to this Markdown file")
    args = ap.parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="raydas-startup-"))
    try:
        with StartupBench(work) as bench:
            both = sides(bench, bench_run.Side)
            bench_run.measure(both, args.runs, print)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    private, attached = both
    ratio = bench_run.ratio(private, attached)
    text = bench_run.table(both, lambda s: private)
    line = summary(bench, private, attached, ratio)
    print("\n" + text + "\n\n" + line)
    if args.results:
        bench_run.append_results(
            args.results,
            started,
            argparse.Namespace(quick=False),
            args.runs,
            bench_run.machine(),
            bench_run.versions(),
            load_before,
            os.getloadavg(),
            text,
            [line, "x ref = private median / row median (how many times sooner the first output comes)"],
            title="start-up case alone (benchmarks/startup.py)",
        )
        print(f"appended to {args.results}")
    print(f"attach_vs_private={bench_run.fmt_ratio(ratio)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
