"""The external backend against servers this test starts, and the docker backend where an engine
answers (GitHub Actions; here the one ``ci/docker.sh up`` starts); both through a separate pytest
process."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from pytest_roo.services import procs
from pytest_roo.services.backends import ServiceConfig, probe_docker
from pytest_roo.services.local import LocalPostgres, LocalRedis
from pytest_roo.services.models import PostgresServer, RedisServer

pytestmark = pytest.mark.integration

CLIENT_TESTS = '''
import pytest

@pytest.fixture(scope="session")
def postgres_template_load():
    def schema(db):
        with db.connect() as conn:
            conn.query("CREATE TABLE item (id int); INSERT INTO item VALUES (1)")
    return [schema]

@pytest.mark.parametrize("i", range(4))
def test_db(postgres_server, postgres_db, redis_db, i):
    assert postgres_server.backend == "{backend}"
    with postgres_db.connect() as conn:
        assert conn.query("SELECT id FROM item").rows == [("1",)]
        conn.query("INSERT INTO item VALUES (2)")
    conn = redis_db.connect()
    assert conn.command("DBSIZE") == 0
    conn.command("SET", "k", "v")
    conn.close()
'''


@pytest.fixture(scope="module")
def own_servers() -> Iterator[tuple[PostgresServer, RedisServer]]:
    session_dir = procs.SessionDir()
    watchdog = procs.Watchdog()
    postgres = LocalPostgres(session_dir, watchdog=watchdog)
    redis = LocalRedis(session_dir, watchdog=watchdog)
    try:
        yield postgres.start(), redis.start()
    finally:
        postgres.stop()
        redis.stop()
        session_dir.remove()
        watchdog.close()


def test_external_backend(pytester: pytest.Pytester,
                          own_servers: tuple[PostgresServer, RedisServer]) -> None:
    postgres, redis = own_servers
    pytester.makepyfile(CLIENT_TESTS.replace("{backend}", "external"))
    result = pytester.runpytest_subprocess(
        "-n", "2", "--roo-services=external", f"--roo-postgres-url={postgres.url}",
        f"--roo-redis-url={redis.url}")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["roo services: external"])
    assert postgres.password not in result.stdout.str()
    with postgres.connect() as conn:  # every database the session made is gone again
        assert conn.query("SELECT datname FROM pg_database WHERE datname LIKE 'roo%'").rows == []


def test_external_backend_unreachable_is_an_error(pytester: pytest.Pytester) -> None:
    port = procs.free_port()
    pytester.makepyfile("def test_x(postgres_server):\n    pass\n")
    result = pytester.runpytest_subprocess(
        "--roo-services=external", f"--roo-postgres-url=postgresql://u:pw@127.0.0.1:{port}/db")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*did not accept a connection*"])
    assert ":pw@" not in result.stdout.str()


def test_docker_backend(pytester: pytest.Pytester) -> None:
    images = (os.environ.get("ROO_POSTGRES_IMAGE") or ServiceConfig().postgres_image,
              os.environ.get("ROO_REDIS_IMAGE") or ServiceConfig().redis_image)
    probe = probe_docker(images=images)
    if not probe.available:
        reason = (f"docker backend: {probe.describe()}; it runs where an engine exists "
                  f'(GitHub Actions ubuntu runners; here: `eval "$(ci/docker.sh up)"` as root '
                  f"on Debian; elsewhere: install Docker Engine)")
        if os.environ.get("ROO_CI_DOCKER"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    pytester.makepyfile(CLIENT_TESTS.replace("{backend}", "docker"))
    result = pytester.runpytest_subprocess("-n", "2", "--roo-services=docker",
                                           f"--roo-postgres-image={images[0]}",
                                           f"--roo-redis-image={images[1]}")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["roo services: docker"])
