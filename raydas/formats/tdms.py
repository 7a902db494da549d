"""TDMS (NI LabVIEW) DAS files: Silixa iDAS, and any TDMS file whose one group
holds one equally long channel per fibre position.

Metadata come from npTDMS (the field's TDMS library). Samples of Silixa's
layout, a single segment of interleaved samples (one frame of every channel
per time step), are read straight from their byte range, so a time window
reads only that window; any other layout is read whole through npTDMS.

Silixa properties used (root object): ``SamplingFrequency[Hz]``,
``GPSTimeStamp`` (UTC), ``Start Distance (m)`` (position of channel 0),
``SpatialResolution[m]`` times ``Fibre Length Multiplier`` (channel spacing),
``GaugeLength``. Generic TDMS channels give ``wf_increment`` (s) and
``wf_start_time`` instead.

A file cut short (an interrupted recording) is read up to its last complete
time sample, with a :class:`TruncatedFileWarning` saying how much is missing.
"""

from __future__ import annotations

import io
import struct

import numpy as np

from .. import plausible
from ..errors import FormatError
from ..fsutil import url_to_fs
from ..timeutil import parse_iso
from . import register
from .base import (
    Format,
    Probe,
    RecordInfo,
    as_float32,
    check_declared_size,
    checked,
    quantity_of,
    stored_extent,
    time_major_to_float32,
)
from .silixa import idas_positions, spacing_stated

LEAD_IN = 28  # b"TDSm", ToC mask, version, next-segment offset, raw-data offset
TOC_INTERLEAVED = 1 << 5
TOC_BIG_ENDIAN = 1 << 6


def _lead_in(head: bytes, url: str) -> tuple[int, int, int]:
    """ToC mask, next-segment offset and raw-data offset of the first segment."""
    if len(head) < LEAD_IN:
        raise FormatError(url, f"too short for TDMS ({len(head)} bytes; the lead-in needs {LEAD_IN})")
    _tag, toc, _version, next_segment, raw_offset = struct.unpack("<4sIIQQ", head[:LEAD_IN])
    if toc & TOC_BIG_ENDIAN:
        _, _, next_segment, raw_offset = struct.unpack(">IIQQ", head[4:LEAD_IN])
    return toc, next_segment, raw_offset


def _tdms_file():
    """npTDMS's ``TdmsFile``, its own console logging quietened below ERROR: it logs a
    truncated last segment through a handler of its own, and raydas reports that
    itself, naming the file (:class:`TruncatedFileWarning`)."""
    import logging

    from nptdms import TdmsFile
    from nptdms.log import log_manager

    log_manager.set_level(logging.ERROR)
    return TdmsFile


def _metadata(probe: Probe):
    TdmsFile = _tdms_file()

    with probe.fs.open(probe.path, "rb") as fh:
        try:
            return TdmsFile.read_metadata(fh)
        except Exception as exc:  # npTDMS raises ValueError, KeyError, struct.error... on bad headers
            raise FormatError(probe.url, f"has unreadable TDMS metadata ({type(exc).__name__}: {exc})") from exc


def _time_ns(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[ns]").astype(np.int64))
    try:
        return parse_iso(str(value))
    except ValueError:
        return None


def _data_channels(meta, url: str):
    """The group holding the DAS channels and its channels (all equally long, same type)."""
    groups = [g for g in meta.groups() if g.channels()]
    if not groups:
        raise FormatError(url, "TDMS file has no channel data")
    group = max(groups, key=lambda g: len(g.channels()))
    channels = group.channels()
    dtypes = {c.dtype for c in channels}
    if len(dtypes) != 1 or channels[0].dtype is None or channels[0].dtype.kind not in "iuf":
        raise FormatError(url, f"TDMS group {group.name!r} mixes or lacks numeric data types ({dtypes})")
    return group, channels


@register
class TdmsFormat(Format):
    name = "tdms"
    description = "TDMS: Silixa iDAS (interleaved int16) and one-channel-per-position TDMS files (npTDMS)"
    extensions = (".tdms",)
    quantities = ("strain_rate", "strain", "velocity")
    versions = ("4712", "4713")
    tested_on = ("real/tdms/sample_tdms_file_v4713.tdms",)

    suffixes = (".tdms",)

    def signature(self, head: bytes) -> bool:
        return head[:4] == b"TDSm"

    def detect(self, probe: Probe) -> bool:
        return not probe.is_dir and self.signature(probe.head)

    def scan(self, probe: Probe) -> list[RecordInfo]:
        toc, next_segment, raw_offset = _lead_in(probe.head, probe.url)
        meta = _metadata(probe)
        props = dict(meta.properties)
        group, channels = _data_channels(meta, probe.url)
        first = dict(channels[0].properties)
        n_channels = len(channels)
        dtype = channels[0].dtype.newbyteorder(">" if toc & TOC_BIG_ENDIAN else "<")

        rate = props.get("SamplingFrequency[Hz]")
        if rate is not None and float(rate) > 0:
            dt = 1.0 / checked(probe.url, plausible.sample_rate, float(rate), "TDMS SamplingFrequency[Hz]")
        elif float(first.get("wf_increment", 0) or 0) > 0:
            dt = checked(probe.url, plausible.sample_interval, float(first["wf_increment"]), "TDMS wf_increment")
        else:
            raise FormatError(probe.url, "TDMS file gives no sampling (no SamplingFrequency[Hz], no wf_increment)")
        start_ns = next(
            (
                t
                for t in (
                    _time_ns(props.get("GPSTimeStamp")),
                    _time_ns(props.get("ISO8601 Timestamp")),
                    _time_ns(first.get("wf_start_time")),
                    _time_ns(props.get("CPUTimeStamp")),
                )
                if t is not None
            ),
            None,
        )
        if start_ns is None:
            raise FormatError(
                probe.url, "TDMS file gives no start time (GPSTimeStamp, ISO8601 Timestamp, wf_start_time)"
            )
        positions = idas_positions(probe.url, props, n_channels, default_spacing=1.0)

        attrs = {"group": group.name, "sample_type": str(dtype), "vendor_version": str(props.get("iDASVersion", ""))}
        single_segment = LEAD_IN + next_segment >= probe.size
        if toc & TOC_INTERLEAVED and single_segment:
            frame = n_channels * dtype.itemsize
            data_offset = LEAD_IN + raw_offset
            declared = (next_segment - raw_offset) // frame
            what = f"the TDMS segment header ({probe.size} of {LEAD_IN + next_segment} bytes there)"
            n_samples = stored_extent(probe.url, what, declared, max(probe.size - data_offset, 0) // frame)
            if n_samples < declared:
                attrs["truncated_from_samples"] = int(declared)
            attrs.update(layout="interleaved", data_offset=data_offset)
        else:
            n_samples = min(len(c) for c in channels)
            what = f"the TDMS metadata ({n_channels} channels x {n_samples} samples of {dtype})"
            check_declared_size(probe.url, what, n_samples * n_channels * dtype.itemsize, probe.size)
            attrs["layout"] = "npTDMS"
        if n_samples == 0:
            raise FormatError(probe.url, "TDMS file holds no complete time sample")
        gauge = props.get("GaugeLength")
        return [
            RecordInfo(
                path=probe.url,
                format=self.name,
                n_channels=n_channels,
                n_samples=int(n_samples),
                dt=dt,
                start_ns=start_ns,
                positions=positions,
                units=str(props.get("Unit", "")),
                quantity=quantity_of(props.get("Unit")),
                gauge_length=float(gauge) if gauge is not None else float("nan"),
                attrs=attrs,
                assumed=() if spacing_stated(props) else ("positions",),
            )
        ]

    def read_samples(self, record: RecordInfo, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
        fs, path = url_to_fs(record.path)
        dtype = np.dtype(record.attrs["sample_type"])
        if stop <= start:
            return np.zeros((len(range(record.n_channels)[channels]), 0), dtype=np.float32)
        if record.attrs.get("layout") == "interleaved":
            frame = record.n_channels * dtype.itemsize
            first = record.attrs["data_offset"] + start * frame
            payload = fs.cat_file(path, start=first, end=first + (stop - start) * frame)
            if len(payload) < (stop - start) * frame:
                raise FormatError(record.path, f"ends before sample {stop} (file changed since it was scanned?)")
            block = np.frombuffer(payload, dtype=dtype).reshape(stop - start, record.n_channels)
            return time_major_to_float32(block[:, channels])
        TdmsFile = _tdms_file()

        with fs.open(path, "rb") as fh:
            tdms = TdmsFile.read(io.BytesIO(fh.read()))
        _, chans = _data_channels(tdms, record.path)
        return as_float32(np.stack([c[start:stop] for c in chans[channels]]))
