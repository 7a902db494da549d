"""raydas benchmarks, side by side in one sitting: ``python benchmarks/run.py [--quick]``.

Cases (sizes for the full run; ``--quick`` shrinks them to finish in about a minute):

1. **FBE / noise log.** 20 one-second chunks of 1000 channels at 10 kHz
   (800 MB of float32) in raydas's chunk store. raydas runs
   ``benchmarks/fbe-noiselog.json`` (fft, band RMS 0-Nyquist, 7 band RMS via
   ``multiple_calcs``/``rms_from_fft``, WITSML ``.fbe`` per chunk) with
   ``raydas process``. Beside it: the bare-kernel *limit* (``limit.py``: 2
   processes reading the same stored float32 chunks, scipy rfft, band sums,
   same rows written), distpy 1.32.3 on its own Python 3.8 stack (its float64
   ingest layout, ``parallel_flag=1, ncpu=2``), and DASCore's ``dft`` route.
1b. **Cross-correlation.** All pairs ``i <= j`` of a window of channels (48 quick,
   100 full, at 1 kHz / 2 kHz) correlated in every one-second chunk of a chunk store
   (lags +-0.1 s) with ``xcorr`` and written per chunk with ``write_npy``, against the
   bare-kernel limit (``xcorr_limit.py``: 2 processes, float32 ``rfft`` of the window,
   conjugate products of every pair, ``irfft``, the same ``.npy`` written), and against
   NoisePy's own functions (``ext_noisepy.py``: ``noise_processing``, then
   ``smooth_source_spect`` and ``correlate`` pair by pair as its correlate step calls
   them, 2 processes) where ``RAYDAS_NOISEPY_PYTHON`` names its interpreter.
2. **Ingest.** A SEG-Y file (raydas's SEG-Y writer, IEEE float32) and a PRODML v2.1 HDF5 file
   (h5py) of 320 MB each into the chunk store with ``raydas ingest`` (both
   cores), against ``cp`` of the same file to the same disk: ingest reads,
   decodes, checksums and writes, so its limit is a copy.
3. **Scaling.** 1 and 2 processor actors; chunks of 1, 5 and 30 s.
4. **Start-up.** Time to first output of a one-file ``raydas run`` (the CLI, a
   small SEG-Y file) with a private Ray against one attached to a Ray kept
   running by ``raydas up`` (``benchmarks/startup.py``; Ray's start *is* on this
   clock, it is what is measured). ``--quick`` times one pass per side, with no warm-up.
5. **GPU.** Not timed by this script: on a GPU machine ``bash benchmarks/gpu_check.sh``
   runs ``benchmarks/gpu_bench.py`` (FBE and all-pairs xcorr on cupy against numpy and
   against the host-to-device copy bandwidth) with the command checks on cupy.

How it is timed (honestly, the same way for every side):

* Each side gets one untimed warm-up pass, then ``--runs`` timed passes,
  interleaved round-robin across the sides of a case, so that load from other
  users of a shared machine falls on all sides alike. The table gives the
  median (min-max) wall seconds.
* Every FBE side reads stored chunks and writes its outputs inside the clock.
  Outputs are deleted between passes, outside the clock.
* Ray's cluster start is excluded (reported on its own line), as the limit's and
  DASCore's pool start-up and distpy's interpreter start are. raydas's main row
  reuses warm processor actors (``Run`` with the actor start-up outside the
  clock, like a warm pool); the row "actors started in the run" includes it.
* Throughput ratios are ratios of median wall times on the same work.

The last line printed is ``fbe_vs_limit=<r> fbe_vs_distpy=<r> ingest_vs_copy=<r> attach_vs_private=<r>
xcorr_vs_limit=<r> xcorr_vs_noisepy=<r>``
(``nan`` where a side could not run; a message says why). Full runs are appended
to ``benchmarks/RESULTS.md`` with the date, machine and versions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import data  # noqa: E402
import external  # noqa: E402
import limit  # noqa: E402
import numpy as np  # noqa: E402
import startup  # noqa: E402
import xcorr_limit  # noqa: E402

BANDS = [(1, 100), (100, 500), (500, 1000), (1000, 2000), (2000, 3000), (3000, 4000), (4000, 5000)]
NOISELOG = HERE / "fbe-noiselog.json"


@dataclass
class Size:
    fbe: data.Workload
    scaling: data.Workload
    ingest_channels: int
    ingest_samples: int
    runs: int
    xcorr: data.Workload  # channels = the correlated window


FULL = Size(
    fbe=data.Workload(1000, 10000, 20),
    scaling=data.Workload(200, 10000, 60),
    ingest_channels=2000,
    ingest_samples=40000,
    runs=5,
    xcorr=data.Workload(100, 2000, 30),
)
QUICK = Size(
    fbe=data.Workload(200, 10000, 4),
    scaling=data.Workload(40, 10000, 30),
    ingest_channels=400,
    ingest_samples=20000,
    runs=3,
    xcorr=data.Workload(48, 1000, 10),
)
XCORR_LAG_SECONDS = 0.1


def xcorr_processing(w: data.Workload) -> dict:
    """The raydas graph of the cross-correlation case: all pairs of the window, written per chunk."""
    return {
        "command_list": [
            {
                "name": "xcorr",
                "uid": 1,
                "in_uid": 0,
                "channel_range": [0, w.channels],
                "max_lag_seconds": XCORR_LAG_SECONDS,
            },
            {"name": "write_npy", "uid": 2, "in_uid": 1, "directory_out": "xcorr"},
        ]
    }


@dataclass
class Side:
    """One row of the table: something timed on a piece of work."""

    case: str
    name: str
    config: str
    samples: int  # channel-samples per pass (0 when the unit is bytes only)
    nbytes: int  # bytes per pass: float32-equivalent samples, or the file's bytes for ingest
    run: Callable[[], float] | None  # one pass: does its own untimed clean-up, returns the timed seconds
    why_not: str = ""  # why it could not run
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else math.nan


def measure(sides: list[Side], runs: int, log, warm_up: bool = True) -> None:
    """Warm up every side once (unless not ``warm_up``), then time ``runs`` passes round-robin."""
    for side in sides if warm_up else []:
        if side.run is None:
            continue
        try:
            side.run()
        except Exception as exc:  # a side that fails is reported, the others go on
            side.why_not, side.run = f"{type(exc).__name__}: {exc}", None
            log(f"  {side.case} / {side.name}: could not run: {side.why_not}")
    for i in range(runs):
        for side in sides:
            if side.run is None:
                continue
            try:
                side.times.append(side.run())
            except Exception as exc:
                side.why_not, side.run = f"{type(exc).__name__}: {exc}", None
                log(f"  {side.case} / {side.name}: failed on pass {i + 1}: {side.why_not}")
        log(
            f"  pass {i + 1}/{runs}: "
            + ", ".join(f"{s.name} {s.times[-1]:.3f} s" for s in sides if s.times and len(s.times) == i + 1)
        )


def ratio(reference: Side | None, side: Side | None) -> float:
    """Throughput of ``side`` over that of ``reference`` (same work): median time ratio."""
    if reference is None or side is None or not reference.times or not side.times:
        return math.nan
    return reference.median / side.median


# --- raydas sides ---------------------------------------------------------------------------------
class WarmActors:
    """Processor actors kept alive across passes (the warm pool of the steady-state rows).

    They are started with ``num_cpus=0`` so that several warm pools and the
    "actors started in the run" row can coexist on 2 CPUs without waiting for
    each other; they are the same actor class and process as in any run. Each
    pass borrows them through an :class:`~raydas.runtime.ActorPool`, which the
    run then does not stop.
    """

    def __init__(self):
        self.actors: dict[int, list] = {}

    def pool(self, n: int):
        """A pool of ``n`` warm CPU actors (started on first use)."""
        import ray

        from raydas.runtime import ActorLayout, ActorPool
        from raydas.runtime.actors import remote_processor

        if n not in self.actors:
            actor_class = remote_processor()
            self.actors[n] = [actor_class.options(num_cpus=0).remote() for _ in range(n)]
            ray.get([a.ping.remote() for a in self.actors[n]])
        return ActorPool("cpu", ActorLayout(n, {"num_cpus": 0}, 0.0), borrowed=self.actors[n])


def raydas_process_side(
    case: str,
    name: str,
    config: str,
    store: str,
    out: str,
    w: data.Workload,
    warm: WarmActors | None,
    chunk_seconds: float = 1.0,
    num_actors: int | None = None,
    processing: dict | None = None,
    folder: str = "NoiseLog",
) -> Side:
    from raydas.config import RunConfig
    from raydas.runtime import Mode, Run

    processing = processing or json.loads(NOISELOG.read_text())
    expected = math.ceil(w.seconds / chunk_seconds)

    def one_pass() -> float:
        shutil.rmtree(out, ignore_errors=True)
        cfg = RunConfig(
            input=store,
            output=out,
            processing=processing,
            chunk_seconds=chunk_seconds,
            quicklook=False,
            output_layout="distpy",  # <out>/NoiseLog/<unixtime>.fbe, as distpy writes them
            ray={"device": "cpu", "num_actors": num_actors},
        )
        actors = warm.pool(num_actors or 2) if warm else None
        t0 = time.perf_counter()
        report = Run(cfg, mode=Mode.PROCESS, progress=False, resume=False, actors=actors).execute()
        seconds = time.perf_counter() - t0
        written = len([f for f in os.listdir(os.path.join(out, folder)) if f[0].isdigit()])  # one per chunk
        if report.chunks_done != written or written < expected:
            raise RuntimeError(
                f"raydas wrote {written} files in {folder} for {report.chunks_done} chunks, expected {expected}"
            )
        return seconds

    return Side(case, name, config, w.samples, w.float32_bytes, one_pass)


def raydas_ingest_side(name: str, path: str, store: str, nbytes: int, samples: int) -> Side:
    from raydas.config import RunConfig
    from raydas.runtime import Run

    def one_pass() -> float:
        shutil.rmtree(store, ignore_errors=True)
        cfg = RunConfig(input=path, output=store, store=store, chunk_seconds=1.0, quicklook=False)
        t0 = time.perf_counter()
        report = Run(cfg, mode="ingest", progress=False, resume=False).execute()
        seconds = time.perf_counter() - t0
        if not report.manifest or report.chunks_done < 1:
            raise RuntimeError(f"ingest of {path} wrote no chunk store")
        return seconds

    return Side("ingest", name, "raydas ingest -> chunk store (float32 npy, 1-s chunks)", samples, nbytes, one_pass)


# --- the other sides --------------------------------------------------------------------------------
def limit_side(w: data.Workload, store: str, out: str, pool) -> Side:
    files = sorted(os.path.join(store, f) for f in os.listdir(store) if f[0].isdigit() and f.endswith(".npy"))
    edges = limit.band_edges(w.prf, float(w.prf), BANDS)
    depth = data.positions(w)

    def one_pass() -> float:
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        jobs = [(f, os.path.join(out, os.path.basename(f)[:-4] + ".txt"), edges, depth) for f in files]
        t0 = time.perf_counter()
        pool.map(limit.run_chunk, jobs, chunksize=1)
        return time.perf_counter() - t0

    return Side(
        "fbe",
        "limit",
        "bare kernel: scipy rfft f32 + reduceat band sums, f32 chunks, 2 proc, text rows written",
        w.samples,
        w.float32_bytes,
        one_pass,
    )


def xcorr_limit_side(w: data.Workload, store: str, out: str, pool) -> Side:
    files = sorted(os.path.join(store, f) for f in os.listdir(store) if f[0].isdigit() and f.endswith(".npy"))
    lag = round(XCORR_LAG_SECONDS * w.prf)

    def one_pass() -> float:
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        jobs = [(f, os.path.join(out, os.path.basename(f)), 0, w.channels, lag) for f in files]
        t0 = time.perf_counter()
        pool.map(xcorr_limit.run_chunk, jobs, chunksize=1)
        return time.perf_counter() - t0

    pairs = w.channels * (w.channels + 1) // 2
    return Side(
        "xcorr",
        "limit",
        f"bare kernel: scipy rfft f32, conj products of {pairs} pairs, irfft, 2 proc, npy written",
        w.samples,
        w.float32_bytes,
        one_pass,
    )


def noisepy_xcorr_side(w: data.Workload, store: str, out: str, notes: list[str]) -> Side:
    pairs = w.channels * (w.channels + 1) // 2
    config = f"NoisePy noise_processing + smooth_source_spect/correlate per pair ({pairs}), 2 proc, npy written"
    try:
        python = external.noisepy_python()
    except external.Unavailable as exc:
        return Side("xcorr", "noisepy", config, w.samples, w.float32_bytes, None, why_not=str(exc))
    notes.append("noisepy: " + json.dumps(external.versions(python, ["numpy", "scipy"])))
    args = [store, out, str(w.prf), str(w.channels), str(XCORR_LAG_SECONDS), "--processes", "2"]
    return Side(
        "xcorr",
        "noisepy",
        config,
        w.samples,
        w.float32_bytes,
        lambda: external.timed_child(python, "ext_noisepy.py", args),
    )


def distpy_side(w: data.Workload, folder: str, out: str, notes: list[str]) -> Side:
    config = "distpy 1.32.3 (py3.8 stack), f64 npy chunks, parallel_flag=1 ncpu=2, WITSML written"
    try:
        python = external.distpy_python()
    except external.Unavailable as exc:
        return Side("fbe", "distpy", config, w.samples, w.float32_bytes, None, why_not=str(exc))
    data.write_distpy_layout(w, folder)
    system = os.path.join(os.path.dirname(folder), "distpy-system.json")
    with open(system, "w") as fh:
        json.dump(
            {
                "in_directory": folder,
                "out_directory": out,
                "parallel_flag": 1,
                "ncpu": 2,
                "measured_depth": "measured_depth.npy",
                "prf": w.prf,
                "config": str(NOISELOG),
            },
            fh,
        )
    notes.append("distpy: " + json.dumps(external.versions(python, ["distpy", "numpy", "scipy"])))
    state = {"first": True}

    def one_pass() -> float:
        args = [system, out, str(w.seconds)] + (["--warmup"] if state.pop("first", False) else [])
        return external.timed_child(python, "ext_distpy.py", args)

    return Side("fbe", "distpy", config, w.samples, w.float32_bytes, one_pass)


def dascore_side(w: data.Workload, store: str, out: str, notes: list[str], skip: bool) -> Side:
    config = "DASCore Patch.dft PS + select/sum, f32 chunks, 2 proc (Pool), text rows written"
    if skip:
        return Side("fbe", "dascore", config, w.samples, w.float32_bytes, None, why_not="skipped (--no-dascore)")
    try:
        python = external.dascore_python()
    except external.Unavailable as exc:
        return Side("fbe", "dascore", config, w.samples, w.float32_bytes, None, why_not=str(exc))
    notes.append("dascore: " + json.dumps(external.versions(python, ["dascore", "numpy", "scipy"])))
    args = [store, out, str(w.prf), json.dumps(BANDS), "--processes", "2"]
    return Side(
        "fbe",
        "dascore",
        config,
        w.samples,
        w.float32_bytes,
        lambda: external.timed_child(python, "ext_dascore.py", args),
    )


def copy_side(name: str, path: str, dest: str, samples: int) -> Side:
    """``cp`` of the file to ``dest`` (beside the chunk store, the same disk): the
    limit of ingest, which reads, decodes, checksums and writes the same bytes."""
    nbytes = os.path.getsize(path)

    def one_pass() -> float:
        if os.path.exists(dest):
            os.remove(dest)
        t0 = time.perf_counter()
        subprocess.run(["cp", path, dest], check=True)
        return time.perf_counter() - t0

    return Side("ingest", name, "cp file to the store's disk", samples, nbytes, one_pass)


def cpu_busy(seconds: float = 1.0) -> float:
    """Fraction of all CPUs busy over ``seconds`` (from /proc/stat; 0 where unavailable)."""

    def sample():
        with open("/proc/stat") as fh:
            values = [int(v) for v in fh.readline().split()[1:]]
        return sum(values), values[3] + values[4]  # total, idle + iowait

    try:
        t0, i0 = sample()
        time.sleep(seconds)
        t1, i1 = sample()
    except OSError:
        return 0.0
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def wait_until_idle(limit_s: float, log, threshold: float = 0.25) -> None:
    """Wait (at most ``limit_s``) until other work on the machine uses under ``threshold`` of the CPUs."""
    deadline = time.monotonic() + limit_s
    busy = cpu_busy()
    while busy > threshold and time.monotonic() < deadline:
        log(f"  machine {busy:.0%} busy with other work; waiting for it to calm down")
        time.sleep(5)
        busy = cpu_busy()
    log(f"  CPUs {busy:.0%} busy before timing")


# --- reporting ----------------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
        ram = f"{mem_kb / 1024**2:.1f} GiB"
    except (OSError, StopIteration):
        ram = "unknown"
    return {"cpu": cpu, "cores": str(os.cpu_count()), "ram": ram, "os": platform.platform()}


def versions() -> dict[str, str]:
    import h5py
    import ray
    import scipy

    import raydas

    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
            ).stdout.strip()
            or "n/a"
        )
    except OSError:
        commit = "n/a"
    return {
        "python": platform.python_version(),
        "raydas": f"{raydas.__version__} ({commit})",
        "ray": ray.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "h5py": h5py.__version__,
    }


def table(sides: list[Side], ref_of: Callable[[Side], Side | None]) -> str:
    """Markdown table; "x ref" is the throughput ratio to ``ref_of(side)``."""
    head = ["case", "side", "configuration", "wall median (min-max) s", "Msamples/s", "MB/s", "x ref"]
    rows = []
    for s in sides:
        ref = ref_of(s)
        if s.times:
            wall = f"{s.median:.3f} ({min(s.times):.3f}-{max(s.times):.3f})"
            msps = f"{s.samples / s.median / 1e6:.0f}" if s.samples else "-"
            mbps = f"{s.nbytes / s.median / 1e6:.0f}"
            r = ratio(ref, s) if ref is not None else math.nan
            rel = f"{r:.3f}" if not math.isnan(r) else "-"
        else:
            wall, msps, mbps, rel = f"not run: {s.why_not}", "-", "-", "nan"
        rows.append([s.case, s.name, s.config, wall, msps, mbps, rel])
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def fmt_ratio(r: float) -> str:
    return "nan" if r is None or math.isnan(r) else f"{r:.3f}"


# --- main ---------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small sizes (about a minute on 2 cores)")
    ap.add_argument("--runs", type=int, default=None, help="timed passes per side (default 5, quick 3)")
    ap.add_argument("--workdir", default=None, help="where to write the data (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the data folder")
    ap.add_argument(
        "--results",
        default=None,
        help="append the results to this Markdown file (default: benchmarks/RESULTS.md for full runs, "
        "none for --quick)",
    )
    ap.add_argument("--no-dascore", action="store_true", help="do not time DASCore")
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=None,
        help="before each case, wait up to this many seconds for the machine to be idle (default 120 s, quick 0)",
    )
    ap.add_argument(
        "--timeline",
        default=None,
        help="after the cases, run one extra warm raydas FBE pass and write ray.timeline() (Chrome trace) here",
    )
    args = ap.parse_args(argv)
    size = QUICK if args.quick else FULL
    runs = args.runs or size.runs
    results_md = args.results or (None if args.quick else str(HERE / "RESULTS.md"))
    idle_wait = args.wait_idle if args.wait_idle is not None else (0.0 if args.quick else 120.0)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    def log(msg: str) -> None:
        print(msg, flush=True)

    started = dt.datetime.now(dt.UTC)
    work = Path(tempfile.mkdtemp(prefix="raydas-bench-", dir=args.workdir))
    notes: list[str] = []
    load_before = os.getloadavg()
    ray_started = False
    pool = None
    try:
        # data ------------------------------------------------------------------------------------------
        t0 = time.perf_counter()
        fbe_store = data.write_chunk_store(size.fbe, str(work / "fbe-store"))
        scaling_store = data.write_chunk_store(size.scaling, str(work / "scaling-store"))
        segy_path = data.write_segy(str(work / "ingest.sgy"), size.ingest_channels, size.ingest_samples, size.fbe.prf)
        prodml_path = data.write_prodml(
            str(work / "ingest.h5"), size.ingest_channels, size.ingest_samples, size.fbe.prf
        )
        log(f"data written in {time.perf_counter() - t0:.1f} s under {work}")

        # the limit's warm pool is forked before Ray starts threads in this process
        pool = mp.get_context("fork").Pool(2)
        pool.map(limit.warm, range(2))

        import ray

        t0 = time.perf_counter()
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        ray_started = True
        ray_seconds = time.perf_counter() - t0
        log(f"Ray started in {ray_seconds:.2f} s (outside every timing)")
        warm = WarmActors()
        w = size.fbe

        # 1. FBE -------------------------------------------------------------------------------------------
        log(f"\nFBE: {w.seconds} chunks x {w.channels} channels x {w.prf} samples ({w.float32_bytes / 1e6:.0f} MB f32)")
        fbe = [
            raydas_process_side(
                "fbe",
                "raydas",
                "raydas process, chunk store f32, 2 CPU actors (warm), WITSML written",
                fbe_store,
                str(work / "out-raydas"),
                w,
                warm,
            ),
            raydas_process_side(
                "fbe",
                "raydas (actors started in the run)",
                "as above, actor start-up inside the clock",
                fbe_store,
                str(work / "out-raydas-cold"),
                w,
                None,
            ),
            limit_side(w, fbe_store, str(work / "out-limit"), pool),
            distpy_side(w, str(work / "distpy-data"), str(work / "out-distpy"), notes),
            dascore_side(w, fbe_store, str(work / "out-dascore"), notes, args.no_dascore),
        ]
        for s in fbe:
            if s.run is None:
                log(f"  {s.name}: not run: {s.why_not}")
        if idle_wait:
            wait_until_idle(idle_wait, log)
        measure(fbe, runs, log)
        agreement = check_agreement(work, w)
        if agreement:
            notes.append(agreement)
            log(f"  {agreement}")

        # 1b. cross-correlation -------------------------------------------------------------------------------
        xw = size.xcorr
        xcorr_store = data.write_chunk_store(xw, str(work / "xcorr-store"))
        pairs = xw.channels * (xw.channels + 1) // 2
        log(f"\nxcorr: {xw.seconds} chunks x {xw.channels} channels x {xw.prf} samples, all {pairs} pairs")
        xcorr = [
            raydas_process_side(
                "xcorr",
                "raydas",
                f"raydas process, xcorr all {pairs} pairs + write_npy, 2 CPU actors (warm)",
                xcorr_store,
                str(work / "out-xcorr-raydas"),
                xw,
                warm,
                processing=xcorr_processing(xw),
                folder="xcorr",
            ),
            xcorr_limit_side(xw, xcorr_store, str(work / "out-xcorr-limit"), pool),
            noisepy_xcorr_side(xw, xcorr_store, str(work / "out-xcorr-noisepy"), notes),
        ]
        for s in xcorr:
            if s.run is None:
                log(f"  {s.name}: not run: {s.why_not}")
        if idle_wait:
            wait_until_idle(idle_wait, log)
        measure(xcorr, runs, log)
        agreement = check_xcorr_agreement(work)
        if agreement:
            notes.append(agreement)
            log(f"  {agreement}")

        # 2. ingest ------------------------------------------------------------------------------------------
        n_ingest = size.ingest_channels * size.ingest_samples
        log(
            f"\nIngest: SEG-Y {os.path.getsize(segy_path) / 1e6:.0f} MB, "
            f"PRODML {os.path.getsize(prodml_path) / 1e6:.0f} MB"
        )
        ingest = [
            copy_side("SEG-Y copy", segy_path, str(work / "copy.sgy"), n_ingest),
            raydas_ingest_side(
                "SEG-Y ingest", segy_path, str(work / "store-segy"), os.path.getsize(segy_path), n_ingest
            ),
            copy_side("PRODML copy", prodml_path, str(work / "copy.h5"), n_ingest),
            raydas_ingest_side(
                "PRODML ingest", prodml_path, str(work / "store-prodml"), os.path.getsize(prodml_path), n_ingest
            ),
        ]
        if idle_wait:
            wait_until_idle(idle_wait, log)
        measure(ingest, runs, log)

        # 3. scaling ------------------------------------------------------------------------------------------
        sw = size.scaling
        log(f"\nScaling: {sw.seconds} s x {sw.channels} channels x {sw.prf} Hz ({sw.float32_bytes / 1e6:.0f} MB f32)")
        scaling = []
        for actors in (1, 2):
            for chunk in (1, 5, 30):
                scaling.append(
                    raydas_process_side(
                        "scaling",
                        f"{actors} actor{'s' if actors > 1 else ''}, {chunk}-s chunks",
                        f"raydas process FBE, {actors} warm CPU actor(s), chunk_seconds={chunk}",
                        scaling_store,
                        str(work / f"out-scaling-{actors}-{chunk}"),
                        sw,
                        warm,
                        chunk_seconds=chunk,
                        num_actors=actors,
                    )
                )
        if idle_wait:
            wait_until_idle(idle_wait, log)
        measure(scaling, runs, log)

        if args.timeline:
            profile_timeline(args.timeline, fbe_store, str(work / "out-timeline"), warm)
            log(f"ray.timeline of one raydas FBE pass: {args.timeline}")
        ray.shutdown()  # the start-up case runs raydas as users do, in processes of its own
        ray_started = False

        # 4. start-up -------------------------------------------------------------------------------------
        log("\nStart-up: a one-file raydas run, private Ray vs attached to raydas up's")
        start_line = ""
        try:
            with startup.StartupBench(work, log) as bench:
                starts = startup.sides(bench, Side)
                if idle_wait:
                    wait_until_idle(idle_wait, log)
                measure(starts, 1 if args.quick else runs, log, warm_up=not args.quick)
            if starts[0].times and starts[1].times:
                start_line = startup.summary(bench, starts[0], starts[1], ratio(starts[0], starts[1]))
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:  # raydas up could not start
            starts = startup.sides(None, Side, why_not=f"{type(exc).__name__}: {exc}")
            log(f"  start-up: not run: {starts[0].why_not}")
        start_ratio = ratio(starts[0], starts[1])

        # 5. GPU ------------------------------------------------------------------------------------------
        gpu_note = "GPU: skipped - no GPU in this task (cupy cannot run here); GPU run pending"
        log(f"\n{gpu_note}")
        notes.append(gpu_note)
    finally:
        if pool is not None:
            pool.terminate()
        if ray_started:
            import ray

            ray.shutdown()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    # report ---------------------------------------------------------------------------------------------
    by_name = {(s.case, s.name): s for s in fbe + xcorr + ingest + scaling + starts}
    refs = {
        "fbe": by_name[("fbe", "limit")],
        "xcorr": by_name[("xcorr", "limit")],
        "scaling": by_name[("scaling", "2 actors, 1-s chunks")],
        "startup": starts[0],
    }

    def ref_of(side: Side) -> Side | None:
        if side.case == "ingest":  # each format against a copy of the same file
            return by_name[("ingest", side.name.replace(" ingest", " copy"))]
        return refs.get(side.case)

    sides = fbe + xcorr + ingest + scaling + starts
    xcorr_vs_limit = ratio(by_name[("xcorr", "limit")], by_name[("xcorr", "raydas")])
    xcorr_vs_noisepy = ratio(by_name[("xcorr", "noisepy")], by_name[("xcorr", "raydas")])
    raydas_fbe = by_name[("fbe", "raydas")]
    fbe_vs_limit = ratio(by_name[("fbe", "limit")], raydas_fbe)
    fbe_vs_distpy = ratio(by_name[("fbe", "distpy")], raydas_fbe)
    fbe_vs_dascore = ratio(by_name[("fbe", "dascore")], raydas_fbe)
    copies = [by_name[("ingest", "SEG-Y copy")], by_name[("ingest", "PRODML copy")]]
    ing = [by_name[("ingest", "SEG-Y ingest")], by_name[("ingest", "PRODML ingest")]]
    if all(s.times for s in copies + ing):
        ingest_vs_copy = sum(s.median for s in copies) / sum(s.median for s in ing)
    else:
        ingest_vs_copy = math.nan
    per_format = ", ".join(f"{a.name.split()[0]} {fmt_ratio(ratio(a, b))}" for a, b in zip(copies, ing))
    text = table(sides, ref_of)
    mach, vers = machine(), versions()
    load_after = os.getloadavg()
    summary = [
        f"raydas FBE vs limit: {fmt_ratio(fbe_vs_limit)} (target >= 0.8); vs distpy: {fmt_ratio(fbe_vs_distpy)}x "
        f"(target >= 6); vs DASCore: {fmt_ratio(fbe_vs_dascore)}x",
        f"ingest vs copy: {fmt_ratio(ingest_vs_copy)} (target >= 0.8; per format: {per_format})",
        f"raydas xcorr vs limit: {fmt_ratio(xcorr_vs_limit)} (target >= 0.8); vs NoisePy: "
        f"{fmt_ratio(xcorr_vs_noisepy)}x (target >= 5; NoisePy's numbers differ as tests/commands/"
        "test_noisepy_parity.py documents)",
        f"Ray start {ray_seconds:.2f} s, excluded from every timing but the start-up case's",
        "x ref = reference median / row median (throughput ratio): the limit for fbe, a cp of the same "
        "file for ingest, 2 actors with 1-s chunks for scaling, the private Ray for start-up (how many times "
        "sooner the first output comes)",
    ]
    if start_line:
        summary.insert(2, start_line)
    for s in sides:
        if s.run is None and not s.times:
            summary.append(f"{s.case} / {s.name}: nan because it did not run: {s.why_not}")
    print("\n" + text + "\n")
    for line in summary + notes:
        print(line)
    if results_md:
        append_results(results_md, started, args, runs, mach, vers, load_before, load_after, text, summary + notes)
        print(f"appended to {results_md}")
    print(
        f"fbe_vs_limit={fmt_ratio(fbe_vs_limit)} fbe_vs_distpy={fmt_ratio(fbe_vs_distpy)} "
        f"ingest_vs_copy={fmt_ratio(ingest_vs_copy)} attach_vs_private={fmt_ratio(start_ratio)} "
        f"xcorr_vs_limit={fmt_ratio(xcorr_vs_limit)} xcorr_vs_noisepy={fmt_ratio(xcorr_vs_noisepy)}"
    )
    return 0


def check_agreement(work: Path, w: data.Workload) -> str:
    """raydas's .fbe values against the limit's table for the first chunk (they compute the same numbers)."""
    from raydas.formats.witsml import parse_fbe

    fbe_dir, lim_dir = work / "out-raydas" / "NoiseLog", work / "out-limit"
    if not fbe_dir.is_dir() or not lim_dir.is_dir():
        return ""
    stem = sorted(p.stem for p in lim_dir.glob("*.txt"))[0]
    ref = np.loadtxt(lim_dir / f"{stem}.txt", delimiter=",")[:, 1:]
    _, _, _, got = parse_fbe((fbe_dir / f"{stem}.fbe").read_bytes())
    return f"agreement raydas vs limit, chunk {stem}: max relative difference {np.max(np.abs(got / ref - 1)):.1e}"


def check_xcorr_agreement(work: Path) -> str:
    """raydas's correlations against the limit's for the first chunk (they compute the same numbers)."""
    ours, lim = work / "out-xcorr-raydas" / "xcorr", work / "out-xcorr-limit"
    if not ours.is_dir() or not lim.is_dir():
        return ""
    name = sorted(p.name for p in lim.glob("*.npy"))[0]
    ref, got = np.load(lim / name), np.load(ours / name)
    worst = float(np.max(np.abs(got - ref)) / np.max(np.abs(ref)))
    return f"agreement raydas xcorr vs limit, chunk {name}: max difference {worst:.1e} of the largest value"


def profile_timeline(path: str, store: str, out: str, warm: WarmActors) -> None:
    """One more warm raydas FBE pass, then ``ray.timeline`` written to ``path`` (not timed)."""
    import ray

    from raydas.config import RunConfig

    shutil.rmtree(out, ignore_errors=True)
    cfg = RunConfig(
        input=store,
        output=out,
        processing=json.loads(NOISELOG.read_text()),
        quicklook=False,
        output_layout="distpy",
        ray={"device": "cpu"},
    )
    from raydas.runtime import Mode, Run

    Run(cfg, mode=Mode.PROCESS, progress=False, resume=False, actors=warm.pool(2)).execute()
    ray.timeline(filename=path)  # the whole session's events; this pass is the last


def append_results(
    path, started, args, runs, mach, vers, load_before, load_after, text, lines, title: str | None = None
) -> None:
    kind = title or ("quick run" if args.quick else "full run")
    block = [
        f"\n## {started:%Y-%m-%d %H:%M} UTC - {kind} ({runs} timed passes per side, medians)\n",
        f"- machine: {mach['cpu']}, {mach['cores']} cores, {mach['ram']} RAM, {mach['os']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()),
        f"- load average (1/5/15 min) before: {', '.join(f'{x:.1f}' for x in load_before)}; "
        f"after: {', '.join(f'{x:.1f}' for x in load_after)} (shared machine)",
        "",
        text,
        "",
    ]
    block += [f"- {line}" for line in lines]
    with open(path, "a") as fh:
        fh.write("\n".join(block) + "\n")


if __name__ == "__main__":
    sys.exit(main())
