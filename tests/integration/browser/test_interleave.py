"""Iterations at a time on one browser (``@pytest.mark.slo(..., concurrency=K)``) in real
Chromium and Firefox: the flows overlap, each keeps its own context, an exception ends only its
own flow, and a failing iteration's evidence is its own context's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_roo.browser.engines import registry_dir
from pytest_roo.browser.interleave import run_interleaved
from pytest_roo.browser.pool import BrowserPool
from tests.integration.browser.conftest import browser_or_skip

pytestmark = pytest.mark.integration
REGISTRY = registry_dir()  # read before pytester moves HOME


@pytest.mark.parametrize("engine", ["chromium", "firefox"])
def test_flows_overlap_each_in_its_own_context(pool: BrowserPool, engine: str) -> None:
    browser = browser_or_skip(pool, engine)
    events: list[tuple[str, int]] = []
    seen: dict[int, str] = {}

    def flow(n: int) -> Any:
        def run() -> None:
            events.append(("start", n))
            context = browser.new_context()
            try:
                page = context.new_page()
                page.set_content(f"<p id=p>flow {n}</p>")
                page.wait_for_timeout(300)  # a wait in the browser: the others go on meanwhile
                seen[n] = page.text_content("#p") or ""
                events.append(("end", n))
            finally:
                context.close()
        return run

    run_interleaved(browser, [flow(n) for n in range(3)])
    assert seen == {n: f"flow {n}" for n in range(3)}
    # every flow started before the first one ended: one after the other, flow 1 would
    # start only once flow 0 had ended
    first_end = next(i for i, (kind, _) in enumerate(events) if kind == "end")
    assert sorted(n for kind, n in events[:first_end] if kind == "start") == [0, 1, 2], events
    assert browser.contexts == []


def test_an_exception_ends_its_own_flow_and_is_raised_after_all(pool: BrowserPool) -> None:
    browser = browser_or_skip(pool, "chromium")
    finished: list[int] = []

    def failing() -> None:
        page = browser.new_page()
        try:
            page.set_content("<p>broken</p>")
            raise AssertionError("flow 0 broke")
        finally:
            page.close()

    def passing() -> None:
        page = browser.new_page()
        try:
            page.set_content("<p>fine</p>")
            page.wait_for_timeout(200)
            finished.append(1)
        finally:
            page.close()

    with pytest.raises(AssertionError, match="flow 0 broke"):
        run_interleaved(browser, [failing, passing])
    assert finished == [1]  # the other flow ran to its end before the error was raised
    with pytest.raises(TypeError, match="needs an object of Playwright's sync API"):
        run_interleaved(object(), [passing])


TESTS = '''
import pytest

ACTIVE = {"now": 0, "most": 0}


@pytest.mark.matrix(browsers="chromium")
@pytest.mark.slo("success_rate >= 70%", iterations=16, concurrency=3)
def test_flow(roo_new_context):
    ACTIVE["now"] += 1
    ACTIVE["most"] = max(ACTIVE["most"], ACTIVE["now"])
    try:
        context = roo_new_context()
        page = context.new_page()
        page.set_content("<p id=p>run</p>")
        page.wait_for_timeout(100)
        mark = page.evaluate("() => { window.mine = (window.mine || 0) + 1; return window.mine }")
        assert mark == 1, "a context was shared between iterations"
        failing = ACTIVE.setdefault("failing", False) is False and ACTIVE["now"] == 3
        if failing:
            ACTIVE["failing"] = True
            page.set_content("<p id=p>the failing one</p>")
            raise AssertionError("one iteration fails")
        context.close()
    finally:
        ACTIVE["now"] -= 1
        with open("most.txt", "w") as out:
            out.write(str(ACTIVE["most"]))
'''


def test_a_marker_runs_iterations_at_a_time_with_their_own_evidence(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not Path("/usr/lib/chromium/chromium").exists() and not any(REGISTRY.glob("chromium*")):
        pytest.skip("needs Chromium: apt-get install chromium or playwright install chromium")
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(REGISTRY))
    pytester.makepyfile(test_lanes=TESTS)
    report = pytester.path / "report.json"
    output = pytester.path / "evidence"
    result = pytester.runpytest_subprocess(
        "--roo-browsers=chromium", f"--roo-output={output}", f"--roo-report-json={report}",
        timeout=180,
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert (pytester.path / "most.txt").read_text() == "3"  # three iterations were under way
    (entry,) = json.loads(report.read_text())["tests"]
    (data,) = entry["results"]
    assert data["info"]["concurrency"] == 3
    assert data["info"]["iterations_run"] == 16
    assert data["errors"] == {"assertion": 1}
    (failure,) = data["info"]["failures"]
    assert failure["error"] == "AssertionError: one iteration fails"
    # the failing iteration's own context only, not the two under way beside it
    directory = output / "browser"
    pngs = sorted(directory.rglob("*.png"))
    assert len(pngs) == 1, pngs
    assert pngs[0].parent.name == f"iteration-{failure['iteration']}"
    assert len(sorted(directory.rglob("*.trace.zip"))) == 1
