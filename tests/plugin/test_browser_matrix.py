"""The browser matrix in pytest: options, the marker, ids, skips, iterations, the summary grid.

These runs use only ``roo_cell`` (no browser is launched): the engines are made deterministic with
fake binaries (``--roo-browser-executables``) and an empty Playwright registry, so the same
outcomes hold on a machine with or without browsers. Real browsers: tests/integration/browser.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("no_playwright_plugin")


@pytest.fixture
def engines(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Options that make chromium and firefox available (fake binaries) and webkit missing."""
    registry = pytester.path / "empty-registry"
    registry.mkdir()
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(registry))
    paths = []
    for name in ("chromium", "firefox"):
        binary = pytester.path / "bin" / name
        binary.parent.mkdir(exist_ok=True)
        binary.write_text("#!/bin/sh\nexit 1\n")
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
        paths.append(f"{name}={binary}")
    return [f"--roo-browser-executables={','.join(paths)}"]


IDS = """
import pytest

@pytest.fixture
def logged_in(roo_cell):
    return roo_cell

def test_login(roo_cell):
    pass

def test_indirect(logged_in):
    pass

def test_plain():
    pass

@pytest.mark.parametrize("user", ["alice", "bob"])
def test_users(user, roo_cell):
    pass
"""


def test_ids_are_engine_device_and_only_matrix_tests_are_parametrized(
    pytester: pytest.Pytester, engines: list[str]
) -> None:
    pytester.makepyfile(test_ids=IDS)
    result = pytester.runpytest(*engines, "--co", "-q", "--roo-browsers=chromium,firefox",
                                "--roo-devices=desktop,iPhone 13")
    result.stdout.fnmatch_lines([
        "test_ids.py::test_login[chromium-Desktop Chrome]",
        "test_ids.py::test_login[chromium-iPhone 13]",
        "test_ids.py::test_login[firefox-Desktop Chrome]",
        "test_ids.py::test_login[firefox-iPhone 13]",
        "test_ids.py::test_indirect[chromium-Desktop Chrome]",
        "test_ids.py::test_indirect[chromium-iPhone 13]",
        "test_ids.py::test_indirect[firefox-Desktop Chrome]",
        "test_ids.py::test_indirect[firefox-iPhone 13]",
        "test_ids.py::test_plain",
        "test_ids.py::test_users[[]chromium-Desktop Chrome-alice[]]",
        "*17 tests collected*",
    ])


def test_default_matrix_is_every_engine_on_desktop_chrome(
    pytester: pytest.Pytester, engines: list[str]
) -> None:
    pytester.makepyfile("def test_a(roo_cell):\n    pass\n")
    result = pytester.runpytest(*engines, "--co", "-q")
    result.stdout.fnmatch_lines([
        "*test_a[[]chromium-Desktop Chrome[]]", "*test_a[[]firefox-Desktop Chrome[]]",
        "*test_a[[]webkit-Desktop Chrome[]]", "3 tests collected*",
    ])


def test_options_also_come_from_ini_and_env(
    pytester: pytest.Pytester, engines: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\nroo_devices = tablet\n")
    monkeypatch.setenv("ROO_BROWSERS", "firefox")
    pytester.makepyfile("def test_a(roo_cell):\n    pass\n")
    result = pytester.runpytest(*engines, "--co", "-q")
    result.stdout.fnmatch_lines(["*test_a[[]firefox-iPad Pro 11[]]", "1 test collected*"])


MARKED = """
import pytest

@pytest.mark.matrix(browsers="firefox", devices=["mobile", "Pixel 7"])
def test_narrow(roo_cell):
    assert roo_cell.engine.name == "firefox"

@pytest.mark.matrix(browsers=["webkit"])
def test_not_in_run(roo_cell):
    pass

@pytest.mark.matrix(devices="tablet")
class TestTablet:
    def test_in_class(self, roo_cell):
        assert roo_cell.device.name == "iPad Pro 11"
"""


def test_the_marker_narrows_engines_and_sets_devices(pytester: pytest.Pytester, engines: list[str]) -> None:
    pytester.makepyfile(test_marked=MARKED)
    result = pytester.runpytest(*engines, "-v", "-rs", "--roo-browsers=chromium,firefox")
    result.stdout.fnmatch_lines_random([
        "*test_narrow[[]firefox-iPhone 13[]] PASSED*",
        "*test_narrow[[]firefox-Pixel 7[]] PASSED*",
        "*test_not_in_run[[]no-cell[]] SKIPPED*",
        "*TestTablet::test_in_class[[]chromium-iPad Pro 11[]] PASSED*",
        "*TestTablet::test_in_class[[]firefox-iPad Pro 11[]] PASSED*",
        "*matrix(browsers=[[]'webkit'[]]) names no engine of this run (--roo-browsers chromium,firefox)",
    ])
    result.assert_outcomes(passed=4, skipped=1)


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("browser='firefox'", "unknown argument(s) browser; accepted: browsers, devices"),
        ("browsers='safari'", "unknown browser 'safari'"),
        ("devices='iPhone 99'", "unknown device 'iPhone 99'"),
        ("'firefox'", "keyword arguments only"),
    ],
)
def test_bad_marker_arguments_are_collection_errors(
    pytester: pytest.Pytester, engines: list[str], marker: str, message: str
) -> None:
    pytester.makepyfile(f"import pytest\n@pytest.mark.matrix({marker})\ndef test_a(roo_cell):\n    pass\n")
    result = pytester.runpytest(*engines)
    result.stdout.fnmatch_lines([f"*{message}*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED  # errors during collection


def test_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.matrix(browsers=None, devices=None): run this browser*"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [("iPhone 31", "close matches:*iPhone 13"), ("Galaxy", "unknown device 'Galaxy'")],
)
def test_bad_device_names_are_usage_errors(pytester: pytest.Pytester, value: str, expected: str) -> None:
    pytester.makepyfile("def test_a():\n    pass\n")
    result = pytester.runpytest(f"--roo-devices={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--roo-devices*{expected}*alias*desktop = Desktop Chrome*"])


def test_unavailable_engines_are_skipped_with_reason_and_hint(
    pytester: pytest.Pytester, engines: list[str]
) -> None:
    pytester.makepyfile("def test_a(roo_cell):\n    pass\n")
    missing = pytester.path / "no" / "firefox"
    result = pytester.runpytest(f"--roo-browser-executables=firefox={missing}", "-rs")
    result.stdout.fnmatch_lines_random([
        f"SKIPPED*.py: firefox unavailable: the configured executable '{missing}' does not exist*",
        "SKIPPED*webkit unavailable: no Playwright build in *empty-registry*"
        "playwright install --with-deps webkit*",
    ])
    result.stdout.fnmatch_lines([
        "*pytest-roo: browser matrix*",
        "engine webkit: unavailable (no Playwright build in *)",
        "skip webkit-Desktop Chrome: webkit unavailable*",
    ])


GRID = """
import pytest

def test_login(roo_cell):
    assert roo_cell.engine.name != "firefox", "firefox-only script error"

def test_dashboard(roo_cell):
    pass
"""


def test_summary_grid_and_json_section(pytester: pytest.Pytester, engines: list[str]) -> None:
    pytester.makepyfile(test_grid=GRID)
    report = pytester.path / "report.json"
    result = pytester.runpytest(*engines, f"--roo-report-json={report}", "--roo-devices=desktop,mobile")
    result.stdout.fnmatch_lines([
        "*pytest-roo: browser matrix*",
        "engine chromium: configured */bin/chromium",
        "engine firefox: configured */bin/firefox over WebDriver BiDi (moz-firefox)",
        "engine webkit: unavailable*",
        "6 passed, 2 failed, 4 skipped of 12 cells; success rate 75.0%",
        "*#1 = chromium-Desktop Chrome",
        "test *#1*#2*#3*#4*#5*#6",
        "test_grid.py::test_login *pass*pass*FAIL*FAIL*skip*skip",
        "test_grid.py::test_dashboard *pass*pass*pass*pass*skip*skip",
        "FAIL test_grid.py::test_login[[]firefox-Desktop Chrome[]]: AssertionError: firefox-only script error*",
        "skip webkit-Desktop Chrome, webkit-iPhone 13: webkit unavailable*",
        "note firefox-iPhone 13: Firefox ignores is_mobile and has_touch*",
    ])
    matrix = json.loads(report.read_text())["sections"]["matrix"]
    assert (matrix["passed"], matrix["failed"], matrix["skipped"]) == (6, 2, 4)
    assert matrix["success_rate"] == 0.75
    assert matrix["engines"]["webkit"]["available"] is False
    login_ff = next(c for c in matrix["cells"] if c["nodeid"] == "test_grid.py::test_login[firefox-iPhone 13]")
    assert login_ff["outcome"] == "fail"
    assert login_ff["reason"].startswith("AssertionError: firefox-only script error")
    assert login_ff["test"] == "test_grid.py::test_login"


XFAIL = """
import pytest

def test_login(roo_cell, request):
    if roo_cell.engine.name == "firefox":
        request.applymarker(pytest.mark.xfail(reason="known firefox bug", strict=True))
        raise AssertionError("firefox breaks")
"""


@pytest.mark.parametrize(("minimum", "ret"), [(None, 0), ("100%", 1), ("50%", 0), ("0.51", 1)])
def test_min_success_sets_the_exit_status(
    pytester: pytest.Pytester, engines: list[str], minimum: str | None, ret: int
) -> None:
    pytester.makepyfile(test_x=XFAIL)
    args = [*engines, "--roo-browsers=chromium,firefox"]
    if minimum:
        args.append(f"--roo-matrix-min-success={minimum}")
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=1, xfailed=1)
    assert result.ret == ret
    result.stdout.fnmatch_lines(["1 passed, 1 failed, 0 skipped of 2 cells; success rate 50.0%*"])
    if ret:
        result.stdout.fnmatch_lines(["--roo-matrix-min-success * not met: the session fails"])
    if minimum:
        # the matrix criterion is a verdict in the session table like every other criterion
        verdict = "PASS" if ret == 0 else "FAIL"
        result.stdout.fnmatch_lines([f"browser matrix*success_rate >= *50.0%*{verdict}*2*"])


def test_min_success_fails_when_no_cell_ran(pytester: pytest.Pytester, engines: list[str]) -> None:
    pytester.makepyfile("def test_a(roo_cell):\n    pass\n")
    result = pytester.runpytest(*engines, "--roo-browsers=webkit", "--roo-matrix-min-success=100%")
    result.assert_outcomes(skipped=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*success rate n/a (no cell ran) (minimum 100.0%: NOT MET)"])
    without = pytester.runpytest(*engines, "--roo-browsers=webkit")
    assert without.ret == 0


ITERATIONS = """
import pytest

calls = {}

@pytest.mark.slo("success_rate >= 95%", iterations=20)
def test_login_rate(roo_cell):
    n = calls[roo_cell.id] = calls.get(roo_cell.id, 0) + 1
    if roo_cell.engine.name == "firefox" and n in (3, 7):
        raise AssertionError(f"login failed in iteration {n}")

@pytest.mark.slo("success_rate >= 90%", iterations=20)
def test_lifecycle_rate(roo_cell):
    n = calls[roo_cell.id + "lc"] = calls.get(roo_cell.id + "lc", 0) + 1
    assert n != 5 or roo_cell.engine.name != "chromium", "stop button missing"
"""


def test_iteration_success_rates_per_cell(
    pytester: pytest.Pytester, engines: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROO_CONFIDENCE", "0")  # 20 iterations: the mechanics, not the statistics
    pytester.makepyfile(test_iter=ITERATIONS)
    result = pytester.runpytest(*engines, "--roo-browsers=chromium,firefox", "-v")
    result.stdout.fnmatch_lines_random([
        "*test_login_rate[[]chromium-Desktop Chrome[]] PASSED*",
        "*test_login_rate[[]firefox-Desktop Chrome[]] FAILED*",
        "*test_lifecycle_rate[[]chromium-Desktop Chrome[]] PASSED*",
        "*test_lifecycle_rate[[]firefox-Desktop Chrome[]] PASSED*",
    ])
    result.stdout.fnmatch_lines([
        "*iteration 3: AssertionError: login failed in iteration 3*",
        "*iteration 7: AssertionError: login failed in iteration 7*",
    ])
    result.stdout.fnmatch_lines(["3 passed, 1 failed, 0 skipped of 4 cells; success rate 75.0%"])


def test_matrix_outcomes_reach_the_xdist_controller(pytester: pytest.Pytester, engines: list[str]) -> None:
    pytest.importorskip("xdist", reason="pytest-xdist is in the dev extra: pip install -e '.[dev]'")
    pytester.makepyfile(test_grid=GRID)
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess(
        *engines, "-n", "2", "-p", "no:playwright", f"--roo-report-json={report}",
        "--roo-browsers=chromium,firefox,webkit",
    )
    result.stdout.fnmatch_lines([
        "*pytest-roo: browser matrix*",
        "3 passed, 1 failed, 2 skipped of 6 cells; success rate 75.0%*",
        "FAIL test_grid.py::test_login[[]firefox-Desktop Chrome[]]: AssertionError: firefox-only*",
    ])
    matrix = json.loads(Path(report).read_text())["sections"]["matrix"]
    assert len(matrix["cells"]) == 6
    assert {c["outcome"] for c in matrix["cells"]} == {"pass", "fail", "skip"}


POOLED = """
import pytest

@pytest.mark.slo("success_rate >= 95%", iterations=59, pool="matrix")
def test_flow(roo_cell):
    pass

FAILS = {"firefox": {7}}
COUNT = {}

@pytest.mark.slo("success_rate >= 95%", iterations=60, pool="matrix")
@pytest.mark.parametrize("role", ["admin"])
def test_flaky_in_one_engine(role, roo_cell):
    name = roo_cell.engine.name
    COUNT[name] = COUNT.get(name, 0) + 1
    assert COUNT[name] not in FAILS.get(name, ()), f"{name} failed in iteration {COUNT[name]}"

@pytest.mark.slo("success_rate >= 95%", iterations=30)
def test_unpooled(roo_cell):
    pass
"""


def _entry(data: dict[str, Any], suffix: str) -> dict[str, Any]:
    """The one test entry of the JSON report whose node id ends with ``suffix``."""
    tests = data["tests"]
    assert isinstance(tests, list)
    matches = [t for t in tests if str(t["nodeid"]).endswith(suffix)]
    assert len(matches) == 1, [t["nodeid"] for t in tests]
    entry = matches[0]
    assert isinstance(entry, dict)
    return entry


def test_pool_matrix_judges_the_rate_over_every_cell(
    pytester: pytest.Pytester, engines: list[str]
) -> None:
    """30 clean runs per cell cannot show ">= 95%" alone (INCONCLUSIVE), 2 x 30 pooled can
    (iterations=59 is the pool's size: 30 per cell); one failure in one engine makes the pool
    fail, and that cell with it."""
    pytester.makepyfile(test_pool=POOLED)
    report = pytester.path / "report.json"
    result = pytester.runpytest(*engines, "--roo-browsers=chromium,firefox,webkit", "-v",
                                f"--roo-report-json={report}")
    result.stdout.fnmatch_lines_random([
        "*test_flow[[]chromium-Desktop Chrome[]] PASSED*",
        "*test_flow[[]firefox-Desktop Chrome[]] PASSED*",
        "*test_flaky_in_one_engine[[]chromium-Desktop Chrome-admin[]] PASSED*",
        "*test_flaky_in_one_engine[[]firefox-Desktop Chrome-admin[]] FAILED*",
        "*test_unpooled[[]chromium-Desktop Chrome[]] FAILED*",
    ])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    data = json.loads(report.read_text())

    pooled = _entry(data, "test_pool.py::test_flow [pooled over 2 cells]")
    assert pooled["outcome"] == "passed"
    (verdict,) = pooled["verdicts"]
    assert verdict["status"] == "pass" and verdict["samples"] == 60
    cell = _entry(data, "test_flow[chromium-Desktop Chrome]")
    assert cell["verdicts"] == []  # the rate is judged in the pool, not per cell
    assert any("judged over the whole matrix" in n for n in cell["notes"])

    flaky = _entry(data, "test_flaky_in_one_engine[admin] [pooled over 2 cells]")
    assert flaky["outcome"] == "failed"
    (verdict,) = flaky["verdicts"]
    assert verdict["status"] != "pass"
    # the failing cell stopped at its failure: 59 of 60 can no longer show 95 %
    assert verdict["samples"] == 30 + 7
    firefox = _entry(data, "test_flaky_in_one_engine[firefox-Desktop Chrome-admin]")
    (result_data,) = firefox["results"]
    assert "pooled over the matrix's 2 cells" in result_data["info"]["stopped"]

    unpooled = _entry(data, "test_unpooled[chromium-Desktop Chrome]")
    assert [v["status"] for v in unpooled["verdicts"]] == ["inconclusive"]


@pytest.mark.parametrize(("marker", "message"), [
    ("pool='matrix'", "give iterations=N as well"),
    ("iterations=3, pool='cells'", "pool='cells'): expected one of 'matrix'"),
])
def test_pool_marker_errors(
    pytester: pytest.Pytester, engines: list[str], marker: str, message: str
) -> None:
    pytester.makepyfile(f"""
import pytest

@pytest.mark.slo("success_rate >= 95%", {marker})
def test_a(roo_cell):
    pass
""")
    result = pytester.runpytest(*engines, "--roo-browsers=chromium")
    result.stdout.fnmatch_lines([f"*{message}*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_a_pool_of_one_cell_runs_every_iteration_there(
    pytester: pytest.Pytester, engines: list[str]
) -> None:
    pytester.makepyfile(test_pool=POOLED)
    report = pytester.path / "report.json"
    result = pytester.runpytest(*engines, "--roo-browsers=chromium", "-k", "test_flow",
                                f"--roo-report-json={report}")
    assert result.ret == pytest.ExitCode.OK
    pooled = _entry(json.loads(report.read_text()), "test_flow [pooled over 1 cell]")
    assert [(v["status"], v["samples"]) for v in pooled["verdicts"]] == [("pass", 59)]


def test_pool_needs_a_matrix_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
import pytest

@pytest.mark.slo("success_rate >= 95%", iterations=3, pool="matrix")
def test_a():
    pass
""")
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*pool='matrix') needs a browser matrix test*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_pool_needs_a_fixed_count(pytester: pytest.Pytester, engines: list[str]) -> None:
    pytester.makepyfile("""
import pytest

@pytest.mark.slo("success_rate >= 95%", iterations="auto", pool="matrix")
def test_a(roo_cell):
    pass
""")
    result = pytester.runpytest(*engines, "--roo-browsers=chromium")
    result.stdout.fnmatch_lines(["*pool='matrix') needs a fixed iterations=N*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize(("marker", "uses", "message"), [
    ("iterations=4, concurrency=0", "roo_new_context",
     "concurrency=0): expected a whole number >= 1"),
    ("iterations=4, concurrency=True", "roo_new_context",
     "concurrency=True): expected a whole number >= 1"),
    ("concurrency=2", "roo_new_context", "concurrency=2) needs a fixed iterations=N"),
    ("iterations='auto', concurrency=2", "roo_new_context",
     "concurrency=2) needs a fixed iterations=N"),
    ("iterations=4, concurrency=2", "roo_cell",
     "makes a context per iteration with roo_new_context"),
    ("iterations=4, concurrency=2", "roo_new_context, roo_page",
     "roo_page is one for all of them"),
])
def test_concurrency_marker_errors(
    pytester: pytest.Pytester, engines: list[str], marker: str, uses: str, message: str
) -> None:
    pytester.makepyfile(f"""
import pytest

@pytest.mark.slo("success_rate >= 50%", {marker})
def test_a({uses}):
    pass
""")
    result = pytester.runpytest(*engines, "--roo-browsers=chromium")
    result.stdout.fnmatch_lines([f"*{message}*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
