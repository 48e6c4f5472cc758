"""resource_monitor and overhead_ab in a real pytest run: what reaches the JSON report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent

TESTS = f'''
import subprocess, sys, os, signal, itertools
import pytest
from pytest_roo.monitor import judge_trend

CHILD = {str(HERE / "memory_child.py")!r}

@pytest.fixture
def child():
    proc = subprocess.Popen([sys.executable, CHILD, "flat", "1", "30"], stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    assert proc.stdout.readline().strip() == "READY"
    yield proc
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()

def test_monitored(resource_monitor, child):
    monitor = resource_monitor(child, interval="100ms", count=6)
    assert monitor.wait(30)
    monitor.mark("done")

@pytest.mark.slo("p95 < 1s")
def test_monitor_does_not_count_as_a_result(resource_monitor, roo_record, child):
    from pytest_roo.results.metrics import LoadResult
    resource_monitor(child.pid, interval="100ms", count=3).wait(30)
    roo_record(LoadResult.from_samples("op", [0.001] * 100))

def test_overhead(overhead_ab):
    state = {{"on": False}}
    noise = itertools.cycle([1.0, 1.01, 0.99, 1.02, 0.98])
    def switch(on):
        state["on"] = on
    def throughput():
        return 1000.0 / (1.2 if state["on"] else 1.0) * next(noise)
    ab = overhead_ab(switch, throughput, higher_is_better=True, limit="5%", rounds=4,
                     max_time="30s")
    assert ab.verdict.failed, ab.verdict.reason
'''


def test_fixtures_record_into_the_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_monitor_fixtures=TESTS)
    path = pytester.path / "report.json"
    result = pytester.runpytest_subprocess(f"--roo-report-json={path}", "-p", "no:playwright",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    report = json.loads(path.read_text())
    tests = {t["nodeid"].split("::")[-1]: t for t in report["tests"]}

    monitored = tests["test_monitored"]["results"]
    assert [r["info"]["kind"] for r in monitored] == ["resources"]
    resources = monitored[0]["info"]["resources"]
    assert resources["schema"] == "pytest-roo/resources/v1"
    assert resources["info"]["ticks"] == 6 and "done" in resources["marks"]
    rss = next(s for s in resources["series"] if s["source"] == "total" and s["name"] == "rss")
    assert len(rss["values"]) == 6 and all(v > 0 for v in rss["values"])
    assert monitored[0]["info"]["summary"]["total/rss"]["max"] > 0

    mixed = tests["test_monitor_does_not_count_as_a_result"]
    assert [v["criterion"] for v in mixed["verdicts"]] == ["p95 < 1s"]  # judged on "op" only
    assert [r["info"].get("kind") for r in mixed["results"]] == [None, "resources"]

    overhead = tests["test_overhead"]
    assert [r["info"]["kind"] for r in overhead["results"]] == ["overhead"]
    ab = overhead["results"][0]["info"]["overhead"]
    assert ab["verdict"]["status"] == "fail" and ab["rounds"] == 4
    assert len(ab["measurements"]) == 2 + 4 * 4
    (verdict,) = overhead["verdicts"]  # a criterion like any other in the table and the JSON
    assert verdict["criterion"].startswith("overhead < ") and verdict["status"] == "fail"
    assert verdict["measured"] == ab["verdict"]["estimate"]
