"""Live logs over Socket.IO (fixtures/refapp/sio.py), driven by python-socketio's AsyncClient:
auth on the CONNECT, isolation, acks, room fan-out and the ``sio_*`` fault switches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from fixtures.refapp.launcher import RefApp
from tests.integration.refapp.refapp_client import Client, StartApp, in_session

pytestmark = pytest.mark.integration
socketio = pytest.importorskip("socketio", reason="pip install 'pytest-roo[refapp]'")


class Watcher:
    """A python-socketio client on ``/logs``: every event kept with its arrival time."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        self.events: list[tuple[str, Any, float]] = []
        self.client.on("*", self._any, namespace="/logs")
        self.refused: list[Any] = []
        self.client.on("connect_error", self.refused.append, namespace="/logs")

    async def _any(self, event: str, data: Any = None) -> None:
        self.events.append((event, data, time.perf_counter()))

    def lines(self, text: str) -> list[tuple[str, Any, float]]:
        return [e for e in self.events if e[0] == "log" and e[1].get("line") == text]

    async def subscribe(self, dep: Any) -> Any:
        return await self.client.call("subscribe", {"deployment_id": dep}, namespace="/logs",
                                      timeout=5)


@asynccontextmanager
async def watcher(app: RefApp, token: str | None) -> AsyncIterator[Watcher]:
    w = Watcher()
    await w.client.connect(app.base_url, transports=["websocket"], namespaces=["/logs"],
                           auth={"token": token} if token else None, wait_timeout=5)
    try:
        yield w
    finally:
        await w.client.disconnect()


async def user(app: RefApp, s: aiohttp.ClientSession) -> tuple[Client, int]:
    c = await Client(app.base_url, s).signup()
    return c, await c.deployment()


async def inject(c: Client, dep: int, line: str) -> float:
    started = time.perf_counter()
    status, _ = await c.call("POST", f"/api/deployments/{dep}/logs", {"line": line})
    assert status == 202
    return started


async def settle(seconds: float = 0.5) -> None:
    await asyncio.sleep(seconds)


def test_logs_and_status_reach_the_owners_room(refapp: RefApp) -> None:
    async def scenario(s: aiohttp.ClientSession) -> None:
        c, dep = await user(refapp, s)
        async with watcher(refapp, c.token) as a, watcher(refapp, c.token) as b:
            assert await a.subscribe(dep) == {"ok": True, "deployment_id": dep}
            assert (await b.subscribe(dep))["ok"] is True
            await inject(c, dep, "hello over socket.io")
            status, _ = await c.call("POST", f"/api/deployments/{dep}/start")
            assert status == 200
            await settle()
            for w in (a, b):
                (line,) = w.lines("hello over socket.io")
                assert line[1]["deployment_id"] == dep and line[1]["type"] == "log"
                assert any(e[0] == "status" and e[1]["status"] == "running" for e in w.events)
            await c.call("POST", f"/api/deployments/{dep}/stop")
            assert await a.client.call("unsubscribe", {"deployment_id": dep},
                                       namespace="/logs", timeout=5) == {"ok": True,
                                                                         "deployment_id": dep}
            await inject(c, dep, "after unsubscribe")
            await settle()
            assert a.lines("after unsubscribe") == [] and len(b.lines("after unsubscribe")) == 1

    in_session(scenario)


def test_connect_needs_a_valid_token_and_isolation_holds(refapp: RefApp) -> None:
    async def scenario(s: aiohttp.ClientSession) -> None:
        (c1, dep1), (c2, dep2) = await user(refapp, s), await user(refapp, s)
        for token in (None, "garbage", c1.refresh_token):
            w = Watcher()
            with pytest.raises(socketio.exceptions.ConnectionError):
                await w.client.connect(refapp.base_url, transports=["websocket"],
                                       namespaces=["/logs"], wait_timeout=5,
                                       auth={"token": token} if token else None)
            await w.client.disconnect()
            (refused,) = w.refused
            assert refused["message"].startswith("unauthorized"), refused
        async with watcher(refapp, c1.token) as w:
            refused = await w.subscribe(dep2)
            assert refused == {"ok": False, "error": "forbidden", "deployment_id": dep2,
                               "detail": f"deployment {dep2} not found"}
            assert (await w.subscribe(dep1))["ok"] is True
            assert (await w.subscribe("seven"))["error"] == "bad_message"
            await inject(c2, dep2, "not yours")
            await inject(c1, dep1, "yours")
            await settle()
            assert [e[1]["line"] for e in w.events if e[0] == "log"] == ["yours"]

    in_session(scenario)


def test_sio_drop_rate_drops_lines(start_app: StartApp) -> None:
    app = start_app("sio_drop_rate=1")

    async def scenario(s: aiohttp.ClientSession) -> None:
        c, dep = await user(app, s)
        async with watcher(app, c.token) as w:
            await w.subscribe(dep)
            for k in range(5):
                await inject(c, dep, f"line {k}")
            await settle()
            assert [e for e in w.events if e[0] == "log"] == []

    in_session(scenario)


def test_sio_delay_rate_delays_lines(start_app: StartApp) -> None:
    app = start_app("sio_delay_rate=1,sio_delay_ms=400")

    async def scenario(s: aiohttp.ClientSession) -> None:
        c, dep = await user(app, s)
        async with watcher(app, c.token) as w:
            await w.subscribe(dep)
            started = await inject(c, dep, "slow")
            await settle(1.0)
            (line,) = w.lines("slow")
            assert line[2] - started >= 0.4

    in_session(scenario)


def test_sio_wrong_room_rate_sends_lines_to_another_deployment(start_app: StartApp) -> None:
    app = start_app("sio_wrong_room_rate=1")

    async def scenario(s: aiohttp.ClientSession) -> None:
        (c1, dep1), (c2, dep2) = await user(app, s), await user(app, s)
        async with watcher(app, c1.token) as w1, watcher(app, c2.token) as w2:
            await w1.subscribe(dep1)
            await w2.subscribe(dep2)
            await inject(c1, dep1, "misrouted")
            await settle()
            assert w1.lines("misrouted") == []
            (line,) = w2.lines("misrouted")
            assert line[1]["deployment_id"] == dep1  # another user's line

    in_session(scenario)


def test_sio_greeting_ms_answers_with_an_event_before_the_ack(start_app: StartApp) -> None:
    app = start_app("sio_greeting_ms=400")

    async def scenario(s: aiohttp.ClientSession) -> None:
        c, dep = await user(app, s)
        async with watcher(app, c.token) as w:
            started = time.perf_counter()
            assert await w.subscribe(dep) == {"ok": True, "deployment_id": dep}
            acked = time.perf_counter()
            (greeting,) = [e for e in w.events if e[0] == "subscribed"]
            assert greeting[1] == {"type": "subscribed", "deployment_id": dep}
            assert greeting[2] < acked and acked - started >= 0.4

    in_session(scenario)
