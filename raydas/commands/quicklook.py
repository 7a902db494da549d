"""A quick-look PNG of a run's band values (the noise log), drawn from the
WITSML files the run wrote: one panel per curve, depth down, UTC time across.

What it shows is what was computed, no more:

* each panel is titled with its band in Hz (``500 Hz to Nyquist``, not
  distpy's ``-1``), and its colour bar names the quantity (``RMS``, ``total
  energy``) when the graph says which command made it;
* each chunk is a column as long as the chunk (a short last chunk is drawn
  short) and a gap between chunks stays blank;
* panels of one quantity share one colour scale (log10, 2nd to 98th
  percentile of them all), so a flat band looks flat; each colour bar says so.

The post-run step that ``write_witsml`` declares (:meth:`Command.after_run`).
A run over several recordings writes each one's files in its own folder
(``<folder>/<recording label>/<stem>.fbe``); the quick-look draws the
recording with the most chunks (the first of them on a tie)."""

from __future__ import annotations

import io
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import RaydasError
from ..formats.witsml import parse_band_name, parse_fbe
from ..fsutil import url_to_fs
from ..outputs import OutputSink
from ..timeutil import NS_PER_S, to_iso
from .plotting import date_num, use_date_axis

QUICKLOOK = "quicklook.png"
#: what the values of a band command are, by the command (or multiple_calcs's func) that made them
QUANTITIES = {"rms_from_fft": "RMS", "te_from_fft": "total energy"}
#: the quantity of values no known command made
UNKNOWN_QUANTITY = "value"


def quantity_of(command) -> str:
    """What the values ``command`` makes are, in words (``"RMS"``, ``"total
    energy"``), or :data:`UNKNOWN_QUANTITY` (also for None: the data itself)."""
    if command is None:
        return UNKNOWN_QUANTITY
    name = getattr(command.params, "func", None) if command.name == "multiple_calcs" else command.name
    return QUANTITIES.get(name, UNKNOWN_QUANTITY)


def band_title(curve: str) -> str:
    """A panel title for the curve ``curve``: its band in Hz, or the curve's own label."""
    band = parse_band_name(curve)
    if band is None:
        return curve
    low, high = band
    return f"{low:g} Hz to Nyquist" if high is None else f"{low:g} to {high:g} Hz"


@dataclass
class NoiseLog:
    """The band values of a run, stacked from its ``.fbe`` files.

    Attributes
    ----------
    starts_ns, ends_ns
        Each chunk's span (ns, UTC): first own sample to the end of its last.
    curves
        Curve names, one per panel.
    depth
        Depth of each row (m).
    values
        Shape ``(n_curves, n_depths, n_chunks)``.
    ends_assumed
        True when the chunks' ends were not given, and each was taken to be the
        next chunk's start (the last one as long as the one before it).
    """

    starts_ns: np.ndarray
    ends_ns: np.ndarray
    curves: list[str]
    depth: np.ndarray
    values: np.ndarray
    ends_assumed: bool = False


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
    sink: OutputSink, folder: str, output_ids: list[str], spans: Sequence[tuple[int, int]] | None = None
) -> NoiseLog:
    """Stack the ``.fbe`` files of ``output_ids`` in ``folder`` (missing ones left out).

    Parameters
    ----------
    spans
        ``(start_ns, end_ns)`` of each chunk of ``output_ids``, in order; None takes
        each chunk to end where the next begins.

    Raises
    ------
    RaydasError
        When the folder holds none of them, or their curves or depths differ.
    """
    fs, _ = url_to_fs(sink.root)
    starts, ends, columns, curves, depth = [], [], [], None, None
    for k, oid in enumerate(output_ids):
        url = sink.url(f"{folder}/{oid}.fbe")
        _, path = url_to_fs(url)
        if not fs.exists(path):
            continue
        t, names, d, v = parse_fbe(fs.cat_file(path), url)
        if curves is None:
            curves, depth = names, d
        elif names != curves or d.shape != depth.shape:
            raise RaydasError(f"{url}: curves or depths differ from the first file of {folder}")
        starts.append(t)
        ends.append(spans[k][1] if spans is not None else None)
        columns.append(v)
    if not columns:
        raise RaydasError(f"no .fbe files in {sink.url(folder)}")
    starts_ns = np.array(starts, dtype=np.int64)
    assumed = spans is None
    if assumed:
        step = int(np.median(np.diff(starts_ns))) if len(starts_ns) > 1 else NS_PER_S
        ends = [*starts_ns[1:], starts_ns[-1] + step]
    values = np.stack(columns, axis=2).transpose(1, 0, 2)
    return NoiseLog(starts_ns, np.array(ends, dtype=np.int64), curves, depth, values, ends_assumed=assumed)


def time_columns(starts_ns: np.ndarray, ends_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column edges along time and, for each column, the chunk it shows (-1: a gap).

    Returns
    -------
    edges_ns, chunk
        ``edges_ns`` (ns, UTC) has one more entry than ``chunk``.
    """
    edges, chunk = [int(starts_ns[0])], []
    for k, (start, end) in enumerate(zip(starts_ns, ends_ns)):
        if start > edges[-1]:  # a gap before this chunk
            chunk.append(-1)
            edges.append(int(start))
        chunk.append(k)
        edges.append(int(max(end, start + 1)))
    return np.array(edges, dtype=np.int64), np.array(chunk)


def shared_limits(panels: Sequence[np.ndarray]) -> tuple[float, float]:
    """One colour scale for ``panels`` (log10 values): their 2nd and 98th percentiles together."""
    finite = np.concatenate([p[np.isfinite(p)] for p in panels]) if panels else np.array([])
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [2, 98])
    return (float(lo), float(hi)) if hi > lo else (float(lo) - 0.5, float(hi) + 0.5)


def noise_log_figure(log: NoiseLog, folder: str, quantities: Sequence[str] | None = None):
    """The quick-look figure of ``log`` (a matplotlib Figure; see the module docstring).

    Parameters
    ----------
    quantities
        What each curve's values are (``"RMS"``...), one per curve; None (or
        another count): not known.
    """
    from matplotlib.figure import Figure

    n = len(log.curves)
    quantities = list(quantities) if quantities is not None and len(quantities) == n else [UNKNOWN_QUANTITY] * n
    with np.errstate(divide="ignore", invalid="ignore"):
        shown = np.log10(np.where(log.values > 0, log.values, np.nan))
    edges_ns, chunk = time_columns(log.starts_ns, log.ends_ns)
    columns = np.where(chunk[None, None, :] >= 0, shown[:, :, np.maximum(chunk, 0)], np.nan)
    depth_edges = _edges(np.asarray(log.depth, dtype=np.float64))
    fig = Figure(figsize=(3.2 * n, 5.8), dpi=100, layout="constrained")
    axes = fig.subplots(1, n, squeeze=False, sharey=True)[0]
    for quantity in dict.fromkeys(quantities):
        members = [i for i in range(n) if quantities[i] == quantity]
        lo, hi = shared_limits([shown[i] for i in members])
        for i in members:
            ax = axes[i]
            mesh = ax.pcolormesh(
                date_num(edges_ns), depth_edges, columns[i], cmap="magma", vmin=lo, vmax=hi, shading="flat"
            )
            ax.set_title(band_title(log.curves[i]), fontsize=9)
            use_date_axis(ax, "%H:%M:%S")
            ax.set_xlim(date_num(edges_ns[0]), date_num(edges_ns[-1]))
            ax.tick_params(axis="x", labelrotation=45, labelsize=7)
            ax.set_xlabel("time (UTC)")
            shared = f"one scale for {len(members)} panels" if len(members) > 1 else "this panel's scale"
            fig.colorbar(mesh, ax=ax, label=f"log10 {quantity}, {shared}", location="bottom", shrink=0.9)
    axes[0].set_ylim(depth_edges.max(), depth_edges.min())
    axes[0].set_ylabel("depth (m)")
    what = " / ".join(dict.fromkeys(q for q in quantities if q != UNKNOWN_QUANTITY)) or "values"
    note = "; chunk ends assumed" if log.ends_assumed else ""
    fig.suptitle(
        f"{folder}: band {what} of {len(log.starts_ns)} chunks from {_utc(log.starts_ns[0])}{note}",
        fontsize=10,
    )
    return fig


def _utc(ns) -> str:
    """``2025-06-01 12:00:00.5 UTC``: an instant for a title (fraction of a second only when there is one)."""
    iso = to_iso(int(ns)).rstrip("Z").replace("T", " ")
    whole, _, fraction = iso.partition(".")
    fraction = fraction.rstrip("0")
    return f"{whole}{'.' + fraction if fraction else ''} UTC"


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around ``centres`` (m): half-way between neighbours, half a step beyond the ends."""
    if centres.size == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    middle = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[2 * centres[0] - middle[0]], middle, [2 * centres[-1] - middle[-1]]])


def noise_log_quicklook(
    sink: OutputSink,
    folder: str,
    output_ids: list[str],
    spans: Sequence[tuple[int, int]] | None = None,
    quantities: Sequence[str] | None = None,
) -> str:
    """Draw ``quicklook.png`` under the results root from the ``.fbe`` files of
    ``output_ids`` in ``folder`` (those of the recording with the most chunks); returns its URL.

    Parameters
    ----------
    spans
        ``(start_ns, end_ns)`` of each chunk of ``output_ids`` (see :func:`collect_fbe`).
    quantities
        What each curve's values are, one per curve (see :func:`noise_log_figure`).

    Raises
    ------
    RaydasError
        When the folder holds none of them, or their curves or depths differ.
    """
    label, ids = largest_recording(output_ids)
    if spans is not None:
        span_of = dict(zip(output_ids, spans))
        spans = [span_of[oid] for oid in ids]
    shown = posixpath.join(folder, label) if label else folder
    figure = noise_log_figure(collect_fbe(sink, folder, ids, spans), shown, quantities)
    buf = io.BytesIO()
    figure.savefig(buf, format="png", bbox_inches="tight")
    return sink.write(QUICKLOOK, buf.getvalue())
