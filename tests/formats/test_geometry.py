"""Channel geometry tables (channel -> X, Y, Z CSV): read and checked against a
plain reading of the real survey table, refused with the file and line when
damaged, and listed as "not data" by scans."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from raydas import formats
from raydas.errors import FormatError, NotDataError
from raydas.geometry import looks_like_geometry, read_geometry

BRADY = "meta/brady_hs_DAS_DTS_coords.csv"


@pytest.fixture
def brady(fibre_data):
    return fibre_data / BRADY


def test_real_survey_table(brady):
    geometry = read_geometry(str(brady))
    with open(brady, newline="") as fh:  # the same table read plainly
        rows = list(csv.reader(fh))[2:]
    table = {int(r[0]): tuple(float(v) for v in r[1:4]) for r in rows}
    assert geometry.channels.tolist() == sorted(table)
    assert (geometry.channels[0], geometry.channels[-1]) == (-20, 8700)
    assert geometry.units == ("UTM [m]", "UTM [m]", "UTM [m]")
    np.testing.assert_array_equal(geometry.at([978])[0], table[978])
    np.testing.assert_array_equal(geometry.at([978])[0], (328033.32, 4407777.56, 1231.873))
    # 0, 0, 0 rows (channels -20..29 and 8651..8700) mean "no coordinate"
    unknown = [c for c, xyz in table.items() if xyz == (0.0, 0.0, 0.0)]
    assert len(unknown) == 100 and geometry.n_known == len(table) - 100
    assert np.isnan(geometry.at(unknown)).all()
    # channels outside the table are unknown too, never another channel's point
    assert np.isnan(geometry.at([-21, 8701, 10**6])).all()


def test_scan_says_the_table_is_not_data(brady):
    with pytest.raises(NotDataError, match="channel geometry table.*'geometry'"):
        formats.scan_file(str(brady))
    assert looks_like_geometry(brady.read_bytes()[:65536])
    found = formats.scan_all(str(brady.parent))
    assert not found.records and not found.failures and len(found.not_data) == 1


def test_table_without_units_row_any_column_order(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("z,Channel,Y,X,comment\n10,0,2,1,a\n11.5,1,3,2,b\n")
    geometry = read_geometry(str(path))
    np.testing.assert_array_equal(geometry.at([0, 1]), [[1, 2, 10], [2, 3, 11.5]])
    assert geometry.units == ("", "", "")


@pytest.mark.parametrize(
    "text, message",
    [
        ("channel,x,y\n0,1,2\n", r"line 1: .*missing \['z'\]"),
        ("channel,x,y,z\n0,1,2,three\n", r"line 2: Z 'three' is not a number"),
        ("channel,x,y,z\nunits,m,m,m\n0,1,nan,3\n", r"line 3: Y 'nan' is not finite"),
        ("channel,x,y,z\n0.5,1,2,3\n", r"line 2: channel '0.5' is not an integer"),
        ("channel,x,y,z\n0,1,2,3\n1,1,2,3\n0,4,5,6\n", r"channel 0 appears more than once"),
        ("channel,x,y,z\n0,1,2\n", r"line 2: 3 fields"),
        ("channel,x,y,z\n", r"no channel rows"),
        ("channel,x,y,z\nnumber,m,m,m\n", r"no channel rows"),
    ],
)
def test_damaged_tables_name_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "geometry.csv"
    path.write_text(text)
    with pytest.raises(FormatError, match=message) as caught:
        read_geometry(str(path))
    assert str(path) in str(caught.value)


def test_wrong_type_and_missing_file(tmp_path, brady):
    binary = tmp_path / "g.csv"
    binary.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(FormatError, match="not a text"):
        read_geometry(str(binary))
    truncated = tmp_path / "cut.csv"
    truncated.write_bytes(brady.read_bytes()[:1000])  # cut inside the row of channel 43
    with pytest.raises(FormatError, match="line 66: 3 fields"):
        read_geometry(str(truncated))
    cut_mid_number = tmp_path / "cut2.csv"
    cut_mid_number.write_text("channel,x,y,z\n0,1,2,3\n1,2,3")
    with pytest.raises(FormatError, match="line 3: 3 fields"):
        read_geometry(str(cut_mid_number))
    with pytest.raises(FormatError, match="does not exist"):
        read_geometry(str(tmp_path / "missing.csv"))


def test_run_carries_the_table_into_outputs(ray_session, demo_files, tmp_path):
    """A run with a geometry table: every written chunk's coordinates.npy holds the
    table's X, Y, Z of its channels (channel numbers counted from first_channel),
    NaN for channels the table marks unknown, beside measured_depth.npy."""
    from raydas.config import load_config
    from raydas.runtime import run

    table = tmp_path / "survey.csv"
    rows = ["Channel,X,Y,Z", "number,m,m,m"]
    rows += [f"{c},{1000 + c * 0.5},{2000 - c},{10 + c / 8}" if c != 107 else f"{c},0,0,0" for c in range(90, 140)]
    table.write_text("\r\n".join(rows) + "\r\n")
    graph = {
        "document": 0,
        "name": "copy",
        "command_list": [
            {"name": "write_npy", "uid": 1, "in_uid": 0, "directory_out": "xyz"},
            {"name": "write_netcdf", "uid": 2, "in_uid": 0, "directory_out": "nc"},
        ],
    }
    config = tmp_path / "run.json"
    config.write_text(
        json.dumps(
            {
                "input": demo_files[0],
                "output": "results",
                "processing": graph,
                "quicklook": False,
                "geometry": {"file": "survey.csv", "first_channel": 100},  # relative to the config's folder
            }
        )
    )
    report = run(load_config(str(config)), progress=False)
    assert report.ok and report.chunks_done == 4
    written = sorted((tmp_path / "results").rglob("coordinates.npy"))
    assert written, "no coordinates.npy written"
    expected = np.array([[1000 + c * 0.5, 2000 - c, 10 + c / 8] for c in range(100, 140)])
    expected[7] = np.nan  # channel 107: 0, 0, 0 in the table
    for path in written:
        np.testing.assert_array_equal(np.load(path), expected)
    import xarray as xr

    netcdf = sorted((tmp_path / "results/nc").rglob("*.nc"))
    assert len(netcdf) == 4
    for path in netcdf:  # the same coordinates, with the table's units, in every NetCDF file
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            for k, name in enumerate("xyz"):
                np.testing.assert_array_equal(ds[name].values, expected[:, k])
                assert ds[name].attrs["units"] == "m"


def test_damaged_table_refuses_the_run_naming_it(tmp_path, demo_files):
    from raydas.config import RunConfig
    from raydas.runtime import Run

    table = tmp_path / "survey.csv"
    table.write_text("channel,x,y,z\n0,1,2,3\n1,1,oops,3\n")
    config = RunConfig(input=demo_files[0], output=str(tmp_path / "r"), geometry={"file": str(table)})
    with pytest.raises(FormatError, match=r"survey.csv: line 3: Y 'oops' is not a number"):
        Run(config, mode="ingest")


def test_raydas_scan_reads_every_data_file_of_the_fibre_folder(fibre_data, capsys):
    from raydas.apps.cli import main

    assert main(["scan", str(fibre_data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["unreadable"] == []
    assert sorted(n["path"].split(str(fibre_data) + "/", 1)[1] for n in report["not_data"]) == [
        "README.md",
        "licenses/MIT-DASDAE-test_data.txt",
        BRADY,
    ]
    read = {r["path"].split(str(fibre_data) + "/", 1)[1] for r in report["records"]}
    data_files = {
        str(p.relative_to(fibre_data))
        for p in fibre_data.rglob("*")
        if p.is_file() and p.parts[-2] not in ("licenses", "meta") and p.name != "README.md"
    }
    assert len(data_files) == 21 and read == data_files


def test_patch_writers_write_the_channels_x_y_z(tmp_path):
    """A chunk with a geometry table's X, Y, Z (as a run attaches them): DASDAE, NetCDF
    and Zarr carry them as coordinates along distance, read back with h5py and xarray."""
    import h5py
    import xarray as xr

    from raydas.chunk import Chunk
    from raydas.outputs import OutputSink
    from raydas.pipeline import Pipeline

    xyz = np.array([[328033.32, 4407777.56, 1231.873], [328034.0, 4407778.0, np.nan], [328035.5, 4407779.25, 1230.0]])
    units = ("UTM [m]", "UTM [m]", "m")
    data = np.arange(30, dtype=np.float32).reshape(3, 10)
    attrs = {"channel_xyz": xyz, "geometry_units": units}
    chunk = Chunk(data, 1_700_000_000 * 10**9, 0.01, [0.0, 1.0, 2.0], output_id="x", attrs=attrs)
    graph = [
        {"name": "write_dasdae", "uid": 1, "in_uid": 0, "directory_out": "d"},
        {"name": "write_netcdf", "uid": 2, "in_uid": 0, "directory_out": "c"},
        {"name": "write_zarr", "uid": 3, "in_uid": 0, "directory_out": "z"},
    ]
    Pipeline.from_config({"command_list": graph}).run(chunk, np, OutputSink(str(tmp_path)))
    with xr.open_dataset(tmp_path / "c/x.nc", engine="h5netcdf") as ds:
        assert {"x", "y", "z"} <= set(ds.coords)
        for k, name in enumerate("xyz"):
            np.testing.assert_array_equal(ds[name].values, xyz[:, k])  # NaN where the table has none
            assert ds[name].dims == ("distance",) and ds[name].attrs["units"] == units[k]
    (store,) = (tmp_path / "z").glob("*.zarr")
    with xr.open_zarr(store, consolidated=False) as ds:
        assert {"x", "y", "z"} <= set(ds["data"].coords)
        for k, name in enumerate("xyz"):
            np.testing.assert_array_equal(ds[name].values, xyz[:, k])
            assert ds[name].dims == ("distance",)
    # DASDAE: only when every channel has X, Y, Z (DASCore's spool drops channels of NaN coordinates)
    with h5py.File(tmp_path / "d/x.h5", "r") as f:
        (group,) = f["waveforms"].values()
        assert "_coord_x" not in group
    attrs["channel_xyz"] = np.nan_to_num(xyz, nan=1231.0)
    chunk = Chunk(data, 1_700_000_000 * 10**9, 0.01, [0.0, 1.0, 2.0], output_id="y", attrs=attrs)
    Pipeline.from_config({"command_list": graph[:1]}).run(chunk, np, OutputSink(str(tmp_path)))
    with h5py.File(tmp_path / "d/y.h5", "r") as f:
        (group,) = f["waveforms"].values()
        for k, name in enumerate("xyz"):
            np.testing.assert_array_equal(group[f"_coord_{name}"][()], attrs["channel_xyz"][:, k])
            assert group.attrs[f"_cdims_{name}"] == "distance"
        assert group["_coord_x"].attrs["raydas_units"] == "UTM [m]" and "units" not in group["_coord_x"].attrs
        assert group["_coord_z"].attrs["units"] == "m"
    dascore = pytest.importorskip("dascore")
    patch = dascore.spool(str(tmp_path / "d/y.h5"))[0]
    assert patch.shape == (3, 10)
    np.testing.assert_array_equal(patch.coords.get_array("y"), attrs["channel_xyz"][:, 1])
