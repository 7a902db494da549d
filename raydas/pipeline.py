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
from dataclasses import dataclass, field

import numpy as np
from pydantic import ValidationError

from . import commands
from .backend import to_device, to_host
from .chunk import Chunk
from .commands.base import ArrayMeta, Command, Context
from .configfile import load_json, validation_error
from .errors import ConfigError, PipelineError, RaydasError
from .outputs import OutputSink

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


@dataclass
class ChunkResult:
    """What running a pipeline on one chunk produced (small: goes back to the driver).

    ``values`` holds the results of the nodes :meth:`Pipeline.run` was asked to
    keep (uid -> host array and its metadata, halo trimmed); empty in runs.
    """

    stem: str
    index: int
    written: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    values: dict[int, tuple[np.ndarray, ArrayMeta]] = field(default_factory=dict)


def _brief(value) -> str:
    """A parameter value as short as it reads in a config (``200``, not ``200.0``)."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_brief(v) for v in value) + "]"
    return repr(value)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


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

    # --- building -----------------------------------------------------------
    @classmethod
    def from_config(cls, config: dict | str, source: str | None = None, *, log_warnings: bool = True) -> Pipeline:
        """Compile a processing config (distpy's format).

        Parameters
        ----------
        config
            The processing config, or the path of its JSON file.
        source
            The file it came from (named in errors).
        log_warnings
            Log what the compiler noticed (ignored keys, ignored ``gather_uids``);
            always kept in :attr:`warnings`. A run reports them in its summary
            instead, so that each is printed once.

        Raises
        ------
        ConfigError
            With the JSON path of the first problem found.
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
        if cls.inputs == "gather" and not gather:
            raise ConfigError(f"{path}.gather_uids", f"{name} needs gather_uids (its second input)", source)
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

    def output_files(self, stem: str) -> list[str]:
        """Files (relative to the results root) the pipeline writes for a chunk."""
        out: list[str] = []
        for node in self.order:
            out.extend(node.command.output_files(stem))
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
        self, sink: OutputSink, stems: list[str], spans: Sequence[tuple[int, int]] | None = None
    ) -> list[str]:
        """Run the post-run steps the writers declare (:meth:`Command.after_run`,
        e.g. ``write_witsml``'s quick-look) once the chunks ``stems`` are done
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
        for node in self.order:
            if type(node.command) in kinds_done:
                continue
            inputs = [self.producer(u) for u in node.inputs]
            url = node.command.after_run(sink, stems, spans=spans, inputs=inputs)
            if url:
                drawn.append(url)
                kinds_done.add(type(node.command))
        return drawn

    # --- running ------------------------------------------------------------
    def leaves(self) -> list[int]:
        """The uids, in graph order, whose results no other command takes: the graph's outputs."""
        return [node.uid for node in self.order if not self.consumers[node.uid]]

    def run(self, chunk: Chunk, xp=np, sink: OutputSink | None = None, keep: Collection[int] = ()) -> ChunkResult:
        """Run the graph on one chunk (its halo included) with array namespace ``xp``;
        the results of the uids in ``keep`` come back in :attr:`ChunkResult.values`."""
        result = ChunkResult(stem=chunk.stem, index=chunk.index)
        if sink is None and self.output_files(chunk.stem):
            raise PipelineError("this pipeline writes files: run it with an OutputSink (the results root)")
        values: dict[int, Value] = {
            0: Value(to_device(xp, chunk.data), ArrayMeta(halo=chunk.halo, positions=chunk.positions, dt=chunk.dt))
        }
        remaining = {uid: len(nodes) for uid, nodes in self.consumers.items()}
        for node in self.order:
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
                sample_rate=chunk.sample_rate,
                meta=primary.meta,
                gathered=[g.array if ns is xp else to_host(g.array) for g in gathered],
                gathered_meta=[g.meta for g in gathered],
                start_ns=chunk.start_ns,
                stem=chunk.stem,
                sink=sink,
                cache=primary.cache,
            )
            t0 = time.perf_counter()
            try:
                out = cmd.apply(ns, x, ctx)
                meta = cmd.out_meta(x, out, ctx)
            except Exception as exc:
                raise PipelineError(
                    f"{cmd.name} (uid {node.uid}, {node.json_path}) failed on chunk {chunk.stem} "
                    f"from {chunk.source or 'memory'}: {type(exc).__name__}: {exc}"
                ) from exc
            result.seconds[cmd.name] = result.seconds.get(cmd.name, 0.0) + time.perf_counter() - t0
            if cmd.writes:
                result.written.extend(cmd.output_files(chunk.stem))
            if node.uid in keep:
                core = Value(out, meta).core()
                result.values[node.uid] = (to_host(core.array), core.meta)
            if remaining.get(node.uid):
                values[node.uid] = Value(out if ns is xp else to_device(xp, out), meta)
            for uid in set(node.inputs):
                remaining[uid] -= sum(1 for u in node.inputs if u == uid)
                if remaining[uid] <= 0:
                    values.pop(uid, None)
        return result

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
        """Graphviz dot of the graph: green steps run on GPU actors, grey on the host."""
        title = (self.name or "pipeline").replace('"', "'")
        lines = [
            f'digraph "{title}" {{',
            "  rankdir=TB;",
            '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
            '  0 [label="0: data", fillcolor="lightblue"];',
        ]
        for node in self.order:
            cmd = node.command
            colour = "palegreen" if cmd.gpu else "lightgrey"
            label = f"{node.uid}: {cmd.name}"
            if cmd.writes and getattr(cmd.params, "directory_out", "NONE") != "NONE":
                label += f"\\n-> {cmd.params.directory_out}/"
            lines.append(f'  {node.uid} [label="{label}", fillcolor="{colour}"];')
        for node in self.order:
            lines.append(f"  {node.in_uid} -> {node.uid};")
            for g in node.gather_uids:
                lines.append(f'  {g} -> {node.uid} [style=dashed, label="gather"];')
        lines.append("}")
        return "\n".join(lines) + "\n"
