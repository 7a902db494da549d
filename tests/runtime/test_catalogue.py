"""The catalogue (``raydas index`` / ``raydas select``): real files copied into a folder,
scanned in Ray tasks; incremental updates open only new or changed files; vanished
files are dropped; a corrupt file is a row with its error; an interrupted update
resumes; selection reports gaps and overlaps computed by hand; a run plans from the
catalogue without a re-scan; a bucket on a real S3 protocol server (moto) is indexed.

References are independent of raydas: segyio, obspy and h5py read the sample files,
pyarrow and pandas open the catalogue as plain Parquet."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import types

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

import raydas
from raydas import formats
from raydas.catalogue import SCHEMA, STATE_FILE, Catalogue, decode_attrs, encode_attrs, record_from_row
from raydas.errors import RaydasError

NS = 1_000_000_000
T0 = 1_700_000_000 * NS  # 2023-11-14T22:13:20Z

#: small real files: (folder/name in the shared samples)
REAL = ["segy/small_channel_patch.sgy", "mseed/etna_9n_3chan_10s.mseed", "hdf5/silixa_h5_1.hdf5"]


def _copy_real(real_data, folder, names=REAL):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(real_data / name, folder / os.path.basename(name))
    return folder


def _sgy(path, start_ns, seconds=10.0, channels=8, rate=100.0, value=1.0):
    """A SEG-Y file of ``channels`` channels, 2 m apart, starting at ``start_ns``."""
    n = int(round(seconds * rate))
    data = np.full((channels, n), value, dtype=np.float32) + np.arange(n, dtype=np.float32)[None, :]
    chunk = raydas.Chunk(data, start_ns, dt=1.0 / rate, positions=2.0 * np.arange(channels))
    formats.write(chunk, str(path))
    return str(path)


def _rows(cat) -> list[dict]:
    """The catalogue's rows, times as int ns (pyarrow would give microsecond datetimes)."""
    table = cat.table()
    for name in ("start", "end", "mtime", "scanned_at"):
        table = table.set_column(table.column_names.index(name), name, table.column(name).cast(pa.int64()))
    return table.to_pylist()


def _by_path(cat) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in _rows(cat):
        out.setdefault(os.path.basename(row["path"]), []).append(row)
    return out


# --- building ---------------------------------------------------------------------------------
def test_index_real_files_in_ray_tasks_against_independent_readers(real_data, tmp_path, ray_session):
    import h5py
    import obspy
    import segyio

    folder = _copy_real(real_data, tmp_path / "archive")
    (folder / "README.txt").write_text("Recordings of the Etna array and a Silixa test file.\n" * 4)
    cat = Catalogue(str(tmp_path / "cat"))
    report = cat.update([str(folder)], in_process_files=0)  # Ray tasks however few the files
    assert report.listed == 4 and len(report.scanned) == 4 and report.unchanged == 0 and report.batches == 1
    rows = _by_path(cat)
    assert set(rows) == {"small_channel_patch.sgy", "etna_9n_3chan_10s.mseed", "silixa_h5_1.hdf5", "README.txt"}

    (sgy,) = rows["small_channel_patch.sgy"]
    with segyio.open(str(folder / "small_channel_patch.sgy"), ignore_geometry=True) as f:
        n_traces, n_samples, interval_us = f.tracecount, len(f.samples), segyio.tools.dt(f)
    assert (sgy["format"], sgy["channels"], sgy["samples"]) == ("segy", n_traces, n_samples)
    assert sgy["sample_interval_s"] == pytest.approx(interval_us / 1e6)
    assert sgy["status"] == "ok" and sgy["error"] is None
    assert sgy["size"] == os.path.getsize(folder / "small_channel_patch.sgy")
    assert sgy["mtime"] is not None and sgy["etag"] is None

    (ms,) = rows["etna_9n_3chan_10s.mseed"]
    stream = obspy.read(str(folder / "etna_9n_3chan_10s.mseed"))
    common = min(tr.stats.npts for tr in stream)  # the samples all three channels cover
    assert (ms["channels"], ms["samples"], ms["sample_interval_s"]) == (len(stream), common, 0.001)
    assert ms["start"] == stream[0].stats.starttime.ns
    assert ms["end"] == stream[0].stats.starttime.ns + common * 1_000_000
    assert any("unequal spans" in w for w in ms["warnings"])  # the scan's warning kept with the row

    (sx,) = rows["silixa_h5_1.hdf5"]
    with h5py.File(folder / "silixa_h5_1.hdf5") as f:
        n_time, n_chan = f["Acoustic"].shape
        rate = float(f["Acoustic"].attrs["SamplingFrequency[Hz]"])
        first = float(f["Acoustic"].attrs["Start Distance (m)"])
    assert (sx["channels"], sx["samples"], sx["sample_interval_s"]) == (n_chan, n_time, 1.0 / rate)
    assert sx["first_position_m"] == first and sx["format"] == "silixa-h5"

    (doc,) = rows["README.txt"]
    assert doc["status"] == "not_data" and "text document" in doc["error"] and doc["day"] == "none"


def test_catalogue_is_plain_parquet_for_pyarrow_and_pandas(real_data, tmp_path):
    pd = pytest.importorskip("pandas")
    folder = _copy_real(real_data, tmp_path / "archive", REAL[:2])
    cat = Catalogue(str(tmp_path / "cat"))
    cat.update([str(folder)], use_ray=False)
    plain = ds.dataset(str(tmp_path / "cat" / "records"), format="parquet", partitioning="hive")
    table = plain.to_table()
    assert table.column_names == SCHEMA.names + ["day", "source"]
    for field in SCHEMA:
        assert table.schema.field(field.name).type == field.type, field.name
    assert table.schema.field("start").type == pa.timestamp("ns", tz="UTC")
    assert table.num_rows == 2
    frame = pd.read_parquet(str(tmp_path / "cat" / "records"))
    assert len(frame) == 2
    assert str(frame["start"].dtype) == "datetime64[ns, UTC]"
    row = frame[frame["path"].str.endswith("small_channel_patch.sgy")].iloc[0]
    assert row["start"] == pd.Timestamp("2017-09-18T00:00:00Z")  # what the file's trace headers say
    assert row["end"] == pd.Timestamp("2017-09-18T00:00:00.080Z")  # 20 samples at 250 Hz
    assert row["day"] == "2017-09-18" and row["source"].startswith("archive-")
    state = json.loads((tmp_path / "cat" / STATE_FILE).read_text())
    assert state["schema"] == 1 and state["roots"] == [str(folder)] and "journal" not in state
    assert sorted(state["parts"]) == sorted(
        os.path.relpath(f, tmp_path / "cat" / "records") for f in plain.files
    )  # the folder holds exactly the committed parts


def test_every_real_record_round_trips_through_the_catalogue(real_data, tmp_path):
    """Records rebuilt from catalogue rows read the same samples as freshly scanned ones."""
    cat = Catalogue(str(tmp_path / "cat"))
    cat.update([str(real_data)], use_ray=False)
    scanned, _ = formats.scan(str(real_data))
    selection = cat.select(0, 2**62)
    key = lambda r: (r.path, r.key, r.stream)  # noqa: E731
    assert sorted(map(key, selection.records)) == sorted(map(key, scanned))
    rebuilt = {key(r): r for r in selection.records}
    for record in scanned:
        other = rebuilt[key(record)]
        a, b = dataclasses.asdict(record), dataclasses.asdict(other)
        np.testing.assert_allclose(b.pop("positions"), a.pop("positions"), rtol=0, atol=1e-9)
        assert repr(b.pop("attrs")) == repr(a.pop("attrs"))
        ga, gb = a.pop("gauge_length"), b.pop("gauge_length")
        assert ga == gb or (np.isnan(ga) and np.isnan(gb))
        assert a == b
        n = min(record.n_samples, 16)
        np.testing.assert_array_equal(
            formats.read_samples(other, 0, n), formats.read_samples(record, 0, n), err_msg=record.path
        )


def test_attrs_encoding_round_trips_types():
    attrs = {
        "t": (1, 2.5, "x"),
        "a": np.arange(6, dtype=np.int16).reshape(2, 3),
        "s": np.float32(1.5),
        "b": b"\x00\xff",
        "nested": {"k": [(0, 1), [2, 3]]},
        "int_keys": {1: "one"},
    }
    text, exact = encode_attrs(attrs)
    assert exact
    back = decode_attrs(text)
    assert back["t"] == (1, 2.5, "x")
    assert back["a"].dtype == np.int16 and back["a"].shape == (2, 3) and back["a"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert back["s"] == np.float32(1.5) and back["s"].dtype == np.float32
    assert back["b"] == b"\x00\xff" and back["nested"] == {"k": [(0, 1), [2, 3]]} and back["int_keys"] == {1: "one"}
    _, exact = encode_attrs({"f": object()})
    assert not exact


# --- updating ----------------------------------------------------------------------------------
def test_update_opens_only_new_or_changed_files_and_drops_vanished(tmp_path, ray_session):
    folder = tmp_path / "archive"
    folder.mkdir()
    a = _sgy(folder / "a.sgy", T0)
    b = _sgy(folder / "b.sgy", T0 + 10 * NS)
    c = _sgy(folder / "c.sgy", T0 + 20 * NS)
    cat = Catalogue(str(tmp_path / "cat"))
    first = cat.update([str(folder)], files_per_task=1)
    assert sorted(map(os.path.basename, first.scanned)) == ["a.sgy", "b.sgy", "c.sgy"]

    # a: its bytes corrupted in place, size and mtime kept: unchanged by its stamps, so never opened
    stat = os.stat(a)
    with open(a, "r+b") as fh:
        fh.write(bytes(3600))  # the textual header and the binary header's start zeroed
    os.utime(a, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    # b: rewritten with other content and a later mtime; c: removed; d: new
    _sgy(folder / "b.sgy", T0 + 10 * NS, seconds=5.0)
    os.utime(b, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5 * NS))
    os.remove(c)
    _sgy(folder / "d.sgy", T0 + 30 * NS)

    second = cat.update([str(folder)], files_per_task=1)
    assert sorted(map(os.path.basename, second.scanned)) == ["b.sgy", "d.sgy"]
    assert second.unchanged == 1 and sorted(map(os.path.basename, second.dropped)) == ["b.sgy", "c.sgy"]
    rows = _by_path(cat)
    assert sorted(rows) == ["a.sgy", "b.sgy", "d.sgy"]
    assert rows["a.sgy"][0]["status"] == "ok"  # proof a was not opened: its bytes no longer scan
    assert rows["b.sgy"][0]["samples"] == 500  # the new b: 5 s at 100 Hz
    assert len(rows["b.sgy"]) == 1  # the old b's row is gone

    third = cat.update([str(folder)])
    assert third.scanned == [] and third.dropped == [] and third.unchanged == 3


def test_corrupt_files_are_rows_with_their_error(real_data, tmp_path, ray_session):
    folder = _copy_real(real_data, tmp_path / "archive", ["segy/small_channel_patch.sgy"])
    raw = (real_data / "hdf5/silixa_h5_1.hdf5").read_bytes()
    (folder / "cut.hdf5").write_bytes(raw[:4096])  # truncated HDF5
    (folder / "zeros.sgy").write_bytes(bytes(5000))  # no recognisable header
    (folder / "empty.h5").write_bytes(b"")
    cat = Catalogue(str(tmp_path / "cat"))
    report = cat.update([str(folder)], files_per_task=1)
    assert report.errors == 3
    rows = _by_path(cat)
    assert rows["small_channel_patch.sgy"][0]["status"] == "ok"
    for name in ("cut.hdf5", "zeros.sgy", "empty.h5"):
        (row,) = rows[name]
        assert row["status"] == "error" and row["error"], name
        assert row["format"] is None and row["start"] is None and row["day"] == "none"
        assert row["size"] == os.path.getsize(folder / name)
    assert "empty" in rows["empty.h5"][0]["error"]
    assert "not in a recognised DAS format" in rows["zeros.sgy"][0]["error"]
    # an error row is catalogued like any file: not opened again until it changes
    assert cat.update([str(folder)]).scanned == []
    selection = cat.select(0, 2**62)
    assert sorted(os.path.basename(u["path"]) for u in selection.unreadable) == ["cut.hdf5", "empty.h5", "zeros.sgy"]


def test_interrupted_update_resumes_with_what_it_committed(tmp_path, ray_session):
    folder = tmp_path / "archive"
    folder.mkdir()
    names = [os.path.basename(_sgy(folder / f"f{i}.sgy", T0 + i * 10 * NS)) for i in range(5)]
    cat = Catalogue(str(tmp_path / "cat"))
    committed = []

    def stop_after_first(n, urls):
        committed.extend(urls)
        raise KeyboardInterrupt("stopped after the first batch")

    with pytest.raises(KeyboardInterrupt):
        cat.update([str(folder)], batch_files=2, files_per_task=1, on_batch=stop_after_first)
    assert len(committed) == 2
    plain = ds.dataset(str(tmp_path / "cat" / "records"), format="parquet", partitioning="hive").to_table()
    assert sorted(plain.column("path").to_pylist()) == sorted(committed)  # consistent, nothing half-written
    assert sorted(r["path"] for r in _rows(cat)) == sorted(committed)

    resumed = cat.update([str(folder)], batch_files=2, files_per_task=1)
    assert sorted(resumed.scanned) == sorted(str(folder / n) for n in names if str(folder / n) not in committed)
    assert resumed.unchanged == 2 and resumed.batches == 2  # 3 files: batches of 2 and 1
    assert sorted(os.path.basename(r["path"]) for r in _rows(cat)) == names


def test_commit_interrupted_after_its_state_file_is_finished_on_open(tmp_path, monkeypatch):
    folder = tmp_path / "archive"
    folder.mkdir()
    _sgy(folder / "a.sgy", T0)
    cat = Catalogue(str(tmp_path / "cat"))
    real_apply = Catalogue._apply_journal

    def crash(self, state):
        raise SystemExit("killed between the state file and the renames")

    monkeypatch.setattr(Catalogue, "_apply_journal", crash)
    with pytest.raises(SystemExit):
        cat.update([str(folder)], use_ray=False)
    state = json.loads((tmp_path / "cat" / STATE_FILE).read_text())
    assert state["journal"]["rename"]  # committed, parts still under their hidden names
    hidden = [n for n in state["journal"]["rename"]]
    assert all(os.path.basename(h).startswith(".") for h in hidden)
    monkeypatch.setattr(Catalogue, "_apply_journal", real_apply)
    reader = Catalogue(str(tmp_path / "cat"))  # a reader sees the committed rows and writes nothing
    assert [os.path.basename(r["path"]) for r in _rows(reader)] == ["a.sgy"]
    assert len(reader.select(T0, T0 + NS).records) == 1
    assert json.loads((tmp_path / "cat" / STATE_FILE).read_text())["journal"]
    again = Catalogue(str(tmp_path / "cat"))  # the next update finishes the commit, then finds nothing to do
    assert again.update([str(folder)], use_ray=False).scanned == []
    assert "journal" not in json.loads((tmp_path / "cat" / STATE_FILE).read_text())
    assert [os.path.basename(r["path"]) for r in _rows(again)] == ["a.sgy"]
    names = [os.path.basename(f) for f in ds.dataset(str(tmp_path / "cat" / "records"), format="parquet").files]
    assert len(names) == 1 and names[0].startswith("part-")


def test_uncommitted_parts_are_removed_by_the_next_update(tmp_path):
    folder = tmp_path / "archive"
    folder.mkdir()
    _sgy(folder / "a.sgy", T0)
    cat = Catalogue(str(tmp_path / "cat"))
    cat.update([str(folder)], use_ray=False)
    stray = tmp_path / "cat" / "records" / "day=2023-11-14" / "source=x" / ".part-dead.parquet.pending"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"half a part")
    cat.update([str(folder)], use_ray=False)
    assert not stray.exists()


def test_parts_of_a_partition_are_merged(tmp_path, monkeypatch):
    import raydas.catalogue as catalogue_module

    folder = tmp_path / "archive"
    folder.mkdir()
    cat = Catalogue(str(tmp_path / "cat"))
    for i in range(3):  # three updates, each adding a file of the same day: three parts in one partition
        _sgy(folder / f"f{i}.sgy", T0 + i * 10 * NS)
        cat.update([str(folder)], use_ray=False)
    assert len(cat.state()["parts"]) == 3
    before = sorted(r["path"] for r in _rows(cat))
    assert cat.compact() == 2
    (part,) = cat.state()["parts"]
    plain = ds.dataset(str(tmp_path / "cat" / "records"), format="parquet", partitioning="hive")
    assert [os.path.relpath(f, tmp_path / "cat" / "records") for f in plain.files] == [part]
    assert sorted(plain.to_table().column("path").to_pylist()) == before
    monkeypatch.setattr(catalogue_module, "COMPACT_PARTS", 1)  # an update merges once a partition has more
    _sgy(folder / "f3.sgy", T0 + 30 * NS)
    cat.update([str(folder)], use_ray=False)
    assert len(cat.state()["parts"]) == 1 and len(_rows(cat)) == 4


# --- selecting ---------------------------------------------------------------------------------
def test_select_reports_gaps_and_overlaps_computed_by_hand(tmp_path):
    folder = tmp_path / "archive"
    folder.mkdir()
    # A [0, 10) s, B [10, 20), C [25, 35), D [30, 40): a gap 20-25, an overlap 30-35
    _sgy(folder / "A.sgy", T0)
    _sgy(folder / "B.sgy", T0 + 10 * NS)
    _sgy(folder / "C.sgy", T0 + 25 * NS)
    _sgy(folder / "D.sgy", T0 + 30 * NS)
    _sgy(folder / "E.sgy", T0 + 100 * NS, channels=4)  # fewer channels, later
    cat = Catalogue(str(tmp_path / "cat"))
    cat.update([str(folder)], use_ray=False)

    sel = cat.select(T0 + 5 * NS, T0 + 45 * NS)
    assert [os.path.basename(p) for p in sel.paths] == ["A.sgy", "B.sgy", "C.sgy", "D.sgy"]
    assert [(g.start_ns - T0, g.end_ns - T0) for g in sel.gaps] == [(20 * NS, 25 * NS), (40 * NS, 45 * NS)]
    assert [(o.start_ns - T0, o.end_ns - T0) for o in sel.overlaps] == [(30 * NS, 35 * NS)]
    assert [os.path.basename(p) for p in sel.overlaps[0].paths] == ["C.sgy", "D.sgy"]
    assert not sel.complete

    whole = cat.select("2023-11-14T22:13:20Z", "2023-11-14T22:13:40Z")  # A and B exactly: no gap
    assert [os.path.basename(p) for p in whole.paths] == ["A.sgy", "B.sgy"] and whole.complete
    assert whole.to_dict()["gaps"] == [] and whole.to_dict()["start"] == "2023-11-14T22:13:20.000000Z"

    assert cat.select(T0 + 95 * NS, T0 + 105 * NS, channels="0:8").records == []  # E has 4 channels
    (e,) = cat.select(T0 + 95 * NS, T0 + 105 * NS, channels="0:4").records
    assert e.n_channels == 4
    assert cat.select(T0, T0 + 45 * NS, format="mseed").records == []
    assert len(cat.select(T0, T0 + 45 * NS, format="segy").records) == 4
    with pytest.raises(RaydasError, match="before it starts"):
        cat.select(T0 + NS, T0)
    with pytest.raises(RaydasError, match="A:B"):
        cat.select(T0, T0 + NS, channels="four")


def test_selecting_from_no_catalogue_says_so(tmp_path):
    with pytest.raises(RaydasError, match="no catalogue there"):
        Catalogue(str(tmp_path / "typo")).select(T0, T0 + NS)


def test_catalogue_refuses_credentials_in_its_url(tmp_path):
    with pytest.raises(RaydasError, match="credential"):
        Catalogue("s3://user:secret@bucket/catalogue")


# --- running from a catalogue ---------------------------------------------------------------------
ABS_GRAPH = {
    "command_list": [
        {"name": "abs", "uid": 1, "in_uid": 0},
        {"name": "write_npy", "uid": 2, "in_uid": 1, "directory_out": "abs"},
    ]
}


@pytest.mark.slow
def test_run_from_a_catalogue_span_without_a_rescan(tmp_path, ray_session, monkeypatch):
    folder = tmp_path / "archive"
    folder.mkdir()
    for i in range(3):  # 3 files of 4 s at 100 Hz, values -(t index + 1)
        n = 400
        data = -np.tile(np.arange(i * n, (i + 1) * n, dtype=np.float32) + 1, (4, 1))
        chunk = raydas.Chunk(data, T0 + i * 4 * NS, dt=0.01, positions=[0.0, 1.0, 2.0, 3.0])
        formats.write(chunk, str(folder / f"f{i}.sgy"))
    cat = Catalogue(str(tmp_path / "cat"))
    cat.update([str(folder)], use_ray=False)
    selection = cat.select(T0 + 3 * NS, T0 + 6 * NS + NS // 2)

    def no_scan(*args, **kwargs):
        raise AssertionError("a catalogue run must not scan")

    monkeypatch.setattr(formats, "scan", no_scan)
    monkeypatch.setattr(formats, "scan_file", no_scan)
    config = raydas.load_config(
        {"input": str(folder), "output": str(tmp_path / "out"), "chunk_seconds": 1.0, "processing": ABS_GRAPH}
    )
    report = raydas.run(config, progress=False, records=selection)
    written = sorted(p.name for p in (tmp_path / "out" / "abs").rglob("*.npy"))  # in the recording's folder
    stems = [str(T0 // NS + s) for s in (3, 4, 5, 6)]  # the chunks overlapping [3, 6.5) s
    assert [w for w in written if w[0].isdigit()] == [s + ".npy" for s in stems]
    assert report.files == 2 and report.chunks_done == 4  # f0 and f1 hold the span's samples
    for k, stem in zip((3, 4, 5, 6), stems):
        (path,) = (tmp_path / "out" / "abs").rglob(f"{stem}.npy")
        got = np.load(path)
        expected = np.tile(np.arange(k * 100, (k + 1) * 100, dtype=np.float32) + 1, (4, 1))  # |-(i+1)|
        np.testing.assert_array_equal(got, expected)


def test_a_catalogue_run_applies_the_configs_sample_rate_and_notes_gaps(tmp_path):
    from raydas.runtime import Run

    folder = tmp_path / "archive"
    folder.mkdir()
    _sgy(folder / "A.sgy", T0, seconds=2.0)
    _sgy(folder / "B.sgy", T0 + 3 * NS, seconds=2.0)
    cat = Catalogue(str(tmp_path / "cat"))
    cat.update([str(folder)], use_ray=False)
    selection = cat.select(T0, T0 + 5 * NS)
    config = raydas.load_config(
        {"catalogue": str(tmp_path / "cat"), "start": "2023-11-14T22:13:20Z", "end": "2023-11-14T22:13:25Z"}
    )
    assert config.input is None
    records = Run(config, mode="ingest").scan()  # from the config's catalogue and span: nothing scanned
    assert [r.dt for r in records] == [0.01, 0.01]
    overridden = Run(config.model_copy(update={"sample_rate": 200.0}), mode="ingest", records=selection)
    assert [r.dt for r in overridden.scan()] == [0.005, 0.005]  # the config's override, as for scanned files
    assert [r.dt for r in selection.records] == [0.01, 0.01]  # the selection itself untouched
    assert overridden.report.warnings == [
        "catalogue: gap of 1 s from 2023-11-14T22:13:22.000000Z to 2023-11-14T22:13:23.000000Z"
    ]
    with pytest.raises(raydas.ConfigError, match="start and end"):
        raydas.load_config({"catalogue": str(tmp_path / "cat"), "start": "2023-11-14T22:13:20Z"})
    with pytest.raises(raydas.ConfigError, match="give catalogue too"):
        raydas.load_config({"input": str(folder), "start": "2023-11-14T22:13:20Z"})


@pytest.mark.slow
def test_cli_index_select_and_run_from_a_catalogue(tmp_path, ray_session, capsys):
    from raydas.apps.cli import main

    folder = tmp_path / "archive"
    folder.mkdir()
    _sgy(folder / "A.sgy", T0, seconds=4.0)
    _sgy(folder / "B.sgy", T0 + 6 * NS, seconds=4.0)
    catalogue = str(tmp_path / "cat")
    assert main(["index", str(folder), "--catalogue", catalogue, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["listed"] == 2 and len(doc["scanned"]) == 2 and doc["dropped"] == []
    assert (
        main(["select", catalogue, "--start", "2023-11-14T22:13:20Z", "--end", "2023-11-14T22:13:30Z", "--json"]) == 0
    )
    listing = json.loads(capsys.readouterr().out)
    assert [os.path.basename(p) for p in listing["paths"]] == ["A.sgy", "B.sgy"]
    assert [(g["start"], g["end"], g["seconds"]) for g in listing["gaps"]] == [
        ("2023-11-14T22:13:24.000000Z", "2023-11-14T22:13:26.000000Z", 2.0)
    ]
    assert main(["select", catalogue, "--start", "2023-11-14T22:13:20Z", "--end", "2023-11-14T22:13:30Z"]) == 0
    out = capsys.readouterr().out
    assert "A.sgy" in out and "gap: 2023-11-14T22:13:24.000000Z to 2023-11-14T22:13:26.000000Z (2 s)" in out
    assert main(["select", catalogue, "--start", "2030-01-01", "--end", "2030-01-02"]) == 1

    run_config = tmp_path / "run.json"  # no input: the catalogue is it
    run_config.write_text(json.dumps({"output": "out", "chunk_seconds": 1.0, "processing": ABS_GRAPH}))
    code = main(
        [
            "run",
            str(run_config),
            "--no-progress",
            "--catalogue",
            catalogue,
            "--start",
            "2023-11-14T22:13:26Z",
            "--end",
            "2023-11-14T22:13:28Z",
        ]  # fmt: skip
    )
    assert code == 0
    written = sorted(p.name for p in (tmp_path / "out" / "abs").rglob("*.npy") if p.name[0].isdigit())
    assert written == [f"{T0 // NS + 6}.npy", f"{T0 // NS + 7}.npy"]  # B's first two seconds only
    capsys.readouterr()
    assert main(["run", str(run_config), "--catalogue", catalogue, "--start", "2023-11-14T22:13:26Z"]) == 2
    assert "start and end" in capsys.readouterr().err


# --- object stores ---------------------------------------------------------------------------------
def test_index_a_bucket_on_s3(real_data, tmp_path, s3_bucket):
    import s3fs

    fs = s3fs.S3FileSystem()
    prefix = f"{s3_bucket}/das"
    for name in REAL[:2]:
        fs.put(str(real_data / name), f"{prefix}/{os.path.basename(name)}")
    fs.pipe(f"{prefix}/broken.sgy", bytes(4000))
    for where in (str(tmp_path / "cat"), f"{s3_bucket}/catalogue"):  # a local catalogue, and one in the bucket
        s3fs.S3FileSystem.clear_instance_cache()
        cat = Catalogue(where)
        report = cat.update([prefix], use_ray=False)
        assert report.listed == 3 and len(report.scanned) == 3 and report.errors == 1
        rows = _by_path(cat)
        assert rows["small_channel_patch.sgy"][0]["etag"]  # object stores give ETags
        assert rows["small_channel_patch.sgy"][0]["path"] == f"{prefix}/small_channel_patch.sgy"
        assert rows["broken.sgy"][0]["status"] == "error"
        assert cat.update([prefix], use_ray=False).scanned == []
    # a replaced object (new ETag) is opened again; a deleted one is dropped
    _sgy(tmp_path / "new.sgy", T0)
    fs.put(str(tmp_path / "new.sgy"), f"{prefix}/broken.sgy")
    fs.rm(f"{prefix}/etna_9n_3chan_10s.mseed")
    s3fs.S3FileSystem.clear_instance_cache()
    cat = Catalogue(f"{s3_bucket}/catalogue")
    report = cat.update([prefix], use_ray=False)
    assert [os.path.basename(p) for p in report.scanned] == ["broken.sgy"]
    assert sorted(map(os.path.basename, report.dropped)) == ["broken.sgy", "etna_9n_3chan_10s.mseed"]
    rows = _by_path(cat)
    assert rows["broken.sgy"][0]["status"] == "ok" and "etna_9n_3chan_10s.mseed" not in rows
    (record,) = cat.select(T0, T0 + NS).records
    np.testing.assert_array_equal(formats.read_samples(record, 0, 3)[0], [1.0, 2.0, 3.0])
    # no credential anywhere in the catalogue
    secret = os.environ["AWS_SECRET_ACCESS_KEY"].encode()
    for path in fs.find(f"{s3_bucket}/catalogue"):
        assert secret not in fs.cat(path)


def test_record_from_an_error_row_is_refused():
    with pytest.raises(RaydasError, match="was not scanned"):
        record_from_row({"path": "x.sgy", "status": "error", "error": "bad"})


def test_the_documented_columns_are_the_schema():
    from helpers import REPO

    text = open(os.path.join(REPO, "configs", "README.md")).read().split("## The catalogue", 1)[1]
    rows = [line.split("|")[1:3] for line in text.splitlines() if line.startswith("| `")]
    documented = [(name.strip().strip("`"), kind.strip()) for name, kind in rows]
    arrow = {
        "string": pa.string(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "timestamp[ns, UTC]": pa.timestamp("ns", tz="UTC"),
        "list<float64>": pa.list_(pa.float64()),
        "list<string>": pa.list_(pa.string()),
        "list<int64>": pa.list_(pa.int64()),
    }
    assert [name for name, _ in documented] == SCHEMA.names
    for name, kind in documented:
        assert arrow[kind] == SCHEMA.field(name).type, name


# --- watch keeps its state in a catalogue -----------------------------------------------------------
def test_watch_keeps_its_state_in_a_catalogue(tmp_path, monkeypatch):
    """A watcher with a catalogue commits each file it takes; a restarted one takes the
    catalogued files with their records without opening them (no Ray needed for this side)."""
    from raydas.config import RunConfig
    from raydas.runtime.watch import Watcher

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    catalogue = str(tmp_path / "cat")
    cfg = RunConfig(input="unused", output=str(tmp_path / "out"), processing=ABS_GRAPH, chunk_seconds=1.0)
    _sgy(inbox / "a.sgy", T0, seconds=4.0)
    (inbox / "broken.sgy").write_bytes(bytes(4000))
    first = Watcher(str(inbox), cfg, progress=False, catalogue=catalogue, settle=0)
    assert first.poll() == 0 and first.poll() == 2  # taken once their sizes settled
    assert [f.stage for f in first.run.report.failures] == ["scan"]
    stems = [p.stem for p, _ in first.ready_plans(final=True)]
    assert stems == [str(T0 // NS + k) for k in range(4)]
    rows = _by_path(Catalogue(catalogue))
    assert sorted(rows) == ["a.sgy", "broken.sgy"] and rows["broken.sgy"][0]["status"] == "error"
    assert rows["a.sgy"][0]["root"] == str(inbox)

    def no_scan(*args, **kwargs):
        raise AssertionError("a catalogued file was opened again")

    monkeypatch.setattr(formats, "scan_file", no_scan)  # the module the watcher and the catalogue scan with
    again = Watcher(str(inbox), cfg, progress=False, catalogue=catalogue, settle=0)
    assert again.poll() == 0 and again.poll() == 0  # nothing new: nothing taken, nothing opened
    assert [p.stem for p, _ in again.ready_plans(final=True)] == stems
    assert again.run.report.files == 2 and again.run.report.records == 1
    monkeypatch.undo()
    _sgy(inbox / "b.sgy", T0 + 4 * NS, seconds=2.0)
    assert again.poll() == 0 and again.poll() == 1
    assert len(again.ready_plans(final=True)) == 6
    assert sorted(_by_path(Catalogue(catalogue))) == ["a.sgy", "b.sgy", "broken.sgy"]


@pytest.mark.slow
def test_cli_indexes_a_bucket_in_ray_tasks_without_storing_the_secret(real_data, s3_server, s3_bucket, tmp_path):
    """``raydas index s3://...`` in a process of its own, on a private Ray whose workers
    read the bucket, the secret key only in the environment: it is nowhere in the catalogue."""
    import subprocess
    import sys
    import tempfile
    import uuid

    import s3fs

    secret = f"raydas-test-secret-{uuid.uuid4().hex}"
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_server})
    for name in REAL[:2]:
        fs.put(str(real_data / name), f"{s3_bucket}/das/{os.path.basename(name)}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": secret,
            "RAY_TMPDIR": tempfile.mkdtemp(prefix="rdcat"),  # short: Ray's socket paths must stay under 107 bytes
            "AWS_ENDPOINT_URL": s3_server,
            "FSSPEC_S3_ENDPOINT_URL": s3_server,
        }
    )
    catalogue = f"{s3_bucket}/catalogue"
    command = [sys.executable, "-m", "raydas", "index", f"{s3_bucket}/das", "--catalogue", catalogue]
    done = subprocess.run(
        command + ["--address", "local", "--json"], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["listed"] == 2 and len(doc["scanned"]) == 2 and doc["errors"] == 0
    s3fs.S3FileSystem.clear_instance_cache()
    rows = _by_path(Catalogue(catalogue))
    assert rows["small_channel_patch.sgy"][0]["channels"] == 10 and rows["small_channel_patch.sgy"][0]["etag"]
    for path in fs.find(catalogue):
        assert secret.encode() not in fs.cat_file(path), path
    assert secret not in done.stdout + done.stderr


def test_irregular_readings_keep_their_stamps(fibre_data, tmp_path):
    """A slow DTS file's readings are not evenly spaced: the catalogue keeps every
    stamp, so a record rebuilt from it never gets an invented regular rate."""
    folder = tmp_path / "dts"
    folder.mkdir()
    shutil.copy(fibre_data / "dss" / "neubrex_dss_forge.h5", folder)
    (scanned,) = formats.scan(str(folder))[0]
    assert scanned.times_ns is not None  # irregular: six readings at their own times
    cat = Catalogue(str(tmp_path / "cat"))
    cat.update([str(folder)], use_ray=False)
    (rebuilt,) = cat.select(0, 2**62).records
    np.testing.assert_array_equal(rebuilt.times_ns, scanned.times_ns)
    assert not rebuilt.regular and rebuilt.assumed == scanned.assumed and rebuilt.quantity == scanned.quantity


def test_an_idle_poll_costs_a_listing_not_a_look_at_every_file(tmp_path, monkeypatch):
    """Once files are taken, a poll that finds nothing new neither looks at them again
    (no stat or HEAD per file) nor re-plans the records: a month of files costs a listing."""
    import importlib

    from raydas.config import RunConfig

    watch_module = importlib.import_module("raydas.runtime.watch")
    from raydas.runtime.watch import Watcher

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(5):
        _sgy(inbox / f"f{i}.sgy", T0 + i * 10 * NS, seconds=10.0)
    cfg = RunConfig(input="unused", output=str(tmp_path / "out"), processing=ABS_GRAPH, chunk_seconds=1.0)
    watcher = Watcher(str(inbox), cfg, progress=False, settle=0)
    assert watcher.poll() == 0 and watcher.poll() == 5
    looked, planned = [], []
    fingerprint, plan = watch_module._fingerprint, watcher.run.plan
    monkeypatch.setattr(watch_module, "_fingerprint", lambda url: looked.append(url) or fingerprint(url))
    monkeypatch.setattr(watcher.run, "plan", lambda records: planned.append(len(records)) or plan(records))

    class Driver:  # what _submit_ready hands chunks to (no Ray needed here)
        def __init__(self):
            self.submitted = []
            self.progress = types.SimpleNamespace(add_total=lambda n: None)

        def submit(self, plan, arrival=None):
            self.submitted.append(plan)

    driver = Driver()
    watcher._submit_ready(driver)  # the five files were taken: their chunks are planned once
    assert planned == [5] and len(driver.submitted) > 0
    planned.clear()
    assert watcher.poll() == 0
    watcher._submit_ready(driver)
    assert looked == [] and planned == []  # nothing new: no file looked at, nothing planned
    _sgy(inbox / "f5.sgy", T0 + 50 * NS, seconds=10.0)
    assert watcher.poll() == 0 and watcher.poll() == 1
    assert looked == [str(inbox / "f5.sgy")] * 2  # only the new file, once per listing until it settled


# --- two writers at once: the update lock and the optimistic check -------------------------------
def _lock_doc(host="elsewhere", pid=12345, age_s=0.0, **extra) -> dict:
    import time

    from raydas.timeutil import to_iso

    now = time.time_ns()
    doc = {
        "token": "someone-else",
        "host": host,
        "pid": pid,
        "pidns": None,
        "started": to_iso(now - int((age_s + 60) * NS)),
        "heartbeat": to_iso(now - int(age_s * NS)),
    }
    doc.update(extra)
    return doc


def _no_hidden_parts(root) -> bool:
    return not [p for p in (root / "records").rglob("*") if p.name.startswith(".")]


def test_a_live_lock_refuses_a_second_update_and_names_its_owner(tmp_path):
    import socket
    import threading
    import time

    from raydas.catalogue import LOCK_FILE, UpdateLock
    from raydas.timeutil import parse_iso

    folder = tmp_path / "archive"
    folder.mkdir()
    _sgy(folder / "a.sgy", T0)
    where = tmp_path / "cat"
    first, second = Catalogue(str(where)), Catalogue(str(where))
    before = time.time_ns()
    with first.update_lock():
        doc = json.loads((where / LOCK_FILE).read_text())
        assert doc["host"] == socket.gethostname() and doc["pid"] == os.getpid() and len(doc["token"]) == 32
        assert before - NS <= parse_iso(doc["started"]) <= parse_iso(doc["heartbeat"]) <= time.time_ns() + NS
        assert doc["heartbeat"].endswith("Z")  # UTC
        with pytest.raises(RaydasError) as refused:
            second.update([str(folder)], use_ray=False)
        text = str(refused.value)
        assert str(where) in text and "being updated by another writer" in text
        assert f"host {socket.gethostname()}, pid {os.getpid()}, since {doc['started']}" in text
        assert "run this again" in text and f"delete {where / LOCK_FILE}" in text
        assert not (where / STATE_FILE).exists()  # the refused update wrote nothing
    assert not (where / LOCK_FILE).exists()
    assert second.update([str(folder)], use_ray=False).scanned == [str(folder / "a.sgy")]

    # readers never take the lock: a held lock does not stop a selection
    with first.update_lock():
        assert len(second.select(T0, T0 + NS).records) == 1
        assert len(_rows(Catalogue(str(where)))) == 1

    # a writer that waits gets the lock once its owner lets go
    holder = UpdateLock(first)
    holder.acquire()
    threading.Timer(1.0, holder.release).start()
    _sgy(folder / "b.sgy", T0 + 10 * NS)
    assert second.update([str(folder)], use_ray=False, wait=60).scanned == [str(folder / "b.sgy")]
    assert not (where / LOCK_FILE).exists()


def test_a_stale_lock_is_taken_over_with_a_warning_naming_its_owner(tmp_path):
    import socket
    import subprocess
    import sys
    import time

    from raydas.catalogue import LOCK_FILE, LOCK_STALE_S, _pid_namespace

    folder = tmp_path / "archive"
    folder.mkdir()
    _sgy(folder / "a.sgy", T0)
    where = tmp_path / "cat"
    where.mkdir()
    lock = where / LOCK_FILE

    # a heartbeat older than the limit: taken over
    old = _lock_doc(age_s=LOCK_STALE_S + 60)
    lock.write_text(json.dumps(old))
    with pytest.warns(
        UserWarning, match=rf"took over the stale update lock of host elsewhere, pid 12345, since {old['started']}"
    ):
        report = Catalogue(str(where)).update([str(folder)], use_ray=False)
    assert len(report.scanned) == 1 and not lock.exists()

    # a heartbeat inside the limit: live, refused
    lock.write_text(json.dumps(_lock_doc(age_s=LOCK_STALE_S - 60)))
    with pytest.raises(RaydasError, match="host elsewhere, pid 12345"):
        Catalogue(str(where)).update([str(folder)], use_ray=False)
    assert json.loads(lock.read_text())["token"] == "someone-else"  # the refused writer left it alone

    # a fresh heartbeat of a process of this machine that is gone: taken over at once
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    if _pid_namespace() is not None:
        lock.write_text(json.dumps(_lock_doc(host=socket.gethostname(), pid=gone.pid, pidns=_pid_namespace())))
        with pytest.warns(UserWarning, match=f"its process \\(pid {gone.pid}\\) is gone"):
            Catalogue(str(where)).update([str(folder)], use_ray=False)
        assert not lock.exists()

    # an unreadable lock file (a writer killed while it created it): live while young, taken over once old
    lock.write_bytes(b'{"tok')
    with pytest.raises(RaydasError, match="the lock file is unreadable"):
        Catalogue(str(where)).update([str(folder)], use_ray=False)
    stale = time.time() - LOCK_STALE_S - 60
    os.utime(lock, (stale, stale))
    with pytest.warns(UserWarning, match="unreadable"):
        Catalogue(str(where)).update([str(folder)], use_ray=False)
    assert not lock.exists()
    assert [os.path.basename(r["path"]) for r in _rows(Catalogue(str(where)))] == ["a.sgy"]


def test_the_lock_is_released_after_success_and_after_a_failing_update(tmp_path):
    from raydas.catalogue import LOCK_FILE, scan_stamps

    folder = tmp_path / "archive"
    folder.mkdir()
    for i in range(3):
        _sgy(folder / f"f{i}.sgy", T0 + i * 10 * NS)
    where = tmp_path / "cat"
    cat = Catalogue(str(where))

    def interrupt(n, urls):
        assert (where / LOCK_FILE).exists()  # held while it commits
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cat.update([str(folder)], use_ray=False, batch_files=1, on_batch=interrupt)
    assert not (where / LOCK_FILE).exists()
    with pytest.raises(RaydasError, match="does not exist"):
        cat.update([str(tmp_path / "nowhere")], use_ray=False)
    assert not (where / LOCK_FILE).exists()
    assert len(cat.update([str(folder)], use_ray=False).scanned) == 2  # resumed: the first batch was committed
    assert not (where / LOCK_FILE).exists()
    assert cat.compact() == 1 and not (where / LOCK_FILE).exists()
    (tmp_path / "x").mkdir()
    g = _sgy(tmp_path / "x" / "g.sgy", T0 + 99 * NS)
    cat.add(scan_stamps([cat.stamp(g, str(tmp_path / "x"))]))  # what raydas watch commits
    assert not (where / LOCK_FILE).exists()
    assert sorted(os.path.basename(r["path"]) for r in _rows(cat)) == ["f0.sgy", "f1.sgy", "f2.sgy", "g.sgy"]


def test_an_update_whose_lock_was_taken_over_commits_nothing_more(tmp_path):
    from raydas.catalogue import LOCK_FILE

    folder = tmp_path / "archive"
    folder.mkdir()
    for i in range(4):
        _sgy(folder / f"f{i}.sgy", T0 + i * 10 * NS)
    where = tmp_path / "cat"
    cat = Catalogue(str(where))
    committed = []

    def taken_over(n, urls):  # another writer found this one's lock stale and took it
        committed.extend(urls)
        (where / LOCK_FILE).write_text(json.dumps(_lock_doc()))

    with pytest.raises(RaydasError, match="this update lost its lock .* now held by host elsewhere, pid 12345"):
        cat.update([str(folder)], use_ray=False, batch_files=2, on_batch=taken_over)
    assert len(committed) == 2
    assert sorted(r["path"] for r in _rows(cat)) == sorted(committed)  # the second batch was not committed
    assert _no_hidden_parts(where)  # nor left behind
    assert json.loads((where / LOCK_FILE).read_text())["token"] == "someone-else"  # not released: not its own


def test_a_commit_refuses_when_the_state_changed_under_the_update(tmp_path):
    """Two writers that both believe they hold the lock (what the object-store race
    window or a deleted lock file can give): the second commit of the first writer
    finds the state file changed and refuses, leaving the other writer's commit."""
    from raydas.catalogue import LOCK_FILE, scan_stamps

    folder = tmp_path / "archive"
    folder.mkdir()
    names = [os.path.basename(_sgy(folder / f"f{i}.sgy", T0 + i * 10 * NS)) for i in range(4)]
    extra = tmp_path / "extra"
    extra.mkdir()
    _sgy(extra / "x.sgy", T0 + 100 * NS)
    where = tmp_path / "cat"
    cat = Catalogue(str(where))
    committed = []

    def other_writer(n, urls):
        committed.extend(urls)
        if n == 1:
            other = Catalogue(str(where))
            other._held = cat._held  # believes it holds the lock
            other.add(scan_stamps([other.stamp(str(extra / "x.sgy"), str(extra))]))
            other._held = None

    with pytest.raises(RaydasError, match="changed while this update ran: another writer committed") as refused:
        cat.update([str(folder)], use_ray=False, batch_files=2, on_batch=other_writer)
    assert "this update's last batch was not committed" in str(refused.value) and str(where) in str(refused.value)
    assert len(committed) == 2
    rows = _rows(Catalogue(str(where)))
    assert sorted(r["path"] for r in rows) == sorted(committed + [str(extra / "x.sgy")])  # as the other writer left it
    assert _no_hidden_parts(where) and not (where / LOCK_FILE).exists()
    again = Catalogue(str(where)).update([str(folder)], use_ray=False)
    assert len(again.scanned) == 2 and again.unchanged == 2
    paths = [os.path.basename(r["path"]) for r in _rows(Catalogue(str(where)))]
    assert sorted(paths) == sorted(names + ["x.sgy"])  # every file exactly once


@pytest.mark.slow
def test_two_concurrent_index_processes_lose_nothing(tmp_path):
    """Two ``raydas index`` processes on the same catalogue over the same folder, started
    together: the catalogue ends with every file exactly once; at most one of them fails,
    with the lock's message."""
    import subprocess
    import sys
    import time

    from helpers import REPO

    from raydas.catalogue import LOCK_FILE

    folder = tmp_path / "archive"
    folder.mkdir()
    names = sorted(
        os.path.basename(_sgy(folder / f"f{i:03d}.sgy", T0 + i * 2 * NS, seconds=2.0, channels=4)) for i in range(150)
    )
    where = tmp_path / "cat"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])))
    go = tmp_path / "go"
    # `raydas index` (its command-line entry point), started once raydas is imported and `go` exists,
    # so that both processes reach the catalogue at the same moment
    starter = (
        "import os, sys, time\n"
        "from raydas.apps.cli import main\n"
        "open(sys.argv[1] + '.ready-' + str(os.getpid()), 'w').close()\n"
        "while not os.path.exists(sys.argv[1]): time.sleep(0.01)\n"
        "sys.exit(main(sys.argv[2:]))\n"
    )
    command = [sys.executable, "-c", starter, str(go), "index", str(folder), "--catalogue", str(where), "--no-ray"]

    def both_at_once():
        procs = [
            subprocess.Popen(
                command + ["--batch-files", str(b)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
            for b in (10, 15)
        ]
        ready = [tmp_path / f"go.ready-{p.pid}" for p in procs]
        deadline = time.monotonic() + 300
        while not all(r.exists() for r in ready) and time.monotonic() < deadline and None in [p.poll() for p in procs]:
            time.sleep(0.05)  # both import raydas first
        go.touch()
        results = [(p.wait(timeout=600), *p.communicate()) for p in procs]
        go.unlink()
        for r in ready:
            r.unlink(missing_ok=True)
        failed = [(code, err) for code, _, err in results if code != 0]
        assert len(failed) <= 1, failed
        for code, err in failed:
            assert code == 2 and "is being updated by another writer" in err and str(where) in err, err
        rows = _rows(Catalogue(str(where)))
        assert sorted(os.path.basename(r["path"]) for r in rows) == sorted(os.listdir(folder))  # each exactly once
        assert all(r["status"] == "ok" for r in rows)
        assert not (where / LOCK_FILE).exists() and _no_hidden_parts(where)
        state = json.loads((where / STATE_FILE).read_text())
        found = {os.path.relpath(p, where / "records") for p in (where / "records").rglob("*.parquet")}
        assert found == set(state["parts"])  # no part file the state does not list, none missing
        return {os.path.basename(r["path"]): r["samples"] for r in rows}

    assert both_at_once() == dict.fromkeys(names, 200)  # a first index: 2 s at 100 Hz each
    for i in range(150, 180):  # then 30 files more and 15 rewritten, and again both at once
        _sgy(folder / f"f{i:03d}.sgy", T0 + i * 2 * NS, seconds=2.0, channels=4)
    for i in range(0, 150, 10):
        _sgy(folder / f"f{i:03d}.sgy", T0 + i * 2 * NS, seconds=1.0, channels=4)
    samples = both_at_once()
    assert len(samples) == 180
    assert samples == {f"f{i:03d}.sgy": 100 if i < 150 and i % 10 == 0 else 200 for i in range(180)}


def test_the_update_lock_on_s3(tmp_path, s3_bucket):
    """On an object store (moto's S3 server): the lock is a conditional PUT read back; a live
    one refuses a second writer, a stale one is taken over, none is left after an update."""
    import s3fs

    from raydas.catalogue import LOCK_FILE, LOCK_STALE_S, UpdateLock

    folder = tmp_path / "archive"
    folder.mkdir()
    for i in range(3):
        _sgy(folder / f"f{i}.sgy", T0 + i * 10 * NS)
    url = f"{s3_bucket}/catalogue"
    lock_path = f"{url}/{LOCK_FILE}"
    fs = s3fs.S3FileSystem()
    first, second = Catalogue(url), Catalogue(url)
    with first.update_lock():
        doc = json.loads(fs.cat_file(lock_path))
        assert doc["pid"] == os.getpid() and doc["token"] == first._held.token
        with pytest.raises(
            RaydasError, match=f"catalogue {url} is being updated by another writer: host .*, pid {os.getpid()}"
        ):
            second.update([str(folder)], use_ray=False)
        assert UpdateLock(second)._create() is False  # the conditional PUT refuses to replace it
    assert not fs.exists(lock_path)

    def interrupt(n, urls):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        second.update([str(folder)], use_ray=False, batch_files=2, on_batch=interrupt)
    assert not fs.exists(lock_path)

    fs.pipe_file(lock_path, json.dumps(_lock_doc(age_s=LOCK_STALE_S + 60)).encode())
    with pytest.warns(UserWarning, match="took over the stale update lock of host elsewhere, pid 12345"):
        report = Catalogue(url).update([str(folder)], use_ray=False)
    assert len(report.scanned) == 1 and report.unchanged == 2  # resumed after the interrupted batch
    assert not fs.exists(lock_path)
    assert sorted(os.path.basename(r["path"]) for r in _rows(Catalogue(url))) == ["f0.sgy", "f1.sgy", "f2.sgy"]
    assert not [p for p in fs.find(url) if os.path.basename(p).startswith(".")]


def test_the_read_back_decides_on_a_store_without_conditional_writes():
    """A store that cannot create exclusively (fsspec's memory store here): each writer
    writes the lock and reads it back; of two whose writes crossed, the one whose token is
    there holds it, and the other is told who does."""
    import uuid

    from raydas.catalogue import LOCK_FILE, UpdateLock

    url = f"memory://raydas-lock-{uuid.uuid4().hex}/cat"
    a, b = UpdateLock(Catalogue(url)), UpdateLock(Catalogue(url))
    assert a._create() is True
    b._replace()  # b's PUT lands after a's (both had seen no lock)
    assert a._confirm() is False and b._confirm() is True
    assert a._attempt()["token"] == b.token
    with pytest.raises(RaydasError, match=f"being updated by another writer: host .*, pid {os.getpid()}"):
        a.acquire()
    b.release()
    a.acquire()
    assert json.loads(Catalogue(url).fs.cat_file(Catalogue(url)._path(LOCK_FILE)))["token"] == a.token
    a.release()
    assert not Catalogue(url).fs.exists(Catalogue(url)._path(LOCK_FILE))


def test_a_held_lock_keeps_beating_between_commits(tmp_path, monkeypatch):
    """A long listing or scan holds the lock without committing: its heartbeat still advances,
    and a writer whose lock was taken meanwhile learns it at its next beat."""
    import time

    import raydas.catalogue as catalogue_module
    from raydas.catalogue import LOCK_FILE

    monkeypatch.setattr(catalogue_module, "LOCK_HEARTBEAT_S", 0.05)
    where = tmp_path / "cat"
    cat = Catalogue(str(where))
    with cat.update_lock() as lock:
        first = json.loads((where / LOCK_FILE).read_text())["heartbeat"]
        deadline = time.monotonic() + 60
        while json.loads((where / LOCK_FILE).read_text())["heartbeat"] == first and time.monotonic() < deadline:
            time.sleep(0.02)
        assert json.loads((where / LOCK_FILE).read_text())["heartbeat"] > first
        with lock._guard:  # taken over (between two beats, as a taker's write would land)
            (where / LOCK_FILE).write_text(json.dumps(_lock_doc()))
        while lock.lost is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "lost its lock" in lock.lost and "host elsewhere, pid 12345" in lock.lost
        assert json.loads((where / LOCK_FILE).read_text())["token"] == "someone-else"  # the beat stopped writing
    assert json.loads((where / LOCK_FILE).read_text())["token"] == "someone-else"  # not released: not its own


def test_a_part_file_gone_from_under_the_state_is_scanned_again(tmp_path):
    """A part the state lists but the store no longer has (deleted by hand, or lost in the
    object-store race window): the next update warns, drops it and scans its files again."""
    folder = tmp_path / "archive"
    folder.mkdir()
    _sgy(folder / "a.sgy", T0)
    cat = Catalogue(str(tmp_path / "cat"))
    cat.update([str(folder)], use_ray=False)
    _sgy(folder / "b.sgy", T0 + 86_400 * NS)  # another day: another partition, another part
    cat.update([str(folder)], use_ray=False)
    state = cat.state()
    (lost,) = [p for p in state["parts"] if "day=2023-11-15" in p]
    os.remove(tmp_path / "cat" / "records" / lost)
    with pytest.warns(UserWarning, match=r"1 part file\(s\) that _catalogue.json lists are gone .*scanned again"):
        report = cat.update([str(folder)], use_ray=False)
    assert report.scanned == [str(folder / "b.sgy")] and report.unchanged == 1
    assert sorted(os.path.basename(r["path"]) for r in _rows(cat)) == ["a.sgy", "b.sgy"]
    assert lost not in cat.state()["parts"]


def test_a_watch_keeps_its_rows_while_another_update_holds_the_catalogue(tmp_path, monkeypatch):
    """``raydas index`` holds the catalogue while a watcher takes files: the watcher keeps
    their rows and commits them at a later poll, instead of ending."""
    import raydas.catalogue as catalogue_module
    from raydas.config import RunConfig
    from raydas.runtime.watch import Watcher

    monkeypatch.setattr(catalogue_module, "ADD_WAIT_S", 0.0)  # do not wait a minute for the lock
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    where = str(tmp_path / "cat")
    cfg = RunConfig(input="unused", output=str(tmp_path / "out"), processing=ABS_GRAPH, chunk_seconds=1.0)
    watcher = Watcher(str(inbox), cfg, progress=False, catalogue=where, settle=0)
    _sgy(inbox / "a.sgy", T0, seconds=2.0)
    with Catalogue(where).update_lock():  # another writer
        assert watcher.poll() == 0 and watcher.poll() == 1  # taken (processed), its row kept
        assert not _by_path(Catalogue(where))
    _sgy(inbox / "b.sgy", T0 + 2 * NS, seconds=2.0)
    assert watcher.poll() == 0 and watcher.poll() == 1
    assert sorted(_by_path(Catalogue(where))) == ["a.sgy", "b.sgy"]  # both committed once the lock was free


def test_local_listing_is_fsspecs(tmp_path):
    """The catalogue's listing walks local folders with os.scandir: the same folders, files
    and entries (size, type, mtime, links) as fsspec's walk, and url_to_fs's short way for
    absolute paths gives fsspec's answer."""
    import fsspec

    from raydas import fsutil

    root = tmp_path / "tree"
    (root / "a" / "b").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "empty").mkdir()
    for i, rel in enumerate(["x.sgy", "a/y.h5", "a/b/z.bin", ".dot", ".hidden/h.sgy", "empty/../w.txt"]):
        (root / rel).write_bytes(b"x" * (i + 1))
    os.symlink(root / "x.sgy", root / "a" / "link.sgy")
    os.symlink(root / "a" / "b", root / "dirlink")
    os.symlink(root / "missing", root / "broken")
    fs = fsspec.filesystem("file")
    ours = [(r, d, f) for r, d, f in fsutil._walk_local(str(root))]
    theirs = [(r, d, f) for r, d, f in fs.walk(str(root), detail=True)]
    assert sorted(ours, key=lambda w: w[0]) == sorted(theirs, key=lambda w: w[0])
    assert {w[0] for w in ours} == {
        str(root),
        str(root / "a"),
        str(root / "a" / "b"),
        str(root / ".hidden"),
        str(root / "empty"),
    }
    assert ours[0][2]["x.sgy"]["size"] == 1 and ours[0][2]["broken"]["size"] == 0
    for url in (str(root), str(root) + "/", "/", str(root / "a*" / "?.h5"), "/odd dir/x:y.sgy"):
        fs1, path1 = fsspec.core.url_to_fs(url)
        fs2, path2 = fsutil.url_to_fs(url)
        assert (type(fs1), path1) == (type(fs2), path2), url
    # the index sees what a walk sees (hidden names excluded), each file with its listed size
    listing = Catalogue(tmp_path / "cat")._list([str(root)])
    expected = {str(root / "x.sgy"), str(root / "a" / "y.h5"), str(root / "a" / "b" / "z.bin"), str(root / "w.txt")}
    expected |= {str(root / "a" / "link.sgy"), str(root / "dirlink"), str(root / "broken")}
    assert set(listing) == expected
    assert listing[str(root / "a" / "b" / "z.bin")].size == 3


def test_a_few_local_files_are_scanned_without_ray(tmp_path, monkeypatch):
    """Up to IN_PROCESS_FILES local files to open are scanned here: no Ray is asked for
    (cluster.connect is never called); with in_process_files=0 or files_per_task given, Ray is."""
    from raydas import catalogue as catalogue_module
    from raydas.runtime import cluster

    class NoRay(Exception):
        pass

    def no_ray(*args, **kwargs):
        raise NoRay("Ray was asked for")

    monkeypatch.setattr(cluster, "connect", no_ray)
    folder = tmp_path / "archive"
    folder.mkdir()
    for i in range(3):
        _sgy(folder / f"f{i}.sgy", T0 + i * 10 * NS)
    cat = Catalogue(str(tmp_path / "cat"))
    assert catalogue_module.IN_PROCESS_FILES >= 3
    report = cat.update([str(folder)])
    assert len(report.scanned) == 3 and report.errors == 0
    assert sorted(r["samples"] for r in _rows(cat)) == [1000, 1000, 1000]  # 10 s at 100 Hz, as _sgy writes
    _sgy(folder / "f3.sgy", T0 + 30 * NS)
    with pytest.raises(NoRay):
        cat.update([str(folder)], in_process_files=0)
    with pytest.raises(NoRay):
        cat.update([str(folder)], files_per_task=1)
    assert cat.update([str(folder)]).scanned == [str(folder / "f3.sgy")]
