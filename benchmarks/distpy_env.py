"""A cached Python 3.8 virtual environment holding distpy 1.32.3 and the
package stack of its era, for running distpy side by side with raydas.

distpy 1.32.3 does not run on current numpy, matplotlib or Python (see
``shared/reference/distpy.md`` section 5.2), so it gets an environment of its
own. The environment is built once into ``benchmarks/.cache/`` (git-ignored;
``$RAYDAS_DISTPY_CACHE`` moves it) and reused; a marker file records the pins
it was built with, and a changed pin list rebuilds it. Measured on the 2-core
development machine: 23 s with pip's cache warm, 132 s with ``PIP_NO_CACHE_DIR=1``
(every wheel downloaded); about 500 MB on disk. ``python -m
benchmarks.distpy_env [--rebuild]`` builds it and says how long it took.

Public API
----------
``ensure_distpy_env() -> Path | None``
    The Python interpreter of the environment (building it if needed), or
    ``None`` when it cannot be built here (no Python 3.8, no package index);
    the reason is in :func:`last_error` and logged.
``run_distpy_command(command, data, prf, ...) -> np.ndarray``
    Run one distpy processing command on a (channel, time) array, inside the
    environment, built as distpy's worker builds it, and return the result.
``run_distpy_graph(command_list, data, prf, ..., repeat=n) -> (result, report)``
    The same for a chain of commands; ``report["seconds"]`` is the best
    time of ``repeat`` executions (for benchmarks).
``run_distpy_batch([DistpyJob(...), ...]) -> [(result, report), ...]``
    Many runs in one process of the environment.
``RUNNER``
    The runner script executed inside the environment (``python RUNNER
    job.json``); a benchmark can call it directly to time distpy.

Typical use::

    from benchmarks.distpy_env import ensure_distpy_env, run_distpy_command
    if ensure_distpy_env() is not None:
        y = run_distpy_command({"name": "sta_lta", "sta": 5, "lta": 20}, x, prf=1000.0)
        rms, report = run_distpy_graph([{"name": "fft", "in_uid": 0},
                                        {"name": "rms_from_fft", "in_uid": 1}], x, prf=1000.0, repeat=5)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
#: where environments are built (git-ignored as /benchmarks/.cache/)
CACHE = Path(os.environ.get("RAYDAS_DISTPY_CACHE", HERE / ".cache"))
ENV_DIR = CACHE / "distpy-1.32.3-py38"
RUNNER = HERE / "distpy_runner.py"

#: the pin set of distpy's era (reference section 5.2), each pin the closest
#: release with Python 3.8 wheels. numba 0.56.4 is the last numba supporting
#: numpy 1.23; scikit-learn and h5py are distpy's declared dependencies;
#: rec-avro is its undeclared hard import.
PINS = (
    "distpy==1.32.3",
    "numpy==1.23.5",
    "scipy==1.10.1",
    "pandas==1.5.3",
    "matplotlib==3.2.2",
    "numba==0.56.4",
    "h5py==3.8.0",
    "scikit-learn==1.2.2",
    "rec-avro==0.0.4",
)
BUILD_TIMEOUT_S = 900

_last_error: str | None = None


def find_python38() -> Path | None:
    """A Python 3.8 interpreter: ``$RAYDAS_PYTHON38``, pyenv's 3.8.18, or ``python3.8`` on PATH."""
    candidates = [
        os.environ.get("RAYDAS_PYTHON38"),
        str(Path.home() / ".pyenv/versions/3.8.18/bin/python"),
        shutil.which("python3.8"),
    ]
    for c in candidates:
        if c and Path(c).exists():
            return Path(c)
    return None


def _env_python(env: Path) -> Path:
    return env / "bin" / "python"


def _marker(env: Path) -> Path:
    return env / "raydas-pins.json"


def last_error() -> str | None:
    """Why the last :func:`ensure_distpy_env` returned None (None if it did not)."""
    return _last_error


def ensure_distpy_env(env: Path = ENV_DIR, rebuild: bool = False) -> Path | None:
    """The Python of a virtual environment with distpy 1.32.3 and its era's stack.

    Builds it (a few minutes, once) under ``benchmarks/.cache/`` unless a build
    with the same pins is there. Thread- and process-unsafe: build it once
    before starting parallel users.

    Parameters
    ----------
    env
        Folder of the environment.
    rebuild
        Delete and rebuild it even if it looks complete.

    Returns
    -------
    Path or None
        The environment's interpreter, or None when it cannot be built here
        (the reason is logged and given by :func:`last_error`).
    """
    global _last_error
    _last_error = None
    python = _env_python(env)
    if not rebuild and python.exists() and _marker(env).exists():
        try:
            if json.loads(_marker(env).read_text()).get("pins") == list(PINS):
                return python
        except (OSError, ValueError):
            pass
    base = find_python38()
    if base is None:
        return _fail("no Python 3.8 interpreter (set RAYDAS_PYTHON38, or install 3.8.18 with pyenv)")
    if env.exists():
        shutil.rmtree(env)
    env.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        _check(subprocess.run([str(base), "-m", "venv", str(env)], capture_output=True, text=True, timeout=120))
        _check(
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "--only-binary=:all:", *PINS],
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_S,
            )
        )
        probe = (
            "import distpy.calc.processing_commands, matplotlib, numpy; "
            "print(numpy.__version__, matplotlib.__version__)"
        )
        _check(
            subprocess.run(
                [str(python), "-c", probe], capture_output=True, text=True, timeout=120, env=_runner_env(env)
            )
        )
    except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
        shutil.rmtree(env, ignore_errors=True)
        return _fail(f"building the distpy environment failed: {exc}")
    seconds = time.monotonic() - started
    _marker(env).write_text(
        json.dumps({"pins": list(PINS), "build_seconds": round(seconds, 1), "python": str(base)}, indent=1)
    )
    log.info("built the distpy environment in %.0f s at %s", seconds, env)
    return python


def _check(proc: subprocess.CompletedProcess) -> None:
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-5:]
        raise RuntimeError(f"{' '.join(map(str, proc.args[:4]))} ... exited {proc.returncode}: {' | '.join(tail)}")


def _fail(message: str) -> None:
    global _last_error
    _last_error = message
    log.warning("distpy environment unavailable: %s", message)
    return None


def _runner_env(env: Path) -> dict:
    """Environment variables for processes in the distpy env: headless matplotlib,
    a private numba cache, one thread (comparable timings, no oversubscription)."""
    out = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    out.update(
        {
            "MPLBACKEND": "Agg",
            "NUMBA_CACHE_DIR": str(env / "numba-cache"),
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "MPLCONFIGDIR": str(env / "mplconfig"),
        }
    )
    return out


def run_distpy_command(
    command: dict,
    data: np.ndarray,
    prf: float,
    xaxis: np.ndarray | None = None,
    gathered: list[np.ndarray] | tuple = (),
    **kwargs,
) -> np.ndarray:
    """Run one distpy command on ``data`` inside the distpy environment.

    The command reads the chunk (``in_uid`` 0) and, when ``gathered`` is
    given, those arrays as its ``gather_uids``. See :func:`run_distpy_graph`
    for the other parameters.

    Returns
    -------
    numpy.ndarray
        distpy's result (the command's ``result()``).
    """
    extra = {"gather_uids": list(range(1, len(gathered) + 1))} if gathered else {}
    cmd = dict(command, in_uid=0, **extra)
    result, _ = run_distpy_graph([cmd], data, prf, xaxis=xaxis, gathered=gathered, **kwargs)
    return result


def run_distpy_graph(
    command_list: list[dict],
    data: np.ndarray,
    prf: float,
    xaxis: np.ndarray | None = None,
    gathered: list[np.ndarray] | tuple = (),
    python: Path | None = None,
    workdir: str | os.PathLike | None = None,
    repeat: int = 1,
    boxsize: int = 500,
) -> tuple[np.ndarray | None, dict]:
    """Run a distpy command list on one chunk inside the distpy environment.

    Each command is built by distpy's own ``CommandFactory`` with the keys
    distpy's worker injects (``nx``, ``nt``, ``prf``, ``xaxis``, ``taxis =
    arange(nt)``, ``f_rescale = nt/prf``, ``date_dir``, ``datestring``, an
    absolute ``directory_out``). As in distpy, links are positions: node 0 is
    the chunk, nodes 1..k the ``gathered`` arrays, and the commands are nodes
    k+1, k+2, ... in list order (their ``uid`` keys are not read).

    Parameters
    ----------
    command_list
        distpy command JSON objects (``name``, ``in_uid``, optional
        ``gather_uids``, parameters).
    data
        (channel, time) samples; handed to distpy as float64, as its ingest writes them.
    prf
        Sample rate (Hz).
    xaxis
        Channel depths (m); default ``arange(nx)`` as distpy.
    gathered
        Extra input arrays (nodes 1..k).
    python
        The environment's interpreter (default: :func:`ensure_distpy_env`).
    workdir
        Folder for the job files and any files the commands write
        (``directory_out`` is relative to it); default a temporary folder,
        deleted afterwards.
    repeat
        Build and execute the list this many times (for timing).
    boxsize
        distpy's ``BOXSIZE`` (depth rows per block of its blocked FFT code).

    Returns
    -------
    result, report
        The last command's ``result()`` (None when distpy returns None, e.g.
        ``running_mean``) and the runner's report: ``seconds`` (best time of
        executing the whole list, s), ``classes`` (distpy's command classes),
        ``dtype``, ``shape``.

    Raises
    ------
    RuntimeError
        When the environment is unavailable or distpy fails; the message holds
        the tail of distpy's traceback.
    """
    job = DistpyJob(command_list, data, prf, xaxis=xaxis, gathered=gathered, repeat=repeat, boxsize=boxsize)
    ((result, report),) = run_distpy_batch([job], python=python, workdir=workdir)
    if "error" in report and not report.get("saved"):
        raise RuntimeError(
            f"distpy {[c.get('name') for c in command_list]} failed: {report['error']}\n{report.get('traceback', '')}"
        )
    return result, report


class DistpyJob:
    """One distpy run for :func:`run_distpy_batch` (arguments as :func:`run_distpy_graph`)."""

    def __init__(
        self,
        command_list: list[dict],
        data: np.ndarray,
        prf: float,
        xaxis: np.ndarray | None = None,
        gathered: list[np.ndarray] | tuple = (),
        repeat: int = 1,
        boxsize: int = 500,
    ):
        self.command_list = command_list
        self.data = data
        self.prf = prf
        self.xaxis = xaxis
        self.gathered = list(gathered)
        self.repeat = repeat
        self.boxsize = boxsize

    def write(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "data.npy", np.asarray(self.data, dtype=np.float64))
        names = []
        for i, g in enumerate(self.gathered):
            np.save(folder / f"gather{i}.npy", np.asarray(g))
            names.append(f"gather{i}.npy")
        if self.xaxis is not None:
            np.save(folder / "xaxis.npy", np.asarray(self.xaxis, dtype=np.float64))
        job = {
            "command_list": self.command_list,
            "prf": float(self.prf),
            "data": "data.npy",
            "gathered": names,
            "xaxis": "xaxis.npy" if self.xaxis is not None else None,
            "result": "result.npy",
            "report": "report.json",
            "repeat": int(self.repeat),
            "BOXSIZE": int(self.boxsize),
        }
        (folder / "job.json").write_text(json.dumps(job))


def run_distpy_batch(
    jobs: list[DistpyJob], python: Path | None = None, workdir: str | os.PathLike | None = None
) -> list[tuple[np.ndarray | None, dict]]:
    """Run many distpy jobs in ONE process of the distpy environment (its
    imports take about a second, so batching matters for test suites).

    Job ``i`` runs in ``<workdir>/job_<i>`` (files it writes land there). A
    job that raises does not stop the others: its report holds ``error``
    (``"TypeName: message"``) and ``traceback``, and its result is None.

    Returns
    -------
    list of (result, report)
        In the order of ``jobs``.

    Raises
    ------
    RuntimeError
        When the environment is unavailable or the runner itself fails.
    """
    python = python or ensure_distpy_env()
    if python is None:
        raise RuntimeError(f"distpy environment unavailable: {last_error()}")
    own = workdir is None
    folder = Path(tempfile.mkdtemp(prefix="distpy-job-")) if own else Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for i, job in enumerate(jobs):
            job.write(folder / f"job_{i}")
        (folder / "batch.json").write_text(json.dumps({"jobs": [f"job_{i}" for i in range(len(jobs))]}))
        env = python.parent.parent
        proc = subprocess.run(
            [str(python), str(RUNNER), str(folder / "batch.json")],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=folder,
            env=_runner_env(env),
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
            raise RuntimeError(f"the distpy runner failed:\n{tail}")
        out = []
        for i in range(len(jobs)):
            sub = folder / f"job_{i}"
            report = json.loads((sub / "report.json").read_text())
            result = np.load(sub / "result.npy", allow_pickle=False) if report.get("saved") else None
            out.append((result, report))
        return out
    finally:
        if own:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":  # python -m benchmarks.distpy_env : build and report
    logging.basicConfig(level=logging.INFO)
    t0 = time.monotonic()
    py = ensure_distpy_env(rebuild="--rebuild" in sys.argv)
    if py is None:
        print(f"unavailable: {last_error()}", file=sys.stderr)
        sys.exit(1)
    print(f"{py} ready in {time.monotonic() - t0:.0f} s")
