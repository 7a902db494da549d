"""Small helpers for tests: run a command or a graph on an in-memory chunk and
keep the result of one node (halo trimmed)."""

from __future__ import annotations

import io
import os

import numpy as np

from raydas import commands
from raydas.chunk import Chunk
from raydas.commands.base import Command
from raydas.outputs import OutputSink
from raydas.pipeline import Pipeline

#: the repository root (tests live one or two folders below it)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

T0_NS = 1_700_000_000 * 1_000_000_000
_KEPT: dict = {}


@commands.register
class Keep(Command):
    """Test-only sink: stores its (halo-trimmed) input and metadata."""

    name = "_test_keep"
    family = "control"
    time_local = False

    def apply(self, xp, x, ctx):
        _KEPT["value"] = np.array(x)
        _KEPT["meta"] = ctx.meta
        return x


def make_chunk(
    data: np.ndarray, fs: float, spacing: float = 1.0, halo=(0, 0), data_start_ns: int = T0_NS, read_only: bool = True
) -> Chunk:
    """A Chunk over ``data`` (channel, time) at ``fs`` Hz; read-only like arrays out of Ray."""
    data = np.array(data, dtype=np.float32)
    if read_only:
        data.setflags(write=False)
    return Chunk(data, data_start_ns, 1.0 / fs, np.arange(data.shape[0]) * spacing, halo=halo)


def run_graph(command_list: list[dict], chunk: Chunk, keep: int | None = None, out_dir=None):
    """Run ``command_list`` on ``chunk``; return (value, meta) of node ``keep`` (default: the last)."""
    keep = command_list[-1]["uid"] if keep is None else keep
    graph = list(command_list) + [{"name": "_test_keep", "uid": 99_999, "in_uid": keep}]
    sink = OutputSink(str(out_dir)) if out_dir is not None else None
    _KEPT.clear()
    Pipeline.from_config({"command_list": graph}).run(chunk, np, sink)
    return _KEPT["value"], _KEPT["meta"]


def run_command(command: dict, chunk: Chunk, out_dir=None):
    """Run one command (uid 1, on the data) and return (value, meta)."""
    return run_graph([dict(command, uid=1, in_uid=0)], chunk, out_dir=out_dir)


def chunk_record(whole: np.ndarray, fs: float, halo: int, chunk_seconds: float = 1.0, spacing: float = 1.0):
    """Cut a whole (channel, time) record into chunks of ``chunk_seconds``, each
    with up to ``halo`` neighbouring samples on each side, as
    :func:`raydas.recording.plan_chunks` does (less halo at the record's ends)."""
    n = whole.shape[1]
    size = max(1, int(round(chunk_seconds * fs)))
    for start in range(0, n, size):
        stop = min(start + size, n)
        lo, hi = max(0, start - halo), min(n, stop + halo)
        yield make_chunk(
            whole[:, lo:hi],
            fs,
            spacing=spacing,
            halo=(start - lo, hi - stop),
            data_start_ns=T0_NS + int(round(lo / fs * 1e9)),
        )


def run_chunked(
    command_list: list[dict],
    whole: np.ndarray,
    fs: float,
    chunk_seconds: float = 1.0,
    spacing: float = 1.0,
    keep: int | None = None,
):
    """Run a graph on chunks of ``whole`` carrying the halo the pipeline asks for;
    return (results of node ``keep`` stitched along time, the halo used)."""
    halo = Pipeline.from_config({"command_list": list(command_list)}).halo_samples(fs)
    pieces = [
        run_graph(command_list, chunk, keep=keep)[0] for chunk in chunk_record(whole, fs, halo, chunk_seconds, spacing)
    ]
    return np.concatenate(pieces, axis=1), halo


def png_size_and_dpi(payload: bytes) -> tuple[tuple[int, int], tuple[float, float]]:
    """Pixel size and dots per inch of a PNG file's content."""
    from PIL import Image

    with Image.open(io.BytesIO(payload)) as im:
        assert im.format == "PNG"
        return im.size, im.info.get("dpi")


def date_num(seconds: float) -> float:
    """matplotlib's date number (days since 1970-01-01 UTC), written out by hand."""
    return seconds / 86400.0


def heap_damaged_pair(real_data, folder) -> tuple:
    """``heap.hdf5`` (a real AP Sensing file whose global-heap object index is zeroed:
    libhdf5 loops for ever reading its metadata) and ``z_good.hdf5`` (the same file,
    intact, scanned after it) in ``folder``; returns their paths."""
    import shutil

    data = bytearray((real_data / "hdf5/ap_sensing_1.hdf5").read_bytes())
    assert data[3448] == 0x38  # index of a global-heap object holding one of the metadata strings
    data[3448] = 0
    (folder / "heap.hdf5").write_bytes(bytes(data))
    shutil.copy(real_data / "hdf5/ap_sensing_1.hdf5", folder / "z_good.hdf5")
    return folder / "heap.hdf5", folder / "z_good.hdf5"


def scan_all_in_a_process(spec: str, timeout: float, scan_timeout: float = 10.0) -> tuple[int, str]:
    """``formats.scan_all(spec)`` in a Python process of its own, the HDF5 helper's
    timeout set to ``scan_timeout`` s; returns (records found, the failures as text).
    Fails the test when the process does not finish within ``timeout`` s (a hang)."""
    import subprocess
    import sys

    import pytest

    code = (
        "from raydas import formats\n"
        f"found = formats.scan_all({spec!r})\n"
        "print(len(found.records), [str(f) for f in found.failures])"
    )
    env = dict(os.environ, RAYDAS_HDF5_SCAN_TIMEOUT=str(scan_timeout))
    try:
        done = subprocess.run([sys.executable, "-c", code], timeout=timeout, capture_output=True, text=True, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"scanning {spec} hung")
    assert done.returncode == 0, done.stderr
    n_records, failures = done.stdout.strip().split(" ", 1)
    return int(n_records), failures
