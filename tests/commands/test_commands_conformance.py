"""Conformance of every registered command (a new one is covered the day it lands).

For each row of :data:`SAMPLES` (runnable parameters, and what the command
needs before it: a spectrum, gathered inputs, files under the results root):

* inputs are never modified: the command runs on read-only arrays (as they
  come out of Ray's object store), and a writable input keeps its values;
* precision is kept: a float32 or complex64 input gives float32 or complex64
  results, never float64 or complex128 (integer results are declared per row);
* the result is the same through the ``xp`` interface: run with a stand-in
  device namespace (numpy under another name, whose arrays are a type of
  their own with cupy's ``.get()`` and, as in cupy, refuse to be combined
  with host arrays), the command gives numpy's numbers, its metadata and files.

With ``RAYDAS_TEST_XP=cupy`` (on a GPU machine: ``benchmarks/gpu_check.sh``) the last
check runs on real cupy instead of the stand-in and compares to float32 tolerance.

A registered raydas command without a row fails :func:`test_every_command_has_a_sample_row`.
(The file name is unique across tests/: pytest imports test modules by base name.)
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import types
from dataclasses import dataclass, field

import numpy as np
import pytest
from device_stand_in import DeviceArray, device_namespace
from helpers import make_chunk, run_graph

from raydas import commands
from raydas.backend import to_host
from raydas.commands.base import ArrayMeta, Command, Context
from raydas.outputs import OutputSink

FS = 1000.0  # Hz
SPACING = 2.0  # m
RNG = np.random.default_rng(11)
DATA = (RNG.standard_normal((8, 256)) + np.sin(np.arange(256) / 9.0)).astype(np.float32)
GAIN = RNG.uniform(0.5, 2.0, size=(8, 256)).astype(np.float32)


@dataclass
class Case:
    """One runnable use of a command.

    Attributes
    ----------
    params
        The command's JSON parameters.
    setup
        Commands run first on the chunk (uids from 1); the command reads ``in_uid``.
    in_uid
        Its input: 0 (the chunk) or a setup uid; default the last setup command.
    gather
        Its ``gather_uids`` (setup uids).
    files
        Arrays stored under the results root before it runs (path -> array).
    dtype
        The dtype of an integer result; None: float32 or complex64.
    needs
        A module without which the row is skipped (an optional extra).
    """

    params: dict = field(default_factory=dict)
    setup: list[dict] = field(default_factory=list)
    in_uid: int | None = None
    gather: list[int] = field(default_factory=list)
    files: dict[str, np.ndarray] = field(default_factory=dict)
    dtype: str | None = None
    needs: str | None = None

    @property
    def input_uid(self) -> int:
        return self.in_uid if self.in_uid is not None else len(self.setup)


def chain(*names_and_params) -> list[dict]:
    """Setup commands each reading the one before: ``chain("fft", ("fft", {"axis": 0}))``."""
    out = []
    for i, item in enumerate(names_and_params, start=1):
        name, params = (item, {}) if isinstance(item, str) else item
        out.append({"name": name, "uid": i, "in_uid": i - 1, **params})
    return out


SPECTRUM = chain("fft")  # one-sided complex64 spectrum along time
FK = chain("fft", ("fft", {"axis": 0}))  # f-k spectrum
COMPLEX = Case(setup=SPECTRUM)  # any complex64 input
ABS = chain("abs")


def _band_table_writer(directory_out: str) -> Case:
    """A writer of band energies: the table ``multiple_calcs`` makes (bands 0-100 Hz and
    100 Hz-Nyquist) with the 0-Nyquist band gathered, as distpy's noise log writes it."""
    bands = {"low_freq": [0, 100], "high_freq": [100, -1]}
    return Case(
        setup=[
            *SPECTRUM,
            {"name": "multiple_calcs", "uid": 2, "in_uid": 1, "func": "rms_from_fft", **bands},
            {"name": "rms_from_fft", "uid": 3, "in_uid": 1},
        ],
        in_uid=2,
        gather=[3],
        params={"directory_out": directory_out, **bands},
    )


#: runnable samples, per registered command
SAMPLES: dict[str, list[Case]] = {
    # control
    "NONE": [Case(), COMPLEX],
    "data": [Case(), COMPLEX],
    "copy": [Case(), COMPLEX],
    "to_gpu": [Case(), COMPLEX],
    "from_gpu": [Case(), COMPLEX],
    "macro": [
        Case(),
        Case(params={"command_list": [{"name": "gaussian_filter"}, {"name": "gradient", "axis": 1}]}),
    ],
    # elementwise
    "abs": [Case(), COMPLEX],
    "real": [Case(), COMPLEX],
    "angle": [Case(), COMPLEX],
    "conj": [Case(), COMPLEX],
    "unwrap": [Case(), Case(params={"axis": 0})],
    "lin_transform": [Case(params={"m": 2.0, "c": 1.0}), Case(setup=SPECTRUM, params={"m": 2.0, "c": 1.0})],
    "soft_threshold": [Case(params={"threshold": 0.5}), Case(params={"direction": "<", "threshold": -0.5})],
    "hard_threshold": [Case(params={"threshold": 0.5, "value": 9.0}), Case(params={"direction": "<"})],
    "bounded_select": [Case(params={"min_val": -0.5, "max_val": 0.5})],
    "rescale": [Case(), Case(setup=ABS, in_uid=0, gather=[1])],
    # statistics
    "mean": [Case(), Case(params={"axis": 0}), Case(params={"axis": None}), COMPLEX],
    "std_dev": [Case(), Case(params={"axis": 0})],
    "sum": [Case(), Case(params={"axis": 0}), COMPLEX],
    "kurtosis": [Case(), Case(params={"axis": 0})],
    "skewness": [Case(), Case(params={"axis": 0})],
    "moment": [Case(params={"moment": 2}), Case(params={"moment": 3, "axis": 0})],
    "harmonic_mean": [Case(setup=ABS)],
    "geometric_mean": [Case(setup=ABS)],
    "argmax": [Case(dtype="int64"), Case(params={"axis": 1}, dtype="int64")],
    "peak_to_peak": [Case(params={"window_length": 50})],
    "count_peaks": [Case(params={"sta": 10, "lta": 40}, dtype="int64")],
    "approx_vlf": [Case()],
    "extract": [Case(params={"index": 3}), Case(params={"axis": 0, "index": -1})],
    "hash": [Case(setup=chain(("bounded_select", {"min_val": 0.0, "max_val": 9.0})), dtype="uint64")],
    # filters
    "butter": [
        Case(),
        Case(params={"type": "bandpass", "freq": [50.0, 150.0], "order": 3}),
        Case(params={"axis": 0, "freq": 0.1}),
    ],
    "gaussian": [Case(), Case(params={"xorder": 0, "torder": 0, "mode": "nearest"})],
    "sobel": [Case(), Case(params={"axis": 0})],
    "convolve": [Case()],
    "correlate": [Case()],
    "median_filter": [Case()],
    "wiener": [Case(), Case(params={"noisePower": 0.5})],
    "running_mean": [Case(), Case(params={"axis": 1})],
    "dip_filter": [Case(params={"shape": [3, 5], "bandwidth": 0.005})],
    "destripe": [Case(), Case(params={"axis": 1})],
    "diff": [Case(), Case(params={"axis": 0, "window_length": 2})],
    "gradient": [Case(), Case(params={"axis": 1})],
    "roll": [
        Case(params={"window_length": 3}),
        Case(params={"axis": 0, "window_length": -2}),
        Case(setup=chain(("mean", {"axis": 1}), ("lin_transform", {"m": 10.0})), in_uid=0, gather=[2]),
    ],
    "broaden": [Case(params={"window_length": 5})],
    # geometry
    "downsample": [Case(params={"xsample": 2, "tsample": 3})],
    "clip": [
        Case(params={"xmin": 2.0, "xmax": 10.0, "tmin": 0.01, "tmax": 0.2}),
        Case(params={"double_ended": 1}),
        Case(params={"directory_out": "clipped", "xmax": 8.0}),
    ],
    "interp": [
        Case(params={"spacing": 1.5}),
        Case(params={"axis": 1, "spacing": 0.0015}),
        Case(params={"positions": [1.0, 3.5, 9.0]}),
    ],
    "curve_fit": [
        Case(),
        Case(params={"axis": 0, "output": "coefficients"}),
        Case(params={"method": "exp_fit", "bounds": [[-9.0, -90.0, -9.0], [9.0, 0.0, 9.0]], "initSlopes": [-5.0]}),
    ],
    # spectral
    "fft": [Case(), Case(params={"axis": 0}), COMPLEX],
    "ifft": [Case(setup=SPECTRUM), Case(setup=FK, params={"axis": 0}), Case(setup=FK)],
    "rms_from_fft": [Case(setup=SPECTRUM, params={"low_freq": 10.0, "high_freq": 200.0})],
    "multiple_calcs": [
        Case(setup=SPECTRUM, params={"func": "rms_from_fft", "low_freq": [0, 100], "high_freq": [100, -1]}),
        Case(setup=SPECTRUM, params={"func": "te_from_fft", "low_freq": [5], "high_freq": [50]}),
    ],
    "analytic_signal": [Case(setup=SPECTRUM, params={"freq": 100.0})],
    "deconvolve": [
        Case(
            setup=[*SPECTRUM, {"name": "abs", "uid": 2, "in_uid": 0}, {"name": "fft", "uid": 3, "in_uid": 2}],
            in_uid=1,
            gather=[3],
        )
    ],
    "virtual_cmp": [Case(setup=SPECTRUM), Case(setup=SPECTRUM, params={"axis": 1})],
    "up_wave": [Case(setup=FK)],
    "down_wave": [Case(setup=FK)],
    "velocity_map": [Case(setup=FK)],
    "velocity_mask": [
        Case(
            setup=[*FK, {"name": "velocity_map", "uid": 3, "in_uid": 2}],
            params={"min_velocity": 100.0, "max_velocity": 500.0},
        ),
        Case(
            setup=[*FK, {"name": "velocity_map", "uid": 3, "in_uid": 2}],
            params={"min_velocity": 100.0, "max_velocity": 500.0, "smooth": 4},
        ),
    ],
    # detection
    "sta_lta": [Case(setup=ABS, params={"sta": 5, "lta": 20})],
    # algebra
    "add": [Case(setup=ABS, in_uid=0, gather=[1])],
    "multiply": [
        Case(setup=ABS, in_uid=0, gather=[1]),
        Case(setup=chain(("mean", {"axis": 1})), in_uid=0, gather=[1], params={"axis": 0}),
    ],
    "gather": [
        Case(
            setup=[{"name": "mean", "uid": 1, "in_uid": 0}, {"name": "std_dev", "uid": 2, "in_uid": 0}],
            in_uid=0,
            gather=[1, 2],
        )
    ],
    "kmeans": [
        Case(params={"n_clusters": 3}, needs="sklearn"),
        Case(setup=ABS, in_uid=0, gather=[1], params={"n_clusters": 3}, needs="sklearn"),
    ],
    "keras": [Case(params={"filename": "MODEL"}, needs="keras")],
    # io
    "write_npy": [Case(params={"directory_out": "npy"}), Case(setup=SPECTRUM, params={"directory_out": "spec"})],
    "write_dasdae": [Case(params={"directory_out": "dasdae", "units": "strain/s", "data_type": "strain_rate"})],
    "write_netcdf": [Case(params={"directory_out": "netcdf", "units": "strain/s"}, needs="h5netcdf")],
    "write_prodml": [Case(params={"directory_out": "prodml", "units": "strain/s"})],
    "write_zarr": [Case(params={"directory_out": "zarr", "units": "strain/s"}, needs="zarr")],
    "write_prodml_fbe": [_band_table_writer("pfbe")],
    "write_witsml": [_band_table_writer("fbe")],
    "data_load": [
        Case(params={"directory_out": "masks", "filename": "gain.npy"}, files={"masks/gain.npy": GAIN}),
        Case(params={"directory_out": "masks", "filename": "mask"}, files={"masks/mask.npy": GAIN + 1j * GAIN}),
    ],
    # plots
    "thumbnail": [Case(params={"directory_out": "thumbs", "dpi": 20, "figure_size": [2, 2]})],
    # interferometry
    "detrend": [Case(), Case(params={"type": "constant"})],
    "taper": [Case(), Case(params={"fraction": 0.2, "max_length": 0.01})],
    "whiten": [
        Case(params={"low_freq": 10.0, "high_freq": 200.0}),
        Case(params={"low_freq": 10.0, "high_freq": 200.0, "smooth_hz": 20.0, "taper_hz": 10.0}),
    ],
    "one_bit": [Case()],
    "running_abs_mean": [Case(params={"window": 0.01})],
    "xcorr": [
        Case(params={"sources": [0, 3], "max_lag_seconds": 0.02}),
        Case(params={"channel_range": [2, 6], "max_lag_seconds": 0.02, "method": "coherence", "smooth_hz": 20.0}),
        Case(params={"max_lag_seconds": 0.3, "method": "deconvolution"}),
    ],
    "dispersion": [
        Case(
            params={"min_velocity": 100, "max_velocity": 2000, "velocity_step": 100, "low_freq": 10, "high_freq": 300}
        ),
        Case(
            setup=chain(("xcorr", {"sources": [0], "max_lag_seconds": 0.05})),
            params={"min_velocity": 100, "max_velocity": 2000, "velocity_step": 50, "side": "causal"},
        ),
    ],
    # the reducer: on one chunk alone, the stack of that chunk (stacks over chunks: tests/commands/test_stacking.py)
    "stack_chunks": [
        Case(),
        Case(setup=chain(("xcorr", {"sources": [0], "max_lag_seconds": 0.05})), params={"method": "pws"}),
    ],
}


def _raydas_commands() -> dict[str, type[Command]]:
    """The registered commands of raydas itself (not test doubles or installed plug-ins)."""
    return {n: c for n, c in commands.all_commands().items() if c.__module__.startswith("raydas.")}


CASES = [pytest.param(name, case, id=f"{name}-{i}") for name, rows in SAMPLES.items() for i, case in enumerate(rows)]


def test_every_command_has_a_sample_row():
    registered = set(_raydas_commands())
    assert not registered - set(SAMPLES), f"add runnable samples for {sorted(registered - set(SAMPLES))} to SAMPLES"
    assert not set(SAMPLES) - registered, f"SAMPLES names commands that are not registered: {set(SAMPLES) - registered}"
    assert all(SAMPLES.values())


#: ``RAYDAS_TEST_XP=cupy`` runs the xp-interface comparison on real cupy (a GPU machine:
#: benchmarks/gpu_check.sh) instead of the stand-in, to float32 tolerance.
REAL_CUPY = os.environ.get("RAYDAS_TEST_XP", "") == "cupy"
#: (rtol, atol relative to the largest value): the stand-in is numpy itself; cupy's kernels round differently
TOLERANCE = (1e-4, 1e-4) if REAL_CUPY else (2e-5, 1e-6)


@pytest.fixture
def stand_in(monkeypatch) -> types.ModuleType:
    """The stand-in for cupy (and cupyx.scipy's ndimage and signal); real cupy with ``RAYDAS_TEST_XP=cupy``."""
    if REAL_CUPY:
        from raydas.backend import array_namespace

        return array_namespace("gpu")  # fails loudly without cupy or a GPU: the switch asked for them
    return device_namespace(monkeypatch)


def _on_device(array) -> bool:
    return isinstance(array, DeviceArray) or type(array).__module__.startswith("cupy")


@pytest.mark.skipif(REAL_CUPY, reason="checks the stand-in, not cupy")
def test_the_stand_in_refuses_host_arrays_like_cupy(stand_in):
    x = stand_in.asarray(np.ones((2, 3), np.float32))
    assert type(x * 2 + stand_in.abs(x)) is DeviceArray and type(x.sum(axis=1)) is DeviceArray
    for mixed in (lambda: x + np.ones((2, 3)), lambda: stand_in.abs(np.ones(3)), lambda: np.concatenate([x, x.get()])):
        with pytest.raises(TypeError, match="host"):
            mixed()
    np.testing.assert_array_equal(to_host(x), np.ones((2, 3)))


# --- running one case ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras_model(tmp_path_factory) -> str:
    """A saved linear keras model for 256 features (the chunk's samples); skipped without keras."""
    from raydas.commands.algebra import keras_module
    from raydas.errors import RaydasError

    try:
        keras = keras_module()
    except RaydasError:
        pytest.skip("keras (raydas[keras]) not installed")
    path = str(tmp_path_factory.mktemp("keras") / "linear.keras")
    model = keras.Sequential([keras.Input(shape=(DATA.shape[1],)), keras.layers.Dense(2)])
    model.save(path)
    return path


@dataclass
class Prepared:
    command: Command
    x: object
    ctx: Context


def prepare(name: str, case: Case, root, xp=np, writable: bool = False, model: str | None = None) -> Prepared:
    """The command of ``case`` and its inputs as the pipeline hands them over: on ``xp``
    (a gpu command) or numpy (a host command), read-only unless ``writable``."""
    if case.needs and importlib.util.find_spec(case.needs) is None:
        pytest.skip(f"{name} needs {case.needs} (an optional extra)")
    cls = commands.get(name)
    if model is not None:  # the keras model lies under the results root
        os.makedirs(root, exist_ok=True)
        shutil.copy(model, os.path.join(root, "model.keras"))
    params = {k: ("model.keras" if v == "MODEL" else v) for k, v in case.params.items()}
    command = cls(cls.Params.model_validate(params), uid=len(case.setup) + 1)
    sink = OutputSink(str(root))
    for path, array in case.files.items():
        os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
        np.save(os.path.join(root, path), array)
    chunk = make_chunk(DATA, FS, spacing=SPACING)
    values = {0: (np.array(chunk.data), ArrayMeta(positions=chunk.positions, dt=chunk.dt))}
    for uid in {case.input_uid, *case.gather} - {0}:
        values[uid] = run_graph(case.setup, chunk, keep=uid)
    ns = xp if command.gpu else np

    def handed_over(uid: int):
        array = ns.asarray(np.array(values[uid][0]))
        if hasattr(array, "setflags"):  # cupy's arrays have no read-only flag
            array.setflags(write=writable)
        return array

    ctx = Context(
        sample_rate=FS,
        meta=values[case.input_uid][1],
        gathered=[handed_over(g) for g in case.gather],
        gathered_meta=[values[g][1] for g in case.gather],
        start_ns=chunk.start_ns,
        stem=chunk.stem,
        sink=sink,
        placement=chunk.placement,
        chunk_samples=chunk.n_samples,
    )
    return Prepared(command, handed_over(case.input_uid), ctx)


def run(p: Prepared, xp=np):
    ns = xp if p.command.gpu else np
    out = p.command.apply(ns, p.x, p.ctx)
    return out, p.command.out_meta(p.x, out, p.ctx)


@pytest.fixture
def model(request) -> str | None:
    """The keras model file for the keras rows (built once), None for the others."""
    name = request.node.callspec.params["name"]
    return request.getfixturevalue("keras_model") if name == "keras" else None


# --- the properties --------------------------------------------------------------------------------
@pytest.mark.parametrize("name, case", CASES)
def test_runs_on_read_only_inputs(name, case, tmp_path, model):
    p = prepare(name, case, tmp_path, model=model)
    assert not p.x.flags.writeable and not any(g.flags.writeable for g in p.ctx.gathered)
    run(p)


@pytest.mark.parametrize("name, case", CASES)
def test_leaves_writable_inputs_unchanged(name, case, tmp_path, model):
    p = prepare(name, case, tmp_path, writable=True, model=model)
    before = [np.array(a) for a in (p.x, *p.ctx.gathered)]
    run(p)
    for i, (now, then) in enumerate(zip((p.x, *p.ctx.gathered), before)):
        np.testing.assert_array_equal(now, then, err_msg=f"{name} changed its input {i} (0: in_uid, 1+: gather_uids)")


@pytest.mark.parametrize("name, case", CASES)
def test_keeps_float32_and_complex64(name, case, tmp_path, model):
    p = prepare(name, case, tmp_path, model=model)
    assert p.x.dtype in (np.float32, np.complex64)
    out, _ = run(p)
    out = np.asarray(to_host(out))
    expected = [np.dtype(case.dtype)] if case.dtype else [np.dtype(np.float32), np.dtype(np.complex64)]
    assert out.dtype in expected, f"{name}: {p.x.dtype} in, {out.dtype} out"


@pytest.mark.parametrize("name, case", CASES)
def test_same_result_through_the_xp_interface(name, case, tmp_path, stand_in, model):
    host = prepare(name, case, tmp_path / "numpy", model=model)
    device = prepare(name, case, tmp_path / "device", xp=stand_in, model=model)
    expected, expected_meta = run(host)
    out, meta = run(device, stand_in)
    if device.command.gpu:
        assert _on_device(out), f"{name} runs on the device but returned {type(out).__name__}"
    got = to_host(out)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    finite = np.abs(expected[np.isfinite(expected)])
    scale = float(finite.max()) if finite.size else 1.0
    rtol, atol = TOLERANCE
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol * scale, equal_nan=True)
    assert (meta.halo, meta.dt, meta.spectra) == (expected_meta.halo, expected_meta.dt, expected_meta.spectra)
    assert meta.coords == expected_meta.coords  # names, axes and units
    for c, e in zip(meta.coords, expected_meta.coords):
        np.testing.assert_array_equal(to_host(c.values), e.values, err_msg=c.name)
    if expected_meta.positions is None:
        assert meta.positions is None
    else:
        np.testing.assert_array_equal(to_host(meta.positions), expected_meta.positions)
    written = _files(tmp_path / "device")
    assert written == _files(tmp_path / "numpy")
    assert set(device.command.output_files(device.ctx.stem)) <= set(written)  # a writer wrote what it declares


def _files(root) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> content)."""
    found = {}
    for folder, _, names in os.walk(root):
        for n in names:
            path = os.path.join(folder, n)
            with open(path, "rb") as fh:
                found[os.path.relpath(path, root)] = fh.read()
    return found
