"""Remote reads: bytes and requests a scan and a windowed read take from an
S3 store, against the bytes the window holds.

A real S3 protocol server (moto) runs on loopback; a SEG-Y file and two PRODML
files (one contiguous, one chunked as raydas writes it) of the same samples
are uploaded; every byte s3fs downloads is counted (:class:`S3Downloads`).
For each file the benchmark scans it, then reads one-second windows (all
channels) and prints the bytes transferred over the window's float32 bytes.
Targets (issue 13): a scan takes no samples, a window at most 1.5x its bytes.
The HDF5 helper process is off here (``RAYDAS_HDF5_SCAN_TIMEOUT=0``) so its
transfers are counted in this process; it runs the same code.

Run alone: ``python benchmarks/remote.py [--results FILE]``; the last line is
``remote_window_bytes_ratio=<worst> remote_scan_fraction=<worst>``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


class S3Downloads:
    """Counts the bytes and requests s3fs downloads while active (a context
    manager): both of its download paths, a file's ranged fetch and
    ``cat_file`` (which ``cat_ranges`` uses), are wrapped and restored on exit."""

    def __init__(self):
        self.bytes = 0
        self.requests = 0

    def reset(self) -> S3Downloads:
        """Zero the counts and drop cached file systems (and their caches)."""
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
        self.bytes = self.requests = 0
        return self

    def _count(self, out):
        self.bytes += len(out)
        self.requests += 1
        return out

    def __enter__(self) -> S3Downloads:
        import s3fs
        import s3fs.core

        self._saved = (s3fs.core._fetch_range, s3fs.S3FileSystem._cat_file)
        fetch_range, cat_file = self._saved

        def counted_fetch_range(*args, **kwargs):
            return self._count(fetch_range(*args, **kwargs))

        async def counted_cat_file(fs, *args, **kwargs):
            return self._count(await cat_file(fs, *args, **kwargs))

        s3fs.core._fetch_range = counted_fetch_range
        s3fs.S3FileSystem._cat_file = counted_cat_file
        return self.reset()

    def __exit__(self, *exc) -> None:
        import s3fs
        import s3fs.core

        s3fs.core._fetch_range, s3fs.S3FileSystem._cat_file = self._saved


def start_moto() -> tuple[subprocess.Popen, str]:
    """A moto S3 server on a free loopback port, with dummy credentials in the environment."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
        FSSPEC_S3_ENDPOINT_URL=endpoint,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, endpoint
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the moto S3 server did not start")


def write_files(folder: Path, channels: int, seconds: int, rate: float) -> dict[str, str]:
    """The same random samples as SEG-Y, contiguous PRODML and chunked PRODML."""
    import h5py

    import raydas
    from raydas.formats.prodml import write_prodml
    from raydas.formats.segy import write_segy

    samples = np.random.default_rng(1).standard_normal((channels, int(seconds * rate))).astype(np.float32)
    chunk = raydas.Chunk(samples, 1_700_000_000 * 10**9, dt=1 / rate, positions=np.arange(channels) * 2.0)
    files = {
        "SEG-Y": str(folder / "a.sgy"),
        "PRODML contiguous": str(folder / "b.h5"),
        "PRODML chunked": str(folder / "c.h5"),
    }
    write_segy(chunk, files["SEG-Y"])
    write_prodml(chunk, files["PRODML chunked"])
    write_prodml(chunk, files["PRODML contiguous"])
    with h5py.File(files["PRODML contiguous"], "r+") as h5:
        raw = h5["Acquisition/Raw[0]"]
        data, attrs = raw["RawData"][:], dict(raw["RawData"].attrs)
        del raw["RawData"]
        raw.create_dataset("RawData", data=data).attrs.update(attrs)
    return files


def measure(files: dict[str, str], bucket: str, rate: float) -> list[tuple[str, str, int, int, int]]:
    """Rows (file, operation, bytes transferred, requests, bytes the operation needs)."""
    import fsspec

    from raydas import formats

    fs = fsspec.filesystem("s3")
    fs.mkdir(bucket)
    rows = []
    with S3Downloads() as counts:
        for name, local in files.items():
            url = f"s3://{bucket}/{os.path.basename(local)}"
            fs.put(local, url)
            counts.reset()
            (record,) = formats.scan_file(url)
            rows.append((name, "scan", counts.bytes, counts.requests, os.path.getsize(local)))
            step = int(rate)  # one-second windows, each read on its own (as actors do)
            for start in range(step // 2, record.n_samples - step, 3 * step):
                counts.reset()
                formats.read_samples(record, start, start + step)
                rows.append(
                    (
                        name,
                        f"window {start}:{start + step}",
                        counts.bytes,
                        counts.requests,
                        step * record.n_channels * 4,
                    )
                )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rate", type=float, default=1000.0, help="Hz")
    parser.add_argument("--results", default=str(HERE / "RESULTS.md"), help="Markdown file to append to ('' for none)")
    args = parser.parse_args(argv)
    os.environ["RAYDAS_HDF5_SCAN_TIMEOUT"] = "0"
    proc, _ = start_moto()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            files = write_files(Path(tmp), args.channels, args.seconds, args.rate)
            rows = measure(files, f"raydas-bench-{os.getpid()}", args.rate)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    lines = [
        "| file | operation | bytes transferred | requests | reference bytes | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for name, op, got, requests, ref in rows:
        lines.append(f"| {name} | {op} | {got} | {requests} | {ref} | {got / ref:.3f} |")
    windows = [got / ref for _, op, got, _, ref in rows if op != "scan"]
    scans = [got / ref for _, op, got, _, ref in rows if op == "scan"]
    last = f"remote_window_bytes_ratio={max(windows):.2f} remote_scan_fraction={max(scans):.3f}"
    text = "\n".join(lines)
    print(text)
    setup = f"{args.channels} channels, {args.seconds} s at {args.rate:g} Hz (float32)"
    print(f"(reference: a window's float32 bytes; for a scan, the file's size; {setup})")
    print(last)
    if args.results:
        stamp = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
        with open(args.results, "a") as fh:
            fh.write(
                f"\n## {stamp} - remote reads (benchmarks/remote.py, moto S3 on loopback)\n\n"
                f"- {setup}; chunked PRODML as raydas writes it (HDF5 chunks of 128 KiB: a window "
                "fetches the whole HDF5 chunks it touches)\n"
                "- reference: a window's float32 bytes; for a scan, the file's size. "
                "Targets: a window <= 1.5x, a scan reads no samples\n\n"
                f"{text}\n\n- {last}\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
