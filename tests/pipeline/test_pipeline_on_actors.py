"""Commands that hold a lock and a per-process cache (data_load; keras likewise)
run on Ray's processor actors as they do here: the actors compile the pipeline
from its JSON, so no compiled command is ever pickled on its way to them."""

from __future__ import annotations

import os

import numpy as np
import pytest
import segyio

from raydas.config import RunConfig
from raydas.runtime import run


@pytest.mark.slow
def test_data_load_runs_on_processor_actors(ray_session, demo_files, tmp_path):
    out = tmp_path / "res"
    (out / "gains").mkdir(parents=True)
    gain = np.linspace(1.0, 2.0, 40, dtype=np.float32).reshape(-1, 1)  # one factor per channel
    np.save(out / "gains" / "g.npy", gain)
    processing = {
        "command_list": [
            {"name": "data_load", "uid": 1, "in_uid": 0, "directory_out": "gains", "filename": "g.npy"},
            {"name": "multiply", "uid": 2, "in_uid": 0, "gather_uids": [1]},
            {"name": "write_npy", "uid": 3, "in_uid": 2, "directory_out": "scaled"},
        ]
    }
    config = RunConfig(
        input=demo_files[:1], output=str(out), processing=processing, quicklook=False, ray={"num_actors": 2}
    )
    report = run(config, progress=False)
    assert report.ok and report.chunks_done == 4
    folder = out / "scaled" / os.path.basename(demo_files[0])  # the recording's folder
    stems = sorted(f for f in os.listdir(folder) if f[0].isdigit())
    scaled = np.concatenate([np.load(folder / f) for f in stems], axis=1)
    with segyio.open(demo_files[0], ignore_geometry=True) as f:
        data = np.asarray(f.trace.raw[:], dtype=np.float32)
    np.testing.assert_array_equal(scaled, data * gain)
