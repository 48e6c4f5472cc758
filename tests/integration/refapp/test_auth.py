"""Auth: tokens, wrong credentials, expiry; errors are 4xx, never 5xx."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from fixtures.refapp.auth import Tokens
from fixtures.refapp.launcher import RefApp
from tests.integration.refapp.refapp_client import SECRET, Client, StartApp

pytestmark = pytest.mark.integration


def test_register_login_me_refresh(refapp: RefApp) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            c = await Client(refapp.base_url, s).signup()
            status, me = await c.call("GET", "/api/me")
            assert status == 200
            assert me["username"] == c.username
            status, data = await c.call("POST", "/api/auth/refresh",
                                        {"refresh_token": c.refresh_token})
            assert status == 200
            status, me2 = await c.call("GET", "/api/me", token=data["access_token"])
            assert (status, me2["id"]) == (200, me["id"])

    asyncio.run(scenario())


def test_auth_errors_are_401_never_500(refapp: RefApp) -> None:
    expired = Tokens(SECRET.encode()).issue(1, "access", ttl=-1)
    forged = Tokens(b"another secret").issue(1, "access")

    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            c = await Client(refapp.base_url, s).signup()
            cases = {
                "wrong password": await c.call(
                    "POST", "/api/auth/login", {"username": c.username, "password": "nope-nope"}),
                "unknown user": await c.call(
                    "POST", "/api/auth/login", {"username": "ghost", "password": "whatever1"}),
                "no token": await c.call("GET", "/api/me", token=""),
                "garbage token": await c.call("GET", "/api/me", token="garbage"),
                "garbage token with dot": await c.call("GET", "/api/me", token="a.b"),
                "expired token": await c.call("GET", "/api/me", token=expired),
                "forged token": await c.call("GET", "/api/me", token=forged),
                "refresh token as access": await c.call("GET", "/api/me", token=c.refresh_token),
                "access token as refresh": await c.call(
                    "POST", "/api/auth/refresh", {"refresh_token": c.token}),
                "expired token on deployments": await c.call(
                    "GET", "/api/deployments", token=expired),
            }
            statuses = {name: status for name, (status, _) in cases.items()}
            assert statuses == dict.fromkeys(cases, 401)
            assert cases["expired token"][1] == {"error": "token expired"}
            bad_input = [
                await c.call("POST", "/api/auth/login", {"username": c.username}),
                await c.call("POST", "/api/auth/login", ["not", "an", "object"]),
                await c.call("POST", "/api/auth/register", {"username": "x", "password": "short"}),
            ]
            assert [status for status, _ in bad_input] == [400, 400, 400]
            status, _ = await c.call("POST", "/api/auth/register",
                                     {"username": c.username, "password": "password123"})
            assert status == 409
            async with s.get(refapp.url("/metrics")) as resp:
                text = await resp.text()
            assert 'status="5' not in text, "an auth error produced a 5xx"

    asyncio.run(scenario())


def test_access_token_expires(start_app: StartApp) -> None:
    app = start_app(env={"REFAPP_ACCESS_TTL": "0.5"})

    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            c = await Client(app.base_url, s).signup()
            assert (await c.call("GET", "/api/me"))[0] == 200
            await asyncio.sleep(0.6)
            assert await c.call("GET", "/api/me") == (401, {"error": "token expired"})
            status, data = await c.call("POST", "/api/auth/refresh",
                                        {"refresh_token": c.refresh_token})
            assert status == 200
            assert (await c.call("GET", "/api/me", token=data["access_token"]))[0] == 200

    asyncio.run(scenario())
