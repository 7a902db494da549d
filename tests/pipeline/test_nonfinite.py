"""NaN and infinite samples are counted per chunk (channels, count) before the pipeline
runs and reported, instead of silently turning every RMS they reach into NaN; the run
setting ``nan_policy`` (config key, ``--nan-policy``) says what happens: ``propagate``
(the default: compute with them), ``zero`` (set them to 0 first) or ``fail`` (the chunk
fails, named). Before, nothing counted or said anything."""

from __future__ import annotations

import json

import helpers
import numpy as np
import pytest
from device_stand_in import DeviceArray, device_namespace
from helpers import T0_NS, make_chunk

from raydas.config import RunConfig, load_config
from raydas.errors import ConfigError, PipelineError
from raydas.pipeline import NonFinite, Pipeline, find_nonfinite
from raydas.runtime import FAILURE_REPORT, run

FS = 1000.0
RMS = [{"name": "fft", "uid": 1, "in_uid": 0}, {"name": "rms_from_fft", "uid": 2, "in_uid": 1}]


def noisy(nx: int = 6, nt: int = 1000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((nx, nt)).astype(np.float32)


def test_finite_chunks_report_nothing():
    assert find_nonfinite(np, noisy(), (0, 0)) is None
    assert find_nonfinite(np, np.zeros((2, 5), np.int16), (0, 0)) is None  # integers are finite


def test_counts_own_samples_channels_and_the_halo_apart():
    x = noisy(5, 20)
    x[1, 3] = np.nan
    x[1, 7] = np.inf
    x[4, 10] = -np.inf
    x[2, 0] = np.nan  # in the halo before (2 samples)
    x[3, 19] = np.nan  # in the halo after (1 sample)
    found = find_nonfinite(np, x, (2, 1))
    assert found == NonFinite(samples=3, channels=(1, 4), in_halo=2)
    assert found.describe() == "3 NaN/Inf sample(s) on 2 channel(s) (1, 4), 2 more in its halo"


def test_the_count_runs_on_the_device(monkeypatch):
    xp = device_namespace(monkeypatch)
    x = noisy(4, 50)
    x[2, 5] = np.nan
    on_device = xp.asarray(x)
    assert isinstance(on_device, DeviceArray)
    assert find_nonfinite(xp, on_device, (0, 0)) == NonFinite(samples=1, channels=(2,))
    assert find_nonfinite(xp, xp.asarray(noisy(4, 50)), (0, 0)) is None


def _run(x: np.ndarray, policy: str):
    pipeline = Pipeline.from_config({"command_list": [*RMS, {"name": "_test_keep", "uid": 3, "in_uid": 2}]})
    result = pipeline.run(make_chunk(x, FS), np, nan_policy=policy)
    return helpers._KEPT["value"][:, 0], result


def test_propagate_reports_and_computes_with_them():
    x = noisy()
    x[2, 100:103] = np.nan
    rms, result = _run(x, "propagate")
    assert result.nonfinite == NonFinite(samples=3, channels=(2,))
    assert np.isnan(rms[2]) and np.all(np.isfinite(np.delete(rms, 2)))
    reference = np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=1))
    np.testing.assert_allclose(np.delete(rms, 2), np.delete(reference, 2), rtol=1e-5)


def test_zero_sets_them_to_zero_before_processing():
    x = noisy()
    x[0, 5] = np.inf
    x[4, :10] = np.nan
    rms, result = _run(x, "zero")
    assert result.nonfinite == NonFinite(samples=11, channels=(0, 4))
    cleaned = np.where(np.isfinite(x), x, 0.0).astype(np.float64)
    np.testing.assert_allclose(rms, np.sqrt(np.mean(cleaned**2, axis=1)), rtol=1e-5)
    assert np.isnan(x[4, 0])  # the chunk itself is left as it was (read-only input)


def test_fail_fails_the_chunk_naming_what_it_carries():
    x = noisy()
    x[3, 9] = np.nan
    with pytest.raises(
        PipelineError, match=r"chunk \d+ .*1 NaN/Inf sample\(s\) on 1 channel\(s\) \(3\).*nan_policy fail"
    ):
        _run(x, "fail")
    rms, result = _run(noisy(), "fail")  # a clean chunk runs
    assert result.nonfinite is None and np.all(np.isfinite(rms))


def test_nan_policy_is_validated_in_configs(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config({"input": "x", "nan_policy": "ignore"})
    assert err.value.json_path == "$.nan_policy"
    assert load_config({"input": "x", "nan_policy": "zero"}).nan_policy == "zero"
    assert load_config({"input": "x"}).nan_policy == "propagate"
    with pytest.raises(ValueError, match="nan_policy"):
        Pipeline.from_config({"command_list": RMS}).run(make_chunk(noisy(), FS), np, nan_policy="ignore")


# --- a run on real files, through the actors -------------------------------------------------------------------
def _chunks_with_nan(folder):
    """Three 1-s distpy chunk files; the second has NaN on channels 1 and 4 and an Inf on channel 4."""
    folder.mkdir()
    chunks = [noisy(seed=k).astype(np.float64) for k in range(3)]
    chunks[1][1, 10:15] = np.nan
    chunks[1][4, 500] = np.nan
    chunks[1][4, 501] = np.inf
    for k, c in enumerate(chunks):
        np.save(folder / f"{T0_NS // 10**9 + k}.npy", c)
    np.save(folder / "measured_depth.npy", np.arange(6.0).reshape(-1, 1))
    return chunks


def _config(tmp_path, policy: str | None = None) -> RunConfig:
    graph = {
        "command_list": [
            *RMS,
            {"name": "write_npy", "uid": 3, "in_uid": 2, "directory_out": "rms"},
        ]
    }
    extra = {"nan_policy": policy} if policy else {}
    return RunConfig(
        input=str(tmp_path / "data"),
        output=str(tmp_path / f"out-{policy}"),
        processing=graph,
        assumed_sample_rate=FS,
        quicklook=False,
        **extra,
    )


@pytest.mark.parametrize("policy", [None, "zero"])
def test_a_run_reports_the_chunks_and_channels_that_carried_them(ray_session, tmp_path, policy):
    chunks = _chunks_with_nan(tmp_path / "data")
    report = run(_config(tmp_path, policy), progress=False)
    assert report.ok and report.chunks_done == 3
    stem = str(T0_NS // 10**9 + 1)
    (entry,) = report.nonfinite_chunks
    assert entry["chunk"] == stem and entry["samples"] == 7 and entry["channels"] == [1, 4]
    assert entry["file"] == str(tmp_path / "data")  # a distpy chunk folder is one record
    done = "results they reach are NaN" if policy is None else "set to 0 before processing"
    said = f"1 chunk(s) carried 7 NaN/Inf sample(s) on 2 channel(s) (nan_policy {policy or 'propagate'}: {done})"
    assert f"non-finite: {said}" in report.summary()
    rms = np.load(tmp_path / f"out-{policy}" / "rms" / f"{stem}.npy")[:, 0]
    x = chunks[1].astype(np.float32).astype(np.float64)
    if policy is None:
        assert np.isnan(rms[[1, 4]]).all() and np.isfinite(np.delete(rms, [1, 4])).all()
    else:
        np.testing.assert_allclose(rms, np.sqrt(np.mean(np.where(np.isfinite(x), x, 0.0) ** 2, axis=1)), rtol=1e-5)


def test_fail_from_the_command_line(ray_session, tmp_path, capsys):
    from raydas.apps.cli import main

    _chunks_with_nan(tmp_path / "data")
    cfg = tmp_path / "run.json"
    cfg.write_text(_config(tmp_path).model_dump_json())
    code = main(["run", str(cfg), "--nan-policy", "fail", "--no-progress", "--output", str(tmp_path / "res")])
    assert code == 1
    err = capsys.readouterr().err
    stem = str(T0_NS // 10**9 + 1)
    assert f"chunk {stem}" in err and "7 NaN/Inf sample(s) on 2 channel(s) (1, 4)" in err and "nan_policy fail" in err
    report = json.loads((tmp_path / "res" / FAILURE_REPORT).read_text())
    (failure,) = report["failures"]
    assert failure["stage"] == "process" and failure["chunk"] == stem
    assert sorted(p.name for p in (tmp_path / "res" / "rms").glob("1*.npy")) == [
        f"{T0_NS // 10**9}.npy",
        f"{T0_NS // 10**9 + 2}.npy",
    ]  # the other chunks ran
