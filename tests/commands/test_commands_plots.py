"""distpy's thumbnail command (in a pipeline); the panel plots of a plots
config (``raydas plot``) are tested in tests/apps/test_plot.py.

Each test reads back what was drawn (colour limits, line positions, image
arrays, file size) and compares it with values computed here by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from helpers import T0_NS, date_num, make_chunk, png_size_and_dpi, run_graph
from PIL import Image

from raydas.commands.plots import thumbnail_figure
from raydas.errors import ConfigError
from raydas.outputs import OutputSink
from raydas.pipeline import Pipeline

FS = 100.0
RNG = np.random.default_rng(7)
DATA = RNG.normal(2.0, 3.0, size=(12, 50)).astype(np.float32)
UTC = dt.UTC


# --- thumbnail ------------------------------------------------------------------------
def test_thumbnail_file_has_figure_size_times_dpi_pixels(tmp_path):
    chunk = make_chunk(DATA, FS, spacing=2.0)
    cmd = {"name": "thumbnail", "directory_out": "thumbs", "figure_size": [4, 3], "dpi": 50}
    value, _ = run_graph([dict(cmd, uid=1, in_uid=0)], chunk, out_dir=tmp_path)
    size, dpi = png_size_and_dpi((tmp_path / "thumbs" / f"{chunk.stem}.png").read_bytes())
    assert size == (200, 150)
    assert dpi == pytest.approx((50, 50), abs=0.05)  # PNG stores pixels per metre
    np.testing.assert_array_equal(value, DATA)


def test_thumbnail_jpg_and_restart_outputs_name_the_extension(tmp_path):
    chunk = make_chunk(DATA, FS)
    graph = [{"name": "thumbnail", "uid": 1, "in_uid": 0, "directory_out": "q", "format": "jpg", "dpi": 20}]
    pipeline = Pipeline.from_config({"command_list": graph})
    expected = pipeline.output_files(chunk.stem)
    assert expected == [f"q/{chunk.stem}.jpg"]
    sink = OutputSink(str(tmp_path))
    assert sink.existing(expected) == set()
    result = pipeline.run(chunk, np, sink)
    # the resume check finds every declared output, so the chunk would be skipped next time
    assert sink.existing(expected) == set(expected) == set(result.written)
    with Image.open(tmp_path / "q" / f"{chunk.stem}.jpg") as im:
        assert im.format == "JPEG" and im.size == (160, 120)


@pytest.mark.parametrize("clip_level", [0.5, 2.0])
def test_thumbnail_colour_limits_are_mean_plus_minus_clip_level_std(clip_level):
    fig = thumbnail_figure(DATA, np.arange(12) * 2.0, T0_NS, 1 / FS, clip_level=clip_level, dpi=20)
    image = fig.axes[0].images[0]
    values = DATA.astype(np.float64)
    mean, std = values.sum() / values.size, np.sqrt(((values - values.mean()) ** 2).mean())
    assert image.get_clim() == pytest.approx((mean - clip_level * std, mean + clip_level * std), rel=1e-9)


def test_thumbnail_contourf_levels_span_the_clip_limits():
    fig = thumbnail_figure(DATA, np.arange(12) * 2.0, T0_NS, 1 / FS, clip_level=1.5, style="contourf", dpi=20)
    contours = [c for c in fig.axes[0].collections if hasattr(c, "levels")][0]
    mean, std = float(DATA.astype(np.float64).mean()), float(DATA.astype(np.float64).std())
    assert contours.levels[0] == pytest.approx(mean - 1.5 * std)
    assert contours.levels[-1] == pytest.approx(mean + 1.5 * std)


def test_thumbnail_depth_runs_down_unless_inverted_and_time_spans_the_chunk():
    depth = 100.0 + np.arange(12) * 2.0
    down = thumbnail_figure(DATA, depth, T0_NS, 1 / FS, dpi=20).axes[0]
    up = thumbnail_figure(DATA, depth, T0_NS, 1 / FS, dpi=20, invert_depth=True).axes[0]
    assert down.get_ylim() == pytest.approx((122.0, 100.0))
    assert up.get_ylim() == pytest.approx((100.0, 122.0))
    assert down.images[0].get_extent()[:2] == pytest.approx([0.0, 50 / FS])  # 50 samples at 100 Hz


def test_thumbnail_date_axis_when_the_time_label_says_date():
    ax = thumbnail_figure(DATA, None, T0_NS, 1 / FS, axes=("depth (m)", "date (UTC)"), dpi=20).axes[0]
    start = T0_NS / 1e9
    assert ax.get_xlim() == pytest.approx((date_num(start), date_num(start + 0.5)), abs=1e-9)
    label = ax.xaxis.get_major_formatter().format_data(date_num(start))
    assert label == dt.datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M:%S")


def test_thumbnail_scatter_draws_data_against_gathered_arrays():
    y, c, s = (RNG.random(DATA.shape) for _ in range(3))
    fig = thumbnail_figure(DATA, None, T0_NS, 1 / FS, style="scatter", gathered=[y, c, s + 1], dpi=20)
    points = fig.axes[0].collections[0]
    np.testing.assert_allclose(points.get_offsets(), np.column_stack([DATA.ravel(), y.ravel()]), rtol=1e-6)
    np.testing.assert_allclose(points.get_array(), c.ravel())
    np.testing.assert_allclose(points.get_sizes(), (s + 1).ravel())


def test_thumbnail_scatter_in_a_pipeline_and_without_gather(tmp_path):
    chunk = make_chunk(DATA, FS)
    graph = [
        {"name": "abs", "uid": 1, "in_uid": 0},
        {
            "name": "thumbnail",
            "uid": 2,
            "in_uid": 0,
            "gather_uids": [1],
            "plot_style": "scatter",
            "directory_out": "sc",
            "dpi": 20,
        },
    ]
    run_graph(graph, chunk, out_dir=tmp_path)
    assert (tmp_path / "sc" / f"{chunk.stem}.png").stat().st_size > 0
    lone = [{"name": "thumbnail", "uid": 1, "in_uid": 0, "plot_style": "scatter", "directory_out": "sc"}]
    with pytest.raises(ConfigError, match=r"\$\.command_list\[0\]\.gather_uids: thumbnail needs 1 gather_uids"):
        run_graph(lone, chunk, out_dir=tmp_path)  # at validation, before any work


def test_thumbnail_rejects_bad_parameters_with_json_path():
    for bad, where in (
        ({"plot_style": "bars"}, "plot_style"),
        ({"cmap": "no_such_map"}, "cmap"),
        ({"clip_level": 0}, "clip_level"),
    ):
        cmd = dict({"name": "thumbnail", "uid": 1, "in_uid": 0, "directory_out": "x"}, **bad)
        with pytest.raises(ConfigError, match=rf"command_list\[0\]\.{where}"):
            Pipeline.from_config({"command_list": [cmd]})


@pytest.mark.parametrize("name", ["well_log", "stack", "rgb"])
def test_panel_plots_in_a_processing_config_say_where_they_belong(tmp_path, name):
    chunk = make_chunk(DATA, FS)
    graph = [{"name": name, "uid": 1, "in_uid": 0, "out_plot": "x", "plot_list": [{"data": "a.npy"}]}]
    with pytest.raises(ConfigError, match=r"\$\.command_list\[0\]\.name: .*run `raydas plot PLOTS_CONFIG.json`"):
        run_graph(graph, chunk, out_dir=tmp_path)
