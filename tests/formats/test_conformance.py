"""Conformance of every registered format, run over the registry itself so a
new format is covered the day it is registered (and fails here until
``SAMPLES`` names a sample of it):

* a windowed read equals the same slice of a full read;
* the scan's metadata are the coordinates of the chunk a read returns (start
  time, sample interval, positions, units, shape);
* every format that writes round-trips: write -> scan -> read gives the same
  samples and coordinates, to float32 rounding.

Samples are the real third-party files (``real_data``) where there are some,
else files written by the format's own writer or by a real writer of that
format (pandas for CSV; LAS 2.0 text as its standard lays it out).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from raydas import formats
from raydas.chunk import Chunk
from raydas.errors import FormatError
from raydas.formats.base import RecordInfo
from raydas.timeutil import NS_PER_S, parse_iso

#: what the real sample files rightly warn about: the TDMS one is truncated, the miniSEED traces unequal
pytestmark = [
    pytest.mark.filterwarnings("ignore::raydas.errors.TruncatedFileWarning"),
    pytest.mark.filterwarnings("ignore::raydas.formats.mseed.UnequalTracesWarning"),
]
#: relative float32 rounding: what "the same value" allows after a round trip
FLOAT32 = 2.0**-23
#: records of one sample checked at most (a file of many bands or blocks)
MAX_RECORDS = 4
START = parse_iso("2024-06-01T12:00:00.250Z")  # whole milliseconds: every format stores that exactly


def reference_chunk() -> Chunk:
    """What the writers write: 5 channels 2.5 m apart x 40 samples at 500 Hz, float32."""
    return Chunk(
        np.random.default_rng(9).standard_normal((5, 40)).astype(np.float32),
        data_start_ns=START,
        dt=0.002,
        positions=100.0 + 2.5 * np.arange(5),
        units="strain/s",
        gauge_length=8.0,
        source="conformance",
    )


def written_by_itself(name: str, folder: Path) -> str:
    """The reference chunk written by format ``name``'s own writer: a folder for
    a container format, else a file named with the format's first extension."""
    fmt = formats.get_format(name)
    url = str(folder / ("out" if fmt.container else f"out{fmt.extensions[0]}"))
    formats.write(reference_chunk(), url, format=name)
    return url


def chunk_store(folder: Path) -> str:
    """Three consecutive 1-s chunks in a raydas chunk store, through its writer."""
    from raydas.formats.chunkstore import ChunkStore

    url = str(folder / "store")
    writer = ChunkStore(url)
    data = np.random.default_rng(2).standard_normal((4, 300)).astype(np.float32)
    rows = [
        writer.write(Chunk(data[:, 100 * k : 100 * (k + 1)], START + k * NS_PER_S, 0.01, 10.0 + np.arange(4)))
        for k in range(3)
    ]
    writer.finish(rows, 10.0 + np.arange(4), units="strain/s", gauge_length=5.0)
    return url


def las_folder(folder: Path) -> str:
    """Three LAS 2.0 FBE files one minute apart (DEPT + two band curves)."""
    url = folder / "las"
    url.mkdir()
    depth = np.array([100.0, 101.0, 102.5, 104.0])
    for k in range(3):
        values = np.column_stack([depth, 10.0 * k + np.arange(4), 0.5 * k + np.arange(4) ** 2])
        lines = [
            "~Version Information",
            "VERS.   2.0 : CWLS LOG ASCII STANDARD - VERSION 2.0",
            "WRAP.   NO : one line per depth step",
            "~Well Information",
            "NULL.   -999.25 : null value",
            f"DATE.   2024-06-01T12:0{k}:00Z : time of the chunk",
            "~Curve Information",
            "DEPT.M      : depth",
            "B01 .     : band energy 10-50 Hz",
            "B02 .     : band energy 50-200 Hz",
            "~ASCII",
            *(" ".join(f"{v:.9g}" for v in row) for row in values),
        ]
        (url / f"chunk{k}.las").write_text("\n".join(lines) + "\n")
    return str(url)


def csv_table(folder: Path) -> str:
    """A long CSV table written by pandas: one row per (time, depth), two value columns."""
    import pandas as pd

    times = pd.date_range("2024-06-01T12:00:00Z", periods=4, freq="30s")
    depth = [100.0, 102.0, 104.0]
    rows = [
        {"time": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "depth": d, "temperature": 20 + i + 0.5 * j, "pressure": 3.0 * j}
        for j, t in enumerate(times)
        for i, d in enumerate(depth)
    ]
    url = folder / "table.csv"
    pd.DataFrame(rows).to_csv(url, index=False)
    return str(url)


#: format name -> its samples: paths under the real sample folder (``fibre/...``: under the fibre
#: sample folder beside it), or a function writing one into a folder and returning its URL
SAMPLES: dict[str, tuple[str | Callable[[Path], str], ...]] = {
    "prodml": ("hdf5/iDAS005_hdf5_example.626.h5", "hdf5/prodml_fbe_1.h5"),
    "silixa-h5": ("hdf5/silixa_h5_1.hdf5",),
    "terra15": ("hdf5/terra15_v5_test_file.hdf5",),
    "febus": ("hdf5/valencia_febus_example.h5",),
    "apsensing": ("hdf5/ap_sensing_1.hdf5",),
    "optodas": ("hdf5/decimated_optodas.hdf5",),
    "segy": ("segy/small_channel_patch.sgy", "segy/f3.sgy", "segy/Format5msb.sgy"),
    "tdms": ("tdms/sample_tdms_file_v4713.tdms",),
    "mseed": ("mseed/etna_9n_3chan_10s.mseed",),
    "sintela-pb": ("other/sintela_protobuf_1.pb",),
    "neubrex-das": ("fibre/hdf5/neubrex_das_1.h5",),
    "gdr-das": ("fibre/hdf5/gdr_1.h5",),
    "dasdae": ("fibre/hdf5/deformation_rate_event_1.hdf5", "fibre/hdf5/dispersion_event.h5"),
    "xdas-netcdf": ("fibre/hdf5/xdas_netcdf.nc",),
    "dasvader-jld2": ("fibre/hdf5/das_vader_1.jld2",),
    "h5simple": ("fibre/hdf5/h5_simple_1.h5",),
    "febus-dts": ("fibre/dts/febus_dts.h5", "fibre/dts/febus_dts_1_C1_20250424_231747.h5"),
    "neubrex-rfs": ("fibre/dss/neubrex_dss_forge.h5",),
    "sentek-das": ("fibre/other/DASDMSShot00_20230328155653619.das",),
    "sor": ("fibre/otdr/ofl100_1.sor", "fibre/otdr/ofl100_2.sor"),
    "febus-g1-text": (
        "fibre/dss/febg1_C1_2023-05-10T12.25.03+0000.bsl",
        "fibre/dss/febus-g1-spectra_C1_2023-11-30T15.13.14+0000.mtx",
    ),
    "febus-g1-h5": ("fibre/dss/febus-g1-spectra_C2_2026-06-03T17.28.13+0200.mtx.h5",),
    "raydas-chunks": (chunk_store,),
    "distpy-npy": (written_by_itself,),
    "witsml-fbe": (written_by_itself,),
    "band-parquet": (written_by_itself,),
    "las-fbe": (las_folder,),
    "csv": (csv_table,),
}
#: registered sources that are not files, so have no sample here, and why
NOT_FILES = {
    "synthetic": "samples generated on the fly from a synthetic:// URL; no file holds them",
}
#: formats whose files carry no unit the reader can read back, and why
DROPS_UNITS = {
    "distpy-npy": "distpy's folders hold arrays and axes only",
    "witsml-fbe": "the depth-log reader does not read the curves' unit",
}


def sample_params() -> list:
    params = []
    for name, samples in SAMPLES.items():
        for sample in samples:
            label = sample if isinstance(sample, str) else sample.__name__
            params.append(pytest.param(name, sample, id=f"{name}:{label}"))
    return params


def sample_url(name: str, sample, request, tmp_path: Path) -> str:
    """The URL of ``sample``: a real file (skipped where they are not), or one written into ``tmp_path`` now."""
    if isinstance(sample, str) and sample.startswith("fibre/"):
        return str(request.getfixturevalue("fibre_data") / sample.removeprefix("fibre/"))
    if isinstance(sample, str):
        return str(request.getfixturevalue("real_data") / sample)
    return written_by_itself(name, tmp_path) if sample is written_by_itself else sample(tmp_path)


def scanned(name: str, url: str) -> list[RecordInfo]:
    """The records of ``url``, after checking the registry detects it as ``name``."""
    assert formats.detect(url).name == name
    records = formats.scan_file(url)
    assert records, f"{url}: no records"
    for rec in records:
        assert rec.format == name and rec.n_channels > 0 and rec.n_samples > 0
        assert np.isfinite(rec.positions).all(), f"{url} {rec.key}: positions not all finite"
    return records[:MAX_RECORDS]


def test_every_registered_format_has_a_sample():
    registered = set(formats.all_formats())
    missing = registered - set(SAMPLES) - set(NOT_FILES)
    assert not missing, f"registered formats with no conformance sample (add them to SAMPLES): {sorted(missing)}"
    stale = (set(SAMPLES) | set(NOT_FILES)) - registered
    assert not stale, f"SAMPLES or NOT_FILES name formats that are not registered: {sorted(stale)}"


def test_every_real_sample_is_declared_in_tested_on():
    """``raydas formats`` lists the samples a format is tested on: the conformance samples among them."""
    for name, samples in SAMPLES.items():
        declared = formats.get_format(name).tested_on
        for sample in samples:
            if isinstance(sample, str):
                assert (sample if sample.startswith("fibre/") else f"real/{sample}") in declared, (name, sample)


@pytest.mark.parametrize(("name", "sample"), sample_params())
def test_windowed_read_is_the_slice_of_the_full_read(name, sample, request, tmp_path):
    url = sample_url(name, sample, request, tmp_path)
    for rec in scanned(name, url):
        n, c = rec.n_samples, rec.n_channels
        if "frequency_mhz" in rec.attrs:  # spectra: (channel, time, frequency), refused as a 2-D series
            check_spectra(name, url, rec)
            continue
        full = formats.read_samples(rec, 0, n)
        assert full.dtype == np.float32 and full.shape == (c, n)
        windows = [
            (n // 3, n // 3 + max(1, n // 4), slice(1, None, 2)),
            (0, 1, slice(None)),
            (n - 1, n, slice(c - 1, c)),
            (n // 2, n, slice(0, max(1, c // 2))),
            (n // 2, n // 2, slice(None)),  # empty
        ]
        for start, stop, channels in windows:
            window = formats.read_samples(rec, start, stop, channels)
            assert window.dtype == np.float32
            np.testing.assert_array_equal(
                window, full[channels, start:stop], err_msg=f"{url} {rec.key} [{start}:{stop}] {channels}"
            )


@pytest.mark.parametrize(("name", "sample"), sample_params())
def test_scan_metadata_are_the_chunk_coordinates(name, sample, request, tmp_path):
    url = sample_url(name, sample, request, tmp_path)
    fmt = formats.get_format(name)
    for index, rec in enumerate(scanned(name, url)):  # in the format's scan order, as Format.read counts records
        if "frequency_mhz" in rec.attrs:
            with pytest.raises(FormatError, match="holds Brillouin spectra"):
                fmt.read(url, record=index)
            continue
        whole = fmt.read(url, record=index)
        assert_coordinates(whole, rec, 0, rec.n_samples)
        i0, i1 = rec.n_samples // 4, max(rec.n_samples // 4 + 1, rec.n_samples // 2)
        t0 = rec.time_of(i0)
        t1 = rec.time_of(i1) if i1 < rec.n_samples else rec.end_ns
        assert_coordinates(fmt.read(url, t0, t1, record=index), rec, i0, i1)


def check_spectra(name: str, url: str, rec: RecordInfo) -> None:
    """A record of spectra: its 2-D read is refused naming the file; its windows of spectra are slices of all."""
    with pytest.raises(FormatError, match=f"{re.escape(url)}: holds Brillouin spectra"):
        formats.read_samples(rec, 0, rec.n_samples)
    fmt = formats.get_format(name)
    bins = rec.attrs["frequency_mhz"]["count"]
    if rec.n_samples == 1:
        full = fmt.read_spectra(rec)
        assert full.shape == (rec.n_channels, 1, bins) and full.dtype == np.float32
        np.testing.assert_array_equal(fmt.read_spectra(rec, slice(1, None, 3)), full[1::3])
        return
    full = fmt.read_spectra(rec)
    assert full.shape == (rec.n_channels, rec.n_samples, bins) and full.dtype == np.float32
    n = rec.n_samples
    np.testing.assert_array_equal(fmt.read_spectra(rec, n // 3, n // 2, slice(1, None, 2)), full[1::2, n // 3 : n // 2])


def assert_coordinates(chunk: Chunk, rec: RecordInfo, i0: int, i1: int) -> None:
    """``chunk`` is samples ``[i0, i1)`` of ``rec``, with ``rec``'s coordinates."""
    assert chunk.data.shape == (rec.n_channels, i1 - i0)
    assert chunk.data_start_ns == chunk.start_ns == rec.time_of(i0)  # the stamp, for a record with stamps
    if not rec.regular:
        np.testing.assert_array_equal(chunk.times_ns, rec.times_ns[i0:i1])
    assert chunk.dt == rec.dt
    np.testing.assert_array_equal(chunk.positions, rec.positions)
    assert chunk.units == rec.units and chunk.source == rec.path
    assert chunk.gauge_length == rec.gauge_length or (math.isnan(chunk.gauge_length) and math.isnan(rec.gauge_length))
    np.testing.assert_array_equal(chunk.data, formats.read_samples(rec, i0, i1))


@pytest.mark.parametrize("name", sorted(formats.writers()))
def test_writable_formats_round_trip(name, tmp_path):
    chunk = reference_chunk()
    url = written_by_itself(name, tmp_path)
    records, failures = formats.scan(url)
    assert not failures and len(records) == 1
    (rec,) = records
    assert rec.format == name
    assert (rec.n_channels, rec.n_samples, rec.start_ns) == (*chunk.data.shape, chunk.start_ns)
    assert rec.dt == pytest.approx(chunk.dt, rel=1e-12)
    np.testing.assert_allclose(rec.positions, chunk.positions, rtol=FLOAT32)
    assert rec.units == ("" if name in DROPS_UNITS else chunk.units)
    np.testing.assert_allclose(formats.read_samples(rec, 0, rec.n_samples), chunk.data, rtol=FLOAT32)
