"""``raydas demo --workflow ambient-noise``: a synthetic diffuse-noise DAS
recording with a known surface-wave velocity, the ambient-noise workflow
(``configs/ambient-noise.json``) run on it, and the velocity read back from
the dispersion image of the stacked virtual shot gather.

The synthetic wavefield, on a straight fibre of ``channels`` channels
``SPACING`` m apart:

* noise sources on both sides of the array, in line with it, fire at random
  times (a Poisson process, ``EVENTS_PER_SECOND`` a second on each side) with
  heavy-tailed random amplitudes (Student's t, 3 degrees of freedom: now and
  then a strong one, which temporal normalisation is for). Every source sends
  one band-limited wavelet (``BAND`` Hz, amplitude spectrum falling as 1/f,
  which spectral whitening undoes) along the fibre at ``VELOCITY`` m/s,
  without dispersion. The sources on the far side are ``FAR_SIDE`` times as
  strong as those on the near side (a lopsided noise field, as in the field);
* white noise, independent on every channel, of ``NOISE_FRACTION`` times the
  wavefield's RMS.

So the wavefield is ``u(x, t) = a(t - x / c) + b(t + x / c) + n(x, t)`` with
``a`` and ``b`` the two sides' source series, and the correlation of channel
``x_s`` with channel ``x_r`` peaks at lags ``+-|x_r - x_s| / c``: the virtual
shot gather's moveout and its dispersion image are at ``c`` at every
frequency. The whole recording is made at once (every channel's delay applied
as a phase shift in the frequency domain) and cut into files, so time runs on
seamlessly across files and chunks; it starts at :data:`START`, four minutes
before midnight, so that the daily stacks are two.
"""

from __future__ import annotations

import datetime as _dt
import json
import os

import numpy as np

from ..chunk import Chunk
from ..formats.segy import write_segy
from .demo import packaged_config

#: the wavefield's phase (and group) velocity, m/s
VELOCITY = 400.0
#: channel spacing, m
SPACING = 4.0
#: position of the first channel along the fibre, m
FIRST_POSITION = 100.0
#: start of the recording (UTC): four minutes before midnight, so it spans two days
START = _dt.datetime(2025, 6, 1, 23, 56, 0, tzinfo=_dt.UTC)
#: band of the source wavelets (Hz): cosine ramps of 1 Hz outside it
BAND = (2.0, 45.0)
#: sources a second on each side
EVENTS_PER_SECOND = 40.0
#: strength of the far side's sources relative to the near side's
FAR_SIDE = 0.7
#: RMS of the incoherent noise relative to the wavefield's
NOISE_FRACTION = 0.3
#: the demo's recording: files, seconds per file, channels, sample rate (Hz)
FILES, FILE_SECONDS, CHANNELS, SAMPLE_RATE = 4, 120.0, 96, 200.0
#: frequencies (Hz) over which the dispersion image is averaged to pick the velocity
PICK_BAND = (8.0, 35.0)
#: the demo fails when the picked velocity is further than this (relative) from the true one
TOLERANCE = 0.10
#: the workflow's graph in ``configs/``
GRAPH = "ambient-noise.json"
#: the total stack's dispersion image: folder (``directory_out``) and label of the stack over the whole run
DISPERSION_FOLDER, TOTAL_LABEL = "dispersion", "all"
#: the PNGs of the total stack (virtual shot gather, dispersion image), relative to the results root
PLOTS = ("gather_png/all.png", "dispersion_png/all.png")

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def _band_shape(f: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """Amplitude spectrum of the source wavelets at frequencies ``f`` (Hz): 1/f in ``band``, 1-Hz cosine ramps."""
    low, high = band
    w = np.where((f >= low) & (f <= high), 1.0, 0.0)
    ramp_lo = (f < low) & (f > low - 1.0)
    ramp_hi = (f > high) & (f < high + 1.0)
    w = np.where(ramp_lo, 0.5 * (1 + np.cos(np.pi * (low - f))), w)
    w = np.where(ramp_hi, 0.5 * (1 + np.cos(np.pi * (f - high))), w)
    return w * (low / np.maximum(f, low))


def _source_spectrum(rng: np.random.Generator, m: int, sample_rate: float, shape: np.ndarray) -> np.ndarray:
    """Spectrum of one side's sources over ``m`` samples: random times and amplitudes, each a wavelet of ``shape``."""
    count = rng.poisson(EVENTS_PER_SECOND * m / sample_rate)
    train = np.zeros(m)
    np.add.at(train, rng.integers(0, m, count), rng.standard_t(3, count))
    return np.fft.rfft(train) * shape


def diffuse_wavefield(
    n_samples: int,
    sample_rate: float,
    positions: np.ndarray,
    velocity: float = VELOCITY,
    seed: int = 0,
) -> np.ndarray:
    """The synthetic diffuse noise recording (see the module's description).

    Parameters
    ----------
    n_samples
        Samples per channel.
    sample_rate
        Samples per second (Hz).
    positions
        Channel positions along the straight fibre (m).
    velocity
        Velocity of every wave (m/s), the same at every frequency.
    seed
        Seed of the random sources and noise: the same seed gives the same recording.

    Returns
    -------
    numpy.ndarray
        float32 ``(channel, time)``, RMS about 1 (strain rate, strain/s).

    Notes
    -----
    The source series are periodic over the ``n_samples`` samples (their delays
    are phase shifts of one FFT), so a wave that leaves the end of the record
    comes back at its start: there is no start-up or edge of the wavefield.
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(positions, dtype=np.float64) - float(np.min(positions))
    f = np.fft.rfftfreq(n_samples, 1.0 / sample_rate)
    shape = _band_shape(f, BAND)
    near = _source_spectrum(rng, n_samples, sample_rate, shape)  # travels towards larger positions
    far = FAR_SIDE * _source_spectrum(rng, n_samples, sample_rate, shape)  # travels towards smaller positions
    out = np.empty((len(x), n_samples), dtype=np.float32)
    span = float(x.max()) if len(x) else 0.0
    for k, xk in enumerate(x):
        delay_near, delay_far = xk / velocity, (span - xk) / velocity
        spectrum = near * np.exp(-2j * np.pi * f * delay_near) + far * np.exp(-2j * np.pi * f * delay_far)
        out[k] = np.fft.irfft(spectrum, n_samples)
    out /= max(float(np.sqrt(np.mean(np.square(out, dtype=np.float64)))), 1e-30)
    out += (NOISE_FRACTION * rng.standard_normal(out.shape)).astype(np.float32)
    return out


def generate(
    folder: str,
    files: int = FILES,
    seconds: float = FILE_SECONDS,
    channels: int = CHANNELS,
    sample_rate: float = SAMPLE_RATE,
    velocity: float = VELOCITY,
    seed: int = 0,
) -> list[str]:
    """Write the synthetic recording as ``files`` consecutive SEG-Y files (IEEE float32) in ``folder``.

    Parameters
    ----------
    folder
        Where the files go (made when missing); named ``das_<start, UTC>.sgy``.
    files, seconds
        Number of files and seconds per file.
    channels, sample_rate
        Channels (``SPACING`` m apart from ``FIRST_POSITION`` m) and samples per second (Hz).
    velocity
        The wavefield's velocity (m/s).
    seed
        Seed of the wavefield.

    Returns
    -------
    list of str
        The files, in time order.
    """
    os.makedirs(folder, exist_ok=True)
    n = int(round(seconds * sample_rate))
    positions = FIRST_POSITION + SPACING * np.arange(channels)
    data = diffuse_wavefield(files * n, sample_rate, positions, velocity, seed)
    paths = []
    for k in range(files):
        start = START + _dt.timedelta(seconds=k * seconds)
        chunk = Chunk(
            np.ascontiguousarray(data[:, k * n : (k + 1) * n]),
            data_start_ns=(start - _EPOCH) // _dt.timedelta(microseconds=1) * 1000,
            dt=1.0 / sample_rate,
            positions=positions,
            units="strain/s",
            source=f"raydas demo: synthetic diffuse noise at {velocity:g} m/s",
        )
        path = os.path.join(folder, f"das_{start:%Y%m%dT%H%M%S}.sgy")
        write_segy(chunk, path, sample_format=5)
        paths.append(path)
    return paths


def pick_velocity(
    image: np.ndarray, velocities: np.ndarray, frequencies: np.ndarray, band: tuple[float, float] = PICK_BAND
) -> float:
    """The phase velocity at which a dispersion image is largest, averaged over a band of frequencies.

    Each frequency's column is scaled to a maximum of 1 (columns that are all 0
    are left out), the columns of ``band`` are averaged, and the velocity of the
    largest mean is returned: for a wavefield without dispersion, its velocity.

    Parameters
    ----------
    image
        ``(velocity, frequency)`` dispersion image (``dispersion``'s output).
    velocities
        Velocity of each row (m/s).
    frequencies
        Frequency of each column (Hz).
    band
        ``(low, high)`` frequencies (Hz) averaged, both included.

    Returns
    -------
    float
        The velocity (m/s).

    Raises
    ------
    ValueError
        When the shapes disagree or no column with energy lies in the band.
    """
    image = np.asarray(image, dtype=np.float64)
    velocities = np.asarray(velocities, dtype=np.float64)
    frequencies = np.asarray(frequencies, dtype=np.float64)
    if image.ndim != 2 or image.shape != (len(velocities), len(frequencies)):
        raise ValueError(
            f"a dispersion image of shape (velocities, frequencies) = ({len(velocities)}, {len(frequencies)}) "
            f"was expected, not {image.shape}"
        )
    peak = np.abs(image).max(axis=0) if image.size else np.zeros(len(frequencies))
    columns = (frequencies >= band[0]) & (frequencies <= band[1]) & (peak > 0) & np.isfinite(peak)
    if not columns.any():
        raise ValueError(f"no frequency of the image with energy lies in {band[0]:g} to {band[1]:g} Hz")
    mean = (np.abs(image[:, columns]) / peak[columns]).mean(axis=1)
    return float(velocities[int(np.argmax(mean))])


def run_config(chunk_seconds: float = 15.0) -> dict:
    """The run config of the demo: the SEG-Y files in ``data/``, results in ``results/``, the graph beside it."""
    return {"input": "data/*.sgy", "output": "results", "processing": GRAPH, "chunk_seconds": chunk_seconds}


def prepare(
    out: str,
    files: int = FILES,
    seconds: float = FILE_SECONDS,
    channels: int = CHANNELS,
    sample_rate: float = SAMPLE_RATE,
    seed: int = 0,
) -> str:
    """Write the synthetic recording into ``out/data`` and the workflow's configs into ``out``.

    Returns
    -------
    str
        The run config's path (``out/ambient-demo.json``).
    """
    out = os.path.abspath(out)
    generate(os.path.join(out, "data"), files, seconds, channels, sample_rate, seed=seed)
    with open(os.path.join(out, GRAPH), "w") as fh:
        json.dump(packaged_config(GRAPH), fh, indent=2)
    path = os.path.join(out, "ambient-demo.json")
    with open(path, "w") as fh:
        json.dump(run_config(), fh, indent=2)
    return path


def recovered_velocity(results: str, band: tuple[float, float] = PICK_BAND) -> float:
    """The velocity (m/s) picked (:func:`pick_velocity`) from the total stack's dispersion image of a run.

    Parameters
    ----------
    results
        The run's results root (path or URL): the image is
        ``<results>/dispersion/all.npy``, its axes ``velocity.npy`` (m/s) and
        ``frequency.npy`` (Hz) beside it, as ``write_npy`` writes them.
    band
        Frequencies (Hz) averaged.

    Raises
    ------
    FileNotFoundError
        Naming the file the run did not write.
    """
    import io

    from ..outputs import OutputSink

    sink = OutputSink(results)

    def load(name: str) -> np.ndarray:
        return np.load(io.BytesIO(sink.read(f"{DISPERSION_FOLDER}/{name}.npy")), allow_pickle=False)

    return pick_velocity(load(TOTAL_LABEL), load("velocity"), load("frequency"), band)


def verdict(recovered: float, true: float = VELOCITY, tolerance: float = TOLERANCE) -> tuple[bool, str]:
    """Whether ``recovered`` (m/s) lies within ``tolerance`` (relative) of ``true`` (m/s), and a line saying so."""
    error = abs(recovered - true) / true
    ok = bool(error <= tolerance)
    return ok, (
        f"velocity:  recovered {recovered:g} m/s, true {true:g} m/s ({100 * error:.1f}% off; tolerance "
        f"{100 * tolerance:g}%): {'ok' if ok else 'FAILED'}"
    )
