"""Sources by URL scheme (``synthetic://`` is registered like any format), what a
scan may override (ScanOptions), and the chunk store's interface to the runtime."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from raydas import formats
from raydas.chunk import Chunk
from raydas.errors import RaydasError
from raydas.formats.chunkstore import ChunkStore
from raydas.formats.synthetic import FIRST_DEPTH, SyntheticSource, start_ns
from raydas.timeutil import NS_PER_S

URL = "synthetic://?seconds=2&rate=100&channels=3"


# --- sources ---------------------------------------------------------------------------------------
def test_synthetic_is_a_registered_source_that_scan_dispatches_to():
    assert isinstance(formats.source_for(URL), SyntheticSource)
    assert formats.source_for("/data/file.sgy") is None and formats.source_for("s3://bucket/x.sgy") is None
    assert "synthetic" in formats.all_formats()
    records, failures = formats.scan(URL)
    assert not failures and len(records) == 1
    rec = records[0]
    assert (rec.format, rec.path, rec.n_channels, rec.n_samples, rec.dt) == ("synthetic", URL, 3, 200, 0.01)
    assert rec.start_ns == start_ns() and rec.positions[0] == FIRST_DEPTH
    assert formats.scan_file(URL)[0].n_samples == 200
    assert formats.read_samples(rec, 10, 20).shape == (3, 10)


def test_a_source_mixes_with_files_in_one_scan(demo_files):
    records, failures = formats.scan([demo_files[0], URL])
    assert not failures and sorted(r.format for r in records) == ["segy", "synthetic"]


def test_workers_read_the_synthetic_source_without_importing_it_first():
    """A worker process imports only what a chunk plan needs: the built-in format modules
    are loaded with the registry, the synthetic source among them (no side-effect import)."""
    code = (
        "import sys\n"
        "from raydas import formats\n"
        "assert 'raydas.formats.synthetic' not in sys.modules\n"
        "from raydas.formats.base import RecordInfo\n"
        f"rec = RecordInfo(path={URL!r}, format='synthetic', n_channels=3, n_samples=200, dt=0.01, start_ns=0, "
        "positions=[0.0, 1.0, 2.0])\n"
        "print(formats.read_samples(rec, 0, 5).shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(3, 5)"


# --- scan options ----------------------------------------------------------------------------------------
def test_scan_options_override_the_sample_rate(demo_files, tmp_path):
    (rec,), _ = formats.scan(demo_files[0], formats.ScanOptions(sample_rate=250.0))
    assert rec.dt == 1 / 250.0
    (rec,), _ = formats.scan(demo_files[0], formats.ScanOptions(assumed_sample_rate=250.0))
    assert rec.dt == 1 / 1000.0  # SEG-Y states its rate: an assumed one does not replace it
    folder = tmp_path / "distpy"
    folder.mkdir()
    np.save(folder / "1600000000.npy", np.zeros((4, 100)))
    (rec,), _ = formats.scan(str(folder))
    assert rec.dt == 1 / 100.0  # distpy's chunks are one second wide unless told otherwise
    (rec,), _ = formats.scan(str(folder), formats.ScanOptions(assumed_sample_rate=250.0))
    assert rec.dt == 1 / 250.0 and not formats.get_format(rec.format).states_sample_rate
    (rec,), _ = formats.scan(URL, formats.ScanOptions(sample_rate=50.0))
    assert rec.dt == 1 / 50.0  # sources too


def test_a_format_name_still_stands_for_the_options(demo_files):
    assert formats.ScanOptions.of("segy") == formats.ScanOptions(format="segy")
    assert formats.ScanOptions.of(None, format="segy").format == "segy"
    assert formats.ScanOptions.of(formats.ScanOptions(sample_rate=5.0), format="segy") == formats.ScanOptions(
        format="segy", sample_rate=5.0
    )
    (by_name,), _ = formats.scan(demo_files[0], "segy")
    (by_keyword,) = formats.scan_file(demo_files[0], format="segy")
    assert by_name.format == by_keyword.format == "segy"
    with pytest.raises(RaydasError, match="unknown format 'nope'"):
        formats.scan_file(demo_files[0], "nope")


# --- the chunk store's interface -----------------------------------------------------------------------
def test_chunk_store_interface(tmp_path):
    store = ChunkStore(str(tmp_path / "store") + "/")
    data = np.arange(4 * 30, dtype=np.float32).reshape(4, 30)
    chunk = Chunk(data, 1_700_000_000 * NS_PER_S - 5 * NS_PER_S // 20, 1 / 20, np.arange(4.0), halo=(5, 5), index=0)
    row = store.write(chunk)
    assert store.url == str(tmp_path / "store")
    assert store.files(chunk.stem) == [row.file] == ["1700000000.npy"]
    assert (row.n_channels, row.n_samples, row.start_ns) == (4, 20, chunk.start_ns)  # the halo is not stored
    again = store.describe_existing(chunk.stem, chunk.start_ns, chunk.dt, chunk.source)
    assert again == row  # a resumed run describes the stored chunk as its writer did
    manifest = store.finish([row], chunk.positions, units="strain/s")
    assert manifest == str(tmp_path / "store" / "manifest.parquet")
    (rec,), failures = formats.scan(str(tmp_path / "store"))
    assert not failures and rec.format == "raydas-chunks" and rec.key == row.file
    np.testing.assert_array_equal(formats.read_samples(rec, 0, 20), data[:, 5:25])
