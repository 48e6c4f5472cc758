"""Criterion: a log line injected over HTTP is visible in the dashboard within 100 ms at p95,
timed inside the page (request start -> line in the DOM, both on the page's clock)."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_roo.results.metrics import LoadResult
from suites.e2e.dashboard import TIME_LINES_JS, Api, open_dashboard, sign_in

LINES = 300  # the fewest clean lines that can show "error_rate < 1%" at 95 % confidence
LINE_TIMEOUT_MS = 3000
GAP_MS = 5  # between a line seen and the next injected


@pytest.mark.slo("visible.p95 < 100ms", "error_rate < 1%")
def test_injected_line_visible_within_100ms(
    roo_context: Any, roo_page: Any, api: Api, roo_record: Any
) -> None:
    user = api.new_user("latency")
    deployment = api.create_deployment(user, "latency")
    sign_in(roo_context, user)
    open_dashboard(roo_page, live=True)
    measured = roo_page.evaluate(TIME_LINES_JS, [deployment["id"], LINES, LINE_TIMEOUT_MS, GAP_MS])
    assert measured["ready"], "no injected line reached the page: the live log is not wired"
    samples = [ms / 1000 for ms in measured["samples"] if ms is not None]
    lost = sum(1 for ms in measured["samples"] if ms is None)
    result = LoadResult.from_samples("log line to page", samples, metric="visible",
                                     errors={"lost": lost} if lost else None)
    roo_record(result)
