"""What the user sees is true and quiet: raydas's messages once each, in user
form (no Ray banner, no library message twice, no file-and-line warnings); the
progress bar's throughput is the summary's; the object store's peak is printed
only when it was measured."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from raydas.runtime import RunReport

FILE_AND_LINE = re.compile(r"\S+\.py:\d+")
MB_PER_S = re.compile(r"([0-9.]+) MB/s")


def raydas(*args, cwd=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "raydas", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )


def _console_is_quiet(stderr: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert not [line for line in lines if FILE_AND_LINE.search(line)], stderr  # no file-and-line warnings
    assert len(lines) == len(set(lines)), stderr  # nothing twice
    assert all(line.startswith("raydas") for line in lines), stderr  # raydas's messages only


@pytest.mark.slow
def test_demo_prints_no_ray_banner_and_the_progress_throughput_is_the_summarys(tmp_path):
    result = raydas(
        "demo", "--out", str(tmp_path / "demo"), "--files", "2", "--seconds", "3", "--channels", "16",
        "--rate", "1000", "--num-cpus", "2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Token authentication" not in result.stderr  # Ray's banner
    _console_is_quiet(result.stderr)
    progress = [line for line in result.stderr.splitlines() if re.match(r"raydas: \d+/\d+ chunks", line)]
    assert progress and "6/6 chunks" in progress[-1]
    time_line = next(line for line in result.stdout.splitlines() if line.startswith("time:"))
    assert MB_PER_S.findall(progress[-1]) == MB_PER_S.findall(time_line)


def test_scan_prints_library_and_file_warnings_once_in_user_form(real_data):
    result = raydas("scan", str(real_data))
    assert result.returncode == 0
    _console_is_quiet(result.stderr)
    truncated = [line for line in result.stderr.splitlines() if "sample_tdms_file_v4713.tdms" in line]
    assert len(truncated) == 1 and truncated[0].startswith("raydas: warning: ") and "truncated" in truncated[0]
    assert "Last segment of file has less data" not in result.stderr  # npTDMS's own words for the same thing


def test_the_object_store_peak_is_printed_only_when_measured():
    unmeasured = RunReport(output="res", peak_object_store_bytes=None, peak_driver_rss_bytes=300 * 2**20).summary()
    assert "object store" not in unmeasured and "driver RSS peak 300 MiB" in unmeasured
    measured = RunReport(output="res", peak_object_store_bytes=8 * 2**20, in_flight=4).summary()
    assert "object store peak 8 MiB with 4 chunks in flight" in measured


def test_the_summary_gives_throughput_over_the_processing_time():
    report = RunReport(output="res", bytes_processed=50_000_000, seconds=12.0, processing_seconds=2.0)
    assert "12.00 s in all; processing 2.00 s at 25.0 MB/s" in report.summary()


@pytest.mark.slow
def test_a_graph_warning_is_printed_once_in_a_run(tmp_path, demo_files):
    graph = {
        "command_list": [
            {"name": "fft", "uid": 1, "in_uid": 0},
            {"name": "rms_from_fft", "uid": 2, "in_uid": 1, "low_freq": 0, "high_freq": -1, "low_frek": 3},
        ]
    }
    cfg = tmp_path / "run.json"
    cfg.write_text(json.dumps({"input": demo_files[0], "output": "res", "processing": graph, "quicklook": False}))
    result = raydas("run", str(cfg), "--no-progress", "--num-cpus", "2")
    assert result.returncode == 0, result.stderr
    assert (result.stdout + result.stderr).count("low_frek") == 1
    _console_is_quiet(result.stderr)


def test_the_console_scrubs_credentials_from_log_lines_and_warnings():
    """Messages name files and URLs, and a URL may be signed: the console's log lines
    (and their tracebacks, were they shown) and warnings pass through raydas.config.redact."""
    import io
    import logging
    import warnings

    from raydas.apps import console

    out = io.StringIO()
    before = (logging.getLogger().handlers[:], logging.getLogger().level, warnings.showwarning)
    try:
        console.configure(stream=out)
        logging.getLogger("raydas.test").warning("cannot read s3://alice:hunter22@bucket/a.h5")
        try:
            raise OSError("https://host/a.h5?X-Amz-Signature=abcdef0123456789")
        except OSError:
            logging.getLogger("raydas.test").exception("reading failed")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = console._WarningsOnce(out)
            warnings.warn("token=abcdef0123456789 in the file's header", UserWarning, stacklevel=1)
    finally:
        root = logging.getLogger()
        root.handlers[:], warnings.showwarning = before[0], before[2]
        root.setLevel(before[1])
    text = out.getvalue()
    assert "raydas: cannot read s3://***@bucket/a.h5" in text, text
    for secret in ("hunter22", "abcdef0123456789"):
        assert secret not in text, text
    assert "raydas: warning: " in text and "raydas: reading failed" in text
