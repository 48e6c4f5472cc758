"""The HTML report of a run compared against a baseline, opened in Chromium and Firefox: the
baseline's series are drawn beside the run's in the latency timeline, spectrum and histogram,
with no console error. A screenshot of each is kept under ``--roo-output``/html-report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_roo.browser.pool import BrowserPool
from pytest_roo.settings import Settings
from tests.integration.report.conftest import report_page

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Seeded synthetic runs with a per-second timeline: run 2 has 20 ms more on every sample.
SESSION = """
import os

import numpy as np

from pytest_roo.results.metrics import LoadResult, TimelinePoint

SEED = int(os.environ["RUN_SEED"])
DELAY = float(os.environ.get("DELAY_MS", "0")) / 1000


def test_api(roo_record):
    rng = np.random.default_rng(SEED)
    samples = rng.lognormal(np.log(0.0025), 0.42, 20_000) + DELAY
    result = LoadResult.from_samples("api", samples, metric="rtt", duration=10.0)
    for second in range(10):
        part = np.sort(samples[second * 2000:(second + 1) * 2000])
        p50, p95, p99 = (float(np.percentile(part, q)) for q in (50, 95, 99))
        result.timeline.append(TimelinePoint(second, 2000, 0, p95, p50, p99))
    roo_record(result)
"""

LEGEND = """() => Array.from(document.querySelectorAll("div.chart[data-chart]")).map((chart) => ({
  chart: chart.dataset.chart,
  labels: Array.from(chart.querySelectorAll(".u-legend .u-label")).map((l) => l.textContent),
  canvas: chart.querySelector("canvas") !== null,
}))"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("baseline-report")
    (base / "test_session.py").write_text(SESSION)
    html = base / "report.html"
    for seed, args, delay in ((1, ["--roo-baseline-save=main"], "0"),
                              (2, ["--roo-baseline-compare=main", f"--roo-report-html={html}"],
                               "20")):
        env = {**os.environ, "RUN_SEED": str(seed), "DELAY_MS": delay}
        env.pop("PYTEST_ADDOPTS", None)
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "test_session.py", "-p", "no:playwright",
             "-p", "no:cacheprovider", "-q", *args],
            cwd=base, env=env, capture_output=True, text=True, timeout=120, check=False,
        )
        assert proc.returncode == (0 if seed == 1 else 1), proc.stdout[-3000:] + proc.stderr
    return html


@pytest.mark.parametrize("engine", ["chromium", "firefox"])
def test_the_baseline_is_drawn_beside_the_run(
    report: Path, pool: BrowserPool, engine: str, roo_settings: Settings
) -> None:
    with report_page(pool, engine, report) as (page, problems):
        charts: list[dict[str, Any]] = page.evaluate(LEGEND)
        out = roo_settings.output
        out = (out if out.is_absolute() else Path.cwd() / out) / "html-report"
        out.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out / f"baseline-{engine}.png"), full_page=True)
        text = page.locator("body").inner_text()
    assert problems == []
    assert all(c["canvas"] for c in charts), charts
    labels = {c["chart"]: c["labels"] for c in charts}
    assert {"p95", "p95 (baseline main)", "p99 (baseline main)"} <= set(labels["latency"])
    assert any(label.startswith("rtt (baseline main)") for label in labels["spectrum"])
    assert "rtt (baseline main)" in labels["histogram"]
    assert "p95:+10% vs main" in text and "FAIL" in text
