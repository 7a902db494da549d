"""Array backends: numpy on CPU actors, cupy on GPU actors.

Commands compute through the array namespace ``xp`` they are handed; nothing
else in raydas decides where arrays live. The device is chosen once per actor
(never from "does ``import cupy`` work"): see :func:`array_namespace`.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np


def array_namespace(device: str) -> ModuleType:
    """The array module for ``device`` ('cpu' or 'gpu').

    Raises
    ------
    RuntimeError
        When a GPU is asked for but cupy or a CUDA device is missing.
    """
    if device == "cpu":
        return np
    if device == "gpu":
        try:
            import cupy
        except ImportError as exc:
            raise RuntimeError("device 'gpu' needs cupy: pip install 'raydas[gpu]'") from exc
        if not cupy.cuda.is_available():
            raise RuntimeError("device 'gpu' asked for, but cupy sees no usable CUDA device")
        return cupy
    raise ValueError(f"unknown device {device!r}; use 'cpu' or 'gpu'")


def is_numpy(xp: ModuleType) -> bool:
    return xp is np


def to_host(array):
    """A numpy view/copy of ``array`` wherever it lives."""
    if isinstance(array, np.ndarray):
        return array
    get = getattr(array, "get", None)  # cupy.ndarray.get() -> numpy
    if callable(get):
        return get()
    return np.asarray(array)


def to_device(xp: ModuleType, array):
    """``array`` in ``xp``'s memory (no copy when it is already there)."""
    if xp is np:
        return to_host(array)
    return xp.asarray(array)


def signal_module(xp: ModuleType):
    """``scipy.signal`` for numpy, ``cupyx.scipy.signal`` for cupy."""
    if xp is np:
        import scipy.signal

        return scipy.signal
    import cupyx.scipy.signal

    return cupyx.scipy.signal


def ndimage_module(xp: ModuleType):
    """``scipy.ndimage`` for numpy, ``cupyx.scipy.ndimage`` for cupy."""
    if xp is np:
        import scipy.ndimage

        return scipy.ndimage
    import cupyx.scipy.ndimage

    return cupyx.scipy.ndimage


def fft_module(xp: ModuleType):
    """Fastest FFT for ``xp``: scipy.fft on CPU (float32-native), cupy.fft on GPU."""
    if xp is np:
        import scipy.fft

        return scipy.fft
    return xp.fft
