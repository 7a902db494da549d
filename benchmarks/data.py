"""Synthetic DAS data for the benchmarks, written with real writers.

The FBE signal follows the anchor measurements (shared/reference/anchors-fbe.md):
deterministic white noise (seeded per chunk) plus continuous-phase sinusoids at
50 Hz on every channel, 250 Hz on channels 200-299, 1500 Hz on channels 600-649
and 3700 Hz with an amplitude rising along the fibre. Values are strain rate
(arbitrary units), sampled at ``prf`` Hz.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

START_NS = 1_700_000_000 * 10**9  # 2023-11-14T22:13:20Z: a whole second, so stems are integers


@dataclass(frozen=True)
class Workload:
    """Size of the FBE workload: ``seconds`` chunks of ``channels`` x ``prf`` samples."""

    channels: int
    prf: int
    seconds: int

    @property
    def samples(self) -> int:
        """Channel-samples in all (the throughput unit)."""
        return self.channels * self.prf * self.seconds

    @property
    def float32_bytes(self) -> int:
        return 4 * self.samples


def chunk_signal(w: Workload, second: int) -> np.ndarray:
    """One second of the synthetic strain rate, float32 ``(channels, prf)``."""
    rng = np.random.default_rng(1000 + second)
    x = rng.standard_normal((w.channels, w.prf), dtype=np.float32)
    t = (second + np.arange(w.prf) / w.prf).astype(np.float64)
    ch = np.arange(w.channels)

    def tone(freq: float) -> np.ndarray:
        return np.sin(2 * np.pi * freq * t).astype(np.float32)

    x += 0.5 * tone(50.0)
    x[(ch >= 200) & (ch < 300)] += 0.8 * tone(250.0)
    x[(ch >= 600) & (ch < 650)] += 0.8 * tone(1500.0)
    x += np.outer(np.linspace(0.0, 1.0, w.channels, dtype=np.float32), tone(3700.0))
    return x


def positions(w: Workload) -> np.ndarray:
    """Channel positions along the fibre (m): 1 m spacing."""
    return np.arange(w.channels, dtype=np.float64)


def write_chunk_store(w: Workload, folder: str) -> str:
    """Write the workload as a raydas chunk store (float32 npy + manifest) with
    raydas's own :class:`~raydas.formats.chunkstore.ChunkStore`."""
    from raydas.chunk import Chunk
    from raydas.formats.chunkstore import ChunkStore

    writer = ChunkStore(folder)
    rows = []
    for s in range(w.seconds):
        chunk = Chunk(
            data=chunk_signal(w, s),
            data_start_ns=START_NS + s * 10**9,
            dt=1.0 / w.prf,
            positions=positions(w),
            units="strain/s",
            source="synthetic",
            index=s,
        )
        rows.append(writer.write(chunk))
    writer.finish(rows, positions(w), units="strain/s")
    return folder


def write_distpy_layout(w: Workload, folder: str) -> str:
    """Write the workload in distpy's ingested layout: ``<unixtime>.npy`` float64
    ``(channels, prf)`` per second plus ``measured_depth.npy`` ``(channels, 1)``."""
    os.makedirs(folder, exist_ok=True)
    for s in range(w.seconds):
        np.save(os.path.join(folder, f"{START_NS // 10**9 + s}.npy"), chunk_signal(w, s).astype(np.float64))
    np.save(os.path.join(folder, "measured_depth.npy"), positions(w).reshape(-1, 1))
    return folder


def _ingest_block(channels: int, samples: int) -> np.ndarray:
    """Noise for the ingest files, float32 ``(channels, samples)``."""
    return np.random.default_rng(7).standard_normal((channels, samples), dtype=np.float32)


def _ingest_chunk(channels: int, samples: int, prf: float):
    """The ingest files' content as a Chunk: noise, float32 ``(channels, samples)``
    from ``START_NS`` at ``prf`` Hz, channels 1 m apart."""
    from raydas.chunk import Chunk

    return Chunk(
        data=_ingest_block(channels, samples),
        data_start_ns=START_NS,
        dt=1.0 / prf,
        positions=np.arange(channels, dtype=np.float64),
        units="strain/s",
        source="synthetic",
    )


def write_segy(path: str, channels: int, samples: int, prf: float) -> str:
    """A SEG-Y rev 2 file (through raydas's SEG-Y writer): big-endian IEEE
    float32 samples (format 5), one trace per channel, start time (UTC) and
    position in the trace headers."""
    from raydas.formats.segy import write_segy as write

    write(_ingest_chunk(channels, samples, prf), path)
    return path


def write_prodml(path: str, channels: int, samples: int, prf: float) -> str:
    """A PRODML v2.1 HDF5 file (h5py, through raydas's PRODML writer): float32 ``(time, locus)``."""
    from raydas.formats.prodml import write_prodml as write

    write(_ingest_chunk(channels, samples, prf), path)
    return path
