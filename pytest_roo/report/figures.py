"""The numbers behind the HTML report: timelines, percentile spectra, histograms, margins.

Everything the charts show is computed here, in Python, from the session report document
(``Store.to_dict()``); the page's script only draws what it is given (uPlot computes no
statistics). Series are bounded in length so that the report of a long run stays small: a
timeline keeps at most :data:`MAX_POINTS` rows, a spectrum ten points per decade of
``1 / (1 - percentile)``, a histogram :data:`HISTOGRAM_BINS` bins.

No pytest import; numpy and HdrHistogram are imported where they are used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pytest_roo.report.distributions import (
    HISTOGRAM_BINS,
    histogram_buckets,
    latency_histogram,
    spectrum,
    values_at_percentiles,
)
from pytest_roo.report.resource_timeline import resource_timeline
from pytest_roo.report.series import MAX_POINTS
from pytest_roo.report.timelines import downsample_timeline, overlay_baseline

__all__ = [
    "HISTOGRAM_BINS",
    "MAX_POINTS",
    "downsample_timeline",
    "histogram_buckets",
    "latency_histogram",
    "margin",
    "overlay_baseline",
    "resource_timeline",
    "spectrum",
    "status_of",
    "summarize",
    "values_at_percentiles",
]


def status_of(verdict: Mapping[str, Any]) -> str:
    """``pass``, ``fail`` or ``inconclusive``: the verdict's ``status`` where it has one."""
    status = str(verdict.get("status") or "").lower()
    if status in ("pass", "fail", "inconclusive"):
        return status
    return "pass" if verdict.get("passed") else "fail"


def margin(verdict: Mapping[str, Any]) -> float | None:
    """How far the measured value is from the limit, as a share of the limit.

    Positive: room left (``p95 < 50ms`` measured 40 ms -> 0.2); negative: by how much the limit
    is broken. None when nothing was measured or the limit is zero (no share to speak of).

    >>> margin({"op": "<", "limit": 0.05, "measured": 0.04})
    0.2
    >>> margin({"op": ">=", "limit": 0.95, "measured": 0.9})
    -0.0526
    """
    measured, limit, op = verdict.get("measured"), verdict.get("limit"), verdict.get("op")
    if not isinstance(measured, (int, float)) or not isinstance(limit, (int, float)):
        return None
    if not math.isfinite(measured) or not math.isfinite(limit) or limit == 0:
        return None
    if op in ("<", "<="):
        share = (limit - measured) / abs(limit)
    elif op in (">", ">="):
        share = (measured - limit) / abs(limit)
    else:  # ==: any distance is the wrong way
        share = -abs(measured - limit) / abs(limit)
    return round(share, 4)


def summarize(report: Mapping[str, Any], worst: int = 5) -> dict[str, Any]:
    """The summary on top of the report: counts, the tightest margins, what failed and why."""
    counts = {"pass": 0, "fail": 0, "inconclusive": 0}
    outcomes: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for test in report.get("tests", []):
        outcome = str(test.get("outcome", "passed"))
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        for verdict in test.get("verdicts", []):
            status = status_of(verdict)
            counts[status] += 1
            row = {"test": test.get("nodeid", ""), "verdict": verdict, "status": status,
                   "margin": margin(verdict)}
            rows.append(row)
            if status != "pass":
                failures.append(row)
        if outcome in ("failed", "error", "interrupted") and not any(
            status_of(v) != "pass" for v in test.get("verdicts", [])
        ):
            failures.append({"test": test.get("nodeid", ""), "verdict": None, "status": outcome,
                             "message": test.get("message") or "; ".join(test.get("notes", []))})
    matrix = (report.get("sections") or {}).get("matrix")
    failing_cells = [
        cell for cell in (matrix.get("cells", []) if isinstance(matrix, Mapping) else [])
        if isinstance(cell, Mapping) and cell.get("outcome") == "fail"
    ]
    # a failing browser cell is said once, by the matrix, with its cell's name
    said = {cell.get("nodeid") for cell in failing_cells}
    failures = [f for f in failures if f["verdict"] is not None or f["test"] not in said]
    for cell in failing_cells:
        failures.append({"test": cell.get("nodeid") or cell.get("test", ""), "verdict": None,
                         "status": "fail", "message": f"browser cell {cell.get('cell')}: "
                                                      f"{cell.get('reason') or 'failed'}"})
    measured = [row for row in rows if row["margin"] is not None]
    measured.sort(key=lambda row: row["margin"])
    return {
        "criteria": sum(counts.values()),
        "counts": counts,
        "outcomes": outcomes,
        "results": sum(len(t.get("results", [])) for t in report.get("tests", [])),
        "worst": measured[:worst],
        "failures": failures,
    }
