"""A small client of the target's API for the suites' setup (users, deployments, devices).

The API is the reference system's (docs of fixtures/refapp): ``POST /api/auth/register``,
``POST /api/auth/login`` (-> ``access_token``), ``/api/deployments``, ``/api/devices``.
Setup runs before the measured load, each call bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")
PASSWORD = "suite-password-1"
TIMEOUT = 15.0
#: Setup calls repeat a 503 for this long: a system that has just started may not serve yet
#: (the cold-start test measures how long that takes; setup only waits for it).
STARTING = 10.0


class ApiError(AssertionError):
    """An API call answered something else than expected (status and body in the message)."""


@dataclasses.dataclass
class User:
    username: str
    token: str
    user_id: int

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def run(coro_fn: Callable[[], Awaitable[T]], timeout: float = 120.0) -> T:
    """Run an async setup function in a fresh event loop, bounded by ``timeout`` seconds."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro_fn(), timeout)

    return asyncio.run(bounded())


def session() -> Any:
    import aiohttp

    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT))


async def call(http: Any, method: str, url: str, *, json: Any = None,
               headers: dict[str, str] | None = None, expect: tuple[int, ...] = (200, 201, 202, 204),
               starting: float = 0.0) -> Any:
    """One API call; an answer not in ``expect`` raises ApiError. ``starting`` (setup only):
    for that many seconds a 503 is taken as a system still starting and the call repeated."""
    deadline = time.monotonic() + starting
    while True:
        async with http.request(method, url, json=json, headers=headers) as resp:
            body = await resp.json(content_type=None) if resp.status != 204 else None
            status = resp.status
        if status == 503 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            continue
        if status not in expect:
            raise ApiError(f"{method} {url} answered {status}: {str(body)[:300]}")
        return body


async def new_user(http: Any, base_url: str, prefix: str = "suite") -> User:
    """Register and log in a fresh user."""
    username = f"{prefix}_{secrets.token_hex(6)}"
    creds = {"username": username, "password": PASSWORD}
    await call(http, "POST", base_url + "/api/auth/register", json=creds, expect=(201,),
               starting=STARTING)
    data = await call(http, "POST", base_url + "/api/auth/login", json=creds, expect=(200,))
    return User(username, data["access_token"], int(data["user_id"]))


async def new_users(http: Any, base_url: str, n: int, prefix: str = "suite",
                    concurrency: int = 4) -> list[User]:
    sem = asyncio.Semaphore(concurrency)

    async def one() -> User:
        async with sem:
            return await new_user(http, base_url, prefix)

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def new_deployment(http: Any, base_url: str, user: User, name: str = "web") -> int:
    data = await call(http, "POST", base_url + "/api/deployments", json={"name": name},
                      headers=user.auth, expect=(201,))
    return int(data["id"])


async def new_device(http: Any, base_url: str, user: User, name: str) -> tuple[int, str]:
    """A device of ``user``: (device id, device token)."""
    data = await call(http, "POST", base_url + "/api/devices", json={"name": name},
                      headers=user.auth, expect=(201,))
    return int(data["id"]), str(data["token"])
