"""Run one distpy processing command on a .npy chunk (executed INSIDE the
distpy 1.32.3 environment built by ``benchmarks/distpy_env.py``; Python 3.8).

Usage: ``python distpy_runner.py job.json`` with the job (paths relative to
the job file's folder)::

    {"command_list": [{"name": "fft", "in_uid": 0},       # distpy JSON, in order
                      {"name": "rms_from_fft", "in_uid": 1}],
     "prf": 1000.0,                                          # Hz
     "data": "data.npy",          # (nx, nt) samples
     "gathered": [],              # arrays for gather_uids (nodes 1..k)
     "xaxis": "xaxis.npy" | null, # depths (m); null = arange(nx) as distpy
     "result": "result.npy", "report": "report.json", "repeat": 1}

The commands are built the way distpy's worker
(``workers/strainrate2summary.build_command_list``) builds them: the data is
node 0 (``DataLoadCommand``), the k gathered arrays are nodes 1..k, the
commands follow as nodes k+1, k+2, ... in list order (``in_uid`` and
``gather_uids`` are these positions, as in distpy), and each command's JSON
gets the injected keys ``nx``, ``nt``, ``prf``,
``xaxis``, ``taxis`` (``arange(nt)``), ``f_rescale = nt/prf``,
``date_dir``, ``datestring``, ``inline_plots`` and an absolute
``directory_out`` before distpy's ``CommandFactory`` makes it. The report
holds the best time (s) of executing the whole list over ``repeat`` runs;
the result saved is the last command's ``result()``.
"""

import json
import os
import sys
import time

import numpy
from distpy.calc import extra_numpy, processing_commands, pub_command_set

STEM = 1700000000  # the chunk's unix time (s)


def inject(command, nx, nt, prf, xaxis, folder):
    """Add the keys distpy's worker injects into every command's JSON."""
    command = dict(command)
    for key in ("directory_out", "directory_in"):
        value = command.get(key, "NONE")
        if value != "NONE":
            path = os.path.join(folder, value)
            os.makedirs(path, exist_ok=True)
            command[key] = path
    command.update(
        {
            "date_dir": str(STEM),
            "datestring": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(STEM)),
            "nx": nx,
            "nt": nt,
            "prf": prf,
            "xaxis": xaxis,
            "taxis": numpy.arange(nt),
            "inline_plots": 0,
            "f_rescale": float(nt) / float(prf),
        }
    )
    return command


def main(job_path):
    """Run a job file; one holding ``{"jobs": [job, ...]}`` runs each job in
    its own sub-folder (``job_0``, ``job_1``, ...) and records a failing job's
    error in its report instead of stopping (one process for many jobs)."""
    folder = os.path.dirname(os.path.abspath(job_path))
    with open(job_path) as fh:
        job = json.load(fh)
    if "jobs" not in job:
        run_job(folder, job)
        return
    import traceback

    for i, _ in enumerate(job["jobs"]):
        sub = os.path.join(folder, f"job_{i}")
        with open(os.path.join(sub, "job.json")) as fh:
            one = json.load(fh)
        try:
            run_job(sub, one)
        except Exception as exc:  # noqa: BLE001 - the report says what distpy raised
            with open(os.path.join(sub, one["report"]), "w") as fh:
                json.dump(
                    {
                        "saved": False,
                        "error": f"{type(exc).__name__}: {exc}",
                        "traceback": traceback.format_exc()[-2000:],
                    },
                    fh,
                )


def run_job(folder, job):
    data = numpy.load(os.path.join(folder, job["data"]))
    gathered = [numpy.load(os.path.join(folder, name)) for name in job.get("gathered", [])]
    nx, nt = data.shape
    prf = job["prf"]
    xaxis = numpy.load(os.path.join(folder, job["xaxis"])) if job.get("xaxis") else numpy.arange(nx)
    extra_numpy.set_boxsize(job.get("BOXSIZE", 500))
    commands = [inject(c, nx, nt, prf, xaxis, folder) for c in job["command_list"]]

    best = None
    result = None
    for _ in range(max(1, int(job.get("repeat", 1)))):
        # node 0 is the chunk, nodes 1..k the gathered arrays; commands follow in list order
        nodes = [pub_command_set.DataLoadCommand(data, {})]
        nodes += [pub_command_set.DataLoadCommand(g, {}) for g in gathered]
        for command in commands:
            nodes.append(processing_commands.CommandFactory(nodes, dict(command)))
        built = nodes[1 + len(gathered) :]
        t0 = time.perf_counter()
        for cmd in built:
            cmd.execute()
        seconds = time.perf_counter() - t0
        best = seconds if best is None else min(best, seconds)
        result = built[-1].result()
    report = {"seconds": best, "classes": [type(c).__name__ for c in built], "saved": False}
    if result is not None:
        out = numpy.asarray(result)
        if out.dtype == object:
            report["error"] = "result is not a numeric array"
        else:
            numpy.save(os.path.join(folder, job["result"]), out)
            report.update(saved=True, dtype=str(out.dtype), shape=list(out.shape))
    with open(os.path.join(folder, job["report"]), "w") as fh:
        json.dump(report, fh)


if __name__ == "__main__":
    main(sys.argv[1])
