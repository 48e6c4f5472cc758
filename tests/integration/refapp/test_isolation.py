"""Per-user isolation: another user's deployment or device does not exist for you."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from fixtures.refapp.launcher import RefApp
from tests.integration.refapp.refapp_client import Client, no_message, receive_until

pytestmark = pytest.mark.integration


def test_other_users_resources_are_invisible(refapp: RefApp) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            alice = await Client(refapp.base_url, s).signup()
            bob = await Client(refapp.base_url, s).signup()
            dep = await alice.deployment("alice-web")
            mine = await bob.deployment("bob-web")
            status, listed = await bob.call("GET", "/api/deployments")
            assert [d["id"] for d in listed["deployments"]] == [mine]
            attempts = {
                "get": await bob.call("GET", f"/api/deployments/{dep}"),
                "start": await bob.call("POST", f"/api/deployments/{dep}/start"),
                "stop": await bob.call("POST", f"/api/deployments/{dep}/stop"),
                "inject log": await bob.call("POST", f"/api/deployments/{dep}/logs",
                                             {"line": "x"}),
                "read logs": await bob.call("GET", f"/api/deployments/{dep}/logs"),
                "delete": await bob.call("DELETE", f"/api/deployments/{dep}"),
            }
            assert {k: st for k, (st, _) in attempts.items()} == dict.fromkeys(attempts, 404)
            status, data = await alice.call("POST", "/api/devices", {"name": "d"})
            assert status == 201
            device = data["id"]
            assert (await bob.call("POST", f"/api/devices/{device}/commands",
                                   {"payload": 1}))[0] == 404
            assert (await bob.call("GET", f"/api/devices/{device}/commands"))[0] == 404
            assert (await alice.call("GET", f"/api/deployments/{dep}"))[0] == 200

    asyncio.run(scenario())


def test_websocket_subscription_to_another_users_deployment_is_refused(refapp: RefApp) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            alice = await Client(refapp.base_url, s).signup()
            bob = await Client(refapp.base_url, s).signup()
            dep = await alice.deployment()
            ws = await bob.ws("/ws/logs")
            await ws.send_json({"type": "subscribe", "deployment_id": dep})
            reply = await receive_until(ws, lambda m: True)
            assert reply["type"] == "error"
            assert reply["code"] == "forbidden"
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await bob.ws(f"/ws/deployments/{dep}/logs")
            assert info.value.status == 404
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await bob.ws("/ws/logs", token="garbage")
            assert info.value.status == 401
            status, _ = await alice.call("POST", f"/api/deployments/{dep}/logs",
                                         {"line": "secret"})
            assert status == 202
            await no_message(ws, lambda m: m.get("type") == "log", 0.5)
            await ws.close()

    asyncio.run(scenario())
