"""The resource and cost fault switches take effect (leak cap, ballast, CPU burn, tracing cost);
test_faults.py covers the others."""

from __future__ import annotations

import asyncio
import re
import time

import aiohttp
import pytest

from fixtures.refapp.launcher import RefApp
from tests.integration.refapp.refapp_client import StartApp

pytestmark = pytest.mark.integration


async def _metric(s: aiohttp.ClientSession, app: RefApp, name: str) -> float:
    async with s.get(app.url("/metrics")) as resp:
        text = await resp.text()
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


async def _echo(app: RefApp, s: aiohttp.ClientSession) -> None:
    async with s.ws_connect(app.ws_url("/ws/echo")) as ws:
        await ws.send_str("ping")
        await asyncio.wait_for(ws.receive(), 5)


def test_ballast_mb(start_app: StartApp) -> None:
    app = start_app("ballast_mb=64")

    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            assert await _metric(s, app, "refapp_leaked_bytes") == 64 * 2**20
            assert await _metric(s, app, "process_resident_memory_bytes") > 64 * 2**20

    asyncio.run(scenario())


def test_cpu_burn_threads(start_app: StartApp) -> None:
    import psutil

    app = start_app("cpu_burn_threads=2")
    assert len(psutil.Process(app.pid).threads()) >= 3  # the loop and the two hashing threads
    process = psutil.Process(app.pid)
    before = sum(process.cpu_times()[:2])
    time.sleep(1.0)
    # CPU time (not wall time): the burning threads use it even on a busy machine
    assert sum(process.cpu_times()[:2]) - before > 0.05


def test_tracing_cost(start_app: StartApp) -> None:
    """The expensive exporter only costs while tracing is on; its spans are still exported."""
    app = start_app("tracing_cost=0.15")

    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            async with s.post(app.url("/admin/tracing?on=1")) as resp:
                assert (await resp.json())["cost"] == 0.15
            for _ in range(250):  # past the first window, where the cost per request is learnt
                async with s.get(app.url("/health")) as resp:
                    assert resp.status == 200
            async with s.get(app.url("/admin/tracing")) as resp:
                assert (await resp.json())["exported"] >= 250

    asyncio.run(scenario())


def test_leak_max_mb_caps_the_leak(start_app: StartApp) -> None:
    app = start_app("leak_kb_per_conn=512,leak_max_mb=1")

    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            for _ in range(5):
                await _echo(app, s)
            assert await _metric(s, app, "refapp_leaked_bytes") == 2**20  # 2 of 512 KiB

    asyncio.run(scenario())


def _requests_total(text: str, route: str) -> float:
    return sum(float(m.group(1)) for m in re.finditer(
        rf'^refapp_http_requests_total{{method="GET",route="{re.escape(route)}",status="200"}} '
        r"(\S+)$", text, re.M))


def test_monitoring_is_switched_at_run_time(start_app: StartApp) -> None:
    """On by default: requests are observed and the collector samples the process; switched
    off, neither happens, and /metrics keeps answering; a bad switch value is a 400."""
    app = start_app()

    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            async with s.get(app.url("/admin/monitoring")) as resp:
                state = await resp.json()
            assert state["enabled"] is True and state["cost"] == 0.0
            for _ in range(5):
                async with s.get(app.url("/health")) as resp:
                    assert resp.status == 200
            await asyncio.sleep(0.5)  # at least one collector sample (every 200 ms)
            async with s.get(app.url("/metrics")) as resp:
                text = await resp.text()
            assert _requests_total(text, "/health") >= 5
            assert await _metric(s, app, "refapp_monitoring_enabled") == 1
            assert await _metric(s, app, "process_cpu_seconds_total") > 0
            assert await _metric(s, app, "process_open_fds") > 0
            assert await _metric(s, app, "process_threads") >= 1
            assert "python_gc_collections_total" in text

            async with s.post(app.url("/admin/monitoring?on=0")) as resp:
                assert (await resp.json())["enabled"] is False
            samples = await _metric(s, app, "refapp_monitoring_samples_total")
            for _ in range(5):
                async with s.get(app.url("/health")) as resp:
                    assert resp.status == 200
            await asyncio.sleep(0.5)
            async with s.get(app.url("/metrics")) as resp:
                off_text = await resp.text()
            assert _requests_total(off_text, "/health") == _requests_total(text, "/health")
            assert await _metric(s, app, "refapp_monitoring_samples_total") == samples
            assert await _metric(s, app, "refapp_monitoring_enabled") == 0

            async with s.post(app.url("/admin/monitoring?on=yes")) as resp:
                assert resp.status == 400
                assert "on='yes'" in (await resp.json())["error"]
            async with s.post(app.url("/admin/monitoring?on=1")) as resp:
                assert (await resp.json())["enabled"] is True
            await asyncio.sleep(0.5)
            assert await _metric(s, app, "refapp_monitoring_samples_total") > samples

    asyncio.run(scenario())


def test_monitoring_cost(start_app: StartApp) -> None:
    """The expensive monitoring burns CPU per observed request once its window learnt the
    cost: with it on, the app's CPU time per request is well above what it is off."""
    import psutil

    app = start_app("monitoring_cost=0.5")
    process = psutil.Process(app.pid)

    async def cpu_per_request(s: aiohttp.ClientSession, n: int) -> float:
        before = sum(process.cpu_times()[:2])
        for _ in range(n):
            async with s.get(app.url("/health")) as resp:
                assert resp.status == 200
        return (sum(process.cpu_times()[:2]) - before) / n

    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            async with s.get(app.url("/admin/monitoring")) as resp:
                assert (await resp.json())["cost"] == 0.5
            await cpu_per_request(s, 250)  # past the first window, where the cost is learnt
            on = min([await cpu_per_request(s, 200) for _ in range(3)])
            async with s.post(app.url("/admin/monitoring?on=0")) as resp:
                assert resp.status == 200
            off = min([await cpu_per_request(s, 200) for _ in range(3)])
            # CPU time, not wall time: a busy machine does not inflate it (1.5x expected)
            assert on > off * 1.2, (on, off)

    asyncio.run(scenario())


def test_api_lock_ms_serializes_api_requests(start_app: StartApp) -> None:
    """Ten concurrent /api/* requests through a 100 ms lock take at least a second together
    (a lower bound: a slow machine only adds to it); /health does not pass the lock."""
    app = start_app("api_lock_ms=100")

    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            async def me() -> int:
                async with s.get(app.url("/api/me")) as resp:
                    return resp.status

            started = time.perf_counter()
            statuses = await asyncio.gather(*(me() for _ in range(10)))
            elapsed = time.perf_counter() - started
            assert statuses == [401] * 10  # no token: the lock comes before the handler
            assert elapsed >= 0.95, elapsed
            async with s.get(app.url("/health")) as resp:
                assert resp.status == 200

    asyncio.run(scenario())
