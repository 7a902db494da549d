"""Outputs an earlier run made with another graph, for records this run does not
redo (they fail at planning now), are named in the summary's warnings, never
silently left beside the new results."""

from __future__ import annotations

import pytest

from raydas.config import RunConfig
from raydas.errors import RunFailed
from raydas.runtime import run


def _graph(low_hz: float) -> dict:
    return {
        "command_list": [
            {"name": "fft", "uid": 1, "in_uid": 0},
            {"name": "rms_from_fft", "uid": 2, "in_uid": 1, "low_freq": low_hz, "high_freq": -1},
            {"name": "write_npy", "uid": 3, "in_uid": 2, "directory_out": "rms"},
        ]
    }


def test_outputs_of_another_graph_left_for_failed_records_are_named(ray_session, demo_files, tmp_path):
    slow = "synthetic://?seconds=3&rate=100&channels=4"  # Nyquist 50 Hz
    inputs = [demo_files[0], slow]  # 1 kHz SEG-Y (4 chunks) and the 100 Hz source (3 chunks)
    first = run(RunConfig(input=inputs, output=str(tmp_path), processing=_graph(0.0), quicklook=False), progress=False)
    assert first.ok and first.chunks_done == 7 and not any("earlier run" in w for w in first.warnings)

    # 60 Hz and up: the 100 Hz record is refused at planning, its 3 chunk files (and 2 axis files) stay
    with pytest.raises(RunFailed) as caught:
        run(RunConfig(input=inputs, output=str(tmp_path), processing=_graph(60.0), quicklook=False), progress=False)
    report = caught.value.report
    assert report.chunks_done == 4 and report.redone == {"graph changed": 4}
    stale = [w for w in report.warnings if "made by an earlier run with another graph" in w]
    assert len(stale) == 1 and stale[0].startswith("5 output file(s)")
    assert "synthetic" in stale[0]
