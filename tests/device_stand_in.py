"""A stand-in for cupy, for tests on machines without a GPU.

numpy under another name whose arrays are a type of their own
(:class:`DeviceArray`, with cupy's ``.get()``). As with cupy, combining a
device array with a host (numpy) array of one or more dimensions is a
TypeError, reductions give 0-d device arrays, and ``xp.asarray`` is the way
from the host to the device. ``cupyx.scipy.ndimage``/``signal`` are stood in
for by scipy's on device arrays.
"""

from __future__ import annotations

import sys
import types

import numpy as np


class DeviceArray(np.ndarray):
    """An array "on the device": numpy maths, a type of its own, cupy's ``.get()``.

    As with cupy, an operation that mixes it with a host (numpy) array of one
    or more dimensions is a TypeError: commands must move host data to the
    device with ``xp.asarray`` first.
    """

    downloads = 0  # .get() calls, i.e. copies to the host

    def get(self) -> np.ndarray:  # cupy.ndarray.get(): a host copy
        DeviceArray.downloads += 1
        return np.array(self.view(np.ndarray))

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _refuse_host(f"{ufunc.__name__}.{method}", inputs, kwargs)
        result = getattr(ufunc, method)(*_plain(inputs), **_plain(kwargs))
        return _on_device(result)

    def __array_function__(self, func, types, args, kwargs):
        _refuse_host(func.__name__, args, kwargs)
        return _on_device(func(*_plain(args), **_plain(kwargs)))


def _walk(value):
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _walk(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    else:
        yield value


def _refuse_host(what: str, args, kwargs) -> None:
    for value in _walk([args, kwargs]):
        if isinstance(value, np.ndarray) and not isinstance(value, DeviceArray) and value.ndim > 0:
            raise TypeError(f"{what}: a host (numpy) array given to a device operation; use xp.asarray first")


def _plain(value):
    """Device arrays as plain numpy views (so that numpy computes without dispatching back here)."""
    if isinstance(value, DeviceArray):
        return value.view(np.ndarray)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _on_device(value):
    """numpy results as device arrays; a scalar becomes a 0-d array, as cupy's reductions give."""
    if isinstance(value, np.generic):
        return np.asarray(value).view(DeviceArray)
    if isinstance(value, np.ndarray) and not isinstance(value, DeviceArray):
        return value.view(DeviceArray)
    if isinstance(value, tuple):
        return tuple(_on_device(v) for v in value)
    if isinstance(value, list):
        return [_on_device(v) for v in value]
    return value


def _device_function(func, name: str):
    def call(*args, **kwargs):
        _refuse_host(name, args, kwargs)
        return _on_device(func(*_plain(args), **_plain(kwargs)))

    call.__name__ = name
    return call


def _device_module(name: str, source: types.ModuleType) -> types.ModuleType:
    """``source``'s functions working on device arrays only; its types and constants as they are."""
    module = types.ModuleType(name)
    for key in dir(source):
        if key.startswith("__"):
            continue
        value = getattr(source, key)
        is_function = isinstance(value, (types.FunctionType, types.BuiltinFunctionType, np.ufunc))
        module.__dict__[key] = _device_function(value, key) if is_function else value
    return module


def _upload(a, dtype=None, copy=None):
    """``xp.asarray``: a host array (or list) copied to the device; a device array as it is."""
    if isinstance(a, DeviceArray) and (dtype is None or a.dtype == dtype):
        return a
    return np.array(_plain(a), dtype=dtype).view(DeviceArray)


def device_namespace(monkeypatch=None) -> types.ModuleType:
    """The stand-in for cupy: numpy's functions and ``fft`` on :class:`DeviceArray`;
    with ``monkeypatch``, also ``cupyx.scipy.ndimage`` and ``cupyx.scipy.signal``
    (scipy's, on device arrays) for the test's duration."""
    import scipy.ndimage
    import scipy.signal

    xp = _device_module("stand_in_cupy", np)
    xp.fft = _device_module("stand_in_cupy.fft", np.fft)
    xp.asarray = xp.array = _upload
    if monkeypatch is not None:
        cupyx = types.ModuleType("cupyx")
        cupyx.scipy = types.ModuleType("cupyx.scipy")
        cupyx.scipy.ndimage = _device_module("cupyx.scipy.ndimage", scipy.ndimage)
        cupyx.scipy.signal = _device_module("cupyx.scipy.signal", scipy.signal)
        for name, module in (
            ("cupyx", cupyx),
            ("cupyx.scipy", cupyx.scipy),
            ("cupyx.scipy.ndimage", cupyx.scipy.ndimage),
            ("cupyx.scipy.signal", cupyx.scipy.signal),
        ):
            monkeypatch.setitem(sys.modules, name, module)
    return xp
