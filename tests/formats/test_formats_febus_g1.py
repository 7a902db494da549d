"""The Febus G1 Brillouin readers on ../shared/testdata/fibre/dss: the text
profiles (.bsl) and spectra (.mtx), checked against numpy's own text parser,
and the HDF5 spectra (.mtx.h5) against h5py; then files cut short or lying.
Spectra have a third, frequency axis: a 2-D read of them is refused with the
reason, and ``read_spectra`` returns ``(channel, time, frequency)``."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from raydas import formats
from raydas.errors import FormatError, PlanError
from raydas.pipeline import Pipeline

BSL = {
    "dss/febg1_C1_2023-05-10T12.25.03+0000.bsl": ("2023-05-10T12:25:03.782370", 806.190186, 4593.626953, "1045"),
    "dss/febg1_C1_2023-05-10T12.27.33+0000.bsl": ("2023-05-10T12:27:33.602781", 817.434082, 5862.416992, "961"),
}
MTX = "dss/febus-g1-spectra_C1_2023-11-30T15.13.14+0000.mtx"
MTX_H5 = "dss/febus-g1-spectra_C2_2026-06-03T17.28.13+0200.mtx.h5"
HEADER_LINES = 21


def ns(text: str) -> int:
    return int(np.datetime64(text, "ns").astype(np.int64))


def scan_one(path):
    records = formats.scan_file(str(path))
    assert len(records) == 1
    return records[0]


@pytest.mark.parametrize("name", sorted(BSL))
def test_bsl_profile_against_numpy(fibre_data, name):
    path = fibre_data / name
    start, first, last, fiber_break = BSL[name]
    values = np.loadtxt(path, skiprows=HEADER_LINES)
    assert values.shape == (12000,) and (values[0], values[-1]) == (first, last)
    assert formats.detect(str(path)).name == "febus-g1-text"
    rec = scan_one(path)
    assert (rec.n_channels, rec.n_samples, rec.start_ns) == (12000, 1, ns(start))
    assert rec.times_ns.tolist() == [ns(start)] and not rec.regular
    np.testing.assert_allclose(rec.positions, 700.0 + 0.1 * np.arange(12000), rtol=0, atol=1e-9)  # fiberFrom on
    assert (rec.quantity, rec.units, rec.assumed) == ("strain", "µε", ("positions", "units", "gauge_length"))
    assert rec.attrs["fiber_break_m"] == fiber_break
    full = formats.read_samples(rec, 0, 1)
    np.testing.assert_array_equal(full, values.astype(np.float32)[:, None])
    np.testing.assert_array_equal(formats.read_samples(rec, 0, 1, slice(3000, 3100)), full[3000:3100])
    p = Pipeline.from_config({"command_list": [{"name": "fft", "uid": 1, "in_uid": 0}]})
    with pytest.raises(PlanError, match=r"\.bsl: .*fft.*needs a regular sample rate.*a single reading"):
        p.check_record(rec)
    Pipeline.from_config({"command_list": [{"name": "abs", "uid": 1, "in_uid": 0}]}).check_record(rec)  # reads no rate


def test_mtx_text_spectra_against_numpy(fibre_data):
    path = fibre_data / MTX
    spectra = np.loadtxt(path, skiprows=HEADER_LINES, delimiter=";")
    assert spectra.shape == (100, 512) and (spectra[0, 0], spectra[-1, -1]) == (-0.478516, 0.104354)
    rec = scan_one(path)
    assert rec.format == "febus-g1-text" and (rec.n_channels, rec.n_samples) == (100, 1)
    assert rec.start_ns == ns("2023-11-30T15:13:14.435076") and rec.quantity == "spectrum"
    np.testing.assert_allclose(rec.positions, 700.0 + np.arange(100), atol=1e-9)  # 100 rows over 700-800 m
    assert rec.attrs["frequency_mhz"] == {"first": 11175.0, "step": -1.953125, "count": 512}
    with pytest.raises(FormatError, match=r"\.mtx: holds Brillouin spectra \(time, distance, frequency: 512 bins"):
        formats.read_samples(rec, 0, 1)
    got = formats.get_format("febus-g1-text").read_spectra(rec)
    np.testing.assert_array_equal(got, spectra.astype(np.float32)[:, None, :])
    assert got.astype(np.float64).mean() == pytest.approx(8.407734196191406, rel=1e-6)


def test_mtx_h5_spectra_against_h5py(fibre_data):
    path = fibre_data / MTX_H5
    with h5py.File(path, "r") as f:
        mtx = f["mtx"][()]
        starts = f["start_times"][()]
        distances = f["distances"][()]
        first, step = float(f.attrs["freq_offset_abs"][0]), float(f.attrs["freq_step"][0])
    assert mtx.shape == (68, 100, 128) and mtx[34, 50, 64] == np.float32(1.8756218)
    assert formats.detect(str(path)).name == "febus-g1-h5"
    rec = scan_one(path)
    assert (rec.n_channels, rec.n_samples) == (100, 68) and rec.quantity == "spectrum"
    stamps = np.array([round(s * 1e6) * 1000 for s in starts.tolist()])
    np.testing.assert_array_equal(rec.times_ns, stamps)  # irregular: 4.80 to 5.12 s apart, kept
    assert np.diff(stamps).min() / 1e9 == pytest.approx(4.799, abs=1e-3) and not rec.regular
    np.testing.assert_array_equal(rec.positions, distances)
    assert rec.attrs["frequency_mhz"] == {"first": first, "step": step, "count": 128} and step == -3.90625
    reader = formats.get_format("febus-g1-h5")
    np.testing.assert_array_equal(reader.read_spectra(rec), mtx.transpose(1, 0, 2))
    np.testing.assert_array_equal(
        reader.read_spectra(rec, 10, 20, slice(5, 50, 5)), mtx[10:20, 5:50:5].transpose(1, 0, 2)
    )
    with pytest.raises(FormatError, match=r"\.mtx\.h5: holds Brillouin spectra"):
        formats.read_samples(rec, 0, 2)


def test_damaged_g1_text_is_refused_naming_it(fibre_data, tmp_path):
    text = (fibre_data / MTX).read_text()
    cut = tmp_path / "cut.mtx"
    cut.write_text(text[: len(text) - 2000])  # the last line cut short: fewer values than the first
    rec = scan_one(cut)
    with pytest.raises(FormatError, match=r"cut\.mtx: Febus G1 data line 100 holds \d+ values; the first holds 512"):
        formats.get_format("febus-g1-text").read_spectra(rec)
    lines = (fibre_data / sorted(BSL)[0]).read_text().splitlines()
    no_start = tmp_path / "nostart.bsl"
    no_start.write_text("\n".join(line for line in lines if not line.startswith("Param;start time")))
    with pytest.raises(FormatError, match=r"nostart\.bsl: Febus G1 header has no start time"):
        formats.scan_file(str(no_start))
    words = tmp_path / "words.bsl"
    words.write_text("\n".join([*lines[:HEADER_LINES], "806.1", "eight hundred", *lines[HEADER_LINES + 2 :]]))
    rec = scan_one(words)
    with pytest.raises(FormatError, match=r"words\.bsl: Febus G1 data line 2 is not all numbers"):
        formats.read_samples(rec, 0, 1)
    bad_time = tmp_path / "time.bsl"
    bad_time.write_text("\n".join(line.replace("1683721503.782370", "soon") for line in lines))
    with pytest.raises(FormatError, match=r"time\.bsl: Febus G1 start time 'soon' is not epoch seconds"):
        formats.scan_file(str(bad_time))
    empty = tmp_path / "empty.bsl"
    empty.write_text("\n".join(lines[:HEADER_LINES]))
    with pytest.raises(FormatError, match=r"empty\.bsl: Febus G1 file holds a header and no data lines"):
        formats.scan_file(str(empty))


def test_g1_hdf5_that_lies_is_refused_naming_it(fibre_data, tmp_path):
    path = tmp_path / "lie.mtx.h5"
    with h5py.File(fibre_data / MTX_H5, "r") as src, h5py.File(path, "w") as dst:
        dst.create_dataset("mtx", data=src["mtx"][:4])
        dst.create_dataset("distances", data=src["distances"][:90])
        dst.create_dataset("start_times", data=src["start_times"][:4])
        for k, v in src.attrs.items():
            dst.attrs[k] = v
    with pytest.raises(FormatError, match=r"lie\.mtx\.h5: mtx \(4, 100, 128\) needs 4 start_times and 100 distances"):
        formats.scan_file(str(path))
    data = (fibre_data / MTX_H5).read_bytes()
    cut = tmp_path / "cut.mtx.h5"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(FormatError, match=r"cut\.mtx\.h5"):
        rec = formats.scan_file(str(cut))[0]
        formats.get_format("febus-g1-h5").read_spectra(rec)
