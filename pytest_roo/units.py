"""Parsing and formatting of the quantities pytest-roo speaks in: durations, rates, percentages.

Plain Python, no pytest import: the load engine, the criteria language and the option parsers
all share these, so "10s", "2000/s" and "95%" mean the same thing everywhere.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "format_count",
    "format_duration",
    "format_percent",
    "format_rate",
    "parse_duration",
    "parse_percent",
    "parse_rate",
]

_NUMBER = r"(?P<num>\d+(?:\.\d+)?|\.\d+)"
_DURATION_RE = re.compile(_NUMBER + r"\s*(?P<unit>us|µs|ms|s|m|min|h)?", re.IGNORECASE)
_DURATION_UNITS = {
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
}
_RATE_RE = re.compile(_NUMBER + r"\s*(?:/\s*(?P<per>s|sec|m|min)|(?P<rps>rps))?", re.IGNORECASE)
_PERCENT_RE = re.compile(_NUMBER + r"\s*(?P<pct>%)?")

DURATION_FORMS = "a number of seconds (2.5) or a number with a unit: 500ms, 10s, 2m, 1h"
RATE_FORMS = "a number per second: 2000/s, 2000 (per second), 120/m"
PERCENT_FORMS = "a percentage 95% or a fraction 0.95 (between 0 and 1)"


def parse_duration(value: str | float | int) -> float:
    """Return a duration in seconds from ``"10s"``, ``"2m"``, ``"500ms"``, ``"1h"`` or a number.

    A bare number is seconds. Raises ``ValueError`` naming the value and the accepted forms.

    >>> parse_duration("2m"), parse_duration("250ms"), parse_duration(3)
    (120.0, 0.25, 3.0)
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: expected {DURATION_FORMS}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION_RE.fullmatch(value.strip())
        if not match:
            raise ValueError(f"invalid duration {value!r}: expected {DURATION_FORMS}")
        unit = (match.group("unit") or "s").lower()
        seconds = float(match.group("num")) * _DURATION_UNITS[unit]
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"invalid duration {value!r}: must be a finite, non-negative time")
    return seconds


def parse_rate(value: str | float | int) -> float:
    """Return a rate in operations per second from ``"2000/s"``, ``"120/m"`` or a number.

    >>> parse_rate("2000/s"), parse_rate("120/m"), parse_rate(50)
    (2000.0, 2.0, 50.0)
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid rate {value!r}: expected {RATE_FORMS}")
    if isinstance(value, (int, float)):
        rate = float(value)
    else:
        match = _RATE_RE.fullmatch(value.strip())
        if not match:
            raise ValueError(f"invalid rate {value!r}: expected {RATE_FORMS}")
        rate = float(match.group("num"))
        per = (match.group("per") or "s").lower()
        if per in ("m", "min"):
            rate /= 60.0
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"invalid rate {value!r}: must be a positive number per second")
    return rate


def parse_percent(value: str | float | int) -> float:
    """Return a fraction in [0, 1] from ``"95%"`` or ``"0.95"``.

    >>> parse_percent("95%"), parse_percent("0.5"), parse_percent("100%")
    (0.95, 0.5, 1.0)
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid percentage {value!r}: expected {PERCENT_FORMS}")
    if isinstance(value, (int, float)):
        fraction = float(value)
    else:
        match = _PERCENT_RE.fullmatch(value.strip())
        if not match:
            raise ValueError(f"invalid percentage {value!r}: expected {PERCENT_FORMS}")
        fraction = float(match.group("num"))
        if match.group("pct"):
            fraction /= 100.0
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"invalid percentage {value!r}: expected {PERCENT_FORMS}")
    return fraction


def format_duration(seconds: float | None) -> str:
    """Human form with three significant digits: ``48.2 ms``, ``812 us``, ``1.50 s``."""
    if seconds is None or math.isnan(seconds):
        return "-"
    magnitude = abs(seconds)
    if magnitude >= 1.0:
        return f"{_sig3(seconds)} s"
    if magnitude >= 1e-3:
        return f"{_sig3(seconds * 1e3)} ms"
    if magnitude >= 1e-6 or magnitude == 0.0:
        return f"{_sig3(seconds * 1e6)} us"
    return f"{_sig3(seconds * 1e9)} ns"  # pytest-benchmark's sub-microsecond calls


def format_percent(fraction: float | None) -> str:
    """A fraction as a percentage for tables: ``0.0123`` -> ``1.23%``; ``-`` for None or NaN."""
    if fraction is None or math.isnan(fraction):
        return "-"
    pct = fraction * 100.0
    if pct == 0 or pct >= 10:
        return f"{pct:.1f}%"
    return f"{pct:.3g}%"


def format_rate(per_second: float | None) -> str:
    """A rate for tables: ``1,234.5/s``; ``-`` for None or NaN."""
    if per_second is None or math.isnan(per_second):
        return "-"
    return f"{per_second:,.1f}/s"


def format_count(count: float | None) -> str:
    """A count for tables with thousands separators; ``-`` for None or NaN."""
    if count is None or math.isnan(count):
        return "-"
    return f"{count:,.0f}" if float(count).is_integer() else f"{count:,.2f}"


def _sig3(value: float) -> str:
    if value == 0:
        return "0"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{digits}f}"
