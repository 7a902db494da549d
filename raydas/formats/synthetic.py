"""A synthetic DAS source generated on the fly (no files): for load tests,
memory checks and benchmarks of the runtime at any length.

Give it as the run's input (a registered source: :func:`raydas.formats.scan`
hands it every ``synthetic://`` URL)::

    synthetic://?seconds=1800&rate=1000&channels=500

Parameters (all optional): ``seconds`` (duration, s; default 60), ``rate``
(sample rate, Hz; default 1000), ``channels`` (default 500), ``spacing``
(channel spacing, m; default 2), ``seed`` (default 0). The signal (cheap
to make, so that the generator does not dominate a load test): white noise of
RMS ``NOISE_RMS``, a 50 Hz sinusoid of amplitude 1 on every channel, and a
700 Hz sinusoid whose amplitude rises linearly along the fibre from 0 to 1.
The noise is generated in 1-s blocks seeded by the block's number, so any
sample window is the same whichever chunk (or halo) asks for it.

The recording starts at :data:`START` (UTC) with its first channel at
:data:`FIRST_DEPTH` m, as the demo's SEG-Y files (:mod:`raydas.apps.demo`) do.
"""

from __future__ import annotations

import datetime as _dt
from urllib.parse import parse_qs, urlsplit

import numpy as np

from ..errors import ConfigError
from ..timeutil import NS_PER_S
from . import register_source
from .base import Format, Probe, RecordInfo

#: start of the synthetic recordings (and of the demo's), UTC
START = _dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=_dt.UTC)
#: RMS of the white noise in the synthetic signal (strain/s)
NOISE_RMS = 0.1
#: position of the first channel along the fibre (m)
FIRST_DEPTH = 500.0

SCHEME = "synthetic"
_DEFAULTS = {"seconds": 60.0, "rate": 1000.0, "channels": 500, "spacing": 2.0, "seed": 0}


def start_ns() -> int:
    """:data:`START` in ns since the epoch (UTC)."""
    return int(START.timestamp()) * NS_PER_S


def parse(url: str) -> dict:
    """The parameters of a ``synthetic://`` URL, validated.

    Raises
    ------
    ConfigError
        At ``$.input`` for an unknown or invalid parameter.
    """
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    params = dict(_DEFAULTS)
    for key, values in query.items():
        if key not in _DEFAULTS:
            raise ConfigError("$.input", f"{url}: unknown synthetic parameter {key!r} (known: {', '.join(_DEFAULTS)})")
        try:
            value = type(_DEFAULTS[key])(float(values[-1])) if key in ("channels", "seed") else float(values[-1])
        except ValueError:
            raise ConfigError("$.input", f"{url}: {key}={values[-1]!r} is not a number") from None
        if key != "seed" and value <= 0:
            raise ConfigError("$.input", f"{url}: {key} must be positive, got {value}")
        params[key] = value
    return params


def records(url: str) -> list[RecordInfo]:
    """The one record the synthetic source stands for."""
    p = parse(url)
    n = round(p["seconds"] * p["rate"])
    positions = FIRST_DEPTH + p["spacing"] * np.arange(p["channels"])
    return [
        RecordInfo(
            path=url,
            format=SyntheticSource.name,
            n_channels=p["channels"],
            n_samples=n,
            dt=1.0 / p["rate"],
            start_ns=start_ns(),
            positions=positions,
            units="strain/s",
            quantity="strain_rate",
        )
    ]


@register_source(SCHEME)
class SyntheticSource(Format):
    """Reader of the synthetic source (never detected from a file)."""

    name = "synthetic"
    description = "synthetic DAS strain rate generated on the fly (synthetic://?seconds=&rate=&channels=)"
    quantity = "strain_rate"

    def detect(self, probe: Probe) -> bool:
        return False

    def scan_url(self, url: str) -> list[RecordInfo]:
        return records(url)

    def scan(self, probe: Probe) -> list[RecordInfo]:
        return records(probe.url)

    def read_samples(self, record: RecordInfo, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
        p = parse(record.path)
        block = round(p["rate"])  # noise comes in blocks of one second
        n_ch = record.n_channels
        noise = []
        for b in range(start // block, (stop - 1) // block + 1):
            rng = np.random.default_rng([int(p["seed"]), b])
            lo, hi = max(start - b * block, 0), min(stop - b * block, block)
            noise.append(rng.standard_normal((n_ch, block), dtype=np.float32)[:, lo:hi])
        data = noise[0] if len(noise) == 1 else np.concatenate(noise, axis=1)
        t = np.arange(start, stop) / p["rate"]
        ramp = np.linspace(0.0, 1.0, n_ch, dtype=np.float32)[:, None]
        data *= np.float32(NOISE_RMS)
        data += np.sin(2 * np.pi * 50.0 * t).astype(np.float32)[None, :]
        data += ramp * np.sin(2 * np.pi * 700.0 * t).astype(np.float32)[None, :]
        return data[channels]
