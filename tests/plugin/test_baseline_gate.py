"""--roo-baseline-save and --roo-baseline-compare end to end: save, compare, fail exactly the
regressed criteria, pass a healthy run, name what has no baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("no_playwright_plugin")

# Seeded synthetic runs: the samples of every run differ (another seed), DELAY_MS adds a fault
# to the api's latencies only. A lognormal with median 2.5 ms has its p95 near 5 ms.
TESTS = """
import os

import numpy as np

from pytest_roo.results.metrics import LoadResult

SEED = int(os.environ["RUN_SEED"])
DELAY = float(os.environ.get("DELAY_MS", "0")) / 1000


def run(name, seed, delay=0.0):
    rng = np.random.default_rng(seed)
    samples = rng.lognormal(np.log(0.0025), 0.42, 20_000) + delay
    return LoadResult.from_samples(name, samples, metric="rtt", duration=10.0)


def test_api(roo_record):
    roo_record(run("api", SEED, DELAY))


def test_cache(roo_record):
    roo_record(run("cache", SEED + 1000))
"""

NEW_TEST = """

def test_search(roo_record):
    roo_record(run("search", SEED + 2000))
"""


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, seed: int, *args: str,
         delay_ms: int = 0) -> tuple[pytest.RunResult, dict]:  # type: ignore[type-arg]
    monkeypatch.setenv("RUN_SEED", str(seed))
    monkeypatch.setenv("DELAY_MS", str(delay_ms))
    report = pytester.path / f"report-{seed}.json"
    result = pytester.runpytest("--roo-report-json", str(report), *args)
    return result, json.loads(report.read_text())


def _verdicts(report: dict) -> dict[str, dict[str, str]]:  # type: ignore[type-arg]
    return {
        test["nodeid"].split("::")[-1]: {v["criterion"]: v["status"] for v in test["verdicts"]}
        for test in report["tests"]
    }


def test_save_then_compare_fails_exactly_the_regressed_criteria(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_service=TESTS)
    saved, _ = _run(pytester, monkeypatch, 1, "--roo-baseline-save", "main")
    assert saved.ret == 0
    saved.stdout.fnmatch_lines(["saved baseline 'main': 2 result(s) of 2 test(s) in *main.json"])
    stored = json.loads((pytester.path / ".roo" / "baselines" / "main.json").read_text())
    assert set(stored["results"]) == {"test_service.py::test_api", "test_service.py::test_cache"}
    assert stored["results"]["test_service.py::test_api"]["api"]["metrics"]["rtt"]["hdr"]
    assert stored["host"]["cores"] and stored["settings"]["baseline_save"] == "main"

    # a 20 ms delay on the api: its p95 regresses, nothing else does
    faulty, report = _run(pytester, monkeypatch, 2, "--roo-baseline-compare", "main",
                          delay_ms=20)
    faulty.assert_outcomes(passed=1, failed=1)
    assert _verdicts(report) == {
        "test_api": {"p95:+10% vs main": "fail", "throughput:-5% vs main": "pass",
                     "error_rate:+0.1% vs main": "pass"},
        "test_cache": {"p95:+10% vs main": "pass", "throughput:-5% vs main": "pass",
                       "error_rate:+0.1% vs main": "pass"},
    }
    faulty.stdout.fnmatch_lines(["*1 of 1 criteria failed: p95:+10% vs main measured 2?.? ms*"])
    faulty.stdout.fnmatch_lines(["*test_api*p95:+10% vs main*FAIL*"])
    api = next(t for t in report["tests"] if t["nodeid"].endswith("test_api"))
    assert api["results"][0]["info"]["baseline"]["name"] == "main"  # what the HTML overlays

    # a second healthy run passes, with the rules given explicitly
    healthy, report = _run(pytester, monkeypatch, 3, "--roo-baseline-compare", "main",
                           "--roo-regression", "p95:+10%,p99:+15%,throughput:-5%,error_rate:+0.1%")
    healthy.assert_outcomes(passed=2)
    statuses = [s for test in _verdicts(report).values() for s in test.values()]
    assert statuses == ["pass"] * 8


def test_a_result_without_a_baseline_is_named_not_passed_silently(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_service=TESTS)
    assert _run(pytester, monkeypatch, 1, "--roo-baseline-save", "main")[0].ret == 0
    pytester.makepyfile(test_service=TESTS + NEW_TEST)
    result, report = _run(pytester, monkeypatch, 2, "--roo-baseline-compare", "main")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "*pytest-roo: baseline*",
        "compared against baseline 'main' (*main.json, saved *)",
        "1 result(s) without a baseline, not compared:",
        "  test_service.py::test_search: no baseline for result 'search' in baseline 'main': "
        "not compared",
    ])
    search = next(t for t in report["tests"] if t["nodeid"].endswith("test_search"))
    assert search["verdicts"] == [] and search["notes"][0].startswith("no baseline for result")


def test_a_missing_baseline_name_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_service=TESTS)
    monkeypatch.setenv("RUN_SEED", "1")
    assert pytester.runpytest("--roo-baseline-save", "main").ret == 0
    result = pytester.runpytest("--roo-baseline-compare", "release-1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "*--roo-baseline-compare='release-1': no baseline 'release-1' in .roo/baselines *saved baselines "
        "there: main*"
    ])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--roo-regression", "p95:-10%"], "*--roo-regression='p95:-10%' is not valid: invalid "
                                           "regression rule 'p95:-10%': a latency regresses upwards*"),
        (["--roo-regression", "speed:+1%"], "*unknown stat 'speed'*"),
        (["--roo-baseline-save", "../main"], "*--roo-baseline-save='../main' is not valid: "
                                             "expected a name of letters*"),
    ],
)
def test_bad_baseline_options_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], expected: str
) -> None:
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])
    if "regression" in args[0]:
        result.stderr.fnmatch_lines(["*accepted forms: comma-separated ?metric.?STAT:CHANGE*"])


def test_regression_rules_without_a_baseline_to_compare_are_refused(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = pytester.runpytest("--roo-regression", "p95:+10%")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--roo-regression judges a run against a baseline: give "
                                 "--roo-baseline-compare NAME as well*"])
    # from the environment (or an ini file) it is a project-wide setting: no error
    monkeypatch.setenv("ROO_REGRESSION", "p95:+10%")
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    assert pytester.runpytest().ret == 0


def test_baseline_dir_option_moves_the_store(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytester.makepyfile(test_service=TESTS)
    monkeypatch.setenv("ROO_BASELINE_DIR", str(tmp_path / "kept"))
    _run(pytester, monkeypatch, 1, "--roo-baseline-save", "main")
    assert (tmp_path / "kept" / "main.json").is_file()
    assert not (pytester.path / ".roo").exists()
