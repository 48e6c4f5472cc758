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
