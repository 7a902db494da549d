"""The other systems timed beside raydas: distpy (its own Python 3.8 stack) and DASCore.

Each runs in its own virtual environment, as a child process of the benchmark
(one process tree). A child times its own pass and prints one JSON line, so
interpreter start-up and imports are never on the clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"


class Unavailable(Exception):
    """A side that cannot run here; the message says why."""


def _python_of(env: Path) -> Path:
    """The interpreter of a virtual environment (or ``env`` itself when it is one)."""
    if env.is_file():
        return env
    for candidate in (env / "bin" / "python", env / "Scripts" / "python.exe"):
        if candidate.exists():
            return candidate
    raise Unavailable(f"no Python interpreter in {env}")


def distpy_python() -> Path:
    """distpy's interpreter, from ``benchmarks/distpy_env.py`` (``ensure_distpy_env()``).

    Raises
    ------
    Unavailable
        When that helper is not on this branch yet or could not build the environment.
    """
    try:
        from distpy_env import ensure_distpy_env  # benchmarks/distpy_env.py (written on branch issue3-plots)
    except ImportError as exc:
        raise Unavailable(
            f"benchmarks/distpy_env.py is not here yet ({exc}); it comes with branch issue3-plots"
        ) from None
    env = ensure_distpy_env()
    if env is None:
        raise Unavailable("ensure_distpy_env() could not build distpy 1.32.3's Python 3.8 environment")
    return _python_of(Path(env))


def dascore_python() -> Path:
    """A Python with DASCore: ``benchmarks/.cache/dascore-venv``, built with pip on first use.

    Raises
    ------
    Unavailable
        When ``pip install dascore`` does not work here.
    """
    env = CACHE / "dascore-venv"
    python = env / "bin" / "python"
    if python.exists() and _imports(python, "dascore"):
        return python
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", "--clear", str(env)], check=True, capture_output=True, timeout=300
        )
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "dascore"], check=True, capture_output=True, timeout=900
        )
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        message = detail.decode(errors="replace").strip()[-300:] or str(exc)
        raise Unavailable(f"pip install dascore failed: {message}") from None
    if not _imports(python, "dascore"):
        raise Unavailable("dascore installed but does not import")
    return python


def noisepy_python() -> Path:
    """NoisePy's interpreter: ``$RAYDAS_NOISEPY_PYTHON`` (``bash benchmarks/noisepy_env.sh`` builds one).

    Raises
    ------
    Unavailable
        When it is not set, or ``noisepy.seis.noise_module`` does not import there.
    """
    given = os.environ.get("RAYDAS_NOISEPY_PYTHON")
    if not given:
        raise Unavailable(
            "RAYDAS_NOISEPY_PYTHON is not set (noisepy-seis declares Python < 3.11; "
            "bash benchmarks/noisepy_env.sh builds an interpreter that runs it)"
        )
    python = _python_of(Path(given))
    if not _imports(python, "noisepy.seis.noise_module"):
        raise Unavailable(f"noisepy.seis.noise_module does not import under {python}")
    return python


def _imports(python: Path, module: str) -> bool:
    return subprocess.run([str(python), "-c", f"import {module}"], capture_output=True, timeout=300).returncode == 0


def versions(python: Path, modules: list[str]) -> dict[str, str]:
    """``{module: version}`` as seen by another interpreter (``python`` for its own version)."""
    code = (
        "import json, sys, importlib\nout = {'python': sys.version.split()[0]}\n"
        f"for m in {modules!r}:\n"
        "    try:\n        out[m] = importlib.import_module(m).__version__\n"
        "    except Exception as exc:\n        out[m] = 'n/a'\n"
        "print(json.dumps(out))"
    )
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=300)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def timed_child(python: Path, script: str, args: list[str], timeout: float = 900) -> float:
    """Run ``benchmarks/<script>`` under ``python``; returns the seconds it reports."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [str(python), str(HERE / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=str(HERE),
    )
    if done.returncode != 0:
        raise Unavailable(f"{script} failed: {(done.stderr or done.stdout).strip()[-400:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])
