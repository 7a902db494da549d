"""Records to recordings to chunks: across file boundaries, halos, gaps."""

from __future__ import annotations

import numpy as np
import segyio

from raydas import formats
from raydas.apps import demo
from raydas.recording import assemble, plan_chunks
from raydas.timeutil import NS_PER_S


def _all_samples(paths):
    blocks = []
    for p in paths:
        with segyio.open(p, ignore_geometry=True) as f:
            blocks.append(np.asarray(f.trace.raw[:], dtype=np.float64))
    return np.concatenate(blocks, axis=1)


def test_files_join_into_one_recording(demo_files):
    records, failures = formats.scan(demo_files)
    assert not failures
    recordings, breaks = assemble(records)
    assert len(recordings) == 1 and not breaks
    rec = recordings[0]
    assert rec.n_samples == 3 * 4000 and rec.n_channels == 40
    assert rec.start_ns == demo.start_ns()


def test_chunks_cross_file_boundaries(demo_files):
    records, _ = formats.scan(demo_files)
    recordings, _ = assemble(records)
    plans = plan_chunks(recordings, chunk_seconds=1.5, halo_samples=0)
    assert len(plans) == 8  # 12 s in 1.5-s chunks
    straddling = plans[2]  # samples 3000..4500 cross from file 1 into file 2
    assert len(straddling.pieces) == 2
    chunk = straddling.read()
    reference = _all_samples(demo_files)
    np.testing.assert_allclose(chunk.data, reference[:, 3000:4500], rtol=1e-6)
    assert chunk.start_ns == demo.start_ns() + 3 * NS_PER_S
    assert chunk.stem == str(demo.start_ns() // NS_PER_S + 3)


def test_halo_and_short_last_chunk(demo_files):
    records, _ = formats.scan(demo_files)
    recordings, _ = assemble(records)
    plans = plan_chunks(recordings, chunk_seconds=5.0, halo_samples=300)
    assert [p.stop - p.start for p in plans] == [5000, 5000, 2000]
    assert plans[0].halo == (0, 300)  # nothing before the recording
    assert plans[1].halo == (300, 300)
    assert plans[2].halo == (300, 0)
    reference = _all_samples(demo_files)
    chunk = plans[1].read()
    assert chunk.n_samples == 5000 and chunk.halo == (300, 300)
    np.testing.assert_allclose(chunk.data, reference[:, 4700:10300], rtol=1e-6)
    np.testing.assert_allclose(chunk.core, reference[:, 5000:10000], rtol=1e-6)
    assert chunk.start_ns == demo.start_ns() + 5 * NS_PER_S


def test_gap_starts_a_new_recording(tmp_path):
    depth = np.arange(4) * 1.0
    t = np.arange(1000) / 1000.0
    a = tmp_path / "a.sgy"
    b = tmp_path / "b.sgy"
    demo.write_block(str(a), demo.synthetic_block(t, depth, 0), depth, demo.START, 1000.0)
    import datetime as dt

    demo.write_block(str(b), demo.synthetic_block(t, depth, 1), depth, demo.START + dt.timedelta(seconds=3), 1000.0)
    records, _ = formats.scan([str(a), str(b)])
    recordings, breaks = assemble(records)
    assert len(recordings) == 2
    assert breaks[0].kind == "gap" and "2 s missing" in breaks[0].detail
    plans = plan_chunks(recordings, chunk_seconds=1.0, halo_samples=100)
    assert len(plans) == 2
    assert plans[0].halo == (0, 0) and plans[1].halo == (0, 0)  # no halo across the gap


def test_layout_change_is_reported(tmp_path):
    t = np.arange(500) / 500.0
    a, b = tmp_path / "a.sgy", tmp_path / "b.sgy"
    d4, d5 = np.arange(4) * 1.0, np.arange(5) * 1.0
    demo.write_block(str(a), demo.synthetic_block(t, d4, 0), d4, demo.START, 500.0)
    import datetime as dt

    demo.write_block(str(b), demo.synthetic_block(t, d5, 0), d5, demo.START + dt.timedelta(seconds=1), 500.0)
    records, _ = formats.scan([str(a), str(b)])
    _, breaks = assemble(records)
    assert [x.kind for x in breaks] == ["channel change"]


def test_scan_of_missing_and_junk_files(tmp_path, demo_files):
    junk = tmp_path / "notes.txt"
    junk.write_text("not DAS data\n" * 10)
    empty = tmp_path / "empty.sgy"
    empty.write_bytes(b"")
    records, failures = formats.scan([demo_files[0], str(junk), str(empty)])
    assert len(records) == 1
    messages = {f.path: f.problem for f in failures}
    assert "not in a recognised DAS format" in messages[str(junk)]
    assert "empty" in messages[str(empty)]
