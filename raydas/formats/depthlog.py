"""Stacks of depth logs: formats where one file holds one time (a processing
chunk's result) as depth rows x curve columns, e.g. WITSML 1.3.1.1 FBE
(``.fbe``) and LAS 2.0 FBE files, distpy's noise-log outputs.

A folder of such files (or one file) is read as **one time series per curve**:
the record's key is the curve mnemonic (``band_01_10-50``...), its channels
are the depths (m) and its samples are the files in time order, so the record
is ``(depth, time)`` like any other. Every file is kept, the last one included
(distpy's re-ingest drops it).

The interval between samples is the median spacing of the files' times (1 s,
distpy's chunk, when there is a single file). Records split wherever the files
are not that interval apart, or their depths or curves change, so a gap shows
up as a break between records (``raydas scan`` reports it) instead of being
bridged. Files that cannot be parsed are skipped with a warning naming each.
"""

from __future__ import annotations

import posixpath
import warnings

import numpy as np

from ..errors import FormatError
from ..fsutil import unstrip, url_to_fs
from ..timeutil import regular_runs
from .base import Format, Probe, RecordInfo


class SkippedFileWarning(UserWarning):
    """A file in a folder could not be read and was left out (the message says why)."""


class DepthLogStack(Format):
    """Base of the depth-log formats: subclasses set ``suffixes`` and implement
    ``looks_like(head)`` and ``parse(payload, url)``."""

    container = True

    def looks_like(self, head: bytes) -> bool:
        """True when the first bytes of a file are this format."""
        raise NotImplementedError

    def parse(self, payload: bytes, url: str) -> tuple[int, list[str], np.ndarray, np.ndarray]:
        """``(time_ns, curve_names, depth (n,), values (n, n_curves))`` of one file."""
        raise NotImplementedError

    # --- Format ---------------------------------------------------------------
    def _files(self, probe: Probe) -> list[str]:
        if not probe.is_dir:
            return [probe.url]
        entries = probe.entries
        return sorted(
            unstrip(probe.fs, e["name"])
            for e in entries
            if e.get("type") == "file" and not posixpath.basename(e["name"]).startswith(".")
        )

    def detect(self, probe: Probe) -> bool:
        if not probe.is_dir:
            return self.looks_like(probe.head)
        for entry, name in zip(probe.entries, probe.entry_names):
            if entry.get("type") == "file" and not name.startswith(".") and not name.lower().endswith(self.suffixes):
                return False  # a folder of mixed files is walked file by file instead (known at its first such file)
        files = self._files(probe)
        if not files:
            return False
        fs, path = url_to_fs(files[0])
        with fs.open(path, "rb") as fh:
            return self.looks_like(fh.read(4096))

    def _parse_url(self, url: str):
        fs, path = url_to_fs(url)
        return self.parse(fs.cat_file(path), url)

    def scan(self, probe: Probe) -> list[RecordInfo]:
        logs = []
        for url in self._files(probe):
            try:
                time_ns, curves, depth, _ = self._parse_url(url)
            except FormatError as exc:
                if not probe.is_dir:
                    raise
                warnings.warn(f"{exc} (left out of {probe.url})", SkippedFileWarning, stacklevel=2)
                continue
            logs.append((time_ns, tuple(curves), depth, url))
        if not logs:
            raise FormatError(probe.url, f"holds no readable {self.name} file")
        logs.sort(key=lambda log: (log[0], log[3]))
        records: list[RecordInfo] = []
        group = [logs[0]]
        for log in logs[1:] + [None]:
            same = log is not None and log[1] == group[0][1] and np.array_equal(log[2], group[0][2])
            if same:
                group.append(log)
                continue
            records.extend(self._records(probe.url, group, len(logs)))
            group = [log]
        return records

    def _records(self, url: str, group: list, n_files: int) -> list[RecordInfo]:
        times = np.array([g[0] for g in group], dtype=np.int64)
        try:
            dt, runs = regular_runs(times)
        except ValueError as exc:
            raise FormatError(url, f"two {self.name} files have the same time ({exc})") from exc
        curves, depth = group[0][1], group[0][2]
        out = []
        for lo, hi in runs:
            files = [g[3] for g in group[lo:hi]]
            for column, curve in enumerate(curves):
                out.append(
                    RecordInfo(
                        path=url,
                        format=self.name,
                        n_channels=depth.shape[0],
                        n_samples=hi - lo,
                        dt=dt,
                        start_ns=int(times[lo]),
                        positions=depth,
                        key=curve,
                        stream=curve,
                        attrs={"files": files, "column": column, "curves": list(curves)},
                        assumed=("sample_rate",) if times.size < 2 else (),  # one file: 1 s between logs assumed
                    )
                )
        return out

    def read_samples(self, record: RecordInfo, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
        files = record.attrs["files"][start:stop]
        out = np.empty((len(range(record.n_channels)[channels]), len(files)), dtype=np.float32)
        for i, url in enumerate(files):
            _, curves, depth, values = self._parse_url(url)
            if list(curves) != record.attrs["curves"] or depth.shape[0] != record.n_channels:
                raise FormatError(url, "curves or depths changed since the folder was scanned")
            out[:, i] = values[channels, record.attrs["column"]]
        return out
