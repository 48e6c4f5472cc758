"""The end-of-session table: test, metric, criterion, measured, limit, verdict, count, error rate."""

from __future__ import annotations

from typing import Any

from pytest_roo import units
from pytest_roo.report.store import Store
from pytest_roo.results.table import render_table
from pytest_roo.results.verdict import verdict_cell

__all__ = ["render_summary"]

HEADERS = ["test", "metric", "criterion", "measured", "limit", "bound", "verdict", "count",
           "errors"]


def _short(nodeid: str) -> str:
    """The test id without its directories; parameters (which may hold "/") stay whole."""
    path, sep, rest = nodeid.partition("::")
    return path.rsplit("/", 1)[-1] + sep + rest


def _result_row(nodeid: str, result: dict[str, Any]) -> list[str]:
    primary = result.get("primary")
    summary = result.get("metrics", {}).get(primary or "", {}).get("summary", {})
    p95 = summary.get("p95")
    return [
        _short(nodeid),
        f"{result['name']}" + (f" / {primary}" if primary else ""),
        "-",
        f"p95 {units.format_duration(p95)}" if p95 is not None else "-",
        "-",
        "-",
        "recorded" + (" (SATURATED)" if result.get("saturated") else ""),
        f"{result['operations']:,}",
        _errors_cell(result),
    ]


def _errors_cell(result: dict[str, Any]) -> str:
    """The error rate and its two most frequent kinds: ``0.50% (mismatch 4, timeout 1)``."""
    rate = units.format_percent(result.get("error_rate"))
    kinds = sorted(((k, int(v)) for k, v in (result.get("errors") or {}).items() if int(v)),
                   key=lambda kv: -kv[1])
    if not kinds:
        return rate
    shown = ", ".join(f"{kind} {count:,}" for kind, count in kinds[:2])
    return f"{rate} ({shown}{', ...' if len(kinds) > 2 else ''})"


def render_summary(store: Store) -> str:
    """Rows for every verdict; results without a verdict get one row of their own."""
    rows: list[list[str]] = []
    for nodeid, entry in store.tests.items():
        results = {r["name"]: r for r in entry.results}
        judged = set()
        for v in entry.verdicts:
            judged.add(v["result"])
            result = results.get(v["result"], {})
            verdict = verdict_cell(v)
            rows.append(
                [
                    _short(nodeid),
                    v["result"] + (f" / {v['metric']}" if v.get("metric") else ""),
                    v["criterion"],
                    v["measured_text"],
                    v["limit_text"],
                    v.get("bound_text") or "-",
                    verdict,
                    f"{v['samples']:,}",
                    _errors_cell(result) if result else "-",
                ]
            )
        for name, result in results.items():
            if name not in judged:
                rows.append(_result_row(nodeid, result))
    if not rows:
        return ""
    passed, failed = store.verdict_counts
    total = passed + failed
    noun = "criterion" if total == 1 else "criteria"
    inconclusive = store.inconclusive_count
    head = f"{total} {noun} judged: {passed} passed, {failed - inconclusive} failed"
    if inconclusive:
        head += f", {inconclusive} inconclusive"
    return head + "\n" + render_table(HEADERS, rows, max_width=70, cut_left=(0,))
