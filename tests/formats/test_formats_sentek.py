"""The Sentek ``.das`` reader on ../shared/testdata/fibre/other, checked against
a plain numpy read of the file's float32 words written here (DASCore 0.1.24's
reader of this format reads from the wrong offsets: its values are not used),
and on written siblings that lie, are cut short or disagree with themselves."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from raydas import formats
from raydas.errors import FormatError

NAME = "other/DASDMSShot00_20230328155653619.das"


def ns(text: str) -> int:
    return int(np.datetime64(text, "ns").astype(np.int64))


def plain(path):
    """The file's words as the research notes lay them out: header, positions, stamps, time-major samples."""
    words = np.fromfile(path, dtype="<f4")
    n_ch, n_t = int(words[0]), int(words[1])
    positions = words[6 : 6 + n_ch]
    stamps = words[6 + n_ch : 6 + n_ch + n_t]
    data = words[6 + n_ch + n_t :].reshape(n_t, n_ch)
    return words[:6], positions, stamps, data


def write(path, header, positions, stamps, data):
    np.concatenate([header, positions, stamps, np.asarray(data).reshape(-1)]).astype("<f4").tofile(path)
    return str(path)


def test_sentek_against_a_plain_read(fibre_data):
    path = fibre_data / NAME
    assert formats.detect(str(path)).name == "sentek-das"
    (rec,) = formats.scan_file(str(path))
    header, positions, stamps, data = plain(path)
    assert data.shape == (18339, 31) and header[2] == 27264.0 and header[3] == 1.0
    assert (data[0, 0], data[0, 30], data[-1, -1], data[9169, 15]) == (
        np.float32(370.3285),
        np.float32(182.10138),
        np.float32(5.011965),
        np.float32(10.02393),
    )
    assert (rec.n_channels, rec.n_samples) == (31, 18339)
    assert rec.dt == 27264e-9 and rec.regular  # the header's interval; the stamps agree within their quantum
    assert rec.start_ns == ns("2023-03-28T15:56:53.619")  # from the file name: the file holds no absolute time
    assert rec.assumed == ("start_time", "units", "gauge_length") and rec.quantity == "strain_rate" and rec.units == ""
    np.testing.assert_array_equal(rec.positions, positions.astype(np.float64))
    assert rec.positions[-1] == np.float32(61.858612)
    full = formats.read_samples(rec, 0, rec.n_samples)
    np.testing.assert_array_equal(full, data.T)
    assert full.astype(np.float64).mean() == pytest.approx(-0.08156644247825728, rel=1e-12)
    np.testing.assert_array_equal(formats.read_samples(rec, 1000, 1100, slice(3, 20, 4)), data[1000:1100, 3:20:4].T)
    np.testing.assert_array_equal(formats.get_format("sentek-das").stamps_ms(rec), stamps)
    span = float(stamps[-1]) - float(stamps[0])
    assert span == pytest.approx(18338 * 27264e-6, abs=2 * 0.015625)  # ms: header and stamps agree


def test_sentek_siblings(fibre_data, tmp_path):
    header, positions, stamps, data = plain(fibre_data / NAME)
    # renamed: no time in the name, so the start is the first stamp after 1970 (still marked assumed)
    renamed = tmp_path / "shot.das"
    shutil.copy(fibre_data / NAME, renamed)
    (rec,) = formats.scan_file(str(renamed))
    assert rec.start_ns == round(float(stamps[0]) * 1e6) and "start_time" in rec.assumed
    # stamps that disagree with the header interval are kept as the record's times, never replaced by a rate
    small = data[:5, :3]
    uneven = np.array([0.0, 1.0, 2.5, 3.0, 7.0], np.float32)
    hdr = np.array([3, 5, 1e6, 0, 0, 1], np.float32)  # 1 ms interval, strain
    path = write(tmp_path / "x_20240101000000000.das", hdr, positions[:3], uneven, small)
    (rec,) = formats.scan_file(path)
    assert not rec.regular and rec.quantity == "strain"
    np.testing.assert_array_equal(rec.times_ns - rec.start_ns, (uneven * 1e6).astype(np.int64))
    np.testing.assert_array_equal(formats.read_samples(rec, 0, 5), small.T)


def test_sentek_lying_and_cut_files_are_refused_naming_them(fibre_data, tmp_path):
    raw = (fibre_data / NAME).read_bytes()
    cut = tmp_path / "cut.das"
    cut.write_bytes(raw[:-4])  # one float short: the size no longer matches the header
    with pytest.raises(FormatError, match=r"cut\.das: is not in a recognised DAS format"):
        formats.scan_file(str(cut))
    with pytest.raises(FormatError, match=r"cut\.das: declares 31 channels x 18339 samples \(2347540 bytes\)"):
        formats.scan_file(str(cut), format="sentek-das")
    lying = tmp_path / "lying.das"
    lying.write_bytes(np.array([2**30, 2**30, 1, 1, 0, 1], "<f4").tobytes() + raw[24:4096])
    with pytest.raises(FormatError, match=r"lying\.das: declares 1073741824 channels"):
        formats.scan_file(str(lying), format="sentek-das")
    backwards = write(tmp_path / "back.das", np.array([2, 3, 1e6, 1, 0, 1], np.float32), [5.0, 1.0], [0, 1, 2], [0] * 6)
    with pytest.raises(FormatError, match=r"back\.das: Sentek channel positions are not a non-decreasing"):
        formats.scan_file(backwards)
    with pytest.raises(FormatError, match=r"x\.h5"):
        shutil.copy(fibre_data / "hdf5/gdr_1.h5", tmp_path / "x.h5")
        formats.scan_file(str(tmp_path / "x.h5"), format="sentek-das")
