"""Every registered command on every shape a run hands it: one channel, chunks of
one or two samples, the last short chunk of a record (own samples after a halo,
none after). Each either computes, or the pipeline refuses the record at planning
(``Pipeline.check_record``) with a reason naming the command's JSON path; nothing
fails on the actors. The commands and their parameters are the runnable rows of
tests/commands/test_commands_conformance.py (a new command is covered the day it
gets its row there).
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import numpy as np
import pytest
import test_commands_conformance as conformance
from helpers import T0_NS, make_chunk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raydas.errors import PlanError
from raydas.formats.base import RecordInfo
from raydas.outputs import OutputSink
from raydas.pipeline import Pipeline

FS, SPACING = conformance.FS, conformance.SPACING
HALO = 5  # samples before the last chunk, from the chunk before it
RNG = np.random.default_rng(23)
DATA = (RNG.standard_normal((8, 256 + HALO)) + np.sin(np.arange(256 + HALO) / 9.0)).astype(np.float32)
CASES = [
    (name, i)
    for name, rows in conformance.SAMPLES.items()
    for i, case in enumerate(rows)
    if not case.needs or importlib.util.find_spec(case.needs) is not None
]


def graph_of(name: str, case: conformance.Case, model: str | None) -> list[dict]:
    """The case's setup commands, then the command itself."""
    params = {k: (model if v == "MODEL" else v) for k, v in case.params.items()}
    command = dict(params, name=name, uid=len(case.setup) + 1, in_uid=case.input_uid)
    if case.gather:
        command["gather_uids"] = case.gather
    return [*case.setup, command]


def record(channels: int, samples: int) -> RecordInfo:
    return RecordInfo(
        path="memory://shapes/record.npy",
        format="test",
        n_channels=channels,
        n_samples=samples,
        dt=1.0 / FS,
        start_ns=T0_NS,
        positions=np.arange(channels) * SPACING,
    )


def serve_or_refuse(name: str, row: int, channels: int, samples: int, before: int, root, model) -> str | None:
    """Plan then run the case on a chunk of ``samples`` own samples after ``before`` samples of halo;
    returns the planning refusal (None when it ran)."""
    case = conformance.SAMPLES[name][row]
    for path, array in case.files.items():
        os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
        np.save(os.path.join(root, path), array)
    if model is not None and name == "keras":  # the model lies under the results root
        os.makedirs(root, exist_ok=True)
        shutil.copy(model, os.path.join(root, "model.keras"))
    pipeline = Pipeline.from_config({"command_list": graph_of(name, case, "model.keras" if model else None)})
    pipeline.load_inputs(OutputSink(str(root)))
    try:
        pipeline.check_record(record(channels, before + samples), chunk_samples=samples)
    except PlanError as exc:
        assert "$.command_list[" in str(exc) and exc.path == "memory://shapes/record.npy", exc
        return str(exc)
    chunk = make_chunk(DATA[:channels, : before + samples], FS, spacing=SPACING, halo=(before, 0))
    pipeline.run(chunk, np, OutputSink(str(root)))
    return None


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str | None:
    """A saved linear keras model for 256 samples per channel (None without keras)."""
    if importlib.util.find_spec("keras") is None:
        return None
    from raydas.commands.algebra import keras_module

    keras = keras_module()
    path = str(tmp_path_factory.mktemp("keras") / "linear.keras")
    m = keras.Sequential([keras.Input(shape=(256,)), keras.layers.Dense(2)])
    m.save(path)
    return path


def _cases(model):
    return [c for c in CASES if c[0] != "keras" or model is not None]


@pytest.mark.parametrize("name, row", CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_the_usual_shape_is_served(name, row, tmp_path, model):
    if name == "keras" and model is None:
        pytest.skip("keras not installed")
    assert serve_or_refuse(name, row, 8, 256, 0, tmp_path, model) is None


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.data(),
    channels=st.sampled_from([1, 2, 3, 8]),
    samples=st.one_of(st.sampled_from([1, 2, 3]), st.integers(1, 256)),
    before=st.sampled_from([0, HALO]),
)
def test_every_command_serves_every_shape_or_refuses_at_planning(
    data, channels, samples, before, tmp_path_factory, model
):
    name, row = data.draw(st.sampled_from(_cases(model)), label="command")
    serve_or_refuse(name, row, channels, samples, before, tmp_path_factory.mktemp("out"), model)


@pytest.mark.parametrize("channels, samples", [(1, 256), (8, 1), (8, 2), (1, 1), (1, 2)])
@pytest.mark.parametrize("name, row", CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_the_corner_shapes(name, row, channels, samples, tmp_path, model):
    """Each corner for every command, not left to chance: one channel, one- and two-sample chunks."""
    if name == "keras" and model is None:
        pytest.skip("keras not installed")
    for before in (0, HALO):
        serve_or_refuse(name, row, channels, samples, before, tmp_path / str(before), model)


def test_one_channel_noise_log_end_to_end(ray_session, tmp_path):
    """The demo's noise log on a one-channel recording (write_witsml failed every chunk: 'cannot reshape
    array of size 1 into shape (4,newaxis)'): one row of five curves per chunk, numbers as numpy's."""
    from helpers import REPO

    from raydas import formats
    from raydas.config import RunConfig
    from raydas.formats.witsml import parse_fbe
    from raydas.runtime import run

    url = "synthetic://?seconds=2&rate=1000&channels=1"
    config = RunConfig(
        input=url, output=str(tmp_path), processing=os.path.join(REPO, "configs/demo-noiselog.json"), quicklook=False
    )
    report = run(config, progress=False)
    assert report.ok and report.chunks_done == 2
    (rec,), _ = formats.scan(url)
    for i, name in enumerate(sorted(os.listdir(tmp_path / "NoiseLog"))):
        _, curves, depth, values = parse_fbe((tmp_path / "NoiseLog" / name).read_bytes())
        x = formats.read_samples(rec, 1000 * i, 1000 * (i + 1)).astype(np.float64)
        assert values.shape == (1, 5) and curves[0] == "band_0-nyquist" and len(depth) == 1
        np.testing.assert_allclose(values[0, 0], np.sqrt(np.mean(x**2)), rtol=1e-5)
        power = np.abs(np.fft.fft(x[0])) ** 2
        f = np.abs(np.fft.fftfreq(1000, 1e-3))
        # a band that reaches Nyquist (500 Hz, or -1) includes the Nyquist bin
        for j, (lo, hi) in enumerate([(1, 100), (100, 250), (250, 501), (500, 501)], start=1):
            rms = np.sqrt(power[(f >= lo) & (f < hi)].sum()) / 1000
            np.testing.assert_allclose(values[0, j], rms, rtol=1e-4, err_msg=curves[j])
