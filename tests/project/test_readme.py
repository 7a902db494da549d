"""The README is executable: every line of the shell blocks of its "Use it"
section, and its Python snippet, run verbatim in a temporary copy of the
repository on the data that ``raydas demo`` (the "Try it" command) writes.
Lines that need a cluster or are long runs are skipped here, each with its
reason; a skipped ``ray job submit`` still has its job's command run, in the
job's working dir. Outputs are counted through the summaries each command
prints, and nothing may be written into the copy outside ``raydas-demo/``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest
from helpers import REPO

README = Path(REPO) / "README.md"
#: README lines (named by a part of them) not run here, and why
SKIPPED = {
    "ray job submit": "needs a Ray cluster with its job API (the job's own command is run, in its working dir)",
    "raydas watch ": "runs until stopped (Ctrl-C)",
    "synthetic://?seconds=1800": "a load test: half an hour of 500 channels at 1 kHz",
}
#: what a fresh clone does not have (git-ignored, or git's own), also where git is not at hand
NOT_IN_A_CLONE = (".git", ".venv", "raydas-demo", "__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache")
NOT_IN_A_CLONE += (".hypothesis", "build", "dist")
#: the folder the README's commands write into, relative to the copy
DEMO = "raydas-demo"


# --- reading the README ------------------------------------------------------------------------------
def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def _blocks(section: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", section, flags=re.S)


def _commands(block: str) -> list[str]:
    """The commands of a shell block, continuation lines joined, blank lines left out."""
    return [line.strip() for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def _skip_reason(line: str) -> str | None:
    return next((why for part, why in SKIPPED.items() if part in line), None)


def _summary(stdout: str) -> dict[str, str]:
    """The ``key:   value`` lines of a run's summary."""
    return dict(m.groups() for m in re.finditer(r"^([a-z]+):\s+(.*)$", stdout, flags=re.M))


# --- the newcomer commands and the skip list stay true -----------------------------------------------
def test_the_newcomer_commands_and_every_skip_name_a_readme_line():
    (try_it,) = _blocks(_section("Try it"), "bash")
    assert try_it.strip().endswith("pip install -e . && raydas demo")
    (tests,) = _blocks(_section("Run the tests"), "bash")
    assert tests.strip() == "pip install -e '.[test]' && python -m pytest"
    extras = tomllib.loads((Path(REPO) / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "pytest" in " ".join(extras["test"])
    lines = [line for block in _blocks(_section("Use it"), "bash") for line in _commands(block)]
    for part in SKIPPED:
        assert sum(part in line for line in lines) == 1, f"skip {part!r} names no single README line"


# --- running it --------------------------------------------------------------------------------------
def _ignored_by_git() -> set[str]:
    """The checkout's git-ignored paths (caches such as ``benchmarks/.cache/``, the benchmarks' own
    interpreters: a gigabyte), absolute; none when the checkout is no git repository."""
    try:
        listed = subprocess.run(
            ["git", "-C", REPO, "ls-files", "--others", "--ignored", "--exclude-standard", "--directory"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    return {os.path.join(REPO, line.rstrip("/")) for line in listed.splitlines() if line.strip()}


def _copy_of_the_repository(into: Path) -> Path:
    copy = into / "raydas"
    by_name = shutil.ignore_patterns(*NOT_IN_A_CLONE)
    ignored = _ignored_by_git()

    def not_in_a_clone(folder: str, names: list[str]) -> set[str]:
        return set(by_name(folder, names)) | {n for n in names if os.path.join(folder, n) in ignored}

    shutil.copytree(REPO, copy, ignore=not_in_a_clone, symlinks=True)
    return copy


def _files(root: Path) -> dict[str, float]:
    return {
        str(p.relative_to(root)): p.stat().st_mtime
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def _env(ray_tmp: str) -> dict[str, str]:
    """The user's environment with this interpreter's ``raydas`` first on PATH and a
    Ray temp folder of the test's own (``raydas up`` and ``down`` touch no other Ray)."""
    env = dict(os.environ, RAY_TMPDIR=ray_tmp, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    env.pop("RAY_ADDRESS", None)
    return env


def _shell(line: str, cwd: Path, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _job_command(line: str) -> tuple[str, str]:
    """The working dir and the command of a ``ray job submit ... --working-dir D -- CMD`` line."""
    match = re.search(r"--working-dir (\S+)(?: .*?)? -- (.*)$", line)
    assert match, line
    return match.group(1), match.group(2)


def _check(line: str, result: subprocess.CompletedProcess, copy: Path) -> list[str]:
    """What is wrong with what ``line`` did (nothing: [])."""
    said = f"{line}\n  exit {result.returncode}\n  stdout: {result.stdout[-1500:]}\n  stderr: {result.stderr[-1500:]}"
    if result.returncode != 0:
        return [said]
    problems = []
    said_twice = {ln for ln in result.stderr.splitlines() if ln.strip() and result.stderr.count(ln + "\n") > 1}
    if re.search(r"\S+\.py:\d+", result.stderr) or "Token authentication" in result.stderr or said_twice:
        problems.append(f"a file-and-line warning, Ray's banner or a message twice on the console: {said}")
    summary = _summary(result.stdout)
    if "results" in summary:  # a run: its results lie under raydas-demo/, and it says what it wrote
        if not Path(summary["results"]).resolve().is_relative_to((copy / DEMO).resolve()):
            problems.append(f"results outside {DEMO}/: {said}")
        chunks = re.match(r"(\d+) processed, (\d+) already done, (\d+) in all", summary["chunks"])
        written = int(summary["outputs"].split()[0])
        if not chunks or int(chunks[3]) == 0 or (int(chunks[1]) and not written):
            problems.append(f"no chunk, or nothing written: {said}")
        for key in ("store", "quicklook", "timeline"):
            if key in summary and not Path(summary[key].split()[0]).exists():
                problems.append(f"its {key} {summary[key]} does not exist: {said}")
    return problems


@pytest.mark.slow
def test_every_line_of_use_it_runs_verbatim_on_the_demos_data(tmp_path):
    copy = _copy_of_the_repository(tmp_path)
    before = _files(copy)
    ray_tmp = tempfile.mkdtemp(prefix="rd", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    env = _env(ray_tmp)
    problems: list[str] = []
    ran: dict[str, subprocess.CompletedProcess] = {}
    try:
        (try_it,) = _blocks(_section("Try it"), "bash")
        demo = try_it.strip().rsplit("&&", 1)[1].strip()  # the venv and install are this test's environment
        ran[demo] = _shell(demo, copy, env)
        problems += _check(demo, ran[demo], copy)
        assert not problems, problems  # everything below reads the demo's data
        for block in _blocks(_section("Use it"), "bash"):
            for line in _commands(block):
                if "ray job submit" in line:  # the job's command, where the job would run it
                    workdir, line = _job_command(line)
                    line = line.replace("$PWD", str(copy))  # as the submitting shell expands it
                    ran[line] = _shell(line, copy / workdir, env)
                elif _skip_reason(line):
                    continue
                else:
                    ran[line] = _shell(line, copy, env)
                problems += _check(line, ran[line], copy)
        (snippet,) = _blocks(_section("Use it"), "python")
        python = subprocess.run(
            [sys.executable, "-"], input=snippet, cwd=copy, env=env, capture_output=True, text=True, timeout=600
        )
        ran["python"] = python
        problems += _check("the Python snippet", python, copy)
    finally:
        _shell("raydas down", copy, env)
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert not problems, "\n\n".join(problems)

    # what each command said it did
    scanned = next(r for line, r in ran.items() if line.startswith("raydas scan 'raydas-demo/data/*.sgy'"))
    assert scanned.stdout.count(".sgy") == 3
    listed = next(r for line, r in ran.items() if line.startswith("raydas scan raydas-demo/data/ --json"))
    assert len(json.loads(listed.stdout)["records"]) == 3
    demo_run = _summary(ran[demo].stdout)
    rerun = _summary(next(r for line, r in ran.items() if line.startswith("raydas run raydas-demo/demo.json  ")).stdout)
    total = demo_run["chunks"].split()[-3]
    assert rerun["chunks"] == f"0 processed, {total} already done, {total} in all"
    processed = _summary(next(r for line, r in ran.items() if line.startswith("raydas process")).stdout)
    assert processed["results"].endswith(f"{DEMO}/witsml") and processed["outputs"].startswith(f"{total} ")
    traced = _summary(next(r for line, r in ran.items() if "--timeline" in line).stdout)
    assert traced["timeline"].startswith(str(copy / DEMO / "traced"))
    assert (copy / DEMO / "graph.dot").read_text().startswith("digraph")
    up = next(r for line, r in ran.items() if line.startswith("raydas up"))
    assert "Ray running at" in up.stdout
    assert "Pipeline('raydas demo noise log'" in python.stdout and "Output(uid 4 write_witsml" in python.stdout

    # nothing written into the checkout outside raydas-demo/, nothing of it changed
    after = _files(copy)
    strays = sorted(p for p in after if not p.startswith(f"{DEMO}/") and before.get(p) != after[p])
    assert strays == []
