"""Channel geometry tables (``Channel,X,Y,Z`` CSV): loaded against the csv
module's plain read, and met by scans as "not data" with what they are."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from raydas import formats
from raydas.errors import FormatError, NotDataError
from raydas.formats.geometry import read_channel_coords

NAME = "meta/brady_hs_DAS_DTS_coords.csv"


def test_brady_table_against_the_csv_module(fibre_data):
    with open(fibre_data / NAME, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["Channel", "X", "Y", "Z"] and rows[1][0] == "number"
    plain = np.array(rows[2:], dtype=np.float64)
    table = read_channel_coords(str(fibre_data / NAME))
    assert table.units == ["UTM [m]"] * 3
    np.testing.assert_array_equal(table.channels, np.arange(-20, 8701))
    placed = ~(plain[:, 1:] == 0).all(axis=1)
    assert placed.sum() == 8621 and np.isnan(table.xyz[~placed]).all()  # 0,0,0 rows: no coordinate
    np.testing.assert_array_equal(table.xyz[placed], plain[placed, 1:])
    np.testing.assert_array_equal(table.xyz[table.channels == 978][0], [328033.32, 4407777.56, 1231.873])


def test_a_scan_lists_the_table_as_not_data(fibre_data, capsys):
    with pytest.raises(NotDataError, match=r"brady_hs_DAS_DTS_coords\.csv: is a channel geometry table .*8621 placed"):
        formats.scan_file(str(fibre_data / NAME))
    found = formats.catalogue(str(fibre_data / "meta"))
    assert not found.records and not found.failures and len(found.not_data) == 1


def test_bad_tables_are_refused_naming_the_row(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Channel,X,Y,Z\n1,2,3,4\n2,two,3,4\n")
    with pytest.raises(FormatError, match=r"bad\.csv: row 3 is not a channel and three numbers"):
        read_channel_coords(str(bad))
    twice = tmp_path / "twice.csv"
    twice.write_text("channel, x, y, z\n1,2,3,4\n1,2,3,5\n")
    with pytest.raises(FormatError, match=r"twice\.csv: channel numbers are not whole numbers listed once each"):
        read_channel_coords(str(twice))
    other = tmp_path / "other.csv"
    other.write_text("time,depth,temperature\n1,2,3\n")
    with pytest.raises(FormatError, match=r"other\.csv: does not start with the header Channel,X,Y,Z"):
        read_channel_coords(str(other))


def test_raydas_scan_reads_every_data_file_of_the_fibre_folder(fibre_data, capsys):
    from raydas.apps.cli import main

    assert main(["scan", str(fibre_data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["unreadable"] == []
    assert sorted(n["path"].split(str(fibre_data) + "/", 1)[1] for n in report["not_data"]) == [
        "README.md",
        "licenses/MIT-DASDAE-test_data.txt",
        NAME,
    ]
    read = {r["path"].split(str(fibre_data) + "/", 1)[1] for r in report["records"]}
    data_files = {
        str(p.relative_to(fibre_data))
        for p in fibre_data.rglob("*")
        if p.is_file() and p.parts[-2] not in ("licenses", "meta") and p.name != "README.md"
    }
    assert len(data_files) == 21 and read == data_files
