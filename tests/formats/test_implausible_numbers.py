"""Numbers in files are plausible or the file is refused, alone and named.

Each case edits one number of a real sample file (a SEG-Y rev 2 sample
interval of 1e300 µs, a Silixa ``SamplingFrequency`` of "1e-300", a year of
32767, ...): scanning it beside the untouched file names it as a failure and
still finds the good file's record, and planning the chunks of what was found
does not overflow. Before, such numbers raised ``OverflowError`` and took the
whole scan and run down, or (the year) silently became 1970.
"""

from __future__ import annotations

import shutil
import struct

import h5py
import numpy as np
import pytest

from raydas import formats, plausible
from raydas.errors import FormatError
from raydas.formats.base import RecordInfo
from raydas.recording import assemble, plan_chunks

SEGY = "segy/small_channel_patch.sgy"


def _patched(path, offset: int, fmt: str, value) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(struct.pack(fmt, value))


def _segy_interval(path):  # rev 2 IEEE double sample interval (µs), file bytes 3273-3280
    _patched(path, 3200 + 72, ">d", 1e300)


def _segy_year(path):  # first trace header, bytes 157-158
    _patched(path, 3600 + 156, ">h", 32767)


def _segy_hour(path):
    _patched(path, 3600 + 160, ">h", 99)


def _h5_attr(name: str, key: str, value):
    def edit(path):
        with h5py.File(path, "r+") as h5:
            h5[name].attrs[key] = value

    return edit


def _h5_value(name: str, value):
    def edit(path):
        with h5py.File(path, "r+") as h5:
            h5[name][...] = value

    return edit


#: case -> (sample file, edit, words the failure must contain)
CASES = {
    "segy rev 2 interval 1e300 us": (SEGY, _segy_interval, "sample interval"),
    "segy year 32767": (SEGY, _segy_year, "year 32767"),
    "segy hour 99": (SEGY, _segy_hour, "hour 99"),
    "silixa SamplingFrequency 1e-300": (
        "hdf5/silixa_h5_1.hdf5",
        _h5_attr("Acoustic", "SamplingFrequency[Hz]", "1e-300"),
        "SamplingFrequency 1e-300",
    ),
    "silixa spacing inf": (
        "hdf5/silixa_h5_1.hdf5",
        _h5_attr("Acoustic", "SpatialResolution[m]", "inf"),
        "spacing",
    ),
    "prodml RawDataTime in the year 33658": (
        "hdf5/iDAS005_hdf5_example.626.h5",
        _h5_value("Acquisition/Raw[0]/RawDataTime", 10**18),
        "start time",
    ),
    "optodas time 1e300 s": ("hdf5/decimated_optodas.hdf5", _h5_value("header/time", 1e300), "header/time"),
    "optodas dt nan": ("hdf5/decimated_optodas.hdf5", _h5_value("header/dt", np.nan), "header/dt"),
    "apsensing DataRate 2**31-1 Hz": (
        "hdf5/ap_sensing_1.hdf5",
        _h5_value("ProcessingServer/DataRate", 2**31 - 1),
        "DataRate",
    ),
    "terra15 dx 1e300": ("hdf5/terra15_v5_test_file.hdf5", _h5_attr("data_product/data", "dx", 1e300), "dx"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_implausible_number_fails_its_file_alone_named(real_data, tmp_path, case):
    name, edit, words = CASES[case]
    good = tmp_path / ("good" + (real_data / name).suffix)
    bad = tmp_path / ("bad" + (real_data / name).suffix)
    shutil.copy(real_data / name, good)
    shutil.copy(real_data / name, bad)
    bad.chmod(0o644)
    edit(bad)

    records, failures = formats.scan([str(good), str(bad)])

    assert {r.path for r in records} == {str(good)}
    assert [f.path for f in failures] == [str(bad)]
    assert words in failures[0].problem, failures[0].problem
    recordings, _ = assemble(records)
    assert plan_chunks(recordings, 1.0)  # the good file still plans


@pytest.mark.parametrize(
    "field,value,words",
    [
        ("dt", 1e300, "sample interval"),
        ("dt", 1e-300, "sample interval"),
        ("start_ns", 32767 * 365 * 86400 * 10**9, "start time"),
        ("n_samples", 2**62, "sample count"),
        ("n_samples", True, "sample count"),
        ("gauge_length", float("inf"), "gauge length"),
    ],
)
def test_every_record_is_checked_whatever_reader_made_it(field, value, words):
    fields = dict(path="f.x", format="x", n_channels=2, n_samples=10, dt=0.001, start_ns=0, positions=[0.0, 1.0])
    fields[field] = value
    with pytest.raises(FormatError) as err:
        RecordInfo(**fields)
    assert err.value.path == "f.x" and words in err.value.problem


def test_end_time_must_be_plausible_too():
    with pytest.raises(FormatError, match="end time"):
        RecordInfo("f.x", "x", 1, 10**12, 1e6, 0, [0.0])


def test_non_finite_positions_are_refused():
    with pytest.raises(FormatError, match="not finite"):
        RecordInfo("f.x", "x", 2, 10, 0.001, 0, [0.0, float("nan")])


def test_validators_refuse_bool_nan_and_out_of_range():
    for bad in (True, float("nan"), float("inf"), "1"):
        with pytest.raises(ValueError):
            plausible.sample_rate(bad)
    with pytest.raises(ValueError, match="outside the plausible range"):
        plausible.sample_rate(1e-300)
    with pytest.raises(ValueError, match="whole number"):
        plausible.count(1.5)
    assert plausible.sample_rate(1000) == 1000.0
    assert plausible.seconds_to_ns(1.5) == 1_500_000_000
    assert plausible.time_ns(np.int64(2**60)) == 2**60
