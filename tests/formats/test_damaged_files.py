"""Damaged files are never "not data": a file whose name or first bytes claim a
data format and that fails to parse is a failure, named, saying it is damaged;
damaged HDF5 files say "damaged". Only documents that claim no data format
(a README, a licence) are listed apart as not data.

Before, a miniSEED cut to 20 bytes and an ASCII-header SEG-Y cut at 3200
bytes were classed as text documents and skipped silently (exit 0).
"""

from __future__ import annotations

import shutil

import pytest

from raydas import formats
from raydas.apps.cli import main
from raydas.errors import FormatError

pytestmark = pytest.mark.filterwarnings("ignore::raydas.formats.mseed.UnequalTracesWarning")  # the good miniSEED

MSEED = "mseed/etna_9n_3chan_10s.mseed"
F3 = "segy/f3.sgy"


def _ascii_text_header(real_data) -> bytes:
    """f3.sgy's EBCDIC textual header re-encoded in ASCII (what many writers use)."""
    return (real_data / F3).read_bytes()[:3200].decode("cp500").encode("ascii", "replace")


def _cuts(real_data) -> dict[str, bytes]:
    return {
        "cut20.mseed": (real_data / MSEED).read_bytes()[:20],
        "ascii_cut3200.sgy": _ascii_text_header(real_data),
        "ascii_cut3200_no_suffix": _ascii_text_header(real_data),  # claimed by its first bytes alone
        "ebcdic_cut3200.sgy": (real_data / F3).read_bytes()[:3200],
        "cut100.tdms": (real_data / "tdms/sample_tdms_file_v4713.tdms").read_bytes()[:100],
    }


@pytest.fixture
def folder(real_data, tmp_path):
    for name, payload in _cuts(real_data).items():
        (tmp_path / name).write_bytes(payload)
    shutil.copy(real_data / MSEED, tmp_path / "good.mseed")
    (tmp_path / "README.md").write_text("# Field notes\n\nRecorded on the north well; see the log book.\n")
    return tmp_path


def test_cut_data_files_are_failures_not_documents(real_data, folder):
    found = formats.scan_all(str(folder))
    assert {r.path.rsplit("/", 1)[1] for r in found.records} == {"good.mseed"}
    failures = {f.path.rsplit("/", 1)[1]: f.problem for f in found.failures}
    assert set(failures) == set(_cuts(real_data))
    for name in set(failures) - {"cut100.tdms"}:  # the cut TDMS is still recognised; its scan says what is missing
        assert failures[name].startswith("is damaged"), (name, failures[name])
    assert "mseed data" in failures["cut20.mseed"] and "128 bytes" in failures["cut20.mseed"]
    assert "segy data" in failures["ascii_cut3200_no_suffix"] and "too short" in failures["ascii_cut3200.sgy"]
    assert [f.path.rsplit("/", 1)[1] for f in found.not_data] == ["README.md"]  # a document stays one


def test_cli_scan_names_the_damaged_files(folder, capsys):
    main(["scan", str(folder)])
    err = capsys.readouterr().err
    for name in ("cut20.mseed", "ascii_cut3200.sgy", "ebcdic_cut3200.sgy"):
        assert f"unreadable: {folder / name}: is damaged" in err
    assert "skipped 1 file(s) that are not data" in err


def test_a_file_named_like_data_is_damaged_whatever_its_content(tmp_path):
    path = tmp_path / "notes.mseed"
    path.write_text("these are not samples, only words about them\n" * 20)
    with pytest.raises(FormatError, match=r"notes\.mseed: is damaged .*name ends in \.mseed"):
        formats.scan_file(str(path))


def test_damaged_hdf5_says_damaged(real_data, tmp_path):
    cut = tmp_path / "cut.h5"
    cut.write_bytes((real_data / "hdf5/iDAS005_hdf5_example.626.h5").read_bytes()[:100_000])
    header_only = tmp_path / "header_only.h5"
    header_only.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 200)
    for path in (cut, header_only):
        _, failures = formats.scan(str(path))
        assert len(failures) == 1
        assert "damaged HDF5 file" in failures[0].problem, failures[0].problem
        assert "not in a recognised" not in failures[0].problem
