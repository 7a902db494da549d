"""``raydas watch`` takes a file only once it has stopped changing (size and
modification time unchanged for the settle time), takes a failed file again
when it changes, and says at start what it watches, how and where results go."""

from __future__ import annotations

import json
import os
import threading
import time

from helpers import REPO

from raydas.apps.cli import main as cli_main
from raydas.config import RunConfig
from raydas.runtime.watch import Watcher

NOISELOG = os.path.join(REPO, "configs/demo-noiselog.json")


def _watcher(inbox, tmp_path, **kw) -> Watcher:
    cfg = RunConfig(input="unused", output=str(tmp_path / "out"), processing=NOISELOG, quicklook=False)
    return Watcher(str(inbox), cfg, interval=0.1, progress=False, **kw)


def _poll_until(watcher: Watcher, done, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        watcher.poll()
        time.sleep(watcher.interval)


def test_a_file_written_in_two_parts_with_a_pause_is_taken_once_complete(tmp_path, demo_files):
    """The writer pauses between the two halves for longer than several listings
    (a size seen unchanged twice) but less than the settle time."""
    payload = open(demo_files[0], "rb").read()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    watcher = _watcher(inbox, tmp_path, settle=3.0)
    polls_during_pause = []

    def writer():
        with open(inbox / "a.sgy", "wb") as fh:
            fh.write(payload[: len(payload) // 2])
        time.sleep(1.0)
        polls_during_pause.append(True)
        with open(inbox / "a.sgy", "ab") as fh:
            fh.write(payload[len(payload) // 2 :])

    thread = threading.Thread(target=writer)
    thread.start()
    _poll_until(watcher, lambda: watcher.run.report.files or watcher.run.report.failures)
    thread.join()
    report = watcher.run.report
    assert polls_during_pause and report.failures == [] and report.files == 1
    (record,) = watcher._records
    assert (record.n_channels, record.n_samples) == (40, 4000)  # the whole file, as written
    for _ in range(5):  # and never again
        assert watcher.poll() == 0


def test_a_failed_file_is_taken_again_when_it_changes(tmp_path, demo_files):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    target = inbox / "a.sgy"
    target.write_bytes(b"\x00\x01\xff not yet a SEG-Y file" * 300)
    watcher = _watcher(inbox, tmp_path, settle=0.3)
    _poll_until(watcher, lambda: watcher.run.report.failures)
    report = watcher.run.report
    assert [f.stage for f in report.failures] == ["scan"] and report.files == 0
    for _ in range(5):  # unchanged: not taken again
        assert watcher.poll() == 0
    target.write_bytes(open(demo_files[0], "rb").read())
    _poll_until(watcher, lambda: watcher.run.report.files)
    assert report.failures == [] and report.files == 1 and len(watcher._records) == 1


def test_watch_says_what_it_watches_how_long_files_settle_and_where_results_go(ray_session, tmp_path, capsys):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    cfg = tmp_path / "watch.json"
    cfg.write_text(json.dumps({"output": "out", "processing": NOISELOG, "settle_seconds": 0.7}))
    code = cli_main(["watch", str(inbox), "--config", str(cfg), "--interval", "0.1", "--idle-exit", "0.3"])
    assert code == 0
    (line,) = [ln for ln in capsys.readouterr().err.splitlines() if "watching" in ln]
    assert str(inbox) in line and "0.7 s" in line and str(tmp_path / "out") in line
    assert _watcher(inbox, tmp_path, settle=None).settle == 5.0  # the default
