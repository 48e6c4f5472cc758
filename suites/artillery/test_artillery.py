"""Artillery suite: the reference system driven by Artillery scenario files.

The scenarios live in fixtures/artillery/ (docs/artillery.md): ``refapp_http.yml`` (the API
journey: register, sign in, profile, create and list deployments, health, on Artillery's
http engine), ``refapp_ws.yml`` (WebSocket echo with checked answers, on its ws engine) and
``refapp_socketio.yml`` (live logs over Socket.IO: subscribe acks checked, log lines written
through the API, on its socketio engine).
The suite replaces their phases with the size of ``--roo-profile`` (suites/artillery/sizes.py)
and judges Artillery's own summaries (``info["source"] == "artillery summary"``) with the same
criteria as any result.
Skipped, with the install hint, when Artillery (npm) is not installed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pytest_roo.profiles import SelectedProfile
from pytest_roo.target import Target
from suites import client
from suites.artillery.sizes import ARTILLERY, ArtillerySizes

T = TypeVar("T")
SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "artillery"
#: deployments the Socket.IO users spread over (their subscriptions and lines)
SIO_DEPLOYMENTS = 20


@pytest.fixture(scope="module")
def sizes(roo_sizes: SelectedProfile) -> ArtillerySizes:
    """The Artillery suite's sizes for ``--roo-profile`` (suites/artillery/sizes.py)."""
    return roo_sizes(ARTILLERY)


def phases(seconds: float, rate: float) -> dict[str, Any]:
    """Overrides that replace a scenario file's phases with one of ``seconds`` x ``rate``."""
    return {"config": {"phases": [{"duration": seconds, "arrivalRate": rate}]}}


@pytest.mark.slo("http_response_time.p95 < 300ms", "error_rate < 1%")
def test_api_journey_with_artillery(artillery: Any, target: Target,
                                    sizes: ArtillerySizes) -> None:
    """Artillery's http engine: every user registers, signs in and uses the API; each
    answer's fields are captured (a missing one is an error); p95 < 300 ms (registering and
    signing in hash a password each), < 1 % errors."""
    result = artillery.run(SCENARIOS / "refapp_http.yml", target=target.base_url,
                           overrides=phases(sizes.http_duration, sizes.http_arrival_rate))
    assert result.counters["vusers.created"] == int(sizes.http_duration
                                                    * sizes.http_arrival_rate), result.counters
    # six requests per user: one that stopped early (an error) made fewer
    assert result.operations <= 6 * result.counters["vusers.created"], result.counters


@pytest.mark.slo("vusers_session_length.p95 < 2s", "error_rate < 1%")
def test_ws_echo_with_artillery(artillery: Any, target: Target,
                                sizes: ArtillerySizes) -> None:
    """Artillery's ws engine: every user sends ten JSON messages to /ws/echo and checks each
    echo; the whole session (connect, ten round trips, ten 50 ms think times: at least
    0.5 s) p95 < 2 s."""
    result = artillery.run(SCENARIOS / "refapp_ws.yml", target=target.ws_base_url,
                           overrides=phases(sizes.ws_duration, sizes.ws_arrival_rate))
    assert result.counters["websocket.messages_sent"] == 10 * result.counters["vusers.created"]
    assert result.get_metric("vusers_session_length").min >= 0.5  # the think times happened


@pytest.mark.slo("socketio_response_time.p95 < 100ms", "error_rate < 1%")
def test_live_logs_with_artillery_socketio(artillery: Any, target: Target,
                                           sizes: ArtillerySizes) -> None:
    """Artillery's socketio engine: every user connects to namespace /logs with a token,
    subscribes to its deployment (ack checked) and is refused another user's, then writes five
    log lines through the API, confirming its subscription after each; Artillery's emit-to-ack
    time p95 < 100 ms, < 1 % errors."""

    async def again(call: Callable[[], Awaitable[T]]) -> T:
        """Setup is not measured: a call the API failed (a system that fails some requests
        on purpose) is made again, up to five times."""
        for _ in range(4):
            try:
                return await call()
            except client.ApiError:
                continue
        return await call()

    async def make() -> tuple[client.User, list[int], int]:
        base = target.base_url
        async with client.session() as http:
            owner = await again(lambda: client.new_user(http, base, "artsio"))
            other = await again(lambda: client.new_user(http, base, "artsio"))
            # a deployment per few users: each line goes to the few users watching it, not
            # to every user of the run (Artillery picks one of the list per user)
            mine = [await again(lambda: client.new_deployment(http, base, owner, "art-sio"))
                    for _ in range(SIO_DEPLOYMENTS)]
            foreign = await again(lambda: client.new_deployment(http, base, other, "not-yours"))
            return owner, mine, foreign

    owner, mine, foreign = client.run(make)
    result = artillery.run(SCENARIOS / "refapp_socketio.yml", target=target.base_url,
                           overrides=phases(sizes.sio_duration, sizes.sio_arrival_rate),
                           variables={"deployment": mine, "foreign": foreign},
                           env={"REFAPP_TOKEN": owner.token})
    users = result.counters["vusers.created"]
    assert users == int(sizes.sio_duration * sizes.sio_arrival_rate), result.counters
    # seven acked emits and five lines per user: one that stopped early (an error) made fewer
    assert result.counters["socketio.emit"] <= 7 * users, result.counters
    assert result.operations <= 5 * users, result.counters
