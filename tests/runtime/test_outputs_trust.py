"""Outputs you can trust, end to end on a real local Ray: every planned output
written once under its own name (mixed folders, files without times, multi-stream
files), the results manifest beside them, a resume that recomputes exactly what
is no longer current and says why, and every output of a re-sent chunk counted."""

from __future__ import annotations

import json
import os
import shutil
import threading

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from helpers import REPO

from raydas.apps.cli import main as cli_main
from raydas.config import RunConfig, load_config
from raydas.formats.witsml import parse_fbe
from raydas.manifest import MANIFEST_DIR, ManifestWriter, ResultsManifest, read_manifest
from raydas.runtime import Run, run

NOISELOG = os.path.join(REPO, "configs/demo-noiselog.json")
LABEL = "das_20250601T120000.sgy"  # the demo recording's first file: its outputs' folder
#: a noise log whose bands lie below the Nyquist frequency of the real SEG-Y files (250 Hz)
NOISELOG_250 = {
    "command_list": [
        {"name": "fft", "uid": 1, "in_uid": 0},
        {"name": "rms_from_fft", "uid": 2, "in_uid": 1, "low_freq": 0, "high_freq": -1},
        {"name": "multiple_calcs", "uid": 3, "in_uid": 1, "func": "rms_from_fft", "low_freq": [1, 50],
         "high_freq": [50, -1]},
        {"name": "write_witsml", "uid": 4, "in_uid": 3, "gather_uids": [2], "directory_out": "NoiseLog",
         "low_freq": [1, 50], "high_freq": [50, -1]},
    ]
}  # fmt: skip
NPY = {"command_list": [{"name": "write_npy", "uid": 1, "in_uid": 0, "directory_out": "npy"}]}
#: one band, 0 Hz to Nyquist, whatever the sample rate: one .fbe per chunk
BAND_RMS = {
    "command_list": [
        {"name": "fft", "uid": 1, "in_uid": 0},
        {"name": "rms_from_fft", "uid": 2, "in_uid": 1, "low_freq": 0, "high_freq": -1},
        {"name": "write_witsml", "uid": 3, "in_uid": 2, "directory_out": "rms", "low_freq": [0], "high_freq": [-1]},
    ]
}


def _files(root) -> list[str]:
    """Every output file under ``root`` (relative), the manifest and hidden files left out."""
    out = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != MANIFEST_DIR]
        out += [os.path.relpath(os.path.join(folder, n), root) for n in names if not n.startswith(".")]
    return sorted(out)


def _noiselog(graph_edits: dict | None = None) -> dict:
    doc = json.loads(open(NOISELOG).read())
    for key, value in (graph_edits or {}).items():
        for uid in (3, 4):
            doc["command_list"][uid - 1][key] = value
    return doc


# --- every planned output, once, under its own name -------------------------------------------------
@pytest.mark.slow
def test_one_run_over_the_whole_sample_folder_writes_one_output_per_planned_output(ray_session, real_data, tmp_path):
    """One band RMS (0 Hz to Nyquist: every record's sample rate serves it) over every real
    sample file: 2310 chunks, of which SEG-Y files without times and the five bands of
    prodml_fbe_1.h5 share start times. Before, 2310 were reported written while 497 files
    existed. Each chunk is written or its record is named as failed. (The demo's noise log
    would refuse 14 of the 17 records at planning, their Nyquist below its bands.)"""
    out = tmp_path / "res"
    r = Run(RunConfig(input=str(real_data), output=str(out), processing=BAND_RMS), progress=False)
    try:
        report = r.execute()
    except Exception as exc:  # a record the graph cannot serve must be named, not lost
        failures = getattr(exc, "failures", None)
        assert failures is not None, exc
        assert all(f.file for f in failures)
        report = r.report
    fbe = [f for f in _files(out) if f.endswith(".fbe")]
    failed = {f.chunk for f in report.failures if f.chunk}
    assert report.chunks_total == 2310
    assert len(fbe) == report.outputs_written == report.chunks_done == report.chunks_total - len(failed)
    assert len(read_manifest(str(out))) == len(fbe)  # one manifest row per output


def test_files_without_times_and_two_streams_keep_every_result(ray_session, real_data, tmp_path):
    """Three SEG-Y files (two without times, both starting at 1970) and the five
    bands of one PRODML file: one output per planned chunk, on disk, counted once."""
    out = tmp_path / "res"
    spec = [str(real_data / "segy"), str(real_data / "hdf5" / "prodml_fbe_1.h5")]
    r = Run(RunConfig(input=spec, output=str(out), processing=NPY, chunk_seconds=60.0), progress=False)
    plans = r.plan(r.scan())
    expected = sorted(f for p in plans for f in r.expected_outputs(p))
    report = r.execute()
    assert report.ok and report.chunks_done == len(plans) == 3 + 5 * 38
    assert _files(out) == expected and report.outputs_written == len(expected)
    f3 = np.load(out / "npy" / "segy" / "f3.sgy" / "0.004.npy")
    other = np.load(out / "npy" / "segy" / "Format5msb.sgy" / "0.004.npy")
    assert f3.shape == other.shape == (414, 75)  # same start, both kept


def test_the_quicklook_finds_its_files_in_per_recording_folders(ray_session, real_data, tmp_path):
    """Before, two records starting at 1970 overwrote one .fbe and the quick-look gave up
    ('curves or depths differ'); now it draws the first largest recording."""
    report = run(
        RunConfig(input=str(real_data / "segy"), output=str(tmp_path), processing=NOISELOG_250), progress=False
    )
    assert report.ok and report.chunks_done == 3 and report.outputs_written == 3
    assert len([f for f in _files(tmp_path) if f.endswith(".fbe")]) == 3
    assert report.quicklook == str(tmp_path / "quicklook.png")
    assert not [w for w in report.warnings if "quicklook" in w]


def test_distpy_system_config_falls_back_to_per_record_folders_and_says_so(ray_session, tmp_path):
    """distpy's ingest config over two copies of one file (the same start times): the
    flat <store>/<unixtime>.npy would collide, so each file gets a folder (with its own
    measured_depth.npy), the report says why, and the process stage reads them back.
    The file is sampled at the config's 10 kHz: its noise-log bands start at 200, 600 and
    1000 Hz (at 1 kHz the records are refused at planning, beyond Nyquist)."""
    from raydas.apps import demo

    shutil.copytree(os.path.join(REPO, "configs/distpy"), tmp_path / "cfg")
    archive = tmp_path / "cfg" / "archive" / "2020prj0001" / "sgy"
    (source,) = demo.generate(str(tmp_path / "gen"), files=1, seconds=4.0, channels=8, sample_rate=10_000.0)
    archive.mkdir(parents=True)
    for name in ("a.sgy", "b.sgy"):
        shutil.copy(source, archive / name)
    ingest = Run(load_config(str(tmp_path / "cfg" / "sgyConfig.json")), mode="ingest", progress=False).execute()
    store = tmp_path / "cfg" / "scratch" / "2020prj0001" / "sgy_data"
    assert ingest.chunks_done == 8 and any("ambiguous" in w for w in ingest.warnings)
    for name in ("a.sgy", "b.sgy"):
        assert len(list((store / name).glob("17*.npy"))) == 4 and (store / name / "measured_depth.npy").exists()
    processed = Run(
        load_config(str(tmp_path / "cfg" / "strainrate2fbeConfig.json")), mode="process", progress=False
    ).execute()
    out = tmp_path / "cfg" / "projects" / "2020prj0001" / "witsml" / "NoiseLog"
    assert processed.chunks_done == 8 and any("per-recording folders" in w for w in processed.warnings)
    a, b = (sorted((out / n).glob("*.fbe")) for n in ("a.sgy", "b.sgy"))
    assert len(a) == len(b) == 4
    np.testing.assert_array_equal(parse_fbe(a[1].read_bytes())[3], parse_fbe(b[1].read_bytes())[3])


# --- the results manifest and an honest resume -------------------------------------------------------
def test_the_manifest_says_where_every_output_came_from(ray_session, demo_files, tmp_path):
    out = tmp_path / "res"
    report = run(RunConfig(input=demo_files, output=str(out), processing=NOISELOG, quicklook=False), progress=False)
    table = pd.read_parquet(out / MANIFEST_DIR)  # the folder reads as one table
    assert len(table) == 12 and sorted(table["path"]) == _files(out)
    assert report.results_manifest and report.results_manifest.startswith(str(out / MANIFEST_DIR))
    row = table.sort_values("start_ns").iloc[5].to_dict()
    assert row["output_id"] == f"{LABEL}/{row['path'].rsplit('/', 1)[1][:-4]}"
    (source,) = row["inputs"]
    assert source["url"] == demo_files[1] and source["size"] == os.path.getsize(demo_files[1])
    assert source["mtime_ns"] == pytest.approx(os.stat(demo_files[1]).st_mtime_ns, abs=1000)
    assert row["samples"] == 1000 and row["channels"] == 40 and row["end_ns"] - row["start_ns"] == 10**9
    assert (row["halo_before"], row["halo_after"]) == (0, 0) and row["bytes"] == os.path.getsize(out / row["path"])
    settings = json.loads(row["settings"])
    assert settings["chunk_seconds"] == 1.0 and settings["raydas_version"] == row["raydas_version"]
    assert len(row["graph_digest"]) == 64 and list(row["assumed"]) == ["gauge_length"]  # SEG-Y has none
    assert str(pq.read_schema(report.results_manifest).field("written_at").type) == "timestamp[us, tz=UTC]"


def test_changed_band_edges_are_recomputed_with_the_new_numbers(ray_session, demo_files, tmp_path):
    """Before, a re-run after changing the graph said '0 processed, 12 already done' and kept the old numbers."""
    out = tmp_path / "res"
    run(RunConfig(input=demo_files, output=str(out), processing=_noiselog(), quicklook=False), progress=False)
    path = out / "NoiseLog" / LABEL / sorted(os.listdir(out / "NoiseLog" / LABEL))[2]
    before = parse_fbe(path.read_bytes())
    edges = {"low_freq": [1, 50, 250, 500], "high_freq": [50, 250, 500, -1]}
    again = run(
        RunConfig(input=demo_files, output=str(out), processing=_noiselog(edges), quicklook=False), progress=False
    )
    assert again.chunks_done == 12 and again.chunks_skipped == 0 and again.redone == {"graph changed": 12}
    assert "redone:    12 chunk(s) whose outputs were not current (graph changed 12)" in again.summary()
    after = parse_fbe(path.read_bytes())
    assert after[1][2] == "band_02_50-250" and before[1][2] == "band_02_100-250"
    assert not np.allclose(after[3][:, 1], before[3][:, 1])  # 1-50 Hz now, not 1-100 Hz
    third = run(
        RunConfig(input=demo_files, output=str(out), processing=_noiselog(edges), quicklook=False), progress=False
    )
    assert third.chunks_done == 0 and third.chunks_skipped == 12 and third.redone == {}


def test_demo_with_more_channels_recomputes(ray_session, tmp_path, capsys):
    """`raydas demo --channels 80` after `--channels 50` writes new data under the same
    names: the outputs are redone (before: '0 processed, N already done', 50 depths kept)."""
    args = ["demo", "--out", str(tmp_path), "--files", "1", "--seconds", "2", "--rate", "1000", "--no-progress"]
    assert cli_main(args + ["--channels", "50"]) == 0
    assert cli_main(args + ["--channels", "80"]) == 0
    text = capsys.readouterr().out
    assert "2 processed, 0 already done" in text.split("config:")[1]
    assert "inputs changed 2" in text
    folder = tmp_path / "results" / "NoiseLog" / LABEL
    assert all(parse_fbe(p.read_bytes())[2].shape == (80,) for p in folder.glob("*.fbe"))


def test_touched_input_settings_and_damaged_outputs_are_redone_and_said_why(ray_session, demo_files, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    paths = [shutil.copy(p, data) for p in demo_files]
    out = tmp_path / "res"

    def again(**kw):
        return run(RunConfig(input=paths, output=str(out), processing=NOISELOG, quicklook=False, **kw), progress=False)

    first = again()
    assert first.chunks_done == 12 and first.redone == {}
    os.utime(paths[1])  # touched: its modification time changes
    touched = again()
    assert touched.chunks_done == 4 and touched.redone == {"inputs changed": 4}
    assert again(format="segy").redone == {"settings changed": 12}  # a setting that changes numbers
    victim = sorted((out / "NoiseLog" / LABEL).glob("*.fbe"))[0]
    victim.write_bytes(victim.read_bytes()[:-10])
    assert again(format="segy").redone == {"output changed": 1}
    victim.unlink()
    assert again(format="segy").redone == {"output missing": 1}
    shutil.rmtree(out / MANIFEST_DIR)
    assert again(format="segy").redone == {"not in the manifest": 12}


def test_resume_never_recomputes_everything(ray_session, demo_files, tmp_path, capsys):
    cfg = tmp_path / "run.json"
    doc = {"input": demo_files, "output": "res", "processing": NOISELOG, "quicklook": False}
    cfg.write_text(json.dumps(doc))
    assert cli_main(["run", str(cfg), "--no-progress"]) == 0
    assert cli_main(["run", str(cfg), "--no-progress", "--resume", "never"]) == 0
    text = capsys.readouterr().out.split("results:")[-1]
    assert "12 processed, 0 already done" in text and "resume:    never" in text
    cfg.write_text(json.dumps(dict(doc, resume="never")))
    assert cli_main(["run", str(cfg), "--no-progress"]) == 0
    assert "12 processed, 0 already done" in capsys.readouterr().out
    assert cli_main(["run", str(cfg), "--no-progress", "--resume", "auto"]) == 0
    assert "0 processed, 12 already done" in capsys.readouterr().out
    assert len(read_manifest(str(tmp_path / "res"))) == 12  # rows merged across re-runs: one per output


def test_object_store_inputs_are_known_by_their_etag(s3_bucket, demo_files):
    """Inputs and results on S3 (moto): the manifest (written and merged on the bucket)
    keeps each input's ETag; an object replaced by other bytes of the same size is an
    input changed. (The chunks' files are put in place by hand: the session's Ray workers
    do not see the S3 server, so this checks the driver's side, which decides.)"""
    import fsspec

    fs = fsspec.filesystem("s3")
    for k, p in enumerate(demo_files[:2]):
        fs.put(p, f"{s3_bucket}/data/part{k}.sgy")
    cfg = RunConfig(input=f"{s3_bucket}/data/*.sgy", output=f"{s3_bucket}/res", processing=NOISELOG, quicklook=False)

    def planned():
        r = Run(cfg, progress=False)
        return r, r.plan(r.scan())

    r, plans = planned()
    writer = ManifestWriter(cfg.output)
    for plan in plans:
        (name,) = r.expected_outputs(plan)
        fs.pipe_file(f"{s3_bucket}/res/{name}", b"an output")
        writer.add(r.provenance.of(plan), [name], {name: 9})
    writer.close()
    rows = ResultsManifest(cfg.output).rows()
    assert len(rows) == 8 and all(len(row["inputs"][0]["etag"]) == 32 for row in rows.values())
    r, plans = planned()
    assert r.split_done(plans) == ([], plans) and r.report.redone == {}
    damaged = bytearray(open(demo_files[1], "rb").read())
    damaged[-100] ^= 0xFF  # same headers and size, one sample changed
    fs.pipe_file(f"{s3_bucket}/data/part1.sgy", bytes(damaged))
    fs.invalidate_cache()
    r, plans = planned()
    todo, done = r.split_done(plans)
    assert len(todo) == len(done) == 4 and r.report.redone == {"inputs changed": 4}
    assert all(p.sources == [f"{s3_bucket}/data/part1.sgy"] for p in todo)


def test_concurrent_writers_into_one_root_lose_no_rows(tmp_path):
    """Runs writing into one results root at once each add fragments and merge them; no
    run ever removes a fragment it did not read, so every row survives."""
    from raydas.manifest import Provenance

    def rows_of(writer_id: int):
        writer = ManifestWriter(str(tmp_path), run_id=f"run{writer_id}")
        for k in range(40):
            prov = Provenance(f"w{writer_id}/{k}", "", (), k, k + 1, 1, 1, 0, 0, "g", "{}", "s")
            writer.add(prov, [f"out/w{writer_id}/{k}.npy"], {})
            writer.flush()
            if k % 7 == 0:
                writer.manifest.compact(f"run{writer_id}-merged-{k}")
        writer.close()

    threads = [threading.Thread(target=rows_of, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = ResultsManifest(str(tmp_path)).rows()
    assert len(rows) == 120 and {r["output_id"] for r in rows.values()} == {
        f"w{i}/{k}" for i in range(3) for k in range(40)
    }


# --- every output of a re-sent chunk is counted ------------------------------------------------------
def test_a_resent_chunk_whose_outputs_exist_counts_them_as_written(ray_session, demo_files, tmp_path):
    """A chunk re-sent after its actor died, whose outputs the killed attempt completed,
    reports them as written (before: the 'skipped' path returned none, so a run could
    say 23 written while 24 existed) and leaves no temporary file of theirs behind."""
    from raydas.runtime.actors import Processor, ProcessorSetup

    r = Run(RunConfig(input=demo_files[:1], output=str(tmp_path), processing=NOISELOG), progress=False)
    plan = r.plan(r.scan())[1]
    setup = ProcessorSetup(_noiselog(), None, str(tmp_path))
    processor = Processor()
    processor.prepare(setup)
    first = processor.process(setup.key, plan.read())
    (done,) = first.result.written
    leftover = tmp_path / os.path.dirname(done) / f".{os.path.basename(done)}.tmp-killed"
    leftover.write_bytes(b"half")
    again = processor.process(setup.key, plan.read(), True)  # re-sent after its actor died
    assert again.result.written == [done] and again.result.sizes[done] == os.path.getsize(tmp_path / done)
    assert not leftover.exists()


def test_watch_names_and_checks_outputs_like_a_run(ray_session, real_data, tmp_path):
    """Two SEG-Y files without times arrive in a watched folder: both start at 1970, and
    both are processed into their own folders (before, both went to npy/0.004.npy, one
    over the other, while the report said 2 processed)."""
    from raydas.runtime.watch import Watcher

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("f3.sgy", "Format5msb.sgy"):
        shutil.copy(real_data / "segy" / name, inbox / name)
    cfg = RunConfig(input="unused", output=str(tmp_path / "out"), processing=NPY, quicklook=False)
    report = Watcher(str(inbox), cfg, interval=0.1, idle_exit=0.3, progress=False).watch()
    assert report.ok and report.chunks_done == 2
    for name in ("f3.sgy", "Format5msb.sgy"):
        assert np.load(tmp_path / "out" / "npy" / name / "0.004.npy").shape == (414, 75)
