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
