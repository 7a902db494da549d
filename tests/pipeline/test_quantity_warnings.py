"""Commands meant for one kind of quantity (a noise log for vibration data) warn at
planning when a record holds another (temperatures); the record still runs."""

from __future__ import annotations

import numpy as np

from raydas.config import RunConfig
from raydas.formats.base import RecordInfo
from raydas.pipeline import Pipeline
from raydas.runtime import Run

GRAPH = {
    "command_list": [
        {"name": "fft", "uid": 1, "in_uid": 0},
        {"name": "rms_from_fft", "uid": 2, "in_uid": 1, "low_freq": 0, "high_freq": -1},
        {"name": "abs", "uid": 3, "in_uid": 2},
    ]
}


def _record(quantity: str, units: str = "") -> RecordInfo:
    return RecordInfo(
        "memory://dts.h5", "test", 4, 1000, 0.01, 1_700_000_000 * 10**9, np.arange(4.0), units=units, quantity=quantity
    )


def test_a_noise_log_of_temperatures_warns_naming_record_and_command():
    pipeline = Pipeline.from_config(GRAPH)
    (warning,) = pipeline.quantity_warnings(_record("temperature", "degC"))
    assert warning == (
        "memory://dts.h5: $.command_list[1] (rms_from_fft) is meant for strain_rate/strain/velocity data; "
        "this record holds temperature"
    )
    assert pipeline.quantity_warnings(_record("strain_rate", "1/s")) == []
    assert pipeline.quantity_warnings(_record("unknown")) == []  # nothing said of what is not known


def test_planning_keeps_the_record_and_reports_the_warning_once(tmp_path):
    run = Run(RunConfig(input="memory://dts.h5", output=str(tmp_path), processing=GRAPH), progress=False)
    records = [_record("temperature", "degC"), _record("temperature", "degC")]
    assert run.servable(records) == records  # a warning, not a refusal
    assert [w for w in run.report.warnings if "is meant for" in w] == [
        "memory://dts.h5: $.command_list[1] (rms_from_fft) is meant for strain_rate/strain/velocity data; "
        "this record holds temperature"
    ]
