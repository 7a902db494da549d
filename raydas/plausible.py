"""Plausible numbers: the one set of ranges that sample rates, intervals,
spacings, times and counts must fall in, wherever they come from.

Readers check what a file declares (a failure names the file and only that
file fails); the config models check what a config says (a failure is a
:class:`~raydas.errors.ConfigError` at the JSON path). Both go through the
validators here, which raise :class:`ValueError` with a message saying what is
wrong and the range allowed; the caller adds the file or the JSON path.

The ranges are wide (they refuse what no instrument records, not what is
unusual): a sample every nanosecond to one every ~116 days, channels up to
1000 km apart, times from 1900 to 2200 (within numpy's nanosecond range).
"""

from __future__ import annotations

import math
import typing

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

NS_PER_S = 1_000_000_000

#: sample interval (s): from 1 ns to ~116 days
SAMPLE_INTERVAL_S = (1e-9, 1e7)
#: sample rate (Hz): the inverse of :data:`SAMPLE_INTERVAL_S`
SAMPLE_RATE_HZ = (1.0 / SAMPLE_INTERVAL_S[1], 1.0 / SAMPLE_INTERVAL_S[0])
#: largest distance between neighbouring channels, and largest channel position (m, either sign)
SPACING_M = 1e6
POSITION_M = 1e9
#: largest gauge length (m)
GAUGE_LENGTH_M = 1e5
#: calendar years a recording may start or end in
YEARS = (1900, 2200)
#: the same span as ns since 1970 (UTC): 1900-01-01 .. 2200-01-01
TIME_NS = (-2_208_988_800 * NS_PER_S, 7_258_118_400 * NS_PER_S)
#: largest count of samples (per channel) or channels one record may declare
COUNT_MAX = 2**48


def finite(value, what: str, unit: str = "") -> float:
    """``value`` as a finite float.

    Raises
    ------
    ValueError
        When it is not a number (``True`` is not), or NaN or infinite.
    """
    if isinstance(value, (bool, str, bytes)):
        raise ValueError(f"{what} {value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{what} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} is {number!r}{_unit(unit)}; it must be a finite number")
    return number


def in_range(value, low: float, high: float, what: str, unit: str = "") -> float:
    """``value`` as a finite float in ``[low, high]``, or a ValueError naming both."""
    number = finite(value, what, unit)
    if not low <= number <= high:
        unit = _unit(unit)
        raise ValueError(f"{what} {number:g}{unit} is outside the plausible range {low:g} to {high:g}{unit}")
    return number


def _unit(unit: str) -> str:
    return f" {unit}" if unit else ""


def sample_rate(value, what: str = "sample rate") -> float:
    """A sample rate in Hz, within :data:`SAMPLE_RATE_HZ`."""
    return in_range(value, *SAMPLE_RATE_HZ, what, "Hz")


def sample_interval(value, what: str = "sample interval") -> float:
    """A sample interval in s, within :data:`SAMPLE_INTERVAL_S`."""
    return in_range(value, *SAMPLE_INTERVAL_S, what, "s")


def duration(value, what: str = "duration") -> float:
    """A span of time in s within :data:`SAMPLE_INTERVAL_S` (1 ns to ~116 days)."""
    return in_range(value, *SAMPLE_INTERVAL_S, what, "s")


def spacing(value, what: str = "channel spacing") -> float:
    """A distance between channels in m (either sign), at most :data:`SPACING_M`."""
    return in_range(value, -SPACING_M, SPACING_M, what, "m")


def position(value, what: str = "channel position") -> float:
    """A position along the fibre in m (either sign), at most :data:`POSITION_M` from 0."""
    return in_range(value, -POSITION_M, POSITION_M, what, "m")


def positions(values, what: str = "channel positions") -> None:
    """Channel positions in m (an array): every one finite and at most :data:`POSITION_M` from 0."""
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{what} include {int(np.sum(~np.isfinite(values)))} that are not finite numbers")
    far = float(np.max(np.abs(values)))
    if far > POSITION_M:
        raise ValueError(f"{what} reach {far:g} m, beyond the plausible {POSITION_M:g} m")


def gauge_length(value, what: str = "gauge length") -> float:
    """A gauge length in m (NaN: unknown), at most :data:`GAUGE_LENGTH_M`."""
    if isinstance(value, float) and math.isnan(value):
        return value
    return in_range(value, -GAUGE_LENGTH_M, GAUGE_LENGTH_M, what, "m")


def year(value, what: str = "year") -> int:
    """A calendar year within :data:`YEARS`."""
    return int(in_range(value, *YEARS, what))


def time_ns(value, what: str = "time") -> int:
    """A time in ns since 1970 (UTC) within :data:`TIME_NS` (years 1900 to 2200)."""
    value = int(value) if hasattr(value, "__index__") and not isinstance(value, bool) else finite(value, what)
    if not TIME_NS[0] <= value <= TIME_NS[1]:
        raise ValueError(f"{what} {_as_date(value)} is outside the plausible years {YEARS[0]} to {YEARS[1]}")
    return int(value)


def seconds_to_ns(value, what: str = "time") -> int:
    """A time in s since 1970 (UTC) as ns, checked like :func:`time_ns`."""
    seconds = finite(value, what, "s since 1970")
    if not TIME_NS[0] / NS_PER_S <= seconds <= TIME_NS[1] / NS_PER_S:
        raise ValueError(f"{what} {seconds:g} s since 1970 is outside the plausible years {YEARS[0]} to {YEARS[1]}")
    return int(round(seconds * NS_PER_S))


def _as_date(ns) -> str:
    """``ns`` since 1970 as a rough date for messages (any size)."""
    try:
        return f"{1970 + float(ns) / NS_PER_S / 31_556_952:.0f} (year, approximately; {ns} ns since 1970)"
    except OverflowError:
        return f"{ns} ns since 1970"


def count(value, what: str = "count", high: int = COUNT_MAX) -> int:
    """A non-negative whole number (``True`` is not one) at most ``high``."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"{what} {value!r} is not a whole number")
    value = int(value)
    if not 0 <= value <= high:
        raise ValueError(f"{what} {value} is outside the plausible range 0 to {high}")
    return value


_BYTE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 2**10, "mib": 2**20}
_BYTE_UNITS.update({"gib": 2**30, "tib": 2**40, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12})


def byte_size(value, what: str = "size") -> int:
    """A size in bytes: a whole number, or a string with a unit (``"50 GB"``, ``"4GiB"``).

    Raises
    ------
    ValueError
        When it is not a size (``True`` is not one), or negative.
    """
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "").replace("_", "")
        number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
        unit = text[len(number) :]
        try:
            value = float(number) * _BYTE_UNITS[unit]
        except (KeyError, ValueError):
            raise ValueError(f"{what} {value!r} is not a size (e.g. 5000000000, '50 GB', '4 GiB')") from None
    number = finite(value, what, "bytes")
    if number < 0:
        raise ValueError(f"{what} {number:g} bytes is negative")
    return int(number)


# --- config models --------------------------------------------------------------------------
def _numeric_kinds(annotation) -> set[type]:
    """Which of ``int`` and ``float`` a field annotation admits (``int | None`` -> {int})."""
    args = typing.get_args(annotation)
    if args:
        return set().union(*(_numeric_kinds(a) for a in args))
    return {annotation} & {int, float}


class SaneNumbers(BaseModel):
    """Base of the config models: their numbers are sane or refused.

    NaN and infinities (``NaN``, ``Infinity``, or ``1e309`` as Python's JSON
    reads it) are refused, and ``true``/``false`` are neither integers nor
    numbers (pydantic would read ``true`` as 1).
    """

    model_config = ConfigDict(allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value, info: ValidationInfo):
        if isinstance(value, bool) and info.field_name in cls.model_fields:
            kinds = _numeric_kinds(cls.model_fields[info.field_name].annotation)
            if kinds and not _admits_bool(cls.model_fields[info.field_name].annotation):
                raise ValueError(f"{str(value).lower()} is not {'an integer' if kinds == {int} else 'a number'}")
        return value


def _admits_bool(annotation) -> bool:
    args = typing.get_args(annotation)
    if args:
        return any(_admits_bool(a) for a in args)
    return annotation is bool or annotation is typing.Any


__all__ = [
    "COUNT_MAX",
    "GAUGE_LENGTH_M",
    "POSITION_M",
    "SAMPLE_INTERVAL_S",
    "SAMPLE_RATE_HZ",
    "SPACING_M",
    "SaneNumbers",
    "TIME_NS",
    "YEARS",
    "byte_size",
    "count",
    "duration",
    "finite",
    "gauge_length",
    "in_range",
    "position",
    "positions",
    "sample_interval",
    "sample_rate",
    "seconds_to_ns",
    "spacing",
    "time_ns",
    "year",
]
