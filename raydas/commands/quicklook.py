"""A quick-look PNG of a run's band energies (the noise log), drawn from the
WITSML files the run wrote: one panel per curve, depth down, time across.

The post-run step that ``write_witsml`` declares (:meth:`Command.after_run`).
A run over several recordings writes each one's files in its own folder
(``<folder>/<recording label>/<stem>.fbe``); the quick-look draws the
recording with the most chunks (the first of them on a tie)."""

from __future__ import annotations

import io
import posixpath

import numpy as np

from ..errors import RaydasError
from ..formats.witsml import parse_fbe
from ..fsutil import url_to_fs
from ..outputs import OutputSink
from ..timeutil import NS_PER_S

QUICKLOOK = "quicklook.png"


def largest_recording(output_ids: list[str]) -> tuple[str, list[str]]:
    """The recording label (the folder part of an output id, ``""`` in distpy's
    layout) with the most ``output_ids``, and its ids in order; the first on a tie."""
    groups: dict[str, list[str]] = {}
    for oid in output_ids:
        groups.setdefault(posixpath.dirname(oid), []).append(oid)
    if not groups:
        return "", []
    return max(groups.items(), key=lambda item: len(item[1]))


def collect_fbe(
    sink: OutputSink, folder: str, output_ids: list[str]
) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Stack the ``.fbe`` files of ``output_ids`` in ``folder``.

    Returns
    -------
    times_ns, curves, depth, values
        ``values`` has shape ``(n_curves, n_depths, n_files)``.
    """
    fs, _ = url_to_fs(sink.root)
    times, columns, curves, depth = [], [], None, None
    for oid in output_ids:
        url = sink.url(f"{folder}/{oid}.fbe")
        _, path = url_to_fs(url)
        if not fs.exists(path):
            continue
        t, names, d, v = parse_fbe(fs.cat_file(path), url)
        if curves is None:
            curves, depth = names, d
        elif names != curves or d.shape != depth.shape:
            raise RaydasError(f"{url}: curves or depths differ from the first file of {folder}")
        times.append(t)
        columns.append(v)
    if not columns:
        raise RaydasError(f"no .fbe files in {sink.url(folder)}")
    values = np.stack(columns, axis=2).transpose(1, 0, 2)
    return np.array(times, dtype=np.int64), curves, depth, values


def noise_log_quicklook(sink: OutputSink, folder: str, output_ids: list[str]) -> str:
    """Draw ``quicklook.png`` under the results root from the ``.fbe`` files of
    ``output_ids`` in ``folder`` (those of the recording with the most chunks); returns its URL.

    Raises
    ------
    RaydasError
        When the folder holds none of them, or their curves or depths differ.
    """
    from matplotlib.figure import Figure

    label, ids = largest_recording(output_ids)
    times, curves, depth, values = collect_fbe(sink, folder, ids)
    seconds = (times - times[0]) / NS_PER_S
    span = float(seconds[-1] + (seconds[1] - seconds[0] if len(seconds) > 1 else 1.0))
    fig = Figure(figsize=(3.2 * len(curves), 5.5), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(curves), squeeze=False)[0]
    for ax, name, panel in zip(axes, curves, values):
        with np.errstate(divide="ignore", invalid="ignore"):
            shown = np.log10(np.where(panel > 0, panel, np.nan))
        finite = shown[np.isfinite(shown)]
        lo, hi = np.percentile(finite, [2, 98]) if finite.size else (0, 1)
        image = ax.imshow(
            shown,
            aspect="auto",
            origin="upper",
            cmap="magma",
            vmin=lo,
            vmax=hi,
            extent=(0, span, float(depth[-1]), float(depth[0])),
            interpolation="nearest",
        )
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("time (s)")
        fig.colorbar(image, ax=ax, label="log10", location="bottom", shrink=0.9)
    axes[0].set_ylabel("depth (m)")
    fig.suptitle(f"{posixpath.join(folder, label)}: band energies from {len(times)} chunks")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return sink.write(QUICKLOOK, buf.getvalue())
