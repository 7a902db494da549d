"""The stacks of ``stack_chunks`` (linear, phase-weighted, robust), partial stacks,
their checkpoint segments and groups, and graphs that end in a reducer.

Numbers are checked against numpy/scipy written plainly here."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
import scipy.signal

import raydas
from raydas.chunk import Chunk
from raydas.commands.base import ArrayMeta, Coordinate
from raydas.commands.stacking import robust_stack, unit_phasor
from raydas.errors import ConfigError, PipelineError
from raydas.outputs import OutputSink
from raydas.reduction import Partial, ReductionError, adopt, group_label

T0 = 1_700_000_000 * 10**9  # 2023-11-14T22:13:20Z


def _command(**params):
    return (
        raydas.Pipeline.from_config({"command_list": [{"name": "stack_chunks", "uid": 1, "in_uid": 0, **params}]})
        .by_uid[1]
        .command
    )


def _chunk(data, start_ns=T0, output_id="r/1", dt=0.01, token="t"):
    chunk = Chunk(np.asarray(data, dtype=np.float32), data_start_ns=start_ns, dt=dt, positions=np.arange(len(data)))
    chunk.output_id = output_id
    chunk.attrs["reduce_token"] = token
    return chunk


def _meta(lags=5):
    return ArrayMeta(dt=0.01, coords=(Coordinate("lag", 1, np.arange(lags) * 0.01, "s"),))


def _stack_of(method: str, arrays, **params):
    command = _command(method=method, **params)
    partial = Partial()
    for i, a in enumerate(arrays):
        partial.add(np, command, 1, np.asarray(a, dtype=np.float32), _meta(a.shape[-1]), _chunk(a, output_id=f"r/{i}"))
    (stack,) = partial.stacks.values()
    return stack.result(command.params)


# --- the arithmetic -------------------------------------------------------------------------------------
def test_a_linear_stack_is_the_mean_of_the_chunks():
    rng = np.random.default_rng(1)
    arrays = [rng.normal(size=(3, 41)).astype(np.float32) for _ in range(7)]
    np.testing.assert_allclose(
        _stack_of("linear", arrays), np.mean(np.stack(arrays).astype(np.float64), axis=0), rtol=1e-6
    )


def test_the_unit_phasor_is_that_of_scipys_analytic_signal():
    rng = np.random.default_rng(2)
    for n in (40, 41):
        x = rng.normal(size=(2, n))
        analytic = scipy.signal.hilbert(x, axis=-1)
        np.testing.assert_allclose(unit_phasor(np, x), analytic / np.abs(analytic), atol=1e-12)


def test_a_phase_weighted_stack_follows_schimmel_and_paulssen():
    rng = np.random.default_rng(3)
    arrays = [rng.normal(size=(2, 64)).astype(np.float32) for _ in range(5)]
    d = np.stack(arrays).astype(np.float64)
    analytic = scipy.signal.hilbert(d, axis=-1)
    coherence = np.abs(np.mean(analytic / np.abs(analytic), axis=0))
    expected = d.mean(axis=0) * coherence**2.0
    np.testing.assert_allclose(_stack_of("pws", arrays, pws_power=2.0), expected, rtol=1e-5, atol=1e-7)


def test_a_phase_weighted_stack_keeps_a_coherent_signal_and_suppresses_incoherent_noise():
    t = np.arange(200) * 0.01
    wavelet = np.exp(-(((t - 1.0) / 0.05) ** 2)) * np.cos(2 * np.pi * 8 * t)
    rng = np.random.default_rng(4)
    arrays = [(wavelet + 0.5 * rng.normal(size=t.size))[None].astype(np.float32) for _ in range(40)]
    linear, pws = _stack_of("linear", arrays)[0], _stack_of("pws", arrays)[0]
    quiet = np.abs(t - 1.0) > 0.3
    assert np.abs(pws[quiet]).std() < 0.5 * np.abs(linear[quiet]).std()  # noise away from the arrival drops
    assert abs(np.argmax(np.abs(pws)) - 100) <= 2  # the arrival stays where it is


def test_a_robust_stack_of_one_signal_and_an_outlier_is_the_signal():
    t = np.linspace(0, 1, 101)
    signal = np.sin(2 * np.pi * 3 * t)
    rng = np.random.default_rng(5)
    arrays = [(signal + 0.01 * rng.normal(size=t.size))[None] for _ in range(9)]
    arrays.append((50 * rng.normal(size=t.size))[None])  # one chunk of a glitch
    robust = _stack_of("robust", [a.astype(np.float32) for a in arrays])[0]
    linear = np.mean(np.stack(arrays), axis=0)[0]
    assert np.abs(robust - signal).max() < 0.1
    assert np.abs(linear - signal).max() > 1.0  # the mean is not


def test_a_robust_stack_of_equal_chunks_is_the_chunk():
    a = np.random.default_rng(6).normal(size=(2, 30))
    np.testing.assert_allclose(robust_stack(np, np.stack([a, a, a])), a, rtol=1e-12)


def test_a_stack_of_complex_spectra_is_their_mean():
    rng = np.random.default_rng(7)
    arrays = [(rng.normal(size=(2, 9)) + 1j * rng.normal(size=(2, 9))).astype(np.complex64) for _ in range(4)]
    command = _command(method="linear")
    partial = Partial()
    for i, a in enumerate(arrays):
        partial.add(np, command, 1, a, _meta(9), _chunk(np.zeros((2, 9)), output_id=f"r/{i}"))
    (stack,) = partial.stacks.values()
    np.testing.assert_allclose(stack.result(command.params), np.mean(arrays, axis=0), rtol=1e-6)


# --- groups and partial stacks --------------------------------------------------------------------------
def test_groups_are_labelled_by_the_utc_hour_or_day_of_the_chunks_start():
    assert group_label(T0, "all") == "all"
    assert group_label(T0, "day") == "2023-11-14"
    assert group_label(T0, "hour") == "2023-11-14T22"
    assert group_label(T0 + 47 * 60 * 10**9, "hour") == "2023-11-14T23"
    assert group_label(T0 + 2 * 3600 * 10**9, "day") == "2023-11-15"
    with pytest.raises(ValueError, match="not one of"):
        group_label(T0, "week")


def test_chunks_go_into_the_stack_of_their_hour():
    command = _command(method="linear", group="hour")
    partial = Partial()
    for i, minutes in enumerate([0, 20, 46, 50]):  # 22:13, 22:33, 22:59, 23:03
        a = np.full((1, 5), float(i), dtype=np.float32)
        partial.add(np, command, 1, a, _meta(), _chunk(a, start_ns=T0 + minutes * 60 * 10**9, output_id=f"r/{i}"))
    labels = {label: stack for (_, label), stack in partial.stacks.items()}
    assert sorted(labels) == ["2023-11-14T22", "2023-11-14T23"]
    assert [c.output_id for c in labels["2023-11-14T22"].chunks] == ["r/0", "r/1", "r/2"]
    np.testing.assert_allclose(labels["2023-11-14T22"].result(command.params), np.full((1, 5), 1.0))
    np.testing.assert_allclose(labels["2023-11-14T23"].result(command.params), np.full((1, 5), 3.0))


def test_a_chunk_of_another_shape_or_coordinates_is_refused_by_name():
    command = _command()
    partial = Partial()
    a = np.ones((2, 5), dtype=np.float32)
    partial.add(np, command, 1, a, _meta(), _chunk(a, output_id="r/0"))
    with pytest.raises(ReductionError, match=r"r/1.*\(2, 4\).*\(2, 5\)"):
        partial.add(np, command, 1, a[:, :4], _meta(4), _chunk(a, output_id="r/1"))
    other = ArrayMeta(dt=0.01, coords=(Coordinate("lag", 1, np.arange(5) * 0.02, "s"),))
    with pytest.raises(ReductionError, match="r/2: its coordinates"):
        partial.add(np, command, 1, a, other, _chunk(a, output_id="r/2"))
    with pytest.raises(ReductionError, match="twice"):
        partial.add(np, command, 1, a, _meta(), _chunk(a, output_id="r/0"))


def test_partials_merge_into_the_stack_of_all_their_chunks_and_never_count_a_chunk_twice():
    command = _command(method="pws")
    rng = np.random.default_rng(8)
    arrays = [rng.normal(size=(2, 16)).astype(np.float32) for _ in range(6)]
    one, two, whole = Partial(), Partial(), Partial()
    for i, a in enumerate(arrays):
        (one if i % 2 else two).add(np, command, 1, a, _meta(16), _chunk(a, output_id=f"r/{i}"))
        whole.add(np, command, 1, a, _meta(16), _chunk(a, output_id=f"r/{i}"))
    merged = Partial().merge(one).merge(two)
    (stack,), (expected,) = merged.stacks.values(), whole.stacks.values()
    np.testing.assert_allclose(stack.result(command.params), expected.result(command.params), rtol=1e-6, atol=1e-7)
    assert sorted(c.output_id for c in stack.chunks) == [f"r/{i}" for i in range(6)]
    with pytest.raises(ReductionError, match="refusing to count them twice"):
        merged.merge(one)


@pytest.mark.parametrize("method", ["linear", "pws", "robust"])
def test_a_segment_reads_back_as_the_partial_it_was(method):
    command = _command(method=method)
    partial = Partial()
    rng = np.random.default_rng(9)
    meta = ArrayMeta(
        positions=np.arange(2.0),
        dt=0.01,
        coords=(Coordinate("lag", 1, np.arange(16) * 0.01, "s"), Coordinate("offset", 0, np.array([0.0, 5.0]), "m")),
    )
    for i in range(3):
        a = rng.normal(size=(2, 16)).astype(np.float32)
        partial.add(np, command, 1, a, meta, _chunk(a, output_id=f"r/{i}", token=f"tok{i}"))
    back = Partial.from_file(io.BytesIO(partial.to_bytes()), "mem.npz")
    (stack,), (again,) = partial.stacks.values(), back.stacks.values()
    np.testing.assert_array_equal(again.result(command.params), stack.result(command.params))
    assert back.tokens() == {"r/0": "tok0", "r/1": "tok1", "r/2": "tok2"}
    assert [c.name for c in again.meta.coords] == ["lag", "offset"]
    np.testing.assert_array_equal(again.meta.coord("offset").values, [0.0, 5.0])
    assert Partial.from_file(io.BytesIO(partial.to_bytes()), "mem.npz", header_only=True).tokens() == back.tokens()


@pytest.mark.parametrize(
    "damage",
    [lambda b: b[: len(b) // 2], lambda b: b"PK\x03\x04" + bytes(100), lambda b: b"", lambda b: b'{"json": 1}'],
    ids=["truncated", "corrupted", "empty", "wrong type"],
)
def test_a_damaged_segment_is_an_error_naming_it(damage):
    command = _command()
    partial = Partial()
    a = np.ones((1, 4), dtype=np.float32)
    partial.add(np, command, 1, a, _meta(4), _chunk(a))
    with pytest.raises(ReductionError, match="seg-7.npz"):
        Partial.from_file(io.BytesIO(damage(partial.to_bytes())), "s3://bucket/seg-7.npz")


def test_a_run_adopts_disjoint_current_segments_and_prefers_a_merged_one():
    wanted = {"a": "1", "b": "1", "c": "1", "d": "1"}
    segments = {
        "run1-a0-1": {"a": "1", "b": "1"},
        "run1-a1-1": {"c": "1"},
        "run1-merged": {"a": "1", "b": "1", "c": "1"},  # a kill while compacting left it and its pieces
        "run0-a0-1": {"d": "0"},  # made from other inputs
        "run0-a0-2": {"e": "1"},  # a chunk no longer planned
    }
    adopted, set_aside = adopt(segments, wanted)
    assert adopted == ["run1-merged"]
    assert sorted(set_aside) == ["run0-a0-1", "run0-a0-2", "run1-a0-1", "run1-a1-1"]


# --- graphs with a reducer ---------------------------------------------------------------------------------
def _graph(*extra):
    return {
        "command_list": [
            {"name": "xcorr", "uid": 1, "in_uid": 0, "sources": [0], "max_lag_seconds": 0.05},
            {"name": "stack_chunks", "uid": 2, "in_uid": 1, "method": "linear"},
            {"name": "dispersion", "uid": 3, "in_uid": 2, "min_velocity": 100, "max_velocity": 500},
            *extra,
        ]
    }


def test_the_commands_after_a_reducer_run_once_per_stack_not_per_chunk(tmp_path):
    pipeline = raydas.Pipeline.from_config(
        _graph(
            {"name": "write_npy", "uid": 4, "in_uid": 2, "directory_out": "stack"},
            {"name": "write_npy", "uid": 5, "in_uid": 1, "directory_out": "each"},
        )
    )
    assert [n.uid for n in pipeline.chunk_order] == [1, 2, 5]
    assert [n.uid for n in pipeline.after(2)] == [3, 4]
    assert pipeline.output_files("r/1") == ["each/r/1.npy"]
    assert pipeline.stack_output_files(2, "all") == ["stack/all.npy", "stack/measured_depth.npy", "stack/time.npy"]
    rng = np.random.default_rng(10)
    partial, correlations = Partial(), []
    sink = OutputSink(str(tmp_path))
    for i in range(3):
        chunk = _chunk(rng.normal(size=(4, 200)), start_ns=T0 + i * 2 * 10**9, output_id=f"r/{i}")
        result = pipeline.run(chunk, np, sink, reduce_into=partial, keep={1})
        correlations.append(result.values[1][0])
        assert not any(f.startswith("stack/") for f in result.written)
    (stack,) = partial.stacks.values()
    result = pipeline.run_stack(2, stack, sink, keep={3})
    assert "stack/all.npy" in result.written and "stack/lag.npy" in result.written
    np.testing.assert_allclose(np.load(tmp_path / "stack" / "all.npy"), np.mean(correlations, axis=0), rtol=1e-5)
    assert result.values[3][0].shape[0] == 41  # velocities 100..500 m/s by 10


@pytest.mark.parametrize(
    ("extra", "where", "what"),
    [
        ({"name": "add", "uid": 4, "in_uid": 2, "gather_uids": [1]}, r"command_list\[3\]", "a per-chunk value"),
        ({"name": "stack_chunks", "uid": 4, "in_uid": 2}, r"command_list\[3\]", "stack chunks once"),
    ],
)
def test_a_graph_mixing_a_stack_with_per_chunk_values_is_refused_at_its_json_path(extra, where, what):
    with pytest.raises(ConfigError, match=rf"{where}.*{what}"):
        raydas.Pipeline.from_config(_graph(extra))


def test_stack_chunks_parameters_are_checked_at_their_json_path():
    with pytest.raises(ConfigError, match=r"command_list\[1\]\.method"):
        raydas.Pipeline.from_config(
            _graph()
            | {
                "command_list": _graph()["command_list"][:1]
                + [{"name": "stack_chunks", "uid": 2, "in_uid": 1, "method": "median"}]
            }
        )
    with pytest.raises(ConfigError, match=r"checkpoint_every_chunks"):
        _command(checkpoint_every_chunks=0)


def test_a_stack_that_does_not_fit_fails_its_chunk_with_the_json_path():
    pipeline = raydas.Pipeline.from_config(_graph())
    partial = Partial()
    pipeline.run(_chunk(np.ones((4, 200))), np, reduce_into=partial)
    with pytest.raises(PipelineError, match=r"r/9.*command_list\[1\]"):
        pipeline.run(_chunk(np.ones((3, 200)), output_id="r/9"), np, reduce_into=partial)


@pytest.mark.parametrize("method", ["linear", "pws", "robust"])
def test_partial_stacks_on_a_device_give_the_hosts_numbers(method, monkeypatch, tmp_path):
    """GPU actors keep their partial stacks on the device: the same xp code on the cupy
    stand-in (which refuses host arrays as cupy does) gives numpy's stack."""
    from device_stand_in import DeviceArray, device_namespace

    if os.environ.get("RAYDAS_TEST_XP", "") == "cupy":  # benchmarks/gpu_check.sh, on a GPU machine
        from raydas.backend import array_namespace

        xp = array_namespace("gpu")
        DeviceArray = xp.ndarray  # noqa: N806
    else:
        xp = device_namespace(monkeypatch)
    command = _command(method=method)
    rng = np.random.default_rng(11)
    arrays = [rng.normal(size=(2, 32)).astype(np.float32) for _ in range(4)]
    on_device, on_host = Partial(), Partial()
    for i, a in enumerate(arrays):
        on_device.add(xp, command, 1, xp.asarray(a), _meta(32), _chunk(a, output_id=f"r/{i}"))
        on_host.add(np, command, 1, a, _meta(32), _chunk(a, output_id=f"r/{i}"))
    (device_stack,), (host_stack,) = on_device.stacks.values(), on_host.stacks.values()
    kept = device_stack.items[0] if method == "robust" else device_stack.total
    assert isinstance(kept, DeviceArray)  # the partial stays on the device
    back = Partial.from_file(io.BytesIO(on_device.to_bytes()), "device.npz")  # a checkpoint brings it home
    (stack,) = back.stacks.values()
    np.testing.assert_allclose(stack.result(command.params), host_stack.result(command.params), rtol=1e-5, atol=1e-6)


def test_raydas_process_stacks_its_one_chunk_and_runs_what_follows_on_it():
    rng = np.random.default_rng(12)
    chunk = _chunk(rng.normal(size=(4, 300)))
    stacked = raydas.process(chunk, _graph(), keep=[2, 3])
    direct = raydas.process(
        chunk, {"command_list": [_graph()["command_list"][0], {**_graph()["command_list"][2], "in_uid": 1}]}
    )
    np.testing.assert_allclose(stacked[3].data, direct[3].data, rtol=1e-6)
    np.testing.assert_allclose(stacked[2].data, raydas.process(chunk, _graph(), keep=[1])[1].data, rtol=1e-6)


def test_raydas_graph_draws_the_reducer_and_what_runs_once_per_stack(tmp_path, capsys):
    from raydas.apps.cli import main

    path = tmp_path / "graph.json"
    path.write_text(json.dumps(_graph({"name": "write_npy", "uid": 4, "in_uid": 2, "directory_out": "stack"})))
    assert main(["graph", str(path)]) == 0
    dot = capsys.readouterr().out
    assert '2 [label="2: stack_chunks\\nlinear stack, per all", shape=invtrapezium' in dot
    cluster = dot[dot.index("subgraph cluster_stack_2") :]
    cluster = cluster[: cluster.index("}")]
    assert '3 [label="3: dispersion"' in cluster and '4 [label="4: write_npy\\n-> stack/"' in cluster
    assert '1 [label="1: xcorr"' not in cluster and "1 -> 2;" in dot and "2 -> 3;" in dot
