"""The Socket.IO suite (suites/socketio) passes against the healthy reference system and, with
one ``sio_*`` fault switched on, fails exactly the criterion that fault breaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.suites.runner import run_suite

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SUITE = "suites/socketio/test_socketio.py"
DELIVERY = "test_log_lines_reach_socketio_subscribers"
SUBSCRIBE = "test_socketio_subscribe_is_answered_fast"
ISOLATION = "test_socketio_users_only_see_their_own_logs"

#: case: (test, fault, the criteria that must fail -- and only they -- , error kind counted)
CASES = {
    # one line in 50 is 300 ms late (3 of the smoke run's 150): 2 % of the deliveries, past
    # the p99 and short of the p95
    "tail": (DELIVERY, "sio_delay_rate=0.02,sio_delay_ms=300",
             {(DELIVERY, "delivery.p99 < 100ms")}, None),
    "late": (DELIVERY, "sio_delay_rate=1,sio_delay_ms=150",
             {(DELIVERY, "delivery.p95 < 100ms"), (DELIVERY, "delivery.p99 < 100ms")}, None),
    "dropped": (DELIVERY, "sio_drop_rate=0.02", {(DELIVERY, "errors == 0")}, "lost"),
    # one event in 200 goes to another user's room
    "wrong-room": (ISOLATION, "sio_wrong_room_rate=0.005", {(ISOLATION, "errors == 0")},
                   "cross_user"),
    # a "subscribed" event at once, the ack 300 ms later: a client that took the event for
    # the answer would time the subscription at a millisecond
    "greeting": (SUBSCRIBE, "sio_greeting_ms=300", {(SUBSCRIBE, "subscribe.p95 < 100ms")},
                 None),
}


def test_healthy_system_passes_the_socketio_suite(tmp_path: Path) -> None:
    run = run_suite(["suites/socketio"], tmp_path)
    assert run.returncode == 0, run.explain()
    assert set(run.tests) == {DELIVERY, SUBSCRIBE, ISOLATION}, run.explain()
    assert not run.failing and not run.inconclusive, run.explain()
    assert len(run.passing) == 6, run.explain()


@pytest.mark.parametrize("case", list(CASES))
def test_socketio_fault_fails_exactly_its_criterion(case: str, tmp_path: Path) -> None:
    test, fault, expected, kind = CASES[case]
    run = run_suite([f"{SUITE}::{test}"], tmp_path, faults=fault)
    assert run.returncode == 1, f"the suite did not fail with {fault}\n{run.explain()}"
    assert run.failing == expected, (
        f"with {fault} expected exactly {sorted(expected)} to fail, got {sorted(run.failing)}"
        f"\n{run.explain()}")
    assert not run.inconclusive, run.explain()
    if kind is not None:
        kinds = {k for t in run.report["tests"] for r in t.get("results", [])
                 for k in r["errors"]}
        assert kind in kinds, f"no {kind!r} error counted (errors: {sorted(kinds)})"
