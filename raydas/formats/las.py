"""LAS 2.0 FBE files: one chunk's band energies as a well log (DEPT plus one
column per band), as Techlog exports them and distpy's ``las2fbe`` converts.

Read from the LAS 2.0 rules: sections start with ``~`` (``~V`` version,
``~W`` well, ``~C`` curves, ``~P`` parameters, ``~O`` other, ``~A`` data);
header lines are ``MNEM.UNIT  VALUE : DESCRIPTION``; ``~V`` must say
``VERS. 2.0`` and ``WRAP. NO``; the ``NULL`` value of ``~W`` marks missing
samples (read as NaN); the first curve is the depth index. The time of the
file is the ``DATE`` line of ``~W`` (ISO 8601, e.g. ``2016-12-13 07:13:49+00:00``).

A folder of ``.las`` files re-ingests as one (depth, time) record per band,
exactly like WITSML FBE folders (:mod:`raydas.formats.depthlog`).
"""

from __future__ import annotations

import numpy as np

from ..errors import FormatError
from ..timeutil import parse_iso
from . import register
from .depthlog import DepthLogStack

DEPTH_UNITS_TO_M = {"M": 1.0, "F": 0.3048, "FT": 0.3048}


def _header_line(line: str) -> tuple[str, str, str]:
    """``(mnemonic, unit, value)`` of a ``MNEM.UNIT VALUE : DESCRIPTION`` line."""
    mnemonic, _, rest = line.partition(".")
    unit, _, rest = rest.partition(" ") if not rest.startswith(" ") else ("", "", rest)
    value = rest.rpartition(":")[0] if ":" in rest else rest
    return mnemonic.strip().upper(), unit.strip(), value.strip()


def parse_las(payload: bytes, url: str = "<bytes>") -> tuple[int, list[str], np.ndarray, np.ndarray]:
    """Parse a LAS 2.0 FBE file.

    Returns
    -------
    time_ns, curve_names, depth, values
        Depth in m (converted from ft when the DEPT unit says so); ``values``
        has shape ``(n_depths, n_curves)``, the depth column excluded.
    """
    text = payload.decode("latin-1")
    sections: dict[str, list[str]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("~"):
            current = line[1:2].upper()
            sections.setdefault(current, [])
            continue
        if current is None:
            raise FormatError(url, "LAS file has text before its first ~ section")
        sections[current].append(line)
    version = {m: v for m, _, v in map(_header_line, sections.get("V", []))}
    if not version.get("VERS", "").startswith("2"):
        raise FormatError(url, f"is LAS version {version.get('VERS', 'unknown')!r}; only LAS 2.0 is read")
    if version.get("WRAP", "NO").upper() != "NO":
        raise FormatError(url, "wrapped LAS (WRAP. YES) is not supported")
    well = {m: v for m, _, v in map(_header_line, sections.get("W", []))}
    if "DATE" not in well:
        raise FormatError(url, "~W section has no DATE line (the time of the FBE chunk)")
    try:
        time_ns = parse_iso(well["DATE"])
    except ValueError:
        raise FormatError(url, f"DATE {well['DATE']!r} is not an ISO 8601 time") from None
    curves = [_header_line(line) for line in sections.get("C", [])]
    if len(curves) < 2 or "A" not in sections:
        raise FormatError(url, "needs a ~C section with DEPT and at least one band, and an ~A data section")
    try:
        table = np.array([[float(v) for v in row.split()] for row in sections["A"]], dtype=np.float64)
    except ValueError as exc:
        raise FormatError(url, f"~A section has a non-numeric value ({exc})") from exc
    if table.ndim != 2 or table.shape[1] != len(curves):
        raise FormatError(
            url, f"~A rows have {table.shape[-1] if table.ndim == 2 else 'ragged'} values for {len(curves)} curves"
        )
    null = well.get("NULL")
    if null:
        table[table == float(null)] = np.nan
    depth = table[:, 0] * DEPTH_UNITS_TO_M.get(curves[0][1].upper(), 1.0)
    return time_ns, [name for name, _, _ in curves[1:]], depth, table[:, 1:]


@register
class LasFbeFormat(DepthLogStack):
    name = "las-fbe"
    description = "LAS 2.0 FBE files or folders (DEPT + band columns): one (depth, time) record per band"
    suffixes = (".las",)
    extensions = (".las",)
    versions = ("2.0",)
    tested_on = ("written by the tests",)

    def looks_like(self, head: bytes) -> bool:
        start = head.lstrip()[:200].upper()
        return start.startswith(b"~V") and b"VERS" in start

    def parse(self, payload: bytes, url: str):
        return parse_las(payload, url)
