"""Deployments and live logs: lines and status changes fan out over Redis to WebSockets."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from fixtures.refapp.launcher import RefApp
from tests.integration.refapp.refapp_client import Client, StartApp, receive_until

pytestmark = pytest.mark.integration


def test_deployment_lifecycle_and_log_fan_out(start_app: StartApp) -> None:
    app = start_app(env={"REFAPP_EMIT_INTERVAL_MS": "100"})

    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            c = await Client(app.base_url, s).signup()
            dep = await c.deployment("api")
            status, listed = await c.call("GET", "/api/deployments")
            assert status == 200
            assert [d["id"] for d in listed["deployments"]] == [dep]
            subs = [await c.ws("/ws/logs") for _ in range(2)]
            for ws in subs:
                await ws.send_json({"type": "subscribe", "deployment_id": dep})
                ack = await receive_until(ws, lambda m: m["type"] == "subscribed")
                assert ack["deployment_id"] == dep
            direct = await c.ws(f"/ws/deployments/{dep}/logs")
            await receive_until(direct, lambda m: m["type"] == "subscribed")
            subs.append(direct)

            status, body = await c.call("POST", f"/api/deployments/{dep}/start")
            assert (status, body["status"]) == (200, "running")
            for ws in subs:
                await receive_until(ws, lambda m: m.get("status") == "running")
                line = await receive_until(ws, lambda m: m["type"] == "log")
                assert line["source"] == "app"
                assert line["deployment_id"] == dep

            client_ts = time.time() * 1000
            payload = {"line": "injected line", "id": "abc-1", "client_ts": client_ts,
                       "roo": "roo:00aa11:7"}
            status, body = await c.call("POST", f"/api/deployments/{dep}/logs", payload)
            assert status == 202
            for ws in subs:
                got = await receive_until(
                    ws, lambda m: m["type"] == "log" and m["source"] == "injected")
                assert got["line"] == "injected line"
                assert got["meta"] == payload
                assert got["seq"] == body["seq"]
                assert '"roo": "roo:00aa11:7"' in __import__("json").dumps(got)

            status, body = await c.call("POST", f"/api/deployments/{dep}/restart")
            assert (status, body["status"]) == (200, "running")
            statuses = [
                (await receive_until(subs[0], lambda m: m["type"] == "status"))["status"]
                for _ in range(2)
            ]
            assert statuses == ["restarting", "running"]
            status, body = await c.call("POST", f"/api/deployments/{dep}/stop")
            assert (status, body["status"]) == (200, "stopped")
            await receive_until(subs[0], lambda m: m.get("status") == "stopped")
            # the emitter has stopped: no app lines after the stop status
            await asyncio.sleep(0.3)
            late = []
            try:
                for _ in range(5):
                    late.append(await receive_until(subs[0], lambda m: m["type"] == "log", 0.3))
            except (TimeoutError, asyncio.TimeoutError):
                pass
            assert len(late) <= 1, late  # one line may have been in flight

            status, history = await c.call("GET", f"/api/deployments/{dep}/logs?limit=200")
            assert status == 200
            assert any(h.get("source") == "injected" for h in history["lines"])
            assert (await c.call("DELETE", f"/api/deployments/{dep}"))[0] == 204
            await receive_until(subs[0], lambda m: m.get("status") == "deleted")
            assert (await c.call("GET", f"/api/deployments/{dep}"))[0] == 404
            for ws in subs:
                await ws.close()

    asyncio.run(scenario())


def test_two_app_processes_share_fan_out_through_redis(start_app: StartApp) -> None:
    first, second = start_app(), start_app()

    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            writer = await Client(first.base_url, s).signup()
            dep = await writer.deployment()
            reader = Client(second.base_url, s)
            reader.token = writer.token  # same secret, same database: the token is valid there
            ws = await reader.ws(f"/ws/deployments/{dep}/logs")
            await receive_until(ws, lambda m: m["type"] == "subscribed")
            status, _ = await writer.call("POST", f"/api/deployments/{dep}/logs",
                                          {"line": "across processes"})
            assert status == 202
            got = await receive_until(ws, lambda m: m["type"] == "log")
            assert got["line"] == "across processes"
            await ws.close()

    asyncio.run(scenario())


def test_log_line_without_json_body_is_the_text(refapp: RefApp) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            c = await Client(refapp.base_url, s).signup()
            dep = await c.deployment()
            ws = await c.ws(f"/ws/deployments/{dep}/logs")
            await receive_until(ws, lambda m: m["type"] == "subscribed")
            async with s.post(refapp.url(f"/api/deployments/{dep}/logs"), data="plain text",
                              headers={"Authorization": f"Bearer {c.token}"}) as resp:
                assert resp.status == 202
            got = await receive_until(ws, lambda m: m["type"] == "log")
            assert got["line"] == "plain text"
            await ws.close()

    asyncio.run(scenario())
