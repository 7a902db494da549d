"""``raydas demo``: generate a synthetic strain-rate recording as real SEG-Y
files and run the noise-log pipeline on it.

The synthetic signal has known content, so the demo's numbers can be checked:

* white noise, RMS ``NOISE_RMS`` on every channel;
* a 50 Hz sinusoid on every channel (amplitude 1);
* a 300 Hz sinusoid on channels 50-99 (amplitude 0.5);
* a 700 Hz sinusoid whose amplitude rises linearly along the fibre (0 to 1);
* a travelling event: an 80 Hz Ricker wavelet moving down the fibre at
  ``EVENT_VELOCITY`` m/s, starting 25 s into the recording.

Time runs continuously across the files, so chunks that straddle two files
see one seamless signal.
"""

from __future__ import annotations

import datetime as _dt
import importlib.resources
import json
import os

import numpy as np

from ..chunk import Chunk
from ..formats.segy import write_segy
from ..formats.synthetic import FIRST_DEPTH, NOISE_RMS, START, start_ns  # noqa: F401  (start_ns: the demo data start too)

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
EVENT_VELOCITY = 1500.0  # m/s
EVENT_TIME = 25.0  # s after the start
SPACING = 2.0  # m


def synthetic_block(t: np.ndarray, depth: np.ndarray, seed: int) -> np.ndarray:
    """The demo signal at times ``t`` (s from the start) and depths (m), float32 (channel, time)."""
    rng = np.random.default_rng(seed)
    n_ch = depth.shape[0]
    rel = (depth - depth[0]) / max(depth[-1] - depth[0], 1.0)
    data = NOISE_RMS * rng.standard_normal((n_ch, t.shape[0]))
    data += np.sin(2 * np.pi * 50.0 * t)[None, :]
    data[50:100] += 0.5 * np.sin(2 * np.pi * 300.0 * t)[None, :]
    data += rel[:, None] * np.sin(2 * np.pi * 700.0 * t)[None, :]
    arrival = EVENT_TIME + (depth - depth[0]) / EVENT_VELOCITY
    tau = t[None, :] - arrival[:, None]
    a = (np.pi * 80.0 * tau) ** 2
    data += 3.0 * (1 - 2 * a) * np.exp(-a)
    return data.astype(np.float32)


def write_block(path: str, data: np.ndarray, depth: np.ndarray, start: _dt.datetime, sample_rate: float) -> None:
    """Write one block of the demo recording, ``data`` (channel, time) in
    strain/s from ``start`` (UTC) at ``sample_rate`` Hz at ``depth`` (m), as a
    SEG-Y file of IBM floats (as field SEG-Y often is) through the SEG-Y
    format's writer (:func:`raydas.formats.segy.write_segy`)."""
    chunk = Chunk(
        data,
        data_start_ns=(start - _EPOCH) // _dt.timedelta(microseconds=1) * 1000,
        dt=1.0 / sample_rate,
        positions=depth,
        units="strain/s",
        source="raydas demo: synthetic DAS strain rate",
    )
    write_segy(chunk, path, sample_format=1)


def generate(
    folder: str, files: int = 3, seconds: float = 20.0, channels: int = 200, sample_rate: float = 2000.0
) -> list[str]:
    """Write the synthetic recording as ``files`` consecutive SEG-Y files in ``folder``."""
    os.makedirs(folder, exist_ok=True)
    depth = FIRST_DEPTH + SPACING * np.arange(channels)
    n = int(round(seconds * sample_rate))
    paths = []
    for k in range(files):
        t = (k * n + np.arange(n)) / sample_rate
        start = START + _dt.timedelta(seconds=k * seconds)
        path = os.path.join(folder, f"das_{start:%Y%m%dT%H%M%S}.sgy")
        write_block(path, synthetic_block(t, depth, seed=k), depth, start, sample_rate)
        paths.append(path)
    return paths


def packaged_config(name: str) -> dict:
    """One of the JSON configs shipped in ``configs/`` (installed as ``raydas.configs``)."""
    return json.loads(importlib.resources.files("raydas.configs").joinpath(name).read_text())


def prepare(out: str, files: int = 3, seconds: float = 20.0, channels: int = 200, sample_rate: float = 2000.0) -> str:
    """Generate the data and write the demo's configs into ``out``; returns the run config path."""
    out = os.path.abspath(out)
    generate(os.path.join(out, "data"), files, seconds, channels, sample_rate)
    run_cfg = packaged_config("demo.json")
    with open(os.path.join(out, run_cfg["processing"]), "w") as fh:
        json.dump(packaged_config(run_cfg["processing"]), fh, indent=2)
    path = os.path.join(out, "demo.json")
    with open(path, "w") as fh:
        json.dump(run_cfg, fh, indent=2)
    return path
