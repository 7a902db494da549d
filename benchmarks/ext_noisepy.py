"""Time NoisePy's correlation of all pairs of a channel window (runs in NoisePy's interpreter).

Usage: ``<noisepy python> ext_noisepy.py STORE OUT_DIR PRF CHANNELS MAX_LAG_S [--processes N]``.

Per stored one-second chunk (one NoisePy window): ``noise_module.noise_processing``
(no time or frequency normalisation: the FFT of every channel, ``next_fast_len`` samples),
then, as NoisePy's correlate step does, ``smooth_source_spect`` for each source channel
and ``correlate`` of that source with each receiver ``j >= i`` (``cc_method`` xcorr,
every window kept). The ``(pairs, lags)`` rows are saved as float32 ``.npy``. A
persistent, warmed ``multiprocessing`` pool of N processes (fork) runs one task per
chunk; its start-up is not timed. Prints ``{"seconds": ...}``.
"""

import glob
import json
import os
import sys
import time

import numpy as np


def one_chunk(args):
    from noisepy.seis import noise_module as nm
    from noisepy.seis.io.datatypes import CCMethod, ConfigParameters, FreqNorm, TimeNorm

    path, out_path, prf, channels, max_lag = args
    x = np.load(path)[:channels].astype(np.float64)
    fft_para = ConfigParameters(sampling_rate=prf, time_norm=TimeNorm.NO, freq_norm=FreqNorm.NO, smoothspect_N=1)
    spectra = nm.noise_processing(fft_para, x)
    nfft = spectra.shape[1]
    half = spectra[:, : nfft // 2]
    cc_para = {"cc_method": CCMethod.XCORR, "smoothspect_N": 1}
    params = {"dt": 1.0 / prf, "maxlag": max_lag, "cc_len": 1, "substack": True, "substack_len": 1}
    rows = []
    for i in range(channels):
        source = nm.smooth_source_spect(cc_para, half[i : i + 1])
        for j in range(i, channels):
            corr, _, _ = nm.correlate(source, half[j : j + 1], params, nfft, np.array([0.0]))
            rows.append(corr[0])
    values = np.asarray(rows, dtype=np.float32)
    tmp = f"{out_path}.tmp-{os.getpid()}.npy"
    np.save(tmp, values)
    os.replace(tmp, out_path)
    return values.nbytes


def main():
    store, out_dir, prf = sys.argv[1], sys.argv[2], float(sys.argv[3])
    channels, max_lag = int(sys.argv[4]), float(sys.argv[5])
    processes = int(sys.argv[sys.argv.index("--processes") + 1]) if "--processes" in sys.argv else 2
    files = sorted(f for f in glob.glob(os.path.join(store, "*.npy")) if os.path.basename(f)[0].isdigit())
    os.makedirs(out_dir, exist_ok=True)
    jobs = [(f, os.path.join(out_dir, os.path.basename(f)), prf, channels, max_lag) for f in files]
    import multiprocessing as mp

    with mp.get_context("fork").Pool(processes) as pool:
        pool.map(one_chunk, jobs[:processes], chunksize=1)  # warm-up: imports, FFT plans
        t0 = time.perf_counter()
        pool.map(one_chunk, jobs, chunksize=1)
        seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "files": len(jobs)}))


if __name__ == "__main__":
    main()
