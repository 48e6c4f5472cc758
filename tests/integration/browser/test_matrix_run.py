"""A real matrix run in a pytest subprocess: Chromium and Firefox run, WebKit runs or is skipped
with its reason, a failing cell and each failing iteration leave a screenshot and a trace, and
pytest-playwright's fixtures work in the same run."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from pytest_roo.browser.engines import registry_dir

pytestmark = pytest.mark.integration
REGISTRY = registry_dir()  # read before pytester moves HOME

TESTS = '''
import pytest

PAGE = "<title>Dashboard</title><h1 id=h>Deployments</h1>"


def test_dashboard(roo_page, roo_cell):
    roo_page.set_content(PAGE)
    assert roo_page.text_content("#h") == "Deployments"
    if roo_cell.engine.name == "firefox":
        roo_page.evaluate("document.getElementById('h').textContent = 'Script error'")
    assert roo_page.text_content("#h") == "Deployments", "firefox-only script error"


@pytest.mark.matrix(browsers="chromium")
@pytest.mark.slo("success_rate >= 90%", iterations=46)  # 45 of 46 shows >= 90 %
def test_login_rate(roo_new_context):
    test_login_rate.n = getattr(test_login_rate, "n", 0) + 1
    context = roo_new_context()
    page = context.new_page()
    page.set_content(f"<p id=p>iteration {test_login_rate.n}</p>")
    assert test_login_rate.n != 2, "login failed"
    context.close()


def test_pytest_playwright_page(page):
    page.set_content("<p id=p>plain playwright</p>")
    assert page.text_content("#p") == "plain playwright"
'''

CONFTEST = '''
import pytest

@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/lib/chromium/chromium"}
'''


def test_real_matrix_with_evidence_and_pytest_playwright(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not Path("/usr/lib/chromium/chromium").exists():
        pytest.skip("needs Debian chromium for pytest-playwright: apt-get install chromium")
    pytest.importorskip("pytest_playwright", reason="pytest-playwright is in the dev extra")
    # pytester moves HOME; keep looking where this machine's Playwright builds are (if any)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(REGISTRY))
    pytester.makepyfile(test_real=TESTS)
    pytester.makeconftest(CONFTEST)
    report = pytester.path / "report.json"
    output = pytester.path / "evidence"
    result = pytester.runpytest_subprocess(
        "-p", "playwright", "--roo-browsers=chromium,firefox,webkit", f"--roo-output={output}",
        f"--roo-report-json={report}", "-rs", "-v", timeout=240,
    )
    result.stdout.fnmatch_lines_random([
        "*test_dashboard[[]chromium-Desktop Chrome[]] PASSED*",
        "*test_dashboard[[]firefox-Desktop Chrome[]] FAILED*",
        "*test_login_rate[[]chromium-Desktop Chrome[]] PASSED*",
        "*test_pytest_playwright_page[[]chromium[]] PASSED*",
        "engine firefox: system /usr/bin/firefox-esr over WebDriver BiDi (moz-firefox)",
    ])
    matrix = json.loads(report.read_text())["sections"]["matrix"]
    cells = {c["nodeid"]: c for c in matrix["cells"]}
    webkit = cells["test_real.py::test_dashboard[webkit-Desktop Chrome]"]
    if webkit["outcome"] == "skip":
        assert "playwright install --with-deps webkit" in webkit["reason"]
    else:
        assert webkit["outcome"] == "pass"
    failing = cells["test_real.py::test_dashboard[firefox-Desktop Chrome]"]
    assert failing["outcome"] == "fail"
    assert "firefox-only script error" in failing["reason"]
    assert sorted(Path(p).name for p in failing["evidence"]) == [
        "context-1-page-1.png", "context-1.trace.zip",
    ]
    for path in failing["evidence"]:
        assert Path(path).is_file()
        assert Path(path).is_relative_to(output)
    with zipfile.ZipFile(next(p for p in failing["evidence"] if p.endswith(".zip"))) as trace:
        assert any(name.endswith(".trace") for name in trace.namelist())
    rate = cells["test_real.py::test_login_rate[chromium-Desktop Chrome]"]
    assert rate["outcome"] == "pass"  # 45 of 46 iterations passed: >= 90 % at 95 % confidence
    iteration = [Path(p) for p in rate["evidence"]]
    assert sorted(p.name for p in iteration) == ["context-2-page-1.png", "context-2.trace.zip"]
    assert all(p.parent.name == "iteration-2" and p.is_file() for p in iteration)


LOOPS = """
import asyncio


def test_browser(roo_page):
    roo_page.set_content("<p>one</p>")
    assert roo_page.text_content("p") == "one"


def test_asyncio_run_after_a_browser_test():
    async def answer():
        return 42
    assert asyncio.run(answer()) == 42
"""


def test_a_loop_held_by_playwright_is_named_in_the_failure(pytester: pytest.Pytester) -> None:
    """Playwright's sync API leaves its loop marked as running in the main thread: a later
    test's asyncio.run() fails, and the failure says why and what to do instead."""
    pytester.makepyfile(test_loops=LOOPS)
    result = pytester.runpytest_subprocess("-p", "no:playwright", "--roo-browsers=chromium",
                                           timeout=180)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*cannot be called from a running event loop*",
        "*pytest-roo: a running event loop*",
        "*Playwright's sync API keeps its event loop marked as running in this thread*",
    ])
