"""Socket.IO suite: deployment logs reach their subscribers over Socket.IO fast, complete, and
only the user they belong to.

The reference system serves its live logs on ``/socket.io/``, namespace ``/logs`` (docs/
refapp.md): a token in the CONNECT payload, ``subscribe({"deployment_id": N})`` answered by an
ack, ``log`` and ``status`` events emitted to the deployment's room. The suite drives it with
``sio_swarm`` (its own Socket.IO v5 client: acks paired by id, greetings and pings never taken
for an answer). Sizes from suites/socketio/sizes.py (``--roo-profile``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from pytest_roo.profiles import SelectedProfile
from pytest_roo.target import Target
from suites.logs import LogFanout, fanout_roles, publish_lines, users_with_deployments
from suites.socketio.sizes import SOCKETIO, SocketioSizes

NAMESPACE = "/logs"
TIMEOUT = 5.0


@pytest.fixture(scope="module")
def sizes(roo_sizes: SelectedProfile) -> SocketioSizes:
    """The Socket.IO suite's sizes for ``--roo-profile`` (suites/socketio/sizes.py)."""
    return roo_sizes(SOCKETIO)


def subscribed(ack: list[Any], dep: int) -> bool:
    return ack == [{"ok": True, "deployment_id": dep}]


@pytest.mark.slo("delivery.p95 < 100ms", "delivery.p99 < 100ms", "errors == 0")
def test_log_lines_reach_socketio_subscribers(sio_swarm: Any, target: Target,
                                              sizes: SocketioSizes) -> None:
    """Lines injected through the API (``POST /api/deployments/{id}/logs``) on an open schedule
    reach every Socket.IO subscriber of the deployment's room: latency from the injection's
    scheduled time to the arrival of the ``log`` event (p95 and p99), no line lost,
    duplicated or altered (``lost``, ``duplicate``, ``mismatch``). Every subscriber has the
    ack of its ``subscribe`` before the first line goes out."""
    user, dep = users_with_deployments(target, 1, "siologs")[0]
    inject_url = target.url(f"/api/deployments/{dep}/logs")
    lines = LogFanout(sizes.subscribers, sizes.log_rate, sizes.duration, label="sio")

    async def subscriber(session: Any) -> None:
        done = lines.events()[1]
        received: set[str] = set()
        pc = time.perf_counter_ns

        def on_log(args: list[Any]) -> None:
            now = pc()
            event = args[0] if args else None
            meta = event.get("meta") if isinstance(event, dict) else None
            token = meta.get("roo") if isinstance(meta, dict) else None
            if token not in lines.sent:
                return  # the deployment's own lines, another run's
            assert isinstance(event, dict) and isinstance(token, str)
            text, intended = lines.sent[token]
            if token in received:
                session.error("duplicate")
                session.count("duplicate")
                return
            received.add(token)
            session.record("delivery", (now - intended) / 1e9)
            if event.get("line") != text or event.get("deployment_id") != dep:
                session.error("mismatch")
                session.count("mismatch")

        session.on("log", on_log)
        try:
            ack = await session.call("subscribe", {"deployment_id": dep})
        except Exception:
            lines.gave_up += 1
            lines.arrived()
            raise
        if not subscribed(ack, dep):
            session.error("mismatch")
            session.count("subscribe_refused")
            lines.gave_up += 1
            lines.arrived()
            return
        lines.ready += 1
        lines.arrived()
        await asyncio.wait_for(done.wait(), TIMEOUT * 2 + sizes.duration * 2)
        end = time.monotonic() + TIMEOUT
        while not received >= lines.accepted and time.monotonic() < end:
            await asyncio.sleep(0.05)
        session.on("log", None)
        lost = len(lines.accepted - received)
        if lost:
            session.error("lost", lost)
            session.count("lost", lost)

    async def publisher(session: Any) -> None:
        await publish_lines(session, lines, inject_url, user.auth, TIMEOUT)

    role = fanout_roles(sizes.subscribers, subscriber, publisher)

    result = sio_swarm.run(role, target.base_url, namespace=NAMESPACE,
                           auth={"token": user.token}, clients=sizes.subscribers + 1,
                           duration=sizes.duration + 2, primary="delivery",
                           timeout=TIMEOUT * 3)
    result.counters["deliveries_expected"] = len(lines.accepted) * sizes.subscribers
    assert lines.ready == sizes.subscribers, (
        f"only {lines.ready} of {sizes.subscribers} subscribers had their subscribe acked")


@pytest.mark.slo("subscribe.p95 < 100ms", "errors == 0")
def test_socketio_subscribe_is_answered_fast(sio_swarm: Any, target: Target,
                                             sizes: SocketioSizes) -> None:
    """Users subscribe to their deployment's logs and unsubscribe again, over and over: the
    ``subscribe`` ack (the answer, paired by its id; an event that merely looks like one is
    no answer) arrives < 100 ms (p95) after the emit and accepts the subscription."""
    user, dep = users_with_deployments(target, 1, "siosub")[0]

    async def resubscribe(session: Any) -> None:
        with session.measure("subscribe"):
            ack = await session.call("subscribe", {"deployment_id": dep})
        session.check("subscribed", subscribed(ack, dep))
        await session.call("unsubscribe", {"deployment_id": dep})

    sio_swarm.run(resubscribe, target.base_url, namespace=NAMESPACE, auth={"token": user.token},
                  clients=sizes.subscribers, duration=max(2.0, sizes.duration / 2),
                  think=0.05, primary="subscribe", timeout=TIMEOUT)


@pytest.mark.slo("errors == 0")
def test_socketio_users_only_see_their_own_logs(sio_swarm: Any, target: Target,
                                                sizes: SocketioSizes) -> None:
    """Many users, each on its own token, inject lines into their own deployments under load
    while subscribed over Socket.IO: every ``log`` and ``status`` event a user receives belongs
    to that user's deployment (a foreign one is counted as ``cross_user``), and subscribing to
    another user's deployment is refused. At least 600 lines per run, enough to see a
    misrouting of one line in 200."""
    owned = users_with_deployments(target, sizes.isolation_users, "sioiso")

    async def join(session: Any) -> None:
        """Before the measured window: the user's token opens /logs on the run's connection
        (made without a token to "/"; multiplexed, as socket.io clients do), subscribes to
        its own deployment and is refused another user's."""
        user, dep = owned[session.vu]
        logs = await session.of(NAMESPACE, auth={"token": user.token})

        def check(args: list[Any]) -> None:
            event = args[0] if args else None
            if not isinstance(event, dict) or event.get("deployment_id") != dep:
                session.error("cross_user")
                session.count("cross_user")
            else:
                session.count("own_events")

        logs.on("log", check)
        logs.on("status", check)
        if not subscribed(await logs.call("subscribe", {"deployment_id": dep}), dep):
            session.error("mismatch")
            session.count("subscribe_refused")
        foreign = owned[(session.vu + 1) % len(owned)][1]
        reply = await logs.call("subscribe", {"deployment_id": foreign})
        if reply and isinstance(reply[0], dict) and reply[0].get("ok") is False:
            session.count("foreign_subscribe_refused")
        else:
            session.error("cross_user")
            session.count("foreign_subscribe_accepted")

    async def inject(session: Any) -> None:
        user, dep = owned[session.vu]
        await session.request("POST", target.url(f"/api/deployments/{dep}/logs"),
                              name="inject", json={"line": f"sioiso-{user.user_id}"},
                              headers=user.auth)
        session.count("injected")

    # open model: the lines arrive at a set rate whatever the delivery latency, so every run
    # checks the same number of them
    result = sio_swarm.run(inject, target.base_url, setup=join, clients=sizes.isolation_users,
                           rate=f"{sizes.isolation_rate}/s", duration=sizes.isolation_duration,
                           primary="inject", timeout=TIMEOUT)
    injected = result.counters.get("injected", 0)
    assert injected >= 600, (f"only {injected} lines injected: too few to see a fault that "
                             "misroutes one line in 200")
