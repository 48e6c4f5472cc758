"""Realtime suite: live logs and status changes reach WebSocket subscribers fast, and only
the user they belong to.

Sizes from suites/realtime/sizes.py (``--roo-profile``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from pytest_roo.profiles import SelectedProfile
from pytest_roo.target import Target
from suites.logs import LogFanout, fanout_roles, publish_lines, users_with_deployments
from suites.realtime.sizes import REALTIME, RealtimeSizes


@pytest.fixture(scope="module")
def sizes(roo_sizes: SelectedProfile) -> RealtimeSizes:
    """The realtime suite's sizes for ``--roo-profile`` (suites/realtime/sizes.py)."""
    return roo_sizes(REALTIME)


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


@pytest.mark.slo("delivery.p95 < 100ms", "delivery.p99 < 100ms", "errors == 0")
def test_injected_log_line_reaches_subscribers(ws_swarm: Any, target: Target,
                                               sizes: RealtimeSizes) -> None:
    """Log lines injected through the API (``POST /api/deployments/{id}/logs``) on an open
    schedule reach every subscriber of the deployment's log WebSocket, intact: latency from
    the injection's scheduled time to each arrival (p95 and p99: "real-time logs under
    100 ms" names no percentile, so the tail counts), no line lost, duplicated or altered
    (``lost``, ``duplicate``, ``mismatch``). Every subscriber has its ``subscribed``
    confirmation before the first line goes out."""
    user, dep = users_with_deployments(target, 1, "logs")[0]
    ws_url = target.ws_url(f"/ws/deployments/{dep}/logs?token={user.token}")
    inject_url = target.url(f"/api/deployments/{dep}/logs")
    fan = LogFanout(sizes.subscribers, sizes.log_rate, sizes.duration)
    timeout = 5.0

    async def subscriber(session: Any) -> None:
        import aiohttp

        all_ready, done = fan.events()
        ws = await session.ws(ws_url)
        await next_event(ws, lambda e: e.get("type") == "subscribed", timeout)
        fan.ready += 1
        if fan.ready == fan.subscribers:
            all_ready.set()
        received: set[str] = set()
        finished_at: float | None = None
        while True:
            if done.is_set():
                finished_at = finished_at or time.monotonic()
                if received >= fan.accepted or time.monotonic() - finished_at > timeout:
                    break
            try:
                msg = await ws.receive(timeout=0.25)
            except asyncio.TimeoutError:
                continue
            now = time.perf_counter_ns()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                session.error("closed")
                break
            event = json.loads(msg.data)
            meta = event.get("meta")
            token = meta.get("roo") if isinstance(meta, dict) else None
            if event.get("type") != "log" or token not in fan.sent:
                continue  # status events, other runs' lines
            line, intended = fan.sent[token]
            if token in received:
                session.error("duplicate")
                session.count("duplicate")
                continue
            received.add(token)
            session.record("delivery", (now - intended) / 1e9)
            if event.get("line") != line:
                session.error("mismatch")
                session.count("mismatch")
        lost = len(fan.accepted - received)
        if lost:
            session.error("lost", lost)
            session.count("lost", lost)

    async def publisher(session: Any) -> None:
        await publish_lines(session, fan, inject_url, user.auth, timeout)

    role = fanout_roles(fan.subscribers, subscriber, publisher)

    # the run lasts: connecting and confirming, the injections, the last deliveries
    result = ws_swarm.run(role, clients=fan.subscribers + 1, duration=sizes.duration + 2,
                          primary="delivery", name="realtime.logs", timeout=timeout * 3)
    expected = len(fan.accepted) * fan.subscribers
    result.counters["deliveries_expected"] = expected
    assert fan.ready == fan.subscribers, (
        f"only {fan.ready} of {fan.subscribers} subscribers confirmed their subscription")


@pytest.mark.slo("status.p95 < 100ms", "errors == 0")
def test_status_change_reaches_watcher(ws_swarm: Any, target: Target, sizes: RealtimeSizes) -> None:
    """Each user starts and stops its deployment while watching its log WebSocket: the
    ``status`` event arrives < 100 ms (p95) after the request was sent, none
    missing. After each stop the user keeps watching for longer than the app's log period:
    a stopped deployment must emit no more log lines (``emitted_after_stop``)."""
    owned = users_with_deployments(target, sizes.status_users, "status")
    timeout = 5.0
    quiet = STOPPED_WATCH

    async def watch(session: Any) -> None:
        user, dep = owned[session.vu]
        ws = session.data.get("ws")
        if ws is None:
            # the first iteration subscribes, then waits its turn: users spread over one
            # cycle instead of all acting at the same instant after connecting
            ws = await session.ws(target.ws_url(f"/ws/deployments/{dep}/logs?token={user.token}"))
            await next_event(ws, lambda e: e.get("type") in ("subscribed", "error"), timeout)
            session.data["ws"] = ws
            await asyncio.sleep(session.vu / len(owned) * (quiet + 0.6))
            return
        action, status = ("stop", "stopped") if session.iteration % 2 else ("start", "running")
        t0 = time.perf_counter()
        await session.request("POST", target.url(f"/api/deployments/{dep}/{action}"),
                              name="action", headers=user.auth)
        try:
            event = await next_event(
                ws, lambda e: e.get("type") == "status" and e.get("status") == status
                and e.get("deployment_id") == dep, timeout)
        except asyncio.TimeoutError:
            session.error("lost")
            session.count("lost")
            return
        session.record("status", time.perf_counter() - t0)
        if action == "stop":
            # lines stamped before the stop may still arrive; one stamped after it may not
            stopped_at = float(event.get("server_ts") or 0)

            def late_line(e: dict[str, Any]) -> bool:
                return (e.get("type") == "log" and e.get("source") == "app"
                        and float(e.get("server_ts") or 0) > stopped_at)

            try:
                await next_event(ws, late_line, quiet)
            except asyncio.TimeoutError:
                session.count("quiet_after_stop")
            else:
                session.error("emitted_after_stop")
                session.count("emitted_after_stop")

    ws_swarm.run(watch, clients=sizes.status_users, duration=sizes.duration,
                 think=0.3, primary="status", name="realtime.status")


#: How long a user watches a stopped deployment: longer than the app's log period (1 s in
#: the embedded reference system), so an emitter left running is seen every time.
STOPPED_WATCH = 1.2


@pytest.mark.slo("errors == 0")
def test_users_only_see_their_own_logs(ws_swarm: Any, target: Target, sizes: RealtimeSizes) -> None:
    """Many users inject log lines into their own deployments under load: every frame a
    user's WebSocket receives belongs to that user's deployment (a foreign one is counted as
    ``cross_user``), and subscribing to another user's deployment is refused. At least 600
    lines per run, enough to see a leak of one line in 200."""
    owned = users_with_deployments(target, sizes.isolation_users, "iso")
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
            sent: dict[str, int] = {}
            session.data["sent"] = sent
            session.data["reader"] = asyncio.ensure_future(read_own_lines(session, ws, sent,
                                                                          check))
        # injections do not wait for their delivery (the reader checks and times it), so a
        # slow fan-out does not thin out the lines the run checks
        marker = f"iso-{user.user_id}-{session.iteration}"
        session.data["sent"][marker] = time.perf_counter_ns()
        await session.request("POST", target.url(f"/api/deployments/{dep}/logs"),
                              name="inject", json={"line": marker}, headers=user.auth)
        session.count("injected")

    async def read_own_lines(session: Any, ws: Any, sent: dict[str, int],
                             check: Callable[[dict[str, Any]], None]) -> None:
        """Every frame is checked; an own line is timed from its injection."""
        with contextlib.suppress(ConnectionError, asyncio.CancelledError, RuntimeError):
            while True:
                event = await next_event(ws, lambda e: True, 3600.0, check)
                t0 = sent.pop(str(event.get("line")), None)
                if event.get("type") == "log" and t0 is not None:
                    session.record("delivery", (time.perf_counter_ns() - t0) / 1e9)
                    session.count("own_lines")

    # open model: the lines arrive at a set rate whatever the delivery latency, so every
    # run checks the same number of them
    result = ws_swarm.run(isolated, clients=sizes.isolation_users,
                          rate=f"{sizes.isolation_rate}/s", duration=sizes.duration,
                          primary="delivery", name="realtime.isolation")
    lines = result.counters.get("injected", 0)
    assert lines >= 600, (f"only {lines} lines injected: too few to see a fault that leaks one "
                          "line in 200 to another user")
