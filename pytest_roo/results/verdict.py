"""Verdicts: a criterion held against what a result measured, and their one text form."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_roo import units
from pytest_roo.results.table import render_table

__all__ = ["Verdict", "format_value", "format_verdicts", "verdict_cell"]


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One criterion judged on one result. ``measured`` and ``limit`` are in base units."""

    criterion: str
    result: str
    metric: str | None
    stat: str
    kind: str
    op: str
    limit: float
    measured: float
    samples: int
    passed: bool
    reason: str = ""
    #: "pass", "fail" or "inconclusive" (neither bound decides: counts as not passed)
    status: str = ""
    #: the confidence bound the status rests on (base units; inf when the samples give none)
    bound: float | None = None
    #: the one-sided confidence level of ``bound``; 0 for a verdict on the point estimate
    confidence: float = 0.0

    def __post_init__(self) -> None:
        if not self.status:
            object.__setattr__(self, "status", "pass" if self.passed else "fail")

    @property
    def measured_text(self) -> str:
        """The measured value with its unit."""
        return format_value(self.kind, self.measured)

    @property
    def limit_text(self) -> str:
        """The operator and the limit with its unit, e.g. ``< 50.0 ms``."""
        return f"{self.op} {format_value(self.kind, self.limit)}"

    @property
    def verdict_text(self) -> str:
        """PASS, FAIL or INCONCLUSIVE."""
        return self.status.upper()

    @property
    def bound_text(self) -> str:
        """``<= 12.1 ms @95%``: the value the verdict rests on; "" for point verdicts."""
        if self.bound is None or not self.confidence:
            return ""
        side = "<=" if self.op in ("<", "<=") else ">="
        value = "n/a" if math.isinf(self.bound) else format_value(self.kind, self.bound)
        return f"{side} {value} @{self.confidence:.0%}"

    def to_dict(self) -> dict[str, Any]:
        """The verdict as plain data, with its texts (non-finite numbers become None)."""
        data = dataclasses.asdict(self)
        data["measured"] = None if math.isnan(self.measured) else self.measured
        data["bound"] = None if self.bound is None or not math.isfinite(self.bound) else self.bound
        data["measured_text"] = self.measured_text
        data["limit_text"] = self.limit_text
        data["bound_text"] = self.bound_text
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        """A verdict from :meth:`to_dict`'s data."""
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        if values.get("measured") is None:
            values["measured"] = math.nan
        return cls(**values)


def format_value(kind: str, value: float) -> str:
    """A measured value or limit in the unit its kind reads best in."""
    if kind == "latency":
        return units.format_duration(value)
    if kind == "ratio":
        return units.format_percent(value)
    if kind == "rate":
        return units.format_rate(value)
    if kind in ("memory", "memory_rate"):  # bytes; bytes per second shown per minute
        from pytest_roo.monitor.trend import format_value as format_resource

        if kind == "memory":
            return format_resource(value, "bytes")
        return format_resource(value * 60.0, "bytes") + "/min"
    return units.format_count(value)



def verdict_cell(verdict: Verdict | Mapping[str, Any]) -> str:
    """PASS, FAIL or INCONCLUSIVE with its reason: the verdict as every table shows it."""
    data = verdict.to_dict() if isinstance(verdict, Verdict) else verdict
    status = data.get("status") or ("pass" if data.get("passed") else "fail")
    text = str(status).upper()
    reason = data.get("reason")
    return f"{text} ({reason})" if reason else text


def format_verdicts(verdicts: Sequence[Verdict]) -> str:
    """The readable table a failing check shows."""
    rows = [
        [
            v.criterion,
            v.result + (f" / {v.metric}" if v.metric else ""),
            v.measured_text,
            v.limit_text,
            v.bound_text or "-",
            f"{v.samples:,}",
            verdict_cell(v),
        ]
        for v in verdicts
    ]
    headers = ["criterion", "result", "measured", "limit", "bound", "samples", "verdict"]
    return render_table(headers, rows, max_width=120)
