"""A quantity and unit on every record: what each reader makes of the real
sample files (checked against the file's own words, read here with h5py),
the vendor words the one mapping knows, and what ``raydas scan`` and
``raydas formats`` show of it."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from raydas import formats
from raydas.apps.cli import main
from raydas.errors import FormatError
from raydas.formats.base import ASSUMABLE, QUANTITIES, RecordInfo, quantity_of

#: every data file of the real folder -> the quantity its records carry
REAL_QUANTITIES = {
    "hdf5/iDAS005_hdf5_example.626.h5": "strain_rate",  # Raw[0] RawDescription 'Strain rate'
    "hdf5/prodml_fbe_1.h5": "psd",  # Processed/Fbe[0]: band energies in rad2/Hz
    "hdf5/terra15_v5_test_file.hdf5": "velocity",  # data_product 'velocity'
    "hdf5/valencia_febus_example.h5": "strain_rate",  # the data set is named StrainRate
    "hdf5/decimated_optodas.hdf5": "strain_rate",  # header/unit 'strain/s'
    "hdf5/silixa_h5_1.hdf5": "unknown",  # differential phase counts, no unit
    "hdf5/ap_sensing_1.hdf5": "unknown",  # scaled differential phase, no unit
    "segy/small_channel_patch.sgy": "unknown",
    "segy/f3.sgy": "unknown",
    "segy/Format5msb.sgy": "unknown",
    "tdms/sample_tdms_file_v4713.tdms": "unknown",
    "mseed/etna_9n_3chan_10s.mseed": "unknown",  # counts
    "other/sintela_protobuf_1.pb": "unknown",  # phase in rad
}
#: every data file of the real folder -> what its records assume: "units" where the unit is empty, "gauge_length"
#: where none is stored, plus what the reader itself declares (SEG-Y: positions and maybe start time; miniSEED:
#: positions and units, its "counts" being no physical unit)
REAL_ASSUMED = {
    "hdf5/iDAS005_hdf5_example.626.h5": (),
    "hdf5/prodml_fbe_1.h5": (),
    "hdf5/terra15_v5_test_file.hdf5": (),
    "hdf5/valencia_febus_example.h5": ("units",),
    "hdf5/decimated_optodas.hdf5": (),
    "hdf5/silixa_h5_1.hdf5": ("units",),
    "hdf5/ap_sensing_1.hdf5": ("units",),
    "segy/small_channel_patch.sgy": ("positions", "units", "gauge_length"),
    "segy/f3.sgy": ("start_time", "positions", "units", "gauge_length"),
    "segy/Format5msb.sgy": ("start_time", "positions", "units", "gauge_length"),
    "tdms/sample_tdms_file_v4713.tdms": ("units",),
    "mseed/etna_9n_3chan_10s.mseed": ("positions", "units", "gauge_length"),
    "other/sintela_protobuf_1.pb": (),  # phase in rad: a unit read
}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", sorted(REAL_QUANTITIES))
def test_real_files_carry_their_quantity(real_data, name):
    records = formats.scan_file(str(real_data / name))
    assert {r.quantity for r in records} == {REAL_QUANTITIES[name]}
    for r in records:
        assert r.quantity in QUANTITIES and set(r.assumed) <= set(ASSUMABLE)
        assert r.assumed == REAL_ASSUMED[name]
        # no unit read: flagged as assumed (and so is a unit the reader declares a guess, miniSEED's "counts")
        assert r.units != "" or "units" in r.assumed


def test_quantities_agree_with_the_files_own_words(real_data):
    """The words raydas maps, read here straight from the files with h5py."""
    with h5py.File(real_data / "hdf5/terra15_v5_test_file.hdf5") as h5:
        assert h5.attrs["data_product"] in ("velocity", b"velocity")
    with h5py.File(real_data / "hdf5/iDAS005_hdf5_example.626.h5") as h5:
        description = h5["Acquisition/Raw[0]"].attrs["RawDescription"]
        assert (description.decode() if isinstance(description, bytes) else description) == "Strain rate"
    with h5py.File(real_data / "hdf5/decimated_optodas.hdf5") as h5:
        assert h5["header/unit"][()] == b"strain/s"
    with h5py.File(real_data / "hdf5/prodml_fbe_1.h5") as h5:
        assert h5["Acquisition/Processed/Fbe[0]"].attrs["FbeDataUnit"] in ("rad2/Hz", b"rad2/Hz")


@pytest.mark.parametrize(
    ("words", "quantity"),
    [
        (("strain-rate",), "strain_rate"),
        (("micro-strain/second",), "strain_rate"),  # Neubrex DataPhysicalUnit
        (("", "strain/s"), "strain_rate"),  # the first text that names one
        (("µε/s",), "strain_rate"),
        (("nε",), "strain"),
        (("Strain",), "strain"),
        ((b"velocity",), "velocity"),
        (("m / s",), "velocity"),  # DASCore's pint spelling
        (("°C",), "temperature"),
        (("dB/km",), "attenuation"),
        (("dB",), "backscatter"),
        (("rad2/Hz",), "psd"),
        (("counts",), "unknown"),
        (("rad",), "unknown"),  # phase: no quantity of the vocabulary
        (("NaN", None), "unknown"),
        ((), "unknown"),
    ],
)
def test_vendor_words_map_to_the_vocabulary(words, quantity):
    assert quantity_of(*words) == quantity


def test_a_word_outside_the_vocabulary_is_refused():
    with pytest.raises(FormatError, match=r"x\.h5: quantity 'pressure' is not one of"):
        RecordInfo("x.h5", "f", 1, 1, 1.0, 0, [0.0], quantity="pressure")
    rec = RecordInfo("x.h5", "f", 1, 1, 1.0, 0, [0.0], units="m/s", quantity="velocity", assumed=("positions",) * 2)
    # no unit assumed where one was read; the gauge length, not given, is; no name twice
    assert rec.assumed == ("positions", "gauge_length")
    assert rec.to_dict()["quantity"] == "velocity" and rec.to_dict()["assumed"] == ["positions", "gauge_length"]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_scan_shows_the_quantity(real_data, capsys):
    terra15 = str(real_data / "hdf5/terra15_v5_test_file.hdf5")
    assert main(["scan", terra15, "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)["records"]
    assert record["quantity"] == "velocity" and record["units"] == "m/s" and "units" not in record["assumed"]
    assert main(["scan", terra15, str(real_data / "hdf5/silixa_h5_1.hdf5")]) == 0
    lines = capsys.readouterr().out.splitlines()
    column = lines[0].index(" quantity ") + 1  # the quantity column, then what was assumed
    assert lines[0][column:].split() == ["quantity", "assumed", "(not", "in", "the", "file)"]
    rows = [line for line in lines if ".hdf5" in line and not line.startswith("break")]
    # time order: Terra15 (2022) first
    assert [row[column:].split() for row in rows] == [["velocity", "-"], ["unknown", "units"]]


def test_formats_lists_quantity_versions_extensions_writes_and_samples(capsys):
    assert main(["formats", "--json"]) == 0
    listed = {d["name"]: d for d in json.loads(capsys.readouterr().out)}
    assert set(listed) == set(formats.all_formats())
    writers = set(formats.writers())
    for name, d in listed.items():
        assert d["quantity"] in QUANTITIES and set(d["quantities"]) <= set(QUANTITIES), name
        assert d["writes"] == (name in writers), name
        assert all(e.startswith(".") for e in d["extensions"]), name
        assert isinstance(d["versions"], list) and isinstance(d["tested_on"], list), name
    assert listed["terra15"]["versions"] == ["4", "5", "6"]
    assert listed["terra15"]["tested_on"] == ["real/hdf5/terra15_v5_test_file.hdf5"]
    assert (
        listed["prodml"]["writes"]
        and not listed["silixa-h5"]["writes"]
        and listed["synthetic"]["quantity"] == ("strain_rate")
    )
    assert main(["formats"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:6] == ["format", "quantity", "versions", "extensions", "writes", "tested"]
    terra15 = next(line for line in table if line.startswith("terra15 "))
    assert "velocity" in terra15 and "4, 5, 6" in terra15 and "terra15_v5_test_file.hdf5" in terra15


def test_tested_on_names_sample_files_that_exist(real_data):
    """Every sample file a format names is in the shared test-data folders."""
    root = real_data.parent
    for fmt in formats.all_formats().values():
        for sample in fmt.tested_on:
            if sample.startswith(("real/", "fibre/")):
                assert (root / sample).is_file(), f"{fmt.name}: {sample} not found under {root}"


def test_writer_is_chosen_among_formats_that_write(tmp_path):
    """Readers now declare their files' extensions (.h5): only a format that writes is picked by a name."""
    chunk = formats.Chunk(np.ones((2, 10), np.float32), 0, 0.01, [0.0, 1.0])
    assert formats.write(chunk, str(tmp_path / "x.h5")) == [str(tmp_path / "x.h5")]
    assert formats.detect(str(tmp_path / "x.h5")).name == "prodml"
