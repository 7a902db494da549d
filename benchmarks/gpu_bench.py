"""GPU throughput of raydas's graphs against the host-to-device copy bandwidth:
``python benchmarks/gpu_bench.py [--chunks N] [--channels C] [--rate HZ]``.

Three measurements, each printed as one line (``name: ...``):

* ``h2d``: host-to-device copy bandwidth (GB/s) of one chunk from page-locked
  memory, the ceiling for any graph whose data start on the host;
* ``fbe_gpu``: the benchmark noise log (``benchmarks/fbe-noiselog.json``: fft,
  band RMS, WITSML written) through :meth:`raydas.Pipeline.run` on cupy, each
  chunk uploaded inside the clock, against the same on numpy (1 CPU thread);
* ``xcorr_gpu``: all-pairs ``xcorr`` of a 64-channel window of each chunk on
  cupy against numpy.

Each side gets one untimed warm-up chunk; times are medians over the chunks.
Needs cupy and a CUDA device (``pip install -e .[gpu]``); without them it says
so and exits 2.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _chunk(rng, channels: int, rate: int):
    from raydas.chunk import Chunk

    data = rng.standard_normal((channels, rate), dtype=np.float32)
    return Chunk(data, 1_700_000_000 * 10**9, 1.0 / rate, np.arange(channels, dtype=np.float64))


def _time(fn, n: int, sync) -> float:
    fn()  # warm-up
    sync()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chunks", type=int, default=10, help="timed chunks per side")
    ap.add_argument("--channels", type=int, default=1000)
    ap.add_argument("--rate", type=int, default=10000, help="samples per 1-s chunk (Hz)")
    args = ap.parse_args(argv)
    try:
        from raydas.backend import array_namespace

        cp = array_namespace("gpu")
    except RuntimeError as exc:
        print(f"gpu_bench: cannot run: {exc}")
        return 2
    import cupyx

    from raydas.outputs import OutputSink
    from raydas.pipeline import Pipeline

    rng = np.random.default_rng(5)
    chunk = _chunk(rng, args.channels, args.rate)
    mb = chunk.data.nbytes / 1e6
    sync = cp.cuda.Device().synchronize

    pinned = cupyx.empty_pinned(chunk.data.shape, dtype=np.float32)
    pinned[...] = chunk.data
    h2d = _time(lambda: cp.asarray(pinned), args.chunks, sync)
    print(f"h2d: {mb / h2d / 1e3:.2f} GB/s ({mb:.0f} MB chunk from pinned memory)")

    fbe = json.loads((HERE / "fbe-noiselog.json").read_text())
    pipeline = Pipeline.from_config(fbe)
    with tempfile.TemporaryDirectory() as out:
        sink = OutputSink(out)
        gpu = _time(lambda: pipeline.run(chunk, cp, sink), args.chunks, sync)
        cpu = _time(lambda: pipeline.run(chunk, np, sink), max(2, args.chunks // 3), lambda: None)
    print(
        f"fbe_gpu: {mb / gpu:.0f} MB/s on the GPU (upload inside the clock), {mb / cpu:.0f} MB/s on numpy; "
        f"gpu/cpu={cpu / gpu:.2f} gpu_vs_h2d={h2d / gpu:.3f}"
    )

    window = min(64, args.channels)
    graph = {
        "command_list": [{"name": "xcorr", "uid": 1, "in_uid": 0, "channel_range": [0, window], "max_lag_seconds": 0.1}]
    }
    pipeline = Pipeline.from_config(graph)
    gpu = _time(lambda: pipeline.run(chunk, cp), args.chunks, sync)
    cpu = _time(lambda: pipeline.run(chunk, np), max(2, args.chunks // 3), lambda: None)
    pairs = window * (window + 1) // 2
    print(
        f"xcorr_gpu: {pairs / gpu:.0f} pairs/s on the GPU, {pairs / cpu:.0f} pairs/s on numpy "
        f"({window} channels, {pairs} pairs, lags +-0.1 s); gpu/cpu={cpu / gpu:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
