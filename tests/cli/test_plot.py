"""``raydas plot``: distpy's well_log, stack and rgb panel plots of a plots config.

Each test reads back what was drawn (colour limits, line positions, image
arrays, file size) and compares it with values computed here by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import date_num, png_size_and_dpi

from raydas.apps.cli import main as cli_main
from raydas.apps.plot import PANEL_PLOTS, load_plots_config, panel_inputs, read_zones, run_plots
from raydas.errors import ConfigError, FormatError

# --- panel plots ----------------------------------------------------------------------
NX, NT = 20, 16
T0 = 1_583_020_800  # 2020-03-01 00:00:00 UTC
DEPTH = 300.0 + 2.5 * np.arange(NX)  # depths are far from row indices


@pytest.fixture
def plot_folder(tmp_path):
    """A folder as distpy's WITSML egest leaves it, plus a zone file and a plots config."""
    rng = np.random.default_rng(3)
    np.save(tmp_path / "time.npy", T0 + 60.0 * np.arange(NT))
    np.save(tmp_path / "measured_depth.npy", DEPTH.reshape(-1, 1))
    bands = {}
    for name in ("band_01_10-50.npy", "band_02_50-200.npy", "band_03_200--1.npy"):
        bands[name] = rng.random((NX, NT)) * 4.0 + 1.0
        np.save(tmp_path / name, bands[name])
    (tmp_path / "zones.txt").write_text("top name\nm -\n320.0 stage 1 perfA\n335.0 end\n340.0 x perfB\n347.5 e\n")
    cfg = {
        "directory_out": "plots",
        "figure_size": [5, 4],
        "dpi": 40,
        "start_of_fibre": 305.0,
        "end_of_fibre": 345.0,
        "time_reference": "time.npy",
        "depth_reference": "measured_depth.npy",
        "depth_display_unit": "m",
        "well_segments": "zones.txt",
        "BOXSIZE": 500,
        "label_list": [{"event_label_start": 310.0, "event_mark": "2020-03-01 00:05:00", "event_text": "pump on"}],
        "plots": [
            {
                "plot_type": "well_log",
                "out_plot": "noiselog",
                "plot_list": [
                    {"title_text": "10-50", "data": "band_01_10-50.npy", "colormap": "UAVK"},
                    {"title_text": "50-200", "data": "band_02_50-200.npy", "colormap": "magma"},
                ],
            },
            {
                "plot_type": "stack",
                "out_plot": "stacked",
                "plot_list": [
                    {"title_text": "A", "data": "band_01_10-50.npy", "colormap": "Reds", "alpha": 0.5},
                    {"title_text": "B", "data": "band_02_50-200.npy", "colormap": "Blues", "alpha": 0.3},
                ],
            },
            {
                "plot_type": "rgb",
                "out_plot": "false_colour",
                "plot_list": [
                    {"title_text": "low", "data": "band_01_10-50.npy"},
                    {"title_text": "mid", "data": "band_02_50-200.npy", "inverted": "yes"},
                    {"title_text": "high", "data": "band_03_200--1.npy"},
                ],
            },
        ],
    }
    path = tmp_path / "plotsConfig.json"
    path.write_text(json.dumps(cfg))
    return tmp_path, path, bands


def draw(path, index):
    cfg, din, _, src = load_plots_config(str(path))
    inputs = panel_inputs(cfg, din, index, src, str(path.parent))
    return PANEL_PLOTS[cfg.plots[index].plot_type].figure(inputs)


def test_raydas_plot_writes_every_png_at_figure_size_times_dpi(plot_folder, capsys):
    folder, path, _ = plot_folder
    assert cli_main(["plot", str(path)]) == 0
    for stem in ("noiselog", "stacked", "false_colour"):
        size, dpi = png_size_and_dpi((folder / "plots" / f"{stem}.png").read_bytes())
        assert size == (200, 160)
        assert dpi == pytest.approx((40, 40), abs=0.05)
    assert "false_colour.png" in capsys.readouterr().out


def test_zone_lines_sit_at_zone_depths_not_row_indices(plot_folder):
    _, path, _ = plot_folder
    for index in range(3):
        for ax in draw(path, index).axes:
            if not ax.images:
                continue  # colour bars
            zone_y = sorted(line.get_ydata()[0] for line in ax.lines if line.get_gid() == "zone")
            assert zone_y == [320.0, 335.0, 340.0, 347.5]
            ends = sorted(line.get_ydata()[0] for line in ax.lines if line.get_gid() == "fibre_end")
            assert ends == [305.0, 345.0]
            assert ax.get_ylim() == pytest.approx((DEPTH.max(), DEPTH.min()))  # depth runs down


def test_event_line_and_time_ticks_are_utc_times_of_the_columns(plot_folder):
    _, path, _ = plot_folder
    ax = draw(path, 0).axes[0]
    (event,) = [line for line in ax.lines if line.get_gid() == "event"]
    assert event.get_xdata()[0] == pytest.approx(date_num(T0 + 300), abs=1e-9)
    ticks = ax.get_xticks()
    every = NT // 8
    np.testing.assert_allclose(ticks, date_num(T0 + 60.0 * np.arange(0, NT, every)), atol=1e-9)
    first = ax.xaxis.get_major_formatter().format_data(ticks[1])
    assert first == "Sun Mar 01 00:02:00 2020"  # asctime of the third column, UTC


def test_well_log_colour_scale_tops_at_ten_times_the_despiked_max(plot_folder):
    folder, path, bands = plot_folder
    spiky = bands["band_02_50-200.npy"].copy()
    spiky[4, 7] = 1e6
    np.save(folder / "band_02_50-200.npy", spiky)
    images = [ax.images[0] for ax in draw(path, 0).axes if ax.images]
    assert images[0].get_clim() == pytest.approx((0.0, 10 * bands["band_01_10-50.npy"].max()))
    # the spike is far outside 3 median absolute deviations, so it does not set the scale
    assert images[1].get_clim() == pytest.approx((0.0, 10 * np.delete(spiky.ravel(), 4 * NT + 7).max()))


def test_stack_overlays_each_dataset_with_its_alpha(plot_folder):
    _, path, _ = plot_folder
    (ax, *_) = draw(path, 1).axes
    assert [im.get_alpha() for im in ax.images] == [0.5, 0.3]
    assert ax.get_title() == "Stack of A B"


def test_rgb_channels_are_scaled_to_unit_range_and_inverted_on_request(plot_folder):
    _, path, bands = plot_folder
    ax = draw(path, 2).axes[0]
    rgb = np.asarray(ax.images[0].get_array())
    assert rgb.shape == (NX, NT, 3)
    for channel, name, inverted in (
        (0, "band_01_10-50.npy", False),
        (1, "band_02_50-200.npy", True),
        (2, "band_03_200--1.npy", False),
    ):
        x = bands[name]
        expected = (x - x.min()) / (x.max() - x.min())
        np.testing.assert_allclose(rgb[..., channel], 1 - expected if inverted else expected, atol=1e-12)
    assert ax.get_title() == "R = low, G = mid, B = high"


def test_depth_in_feet(plot_folder):
    _, path, _ = plot_folder
    cfg = json.loads(path.read_text())
    cfg.update(depth_display_unit="ft", well_segments=None, start_of_fibre=None, end_of_fibre=None)
    path.write_text(json.dumps(cfg))
    ax = draw(path, 0).axes[0]
    assert ax.get_ylim() == pytest.approx((DEPTH.max() / 0.3048, DEPTH.min() / 0.3048))
    assert ax.get_ylabel() == "depth (ft)"
    assert not [line for line in ax.lines if line.get_gid() in ("zone", "fibre_end")]


def test_distpy_system_config_naming_the_plots_config(plot_folder, tmp_path_factory):
    folder, path, _ = plot_folder
    out = tmp_path_factory.mktemp("out")
    system = folder / "plotSystem.json"
    system.write_text(json.dumps({"in_directory": str(folder), "out_directory": str(out), "config": path.name}))
    written = run_plots(str(system))
    assert sorted(p.rsplit("/", 1)[-1] for p in written) == ["false_colour.png", "noiselog.png", "stacked.png"]
    assert (out / "noiselog.png").exists()


def test_read_zones_reports_the_line_of_a_bad_entry(tmp_path):
    bad = tmp_path / "z.txt"
    bad.write_text("h\nh\n12.5 a\n13.0 b\nnot-a-depth c\n20 d\n")
    with pytest.raises(FormatError, match=r"z.txt: lines 5-6"):
        read_zones(str(bad))
    bad.write_text("h\nh\n12.5 a\n")
    with pytest.raises(FormatError, match="no end line"):
        read_zones(str(bad))
    bad.write_text("h\nh\n 12.5  a b name\n13.0 x\n")
    assert [(z.name, z.start, z.end) for z in read_zones(str(bad))] == [("name", 12.5, 13.0)]


@pytest.mark.parametrize(
    "edit, where",
    [
        (lambda c: c["plots"][2]["plot_list"].pop(), r"\$\.plots\[2\]: an rgb plot takes exactly 3"),
        (lambda c: c["plots"][0].update(plot_type="pie"), r"\$\.plots\[0\]\.plot_type"),
        (lambda c: c["plots"][0]["plot_list"][0].update(colormap="nope"), r"plot_list\[0\]\.colormap"),
        (lambda c: c["label_list"][0].update(event_mark="01/03/2020"), r"\$\.label_list\[0\]\.event_mark"),
        (lambda c: c["plots"][1].update(out_plot="../escape"), r"\$\.plots\[1\]\.out_plot"),
    ],
)
def test_bad_plots_config_names_the_json_path(plot_folder, edit, where):
    _, path, _ = plot_folder
    cfg = json.loads(path.read_text())
    edit(cfg)
    path.write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match=where):
        run_plots(str(path))


def test_data_of_the_wrong_shape_or_missing_names_file_and_path(plot_folder, capsys):
    folder, path, _ = plot_folder
    np.save(folder / "band_02_50-200.npy", np.ones((NX, NT + 1)))
    with pytest.raises(ConfigError, match=r"plots\[0\]\.plot_list\[1\]\.data: band_02_50-200.npy has shape \(20, 17\)"):
        run_plots(str(path))
    (folder / "band_02_50-200.npy").unlink()
    assert cli_main(["plot", str(path)]) == 2
    assert "band_02_50-200.npy: does not exist" in capsys.readouterr().err


def test_time_reference_must_be_unix_times(plot_folder):
    folder, path, _ = plot_folder
    np.save(folder / "time.npy", np.arange(NT) * 1.0)
    with pytest.raises(ConfigError, match=r"\$\.time_reference: time.npy must hold unix times"):
        run_plots(str(path))
