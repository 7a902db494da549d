"""``raydas demo --workflow ambient-noise``: its synthetic diffuse wavefield, its
velocity pick, the per-chunk part of ``configs/ambient-noise.json`` on its data,
and the demo end to end."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex

import numpy as np
import pytest
from helpers import REPO

import raydas
from raydas import formats
from raydas.apps import ambient
from raydas.commands import get
from raydas.commands.base import Context
from raydas.recording import assemble, plan_chunks

CONFIG = os.path.join(REPO, "configs", "ambient-noise.json")


# --- the velocity pick -----------------------------------------------------------------------------------------
def analytic_image(offsets: np.ndarray, velocity: float, velocities: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """The phase-shift image of a gather whose traces are one wave at ``velocity`` without dispersion:
    |sum_j exp(i 2 pi f x_j (1/v - 1/c))| / N, written out plainly."""
    image = np.zeros((len(velocities), len(freqs)))
    for a, v in enumerate(velocities):
        for b, f in enumerate(freqs):
            image[a, b] = abs(np.exp(2j * np.pi * f * offsets * (1.0 / v - 1.0 / velocity)).sum()) / len(offsets)
    return image


def test_pick_velocity_finds_the_velocity_of_an_analytic_image():
    offsets = 4.0 * np.arange(40)
    velocities = np.arange(150.0, 1001.0, 5.0)
    freqs = np.arange(2.0, 40.0, 0.5)
    for true in (235.0, 400.0, 620.0):
        image = analytic_image(offsets, true, velocities, freqs)
        assert ambient.pick_velocity(image, velocities, freqs) == true
    # off the grid: the nearest velocity of the grid
    image = analytic_image(offsets, 402.0, velocities, freqs)
    assert ambient.pick_velocity(image, velocities, freqs) == 400.0


def test_pick_velocity_averages_the_band_only_and_each_column_scaled_to_1():
    velocities = np.array([100.0, 200.0, 300.0])
    freqs = np.array([1.0, 5.0, 10.0, 20.0])
    image = np.array(
        [
            [9.0, 0.0, 0.1, 0.0],  # 100 m/s: the largest value of all, at 1 Hz, outside the band
            [0.0, 0.0, 0.05, 0.3],  # 200 m/s: small values, but the peak of 20 Hz
            [0.0, 0.0, 0.0, 0.2],  # 300 m/s
        ]
    )  # 5 Hz: no energy, left out
    # column maxima 0.1 (10 Hz) and 0.3 (20 Hz): means 100: (1 + 0) / 2, 200: (0.5 + 1) / 2, 300: (0 + 2/3) / 2
    assert ambient.pick_velocity(image, velocities, freqs, band=(4.0, 25.0)) == 200.0
    assert ambient.pick_velocity(image, velocities, freqs, band=(0.0, 1.0)) == 100.0


def test_pick_velocity_refuses_what_it_cannot_read():
    velocities, freqs = np.array([100.0, 200.0]), np.array([5.0, 10.0])
    with pytest.raises(ValueError, match=r"shape \(velocities, frequencies\) = \(2, 2\) was expected, not \(2, 3\)"):
        ambient.pick_velocity(np.ones((2, 3)), velocities, freqs)
    with pytest.raises(ValueError, match="no frequency of the image with energy lies in 20 to 30 Hz"):
        ambient.pick_velocity(np.ones((2, 2)), velocities, freqs, band=(20.0, 30.0))
    with pytest.raises(ValueError, match="no frequency of the image with energy"):
        ambient.pick_velocity(np.zeros((2, 2)), velocities, freqs)


def test_verdict_says_whether_the_velocity_lies_within_the_tolerance():
    ok, line = ambient.verdict(420.0, 400.0, 0.10)
    assert ok and "recovered 420 m/s, true 400 m/s (5.0% off; tolerance 10%): ok" in line
    ok, line = ambient.verdict(445.0, 400.0, 0.10)
    assert not ok and line.endswith("FAILED")


# --- the synthetic wavefield -----------------------------------------------------------------------------------
def plain_correlation(a: np.ndarray, b: np.ndarray, lags: range) -> np.ndarray:
    """sum_t a(t) b(t + lag) for each lag, in time, over the samples both have."""
    n = len(a)
    return np.array([np.dot(a[max(0, -k) : n - max(0, k)], b[max(0, k) : n - max(0, -k)]) for k in lags])


def test_the_wavefield_travels_both_ways_at_its_velocity_and_is_reproducible():
    fs, velocity = 200.0, 500.0
    positions = np.array([0.0, 50.0, 150.0])  # delays of 0.1 s and 0.3 s: 20 and 60 samples
    u = ambient.diffuse_wavefield(40_000, fs, positions, velocity=velocity, seed=3)
    assert u.dtype == np.float32 and u.shape == (3, 40_000)
    np.testing.assert_array_equal(u, ambient.diffuse_wavefield(40_000, fs, positions, velocity=velocity, seed=3))
    assert not np.array_equal(u, ambient.diffuse_wavefield(40_000, fs, positions, velocity=velocity, seed=4))
    rms = np.sqrt(np.mean(u.astype(np.float64) ** 2))
    assert rms == pytest.approx(np.sqrt(1 + ambient.NOISE_FRACTION**2), rel=0.05)  # wavefield 1, noise 0.3
    lags = range(-80, 81)
    d = np.diff(u.astype(np.float64), axis=1)  # undoes the sources' 1/f spectrum: sharp correlation peaks
    for receiver, delay in ((1, 20), (2, 60)):
        c = plain_correlation(d[0], d[receiver], lags)
        causal, acausal = c[80:], c[:81][::-1]  # lags >= 0; lags <= 0 reversed
        assert int(np.argmax(causal)) == delay  # the near side's waves reach the receiver later
        assert int(np.argmax(acausal)) == delay  # the far side's waves reach the source later
        assert causal.max() > acausal.max()  # the far side is weaker (FAR_SIDE)


def test_the_demo_data_are_seg_y_files_raydas_reads_back_across_midnight(tmp_path):
    paths = ambient.generate(str(tmp_path), files=2, seconds=3.0, channels=8, sample_rate=100.0, seed=1)
    assert [os.path.basename(p) for p in paths] == ["das_20250601T235600.sgy", "das_20250601T235603.sgy"]
    records, failures = raydas.scan(str(tmp_path))
    assert failures == [] and len(records) == 2
    positions = ambient.FIRST_POSITION + ambient.SPACING * np.arange(8)
    whole = ambient.diffuse_wavefield(600, 100.0, positions, seed=1)
    for k, path in enumerate(paths):
        chunk = raydas.read(path)
        assert chunk.sample_rate == 100.0 and chunk.units == "strain/s"
        np.testing.assert_allclose(chunk.positions, positions)
        assert chunk.start_ns == int(dt.datetime(2025, 6, 1, 23, 56, 3 * k, tzinfo=dt.UTC).timestamp()) * 10**9
        np.testing.assert_array_equal(chunk.data, whole[:, 300 * k : 300 * (k + 1)])  # IEEE float32: exact


# --- the workflow's config, chunk by chunk, the stack done here --------------------------------------------------
def per_chunk_part(command_list: list[dict]) -> list[dict]:
    """The commands that run on every chunk: those not fed, directly or through others, by a stack."""
    after_a_stack = {c["uid"] for c in command_list if c["name"] == "stack_chunks"}
    for c in command_list:  # a config lists a command after its inputs
        if c.get("in_uid") in after_a_stack:
            after_a_stack.add(c["uid"])
    return [c for c in command_list if c["uid"] not in after_a_stack]


def test_the_workflow_per_chunk_then_a_mean_gives_the_velocity_at_every_frequency():
    """configs/ambient-noise.json's preprocessing and correlation on 15-s chunks of four minutes of the
    demo's wavefield, the correlations averaged here (the linear stack), then its dispersion command:
    the gather's moveout and the picked velocity are the wavefield's."""
    command_list = json.load(open(CONFIG))["command_list"]
    graph = per_chunk_part(command_list)
    assert [c["name"] for c in graph] == ["butter", "one_bit", "detrend", "taper", "whiten", "xcorr"]
    xcorr_uid = graph[-1]["uid"]
    pipeline = raydas.Pipeline.from_config({"command_list": graph})
    fs, channels = ambient.SAMPLE_RATE, ambient.CHANNELS
    positions = ambient.FIRST_POSITION + ambient.SPACING * np.arange(channels)
    n = int(15 * fs)
    data = ambient.diffuse_wavefield(16 * n, fs, positions, seed=11)
    total, meta = 0.0, None
    for k in range(16):
        chunk = raydas.Chunk(data[:, k * n : (k + 1) * n], data_start_ns=k * 15 * 10**9, dt=1 / fs, positions=positions)
        value, meta = pipeline.run(chunk, keep=[xcorr_uid]).values[xcorr_uid]
        total = total + value.astype(np.float64)
    mean = total / 16
    lag = np.asarray(meta.coord("lag").values)
    offset = np.asarray(meta.coord("offset").values)
    np.testing.assert_allclose(offset, positions - positions[0])
    zero = int(np.argmin(np.abs(lag)))
    for row in (10, 50, 95):  # the peak of each side at offset / velocity, to a sample
        expected = offset[row] / ambient.VELOCITY
        assert lag[zero + np.argmax(mean[row, zero:])] == pytest.approx(expected, abs=1 / fs)
        assert lag[np.argmax(mean[row, : zero + 1])] == pytest.approx(-expected, abs=1 / fs)

    spec = next(c for c in command_list if c["name"] == "dispersion")
    dispersion = get("dispersion")
    command = dispersion(dispersion.Params(**{k: v for k, v in spec.items() if k not in ("name", "uid", "in_uid")}))
    ctx = Context(sample_rate=fs, meta=meta)
    image = command.apply(np, mean.astype(np.float32), ctx)
    axes = command.out_meta(mean, image, ctx)
    velocities, freqs = axes.coord("velocity").values, axes.coord("frequency").values
    assert ambient.pick_velocity(image, velocities, freqs) == ambient.VELOCITY
    inside = (freqs >= 5.0) & (freqs <= 38.0)
    np.testing.assert_array_equal(velocities[np.argmax(image[:, inside], axis=0)], ambient.VELOCITY)


def test_the_config_has_a_daily_and_a_total_stack_and_plots_of_the_total():
    command_list = json.load(open(CONFIG))["command_list"]
    by_uid = {c["uid"]: c for c in command_list}
    stacks = {c["group"]: c for c in command_list if c["name"] == "stack_chunks"}
    assert set(stacks) == {"day", "all"}
    xcorr = next(c for c in command_list if c["name"] == "xcorr")
    assert all(s["in_uid"] == xcorr["uid"] for s in stacks.values())
    total = stacks["all"]["uid"]
    dispersion = next(c for c in command_list if c["name"] == "dispersion")
    assert dispersion["in_uid"] == total
    written = {by_uid[c["in_uid"]]["name"] + ":" + str(by_uid[c["in_uid"]].get("group", "")): c["directory_out"]
               for c in command_list if c["name"] == "write_npy"}  # fmt: skip
    assert written == {
        "stack_chunks:day": "stack_daily",
        "stack_chunks:all": "stack_total",
        "dispersion:": "dispersion",
    }
    assert ambient.DISPERSION_FOLDER == "dispersion"
    plotted = {
        c["in_uid"]: (c["row_coordinate"], c["column_coordinate"]) for c in command_list if c["name"] == "thumbnail"
    }
    assert plotted == {total: ("offset", "lag"), dispersion["uid"]: ("velocity", "frequency")}
    folders = [next(c["directory_out"] for c in command_list if c["name"] == "thumbnail" and c["in_uid"] == uid)
               for uid in (total, dispersion["uid"])]  # fmt: skip
    assert ambient.PLOTS == tuple(f"{folder}/all.png" for folder in folders)


# --- the demo's verdict ------------------------------------------------------------------------------------------
def _demo_with_a_run_that_writes(tmp_path, monkeypatch, capsys, image: np.ndarray | None) -> tuple[int, str, str]:
    """``raydas demo --workflow ambient-noise`` (small data) with the run replaced by one that writes
    ``image`` as the total stack's dispersion image (nothing when None)."""
    from raydas.apps import cli

    def fake_run(cfg, mode, args):
        if image is not None:
            folder = os.path.join(cfg.output, ambient.DISPERSION_FOLDER)
            os.makedirs(folder)
            np.save(os.path.join(folder, "all.npy"), image)
            np.save(os.path.join(folder, "velocity.npy"), np.array([300.0, 400.0, 500.0]))
            np.save(os.path.join(folder, "frequency.npy"), np.array([10.0, 20.0]))
        return 0

    monkeypatch.setattr(cli, "_execute", fake_run)
    monkeypatch.setattr(ambient, "packaged_config", lambda name: json.load(open(os.path.join(REPO, "configs", name))))
    argv = ["demo", "--workflow", "ambient-noise", "--out", str(tmp_path / "d"), "--files", "1", "--seconds", "1"]
    code = cli.main([*argv, "--channels", "4", "--no-progress"])
    said = capsys.readouterr()
    return code, said.out, said.err


def test_the_demo_exits_1_when_the_velocity_is_not_recovered(tmp_path, monkeypatch, capsys):
    right = np.array([[0.1, 0.2], [1.0, 0.9], [0.3, 0.2]], dtype=np.float32)  # largest at 400 m/s
    code, out, _ = _demo_with_a_run_that_writes(tmp_path / "a", monkeypatch, capsys, right)
    assert code == 0 and "recovered 400 m/s, true 400 m/s (0.0% off; tolerance 10%): ok" in out
    wrong = np.roll(right, -1, axis=0)  # largest at 300 m/s
    code, out, _ = _demo_with_a_run_that_writes(tmp_path / "b", monkeypatch, capsys, wrong)
    assert code == 1 and "recovered 300 m/s, true 400 m/s (25.0% off; tolerance 10%): FAILED" in out
    code, _, err = _demo_with_a_run_that_writes(tmp_path / "c", monkeypatch, capsys, None)
    assert code == 1 and "no velocity from the dispersion image" in err and "dispersion/all.npy" in err
    assert sorted(os.listdir(tmp_path / "c" / "d")) == ["ambient-demo.json", "ambient-noise.json", "data"]


# --- the demo, end to end ----------------------------------------------------------------------------------------
def _readme_command() -> str:
    """The command of the README's section "Ambient-noise interferometry" (its one shell block, one line)."""
    text = open(os.path.join(REPO, "README.md")).read()
    start = text.index("\n## Ambient-noise interferometry\n")
    section = text[start : text.index("\n## ", start + 1)]
    (block,) = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    (line,) = [ln for ln in block.splitlines() if ln.strip()]
    return line.split("#")[0].strip()


def _npy(folder, name: str) -> np.ndarray:
    return np.load(folder / f"{name}.npy", allow_pickle=False)


@pytest.mark.slow
def test_the_readme_command_runs_the_demo_which_recovers_its_velocity(ray_session, tmp_path, monkeypatch, capsys):
    """The README's command, run as written in an empty folder (its arguments through the CLI's
    main, on the session's Ray: a private Ray's start is the README test's to pay): it exits 0
    and prints the velocity it recovered; its daily and total stacks are the means, computed
    here, of the per-chunk correlations of the very chunks the runtime cut (halos included),
    and its dispersion image is that of the total."""
    from raydas.apps.cli import main

    command = _readme_command()
    assert command == "raydas demo --workflow ambient-noise"
    monkeypatch.chdir(tmp_path)
    code = main(shlex.split(command)[1:] + ["--no-progress"])
    done = capsys.readouterr()
    assert code == 0, done.out + done.err
    out = tmp_path / "raydas-ambient"
    results = out / "results"

    # the chunks the runtime processed, cut here as its planner cuts them, through the per-chunk part of the graph
    graph = per_chunk_part(json.load(open(out / ambient.GRAPH))["command_list"])
    pipeline = raydas.Pipeline.from_config({"command_list": graph})
    records, failures = formats.scan(str(out / "data"))
    assert failures == []
    (recording,), _ = assemble(records)
    chunk_seconds = json.load(open(out / "ambient-demo.json"))["chunk_seconds"]
    halo = pipeline.halo_samples(recording.sample_rate)
    by_day: dict[str, list[np.ndarray]] = {}
    meta = None
    for plan in plan_chunks([recording], chunk_seconds, halo_samples=halo):
        chunk = plan.read()
        value, meta = pipeline.run(chunk, keep=[graph[-1]["uid"]]).values[graph[-1]["uid"]]
        day = dt.datetime.fromtimestamp(chunk.start_ns / 1e9, dt.UTC).strftime("%Y-%m-%d")
        by_day.setdefault(day, []).append(value.astype(np.float64))
    assert sorted(by_day) == ["2025-06-01", "2025-06-02"] and [len(v) for v in by_day.values()] == [16, 16]
    for day, values in by_day.items():
        np.testing.assert_allclose(_npy(results / "stack_daily", day), np.mean(values, axis=0), rtol=1e-4, atol=1e-6)
    total = np.mean([v for values in by_day.values() for v in values], axis=0)
    stack = _npy(results / "stack_total", "all")
    np.testing.assert_allclose(stack, total, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(_npy(results / "stack_total", "lag"), meta.coord("lag").values)
    np.testing.assert_allclose(_npy(results / "stack_total", "offset"), meta.coord("offset").values)

    spec = next(c for c in json.load(open(out / ambient.GRAPH))["command_list"] if c["name"] == "dispersion")
    dispersion = get("dispersion")
    command = dispersion(dispersion.Params(**{k: v for k, v in spec.items() if k not in ("name", "uid", "in_uid")}))
    image = command.apply(np, stack, Context(sample_rate=recording.sample_rate, meta=meta))
    np.testing.assert_allclose(_npy(results / "dispersion", "all"), image, atol=1e-5)
    velocity = _npy(results / "dispersion", "velocity")
    assert ambient.recovered_velocity(str(results)) == ambient.VELOCITY
    np.testing.assert_allclose(velocity, command.velocities())
    plots = [str(results / p) for p in ambient.PLOTS]
    assert f"plots:     {', '.join(plots)}" in done.out
    for png in plots:
        assert open(png, "rb").read(4) == b"\x89PNG"
