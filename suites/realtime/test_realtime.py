"""Realtime suite: live logs and status changes reach WebSocket subscribers fast, and only
the user they belong to.

Sizes from suites/profiles.py (``--roo-profile``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from pytest_roo.target import Target
from suites import client
from suites.profiles import Sizes


def users_with_deployments(target: Target, n: int, prefix: str) -> list[tuple[client.User, int]]:
    async def make() -> list[tuple[client.User, int]]:
        async with client.session() as http:
            users = await client.new_users(http, target.base_url, n, prefix=prefix)
            return [(u, await client.new_deployment(http, target.base_url, u, f"{prefix}-dep"))
                    for u in users]

    return client.run(make)


async def next_event(ws: Any, want: Callable[[dict[str, Any]], bool], timeout: float,
                     seen: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Read JSON frames until ``want(event)``; ``seen`` sees every frame. TimeoutError after
    ``timeout`` s (counted as ``timeout`` by the engine)."""
    import aiohttp

    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise asyncio.TimeoutError(f"no matching frame within {timeout:g} s")
        msg = await ws.receive(timeout=left)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"WebSocket ended: {msg.type.name}")
        event = json.loads(msg.data)
        if seen is not None:
            seen(event)
        if want(event):
            return dict(event)


@pytest.mark.slo("delivery.p95 < 100ms", "errors == 0")
def test_injected_log_line_reaches_subscribers(ws_swarm: Any, target: Target,
                                               sizes: Sizes) -> None:
    """Log lines injected through the API (``POST /api/deployments/{id}/logs``) reach every
    subscriber of the deployment's log WebSocket: p95 from the request's intended start to
    the frame's arrival, none lost."""
    user, dep = users_with_deployments(target, 1, "logs")[0]
    ws_url = target.ws_url(f"/ws/deployments/{dep}/logs?token={user.token}")
    ws_swarm.subscribe(ws_url, target.url(f"/api/deployments/{dep}/logs"),
                       trigger_headers=user.auth, clients=sizes.rt_subscribers,
                       rate=f"{sizes.rt_log_rate}/s", duration=sizes.rt_duration,
                       message_size=128)


@pytest.mark.slo("status.p95 < 100ms", "errors == 0")
def test_status_change_reaches_watcher(ws_swarm: Any, target: Target, sizes: Sizes) -> None:
    """Each user starts and stops its deployment while watching its log WebSocket: the
    ``status`` event arrives < 100 ms (p95) after the request was sent, none missing."""
    owned = users_with_deployments(target, sizes.rt_status_users, "status")
    timeout = 5.0

    async def watch(session: Any) -> None:
        user, dep = owned[session.vu]
        ws = session.data.get("ws")
        if ws is None:
            ws = await session.ws(target.ws_url(f"/ws/deployments/{dep}/logs?token={user.token}"))
            await next_event(ws, lambda e: e.get("type") in ("subscribed", "error"), timeout)
            session.data["ws"] = ws
        action, status = ("start", "running") if session.iteration % 2 else ("stop", "stopped")
        t0 = time.perf_counter()
        await session.request("POST", target.url(f"/api/deployments/{dep}/{action}"),
                              name="action", headers=user.auth)
        try:
            await next_event(ws, lambda e: e.get("type") == "status" and e.get("status") == status
                             and e.get("deployment_id") == dep, timeout)
        except asyncio.TimeoutError:
            session.error("lost")
            session.count("lost")
            return
        session.record("status", time.perf_counter() - t0)

    ws_swarm.run(watch, clients=sizes.rt_status_users, duration=sizes.rt_duration,
                 think=0.4, primary="status", name="realtime.status")


@pytest.mark.slo("errors == 0")
def test_users_only_see_their_own_logs(ws_swarm: Any, target: Target, sizes: Sizes) -> None:
    """Many users inject log lines into their own deployments under load: every frame a
    user's WebSocket receives belongs to that user's deployment (a foreign one is counted as
    ``cross_user``), and subscribing to another user's deployment is refused."""
    owned = users_with_deployments(target, sizes.rt_isolation_users, "iso")
    timeout = 5.0

    async def isolated(session: Any) -> None:
        user, dep = owned[session.vu]

        def check(event: dict[str, Any]) -> None:
            other = event.get("deployment_id")
            if event.get("type") in ("log", "status") and other != dep:
                session.error("cross_user")
                session.count("cross_user")

        ws = session.data.get("ws")
        if ws is None:
            ws = await session.ws(target.ws_url(f"/ws/logs?token={user.token}"))
            await ws.send_str(json.dumps({"type": "subscribe", "deployment_id": dep}))
            await next_event(ws, lambda e: e.get("type") == "subscribed", timeout, check)
            foreign = owned[(session.vu + 1) % len(owned)][1]
            await ws.send_str(json.dumps({"type": "subscribe", "deployment_id": foreign}))
            reply = await next_event(ws, lambda e: e.get("type") in ("subscribed", "error"),
                                     timeout, check)
            if reply.get("type") == "subscribed":
                session.error("cross_user")
                session.count("foreign_subscribe_accepted")
            else:
                session.count("foreign_subscribe_refused")
            session.data["ws"] = ws
        marker = f"iso-{user.user_id}-{session.iteration}"
        with session.measure("delivery"):
            await session.request("POST", target.url(f"/api/deployments/{dep}/logs"),
                                  name="inject", json={"line": marker}, headers=user.auth)
            await next_event(ws, lambda e: e.get("type") == "log" and e.get("line") == marker,
                             timeout, check)
        session.count("own_lines")

    ws_swarm.run(isolated, clients=sizes.rt_isolation_users, duration=sizes.rt_duration,
                 think=0.2, primary="delivery", name="realtime.isolation")
