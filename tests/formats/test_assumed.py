"""Nothing invented silently: every record says which coordinates its reader
assumed rather than read (RecordInfo.assumed), `raydas scan` shows them (table
and JSON), the chunk store keeps them, and a run warns once per record."""

from __future__ import annotations

import json

import numpy as np
import pytest

from raydas import formats
from raydas.apps.cli import main as cli_main
from raydas.chunk import Chunk
from raydas.formats.base import ASSUMABLE, RecordInfo

ALL = ("start_time", "positions", "units", "gauge_length")

#: what each real sample file's reader cannot read from it
EXPECTED = {
    "segy/f3.sgy": ALL,  # no date in the trace headers (1970), no positions (channel index), no units
    "segy/Format5msb.sgy": ALL,
    "segy/small_channel_patch.sgy": ("positions", "units", "gauge_length"),  # dated, but no positions
    "mseed/etna_9n_3chan_10s.mseed": ("positions", "units", "gauge_length"),  # channel numbers; 'counts'
    "tdms/sample_tdms_file_v4713.tdms": ("units",),
    "hdf5/iDAS005_hdf5_example.626.h5": (),
    "hdf5/valencia_febus_example.h5": ("units",),
    "hdf5/terra15_v5_test_file.hdf5": (),
    "hdf5/prodml_fbe_1.h5": (),
    "hdf5/silixa_h5_1.hdf5": ("units",),
    "hdf5/ap_sensing_1.hdf5": ("units",),
    "hdf5/decimated_optodas.hdf5": (),
    "other/sintela_protobuf_1.pb": (),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_real_file_says_what_was_assumed(real_data, name):
    records = formats.scan_file(str(real_data / name))
    assert records and {r.assumed for r in records} == {EXPECTED[name]}
    assert records[0].to_dict()["assumed"] == list(EXPECTED[name])


def test_a_segy_with_times_and_positions_assumes_neither(tmp_path):
    chunk = Chunk(
        np.ones((4, 50), np.float32), 1_700_000_000 * 10**9, 0.001, 10.0 + 2.0 * np.arange(4), units="strain/s"
    )
    url = str(tmp_path / "dated.sgy")
    formats.write(chunk, url)
    (record,) = formats.scan_file(url)
    assert record.assumed == ("gauge_length",) and record.start_ns == chunk.start_ns


def test_distpy_npy_folders_assume_their_sample_rate_unless_the_config_states_it(tmp_path):
    """distpy's chunks hold no sample rate: the chunk width is taken for one second (assumed);
    distpy's prf (assumed_sample_rate) or a sample_rate override states it."""
    folder = tmp_path / "sgy_data"
    folder.mkdir()
    np.save(folder / "1600000000.npy", np.zeros((3, 500)))
    (record,) = formats.scan_file(str(folder))
    assert record.assumed == ("positions", "units", "sample_rate", "gauge_length") and record.sample_rate == 500
    np.save(folder / "measured_depth.npy", np.array([[1.0], [2.0], [3.0]]))
    (stated,) = formats.scan_file(str(folder), formats.ScanOptions(assumed_sample_rate=1000.0))
    assert stated.assumed == ("units", "gauge_length") and stated.sample_rate == 1000.0


def test_the_vocabulary_is_fixed():
    with pytest.raises(ValueError, match="unknown assumed coordinate"):
        RecordInfo("x", "segy", 1, 1, 1.0, 0, [0.0], units="m/s", gauge_length=1.0, assumed=("depth",))
    record = RecordInfo("x", "segy", 1, 1, 1.0, 0, [0.0], assumed=("sample_rate", "start_time"))
    assert record.assumed == ("start_time", "units", "sample_rate", "gauge_length")  # ASSUMABLE's order
    assert set(record.assumed) <= set(ASSUMABLE)


def test_scan_shows_assumed_coordinates_in_the_table_and_the_json(real_data, capsys):
    assert cli_main(["scan", str(real_data / "segy")]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "assumed (not in the file)" in table[0]
    f3 = next(line for line in table if "f3.sgy" in line)
    assert f3.rstrip().endswith("start_time,positions,units,gauge_length")
    assert cli_main(["scan", str(real_data / "segy"), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)["records"]
    assert {r["path"].rsplit("/", 1)[1]: tuple(r["assumed"]) for r in records} == {
        "f3.sgy": ALL,
        "Format5msb.sgy": ALL,
        "small_channel_patch.sgy": ("positions", "units", "gauge_length"),
    }


def test_the_chunk_store_keeps_what_its_chunks_assumed(ray_session, real_data, tmp_path):
    """Ingested into the chunk store and scanned back, f3.sgy's chunks still say that their
    start time and positions were assumed (the store's manifest keeps it per chunk)."""
    from raydas.config import RunConfig
    from raydas.runtime import run

    store = tmp_path / "store"
    spec = str(real_data / "segy" / "f3.sgy")
    report = run(
        RunConfig(input=spec, output=str(tmp_path / "unused"), store=str(store)), mode="ingest", progress=False
    )
    assert report.chunks_done == 1
    (record,) = formats.scan_file(str(store))
    assert {"start_time", "positions"} <= set(record.assumed)


def test_a_run_warns_once_per_record_and_the_manifest_keeps_it(ray_session, real_data, tmp_path):
    from raydas.config import RunConfig
    from raydas.manifest import read_manifest
    from raydas.runtime import Run

    graph = {"command_list": [{"name": "write_npy", "uid": 1, "in_uid": 0, "directory_out": "npy"}]}
    r = Run(RunConfig(input=str(real_data / "segy"), output=str(tmp_path), processing=graph), progress=False)
    report = r.execute()
    warned = [w for w in report.warnings if w.startswith("assumed, not read from the file:")]
    assert warned == [
        "assumed, not read from the file: start_time, positions for 2 record(s): Format5msb.sgy, f3.sgy",
        "assumed, not read from the file: positions for 1 record(s): small_channel_patch.sgy",
    ]
    rows = {row["path"]: row for row in read_manifest(str(tmp_path)).to_pylist()}
    assert rows["npy/f3.sgy/0.004.npy"]["assumed"] == list(ALL)
    assert rows["npy/small_channel_patch.sgy/1505692800.npy"]["assumed"] == ["positions", "units", "gauge_length"]
