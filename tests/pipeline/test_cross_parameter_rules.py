"""Rules between the parameters of a command (parameters that need each other, lists
that must match) are checked when the processing config is validated: a ConfigError
at the JSON path of the culprit, before Ray starts or any data are read. Before, some
passed validation and failed on every chunk (``multiple_calcs`` without ``func`` passed
its spectrum on to the writer), or silently gave zeros (an empty band)."""

from __future__ import annotations

import pytest
from helpers import T0_NS

from raydas.config import RunConfig
from raydas.errors import ConfigError, PlanError
from raydas.formats.base import RecordInfo
from raydas.pipeline import Pipeline
from raydas.runtime import FAILURE_REPORT, Run

FFT = {"name": "fft", "uid": 1, "in_uid": 0}


def _error(command: dict, before: tuple[dict, ...] = (FFT,)) -> ConfigError:
    uid = len(before) + 1
    graph = {"command_list": [*before, dict(command, uid=uid, in_uid=uid - 1)]}
    with pytest.raises(ConfigError) as err:
        Pipeline.from_config(graph)
    return err.value


@pytest.mark.parametrize(
    "command, field, words",
    [
        ({"name": "multiple_calcs", "low_freq": [0], "high_freq": [-1]}, "func", "needs func: te_from_fft"),
        (
            {"name": "multiple_calcs", "func": "te_from_fft", "low_freq": [0, 100], "high_freq": [100]},
            "high_freq",
            "high_freq has 1 value(s) but low_freq has 2",
        ),
        (
            {"name": "multiple_calcs", "func": "rms_from_fft", "low_freq": [0, 200], "high_freq": [200, 100]},
            "high_freq",
            "200 to 100 Hz ends below where it starts",
        ),
        ({"name": "rms_from_fft", "low_freq": 200, "high_freq": 100}, "high_freq", "ends below where it starts"),
        ({"name": "rms_from_fft", "low_freq": 0, "high_freq": -5}, "high_freq", "-1 means up to Nyquist"),
        ({"name": "rms_from_fft", "low_freq": -3, "high_freq": -1}, "high_freq", "starts below 0 Hz"),
        (
            {"name": "write_witsml", "directory_out": "fbe", "low_freq": [0, 100], "high_freq": [-1]},
            "high_freq",
            "high_freq has 1 value(s) but low_freq has 2",
        ),
        ({"name": "butter", "type": "bandpass", "freq": 100.0}, "freq", "bandpass filter needs 2 cut-off"),
        ({"name": "butter", "type": "bandstop", "freq": [200.0, 100.0]}, "freq", "low < high"),
        ({"name": "butter", "freq": -5.0}, "freq", "cut-off frequencies are positive"),
        ({"name": "count_peaks", "sta": 50, "lta": 40}, "lta", "lta (40) must exceed sta (50)"),
        ({"name": "data_load", "directory_out": "masks"}, "", "needs both directory_out and filename"),
        ({"name": "clip", "tmin": 0.5, "tmax": 0.2}, "tmax", "tmax 0.2 s is before tmin 0.5 s"),
        ({"name": "velocity_mask", "min_velocity": 1600, "max_velocity": 1400}, "max_velocity", "must exceed"),
        ({"name": "keras", "filename": "model.keras", "train": {"epochs": 3}}, "gather_uids", "keras needs 1"),
        ({"name": "keras", "filename": "model.keras", "train": {"epoch": 3}}, "train.epoch", "Extra inputs"),
        ({"name": "thumbnail", "directory_out": "png", "plot_style": "scatter"}, "gather_uids", "thumbnail needs 1"),
    ],
)
def test_rules_between_parameters_are_config_errors_at_their_json_path(command, field, words):
    err = _error(command)
    assert err.json_path == "$.command_list[1]" + (f".{field}" if field else ""), err
    assert words in err.problem, err.problem


def test_distpy_conventions_stay_valid():
    # high_freq -1 (to Nyquist), equal edges (distpy: a band "too narrow" runs to Nyquist), multiple_calcs' NONE
    for command in (
        {"name": "rms_from_fft", "low_freq": 0, "high_freq": -1},
        {"name": "rms_from_fft", "low_freq": 100, "high_freq": 100},
        {"name": "multiple_calcs", "func": "te_from_fft", "low_freq": [0], "high_freq": [0]},
        {"name": "multiple_calcs", "func": "NONE"},
        {"name": "butter", "type": "bandpass", "freq": [5.0, 200.0]},
        {"name": "data_load"},
    ):
        Pipeline.from_config({"command_list": [FFT, dict(command, uid=2, in_uid=1)]})


def test_multiple_calcs_without_func_fails_before_any_work(tmp_path):
    # before: it passed validation, Ray started, and every chunk failed in write_witsml
    graph = {
        "command_list": [
            FFT,
            {"name": "multiple_calcs", "uid": 2, "in_uid": 1, "low_freq": [0, 100], "high_freq": [100, -1]},
            {"name": "write_witsml", "uid": 3, "in_uid": 2, "directory_out": "fbe", "low_freq": [0, 100],
             "high_freq": [100, -1]},
        ]
    }  # fmt: skip
    with pytest.raises(ConfigError) as err:
        Run(RunConfig(input="synthetic://?seconds=1", output=str(tmp_path / "out"), processing=graph))
    assert err.value.json_path == "$.command_list[1].func"
    assert not (tmp_path / "out").exists() and not (tmp_path / "out" / FAILURE_REPORT).exists()


def test_the_writer_names_every_column_it_gets_at_planning():
    # three bands into a writer that names two (a rule between two commands): refused at planning
    graph = {
        "command_list": [
            FFT,
            {"name": "multiple_calcs", "uid": 2, "in_uid": 1, "func": "rms_from_fft", "low_freq": [0, 100, 200],
             "high_freq": [100, 200, -1]},
            {"name": "rms_from_fft", "uid": 3, "in_uid": 1},
            {"name": "write_witsml", "uid": 4, "in_uid": 2, "gather_uids": [3], "directory_out": "fbe",
             "low_freq": [0, 100], "high_freq": [100, -1]},
        ]
    }  # fmt: skip
    rec = RecordInfo("memory://r", "test", 4, 1000, 1e-3, T0_NS, [0.0, 1.0, 2.0, 3.0])
    with pytest.raises(PlanError) as err:
        Pipeline.from_config(graph).check_record(rec)
    assert "$.command_list[3] (write_witsml)" in str(err.value) and "4 columns to write but" in str(err.value)
    graph["command_list"][3].update(low_freq=[0, 100, 200], high_freq=[100, 200, -1])
    Pipeline.from_config(graph).check_record(rec)
