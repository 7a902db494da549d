"""Band energies as one long Parquet table: one row per time x channel x band.

Columns: ``time`` (timestamp[ns, UTC]: start of the processing chunk the
energy was computed over), ``position_m`` (float64, m along the fibre),
``band`` (string, distpy's curve name such as ``band_01_10-50``) and
``value`` (float32). The schema metadata key ``raydas`` holds JSON with the
``units`` and the interval ``dt_s`` between chunks.

This is the table a notebook, a database or a BI tool reads directly; reading
it back gives one record per band, ``(channel, time)`` like every other format.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

from ..chunk import Chunk
from ..errors import FormatError
from ..fsutil import atomic_writer, url_to_fs
from ..timeutil import regular_runs
from . import register
from .base import Format, Probe, RecordInfo, quantity_of

COLUMNS = ("time", "position_m", "band", "value")
METADATA_KEY = b"raydas"


def as_band_set(data) -> dict[str, Chunk]:
    """A mapping of curve name to Chunk (channel x time), from a mapping or a single Chunk."""
    if isinstance(data, Chunk):
        return {str(data.attrs.get("curve", "value")): data}
    if isinstance(data, Mapping) and data and all(isinstance(c, Chunk) for c in data.values()):
        return {str(k): v for k, v in data.items()}
    raise TypeError("band energies are a Chunk or a non-empty mapping of curve name -> Chunk (channel x time)")


def band_table(data):
    """The long ``pyarrow.Table`` of a band set (see the module docstring)."""
    import pyarrow as pa

    bands = as_band_set(data)
    parts = []
    for name, chunk in bands.items():
        core = chunk.trimmed()
        n_ch, n_t = core.data.shape
        times = core.times()
        parts.append(
            pa.table(
                {
                    "time": pa.array(np.tile(times, n_ch), type=pa.timestamp("ns", tz="UTC")),
                    "position_m": np.repeat(core.positions, n_t),
                    "band": pa.array([name] * (n_ch * n_t), type=pa.string()),
                    "value": np.asarray(core.data, dtype=np.float32).reshape(-1),
                }
            )
        )
    first = next(iter(bands.values()))
    meta = {"layout": "band energies: one row per time x channel x band", "units": first.units, "dt_s": first.dt}
    table = pa.concat_tables(parts)
    return table.replace_schema_metadata({METADATA_KEY: json.dumps(meta).encode()})


def _parquet(url: str):
    import pyarrow.parquet as pq

    fs, path = url_to_fs(url)
    try:
        return pq.ParquetFile(fs.open(path, "rb"))
    except Exception as exc:
        raise FormatError(url, f"is not a readable Parquet file ({type(exc).__name__}: {exc})") from exc


@register
class BandTableFormat(Format):
    name = "band-parquet"
    description = "band energies as a long Parquet table (time, position_m, band, value)"
    extensions = (".parquet",)
    quantities = ("psd",)
    tested_on = ("written by itself",)

    def write(self, data, url: str, **options) -> list[str]:
        """Write a band set (curve name -> Chunk) as one Parquet table."""
        import pyarrow.parquet as pq

        with atomic_writer(url) as buf:
            pq.write_table(band_table(data), buf)
        return [url]

    suffixes = (".parquet",)

    def signature(self, head: bytes) -> bool:
        return head[:4] == b"PAR1"

    def detect(self, probe: Probe) -> bool:
        if probe.is_dir or probe.head[:4] != b"PAR1":
            return False
        names = set(_parquet(probe.url).schema_arrow.names)
        return set(COLUMNS) <= names

    def scan(self, probe: Probe) -> list[RecordInfo]:
        pf = _parquet(probe.url)
        meta = json.loads((pf.schema_arrow.metadata or {}).get(METADATA_KEY, b"{}"))
        table = pf.read(columns=["time", "position_m", "band"])
        if table.num_rows == 0:
            raise FormatError(probe.url, "band table has no rows")
        bands = np.asarray(table["band"].to_numpy(zero_copy_only=False), dtype=object)
        times = table["time"].cast("int64").to_numpy()
        positions = table["position_m"].to_numpy()
        records = []
        for name in dict.fromkeys(bands.tolist()):
            mine = bands == name
            t = np.unique(times[mine])
            dt, runs = regular_runs(t, meta.get("dt_s"))
            pos = np.unique(positions[mine])
            for lo, hi in runs:
                records.append(
                    RecordInfo(
                        path=probe.url,
                        format=self.name,
                        n_channels=pos.size,
                        n_samples=hi - lo,
                        dt=dt,
                        start_ns=int(t[lo]),
                        positions=pos,
                        units=meta.get("units", ""),
                        quantity=quantity_of(meta.get("units")),
                        key=str(name),
                        stream=str(name),
                        attrs={"times_ns": t[lo:hi].tolist()},
                        # one time and no stated interval: 1 s assumed
                        assumed=("sample_rate",) if t.size < 2 and meta.get("dt_s") is None else (),
                    )
                )
        return records

    def read_samples(self, record: RecordInfo, start: int, stop: int, channels: slice = slice(None)) -> np.ndarray:
        times = np.asarray(record.attrs["times_ns"][start:stop], dtype=np.int64)
        out = np.full((record.n_channels, times.size), np.nan, dtype=np.float32)
        if times.size:
            table = _parquet(record.path).read(columns=list(COLUMNS)).filter(_band_is(record.key))
            t = table["time"].cast("int64").to_numpy()
            keep = (t >= times[0]) & (t <= times[-1])
            col = np.searchsorted(times, t[keep])
            row = np.searchsorted(record.positions, table["position_m"].to_numpy()[keep])
            out[row, col] = table["value"].to_numpy()[keep]
        return out[channels]


def _band_is(name: str):
    import pyarrow.compute as pc

    return pc.field("band") == name
