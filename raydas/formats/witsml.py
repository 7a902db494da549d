"""WITSML 1.3.1.1 FBE files (``.fbe``): distpy's noise-log output, read by
Techlog and Petrel.

One file holds one chunk's band energies: a ``wellLog`` whose first curve is
DEPTH (m) and whose other curves are named like distpy's
(``band_0-nyquist``, ``band_01_<lo>-<hi>``, ...), with one row per depth.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

import numpy as np

from ..errors import FormatError
from ..timeutil import parse_iso, to_iso
from . import register
from .base import FormatReader, Probe, RecordInfo

NAMESPACE = "http://www.witsml.org/schemas/131"
_NS = {"w": NAMESPACE}
#: distpy writes this fixed wellLog uid into every file; viewers expect one.
WELLLOG_UID = "5B8B6FB8-AACA-11E8-9637-0CC47A31FD84"


def band_curve_names(
    low_freq: list[float], high_freq: list[float], with_band00: bool, labels: list[str] | None = None
) -> list[str]:
    """distpy's curve names: ``band_0-nyquist`` for the optional all-band
    column, then ``band_NN_<lo>-<hi>`` numbered from 01 (``-1`` means Nyquist
    and is written as distpy wrote it, e.g. ``band_01_200--1``). ``labels``
    replace the names of the first curves, in order."""
    names = ["band_0-nyquist"] if with_band00 else []
    for i, (lo, hi) in enumerate(zip(low_freq, high_freq)):
        names.append(f"band_{i + 1:02d}_{_num(lo)}-{_num(hi)}")
    for i, label in enumerate(labels or []):
        if i < len(names):
            names[i] = str(label)
        else:
            names.append(str(label))
    return names


def _num(x: float) -> str:
    x = float(x)
    return str(int(x)) if x.is_integer() else repr(x)


def _stamp(time_ns: int) -> str:
    """distpy's creationDate style: ``2018-08-28T13:57:13+00:00`` (fraction only when not whole)."""
    iso = to_iso(time_ns)[:-1]  # drop 'Z'
    if iso.endswith(".000000"):
        iso = iso[:-7]
    return iso + "+00:00"


def fbe_document(
    depth: np.ndarray,
    values: np.ndarray,
    curve_names: list[str],
    time_ns: int,
    data_style: str = "UNKNOWN",
    unit: str = "unitless",
    descriptions: list[str] | None = None,
) -> bytes:
    """A WITSML 1.3.1.1 FBE document laid out as distpy writes it (and as
    Techlog and Petrel read it).

    Parameters
    ----------
    depth
        Depth of each row in metres, shape ``(n,)``.
    values
        Curve values, shape ``(n, n_curves)``.
    curve_names
        One mnemonic per column of ``values``.
    time_ns
        The chunk's start time (ns, UTC), written as ``creationDate``.
    data_style
        Names the installed system, measurement and service company (distpy's ``data_style``).
    unit
        Unit of every curve.
    descriptions
        One description per curve.
    """
    depth = np.asarray(depth, dtype=np.float64).reshape(-1)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values.reshape(-1, 1)
    if values.shape[0] != depth.shape[0] or values.shape[1] != len(curve_names):
        raise ValueError(
            f"WITSML: {values.shape} values for {depth.shape[0]} depths and {len(curve_names)} curves"
        )
    descriptions = descriptions or [""] * len(curve_names)
    style = escape(str(data_style))
    stamp = _stamp(time_ns)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<WITSMLComposite xmlns="{NAMESPACE}" version="1.3.1.1">\n',
        ' <wellSet>\n  <well uid="FBR01">\n   <name>FBR01</name>\n   <wellboreSet>\n',
        '    <wellbore uid="FBR01">\n     <name>FBR01</name>\n',
        f'     <dtsInstalledSystemSet>\n      <dtsInstalledSystem uid="{style}">\n       <name>{style}</name>\n',
        '       <fiberInformation>\n        <fiber uid="1">\n         <name>FBR01</name>\n',
        f"         <mode>{style}</mode>\n        </fiber>\n       </fiberInformation>\n",
        "      </dtsInstalledSystem>\n     </dtsInstalledSystemSet>\n",
        f'     <dtsMeasurementSet>\n      <dtsMeasurement uid="{style}">\n       <name>{style}</name>\n',
        f'       <installedSystemUsed uidRef="{style}">{style}</installedSystemUsed>\n',
        f'       <dataInWellLog uidRef="{WELLLOG_UID}">{WELLLOG_UID}</dataInWellLog>\n',
        '       <connectedToFiber uid="1"/>\n      </dtsMeasurement>\n     </dtsMeasurementSet>\n',
        f'     <wellLogSet>\n      <wellLog uidRef="{WELLLOG_UID}">\n       <name>{WELLLOG_UID}</name>\n',
        f"       <serviceCompany>{style}</serviceCompany>\n       <creationDate>{stamp}</creationDate>\n",
        "       <indexType>depth</indexType>\n       <nullValue>NULL</nullValue>\n",
        '       <logCurveInfo uid="1">\n        <mnemonic>DEPTH</mnemonic>\n        <unit>m</unit>\n',
        "        <curveDescription>depth along the fiber</curveDescription>\n       </logCurveInfo>\n",
        '       <blockInfo uid="1">\n        <indexType>length</indexType>\n        <direction>increasing</direction>\n',
        '        <indexCurve columnIndex="1">1</indexCurve>\n       </blockInfo>\n',
    ]
    for i, (name, desc) in enumerate(zip(curve_names, descriptions)):
        uid = i + 2
        parts.append(
            f'       <logCurveInfo uid="{uid}">\n        <mnemonic>{escape(name)}</mnemonic>\n'
            f"        <unit>{escape(unit)}</unit>\n        <curveDescription>{escape(desc)}</curveDescription>\n"
            f'       </logCurveInfo>\n       <blockInfo uid="{uid}">\n        <blockCurveInfo>\n'
            f"         <curveId>{i + 1}</curveId>\n         <columnIndex>{i + 1}</columnIndex>\n"
            "        </blockCurveInfo>\n       </blockInfo>\n"
        )
    parts.append("       <logData>\n")
    table = np.column_stack([depth, values])
    parts.extend('        <data id="1">' + ", ".join(map(_fmt, row)) + "</data>\n" for row in table.tolist())
    parts.append(
        "       </logData>\n      </wellLog>\n     </wellLogSet>\n    </wellbore>\n"
        "   </wellboreSet>\n  </well>\n </wellSet>\n</WITSMLComposite>\n"
    )
    return "".join(parts).encode("utf-8")


def _fmt(v: float) -> str:
    return "NULL" if v != v else f"{v:.9g}"


def parse_fbe(payload: bytes, url: str = "<bytes>") -> tuple[int, list[str], np.ndarray, np.ndarray]:
    """Parse a WITSML FBE document.

    Returns
    -------
    time_ns, curve_names, depth, values
        ``values`` has shape ``(n_depths, n_curves)`` (DEPTH excluded).
    """
    try:
        root = ET.fromstring(payload)
    except ET.ParseError as exc:
        raise FormatError(url, f"is not well-formed XML ({exc})") from exc
    log = root.find(".//w:wellLog", _NS)
    if log is None:
        raise FormatError(url, "has no WITSML <wellLog>")
    stamp = log.findtext("w:creationDate", default=None, namespaces=_NS)
    if stamp is None:
        raise FormatError(url, "wellLog has no <creationDate>")
    mnemonics = [m.findtext("w:mnemonic", namespaces=_NS) for m in log.findall("w:logCurveInfo", _NS)]
    rows = [d.text or "" for d in log.findall("w:logData/w:data", _NS)]
    if not rows or not mnemonics:
        raise FormatError(url, "wellLog has no curves or no data rows")
    try:
        table = np.array([[_value(v) for v in r.split(",")] for r in rows], dtype=np.float64)
    except ValueError as exc:
        raise FormatError(url, f"has a non-numeric data row ({exc})") from exc
    if table.ndim != 2 or table.shape[1] != len(mnemonics):
        raise FormatError(url, f"data rows have {table.shape[-1]} columns for {len(mnemonics)} curves")
    return parse_iso(stamp), mnemonics[1:], table[:, 0], table[:, 1:]


def _value(text: str) -> float:
    text = text.strip()
    return float("nan") if text.upper() in ("NULL", "NAN", "") else float(text)


@register
class WitsmlFbeFormat(FormatReader):
    """Reads one ``.fbe`` as a record of ``(depth, curve)``: channels are depths and
    the 'samples' are the curves (band energies), one per band; ``attrs['curves']``
    names them. Reassembling many files into time series is the job of
    the chunk/recording layer."""

    name = "witsml-fbe"
    description = "WITSML 1.3.1.1 FBE (.fbe) band energies, as written by distpy and raydas"

    def detect(self, probe: Probe) -> bool:
        head = probe.head[:4096].lstrip()
        return head.startswith(b"<?xml") and b"WITSMLComposite" in probe.head or b"<WITSMLComposite" in head

    def scan(self, probe: Probe) -> list[RecordInfo]:
        with probe.fs.open(probe.path, "rb") as fh:
            time_ns, curves, depth, values = parse_fbe(fh.read(), probe.url)
        return [
            RecordInfo(
                path=probe.url,
                format=self.name,
                n_channels=depth.shape[0],
                n_samples=len(curves),
                dt=1.0,
                start_ns=time_ns,
                positions=depth,
                units="band energy",
                attrs={"curves": curves, "layout": "channel x curve (not time)"},
            )
        ]

    def read_samples(self, record: RecordInfo, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
        from ..fsutil import url_to_fs

        fs, path = url_to_fs(record.path)
        _, _, _, values = parse_fbe(fs.cat_file(path), record.path)
        return np.ascontiguousarray(values[channels, start:stop], dtype=np.float32)
