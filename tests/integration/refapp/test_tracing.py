"""Request tracing switched at run time (POST /admin/tracing) and its expensive-exporter fault."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from fixtures.refapp.launcher import RefApp
from fixtures.refapp.tracing import KEEP_SPANS, RingExporter, Tracing
from tests.integration.refapp.refapp_client import StartApp

pytestmark = pytest.mark.integration


async def _state(s: aiohttp.ClientSession, app: RefApp, query: str = "") -> tuple[int, Any]:
    method = s.post if query else s.get
    async with method(app.url(f"/admin/tracing{query}")) as resp:
        return resp.status, await resp.json()


async def _health(s: aiohttp.ClientSession, app: RefApp, n: int) -> None:
    for _ in range(n):
        async with s.get(app.url("/health")) as resp:
            assert resp.status == 200


def test_tracing_is_switched_at_run_time(refapp: RefApp) -> None:
    import asyncio

    async def main() -> None:
        async with aiohttp.ClientSession() as s:
            status, state = await _state(s, refapp)
            assert status == 200 and state["enabled"] is False and state["sdk"] == "lean"
            await _health(s, refapp, 3)
            assert (await _state(s, refapp))[1]["exported"] == 0
            assert (await _state(s, refapp, "?on=1"))[1]["enabled"] is True
            await _health(s, refapp, 5)
            # the GET of the state is traced too
            assert (await _state(s, refapp))[1]["exported"] >= 5
            await _state(s, refapp, "?on=0")
            before = (await _state(s, refapp))[1]["exported"]
            await _health(s, refapp, 3)
            assert (await _state(s, refapp))[1]["exported"] == before
            # the OpenTelemetry SDK as the recorder, and sampling
            status, state = await _state(s, refapp, "?on=1&sdk=otel")
            assert status == 200 and state["sdk"] == "otel"
            await _health(s, refapp, 4)
            assert (await _state(s, refapp))[1]["exported"] >= before + 4
            status, state = await _state(s, refapp, "?on=1&sdk=lean&sample=0")
            assert status == 200 and state["sample"] == 0
            count = (await _state(s, refapp))[1]["exported"]  # the switch's own span ended
            await _health(s, refapp, 5)
            assert (await _state(s, refapp))[1]["exported"] == count
            for bad in ("?on=2", "?on=1&sample=1.5", "?on=1&sample=x", "?on=1&sdk=zipkin"):
                status, body = await _state(s, refapp, bad)
                assert status == 400, (bad, body)
                assert "expected" in body["error"], body

    asyncio.run(main())


def test_tracing_starts_on_with_the_env(start_app: StartApp) -> None:
    import asyncio

    app = start_app("", env={"REFAPP_TRACING": "1"})

    async def main() -> None:
        async with aiohttp.ClientSession() as s:
            assert (await _state(s, app))[1]["enabled"] is True

    asyncio.run(main())


def test_the_exporter_keeps_a_bounded_number_of_spans() -> None:
    tracing = Tracing(True)
    for _ in range(KEEP_SPANS + 100):
        tracing.record("GET", "/health", 200, time.time_ns())
    assert tracing.describe()["exported"] == KEEP_SPANS + 100
    assert tracing.describe()["kept"] == KEEP_SPANS


def test_the_expensive_exporter_burns_its_share_of_the_cpu_per_request() -> None:
    """tracing_cost=0.5: after the first window the exporter adds half a request's CPU."""
    exporter = RingExporter(cost=0.5)
    exporter.switch(True)  # tracing switched on (it starts off)

    def request() -> None:  # about 0.2 ms of CPU
        until = time.process_time() + 0.0002
        while time.process_time() < until:
            pass

    for _ in range(250):
        request()
        exporter.export_lean((1, 1, "GET", "/", 200, 0, 0))
    started = time.process_time()
    for _ in range(200):
        request()
        exporter.export_lean((1, 1, "GET", "/", 200, 0, 0))
    per_request = (time.process_time() - started) / 200
    assert per_request > 0.0002 * 1.3  # well above the request alone (1.5x expected)
