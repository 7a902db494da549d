"""Compile distpy-style ``command_list`` JSON into a validated graph and run it
on chunks.

A processing config is ``{"command_list": [{"name", "uid", "in_uid",
"gather_uids"?, <parameters>}, ...]}``. uid 0 is the chunk itself. The graph
may be listed in any order; it runs in topological order, each intermediate
freed as soon as its last consumer has run.

Errors name the JSON path of the culprit: an unknown command, a uid used
twice, an ``in_uid`` or ``gather_uids`` entry pointing nowhere, a cycle, a
parameter of the wrong type.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np
from pydantic import ValidationError

from . import commands
from .backend import to_device, to_host
from .chunk import Chunk
from .commands.base import ArrayMeta, Command, Context, Layout
from .configfile import load_json, validation_error
from .errors import ConfigError, PipelineError, PlanError, RaydasError
from .outputs import OutputSink, check_not_reserved

if TYPE_CHECKING:
    from .formats.base import RecordInfo
    from .reduction import Partial

log = logging.getLogger(__name__)

#: keys distpy puts in a command's JSON that are not parameters.
GRAPH_KEYS = {"name", "uid", "in_uid", "gather_uids", "comment", "formatting", "band00", "command", "directory_in"}
#: keys distpy injects at run time (ignored when a config carries them).
INJECTED_KEYS = {
    "nx",
    "nt",
    "prf",
    "xaxis",
    "taxis",
    "date_dir",
    "datestring",
    "f_rescale",
    "inline_plots",
    "BOXSIZE",
    "commands",
}


@dataclass
class Node:
    """One command in the graph."""

    uid: int
    command: Command
    in_uid: int
    gather_uids: list[int]
    json_path: str

    @property
    def inputs(self) -> list[int]:
        return [self.in_uid, *self.gather_uids]


class Value:
    """An intermediate array with its metadata and a scratch cache."""

    __slots__ = ("array", "meta", "cache", "_core")

    def __init__(self, array, meta: ArrayMeta):
        self.array = array
        self.meta = meta
        self.cache: dict = {}
        self._core = None

    def core(self) -> Value:
        """This value without its halo (a view; memoised)."""
        before, after = self.meta.halo
        if before == 0 and after == 0:
            return self
        if self._core is None:
            n = self.array.shape[1]
            self._core = Value(self.array[:, before : n - after], self.meta.trimmed())
        return self._core


#: what a run does with NaN and infinite samples (``nan_policy``): leave them (results there are NaN),
#: set them to 0 before processing, or fail the chunk
NanPolicy = Literal["propagate", "zero", "fail"]
NAN_POLICIES: tuple[str, ...] = get_args(NanPolicy)


@dataclass(frozen=True)
class NonFinite:
    """The NaN and infinite samples of one chunk, found before its pipeline ran.

    Attributes
    ----------
    samples
        How many of the chunk's own samples (halo excluded) are NaN or infinite.
    channels
        Indices of the channels (rows of the chunk) holding them, ascending.
    in_halo
        How many more lie in its halo (samples of the neighbouring chunks, which
        count them as theirs).
    """

    samples: int
    channels: tuple[int, ...]
    in_halo: int = 0

    def describe(self) -> str:
        """E.g. ``12 NaN/Inf sample(s) on 2 channel(s) (0, 5)``."""
        shown = ", ".join(str(c) for c in self.channels[:8]) + (", ..." if len(self.channels) > 8 else "")
        halo = f", {self.in_halo} more in its halo" if self.in_halo else ""
        return f"{self.samples} NaN/Inf sample(s) on {len(self.channels)} channel(s) ({shown}){halo}"


def find_nonfinite(xp, data, halo: tuple[int, int]) -> NonFinite | None:
    """The NaN and infinite samples of ``data`` (a chunk with ``halo`` samples of its
    neighbours at each end), or None when every sample is finite.

    One pass over the chunk when all is well (``isfinite(...).all()``, on the
    device with cupy); the counts are made only when something is not finite.
    Integer data are always finite.
    """
    if data.dtype.kind not in "fc" or bool(xp.isfinite(data).all()):
        return None
    bad = ~xp.isfinite(data)
    before, after = halo
    own = bad[:, before : bad.shape[1] - after]
    samples = int(own.sum())
    channels = tuple(int(c) for c in to_host(xp.nonzero(own.any(axis=1))[0]))
    return NonFinite(samples=samples, channels=channels, in_halo=int(bad.sum()) - samples)


@dataclass
class ChunkResult:
    """What running a pipeline on one chunk produced (small: goes back to the driver).

    Attributes
    ----------
    stem, index, output_id
        The chunk's unix-time stem, index and output identity.
    written
        The files written (relative to the results root), as the writers declare them.
    sizes
        Bytes of each file written.
    seconds
        Seconds spent in each command.
    nonfinite
        The NaN and infinite samples the chunk carried (None: none).
    values
        The results of the nodes :meth:`Pipeline.run` was asked to keep (uid ->
        host array and its metadata, halo trimmed); empty in runs.
    """

    stem: str
    index: int
    output_id: str = ""
    written: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    nonfinite: NonFinite | None = None
    values: dict[int, tuple[np.ndarray, ArrayMeta]] = field(default_factory=dict)


class _CountingSink:
    """An :class:`OutputSink` seen by the writers of one chunk: notes the bytes of every file written."""

    def __init__(self, sink: OutputSink):
        self._sink = sink
        self.sizes: dict[str, int] = {}

    def write(self, relative: str, payload) -> str:
        url = self._sink.write(relative, payload)
        parts = payload if isinstance(payload, (list, tuple)) else [payload]
        self.sizes[relative] = sum(memoryview(part).nbytes for part in parts)
        return url

    def __getattr__(self, name):
        return getattr(self._sink, name)


def _brief(value) -> str:
    """A parameter value as short as it reads in a config (``200``, not ``200.0``)."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_brief(v) for v in value) + "]"
    return repr(value)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_writer_folders(nodes: list[Node], source: str | None) -> None:
    """Each command that writes has a ``directory_out`` of its own, and none takes the
    name of a file raydas keeps at the top of the results root (the failure report...).

    Raises
    ------
    ConfigError
        At the ``directory_out`` of the first writer at fault.
    """
    taken: dict[str, str] = {}
    for node in nodes:
        folder = getattr(node.command.params, "directory_out", "NONE")
        if not node.command.writes or folder == "NONE":
            continue
        where = f"{node.json_path}.directory_out"
        try:
            folder = check_not_reserved(folder)
        except ValueError as exc:
            raise ConfigError(where, str(exc), source) from None
        if folder in taken:
            raise ConfigError(
                where,
                f"{folder!r} is already the directory_out of {taken[folder]}: give each writer a folder of its own "
                "(their files would overwrite or mix with each other's)",
                source,
            )
        taken[folder] = node.json_path


class Pipeline:
    """A compiled, validated processing graph.

    Build one with :meth:`from_config` (a dict or a JSON file path).
    """

    def __init__(
        self,
        nodes: list[Node],
        name: str = "",
        description: str = "",
        source: str | None = None,
        warnings: list[str] | None = None,
    ):
        self.nodes = nodes
        self.name = name
        self.description = description
        self.source = source
        self.warnings = warnings or []
        self.order = self._topological_order()
        self.consumers: dict[int, list[Node]] = {0: []}
        for node in self.nodes:
            self.consumers.setdefault(node.uid, [])
        for node in self.order:
            for uid in node.inputs:
                self.consumers[uid].append(node)
        for node in self.nodes:
            node.command.choose_spectrum_layout(self._positive_frequencies_only(node.uid))
        self.after_reducer: dict[int, int] = self._split_at_reducers()
        #: the commands run on every chunk (those before and including the reducers), in order
        self.chunk_order = [n for n in self.order if n.uid not in self.after_reducer]

    # --- building -----------------------------------------------------------
    @classmethod
    def from_config(cls, config: dict | str, source: str | None = None, *, log_warnings: bool = True) -> Pipeline:
        """Compile a processing config (distpy's format).

        Parameters
        ----------
        config
            The config as a dict, or the path or URL of its JSON file.
        source
            The file it came from, named in errors (set for you when ``config`` is a path).
        log_warnings
            Log what the compiler noticed (ignored keys, ignored ``gather_uids``);
            always kept in :attr:`warnings`. A run reports them in its summary
            instead, so that each is printed once.

        Raises
        ------
        ConfigError
            With the JSON path of the first problem found.

        Examples
        --------
        A high-pass filter feeding a spectrum; the halo a chunk needs on each
        side (samples, at 500 Hz) follows from the commands:

        >>> import raydas
        >>> pipeline = raydas.Pipeline.from_config(
        ...     {
        ...         "command_list": [
        ...             {"name": "butter", "uid": 1, "in_uid": 0, "order": 4, "freq": 10, "type": "highpass"},
        ...             {"name": "fft", "uid": 2, "in_uid": 1},
        ...         ]
        ...     }
        ... )
        >>> [node.command.name for node in pipeline.order], pipeline.halo_samples(500.0)
        (['butter', 'fft'], 322)

        Mistakes are errors that name the culprit's JSON path:

        >>> raydas.Pipeline.from_config({"command_list": [{"name": "ftt", "uid": 1, "in_uid": 0}]})
        Traceback (most recent call last):
        ...
        raydas.errors.ConfigError: $.command_list[0].name: unknown command 'ftt'; did you mean fft?
        """
        if isinstance(config, str):
            source = config
            config = load_json(config)
        if not isinstance(config, dict):
            raise ConfigError(
                "$", f"a processing config is a JSON object with a command_list, not {type(config).__name__}", source
            )
        items = config.get("command_list")
        if not isinstance(items, list):
            raise ConfigError("$.command_list", "missing, or not a list of commands", source)
        warnings: list[str] = []
        nodes: list[Node] = []
        seen: dict[int, str] = {}
        for i, item in enumerate(items):
            path = f"$.command_list[{i}]"
            node = cls._compile_node(item, path, source, warnings)
            if node.uid in seen:
                raise ConfigError(f"{path}.uid", f"uid {node.uid} is already used by {seen[node.uid]}", source)
            seen[node.uid] = path
            nodes.append(node)
        for node in nodes:
            for key, uid in [("in_uid", node.in_uid)] + [
                (f"gather_uids[{j}]", g) for j, g in enumerate(node.gather_uids)
            ]:
                if uid != 0 and uid not in seen:
                    raise ConfigError(
                        f"{node.json_path}.{key}", f"uid {uid} is not defined by any command (0 is the data)", source
                    )
        _check_writer_folders(nodes, source)
        pipeline = cls(
            nodes,
            name=str(config.get("name", "")),
            description=str(config.get("description", "")),
            source=source,
            warnings=warnings,
        )
        if log_warnings:
            for w in warnings:
                log.warning("%s", w)
        return pipeline

    @staticmethod
    def _compile_node(item, path: str, source, warnings: list[str]) -> Node:
        if not isinstance(item, dict):
            raise ConfigError(path, f"a command is a JSON object, not {type(item).__name__}", source)
        name = item.get("name")
        if not isinstance(name, str):
            raise ConfigError(f"{path}.name", "missing, or not a string", source)
        try:
            cls = commands.get(name)
        except RaydasError as exc:
            raise ConfigError(f"{path}.name", str(exc), source) from None
        for key in ("uid", "in_uid"):
            if key not in item:
                raise ConfigError(f"{path}.{key}", "missing (every command needs uid and in_uid)", source)
            if not _is_int(item[key]) or item[key] < 0:
                raise ConfigError(f"{path}.{key}", f"must be a non-negative integer, got {item[key]!r}", source)
        uid, in_uid = int(item["uid"]), int(item["in_uid"])
        if uid == 0:
            raise ConfigError(f"{path}.uid", "uid 0 is the data itself; number commands from 1", source)
        gather = item.get("gather_uids", [])
        if gather is None:
            gather = []
        if not isinstance(gather, list) or not all(_is_int(g) and g >= 0 for g in gather):
            raise ConfigError(f"{path}.gather_uids", f"must be a list of uids, got {gather!r}", source)
        if cls.inputs == "one" and gather:
            warnings.append(f"{path}.gather_uids: {name} takes one input; gather_uids {gather} are ignored")
            gather = []
        params = {k: v for k, v in item.items() if k not in GRAPH_KEYS and k not in INJECTED_KEYS}
        unknown = sorted(set(params) - set(cls.Params.model_fields))
        if unknown:
            warnings.append(f"{path}: {name} has no parameter(s) {', '.join(unknown)}; ignored")
        try:
            command = cls(cls.Params.model_validate(params), uid=uid)
        except ValidationError as exc:
            raise validation_error(exc, source, root=path, with_input=True) from None
        except (ValueError, TypeError) as exc:
            raise ConfigError(path, f"{name}: {exc}", source) from None
        needed = command.gathers_needed()
        if len(gather) < needed:
            what = "its second input" if cls.inputs == "gather" else "with these parameters"
            raise ConfigError(f"{path}.gather_uids", f"{name} needs {needed} gather_uids ({what})", source)
        return Node(uid=uid, command=command, in_uid=in_uid, gather_uids=[int(g) for g in gather], json_path=path)

    def _topological_order(self) -> list[Node]:
        by_uid = {n.uid: n for n in self.nodes}
        pending = {n.uid: sum(1 for u in set(n.inputs) if u != 0) for n in self.nodes}
        users: dict[int, list[int]] = {}
        for n in self.nodes:
            for u in set(n.inputs):
                users.setdefault(u, []).append(n.uid)
        ready = [n.uid for n in self.nodes if pending[n.uid] == 0]
        order: list[Node] = []
        while ready:
            uid = ready.pop(0)
            order.append(by_uid[uid])
            for user in users.get(uid, []):
                pending[user] -= 1
                if pending[user] == 0:
                    ready.append(user)
        if len(order) != len(self.nodes):
            stuck = sorted(uid for uid, count in pending.items() if count > 0)
            first = by_uid[stuck[0]]
            raise ConfigError(
                first.json_path, f"commands {stuck} form a cycle (each waits for another's output)", self.source
            )
        return order

    def _split_at_reducers(self) -> dict[int, int]:
        """uid of every command after a reducer (``stack_chunks``) -> that reducer's uid.

        Raises
        ------
        ConfigError
            When a command takes both a stack and a per-chunk value, or two
            stacks, or a reducer stacks a stack.
        """
        after: dict[int, int] = {}
        for node in self.order:
            sources = set()
            for uid in node.inputs:
                if uid in after:
                    sources.add(after[uid])
                elif uid != 0 and self.by_uid[uid].command.reduces:
                    sources.add(uid)
                else:
                    sources.add(None)
            stacked = sources - {None}
            if not stacked:
                continue
            if len(sources) > 1:
                raise ConfigError(
                    node.json_path,
                    f"{node.command.name} takes the stack of stack_chunks uid {sorted(stacked)[0]} and "
                    f"{'another stack' if len(stacked) > 1 else 'a per-chunk value'}: the commands after a "
                    "stack_chunks run once per stack and can take only that stack and what is made of it",
                    self.source,
                )
            if node.command.reduces:
                raise ConfigError(
                    node.json_path,
                    "stack_chunks takes the stack of another stack_chunks: stack chunks once",
                    self.source,
                )
            after[node.uid] = stacked.pop()
        return after

    @property
    def by_uid(self) -> dict[int, Node]:
        return {n.uid: n for n in self.nodes}

    def writer_folders(self) -> dict[int, str]:
        """uid -> ``directory_out`` of every writer that writes (not ``NONE``), in graph order."""
        return {
            node.uid: node.command.params.directory_out
            for node in self.order
            if node.command.writes and getattr(node.command.params, "directory_out", "NONE") != "NONE"
        }

    @property
    def reducers(self) -> list[Node]:
        """The ``stack_chunks`` nodes (reducers), in graph order."""
        return [n for n in self.order if n.command.reduces]

    def after(self, reducer: int) -> list[Node]:
        """The commands that run on the stacks of reducer ``reducer``, in order."""
        return [n for n in self.order if self.after_reducer.get(n.uid) == reducer]

    def _positive_frequencies_only(self, uid: int) -> bool:
        """True when every use of the value ``uid`` reads only non-negative
        frequencies of a spectrum along time (:attr:`Command.spectrum_use`),
        following commands that hand it on unchanged; False when it has no use
        or any use needs the full spectrum (a gathered input always does)."""
        users = self.consumers.get(uid, [])
        if not users:
            return False
        for user in users:
            if uid in user.gather_uids:
                return False
            use = user.command.spectrum_use
            if use == "through":
                if not self._positive_frequencies_only(user.uid):
                    return False
            elif use != "positive":
                return False
        return True

    # --- declarations -------------------------------------------------------
    def halo_samples(self, sample_rate: float) -> int:
        """Samples of halo the chunks need on each side so that every
        time-local command sees whole-record context (sum along each path).

        Raises
        ------
        ConfigError
            When a command's parameters do not fit this sample rate (e.g. a
            cut-off above Nyquist), naming its JSON path.
        """
        need: dict[int, int] = {}
        for node in reversed(self.order):
            need[node.uid] = self._need_after(node.uid, sample_rate, need)
        return self._need_after(0, sample_rate, need)

    def _need_after(self, uid: int, sample_rate: float, need: dict[int, int]) -> int:
        best = 0
        for consumer in self.consumers.get(uid, []):
            if consumer.command.time_local:
                try:
                    own = consumer.command.halo_samples(sample_rate)
                except (ValueError, TypeError) as exc:
                    raise ConfigError(consumer.json_path, f"{consumer.command.name}: {exc}", self.source) from None
                best = max(best, own + need.get(consumer.uid, 0))
        return best

    def load_inputs(self, sink: OutputSink) -> None:
        """Let each command read what it keeps under the results root ``sink`` (a
        saved model: :meth:`Command.load_inputs`) before records are checked.

        Raises
        ------
        ConfigError
            At the command's JSON path, when what it needs is missing or unreadable.
        """
        for node in self.order:
            try:
                node.command.load_inputs(sink)
            except (RaydasError, ValueError, OSError) as exc:
                raise ConfigError(node.json_path, f"{node.command.name}: {exc}", self.source) from None

    def quantity_warnings(self, record: RecordInfo) -> list[str]:
        """What planning says of commands meant for other quantities than ``record``
        holds (:attr:`Command.quantities`: a noise log of temperatures); nothing for a
        record of unknown quantity. The record still runs."""
        if record.quantity == "unknown":
            return []
        where = f"{record.path}" + (f" (record {record.key})" if record.key else "")
        return [
            f"{where}: {node.json_path} ({node.command.name}) is meant for {'/'.join(node.command.quantities)} "
            f"data; this record holds {record.quantity}"
            for node in self.order
            if node.command.quantities and record.quantity not in node.command.quantities
        ]

    def check_record(self, record: RecordInfo, chunk_samples: int | None = None) -> None:
        """Refuse, before any work, a record this graph cannot serve (its parameters
        that depend on the record: the Nyquist frequency, the channel count, the
        length of a chunk), so that it fails alone and the others run.

        Each command checks the layout of the array it will be handed
        (:meth:`Command.check_layout`), followed through the graph as far as the
        commands say what they return (:meth:`Command.layout_after`). A command
        that sees whole-record context (time-local, after time-local commands
        only) sees at least the record's samples; the others see one chunk.

        Parameters
        ----------
        record
            The record: sample rate (Hz), channels, samples.
        chunk_samples
            Own samples of the shortest chunk planned from it (the last, short
            one); default: the whole record is one chunk.

        Raises
        ------
        PlanError
            Naming the record's file, the command's JSON path and the reason.
        """
        if not record.regular:
            for node in self.order:
                if node.command.needs_regular_time:
                    steps = np.diff(record.times_ns) / 1e9
                    spacing = f"steps {steps.min():g} s to {steps.max():g} s" if steps.size else "a single reading"
                    where = f" (record {record.key})" if record.key else ""
                    raise PlanError(
                        record.path,
                        f"{node.json_path} ({node.command.name}){where}: needs a regular sample rate, and the "
                        f"record's {record.n_samples} readings carry their own time stamps ({spacing}); raydas "
                        "does not invent a regular rate for them",
                    )
        rate = record.sample_rate
        chunk = Layout(rate, record.n_channels, chunk_samples or record.n_samples)
        layouts: dict[int, tuple[Layout, bool]] = {0: (chunk, True)}  # uid -> (layout, still carries the halo)
        for node in self.order:
            given, with_halo = layouts[node.in_uid]
            cmd = node.command
            seen = given
            if cmd.time_local and with_halo and given.samples is not None:
                seen = replace(given, samples=record.n_samples)
            try:
                cmd.check_layout(seen, tuple(layouts[g][0] for g in node.gather_uids))
                if cmd.time_local:
                    cmd.halo_samples(rate)
            except (ValueError, TypeError) as exc:
                where = f" (record {record.key})" if record.key else ""
                raise PlanError(record.path, f"{node.json_path} ({cmd.name}){where}: {exc}") from None
            layouts[node.uid] = (cmd.layout_after(given), with_halo and cmd.time_local)

    def output_files(self, output_id: str, shared: bool = False, stamped: bool = False) -> list[str]:
        """Files (relative to the results root) the pipeline writes for the chunk
        ``output_id``; with ``shared``, also those it writes for its whole folder;
        ``stamped``: for a chunk of readings with their own time stamps."""
        out: list[str] = []
        for node in self.chunk_order:
            out.extend(_declared(node.command, output_id, shared, stamped))
        return out

    def stack_output_files(self, reducer: int, label: str, shared: bool = True) -> list[str]:
        """Files (relative to the results root) the commands after reducer ``reducer``
        write for its stack ``label`` (``all``, a day or an hour); with ``shared``, also
        those written once for all its stacks (axis and coordinate files)."""
        out: list[str] = []
        for node in self.after(reducer):
            out.extend(node.command.output_files(label, shared))
        return out

    def producer(self, uid: int) -> Command | None:
        """The command whose values reach the consumers of ``uid``: ``uid``'s own, or
        the one before a chain of steps that pass their input on (``to_gpu``,
        ``from_gpu``, ``NONE``, writers); None for the data (uid 0)."""
        by_uid = {n.uid: n for n in self.nodes}
        while uid in by_uid and by_uid[uid].command.passes_input_on:
            uid = by_uid[uid].in_uid
        return by_uid[uid].command if uid in by_uid else None

    def after_run(
        self, sink: OutputSink, output_ids: list[str], spans: Sequence[tuple[int, int]] | None = None
    ) -> list[str]:
        """Run the post-run steps the writers declare (:meth:`Command.after_run`,
        e.g. ``write_witsml``'s quick-look) once the chunks ``output_ids`` are done
        (``spans``: their ``(start_ns, end_ns)``, when known); returns the URLs
        they wrote, in graph order.

        Commands of one kind draw the same file, so only the first of each kind
        that draws anything runs its step.

        Raises
        ------
        RaydasError
            When a step cannot be drawn (e.g. no file of its folder exists).
        """
        drawn: list[str] = []
        kinds_done: set[type] = set()
        for node in self.chunk_order:
            if type(node.command) in kinds_done:
                continue
            inputs = [self.producer(u) for u in node.inputs]
            url = node.command.after_run(sink, output_ids, spans=spans, inputs=inputs)
            if url:
                drawn.append(url)
                kinds_done.add(type(node.command))
        return drawn

    # --- running ------------------------------------------------------------
    def leaves(self) -> list[int]:
        """The uids, in graph order, whose results no other command takes: the graph's outputs."""
        return [node.uid for node in self.order if not self.consumers[node.uid]]

    def run(
        self,
        chunk: Chunk,
        xp=np,
        sink: OutputSink | None = None,
        nan_policy: NanPolicy = "propagate",
        keep: Collection[int] = (),
        reduce_into: Partial | None = None,
    ) -> ChunkResult:
        """Run the graph on one chunk (its halo included).

        NaN and infinite samples are found first (:func:`find_nonfinite`) and
        reported in the result; ``nan_policy`` (:data:`NAN_POLICIES`) says what
        then happens: ``propagate`` computes with them (results they reach are
        NaN), ``zero`` sets them to 0 first, ``fail`` raises PipelineError.

        Parameters
        ----------
        chunk
            The samples and their coordinates; never written into.
        xp
            The array namespace to compute with: ``numpy``, or ``cupy`` on a GPU.
        sink
            Where the writers of the graph write (the results root); needed
            only when the graph writes.
        nan_policy
            What to do with NaN and infinite samples (see above).
        keep
            uids whose results come back in :attr:`ChunkResult.values` (host
            arrays, halo trimmed).
        reduce_into
            The partial stacks the inputs of the graph's reducers
            (``stack_chunks``) are added to (:class:`raydas.reduction.Partial`);
            None: they are not kept. The commands after a reducer do not run
            here: :meth:`run_stack` runs them on the finished stacks.

        Returns
        -------
        ChunkResult
            The files written (relative to the results root) and the seconds
            each command took.

        Raises
        ------
        PipelineError
            Naming the command, its JSON path and the chunk, when one fails.

        Examples
        --------
        The absolute value of each sample, written as distpy's ``.npy`` folder (the
        chunk's file, and the folder's axes ``measured_depth.npy`` and ``time.npy``,
        which one chunk of a folder writes: :attr:`Chunk.writes_shared`):

        >>> import numpy as np
        >>> import raydas
        >>> from raydas.outputs import OutputSink
        >>> data = np.array([[-2.0, -1.0, 0.0], [1.0, 2.0, 3.0]], dtype=np.float32)  # 2 channels, 3 samples
        >>> chunk = raydas.Chunk(data, data_start_ns=1_700_000_000 * 10**9, dt=0.001, positions=[0.0, 1.0])
        >>> pipeline = raydas.Pipeline.from_config(
        ...     {
        ...         "command_list": [
        ...             {"name": "abs", "uid": 1, "in_uid": 0},
        ...             {"name": "write_npy", "uid": 2, "in_uid": 1, "directory_out": "abs"},
        ...         ]
        ...     }
        ... )
        >>> result = pipeline.run(chunk, np, OutputSink("results"))
        >>> result.written
        ['abs/1700000000.npy', 'abs/measured_depth.npy', 'abs/time.npy']
        >>> np.load("results/abs/1700000000.npy").tolist()
        [[2.0, 1.0, 0.0], [1.0, 2.0, 3.0]]
        """
        if nan_policy not in NAN_POLICIES:
            raise ValueError(f"nan_policy {nan_policy!r} is not one of {', '.join(NAN_POLICIES)}")
        result = ChunkResult(stem=chunk.stem, index=chunk.index, output_id=chunk.output_id)
        if sink is None and self.output_files(chunk.output_id):
            raise PipelineError("this pipeline writes files: run it with an OutputSink (the results root)")
        counting = _CountingSink(sink) if sink is not None else None
        data = to_device(xp, chunk.data)
        result.nonfinite = find_nonfinite(xp, data, chunk.halo)
        if result.nonfinite is not None:
            if nan_policy == "fail":
                raise PipelineError(
                    f"chunk {chunk.output_id or chunk.stem} from {chunk.source or 'memory'} carries "
                    f"{result.nonfinite.describe()} (nan_policy fail)"
                )
            if nan_policy == "zero":
                data = xp.where(xp.isfinite(data), data, xp.zeros((), dtype=data.dtype))
        values: dict[int, Value] = {0: Value(data, ArrayMeta(halo=chunk.halo, positions=chunk.positions, dt=chunk.dt))}
        channel_xyz = None
        if "channel_xyz" in chunk.attrs:  # positions, X Y Z per channel, and the table's units of X, Y, Z
            channel_xyz = (chunk.positions, chunk.attrs["channel_xyz"], chunk.attrs.get("geometry_units", ("",) * 3))
        stamps = chunk.times_ns  # stamped readings: the stamps of the chunk's own samples; else None
        if stamps is not None:
            stamps = stamps[chunk.halo[0] : stamps.size - chunk.halo[1]]
        where = f"chunk {chunk.output_id or chunk.stem} from {chunk.source or 'memory'}"
        context = {
            "sample_rate": chunk.sample_rate,
            "start_ns": chunk.start_ns,
            "stem": chunk.stem,
            "output_id": chunk.output_id,
            "writes_shared": chunk.writes_shared,
            "channel_xyz": channel_xyz,
            "placement": chunk.placement,
            "chunk_samples": chunk.n_samples,
            "times_ns": stamps,
        }
        for node, x, meta in self._execute(self.chunk_order, values, xp, result, counting, context, keep, where):
            if node.command.reduces and reduce_into is not None:
                try:
                    reduce_into.add(xp, node.command, node.uid, x, meta, chunk)
                except RaydasError as exc:
                    raise PipelineError(f"{exc} ({node.json_path}, {where})") from exc
        result.sizes = {f: counting.sizes[f] for f in result.written} if counting is not None else {}
        return result

    def run_stack(
        self,
        reducer: int,
        stack,
        sink: OutputSink | None = None,
        keep: Collection[int] = (),
        shared: bool = True,
    ) -> ChunkResult:
        """Run the commands after reducer ``reducer`` on its finished ``stack``
        (:class:`raydas.reduction.Stack`), on the host: their files are named by
        the stack's label (``<directory_out>/<label>.<ext>``); ``shared``: this
        stack writes the files its folder's stacks share (one stack of each reducer does).

        Raises
        ------
        PipelineError
            Naming the command, its JSON path and the stack, when one fails.
        """
        node = self.by_uid[reducer]
        array = stack.result(node.command.params)
        result = ChunkResult(stem=stack.label, index=0, output_id=stack.label)
        counting = _CountingSink(sink) if sink is not None else None
        if counting is None and self.stack_output_files(reducer, stack.label):
            raise PipelineError("this pipeline writes files: run it with an OutputSink (the results root)")
        start_ns, _ = stack.span()
        values = {reducer: Value(array, stack.meta)}
        if reducer in keep:
            result.values[reducer] = (array, stack.meta)
        context = {
            "sample_rate": stack.sample_rate,
            "start_ns": start_ns,
            "stem": stack.label,
            "output_id": stack.label,
            "writes_shared": shared,
            "chunk_samples": array.shape[-1] if array.ndim else 0,
        }
        where = f"stack {stack.label} of stack_chunks uid {reducer} ({stack.count} chunks)"
        for _ in self._execute(self.after(reducer), values, np, result, counting, context, keep, where):
            pass
        result.sizes = {f: counting.sizes[f] for f in result.written} if counting is not None else {}
        return result

    def _execute(self, nodes, values: dict[int, Value], xp, result: ChunkResult, counting, context: dict, keep, where):
        """Run ``nodes`` (in order) on ``values`` (uid -> :class:`Value`, freed as they are
        used up), noting seconds and files in ``result``; yields each reducer node with
        its input (halo trimmed) and the input's metadata."""
        remaining = {uid: sum(1 for n in nodes for u in n.inputs if u == uid) for uid in values}
        for node in nodes:
            remaining[node.uid] = sum(1 for n in nodes for u in n.inputs if u == node.uid)
        for node in nodes:
            cmd = node.command
            primary = values[node.in_uid]
            gathered = [values[g] for g in node.gather_uids]
            if not cmd.time_local:
                primary = primary.core()
                gathered = [g.core() for g in gathered]
            elif gathered:
                gathered = [g if g.array.shape[-1:] == primary.array.shape[-1:] else g.core() for g in gathered]
            ns = xp if cmd.gpu else np
            x = primary.array if ns is xp else to_host(primary.array)
            ctx = Context(
                meta=primary.meta,
                gathered=[g.array if ns is xp else to_host(g.array) for g in gathered],
                gathered_meta=[g.meta for g in gathered],
                sink=counting,
                cache=primary.cache,
                **context,
            )
            t0 = time.perf_counter()
            before = set(counting.sizes) if cmd.writes and counting is not None else set()
            try:
                out = cmd.apply(ns, x, ctx)
                meta = cmd.out_meta(x, out, ctx)
            except Exception as exc:
                raise PipelineError(
                    f"{cmd.name} (uid {node.uid}, {node.json_path}) failed on {where}: {type(exc).__name__}: {exc}"
                ) from exc
            result.seconds[cmd.name] = result.seconds.get(cmd.name, 0.0) + time.perf_counter() - t0
            if cmd.writes:
                stamped = context.get("times_ns") is not None
                declared = self._written_by(node, result.output_id, context["writes_shared"], counting, stamped)
                extra = []
                if cmd.counts_undeclared_files:  # e.g. write_npy's coordinate files of a correlation
                    extra = sorted(f for f in counting.sizes if f not in before and f not in declared)
                result.written.extend(declared + extra)
            if node.uid in keep:
                core = Value(out, meta).core()
                result.values[node.uid] = (to_host(core.array), core.meta)
            if cmd.reduces:
                yield node, x, primary.meta
            if remaining.get(node.uid):
                values[node.uid] = Value(out if ns is xp else to_device(xp, out), meta)
            for uid in set(node.inputs):
                remaining[uid] -= sum(1 for u in node.inputs if u == uid)
                if remaining[uid] <= 0:
                    values.pop(uid, None)

    @staticmethod
    def _written_by(
        node: Node, output_id: str, shared: bool, counting: _CountingSink, stamped: bool = False
    ) -> list[str]:
        """The files ``node``'s writer declares for the chunk (or stack) ``output_id``, each
        of which it must have written."""
        declared = _declared(node.command, output_id, shared, stamped)
        missing = [f for f in declared if f not in counting.sizes]
        if missing:
            raise PipelineError(
                f"{node.command.name} (uid {node.uid}, {node.json_path}) declares {missing} for "
                f"{output_id} but did not write them"
            )
        return declared

    # --- documentation ------------------------------------------------------
    def __repr__(self) -> str:
        """The graph for people: its name and file, then each command in the order
        it runs, with its uid, inputs and the parameters its config sets::

            Pipeline('raydas demo noise log' from configs/demo-noiselog.json, 4 commands)
              1 fft <- 0
              2 rms_from_fft <- 1: low_freq=0, high_freq=-1
              ...
        """
        n = len(self.order)
        title = " ".join(([repr(self.name)] if self.name else []) + ([f"from {self.source}"] if self.source else []))
        count = f"{n} command{'' if n == 1 else 's'}"
        lines = [f"Pipeline({title}, {count})" if title else f"Pipeline({count})"]
        for node in self.order:
            inputs = f"<- {node.in_uid}" + "".join(f", gather {g}" for g in node.gather_uids)
            params = node.command.params.model_dump(exclude_unset=True)
            shown = ", ".join(f"{key}={_brief(value)}" for key, value in params.items())
            lines.append(f"  {node.uid} {node.command.name} {inputs}" + (f": {shown}" if shown else ""))
        return "\n".join(lines)

    def to_dot(self) -> str:
        """Graphviz dot of the graph: green steps run on GPU actors, grey on the host; a
        reducer (``stack_chunks``) is a gold trapezium, and the commands after it, which
        run once per stack at the end of the run, lie in a dashed box of their own."""
        title = (self.name or "pipeline").replace('"', "'")
        lines = [
            f'digraph "{title}" {{',
            "  rankdir=TB;",
            '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
            '  0 [label="0: data", fillcolor="lightblue"];',
        ]

        folders = self.writer_folders()

        def box(node: Node) -> str:
            cmd = node.command
            colour = "palegreen" if cmd.gpu else "lightgrey"
            label = f"{node.uid}: {cmd.name}"
            if cmd.reduces:  # the reducer: where chunks become stacks
                label += f"\\n{cmd.params.method} stack, per {cmd.params.group}"
                return f'{node.uid} [label="{label}", shape=invtrapezium, fillcolor="gold"];'
            if node.uid in folders:
                label += f"\\n-> {folders[node.uid]}/"
            return f'{node.uid} [label="{label}", fillcolor="{colour}"];'

        for node in self.chunk_order:
            lines.append(f"  {box(node)}")
        for reducer in self.reducers:  # what runs once per stack, at the end of the run, in a box of its own
            after = self.after(reducer.uid)
            if after:
                lines.append(f"  subgraph cluster_stack_{reducer.uid} {{")
                lines.append(f'    label="once per stack of {reducer.uid}"; style=dashed;')
                lines.extend(f"    {box(node)}" for node in after)
                lines.append("  }")
        for node in self.order:
            lines.append(f"  {node.in_uid} -> {node.uid};")
            for g in node.gather_uids:
                lines.append(f'  {g} -> {node.uid} [style=dashed, label="gather"];')
        lines.append("}")
        return "\n".join(lines) + "\n"


def _declared(command: Command, output_id: str, shared: bool, stamped: bool) -> list[str]:
    """``command.output_files``; ``stamped`` is passed only when True, so that a plugin's
    command written before stamped readings (two arguments) still serves regular data."""
    if stamped:
        return command.output_files(output_id, shared, stamped)
    return command.output_files(output_id, shared)
