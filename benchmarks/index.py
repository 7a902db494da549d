"""Indexing an archive: ``raydas index`` of a folder of many small files, side by
side with a bare limit and with DASCore's directory index.

The folder holds ``--files`` copies of the shared sample
``segy/small_channel_patch.sgy`` (10 channels, 20 samples), each re-stamped
one second after the previous one (the trace headers' year, day, hour, minute
and second), spread over 100 sub-folders. Sides, each timed on the same folder:

* **limit**: list the folder, ``stat`` every file and read its first 64 KB,
  in 2 processes: what any index must at least do.
* **raydas**: ``Catalogue(url).update(folder)`` into a fresh catalogue, Ray
  tasks on this machine's Ray (started outside the clock).
* **DASCore**: ``dascore.spool(folder).update()`` with its index file removed
  first (skipped with ``--no-dascore``).
* **raydas update**: after the first index, 1% new files are added and the
  catalogue is updated: it opens only those.

Run alone: ``python benchmarks/index.py [--files N] [--runs N] [--results FILE]``;
the last line is ``index_vs_limit=<r> index_vs_dascore=<r> update_vs_index=<r>``
(throughput ratios of median wall times; ``update_vs_index`` is the update's
time over the first index's). Targets (issue 13): index_vs_limit >= 0.5,
index_vs_dascore >= 20, update_vs_index <= 0.05.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SAMPLE = "segy/small_channel_patch.sgy"
TEXT_AND_BINARY = 3600  # SEG-Y textual + binary header bytes
TRACE_HEADER = 240
SUBFOLDERS = 100


def testdata() -> Path:
    return Path(os.environ.get("RAYDAS_TESTDATA", REPO.parent / "shared" / "testdata" / "real"))


def restamped(template: bytes, n_traces: int, trace_bytes: int, when: dt.datetime) -> bytes:
    """``template`` (a SEG-Y file) with every trace header's start time set to ``when`` (UTC, whole seconds)."""
    out = bytearray(template)
    fields = np.array([when.year, when.timetuple().tm_yday, when.hour, when.minute, when.second], dtype=">i2").tobytes()
    for i in range(n_traces):
        at = TEXT_AND_BINARY + i * trace_bytes + 156  # bytes 157-166: year, day, hour, minute, second
        out[at : at + len(fields)] = fields
    return bytes(out)


def make_archive(folder: Path, first: int, count: int) -> list[str]:
    """Files ``first`` .. ``first + count - 1`` of the archive (one second apart)."""
    template = (testdata() / SAMPLE).read_bytes()
    n_samples = int.from_bytes(template[3220:3222], "big")
    trace_bytes = TRACE_HEADER + 4 * n_samples
    n_traces = (len(template) - TEXT_AND_BINARY) // trace_bytes
    start = dt.datetime(2017, 9, 18, tzinfo=dt.UTC)
    paths = []
    for i in range(first, first + count):
        sub = folder / f"{i % SUBFOLDERS:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"shot_{i:06d}.sgy"
        path.write_bytes(restamped(template, n_traces, trace_bytes, start + dt.timedelta(seconds=i)))
        paths.append(str(path))
    return paths


def _stat_and_head(paths: list[str]) -> int:
    total = 0
    for p in paths:
        os.stat(p)
        with open(p, "rb") as fh:
            total += len(fh.read(65536))
    return total


def limit_pass(folder: Path, pool: ProcessPoolExecutor) -> float:
    t0 = time.perf_counter()
    paths = [os.path.join(root, f) for root, _, files in os.walk(folder) for f in files]
    halves = [paths[0::2], paths[1::2]]
    sum(pool.map(_stat_and_head, halves))
    return time.perf_counter() - t0


def raydas_pass(folder: Path, catalogue_url: str) -> tuple[float, object]:
    from raydas.catalogue import Catalogue

    shutil.rmtree(catalogue_url, ignore_errors=True)
    t0 = time.perf_counter()
    report = Catalogue(catalogue_url).update(str(folder))
    return time.perf_counter() - t0, report


def dascore_pass(folder: Path) -> float:
    import dascore

    for index in folder.glob(".dascore_index*"):
        index.unlink()
    t0 = time.perf_counter()
    dascore.spool(str(folder)).update()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3, help="timed passes per side (DASCore: 1)")
    parser.add_argument("--no-dascore", action="store_true")
    parser.add_argument("--results", default=str(HERE / "RESULTS.md"), help="Markdown file to append to ('' for none)")
    args = parser.parse_args(argv)

    import ray

    work = Path(tempfile.mkdtemp(prefix="raydas-index-"))
    folder, catalogue_url = work / "archive", str(work / "catalogue")
    load_before = os.getloadavg()
    try:
        make_archive(folder, 0, args.files)
        nbytes = sum(f.stat().st_size for f in folder.rglob("*.sgy"))
        print(f"archive: {args.files} SEG-Y files ({nbytes / 1e6:.1f} MB) in {SUBFOLDERS} folders", flush=True)
        ray.init(num_cpus=os.cpu_count() or 2, include_dashboard=False, logging_level="ERROR")
        times: dict[str, list[float]] = {"limit": [], "raydas": [], "dascore": [], "update": []}
        with ProcessPoolExecutor(2) as pool:
            limit_pass(folder, pool)  # warm-up: the page cache and the pool
            raydas_pass(folder, catalogue_url)  # warm-up: Ray's workers and their imports
            for _ in range(args.runs):  # interleaved, so load from others falls on both
                times["limit"].append(limit_pass(folder, pool))
                seconds, report = raydas_pass(folder, catalogue_url)
                times["raydas"].append(seconds)
        if len(report.scanned) != args.files or report.errors:
            found = len(report.scanned)
            raise RuntimeError(f"raydas indexed {found} of {args.files} files with {report.errors} errors")
        if not args.no_dascore:
            times["dascore"].append(dascore_pass(folder))
        from raydas.catalogue import Catalogue

        added = max(1, args.files // 100)
        make_archive(folder, args.files, added)
        t0 = time.perf_counter()
        update = Catalogue(catalogue_url).update(str(folder))
        times["update"].append(time.perf_counter() - t0)
        if len(update.scanned) != added:
            raise RuntimeError(f"the update opened {len(update.scanned)} files; {added} were new")
    finally:
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)

    med = {k: statistics.median(v) if v else float("nan") for k, v in times.items()}
    index_vs_limit = med["limit"] / med["raydas"]
    index_vs_dascore = med["dascore"] / med["raydas"]
    update_vs_index = med["update"] / med["raydas"]
    rows = [
        ("limit", "list + stat + first 64 KB of each file, 2 processes", "limit"),
        ("raydas", "raydas index (Catalogue.update) into a fresh catalogue, Ray tasks", "raydas"),
        ("DASCore", "dascore.spool(folder).update(), no index file", "dascore"),
        ("raydas update", f"after adding {added} files (1%): Catalogue.update", "update"),
    ]
    lines = ["| side | what | wall median (min-max) s | files/s | x limit |", "|---|---|---|---|---|"]
    for name, what, key in rows:
        got = times[key]
        if not got:
            lines.append(f"| {name} | {what} | skipped | - | - |")
            continue
        files = added if key == "update" else args.files
        lines.append(
            f"| {name} | {what} | {med[key]:.3f} ({min(got):.3f}-{max(got):.3f}) | {files / med[key]:.0f} | "
            f"{med['limit'] / med[key] * (files / args.files):.3f} |"
        )
    text = "\n".join(lines)
    last = (
        f"index_vs_limit={index_vs_limit:.3f} index_vs_dascore={index_vs_dascore:.3f} "
        f"update_vs_index={update_vs_index:.3f}"
    )
    print(text)
    print(last)
    if args.results:
        import dascore

        stamp = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
        cpu = platform.processor() or platform.machine()
        with open(args.results, "a") as fh:
            fh.write(
                f"\n## {stamp} - index ({args.files} files, {args.runs} timed passes per side, DASCore 1)\n\n"
                f"- machine: {cpu}, {os.cpu_count()} cores, {platform.platform()}\n"
                f"- versions: python {platform.python_version()}, dascore {dascore.__version__}\n"
                f"- load average before: {', '.join(f'{x:.1f}' for x in load_before)}; after: "
                f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} (shared machine)\n\n{text}\n\n"
                f"- targets: index_vs_limit >= 0.5, index_vs_dascore >= 20, update_vs_index <= 0.05\n- {last}\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
