"""The capacity curve in the HTML report: chart columns by offered rate, the table of steps,
and the page wiring (data and chart elements)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_roo.report.capacity_curve import capacity_curve, capacity_html
from pytest_roo.report.html import render_html
from pytest_roo.results.metrics import LoadResult
from pytest_roo.slo.capacity import judge_curve, measure_step


def curve_doc() -> dict[str, Any]:
    steps = []
    for m, latency in ((1, 0.004), (2, 0.005), (5, 0.4)):
        rate = 25.0 * m
        result = LoadResult.from_samples("step", [latency] * int(rate * 4), duration=4.0)
        steps.append(measure_step(result, m, rate))
    return judge_curve(steps, ("p95 < 100ms", "p99 < 250ms", "error_rate < 1%"),
                       unit_rate=25, clients=100).to_dict()


def test_columns_by_offered_rate_with_the_limits() -> None:
    doc = curve_doc()
    doc["steps"].reverse()  # order in the document does not matter: x rises
    cols = capacity_curve(doc)
    assert cols is not None
    assert cols["x"] == [25.0, 50.0, 125.0] == cols["offered"]
    assert cols["achieved"] == [25.0, 50.0, 125.0]
    assert cols["latency_ms"]["p95"] == pytest.approx([4.0, 5.0, 400.0], rel=0.01)
    assert cols["limits_ms"] == {"p95 limit": [100.0] * 3, "p99 limit": [250.0] * 3}
    assert cols["error_pct"] == [0.0, 0.0, 0.0]
    assert cols["status"][-1] == "broken"


def test_nothing_to_draw() -> None:
    assert capacity_curve(None) is None
    assert capacity_curve({"steps": []}) is None
    assert capacity_curve({"steps": [{"offered": "x"}]}) is None
    assert capacity_html({"steps": []}) == ""


def test_the_table_marks_the_knee_and_escapes() -> None:
    doc = curve_doc()
    doc["summary"] = "<b>knee</b>"
    text = capacity_html(doc)
    assert "5x (knee)" in text
    assert "&lt;b&gt;knee&lt;/b&gt;" in text and "<b>" not in text
    assert text.count("<tr class=\"capacity-") == 3


def test_the_page_carries_the_curve_and_its_charts() -> None:
    result = LoadResult.from_samples("capacity.10x", [0.004] * 100, duration=4.0)
    result.info["capacity"] = curve_doc()
    report = {"schema": "pytest-roo/report/v1", "tests": [
        {"nodeid": "t.py::test_capacity", "outcome": "passed", "verdicts": [],
         "results": [result.to_dict()]}]}
    page = render_html(report, host={"cores": 2})
    assert 'data-chart="capacity:throughput"' in page
    assert 'data-chart="capacity:latency"' in page
    start = page.index('id="roo-data">') + len('id="roo-data">')
    data = json.loads(page[start:page.index("</script>", start)])
    assert data["results"][0]["capacity"]["x"] == [25.0, 50.0, 125.0]
