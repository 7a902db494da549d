"""Event detection and classification."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from ..backend import ndimage_module, to_host
from . import register
from .base import ArrayMeta, Command, Params


@register
class StaLta(Command):
    name = "sta_lta"
    family = "detection"
    summary = "Short-term over long-term average ratio (centred windows); feed it |x| or x^2."
    changed_from_distpy = (
        "Ratio of the two window means; distpy divided each mean by its window again, "
        "scaling the ratio by lta/sta (4.0 on constant input with the defaults)."
    )

    class Params(Params):
        sta: int = Field(50, ge=1, description="short window (samples)")
        lta: int = Field(200, ge=1, description="long window (samples)")

    def halo(self, sample_rate: float) -> int:
        """Half the longer window."""
        return max(self.params.sta, self.params.lta) // 2 + 1

    def apply(self, xp, x, ctx):
        nd = ndimage_module(xp)
        x64 = x.astype(xp.float64)
        sta = nd.uniform_filter1d(x64, self.params.sta, axis=1, mode="reflect")
        lta = nd.uniform_filter1d(x64, self.params.lta, axis=1, mode="reflect")
        return (sta / xp.maximum(lta, 1e-6)).astype(xp.float32)


#: rows of samples whose distances to the centres are computed at once (bounds memory).
KMEANS_BLOCK = 1 << 18


def _nearest_centre(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre for every row of ``x`` (squared Euclidean distance)."""
    c2 = (centres**2).sum(axis=1)
    out = np.empty(x.shape[0], dtype=np.int64)
    for lo in range(0, x.shape[0], KMEANS_BLOCK):
        block = x[lo : lo + KMEANS_BLOCK]
        out[lo : lo + KMEANS_BLOCK] = (c2[None, :] - 2.0 * block @ centres.T).argmin(axis=1)
    return out


def kmeans_labels(samples: np.ndarray, n_clusters: int, seed: int = 0, max_iter: int = 300) -> np.ndarray:
    """Lloyd's k-means with k-means++ starting centres (deterministic for a seed).

    Parameters
    ----------
    samples
        ``(n_samples, n_features)`` array.
    n_clusters
        Number of clusters (at most ``n_samples``).

    Returns
    -------
    numpy.ndarray
        Label per sample, ``0 .. n_clusters-1``, clusters numbered by increasing
        centre (lexicographic over the features), so numbering does not depend
        on the random start.
    """
    x = np.asarray(samples, dtype=np.float64)
    n = x.shape[0]
    if n_clusters > n:
        raise ValueError(f"kmeans: {n_clusters} clusters for only {n} samples")
    rng = np.random.default_rng(seed)
    centres = np.empty((n_clusters, x.shape[1]))
    centres[0] = x[rng.integers(n)]
    d2 = ((x - centres[0]) ** 2).sum(axis=1)
    for k in range(1, n_clusters):  # k-means++: next centre drawn with probability ~ squared distance
        total = d2.sum()
        centres[k] = x[rng.choice(n, p=d2 / total)] if total > 0 else x[rng.integers(n)]
        d2 = np.minimum(d2, ((x - centres[k]) ** 2).sum(axis=1))
    labels = np.full(n, -1)
    for _ in range(max_iter):
        new = _nearest_centre(x, centres)
        if np.array_equal(new, labels):
            break
        labels = new
        counts = np.bincount(labels, minlength=n_clusters)
        sums = np.stack([np.bincount(labels, weights=x[:, f], minlength=n_clusters) for f in range(x.shape[1])],
                        axis=1)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
    order = np.lexsort(centres.T[::-1])  # sort centres by first feature, then the next...
    rank = np.empty(n_clusters, dtype=np.int64)
    rank[order] = np.arange(n_clusters)
    return rank[labels]


@register
class KMeans(Command):
    """k-means clustering (Lloyd's algorithm, k-means++ start, fixed seed).

    With one input, each channel is a sample and its time samples are the
    features: labels ``(n_channels, 1)``. With ``gather_uids``, each dataset
    (the input last, as distpy) is flattened into one feature column, all cut
    to the smallest, and the labels take that dataset's shape.
    """

    name = "kmeans"
    family = "detection"
    summary = "k-means clusters: per channel (one input) or per sample over gathered datasets as features."
    inputs = "optional"
    time_local = False
    gpu = False
    changed_from_distpy = (
        "Own deterministic k-means (no scikit-learn); clusters numbered by increasing centre; one input gives "
        "(n_channels, 1) labels."
    )

    class Params(Params):
        n_clusters: int = Field(10, ge=1, description="number of clusters")
        seed: int = Field(0, description="random seed of the k-means++ start (raydas)")

    def apply(self, xp, x, ctx):
        k = self.params.n_clusters
        if not ctx.gathered:
            data = np.asarray(to_host(x), dtype=np.float64).reshape(x.shape[0], -1)
            return kmeans_labels(data, k, self.params.seed).reshape(-1, 1)
        arrays = [np.asarray(to_host(g)) for g in ctx.gathered] + [np.asarray(to_host(x))]
        shape = min((a.shape for a in arrays), key=lambda s: int(np.prod(s)))
        size = int(np.prod(shape))
        features = np.stack([a.reshape(-1)[:size].astype(np.float64) for a in arrays], axis=1)
        return kmeans_labels(features, k, self.params.seed).reshape(shape)

    def out_meta(self, x, out, ctx):
        meta = super().out_meta(x, out, ctx)
        return ArrayMeta(halo=(0, 0), positions=meta.positions, dt=meta.dt, spectra=())


@register
class Keras(Command):
    """Prediction with a saved Keras model (``model.predict(x)``, rows = samples).

    ``filename`` null passes the data through (as distpy). Loading uses Keras'
    safe mode (no arbitrary code from the file). Training inside a processing
    graph (distpy's ``train``, which overwrote the model file) is refused.
    """

    name = "keras"
    family = "detection"
    summary = "Predict with a saved Keras model (filename); null filename passes through. Needs the keras package."
    time_local = False
    gpu = False
    changed_from_distpy = "A missing keras package is an error (distpy passed the data through); training is refused."

    class Params(Params):
        filename: str | None = Field(None, description="saved Keras model (.keras / .h5); null = pass-through")
        train: dict[str, Any] | None = Field(None, description="not supported in raydas (must be null)")

        @field_validator("train")
        @classmethod
        def _no_training(cls, value):
            if value is not None:
                raise ValueError("training a model inside a processing graph is not supported; train it offline")
            return value

    def __init__(self, params, uid=0):
        super().__init__(params, uid)
        self._model = None
        if params.filename is not None and importlib.util.find_spec("keras") is None:
            raise ValueError("the keras command needs the keras package (pip install keras)")

    def apply(self, xp, x, ctx):
        if self.params.filename is None:
            return x
        if self._model is None:
            import keras

            self._model = keras.models.load_model(self.params.filename, safe_mode=True)
        return np.asarray(self._model.predict(np.asarray(to_host(x)), verbose=0), dtype=np.float32)
