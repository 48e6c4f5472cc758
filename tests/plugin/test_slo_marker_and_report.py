"""The slo marker, explicit checks, iterations, the terminal table and the JSON report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("no_playwright_plugin")


@pytest.fixture(autouse=True)
def point_estimates(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the mechanics (marker, tables, report, hooks) on small synthetic
    results: verdicts on the point estimate (confidence bounds: test_slo_confidence_verdicts)."""
    monkeypatch.setenv("ROO_CONFIDENCE", "0")

TESTS = """
import pytest
from pytest_roo import slo
from pytest_roo.results.metrics import LoadResult


def result(name, ms, n=100, errors=0):
    r = LoadResult.from_samples(name, [ms / 1000] * n, metric="rtt")
    r.add_error("timeout", errors)
    r.operations += errors
    return r


@pytest.mark.slo("p95 < 50ms", "error_rate < 1%")
def test_fast(roo_record):
    roo_record(result("fast", 10))


@pytest.mark.slo("p95 < 50ms", "error_rate < 1%")
def test_slow(roo_record):
    roo_record(result("slow", 80, errors=5))


@pytest.mark.slo("p95 < 50ms")
def test_every_result_is_judged(roo_record):
    roo_record(result("first", 10))
    roo_record(result("second", 90))


def test_explicit(roo_record):
    roo_record(result("explicit", 10), "rtt.p99 < 20ms")


def test_plain_check():
    slo.check(result("plain", 30), "p95 < 20ms")


def test_unjudged(roo_record):
    roo_record(result("unjudged", 5))
"""


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    pytester.makepyfile(test_sla=TESTS)
    report = pytester.path / "out" / "report.json"
    result = pytester.runpytest(f"--roo-report-json={report}", *args)
    return result, json.loads(report.read_text())


def test_marker_judges_every_recorded_result(pytester: pytest.Pytester) -> None:
    result, _ = run(pytester)
    result.assert_outcomes(passed=3, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*_ test_slow _*",
            "E   pytest_roo.slo.SloFailure: 2 of 2 criteria failed: p95 < 50ms measured"
            " 80.1 ms; error_rate < 1% measured 4.76%",
            "*p95 < 50ms*slow / rtt*80.1 ms*< 50.0 ms*100*FAIL",
        ]
    )
    text = result.stdout.str()
    assert "p95 < 50ms" in text and "80.1 ms" in text and "4.76%" in text


def test_terminal_table(pytester: pytest.Pytester) -> None:
    result, _ = run(pytester)
    result.stdout.fnmatch_lines(
        [
            "*= pytest-roo: service levels =*",
            "8 criteria judged: 4 passed, 4 failed",
            "test*metric*criterion*measured*limit*verdict*count*errors",
            "test_sla.py::test_fast*fast / rtt*p95 < 50ms*10.0 ms*< 50.0 ms*PASS*100*0.0%",
            "test_sla.py::test_slow*slow / rtt*p95 < 50ms*80.1 ms*< 50.0 ms*FAIL*100*4.76% (timeout 5)",
            "test_sla.py::test_slow*slow*error_rate < 1%*4.76%*< 1%*FAIL*105*4.76% (timeout 5)",
            "test_sla.py::test_every_result_is_judged*second / rtt*p95 < 50ms*90.0 ms*FAIL*",
            "test_sla.py::test_explicit*explicit / rtt*rtt.p99 < 20ms*10.0 ms*PASS*",
            "test_sla.py::test_plain_check*plain / rtt*p95 < 20ms*30.0 ms*FAIL*",
            "test_sla.py::test_unjudged*unjudged / rtt*-*p95 5.00 ms*recorded*100*0.0%",
        ]
    )


def test_json_report(pytester: pytest.Pytester) -> None:
    _, report = run(pytester)
    assert report["schema"] == "pytest-roo/report/v1"
    assert report["summary"] == {
        "tests": 6, "results": 7, "verdicts": 8, "verdicts_passed": 4, "verdicts_failed": 4,
        "verdicts_inconclusive": 0,
    }
    assert report["exit_status"] == 1
    tests = {t["nodeid"].split("::")[1]: t for t in report["tests"]}
    assert tests["test_fast"]["outcome"] == "passed"
    assert tests["test_slow"]["outcome"] == "failed"
    assert tests["test_slow"]["message"].startswith("pytest_roo.slo.SloFailure: 2 of 2")
    slow = tests["test_slow"]
    assert [v["criterion"] for v in slow["verdicts"]] == ["p95 < 50ms", "error_rate < 1%"]
    verdict = slow["verdicts"][0]
    assert verdict["measured"] == pytest.approx(0.08, rel=2e-3)
    assert verdict["limit"] == 0.05 and verdict["samples"] == 100 and verdict["passed"] is False
    (res,) = slow["results"]
    assert res["errors"] == {"timeout": 5} and res["operations"] == 105
    assert res["metrics"]["rtt"]["hdr"].startswith("HISTF")
    # lossless: the histogram decodes to the same distribution
    from pytest_roo.results.metrics import LoadResult

    back = LoadResult.from_dict(res)
    assert back.percentile("rtt", 50) == pytest.approx(0.08, rel=2e-3)
    assert report["settings"]["services"] == "auto"


def test_report_lists_every_test_with_its_outcome(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_ok():
            pass

        def test_skipped():
            pytest.skip("no staging database: pass --roo-postgres-url")

        @pytest.fixture
        def broken():
            raise RuntimeError("setup went wrong")

        def test_error(broken):
            pass
        """
    )
    report = pytester.path / "r.json"
    pytester.runpytest(f"--roo-report-json={report}")
    tests = {t["nodeid"].split("::")[1]: t for t in json.loads(report.read_text())["tests"]}
    assert tests["test_ok"]["outcome"] == "passed" and tests["test_ok"]["message"] == ""
    assert tests["test_skipped"]["outcome"] == "skipped"
    assert tests["test_skipped"]["message"] == "no staging database: pass --roo-postgres-url"
    assert tests["test_error"]["outcome"] == "error"
    assert "setup went wrong" in tests["test_error"]["message"]


def test_report_masks_secrets(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    report = pytester.path / "r.json"
    pytester.runpytest(
        f"--roo-report-json={report}", "--roo-redis-url=redis://:s3cr3t@127.0.0.1:6379/0"
    )
    text = report.read_text()
    assert "s3cr3t" not in text and "redis://:***@127.0.0.1:6379/0" in text


def test_report_is_written_when_interrupted(pytester: pytest.Pytester) -> None:
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
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess(f"--roo-report-json={report}", "-p", "no:playwright")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    data = json.loads(report.read_text())
    assert data["summary"]["results"] == 2
    interrupted = data["tests"][-1]
    assert interrupted["nodeid"].endswith("test_b") and interrupted["outcome"] == "interrupted"
    assert interrupted["results"][0]["name"] == "partial"
    assert data["exit_status"] == int(pytest.ExitCode.INTERRUPTED)


def test_marker_without_a_result_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.slo("p95 < 50ms")
        def test_nothing_measured():
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*recorded no result: nothing was measured*"])


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ('"p95 < 50xs"', "invalid criterion 'p95 < 50xs'"),
        ('"p95 < 50ms", within="10s"', "unknown argument 'within'"),
        ('"success_rate >= 95%", iterations=0', "iterations=0): expected a whole number"),
        ('"success_rate >= 95%", iterations="20"', "expected a whole number"),
        ('"p95 < 50ms", abort_on_fail="yes"', "expected True or False"),
        ("", "needs at least one criterion"),
        ("42", "expected a string"),
    ],
)
def test_bad_marker_arguments_are_errors(pytester: pytest.Pytester, marker: str, message: str) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.slo({marker})
        def test_x():
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    assert message in result.stdout.str()


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        ["@pytest.mark.slo(*criteria, iterations=None, max_iterations=None, abort_on_fail=False, "
         "pool=None, concurrency=1)*"])


def test_iterations_judge_the_success_rate(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        calls = {"ok": 0, "flaky": 0}

        @pytest.mark.slo("success_rate >= 90%", iterations=20)
        def test_ok():
            calls["ok"] += 1
            assert calls["ok"] != 7, "one bad run in twenty"

        @pytest.mark.slo("success_rate >= 95%", iterations=10)
        def test_flaky():
            calls["flaky"] += 1
            assert calls["flaky"] % 4, "every fourth run fails"

        def test_counts():
            # test_flaky stops at its first failure: 9 of 10 can no longer reach 95 %
            assert calls == {"ok": 20, "flaky": 4}
        """
    )
    report = pytester.path / "r.json"
    result = pytester.runpytest(f"--roo-report-json={report}")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*success_rate >= 95%*iterations*75.0%*>= 95.0%*FAIL*",
            "*failing iterations:*",
            "*iteration 4: AssertionError: every fourth run fails*",
        ]
    )
    data = json.loads(report.read_text())
    flaky = next(t for t in data["tests"] if t["nodeid"].endswith("test_flaky"))
    (res,) = flaky["results"]
    assert res["operations"] == 4 and res["errors"] == {"assertion": 1}
    assert res["info"]["stopped"].startswith("stopped early")
    assert [f["iteration"] for f in res["info"]["failures"]] == [4]
    assert res["metrics"]["iteration"]["summary"]["count"] == 4


def test_iteration_failures_reach_the_hook(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        seen = []

        def pytest_roo_iteration_failed(item, iteration, excinfo):
            seen.append((item.name, iteration, excinfo.typename))

        def pytest_sessionfinish(session):
            print("SEEN", seen)
        """
    )
    pytester.makepyfile(
        """
        import pytest

        n = [0]

        @pytest.mark.slo("success_rate >= 50%", iterations=3)
        def test_x():
            n[0] += 1
            if n[0] == 2:
                raise ValueError("boom")
        """
    )
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=1)
    assert "SEEN [('test_x', 2, 'ValueError')]" in result.stdout.str()


def test_result_recorded_hook(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        def pytest_roo_result_recorded(item, result, verdicts):
            print("RECORDED", item.name, result.name, [v.passed for v in verdicts])
        """
    )
    pytester.makepyfile(
        """
        from pytest_roo.results.metrics import LoadResult

        def test_x(roo_record):
            roo_record(LoadResult.from_samples("r", [0.001]), "p95 < 1s")
        """
    )
    result = pytester.runpytest("-s")
    # once per result, after every verdict on it is known
    assert result.stdout.str().count("RECORDED") == 1
    assert "RECORDED test_x r [True]" in result.stdout.str()


@pytest.mark.slow
def test_results_from_xdist_workers_reach_the_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_many="""
        import os
        import pytest
        from pytest_roo.results.metrics import LoadResult

        @pytest.mark.slo("p95 < 50ms")
        @pytest.mark.parametrize("i", range(8))
        def test_load(roo_record, i):
            result = LoadResult.from_samples(f"run{i}", [0.001 * (i + 1)] * 50)
            result.info["worker"] = os.environ.get("PYTEST_XDIST_WORKER", "none")
            roo_record(result)
        """
    )
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess("-n", "2", f"--roo-report-json={report}", "-p", "no:playwright")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["8 criteria judged: 8 passed, 0 failed"])
    data = json.loads(report.read_text())
    assert data["summary"]["results"] == 8
    workers = {t["results"][0]["info"]["worker"] for t in data["tests"]}
    assert workers == {"gw0", "gw1"}
    names = sorted(t["results"][0]["name"] for t in data["tests"])
    assert names == [f"run{i}" for i in range(8)]


def test_import_is_cheap() -> None:
    import subprocess
    import sys

    code = (
        "import sys, pytest_roo.plugin, pytest_roo.fixtures.core, pytest_roo.fixtures.services, "
        "pytest_roo.fixtures.load, pytest_roo.fixtures.target, pytest_roo.fixtures.browser; "
        "print('\\n'.join(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    modules = set(out.stdout.split())
    imported_by_importtime = {
        line.split("|")[-1].strip() for line in out.stderr.splitlines() if "|" in line
    }
    heavy = ("playwright", "testcontainers", "asyncpg", "aiohttp", "hdrh", "numpy", "redis", "docker")
    for name in heavy:
        assert name not in modules, f"importing the plugin imports {name}"
        assert not any(m == name or m.startswith(name + ".") for m in imported_by_importtime), name
    assert "pytest_roo.plugin" in modules


def test_help_snapshot(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    import re

    found = (re.match(r"^  (--roo-[a-z-]+)", line) for line in result.stdout.lines)
    snapshot = Path(__file__).with_name("help_snapshot.txt")
    names = sorted(match.group(1) for match in found if match)
    assert names == snapshot.read_text().split(), "pytest --help lost or gained a --roo option"


def test_github_step_summary(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile(TESTS)
    pytester.runpytest()
    text = summary.read_text()
    assert text.startswith("### ❌ pytest-roo: 4 of 8 criteria met")
    assert "| p95 < 50ms | 80.1 ms | < 50.0 ms | **FAIL** | 100 |" in text
