"""Commands that cupy cannot run (``gpu = False``) move to the host alone.

No GPU here, so a stand-in device namespace (tests/device_stand_in.py) plays
cupy's part: numpy under another name whose arrays are a separate type with
cupy's ``.get()``. A graph run with it must hand device arrays to GPU
commands, plain numpy arrays to host-only commands, copy to the host only for
those steps, and give numpy's numbers.
"""

from __future__ import annotations

import numpy as np
from device_stand_in import DeviceArray, device_namespace
from helpers import make_chunk

from raydas import commands
from raydas.commands.base import Command
from raydas.pipeline import Pipeline

FS = 500.0


SEEN: dict[str, type] = {}


@commands.register
class _SeeDevice(Command):
    name = "_test_see_device"
    family = "control"

    def apply(self, xp, x, ctx):
        SEEN["gpu"] = type(x)
        return x


@commands.register
class _SeeHost(Command):
    name = "_test_see_host"
    family = "control"
    gpu = False

    def apply(self, xp, x, ctx):
        SEEN["host"] = type(x)
        SEEN["host_xp"] = xp
        return x


GRAPH = [
    {"name": "_test_see_device", "uid": 1, "in_uid": 0},
    {"name": "abs", "uid": 2, "in_uid": 1},
    {"name": "_test_see_host", "uid": 3, "in_uid": 2},
    {"name": "lin_transform", "uid": 4, "in_uid": 3, "m": 2.0, "c": 1.0},
    {"name": "kurtosis", "uid": 5, "in_uid": 4},  # scipy.stats: host only
    {"name": "_test_keep", "uid": 6, "in_uid": 5},
]


def test_host_only_steps_get_numpy_and_the_rest_stays_on_the_device():
    from helpers import _KEPT

    assert commands.get("kurtosis").gpu is False and commands.get("lin_transform").gpu is True
    rng = np.random.default_rng(3)
    data = rng.standard_normal((6, 400)).astype(np.float32)
    xp = device_namespace()
    DeviceArray.downloads = 0
    Pipeline.from_config({"command_list": GRAPH}).run(make_chunk(data, FS), xp)
    assert SEEN["gpu"] is DeviceArray  # uploaded once at the start
    assert SEEN["host"] is np.ndarray and SEEN["host_xp"] is np  # host-only step: numpy, on the host
    assert DeviceArray.downloads == 2  # one copy down per host-only step, none for the others
    from scipy import stats

    expected = stats.kurtosis(2.0 * np.abs(data).astype(np.float64) + 1.0, axis=1, bias=False)
    np.testing.assert_allclose(np.asarray(_KEPT["value"]).ravel(), expected, rtol=1e-4)
