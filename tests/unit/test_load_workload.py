"""Pure logic of the load engine: schedules, keywords, back-fill, payload, error kinds."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from pytest_roo.load.engine import classify, corrected
from pytest_roo.load.workload import Schedule, Stage, make_workload, steps
from pytest_roo.load.ws import TOKEN_RE, make_payload


def test_constant_schedule_is_exact() -> None:
    s = Schedule([Stage(2.0, 100.0)])
    assert s.total == 200
    assert s.time_of(0) == 0.0
    assert s.time_of(150) == pytest.approx(1.5)
    assert s.time_of(200) == float("inf")


def test_steps_and_ramps() -> None:
    s = Schedule(steps(10, (1, 10), each="1s"))
    assert s.total == 110
    assert s.time_of(10) == pytest.approx(1.0)
    ramp = Schedule([Stage(1.0, 0.0), Stage(2.0, 100.0, ramp=True)])
    assert ramp.total == 100
    assert ramp.time_of(25) == pytest.approx(1.0 + 1.0, rel=1e-6)  # half the ramp, quarter count


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"clients": 0}, "clients"),
        ({"clients": 2, "duration": "soon"}, "duration"),
        ({"clients": 2, "rate": "fast"}, "rate"),
        ({"clients": 2, "message_size": 0}, "message_size"),
        ({"clients": 2, "model": "bursty"}, "model"),
        ({"clients": 2, "stages": [("1s",)]}, "stage"),
    ],
)
def test_bad_keywords_name_the_value(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_workload(duration=kwargs.pop("duration", 1), **kwargs)  # type: ignore[arg-type]


def test_rate_selects_the_open_model() -> None:
    assert make_workload(clients=3, duration="2s", rate="50/s").open
    assert not make_workload(clients=3, duration=2).open


def test_backfill_matches_hdrhistogram_expected_interval() -> None:
    values = np.array([500, 1000, 5000], dtype=np.int64)
    out = sorted(corrected(values, 1000).tolist())
    # 5000 stands for the sends that could not happen at 4000, 3000, 2000, 1000
    assert out == [500, 1000, 1000, 2000, 3000, 4000, 5000]


def test_payload_carries_a_findable_token_and_has_the_size() -> None:
    payload = make_payload("abc123", 17, 200, 123)
    assert len(payload) == 200
    match = TOKEN_RE.search('{"type": "msg", "data": ' + payload + "}")
    assert match is not None and match.groups() == ("abc123", "17")


def test_error_kinds() -> None:
    assert classify(asyncio.TimeoutError()) == "timeout"
    assert classify(ConnectionRefusedError()) == "refused"
    assert classify(ConnectionResetError()) == "reset"
    assert classify(AssertionError()) == "assertion"
    assert classify(ValueError()) == "other"


def test_stages_imply_the_open_model() -> None:
    wl = make_workload(clients=3, duration=None, stages=steps(200, (1, 10), each="2s"))
    assert wl.open
    assert wl.duration == 4.0
    assert wl.schedule().total == 200 * 2 + 2000 * 2
    numeric = make_workload(clients=3, duration=None, stages=[("1s", 100), ("1s", 400)])
    assert numeric.open and numeric.schedule().total == 500


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stages": steps(200, (1, 10), each="2s"), "model": "closed"}, "open model"),
        ({"stages": [("1s", "10/s")], "rate": "5/s"}, "stages set the rate"),
        ({"rate": "5/s", "model": "closed"}, "model='closed'"),
    ],
)
def test_closed_runs_reject_rates_and_stages(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_workload(clients=2, duration=None, **kwargs)  # type: ignore[arg-type]


def test_echo_messages_name_their_id_and_keep_the_size() -> None:
    from pytest_roo.load.ws_client import echo_message, reply_id

    message = echo_message("roo:abc123:", 1742, "x" * 64)
    assert len(message) == 64 and message.startswith("roo:abc123:1742:")
    assert reply_id("roo:abc123:", message) == 1742
    assert reply_id("roo:abc123:", message[:15]) == 1742  # truncated: still names its message
    assert reply_id("roo:abc123:", '0{"sid":"x"}') is None  # a Socket.IO open frame
    assert reply_id("roo:abc123:", "roo:ffffff:1:xx") is None  # another run
    assert echo_message("roo:abc123:", 123456, "x" * 4) == "roo:abc123:123456:"
