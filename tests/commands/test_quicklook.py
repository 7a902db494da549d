"""The noise log's quick-look shows what was computed, no more: bands in Hz
("to Nyquist"), the quantity by name (RMS is RMS), UTC on the time axis, a
short last chunk drawn short, and one colour scale per quantity, said so."""

from __future__ import annotations

import os

import numpy as np
import pytest
from helpers import REPO

from raydas import formats
from raydas.commands.plotting import date_num
from raydas.commands.quicklook import collect_fbe, noise_log_figure
from raydas.outputs import OutputSink
from raydas.pipeline import Pipeline
from raydas.recording import assemble, plan_chunks

DEMO = os.path.join(REPO, "configs/demo-noiselog.json")
DISTPY = os.path.join(REPO, "configs/distpy/strainrate2noiselog.json")
DAY_NS = 86400 * 10**9


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> str:
    """A 4-s SEG-Y file at 2.5 kHz (Nyquist above every band of both graphs)."""
    from raydas.apps import demo

    folder = tmp_path_factory.mktemp("quicklook")
    return demo.generate(str(folder), files=1, seconds=4.0, channels=12, sample_rate=2500.0)[0]


def _noise_log(graph: str, recording: str, out):
    """Run ``graph`` on ``recording`` in 1.5-s chunks (the last is 1 s); the
    pipeline, its write_witsml node, the sink, the stems and the chunk spans."""
    records, _ = formats.scan(recording)
    pipeline = Pipeline.from_config(graph)
    recordings, _ = assemble(records)
    plans = plan_chunks(recordings, 1.5, halo_for=pipeline.halo_samples)
    sink = OutputSink(str(out))
    for plan in plans:
        pipeline.run(plan.read(), np, sink)
    writer = next(n for n in pipeline.order if n.command.name == "write_witsml")
    return pipeline, writer, sink, [p.stem for p in plans], [(p.start_ns, p.end_ns) for p in plans]


def _figure(graph, recording, tmp_path):
    pipeline, writer, sink, stems, spans = _noise_log(graph, recording, tmp_path)
    quantities = writer.command.curve_quantities([pipeline.producer(u) for u in writer.inputs])
    log = collect_fbe(sink, writer.command.params.directory_out, stems, spans)
    return noise_log_figure(log, "NoiseLog", quantities), spans


def _panels(fig):
    return [ax for ax in fig.axes if ax.get_title()]


def test_bands_in_hz_rms_named_utc_axis_short_last_chunk_one_scale(recording, tmp_path):
    fig, spans = _figure(DEMO, recording, tmp_path)
    panels = _panels(fig)
    assert [ax.get_title() for ax in panels] == [
        "0 Hz to Nyquist",
        "1 to 100 Hz",
        "100 to 250 Hz",
        "250 to 500 Hz",
        "500 Hz to Nyquist",
    ]
    assert "band RMS" in fig.get_suptitle() and "energ" not in fig.get_suptitle()
    for ax in panels:
        assert ax.get_xlabel() == "time (UTC)"
        assert ax.get_xlim() == pytest.approx((date_num(spans[0][0]), date_num(spans[-1][1])))
        (mesh,) = ax.collections
        edges = mesh.get_coordinates()[0, :, 0]  # x of every column edge (days)
        widths = np.diff(edges) * DAY_NS / 1e9
        np.testing.assert_allclose(widths, [1.5, 1.5, 1.0], rtol=1e-6)  # the last chunk is 1 s, drawn so
    assert len({ax.collections[0].get_clim() for ax in panels}) == 1  # one colour scale
    labels = {cax.get_xlabel() for cax in fig.axes if not cax.get_title()}
    assert labels == {"log10 RMS, one scale for 5 panels"}


def test_distpys_noise_log_names_rms_and_total_energy_each_on_its_own_scale(recording, tmp_path):
    fig, _ = _figure(DISTPY, recording, tmp_path)
    panels = _panels(fig)
    assert [ax.get_title() for ax in panels] == [
        "0 Hz to Nyquist",
        "200 Hz to Nyquist",
        "600 Hz to Nyquist",
        "1000 Hz to Nyquist",
    ]
    labels = [cax.get_xlabel() for cax in fig.axes if not cax.get_title()]
    assert labels == ["log10 RMS, this panel's scale"] + ["log10 total energy, one scale for 3 panels"] * 3
    clims = [ax.collections[0].get_clim() for ax in panels]
    assert clims[1] == clims[2] == clims[3] != clims[0]


def test_the_run_draws_it_with_the_chunk_spans(recording, tmp_path):
    pipeline, _, sink, stems, spans = _noise_log(DEMO, recording, tmp_path)
    (url,) = pipeline.after_run(sink, stems, spans=spans)
    assert open(url, "rb").read(4) == b"\x89PNG"
