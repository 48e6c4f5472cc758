"""API suite: 100+ concurrent users, token checks under load, cold start.

One criterion per test; sizes from suites/profiles.py (``--roo-profile``).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from pytest_roo.results.metrics import LoadResult
from pytest_roo.target import Target
from suites import client
from suites.profiles import Sizes

#: A token signed with another key, and one with a valid shape that expired long ago.
FORGED = "eyJ1aWQiOjEsImtpbmQiOiJhY2Nlc3MiLCJleHAiOjF9.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
BAD_TOKENS = ("not-a-token", FORGED, "", "Bearer", "x" * 300)


def _users(target: Target, n: int) -> list[client.User]:
    async def make() -> list[client.User]:
        async with client.session() as http:
            users = await client.new_users(http, target.base_url, n, prefix="api")
            for user in users:
                await client.new_deployment(http, target.base_url, user, "api-web")
            return users

    return client.run(make)


def refresh_token_of(target: Target, user: client.User) -> str:
    """A refresh token: valid, but not an access token."""

    async def login() -> str:
        async with client.session() as http:
            data = await client.call(http, "POST", target.url("/api/auth/login"),
                                     json={"username": user.username,
                                           "password": client.PASSWORD}, expect=(200,))
            return str(data["refresh_token"])

    return client.run(login)


@pytest.mark.slo("p95 < 100ms", "error_rate < 0.1%")
def test_api_under_concurrent_users(http_load: Any, target: Target, sizes: Sizes) -> None:
    """100+ users (one keep-alive connection each) read their profile and deployments on an
    open schedule; p95 < 100 ms and fewer than 0.1 % errors."""
    users = _users(target, 10)
    me, deployments = target.url("/api/me"), target.url("/api/deployments")

    async def user_requests(session: Any) -> None:
        user = users[session.vu % len(users)]
        url = me if session.iteration % 2 else deployments
        await session.get(url, name="request", headers=user.auth)

    from pytest_roo.load.http import HttpLoad

    # unrecorded warm-up at the measured size: connections and the app's database pool grow
    HttpLoad().run(user_requests, clients=sizes.api_users, rate=f"{sizes.api_rate}/s",
                   duration=sizes.warmup)
    http_load.run(user_requests, clients=sizes.api_users, rate=f"{sizes.api_rate}/s",
                  duration=sizes.api_duration, primary="request")


@pytest.mark.slo("errors == 0")
def test_bad_and_expired_tokens_get_401(http_load: Any, target: Target, sizes: Sizes,
                                        roo_record: Any) -> None:
    """Under load, requests with missing, forged, malformed, wrong-kind (refresh) or expired
    tokens all get 401:
    never 5xx, never 2xx (any other answer is an error)."""

    user = _users(target, 1)[0]
    tokens = [*BAD_TOKENS, refresh_token_of(target, user)]
    secret = target.info.get("token_secret")
    if secret:  # embedded: a correctly signed access token that expired a minute ago
        from fixtures.refapp.auth import Tokens

        tokens.append(Tokens(str(secret).encode()).issue(user.user_id, "access", ttl=-60))

    async def bad_requests(session: Any) -> None:
        token = tokens[session.iteration % len(tokens)]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        path = ("/api/me", "/api/deployments", "/api/devices")[session.vu % 3]
        with session.measure("request"):
            async with session.http.get(target.url(path), headers=headers) as resp:
                await resp.read()
                status = resp.status
        if status != 401:
            session.error("http_5xx" if status >= 500 else "protocol")
            session.count(f"status_{status}")

    http_load.run(bad_requests, clients=sizes.api_users, rate=f"{sizes.api_bad_token_rate}/s",
                  duration=sizes.api_duration, primary="request")


@pytest.mark.slo("cold_start.max < 1s")
def test_cold_start(target: Target, sizes: Sizes, roo_record: Any) -> None:
    """Process start to the first healthy ``/health`` answer of a fresh app process < 1 s."""
    if target.external or target.spawn is None:
        pytest.skip("cold start is measured on an embedded target only: this target runs "
                    "elsewhere (--roo-target), so its processes cannot be started here")
    result = LoadResult(name="api.cold_start", primary="cold_start")
    metric = result.metric("cold_start")
    started = time.perf_counter()
    for _ in range(sizes.cold_starts):
        instance = target.spawn()
        try:
            assert instance.startup_seconds is not None
            metric.record(instance.startup_seconds)
            result.operations += 1
        finally:
            instance.stop()
    result.duration = time.perf_counter() - started
    roo_record(result)
