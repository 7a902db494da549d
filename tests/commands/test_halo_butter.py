"""Halo: butter on 1-s chunks with its halo equals scipy.signal.filtfilt over
the whole record (relative error < 1e-4 away from the record's two ends)."""

from __future__ import annotations

import helpers
import numpy as np
import pytest
from helpers import Keep  # noqa: F401  (registers the test sink)
from scipy import signal

from raydas import formats
from raydas.apps import demo
from raydas.pipeline import Pipeline
from raydas.recording import assemble, plan_chunks

FS = 1000.0


@pytest.fixture(scope="module")
def record_files(tmp_path_factory):
    """A 9-s record of 12 channels at 1 kHz as three SEG-Y files of 3 s."""
    folder = tmp_path_factory.mktemp("halo")
    return demo.generate(str(folder), files=3, seconds=3.0, channels=12, sample_rate=FS)


def _whole(files):
    records, _ = formats.scan(files)
    (rec,), _ = assemble(records)
    return rec, np.concatenate([formats.read_samples(r, 0, r.n_samples) for r in rec.records], axis=1).astype(
        np.float64
    )


def _chunked(rec, graph, chunk_seconds=1.0):
    pipeline = Pipeline.from_config(
        {"command_list": graph + [{"name": "_test_keep", "uid": 99, "in_uid": graph[-1]["uid"]}]}
    )
    halo = pipeline.halo_samples(rec.sample_rate)
    pieces = []
    for plan in plan_chunks([rec], chunk_seconds, halo_samples=halo):
        chunk = plan.read()
        chunk.data.setflags(write=False)
        pipeline.run(chunk, np, None)
        pieces.append(helpers._KEPT["value"])
    return np.concatenate(pieces, axis=1), halo


@pytest.mark.parametrize(
    "btype,freq,order", [("lowpass", 100.0, 5), ("highpass", 5.0, 5), ("bandpass", [20.0, 200.0], 4)]
)
def test_butter_chunks_equal_whole_record_filtfilt(record_files, btype, freq, order):
    rec, whole = _whole(record_files)
    graph = [{"name": "butter", "uid": 1, "in_uid": 0, "type": btype, "freq": freq, "order": order}]
    stitched, halo = _chunked(rec, graph)
    b, a = signal.butter(order, np.asarray(freq) / (FS / 2), btype=btype)
    reference = signal.filtfilt(b, a, whole, axis=1, padtype="even")
    assert stitched.shape == reference.shape
    assert 0 < halo < whole.shape[1]
    away = slice(halo, whole.shape[1] - halo)  # away from the record's two ends
    error = np.abs(stitched[:, away] - reference[:, away]).max() / np.abs(reference[:, away]).max()
    assert error < 1e-4


def test_without_halo_chunk_edges_are_wrong(record_files):
    """The check above can fail: the same chunks with no halo differ at their edges."""
    rec, whole = _whole(record_files)
    b, a = signal.butter(5, 5.0 / (FS / 2), btype="highpass")
    reference = signal.filtfilt(b, a, whole, axis=1, padtype="even")
    pipeline = Pipeline.from_config(
        {
            "command_list": [
                {"name": "butter", "uid": 1, "in_uid": 0, "type": "highpass", "freq": 5.0},
                {"name": "_test_keep", "uid": 2, "in_uid": 1},
            ]
        }
    )
    pieces = []
    for plan in plan_chunks([rec], 1.0, halo_samples=0):
        pipeline.run(plan.read(), np, None)
        pieces.append(helpers._KEPT["value"])
    stitched = np.concatenate(pieces, axis=1)
    away = slice(2000, whole.shape[1] - 2000)
    error = np.abs(stitched[:, away] - reference[:, away]).max() / np.abs(reference[:, away]).max()
    assert error > 1e-2


def test_halo_adds_up_along_a_chain(record_files):
    rec, whole = _whole(record_files)
    graph = [
        {"name": "butter", "uid": 1, "in_uid": 0, "type": "lowpass", "freq": 200.0},
        {"name": "abs", "uid": 2, "in_uid": 1},
        {"name": "sta_lta", "uid": 3, "in_uid": 2, "sta": 20, "lta": 200},
    ]
    pipeline = Pipeline.from_config({"command_list": graph})
    single = Pipeline.from_config({"command_list": graph[:1]}).halo_samples(FS)
    assert pipeline.halo_samples(FS) == single + 101  # butter's halo + half the long window (+1)
    stitched, halo = _chunked(rec, graph)
    whole_result, _ = helpers.run_graph(graph, helpers.make_chunk(whole, FS))
    away = slice(halo, whole.shape[1] - halo)
    np.testing.assert_allclose(stitched[:, away], whole_result[:, away], rtol=1e-4, atol=1e-5)
