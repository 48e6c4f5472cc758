"""Artillery suite: the reference system driven by Artillery scenario files.

The scenarios live in fixtures/artillery/ (docs/artillery.md): ``refapp_http.yml`` (the API
journey: register, sign in, profile, create and list deployments, health, on Artillery's
http engine) and ``refapp_ws.yml`` (WebSocket echo with checked answers, on its ws engine).
The suite replaces their phases with the size of ``--roo-profile`` and judges Artillery's own
summaries (``info["source"] == "artillery summary"``) with the same criteria as any result.
Skipped, with the install hint, when Artillery (npm) is not installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_roo.settings import Settings
from pytest_roo.target import Target

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "artillery"

#: Per profile: seconds of arrivals and new virtual users per second. Each HTTP user hashes
#: a password twice (register, sign in: about 16 ms of the app's CPU), so the API journey
#: stays at a few users per second on a 2-core machine shared with the generator.
PHASES: dict[str, dict[str, tuple[float, float]]] = {
    "smoke": {"http": (4, 4), "ws": (4, 5)},
    # standard: at least 299 operations per scenario, the fewest that can show error_rate < 1%
    "standard": {"http": (12, 5), "ws": (10, 30)},
    "full": {"http": (30, 8), "ws": (30, 20)},
}


def phases(settings: Settings, kind: str) -> dict[str, Any]:
    seconds, rate = PHASES.get(settings.profile, PHASES["standard"])[kind]
    return {"config": {"phases": [{"duration": seconds, "arrivalRate": rate}]}}


@pytest.mark.slo("http_response_time.p95 < 300ms", "error_rate < 1%")
def test_api_journey_with_artillery(artillery: Any, target: Target,
                                    roo_settings: Settings) -> None:
    """Artillery's http engine: every user registers, signs in and uses the API; each
    answer's fields are captured (a missing one is an error); p95 < 300 ms (registering and
    signing in hash a password each), < 1 % errors."""
    result = artillery.run(SCENARIOS / "refapp_http.yml", target=target.base_url,
                           overrides=phases(roo_settings, "http"))
    seconds, rate = PHASES.get(roo_settings.profile, PHASES["standard"])["http"]
    assert result.counters["vusers.created"] == int(seconds * rate), result.counters
    # six requests per user: one that stopped early (an error) made fewer
    assert result.operations <= 6 * result.counters["vusers.created"], result.counters


@pytest.mark.slo("vusers_session_length.p95 < 2s", "error_rate < 1%")
def test_ws_echo_with_artillery(artillery: Any, target: Target,
                                roo_settings: Settings) -> None:
    """Artillery's ws engine: every user sends ten JSON messages to /ws/echo and checks each
    echo; the whole session (connect, ten round trips, ten 50 ms think times: at least
    0.5 s) p95 < 2 s."""
    result = artillery.run(SCENARIOS / "refapp_ws.yml", target=target.ws_base_url,
                           overrides=phases(roo_settings, "ws"))
    assert result.counters["websocket.messages_sent"] == 10 * result.counters["vusers.created"]
    assert result.get_metric("vusers_session_length").min >= 0.5  # the think times happened
