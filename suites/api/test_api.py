"""API suite: 100+ concurrent users, token checks under load, cold start.

One criterion per test; sizes from suites/api/sizes.py (``--roo-profile``).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from pytest_roo.profiles import SelectedProfile
from pytest_roo.results.metrics import LoadResult
from pytest_roo.target import Target
from suites import client
from suites.api.sizes import API, ApiSizes


@pytest.fixture(scope="module")
def sizes(roo_sizes: SelectedProfile) -> ApiSizes:
    """The API suite's sizes for ``--roo-profile`` (suites/api/sizes.py)."""
    return roo_sizes(API)


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


@pytest.mark.slo("p95 < 100ms", "p99 < 100ms", "error_rate < 0.1%")
def test_api_under_concurrent_users(http_load: Any, target: Target, sizes: ApiSizes) -> None:
    """100+ users (one keep-alive connection each) read their profile and deployments on an
    open schedule; p95 and p99 < 100 ms (the tail counts: 2 % of slow answers fail it) and
    fewer than 0.1 % errors. Every answer is checked: the profile must be the user's own and
    the list must hold the user's deployment (anything else is a ``mismatch``)."""
    users = _users(target, 10)
    me, deployments = target.url("/api/me"), target.url("/api/deployments")

    async def user_requests(session: Any) -> None:
        user = users[session.vu % len(users)]
        mine = session.iteration % 2 == 1
        body = await session.get(me if mine else deployments, name="request",
                                 headers=user.auth)
        data = json.loads(body)
        if mine:
            ok = data.get("id") == user.user_id and data.get("username") == user.username
        else:
            ok = [d.get("name") for d in data.get("deployments", [])] == ["api-web"]
        if not ok:
            session.error("mismatch")
            session.count("mismatch")

    # warmup=: an unrecorded run at the measured size first, so that connections and the
    # app's database pool have grown before the measured window
    http_load.run(user_requests, clients=sizes.users, rate=f"{sizes.rate}/s",
                  duration=sizes.duration, primary="request", warmup=sizes.warmup)


@pytest.mark.slo("errors == 0")
def test_bad_and_expired_tokens_get_401(http_load: Any, target: Target, sizes: ApiSizes,
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

    http_load.run(bad_requests, clients=sizes.users, rate=f"{sizes.bad_token_rate}/s",
                  duration=sizes.census_duration, primary="request")


@pytest.mark.slo("errors == 0")
def test_wrong_password_is_refused_under_load(http_load: Any, target: Target,
                                              sizes: ApiSizes) -> None:
    """Logins arrive on an open schedule, three in four with a wrong password (the right one
    with a character changed or appended, a near miss, an empty-looking one): every wrong one
    gets 401 and no token, every right one 200 with a token (anything else is a ``mismatch``).
    Each login costs the app a password hash, so the rate is lower than the API test's."""
    users = _users(target, 10)
    wrong = (client.PASSWORD[:-1] + "X", client.PASSWORD + "1", client.PASSWORD.upper(), " ")
    login = target.url("/api/auth/login")

    async def log_in(session: Any) -> None:
        user = users[session.vu % len(users)]
        k = session.iteration
        right = k % 4 == 0
        password = client.PASSWORD if right else wrong[k % len(wrong)]
        with session.measure("login"):
            async with session.http.post(login, json={"username": user.username,
                                                      "password": password}) as resp:
                status = resp.status
                body = await resp.json(content_type=None)
        token = isinstance(body, dict) and "access_token" in body
        if (status, token) != ((200, True) if right else (401, False)):
            session.error("mismatch")
            session.count("right_password_refused" if right else "wrong_password_accepted")
        else:
            session.count("checked")

    http_load.run(log_in, clients=min(sizes.users, 50), rate=f"{sizes.login_rate}/s",
                  duration=sizes.census_duration, primary="login")


@pytest.mark.slo("errors == 0")
def test_other_users_writes_are_refused(http_load: Any, target: Target, sizes: ApiSizes) -> None:
    """Under load, users try to write to other users' deployments: inject a log line, start,
    stop, delete. Each must be refused as if the deployment did not exist (404, or 403);
    anything else is a ``mismatch``. Afterwards every deployment is still there, stopped,
    with none of the intruders' lines in its log (checked as its owner)."""
    owners = _users(target, 10)
    intruders = _users(target, 10)

    async def deployments_of(users: list[client.User]) -> list[int]:
        async with client.session() as http:
            lists = [await client.call(http, "GET", target.url("/api/deployments"),
                                       headers=u.auth) for u in users]
        return [int(data["deployments"][0]["id"]) for data in lists]

    victims = client.run(lambda: deployments_of(owners))
    writes = (("POST", "/logs"), ("POST", "/start"), ("POST", "/stop"), ("DELETE", ""))

    async def intrude(session: Any) -> None:
        intruder = intruders[session.vu % len(intruders)]
        k = session.iteration
        method, suffix = writes[k % len(writes)]
        dep = victims[(session.vu + k) % len(victims)]
        body = {"line": f"intruder {intruder.user_id} was here"} if suffix == "/logs" else None
        with session.measure("write"):
            async with session.http.request(method, target.url(f"/api/deployments/{dep}{suffix}"),
                                            json=body, headers=intruder.auth) as resp:
                await resp.read()
                status = resp.status
        if status not in (403, 404):
            session.error("http_5xx" if status >= 500 else "mismatch")
            session.count(f"foreign_{method.lower()}{suffix.replace('/', '_')}_{status}")
        else:
            session.count("refused")

    # one client per user: a refusal costs the app one database read, and an app whose
    # reads are slow must still get every write of the schedule (at 300 a second and 150 ms
    # a read, 45 are in flight; 50 clients left too few spare, and the run failed on its
    # schedule instead of judging the answers)
    result = http_load.run(intrude, clients=sizes.users,
                           rate=f"{sizes.write_rate}/s", duration=sizes.census_duration,
                           primary="write")

    async def audit() -> int:
        """Read every victim as its owner: still there, stopped, no intruder line."""
        bad = 0
        async with client.session() as http:
            for owner, dep in zip(owners, victims, strict=True):
                async with http.get(target.url(f"/api/deployments/{dep}"),
                                    headers=owner.auth) as resp:
                    data = await resp.json(content_type=None)
                    if resp.status != 200 or data.get("status") != "stopped":
                        bad += 1
                        continue
                logs = await client.call(http, "GET",
                                         target.url(f"/api/deployments/{dep}/logs?limit=200"),
                                         headers=owner.auth)
                bad += any("intruder" in str(e.get("line")) for e in logs["lines"])
        return bad

    damaged = client.run(audit)
    result.counters["damaged_deployments"] = damaged
    if damaged:
        result.add_error("mismatch", damaged)


@pytest.mark.slo("cold_start.max < 1s")
def test_cold_start(target: Target, sizes: ApiSizes, roo_record: Any) -> None:
    """A fresh app process is ready when its API serves: process start to the first answered
    authenticated request (``GET /api/deployments`` with a token, a database read) < 1 s. A
    healthy ``/health`` alone is not enough: an app may answer it while its API still fails."""
    if target.external or target.spawn is None:
        pytest.skip("cold start is measured on an embedded target only: this target runs "
                    "elsewhere (--roo-target), so its processes cannot be started here")
    import urllib.error
    import urllib.request

    user = _users(target, 1)[0]  # tokens are signed with the key every instance shares
    result = LoadResult(name="api.cold_start", primary="cold_start")
    metric = result.metric("cold_start")
    health = result.metric("health")
    started = time.perf_counter()
    for _ in range(sizes.cold_starts):
        instance = target.spawn()
        healthy_at = time.perf_counter()
        try:
            assert instance.startup_seconds is not None
            health.record(instance.startup_seconds)
            result.operations += 1
            request = urllib.request.Request(instance.url("/api/deployments"),
                                             headers=user.auth)
            deadline = healthy_at + 10.0
            status = 0
            while time.perf_counter() < deadline:
                try:
                    with urllib.request.urlopen(request, timeout=2.0) as resp:
                        status = resp.status
                except urllib.error.HTTPError as exc:
                    status = exc.code
                except OSError:
                    status = 0
                if status == 200:
                    break
                time.sleep(0.01)
            if status != 200:
                result.add_error("http_5xx" if status >= 500 else "timeout")
                continue
            metric.record(instance.startup_seconds + time.perf_counter() - healthy_at)
        finally:
            instance.stop()
    result.duration = time.perf_counter() - started
    roo_record(result)
