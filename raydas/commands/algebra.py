"""Several inputs into one: sums, products, side-by-side gathers, and the
machine-learning commands (k-means clustering, keras models).

``add`` and ``multiply`` work sample by sample, so they keep the halo of their
inputs (time-local); ``gather``, ``kmeans`` and ``keras`` see one chunk at a
time. ``kmeans`` needs the optional extra ``raydas[ml]`` (scikit-learn) and
``keras`` the extra ``raydas[keras]``; both run on the host.
"""

from __future__ import annotations

import os
import tempfile
import threading
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..backend import to_host
from ..errors import FormatError, RaydasError
from ..outputs import OutputSink, safe_relative
from . import register
from .base import Command, Layout, Params
from .common import need_at_least, time_or_channel_axis


def same_precision(xp, out):
    """float32 / complex64 results, whatever precision the inputs had."""
    return out.astype(xp.complex64 if xp.iscomplexobj(out) else xp.float32, copy=False)


def gathered_operand(xp, x, y, axis: int | None, who: str):
    """The gathered operand ``y`` shaped to combine with ``x`` sample by sample.

    ``axis=None``: ``y`` must broadcast against ``x`` (same shape, a column
    ``(channels, 1)`` or a row ``(1, samples)``). ``axis=0``: ``y`` holds one
    value per channel (row of ``x``); ``axis=1``: one value per column.
    """
    y = xp.asarray(y)
    if axis is None:
        try:
            np.broadcast_shapes(tuple(x.shape), tuple(y.shape))
        except ValueError:
            raise ValueError(
                f"{who}: gathered input of shape {tuple(y.shape)} does not match the input's {tuple(x.shape)} "
                "(give axis 0 or 1 to scale rows or columns by a vector)"
            ) from None
        return y
    if y.size != x.shape[axis]:
        raise ValueError(
            f"{who} along axis {axis}: gathered input has {y.size} values but the input has {x.shape[axis]} "
            f"{'channels' if axis == 0 else 'columns'}"
        )
    return y.reshape((-1, 1) if axis == 0 else (1, -1))


@register
class Add(Command):
    """``x + gather[0]``, sample by sample (broadcasting a column or row)."""

    name = "add"
    family = "algebra"
    description = "Sample-by-sample sum x + gather_uids[0]."
    inputs = "gather"
    needs_regular_time = False
    keeps_layout = True

    def apply(self, xp, x, ctx):
        return same_precision(xp, x + gathered_operand(xp, x, ctx.gathered[0], None, "add"))


@register
class Multiply(Command):
    """``x * gather[0]``, sample by sample; with ``axis`` 0 (or 1) every row
    (column) of ``x`` is scaled by the matching value of a vector."""

    name = "multiply"
    family = "algebra"
    description = "Sample-by-sample product x * gather_uids[0]; axis=0/1 scales rows/columns by a vector."
    inputs = "gather"
    needs_regular_time = False
    keeps_layout = True
    changed_from_distpy = "axis=0 scales each channel (distpy's axis=0 returned the input unchanged)."

    class Params(Params):
        axis: Literal[0, 1, -1] | None = Field(
            None, description="None: same shape (or broadcast); 0: one factor per channel; 1 (or -1): one per column"
        )

    def apply(self, xp, x, ctx):
        axis = time_or_channel_axis(self.params.axis)
        return same_precision(xp, x * gathered_operand(xp, x, ctx.gathered[0], axis, "multiply"))


@register
class Gather(Command):
    """The input and every ``gather_uids`` result side by side (columns); a
    1-D input becomes one column. All must have one row per channel. Per chunk."""

    name = "gather"
    family = "algebra"
    description = "Concatenate the input and every gather_uids result as columns (one row per channel); per chunk."
    inputs = "gather"
    time_local = False
    needs_regular_time = False

    def layout_after(self, layout):
        return Layout(layout.sample_rate, channels=layout.channels)

    def apply(self, xp, x, ctx):
        parts = []
        for i, part in enumerate([x, *ctx.gathered]):
            part = xp.asarray(part)
            part = part.reshape(-1, 1) if part.ndim == 1 else part
            if part.ndim != 2 or part.shape[0] != x.shape[0]:
                which = "the input" if i == 0 else f"gather_uids[{i - 1}]"
                raise ValueError(f"gather: {which} has shape {tuple(part.shape)}, not {x.shape[0]} rows")
            parts.append(part)
        return same_precision(xp, xp.concatenate(parts, axis=1))


def _require(module: str, extra: str, what: str):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise RaydasError(f"{what} needs the optional extra: pip install 'raydas[{extra}]'") from None


@register
class KMeans(Command):
    """k-means clustering (scikit-learn) of the chunk.

    One input: each channel is a sample and its columns the features; the
    result is one cluster label per channel, shape ``(channels, 1)``. With
    ``gather_uids``: every input is flattened into one feature column (all cut
    to the smallest size) and the labels are shaped like the smallest input.
    Labels are 0..n_clusters-1 as float32; their numbering is arbitrary and may
    differ from chunk to chunk. Seeded, so a chunk always gets the same labels.
    Per chunk, on the host. Needs ``pip install 'raydas[ml]'``.
    """

    name = "kmeans"
    family = "algebra"
    description = "k-means cluster label per channel (or per sample with gather_uids); needs raydas[ml]; per chunk."
    inputs = "optional"
    time_local = False
    gpu = False
    changed_from_distpy = "One label per channel comes back as a (channels, 1) column; seeded (random_state=0)."

    class Params(Params):
        n_clusters: int = Field(10, ge=1, description="number of clusters")

    def check_layout(self, layout, gathered=()):
        k = self.params.n_clusters
        if not gathered:
            need_at_least(layout.channels, k, "channels", f"{k} clusters")
            return
        sizes = [g.channels * g.samples for g in (layout, *gathered) if g.channels and g.samples]
        if len(sizes) == 1 + len(gathered):  # every input's size is known: the smallest makes the samples
            need_at_least(min(sizes), k, "values in the smallest input", f"{k} clusters")

    def apply(self, xp, x, ctx):
        cluster = _require("sklearn.cluster", "ml", "kmeans")
        inputs = [np.asarray(to_host(a)) for a in [*ctx.gathered, x]]
        if any(a.dtype.kind == "c" for a in inputs):
            raise ValueError("kmeans needs real values: take abs, real or angle of complex data first")
        if ctx.gathered:
            shape = min((a.shape for a in inputs), key=lambda s: int(np.prod(s)))
            size = int(np.prod(shape))
            features = np.stack([a.reshape(-1)[:size] for a in inputs], axis=1)
        else:
            features = x.reshape(x.shape[0], -1)
            shape = (x.shape[0], 1)
        if features.shape[0] < self.params.n_clusters:
            raise ValueError(f"kmeans: {features.shape[0]} samples cannot make {self.params.n_clusters} clusters")
        model = cluster.KMeans(n_clusters=self.params.n_clusters, n_init=10, random_state=0)
        labels = model.fit_predict(features.astype(np.float64))
        return labels.reshape(shape).astype(np.float32)


def keras_module():
    """The keras module, picking the jax backend when tensorflow is absent."""
    if "KERAS_BACKEND" not in os.environ:
        try:
            import tensorflow  # noqa: F401
        except ImportError:
            os.environ["KERAS_BACKEND"] = "jax"
    return _require("keras", "keras", "the keras command")


class KerasTraining(BaseModel):
    """distpy's ``train`` dictionary of the ``keras`` command."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(150, ge=1, description="passes over the chunk")
    batch_size: int = Field(10, ge=1, description="rows (channels) per gradient step")


@register
class Keras(Command):
    """Predict with a saved keras model; optionally train it first.

    ``filename`` is the model file (``.keras``), a path under the results root
    (the one path check of :func:`raydas.outputs.safe_relative`: no absolute
    path, ``..``, ``~`` or URL), as ``data_load``'s stored arrays are. The model
    is read once per process with keras's safe mode (no arbitrary code). With
    ``train`` (e.g. ``{"epochs": 150, "batch_size": 10}``) the model is first
    fitted on ``(x, gather_uids[0])`` and saved back to the same file
    (atomically, never through a link) after every chunk, as distpy did: run
    such a pipeline on one actor, since parallel actors would each train their
    own copy. Rows (channels) are the samples given to the model. With
    ``filename = NONE`` the input is passed on. Per chunk, on the host. Needs
    ``pip install 'raydas[keras]'``.
    """

    name = "keras"
    family = "algebra"
    description = (
        "Predict (optionally train first on gather_uids[0]) with a saved keras model under the results root; "
        "needs raydas[keras]."
    )
    inputs = "optional"
    time_local = False
    gpu = False
    changed_from_distpy = (
        "A missing keras or model file is an error (distpy passed the data through silently); the model file "
        "lies under the results root (distpy took any path, and training overwrote it wherever it was); train "
        "takes epochs and batch_size only and needs gather_uids (checked with the config); a chunk whose length "
        "a loaded model does not take (the last, short one) is refused."
    )

    class Params(Params):
        filename: str | None = Field(
            "NONE",
            description="saved keras model (.keras), a path under the results root; NONE (or null) passes the input on",
        )
        train: KerasTraining | None = Field(
            None, description="train before predicting: {'epochs': 150, 'batch_size': 10}; targets from gather_uids[0]"
        )

        @field_validator("filename")
        @classmethod
        def _inside_results(cls, value: str | None) -> str:
            if value in (None, "NONE"):
                return "NONE"
            relative = safe_relative(value)
            if not relative:
                raise ValueError(f"{value!r}: name the model file under the results root")
            return relative

    def __init__(self, params, uid=0):
        super().__init__(params, uid)
        self._model = None
        self._lock = threading.Lock()

    def gathers_needed(self) -> int:
        """Training needs its targets in gather_uids[0]."""
        return 1 if self.params.train is not None else 0

    def check_layout(self, layout, gathered=()):
        """The model takes one chunk's samples per channel as its features: a chunk of another length
        (the last, short one of a record) cannot be fed to it. Checked once the model is loaded (it lies
        under the results root, which planning does not open)."""
        if self.params.filename == "NONE" or layout.samples is None or self._model is None:
            return
        features = (getattr(self._model, "input_shape", None) or (None,))[-1]
        if features is not None and layout.samples != features:
            raise ValueError(
                f"the model {self.params.filename} takes {features} values per channel; "
                f"a chunk has {layout.samples} samples"
            )

    def load_inputs(self, sink) -> None:
        """Load the saved model from under the results root (planning checks chunks against it)."""
        if self.params.filename != "NONE":
            with self._lock:
                self.model(sink)

    def model(self, sink: OutputSink | None):
        """The keras model, read from under the results root ``sink`` on first use."""
        if self._model is None:
            if sink is None:
                raise ValueError("keras reads its model under the results root: run the pipeline with an output folder")
            keras = keras_module()
            try:
                payload = sink.read(self.params.filename)
            except FileNotFoundError:
                raise FormatError(sink.url(self.params.filename), "keras model file not found") from None
            suffix = os.path.splitext(self.params.filename)[1] or ".keras"
            with tempfile.TemporaryDirectory() as folder:
                local = os.path.join(folder, f"model{suffix}")
                with open(local, "wb") as fh:
                    fh.write(payload)
                try:
                    self._model = keras.models.load_model(local, safe_mode=True)
                except Exception as exc:
                    raise FormatError(sink.url(self.params.filename), f"not a loadable keras model ({exc})") from None
        return self._model

    def apply(self, xp, x, ctx):
        if self.params.filename == "NONE":
            return x
        data = np.asarray(to_host(x), dtype=np.float32)
        with self._lock:
            model = self.model(ctx.sink)
            if self.params.train is not None:
                if not ctx.gathered:
                    raise ValueError("keras with train needs the targets in gather_uids[0]")
                target = np.asarray(to_host(ctx.gathered[0]), dtype=np.float32)
                model.fit(
                    data, target, epochs=self.params.train.epochs, batch_size=self.params.train.batch_size, verbose=0
                )
                self._save(model, ctx.sink)
            out = model.predict(data, verbose=0)
        return np.asarray(out, dtype=np.float32)

    def _save(self, model, sink: OutputSink) -> None:
        with tempfile.TemporaryDirectory() as folder:
            local = os.path.join(folder, "model.keras")
            model.save(local)
            with open(local, "rb") as fh:
                sink.write(self.params.filename, fh.read())
