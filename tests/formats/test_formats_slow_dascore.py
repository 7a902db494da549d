"""The slow fibre readers against DASCore 0.1.24 (test extra), where DASCore
reads the file right, and only on what it reads right: DASCore snaps the
Febus DTS and Neubrex RFS stamps to a regular grid (so only their first time is
compared; raydas keeps the stamps, checked against h5py in their own tests),
draws OTDR traces shifted to 0 at the noise floor, and leaves Neubrex's
invalid marker in the values. Its Sentek reader reads from wrong offsets and is
not compared."""

from __future__ import annotations

import numpy as np
import pytest

from raydas import formats

pytestmark = pytest.mark.filterwarnings("ignore")

INVALID = np.float32(-229526.08)


def dascore_patch(path):
    dascore = pytest.importorskip("dascore")
    (patch,) = list(dascore.spool(str(path)))
    return patch


def ns_array(patch, dim="time") -> np.ndarray:
    return patch.coords.get_array(dim).astype("datetime64[ns]").astype(np.int64)


@pytest.mark.parametrize(
    "name",
    ["dts/febus_dts.h5", "dts/febus_dts_1_C1_20250424_231747.h5", "dss/neubrex_dss_forge.h5"],
)
def test_profiles_over_time_against_dascore(fibre_data, name):
    patch = dascore_patch(fibre_data / name)
    (rec,) = formats.scan_file(str(fibre_data / name))
    assert patch.dims == ("time", "distance") and patch.shape == (rec.n_samples, rec.n_channels)
    assert abs(ns_array(patch)[0] - rec.start_ns) < 1000  # DASCore keeps float64 s x 1e9; raydas rounds to the µs
    np.testing.assert_allclose(patch.coords.get_array("distance"), rec.positions, rtol=0, atol=1e-9)
    theirs = np.asarray(patch.data, dtype=np.float32).T
    ours = formats.read_samples(rec, 0, rec.n_samples)
    np.testing.assert_array_equal(np.where(theirs == INVALID, np.nan, theirs), ours)


def test_bsl_profile_against_dascore(fibre_data):
    name = "dss/febg1_C1_2023-05-10T12.25.03+0000.bsl"
    patch = dascore_patch(fibre_data / name)
    (rec,) = formats.scan_file(str(fibre_data / name))
    assert patch.dims == ("distance", "time") and patch.shape == (12000, 1)
    assert abs(ns_array(patch)[0] - rec.start_ns) < 1000
    np.testing.assert_allclose(patch.coords.get_array("distance"), rec.positions, rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(patch.data, dtype=np.float32), formats.read_samples(rec, 0, 1))


def test_spectra_over_time_against_dascore(fibre_data):
    name = "dss/febus-g1-spectra_C2_2026-06-03T17.28.13+0200.mtx.h5"
    patch = dascore_patch(fibre_data / name)
    (rec,) = formats.scan_file(str(fibre_data / name))
    assert patch.dims == ("time", "distance", "frequency") and patch.shape == (68, 100, 128)
    np.testing.assert_allclose(ns_array(patch), rec.times_ns, rtol=0, atol=1000)  # irregular: every stamp
    f = rec.attrs["frequency_mhz"]
    np.testing.assert_allclose(patch.coords.get_array("frequency"), f["first"] + np.arange(f["count"]) * f["step"])
    np.testing.assert_allclose(patch.coords.get_array("distance"), rec.positions)
    spectra = formats.get_format("febus-g1-h5").read_spectra(rec)
    np.testing.assert_array_equal(np.asarray(patch.data).transpose(1, 0, 2), spectra)


@pytest.mark.parametrize("name", ["otdr/ofl100_1.sor", "otdr/ofl100_2.sor"])
def test_otdr_trace_against_dascore(fibre_data, name):
    patch = dascore_patch(fibre_data / name)
    (rec,) = formats.scan_file(str(fibre_data / name))
    assert patch.shape == (1, 16384) and ns_array(patch)[0] == rec.start_ns
    np.testing.assert_allclose(patch.coords.get_array("distance"), rec.positions, rtol=1e-12)
    level = formats.read_samples(rec, 0, 1)[:, 0].astype(np.float64)
    np.testing.assert_allclose(np.asarray(patch.data)[0], level - level.min(), atol=1e-4)  # drawn from the floor
