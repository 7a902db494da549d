"""Property test: damaged headers of the real sample files (SEG-Y, HDF5 of
every vendor, TDMS, miniSEED, Sintela protobuf, and the fibre samples: DAS
HDF5, xdas NetCDF, DASVader JLD2, Sentek, DTS/DSS HDF5 and text, OTDR) are either read or refused
with the project's own error (a RaydasError naming the file); no reader may
crash with another exception or hang.

Each example overwrites a few bytes of the file's header region (and
sometimes cuts the file short), then detects, scans and reads a small
window through the reader itself (not the registry's catch-all wrappers).
Examples are bounded per file and a timer stops any read that hangs in
Python. A hang inside the HDF5 C library cannot be interrupted in-process:
the one found so far (a damaged global heap makes libhdf5 loop forever on any
variable-length string) is pinned below as a strict xfail run in a subprocess.
"""

from __future__ import annotations

import datetime
import logging
import signal
import warnings

import pytest
from helpers import heap_damaged_pair, scan_all_in_a_process
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raydas import formats
from raydas.errors import RaydasError
from raydas.formats.base import Probe

#: sample file -> size of its header region in bytes (where a mutation lands)
HEADERS = {
    "segy/small_channel_patch.sgy": 3600 + 240,  # textual + binary header + first trace header
    "segy/f3.sgy": 3600 + 240,
    "tdms/sample_tdms_file_v4713.tdms": 8192,  # lead-in and segment metadata
    "mseed/etna_9n_3chan_10s.mseed": 4096,  # first record: fixed header and blockettes
    "other/sintela_protobuf_1.pb": 512,  # envelope and the start of the metadata message
    "hdf5/iDAS005_hdf5_example.626.h5": 4096,  # superblock, root group, first object headers
    "hdf5/prodml_fbe_1.h5": 4096,
    "hdf5/silixa_h5_1.hdf5": 4096,
    "hdf5/terra15_v5_test_file.hdf5": 4096,
    "hdf5/valencia_febus_example.h5": 4096,
    "hdf5/ap_sensing_1.hdf5": 4096,
    "hdf5/decimated_optodas.hdf5": 4096,
    # the fibre samples (../fibre, beside the real folder)
    "fibre/hdf5/neubrex_das_1.h5": 2048,  # everything before the data (which start at byte 2048)
    "fibre/hdf5/gdr_1.h5": 17912,  # the metadata groups, before the time array
    "fibre/hdf5/deformation_rate_event_1.hdf5": 5736,  # root, waveforms and patch headers, before the times
    "fibre/hdf5/dispersion_event.h5": 5512,
    "fibre/hdf5/h5_simple_1.h5": 2048,
    "fibre/hdf5/xdas_netcdf.nc": 2048,
    "fibre/hdf5/das_vader_1.jld2": 7000,  # user block, superblock, dDAS and data object headers, chunk start
    "fibre/dts/febus_dts.h5": 4096,  # superblock, root attributes, group headers
    "fibre/dss/neubrex_dss_forge.h5": 4096,
    "fibre/other/DASDMSShot00_20230328155653619.das": 73504,  # header, positions and stamps
    "fibre/otdr/ofl100_1.sor": 1322,  # map, parameter and event blocks, DataPts header
    "fibre/dss/febg1_C1_2023-05-10T12.25.03+0000.bsl": 600,  # the Param header and the first values
    "fibre/dss/febus-g1-spectra_C1_2023-11-30T15.13.14+0000.mtx": 5000,  # the header and the first spectrum
    "fibre/dts/febus_dts_1_C1_20250424_231747.h5": 4096,
    "fibre/otdr/ofl100_2.sor": 1219,
    "fibre/dss/febus-g1-spectra_C2_2026-06-03T17.28.13+0200.mtx.h5": 4096,
}
HANG_SECONDS = 20


class Hang(Exception):
    """A reader ran past HANG_SECONDS on one small file."""


def _alarm(signum, frame):
    raise Hang(f"reader ran for more than {HANG_SECONDS} s")


def _exercise(url: str) -> None:
    """Detect, scan and read a small window of every record, through the reader."""
    try:
        reader = formats.detect(url)
    except RaydasError:
        return
    with Probe(url) as probe:
        records = reader.scan(probe)
    for record in records[:3]:
        block = reader.read_samples(record, 0, min(record.n_samples, 16), slice(0, 4))
        assert block.ndim == 2


mutations = st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8)


@pytest.mark.parametrize("name", sorted(HEADERS))
@pytest.mark.filterwarnings("ignore")
def test_damaged_headers_are_read_or_refused_with_raydas_errors(request, tmp_path_factory, name):
    folder, relative = ("fibre_data", name.removeprefix("fibre/")) if name.startswith("fibre/") else ("real_data", name)
    original = (request.getfixturevalue(folder) / relative).read_bytes()
    region = min(HEADERS[name], len(original))
    target = tmp_path_factory.mktemp("fuzz") / name.rsplit("/", 1)[1]
    logging.getLogger("nptdms").setLevel(logging.ERROR)

    @settings(
        max_examples=20,
        deadline=datetime.timedelta(seconds=10),
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(changes=mutations, cut=st.one_of(st.none(), st.floats(0, 1, exclude_max=True)))
    def check(changes, cut):
        data = bytearray(original)
        for where, value in changes:
            data[int(where * region)] = value
        if cut is not None:
            data = data[: int(cut * len(data))]
        target.write_bytes(bytes(data))
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(HANG_SECONDS)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _exercise(str(target))
        except RaydasError as exc:
            assert str(target) in str(exc)  # the error names the file
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)

    check()


@pytest.mark.slow
def test_damaged_global_heap_is_a_format_error_not_a_hang(real_data, tmp_path):
    """libhdf5 (2.0.0 in h5py 3.16) loops forever reading a variable-length string
    from a global heap whose object index was zeroed, and Python cannot interrupt
    it: the scan runs in a helper process that is killed after the timeout, and
    the file (only it) is reported."""
    heap_damaged_pair(real_data, tmp_path)
    n_records, failures = scan_all_in_a_process(str(tmp_path), timeout=90)
    assert n_records >= 1  # the good file still scanned, after the helper was restarted
    assert "heap.hdf5" in failures and "did not finish reading its metadata" in failures
    assert "z_good.hdf5" not in failures
