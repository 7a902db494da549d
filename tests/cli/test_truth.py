"""The run tells the truth: the summary is printed even when something failed,
exit statuses agree (``scan`` is non-zero whenever an input failed), a glob that
matches nothing is an error naming it, and raydas's own failure report is never
read as input data. Run as users run it (subprocesses)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from helpers import REPO

from raydas import formats
from raydas.errors import NoMatch
from raydas.fsutil import FAILURE_REPORT, MANIFEST_DIR, expand

NOISELOG = os.path.join(REPO, "configs/demo-noiselog.json")


def raydas(*args, cwd=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "raydas", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )


def _folder(tmp_path, demo_files, *, broken=False, document=False):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(demo_files[0], data / "a.sgy")
    if broken:
        (data / "b.sgy").write_bytes(open(demo_files[1], "rb").read()[:5000])
    if document:
        (data / "README.md").write_text("# Field notes\n\nThese files were recorded on the first day of the survey.\n")
    return data


# --- the summary is printed even when something failed --------------------------------------------
@pytest.mark.slow
def test_summary_is_printed_when_a_file_fails_and_each_failure_once(tmp_path, demo_files):
    data = _folder(tmp_path, demo_files, broken=True)
    cfg = tmp_path / "run.json"
    cfg.write_text(json.dumps({"input": str(data), "output": "res", "processing": NOISELOG, "quicklook": False}))
    result = raydas("run", str(cfg), "--no-progress", "--num-cpus", "2")
    assert result.returncode == 1
    assert f"results:   {tmp_path / 'res'}" in result.stdout  # the summary, on stdout
    assert "chunks:    4 processed, 0 already done, 4 in all" in result.stdout
    assert "outputs:   4 file(s) written" in result.stdout
    both = result.stdout + result.stderr
    failure = next(line for line in result.stderr.splitlines() if "b.sgy" in line and "[scan]" in line)
    assert both.count(failure.strip()) == 1  # each failure once on the console
    assert failure.count("b.sgy") == 1  # and the file named once in it
    assert "1 failure" in result.stderr and FAILURE_REPORT in result.stderr


# --- scan's exit status -------------------------------------------------------------------------------
def test_scan_exits_non_zero_whenever_an_input_failed(tmp_path, demo_files):
    data = _folder(tmp_path, demo_files, broken=True)
    folder = raydas("scan", str(data))
    assert folder.returncode == 1 and "b.sgy" in folder.stderr and "a.sgy" in folder.stdout
    alone = raydas("scan", str(data / "b.sgy"))
    assert alone.returncode == 1
    as_json = raydas("scan", str(data), "--json")
    assert as_json.returncode == 1 and len(json.loads(as_json.stdout)["unreadable"]) == 1


def test_scan_of_data_beside_documents_exits_0(tmp_path, demo_files):
    data = _folder(tmp_path, demo_files, document=True)
    result = raydas("scan", str(data))
    assert result.returncode == 0, result.stderr
    assert "not data" in result.stderr and "README.md" in result.stderr


# --- a glob that matches nothing ----------------------------------------------------------------------
def test_a_glob_matching_nothing_is_an_error_naming_it(tmp_path, demo_files):
    data = _folder(tmp_path, demo_files)
    missing = str(tmp_path / "elsewhere" / "*.sgy")
    with pytest.raises(NoMatch, match="elsewhere"):
        expand([str(data / "*.sgy"), missing])
    with pytest.raises(NoMatch):
        formats.scan([str(data / "a.sgy"), missing])
    result = raydas("scan", str(data / "*.sgy"), missing)
    assert result.returncode == 2 and missing in result.stderr


def test_a_run_whose_input_list_has_an_empty_glob_stops_before_any_work(tmp_path, demo_files):
    data = _folder(tmp_path, demo_files)
    cfg = tmp_path / "run.json"
    cfg.write_text(
        json.dumps({"input": ["data/*.sgy", "data/*.h5"], "output": "res", "processing": NOISELOG, "quicklook": False})
    )
    result = raydas("run", str(cfg), "--no-progress", "--num-cpus", "1")
    assert result.returncode == 2
    assert str(data / "*.h5") in result.stderr and "matches no file" in result.stderr
    assert not (tmp_path / "res").exists()


# --- the failure report is not input data --------------------------------------------------------------
def test_the_failure_report_is_never_read_as_data(tmp_path, demo_files):
    data = _folder(tmp_path, demo_files)
    (data / FAILURE_REPORT).write_text(json.dumps({"failures": [], "chunks": {"total": 0}}))
    assert [os.path.basename(u) for u in expand(str(data))] == ["a.sgy"]
    assert [os.path.basename(u) for u in expand(str(data / "*"))] == ["a.sgy"]
    result = raydas("scan", str(data), "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert len(listed["records"]) == 1 and listed["unreadable"] == [] and listed["not_data"] == []


def test_the_results_manifest_is_never_read_as_data(tmp_path, demo_files):
    """A folder that a run wrote its results into holds ``raydas-manifest/`` (Parquet, one row
    per output): walks and globs pass over it, as over the failure report."""
    data = _folder(tmp_path, demo_files)
    (data / MANIFEST_DIR).mkdir()
    (data / MANIFEST_DIR / "20261206T000000Z-run.parquet").write_bytes(b"PAR1")
    (data / MANIFEST_DIR / "a.sgy").write_bytes((data / "a.sgy").read_bytes())  # data-looking, still passed over
    assert [os.path.basename(u) for u in expand(str(data))] == ["a.sgy"]
    assert [os.path.basename(u) for u in expand(str(data / "**"))] == ["a.sgy"]
    with pytest.raises(NoMatch):  # only the manifest's copy matches: nothing is left
        expand(str(data / "*" / "*.sgy"))
