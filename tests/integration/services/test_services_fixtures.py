"""The service fixtures in this very session (auto backend: docker or local binaries)."""

from __future__ import annotations

import pytest

from pytest_roo.services.models import PostgresDatabase, PostgresServer, RedisDatabase

pytestmark = pytest.mark.integration


def test_postgres_server_accepts_tcp_with_its_password(postgres_server: PostgresServer) -> None:
    from pytest_roo.services.pgwire import Connection, PgError

    with Connection.open(host=postgres_server.host, port=postgres_server.port,
                         user=postgres_server.user, password=postgres_server.password) as conn:
        assert conn.scalar("SELECT 1") == "1"
    with pytest.raises(PgError, match="password"):
        Connection.open(host=postgres_server.host, port=postgres_server.port,
                        user=postgres_server.user, password="wrong")


@pytest.mark.parametrize("step", [1, 2])
def test_each_test_gets_a_fresh_database(postgres_db: PostgresDatabase, step: int) -> None:
    with postgres_db.connect() as conn:
        assert conn.scalar("SELECT to_regclass('marker') IS NULL") == "t"
        conn.query("CREATE TABLE marker (step int)")


async def _asyncpg_roundtrip(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        value: int = await conn.fetchval("SELECT 41 + 1")
        return value
    finally:
        await conn.close()


def test_url_works_with_asyncpg(postgres_db: PostgresDatabase) -> None:
    import asyncio

    assert asyncio.run(_asyncpg_roundtrip(postgres_db.url)) == 42


@pytest.mark.parametrize("step", [1, 2])
def test_redis_db_is_empty_and_works_with_redis_py(redis_db: RedisDatabase, step: int) -> None:
    import redis

    client = redis.Redis.from_url(redis_db.url)
    try:
        assert client.dbsize() == 0
        client.set("key", step)
    finally:
        client.close()
