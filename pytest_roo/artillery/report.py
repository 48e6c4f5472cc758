"""Artillery's JSON report (``artillery run --output``) as a LoadResult.

What maps to what:

* ``operations``: ``http.requests`` when the scenario made HTTP requests, else
  ``vusers.created`` (one operation per virtual user: WebSocket and Socket.IO flows).
* ``errors``: Artillery's ``errors.<code>`` counters by kind (ECONNREFUSED -> ``refused``,
  ETIMEDOUT/ESOCKETTIMEDOUT -> ``timeout``, ECONNRESET/EPIPE -> ``reset``, a failed
  ``capture``/``match`` -> ``mismatch``, anything else ``other``) plus, for HTTP, answers
  ``http.codes.4xx/5xx`` (``http_4xx``/``http_5xx``).
* ``counters``: every Artillery counter (names as Artillery writes them); ``info["rates"]``:
  its rates.
* latency metrics: one per Artillery *summary* (``http.response_time`` ->
  ``http_response_time``, ``vusers.session_length`` -> ``vusers_session_length``, custom
  histograms by their names; characters a criterion cannot name become ``_``).

Artillery does not export its histograms, only summaries: min, max, mean, count and the
p50/p75/p90/p95/p99/p999 points. Each metric is rebuilt from those points (``count`` samples
spread between them), so ``p50 .. p99.9``, min, max and count read back as Artillery reported
them (to HdrHistogram's 3 significant digits) and other percentiles and the mean are
interpolations. ``info["source"] = "artillery summary"`` and ``info["summaries"]`` (Artillery's
own figures, milliseconds) say so in every report.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_roo.results.metrics import LoadResult, TimelinePoint

__all__ = ["SOURCE", "metric_name", "result_from_report", "summary_samples_us"]

SOURCE = "artillery summary"
_PERCENTILES = (("p50", 50.0), ("p75", 75.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0),
                ("p999", 99.9))
_ERROR_KINDS = {
    "ECONNREFUSED": "refused",
    "ETIMEDOUT": "timeout",
    "ESOCKETTIMEDOUT": "timeout",
    "ECONNRESET": "reset",
    "EPIPE": "reset",
    "Failed capture or match": "mismatch",
}
#: Samples rebuilt per metric at most (a 20-million-request run still folds in a second).
MAX_SAMPLES = 20_000_000
_NAME_RE = re.compile(r"[^A-Za-z0-9_\-]")
_PRIMARY_ORDER = ("http.response_time", "socketio.response_time", "vusers.session_length")


def metric_name(artillery_name: str) -> str:
    """The criterion-friendly name of an Artillery summary: ``http.response_time`` ->
    ``http_response_time``."""
    name = _NAME_RE.sub("_", artillery_name).strip("_") or "metric"
    return name if not name[0].isdigit() else "m_" + name


def error_kind(code: str) -> str:
    if code in _ERROR_KINDS:
        return _ERROR_KINDS[code]
    if "capture" in code.lower() or "match" in code.lower():
        return "mismatch"
    if "timeout" in code.lower():
        return "timeout"
    return "other"


def summary_samples_us(summary: Mapping[str, Any], cap: int = MAX_SAMPLES) -> Any:
    """``count`` samples (microseconds, numpy int64) whose order statistics reproduce the
    summary's points: sample ``r`` of ``n`` sits at percentile ``100 r / n`` on the piecewise
    linear curve through (0, min), (50, p50) ... (99.9, p999), (100, max); the first sample is
    the min itself."""
    import numpy as np

    count = int(summary.get("count") or 0)
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    knots_q = [0.0]
    knots_v = [float(summary.get("min", summary.get("p50", 0.0)))]
    for key, q in _PERCENTILES:
        value = summary.get(key)
        if value is None and key == "p50":
            value = summary.get("median")
        if value is None:
            continue
        knots_q.append(q)
        knots_v.append(max(knots_v[-1], float(value)))
    knots_q.append(100.0)
    knots_v.append(max(knots_v[-1], float(summary.get("max", knots_v[-1]))))
    n = min(count, cap)
    ranks = np.arange(1, n + 1, dtype=np.float64) * (100.0 / n)
    values_ms = np.interp(ranks, knots_q, knots_v)
    values_ms[0] = knots_v[0]  # the smallest sample is Artillery's min
    return np.rint(values_ms * 1000.0).astype(np.int64)


def result_from_report(report: Mapping[str, Any] | str | Path, *, name: str = "artillery",
                       info: Mapping[str, Any] | None = None) -> LoadResult:
    """A LoadResult from Artillery's JSON report (a dict, or the path of the file)."""
    if isinstance(report, (str, Path)):
        path = Path(report)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read Artillery's JSON report {path}: {exc}") from None
    else:
        data = dict(report)
    aggregate = data.get("aggregate")
    if not isinstance(aggregate, dict):
        raise ValueError("not an Artillery JSON report: no `aggregate` object (expected the "
                         "file written by `artillery run --output report.json`)")
    counters: dict[str, int] = {k: int(v) for k, v in (aggregate.get("counters") or {}).items()
                                if isinstance(v, (int, float))}
    summaries: dict[str, dict[str, Any]] = dict(aggregate.get("summaries") or
                                                aggregate.get("histograms") or {})
    result = LoadResult(name=name)
    result.info.update(info or {})
    result.info["source"] = SOURCE
    result.info["summaries"] = summaries
    result.info["rates"] = dict(aggregate.get("rates") or {})
    result.info["summary_metrics"] = {}
    result.counters.update(counters)

    http = "http.requests" in counters
    if http:
        result.operations = counters.get("http.requests", 0)
        for key, value in counters.items():
            if key.startswith("http.codes."):
                code = key.rsplit(".", 1)[1]
                if code.isdigit() and int(code) >= 500:
                    result.errors["http_5xx"] += value
                elif code.isdigit() and int(code) >= 400:
                    result.errors["http_4xx"] += value
    else:
        result.operations = counters.get("vusers.created", 0)
    for key, value in counters.items():
        if key.startswith("errors.") and value:
            result.errors[error_kind(key[len("errors."):])] += value

    primary: str | None = None
    ordered = sorted(summaries, key=lambda k: (
        _PRIMARY_ORDER.index(k) if k in _PRIMARY_ORDER else len(_PRIMARY_ORDER),
        k.startswith("plugins."), k))
    for artillery_name in ordered:
        summary = summaries[artillery_name]
        if not isinstance(summary, dict) or not summary.get("count"):
            continue
        mname = metric_name(artillery_name)
        metric = result.metric(mname)
        metric.record_many_us(summary_samples_us(summary))
        result.info["summary_metrics"][mname] = artillery_name
        if primary is None:
            primary = mname
    if primary is not None:
        result.primary = primary

    first = aggregate.get("firstMetricAt") or aggregate.get("firstCounterAt")
    last = aggregate.get("lastMetricAt") or aggregate.get("lastCounterAt")
    if first and last:
        result.started_at = float(first) / 1000.0
        result.duration = max(0.001, (float(last) - float(first)) / 1000.0)
    primary_name = result.info["summary_metrics"].get(primary or "")
    for index, period in enumerate(data.get("intermediate") or []):
        second = index
        if first and period.get("period"):
            second = max(0, round((float(period["period"]) - float(first)) / 1000.0))
        result.timeline.append(_timeline_point(second, period, http, primary_name))
    return result


def _timeline_point(second: int, period: Mapping[str, Any], http: bool,
                    primary_name: str | None) -> TimelinePoint:
    counters = period.get("counters") or {}
    ops = int(counters.get("http.requests" if http else "vusers.created", 0))
    errors = sum(int(v) for k, v in counters.items() if k.startswith("errors."))
    if http:
        errors += sum(int(v) for k, v in counters.items()
                      if k.startswith("http.codes.") and k[-3:].isdigit() and int(k[-3:]) >= 400)
    p95 = None
    summary = (period.get("summaries") or {}).get(primary_name or "")
    if isinstance(summary, dict) and summary.get("p95") is not None:
        value = float(summary["p95"]) / 1000.0
        p95 = value if math.isfinite(value) else None
    # one point per Artillery period (10 s by default), at the second the period starts
    return TimelinePoint(second, ops=ops, errors=errors, p95=p95)
