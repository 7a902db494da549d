"""Febus A1 HDF5 (legacy files without a version, and firmware 2.x).

Layout: ``/<device>/Source<N>/`` with a ``time`` data set (one time stamp per
block, s since 1970, UTC) and one group per fibre zone, ``Zone<M>``, whose
attributes describe the grid and whose 3-D data sets hold the products as
``(block, time in block, channel)`` float32:

* ``Spacing`` = [channel spacing (m), sample interval (ms), 1];
  ``Origin`` = [first position (m), time offset (ms), 0];
  ``Extent`` = [first, last channel index, first, last sample index, 0, 0]
  (of the untrimmed acquisition); ``GaugeLength`` (m); ``SamplingRate`` (Hz);
  ``BlockRate`` (blocks per 1000 s, i.e. mHz) and, from firmware 2.3.13,
  ``BlockOverlap`` (%);
* ``Source`` attribute ``Version`` (``2.3.21``...); absent on legacy files.
* legacy products are named ``Strain`` / ``StrainRate`` (or a user name such as
  ``SR_Valencia``); firmware 2.x names them with the unit, ``Strain [nStrain]``
  and ``Strain Rate [nStrain|s]``. Other products (power spectral density,
  back-scatter power...) have other axes and units: they are not read, and a
  zone holding only those is refused with a :class:`FormatError` naming them.

Blocks overlap (typically each block is twice as long as the interval between
blocks). Each block contributes its middle ``interval x rate`` samples, so
consecutive blocks tile time exactly once. Firmware 2.3.13 and later stamp
the middle of a block; older files stamp its start.

Sample rate: ``Spacing[1]`` and ``SamplingRate`` can disagree (the real
PubDAS Valencia excerpt says 2 ms and 250 Hz: it was decimated after
recording). The rate that wins is the first of (``Spacing``,
``SamplingRate``) under which a block is long enough to cover the interval
between block time stamps; on Valencia that is 250 Hz (250 samples per block,
blocks 1 s apart), while 500 Hz would leave a 0.5-s gap after every block.
``attrs["rate_source"]`` says which was used.

Blocks whose time stamps break the regular cadence by more than a quarter of
an interval start a new record, so gaps show up as breaks.
"""

from __future__ import annotations

import re

import numpy as np

from .. import plausible
from ..errors import FormatError
from ..timeutil import NS_PER_S
from . import register
from .base import RecordInfo, attr_lookup, attr_number, attr_text, checked, quantity_of
from .hdf5 import HDF5Format, numeric_dataset, stored_shape

_SOURCE = re.compile(r"^Source\d+$")
_ZONE = re.compile(r"^Zone\d+$")
#: firmware from which the block time stamp is the middle of the block
MIDDLE_STAMP_VERSION = (2, 3, 13)


def _version(text: str) -> tuple[int, ...]:
    parts = re.findall(r"\d+", text)
    return tuple(int(p) for p in parts[:3]) if parts else (1,)


def product_of(name: str) -> tuple[str, str] | None:
    """``(quantity, unit)`` of a Febus product data set name, or ``None`` when
    it is neither strain nor strain rate."""
    unit = ""
    bracket = re.search(r"\[([^\]]*)\]", name)
    if bracket:
        unit = bracket.group(1).strip().lower().replace("|", "/")
    key = re.sub(r"\[.*?\]", "", name).lower()
    key = "".join(c for c in key if c.isalnum())
    if "strainrate" in key or key.startswith("sr"):
        return "strain rate", unit
    if key.startswith("strain"):
        return "strain", unit
    return None


def _sources(h5) -> list[tuple[str, object]]:
    import h5py

    found = []
    for device in h5.values():
        if not isinstance(device, h5py.Group):
            continue
        for name, source in device.items():
            if isinstance(source, h5py.Group) and _SOURCE.match(name) and "time" in source:
                found.append((source.name, source))
    return found


def _zone_attr(url: str, zone, source, name: str, n: int | None = None) -> np.ndarray:
    value = attr_lookup(zone.attrs, name, default=attr_lookup(source.attrs, name))
    if value is None:
        raise FormatError(url, f"Febus zone {zone.name} has no {name!r} attribute")
    arr = np.atleast_1d(np.asarray(value, dtype=np.float64)).reshape(-1)
    if n is not None and arr.size < n:
        raise FormatError(url, f"Febus {name!r} of {zone.name} has {arr.size} values; expected {n}")
    return arr


def _choose_rate(url: str, zone, source, per_block: int, interval: float | None) -> tuple[float, str]:
    spacing = _zone_attr(url, zone, source, "Spacing", 2)
    candidates = []
    if spacing[1] > 0:
        candidates.append((1000.0 / spacing[1], "Spacing"))
    rate_attr = attr_lookup(zone.attrs, "SamplingRate", default=attr_lookup(source.attrs, "SamplingRate"))
    if rate_attr is not None and attr_number(rate_attr) > 0:
        candidates.append((attr_number(rate_attr), "SamplingRate"))
    if not candidates:
        raise FormatError(url, f"Febus zone {zone.name} gives no sample interval (Spacing, SamplingRate)")
    if interval is None:
        return candidates[0]
    for rate, where in candidates:
        if per_block / rate >= interval * 0.98:
            return rate, where
    said = ", ".join(f"{where} {rate:g} Hz" for rate, where in candidates)
    raise FormatError(
        url,
        f"Febus blocks of {per_block} samples cannot cover the {interval:g}-s interval between "
        f"blocks at any stated rate ({said}); the file is inconsistent",
    )


def _runs(starts: np.ndarray, step: float) -> list[tuple[int, int]]:
    """Split block start times into runs where consecutive blocks are ``step`` apart (+-25 %)."""
    runs, lo = [], 0
    for i in range(1, starts.shape[0]):
        if abs(starts[i] - starts[i - 1] - step) > 0.25 * step:
            runs.append((lo, i))
            lo = i
    runs.append((lo, starts.shape[0]))
    return runs


@register
class FebusFormat(HDF5Format):
    name = "febus"
    description = "Febus A1 HDF5, legacy and firmware 2.x (strain and strain rate)"
    extensions = (".h5", ".hdf5")
    quantities = ("strain_rate", "strain")
    versions = ("legacy", "2.x")
    tested_on = ("real/hdf5/valencia_febus_example.h5",)

    def looks_like(self, h5) -> bool:
        return any(any(_ZONE.match(k) for k in source) for _, source in _sources(h5))

    def scan_hdf5(self, url: str, h5) -> list[RecordInfo]:
        import h5py

        records = []
        for source_name, source in _sources(h5):
            for zone_name in sorted(k for k in source if _ZONE.match(k)):
                zone = source[zone_name]
                products, others = [], []
                for name, node in zone.items():
                    if not isinstance(node, h5py.Dataset):
                        continue
                    kind = product_of(name)
                    (products if kind else others).append((name, kind))
                if not products:
                    raise FormatError(
                        url,
                        f"Febus zone {zone.name} holds {', '.join(n for n, _ in others) or 'no data'}; "
                        "raydas reads only strain and strain-rate products (other products have "
                        "other axes and units)",
                    )
                for name, (quantity, unit) in products:
                    single = len(products) == 1 and (source_name.endswith("/Source1") and zone_name == "Zone1")
                    stream = "" if single else f"{source_name.rsplit('/', 1)[1]}/{zone_name}/{name}"
                    records.extend(
                        self._records(url, source, zone, name, quantity, unit, stream, [n for n, _ in others])
                    )
        if not records:
            raise FormatError(url, "Febus file has no Source/Zone data")
        return records

    def _records(self, url, source, zone, name, quantity, unit, stream, skipped) -> list[RecordInfo]:
        data = numeric_dataset(url, zone, name, ndim=3, axes="block, time, channel")
        n_blocks, per_block, n_chan = stored_shape(url, data)
        times = numeric_dataset(url, source, "time", ndim=(1, 2))
        stored_shape(url, times, partial=False)  # read whole: it must all be there
        stamps = np.asarray(times[...], dtype=np.float64).reshape(-1)
        if stamps.shape[0] < n_blocks:
            raise FormatError(url, f"{source.name}/time has {stamps.shape[0]} stamps for {n_blocks} blocks")
        stamps = stamps[:n_blocks]
        if not np.all(np.isfinite(stamps)):
            raise FormatError(url, f"{source.name}/time holds non-finite block times")
        for stamp in (stamps.min(), stamps.max()):
            checked(url, plausible.seconds_to_ns, stamp, f"Febus block time ({source.name}/time)")
        origin = _zone_attr(url, zone, source, "Origin", 2) if "Origin" in zone.attrs else np.zeros(3)
        stamps = stamps + origin[1] / 1000.0
        block_rate = attr_lookup(zone.attrs, "BlockRate", default=attr_lookup(source.attrs, "BlockRate"))
        if n_blocks > 1:
            interval = float(np.median(np.diff(stamps)))
        elif block_rate is not None and attr_number(block_rate) > 0:
            interval = 1000.0 / attr_number(block_rate)
        else:
            interval = None
        if interval is not None and not interval > 0:
            raise FormatError(url, f"{source.name}/time is not increasing")
        rate, rate_source = _choose_rate(url, zone, source, per_block, interval)
        dt = 1.0 / checked(url, plausible.sample_rate, rate, f"Febus sample rate ({rate_source} of {zone.name})")
        keep = per_block if interval is None else min(per_block, max(1, int(round(interval * rate))))
        skip = (per_block - keep) // 2
        version_text = attr_text(attr_lookup(source.attrs, "Version", default=""))
        version = _version(version_text)
        starts = stamps - (per_block * dt / 2 if version >= MIDDLE_STAMP_VERSION else 0.0)
        spacing = _zone_attr(url, zone, source, "Spacing", 2)
        checked(url, plausible.spacing, spacing[0], f"Febus channel spacing (Spacing of {zone.name})")
        extent = zone.attrs.get("Extent")
        first_index = float(np.asarray(extent).reshape(-1)[0]) if extent is not None else 0.0
        positions = origin[0] + (first_index + np.arange(n_chan)) * spacing[0]
        gauge = attr_lookup(zone.attrs, "GaugeLength", default=attr_lookup(source.attrs, "GaugeLength"))
        out = []
        for lo, hi in _runs(starts, keep * dt):
            jitter = starts[lo:hi] - (starts[lo] + np.arange(hi - lo) * keep * dt)
            out.append(
                RecordInfo(
                    path=url,
                    format=self.name,
                    n_channels=int(n_chan),
                    n_samples=int((hi - lo) * keep),
                    dt=dt,
                    start_ns=int(round((starts[lo] + skip * dt) * NS_PER_S)),
                    positions=positions,
                    units=unit,
                    quantity=quantity_of(quantity),
                    gauge_length=attr_number(gauge) if gauge is not None else float("nan"),
                    key=data.name if (lo, hi) == (0, n_blocks) else f"{data.name}#blocks{lo}-{hi}",
                    stream=stream,
                    attrs={
                        "dataset": data.name,
                        "first_block": lo,
                        "keep": keep,
                        "skip": skip,
                        "quantity": quantity,
                        "rate_source": rate_source,
                        "version": version_text or "legacy",
                        "max_block_jitter_s": float(np.max(np.abs(jitter))),
                        "skipped_products": skipped,
                    },
                )
            )
        return out

    def read_hdf5(self, h5, record: RecordInfo, start: int, stop: int, channels: slice) -> np.ndarray:
        """The kept middle samples of the blocks the window covers, block after block."""
        a = record.attrs
        keep, skip = a["keep"], a["skip"]
        start, stop = max(0, start), min(stop, record.n_samples)
        n_chan = len(range(record.n_channels)[channels])
        if stop <= start:
            return np.zeros((n_chan, 0), dtype=np.float32)
        out = np.empty((n_chan, stop - start), dtype=np.float32)
        data = h5.get(a["dataset"])
        if data is None:
            raise FormatError(record.path, f"data set {a['dataset']} is missing")
        first = a["first_block"]
        for block in range(start // keep, (stop - 1) // keep + 1):  # only the kept samples the window needs
            lo = max(start, block * keep) - block * keep
            hi = min(stop, (block + 1) * keep) - block * keep
            at = block * keep + lo - start
            out[:, at : at + hi - lo] = data[first + block, skip + lo : skip + hi, channels].T
        return out


__all__ = ["FebusFormat", "product_of"]
