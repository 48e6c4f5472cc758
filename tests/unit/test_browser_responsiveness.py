"""The responsiveness score from page measurements (the browser part is in integration tests)."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_roo.browser.evidence import slug
from pytest_roo.browser.responsiveness import WEIGHTS, score


def measurements(**changes: Any) -> dict[str, Any]:
    base = {
        "scrollWidth": 390, "clientWidth": 390, "viewportMeta": "width=device-width, initial-scale=1",
        "tappable": 10, "smallTapCount": 0, "smallTaps": [], "texts": 20, "smallTextCount": 0,
        "smallTexts": [],
    }
    return {**base, **changes}


def test_weights_add_up_to_100() -> None:
    assert sum(WEIGHTS.values()) == 100


def test_a_clean_page_scores_100() -> None:
    result = score(measurements(), [])
    assert result.score == 100
    assert result.findings == ()


def test_each_check_costs_its_weight() -> None:
    result = score(measurements(scrollWidth=1408, viewportMeta="", smallTapCount=5, smallTaps=["a 27x9"],
                                smallTextCount=10), None)
    by_check = {f.check: f for f in result.findings}
    assert by_check["overflow"].points == 30
    assert "1408px wide in a 390px viewport" in by_check["overflow"].message
    assert by_check["viewport_meta"].points == 15
    assert by_check["tap_targets"].points == 10  # half of the targets are too small
    assert by_check["tap_targets"].examples == ("a 27x9",)
    assert by_check["text_size"].points == 7.5
    assert result.score == pytest.approx(100 - 30 - 15 - 10 - 7.5)
    assert str(result).splitlines()[0] == (
        "responsiveness 38/100 (-30 overflow, -15 viewport_meta, -10 tap_targets, -7.5 text_size)")
    assert "-30.0 overflow: the page is 1408px wide" in str(result)


def test_axe_violations_cost_by_impact_capped() -> None:
    one = score(measurements(), [{"id": "html-has-lang", "impact": "serious", "nodes": [1]}])
    assert one.score == 94
    many = score(measurements(), [{"id": f"r{i}", "impact": "critical", "nodes": []} for i in range(5)])
    assert many.score == 80
    assert many.findings[0].examples[0] == "r0 (critical, 0 nodes)"


def test_viewport_meta_without_device_width_is_a_finding() -> None:
    result = score(measurements(viewportMeta="width=1024"), [])
    assert result.findings[0].check == "viewport_meta"
    assert "width=1024" in result.findings[0].message


def test_evidence_slug_is_a_safe_unique_name() -> None:
    assert slug("t.py::test_login[firefox-iPhone 13]") == "t.py-test_login-firefox-iPhone-13"
    long_a, long_b = slug("t.py::x[" + "a" * 300 + "]"), slug("t.py::x[" + "a" * 299 + "b]")
    assert len(long_a) <= 120
    assert long_a != long_b
