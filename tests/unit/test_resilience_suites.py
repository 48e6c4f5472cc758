"""The resilience suites' pure parts: ack limits derived from the network profiles, the reset
bursts' schedule, topic names."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest

from fixtures.refapp.topics import TopicError, check_topic
from suites.network.test_relay_network import ack_limit_ms
from suites.resets import ResetBursts


def test_ack_limits_follow_the_profiles() -> None:
    # 4 round trips + 8 jitters + 300 ms (+ the profile's own reset stall)
    assert ack_limit_ms("3g") == 4 * 300 + 8 * 30 + 300
    assert ack_limit_ms("lossy-wifi") == 4 * 40 + 8 * 20 + 300 + 3000
    assert ack_limit_ms("satellite") > ack_limit_ms("3g") > ack_limit_ms("4g")
    with pytest.raises(ValueError, match="unknown network profile 'edge'"):
        ack_limit_ms("edge")


class FakeProxy:
    """Records what the bursts do to a proxy (the real ones: tests/integration/faults)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def add(self, toxic: str, **attrs: Any) -> Any:
        with self.lock:
            self.calls.append(("add", {"toxic": toxic, **attrs}))
        proxy = self

        class Handle:
            def remove(self) -> None:
                with proxy.lock:
                    proxy.calls.append(("remove", {}))

        return Handle()


def test_reset_bursts_add_a_reset_toxic_for_each_window_then_remove_it() -> None:
    proxy = FakeProxy()
    with ResetBursts(proxy, share=0.2, every=0.05, window=0.01, duration=0.3) as bursts:
        time.sleep(0.5)
    kinds = [kind for kind, _ in proxy.calls]
    assert bursts.bursts >= 2 and kinds == ["add", "remove"] * bursts.bursts
    assert proxy.calls[0][1] == {"toxic": "reset_peer", "name": "reset_bursts",
                                 "stream": "downstream", "toxicity": 0.2, "timeout": 0}
    assert bursts.describe()["bursts"] == bursts.bursts


def test_reset_bursts_stop_with_the_block() -> None:
    proxy = FakeProxy()
    started = time.monotonic()
    with ResetBursts(proxy, share=1.0, every=0.2, window=0.1, duration=60):
        time.sleep(0.05)
    assert time.monotonic() - started < 2
    assert [kind for kind, _ in proxy.calls].count("add") == [
        kind for kind, _ in proxy.calls].count("remove")


@pytest.mark.parametrize(("window", "every"), [(0, 1), (1, 1), (2, 1), (-1, 1)])
def test_reset_bursts_refuse_a_window_outside_the_period(window: float, every: float) -> None:
    with pytest.raises(ValueError, match=rf"window={window!r} must be above 0 and below"):
        ResetBursts(FakeProxy(), share=0.1, every=every, window=window, duration=1)


def test_a_failing_proxy_fails_the_block() -> None:
    class Broken:
        def add(self, toxic: str, **attrs: Any) -> Any:
            raise OSError("proxy gone")

    with pytest.raises(RuntimeError, match="reset bursts failed: proxy gone"):  # noqa: SIM117
        with ResetBursts(Broken(), share=0.1, every=0.02, window=0.01, duration=1):
            time.sleep(0.2)


@pytest.mark.parametrize("name", ["", "a b", "a:b", "ok\n", "x" * 65, 7, None, "ü"])
def test_bad_topic_names_are_refused(name: Any) -> None:
    with pytest.raises(TopicError, match=re.escape("expected 1 to 64 characters of A-Z a-z 0-9 _ . -")):
        check_topic(name)


def test_good_topic_names_pass() -> None:
    assert check_topic("resume-ab12.x_Y") == "resume-ab12.x_Y"
