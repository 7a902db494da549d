"""Command-line overrides (``--num-actors``, ``--output``...) go through the same
validation as the config keys they override: a bad value is refused before any
work, by the flag's name, with exit status 2 and no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import REPO

NOISELOG = os.path.join(REPO, "configs/demo-noiselog.json")


def raydas(*args, cwd=None, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "raydas", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )


@pytest.fixture
def run_config(demo_files, tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"input": demo_files, "output": str(tmp_path / "res"), "processing": NOISELOG}))
    return path


BAD_OVERRIDES = [
    # (arguments, the flag the error names, what must not be echoed)
    (["--num-actors", "-1"], "--num-actors", None),  # exited 0 saying 5 files were written, wrote none
    (["--num-actors", "0"], "--num-actors", None),
    (["--in-flight", "-5"], "--in-flight", None),  # hung for ever
    (["--in-flight", "0"], "--in-flight", None),
    (["--num-cpus", "-1"], "--num-cpus", None),  # a traceback
    (["--output", "memory://KEY:SECRET@bucket/res"], "--output", "SECRET"),  # accepted, and the secret printed
    (["--output", "https://acct.blob.core.windows.net/c/res?sv=2024&sig=c2VjcmV0"], "--output", "c2VjcmV0"),
    (["--input", "s3://AKIAEXAMPLE:wJalrXUtnFEMI@bucket/data/*.sgy"], "--input", "wJalrXUtnFEMI"),
    (["--timeline", "../trace.json"], "--timeline", None),
]


@pytest.mark.parametrize("args,flag,secret", BAD_OVERRIDES, ids=[" ".join(a) for a, _, _ in BAD_OVERRIDES])
def test_bad_overrides_are_refused_by_flag_before_any_work(run_config, tmp_path, args, flag, secret):
    done = raydas("run", str(run_config), "--no-progress", *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"raydas: error: {flag}: "), done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "res").exists()  # nothing was written: refused before any work
    if secret:
        assert secret not in done.stdout + done.stderr


def test_up_options_are_validated_like_config_keys():
    for args, flag in ((["--num-cpus", "-1"], "--num-cpus"), (["--num-actors", "0"], "--num-actors")):
        done = raydas("up", *args)
        assert done.returncode == 2 and done.stderr.startswith(f"raydas: error: {flag}: "), done.stderr
        assert "starting Ray" not in done.stderr


def test_good_overrides_reach_the_config(run_config, tmp_path):
    from raydas.apps.cli import _apply_overrides, build_parser
    from raydas.config import load_config

    args = build_parser().parse_args(
        ["run", str(run_config), "--num-actors", "3", "--in-flight", "7", "--output", str(tmp_path / "other")]
    )
    cfg = _apply_overrides(load_config(str(run_config)), args)
    assert (cfg.ray.num_actors, cfg.ray.in_flight, cfg.output) == (3, 7, str(tmp_path / "other"))
    assert cfg.ray.num_cpus is None and cfg.processing == NOISELOG  # the rest is the config's
