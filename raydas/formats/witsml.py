"""WITSML 1.3.1.1 FBE files (``.fbe``): distpy's noise-log output, read by
Techlog and Petrel.

One file holds one chunk's band energies: a ``wellLog`` whose first curve is
DEPTH (m) and whose other curves are named like distpy's
(``band_0-nyquist``, ``band_01_<lo>-<hi>``, ...), with one row per depth.
A folder of them re-ingests as one (depth, time) series per curve
(:mod:`raydas.formats.depthlog`), keeping every file.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

import numpy as np

from ..errors import FormatError
from ..timeutil import parse_iso, to_iso
from . import register
from .depthlog import DepthLogStack

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


_BAND_NAME = re.compile(r"^band_(?:0-nyquist|\d+_(?P<lo>-?[0-9.eE+]+)-(?P<hi>-?[0-9.eE+]+))$")


def parse_band_name(name: str) -> tuple[float, float | None] | None:
    """The band of a curve named by :func:`band_curve_names`: ``(low, high)`` in Hz,
    ``high`` None for Nyquist (distpy's ``-1``); None for a name of another kind (a label).

    >>> parse_band_name("band_01_200--1"), parse_band_name("band_0-nyquist"), parse_band_name("flow")
    ((200.0, None), (0.0, None), None)
    """
    match = _BAND_NAME.match(name)
    if match is None:
        return None
    if match["lo"] is None:
        return 0.0, None
    try:
        low, high = float(match["lo"]), float(match["hi"])
    except ValueError:
        return None
    return low, (None if high < 0 else high)


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
        raise ValueError(f"WITSML: {values.shape} values for {depth.shape[0]} depths and {len(curve_names)} curves")
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
        '       <blockInfo uid="1">\n        <indexType>length</indexType>\n',
        "        <direction>increasing</direction>\n",
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
class WitsmlFbeFormat(DepthLogStack):
    """A ``.fbe`` file, or a folder of them (one per chunk), read as one
    ``(depth, time)`` record per curve; see :mod:`raydas.formats.depthlog`.
    Writes a band set (curve name -> Chunk) as one ``.fbe`` per time sample."""

    name = "witsml-fbe"
    description = "WITSML 1.3.1.1 FBE (.fbe) files or folders: one (depth, time) record per curve"
    suffixes = (".fbe", ".xml", ".witsml", ".dts")
    extensions = (".fbe",)
    versions = ("1.3.1.1",)
    tested_on = ("written by itself",)

    def looks_like(self, head: bytes) -> bool:
        start = head[:4096].lstrip()
        return (start.startswith(b"<?xml") and b"WITSMLComposite" in head) or b"<WITSMLComposite" in start

    def parse(self, payload: bytes, url: str):
        return parse_fbe(payload, url)

    def write(self, data, url: str, data_style: str = "raydas", **options) -> list[str]:
        """Write ``<url>/<unixtime>.fbe`` for every time sample of a band set
        (curve name -> Chunk of depth x time; all on the same depths and times).
        A ``url`` ending in ``.fbe`` names the file of a single time sample."""
        from ..fsutil import join, write_bytes_atomic
        from ..timeutil import unix_stem
        from .bandtable import as_band_set

        bands = as_band_set(data)
        cores = [c.trimmed() for c in bands.values()]
        first = cores[0]
        if any(c.data.shape != first.data.shape or c.start_ns != first.start_ns for c in cores):
            raise ValueError("WITSML: every curve must have the same depths and times")
        times = first.times().astype(np.int64)
        if str(url).endswith(".fbe") and times.size != 1:
            raise ValueError(f"WITSML: {url} names one file but the curves hold {times.size} time samples")
        written = []
        for i, t in enumerate(times.tolist()):
            table = np.column_stack([np.asarray(c.data[:, i], dtype=np.float64) for c in cores])
            target = str(url) if str(url).endswith(".fbe") else join(url, f"{unix_stem(t)}.fbe")
            write_bytes_atomic(
                target,
                fbe_document(
                    first.positions, table, list(bands), t, data_style=data_style, unit=first.units or "unitless"
                ),
            )
            written.append(target)
        return written
