"""The Socket.IO suite (suites/socketio) passes against the healthy reference system and, with
a ``sio_*`` fault switched on, fails exactly the criterion that fault breaks (two faults that
cannot reach each other's tests share a run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.suites.runner import run_suite

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.heavy]

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


#: One run per group, its faults switched on together. The subscribe test injects no log line
#: (no log or status event can go to a wrong room) and the isolation test times no subscribe
#: (its subscribers wait for the ack, later or not): neither fault reaches the other's test.
#: A wrong room never shares a run with the delivery test, whose subscribers would miss the
#: lines sent elsewhere.
GROUPS = {
    "tail": ("tail",),
    "late": ("late",),
    "dropped": ("dropped",),
    "wrong-room+greeting": ("wrong-room", "greeting"),
}


def test_every_case_is_in_exactly_one_group() -> None:
    assert sorted(name for names in GROUPS.values() for name in names) == sorted(CASES)


@pytest.mark.parametrize("group", list(GROUPS))
def test_socketio_fault_fails_exactly_its_criterion(group: str, tmp_path: Path) -> None:
    cases = {name: CASES[name] for name in GROUPS[group]}
    faults = ",".join(fault for _, fault, _, _ in cases.values())
    run = run_suite([f"{SUITE}::{test}" for test, _, _, _ in cases.values()], tmp_path,
                    faults=faults)
    assert run.returncode == 1, f"the suite did not fail with {faults}\n{run.explain()}"
    problems = []
    for name, (test, fault, expected, kind) in cases.items():
        seen = run.select([f"{SUITE}::{test}"])
        if seen.failing != expected:
            problems.append(f"{name}: with {fault} expected exactly {sorted(expected)} to fail, "
                            f"got {sorted(seen.failing)}")
        if seen.inconclusive:
            problems.append(f"{name}: with {fault} inconclusive: {sorted(seen.inconclusive)}")
        if kind is not None:
            kinds = {k for t in seen.report["tests"] for r in t.get("results", [])
                     for k in r["errors"]}
            if kind not in kinds:
                problems.append(f"{name}: no {kind!r} error counted (errors: {sorted(kinds)})")
    assert not problems, "\n".join(problems) + f"\n{run.explain()}"
