"""The capacity curve's two charts are drawn in Chromium and Firefox (series pixels on their
canvases, nothing logged as an error) from a report with a stepped load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_roo.browser.pool import BrowserPool
from pytest_roo.report.html import write_html
from pytest_roo.results.metrics import LoadResult
from pytest_roo.slo.capacity import judge_curve, measure_step
from tests.integration.report.conftest import report_page
from tests.integration.report.test_html_report_in_browsers import CANVASES

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def page_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    steps = []
    for m, latency in ((1, 0.004), (2, 0.005), (5, 0.02), (10, 0.4)):
        rate = 25.0 * m
        result = LoadResult.from_samples("step", [latency] * int(rate * 3), duration=3.0)
        steps.append(measure_step(result, m, rate))
    curve = judge_curve(steps, ("p95 < 100ms", "p99 < 250ms", "error_rate < 1%"),
                        unit_rate=25, clients=100)
    top = steps[-1].result
    assert top is not None
    top.info["capacity"] = curve.to_dict()
    report = {"schema": "pytest-roo/report/v1", "tests": [
        {"nodeid": "t.py::test_capacity", "outcome": "failed", "verdicts": [],
         "results": [top.to_dict()]}]}
    return write_html(tmp_path_factory.mktemp("capacity") / "report.html", report,
                      host={"cores": 2})


@pytest.mark.parametrize("engine", ["chromium", "firefox"])
def test_the_capacity_charts_are_drawn(page_path: Path, pool: BrowserPool, engine: str) -> None:
    with report_page(pool, engine, page_path) as (page, problems):
        canvases: list[dict[str, Any]] = page.evaluate(CANVASES)
        table = page.locator("table.capacity tr.capacity-broken").count()
    assert problems == []
    capacity = {c["chart"]: c for c in canvases if c["chart"].startswith("capacity:")}
    assert set(capacity) == {"capacity:throughput", "capacity:latency"}
    assert all(c["coloured"] >= 50 and c["width"] >= 300 for c in capacity.values()), capacity
    assert table == 1  # the 10x step, 400 ms at a 100 ms limit
