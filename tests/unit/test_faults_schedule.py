"""scheduled() runs a fault beside the test's block; watch_recovery() probes from its end."""

from __future__ import annotations

import time

import pytest

from pytest_roo.faults import FaultWindow, scheduled, watch_recovery
from pytest_roo.services.models import PostgresServer


def short_fault() -> FaultWindow:
    window = FaultWindow("restart", target="postgres").start()
    time.sleep(0.05)
    return window.end()


def test_the_action_runs_after_its_delay_and_gives_its_window() -> None:
    entered = time.monotonic()
    with scheduled(short_fault, after=0.1) as fault:
        time.sleep(0.3)
    assert fault.window is not None and fault.window.started is not None
    assert fault.window.started - entered >= 0.1
    assert fault.window.ended is not None


def test_an_action_planned_after_the_block_still_runs() -> None:
    with scheduled(short_fault, after=0.1) as fault:
        pass
    assert fault.window is not None and fault.window.ended is not None


def test_the_actions_error_is_raised_on_leaving_the_block() -> None:
    def broken() -> None:
        raise RuntimeError("the server did not come back")

    with pytest.raises(RuntimeError, match="did not come back"), scheduled(broken):
        time.sleep(0.05)


def test_a_failing_block_cancels_a_fault_not_started_yet() -> None:
    ran = []
    with pytest.raises(KeyError), scheduled(lambda: ran.append(1), after=5) as fault:
        raise KeyError("the block failed")
    assert ran == [] and fault.window is None


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"after": -1}, "after=-1"), ({"timeout": 0}, "timeout=0"), ({"after": True}, "after=True"),
])
def test_bad_arguments_are_named(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        scheduled(short_fault, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a callable"):
        scheduled("restart")  # type: ignore[arg-type]


def test_recovery_is_probed_from_the_faults_end_while_the_block_runs() -> None:
    calls = []

    def probe() -> bool:
        calls.append(time.monotonic())
        return len(calls) >= 3

    with scheduled(short_fault, after=0.05) as fault:
        watch = watch_recovery(probe, fault, interval=0.02)
        time.sleep(0.5)  # the block (a load run) outlasts the fault by far
    result = watch.result()
    assert fault.window is not None and fault.window.ended is not None
    assert calls[0] >= fault.window.ended
    recovery = result.get_metric("recovery")
    assert recovery.count == 1 and recovery.max < 0.3  # not the rest of the block
    assert result.counters["recovery_probes"] == 3


def test_a_restart_down_time_must_be_seconds() -> None:
    server = PostgresServer(host="127.0.0.1", port=5432, user="u", password="p",
                            backend="external")
    with pytest.raises(ValueError, match="down=-1 is not valid"):
        server.restart(down=-1)
