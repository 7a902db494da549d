"""The SR-4731 OTDR reader on ../shared/testdata/fibre/otdr, checked against a
plain ``struct`` read of the byte offsets the research notes found, and the
display values OTDR tools (and DASCore 0.1.24) give; then damaged files."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from raydas import formats
from raydas.errors import FormatError

#: sample -> (byte of the first data point, acquisition time, display mean, display max and where)
SOR = {
    "otdr/ofl100_1.sor": (1322, "2026-06-12T10:58:14", 9.150916931152343, 20.304, 10970),
    "otdr/ofl100_2.sor": (1219, "2026-06-12T10:56:08", 10.199328308105468, 23.805, 10951),
}
FXD = 266  # FxdParams payload: the same in both files


def ns(text: str) -> int:
    return int(np.datetime64(text, "ns").astype(np.int64))


@pytest.mark.parametrize("name", sorted(SOR))
def test_sor_against_a_plain_read(fibre_data, name):
    path = fibre_data / name
    buf = path.read_bytes()
    data_at, when, display_mean, display_max, deepest = SOR[name]
    raw = np.frombuffer(buf, "<u2", 16384, data_at)
    seconds, spacing, points, index = struct.unpack_from("<I", buf, FXD)[0], *struct.unpack_from("<III", buf, FXD + 20)
    assert (seconds, spacing, points, index) == (ns(when) // 10**9, 125003, 16384, 146832)
    assert formats.detect(str(path)).name == "sor"
    (rec,) = formats.scan_file(str(path))
    assert (rec.n_channels, rec.n_samples, rec.start_ns) == (16384, 1, ns(when))
    assert not rec.regular and rec.times_ns.tolist() == [ns(when)] and rec.dt == 5.0  # averaging time, 50 x 0.1 s
    dx = 299_792_458.0 * (spacing * 1e-14) / (index * 1e-5)  # c t / n
    assert dx == pytest.approx(0.2552233615790427, rel=1e-15)
    np.testing.assert_allclose(rec.positions, np.arange(16384) * dx, rtol=1e-15)
    assert (rec.quantity, rec.units, rec.assumed) == ("backscatter", "dB", ("positions", "gauge_length"))
    assert rec.attrs["wavelength_nm"] == 1550.0 and rec.attrs["pulse_width_ns"] == 50
    trace = formats.read_samples(rec, 0, 1)
    np.testing.assert_array_equal(trace, (-raw.astype(np.float64) / 1000).astype(np.float32)[:, None])
    display = (raw.max() - raw.astype(np.float64)) / 1000  # what OTDR viewers and DASCore draw
    assert display.mean() == pytest.approx(display_mean, rel=1e-12)
    assert (display.max(), int(display.argmax())) == (pytest.approx(display_max), deepest)
    np.testing.assert_allclose(trace[:, 0] - trace.min(), display, atol=1e-4)
    np.testing.assert_array_equal(formats.read_samples(rec, 0, 1, slice(100, 200, 3)), trace[100:200:3])


def test_damaged_sor_files_are_refused_naming_them(fibre_data, tmp_path):
    buf = (fibre_data / "otdr/ofl100_1.sor").read_bytes()

    def scan(name, data, format=None):
        path = tmp_path / name
        path.write_bytes(bytes(data))
        return formats.scan_file(str(path), format=format)

    with pytest.raises(FormatError, match=r"cut\.sor: SR-4731 blocks add up to 34450 bytes but the file holds 20000"):
        scan("cut.sor", buf[:20000])
    v1 = bytearray(buf)
    v1[4:6] = struct.pack("<H", 100)
    with pytest.raises(FormatError, match=r"v1\.sor: is SR-4731 version 100"):
        scan("v1.sor", v1, format="sor")
    two = bytearray(buf)
    two[1310 + 4 : 1310 + 6] = struct.pack("<H", 2)  # two scale-factor blocks
    with pytest.raises(FormatError, match=r"two\.sor: SR-4731 DataPts holds 2 scale-factor blocks"):
        scan("two.sor", two)
    lying = bytearray(buf)
    lying[1310:1314] = lying[1316:1320] = struct.pack("<I", 10**6)  # a million points in a 32 kB block
    with pytest.raises(FormatError, match=r"lying\.sor: SR-4731 DataPts declares 1000000 of 1000000 points"):
        scan("lying.sor", lying)
    renamed = bytearray(buf)
    renamed[1302:1309] = b"DataPtz"
    with pytest.raises(FormatError, match=r"renamed\.sor: SR-4731 block at byte 1302 is not DataPts"):
        scan("renamed.sor", renamed)
    with pytest.raises(FormatError, match=r"gdr\.sor: does not start with an SR-4731 Map block"):
        scan("gdr.sor", (fibre_data / "hdf5/gdr_1.h5").read_bytes()[:4096], format="sor")
