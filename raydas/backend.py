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
    get = getattr(array, "get", None)  # cupy.ndarray.get() -> numpy
    if callable(get):
        return get()
    if isinstance(array, np.ndarray):
        return array
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


class HostToDevice:
    """Copies chunks from host memory to the actor's device so that the upload
    of the next chunk overlaps the compute of the current one.

    On cupy each upload goes through one reused page-locked (pinned) staging
    buffer, from which the GPU copies by DMA on a side stream of its own; the
    compute runs on another non-blocking stream (:meth:`computing`). A GPU
    actor runs two calls at once (``max_concurrency=2``): while one computes,
    the other uploads. On numpy nothing is copied: the array from Ray's object
    store is used as it is (read-only; commands never write into inputs).

    Parameters
    ----------
    xp
        The actor's array namespace (numpy or cupy); cupy is never imported here.
    staged
        Force the staging path with numpy too (what cupy does, emulated on
        host memory), so that it can be exercised without a GPU.
    """

    def __init__(self, xp: ModuleType, staged: bool | None = None):
        import threading

        self.xp = xp
        self.staged = (xp is not np) if staged is None else staged
        self._upload_lock = threading.Lock()
        self._compute_lock = threading.Lock()
        self._buffer = None  # the staging buffer, grown to the largest chunk seen
        self._copy_stream = self._compute_stream = None
        if xp is not np:
            self._copy_stream = xp.cuda.Stream(non_blocking=True)
            self._compute_stream = xp.cuda.Stream(non_blocking=True)

    def _staging(self, nbytes: int) -> np.ndarray:
        if self._buffer is None or self._buffer.nbytes < nbytes:
            if self.xp is np:
                self._buffer = np.empty(nbytes, dtype=np.uint8)
            else:
                import cupyx

                self._buffer = cupyx.empty_pinned((nbytes,), dtype=np.uint8)
        return self._buffer

    def __call__(self, host):
        """``host`` (a numpy array) as an array of ``xp`` that no later upload overwrites."""
        if not self.staged:
            return to_device(self.xp, host)
        host = np.ascontiguousarray(host)
        with self._upload_lock:  # one upload at a time through the staging buffer
            staging = self._staging(host.nbytes)[: host.nbytes].view(host.dtype).reshape(host.shape)
            np.copyto(staging, host)  # host memcpy into page-locked memory
            device = self.xp.empty(host.shape, dtype=host.dtype)
            if self.xp is np:
                np.copyto(device, staging)
            else:
                device.set(staging, stream=self._copy_stream)  # asynchronous DMA on the copy stream
                self._copy_stream.synchronize()  # the staging buffer is free again; the compute thread ran meanwhile
        return device

    def computing(self):
        """Context manager around one chunk's compute: one at a time, on the compute stream."""
        from contextlib import contextmanager

        @contextmanager
        def _scope():
            with self._compute_lock:
                if self._compute_stream is None:
                    yield
                    return
                with self._compute_stream:
                    yield
                self._compute_stream.synchronize()

        return _scope()
