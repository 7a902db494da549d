"""Time helpers. raydas keeps absolute times as integer nanoseconds since
1970-01-01T00:00:00 UTC (``int``), so that chunk arithmetic never drifts."""

from __future__ import annotations

import datetime as _dt

import numpy as np

NS_PER_S = 1_000_000_000


def parse_iso(text: str | bytes) -> int:
    """Parse an ISO-8601 time (any UTC offset, 'Z' allowed) into ns since epoch (UTC).

    A time without an offset is taken as UTC.
    """
    if isinstance(text, (bytes, np.bytes_)):
        text = text.decode("utf-8", "replace")
    text = str(text).strip().strip("\x00")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # datetime handles microseconds; keep any extra digits ourselves.
    frac_ns = 0
    main = text
    if "." in text:
        head, tail = text.split(".", 1)
        digits = ""
        rest = ""
        for i, c in enumerate(tail):
            if c.isdigit():
                digits += c
            else:
                rest = tail[i:]
                break
        frac_ns = int((digits + "000000000")[:9]) if digits else 0
        main = head + rest
    stamp = _dt.datetime.fromisoformat(main)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=_dt.UTC)
    seconds = int(stamp.timestamp())
    return seconds * NS_PER_S + frac_ns


def to_iso(ns: int) -> str:
    """Format ns since epoch as ISO-8601 UTC with microseconds and a 'Z'."""
    return str(np.datetime64(int(ns), "ns").astype("datetime64[us]")) + "Z"


def unix_stem(ns: int) -> str:
    """File stem for a chunk starting at ``ns``: unix seconds, with milliseconds
    when the start is not on a whole second (distpy names chunks ``<unixtime>``)."""
    sec, rem = divmod(int(ns), NS_PER_S)
    if rem == 0:
        return str(sec)
    return f"{sec}.{rem // 1_000_000:03d}"


def regular_runs(times_ns, dt: float | None = None) -> tuple[float, list[tuple[int, int]]]:
    """Split sorted sample times into runs on a regular time grid.

    Parameters
    ----------
    times_ns
        Sample times, ns since epoch (UTC), sorted ascending.
    dt
        Sample interval in s; the median spacing of ``times_ns`` when None
        (1 s when there is a single time).

    Returns
    -------
    dt, runs
        The interval (s) and ``[(first, stop), ...]`` index ranges: a new run
        starts wherever two neighbours are not ``dt`` apart (within half a
        sample), so a run never bridges a gap, an overlap or a change of rate.
    """
    times = np.asarray(times_ns, dtype=np.int64)
    if times.size == 0:
        return (dt or 1.0), []
    steps = np.diff(times)
    if dt is None:
        dt = float(np.median(steps)) / NS_PER_S if steps.size else 1.0
        if not dt > 0:
            raise ValueError("repeated sample times: cannot tell the sample interval")
    breaks = np.flatnonzero(np.abs(steps - dt * NS_PER_S) > 0.5 * dt * NS_PER_S) + 1
    edges = [0, *breaks.tolist(), times.size]
    return dt, list(zip(edges[:-1], edges[1:]))


def stem_to_ns(stem: str) -> int:
    """Inverse of :func:`unix_stem`: ``"1717243200.125"`` -> ns since epoch, exactly."""
    whole, _, frac = str(stem).partition(".")
    return int(whole) * NS_PER_S + (int((frac + "000000000")[:9]) if frac else 0)
