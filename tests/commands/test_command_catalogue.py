"""`raydas commands --json` lists every distpy command name, the four plot commands
(thumbnail among the commands; well_log, stack and rgb in the section of
plots-config panels), the four distpy never registered, with distpy's code
defaults and a full description."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: distpy 1.32.3 pub_command_set.KnownCommands (64 names)
DISTPY_REGISTERED = [
    "NONE",
    "data",
    "to_gpu",
    "from_gpu",
    "copy",
    "macro",
    "abs",
    "angle",
    "conj",
    "real",
    "unwrap",
    "lin_transform",
    "soft_threshold",
    "hard_threshold",
    "bounded_select",
    "rescale",
    "mean",
    "std_dev",
    "sum",
    "kurtosis",
    "skewness",
    "harmonic_mean",
    "geometric_mean",
    "argmax",
    "peak_to_peak",
    "count_peaks",
    "approx_vlf",
    "extract",
    "butter",
    "gaussian",
    "sobel",
    "convolve",
    "correlate",
    "median_filter",
    "wiener",
    "running_mean",
    "dip_filter",
    "destripe",
    "diff",
    "gradient",
    "downsample",
    "roll",
    "broaden",
    "clip",
    "fft",
    "ifft",
    "rms_from_fft",
    "multiple_calcs",
    "analytic_signal",
    "deconvolve",
    "virtual_cmp",
    "up_wave",
    "down_wave",
    "velocity_map",
    "velocity_mask",
    "sta_lta",
    "kmeans",
    "keras",
    "add",
    "multiply",
    "gather",
    "write_npy",
    "data_load",
    "write_witsml",
]
PLOTS = ["thumbnail", "well_log", "stack", "rgb"]
#: distpy's plots that are panels of a plots config (``raydas plot``), not graph commands
PLOTS_CONFIG_PANELS = ["well_log", "stack", "rgb"]
NEVER_REGISTERED_BY_DISTPY = ["hash", "moment", "interp", "curve_fit"]

#: a sample of distpy's code defaults (reference §1.2)
DEFAULTS = {
    "butter": {"order": 5, "type": "lowpass", "padtype": "even", "freq": 200.0, "axis": 1},
    "gaussian": {"xsigma": 1, "tsigma": 1, "xorder": 5, "torder": 5, "mode": "constant"},
    "sta_lta": {"sta": 50, "lta": 200},
    "rms_from_fft": {"low_freq": 0, "high_freq": -1},
    "analytic_signal": {"freq": 200.0, "window_length": 64, "axis": 1},
    "velocity_mask": {"min_velocity": 1400, "max_velocity": 1600, "smooth": 0},
    "peak_to_peak": {"window_length": 200},
    "count_peaks": {"sta": 50, "lta": 200},
    "median_filter": {"distance": 3},
    "wiener": {"xdir": 5, "tdir": 5},
    "broaden": {"window_length": 50},
    "dip_filter": {"velocity": 100},
    "kmeans": {"n_clusters": 10},
    "deconvolve": {"tolerance": 1e-6},
    "lin_transform": {"m": 1.0, "c": 0.0},
    "hard_threshold": {"direction": ">", "threshold": 0.0, "value": 0.0},
    "bounded_select": {"min_val": 0.0, "max_val": 1.0},
    "argmax": {"axis": 0},
    "mean": {"axis": 1},
    "downsample": {"xsample": 1, "tsample": 1},
}


@pytest.fixture(scope="module")
def listed() -> list[dict]:
    out = subprocess.run(
        [sys.executable, "-m", "raydas", "commands", "--json"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    return json.loads(out)


@pytest.fixture(scope="module")
def catalogue(listed) -> dict[str, dict]:
    """The graph commands (section command_list), by name."""
    return {c["name"]: c for c in listed if c["section"] == "command_list"}


@pytest.fixture(scope="module")
def panels(listed) -> dict[str, dict]:
    """The plots-config panels (section plots_config), by name."""
    return {c["name"]: c for c in listed if c["section"] == "plots_config"}


def test_every_name_is_listed(listed, catalogue, panels):
    assert len(DISTPY_REGISTERED) == 64
    assert {c["section"] for c in listed} == {"command_list", "plots_config"}
    commands = [n for n in DISTPY_REGISTERED + PLOTS + NEVER_REGISTERED_BY_DISTPY if n not in PLOTS_CONFIG_PANELS]
    missing = [n for n in commands if n not in catalogue] + [n for n in PLOTS_CONFIG_PANELS if n not in panels]
    assert not missing
    assert sorted(panels) == sorted(PLOTS_CONFIG_PANELS)
    assert not set(panels) & set(catalogue)  # a panel is no graph command


def test_plots_config_panels_are_described_in_their_own_section(panels):
    for name, c in panels.items():
        assert c["family"] == "plots", name
        assert c["description"].strip() and c["changed_from_distpy"].strip(), name
        assert [p["name"] for p in c["parameters"]] == ["out_plot", "plot_list"], name
        assert all(p["required"] and p["description"].strip() for p in c["parameters"]), name
    text = subprocess.run(
        [sys.executable, "-m", "raydas", "commands"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    commands, _, section = text.partition("Plots-config panels")
    assert "raydas plot PLOTS_CONFIG.json" in section.splitlines()[0]
    for name in PLOTS_CONFIG_PANELS:
        assert f"\n{name} " in section and f"\n{name} " not in commands, name


def test_every_entry_is_described(catalogue):
    families = {
        "spectral",
        "filters",
        "statistics",
        "geometry",
        "detection",
        "algebra",
        "elementwise",
        "io",
        "plots",
        "control",
        "interferometry",
    }
    for name, c in catalogue.items():
        assert c["family"] in families, name
        assert c["description"].strip(), name
        assert c["inputs"] in {"one", "gather", "optional"}, name
        assert isinstance(c["gpu"], bool) and isinstance(c["time_local"], bool), name
        assert str(c["halo"]).strip(), name
        for p in c["parameters"]:
            assert "Undefined" not in str(p["default"]), (name, p)


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_distpy_code_defaults(catalogue, name):
    got = {p["name"]: p["default"] for p in catalogue[name]["parameters"]}
    for key, value in DEFAULTS[name].items():
        assert got[key] == value, f"{name}.{key}: {got.get(key)!r} != distpy's {value!r}"


def test_gather_commands_say_they_need_gather_uids(catalogue):
    for name in ("add", "multiply", "deconvolve", "gather"):
        assert catalogue[name]["inputs"] == "gather", name
    assert catalogue["rescale"]["inputs"] == "optional"


def test_fixed_bugs_are_listed(catalogue):
    for name in (
        "rms_from_fft",
        "sta_lta",
        "butter",
        "down_wave",
        "multiply",
        "running_mean",
        "dip_filter",
        "analytic_signal",
        "clip",
    ):
        assert catalogue[name]["changed_from_distpy"].strip(), name
