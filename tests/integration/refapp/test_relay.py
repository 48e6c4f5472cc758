"""Device relay: commands are stored, delivered, acknowledged; none lost or processed twice."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from fixtures.refapp.launcher import RefApp
from tests.integration.refapp.refapp_client import Client, receive_json, receive_until

pytestmark = pytest.mark.integration


async def _device(c: Client) -> tuple[int, str]:
    status, data = await c.call("POST", "/api/devices", {"name": "sensor"})
    assert status == 201, data
    return int(data["id"]), str(data["token"])


async def _connect(c: Client, token: str) -> aiohttp.ClientWebSocketResponse[bool]:
    ws = await c.ws("/ws/device", token=token)
    hello = await receive_json(ws)
    assert hello["type"] == "hello"
    return ws


async def _commands(ws: aiohttp.ClientWebSocketResponse[bool], n: int) -> list[dict[str, Any]]:
    return [await receive_until(ws, lambda m: m["type"] == "command") for _ in range(n)]


async def _quiet(ws: aiohttp.ClientWebSocketResponse[bool], wait: float = 0.3) -> list[Any]:
    """Every message arriving within ``wait`` seconds."""
    got = []
    try:
        while True:
            got.append(await receive_json(ws, wait))
    except (TimeoutError, asyncio.TimeoutError):
        return got


def test_exactly_once_across_reconnects(refapp: RefApp) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            c = await Client(refapp.base_url, s).signup()
            device_id, token = await _device(c)
            processed: list[int] = []  # what a deduplicating device handles, in order
            seen: set[int] = set()

            def handle(cmds: list[dict[str, Any]]) -> None:
                for cmd in cmds:
                    if cmd["id"] not in seen:
                        seen.add(cmd["id"])
                        processed.append(cmd["id"])

            offline = [await c.call("POST", f"/api/devices/{device_id}/commands",
                                    {"payload": {"n": i}}) for i in range(10)]
            assert {st for st, _ in offline} == {201}
            assert not any(d["pushed"] for _, d in offline)
            ids = [d["id"] for _, d in offline]

            ws = await _connect(c, token)
            first = await _commands(ws, 10)
            assert [m["id"] for m in first] == ids
            assert [m["payload"] for m in first] == [{"n": i} for i in range(10)]
            assert not any(m["redelivery"] for m in first)
            handle(first)
            for cmd in first[:4]:  # ack four, then the connection drops
                await ws.send_json({"type": "ack", "id": cmd["id"]})
                ack = await receive_until(ws, lambda m: m["type"] == "acked")
                assert ack == {"type": "acked", "id": cmd["id"], "duplicate": False}
            # a live command while connected arrives at once, exactly once on this connection
            status, live = await c.call("POST", f"/api/devices/{device_id}/commands",
                                        {"payload": "live"})
            assert status == 201
            assert live["pushed"] is True
            got = await _commands(ws, 1)
            assert got[0]["id"] == live["id"]
            handle(got)
            assert not [m for m in await _quiet(ws) if m["type"] == "command"]
            await ws.close()

            more = [await c.call("POST", f"/api/devices/{device_id}/commands",
                                 {"payload": {"late": i}}) for i in range(3)]
            ws = await _connect(c, token)
            expected = ids[4:] + [live["id"]] + [d["id"] for _, d in more]
            again = await _commands(ws, len(expected))
            assert [m["id"] for m in again] == expected
            assert [m["redelivery"] for m in again] == [True] * 7 + [False] * 3
            handle(again)
            for cmd in again:
                await ws.send_json({"type": "ack", "id": cmd["id"]})
                await receive_until(ws, lambda m: m["type"] == "acked")
            # acks are idempotent
            await ws.send_json({"type": "ack", "id": ids[0]})
            assert await receive_until(ws, lambda m: m["type"] == "acked") == {
                "type": "acked", "id": ids[0], "duplicate": True}
            await ws.send_json({"type": "ack", "id": 10**9})
            err = await receive_until(ws, lambda m: m["type"] == "error")
            assert err["code"] == "unknown_command"
            assert not [m for m in await _quiet(ws) if m["type"] == "command"]
            await ws.close()

            ws = await _connect(c, token)  # everything acked: nothing is sent again
            assert not [m for m in await _quiet(ws, 0.5) if m["type"] == "command"]
            await ws.close()

            all_ids = ids + [live["id"]] + [d["id"] for _, d in more]
            assert processed == all_ids  # every command handled once, in order
            status, listing = await c.call("GET", f"/api/devices/{device_id}/commands")
            assert status == 200
            assert {cmd["status"] for cmd in listing["commands"]} == {"acked"}
            counts = {cmd["id"]: cmd["delivery_count"] for cmd in listing["commands"]}
            assert all(counts[i] == 2 for i in [*ids[4:], live["id"]])
            assert all(counts[i] == 1 for i in ids[:4] + [d["id"] for _, d in more])

    asyncio.run(scenario())


def test_new_connection_replaces_old_and_bad_tokens_are_refused(refapp: RefApp) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            c = await Client(refapp.base_url, s).signup()
            device_id, token = await _device(c)
            old = await _connect(c, token)
            new = await _connect(c, token)
            msg = await asyncio.wait_for(old.receive(), 5)
            assert (msg.type, msg.data, msg.extra) == (
                aiohttp.WSMsgType.CLOSE, 4000, "replaced by a new connection")
            status, cmd = await c.call("POST", f"/api/devices/{device_id}/commands",
                                       {"payload": 1})
            assert (status, cmd["pushed"]) == (201, True)
            assert (await _commands(new, 1))[0]["id"] == cmd["id"]
            await new.close()
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await c.ws("/ws/device", token="dev_not-a-real-token")
            assert info.value.status == 401
            status, _ = await c.call("POST", f"/api/devices/{device_id}/commands", {"x": 1})
            assert status == 400

    asyncio.run(scenario())


def test_a_retried_command_key_is_stored_and_delivered_once(refapp: RefApp) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            c = await Client(refapp.base_url, s).signup()
            device_id, token = await _device(c)
            ws = await _connect(c, token)
            path = f"/api/devices/{device_id}/commands"
            status, first = await c.call("POST", path, {"payload": {"n": 1}, "key": "k-1"})
            assert (status, first["duplicate"], first["pushed"]) == (201, False, True)
            # the client lost the answer and sends the same command again
            status, again = await c.call("POST", path, {"payload": {"n": 1}, "key": "k-1"})
            assert (status, again["id"], again["duplicate"]) == (200, first["id"], True)
            got = await _commands(ws, 1)
            assert got[0]["id"] == first["id"] and got[0]["key"] == "k-1"
            assert not [m for m in await _quiet(ws) if m["type"] == "command"]
            # keys are per device, and someone else's device is still 404
            other = await Client(refapp.base_url, s).signup()
            status, _ = await other.call("POST", path, {"payload": 1, "key": "k-1"})
            assert status == 404
            status, body = await c.call("POST", path, {"payload": 1, "key": ""})
            assert status == 400 and "key must be" in body["error"]
            await ws.close()
            ws = await _connect(c, token)  # the backlog carries the key too
            (redelivered,) = await _commands(ws, 1)
            assert redelivered["key"] == "k-1" and redelivered["redelivery"] is True
            await ws.close()

    asyncio.run(scenario())


def test_commands_stored_while_the_backlog_goes_out_keep_their_order(refapp: RefApp) -> None:
    """Commands are enqueued without pause while the device reconnects again and again: on
    every connection the device gets its unacknowledged commands in the order they were
    stored (no live command overtakes the backlog)."""

    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            c = await Client(refapp.base_url, s).signup()
            device_id, token = await _device(c)
            path = f"/api/devices/{device_id}/commands"
            done = asyncio.Event()
            stored: list[int] = []

            async def enqueue() -> None:
                for i in range(120):
                    status, body = await c.call("POST", path, {"payload": i, "key": f"o-{i}"})
                    assert status == 201
                    stored.append(body["id"])
                done.set()

            producer = asyncio.ensure_future(enqueue())
            acked: set[int] = set()
            while not done.is_set() or len(acked) < len(stored):
                ws = await _connect(c, token)
                got = []
                for m in await _quiet(ws, 0.05):
                    if m["type"] == "command":
                        got.append(m["id"])
                assert got == sorted(got), got
                assert not set(got) & acked
                for command_id in got[: max(1, len(got) // 2)]:  # ack some, then drop
                    await ws.send_json({"type": "ack", "id": command_id})
                    await receive_until(ws, lambda m: m["type"] == "acked")
                    acked.add(command_id)
                await ws.close()
            await producer
            assert acked == set(stored)

    asyncio.run(scenario())
