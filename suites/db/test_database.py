"""Database suite: 100+ simultaneous PostgreSQL connections running the application's standard
queries, and the application's own pool under 200 concurrent API requests.

The direct test needs the target's database: embedded targets expose it, external ones need
``--roo-postgres-url``. Sizes from suites/profiles.py (``--roo-profile``).
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from pytest_roo.target import Target
from suites import client
from suites.profiles import Sizes

SEED_USERS = 200

#: The statements the reference system runs on every API call (fixtures/refapp/app.py).
STANDARD_QUERIES = {
    "login_lookup": "SELECT id, password FROM users WHERE username = $1",
    "me": "SELECT id, username, created_at FROM users WHERE id = $1",
    "list_deployments": "SELECT id, name, image, status, created_at, updated_at"
                        " FROM deployments WHERE owner_id = $1 ORDER BY id",
    "own_deployment": "SELECT id, name, image, status, created_at, updated_at"
                      " FROM deployments WHERE id = $1 AND owner_id = $2",
    "set_status": "UPDATE deployments SET status = $2, updated_at = now() WHERE id = $1"
                  " RETURNING id, name, image, status, created_at, updated_at",
    "device_backlog": "SELECT id, payload, delivery_count FROM commands"
                      " WHERE device_id = $1 AND acked_at IS NULL ORDER BY id",
}


def seed(url: str) -> dict[str, list[Any]]:
    """Users with deployments, devices and commands, as the app would have written them."""

    async def fill() -> dict[str, list[Any]]:
        import asyncpg

        conn = await asyncpg.connect(url, timeout=10)
        try:
            tag = secrets.token_hex(4)
            users = await conn.fetch(
                "INSERT INTO users(username, password)"
                " SELECT 'dbsuite_' || $1 || '_' || g, 'pbkdf2$1$x$y' FROM generate_series(1, $2) g"
                " RETURNING id, username", tag, SEED_USERS)
            ids = [r["id"] for r in users]
            deps = await conn.fetch(
                "INSERT INTO deployments(owner_id, name) SELECT u, 'dep-' || g"
                " FROM unnest($1::bigint[]) u, generate_series(1, 5) g RETURNING id, owner_id",
                ids)
            devices = await conn.fetch(
                "INSERT INTO devices(owner_id, name, token_hash)"
                " SELECT u, 'dev', md5(random()::text || u) FROM unnest($1::bigint[]) u"
                " RETURNING id", ids)
            await conn.execute(
                "INSERT INTO commands(device_id, payload) SELECT d, '{\"op\": \"noop\"}'::jsonb"
                " FROM unnest($1::bigint[]) d, generate_series(1, 10)",
                [r["id"] for r in devices])
            await conn.execute("ANALYZE")
            return {"users": [(r["id"], r["username"]) for r in users],
                    "deployments": [(r["id"], r["owner_id"]) for r in deps],
                    "devices": [r["id"] for r in devices]}
        finally:
            await conn.close(timeout=5)

    return client.run(fill)


def _xact_commits(url: str) -> int:
    async def read() -> int:
        import asyncpg

        conn = await asyncpg.connect(url, timeout=10)
        try:
            return int(await conn.fetchval(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"))
        finally:
            await conn.close(timeout=5)

    return client.run(read)


@pytest.mark.slo("p95 < 100ms", "error_rate < 1%")
def test_standard_queries_on_100_connections(db_load: Any, app_db_url: str,
                                             sizes: Sizes) -> None:
    """100+ connections, each its own asyncpg connection, run the app's standard queries on an
    open schedule (latency from the intended start, so waiting for a connection counts)."""
    data = seed(app_db_url)
    users, deps, devices = data["users"], data["deployments"], data["devices"]
    statuses = ("running", "stopped")
    named = {
        "login_lookup": (STANDARD_QUERIES["login_lookup"], lambda i: (users[i % len(users)][1],)),
        "me": (STANDARD_QUERIES["me"], lambda i: (users[i % len(users)][0],)),
        "list_deployments": (STANDARD_QUERIES["list_deployments"],
                             lambda i: (users[i % len(users)][0],)),
        "own_deployment": (STANDARD_QUERIES["own_deployment"], lambda i: deps[i % len(deps)]),
        "set_status": (STANDARD_QUERIES["set_status"],
                       lambda i: (deps[i % len(deps)][0], statuses[i % 2])),
        "device_backlog": (STANDARD_QUERIES["device_backlog"],
                           lambda i: (devices[i % len(devices)],)),
    }
    load = db_load(app_db_url)
    before = _xact_commits(app_db_url)
    result = load.queries(named, clients=sizes.db_connections, rate=f"{sizes.db_rate}/s",
                          duration=sizes.db_duration)
    commits = _xact_commits(app_db_url) - before
    result.counters["xact_commit"] = commits
    result.info["transactions_per_second"] = round(commits / max(result.duration, 1e-9), 1)
    result.info["connections"] = sizes.db_connections


@pytest.mark.slo("p95 < 200ms", "errors == 0")
def test_app_pool_under_200_concurrent_requests(http_load: Any, target: Target,
                                                sizes: Sizes) -> None:
    """200 concurrent API clients (each one keep-alive connection) on database-backed
    endpoints: the app's connection pool queues them without 5xx (pool exhaustion answers
    503) and p95 stays < 200 ms."""

    async def make() -> list[client.User]:
        async with client.session() as http:
            users = await client.new_users(http, target.base_url, 10, prefix="pool")
            for user in users:
                await client.new_deployment(http, target.base_url, user, "pool-web")
            return users

    users = client.run(make)
    paths = (target.url("/api/deployments"), target.url("/api/me"), target.url("/api/devices"))

    async def request(session: Any) -> None:
        user = users[session.vu % len(users)]
        await session.get(paths[session.iteration % len(paths)], name="request",
                          headers=user.auth)

    from pytest_roo.load.http import HttpLoad

    # unrecorded warm-up at the measured size: connections and the app's database pool grow
    HttpLoad().run(request, clients=sizes.db_app_clients, rate=f"{sizes.db_app_rate}/s",
                   duration=sizes.warmup)
    http_load.run(request, clients=sizes.db_app_clients, rate=f"{sizes.db_app_rate}/s",
                  duration=sizes.db_app_duration, primary="request")
