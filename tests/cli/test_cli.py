"""The command line, run as users run it (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import REPO


def raydas(*args, cwd=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "raydas", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )


@pytest.mark.slow
def test_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    result = raydas(
        "demo",
        "--out",
        str(out),
        "--files",
        "2",
        "--seconds",
        "3",
        "--channels",
        "16",
        "--rate",
        "1000",
        "--num-cpus",
        "2",
    )
    assert result.returncode == 0, result.stderr
    (label,) = os.listdir(out / "results" / "NoiseLog")  # one recording: one folder, named after its first file
    assert label.startswith("das_") and label.endswith(".sgy")
    fbe = sorted(os.listdir(out / "results" / "NoiseLog" / label))
    assert len(fbe) == 6
    assert (out / "results" / "quicklook.png").read_bytes()[:4] == b"\x89PNG"
    assert "6 processed" in result.stdout and str(out / "results") in result.stdout
    assert "chunks" in result.stderr  # the progress bar
    again = raydas("run", str(out / "demo.json"), "--no-progress", "--num-cpus", "2")
    assert again.returncode == 0 and "6 already done" in again.stdout


def test_scan_table_and_json(real_data):
    segy = str(real_data / "segy")
    table = raydas("scan", segy)
    assert table.returncode == 0
    assert "small_channel_patch.sgy" in table.stdout and "segy" in table.stdout
    listed = json.loads(raydas("scan", segy, "--json").stdout)
    by_name = {os.path.basename(r["path"]): r for r in listed["records"]}
    assert by_name["f3.sgy"]["channels"] == 414 and by_name["f3.sgy"]["samples"] == 75
    assert by_name["f3.sgy"]["sample_rate_hz"] == 250.0
    assert set(by_name["f3.sgy"]) >= {
        "path",
        "format",
        "channels",
        "samples",
        "sample_rate_hz",
        "channel_spacing_m",
        "start",
        "end",
        "units",
    }


def test_scan_table_tells_parallel_streams_apart(real_data):
    """The five FBE bands of one PRODML file are five rows, each naming its data set and band."""
    table = raydas("scan", str(real_data / "hdf5" / "prodml_fbe_1.h5"))
    rows = [line for line in table.stdout.splitlines() if "prodml_fbe_1.h5" in line]
    assert len(rows) == 5 and len({row.split()[0] for row in rows}) == 5
    assert "FbeData[2] [Fbe[0] 9.277-50.29 Hz]" in table.stdout


def test_scan_reports_unreadable_files(tmp_path, demo_files):
    (tmp_path / "junk.bin").write_bytes(b"\x00" * 5000)
    result = raydas("scan", demo_files[0], str(tmp_path / "junk.bin"), "--json")
    listed = json.loads(result.stdout)
    assert len(listed["records"]) == 1
    assert listed["unreadable"][0]["path"].endswith("junk.bin")


def test_formats_and_commands():
    formats = json.loads(raydas("formats", "--json").stdout)
    assert {"segy", "prodml", "raydas-chunks", "distpy-npy", "witsml-fbe"} <= {f["name"] for f in formats}
    described = json.loads(raydas("commands", "--json").stdout)
    names = {c["name"] for c in described}
    assert {
        "fft",
        "ifft",
        "rms_from_fft",
        "multiple_calcs",
        "abs",
        "real",
        "butter",
        "sta_lta",
        "downsample",
        "mean",
        "write_npy",
        "write_witsml",
        "thumbnail",
    } <= names
    butter = next(c for c in described if c["name"] == "butter")
    assert {p["name"]: p["default"] for p in butter["parameters"]}["order"] == 5
    assert butter["changed_from_distpy"]
    text = raydas("commands").stdout
    assert "rms_from_fft" in text and "differ from distpy" in text


def test_graph(tmp_path):
    out = tmp_path / "g.dot"
    result = raydas("graph", os.path.join(REPO, "configs/distpy/strainrate2noiselog.json"), "-o", str(out))
    assert result.returncode == 0
    assert out.read_text().startswith("digraph")


def test_bad_config_exits_2_with_json_path(tmp_path):
    cfg = tmp_path / "run.json"
    cfg.write_text(
        json.dumps(
            {
                "input": "x",
                "output": "o",
                "processing": {
                    "command_list": [{"name": "fft", "uid": 1, "in_uid": 0}, {"name": "fourier", "uid": 2, "in_uid": 1}]
                },
            }
        )
    )
    result = raydas("run", str(cfg))
    assert result.returncode == 2
    assert "$.command_list[1].name" in result.stderr and "fourier" in result.stderr


@pytest.mark.slow
def test_run_with_a_bad_file_exits_1(tmp_path, demo_files):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.sgy").write_bytes(open(demo_files[0], "rb").read())
    (data / "b.sgy").write_bytes(open(demo_files[1], "rb").read()[:5000])
    cfg = tmp_path / "run.json"
    cfg.write_text(
        json.dumps({"input": "data", "output": "res", "processing": os.path.join(REPO, "configs/demo-noiselog.json")})
    )
    result = raydas("run", str(cfg), "--no-progress", "--num-cpus", "2")
    assert result.returncode == 1
    assert "b.sgy" in result.stderr and "1 failure" in result.stderr
    assert len(os.listdir(tmp_path / "res" / "NoiseLog" / "a.sgy")) == 4


def test_down_and_attach_when_no_ray_runs(tmp_path, demo_files):
    """With no Ray running (a Ray temp folder of the test's own): `raydas down` has
    nothing to stop, and `--address auto` says how to start one instead of waiting."""
    env = dict(os.environ, RAY_TMPDIR=str(tmp_path))
    env.pop("RAY_ADDRESS", None)
    down = subprocess.run(
        [sys.executable, "-m", "raydas", "down"], capture_output=True, text=True, env=env, timeout=120
    )
    assert down.returncode == 0 and "no Ray started by `raydas up` is running" in down.stdout
    cfg = tmp_path / "run.json"
    cfg.write_text(
        json.dumps(
            {"input": demo_files[0], "output": "res", "processing": os.path.join(REPO, "configs/demo-noiselog.json")}
        )
    )
    attach = subprocess.run(
        [sys.executable, "-m", "raydas", "run", str(cfg), "--address", "auto", "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert attach.returncode == 2
    assert "no Ray is running on this machine" in attach.stderr and "raydas up" in attach.stderr
