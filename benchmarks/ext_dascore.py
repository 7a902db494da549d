"""Time DASCore's closest equivalent of the FBE pass (runs in DASCore's own environment).

Usage: ``<dascore python> ext_dascore.py STORE OUT_DIR PRF BANDS_JSON [--processes N] [--check REF_TXT]``.

Per chunk: load the stored float32 chunk, wrap it in a ``dascore.Patch``
(distance, time), ``patch.dft("time", real=True, pad=False, output="PS")``
(the positive half of the two-sided power spectrum), then per band ``select``
the frequencies and ``sum``; RMS is ``sqrt(2 sum)`` (as in the anchor measurements). The band table
is written as text, like the limit's. DASCore has no parallel executor, so a
persistent, warmed ``multiprocessing`` pool of N processes (fork) runs one task
per chunk; its start-up is not timed. Prints ``{"seconds": ...}``.
"""

import glob
import json
import os
import sys
import time

import numpy as np


def band_rms(data, prf, bands):
    import dascore as dc

    n_ch, n_t = data.shape
    patch = dc.Patch(
        data=data,
        coords={"distance": np.arange(n_ch, dtype=np.float64), "time": np.arange(n_t) / prf},
        dims=("distance", "time"),
    )
    ps = patch.dft("time", real=True, pad=False, output="PS")
    df = prf / n_t
    cols = [np.asarray(ps.sum("ft_time").data).reshape(n_ch)]
    for lo, hi in bands:
        top = hi - df / 2 if hi < prf / 2 else prf  # the last band keeps the Nyquist bin
        cols.append(np.asarray(ps.select(ft_time=(lo, top)).sum("ft_time").data).reshape(n_ch))
    return np.sqrt(2.0 * np.column_stack(cols))  # PS holds the positive frequencies of the two-sided spectrum


def one_chunk(args):
    path, out_path, prf, bands = args
    values = band_rms(np.load(path), prf, bands)
    depth = np.arange(values.shape[0], dtype=np.float64)
    rows = np.column_stack([depth, values]).tolist()
    payload = "".join(", ".join(f"{v:.9g}" for v in row) + "\n" for row in rows).encode()
    tmp = f"{out_path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(payload)
    os.replace(tmp, out_path)
    return len(payload)


def main():
    store, out_dir, prf, bands = sys.argv[1], sys.argv[2], float(sys.argv[3]), json.loads(sys.argv[4])
    processes = int(sys.argv[sys.argv.index("--processes") + 1]) if "--processes" in sys.argv else 2
    files = sorted(f for f in glob.glob(os.path.join(store, "*.npy")) if os.path.basename(f)[0].isdigit())
    os.makedirs(out_dir, exist_ok=True)
    jobs = [(f, os.path.join(out_dir, os.path.basename(f)[:-4] + ".txt"), prf, bands) for f in files]
    if "--check" in sys.argv:  # compare the first chunk with a reference table (depth, rms...)
        ref = np.loadtxt(sys.argv[sys.argv.index("--check") + 1], delimiter=",")[:, 1:]
        got = band_rms(np.load(files[0]), prf, bands)
        print(json.dumps({"max_rel_diff": float(np.max(np.abs(got / ref - 1)))}))
        return
    import multiprocessing as mp

    with mp.get_context("fork").Pool(processes) as pool:
        pool.map(one_chunk, jobs[:processes], chunksize=1)  # warm-up: imports, FFT plans
        t0 = time.perf_counter()
        pool.map(one_chunk, jobs, chunksize=1)
        seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "files": len(jobs)}))


if __name__ == "__main__":
    main()
