"""The HTML report of a real run, opened in Chromium and Firefox: charts drawn, no console error.

A pytest session (a subprocess) runs HTTP and WebSocket load against a real aiohttp server that
its test starts, samples that server's memory and CPU with psutil into ``info["resources"]``,
and runs a browser matrix of one passing and one failing Chromium cell (so the grid links a
screenshot and a trace). Its ``--roo-report-html`` page is then opened in both browsers; a
screenshot of each is kept under ``--roo-output``/html-report.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from pytest_roo.browser.pool import BrowserPool
from pytest_roo.settings import Settings
from tests.integration.report.conftest import report_page

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
SERVER = ROOT / "bench" / "servers" / "ws_server.py"

SESSION = '''
import subprocess
import sys
import threading
import time

import psutil
import pytest

SERVER = {server!r}


@pytest.fixture(scope="module")
def server():
    proc = subprocess.Popen(
        [sys.executable, SERVER, "--max-seconds", "120", "--delay", "uniform:1:6"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )
    port = int(proc.stdout.readline().split()[1])
    yield proc, port
    proc.stdin.close()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    proc.stdout.close()


class Sampler:
    """The server's RSS and CPU share every 0.2 s while a run lasts (a real resource timeline)."""

    def __init__(self, pid):
        self.process = psutil.Process(pid)
        self.samples = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        self.process.cpu_percent(None)
        while not self.stop.wait(0.2):
            self.samples.append({{"t": time.time(), "rss": self.process.memory_info().rss,
                                 "cpu": self.process.cpu_percent(None) / 100}})

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


@pytest.mark.slo("p95 < 500ms", "error_rate < 1%", "throughput > 50/s")
def test_http_delay(server, http_load):
    proc, port = server
    with Sampler(proc.pid) as sampler:
        result = http_load.get(f"http://127.0.0.1:{{port}}/delay", clients=20, duration=3,
                               rate="150/s")
    result.info["resources"] = sampler.samples


@pytest.mark.slo("rtt.p99 < 10us", "error_rate < 1%")  # 10 us: a criterion that must fail
def test_ws_echo(server, ws_swarm):
    proc, port = server
    ws_swarm.echo(f"ws://127.0.0.1:{{port}}/ws/echo", clients=10, duration=3, rate="300/s")


@pytest.mark.parametrize("title", ["pytest-roo", "wrong"])
def test_page_title(roo_page, title):
    roo_page.set_content("<title>pytest-roo</title><h1>hello</h1>")
    assert roo_page.title() == title
'''

CANVASES = """() => Array.from(document.querySelectorAll("div.chart canvas")).map((canvas) => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let coloured = 0;
  for (let i = 0; i < data.length; i += 4) {
    const spread = Math.max(data[i], data[i + 1], data[i + 2])
                 - Math.min(data[i], data[i + 1], data[i + 2]);
    if (data[i + 3] > 0 && spread > 40) coloured++;  // series colours: grid and text are grey
  }
  return {chart: canvas.closest("[data-chart]").dataset.chart, width: canvas.width,
          height: canvas.height, coloured: coloured};
})"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML report of the session above, run once (also when xdist workers share the tests:
    the first one runs it under a lock, the other reads its result)."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by the workers of this run
    report_dir = base / "html-report-session"
    with FileLock(str(base / "html-report-session.lock")):
        checked = report_dir / "checked"
        if not checked.exists():
            run_session(report_dir)
            checked.touch()
        return report_dir / "report" / "report.html"


def run_session(report_dir: Path) -> None:
    import subprocess
    import sys

    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "test_session.py").write_text(SESSION.format(server=str(SERVER)))
    html = report_dir / "report" / "report.html"
    data = report_dir / "report" / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "test_session.py", "-p", "no:playwright",
         "-p", "no:cacheprovider", "--roo-browsers=chromium", f"--roo-report-html={html}",
         f"--roo-report-json={data}", f"--roo-output={report_dir / 'roo-output'}",
         "--roo-progress=off", "-o", "timeout=240"],
        cwd=report_dir, capture_output=True, text=True, timeout=280, check=False,
    )
    assert html.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    outcomes = {t["nodeid"].split("::")[-1]: t["outcome"]
                for t in json.loads(data.read_text())["tests"]}
    assert outcomes == {
        "test_http_delay": "passed",
        "test_ws_echo": "failed",  # the 10 us criterion
        "test_page_title[chromium-Desktop Chrome-pytest-roo]": "passed",
        "test_page_title[chromium-Desktop Chrome-wrong]": "failed",
    }, proc.stdout[-3000:]


def test_report_content(report: Path) -> None:
    page = report.read_text()
    assert "criteria met" in page
    for text in ("test_http_delay", "test_ws_echo", "http.get", "Browser matrix",
                 "Resources: memory, MB", "Latency by percentile"):
        assert text in page, text
    # the failing cell links its evidence, relative to the report, and the files are there
    assert 'href="../roo-output/browser/' in page
    assert ">screenshot</a>" in page and ">trace</a>" in page
    evidence = list((report.parent.parent / "roo-output" / "browser").rglob("*.png"))
    assert evidence, "the failing cell wrote no screenshot"


@pytest.mark.parametrize("engine", ["chromium", "firefox"])
def test_report_opens_with_every_chart_drawn(
    report: Path, pool: BrowserPool, engine: str, roo_settings: Settings
) -> None:
    requests: list[str] = []
    with report_page(pool, engine, report, requests) as (page, problems):
        expected = page.locator("div.chart").count()
        drawn = int(page.evaluate("document.documentElement.dataset.chartsDrawn"))
        canvases: list[dict[str, Any]] = page.evaluate(CANVASES)
        out = roo_settings.output
        if not out.is_absolute():
            out = Path.cwd() / out
        out = out / "html-report"
        out.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out / f"report-{engine}.png"), full_page=True)
        shutil.copy(report, out / "report.html")
    assert problems == []
    fetched = [url for url in requests if not url.startswith(("file:", "data:"))]
    assert fetched == [], "the page fetched something from the network"
    # two load results: latency, throughput, spectrum, histogram each, and the HTTP run's
    # memory and CPU timelines
    assert expected >= 10
    assert drawn == expected == len(canvases)
    blank = [c for c in canvases if c["coloured"] < 50 or c["width"] < 300]
    assert blank == [], f"charts without drawn series: {blank}"
    kinds = {c["chart"] for c in canvases}
    assert {"latency", "throughput", "spectrum", "histogram", "resources:memory",
            "resources:cpu"} <= kinds
    assert (out / f"report-{engine}.png").stat().st_size > 10_000
