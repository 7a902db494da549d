"""The Python API for notebooks: ``raydas.process`` runs a graph on a chunk or
a file in this process (no Ray) and returns its results as arrays with their
coordinates, writing files only when given a folder; a Pipeline reads as its
graph."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO

import raydas
import raydas.inmemory
from raydas.formats.witsml import parse_fbe

NOISELOG = os.path.join(REPO, "configs/demo-noiselog.json")
LOWPASS_AND_SPECTRUM = {
    "command_list": [
        {"name": "butter", "uid": 1, "in_uid": 0, "type": "lowpass", "freq": 50.0, "order": 4},
        {"name": "fft", "uid": 2, "in_uid": 1},
    ]
}


def test_process_a_real_file_returns_the_graphs_outputs_with_coordinates(real_data):
    path = str(real_data / "hdf5" / "silixa_h5_1.hdf5")
    chunk = raydas.read(path)
    out = raydas.process(path, LOWPASS_AND_SPECTRUM, keep=[1, 2])
    low, spectrum = out[1], out[2]
    assert (low.uid, low.name, spectrum.name) == (1, "butter", "fft")
    assert low.data.shape == chunk.data.shape and low.data.dtype == np.float32
    np.testing.assert_array_equal(low.distance, chunk.positions)
    np.testing.assert_array_equal(low.time, chunk.times())
    assert low.dt == chunk.dt and low.start_ns == chunk.start_ns and low.frequency is None
    # distpy's full (two-sided) spectrum where a graph hands it on whole: fftfreq's order, 0 Hz first
    assert spectrum.time is None and spectrum.data.shape == chunk.data.shape
    np.testing.assert_array_equal(spectrum.frequency, np.fft.fftfreq(chunk.data.shape[1], chunk.dt))
    array = low.to_xarray()
    assert array.dims == ("distance", "time") and array.attrs["command"] == "butter"
    np.testing.assert_array_equal(array["distance"].values, chunk.positions)
    assert raydas.process(path, LOWPASS_AND_SPECTRUM).keys() == {2}  # by default: the graph's outputs (leaves)


def test_process_trims_the_halo_of_a_chunk(demo_files):
    chunk = raydas.read(demo_files[0])
    halo = (100, 50)
    core = raydas.Chunk(
        chunk.data[:, halo[0] : chunk.data.shape[1] - halo[1]],
        chunk.start_ns + halo[0] * 10**6,
        chunk.dt,
        chunk.positions,
    )
    with_halo = raydas.Chunk(chunk.data, chunk.data_start_ns, chunk.dt, chunk.positions, halo=halo)
    (out,) = raydas.process(with_halo, {"command_list": [{"name": "abs", "uid": 1, "in_uid": 0}]}).values()
    np.testing.assert_array_equal(out.data, np.abs(core.data))
    np.testing.assert_array_equal(out.time, core.times())


def test_process_writes_nothing_unless_given_a_folder(demo_files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = raydas.process(demo_files[0], NOISELOG)
    assert os.listdir(tmp_path) == []  # the writer ran, wrote nothing
    bands = out[4]
    assert bands.name == "write_witsml" and bands.data.shape == (40, 4)
    written = raydas.process(demo_files[0], NOISELOG, output=tmp_path / "res")
    (fbe,) = os.listdir(tmp_path / "res" / "NoiseLog")
    _, curves, depth, values = parse_fbe((tmp_path / "res" / "NoiseLog" / fbe).read_bytes())
    np.testing.assert_allclose(values[:, 1:], written[4].data, rtol=1e-6)  # what came back is what was written
    np.testing.assert_array_equal(depth, bands.distance)


def test_process_needs_no_ray(demo_files):
    code = "import sys, raydas; raydas.process(sys.argv[1], sys.argv[2]); print('ray' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code, demo_files[0], NOISELOG], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_docstring_example_holds():
    assert doctest.testmod(raydas.inmemory).failed == 0


def test_a_pipeline_reads_as_its_graph():
    text = repr(raydas.Pipeline.from_config(NOISELOG))
    assert text.splitlines() == [
        f"Pipeline('raydas demo noise log' from {NOISELOG}, 4 commands)",
        "  1 fft <- 0",
        "  2 rms_from_fft <- 1: low_freq=0, high_freq=-1",
        "  3 multiple_calcs <- 1: func='rms_from_fft', low_freq=[1, 100, 250, 500], high_freq=[100, 250, 500, -1]",
        "  4 write_witsml <- 3, gather 2: directory_out='NoiseLog', low_freq=[1, 100, 250, 500], "
        "high_freq=[100, 250, 500, -1], data_style='raydas-demo'",
    ]
    assert repr(raydas.Pipeline.from_config({"command_list": [{"name": "abs", "uid": 3, "in_uid": 0}]})) == (
        "Pipeline(1 command)\n  3 abs <- 0"
    )


def test_an_output_without_time_columns_says_so(demo_files):
    out = raydas.process(demo_files[0], NOISELOG, keep=[2])[2]
    assert out.time is None and out.frequency is None and out.data.shape == (40, 1)
    assert out.to_xarray().dims == ("distance", "column")
    assert "rms_from_fft" in repr(out) and "distance (m)" in repr(out)


def test_keeping_a_uid_the_graph_lacks_is_an_error_naming_it(demo_files):
    with pytest.raises(raydas.RaydasError, match=r"uid\(s\) \[99\] are not in the graph \(its uids: \[1, 2, 3, 4\]\)"):
        raydas.process(demo_files[0], NOISELOG, keep=[99])
