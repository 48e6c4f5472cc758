"""The regression gate on the reference system: a baseline saved on a healthy run, then a run
with a 20 ms echo delay fails exactly the rules of the results it slows, and a second healthy
run passes every rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.suites.runner import SuiteRun, run_suite

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.heavy]

WS = "suites/ws"
#: Wide enough that another healthy run on a shared, busy machine stays within it (a p95 of a
#: few ms may double), narrow enough that 20 ms more on every echo is far outside it.
RULES = "p95:+10ms,throughput:-20%,error_rate:+1%"
#: The results that go through /ws/echo: the fault delays every reply they wait for (a churn
#: session is connect, one echo, close). The broadcast does not use it and must pass.
CHURN = "test_connect_disconnect_churn"
ECHO_TESTS = ("test_echo_round_trip", "test_echo_replies_are_intact", CHURN)


def _gate(run: SuiteRun) -> dict[tuple[str, str], str]:
    """(test, rule) -> status of every comparison against the baseline."""
    return {(name, v["criterion"]): v["status"] for name, t in run.tests.items()
            for v in t.get("verdicts", []) if v["criterion"].endswith(" vs main")}


# solo: the rules compare p95s of a few ms between runs; beside another test a healthy
# broadcast's p95 went from 4.18 ms to 17.3 ms (+13 ms against the +10 ms allowed)
@pytest.mark.solo
def test_a_delay_fails_the_affected_rules_and_a_healthy_run_passes(tmp_path: Path) -> None:
    store = ["--roo-baseline-dir", str(tmp_path / "baselines")]
    compare = [*store, "--roo-baseline-compare", "main", "--roo-regression", RULES]

    saved = run_suite([WS], tmp_path / "healthy-1", args=[*store, "--roo-baseline-save", "main"])
    assert saved.returncode == 0, saved.explain()
    assert (tmp_path / "baselines" / "main.json").is_file()

    faulty = run_suite([WS], tmp_path / "delayed", faults="echo_delay_ms=20", args=compare)
    gate = _gate(faulty)
    assert gate, faulty.explain()
    # A churn session is one echo between a connect and a close: on a busy machine the
    # baseline's churn p95 can be uncertain by tens of ms (21.4 ms in [8.86 ms, 33.7 ms] of
    # 300), and 20 ms more cannot then be told from it: INCONCLUSIVE, which does not fail the
    # test. It must never PASS; the echoes (750 each) must FAIL.
    churn = gate.pop((CHURN, "p95:+10ms vs main"))
    assert churn in ("fail", "inconclusive"), faulty.explain()
    slowed = {test for test in ECHO_TESTS if test != CHURN or churn == "fail"}
    failed = {key for key, status in gate.items() if status == "fail"}
    assert failed == {(test, "p95:+10ms vs main") for test in slowed - {CHURN}}, faulty.explain()
    assert faulty.returncode == 1, faulty.explain()
    assert {name for name, t in faulty.tests.items() if t["outcome"] == "failed"} == slowed, (
        faulty.explain())

    healthy = run_suite([WS], tmp_path / "healthy-2", args=compare)
    gate = _gate(healthy)
    # the churn's p95 again: 300 sessions on a busy machine may not tell +10 ms either way
    # (9.02 ms against 4.38 ms, this run's bound 17.5 ms): never FAIL, everything else PASS
    assert gate.pop((CHURN, "p95:+10ms vs main"), None) in ("pass", "inconclusive"), (
        healthy.explain())
    assert gate and set(gate.values()) == {"pass"}, healthy.explain()
    assert healthy.returncode == 0, healthy.explain()
