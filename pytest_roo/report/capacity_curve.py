"""The capacity curve of a result (``info["capacity"]``, :mod:`pytest_roo.slo.capacity`) for
the HTML report: chart columns by offered rate, and the table of the steps.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

from pytest_roo import units
from pytest_roo.report.series import _sig

__all__ = ["capacity_curve", "capacity_html"]

_STATS = ("p50", "p95", "p99")


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def capacity_curve(doc: Any) -> dict[str, Any] | None:
    """Columns of the capacity charts, one row per step, by offered rate (x):
    ``offered`` (the diagonal), ``achieved`` (successful answers per second inside the step),
    ``error_pct``, ``latency_ms`` (p50, p95, p99) and ``limits_ms`` (the criteria's latency
    limits, drawn flat); None without steps.

    >>> c = capacity_curve({"steps": [{"offered": 25, "achieved": 25, "p95": 0.004,
    ...                                "error_rate": 0.0}], "latency_limits": {"p95": 0.1}})
    >>> c["x"], c["achieved"], c["latency_ms"]["p95"], c["limits_ms"]["p95 limit"]
    ([25.0], [25.0], [4.0], [100.0])
    """
    if not isinstance(doc, Mapping):
        return None
    steps = [s for s in doc.get("steps") or [] if isinstance(s, Mapping)
             and _num(s.get("offered")) is not None]
    if not steps:
        return None
    steps.sort(key=lambda s: float(s["offered"]))
    x = [_sig(float(s["offered"])) for s in steps]
    latency: dict[str, list[float | None]] = {}
    for stat in _STATS:
        column = [_num(s.get(stat)) for s in steps]
        latency[stat] = [None if v is None else _sig(v * 1000) for v in column]
    limits = doc.get("latency_limits")
    if not isinstance(limits, Mapping):
        limits = {}
    limits_ms = {f"{stat} limit": [_sig(float(value) * 1000)] * len(steps)
                 for stat, value in sorted(limits.items()) if _num(value) is not None}
    rates = [_num(s.get("error_rate")) for s in steps]
    return {
        "x": x,
        "offered": list(x),
        "achieved": [_sig(_num(s.get("achieved")) or 0.0) for s in steps],
        "error_pct": [None if r is None else _sig(r * 100) for r in rates],
        "latency_ms": latency,
        "limits_ms": limits_ms,
        "status": [str(s.get("status", "")) for s in steps],
    }


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def capacity_html(doc: Any) -> str:
    """The steps as a table under the curve's one-line summary ("" without steps)."""
    if not isinstance(doc, Mapping):
        return ""
    steps = [s for s in doc.get("steps") or [] if isinstance(s, Mapping)]
    if not steps:
        return ""
    knee = doc.get("knee") if isinstance(doc.get("knee"), Mapping) else None
    rows = []
    for index, step in enumerate(steps):
        mark = " (knee)" if knee is not None and knee.get("index") == index else ""
        cells = [
            f"{_num(step.get('multiplier')) or 0:g}x{mark}",
            units.format_rate(_num(step.get("offered"))),
            units.format_rate(_num(step.get("achieved"))),
            *(units.format_duration(_num(step.get(stat))) for stat in _STATS),
            units.format_percent(_num(step.get("error_rate"))),
            str(step.get("status", "")),
            "; ".join(str(r) for r in step.get("reasons") or []),
        ]
        status = _e(step.get("status", ""))
        rows.append(f'<tr class="capacity-{status}">'
                    + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    heads = ["step", "offered", "achieved", "p50", "p95", "p99", "errors", "status", "why"]
    return (
        f'<p class="capacity">Capacity: {_e(doc.get("summary", ""))}</p>'
        '<table class="capacity"><thead><tr>' + "".join(f"<th>{h}</th>" for h in heads)
        + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )
