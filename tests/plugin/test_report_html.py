"""--roo-report-html writes the page at the end of the session; --junitxml carries the verdicts."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("no_playwright_plugin")

TESTS = """
import pytest
from pytest_roo.results.metrics import LoadResult, TimelinePoint


def result(name, ms, n=500, errors=0):
    r = LoadResult.from_samples(name, [ms / 1000 * (1 + i % 7 / 10) for i in range(n)],
                                metric="rtt", duration=4.0)
    r.add_error("timeout", errors)
    r.operations += errors
    r.timeline = [TimelinePoint(s, n // 4, errors if s == 2 else 0, ms / 1000) for s in range(4)]
    return r


@pytest.mark.slo("p95 < 50ms", "error_rate < 1%")
def test_fast(roo_record):
    roo_record(result("fast", 10))


@pytest.mark.slo("p95 < 50ms")
def test_slow(roo_record):
    roo_record(result("slow", 80, errors=5), "error_rate < 10%")
"""


def page_data(page: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="roo-data">(.*?)</script>', page, re.S)
    assert match is not None
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def test_html_report_of_recorded_results(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_html=TESTS)
    html = pytester.path / "out" / "report.html"
    json_report = pytester.path / "out" / "report.json"
    result = pytester.runpytest(f"--roo-report-html={html}", f"--roo-report-json={json_report}")
    result.assert_outcomes(passed=1, failed=1)
    page = html.read_text()
    assert "3 of 4 criteria met" in page
    assert "p95 &lt; 50ms" in page and "slow" in page and "fast" in page
    assert "What failed and why" in page
    data = page_data(page)
    assert [r["spectrum"]["counts"] for r in data["results"]] == [{"rtt": 500}, {"rtt": 500}]
    assert data["results"][1]["timeline"]["errors"] == [0.0, 0.0, 5.0, 0.0]
    # the same session as the JSON report holds it
    assert json.loads(json_report.read_text())["summary"]["verdicts_passed"] == 3


def test_html_report_by_env_and_ini(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_html=TESTS)
    monkeypatch.setenv("ROO_REPORT_HTML", "env.html")
    pytester.runpytest()
    assert "3 of 4 criteria met" in (pytester.path / "env.html").read_text()
    monkeypatch.delenv("ROO_REPORT_HTML")
    pytester.makeini("[pytest]\nroo_report_html = ini/r.html\n")
    pytester.runpytest()
    assert (pytester.path / "ini" / "r.html").exists()


def test_a_directory_is_refused_at_start(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_html=TESTS)
    (pytester.path / "reports").mkdir()
    result = pytester.runpytest("--roo-report-html=reports")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--roo-report-html='reports' is not valid: it is a directory*"])


def test_html_report_is_written_when_interrupted(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from pytest_roo.results.metrics import LoadResult

        def test_a(roo_record):
            roo_record(LoadResult.from_samples("before", [0.001] * 10))

        def test_b(roo_record):
            roo_record(LoadResult.from_samples("partial", [0.001] * 5))
            raise KeyboardInterrupt
        """
    )
    html = pytester.path / "r.html"
    result = pytester.runpytest_subprocess(f"--roo-report-html={html}", "-p", "no:playwright")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    page = html.read_text()
    assert "partial" in page and "interrupted" in page
    assert len(page_data(page)["results"]) == 2


def junit_properties(path: Path) -> dict[str, dict[str, str]]:
    tree = ET.parse(path)
    out: dict[str, dict[str, str]] = {}
    for case in tree.iter("testcase"):
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        out[case.get("name", "")] = {k: v for k, v in props.items() if k.startswith("roo.verdict")}
    return out


def test_junit_xml_carries_every_verdict(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_html=TESTS)
    xml = pytester.path / "junit.xml"
    pytester.runpytest(f"--junitxml={xml}")
    props = junit_properties(xml)
    assert props["test_fast"] == {
        "roo.verdict.1.criterion": "p95 < 50ms",
        "roo.verdict.1.result": "fast / rtt",
        "roo.verdict.1.measured": "16.0 ms",
        "roo.verdict.1.limit": "< 50.0 ms",
        "roo.verdict.1.status": "PASS",
        "roo.verdict.1.samples": "500",
        "roo.verdict.1.bound": "<= 16.0 ms @95%",
        "roo.verdict.2.criterion": "error_rate < 1%",
        "roo.verdict.2.result": "fast",
        "roo.verdict.2.measured": "0.0%",
        "roo.verdict.2.limit": "< 1%",
        "roo.verdict.2.status": "PASS",
        "roo.verdict.2.samples": "500",
        "roo.verdict.2.bound": "<= 0.597% @95%",
    }
    slow = props["test_slow"]
    # the explicit check in the body, then the marker's criterion
    assert slow["roo.verdict.1.criterion"] == "error_rate < 10%"
    assert slow["roo.verdict.1.status"] == "PASS"
    assert slow["roo.verdict.2.criterion"] == "p95 < 50ms"
    assert slow["roo.verdict.2.status"] == "FAIL"
    assert slow["roo.verdict.2.measured"] == "128 ms"


@pytest.mark.slow
def test_junit_xml_carries_verdicts_from_xdist_workers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_html=TESTS)
    xml = pytester.path / "junit.xml"
    html = pytester.path / "r.html"
    pytester.runpytest_subprocess("-n", "2", f"--junitxml={xml}", f"--roo-report-html={html}",
                                  "-p", "no:playwright")
    props = junit_properties(xml)
    assert props["test_fast"]["roo.verdict.2.status"] == "PASS"
    assert props["test_slow"]["roo.verdict.2.status"] == "FAIL"
    assert "3 of 4 criteria met" in html.read_text()
