"""``sio_swarm`` over two worker processes against the python-socketio test server: the
acked calls and a room broadcast (one room shared by both workers) merged into one result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.integration

Start = Callable[..., str]


def test_calls_and_a_room_broadcast_over_two_processes(sio_server: Start,
                                                        sio_swarm: Any) -> None:
    url = sio_server()
    calls = sio_swarm.call(url, clients=4, rate="100/s", duration=2, processes=2)
    assert calls.info["processes"] == 2
    assert calls.operations == 200 and calls.error_count == 0, calls.info.get("error_examples")
    assert calls.get_metric("ack").count == 200
    assert calls.counters["clients_connected"] == 4
    room = sio_swarm.broadcast(url, clients=4, rate="10/s", duration=2, processes=2)
    assert room.error_count == 0, room.info.get("error_examples")
    # 20 messages (5/s from each worker): each worker times its own 10 at its 2 subscribers
    assert room.operations == room.get_metric("delivery").count == 40
    # both workers' subscribers joined one room, so each also saw the other worker's 10
    assert room.counters["unexpected"] >= 30, room.counters
    assert sio_swarm.results == [calls, room]
