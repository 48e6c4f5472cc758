"""The shared Proxy API (names, handles, timed faults, profiles) and the recovery measure,
on a backend that only records the primitives it is asked for."""

from __future__ import annotations

import time
from typing import Any, TypeVar

import pytest

from pytest_roo import slo
from pytest_roo.faults.proxy import Proxy, parse_upstream
from pytest_roo.faults.recovery import measure_recovery, measure_recovery_async
from pytest_roo.faults.toxics import Toxic, ToxicError

T = TypeVar("T")


def fresh(value: T) -> T:
    """``value`` as read now: an assert on a call is not carried over by mypy to a later read
    of the same attribute, which the code under test changes in between."""
    return value


class Recording(Proxy):
    def __init__(self, upstream: str = "postgresql://u:pw@127.0.0.1:5432/app") -> None:
        super().__init__(parse_upstream(upstream), "rec")
        self.calls: list[tuple[str, Any]] = []

    host = "127.0.0.1"
    port = 40000

    def _create_toxic(self, toxic: Toxic) -> None:
        self.calls.append(("create", toxic.name))

    def _update_toxic(self, toxic: Toxic) -> None:
        self.calls.append(("update", dict(toxic.attributes)))

    def _delete_toxic(self, name: str) -> None:
        self.calls.append(("delete", name))

    def _set_enabled(self, enabled: bool) -> None:
        self.calls.append(("enabled", enabled))

    def close(self) -> None:
        self.calls.append(("close", None))


def test_url_keeps_credentials_and_path() -> None:
    assert Recording().url == "postgresql://u:pw@127.0.0.1:40000/app"
    assert Recording("127.0.0.1:6379").url == "tcp://127.0.0.1:40000"


def test_names_handles_and_updates() -> None:
    proxy = Recording()
    handle = proxy.add("latency", latency=10)
    with pytest.raises(ToxicError, match="already has a toxic named 'latency_downstream'"):
        proxy.add("latency", latency=20)
    proxy.add("latency", latency=20, name="second")
    handle.update(latency=30, jitter=5)
    assert proxy.toxics["latency_downstream"].attributes["latency"] == 30
    with pytest.raises(KeyError, match="has no toxic 'nope' \\(has: latency_downstream, second\\)"):
        proxy.remove("nope")
    with handle:
        pass
    assert list(proxy.toxics) == ["second"]
    proxy.clear()
    assert proxy.toxics == {}


def test_down_and_up_are_idempotent() -> None:
    proxy = Recording()
    proxy.down()
    proxy.down()
    assert not proxy.enabled
    proxy.up()
    proxy.up()
    assert proxy.calls == [("enabled", False), ("enabled", True)]


def test_fault_lasts_the_block() -> None:
    proxy = Recording()
    with proxy.fault("latency", latency=100) as window:
        assert fresh(window.active) and "latency_downstream" in proxy.toxics
    assert not window.active and proxy.toxics == {}
    assert window.started is not None and window.ended is not None
    assert window.ended >= window.started


def test_fault_ends_after_its_duration_within_the_block() -> None:
    proxy = Recording()
    with proxy.fault("down", duration=0.05) as window:
        assert not fresh(proxy.enabled)
        deadline = time.monotonic() + 5
        while window.ended is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proxy.enabled and window.ended is not None
    assert proxy.calls == [("enabled", False), ("enabled", True)]


def test_fault_starting_after_the_block_ended_never_starts() -> None:
    proxy = Recording()
    with proxy.fault("latency", latency=1, after=30):
        pass
    assert proxy.calls == []


def test_bad_fault_arguments_fail_at_once() -> None:
    proxy = Recording()
    with pytest.raises(ToxicError, match="latncy"), proxy.fault("latency", latncy=5):
        pass
    with pytest.raises(ValueError, match="duration=0"), proxy.fault("down", duration=0):
        pass
    with pytest.raises(ValueError, match="'down' takes no toxic attributes"), proxy.fault(
        "down", latency=5
    ):
        pass
    assert proxy.calls == []


def test_profile_adds_named_toxics_and_removes_them() -> None:
    proxy = Recording()
    with proxy.profile("3g") as applied:
        assert sorted(proxy.toxics) == sorted(h.name for h in applied.handles)
        assert "3g_latency_upstream" in proxy.toxics
    assert proxy.toxics == {}


# --- recovery ------------------------------------------------------------------------------------


def test_recovery_is_the_time_from_the_fault_end_to_the_first_success() -> None:
    start = time.monotonic()
    calls = []

    def probe() -> bool:
        calls.append(time.monotonic())
        return time.monotonic() - start >= 0.2

    result = measure_recovery(probe, since=start, interval=0.01, timeout=5)
    metric = result.get_metric("recovery")
    assert metric.count == 1 and result.operations == 1 and result.error_count == 0
    assert 0.2 <= metric.max < 5
    assert result.counters["recovery_probes"] == len(calls) > 1
    slo.check(result, "recovery.max < 5s")


def test_recovery_samples_accumulate_and_exceptions_count_as_not_yet() -> None:
    result = measure_recovery(lambda: True, timeout=1)
    attempts = iter([ConnectionRefusedError("refused"), None])

    def flaky() -> None:
        error = next(attempts)
        if error:
            raise error

    measure_recovery(flaky, result=result, interval=0.01, timeout=5)
    assert result.get_metric("recovery").count == 2


def test_no_recovery_records_the_wait_and_fails_the_criterion() -> None:
    result = measure_recovery(lambda: False, timeout=0.1, interval=0.02)
    assert result.errors["timeout"] == 1
    assert result.get_metric("recovery").max >= 0.09
    assert result.info["unrecovered"][0]["attempts"] >= 2
    with pytest.raises(AssertionError):
        slo.check(result, "recovery.max < 50ms")


def test_recovery_since_a_fault_still_on_is_an_error() -> None:
    proxy = Recording()
    with proxy.fault("down") as window, pytest.raises(ValueError, match="still on"):
        measure_recovery(lambda: True, since=window)


@pytest.mark.parametrize(("kwargs", "text"), [({"timeout": 0}, "timeout=0"),
                                              ({"interval": -1}, "interval=-1")])
def test_recovery_arguments(kwargs: dict[str, Any], text: str) -> None:
    with pytest.raises(ValueError, match=text):
        measure_recovery(lambda: True, **kwargs)


def test_recovery_async_probe() -> None:
    import asyncio

    state = {"n": 0}

    async def probe() -> bool:
        state["n"] += 1
        await asyncio.sleep(0)
        return state["n"] >= 3

    result = asyncio.run(measure_recovery_async(probe, interval=0.01, timeout=5))
    assert result.get_metric("recovery").count == 1 and state["n"] == 3
