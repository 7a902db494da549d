"""Output identity: what every output of a run is named by, and the one check
that no two planned outputs share a path.

Every planned chunk gets an ``output_id``; writers name its files
``<directory_out>/<output_id>.<suffix>`` (the chunk store ``<store>/<output_id>.npy``)::

    <recording label>/<unixtime>     raydas's layout ("records", the default)
    <unixtime>                       distpy's layout ("distpy"), where it is unambiguous

The *recording label* names the record a recording starts with: its file's
path relative to the folder the input names (``segy/f3.sgy``), plus the record
inside the file (its stream, else its key) when the file holds several
(``hdf5/prodml_fbe_1.h5/Fbe_0_0.4883-10.25_Hz``); characters other than
letters, digits, ``.``, ``_`` and ``-`` become ``_``. Two recordings that
would share a label (a file split by a gap) get ``@<unixtime of their start>``
appended. The same inputs always give the same names.

distpy's layout puts every chunk of a run in one folder, which is unambiguous
only when no two chunks start at the same time and all recordings share one
channel layout and sample interval (the folder's ``measured_depth.npy`` and
``time.npy`` describe them all). Where it is not, the run falls back to the
per-recording folders and says so (:func:`name_outputs` returns the warning).

Files shared by all chunks of an output folder (distpy's axis files) are
written by one chunk of it: the first in plan order (``writes_shared``).

:func:`check_unique` is the check every mode (run, ingest, process, watch)
goes through, in :meth:`raydas.runtime.Run.plan`, before any work.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from . import formats
from .errors import PlanError, RaydasError
from .fsutil import input_root, url_to_fs
from .recording import ChunkPlan, Recording
from .timeutil import unix_stem

#: the output layouts a run config may name (``output_layout``)
LAYOUTS = ("records", "distpy")
#: longest path segment a label keeps (longer ones are cut and get a digest)
MAX_SEGMENT = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class OutputLayout:
    """How a run names its outputs.

    Attributes
    ----------
    style
        ``"records"`` (per-recording folders) or ``"distpy"`` (distpy's flat
        ``<unixtime>`` names where unambiguous).
    roots
        The folders the run's inputs name (:func:`raydas.fsutil.input_root`):
        labels are file paths relative to their common folder.
    """

    style: str = "records"
    roots: tuple[str, ...] = ()

    @classmethod
    def for_inputs(cls, style: str, spec: str | Sequence[str]) -> OutputLayout:
        """The layout ``style`` for a run reading ``spec`` (path, glob, folder, URL or list)."""
        items = [spec] if isinstance(spec, str) else list(spec)
        roots = []
        for item in items:
            try:
                roots.append(input_root(item))
            except (ValueError, ImportError, OSError):  # a source URL (synthetic://) names no folder
                continue
        return cls(style, tuple(roots))


# --- labels -------------------------------------------------------------------------------------
def segment(text: str) -> str:
    """``text`` as one safe path segment: letters, digits, ``.``, ``_`` and ``-`` only,
    not hidden, at most :data:`MAX_SEGMENT` characters (a digest keeps long ones apart)."""
    safe = _UNSAFE.sub("_", str(text)).strip("_").lstrip(".") or "_"
    if len(safe) > MAX_SEGMENT:
        digest = hashlib.sha256(str(text).encode()).hexdigest()[:8]
        safe = f"{safe[: MAX_SEGMENT - 9]}~{digest}"
    return safe


def _location(url: str) -> tuple[str, str] | None:
    """``(protocol, path)`` of a URL or local path; None for what no file system serves (source URLs)."""
    try:
        fs, path = url_to_fs(url)
    except (ValueError, ImportError):
        return None
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol, path.rstrip("/") or "/"


def _common_root(roots: Sequence[str]) -> tuple[str, str] | None:
    """The deepest folder holding every root, as ``(protocol, path)``; None when they share none."""
    found = [loc for loc in (_location(r) for r in roots) if loc is not None]
    if not found or len({p for p, _ in found}) > 1:
        return None
    paths = [path for _, path in found]
    try:
        common = posixpath.commonpath(paths)
    except ValueError:  # absolute and relative paths mixed
        return None
    return found[0][0], common


def _relative(url: str, root: tuple[str, str] | None) -> str:
    """``url``'s path below ``root`` ('/'-separated); its last part when it is the root itself."""
    loc = _location(url)
    if loc is None:  # a source URL: the URL is the identity
        return url.replace("://", "/", 1)
    path = loc[1]
    if root is not None and root[0] == loc[0]:
        if path == root[1]:
            return posixpath.basename(path) or path
        prefix = root[1].rstrip("/") + "/"
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path.lstrip("/")


def _record_part(record) -> str:
    """What tells a record apart from the others of its file: its stream, else its key
    (the key of a container's record names a chunk file, not a record)."""
    try:
        container = formats.get_format(record.format).container
    except RaydasError:
        container = False
    return record.stream if container else (record.stream or record.key)


def recording_labels(recordings: Sequence[Recording], roots: Sequence[str] = ()) -> list[str]:
    """The label of each recording (see the module's docstring), in order.

    Parameters
    ----------
    recordings
        The run's recordings (every record of a file among them: a file's
        records are told apart only when it holds several).
    roots
        The folders the inputs name; labels are paths relative to their common folder.
    """
    root = _common_root(roots)
    parts: dict[str, set[str]] = {}
    for rec in recordings:
        for r in rec.records:
            parts.setdefault(r.path, set()).add(_record_part(r))
    labels = []
    for rec in recordings:
        first = rec.first
        if "label" in first.attrs:  # a chunk store's record: the label it was stored under
            text = first.attrs["label"] or _relative(first.path, root)
        else:
            text = _relative(first.path, root)
            part = _record_part(first)
            if part and len(parts[first.path]) > 1:
                text = f"{text}/{part}"
        labels.append("/".join(segment(s) for s in text.split("/") if s))
    seen: dict[str, int] = {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
    return [
        f"{label}@{unix_stem(rec.start_ns)}" if seen[label] > 1 else label for label, rec in zip(labels, recordings)
    ]


# --- output ids ---------------------------------------------------------------------------------
def _why_not_flat(plans: Sequence[ChunkPlan], recordings: Sequence[Recording], labels: list[str]) -> str:
    """Why distpy's one-folder layout would be ambiguous for ``plans``; ``""`` when it is not."""
    first_of: dict[str, ChunkPlan] = {}
    for plan in plans:
        other = first_of.setdefault(plan.stem, plan)
        if other.recording_index != plan.recording_index:
            return (
                f"chunks of {labels[other.recording_index]} and {labels[plan.recording_index]} both start at "
                f"{plan.stem}"
            )
    shapes = {
        (rec.n_channels, round(rec.dt * 1e9), tuple(np.round(rec.positions, 3))) for rec in recordings if rec.records
    }
    if len(shapes) > 1:
        return f"{len(recordings)} recordings with {len(shapes)} different channel layouts or sample rates"
    return ""


def name_outputs(plans: Sequence[ChunkPlan], recordings: Sequence[Recording], layout: OutputLayout) -> list[str]:
    """Give every plan its ``output_id`` and pick, per output folder, the one plan that
    writes the folder's shared files (``writes_shared``); in place.

    Returns
    -------
    list of str
        Warnings: distpy's layout was asked for but is ambiguous, so the outputs
        went to per-recording folders (and why).
    """
    if layout.style not in LAYOUTS:
        raise ValueError(f"unknown output layout {layout.style!r}; use one of {', '.join(LAYOUTS)}")
    labels = recording_labels(recordings, layout.roots)
    flat = layout.style == "distpy"
    warnings = []
    if flat and (why := _why_not_flat(plans, recordings, labels)):
        flat = False
        warnings.append(
            "distpy's layout <directory_out>/<unixtime> would be ambiguous here "
            f"({why}): outputs go to per-recording folders <directory_out>/<recording>/<unixtime> instead"
        )
    for plan in plans:
        plan.output_id = plan.stem if flat else f"{labels[plan.recording_index]}/{plan.stem}"
    pick_shared_writers(plans)
    return warnings


def pick_shared_writers(plans: Sequence[ChunkPlan]) -> None:
    """Mark, per output folder, the first of ``plans`` (in order) as the one that writes
    the folder's shared files (``writes_shared``) and the others not; in place. Called
    again on the chunks a run keeps, so that a chunk dropped at planning (too short for
    the graph, say) does not take its folder's axis files with it."""
    folders: set[str] = set()
    for plan in plans:
        folder = posixpath.dirname(plan.output_id)
        plan.writes_shared = folder not in folders
        folders.add(folder)


def check_unique(plans: Sequence[ChunkPlan], files_of: Callable[[ChunkPlan], list[str]]) -> None:
    """Refuse a plan in which two outputs share a path (or a plan has no output identity).

    Parameters
    ----------
    plans
        Every chunk the run plans (named by :func:`name_outputs`).
    files_of
        The files (relative to the outputs' root) a plan leaves when done.

    Raises
    ------
    PlanError
        Naming the first shared path, the chunks and the files they come from,
        and how many paths are shared.
    """
    owner: dict[str, ChunkPlan] = {}
    clashes: list[tuple[str, ChunkPlan, ChunkPlan]] = []
    for plan in plans:
        if not plan.output_id:
            raise PlanError(f"chunk {plan.index} ({plan.stem}) has no output identity: plan it with Run.plan")
        for path in files_of(plan):
            if path in owner:
                clashes.append((path, owner[path], plan))
            else:
                owner[path] = plan
    if clashes:
        path, a, b = clashes[0]
        raise PlanError(
            f"{len(clashes)} planned output path(s) would be written twice, e.g. {path} by chunk {a.output_id} "
            f"(from {'; '.join(a.sources)}) and chunk {b.output_id} (from {'; '.join(b.sources)}); nothing was run"
        )
