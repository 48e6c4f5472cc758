"""What the live-log suites share, whatever the transport (WebSocket in suites/realtime,
Socket.IO in suites/socketio): users with a deployment each, the run's state of injected lines,
and the publisher that injects them on an open schedule."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pytest_roo.target import Target
from suites import client

__all__ = ["LogFanout", "publish_lines", "users_with_deployments"]


def users_with_deployments(target: Target, n: int, prefix: str) -> list[tuple[client.User, int]]:
    """``n`` new users, each with a deployment of its own: (user, deployment id)."""
    async def make() -> list[tuple[client.User, int]]:
        async with client.session() as http:
            users = await client.new_users(http, target.base_url, n, prefix=prefix)
            return [(u, await client.new_deployment(http, target.base_url, u, f"{prefix}-dep"))
                    for u in users]

    return client.run(make)


class LogFanout:
    """Shared state of a log-delivery run: subscribers confirm their subscription (or give
    up) before the first line is injected; every line injected is remembered (text, intended
    time) so that each delivery can be checked and timed, and each subscriber's missing lines
    counted."""

    def __init__(self, subscribers: int, rate: float, seconds: float,
                 label: str = "log") -> None:
        self.subscribers = subscribers
        self.rate = rate
        self.seconds = seconds
        self.label = label
        self.run_id = secrets.token_hex(4)
        self.ready = 0
        self.gave_up = 0
        self.all_ready: asyncio.Event | None = None
        self.done: asyncio.Event | None = None
        self.sent: dict[str, tuple[str, int]] = {}  # token -> (line, intended perf_counter_ns)
        self.accepted: set[str] = set()  # tokens whose injection was accepted

    def events(self) -> tuple[asyncio.Event, asyncio.Event]:
        """(every subscriber is in or gave up, the last line went out); made inside the run's
        event loop by the first user that needs them."""
        if self.all_ready is None or self.done is None:
            self.all_ready, self.done = asyncio.Event(), asyncio.Event()
        return self.all_ready, self.done

    def arrived(self) -> None:
        """A subscriber is in (``ready``) or gave up (``gave_up``): the last one lets the
        publisher start."""
        if self.ready + self.gave_up == self.subscribers:
            self.events()[0].set()

    def line(self, k: int) -> tuple[str, str]:
        token = f"{self.run_id}:{k}"
        pad = "".join(chr(97 + (k * 31 + i * 7) % 26) for i in range(96))
        return token, f"{self.label} line {token} {pad}"


async def publish_lines(session: Any, fan: LogFanout, inject_url: str,
                        headers: dict[str, str], timeout: float) -> None:
    """Once every subscriber is in, inject ``fan.rate`` lines a second for ``fan.seconds``
    through ``POST inject_url``, each at its intended time (the open schedule its delivery
    latency is measured from), then say the last line went out."""
    all_ready, done = fan.events()
    try:
        await asyncio.wait_for(all_ready.wait(), timeout * 2)
    except asyncio.TimeoutError:
        session.error("timeout")
        session.count("subscribers_not_ready", fan.subscribers - fan.ready)
        done.set()
        return
    start = time.perf_counter_ns() + 50_000_000
    total = int(fan.rate * fan.seconds)

    async def inject(k: int, intended: int) -> None:
        token, line = fan.line(k)
        fan.sent[token] = (line, intended)
        try:
            await session.request("POST", inject_url, name="inject",
                                  json={"line": line, "roo": token}, headers=headers)
        except Exception:
            return  # counted by session.request
        fan.accepted.add(token)

    tasks = []
    for k in range(total):
        intended = start + int(k / fan.rate * 1e9)
        await asyncio.sleep(max(0.0, (intended - time.perf_counter_ns()) / 1e9))
        tasks.append(asyncio.ensure_future(inject(k, intended)))
    await asyncio.gather(*tasks)
    session.count("injected", len(fan.accepted))
    done.set()


Role = Callable[[Any], Awaitable[None]]


def fanout_roles(subscribers: int, subscriber: Role, publisher: Role) -> Role:
    """The scenario of a fan-out run: users ``0 .. subscribers-1`` run ``subscriber``, the next
    one ``publisher``; each runs one long iteration, then idles until the run ends."""

    async def role(session: Any) -> None:
        if session.iteration > 1:
            await asyncio.sleep(0.25)
            return
        if session.vu < subscribers:
            await subscriber(session)
        else:
            await publisher(session)

    return role
