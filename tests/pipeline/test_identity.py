"""Output identity: every planned chunk is named from its record (file, record,
stream) and its span, so files without times, multi-stream files and mixed
folders keep every result; distpy's flat layout where it is unambiguous; the
one check that no two planned outputs share a path."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from helpers import REPO, make_chunk

from raydas import formats
from raydas.config import RunConfig
from raydas.errors import PlanError
from raydas.identity import OutputLayout, check_unique, name_outputs, recording_labels, segment
from raydas.outputs import OutputSink
from raydas.pipeline import Pipeline
from raydas.recording import assemble, plan_chunks
from raydas.runtime import Run

NOISELOG = os.path.join(REPO, "configs/demo-noiselog.json")


def _plans(spec, style="records", chunk_seconds=1.0):
    records, failures = formats.scan(spec)
    assert not failures
    recordings, _ = assemble(records)
    plans = plan_chunks(recordings, chunk_seconds, halo_samples=0)
    warnings = name_outputs(plans, recordings, OutputLayout.for_inputs(style, spec))
    return plans, recordings, warnings


def test_segy_files_without_times_and_the_bands_of_one_file_get_their_own_names(real_data):
    """f3.sgy and Format5msb.sgy both start at 1970 (no times in either); the five bands
    of prodml_fbe_1.h5 share every time: each keeps its own outputs."""
    spec = [str(real_data / "segy"), str(real_data / "hdf5" / "prodml_fbe_1.h5")]
    plans, recordings, warnings = _plans(spec, chunk_seconds=60.0)
    ids = [p.output_id for p in plans]
    assert len(set(ids)) == len(ids) and not warnings
    stems = [p.stem for p in plans]
    assert len(set(stems)) < len(stems)  # named by start time alone, they would overwrite each other
    labels = recording_labels(recordings, OutputLayout.for_inputs("records", spec).roots)
    assert sorted(labels[:3]) == ["segy/Format5msb.sgy", "segy/f3.sgy", "segy/small_channel_patch.sgy"]
    bands = sorted(label for label in labels if label.startswith("hdf5/prodml_fbe_1.h5/"))
    assert bands == [
        "hdf5/prodml_fbe_1.h5/Fbe_0_-0.4883-1.465_Hz",
        "hdf5/prodml_fbe_1.h5/Fbe_0_0.4883-10.25_Hz",
        "hdf5/prodml_fbe_1.h5/Fbe_0_199.7-249.5_Hz",
        "hdf5/prodml_fbe_1.h5/Fbe_0_49.32-200.7_Hz",
        "hdf5/prodml_fbe_1.h5/Fbe_0_9.277-50.29_Hz",
    ]
    assert "segy/f3.sgy/0.004" in ids and "segy/Format5msb.sgy/0.004" in ids
    # one chunk per output folder writes the folder's shared files
    owners = [p.output_id for p in plans if p.writes_shared]
    assert sorted(os.path.dirname(o) for o in owners) == sorted(labels)


def test_names_are_stable_whatever_the_order_of_the_inputs(real_data):
    spec = [str(real_data / "segy"), str(real_data / "hdf5" / "prodml_fbe_1.h5")]
    first, _, _ = _plans(spec, chunk_seconds=60.0)
    second, _, _ = _plans(list(reversed(spec)), chunk_seconds=60.0)
    assert sorted(p.output_id for p in first) == sorted(p.output_id for p in second)


def test_distpy_layout_is_flat_where_unambiguous(demo_files):
    plans, _, warnings = _plans(demo_files, style="distpy")
    assert not warnings and [p.output_id for p in plans] == [p.stem for p in plans]
    assert [p.writes_shared for p in plans] == [True] + [False] * (len(plans) - 1)


def test_distpy_layout_falls_back_to_per_record_folders_and_says_why(demo_files, tmp_path):
    """Two copies of one file start at the same times: distpy's flat names would collide."""
    for name in ("a.sgy", "b.sgy"):
        shutil.copy(demo_files[0], tmp_path / name)
    plans, _, warnings = _plans(str(tmp_path), style="distpy")
    assert len(warnings) == 1 and "ambiguous" in warnings[0] and "a.sgy and b.sgy both start at" in warnings[0]
    assert {os.path.dirname(p.output_id) for p in plans} == {"a.sgy", "b.sgy"}
    assert len({p.output_id for p in plans}) == len(plans) == 8


def test_distpy_layout_with_two_channel_layouts_is_ambiguous(real_data):
    """Different channel positions cannot share one measured_depth.npy."""
    _, _, warnings = _plans([str(real_data / "segy" / "small_channel_patch.sgy"), str(real_data / "segy" / "f3.sgy")])
    assert not warnings  # raydas's own layout never warns
    _, _, warnings = _plans(
        [str(real_data / "segy" / "small_channel_patch.sgy"), str(real_data / "segy" / "f3.sgy")], style="distpy"
    )
    assert warnings and "different channel layouts" in warnings[0]


def test_a_file_split_by_a_gap_gets_a_folder_per_recording(tmp_path):
    """A label names one recording: two recordings that would share one get their start appended."""
    from raydas.recording import Recording

    records, _ = formats.scan("synthetic://?seconds=2&rate=100&channels=3")
    late = formats.base.RecordInfo(**{**records[0].__dict__, "start_ns": records[0].start_ns + 10 * 10**9})
    labels = recording_labels([Recording([records[0]]), Recording([late])])
    assert len(set(labels)) == 2 and all("@" in label for label in labels)


def test_segments_are_safe_path_parts():
    assert segment("Fbe[0] -0.4883-1.465 Hz") == "Fbe_0_-0.4883-1.465_Hz"
    assert segment("..") == "_" and segment("../../etc") == "_.._etc"
    assert segment("a/b") == "a_b" and not segment(".hidden").startswith(".")
    long = segment("x" * 300)
    assert len(long) == 100 and long != segment("x" * 299)


def test_two_outputs_on_one_path_are_refused_before_any_work(demo_files, tmp_path):
    """Two writers whose files land on one path would overwrite each other's: the planner
    refuses the run, naming the path, before any chunk is computed. Writers sharing a
    directory_out are refused at validation already; here the folders differ ("same" and
    "same/sub") but the per-recording folders of f.sgy and sub/f.sgy meet: "same/sub/f.sgy"."""
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    shutil.copy(demo_files[0], root / "f.sgy")
    shutil.copy(demo_files[0], root / "sub" / "f.sgy")  # the same start time: the same <unixtime>
    doc = {
        "command_list": [
            {"name": "write_npy", "uid": 1, "in_uid": 0, "directory_out": "same"},
            {"name": "abs", "uid": 2, "in_uid": 0},
            {"name": "write_npy", "uid": 3, "in_uid": 2, "directory_out": "same/sub"},
        ]
    }
    r = Run(RunConfig(input=str(root), output=str(tmp_path / "out"), processing=doc), progress=False)
    with pytest.raises(PlanError, match=r"would be written twice, e.g. same/sub/f\.sgy/\d+\.npy by chunk .*f\.sgy"):
        r.plan(r.scan())
    assert not (tmp_path / "out").exists()


def test_check_unique_names_both_chunks_and_their_files(demo_files):
    plans, _, _ = _plans(demo_files)
    plans[1].output_id = plans[0].output_id
    with pytest.raises(PlanError, match="chunk .* and chunk .*das_20250601T120000.sgy"):
        check_unique(plans, lambda p: [f"x/{p.output_id}.fbe"])
    plans[2].output_id = ""
    with pytest.raises(PlanError, match="no output identity"):
        check_unique(plans[2:], lambda p: [])


def test_writers_write_what_they_declare_under_the_output_id(tmp_path):
    """Every writer names its files from the chunk's output id, the way output_files says,
    and the chunk that owns its folder's shared files writes them (the others do not)."""
    doc = {
        "command_list": [
            {"name": "write_npy", "uid": 1, "in_uid": 0, "directory_out": "npy"},
            {"name": "fft", "uid": 2, "in_uid": 0},
            {"name": "rms_from_fft", "uid": 3, "in_uid": 2, "low_freq": 0, "high_freq": -1},
            {"name": "write_witsml", "uid": 4, "in_uid": 3, "directory_out": "fbe"},
            {"name": "thumbnail", "uid": 5, "in_uid": 0, "directory_out": "png", "dpi": 20, "figure_size": [2, 2]},
            {"name": "clip", "uid": 6, "in_uid": 0, "directory_out": "clip", "xmax": 4.0},
        ]
    }
    pipeline = Pipeline.from_config(doc)
    sink = OutputSink(str(tmp_path))
    first = make_chunk(np.ones((6, 200)), 100.0)
    first.output_id, first.writes_shared = "rec.sgy/1700000000", True
    second = make_chunk(np.ones((6, 200)), 100.0, data_start_ns=first.start_ns + 2 * 10**9)
    second.output_id, second.writes_shared = "rec.sgy/1700000002", False
    a = pipeline.run(first, np, sink)
    b = pipeline.run(second, np, sink)
    assert a.written == pipeline.output_files(first.output_id, shared=True)
    assert b.written == pipeline.output_files(second.output_id)
    on_disk = sorted(os.path.relpath(os.path.join(d, f), tmp_path) for d, _, fs in os.walk(tmp_path) for f in fs)
    assert on_disk == sorted(a.written + b.written)
    assert "npy/rec.sgy/measured_depth.npy" in a.written and "clip/rec.sgy/time.npy" in a.written
    assert set(a.sizes) == set(a.written) and all(
        a.sizes[f] == os.path.getsize(tmp_path / f) for f in a.written
    )  # the bytes of each file, as written
