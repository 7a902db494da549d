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
from raydas.errors import ConfigError, PipelineError
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


def test_thumbnail_draws_rows_in_the_order_of_their_coordinate_against_column_coordinates():
    values = np.arange(15, dtype=np.float32).reshape(3, 5)
    rows = np.array([10.0, -5.0, 0.0])  # e.g. the offsets of two virtual sources' gathers, not in order
    lags = np.array([-0.2, -0.1, 0.0, 0.1, 0.2])
    ax = thumbnail_figure(values, rows, T0_NS, 1 / FS, dpi=20, columns=lags).axes[0]
    image = ax.images[0]
    np.testing.assert_array_equal(image.get_array(), values[[1, 2, 0]])  # rows -5, 0, 10
    left, right, bottom, top = image.get_extent()
    assert (left, right) == pytest.approx((-0.2, -0.2 + 0.4 * 5 / 4))  # the convention of time columns
    assert (bottom, top) == pytest.approx((10.0, -5.0))
    assert ax.get_ylim() == pytest.approx((10.0, -5.0))  # down, as depth
    with pytest.raises(ValueError, match="4 column coordinates for 5 columns"):
        thumbnail_figure(values, rows, T0_NS, 1 / FS, dpi=20, columns=lags[:4])


def test_thumbnail_of_a_virtual_shot_gather_and_of_its_dispersion_image(tmp_path, monkeypatch):
    """row_coordinate and column_coordinate draw an xcorr result against offset and lag, and a
    dispersion image against velocity and frequency, with the values those commands label them with."""
    import raydas.commands.plots as plots

    drawn = []

    def recording(values, positions, *args, **kwargs):
        drawn.append((np.asarray(values), np.asarray(positions), kwargs["columns"]))
        return thumbnail_figure(values, positions, *args, **kwargs)

    monkeypatch.setattr(plots, "thumbnail_figure", recording)
    chunk = make_chunk(DATA, FS, spacing=2.0)
    small = {"figure_size": [3, 2], "dpi": 20}
    graph = [
        {"name": "xcorr", "uid": 1, "in_uid": 0, "sources": [6], "max_lag_seconds": 0.05},
        {"name": "thumbnail", "uid": 2, "in_uid": 1, "directory_out": "gather", "row_coordinate": "offset",
         "column_coordinate": "lag", **small},
        {"name": "dispersion", "uid": 3, "in_uid": 1, "min_velocity": 100, "max_velocity": 300,
         "velocity_step": 50, "low_freq": 10, "high_freq": 50},
        {"name": "thumbnail", "uid": 4, "in_uid": 3, "directory_out": "image", "row_coordinate": "velocity",
         "column_coordinate": "frequency", "invert_depth": 1, **small},
    ]  # fmt: skip
    run_graph(graph, chunk, out_dir=tmp_path)
    (gather, offsets, lags), (image, velocities, frequencies) = drawn
    assert gather.shape == (12, 11)
    np.testing.assert_allclose(offsets, 2.0 * np.arange(12) - 12.0)  # channel j at 2 j m, the source at 12 m
    np.testing.assert_allclose(lags, np.arange(-5, 6) / FS)
    assert image.shape == (5, 3)
    np.testing.assert_allclose(velocities, [100, 150, 200, 250, 300])
    np.testing.assert_allclose(frequencies, [100 / 6, 200 / 6, 300 / 6])  # traces of 6 lags, bins in 10-50 Hz
    for folder in ("gather", "image"):
        assert (tmp_path / folder / f"{chunk.stem}.png").read_bytes()[:4] == b"\x89PNG"


def test_thumbnail_of_a_coordinate_the_input_lacks_names_the_ones_it_has(tmp_path):
    chunk = make_chunk(DATA, FS)
    graph = [
        {"name": "xcorr", "uid": 1, "in_uid": 0, "sources": [0], "max_lag_seconds": 0.05},
        {"name": "thumbnail", "uid": 2, "in_uid": 1, "directory_out": "g", "column_coordinate": "offset"},
    ]
    with pytest.raises(
        PipelineError,
        match=r"thumbnail \(uid 2, \$\.command_list\[1\]\).*no coordinate 'offset' "
        r"along axis 1 \(it has lag\)",
    ):
        run_graph(graph, chunk, out_dir=tmp_path)


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
