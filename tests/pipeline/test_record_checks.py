"""Parameters that depend on a record (its Nyquist frequency, its channel count, the
length of its chunks) are checked per record at planning (``Pipeline.check_record``):
a record the graph cannot serve fails alone, named, with the reason, before any work;
the others run, and the run ends non-zero."""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest
from helpers import T0_NS

from raydas import formats
from raydas.config import RunConfig
from raydas.errors import PlanError, RunFailed
from raydas.formats.base import RecordInfo
from raydas.identity import pick_shared_writers
from raydas.pipeline import Pipeline
from raydas.runtime import FAILURE_REPORT, Run, run


def record(rate: float = 1000.0, channels: int = 8, samples: int = 1000, path: str = "memory://r.npy") -> RecordInfo:
    return RecordInfo(
        path=path,
        format="test",
        n_channels=channels,
        n_samples=samples,
        dt=1.0 / rate,
        start_ns=T0_NS,
        positions=np.arange(channels) * 2.0,
    )


def pipeline(*commands: dict) -> Pipeline:
    """A chain of commands, each reading the one before."""
    return Pipeline.from_config(
        {"command_list": [dict(c, uid=i, in_uid=i - 1) for i, c in enumerate(commands, start=1)]}
    )


def refusal(p: Pipeline, rec: RecordInfo, chunk_samples: int | None = None) -> str:
    with pytest.raises(PlanError) as err:
        p.check_record(rec, chunk_samples=chunk_samples)
    assert err.value.path == rec.path
    return err.value.problem


FFT = {"name": "fft"}


@pytest.mark.parametrize(
    "commands, rate, where, words",
    [
        ([{"name": "butter", "freq": 300.0}], 500.0, "$.command_list[0] (butter)", "Nyquist frequency 250"),
        ([FFT, {"name": "rms_from_fft", "low_freq": 300, "high_freq": 400}], 500.0, "[1] (rms_from_fft)", "300 to 400"),
        ([FFT, {"name": "rms_from_fft", "low_freq": 100, "high_freq": 400}], 500.0, "[1]", "Nyquist frequency 250"),
        (
            [FFT, {"name": "multiple_calcs", "func": "te_from_fft", "low_freq": [0, 600], "high_freq": [200, -1]}],
            1000.0,
            "[1] (multiple_calcs)",
            "band 600 Hz to Nyquist lies beyond",
        ),
        ([FFT, {"name": "analytic_signal", "freq": 300.0}], 500.0, "[1] (analytic_signal)", "freq 300 Hz"),
    ],
)
def test_beyond_the_nyquist_frequency_is_refused(commands, rate, where, words):
    problem = refusal(pipeline(*commands), record(rate=rate))
    assert where in problem and words in problem, problem
    pipeline(*commands).check_record(record(rate=4 * rate))  # served at a higher rate


def test_bands_up_to_nyquist_are_served():
    # -1, a high edge at Nyquist, and a band starting at Nyquist (its one bin) are distpy's conventions
    bands = {"func": "rms_from_fft", "low_freq": [0, 250, 500], "high_freq": [-1, 500, -1]}
    pipeline(FFT, {"name": "multiple_calcs", **bands}).check_record(record(rate=1000.0))


@pytest.mark.parametrize(
    "command, words",
    [
        ({"name": "butter", "axis": 0, "freq": 0.1}, "butter across channels needs at least 2 channels"),
        ({"name": "gradient", "axis": 0}, "needs at least 2 channels"),
        ({"name": "dip_filter"}, "dip_filter (a channel spacing) needs at least 2 channels"),
        ({"name": "diff", "axis": 0}, "needs at least 2 channels"),
        ({"name": "clip", "double_ended": 0}, "needs at least 2 channels"),
        ({"name": "kmeans", "n_clusters": 3}, "3 clusters needs at least 3 channels"),
        ({"name": "extract", "axis": 0, "index": 2}, "needs at least 3 channels"),
    ],
)
def test_too_few_channels_is_refused(command, words):
    problem = refusal(pipeline(command), record(channels=1))
    assert words in problem, problem
    pipeline(command).check_record(record(channels=8))


def test_channel_checks_follow_the_graph():
    # after a mean over channels there is one row: a gradient across it cannot be taken
    p = pipeline({"name": "mean", "axis": 0}, {"name": "gradient", "axis": 0})
    assert "$.command_list[1] (gradient)" in refusal(p, record(channels=8))
    # after fft along time the channels are still there: served
    pipeline(FFT, {"name": "gradient", "axis": 0}).check_record(record(channels=8))


@pytest.mark.parametrize(
    "command, chunk, words",
    [
        (
            {"name": "hash"},
            10,
            "a hash of 64 samples from offset 0 needs at least 64 samples in a chunk; it would get 10",
        ),
        ({"name": "extract", "index": 20}, 20, "needs at least 21 samples in a chunk"),
        ({"name": "curve_fit", "method": "exp_fit"}, 2, "needs at least 3 samples in a chunk"),
    ],
)
def test_a_chunk_too_short_is_refused(command, chunk, words):
    p = pipeline(command)
    assert words in refusal(p, record(samples=1000), chunk_samples=chunk)
    p.check_record(record(samples=1000), chunk_samples=1000)


def test_time_local_commands_see_the_whole_record_through_the_halo():
    # a diff along time of a 1-sample last chunk gets its neighbour from the halo: served
    pipeline({"name": "diff"}).check_record(record(samples=1001), chunk_samples=1)
    # a record of one sample has no neighbour
    assert "diff over an offset of 1 needs at least 2 samples" in refusal(pipeline({"name": "diff"}), record(samples=1))


# --- in a run: the record that cannot be served fails alone --------------------------------------------------
def _graph(tmp_path, *commands: dict, writer: dict) -> str:
    graph = {"command_list": [dict(c, uid=i, in_uid=i - 1) for i, c in enumerate([*commands, writer], start=1)]}
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(graph))
    return str(path)


def _chunk_files(folder) -> list[str]:
    """The chunk files below ``folder`` (``<recording>/<unixtime>.<suffix>``), relative to it."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name[0].isdigit())


FAST = "synthetic://?seconds=2&rate=1000&channels=4"
SLOW = "synthetic://?seconds=2&rate=400&channels=4&seed=1"  # Nyquist 200 Hz


@pytest.mark.parametrize(
    "commands, writer, folder, suffix",
    [
        ([{"name": "butter", "freq": 300.0, "order": 4}], {"name": "write_npy", "directory_out": "npy"}, "npy", "npy"),
        (
            [FFT, {"name": "multiple_calcs", "func": "rms_from_fft", "low_freq": [10, 300], "high_freq": [300, -1]}],
            {"name": "write_witsml", "directory_out": "fbe", "low_freq": [10, 300], "high_freq": [300, -1]},
            "fbe",
            "fbe",
        ),
    ],
    ids=["butter", "bands"],
)
def test_a_record_beyond_the_graph_fails_alone(ray_session, tmp_path, commands, writer, folder, suffix):
    # before: a butter cut-off above one record's Nyquist refused the whole run (ConfigError, exit 2, no record
    # named); bands above it gave zeros that looked like data
    out = tmp_path / "out"
    config = RunConfig(input=[FAST, SLOW], output=str(out), processing=_graph(tmp_path, *commands, writer=writer))
    with pytest.raises(RunFailed) as err:
        run(config, progress=False)
    (failure,) = err.value.failures
    assert failure.stage == "plan" and failure.file == SLOW and failure.chunk == ""
    assert "$.command_list[" in failure.error and "Nyquist frequency 200" in failure.error
    written = _chunk_files(out / folder)
    assert len(written) == 2 and all(f.endswith(f".{suffix}") for f in written)  # the 1000 Hz record's two chunks
    assert {os.path.dirname(f) for f in written} == {"synthetic/seconds_2_rate_1000_channels_4"}  # its own folder
    report = json.loads((out / FAILURE_REPORT).read_text())
    assert report["failures"][0]["stage"] == "plan" and report["failures"][0]["file"] == SLOW


def test_the_last_short_chunk_fails_alone_when_too_short(ray_session, tmp_path):
    # 2.02 s in 1-s chunks: the last has 20 samples, too few for a hash of 64; the first two run
    url = "synthetic://?seconds=2.02&rate=1000&channels=3"
    graph = _graph(tmp_path, {"name": "hash"}, writer={"name": "write_npy", "directory_out": "hash"})
    with pytest.raises(RunFailed) as err:
        run(RunConfig(input=url, output=str(tmp_path / "out"), processing=graph), progress=False)
    (failure,) = err.value.failures
    (rec,), _ = formats.scan(url)
    assert failure.stage == "plan" and failure.file == url and failure.chunk_seconds == pytest.approx(0.02)
    assert "needs at least 64 samples in a chunk; it would get 20" in failure.error
    assert len(_chunk_files(tmp_path / "out" / "hash")) == 2
    assert rec.n_samples == 2020


def test_the_chunks_that_run_choose_who_writes_each_folders_axis_files(tmp_path):
    # one chunk per output folder writes its shared files (distpy's measured_depth.npy and time.npy); it is chosen
    # among the chunks left after the ones the graph cannot serve are dropped, so a dropped chunk takes no folder's
    # axis files with it
    short = record(samples=20, path="memory://short.npy")  # 0.02 s: too short for a hash of 64
    long = dataclasses.replace(record(samples=3000, path="memory://long.npy"), start_ns=T0_NS + 10 * 10**9)
    graph = {"command_list": [{"name": "hash", "uid": 1, "in_uid": 0}, {"name": "write_npy", "uid": 2, "in_uid": 1}]}
    graph["command_list"][1]["directory_out"] = "hash"
    r = Run(
        RunConfig(input="memory://x", output=str(tmp_path / "out"), processing=graph, output_layout="distpy"),
        progress=False,
    )
    plans = r.plan([short, long])
    assert [p.output_id for p in plans] == [str(T0_NS // 10**9 + 10 + k) for k in range(3)]  # the long record's
    assert [p.writes_shared for p in plans] == [True, False, False]
    assert "hash/measured_depth.npy" in r.expected_outputs(plans[0])
    (failure,) = r.report.failures
    assert failure.stage == "plan" and failure.file == "memory://short.npy"
    # the choice itself: the first chunk of each folder, among those given
    for p in plans:
        p.writes_shared = False
    pick_shared_writers(plans[1:])
    assert [p.writes_shared for p in plans] == [False, True, False]
