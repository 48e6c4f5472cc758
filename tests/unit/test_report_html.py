"""The HTML report page: self-contained, every section, bounded in size."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_roo import slo
from pytest_roo.report.html import render_html, write_html
from pytest_roo.report.store import Store
from pytest_roo.results.metrics import LoadResult, TimelinePoint

HOST = {"cores": 2, "load_average": [0.5, 0.4, 0.3], "python": "3.11.7"}


def long_result(seconds: int = 600, rate: int = 2000, name: str = "ws.echo") -> LoadResult:
    """A 10-minute run: per-second timeline, two metrics, errors, generator and resource data."""
    rng = np.random.default_rng(3)
    result = LoadResult(name=name, started_at=1_700_000_000.0, duration=float(seconds))
    result.metric("rtt").record_many_us(
        rng.lognormal(np.log(3000), 0.7, seconds * rate).astype(np.int64)
    )
    result.metric("connect").record_many_us(rng.lognormal(np.log(900), 0.3, 500).astype(np.int64))
    result.operations = seconds * rate
    result.add_error("timeout", 40)
    result.add_error("http_5xx", 12)
    result.timeline = [
        TimelinePoint(s, rate, int(s % 50 == 0), 0.004 + 0.001 * float(np.sin(s / 20)))
        for s in range(seconds)
    ]
    result.counters["late_sends"] = 3
    result.generator.update(cpu=0.41, max_cpu=0.9, loop_lag_max=0.003, cpu_seconds=246.0)
    result.info["resources"] = [
        {"t": 1_700_000_000.0 + t / 2, "rss": 80e6 + t * 2e4, "cpu": 0.35, "fds": 120}
        for t in range(seconds * 2)
    ]
    return result


def session_report(*results: LoadResult, criteria: tuple[str, ...] = ("p95 < 50ms",),
                   matrix: dict[str, Any] | None = None) -> dict[str, Any]:
    store = Store()
    for i, result in enumerate(results):
        verdicts = [v.to_dict() for v in slo.evaluate(result, criteria)]
        store.add_payload(f"suites/test_x.py::test_{i}", {"results": [result.to_dict()],
                                                          "verdicts": verdicts})
        store.set_outcome(f"suites/test_x.py::test_{i}", "call", "passed", 1.0)
    if matrix is not None:
        store.add_section("matrix", matrix)
    return store.to_dict(settings={"profile": "standard"}, exit_status=0)


def page_data(page: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="roo-data">(.*?)</script>', page, re.S)
    assert match is not None
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def test_a_ten_minute_run_stays_small() -> None:
    report = session_report(long_result(600))
    page = render_html(report, host=HOST)
    size = len(page.encode())
    assert size < 1_000_000, f"{size} bytes"  # "a few MB" at most; it is ~0.1 MB
    data = page_data(page)["results"][0]
    assert len(data["timeline"]["t"]) == 600
    assert len(data["resources"]["t"]) == 600  # 1200 samples folded in pairs
    assert data["spectrum"]["counts"] == {"rtt": 1_200_000, "connect": 500}
    # the lossless histograms are not copied into the page, only the series drawn from them
    assert "HISTF" not in page


def test_an_hour_is_folded_to_the_same_bound() -> None:
    page = render_html(session_report(long_result(3600, rate=50)), host=HOST)
    data = page_data(page)["results"][0]
    assert len(data["timeline"]["t"]) == 600 and data["timeline"]["bucket"] == 6
    assert "averaged over 6 s buckets" in page


def test_the_page_is_self_contained() -> None:
    page = render_html(session_report(long_result(30)), host=HOST)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"""<(script|link|img|iframe)[^>]+(src|href)=["']?(https?:)?//""", page)
    assert "<script src" not in page
    assert "uPlot 1.6.32" in page and "Permission is hereby granted" in page  # the licence


def test_sections_and_verdicts() -> None:
    fast, slow = long_result(20, name="fast"), long_result(20, name="slow")
    slow.saturated = "load generator saturated: client CPU 97% of one core"
    report = session_report(fast, slow, criteria=("p95 < 50ms", "error_rate < 1%"))
    report["tests"][0]["verdicts"][0].update(status="inconclusive", bound=0.051, confidence=0.95)
    page = render_html(report, host=HOST)
    for text in ("What failed and why", "Tightest margins", "Criteria", "Results", "Host",
                 "Load generator", "INCONCLUSIVE", "FAIL", "51.0 ms (95%)",
                 "load generator saturated", "timeout", "late_sends", "p99.9"):
        assert text in page, text
    assert "1 of 4 criteria met" in page
    assert page.count('data-chart="spectrum"') == 2
    for kind in ("latency", "throughput", "histogram", "resources:memory", "resources:cpu",
                 "resources:other"):
        assert f'data-chart="{kind}"' in page


def test_text_from_the_run_is_escaped() -> None:
    result = long_result(5, name="</script><script>alert(1)</script>")
    page = render_html(session_report(result), host=HOST)
    assert "<script>alert(1)" not in page
    assert "&lt;/script&gt;" in page


def test_browser_matrix_grid_links_evidence_relative_to_the_report(tmp_path: Path) -> None:
    evidence = tmp_path / "roo-output" / "browser" / "t-ui-firefox"
    matrix = {
        "passed": 1, "failed": 1, "skipped": 1, "success_rate": 0.5, "min_success": 1.0,
        "meets_min_success": False,
        "columns": ["chromium-Desktop Chrome", "firefox-Desktop Chrome", "webkit-Desktop Chrome"],
        "cells": [
            {"test": "t.py::ui", "cell": "chromium-Desktop Chrome", "engine": "chromium",
             "device": "Desktop Chrome", "outcome": "pass", "reason": "", "evidence": [],
             "notes": [], "nodeid": "t.py::ui[chromium-Desktop Chrome]"},
            {"test": "t.py::ui", "cell": "firefox-Desktop Chrome", "engine": "firefox",
             "device": "Desktop Chrome", "outcome": "fail", "reason": "AssertionError: no login",
             "evidence": [str(evidence / "context-1-page-1.png"),
                          str(evidence / "context-1.trace.zip")],
             "notes": [], "nodeid": "t.py::ui[firefox-Desktop Chrome]"},
            {"test": "t.py::ui", "cell": "webkit-Desktop Chrome", "engine": "webkit",
             "device": "Desktop Chrome", "outcome": "skip", "reason": "webkit unavailable",
             "evidence": [], "notes": [], "nodeid": "t.py::ui[webkit-Desktop Chrome]"},
        ],
        "engines": {"webkit": {"name": "webkit", "available": False, "source": "missing",
                               "reason": "not installed", "hint": "playwright install webkit"}},
    }
    out = write_html(tmp_path / "report" / "r.html", session_report(matrix=matrix), host=HOST)
    page = out.read_text()
    assert 'href="../roo-output/browser/t-ui-firefox/context-1-page-1.png">screenshot</a>' in page
    assert 'href="../roo-output/browser/t-ui-firefox/context-1.trace.zip">trace</a>' in page
    assert "minimum 100.0%: NOT MET" in page
    assert "skip webkit-Desktop Chrome: webkit unavailable" in page
    assert "playwright install webkit" in page
    assert "browser cell firefox-Desktop Chrome: AssertionError: no login" in page  # summary
    assert not list(out.parent.glob(".*.tmp"))


def test_an_empty_session_still_renders() -> None:
    page = render_html(Store().to_dict(), host=HOST)
    assert "No criteria judged" in page and "No load result was recorded" in page
    assert page_data(page) == {"results": []}


@pytest.mark.parametrize("bad", [[{"second": "x"}], [{}]])
def test_malformed_timeline_points_are_ignored(bad: list[dict[str, Any]]) -> None:
    report = session_report(long_result(3))
    report["tests"][0]["results"][0]["timeline"] = bad
    assert 'data-chart="throughput"' not in render_html(report, host=HOST)


@pytest.mark.parametrize(
    ("share", "text"),
    [(0.2, "20.0% headroom"), (0.0, "0.0% headroom"), (-0.25, "25.0% past the limit"),
     (-9.0, "10x the limit"), (-5109.0, "5,110x the limit"), (None, "-")],
)
def test_margin_text(share: float | None, text: str) -> None:
    from pytest_roo.report.html_sections import _margin_text

    assert _margin_text(share) == text


def test_command_line_renders_a_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_roo.report.html import main

    source = tmp_path / "roo-report.json"
    source.write_text(json.dumps(session_report(long_result(10))))
    assert main([str(source)]) == 0
    written = tmp_path / "roo-report.html"
    assert capsys.readouterr().out.strip() == str(written)
    assert "1 of 1 criteria met" in written.read_text()
    assert main([str(source), "-o", str(tmp_path / "x" / "r.html")]) == 0
    assert (tmp_path / "x" / "r.html").exists()


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "cannot read"),
    ('{"schema": "other"}', "is not a pytest-roo report: schema 'other'"),
])
def test_command_line_refuses_what_is_not_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    from pytest_roo.report.html import main

    source = tmp_path / "r.json"
    source.write_text(content)
    with pytest.raises(SystemExit) as exc:
        main([str(source)])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
