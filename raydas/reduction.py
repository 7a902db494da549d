"""Partial stacks: what a reducing graph (one ending in ``stack_chunks``) keeps
between chunks, its checkpoints, and the groups it stacks over.

A processor actor adds each chunk's input of a ``stack_chunks`` node to a
:class:`Partial`: one :class:`Stack` per reducer and group (``all``, an hour,
a day: :func:`group_label`), each holding sums (or, for a robust stack, the
chunks' arrays) and the list of chunks that went in. Every few chunks the
driver has the actor write its partial as a *segment* and start an empty one::

    <results>/raydas-reduce/<run key>/segments/<name>.npz

Segments are disjoint: each chunk lies in one segment, or in an actor's
memory, never both. At the end of a run the driver has every actor write its
last segment, the segments are merged (a tree of Ray tasks,
:mod:`raydas.runtime.reduce`), and the commands after each reducer run on the
finished stacks. A killed driver resumes from the segments of the same graph
and settings (the *run key*); a killed actor's chunks since its last segment
are computed again. :func:`adopt` decides which segments on storage a run
trusts: those whose chunks are all in its plan, made from the same inputs
(each chunk's *token*, a digest of its provenance), and disjoint from each
other.

Segments are NumPy ``.npz`` files of plain arrays and a JSON header; they are
read with ``allow_pickle=False``.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import threading
import uuid
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .backend import to_host
from .commands.base import ArrayMeta, Coordinate, Spectrum
from .commands.stacking import linear_stack, phase_weighted_stack, robust_stack, unit_phasor
from .errors import RaydasError
from .fsutil import REDUCE_DIR
from .timeutil import NS_PER_S

#: version of the segment layout (a segment of another version is not adopted)
SEGMENT_VERSION = 1


class ReductionError(RaydasError):
    """A stack cannot take a chunk (another shape or other coordinates), or a segment cannot be read."""


# --- groups ---------------------------------------------------------------------------------------------
def group_label(start_ns: int, group: str) -> str:
    """The label of the stack a chunk starting at ``start_ns`` (ns UTC) goes into:
    ``all``, ``YYYY-MM-DD`` (``day``) or ``YYYY-MM-DDTHH`` (``hour``), UTC.

    >>> group_label(1_700_000_000 * 10**9, "day"), group_label(1_700_000_000 * 10**9, "hour")
    ('2023-11-14', '2023-11-14T22')
    """
    if group == "all":
        return "all"
    when = _dt.datetime.fromtimestamp(start_ns // NS_PER_S, tz=_dt.UTC)
    if group == "day":
        return when.strftime("%Y-%m-%d")
    if group == "hour":
        return when.strftime("%Y-%m-%dT%H")
    raise ValueError(f"group {group!r} is not one of all, hour, day")


def run_folder(run_key: str) -> str:
    """The folder (relative to the results root) of a reducing run's checkpoints."""
    return f"{REDUCE_DIR}/{run_key}"


def segment_path(run_key: str, name: str) -> str:
    """Where segment ``name`` of run ``run_key`` lies, relative to the results root."""
    return f"{run_folder(run_key)}/segments/{name}.npz"


def provenance_path(uid: int, label: str) -> str:
    """Where the list of chunks that went into a finished stack lies, relative to the results root."""
    return f"{REDUCE_DIR}/stacks/{uid}/{label}.json"


# --- one stack ------------------------------------------------------------------------------------------
@dataclass
class ChunkEntry:
    """A chunk that went into a stack: its output identity, provenance token, span (ns UTC) and files."""

    output_id: str
    token: str
    start_ns: int
    end_ns: int
    source: str = ""


@dataclass
class Stack:
    """The running stack of one reducer (``uid``) over one group (``label``).

    ``total`` is the sum of the chunks (float64, complex128 for complex input),
    ``phases`` the sum of their unit phasors (``pws``), ``items`` the chunks'
    own arrays (``robust``); arrays stay on the actor's device until written.
    """

    uid: int
    label: str
    method: str
    sample_rate: float
    meta: ArrayMeta
    total: Any = None
    phases: Any = None
    items: list = field(default_factory=list)
    chunks: list[ChunkEntry] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.chunks)

    @property
    def shape(self) -> tuple[int, ...]:
        if self.total is not None:
            return tuple(self.total.shape)
        return tuple(self.items[0].shape) if self.items else ()

    def add(self, xp, array, entry: ChunkEntry) -> None:
        """Add one chunk's array (on the actor's device)."""
        wide = xp.complex128 if array.dtype.kind == "c" else xp.float64
        if self.method == "robust":
            self.items.append(array.astype(xp.float32 if array.dtype.kind != "c" else xp.complex64, copy=True))
        else:
            self.total = array.astype(wide) if self.total is None else self.total + array.astype(wide)
            if self.method == "pws":
                phasor = unit_phasor(xp, array)
                self.phases = phasor if self.phases is None else self.phases + phasor
        self.chunks.append(entry)

    def check_fits(self, shape: tuple[int, ...], meta: ArrayMeta, output_id: str) -> None:
        """Raise :class:`ReductionError` when an array of ``shape`` and ``meta`` cannot join this stack."""
        if self.count and shape != self.shape:
            raise ReductionError(
                f"stack_chunks (uid {self.uid}) cannot add chunk {output_id}: its array is {shape}, the stack's "
                f"{self.shape} (every chunk must give the same shape: e.g. the last, shorter chunk of a recording "
                "gives a shorter spectrum)"
            )
        if not _same_coordinates(self.meta, meta):
            raise ReductionError(
                f"stack_chunks (uid {self.uid}) cannot add chunk {output_id}: its coordinates (channel pairs, lags, "
                "positions) differ from the stack's; stack records of one layout together"
            )

    def merge(self, other: Stack) -> None:
        """Take ``other``'s chunks into this stack (host arrays)."""
        if other.count == 0:
            return
        if self.count == 0:
            self.total, self.phases, self.items, self.meta = other.total, other.phases, list(other.items), other.meta
            self.chunks = list(other.chunks)
            return
        self.check_fits(other.shape, other.meta, other.chunks[0].output_id)
        if self.method == "robust":
            self.items.extend(other.items)
        else:
            self.total = self.total + other.total
            if self.method == "pws":
                self.phases = self.phases + other.phases
        self.chunks.extend(other.chunks)

    def result(self, params) -> np.ndarray:
        """The finished stack (host, float32 or complex64) with the ``stack_chunks`` parameters ``params``."""
        if self.method == "robust":
            items = np.stack([to_host(a) for a in self.items])
            out = robust_stack(np, items, params.robust_epsilon, params.robust_max_iterations)
        elif self.method == "pws":
            out = phase_weighted_stack(np, to_host(self.total), to_host(self.phases), self.count, params.pws_power)
        else:
            out = linear_stack(to_host(self.total), self.count)
        return out.astype(np.complex64 if np.iscomplexobj(out) else np.float32)

    def span(self) -> tuple[int, int]:
        """Earliest start and latest end of its chunks (ns UTC)."""
        return min(c.start_ns for c in self.chunks), max(c.end_ns for c in self.chunks)


def _same_coordinates(a: ArrayMeta, b: ArrayMeta) -> bool:
    if len(a.coords) != len(b.coords) or a.dt != b.dt:
        return False
    for x, y in zip(a.coords, b.coords):
        if (x.name, x.axis, x.units) != (y.name, y.axis, y.units) or not np.array_equal(
            np.asarray(x.values), np.asarray(y.values)
        ):
            return False
    pa, pb = a.positions, b.positions
    if (pa is None) != (pb is None):
        return False
    return pa is None or np.array_equal(np.asarray(to_host(pa)), np.asarray(to_host(pb)))


# --- an actor's partial -----------------------------------------------------------------------------------
class Partial:
    """Every running stack of one run in one actor (or merged from several), by ``(uid, label)``."""

    def __init__(self):
        self.stacks: dict[tuple[int, str], Stack] = {}
        #: names this partial (its chunks are lost with it when it is dropped or its actor dies)
        self.id = uuid.uuid4().hex[:12]
        self._lock = threading.Lock()  # GPU actors run two chunks at once

    def __getstate__(self):
        return {"stacks": self.stacks, "id": self.id}

    def __setstate__(self, state):
        self.stacks, self.id = state["stacks"], state["id"]
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Chunks in it (a chunk feeding two reducers counts once)."""
        return len(self.chunk_ids())

    def chunk_ids(self) -> set[str]:
        return {c.output_id for s in self.stacks.values() for c in s.chunks}

    def tokens(self) -> dict[str, str]:
        """Output identity -> provenance token of every chunk in it."""
        return {c.output_id: c.token for s in self.stacks.values() for c in s.chunks}

    def add(self, xp, command, uid: int, array, meta: ArrayMeta, chunk) -> None:
        """Add ``array`` (the input of reducer ``uid``, ``command`` its ``StackChunks``) of ``chunk``.

        Raises
        ------
        ReductionError
            When the array does not fit the stack it goes into.
        """
        meta = _host_meta(meta)
        label = group_label(chunk.start_ns, command.params.group)
        end_ns = chunk.start_ns + int(round(chunk.n_samples * chunk.dt * NS_PER_S))
        entry = ChunkEntry(
            chunk.output_id, str(chunk.attrs.get("reduce_token", "")), chunk.start_ns, end_ns, chunk.source
        )
        with self._lock:
            stack = self.stacks.get((uid, label))
            if stack is None:
                stack = Stack(uid, label, command.params.method, chunk.sample_rate, meta)
            stack.check_fits(tuple(array.shape), meta, chunk.output_id)
            if any(c.output_id == chunk.output_id for c in stack.chunks):
                raise ReductionError(f"stack_chunks (uid {uid}) was handed chunk {chunk.output_id} twice")
            stack.add(xp, array, entry)
            self.stacks[(uid, label)] = stack

    def merge(self, other: Partial) -> Partial:
        """Take ``other``'s stacks into this one; returns self.

        Raises
        ------
        ReductionError
            When a chunk would be counted twice, or two stacks do not fit.
        """
        twice = self.chunk_ids() & other.chunk_ids()
        if twice:
            raise ReductionError(
                f"{len(twice)} chunk(s) lie in two partial stacks (e.g. {sorted(twice)[0]}): refusing to count them "
                "twice"
            )
        for key, stack in other.stacks.items():
            mine = self.stacks.get(key)
            if mine is None:
                self.stacks[key] = Stack(stack.uid, stack.label, stack.method, stack.sample_rate, stack.meta)
                mine = self.stacks[key]
            mine.merge(stack)
        return self

    def take(self) -> Partial:
        """Everything in this partial, moved to a new one (this one is left empty)."""
        with self._lock:
            out = Partial()
            out.stacks, self.stacks = self.stacks, {}
            return out

    # --- segments -------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """This partial as a segment (``.npz`` bytes of host arrays and a JSON header)."""
        arrays: dict[str, np.ndarray] = {}
        header: dict[str, Any] = {"version": SEGMENT_VERSION, "stacks": []}
        for i, stack in enumerate(self.stacks.values()):
            entry = {
                "uid": stack.uid,
                "label": stack.label,
                "method": stack.method,
                "sample_rate": stack.sample_rate,
                "chunks": [[c.output_id, c.token, c.start_ns, c.end_ns, c.source] for c in stack.chunks],
                "meta": _meta_to_json(stack.meta, arrays, f"s{i}_"),
                "items": len(stack.items),
            }
            if stack.total is not None:
                arrays[f"s{i}_total"] = to_host(stack.total)
            if stack.phases is not None:
                arrays[f"s{i}_phases"] = to_host(stack.phases)
            if stack.items:
                arrays[f"s{i}_items"] = np.stack([to_host(a) for a in stack.items])
            header["stacks"].append(entry)
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_file(cls, fh, source: str, header_only: bool = False) -> Partial:
        """Read a segment (an open binary file); with ``header_only`` the stacks have no arrays.

        Raises
        ------
        ReductionError
            Naming ``source`` when it is not a segment raydas can read.
        """
        try:
            with np.load(fh, allow_pickle=False) as npz:
                header = json.loads(bytes(npz["header"]).decode())
                if header.get("version") != SEGMENT_VERSION:
                    raise ReductionError(f"{source}: a checkpoint segment of version {header.get('version')!r}")
                partial = cls()
                for i, entry in enumerate(header["stacks"]):
                    meta = ArrayMeta() if header_only else _meta_from_json(entry["meta"], npz, f"s{i}_")
                    stack = Stack(
                        int(entry["uid"]), str(entry["label"]), str(entry["method"]), float(entry["sample_rate"]), meta
                    )
                    stack.chunks = [
                        ChunkEntry(str(a), str(b), int(c), int(d), str(e)) for a, b, c, d, e in entry["chunks"]
                    ]
                    if not header_only:
                        stack.total = npz[f"s{i}_total"] if f"s{i}_total" in npz.files else None
                        stack.phases = npz[f"s{i}_phases"] if f"s{i}_phases" in npz.files else None
                        stack.items = list(npz[f"s{i}_items"]) if entry["items"] else []
                    partial.stacks[(stack.uid, stack.label)] = stack
                return partial
        except ReductionError:
            raise
        except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            raise ReductionError(f"{source}: not a readable checkpoint segment ({type(exc).__name__}: {exc})") from None


def _host_meta(meta: ArrayMeta) -> ArrayMeta:
    if meta.positions is None or isinstance(meta.positions, np.ndarray):
        return meta.trimmed()
    return ArrayMeta(positions=to_host(meta.positions), dt=meta.dt, spectra=meta.spectra, coords=meta.coords)


def _meta_to_json(meta: ArrayMeta, arrays: dict, prefix: str) -> dict:
    if meta.positions is not None:
        arrays[prefix + "positions"] = np.asarray(to_host(meta.positions))
    coords = []
    for j, c in enumerate(meta.coords):
        arrays[f"{prefix}coord{j}"] = np.asarray(c.values)
        coords.append([c.name, c.axis, c.units])
    spectra = []
    for j, s in enumerate(meta.spectra):
        if s.coords is not None:
            arrays[f"{prefix}spectrum{j}"] = np.asarray(to_host(s.coords))
        spectra.append([s.axis, s.n, s.d, s.onesided, s.coords is not None])
    return {"dt": meta.dt, "positions": meta.positions is not None, "coords": coords, "spectra": spectra}


def _meta_from_json(entry: dict, npz, prefix: str) -> ArrayMeta:
    coords = tuple(
        Coordinate(str(name), int(axis), npz[f"{prefix}coord{j}"], str(units))
        for j, (name, axis, units) in enumerate(entry["coords"])
    )
    spectra = tuple(
        Spectrum(int(axis), int(n), float(d), bool(onesided), npz[f"{prefix}spectrum{j}"] if has else None)
        for j, (axis, n, d, onesided, has) in enumerate(entry["spectra"])
    )
    positions = npz[prefix + "positions"] if entry["positions"] else None
    return ArrayMeta(positions=positions, dt=entry["dt"], spectra=spectra, coords=coords)


# --- which segments a run trusts ----------------------------------------------------------------------------
def adopt(segments: dict[str, dict[str, str]], wanted: dict[str, str]) -> tuple[list[str], list[str]]:
    """Which segments a run adopts, and which it sets aside.

    Parameters
    ----------
    segments
        Segment name -> its chunks (output identity -> provenance token).
    wanted
        The run's planned chunks (output identity -> the token they have now).

    Returns
    -------
    adopted, set_aside
        Adopted segments are disjoint, and hold only planned chunks with their
        current tokens; larger segments first, so that a merged segment wins over
        the pieces it was merged from (a run killed while compacting). The rest
        are set aside (left in place): their chunks (those not in an adopted
        segment) are computed again.
    """
    adopted: list[str] = []
    covered: set[str] = set()
    set_aside: list[str] = []
    for name in sorted(segments, key=lambda n: (-len(segments[n]), n)):
        chunks = segments[name]
        current = chunks and all(wanted.get(c) == t for c, t in chunks.items())
        if current and covered.isdisjoint(chunks):
            adopted.append(name)
            covered.update(chunks)
        else:
            set_aside.append(name)
    return adopted, set_aside
