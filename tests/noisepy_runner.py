"""Runs NoisePy's own preprocessing and correlation functions on arrays from raydas's
NoisePy comparison test (tests/commands/test_noisepy_parity.py), in an interpreter
where ``noisepy.seis.noise_module`` imports: ``python noisepy_runner.py IN.npz OUT.npz``.

IN.npz holds ``x`` (float64 ``(channels, samples)``), ``dense`` (the same without
trailing zeros, for the running-mean normalisation), ``fs`` (Hz), ``freqmin``, ``freqmax``
(Hz, whitening band), ``smooth_n`` (running-mean window, samples) and ``maxlag`` (s).
OUT.npz gets NoisePy's results under the names below. Imports nothing of raydas.
"""

from __future__ import annotations

import sys

import numpy as np
from noisepy.seis import noise_module as nm
from noisepy.seis.io.datatypes import CCMethod, ConfigParameters, FreqNorm, TimeNorm


def main(src: str, dst: str) -> None:
    d = np.load(src)
    x, fs = d["x"], float(d["fs"])
    base = dict(sampling_rate=fs, freqmin=float(d["freqmin"]), freqmax=float(d["freqmax"]), smoothspect_N=1)
    out = {
        "detrend": nm.detrend(x.copy()),
        "demean": nm.demean(x.copy()),
        "taper": nm.taper(x.copy()),
    }
    rma = ConfigParameters(**base, time_norm=TimeNorm.RMA, freq_norm=FreqNorm.NO, smooth_N=int(d["smooth_n"]))
    out["rma_fft"] = nm.noise_processing(rma, d["dense"].copy())
    out["rma_zeros_fft"] = nm.noise_processing(rma, x.copy())
    one_bit = ConfigParameters(**base, time_norm=TimeNorm.ONE_BIT, freq_norm=FreqNorm.NO)
    out["one_bit_fft"] = nm.noise_processing(one_bit, x.copy())
    white = ConfigParameters(**base, time_norm=TimeNorm.NO, freq_norm=FreqNorm.PHASE_ONLY)
    out["whiten_fft"] = nm.noise_processing(white, x.copy())  # whiten(): one row per channel, n_taper 100 bins
    # correlation of channel 0 (source) with every channel (receivers), each channel one "window" of NoisePy
    plain = ConfigParameters(**base, time_norm=TimeNorm.NO, freq_norm=FreqNorm.NO, cc_method=CCMethod.XCORR)
    spectra = nm.noise_processing(plain, x.copy())  # full FFTs, Nfft = next_fast_len(samples)
    nfft = spectra.shape[1]
    half = spectra[:, : nfft // 2]
    source = nm.smooth_source_spect({"cc_method": CCMethod.XCORR, "smoothspect_N": 1}, half[[0] * len(x)])
    params = {"dt": 1.0 / fs, "maxlag": float(d["maxlag"]), "cc_len": 1, "substack": True, "substack_len": 1}
    corr, _, _ = nm.correlate(source, half, params, nfft, np.arange(len(x)))
    out["xcorr"] = corr
    out["xcorr_nfft"] = np.array(nfft)
    out["xcorr_spectra"] = half
    np.savez(dst, **out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
