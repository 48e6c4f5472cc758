"""The soak, resources and overhead suites: each passes on the healthy reference system and
fails, on exactly its criterion, under the fault switch that breaks it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.suites.runner import SuiteRun, run_suite

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SOAK = "suites/soak/test_soak.py::test_memory_stable_under_connection_churn"
RESOURCES = "suites/resources/test_resources.py::test_memory_and_cpu_under_standard_load"
OVERHEAD = "suites/overhead/test_overhead.py::test_tracing_overhead_under_5_percent"
MONITORING = "suites/overhead/test_overhead.py::test_monitoring_overhead_under_5_percent"

CASES = {
    # case: (path, fault, profile, {criteria that must FAIL}); the others must not fail
    # 60 KB kept per WebSocket connection: the RSS floor grows, and stays after the load
    # (a leak fails all three views of "memory stable"), in the standard profile
    "soak-leak-60kb": (SOAK, "leak_kb_per_conn=60", "standard",
                       {"memory.slope < 2MB/min", "memory.growth < 5%",
                        "memory.after_load < 10%"}),
    # the same leak capped at 8 MiB (reached within the warm-up and the first seconds of the
    # load, before the judged part): the floor is flat while the load runs, but the memory
    # stays after it
    "soak-capped-leak": (SOAK, "leak_kb_per_conn=60,leak_max_mb=8", "standard",
                         {"memory.after_load < 10%"}),
    # a slow leak, 3 KiB per connection at 20/s (3.5 MiB a minute): over the 19 s judged the
    # floor grows about 2 % of itself, under the 5 % growth allowed for the run, but the slope
    # projects 210 MiB an hour: the per-minute criterion fails alone (the run's growth and the
    # level after the load pass)
    "soak-slow-leak": (SOAK, "leak_kb_per_conn=3", "standard", {"memory.slope < 2MB/min"}),
    "resources-memory": (RESOURCES, "ballast_mb=1100", "smoke", {"memory.max < 1GB"}),
    # hashing threads release the GIL: each can take a core while the load runs; 4 of them
    # got only 59 % of a core (p95) while the load average was 7 on the 2 cores here
    "resources-cpu": (RESOURCES, "cpu_burn_threads=10", "smoke", {"cpu.p95 < 80%"}),
}


# The soak's churn keeps a schedule (its error_rate fails when 5 % of the arrivals start late,
# as they did beside another suite run): heavy. The resources suite judges memory and the app's
# own CPU, which another test beside it does not change.
@pytest.mark.parametrize("case", [pytest.param(case, marks=pytest.mark.heavy)
                                  if CASES[case][0] == SOAK else case for case in CASES])
def test_resource_suite_fails_on_its_fault(case: str, tmp_path: Path) -> None:
    path, fault, profile, expected = CASES[case]
    run = run_suite([path], tmp_path, faults=fault, profile=profile)
    assert run.report, f"no JSON report written\n{run.explain()}"
    assert run.returncode == 1, f"the suite did not fail with {fault}\n{run.explain()}"
    failing = {criterion for _, criterion in run.failing}
    assert failing == expected, (f"with {fault} expected exactly {sorted(expected)} to fail, got "
                                 f"{sorted(failing)}\n{run.explain()}")


def _overhead_verdict(run: SuiteRun, test: str = OVERHEAD) -> dict[str, object]:
    (verdict,) = [r["info"]["overhead"]["verdict"] for entry in run.report["tests"]
                  if entry["nodeid"].endswith(test.split("::")[-1])
                  for r in entry.get("results", []) if "overhead" in r.get("info", {})]
    assert isinstance(verdict, dict)
    return verdict


@pytest.mark.heavy
def test_overhead_suite_fails_on_expensive_tracing_and_monitoring(tmp_path: Path) -> None:
    """The exporter burns 15 % of a request's CPU, and so does observing a request: each
    overhead's lower bound is above 5 %. Both faults share one run: each A/B runs on its own
    fresh app and compares arms that differ in its feature alone. Tracing is off in both arms
    of the monitoring A/B (the app starts with it off), so its cost is never paid there; the
    monitoring is on in both arms of the tracing A/B, and its surcharge, proportional to what a
    request costs (fixtures/refapp/cost.py), scales both arms alike and leaves their ratio."""
    run = run_suite([OVERHEAD, MONITORING], tmp_path,
                    faults="tracing_cost=0.15,monitoring_cost=0.15", profile="smoke")
    assert run.returncode == 1, run.explain()
    for test in (OVERHEAD, MONITORING):
        _assert_overhead_caught(_overhead_verdict(run, test), run, test)


def _assert_overhead_caught(verdict: dict[str, object], run: SuiteRun, test: str) -> None:
    """A 15 % cost FAILs; under this tier's own parallel load (-n 2 on 2 cores) the interval can
    widen below 5 % and read INCONCLUSIVE, which still fails the suite: never a PASS, and the
    estimate must show the cost."""
    assert verdict["status"] in ("fail", "inconclusive"), (
        f"{test}: {verdict['reason']}\n{run.explain()}")
    assert float(verdict["estimate"]) > 0.08, (  # type: ignore[arg-type]
        f"{test}: {verdict}\n{run.explain()}")


@pytest.mark.heavy
def test_resource_suites_pass_on_the_healthy_reference_system(tmp_path: Path) -> None:
    """Every criterion PASSes on the healthy app. The tracing and monitoring overheads (about
    +1 to +2.5 % here) are A/Bs of CPU time: under this test tier's own parallel load (-n 2 on
    2 cores) their intervals can widen past 5 % and read INCONCLUSIVE; they must never FAIL
    (the main job, on a quieter machine, passes them)."""
    run = run_suite([SOAK, RESOURCES, OVERHEAD, MONITORING], tmp_path, profile="standard",
                    timeout=500)
    assert not run.failing, run.explain()
    overheads = [_overhead_verdict(run, test) for test in (OVERHEAD, MONITORING)]
    for overhead in overheads:
        assert overhead["status"] in ("pass", "inconclusive"), run.explain()
        assert float(overhead["estimate"]) < 0.05, run.explain()  # type: ignore[arg-type]
    others = {criterion for _, criterion in run.inconclusive} - {"overhead < 5%"}
    assert not others, run.explain()
    passed = all(overhead["status"] == "pass" for overhead in overheads)
    assert run.returncode == (0 if passed else 1), run.explain()
