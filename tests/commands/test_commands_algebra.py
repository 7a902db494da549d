"""Multi-input algebra and the machine-learning commands, each run from a JSON
command_list (gather_uids as distpy writes them) against plain numpy."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from helpers import make_chunk, run_command, run_graph

from raydas.errors import ConfigError, PipelineError, RaydasError
from raydas.formats.witsml import parse_fbe
from raydas.pipeline import Pipeline

FS = 1000.0
RNG = np.random.default_rng(3)
X = RNG.standard_normal((6, 200)).astype(np.float32)


def test_add_from_json():
    graph = [{"name": "abs", "uid": 1, "in_uid": 0}, {"name": "add", "uid": 2, "in_uid": 0, "gather_uids": [1]}]
    value, _ = run_graph(graph, make_chunk(X, FS))
    np.testing.assert_allclose(value, X + np.abs(X), rtol=1e-6)
    assert value.dtype == np.float32


def test_add_a_per_channel_column_keeps_the_halo():
    # time-local: the halo passes through, so chunks with a halo equal the whole record
    graph = [{"name": "mean", "uid": 1, "in_uid": 0}, {"name": "add", "uid": 2, "in_uid": 0, "gather_uids": [1]}]
    chunk = make_chunk(X, FS, halo=(20, 30))
    value, meta = run_graph(graph, chunk, keep=2)
    assert value.shape == (6, 150)
    core = X[:, 20:170].astype(np.float64)
    np.testing.assert_allclose(value, core + core.mean(axis=1, keepdims=True), atol=1e-5)


def test_multiply_same_shape_and_squares():
    graph = [{"name": "multiply", "uid": 1, "in_uid": 0, "gather_uids": [0]}]
    value, _ = run_graph(graph, make_chunk(X, FS))
    np.testing.assert_allclose(value, X.astype(np.float64) ** 2, rtol=1e-6)


def test_multiply_along_channels_scales_each_channel(tmp_path):
    # distpy's axis=0 branch returned the input unchanged
    (tmp_path / "gains").mkdir()
    gains = np.arange(1, 7, dtype=np.float64)
    np.save(tmp_path / "gains" / "g.npy", gains)
    graph = [
        {"name": "data_load", "uid": 1, "in_uid": 0, "directory_out": "gains", "filename": "g.npy"},
        {"name": "multiply", "uid": 2, "in_uid": 0, "gather_uids": [1], "axis": 0},
    ]
    value, _ = run_graph(graph, make_chunk(X, FS), out_dir=tmp_path)
    np.testing.assert_allclose(value, X * gains[:, None], rtol=1e-6)
    assert not np.allclose(value, X)


def test_multiply_along_time_scales_each_column(tmp_path):
    taper = np.hanning(200)
    np.save(tmp_path / "taper.npy", taper)
    graph = [
        {"name": "data_load", "uid": 1, "in_uid": 0, "directory_out": ".", "filename": "taper"},
        {"name": "multiply", "uid": 2, "in_uid": 0, "gather_uids": [1], "axis": 1},
    ]
    value, _ = run_graph(graph, make_chunk(X, FS), out_dir=tmp_path)
    np.testing.assert_allclose(value, X * taper[None, :], rtol=1e-5, atol=1e-7)


def test_multiply_shape_mismatch_is_a_clear_error(tmp_path):
    np.save(tmp_path / "g.npy", np.ones(5))
    graph = [
        {"name": "data_load", "uid": 1, "in_uid": 0, "directory_out": ".", "filename": "g.npy"},
        {"name": "multiply", "uid": 2, "in_uid": 0, "gather_uids": [1], "axis": 0},
    ]
    with pytest.raises(PipelineError) as err:
        run_graph(graph, make_chunk(X, FS), out_dir=tmp_path)
    assert "multiply" in str(err.value) and "5 values" in str(err.value) and "6 channels" in str(err.value)


@pytest.mark.parametrize("name", ["add", "multiply", "deconvolve", "gather"])
def test_gather_uids_are_required(name):
    with pytest.raises(ConfigError) as err:
        Pipeline.from_config({"command_list": [{"name": name, "uid": 1, "in_uid": 0}]})
    assert "$.command_list[0].gather_uids" in str(err.value)


def test_gather_side_by_side():
    graph = [
        {"name": "mean", "uid": 1, "in_uid": 0},
        {"name": "fft", "uid": 2, "in_uid": 0},
        {"name": "rms_from_fft", "uid": 3, "in_uid": 2},
        {"name": "gather", "uid": 4, "in_uid": 1, "gather_uids": [3, 1]},
    ]
    value, meta = run_graph(graph, make_chunk(X, FS, spacing=2.0))
    x = X.astype(np.float64)
    expected = np.stack([x.mean(axis=1), np.sqrt((x**2).mean(axis=1)), x.mean(axis=1)], axis=1)
    np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(meta.positions, np.arange(6) * 2.0)


def test_write_witsml_band00_from_gather_uids(tmp_path):
    graph = [
        {"name": "abs", "uid": 1, "in_uid": 0},
        {"name": "mean", "uid": 2, "in_uid": 1},
        {"name": "mean", "uid": 3, "in_uid": 0},
        {
            "name": "write_witsml",
            "uid": 4,
            "in_uid": 3,
            "gather_uids": [2],
            "directory_out": "w",
            "labels": ["mean_abs", "mean"],
        },
    ]
    chunk = make_chunk(X, FS)
    run_graph(graph, chunk, out_dir=tmp_path)
    _, curves, _, values = parse_fbe((tmp_path / "w" / f"{chunk.stem}.fbe").read_bytes())
    assert curves == ["mean_abs", "mean"]
    np.testing.assert_allclose(values[:, 0], np.abs(X.astype(np.float64)).mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(values[:, 1], X.astype(np.float64).mean(axis=1), rtol=1e-4, atol=1e-7)


# --- kmeans -------------------------------------------------------------------------------------


def _same_partition(a, b) -> bool:
    a, b = np.asarray(a).ravel(), np.asarray(b).ravel()
    return all(len(set(b[a == v])) == 1 for v in set(a)) and len(set(a)) == len(set(b))


def test_kmeans_labels_channels_by_their_level():
    pytest.importorskip("sklearn")
    levels = np.array([0, 0, 5, 5, 10, 10, 0, 10])
    data = levels[:, None] + 0.1 * RNG.standard_normal((8, 50))
    value, _ = run_command({"name": "kmeans", "n_clusters": 3}, make_chunk(data, FS))
    assert value.shape == (8, 1)
    assert _same_partition(value[:, 0], levels)


def test_kmeans_with_gathered_features():
    pytest.importorskip("sklearn")
    truth = (np.arange(8 * 40).reshape(8, 40) % 2).astype(float)  # two classes in (abs, raw) feature space
    data = np.where(truth == 1, 3.0, -3.0) + 0.05 * RNG.standard_normal((8, 40))
    graph = [
        {"name": "abs", "uid": 1, "in_uid": 0},
        {"name": "kmeans", "uid": 2, "in_uid": 0, "gather_uids": [1], "n_clusters": 2},
    ]
    value, _ = run_graph(graph, make_chunk(data, FS))
    assert value.shape == (8, 40)
    assert _same_partition(value, truth)


def test_kmeans_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.cluster", None)
    with pytest.raises(PipelineError) as err:
        run_command({"name": "kmeans", "n_clusters": 2}, make_chunk(X, FS))
    assert isinstance(err.value.__cause__, RaydasError)
    assert "raydas[ml]" in str(err.value)


def test_ml_commands_run_on_the_host():
    from raydas import commands

    assert commands.get("kmeans").gpu is False and commands.get("keras").gpu is False
    assert commands.get("multiply").gpu and commands.get("add").gpu and commands.get("gather").gpu


# --- keras --------------------------------------------------------------------------------------


@pytest.fixture
def keras():
    """keras as the command imports it (jax backend when tensorflow is absent); skipped when not installed."""
    from raydas.commands.algebra import keras_module

    try:
        return keras_module()
    except RaydasError:
        pytest.skip("keras (raydas[keras]) not installed")


def _linear_model(keras, path, weights, bias):
    model = keras.Sequential([keras.Input(shape=(weights.shape[0],)), keras.layers.Dense(weights.shape[1])])
    model.layers[-1].set_weights([weights, bias])
    model.compile(optimizer="sgd", loss="mse")
    model.save(path)
    return model


def test_keras_predicts_with_a_saved_model(tmp_path, keras):
    weights = RNG.standard_normal((200, 2)).astype(np.float32)
    bias = np.array([1.0, -2.0], dtype=np.float32)
    _linear_model(keras, str(tmp_path / "m.keras"), weights, bias)
    value, _ = run_command({"name": "keras", "filename": "m.keras"}, make_chunk(X, FS), out_dir=tmp_path)
    np.testing.assert_allclose(value, X.astype(np.float64) @ weights + bias, rtol=1e-4, atol=1e-4)


def test_keras_trains_on_gathered_targets_and_saves(tmp_path, keras):
    path = tmp_path / "m.keras"
    _linear_model(keras, str(path), np.zeros((200, 1), np.float32), np.zeros(1, np.float32))
    before = path.read_bytes()
    graph = [
        {"name": "mean", "uid": 1, "in_uid": 0},
        {
            "name": "keras",
            "uid": 2,
            "in_uid": 0,
            "gather_uids": [1],
            "filename": "m.keras",
            "train": {"epochs": 3, "batch_size": 2},
        },
    ]
    value, _ = run_graph(graph, make_chunk(X, FS), out_dir=tmp_path)
    assert value.shape == (6, 1) and np.any(value != 0)  # the zero model has learnt something
    assert path.read_bytes() != before
    saved = keras.models.load_model(str(path))
    np.testing.assert_allclose(saved.predict(X, verbose=0), value, rtol=1e-4, atol=1e-5)


def test_keras_missing_model_names_the_file(tmp_path, keras):
    with pytest.raises(PipelineError) as err:
        run_command({"name": "keras", "filename": "none.keras"}, make_chunk(X, FS), out_dir=tmp_path)
    assert "none.keras" in str(err.value)


def test_keras_without_keras_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "keras", None)
    with pytest.raises(PipelineError) as err:
        run_command({"name": "keras", "filename": "m.keras"}, make_chunk(X, FS), out_dir=tmp_path)
    assert "raydas[keras]" in str(err.value)


@pytest.mark.parametrize("filename", ["NONE", None])
def test_keras_without_filename_passes_the_input_on(filename):
    value, _ = run_command({"name": "keras", "filename": filename}, make_chunk(X, FS))
    np.testing.assert_array_equal(value, X)


def test_multiply_then_butter_on_chunks_with_halo_equals_the_whole_record():
    # multiply is sample by sample: it passes the halo on, so the butter after it sees whole-record context
    import helpers
    from scipy import signal

    record = RNG.standard_normal((3, 4000))
    graph = [
        {"name": "multiply", "uid": 1, "in_uid": 0, "gather_uids": [0]},
        {"name": "butter", "uid": 2, "in_uid": 1, "type": "lowpass", "freq": 50.0, "order": 4},
        {"name": "_test_keep", "uid": 3, "in_uid": 2},
    ]
    pipeline = Pipeline.from_config({"command_list": graph})
    halo = pipeline.halo_samples(FS)
    assert 0 < halo < 1000
    pieces = []
    for start in range(0, 4000, 1000):
        lo, hi = max(0, start - halo), min(4000, start + 1000 + halo)
        pipeline.run(make_chunk(record[:, lo:hi], FS, halo=(start - lo, hi - start - 1000)), np)
        pieces.append(helpers._KEPT["value"])
    stitched = np.concatenate(pieces, axis=1)
    sos = signal.butter(4, 50.0 / (FS / 2), output="sos")
    reference = signal.sosfiltfilt(sos, record**2, axis=1, padtype="even")
    away = slice(halo, 4000 - halo)
    assert np.abs(stitched[:, away] - reference[:, away]).max() < 1e-4 * np.abs(reference).max()
