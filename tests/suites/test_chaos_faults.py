"""The chaos suite on the healthy reference system passes; with each of its fault switches it
fails exactly the criteria that fault breaks (by test, result and criterion), the others pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.suites.runner import run_suite

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.heavy]

CHAOS = ["suites/chaos"]
REDIS, DROP, PG = "test_redis_restart", "test_network_to_postgres_drops", "test_postgres_restart"
#: the smoke profile's settle time (suites/chaos/sizes.py)
DURING, AFTER = "during.error_rate < 20%", "after(1s).error_rate < 1%"
RECOVERY = ("recovery", "recovery.max < 5s")
WRITES = ("chaos.acknowledged_writes", "errors == 0")


def load(test: str, criterion: str) -> tuple[str, str, str]:
    return (test, "http.run", criterion)


CASES = {
    # a system that gives up at the first lost connection: errors while a service is down,
    # and only then (the pool opens new connections when it is back)
    "no_retry=1": {load(REDIS, DURING), load(DROP, DURING), load(PG, DURING)},
    # a pool that is never rebuilt: failing from the fault on, never recovering
    "pool_never_reconnects=1": {load(DROP, DURING), load(DROP, AFTER), (DROP, *RECOVERY),
                                load(PG, DURING), load(PG, AFTER), (PG, *RECOVERY)},
    # writes answered 201 before they ran: those that ran while PostgreSQL was away are lost
    # (a Redis restart loses none of them)
    "ack_before_commit=1": {(DROP, *WRITES), (PG, *WRITES)},
}


def test_the_healthy_system_passes(tmp_path: Path) -> None:
    run = run_suite(CHAOS, tmp_path)
    assert run.returncode == 0, run.explain()
    assert {name: entry.get("outcome") for name, entry in run.tests.items()} == {
        REDIS: "passed", DROP: "passed", PG: "passed"}, run.explain()
    statuses = [v["status"] for t in run.tests.values() for v in t.get("verdicts", [])]
    assert statuses == ["pass"] * 15, run.explain()


@pytest.mark.parametrize("fault", list(CASES))
def test_each_fault_fails_exactly_its_criteria(fault: str, tmp_path: Path) -> None:
    run = run_suite(CHAOS, tmp_path, faults=fault)
    run.assert_fails_exactly(fault, CASES[fault])
