"""Archives: a folder or glob of files becomes time-ordered recordings; gaps,
overlaps and changes of sampling or channels are reported by ``raydas scan``
(text and --json) and chunks never bridge them; junk is reported, the rest
scans. Also the real sample folder through the CLI."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from raydas import formats
from raydas.apps.cli import main
from raydas.chunk import Chunk
from raydas.recording import assemble, plan_chunks
from raydas.timeutil import NS_PER_S

T0 = 1_720_000_000 * NS_PER_S


def block(seconds: float, rate: float, channels: int, t_offset: float) -> np.ndarray:
    """A ramp whose value is the absolute time in s (so joins are checkable), plus the channel index."""
    t = t_offset + np.arange(int(round(seconds * rate))) / rate
    return (t[None, :] + 1000.0 * np.arange(channels)[:, None]).astype(np.float32)


def write_series(folder, ext: str, pieces) -> list[str]:
    """Write (start s, seconds, rate Hz, channels) pieces as files in ``folder``."""
    folder.mkdir(exist_ok=True)
    urls = []
    for k, (start, seconds, rate, channels) in enumerate(pieces):
        chunk = Chunk(
            block(seconds, rate, channels, start),
            data_start_ns=T0 + int(round(start * NS_PER_S)),
            dt=1.0 / rate,
            positions=2.0 * np.arange(channels),
            units="strain/s",
        )
        url = str(folder / f"part{k:02d}{ext}")
        formats.write(chunk, url)
        urls.append(url)
    return urls


SERIES = [
    (0.0, 2.0, 500.0, 4),  # part00
    (2.0, 2.0, 500.0, 4),  # part01: contiguous
    (5.0, 2.0, 500.0, 4),  # part02: 1 s gap
    (6.5, 1.0, 500.0, 4),  # part03: 0.5 s overlap
    (7.5, 1.0, 250.0, 4),  # part04: sampling change
    (8.5, 1.0, 250.0, 6),  # part05: channel change
]


@pytest.mark.parametrize("ext", [".sgy", ".h5"])
def test_breaks_are_reported_and_never_bridged(tmp_path, ext, capsys):
    write_series(tmp_path / "series", ext, SERIES)
    assert main(["scan", str(tmp_path / "series"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert not report["unreadable"] and len(report["records"]) == 6
    part = lambda label: re.search(r"part\d\d", label).group(0)  # noqa: E731  (labels are path#key)
    kinds = [(d["kind"], part(d["before"]), part(d["after"])) for d in report["discontinuities"]]
    assert kinds == [
        ("gap", "part01", "part02"),
        ("overlap", "part02", "part03"),
        ("sampling change", "part03", "part04"),
        ("channel change", "part04", "part05"),
    ]
    assert "1 s missing" in report["discontinuities"][0]["detail"]
    assert "0.5 s overlap" in report["discontinuities"][1]["detail"]

    assert main(["scan", str(tmp_path / "series" / f"*{ext}")]) == 0
    text = capsys.readouterr().out
    assert text.count("break:") == 4 and "break: gap between" in text

    records, _ = formats.scan(str(tmp_path / "series"))
    recordings, _ = assemble(records)
    assert [r.n_samples for r in recordings] == [2000, 1000, 500, 250, 250]
    plans = plan_chunks(recordings, chunk_seconds=0.8, halo_samples=50)
    for plan in plans:
        rec = recordings[plan.recording_index]
        assert 0 <= plan.start - plan.halo[0] and plan.stop + plan.halo[1] <= rec.n_samples
        chunk = plan.read()
        t = (chunk.data_start_ns - T0) / NS_PER_S + np.arange(chunk.data.shape[1]) * chunk.dt
        np.testing.assert_allclose(chunk.data[0], t, atol=2e-4)  # one seamless ramp: nothing bridged
    straddling = [p for p in plans if len(p.pieces) == 2]
    assert straddling and all(p.recording_index == 0 for p in straddling)  # joins happen only across part00/part01


def test_mixed_junk_folder_reports_each_bad_file_and_scans_the_rest(tmp_path, capsys):
    folder = tmp_path / "junk"
    good = write_series(folder, ".sgy", SERIES[:2])
    (folder / "empty.sgy").write_bytes(b"")
    (folder / "notes.txt").write_text("calibration notes\n")
    (folder / "random.h5").write_bytes(np.random.default_rng(0).bytes(5000))
    raw = open(good[0], "rb").read()
    (folder / "truncated.sgy").write_bytes(raw[: len(raw) - 100])
    fake_hdf5 = b"\x89HDF\r\n\x1a\n" + b"\x00" * 200
    (folder / "corrupt.h5").write_bytes(fake_hdf5)
    assert main(["scan", str(folder), "--json"]) == 1  # non-zero whenever an input failed (issue 10)
    report = json.loads(capsys.readouterr().out)
    assert sorted(r["path"].rsplit("/", 1)[1] for r in report["records"]) == ["part00.sgy", "part01.sgy"]
    problems = {u["path"].rsplit("/", 1)[1]: u["error"] for u in report["unreadable"]}
    assert set(problems) == {"empty.sgy", "random.h5", "truncated.sgy", "corrupt.h5"}
    assert "empty" in problems["empty.sgy"]
    assert "not in a recognised DAS format" in problems["random.h5"]
    not_data = {u["path"].rsplit("/", 1)[1]: u["reason"] for u in report["not_data"]}
    assert (
        list(not_data) == ["notes.txt"] and "a text document, not data" in not_data["notes.txt"]
    )  # a document: listed apart, not a failure
    assert "truncated" in problems["truncated.sgy"]
    assert problems["corrupt.h5"]
    assert not report["discontinuities"]


NON_HDF5 = {  # file: (format, channels, samples, sample rate Hz)
    "segy/small_channel_patch.sgy": ("segy", 10, 20, 250.0),
    "segy/f3.sgy": ("segy", 414, 75, 250.0),
    "segy/Format5msb.sgy": ("segy", 414, 75, 250.0),
    "tdms/sample_tdms_file_v4713.tdms": ("tdms", 2432, 216, 500.0),
    "mseed/etna_9n_3chan_10s.mseed": ("mseed", 3, 13556, 1000.0),
    "other/sintela_protobuf_1.pb": ("sintela-pb", 200, 1480, 500.0),
}


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_cli_scan_recognises_every_non_hdf5_real_file(real_data, capsys):
    assert main(["scan", str(real_data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    found = {r["path"].split(str(real_data) + "/", 1)[1]: r for r in report["records"]}
    for name, (fmt, channels, samples, rate) in NON_HDF5.items():
        r = found[name]
        assert (r["format"], r["channels"], r["samples"], r["sample_rate_hz"]) == (fmt, channels, samples, rate)
    unreadable = {u["path"].split(str(real_data) + "/", 1)[1] for u in report["unreadable"]}
    assert not unreadable & set(NON_HDF5)
    not_data = {u["path"].split(str(real_data) + "/", 1)[1] for u in report["not_data"]}
    assert {"README.md", "licenses/MIT-DASDAE-test_data.txt"} <= not_data  # documents: listed apart, not failures
    assert not unreadable & not_data
