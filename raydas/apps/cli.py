"""The ``raydas`` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..errors import RaydasError, RunFailed
from ..version import __version__
from . import console


def _table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    cells = [[h for _, h in columns]] + [[_cell(r.get(k)) for k, _ in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


# --- sub-commands -----------------------------------------------------------------
def cmd_scan(args) -> int:
    """List the records of ``args.paths``; exit status 1 when any input could not be
    read or none holds a record (documents that are not data do not count)."""
    from .. import formats
    from ..config import redact
    from ..recording import assemble

    found = formats.scan_all(args.paths, args.format)
    records, failures = found.records, found.failures
    _, breaks = assemble(records)
    if args.json:
        listing = {
            "records": [r.to_dict() for r in records],
            "discontinuities": [b.to_dict() for b in breaks],
            "unreadable": [{"path": f.path, "error": f.problem} for f in failures],
            "not_data": [{"path": f.path, "reason": f.problem} for f in found.not_data],
        }
        print(json.dumps(redact(listing, keys=False), indent=2))  # paths are input: a URL may be signed
    else:
        cols = [
            ("path", "path"),
            ("format", "format"),
            ("channels", "channels"),
            ("samples", "samples"),
            ("sample_rate_hz", "rate (Hz)"),
            ("channel_spacing_m", "spacing (m)"),
            ("start", "start (UTC)"),
            ("end", "end (UTC)"),
            ("units", "unit"),
            ("quantity", "quantity"),
            ("assumed", "assumed (not in the file)"),
        ]
        rows = redact(
            [dict(r.to_dict(), path=_record_label(r), assumed=",".join(r.assumed) or None) for r in records],
            keys=False,
        )
        print(_table(rows, cols) if rows else "no records found")
        for b in breaks:
            print(redact(f"break: {b.kind} between {_short(b.before)} and {_short(b.after)}: {b.detail}"))
        for f in failures:
            print(redact(f"raydas: unreadable: {f}"), file=sys.stderr)
        if found.not_data:
            print(
                redact(
                    f"raydas: skipped {len(found.not_data)} file(s) that are not data: "
                    + ", ".join(_short(f.path) for f in found.not_data)
                ),
                file=sys.stderr,
            )
    return 0 if records and not failures else 1


def _record_label(record) -> str:
    """A record's path in the scan table: its data set where a file holds several
    (PRODML's one raw set is left implied) and its stream (e.g. an FBE band)."""
    label = _short(record.path)
    if record.key and not record.key.startswith("/Acquisition/Raw"):
        label += f"#{record.key}"
    if record.stream:
        label += f" [{record.stream}]"
    return label


def _short(path: str) -> str:
    try:
        rel = os.path.relpath(path)
        return rel if not rel.startswith("../../..") else path
    except ValueError:
        return path


def cmd_index(args) -> int:
    from ..catalogue import Catalogue
    from ..config import RayOptions, apply_overrides, redact

    catalogue = Catalogue(args.catalogue)
    ray = apply_overrides(
        RayOptions(), {"address": args.address} if args.address else {}, names={"address": "--address"}
    )
    report = catalogue.update(args.roots, args.format, use_ray=not args.no_ray, ray=ray, batch_files=args.batch_files)
    if args.json:
        doc = {
            "catalogue": catalogue.url,
            "listed": report.listed,
            "scanned": report.scanned,
            "unchanged": report.unchanged,
            "dropped": report.dropped,
            "errors": report.errors,
            "batches": report.batches,
            "seconds": report.seconds,
        }
        print(json.dumps(redact(doc, keys=False), indent=2))
    else:
        print(redact(f"raydas index {catalogue.url}: {report.summary()}"))
    return 0


def cmd_select(args) -> int:
    from ..catalogue import Catalogue
    from ..config import redact
    from ..timeutil import to_iso

    selection = Catalogue(args.catalogue).select(args.start, args.end, channels=args.channels, format=args.format)
    if args.json:
        print(json.dumps(redact(selection.to_dict(), keys=False), indent=2))
        return 0 if selection.records else 1
    rows = redact([dict(r.to_dict(), path=_record_label(r)) for r in selection.records], keys=False)
    cols = [
        ("path", "path"),
        ("format", "format"),
        ("channels", "channels"),
        ("sample_rate_hz", "rate (Hz)"),
        ("start", "start (UTC)"),
        ("end", "end (UTC)"),
        ("units", "unit"),
    ]
    print(_table(rows, cols) if rows else "no records in the span")
    for hole in selection.gaps + selection.overlaps:
        where = f" [{hole.stream}]" if hole.stream else ""
        print(f"{hole.kind}{where}: {to_iso(hole.start_ns)} to {to_iso(hole.end_ns)} ({hole.seconds:.6g} s)")
    for bad in selection.unreadable:
        print(redact(f"unreadable when indexed: {_short(bad['path'])}: {bad['error']}"), file=sys.stderr)
    return 0 if selection.records else 1


def cmd_formats(args) -> int:
    from .. import formats

    described = [r.describe() for r in formats.all_formats().values()]
    if args.json:
        print(json.dumps(described, indent=2))
        return 0
    rows = [
        {
            **d,
            "quantities": ", ".join(d["quantities"]),
            "versions": ", ".join(d["versions"]) or None,
            "extensions": " ".join(d["extensions"]) or None,
            "writes": "yes" if d["writes"] else "no",
            "tested_on": ", ".join(t.rsplit("/", 1)[-1] for t in d["tested_on"]) or None,
        }
        for d in described
    ]
    columns = [
        ("name", "format"),
        ("quantities", "quantity"),
        ("versions", "versions"),
        ("extensions", "extensions"),
        ("writes", "writes"),
        ("tested_on", "tested on"),
        ("description", "reads"),
    ]
    print(_table(rows, columns))
    return 0


def cmd_commands(args) -> int:
    from .. import commands
    from .plot import PANEL_PLOTS

    described = [cls.describe() for cls in commands.all_commands().values()]
    panels = [panel.describe() for panel in PANEL_PLOTS.values()]
    if args.json:
        print(json.dumps(described + panels, indent=2))
        return 0
    rows = []
    for d in described:
        params = ", ".join(f"{p['name']}={json.dumps(p['default'])}" for p in d["parameters"])
        rows.append(
            {
                "name": d["name"],
                "family": d["family"],
                "gpu": "yes" if d["gpu"] else "host",
                "halo": d["halo"],
                "params": params,
                "description": d["description"],
            }
        )
    print("Processing commands (the names of a command_list):")
    print(
        _table(
            rows,
            [
                ("name", "command"),
                ("family", "family"),
                ("gpu", "gpu"),
                ("halo", "halo"),
                ("params", "parameters (defaults)"),
                ("description", "what it does"),
            ],
        )
    )
    print(
        "\nPlots-config panels: not commands of a command_list; list them under 'plots' in a plots config "
        "and draw them with `raydas plot PLOTS_CONFIG.json`:"
    )
    rows = [
        {"name": d["name"], "params": ", ".join(p["name"] for p in d["parameters"]), "description": d["description"]}
        for d in panels
    ]
    print(_table(rows, [("name", "panel"), ("params", "keys"), ("description", "what it draws")]))
    changed = [d for d in described + panels if d["changed_from_distpy"]]
    if changed:
        print("\nWhere raydas's numbers or behaviour differ from distpy's:")
        for d in changed:
            print(f"  {d['name']}: {d['changed_from_distpy']}")
    return 0


def cmd_graph(args) -> int:
    from ..config import load_config
    from ..configfile import load_json
    from ..pipeline import Pipeline

    doc = load_json(args.config)
    if isinstance(doc, dict) and "command_list" in doc:
        pipeline = Pipeline.from_config(doc, source=args.config)
    else:
        cfg = load_config(args.config)
        pipeline = Pipeline.from_config(cfg.processing, source=args.config)
    dot = pipeline.to_dot()
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(dot)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(dot)
    return 0


def cmd_plot(args) -> int:
    from ..config import redact
    from .plot import run_plots

    for url in run_plots(args.config):
        print(redact(f"wrote {url}"))
    return 0


#: the run options of the command line: the config key each overrides, and its flag
RUN_OPTIONS = {
    "output": "--output",
    "input": "--input",
    "ray.device": "--device",
    "ray.num_actors": "--num-actors",
    "ray.num_cpus": "--num-cpus",
    "ray.timeline": "--timeline",
    "ray.in_flight": "--in-flight",
    "ray.address": "--address",
    "nan_policy": "--nan-policy",
    "limits.output_bytes": "--max-output-bytes",
    "catalogue": "--catalogue",
    "start": "--start",
    "end": "--end",
}


def _apply_overrides(cfg, args):
    """``cfg`` with the run options given on the command line, validated as config keys are
    (a :class:`~raydas.errors.ConfigError` names the flag)."""
    from ..config import apply_overrides

    given = {key: getattr(args, flag[2:].replace("-", "_"), None) for key, flag in RUN_OPTIONS.items()}
    overrides = {
        key: value
        for key, value in given.items()
        if value is not None and not (key in ("output", "input") and value == "")
    }
    if _resume(args):
        overrides["resume"] = _resume(args)
    return apply_overrides(cfg, overrides, names=dict(RUN_OPTIONS, resume="--resume"))


def _resume(args) -> str | None:
    """The resume mode the command line asks for (``--resume``, or ``--no-resume`` for
    "never"); None leaves it to the config."""
    return "never" if getattr(args, "no_resume", False) else getattr(args, "resume", None)


def _execute(cfg, mode: str, args) -> int:
    from ..runtime import run

    return _conclude(mode, lambda: run(cfg, mode=mode, progress=not args.no_progress))  # resume: in cfg (overrides)


def _conclude(mode: str, work) -> int:
    """Run ``work()`` (which returns a RunReport) and print its summary on stdout,
    also when something failed; then the failures, each once, on stderr.

    Returns
    -------
    int
        The exit status: 0, or 1 when any file or chunk failed.
    """
    try:
        report = work()
    except RunFailed as exc:
        if exc.report is not None:
            print(exc.report.summary(failures=False), flush=True)
        print(
            f"raydas: {mode} finished with {len(exc.failures)} failure(s); report: {exc.report_path}", file=sys.stderr
        )
        for f in exc.failures:
            print(f"  {f.line()}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


def cmd_run(args, mode: str = "run") -> int:
    from ..config import DISTPY_SYSTEM_KEYS, load_config
    from ..configfile import config_folder, load_json

    source = args.config
    if getattr(args, "catalogue", None):  # the records come from a catalogue: the config needs no input
        doc = load_json(args.config)
        if isinstance(doc, dict) and "input" not in doc and not DISTPY_SYSTEM_KEYS & set(doc):
            source = dict(doc, catalogue=args.catalogue, start=args.start, end=args.end)
            cfg = _apply_overrides(load_config(source, base=config_folder(args.config)), args)
            return _execute(cfg, mode, args)
    cfg = _apply_overrides(load_config(source), args)
    return _execute(cfg, mode, args)


def cmd_demo(args) -> int:
    from ..config import load_config
    from . import ambient, demo

    ambient_noise = args.workflow == "ambient-noise"
    defaults = (
        (ambient.FILES, ambient.FILE_SECONDS, ambient.CHANNELS, ambient.SAMPLE_RATE)
        if ambient_noise
        else (3, 20.0, 200, 2000.0)
    )
    files, seconds, channels, rate = (
        default if given is None else given
        for given, default in zip((args.files, args.seconds, args.channels, args.rate), defaults, strict=True)
    )
    out = os.path.abspath(args.out or ("raydas-ambient" if ambient_noise else "raydas-demo"))
    what = f"diffuse noise at {ambient.VELOCITY:g} m/s, " if ambient_noise else ""
    print(
        f"raydas demo: writing {files} SEG-Y file(s) of {seconds:g} s, {what}{channels} channels at "
        f"{rate:g} Hz into {out}/data",
        file=sys.stderr,
    )
    prepare = ambient.prepare if ambient_noise else demo.prepare
    config_path = prepare(out, files=files, seconds=seconds, channels=channels, sample_rate=rate)
    cfg = _apply_overrides(load_config(config_path), args)
    code = _execute(cfg, "run", args)
    print(f"config:    {config_path}")
    print(f"data:      {os.path.join(out, 'data')}")
    if ambient_noise and code == 0:
        try:
            recovered = ambient.recovered_velocity(cfg.output)
        except (OSError, ValueError) as exc:
            print(f"raydas demo: no velocity from the dispersion image: {exc}", file=sys.stderr)
            return 1
        ok, line = ambient.verdict(recovered)
        print(f"plots:     {', '.join(cfg.output.rstrip('/') + '/' + p for p in ambient.PLOTS)}")
        print(line)
        return 0 if ok else 1
    return code


def cmd_watch(args) -> int:
    from ..config import load_config
    from ..configfile import config_folder, load_json
    from ..runtime import Watcher

    doc = load_json(args.config)
    if isinstance(doc, dict) and "input" not in doc and "command_list" not in doc:
        doc = dict(doc, input=args.url)  # a watch config needs no input: the watched folder is it
    cfg = _apply_overrides(load_config(doc, base=config_folder(args.config)), args)
    watcher = Watcher(
        args.url,
        cfg,
        interval=args.interval,
        idle_exit=args.idle_exit,
        progress=not args.no_progress,
        settle=args.settle,
        catalogue=args.catalogue,
    )
    print(f"raydas: {watcher.describe()}", file=sys.stderr, flush=True)
    return _conclude("watch", watcher.watch)


def cmd_up(args) -> int:
    from ..config import RayOptions, apply_overrides
    from ..runtime import up

    flags = {"num_cpus": "--num-cpus", "num_actors": "--num-actors", "device": "--device"}
    options = apply_overrides(
        RayOptions(), {k: getattr(args, k) for k in flags if getattr(args, k) is not None}, names=flags
    )
    print("raydas: starting Ray (a few seconds)...", file=sys.stderr, flush=True)
    local = up(num_cpus=options.num_cpus, num_actors=options.num_actors, device=options.device, port=args.port)
    print(f"raydas: {local.describe()}")
    return 0


def cmd_down(args) -> int:
    from ..runtime import down

    print(f"raydas: {down()}")
    return 0


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", help="results root (overrides the config)")
    p.add_argument("--in-flight", type=int, help="chunks in flight at once (bounds the object store's use)")
    p.add_argument("--device", choices=["auto", "cpu", "gpu"], help="where processor actors compute")
    p.add_argument("--num-actors", type=int, help="number of processor actors")
    p.add_argument(
        "--address",
        help="Ray to use: a cluster's address, 'auto' (the Ray running on this machine) or 'local' (a private one); "
        "default: RAY_ADDRESS, else the Ray running on this machine (raydas up, ray start), else a private one",
    )
    p.add_argument("--num-cpus", type=int, help="CPUs of a private local Ray (starts one even when a Ray is running)")
    p.add_argument("--timeline", help="save ray.timeline() (Chrome trace JSON) under the results root as this file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--resume",
        choices=["auto", "never"],
        help="auto: skip chunks whose outputs the results manifest vouches for (same inputs, graph and settings); "
        "never: recompute everything (default: the config's 'resume', else auto)",
    )
    p.add_argument("--no-resume", action="store_true", help="the same as --resume never")
    p.add_argument(
        "--max-output-bytes",
        help="refuse a run whose outputs would take more (bytes, or e.g. '50GB'; default: the results root's "
        "free space less 5%%)",
    )
    from ..pipeline import NAN_POLICIES

    p.add_argument(
        "--nan-policy",
        choices=NAN_POLICIES,
        help="NaN/Inf samples (counted and reported per chunk): compute with them (propagate, the default), "
        "set them to 0 first (zero), or fail the chunk (fail)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="raydas", description="DAS processing on Ray (successor of distpy).")
    parser.add_argument("--version", action="version", version=f"raydas {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "demo",
        help="generate synthetic SEG-Y data and run a workflow on it: the noise log, or ambient-noise "
        "interferometry (which prints the velocity it recovers)",
    )
    p.add_argument(
        "--workflow",
        choices=["noise-log", "ambient-noise"],
        default="noise-log",
        help="noise-log (default): band energies per second; ambient-noise: correlations of diffuse noise, "
        "stacked, and their dispersion image (exits 1 when the velocity is not recovered)",
    )
    p.add_argument(
        "--out",
        help="folder for data, configs and results (default: raydas-demo; raydas-ambient for ambient-noise)",
    )
    p.add_argument("--files", type=int, help="number of files (default: 3; ambient-noise 4)")
    p.add_argument("--seconds", type=float, help="seconds per file (default: 20; ambient-noise 120)")
    p.add_argument("--channels", type=int, help="channels (default: 200; ambient-noise 96)")
    p.add_argument("--rate", type=float, help="sample rate (Hz; default: 2000; ambient-noise 200)")
    _add_run_options(p)
    p.set_defaults(func=cmd_demo)

    for name, mode, text in (
        ("run", "run", "ingest and process as a config says"),
        ("ingest", "ingest", "fill the chunk store from the input files"),
        ("process", "process", "process the chunk store (or input) with the pipeline"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("config", help="raydas run config or distpy system config (JSON)")
        p.add_argument(
            "--input",
            help="data to read instead of the config's input (path, glob, URL, "
            "or synthetic://?seconds=&rate=&channels=)",
        )
        p.add_argument("--catalogue", help="catalogue URL (raydas index): run its records in --start..--end, no scan")
        p.add_argument("--start", help="start of the catalogue span (ISO-8601, UTC)")
        p.add_argument("--end", help="end of the catalogue span (ISO-8601, UTC; excluded)")
        _add_run_options(p)
        p.set_defaults(func=lambda a, m=mode: cmd_run(a, m))

    p = sub.add_parser("watch", help="process files as they arrive in a folder or bucket")
    p.add_argument("url", help="folder (or glob) to watch: local path or fsspec URL")
    p.add_argument("--config", required=True, help="run config (JSON) giving processing, output, chunk_seconds")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between listings (default 2)")
    p.add_argument("--idle-exit", type=float, help="stop after this many seconds without a new file")
    p.add_argument(
        "--settle",
        type=float,
        help="take a file once its size and modification time have not changed for this many seconds "
        "(default: the config's settle_seconds, 5)",
    )
    p.add_argument(
        "--catalogue", help="catalogue (raydas index) keeping what the watcher took: a restart opens none of it again"
    )
    _add_run_options(p)
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("up", help="start a Ray that raydas runs attach to (fast start), with warm processor actors")
    p.add_argument("--num-cpus", type=int, help="CPUs it offers (default: all)")
    p.add_argument("--num-actors", type=int, help="warm processor actors (default: one per CPU, or per GPU)")
    p.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="the warm actors' device")
    p.add_argument("--port", type=int, default=0, help="its GCS port (default: any free one)")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("down", help="stop the Ray that raydas up started")
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("scan", help="list the records found in files, folders or globs")
    p.add_argument("paths", nargs="+", help="paths, globs, folders or URLs")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.add_argument("--format", help="force a format")
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("index", help="build or update a catalogue (partitioned Parquet) of every record under roots")
    p.add_argument("roots", nargs="+", help="folders, globs, files or URLs (s3://bucket/prefix)")
    p.add_argument("--catalogue", required=True, help="catalogue folder or URL (created when missing)")
    p.add_argument("--format", help="force a format")
    p.add_argument("--batch-files", type=int, default=512, help="files scanned between two commits (default 512)")
    p.add_argument("--no-ray", action="store_true", help="scan in this process, one file after the other")
    p.add_argument("--address", help="Ray to scan on (as for raydas run --address)")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("select", help="list what a catalogue holds for a span, with gaps and overlaps")
    p.add_argument("catalogue", help="catalogue folder or URL (raydas index)")
    p.add_argument("--start", required=True, help="span start (ISO-8601, UTC when no offset)")
    p.add_argument("--end", required=True, help="span end (ISO-8601, excluded)")
    p.add_argument("--channels", help="A:B: only records that have channels A to B-1")
    p.add_argument("--format", help="only records of this format")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_select)

    p = sub.add_parser("formats", help="list the registered formats")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_formats)

    p = sub.add_parser("commands", help="list the registered processing commands")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_commands)

    p = sub.add_parser("plot", help="draw the well_log, stack and rgb plots of a distpy plots config")
    p.add_argument("config", help="plots config (distpy's plotsConfig.json), or a system config naming one")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("graph", help="write Graphviz dot of a pipeline")
    p.add_argument("config", help="processing config or run config")
    p.add_argument("-o", "--output", help="write the dot here instead of stdout")
    p.set_defaults(func=cmd_graph)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..config import redact

    args = build_parser().parse_args(argv)
    console.configure(verbose=args.verbose)
    try:
        return args.func(args)
    except RaydasError as exc:
        print(f"raydas: error: {redact(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("raydas: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
