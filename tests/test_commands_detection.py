"""kmeans on well-separated clusters; keras without its package is a clear error."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from helpers import make_chunk, run_command, run_graph

from raydas.commands.detection import kmeans_labels
from raydas.errors import ConfigError
from raydas.pipeline import Pipeline

FS = 100.0


def test_kmeans_groups_channels_by_their_traces():
    rng = np.random.default_rng(2)
    levels = np.array([5.0, -5.0, 0.0, 5.0, 0.0, -5.0, 0.0])
    data = levels[:, None] + 0.1 * rng.standard_normal((7, 50))
    value, _ = run_command({"name": "kmeans", "n_clusters": 3}, make_chunk(data, FS))
    # clusters numbered by increasing centre: -5 -> 0, 0 -> 1, 5 -> 2
    np.testing.assert_array_equal(value[:, 0], [2, 0, 1, 2, 1, 0, 1])


def test_kmeans_with_gathered_features_labels_every_sample():
    x = np.zeros((4, 30))
    x[:2, :15] = 10.0
    graph = [{"name": "lin_transform", "uid": 1, "in_uid": 0, "m": -1.0},
             {"name": "kmeans", "uid": 2, "in_uid": 0, "gather_uids": [1], "n_clusters": 2}]
    value, _ = run_graph(graph, make_chunk(x, FS))
    assert value.shape == (4, 30)
    # features (gathered first, input last) = (-x, x): centre (-10, 10) sorts before (0, 0)
    np.testing.assert_array_equal(value, np.where(x > 5, 0, 1))


def test_kmeans_label_numbering_does_not_depend_on_the_seed():
    pts = np.concatenate([np.full((5, 2), v) for v in (3.0, -1.0, 8.0)]) + 0.01 * np.arange(15)[:, None]
    a = kmeans_labels(pts, 3, seed=0)
    b = kmeans_labels(pts, 3, seed=99)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, [1] * 5 + [0] * 5 + [2] * 5)


def test_keras_without_a_model_passes_through():
    x = np.arange(12.0).reshape(3, 4)
    value, _ = run_command({"name": "keras"}, make_chunk(x, FS))
    np.testing.assert_array_equal(value, x)


@pytest.mark.skipif(importlib.util.find_spec("keras") is not None, reason="keras is installed")
def test_keras_model_without_the_package_is_a_config_error():
    with pytest.raises(ConfigError, match="keras package"):
        Pipeline.from_config({"command_list": [{"name": "keras", "uid": 1, "in_uid": 0, "filename": "m.keras"}]})


def test_keras_training_is_refused():
    with pytest.raises(ConfigError) as err:
        Pipeline.from_config({"command_list": [{"name": "keras", "uid": 1, "in_uid": 0, "train": {"epochs": 3}}]})
    assert err.value.json_path == "$.command_list[0].train"
