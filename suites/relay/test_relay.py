"""Device relay suite: 100 connected devices, commands enqueued at a steady rate, acknowledged;
none lost, none duplicated, across forced reconnects.

Relay contract (fixtures/refapp/relay.py): a command is stored before the enqueue answers,
pushed at once to a connected device (or sent when it connects), acknowledged with
``{"type": "ack", "id": N}``; an acknowledged command is never sent again.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from pytest_roo.profiles import SelectedProfile
from pytest_roo.target import Target
from suites import client
from suites.relay.sizes import RELAY, RelaySizes


@pytest.fixture(scope="module")
def sizes(roo_sizes: SelectedProfile) -> RelaySizes:
    """The relay suite's sizes for ``--roo-profile`` (suites/relay/sizes.py)."""
    return roo_sizes(RELAY)


def devices(target: Target, n: int) -> tuple[list[client.User], list[tuple[int, str, int]]]:
    """``n`` devices spread over a few owners: (device id, device token, owner index)."""

    async def make() -> tuple[list[client.User], list[tuple[int, str, int]]]:
        async with client.session() as http:
            owners = await client.new_users(http, target.base_url, 5, prefix="relay")
            made = []
            for i in range(n):
                dev_id, token = await client.new_device(http, target.base_url, owners[i % 5],
                                                        f"device-{i}")
                made.append((dev_id, token, i % 5))
            return owners, made

    return client.run(make)


@pytest.mark.slo("ack.p95 < 100ms", "errors == 0")
def test_commands_reach_devices_exactly_once(ws_swarm: Any, target: Target,
                                            sizes: RelaySizes) -> None:
    """Each of 100 devices keeps a WebSocket open; commands for it are enqueued through the
    API at a steady overall rate. ``ack``: enqueue request sent -> command received and its
    ack confirmed. A command that never arrives is ``lost``; one that arrives again after its
    ack, or twice on one connection, is ``duplicate``. Every Nth command of a device is
    enqueued while the device is disconnected (a forced reconnect) and must arrive on the
    next connection."""
    import aiohttp

    owners, devs = devices(target, sizes.devices)
    timeout = 5.0
    # closed model: each device enqueues its next command after a pause, so that all of
    # them together make sizes.rate commands per second
    think = sizes.devices / sizes.rate

    async def device(session: Any) -> None:
        dev_id, token, owner = devs[session.vu]
        state = session.data
        if not state:
            state.update(ws=None, acked=set(), received=set(), first=True)
        enqueue_url = target.url(f"/api/devices/{dev_id}/commands")
        headers = owners[owner].auth

        async def connect() -> Any:
            ws = await asyncio.wait_for(session.http.ws_connect(
                target.ws_url(f"/ws/device?token={token}"), autoping=True), timeout)
            hello = await ws.receive_json(timeout=timeout)
            if hello.get("type") != "hello":
                session.error("protocol")
            state["received"] = set()  # ids seen on this connection
            return ws

        if state["ws"] is None:
            with session.measure("connect"):
                state["ws"] = await connect()
        if state["first"]:  # spread the devices' first commands over one period
            state["first"] = False
            await asyncio.sleep(think * session.vu / max(1, sizes.devices))
        reconnect = (session.iteration + session.vu) % sizes.reconnect_every == 0
        if reconnect:
            await asyncio.wait_for(state["ws"].close(), timeout)
            session.count("forced_reconnects")
        t0 = time.perf_counter()
        async with session.http.post(enqueue_url, json={"payload": {"n": session.iteration}},
                                     headers=headers) as resp:
            body = await resp.json(content_type=None)
            if resp.status != 201:
                session.error("http_5xx" if resp.status >= 500 else "http_4xx")
                return
        command_id = int(body["id"])
        if reconnect:
            state["ws"] = await connect()
        ws = state["ws"]
        deadline = time.monotonic() + timeout
        got = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                msg = await ws.receive(timeout=left)
            except asyncio.TimeoutError:
                break
            if msg.type != aiohttp.WSMsgType.TEXT:
                session.error("closed")
                state["ws"] = None
                return
            event = json.loads(msg.data)
            kind, cid = event.get("type"), event.get("id")
            if kind == "command":
                if cid in state["acked"] or cid in state["received"]:
                    session.error("duplicate")
                    session.count("duplicate")
                    continue
                state["received"].add(cid)
                await ws.send_str(json.dumps({"type": "ack", "id": cid}))
            elif kind == "acked":
                state["acked"].add(cid)
                if event.get("duplicate"):
                    session.error("duplicate")
                    session.count("duplicate_ack")
                if cid == command_id:
                    got = True
                    break
        if not got:
            session.error("lost")
            session.count("lost")
            return
        session.record("ack", time.perf_counter() - t0)
        session.count("acked")

    ws_swarm.run(device, clients=sizes.devices, duration=sizes.duration,
                 think=think, primary="ack", name="relay.commands", timeout=timeout + 2)
