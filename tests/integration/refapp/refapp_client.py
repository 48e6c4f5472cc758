"""Small async client for the reference app's HTTP API and WebSockets (test helper)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from fixtures.refapp.launcher import RefApp

SECRET = "refapp-tests-secret"
#: ``start_app(faults=..., env=...) -> RefApp``, the factory fixture of conftest.py
StartApp = Callable[..., RefApp]
TIMEOUT = aiohttp.ClientTimeout(total=10)


class Client:
    """One user's view of the app: an aiohttp session plus the user's access token."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self.session = session
        self.token = ""
        self.refresh_token = ""
        self.username = ""

    @property
    def ws_base(self) -> str:
        return "ws" + self.base_url[len("http"):]

    async def call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        headers = {}
        tok = self.token if token is None else token
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        async with self.session.request(
            method, self.base_url + path, json=body, headers=headers, timeout=TIMEOUT
        ) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text) if text else None
            except ValueError:
                return resp.status, text

    async def signup(self, password: str = "password123") -> Client:
        self.username = "u_" + uuid.uuid4().hex[:10]
        status, _ = await self.call("POST", "/api/auth/register",
                                    {"username": self.username, "password": password})
        assert status == 201
        status, data = await self.call("POST", "/api/auth/login",
                                       {"username": self.username, "password": password})
        assert status == 200, data
        self.token, self.refresh_token = data["access_token"], data["refresh_token"]
        return self

    async def deployment(self, name: str = "web") -> int:
        status, data = await self.call("POST", "/api/deployments", {"name": name})
        assert status == 201, data
        return int(data["id"])

    async def ws(
        self, path: str, token: str | None = None
    ) -> aiohttp.ClientWebSocketResponse[bool]:
        sep = "&" if "?" in path else "?"
        tok = self.token if token is None else token
        url = self.ws_base + path + (f"{sep}token={tok}" if tok else "")
        return await self.session.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=2))

    async def watch_logs(self, deployment: int) -> aiohttp.ClientWebSocketResponse[bool]:
        """The deployment's live log WebSocket, once the app confirmed the subscription."""
        ws = await self.ws(f"/ws/deployments/{deployment}/logs")
        await receive_until(ws, lambda m: m["type"] == "subscribed")
        return ws


def in_session(scenario: Callable[[aiohttp.ClientSession], Awaitable[None]]) -> None:
    """Run ``scenario(session)`` in a new event loop with one aiohttp session, closed after."""

    async def main() -> None:
        async with aiohttp.ClientSession() as session:
            await scenario(session)

    asyncio.run(main())


async def receive_json(ws: aiohttp.ClientWebSocketResponse[bool], timeout: float = 5.0) -> Any:
    msg = await asyncio.wait_for(ws.receive(), timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, f"expected a text frame, got {msg.type}: {msg.data}"
    return json.loads(msg.data)


async def receive_until(
    ws: aiohttp.ClientWebSocketResponse[bool], predicate: Any, timeout: float = 5.0
) -> Any:
    """The first JSON message matching ``predicate`` within ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise TimeoutError(f"no matching message within {timeout} s")
        data = await receive_json(ws, left)
        if predicate(data):
            return data


async def no_message(
    ws: aiohttp.ClientWebSocketResponse[bool], predicate: Any, wait: float
) -> None:
    """Assert that no JSON message matching ``predicate`` arrives within ``wait`` seconds."""
    try:
        data = await receive_until(ws, predicate, wait)
    except (TimeoutError, asyncio.TimeoutError):
        return
    raise AssertionError(f"unexpected message: {data}")
