"""Febus G1 Brillouin (BOTDA/BOTDR) files: strain or temperature profiles
(``.bsl``) and Brillouin gain spectra (``.mtx``), as text, and spectra over
time as HDF5 (``.mtx.h5``). Slow data: one reading per file (text) or readings
seconds apart, each stamped.

**Text** (one parser for both, told apart by content): ``Param;<name>;<value>``
header lines (``start time`` and ``end time`` in epoch s, ``mode``,
``fiberFrom``/``fiberTo`` in m, ``freqOffsetAbs``/``freqStep`` in MHz, ...),
then one data line per point along the fibre: one value (a profile, ``.bsl``)
or ``;``-separated values, one per frequency bin (a spectrum, ``.mtx``). The
points are taken as evenly spread from ``fiberFrom`` ((fiberTo - fiberFrom) /
points apart: 0.1 m in the profiles, 1 m in the spectra; the file does not say,
so ``positions`` is in ``assumed``); the unit is not stated (µε for strain,
°C for temperature, assumed).

**HDF5** (``formatVersion`` 1): root data sets ``mtx`` ``(time, distance,
frequency)`` float32, ``distances`` (m), ``start_times``/``end_times`` (epoch
s) and ``temperatures``; root attributes ``freq_offset_abs`` and
``freq_step`` (MHz), ``mode``, ....

**The third axis.** A spectrum file is a record of ``(distance, time)`` whose
every sample is a spectrum: ``attrs["frequency_mhz"]`` gives the bins (first,
step, count: ``freqOffsetAbs + k * freqStep``, the instrument's convention,
assumed). Its 2-D ``read_samples`` refuses with the reason;
:meth:`FebusG1SpectraFormat.read_spectra` /
:meth:`FebusG1TextFormat.read_spectra` return the ``(channel, time,
frequency)`` block. Every reading keeps its stamp
(:attr:`RecordInfo.times_ns`), so commands refuse these records at planning.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import numpy as np

from ..errors import FormatError
from ..fsutil import url_to_fs
from . import register
from .base import Format, Probe, RecordInfo, attr_number, epoch_ns, open_h5, reading_interval
from .hdf5 import HDF5Format, check_complete, check_stored, hdf5_errors, numeric_dataset

#: a G1 text file larger than this is no G1 text file (the samples are 150-500 kB)
MAX_TEXT_BYTES = 256 * 2**20
REQUIRED = ("start time", "mode", "fiberFrom", "fiberTo")
UNITS = {"strain": ("strain", "µε"), "temperature": ("temperature", "°C")}


def _spectra_refused(record: RecordInfo) -> FormatError:
    f = record.attrs["frequency_mhz"]
    return FormatError(
        record.path,
        f"holds Brillouin spectra (time, distance, frequency: {f['count']} bins from {f['first']} MHz), "
        "not a (channel, time) series; read them with the format's read_spectra",
    )


# --- text -----------------------------------------------------------------------------------------------------------
def _load_text(url: str, size: int) -> tuple[dict[str, list[str]], list[str]]:
    """The ``Param`` header (name -> values) and the data lines of a G1 text file."""
    if size > MAX_TEXT_BYTES:
        raise FormatError(url, f"is {size} bytes; a Febus G1 text file is at most {MAX_TEXT_BYTES}")
    fs, path = url_to_fs(url)
    with fs.open(path, "rb") as fh:
        text = fh.read(MAX_TEXT_BYTES + 1).decode("ascii", "replace")
    params: dict[str, list[str]] = {}
    lines = text.splitlines()
    k = 0
    while k < len(lines) and lines[k].startswith("Param;"):
        fields = lines[k].split(";")
        params[fields[1].strip()] = [f.strip() for f in fields[2:]]
        k += 1
    missing = [p for p in REQUIRED if p not in params or not params[p] or not params[p][0]]
    if missing:
        raise FormatError(url, f"Febus G1 header has no {', '.join(missing)}")
    data = [line for line in lines[k:] if line.strip()]
    if not data:
        raise FormatError(url, "Febus G1 file holds a header and no data lines")
    return params, data


def _number(url: str, params: dict, name: str) -> float:
    try:
        return float(params[name][0])
    except (KeyError, IndexError, ValueError):
        raise FormatError(url, f"Febus G1 {name} is missing or not a number") from None


def _epoch_text_ns(url: str, text: str, name: str) -> int:
    """An epoch-seconds decimal (``1683721503.782370``) as ns, without float rounding."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise FormatError(url, f"Febus G1 {name} {text!r} is not epoch seconds") from None
    if not value.is_finite() or not 0 <= value < 10**11:
        raise FormatError(url, f"Febus G1 {name} {text!r} is not epoch seconds")
    return int(value * 10**9)


def _rows(url: str, data: list[str], width: int, rows: range) -> np.ndarray:
    """``rows`` of the data lines as float64 ``(row, width)``, each checked to hold ``width`` numbers."""
    out = np.empty((len(rows), width), dtype=np.float64)
    for i, r in enumerate(rows):
        fields = data[r].rstrip(";").split(";")
        if len(fields) != width:
            raise FormatError(url, f"Febus G1 data line {r + 1} holds {len(fields)} values; the first holds {width}")
        try:
            out[i] = [float(f) for f in fields]
        except ValueError:
            raise FormatError(url, f"Febus G1 data line {r + 1} is not all numbers") from None
    return out


def _data_lines(record: RecordInfo) -> list[str]:
    """The data lines of a scanned text record's file, checked to be as many as the scan found."""
    fs, path = url_to_fs(record.path)
    _, data = _load_text(record.path, fs.size(path))
    if len(data) != record.n_channels:
        raise FormatError(record.path, f"holds {len(data)} data lines; its scan found {record.n_channels}")
    return data


@register
class FebusG1TextFormat(Format):
    """One reading: a profile (one value per point) or spectra (one per point and frequency bin)."""

    name = "febus-g1-text"
    description = "Febus G1 Brillouin text: Param header, then a profile (.bsl) or spectra (.mtx) along the fibre"
    extensions = (".bsl", ".mtx")
    quantities = ("strain", "temperature", "spectrum")
    tested_on = (
        "fibre/dss/febg1_C1_2023-05-10T12.25.03+0000.bsl",
        "fibre/dss/febg1_C1_2023-05-10T12.27.33+0000.bsl",
        "fibre/dss/febus-g1-spectra_C1_2023-11-30T15.13.14+0000.mtx",
    )

    def detect(self, probe: Probe) -> bool:
        head = probe.head
        return (
            not probe.is_dir and head.startswith(b"Param;") and b"\nParam;mode;" in head and b"Param;fiberFrom;" in head
        )

    def scan(self, probe: Probe) -> list[RecordInfo]:
        url = probe.url
        params, data = _load_text(url, probe.size)
        width = len(data[0].rstrip(";").split(";"))
        _rows(url, data, width, range(1))  # the first line checked to be numbers here; the rest when read
        start = _epoch_text_ns(url, params["start time"][0], "start time")
        end = _epoch_text_ns(url, params["end time"][0], "end time") if params.get("end time") else start
        mode = params["mode"][0].lower()
        x0, x1 = _number(url, params, "fiberFrom"), _number(url, params, "fiberTo")
        n = len(data)
        if not x1 > x0:
            raise FormatError(url, f"Febus G1 fiberTo {x1} m is not beyond fiberFrom {x0} m")
        spectra = width > 1
        quantity, unit = ("spectrum", "") if spectra else UNITS.get(mode, ("unknown", ""))
        attrs = {"mode": mode, "fiber_break_m": params.get("fiberBreak", [""])[0], "values_per_line": width}
        if spectra:
            attrs["frequency_mhz"] = {
                "first": _number(url, params, "freqOffsetAbs"),
                "step": _number(url, params, "freqStep"),
                "count": width,
            }
        return [
            RecordInfo(
                path=url,
                format=self.name,
                n_channels=n,
                n_samples=1,
                dt=(end - start) / 1e9 if end > start else 1.0,  # one reading: its acquisition time
                start_ns=start,
                positions=x0 + np.arange(n) * ((x1 - x0) / n),
                units=unit,
                quantity=quantity,
                times_ns=np.array([start]),
                assumed=("positions", "units"),
                attrs=attrs,
            )
        ]

    def read_samples(self, record: RecordInfo, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
        if "frequency_mhz" in record.attrs:
            raise _spectra_refused(record)
        rows = range(record.n_channels)[channels]
        if min(stop, 1) <= start or not len(rows):
            return np.zeros((len(rows), max(min(stop, 1) - start, 0)), dtype=np.float32)
        return _rows(record.path, _data_lines(record), 1, rows).astype(np.float32)

    def read_spectra(self, record: RecordInfo, channels: slice = slice(None)) -> np.ndarray:
        """The spectra of ``channels`` as float32 ``(channel, 1, frequency)`` (one reading)."""
        rows = range(record.n_channels)[channels]
        return _rows(record.path, _data_lines(record), record.attrs["values_per_line"], rows)[:, None, :].astype(
            np.float32
        )


# --- HDF5 -----------------------------------------------------------------------------------------------------------
@register
class FebusG1SpectraFormat(HDF5Format):
    """Spectra over time: ``mtx`` ``(time, distance, frequency)``, each reading stamped."""

    name = "febus-g1-h5"
    description = "Febus G1 Brillouin spectra HDF5 (.mtx.h5: mtx, distances, start_times, freq_offset_abs)"
    extensions = (".mtx.h5",)
    quantity = "spectrum"
    versions = ("1",)
    tested_on = ("fibre/dss/febus-g1-spectra_C2_2026-06-03T17.28.13+0200.mtx.h5",)

    def looks_like(self, h5) -> bool:
        return all(k in h5 for k in ("mtx", "distances", "start_times")) and "freq_step" in h5.attrs

    def scan_hdf5(self, url: str, h5) -> list[RecordInfo]:
        mtx = numeric_dataset(url, h5, "mtx", ndim=3, axes="time, distance, frequency")
        check_stored(url, mtx)
        n_time, n_dist, n_freq = mtx.shape
        distances = numeric_dataset(url, h5, "distances", ndim=1)
        starts = numeric_dataset(url, h5, "start_times", ndim=1)
        check_complete(url, distances)
        check_complete(url, starts)
        if distances.shape[0] != n_dist or starts.shape[0] != n_time:
            raise FormatError(
                url,
                f"mtx {mtx.shape} needs {n_time} start_times and {n_dist} distances; "
                f"it has {starts.shape[0]} and {distances.shape[0]}",
            )
        stamps = epoch_ns(url, starts[()], 1.0, "start_times")
        positions = np.asarray(distances[()], dtype=np.float64)
        if not np.isfinite(positions).all() or (np.diff(positions) <= 0).any():
            raise FormatError(url, "distances is not an increasing list of positions")
        first = attr_number(h5.attrs.get("freq_offset_abs", np.nan))
        step = attr_number(h5.attrs["freq_step"])
        if not (np.isfinite(first) and np.isfinite(step) and step != 0):
            raise FormatError(url, f"Febus G1 frequency axis {first} MHz + k * {step} MHz is not usable")
        return [
            RecordInfo(
                path=url,
                format=self.name,
                n_channels=int(n_dist),
                n_samples=int(n_time),
                dt=reading_interval(url, stamps, "start_times"),
                start_ns=int(stamps[0]),
                positions=positions,
                quantity="spectrum",
                key=mtx.name,
                times_ns=stamps,
                assumed=("units",),
                attrs={
                    "frequency_mhz": {"first": float(first), "step": float(step), "count": int(n_freq)},
                    "mode": int(attr_number(h5.attrs.get("mode", -1))),
                },
            )
        ]

    def read_hdf5(self, h5, record, start, stop, channels):
        raise _spectra_refused(record)

    def read_spectra(
        self, record: RecordInfo, start: int = 0, stop: int | None = None, channels: slice = slice(None)
    ) -> np.ndarray:
        """Readings ``[start, stop)`` of ``channels`` as float32 ``(channel, time, frequency)``."""
        stop = record.n_samples if stop is None else min(stop, record.n_samples)
        with hdf5_errors(record.path), open_h5(record.path) as h5:
            mtx = numeric_dataset(record.path, h5, record.key, ndim=3)
            block = mtx[start : max(stop, start), channels, :]
        return np.ascontiguousarray(np.transpose(block, (1, 0, 2)), dtype=np.float32)


__all__ = ["FebusG1SpectraFormat", "FebusG1TextFormat"]
