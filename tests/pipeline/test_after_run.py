"""Post-run steps are declared by the writers: ``write_witsml`` declares the
noise log's quick-look, a pipeline with no writer draws nothing."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from helpers import REPO, make_chunk

from raydas.commands.base import Command
from raydas.errors import RaydasError
from raydas.outputs import OutputSink
from raydas.pipeline import Pipeline

NOISELOG = os.path.join(REPO, "configs/demo-noiselog.json")


def _chunks(n: int = 3, fs: float = 1000.0):
    rng = np.random.default_rng(5)
    for k in range(n):
        yield make_chunk(
            rng.standard_normal((6, int(fs))), fs, spacing=2.0, data_start_ns=1_700_000_000_000_000_000 + k * 10**9
        )


def test_write_witsml_declares_the_noise_log_quicklook(tmp_path):
    pipeline = Pipeline.from_config(NOISELOG)
    sink = OutputSink(str(tmp_path))
    stems = []
    for chunk in _chunks():
        pipeline.run(chunk, np, sink)
        stems.append(chunk.stem)
    drawn = pipeline.after_run(sink, stems)
    assert drawn == [str(tmp_path / "quicklook.png")]
    assert (tmp_path / "quicklook.png").read_bytes()[:4] == b"\x89PNG"
    # only the write_witsml command declares a step
    declared = [n.command.name for n in pipeline.order if type(n.command).after_run is not Command.after_run]
    assert declared == ["write_witsml"]


def test_a_pipeline_with_no_writer_draws_nothing(tmp_path):
    pipeline = Pipeline.from_config({"command_list": [{"name": "fft", "uid": 1, "in_uid": 0}]})
    assert pipeline.after_run(OutputSink(str(tmp_path)), ["1700000000"]) == []
    assert os.listdir(tmp_path) == []


def test_a_writer_that_writes_nothing_declares_nothing(tmp_path):
    doc = json.loads(open(NOISELOG).read())
    doc["command_list"][-1]["directory_out"] = "NONE"
    assert Pipeline.from_config(doc).after_run(OutputSink(str(tmp_path)), ["1700000000"]) == []


def test_a_quicklook_with_nothing_to_draw_says_so(tmp_path):
    with pytest.raises(RaydasError, match="no .fbe files"):
        Pipeline.from_config(NOISELOG).after_run(OutputSink(str(tmp_path)), ["1700000000"])


def test_commands_of_one_kind_draw_once(tmp_path):
    doc = json.loads(open(NOISELOG).read())
    second = dict(doc["command_list"][-1], uid=5, directory_out="NoiseLog2")
    doc["command_list"].append(second)
    pipeline = Pipeline.from_config(doc)
    sink = OutputSink(str(tmp_path))
    chunk = next(_chunks(1))
    pipeline.run(chunk, np, sink)
    assert pipeline.after_run(sink, [chunk.stem]) == [str(tmp_path / "quicklook.png")]  # the first folder's
